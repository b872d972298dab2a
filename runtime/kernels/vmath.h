/* runtime/kernels/vmath.h — scalar math written so that LLVM can vectorize the loops that call it
 * (libm's expf is an opaque call, which keeps a loop scalar). Branch-free: every special case is a
 * select. Used by the softmax and reduce kernels. */
#ifndef SD_RT_VMATH_H
#define SD_RT_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp(x) in float, within about 2 ulp of libm on the normal range: x = n ln2 + r with |r| <= ln2/2,
 * exp(r) by a degree-6 polynomial (Cephes' coefficients), 2^n assembled in the exponent bits.
 * Below log(FLT_MIN) the result is 0 (exp(-inf) is exactly 0); overflow gives +inf; NaN stays NaN. */
static inline float rt_vexpf(float x)
{
    const float lo = -87.33654f, hi = 88.72283f; /* log(FLT_MIN), log(FLT_MAX) */
    float xc = x > lo ? x : lo; /* NaN lands on lo here and is put back at the end */
    xc = xc < hi ? xc : hi;
    float n = rintf(xc * 1.44269504088896341f); /* -126 .. 128 */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n as two factors so that n = 128 and n = -126 stay representable */
    int32_t ni = (int32_t)n, n1 = ni / 2, n2 = ni - n1;
    int32_t e1 = (n1 + 127) << 23, e2 = (n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &e1, sizeof s1);
    memcpy(&s2, &e2, sizeof s2);
    float y = p * s1 * s2;
    y = x > hi ? INFINITY : y;
    y = x < lo ? 0.0f : y;
    return x != x ? x : y;
}

#endif
