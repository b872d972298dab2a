/* runtime/schedule.h — learning-rate schedules, evaluated on the host before every step and fed to
 * the compiled step as its "lr" input, so changing the schedule never recompiles anything.
 *
 * A schedule counts units: steps, or epochs when steps_per_epoch > 0 (u = floor(step /
 * steps_per_epoch): the rate changes at the start of each epoch, as with a PyTorch scheduler
 * stepped once per epoch). With base rate L, warmup W, total T, final rate F:
 *
 *   u < W             lr = S + (L - S) * u / W                   (S = warmup_start_lr; linear)
 *   constant          lr = L
 *   cosine            lr = F + (L - F) * (1 + cos(pi * t / D)) / 2, t clamped to [0, D], with
 *                       t = u,     D = T       when cosine_from_start (MoCo, SEED: the cosine spans
 *                                              the whole run, warmup included)
 *                       t = u - W, D = T - W   otherwise (LambdaLR warmup then cosine, as SimCLR/BYOL
 *                                              code and HF's cosine-with-warmup write it)
 *   step              lr = L * gamma^(number of milestones <= u)            (MultiStepLR)
 *
 * Without warmup, cosine is CosineAnnealingLR's closed form (T_max = T, eta_min = F) for u <= T;
 * past T it stays at F where PyTorch's would climb back. SEED's adjust_learning_rate is warmup with
 * S = lr, L = lr * lr_mult, then cosine_from_start with F = 0; MoCo's is cosine (F = 0) or step
 * (gamma 0.1), per epoch. */
#ifndef SD_RUNTIME_SCHEDULE_H
#define SD_RUNTIME_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "support/status.h"

#define RT_SCHEDULE_MAX_MILESTONES 32

typedef enum RtScheduleKind { RT_SCHEDULE_CONSTANT, RT_SCHEDULE_COSINE, RT_SCHEDULE_STEP } RtScheduleKind;

typedef struct RtSchedule {
    RtScheduleKind kind;
    double lr;               /* L: the rate after warmup */
    int64_t steps_per_epoch; /* > 0: units are epochs; 0: units are steps */
    int64_t warmup;          /* W, in units; 0: none */
    double warmup_start_lr;  /* S */
    int64_t total;           /* T (cosine), in units */
    double final_lr;         /* F (cosine) */
    bool cosine_from_start;
    int n_milestones;        /* step: increasing units */
    int64_t milestones[RT_SCHEDULE_MAX_MILESTONES];
    double gamma;            /* step */
} RtSchedule;

/* SD_EUSAGE naming the field when the schedule cannot be evaluated (negative lengths, warmup past
 * the total of a cosine, milestones out of order, a negative rate). */
SdStatus rt_schedule_check(const RtSchedule *s, SdError *err);
/* The learning rate for step `step` (counted from 0; negative counts as 0) of a checked schedule. */
double rt_schedule_lr(const RtSchedule *s, int64_t step);

#endif
