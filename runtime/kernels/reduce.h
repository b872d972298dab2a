/* runtime/kernels/reduce.h — reductions over the middle axis of an [outer, red, inner] view.
 * Codegen collapses the reduced axes of a tensor into contiguous groups and reduces one group per
 * call (a reduction over axes that are not adjacent becomes a chain of calls through the
 * workspace), so every call reads its input with the inner axis at unit stride. A call maps each
 * element (|x|, x^2), combines (sum, product, max, min, log-sum-exp) and finishes each result
 * (divide by the count, sqrt, log). Float sums accumulate in blocks of float lanes whose partial
 * results add up in double, so big reductions keep full float accuracy. */
#ifndef SD_RT_REDUCE_H
#define SD_RT_REDUCE_H

#include "runtime/kernels/kernel.h"

typedef enum RtReduceMap { RT_RMAP_NONE, RT_RMAP_ABS, RT_RMAP_SQUARE } RtReduceMap;
typedef enum RtReduceCombine { RT_RC_SUM, RT_RC_PROD, RT_RC_MAX, RT_RC_MIN, RT_RC_LOG_SUM_EXP } RtReduceCombine;
typedef enum RtReduceFinish { RT_RFIN_NONE, RT_RFIN_MEAN, RT_RFIN_SQRT, RT_RFIN_LOG } RtReduceFinish;

typedef struct RtReduceParams {
    int64_t outer, red, inner;
    int32_t map, combine, finish;   /* RtReduceMap, RtReduceCombine, RtReduceFinish */
    double count;                   /* RT_RFIN_MEAN divides by it */
    int64_t lo, hi;                 /* integer kernels: the type's range (max/min identities, clamping) */
    int64_t src_offset, dst_offset, scratch_offset; /* bytes into bufs[0], bufs[1], bufs[2] */
} RtReduceParams;

/* ArgMax/ArgMin over the middle axis (red >= 1) to i64 indices. */
typedef struct RtArgReduceParams {
    int64_t outer, red, inner;
    int32_t is_min;
    int32_t select_last;
} RtArgReduceParams;

/* Scratch (bufs[2] + scratch_offset) that a reduce call needs, in bytes. */
static inline int64_t rt_reduce_scratch_bytes(int64_t inner) { return inner > 1 ? inner * 12 : 0; }

RT_KERNEL_DECL(rt_reduce_f32)      /* src f32, dst f32, scratch */
RT_KERNEL_DECL(rt_reduce_i64)      /* src i64, dst i64, scratch */
RT_KERNEL_DECL(rt_reduce_i32)
RT_KERNEL_DECL(rt_reduce_u8)       /* u8 and bool */
RT_KERNEL_DECL(rt_reduce_i8)
RT_KERNEL_DECL(rt_argreduce_f32)   /* x, y i64, scratch (inner * 8 bytes) */
RT_KERNEL_DECL(rt_argreduce_i64)
RT_KERNEL_DECL(rt_argreduce_i32)
RT_KERNEL_DECL(rt_argreduce_u8)
RT_KERNEL_DECL(rt_argreduce_i8)

#endif
