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

#endif
