/* runtime/kernels/vmath.h — scalar math written so that LLVM can vectorize the loops that call it
 * (libm's expf is an opaque call, which keeps a loop scalar). Branch-free: every special case is a
 * select. Used by the softmax, reduce and elementwise kernels. */
#ifndef SD_RT_VMATH_H
#define SD_RT_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Inside a function's braces: a * b + c may become one fused multiply-add (llvm.fmuladd) where the
 * target has one. The polynomials below are chains of them; fused, they take half the instructions
 * and half the latency (EfficientNet-B0's SiLUs were bound by them). Only clang (the kernels'
 * bitcode) reads the pragma; gcc's ISO C builds keep products and sums apart. */
#if defined(__clang__)
#define RT_VMATH_CONTRACT _Pragma("clang fp contract(on)")
#else
#define RT_VMATH_CONTRACT
#endif

/* exp(x) in float, within about 2 ulp of libm on the normal range: x = n ln2 + r with |r| <= ln2/2,
 * exp(r) by a degree-6 polynomial (Cephes' coefficients), 2^n assembled in the exponent bits.
 * Below log(FLT_MIN) the result is 0 (exp(-inf) is exactly 0); overflow gives +inf; NaN stays NaN. */
static inline float rt_vexpf(float x)
{
    RT_VMATH_CONTRACT
    const float lo = -87.33654f, hi = 88.72283f; /* log(FLT_MIN), log(FLT_MAX) */
    float xc = x > lo ? x : lo; /* NaN lands on lo here and is put back at the end */
    xc = xc < hi ? xc : hi;
    const float n = rintf(xc * 1.44269504088896341f); /* -126 .. 128 */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float q = 1.9875691500e-4f;
    q = q * r + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    const float p = q * r * r + r + 1.0f;
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

/* The logistic function 1 / (1 + exp(-x)) as 1/2 + x P(x^2) / Q(x^2), P and Q of degree 4 in x^2,
 * fitted for seedc (least squares reweighted towards minimax, scripts/fit_sigmoid.py) to
 * (sigmoid(x) - 1/2) / x on [0, 18]; x is clamped to [-18, 18], beyond which sigmoid(x) is within
 * 1.6e-8 of 0 or 1. No exp: about 1.7x as fast as 1 / (1 + exp(-x)) through rt_vexpf's polynomial
 * (EfficientNet-B0's 49 SiLUs were bound by it). The price is relative accuracy for negative x: the
 * absolute error is at most 2e-7 everywhere (about 3 ulp of 1/2, as ONNX Runtime's logistic),
 * within 4 ulp for x >= 0 and 1e-4 relative for x >= -5, but a tail value such as sigmoid(-12) =
 * 6e-6 is only within 2e-7 of it, and below -18 the result stays near 1.5e-8. NaN kept; never
 * negative. */
static inline float rt_vsigmoidf(float x)
{
    RT_VMATH_CONTRACT
    const float xc = x > -18.0f ? (x < 18.0f ? x : 18.0f) : -18.0f;
    const float s = xc * xc;
    float p = 1.2875216e-11f;
    p = p * s + 7.996808e-08f;
    p = p * s + 5.447784e-05f;
    p = p * s + 0.0083582485f;
    p = p * s + 0.24999997f;
    float q = 3.0088525e-09f;
    q = q * s + 5.1115394e-06f;
    q = q * s + 0.0016151237f;
    q = q * s + 0.11676624f;
    q = q * s + 1.0f;
    float y = xc * p / q + 0.5f;
    y = y > 0.0f ? y : 0.0f;
    return x != x ? x : y;
}

/* erfc(t) for t >= 0.9 (clamped below), as exp(-t^2 + H(1/t)) / t: H is a degree-9 polynomial
 * least-squares fitted for seedc to log(erfc(t) t) + t^2 on Chebyshev nodes of [0.9, 9.3]; past
 * 9.3 the result is below FLT_MIN and flushes to 0. Relative error about 4e-6 at worst (where
 * -t^2 + H rounds, deep in the tail), under 1e-6 for t < 2.8; NaN stays NaN. */
static inline float rt_verfc_tail(float t)
{
    RT_VMATH_CONTRACT
    const float tc = t > 0.9f ? (t < 9.3f ? t : 9.3f) : 0.9f;
    const float v = 1.0f / tc;
    float h = -0.05112505331635475f;
    h = h * v + 0.36556196212768555f;
    h = h * v - 1.1488471031188965f;
    h = h * v + 2.063710927963257f;
    h = h * v - 2.2660186290740967f;
    h = h * v + 1.4040776491165161f;
    h = h * v - 0.1641528457403183f;
    h = h * v - 0.47900572419166565f;
    h = h * v - 0.0014858931535854936f;
    h = h * v - 0.5723206400871277f;
    const float y = rt_vexpf(h - tc * tc) * v;
    return t != t ? t : (t >= 9.3f ? 0.0f : y);
}

/* erf(x) for |x| < 0.91: x P(x^2), P of degree 6 least-squares fitted for seedc to erf(x)/x
 * (relative weights, Chebyshev nodes of x^2 in [0, 0.83]). */
static inline float rt_verf_small(float x)
{
    RT_VMATH_CONTRACT
    const float s = x * x;
    float p = 8.442955004284158e-05f;
    p = p * s - 0.0008159580174833536f;
    p = p * s + 0.005202487576752901f;
    p = p * s - 0.02685997076332569f;
    p = p * s + 0.112837053835392f;
    p = p * s - 0.37612634897232056f;
    p = p * s + 1.128379225730896f;
    return x * p;
}

/* erf(x) in float, within 3 ulp: rt_verf_small below 0.91, else +-(1 - erfc(|x|)). Branch-free
 * (both sides computed, one selected) so that loops vectorize. */
static inline float rt_verff(float x)
{
    const float ax = fabsf(x), tail = 1.0f - rt_verfc_tail(ax);
    const float big = x < 0.0f ? -tail : tail;
    return ax < 0.91f ? rt_verf_small(x) : big; /* NaN: the tail's NaN */
}

/* The standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2, with a small relative error also where
 * it is tiny (x far below 0: 1 + erf(x / sqrt 2) would cancel to nothing). */
static inline float rt_vphif(float x)
{
    const float u = x * 0.70710678118654752f;
    const float e = 0.5f * rt_verfc_tail(fabsf(u));
    const float big = u < 0.0f ? e : 1.0f - e;
    return fabsf(u) < 0.91f ? 0.5f + 0.5f * rt_verf_small(u) : big; /* one erfc tail, not two */
}

#endif
