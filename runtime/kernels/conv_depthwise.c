/* runtime/kernels/conv_depthwise.c — depthwise convolutions (one input channel per group, at most
 * 2 spatial dims; conv.h): direct loops over output rows with the kernel window unrolled once its
 * size is constant, or, for small planes, shifted windows of a zero-padded copy. */
#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_internal.h"

#include <stdbool.h>

#include "runtime/kernels/window.h"

static float dw_point(const float *x, const float *w, float b, int64_t ih0, int64_t iw0, int64_t IH, int64_t IW,
                      int64_t KH, int64_t KW, int64_t DH, int64_t DW)
{
    float acc = b;
    for (int64_t kh = 0; kh < KH; kh++) {
        int64_t ih = ih0 + kh * DH;
        if (ih < 0 || ih >= IH)
            continue;
        for (int64_t kw = 0; kw < KW; kw++) {
            int64_t iw = iw0 + kw * DW;
            if (iw >= 0 && iw < IW)
                acc += w[kh * KW + kw] * x[ih * IW + iw];
        }
    }
    return acc;
}

/* One channel. Every output row runs the kernel rows that fall inside the input over the columns
 * whose windows lie inside it horizontally (vectorized); the few border columns are checked. */
static void dw_plane(const RtConvParams *p, const float *restrict x, const float *restrict w, float b,
                     float *restrict y)
{
    const int64_t IH = p->in[1], IW = p->in[2], OH = p->out[1], OW = p->out[2];
    const int64_t KH = p->kernel[1], KW = p->kernel[2];
    const int64_t SH = p->stride[1], SW = p->stride[2];
    const int64_t DH = p->dilation[1], DW = p->dilation[2];
    const int64_t PH = p->pad[1], PW = p->pad[2];
    int64_t ow_lo, ow_hi;
    rt_inside_range(IW, OW, KW, SW, DW, PW, &ow_lo, &ow_hi);
    for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t ih0 = oh * SH - PH;
        float *yr = y + oh * OW;
        if (KH == 3 && KW == 3 && ih0 >= 0 && ih0 + 2 * DH < IH) {
            /* all three kernel rows inside: the nine taps in one pass, y written once (a pass per
             * kernel row read and wrote y three times: MobileNetV2's depthwise layers, measured) */
            const float *x0 = x + ih0 * IW - PW, *x1 = x0 + DH * IW, *x2 = x1 + DH * IW;
            const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7],
                        w8 = w[8];
            for (int64_t ow = ow_lo; ow < ow_hi; ow++) {
                const int64_t c = ow * SW;
                yr[ow] = b + w0 * x0[c] + w1 * x0[c + DW] + w2 * x0[c + 2 * DW] + w3 * x1[c] + w4 * x1[c + DW] +
                         w5 * x1[c + 2 * DW] + w6 * x2[c] + w7 * x2[c + DW] + w8 * x2[c + 2 * DW];
            }
        } else {
            for (int64_t ow = ow_lo; ow < ow_hi; ow++)
                yr[ow] = b;
            for (int64_t kh = 0; kh < KH; kh++) {
                int64_t ih = ih0 + kh * DH;
                if (ih >= 0 && ih < IH)
                    dw_taps(x + ih * IW - PW, w + kh * KW, yr, ow_lo, ow_hi, KW, SW, DW);
            }
        }
        for (int64_t ow = 0; ow < ow_lo; ow++)
            yr[ow] = dw_point(x, w, b, ih0, ow * SW - PW, IH, IW, KH, KW, DH, DW);
        for (int64_t ow = ow_hi; ow < OW; ow++)
            yr[ow] = dw_point(x, w, b, ih0, ow * SW - PW, IH, IW, KH, KW, DH, DW);
    }
}

/* Small planes (14x14, 7x7; strided too) without borders: the input is copied, zero-padded and split
 * by stride phase, into planes whose rows are dw_small_cols apart, and each tap adds one shifted
 * window of one plane to every output at once, as a flat run over the rows (the columns past the
 * output's width computed and dropped). Rows of 7 or 14 pixels left the row loops above mostly in
 * their border and remainder code: MobileNetV2's 7x7 depthwise layers ran at 16 GFLOP/s, 25 now,
 * its 14x14 ones at 30-37, 59-62 now (2 threads, batch 1). */
#define DW_SMALL_IN_FLOATS 1024 /* 56x56 at stride 2 ran faster by rows */
#define DW_SMALL_PLANES_FLOATS 4096
#define DW_SMALL_ACC_FLOATS 1024
static inline int64_t dw_small_cols(const RtConvParams *p)
{
    return p->out[2] + (p->kernel[2] - 1) * p->dilation[2] / p->stride[2];
}
static inline int64_t dw_small_rows(const RtConvParams *p)
{
    return p->out[1] + (p->kernel[1] - 1) * p->dilation[1] / p->stride[1] + 1;
}
static bool dw_small(const RtConvParams *p)
{
    if (p->stride[1] <= 0 || p->stride[2] <= 0 || p->stride[1] > 2 || p->stride[2] > 2)
        return false;
    const int64_t q = dw_small_cols(p), r = dw_small_rows(p);
    return p->in[1] * p->in[2] <= DW_SMALL_IN_FLOATS &&
           p->stride[1] * p->stride[2] * r * q <= DW_SMALL_PLANES_FLOATS && p->out[1] * q <= DW_SMALL_ACC_FLOATS;
}

static void dw_plane_small(const RtConvParams *p, const float *restrict x, const float *restrict w, float b,
                           const float *restrict res, float *restrict y)
{
    const int64_t IH = p->in[1], IW = p->in[2], OH = p->out[1], OW = p->out[2];
    const int64_t KH = p->kernel[1], KW = p->kernel[2], SH = p->stride[1], SW = p->stride[2];
    const int64_t DH = p->dilation[1], DW = p->dilation[2], PH = p->pad[1], PW = p->pad[2];
    const int64_t Q = dw_small_cols(p), R = dw_small_rows(p), ps = R * Q;
    float planes[DW_SMALL_PLANES_FLOATS], acc[DW_SMALL_ACC_FLOATS];
    memset(planes, 0, (size_t)(SH * SW * ps) * sizeof(float));
    for (int64_t ih = 0; ih < IH; ih++) {
        const int64_t py = (ih + PH) % SH, r = (ih + PH) / SH;
        if (r >= R)
            break;
        for (int64_t px = 0; px < SW; px++) { /* plane columns c hold input columns c * SW + px - PW */
            int64_t lo = PW - px > 0 ? (PW - px + SW - 1) / SW : 0, hi = (IW - 1 + PW - px) / SW + 1;
            hi = IW - 1 + PW - px < 0 ? 0 : hi > Q ? Q : hi;
            float *dst = planes + (py * SW + px) * ps + r * Q;
            const float *src = x + ih * IW + px - PW;
            for (int64_t c = lo; c < hi; c++)
                dst[c] = src[c * SW];
        }
    }
    const int64_t n = OH * Q;
    for (int64_t j = 0; j < n; j++)
        acc[j] = b;
    for (int64_t ky = 0; ky < KH; ky++)
        for (int64_t kx = 0; kx < KW; kx++) {
            const float wk = w[ky * KW + kx];
            const float *src = planes + ((ky * DH % SH) * SW + kx * DW % SW) * ps + ky * DH / SH * Q + kx * DW / SW;
            for (int64_t j = 0; j < n; j++)
                acc[j] += wk * src[j];
        }
    for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
            const float v = acc[oh * Q + ow] + (res ? res[oh * OW + ow] : 0.0f);
            y[oh * OW + ow] = p->has_clip ? clip_value(v, p->clip_min, p->clip_max) : v;
        }
}

/* Items [begin, end) of (image, output channel). */
static void conv_depthwise_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    if (p->groups <= 0 || p->c_out <= 0)
        return;
    const int64_t mult = p->c_out / p->groups;
    const int64_t in_vol = p->in[1] * p->in[2], out_vol = p->out[1] * p->out[2];
    const int64_t kvol = p->kernel[1] * p->kernel[2];
    const bool small = dw_small(p);
    for (int64_t it = begin; it < end; it++) {
        int64_t n = it / p->c_out, oc = it % p->c_out, ic = mult > 0 ? oc / mult : 0;
        float *yc = y + (n * p->c_out + oc) * out_vol;
        if (small) {
            dw_plane_small(p, x + (n * p->c_in + ic) * in_vol, w + oc * kvol, bias ? bias[oc] : 0.0f,
                           res ? res + (n * p->c_out + oc) * out_vol : NULL, yc);
            continue;
        }
        dw_plane(p, x + (n * p->c_in + ic) * in_vol, w + oc * kvol, bias ? bias[oc] : 0.0f, yc);
        /* y never shares memory with its inputs (the planner only reuses elementwise inputs) */
        finish_rows(p, yc, 1, out_vol, out_vol, NULL, res ? res + (n * p->c_out + oc) * out_vol : NULL);
    }
}

RT_KERNEL(rt_conv_depthwise_f32)
{
    const RtConvParams *p = params_;
    conv_depthwise_items(p, bufs, 0, p->batch * p->c_out);
}
RT_RANGE_KERNEL(rt_conv_depthwise_f32_range) { conv_depthwise_items(params_, bufs, begin, end); }
