/* runtime/kernels/softmax.h — Softmax, LogSoftmax and Hardmax over the middle axis of an
 * [outer, n, inner] view (opset < 13's flattening is inner == 1 with n the product of the trailing
 * dims). Numerically stable: the maximum is subtracted before exponentiating. With inner > 1 the
 * kernel walks whole rows at unit stride with per-column maxima and sums in the workspace. */
#ifndef SD_RT_SOFTMAX_H
#define SD_RT_SOFTMAX_H

#include "runtime/kernels/kernel.h"

typedef enum RtSoftmaxOp { RT_SOFTMAX, RT_LOG_SOFTMAX, RT_HARDMAX } RtSoftmaxOp;

typedef struct RtSoftmaxParams {
    int64_t outer, n, inner;
    int32_t op; /* RtSoftmaxOp */
} RtSoftmaxParams;

/* Workspace a call needs, in bytes. */
static inline int64_t rt_softmax_scratch_bytes(int64_t inner) { return inner > 1 ? inner * 16 : 0; }

RT_KERNEL_DECL(rt_softmax_f32) /* x, y, workspace */
/* ... slabs [begin, end) of outer, each thread with its own workspace */
RT_RANGE_KERNEL_DECL(rt_softmax_f32_range)

/* Gradients over the same [outer, n, inner] view, from the forward output y (op RT_SOFTMAX or
 * RT_LOG_SOFTMAX): softmax dx = y (dy - sum(dy y)), log-softmax dx = dy - exp(y) sum(dy), the
 * sums in double. With inner > 1 the workspace holds one double per column. */
static inline int64_t rt_softmax_grad_scratch_bytes(int64_t inner) { return inner > 1 ? inner * 8 : 0; }
RT_KERNEL_DECL(rt_softmax_grad_f32) /* dy, y, dx, workspace */
RT_RANGE_KERNEL_DECL(rt_softmax_grad_f32_range)

/* Classification losses over [outer = N, classes = C, inner = d1*...*dk] (the class axis is 1):
 * from_logits: softmax cross-entropy of logits (log-softmax taken inside, stable: max subtracted,
 * sums in double); else negative log-likelihood of log-probabilities. The target is class indices
 * [N, d...] (i64 or i32: index_size; an index equal to ignore_index adds nothing, others are
 * clamped into [0, C)) or, with soft, probabilities shaped like the input. Optional class weights
 * [C] scale each term. Reduction: per position ("none", the loss has the target positions' shape),
 * sum, or mean: divided by the summed weights of the counted positions (hard targets, as ONNX and
 * PyTorch) or by the number of positions (soft targets, as PyTorch). */
typedef struct RtLossParams {
    int64_t outer, classes, inner;
    int64_t ignore_index;
    int32_t from_logits, soft, index_size, has_weights, has_ignore;
    int32_t reduction; /* 0 mean, 1 sum, 2 none (IrLossReduction) */
} RtLossParams;

RT_KERNEL_DECL(rt_loss_f32)      /* input, target, weights (input again when absent), loss */
RT_KERNEL_DECL(rt_loss_grad_f32) /* dloss, input, target, weights (input again when absent), dinput */

#endif
