/* runtime/kernels/quant.h — quantization kernels: ONNX's QuantizeLinear/DequantizeLinear (per tensor,
 * per axis, per block), DynamicQuantizeLinear, the reference-exact QLinearConv/ConvInteger and
 * QLinearMatMul/MatMulInteger for run-time scales and zero points, and the int8 elementwise ops of a
 * quantized network (QADD, QGLOBAL_AVG_POOL). The packed, vectorized int8 and bf16 convolutions and
 * matrix products are in qgemm.h.
 *
 * Rounding is to nearest, ties to even (rint under the default rounding mode), then saturation to
 * the output type's range, as ONNX specifies.
 *
 * The ONNX conv and matmul kernels take their scales and zero points through a table that
 * rt_qlinear_prep writes into the workspace first (operands: x_scale, x_zp, w_scale, w_zp, y_scale,
 * y_zp, table; absent ones flagged off in the params): "x" is the activation side (one value, or
 * one per row of a matmul's a), "w" the weight side (one, or one per output channel / column). */
#ifndef SD_RT_QUANT_H
#define SD_RT_QUANT_H

#include "runtime/kernels/kernel.h"

/* x viewed as [outer, axis, inner]; the scale of element (o, a, i) is scale[0] (mode 0),
 * scale[a] (mode 1) or scale[(o * n_blocks + a / block) * inner + i] (mode 2). */
typedef struct RtQuantizeParams {
    int64_t outer, axis, inner;
    int64_t block, n_blocks;
    int32_t mode;
    int32_t has_zp;
    int32_t x_dtype, y_dtype; /* SdDType */
} RtQuantizeParams;

typedef struct RtDynQuantParams {
    int64_t n;
} RtDynQuantParams;

/* The table's layout for n_x activation-side and n_w weight-side values. */
typedef struct RtQTableParams {
    int64_t n_x, n_w;
    int32_t has_scales;       /* QLinear*: scales present (else Integer ops: no requantization) */
    int32_t has_x_zp, has_w_zp;
    int32_t many[4];          /* x_scale, x_zp, w_scale, w_zp: one value per index (else one for all) */
    int32_t x_dtype, w_dtype, y_dtype; /* of the data and zero points */
    int32_t scale_dtype;      /* f32 or f16 */
} RtQTableParams;

static inline int64_t rt_qtable_bytes(int64_t n_x, int64_t n_w) { return 16 + 8 * (n_x + n_w); }

/* Conv geometry as conv.h's (spatial sizes padded at the front to 3). Operands: x, w, [bias i32],
 * y, table. */
typedef struct RtQLinearConvParams {
    RtQTableParams t;
    int64_t batch, groups, c_in, c_out;
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad[3];
    int32_t has_bias;
} RtQLinearConvParams;

/* y[b] = a[b] @ b[b] with batch dims broadcast (strides 0); operands a, b, y, table. */
typedef struct RtQLinearMatmulParams {
    RtQTableParams t;
    int64_t batch[RT_LOOP_RANK];
    int64_t a_stride[RT_LOOP_RANK], b_stride[RT_LOOP_RANK]; /* elements per batch index */
    int64_t m, k, n;
} RtQLinearMatmulParams;

/* y = clamp(round((a - a_zp) * a_mult + (b - b_zp) * b_mult) + y_zp, qmin, qmax), with
 * a_mult = a_scale / y_scale; a and b broadcast by strides like eltwise.h's. */
typedef struct RtQAddParams {
    int64_t dims[RT_LOOP_RANK];
    int64_t strides[2][RT_LOOP_RANK];
    float a_mult, b_mult;
    int32_t a_zp, b_zp, y_zp, qmin, qmax;
    int32_t y_dtype;
} RtQAddParams;

/* The kernels over planes of u8 (or i8) values, x [planes, size]:
 *   QGLOBAL_AVG_POOL -> y [planes]: round(sum(x - x_zp) * mult) + y_zp, mult = x_scale / (size * y_scale);
 *   QSCALE_CHANNELS, s [planes] (f32) -> y like x: round((x - x_zp) * s * mult) + y_zp, mult = x_scale / y_scale;
 * clamped to [qmin, qmax]. */
typedef struct RtQPlanesParams {
    int64_t planes, size;
    float mult;
    int32_t x_zp, y_zp, qmin, qmax;
    int32_t dtype;
} RtQPlanesParams;

RT_KERNEL_DECL(rt_quantize_linear)
RT_KERNEL_DECL(rt_dequantize_linear)
RT_RANGE_KERNEL_DECL(rt_quantize_linear_range)
RT_RANGE_KERNEL_DECL(rt_dequantize_linear_range)
RT_KERNEL_DECL(rt_dynamic_quantize_linear)
RT_KERNEL_DECL(rt_qlinear_prep)
RT_KERNEL_DECL(rt_qlinear_conv)
RT_KERNEL_DECL(rt_qlinear_matmul)
RT_KERNEL_DECL(rt_qadd)
RT_RANGE_KERNEL_DECL(rt_qadd_range)
RT_KERNEL_DECL(rt_qglobal_avg_pool)
RT_RANGE_KERNEL_DECL(rt_qglobal_avg_pool_range)
RT_KERNEL_DECL(rt_qscale_channels)
RT_RANGE_KERNEL_DECL(rt_qscale_channels_range)

#endif
