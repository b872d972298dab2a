/* runtime/kernels/conv_grad.c — convolution gradients (params in the forward orientation: in = x,
 * out = dy): the input gradient (1x1 as one GEMM, depthwise by direct loops, otherwise the
 * transposed convolution of conv.c) and the weight gradient (im2col of x against dy, or depthwise
 * dot products). */
#include <stdbool.h>

#include "runtime/kernels/conv_internal.h"
#include "runtime/kernels/gemm.h"

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

/* Planes [begin, end) of dx, plane = image * c_in + input channel: each one written whole by its
 * own item, so the threads share them out. */
static void grad_input_dw_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *dy = bufs[0], *w = bufs[1];
    float *dx = bufs[2];
    if (p->groups <= 0 || p->c_in <= 0)
        return;
    const int64_t mult = p->c_out / p->groups;
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2], out_vol = p->out[0] * p->out[1] * p->out[2];
    const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
    for (int64_t plane = begin; plane < end; plane++) {
        const int64_t n = plane / p->c_in, ic = plane % p->c_in;
        const float *dyc = dy + (n * p->c_out + ic * mult) * out_vol, *wc = w + ic * mult * kvol;
        dw_grad_input_plane(p, dyc, wc, mult, dx + plane * in_vol);
    }
}

RT_KERNEL(rt_conv_grad_input_depthwise_f32)
{
    const RtConvParams *p = params_;
    grad_input_dw_items(p, bufs, 0, p->batch * p->c_in);
}
RT_RANGE_KERNEL(rt_conv_grad_input_depthwise_f32_range) { grad_input_dw_items(params_, bufs, begin, end); }

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

/* Rows [begin, end) of dw (output channels), each summed over every image by its own item in a
 * fixed order, so the threads share them out and the bits do not depend on them. Operands x, dy,
 * dw, and a workspace (per thread) of in[0] * in[1] * S * phase_len(IW, S) floats when the width
 * stride S > 1. */
static void grad_weight_dw_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
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
    for (int64_t oc = begin; oc < end; oc++) {
        float *dwc = dw + oc * kvol;
        for (int64_t k = 0; k < kvol; k++)
            dwc[k] = 0.0f;
        if (lanes)
            for (int64_t k = 0; k < kvol; k++)
                for (int j = 0; j < 8; j++)
                    acc[k][j] = 0.0f;
        for (int64_t n = 0; n < p->batch; n++) {
            const float *xc = x + (n * p->c_in + (mult > 0 ? oc / mult : 0)) * in_vol;
            if (phased)
                split_phases(xc, xp, p->in[0] * IH, IW, S);
            const float *rows = phased ? xp : xc;
            const float *dyc = dy + (n * p->c_out + oc) * out_vol;
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

RT_KERNEL(rt_conv_grad_weight_depthwise_f32)
{
    const RtConvParams *p = params_;
    grad_weight_dw_items(p, bufs, 0, p->c_out);
}
RT_RANGE_KERNEL(rt_conv_grad_weight_depthwise_f32_range) { grad_weight_dw_items(params_, bufs, begin, end); }

/* dw rows [c0, c0 + m) of group g += over images in blocks of images_per_block: the columns of the
 * block's images side by side, dy's rows gathered the same way, one GEMM whose inner dimension is
 * every pixel of the block. Small images (7x7, 4x4) otherwise make a GEMM per image with an inner
 * dimension of 49 or 16 that reads and writes all of dw each time. */
static void grad_weight_images(const RtConvParams *p, const float *x, const float *dy, float *dwg, float *col,
                               int64_t g, int64_t c0, int64_t m, bool full_c, int64_t n_begin, int64_t n_end)
{
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t K = cin_g * p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2], P = p->out[0] * p->out[1] * p->out[2];
    const int64_t rows = p->out[0] * p->out[1], ipb = p->images_per_block, N = ipb * P;
    const int64_t last_i = p->batch - (p->batch - 1) / ipb * ipb;
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    float *dyt = col + (K * N + 15) / 16 * 16, *gemm_work = dyt + (cout_g * N + 15) / 16 * 16;
    for (int64_t n0 = n_begin; n0 < n_end; n0 += ipb) { /* n_begin: a whole block's first image */
        const int64_t ni = p->batch - n0 < ipb ? p->batch - n0 : ipb;
        for (int64_t i = 0; i < ni; i++) {
            im2col_block(p, cin_g, x + ((n0 + i) * p->c_in + g * cin_g) * in_vol, col + i * P, 0, rows, N);
            for (int64_t r = 0; r < m; r++)
                memcpy(dyt + r * N + i * P, dy + ((n0 + i) * p->c_out + g * cout_g + c0 + r) * P,
                       (size_t)P * sizeof(float));
        }
        if (ni == ipb && full_c) /* constant sizes per call site */
            rt_gemm_f32(0, 1, cc, K, N, 1.0f, dyt, N, col, N, 1.0f, dwg, K, p->use_blas, gemm_work);
        else if (ni == ipb)
            rt_gemm_f32(0, 1, last_c, K, N, 1.0f, dyt, N, col, N, 1.0f, dwg, K, p->use_blas, gemm_work);
        else if (full_c)
            rt_gemm_f32(0, 1, cc, K, last_i * P, 1.0f, dyt, N, col, N, 1.0f, dwg, K, p->use_blas, gemm_work);
        else
            rt_gemm_f32(0, 1, last_c, K, last_i * P, 1.0f, dyt, N, col, N, 1.0f, dwg, K, p->use_blas, gemm_work);
    }
}

/* Items [begin, end) of (slice of images, group, output-channel chunk): each sums its rows of dw over
 * its slice's images (whole blocks of images_per_block), into dw or the slice's partial sums. */
static void conv_grad_weight_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *dy = bufs[1];
    float *dw = bufs[2], *col = bufs[3];
    float *partial = p->slices > 1 ? bufs[4] : NULL;
    const int64_t S = p->slices > 1 ? p->slices : 1, ipb = p->images_per_block > 1 ? p->images_per_block : 1;
    const int64_t nib = (p->batch + ipb - 1) / ipb;
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
        const int64_t c = it % cs, g = it / cs % p->groups, s = it / cs / p->groups, m = c < cs - 1 ? cc : last_c;
        const int64_t n_begin = s * nib / S * ipb, n_stop = (s + 1) * nib / S * ipb;
        const int64_t n_end = n_stop < p->batch ? n_stop : p->batch;
        float *dwg = (partial ? partial + s * p->c_out * K : dw) + (g * cout_g + c * cc) * K;
        for (int64_t i = 0; i < m * K; i++)
            dwg[i] = 0.0f;
        if (!pointwise && p->images_per_block > 1) {
            grad_weight_images(p, x, dy, dwg, col, g, c * cc, m, c < cs - 1, n_begin, n_end);
            continue;
        }
        for (int64_t n = n_begin; n < n_end; n++) {
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
                im2col_block(p, cin_g, xg, col, r0, nr, nr * OW);
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
    const int64_t slices = p->slices > 1 ? p->slices : 1;
    conv_grad_weight_items(p, bufs, 0, slices * p->groups * (p->c_split > 1 ? p->c_split : 1));
}
RT_RANGE_KERNEL(rt_conv_grad_weight_f32_range) { conv_grad_weight_items(params_, bufs, begin, end); }
