/* runtime/schedule.c — learning-rate schedules (the formulas are in schedule.h). */
#include "runtime/schedule.h"

#include <math.h>

SdStatus rt_schedule_check(const RtSchedule *s, SdError *err)
{
    if (s->kind != RT_SCHEDULE_CONSTANT && s->kind != RT_SCHEDULE_COSINE && s->kind != RT_SCHEDULE_STEP)
        return sd_errorf(err, SD_EUSAGE, "schedule: unknown kind %d", (int)s->kind);
    if (!(s->lr >= 0.0) || !(s->warmup_start_lr >= 0.0) || !(s->final_lr >= 0.0) || !isfinite(s->lr))
        return sd_errorf(err, SD_EUSAGE, "schedule: learning rates must be finite and >= 0 (lr %g, warmup start %g, "
                         "final %g)", s->lr, s->warmup_start_lr, s->final_lr);
    if (s->steps_per_epoch < 0 || s->warmup < 0)
        return sd_errorf(err, SD_EUSAGE, "schedule: steps per epoch (%lld) and warmup (%lld) must be >= 0",
                         (long long)s->steps_per_epoch, (long long)s->warmup);
    if (s->kind == RT_SCHEDULE_COSINE && (s->total <= 0 || (!s->cosine_from_start && s->warmup >= s->total)))
        return sd_errorf(err, SD_EUSAGE, "schedule: a cosine needs a total length (%lld) > 0%s", (long long)s->total,
                         s->cosine_from_start ? "" : " and longer than the warmup");
    if (s->kind == RT_SCHEDULE_STEP) {
        if (s->n_milestones < 0 || s->n_milestones > RT_SCHEDULE_MAX_MILESTONES)
            return sd_errorf(err, SD_EUSAGE, "schedule: %d milestones; at most %d are supported", s->n_milestones,
                             RT_SCHEDULE_MAX_MILESTONES);
        for (int i = 1; i < s->n_milestones; i++)
            if (s->milestones[i] <= s->milestones[i - 1])
                return sd_errorf(err, SD_EUSAGE, "schedule: milestones must increase (%lld after %lld)",
                                 (long long)s->milestones[i], (long long)s->milestones[i - 1]);
        if (!(s->gamma >= 0.0) || !isfinite(s->gamma))
            return sd_errorf(err, SD_EUSAGE, "schedule: gamma %g must be finite and >= 0", s->gamma);
    }
    return SD_OK;
}

double rt_schedule_lr(const RtSchedule *s, int64_t step)
{
    int64_t u = step < 0 ? 0 : step;
    if (s->steps_per_epoch > 0)
        u /= s->steps_per_epoch;
    if (u < s->warmup)
        return s->warmup_start_lr + (s->lr - s->warmup_start_lr) * (double)u / (double)s->warmup;
    switch (s->kind) {
    case RT_SCHEDULE_CONSTANT:
        return s->lr;
    case RT_SCHEDULE_COSINE: {
        int64_t t = s->cosine_from_start ? u : u - s->warmup;
        int64_t d = s->cosine_from_start ? s->total : s->total - s->warmup;
        if (d <= 0)
            return s->final_lr;
        if (t > d)
            t = d;
        return s->final_lr + (s->lr - s->final_lr) * (1.0 + cos(M_PI * (double)t / (double)d)) / 2.0;
    }
    case RT_SCHEDULE_STEP: {
        double lr = s->lr;
        for (int i = 0; i < s->n_milestones; i++)
            if (s->milestones[i] <= u)
                lr *= s->gamma;
        return lr;
    }
    }
    return s->lr;
}
