/* tests/runtime/schedule.c — learning-rate schedules: PyTorch's CosineAnnealingLR, MultiStepLR and
 * a LambdaLR warmup + cosine (values from tests/golden/optimizers.py), SEED's and MoCo's
 * adjust_learning_rate written out, per-step units, and the sentences that refuse bad schedules. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "runtime/schedule.h"
#include "tests/common/optim_ref.h"

static void expect_torch(const RtSchedule *s, const char *golden_name)
{
    SdError err = {0};
    cr_assert_eq(rt_schedule_check(s, &err), SD_OK, "%s", err.msg);
    RtTensor t = golden(golden_name);
    const float *want = t.data;
    for (int64_t e = 0; e < t.dims[0]; e++) {
        double got = rt_schedule_lr(s, e);
        cr_assert(fabs(got - want[e]) <= 1e-7 * fabs(want[e]) + 1e-9, "%s epoch %lld: %.9g, expected %.9g",
                  golden_name, (long long)e, got, (double)want[e]);
    }
    rt_tensor_free(&t);
}

Test(schedule, matches_pytorch_schedulers)
{
    RtSchedule cosine = {.kind = RT_SCHEDULE_COSINE, .lr = 0.1, .total = 20, .final_lr = 0.001};
    expect_torch(&cosine, "sched_cosine");
    RtSchedule step = {.kind = RT_SCHEDULE_STEP, .lr = 0.1, .n_milestones = 3, .milestones = {5, 9, 14}, .gamma = 0.2};
    expect_torch(&step, "sched_step");
    RtSchedule warm = {.kind = RT_SCHEDULE_COSINE, .lr = 0.1, .warmup = 4, .total = 20};
    expect_torch(&warm, "sched_warmup_cosine");
    /* past the end a cosine stays at its final rate (PyTorch's would climb back) */
    cr_assert_float_eq(rt_schedule_lr(&cosine, 25), 0.001, 1e-15);
}

/* SEED's tools/utils.py adjust_learning_rate: warmup from lr to lr * lr_mult, then a cosine over the
 * whole run (warmup included), per epoch; MoCo's is the same without warmup, or steps of 0.1. */
Test(schedule, seed_and_moco_per_epoch)
{
    const double lr = 0.03, mult = 4.0;
    const int epochs = 200, warmup = 5, steps_per_epoch = 37;
    RtSchedule seed = {.kind = RT_SCHEDULE_COSINE, .lr = lr * mult, .warmup_start_lr = lr, .warmup = warmup,
                       .total = epochs, .cosine_from_start = true, .steps_per_epoch = steps_per_epoch};
    SdError err = {0};
    cr_assert_eq(rt_schedule_check(&seed, &err), SD_OK, "%s", err.msg);
    RtSchedule moco_step = {.kind = RT_SCHEDULE_STEP, .lr = lr, .n_milestones = 2, .milestones = {120, 160},
                            .gamma = 0.1, .steps_per_epoch = steps_per_epoch};
    for (int epoch = 0; epoch < epochs; epoch++) {
        double want = epoch < warmup ? lr + (lr * mult - lr) / warmup * epoch
                                     : lr * mult * 0.5 * (1.0 + cos(M_PI * epoch / epochs));
        double want_step = lr * (epoch >= 120 ? 0.1 : 1.0) * (epoch >= 160 ? 0.1 : 1.0);
        for (int i = 0; i < steps_per_epoch; i += 12) {
            int64_t step = (int64_t)epoch * steps_per_epoch + i;
            cr_assert(fabs(rt_schedule_lr(&seed, step) - want) <= 1e-12, "SEED epoch %d step %lld: %.12g vs %.12g",
                      epoch, (long long)step, rt_schedule_lr(&seed, step), want);
            cr_assert(fabs(rt_schedule_lr(&moco_step, step) - want_step) <= 1e-15, "MoCo step schedule epoch %d",
                      epoch);
        }
    }
}

Test(schedule, per_step_warmup_then_cosine_to_a_final_rate)
{
    RtSchedule s = {.kind = RT_SCHEDULE_COSINE, .lr = 1.0, .warmup = 10, .warmup_start_lr = 0.1, .total = 110,
                    .final_lr = 0.01};
    cr_assert_float_eq(rt_schedule_lr(&s, -3), 0.1, 1e-15, "negative steps count as 0");
    cr_assert_float_eq(rt_schedule_lr(&s, 0), 0.1, 1e-15);
    cr_assert_float_eq(rt_schedule_lr(&s, 5), 0.55, 1e-15);
    cr_assert_float_eq(rt_schedule_lr(&s, 10), 1.0, 1e-15);
    cr_assert_float_eq(rt_schedule_lr(&s, 60), 0.505, 1e-12, "half way down the cosine");
    cr_assert_float_eq(rt_schedule_lr(&s, 110), 0.01, 1e-15);
    cr_assert_float_eq(rt_schedule_lr(&s, 1000), 0.01, 1e-15);
    RtSchedule c = {.kind = RT_SCHEDULE_CONSTANT, .lr = 0.5, .warmup = 4};
    cr_assert_float_eq(rt_schedule_lr(&c, 1), 0.125, 1e-15);
    cr_assert_float_eq(rt_schedule_lr(&c, 4), 0.5, 1e-15);
    cr_assert_float_eq(rt_schedule_lr(&c, 400000), 0.5, 1e-15);
}

Test(schedule, refuses_schedules_it_cannot_evaluate)
{
    struct {
        RtSchedule s;
        const char *msg;
    } bad[] = {
        {{.kind = RT_SCHEDULE_COSINE, .lr = 0.1}, "a cosine needs a total length (0) > 0 and longer than the warmup"},
        {{.kind = RT_SCHEDULE_COSINE, .lr = 0.1, .total = 5, .warmup = 5}, "longer than the warmup"},
        {{.kind = RT_SCHEDULE_STEP, .lr = 0.1, .gamma = 0.1, .n_milestones = 2, .milestones = {30, 10}},
         "milestones must increase (10 after 30)"},
        {{.kind = RT_SCHEDULE_STEP, .lr = 0.1, .gamma = -1}, "gamma -1 must be finite and >= 0"},
        {{.kind = RT_SCHEDULE_CONSTANT, .lr = -0.1}, "learning rates must be finite and >= 0"},
        {{.kind = RT_SCHEDULE_CONSTANT, .lr = 0.1, .warmup = -2}, "warmup (-2) must be >= 0"},
        {{.kind = (RtScheduleKind)7, .lr = 0.1}, "unknown kind 7"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SdError err = {0};
        cr_assert_eq(rt_schedule_check(&bad[i].s, &err), SD_EUSAGE, "case %zu", i);
        cr_assert(strstr(err.msg, bad[i].msg), "case %zu: %s", i, err.msg);
    }
}
