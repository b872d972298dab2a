/* runtime/kernels/update.h — in-place updates of persistent state (the `update` op family): moving
 * averages, the optimizer steps and the SSL queue. Every kernel writes into its first operand (a
 * parameter or state in the state arena) and into the optimizer state it takes, and reads the
 * learning rate (an f32 scalar) and the step count (an i64 scalar) at run time, so a schedule never
 * recompiles. The formulas are PyTorch's (torch.optim of 1.13), written out in the .c file. ASSIGN
 * needs no kernel of its own: it is a flat rt_copy_strided. */
#ifndef SD_RT_UPDATE_H
#define SD_RT_UPDATE_H

#include "runtime/kernels/kernel.h"

typedef struct RtUpdateParams {
    int64_t n;                /* elements of the updated tensor */
    double momentum;          /* SGD/LARS velocity decay; EMA: dst = momentum*dst + (1-momentum)*src */
    double weight_decay;
    double beta1, beta2;      /* AdamW, LAMB */
    double epsilon;
    double trust_coefficient; /* LARS eta */
    int32_t nesterov;         /* SGD */
    /* QUEUE_PUSH: a ring of queue_rows rows of row_bytes bytes; item_rows rows go in per call */
    int64_t queue_rows, item_rows, row_bytes;
} RtUpdateParams;

/* dst, src: dst = momentum*dst + (1-momentum)*src */
RT_KERNEL_DECL(rt_ema_update_f32)
/* param, grad, velocity, lr: d = grad + wd*param; velocity = momentum*velocity + d (dampening 0);
 * param -= lr * (nesterov ? d + momentum*velocity : velocity). With momentum 0, param -= lr*d and
 * velocity is neither read nor written. */
RT_KERNEL_DECL(rt_sgd_update_f32)
/* param, grad, m, v, lr, step (i64, already counting this step from 1): AdamW with decoupled
 * weight decay and bias correction */
RT_KERNEL_DECL(rt_adamw_update_f32)
/* param, grad, velocity, lr: d = grad + wd*param scaled by eta*||param||/||d|| (1 when a norm is 0),
 * then momentum SGD on d */
RT_KERNEL_DECL(rt_lars_update_f32)
/* param, grad, m, v, lr, step: the AdamW direction u = m^/(sqrt(v^)+eps) + wd*param scaled by
 * ||param||/||u|| (1 when a norm is 0) */
RT_KERNEL_DECL(rt_lamb_update_f32)
/* queue [K rows], items [B rows], position (i64): rows go to (position + b) mod K, then position
 * advances by B mod K */
RT_KERNEL_DECL(rt_queue_push)

#endif
