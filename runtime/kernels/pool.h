/* runtime/kernels/pool.h — pooling windows (max, average, Lp) and global pools, NCHW with 1 to 3
 * spatial dims padded at the front to 3 with 1. Every (batch, channel) plane is pooled on its own.
 *   rt_pool_f32             max/avg/lp windows: unchecked loops where a window lies inside the input,
 *                           checked ones at the borders; operands x, y
 *   rt_maxpool_indices_f32  max with the flat input index of each maximum (i64); operands x, y, idx
 *   rt_maxpool_u8/_i8       max over 8-bit integers (their range kernels: planes); operands x, y
 *   rt_global_pool_f32      one value per plane (its range kernel: planes); operands x, y
 *   rt_maxpool_grad_f32     dy, x -> dx, workspace: each dy added at the first maximum of its
 *                           window (the window order of rt_maxpool_indices_f32, as PyTorch breaks
 *                           ties); the argmaxes of a row's inner windows found together
 *   rt_avgpool_grad_f32     dy, x -> dx: each dy spread over its window's input taps, divided by
 *                           the forward's count (x is not read) */
#ifndef SD_RT_POOL_H
#define SD_RT_POOL_H

#include "runtime/kernels/kernel.h"

typedef enum RtPoolKind { RT_POOL_MAX, RT_POOL_AVG, RT_POOL_LP } RtPoolKind;

typedef struct RtPoolParams {
    int64_t planes;                 /* batch * channels */
    int64_t in[3], out[3];
    int64_t kernel[3], stride[3], dilation[3];
    int64_t pad[3], pad_end[3];     /* leading and trailing padding */
    int32_t kind;                   /* RtPoolKind */
    int32_t count_include_pad;      /* AVG: padding positions count in the divisor */
    int32_t p;                      /* LP: the norm's exponent */
    int32_t storage_order;          /* indices: 0 row-major, 1 column-major */
} RtPoolParams;

typedef struct RtGlobalPoolParams {
    int64_t planes;
    int64_t size;                   /* elements per plane */
    int32_t kind;                   /* RtPoolKind */
    int32_t p;
} RtGlobalPoolParams;

RT_KERNEL_DECL(rt_pool_f32)
RT_RANGE_KERNEL_DECL(rt_pool_f32_range) /* over planes (batch x channels) */
RT_KERNEL_DECL(rt_maxpool_indices_f32)
RT_KERNEL_DECL(rt_maxpool_u8)
RT_KERNEL_DECL(rt_maxpool_i8)
RT_RANGE_KERNEL_DECL(rt_maxpool_u8_range)
RT_RANGE_KERNEL_DECL(rt_maxpool_i8_range)
RT_KERNEL_DECL(rt_global_pool_f32)
RT_RANGE_KERNEL_DECL(rt_global_pool_f32_range)
RT_KERNEL_DECL(rt_maxpool_grad_f32)
RT_KERNEL_DECL(rt_avgpool_grad_f32)

#endif
