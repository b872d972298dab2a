/* tests/runtime/vmath.c — the vectorizable math of runtime/kernels/vmath.h against double-precision
 * libm (an independent reference): exp, erf, the erfc tail, the normal CDF and the logistic
 * function over dense sweeps of floats, their special values included. */
#include <criterion/criterion.h>
#include <math.h>

#include "runtime/kernels/vmath.h"

/* |got - want| in units in the last place of want as a float */
static double ulps(float got, double want)
{
    float w = (float)fabs(want);
    double ulp = (double)nextafterf(w, INFINITY) - (double)w;
    return fabs((double)got - want) / (ulp > 0 ? ulp : 1e-45);
}

Test(vmath, erf_within_4_ulp)
{
    double worst = 0;
    float at = 0;
    /* every 7th float in [-5, 5] (erf is +-1 in float beyond), and tiny arguments */
    for (float x = -5.0f; x <= 5.0f;) {
        double e = ulps(rt_verff(x), erf((double)x));
        if (e > worst)
            worst = e, at = x;
        for (int k = 0; k < 7; k++)
            x = nextafterf(x, 6.0f);
    }
    cr_expect(worst <= 4.0, "erf: %.2f ulp at %.9g", worst, (double)at);
    cr_expect_eq(rt_verff(1e-30f), 1.12837916709551257f * 1e-30f);
    cr_expect_eq(rt_verff(0.0f), 0.0f);
    cr_expect_eq(rt_verff(9.0f), 1.0f);
    cr_expect_eq(rt_verff(-INFINITY), -1.0f);
    cr_expect(isnan(rt_verff(NAN)));
}

Test(vmath, normal_cdf_keeps_relative_accuracy_in_the_tail)
{
    double worst = 0;
    float at = 0;
    for (float x = -13.0f; x <= 6.0f; x += 1.0f / 4096) {
        double want = 0.5 * erfc(-(double)x / sqrt(2.0));
        if (want < 1e-37)
            continue;
        double e = fabs((double)rt_vphif(x) - want) / want;
        if (e > worst)
            worst = e, at = x;
    }
    /* what 1 + erf(x / sqrt 2) would give at -6: nothing near the right answer (1e-9) */
    cr_expect(worst < 3e-5, "Phi: relative error %.3g at %.9g", worst, (double)at);
    cr_expect(fabs(rt_vphif(-6.0f) - 9.8658765e-10) < 1e-14, "Phi(-6) = %.9g", (double)rt_vphif(-6.0f));
    cr_expect_eq(rt_vphif(-INFINITY), 0.0f);
    cr_expect_eq(rt_vphif(INFINITY), 1.0f);
    cr_expect(isnan(rt_vphif(NAN)));
}

Test(vmath, exp_within_3_ulp_and_its_limits)
{
    double worst = 0;
    float at = 0;
    for (float x = -87.0f; x <= 88.0f; x += 1.0f / 512) {
        double e = ulps(rt_vexpf(x), exp((double)x));
        if (e > worst)
            worst = e, at = x;
    }
    cr_expect(worst <= 3.0, "exp: %.2f ulp at %.9g", worst, (double)at);
    cr_expect_eq(rt_vexpf(-INFINITY), 0.0f);
    cr_expect(isinf(rt_vexpf(100.0f)));
    cr_expect(isnan(rt_vexpf(NAN)));
}

/* The logistic function through the clamped exp: within 4 ulp of double precision wherever the
 * result is a normal float above 1e-37, equal to 1 / (1 + rt_vexpf(-x)) on [-87, 87], 1 beyond,
 * tiny and positive below, NaN kept */
Test(vmath, sigmoid_within_4_ulp_and_as_exp_gives_it)
{
    double worst = 0;
    float at = 0;
    for (float x = -87.0f; x <= 20.0f; x += 1.0f / 1024) {
        const double want = 1.0 / (1.0 + exp(-(double)x));
        double e = ulps(rt_vsigmoidf(x), want);
        if (e > worst)
            worst = e, at = x;
        cr_assert_eq(rt_vsigmoidf(x), 1.0f / (1.0f + rt_vexpf(-x)), "at %.9g", (double)x);
    }
    cr_expect(worst <= 4.0, "sigmoid: %.2f ulp at %.9g", worst, (double)at);
    cr_expect_eq(rt_vsigmoidf(100.0f), 1.0f);
    cr_expect_eq(rt_vsigmoidf(INFINITY), 1.0f);
    cr_expect(rt_vsigmoidf(-100.0f) >= 0.0f && rt_vsigmoidf(-100.0f) < 2e-38f);
    cr_expect(rt_vsigmoidf(-INFINITY) >= 0.0f && rt_vsigmoidf(-INFINITY) < 2e-38f);
    cr_expect(isnan(rt_vsigmoidf(NAN)));
}
