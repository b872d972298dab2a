/* runtime/kernels/norm.h — normalization kernels. Shapes arrive as (outer, channels, inner)
 * blocks: BatchNorm and InstanceNorm scale per channel with the spatial extent as `inner`;
 * LayerNorm normalizes rows of `inner` elements; LRN sums squares over a window of channels.
 * Training BatchNorm and the BatchNorm and LayerNorm gradients use the same blocks. */
#ifndef SD_RT_NORM_H
#define SD_RT_NORM_H

#include "runtime/kernels/kernel.h"

typedef struct RtNormParams {
    int64_t outer;     /* batch (BatchNorm, InstanceNorm, LRN) or rows (LayerNorm) */
    int64_t channels;  /* 1 for LayerNorm */
    int64_t inner;     /* elements per (outer, channel) */
    float epsilon;
    int32_t has_bias;  /* LayerNorm: B given */
    int32_t has_mean, has_inv_std; /* LayerNorm, training BatchNorm: the optional outputs are written */
    int32_t has_var;               /* training BatchNorm: the variance is written, unbiased unless var_biased */
    int32_t var_biased;
    int32_t training;              /* BatchNorm gradient: of batch statistics (else of the affine map) */
    int32_t relu;                  /* training BatchNorm: y clamped at 0; its gradient: dy where y > 0 */
    int32_t has_residual;          /* training BatchNorm: bufs[8] added to y before the clamp */
    int64_t scale_offset, bias_offset; /* LayerNorm: elements into their operands (both may be the workspace) */
    /* LRN: y = x / (bias + alpha / size * sum of x^2 over channels [c - lo, c + hi]) ^ beta */
    int64_t size_lo, size_hi, size;
    float alpha, beta, bias;
} RtNormParams;

/* x, scale, B, mean, var -> y; workspace 2 * channels floats */
RT_KERNEL_DECL(rt_batch_norm_f32)
/* x, scale[inner], B[inner] -> y, mean[outer], inv_std[outer] (B and the statistics as flagged) */
RT_KERNEL_DECL(rt_layer_norm_f32)
/* ... rows [begin, end) of outer: its scale and bias read only (an expanded copy in the node's
 * shared scratch) */
RT_RANGE_KERNEL_DECL(rt_layer_norm_f32_range)
/* x, scale[channels], B[channels] -> y */
RT_KERNEL_DECL(rt_instance_norm_f32)
/* x -> y; workspace inner floats */
RT_KERNEL_DECL(rt_lrn_f32)

/* Training BatchNorm: x, scale, B -> y, mean, inv_std, unbiased var (each statistic as flagged,
 * else the operand is not touched); statistics over (outer, inner) per channel; workspace
 * 3 * channels floats; with has_residual, bufs[8] (y's shape) is added before the clamp */
RT_KERNEL_DECL(rt_batch_norm_train_f32)
/* dy, x, scale, mean, inv_std -> dx, dscale, dbias (per channel); with relu, bufs[8] is the
 * forward's clamped y and dy counts where y > 0 */
RT_KERNEL_DECL(rt_batch_norm_grad_f32)
/* the two above restricted to channels [begin, end): items are channels */
RT_RANGE_KERNEL_DECL(rt_batch_norm_train_f32_range)
RT_RANGE_KERNEL_DECL(rt_batch_norm_grad_f32_range)
/* dy, x, scale[inner] (at scale_offset), mean[outer], inv_std[outer] -> dx, dscale[inner], dbias[inner] */
RT_KERNEL_DECL(rt_layer_norm_grad_f32)

#endif
