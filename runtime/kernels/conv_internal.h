/* runtime/kernels/conv_internal.h — what the forward convolution kernels (conv.c) and their
 * gradients (conv_grad.c) share: filling rows with a bias, im2col of a block of output rows,
 * output-channel chunks for threads, and one depthwise kernel row's taps. */
#ifndef SD_RT_KERNELS_CONV_INTERNAL_H
#define SD_RT_KERNELS_CONV_INTERNAL_H

#include <math.h>
#include <string.h>

#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_im2col_small.h"
#include "runtime/kernels/vmath.h"
#include "runtime/kernels/window.h"

/* A forward kernel's residual operand (NULL without one) and y */
static inline const float *conv_residual(const RtConvParams *p, void *const *bufs)
{
    return p->has_residual ? bufs[2 + p->has_bias] : NULL;
}
static inline float *conv_y(const RtConvParams *p, void *const *bufs) { return bufs[2 + p->has_bias + p->has_residual]; }

/* y = bias (per row, 0 without one) [+ res, laid out as y]: what a GEMM then adds to (beta 1) */
static inline void fill_rows(float *restrict y, int64_t rows, int64_t cols, int64_t ld, const float *bias,
                             const float *restrict res)
{
    for (int64_t r = 0; r < rows; r++) {
        const float v = bias ? bias[r] : 0.0f;
        if (res)
            for (int64_t j = 0; j < cols; j++)
                y[r * ld + j] = v + res[r * ld + j];
        else
            for (int64_t j = 0; j < cols; j++)
                y[r * ld + j] = v;
    }
}

/* v clamped to [lo, hi] by comparisons, so that NaN stays NaN (as Relu and Clip keep it) */
static inline float clip_value(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* RtConvParams.act over rows x cols of y (ld apart) that the kernel has just finished (bias,
 * residual and clamp in), while they are in cache: a second pass there costs little, where the
 * activation as a node of its own read and wrote the whole output through memory (EfficientNet-B0's
 * SiLUs, 16% of its run). The formulas are the elementwise kernels' (eltwise.c), so a fold
 * computes what the nodes did. The op is a constant at every call site: the test folds. */
static inline void act_rows(const RtConvParams *p, float *restrict y, int64_t rows, int64_t cols, int64_t ld)
{
    if (p->act == RT_CONV_ACT_SILU) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < cols; j++) {
                const float v = y[r * ld + j];
                y[r * ld + j] = v * rt_vsigmoidf(v);
            }
    } else if (p->act == RT_CONV_ACT_HARD_SWISH) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < cols; j++) {
                const float v = y[r * ld + j];
                y[r * ld + j] = v * fmaxf(0.0f, fminf(1.0f, v * (1.0f / 6.0f) + 0.5f));
            }
    }
}

/* The folded activations (RtConvParams.has_clip, then act) over rows x cols of y (ld apart), while
 * they are in cache after the GEMM wrote them. */
static inline void clip_rows(const RtConvParams *p, float *restrict y, int64_t rows, int64_t cols, int64_t ld)
{
    if (p->has_clip) {
        const float lo = p->clip_min, hi = p->clip_max;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < cols; j++)
                y[r * ld + j] = clip_value(y[r * ld + j], lo, hi);
    }
    act_rows(p, y, rows, cols, ld);
}

/* m rows of y (ldy apart, n columns) += bias (per row, none: NULL) and res (laid out as y, none:
 * NULL), then the folded activation: one pass, while y is in cache after its product */
static inline void finish_rows(const RtConvParams *p, float *restrict y, int64_t m, int64_t n, int64_t ldy,
                               const float *bias, const float *restrict res)
{
    if (!bias && !res && !p->has_clip) {
        act_rows(p, y, m, n, ldy);
        return;
    }
    for (int64_t r = 0; r < m; r++) {
        const float add = bias ? bias[r] : 0.0f;
        float *yr = y + r * ldy;
        const float *rr = res ? res + r * ldy : NULL;
        for (int64_t j = 0; j < n; j++) {
            const float v = yr[j] + add + (rr ? rr[j] : 0.0f);
            yr[j] = p->has_clip ? clip_value(v, p->clip_min, p->clip_max) : v;
        }
    }
    act_rows(p, y, m, n, ldy);
}

/* im2col_block for 2-D, stride 1 and as many output as input columns (3x3 with padding 1): the
 * output rows of one tap that read input rows are one contiguous copy of the input, whose columns
 * that fall into the padding (a column or two at each row's ends) are then zeroed. Copies of a whole
 * block instead of short rows: the Fashion-MNIST student at batch 256 took 13% less time. */
static inline void im2col_block_rows(const RtConvParams *p, int64_t cin_g, const float *restrict x,
                                     float *restrict col, int64_t r0, int64_t nr, int64_t ld)
{
    const int64_t IH = p->in[1], W = p->out[2], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t DH = p->dilation[1], DW = p->dilation[2], PH = p->pad[1], PW = p->pad[2];
    float *row = col;
    for (int64_t ic = 0; ic < cin_g; ic++) {
        const float *xc = x + ic * IH * W;
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++, row += ld) {
                int64_t lo, hi;
                rt_tap_range(W, W, 1, PW, kw * DW, &lo, &hi);
                /* output rows [a, b) of the block read input rows a - PH + kh*DH ... inside [0, IH) */
                int64_t a = PH - kh * DH, b = IH + PH - kh * DH;
                a = a < r0 ? r0 : a > r0 + nr ? r0 + nr : a;
                b = b > r0 + nr ? r0 + nr : b < a ? a : b;
                for (int64_t j = 0; j < (a - r0) * W; j++)
                    row[j] = 0.0f;
                for (int64_t j = (b - r0) * W; j < nr * W; j++)
                    row[j] = 0.0f;
                if (a == b)
                    continue;
                if (hi <= lo) { /* every column in the padding */
                    for (int64_t j = (a - r0) * W; j < (b - r0) * W; j++)
                        row[j] = 0.0f;
                    continue;
                }
                const float *src = xc + (a - PH + kh * DH) * W - PW + kw * DW; /* output (a, 0) */
                float *dst = row + (a - r0) * W;
                const int64_t first = lo, last = (b - a - 1) * W + hi; /* copied: [first, last) */
                memcpy(dst + first, src + first, (size_t)(last - first) * sizeof(float));
                for (int64_t r = 0; r < b - a; r++) {
                    for (int64_t ow = 0; ow < lo; ow++)
                        dst[r * W + ow] = 0.0f;
                    for (int64_t ow = hi; ow < W; ow++)
                        dst[r * W + ow] = 0.0f;
                }
            }
    }
}

/* One group of one image: rows (ic, kd, kh, kw) of the column matrix for output rows [r0, r0+nr),
 * each nr*OW long and ld apart. x points at the group's first input channel. */
static inline void im2col_block(const RtConvParams *p, int64_t cin_g, const float *restrict x, float *restrict col,
                                int64_t r0, int64_t nr, int64_t ld)
{
    if (im2col_small(p, r0, nr)) {
        im2col_small_image(p, cin_g, x, col, ld);
        return;
    }
    if (p->in[0] == 1 && p->out[0] == 1 && p->kernel[0] == 1 && p->stride[1] == 1 && p->stride[2] == 1 &&
        p->in[2] == p->out[2]) {
        im2col_block_rows(p, cin_g, x, col, r0, nr, ld);
        return;
    }
    const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
    const int64_t OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->kernel[0], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t SD = p->stride[0], SH = p->stride[1], SW = p->stride[2];
    const int64_t DD = p->dilation[0], DH = p->dilation[1], DW = p->dilation[2];
    const int64_t PD = p->pad[0], PH = p->pad[1], PW = p->pad[2];
    float *row = col;
    for (int64_t ic = 0; ic < cin_g; ic++) {
        const float *xc = x + ic * ID * IH * IW;
        for (int64_t kd = 0; kd < KD; kd++)
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                    int64_t lo, hi;
                    rt_tap_range(OW, IW, SW, PW, kw * DW, &lo, &hi);
                    for (int64_t r = r0; r < r0 + nr; r++) {
                        int64_t od = OH > 0 ? r / OH : 0, oh = r - od * OH;
                        int64_t id = od * SD - PD + kd * DD, ih = oh * SH - PH + kh * DH;
                        float *dst = row + (r - r0) * OW;
                        if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
                            for (int64_t ow = 0; ow < OW; ow++)
                                dst[ow] = 0.0f;
                            continue;
                        }
                        const float *src = xc + (id * IH + ih) * IW - PW + kw * DW;
                        for (int64_t ow = 0; ow < lo; ow++)
                            dst[ow] = 0.0f;
                        for (int64_t ow = lo; ow < hi; ow++)
                            dst[ow] = src[ow * SW];
                        for (int64_t ow = hi; ow < OW; ow++)
                            dst[ow] = 0.0f;
                    }
                    row += ld;
                }
    }
}

/* Chunks of a group's output channels: how many, how wide, the last one's width. */
static inline void channel_chunks(const RtConvParams *p, int64_t cout_g, int64_t *n, int64_t *width, int64_t *last)
{
    *n = p->c_split > 1 && p->c_chunk > 0 ? p->c_split : 1;
    *width = *n > 1 ? p->c_chunk : cout_g;
    *last = cout_g - (*n - 1) * *width;
}

/* y[ow] += sum over kw of w[kw] * xr[ow*S + kw*D], for ow in [lo, hi): one kernel row's taps.
 * The output width is the innermost loop, so it vectorizes whatever the kernel size; the common
 * widths have their taps written out (the kernel bitcode is built with loop unrolling off, so a
 * tap loop would stay a loop around every output element). */
static inline void dw_taps(const float *restrict xr, const float *restrict w, float *restrict y, int64_t lo, int64_t hi,
                    int64_t KW, int64_t S, int64_t D)
{
    switch (KW) {
    case 3: {
        const float w0 = w[0], w1 = w[1], w2 = w[2];
        for (int64_t ow = lo; ow < hi; ow++)
            y[ow] += w0 * xr[ow * S] + w1 * xr[ow * S + D] + w2 * xr[ow * S + 2 * D];
        return;
    }
    case 5: {
        const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
        for (int64_t ow = lo; ow < hi; ow++)
            y[ow] += w0 * xr[ow * S] + w1 * xr[ow * S + D] + w2 * xr[ow * S + 2 * D] + w3 * xr[ow * S + 3 * D] +
                     w4 * xr[ow * S + 4 * D];
        return;
    }
    case 7: {
        const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6];
        for (int64_t ow = lo; ow < hi; ow++)
            y[ow] += w0 * xr[ow * S] + w1 * xr[ow * S + D] + w2 * xr[ow * S + 2 * D] + w3 * xr[ow * S + 3 * D] +
                     w4 * xr[ow * S + 4 * D] + w5 * xr[ow * S + 5 * D] + w6 * xr[ow * S + 6 * D];
        return;
    }
    default:
        for (int64_t kw = 0; kw < KW; kw++) {
            const float wk = w[kw];
            for (int64_t ow = lo; ow < hi; ow++)
                y[ow] += wk * xr[ow * S + kw * D];
        }
    }
}

/* The lanes kernel over items [begin, end) of rt_conv_depthwise_items (conv_depthwise_lanes.c) */
void rt_conv_depthwise_lanes_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end);

#endif
