/* runtime/kernels/conv.c — convolution kernels (see conv.h for which one codegen picks).
 * Every size comes from the params struct, so once codegen inlines a kernel with constant params
 * its loops have constant bounds. The innermost loop is always over the output (or input) width,
 * which vectorizes; the kernel bitcode is built without loop unrolling, so small tap loops are
 * written out by hand where they matter (depthwise). Borders (windows that reach into the
 * padding) take a checked scalar path. Sizes were validated by shape inference; divisions still
 * guard against zero so that no params struct can make a kernel trap. */
#include "runtime/kernels/conv.h"

#include <stdbool.h>

#include "runtime/kernels/gemm.h"
#include "runtime/kernels/window.h"

static void fill_rows(float *restrict y, int64_t rows, int64_t cols, int64_t ld, const float *bias)
{
    for (int64_t r = 0; r < rows; r++) {
        float v = bias ? bias[r] : 0.0f;
        for (int64_t j = 0; j < cols; j++)
            y[r * ld + j] = v;
    }
}

/* --- im2col + GEMM --- */

/* One group of one image: rows (ic, kd, kh, kw) of the column matrix for output rows [r0, r0+nr),
 * each row nr*OW long. x points at the group's first input channel. */
static void im2col_block(const RtConvParams *p, int64_t cin_g, const float *restrict x, float *restrict col,
                         int64_t r0, int64_t nr)
{
    const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
    const int64_t OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->kernel[0], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t SD = p->stride[0], SH = p->stride[1], SW = p->stride[2];
    const int64_t DD = p->dilation[0], DH = p->dilation[1], DW = p->dilation[2];
    const int64_t PD = p->pad[0], PH = p->pad[1], PW = p->pad[2];
    const int64_t ncols = nr * OW;
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
                    row += ncols;
                }
    }
}

/* Chunks of a group's output channels: how many, how wide, the last one's width. */
static void channel_chunks(const RtConvParams *p, int64_t cout_g, int64_t *n, int64_t *width, int64_t *last)
{
    *n = p->c_split > 1 && p->c_chunk > 0 ? p->c_split : 1;
    *width = *n > 1 ? p->c_chunk : cout_g;
    *last = cout_g - (*n - 1) * *width;
}

/* Items [begin, end) of (image, group, row block, channel chunk), chunk fastest: a task's items of
 * one block share its im2col columns. Each GEMM call site gets constant sizes (full or last block,
 * full or last chunk), so the builtin GEMM compiles only the micro-kernels it needs. */
static void conv_gemm_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL;
    float *y = bufs[2 + p->has_bias];
    float *col = bufs[3 + p->has_bias];
    if (p->groups <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int64_t K = cin_g * kvol;
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2];
    const int64_t out_vol = p->out[0] * p->out[1] * p->out[2];
    const int64_t rows = p->out[0] * p->out[1], OW = p->out[2];
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    const int64_t nblk = (rows + rpb - 1) / rpb;
    const int64_t last = rows > 0 ? rows - (nblk - 1) * rpb : rpb; /* rows of the last block */
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    float *gemm_work = col + (K * rpb * OW + 15) / 16 * 16; /* after the column block */
    int64_t have = -1; /* the (image, group, block) whose columns are in col */
    for (int64_t it = begin; it < end; it++) {
        int64_t c = it % cs, ngb = it / cs, blk = ngb % nblk, g = ngb / nblk % p->groups, n = ngb / nblk / p->groups;
        int64_t r0 = blk * rpb, nr = blk == nblk - 1 ? last : rpb;
        const float *wg = w + (g * cout_g + c * cc) * K;
        float *yg = y + (n * p->c_out + g * cout_g + c * cc) * out_vol + r0 * OW;
        if (ngb != have) {
            im2col_block(p, cin_g, x + (n * p->c_in + g * cin_g) * in_vol, col, r0, nr);
            have = ngb;
        }
        const bool full_c = c < cs - 1;
        if (bias)
            fill_rows(yg, full_c ? cc : last_c, nr * OW, out_vol, bias + g * cout_g + c * cc);
        const float beta = bias ? 1.0f : 0.0f;
        if (nr == rpb && full_c)
            rt_gemm_f32(0, 0, cc, rpb * OW, K, 1.0f, wg, K, col, rpb * OW, beta, yg, out_vol, p->use_blas, gemm_work);
        else if (nr == rpb)
            rt_gemm_f32(0, 0, last_c, rpb * OW, K, 1.0f, wg, K, col, rpb * OW, beta, yg, out_vol, p->use_blas, gemm_work);
        else if (full_c)
            rt_gemm_f32(0, 0, cc, last * OW, K, 1.0f, wg, K, col, last * OW, beta, yg, out_vol, p->use_blas, gemm_work);
        else
            rt_gemm_f32(0, 0, last_c, last * OW, K, 1.0f, wg, K, col, last * OW, beta, yg, out_vol, p->use_blas,
                        gemm_work);
    }
}

static int64_t conv_gemm_n_items(const RtConvParams *p)
{
    const int64_t rows = p->out[0] * p->out[1], rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    return p->batch * p->groups * ((rows + rpb - 1) / rpb) * (p->c_split > 1 ? p->c_split : 1);
}

RT_KERNEL(rt_conv_gemm_f32) { conv_gemm_items(params_, bufs, 0, conv_gemm_n_items(params_)); }
RT_RANGE_KERNEL(rt_conv_gemm_f32_range) { conv_gemm_items(params_, bufs, begin, end); }

/* Items [begin, end) of (image, group, channel chunk). */
static void conv_pointwise_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL;
    float *y = bufs[2 + p->has_bias];
    float *gemm_work = bufs[3 + p->has_bias];
    if (p->groups <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t vol = p->out[0] * p->out[1] * p->out[2];
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    for (int64_t it = begin; it < end; it++) {
        int64_t c = it % cs, g = it / cs % p->groups, n = it / cs / p->groups;
        const float *xg = x + (n * p->c_in + g * cin_g) * vol, *wg = w + (g * cout_g + c * cc) * cin_g;
        float *yg = y + (n * p->c_out + g * cout_g + c * cc) * vol;
        const bool full_c = c < cs - 1;
        if (bias)
            fill_rows(yg, full_c ? cc : last_c, vol, vol, bias + g * cout_g + c * cc);
        if (full_c)
            rt_gemm_f32(0, 0, cc, vol, cin_g, 1.0f, wg, cin_g, xg, vol, bias ? 1.0f : 0.0f, yg, vol, p->use_blas,
                        gemm_work);
        else
            rt_gemm_f32(0, 0, last_c, vol, cin_g, 1.0f, wg, cin_g, xg, vol, bias ? 1.0f : 0.0f, yg, vol, p->use_blas,
                        gemm_work);
    }
}

RT_KERNEL(rt_conv_pointwise_f32)
{
    const RtConvParams *p = params_;
    conv_pointwise_items(p, bufs, 0, p->batch * p->groups * (p->c_split > 1 ? p->c_split : 1));
}
RT_RANGE_KERNEL(rt_conv_pointwise_f32_range) { conv_pointwise_items(params_, bufs, begin, end); }

/* --- depthwise (one input channel per group), at most 2 spatial dims --- */

/* y[ow] += sum over kw of w[kw] * xr[ow*S + kw*D], for ow in [lo, hi): one kernel row's taps.
 * The output width is the innermost loop, so it vectorizes whatever the kernel size; the common
 * widths have their taps written out (the kernel bitcode is built with loop unrolling off, so a
 * tap loop would stay a loop around every output element). */
static void dw_taps(const float *restrict xr, const float *restrict w, float *restrict y, int64_t lo, int64_t hi,
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

/* One output whose window may reach into the padding; taps outside the input are skipped. */
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
        for (int64_t ow = ow_lo; ow < ow_hi; ow++)
            yr[ow] = b;
        for (int64_t kh = 0; kh < KH; kh++) {
            int64_t ih = ih0 + kh * DH;
            if (ih >= 0 && ih < IH)
                dw_taps(x + ih * IW - PW, w + kh * KW, yr, ow_lo, ow_hi, KW, SW, DW);
        }
        for (int64_t ow = 0; ow < ow_lo; ow++)
            yr[ow] = dw_point(x, w, b, ih0, ow * SW - PW, IH, IW, KH, KW, DH, DW);
        for (int64_t ow = ow_hi; ow < OW; ow++)
            yr[ow] = dw_point(x, w, b, ih0, ow * SW - PW, IH, IW, KH, KW, DH, DW);
    }
}

/* Items [begin, end) of (image, output channel). */
static void conv_depthwise_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL;
    float *y = bufs[2 + p->has_bias];
    if (p->groups <= 0 || p->c_out <= 0)
        return;
    const int64_t mult = p->c_out / p->groups;
    const int64_t in_vol = p->in[1] * p->in[2], out_vol = p->out[1] * p->out[2];
    const int64_t kvol = p->kernel[1] * p->kernel[2];
    for (int64_t it = begin; it < end; it++) {
        int64_t n = it / p->c_out, oc = it % p->c_out, ic = mult > 0 ? oc / mult : 0;
        dw_plane(p, x + (n * p->c_in + ic) * in_vol, w + oc * kvol, bias ? bias[oc] : 0.0f,
                 y + (n * p->c_out + oc) * out_vol);
    }
}

RT_KERNEL(rt_conv_depthwise_f32)
{
    const RtConvParams *p = params_;
    conv_depthwise_items(p, bufs, 0, p->batch * p->c_out);
}
RT_RANGE_KERNEL(rt_conv_depthwise_f32_range) { conv_depthwise_items(params_, bufs, begin, end); }

/* --- transposed convolution: col = W_g^T * X_g, then scatter-add into y --- */

/* Adds the column block for input rows [r0, r0+nr) of one group into y (the group's first output
 * channel). col has cout_g * kvol rows of nr*IW. */
static void col2im_block(const RtConvParams *p, int64_t cout_g, const float *restrict col, float *restrict y,
                         int64_t r0, int64_t nr)
{
    const int64_t IH = p->in[1], IW = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->kernel[0], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t SD = p->stride[0], SH = p->stride[1], SW = p->stride[2];
    const int64_t DD = p->dilation[0], DH = p->dilation[1], DW = p->dilation[2];
    const int64_t PD = p->pad[0], PH = p->pad[1], PW = p->pad[2];
    const int64_t ncols = nr * IW;
    const float *row = col;
    for (int64_t oc = 0; oc < cout_g; oc++) {
        float *yc = y + oc * OD * OH * OW;
        for (int64_t kd = 0; kd < KD; kd++)
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                    int64_t lo, hi;
                    rt_tap_range(IW, OW, SW, PW, kw * DW, &lo, &hi);
                    for (int64_t r = r0; r < r0 + nr; r++) {
                        int64_t id = IH > 0 ? r / IH : 0, ih = r - id * IH;
                        int64_t od = id * SD - PD + kd * DD, oh = ih * SH - PH + kh * DH;
                        if (od < 0 || od >= OD || oh < 0 || oh >= OH)
                            continue;
                        float *dst = yc + (od * OH + oh) * OW - PW + kw * DW;
                        const float *src = row + (r - r0) * IW;
                        for (int64_t iw = lo; iw < hi; iw++)
                            dst[iw * SW] += src[iw];
                    }
                    row += ncols;
                }
    }
}

/* Items [begin, end) of (image, group): each writes its own slice of y. */
static void conv_transpose_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL;
    float *y = bufs[2 + p->has_bias];
    float *col = bufs[3 + p->has_bias];
    if (p->groups <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int64_t M = cout_g * kvol;
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2];
    const int64_t out_vol = p->out[0] * p->out[1] * p->out[2];
    const int64_t rows = p->in[0] * p->in[1], IW = p->in[2];
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    const int64_t last = rows > 0 ? rows - (rows - 1) / rpb * rpb : rpb; /* rows of the last block */
    float *gemm_work = col + (M * rpb * IW + 15) / 16 * 16; /* after the column block */
    for (int64_t it = begin; it < end; it++) {
        const int64_t n = it / p->groups, g = it % p->groups;
        const float *xg = x + (n * p->c_in + g * cin_g) * in_vol;
        float *yg = y + (n * p->c_out + g * cout_g) * out_vol;
        fill_rows(yg, cout_g, out_vol, out_vol, bias ? bias + g * cout_g : NULL);
        for (int64_t r0 = 0; r0 < rows; r0 += rpb) {
            int64_t nr = rows - r0 < rpb ? rows - r0 : rpb;
            if (nr == rpb) /* a full block or the last one: each GEMM call gets constant sizes */
                rt_gemm_f32(1, 0, M, rpb * IW, cin_g, 1.0f, w + g * cin_g * M, M, xg + r0 * IW, in_vol, 0.0f,
                            col, rpb * IW, p->use_blas, gemm_work);
            else
                rt_gemm_f32(1, 0, M, last * IW, cin_g, 1.0f, w + g * cin_g * M, M, xg + r0 * IW, in_vol, 0.0f,
                            col, last * IW, p->use_blas, gemm_work);
            col2im_block(p, cout_g, col, yg, r0, nr);
        }
    }
}

RT_KERNEL(rt_conv_transpose_f32)
{
    const RtConvParams *p = params_;
    conv_transpose_items(p, bufs, 0, p->batch * p->groups);
}
RT_RANGE_KERNEL(rt_conv_transpose_f32_range) { conv_transpose_items(params_, bufs, begin, end); }

/* --- gradients (params in the forward orientation: in = x, out = dy) --- */

RT_KERNEL(rt_conv_grad_input_pointwise_f32)
{
    const RtConvParams *p = params_;
    const float *dy = bufs[0], *w = bufs[1];
    float *dx = bufs[2], *gemm_work = bufs[3];
    if (p->groups <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t vol = p->in[0] * p->in[1] * p->in[2];
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t g = 0; g < p->groups; g++)
            rt_gemm_f32(1, 0, cin_g, vol, cout_g, 1.0f, w + g * cout_g * cin_g, cin_g,
                        dy + (n * p->c_out + g * cout_g) * vol, vol, 0.0f, dx + (n * p->c_in + g * cin_g) * vol, vol,
                        p->use_blas, gemm_work);
}

/* dst[o*S] += w * src[o] for o in [lo, hi): one tap of one dy row into a dx row. */
static void scatter_tap(float *restrict dst, const float *restrict src, float w, int64_t lo, int64_t hi, int64_t S)
{
    for (int64_t o = lo; o < hi; o++)
        dst[o * S] += w * src[o];
}

/* Widest kernel row the stride-1 path flips on the stack. */
#define DW_MAX_KW 16

/* dx row += the taps of one kernel row from one dy row. With stride 1 along the width this is a
 * correlation with the flipped taps, so dw_taps gathers all of them in one vectorized pass over
 * the columns whose taps all land in dy (the few others are checked one by one); otherwise (or for
 * a kernel row too wide to flip on the stack) each tap is scattered on its own, a strided store
 * (splitting dx rows by phase to make it contiguous measured slower). `drow` is the dx row, `src`
 * the dy row. */
static void dw_grad_input_row(const RtConvParams *p, const float *restrict src, const float *restrict wk,
                              float *restrict drow)
{
    const int64_t IW = p->in[2], OW = p->out[2], KW = p->kernel[2], S = p->stride[2], D = p->dilation[2];
    const int64_t P = p->pad[2];
    if (S == 1 && KW <= DW_MAX_KW) {
        float wf[DW_MAX_KW];
        for (int64_t k = 0; k < KW; k++)
            wf[k] = wk[KW - 1 - k];
        int64_t lo = rt_clamp64((KW - 1) * D - P, 0, IW), hi = rt_clamp64(OW - P, lo, IW);
        dw_taps(src + P - (KW - 1) * D, wf, drow, lo, hi, KW, 1, D);
        for (int64_t iw = 0; iw < IW; iw++) {
            if (iw == lo && lo < hi)
                iw = hi;
            if (iw >= IW)
                break;
            float acc = 0.0f;
            for (int64_t k = 0; k < KW; k++) {
                int64_t o = iw + P - k * D;
                if (o >= 0 && o < OW)
                    acc += wk[k] * src[o];
            }
            drow[iw] += acc;
        }
        return;
    }
    for (int64_t kw = 0; kw < KW; kw++) {
        int64_t lo, hi;
        rt_tap_range(OW, IW, S, P, kw * D, &lo, &hi);
        scatter_tap(drow - P + kw * D, src, wk[kw], lo, hi, S);
    }
}

/* dx of one input channel from the mult dy channels that read it. */
static void dw_grad_input_plane(const RtConvParams *p, const float *restrict dy, const float *restrict w, int64_t mult,
                                float *restrict dx)
{
    const int64_t IH = p->in[1], IW = p->in[2], OH = p->out[1], OW = p->out[2];
    const int64_t KH = p->kernel[1], KW = p->kernel[2];
    const int64_t in_vol = p->in[0] * IH * IW, out_vol = p->out[0] * OH * OW;
    const int64_t kvol = p->kernel[0] * KH * KW;
    for (int64_t i = 0; i < in_vol; i++)
        dx[i] = 0.0f;
    for (int64_t m = 0; m < mult; m++)
        for (int64_t od = 0; od < p->out[0]; od++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
                    const int64_t id = od * p->stride[0] - p->pad[0] + kd * p->dilation[0];
                    if (id < 0 || id >= p->in[0])
                        continue;
                    for (int64_t kh = 0; kh < KH; kh++) {
                        const int64_t ih = oh * p->stride[1] - p->pad[1] + kh * p->dilation[1];
                        if (ih >= 0 && ih < IH)
                            dw_grad_input_row(p, dy + m * out_vol + (od * OH + oh) * OW,
                                              w + m * kvol + (kd * KH + kh) * KW, dx + (id * IH + ih) * IW);
                    }
                }
}

/* Columns per phase when a row of n is split by stride S (phase f holds columns f, f+S, ...). */
static int64_t phase_len(int64_t n, int64_t S) { return S > 0 ? (n + S - 1) / S : n; }

RT_KERNEL(rt_conv_grad_input_depthwise_f32)
{
    const RtConvParams *p = params_;
    const float *dy = bufs[0], *w = bufs[1];
    float *dx = bufs[2];
    if (p->groups <= 0)
        return;
    const int64_t mult = p->c_out / p->groups;
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2], out_vol = p->out[0] * p->out[1] * p->out[2];
    const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t ic = 0; ic < p->c_in; ic++) {
            const float *dyc = dy + (n * p->c_out + ic * mult) * out_vol, *wc = w + ic * mult * kvol;
            float *dxc = dx + (n * p->c_in + ic) * in_vol;
            dw_grad_input_plane(p, dyc, wc, mult, dxc);
        }
}

/* Taps whose lane accumulators fit on the stack; bigger kernels reduce every dot product. */
#define DW_MAX_TAPS 64

/* acc[j] += a[o] * b[o] for o in [lo, hi), o = j mod 8 within full blocks of eight (the
 * remainder goes to lane 0): the lanes are summed once per channel, not once per row. */
static void dot_lanes(const float *restrict a, const float *restrict b, int64_t lo, int64_t hi, float *restrict acc)
{
    int64_t o = lo;
    for (; o + 8 <= hi; o += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += a[o + j] * b[o + j];
    for (; o < hi; o++)
        acc[0] += a[o] * b[o];
}

/* Sum over o in [lo, hi) of a[o] * b[o], in eight lanes so that it vectorizes. */
static float dot(const float *restrict a, const float *restrict b, int64_t lo, int64_t hi)
{
    float acc[8] = {0};
    dot_lanes(a, b, lo, hi, acc);
    float s = 0.0f;
    for (int j = 0; j < 8; j++)
        s += acc[j];
    return s;
}

/* x's channel plane with every row split by the width stride S into phases (zeros past the row's
 * end): xp[row * S * J + f * J + j] = x[row * IW + j * S + f]. A tap's strided reads of a row
 * become contiguous reads of one phase. */
static void split_phases(const float *restrict x, float *restrict xp, int64_t rows, int64_t IW, int64_t S)
{
    const int64_t J = phase_len(IW, S);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t f = 0; f < S; f++)
            for (int64_t j = 0; j < J; j++)
                xp[(r * S + f) * J + j] = j * S + f < IW ? x[r * IW + j * S + f] : 0.0f;
}

/* Operands x, dy, dw, and a workspace of in[0] * in[1] * S * phase_len(IW, S) floats when the
 * width stride S > 1. */
RT_KERNEL(rt_conv_grad_weight_depthwise_f32)
{
    const RtConvParams *p = params_;
    const float *x = bufs[0], *dy = bufs[1];
    float *dw = bufs[2];
    if (p->groups <= 0)
        return;
    const int64_t mult = p->c_out / p->groups;
    const int64_t IH = p->in[1], IW = p->in[2], OH = p->out[1], OW = p->out[2];
    const int64_t KH = p->kernel[1], KW = p->kernel[2];
    const int64_t in_vol = p->in[0] * IH * IW, out_vol = p->out[0] * OH * OW;
    const int64_t kvol = p->kernel[0] * KH * KW;
    const int64_t S = p->stride[2], D = p->dilation[2], P = p->pad[2];
    const bool phased = S > 1;
    const int64_t J = phase_len(IW, S), L = phased ? S * J : IW; /* floats per (phased) row */
    float *xp = phased ? bufs[3] : NULL;
    const bool lanes = kvol <= DW_MAX_TAPS;
    float acc[DW_MAX_TAPS][8];
    for (int64_t i = 0; i < p->c_out * kvol; i++)
        dw[i] = 0.0f;
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t oc = 0; oc < p->c_out; oc++) {
            const float *xc = x + (n * p->c_in + (mult > 0 ? oc / mult : 0)) * in_vol;
            if (phased && (mult <= 0 || oc % mult == 0))
                split_phases(xc, xp, p->in[0] * IH, IW, S);
            const float *rows = phased ? xp : xc;
            const float *dyc = dy + (n * p->c_out + oc) * out_vol;
            float *dwc = dw + oc * kvol;
            if (lanes)
                for (int64_t k = 0; k < kvol; k++)
                    for (int j = 0; j < 8; j++)
                        acc[k][j] = 0.0f;
            for (int64_t od = 0; od < p->out[0]; od++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
                        const int64_t id = od * p->stride[0] - p->pad[0] + kd * p->dilation[0];
                        if (id < 0 || id >= p->in[0])
                            continue;
                        for (int64_t kh = 0; kh < KH; kh++) {
                            const int64_t ih = oh * p->stride[1] - p->pad[1] + kh * p->dilation[1];
                            if (ih < 0 || ih >= IH)
                                continue;
                            const float *src = dyc + (od * OH + oh) * OW;
                            const float *row = rows + (id * IH + ih) * L;
                            const int64_t k0 = (kd * KH + kh) * KW;
                            for (int64_t kw = 0; kw < KW; kw++) {
                                int64_t lo, hi;
                                rt_tap_range(OW, IW, S, P, kw * D, &lo, &hi);
                                /* column o*S + kw*D - P of the row: phase f, index o + c */
                                const int64_t off = kw * D - P, c = phased ? rt_floor_div(off, S) : off;
                                const float *b = phased ? row + (off - c * S) * J + c : row + off;
                                if (lanes)
                                    dot_lanes(src, b, lo, hi, acc[k0 + kw]);
                                else
                                    dwc[k0 + kw] += dot(src, b, lo, hi);
                            }
                        }
                    }
            if (lanes)
                for (int64_t k = 0; k < kvol; k++) {
                    float sum = 0.0f;
                    for (int j = 0; j < 8; j++)
                        sum += acc[k][j];
                    dwc[k] += sum;
                }
        }
}

/* Items [begin, end) of (group, output-channel chunk): each sums its rows of dw over every image. */
static void conv_grad_weight_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *dy = bufs[1];
    float *dw = bufs[2], *col = bufs[3];
    if (p->groups <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int64_t K = cin_g * kvol;
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2];
    const int64_t out_vol = p->out[0] * p->out[1] * p->out[2];
    const int64_t rows = p->out[0] * p->out[1], OW = p->out[2];
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    bool pointwise = kvol == 1;
    for (int i = 0; i < 3; i++)
        pointwise = pointwise && p->stride[i] == 1 && p->pad[i] == 0 && p->in[i] == p->out[i];
    /* the GEMM's workspace follows the column block (none when pointwise) */
    float *gemm_work = pointwise ? col : col + (K * rpb * OW + 15) / 16 * 16;
    const int64_t last = rows > 0 ? rows - (rows - 1) / rpb * rpb : rpb; /* rows of the last block */
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    for (int64_t it = begin; it < end; it++) {
        const int64_t g = it / cs, c = it % cs, m = c < cs - 1 ? cc : last_c;
        float *dwg = dw + (g * cout_g + c * cc) * K;
        for (int64_t i = 0; i < m * K; i++)
            dwg[i] = 0.0f;
        for (int64_t n = 0; n < p->batch; n++) {
            const float *xg = x + (n * p->c_in + g * cin_g) * in_vol;
            const float *dyg = dy + (n * p->c_out + g * cout_g + c * cc) * out_vol;
            if (pointwise) { /* the input already is the column matrix */
                if (c < cs - 1)
                    rt_gemm_f32(0, 1, cc, K, out_vol, 1.0f, dyg, out_vol, xg, in_vol, 1.0f, dwg, K, p->use_blas,
                                gemm_work);
                else
                    rt_gemm_f32(0, 1, last_c, K, out_vol, 1.0f, dyg, out_vol, xg, in_vol, 1.0f, dwg, K, p->use_blas,
                                gemm_work);
                continue;
            }
            for (int64_t r0 = 0; r0 < rows; r0 += rpb) {
                int64_t nr = rows - r0 < rpb ? rows - r0 : rpb;
                im2col_block(p, cin_g, xg, col, r0, nr);
                /* full or last block, full or last chunk: each GEMM call gets constant sizes */
                if (nr == rpb && c < cs - 1)
                    rt_gemm_f32(0, 1, cc, K, rpb * OW, 1.0f, dyg + r0 * OW, out_vol, col, rpb * OW, 1.0f, dwg, K,
                                p->use_blas, gemm_work);
                else if (nr == rpb)
                    rt_gemm_f32(0, 1, last_c, K, rpb * OW, 1.0f, dyg + r0 * OW, out_vol, col, rpb * OW, 1.0f, dwg, K,
                                p->use_blas, gemm_work);
                else if (c < cs - 1)
                    rt_gemm_f32(0, 1, cc, K, last * OW, 1.0f, dyg + r0 * OW, out_vol, col, last * OW, 1.0f, dwg, K,
                                p->use_blas, gemm_work);
                else
                    rt_gemm_f32(0, 1, last_c, K, last * OW, 1.0f, dyg + r0 * OW, out_vol, col, last * OW, 1.0f, dwg,
                                K, p->use_blas, gemm_work);
            }
        }
    }
}

RT_KERNEL(rt_conv_grad_weight_f32)
{
    const RtConvParams *p = params_;
    conv_grad_weight_items(p, bufs, 0, p->groups * (p->c_split > 1 ? p->c_split : 1));
}
RT_RANGE_KERNEL(rt_conv_grad_weight_f32_range) { conv_grad_weight_items(params_, bufs, begin, end); }
