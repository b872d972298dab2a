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

/* The logistic function's rational approximation: within 2e-7 of double precision everywhere,
 * within 4 ulp for x >= 0 and 1e-4 relative for x >= -5; 1 far above, near 0 (and not negative)
 * far below, NaN kept */
Test(vmath, sigmoid_within_2e7_and_4_ulp_above_0)
{
    double worst_abs = 0, worst_ulp = 0, worst_rel = 0;
    float at_abs = 0, at_ulp = 0, at_rel = 0;
    for (float x = -40.0f; x <= 40.0f; x += 1.0f / 1024) {
        const double want = 1.0 / (1.0 + exp(-(double)x)), got = rt_vsigmoidf(x), e = fabs(got - want);
        if (e > worst_abs)
            worst_abs = e, at_abs = x;
        if (x >= 0.0f && ulps(rt_vsigmoidf(x), want) > worst_ulp)
            worst_ulp = ulps(rt_vsigmoidf(x), want), at_ulp = x;
        if (x >= -5.0f && e / want > worst_rel)
            worst_rel = e / want, at_rel = x;
        cr_assert(got >= 0.0 && got <= 1.0, "%.9g at %.9g", got, (double)x);
    }
    cr_expect(worst_abs <= 2e-7, "sigmoid: absolute error %.3g at %.9g", worst_abs, (double)at_abs);
    cr_expect(worst_ulp <= 4.0, "sigmoid: %.2f ulp at %.9g", worst_ulp, (double)at_ulp);
    cr_expect(worst_rel <= 1e-4, "sigmoid: relative error %.3g at %.9g", worst_rel, (double)at_rel);
    cr_expect_eq(rt_vsigmoidf(100.0f), 1.0f);
    cr_expect_eq(rt_vsigmoidf(INFINITY), 1.0f);
    cr_expect(rt_vsigmoidf(-100.0f) >= 0.0f && rt_vsigmoidf(-100.0f) < 2e-7f);
    cr_expect(rt_vsigmoidf(-INFINITY) >= 0.0f && rt_vsigmoidf(-INFINITY) < 2e-7f);
    cr_expect(isnan(rt_vsigmoidf(NAN)));
}
