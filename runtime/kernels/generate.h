/* runtime/kernels/generate.h — tensors made from scalars: Range. (ConstantOfShape is a fill.) */
#ifndef SD_RT_GENERATE_H
#define SD_RT_GENERATE_H

#include "runtime/kernels/kernel.h"

typedef struct RtRangeParams {
    int64_t n;
    int32_t dtype; /* SdDType: f32, i64 or i32 */
} RtRangeParams;

RT_KERNEL_DECL(rt_range) /* start, limit, delta (scalars) -> y[n] */

#endif
