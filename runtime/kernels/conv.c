/* runtime/kernels/conv.c — convolution kernels (see conv.h for which one codegen picks).
 * Every size comes from the params struct, so once codegen inlines a kernel with constant params
 * its loops have constant bounds. The innermost loop is always over the output (or input) width,
 * which vectorizes; the kernel bitcode is built without loop unrolling, so small tap loops are
 * written out by hand where they matter (depthwise). Borders (windows that reach into the
 * padding) take a checked scalar path. Sizes were validated by shape inference; divisions still
 * guard against zero so that no params struct can make a kernel trap. */
#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_internal.h"
#include "runtime/kernels/conv_lanes.h"

#include <stdbool.h>

#include "runtime/kernels/gemm.h"
#include "runtime/kernels/window.h"

/* --- im2col + GEMM --- */

bool rt_conv_pack_weights(const void *params, const void *w, void *dst)
{
    const RtConvParams *p = params;
    if (p->groups <= 0)
        return true;
    const int64_t cout_g = p->c_out / p->groups, k = p->c_in / p->groups * p->kernel[0] * p->kernel[1] * p->kernel[2];
    for (int64_t g = 0; g < p->groups; g++) {
        const float *wg = (const float *)w + g * cout_g * k;
        if (p->packed_w == RT_CONV_PACKED_T) { /* slivers from each chunk's first channel */
            float *t = (float *)dst + g * cout_g * k;
            const int64_t chunk = p->c_split > 1 && p->c_chunk > 0 ? p->c_chunk : cout_g;
            for (int64_t c0 = 0; c0 < cout_g; c0 += chunk) {
                const int64_t end = c0 + chunk < cout_g ? c0 + chunk : cout_g;
                for (int64_t s0 = c0; s0 < end; s0 += RT_GEMM_NR) {
                    const int64_t w = end - s0 < RT_GEMM_NR ? end - s0 : RT_GEMM_NR;
                    for (int64_t j = 0; j < k; j++)
                        for (int64_t c = 0; c < w; c++)
                            t[s0 * k + j * w + c] = wg[(s0 + c) * k + j];
                }
            }
        } else
            rt_gemm_pack_a(wg, cout_g, k, (float *)dst + g * rt_gemm_packed_a_floats(cout_g, k));
    }
    return true;
}

/* C = the weights of channels [c0, c0 + m) of group g times B: from weights packed at compile time,
 * or through rt_gemm_f32. The sizes are constants at every call site of the callers. */
static inline void conv_gemm(const RtConvParams *p, const float *w, int64_t g, int64_t cout_g, int64_t c0, int64_t m,
                             int64_t n, int64_t k, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
                             float *work)
{
    if (p->packed_w)
        rt_gemm_f32_packed_a(m, n, k, w + g * rt_gemm_packed_a_floats(cout_g, k), c0, cout_g, b, ldb, beta, c, ldc,
                             work);
    else
        rt_gemm_f32(0, 0, m, n, k, 1.0f, w + (g * cout_g + c0) * k, k, b, ldb, beta, c, ldc, p->use_blas, work);
}

/* --- batch 1, few output pixels: C^T against weights packed transposed (RT_CONV_PACKED_T) --- */

/* ct (P x m) = the columns packed in pa times W^T's columns [c0, c0 + m) of group g (a chunk, its
 * slivers packed from c0), a sliver at a time; then y's m rows (ldy apart) = ct^T + bias (+ res, laid out as
 * y), clamped. */
static inline void conv_t_product(const RtConvParams *p, const float *wt, int64_t g, int64_t cout_g, int64_t c0,
                                  int64_t m, int64_t P, int64_t K, const float *pa, float *restrict ct,
                                  float *restrict yg, int64_t ldy, const float *bias, const float *res, float *work)
{
    const float *wg = wt + g * K * cout_g;
    int64_t s0 = 0;
    for (; s0 + RT_GEMM_NR <= m; s0 += RT_GEMM_NR)
        rt_gemm_f32_packed_a(P, RT_GEMM_NR, K, pa, 0, P, wg + (c0 + s0) * K, RT_GEMM_NR, 0.0f, ct + s0, m, work);
    if (s0 < m)
        rt_gemm_f32_packed_a(P, m - s0, K, pa, 0, P, wg + (c0 + s0) * K, m - s0, 0.0f, ct + s0, m, work);
    /* y's rows from ct's columns, 16 channels at a time through the register transpose of the lanes
     * kernels (ct's row of channels is their position; one channel at a time read ct m floats apart,
     * a scalar loop: ResNet-50's 7x7 layers of 2048 channels); the channels past the last 16 alone */
    const float *bc = bias ? bias + g * cout_g + c0 : NULL;
    int64_t r0 = 0;
    for (; r0 + 16 <= m; r0 += 16)
        lanes_out(p, ct + r0, 0, m, 16, ldy, P, P, bc ? bc + r0 : NULL, res ? res + r0 * ldy : NULL, yg + r0 * ldy);
    for (int64_t r = r0; r < m; r++) {
        const float add = bc ? bc[r] : 0.0f;
        for (int64_t j = 0; j < P; j++) {
            const float v = ct[j * m + r] + add + (res ? res[r * ldy + j] : 0.0f);
            yg[r * ldy + j] = p->has_clip ? clip_value(v, p->clip_min, p->clip_max) : v;
        }
    }
    act_rows(p, yg + r0 * ldy, m - r0, P, ldy); /* lanes_out's rows have theirs */
}

/* Items [begin, end) of (image, group, channel chunk): an image's columns (im2col of all its rows,
 * or x itself for 1x1) are packed as the GEMM's A once for all the chunks a task computes; the
 * weights, the operand read in place, were transposed at compile time. Without this the product
 * of each chunk packed the columns again and transposed its weights (a 7x7 layer of 512 channels:
 * 20% of its time). */
static void conv_t_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end, bool pointwise)
{
    const float *x = bufs[0], *wt = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    float *work = bufs[3 + p->has_bias + p->has_residual];
    if (p->groups <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t K = cin_g * p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2], P = p->out[0] * p->out[1] * p->out[2];
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    float *col = work;
    float *pa = col + (pointwise ? 0 : (K * P + 15) / 16 * 16);
    float *ct = pa + (rt_gemm_packed_a_floats(P, K) + 15) / 16 * 16;
    float *gemm_work = ct + (cc * P + 15) / 16 * 16;
    int64_t have = -1; /* the (image, group) whose columns are in pa */
    for (int64_t it = begin; it < end; it++) {
        const int64_t c = it % cs, ng = it / cs, g = ng % p->groups, n = ng / p->groups;
        if (ng != have) {
            const float *xg = x + (n * p->c_in + g * cin_g) * in_vol;
            if (!pointwise)
                im2col_block(p, cin_g, xg, col, 0, p->out[0] * p->out[1], P);
            rt_gemm_pack_a_trans(pointwise ? xg : col, P, P, K, pa);
            have = ng;
        }
        const int64_t at = (n * p->c_out + g * cout_g + c * cc) * P;
        if (c < cs - 1) /* constant sizes per call site */
            conv_t_product(p, wt, g, cout_g, c * cc, cc, P, K, pa, ct, y + at, P, bias, res ? res + at : NULL,
                           gemm_work);
        else
            conv_t_product(p, wt, g, cout_g, c * cc, last_c, P, K, pa, ct, y + at, P, bias, res ? res + at : NULL,
                           gemm_work);
    }
}

/* Items [begin, end) of (image, group, row block, channel chunk), chunk fastest: a task's items of
 * one block share its im2col columns. Each GEMM call site gets constant sizes (full or last block,
 * full or last chunk), so the builtin GEMM compiles only the micro-kernels it needs. */
static void conv_gemm_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    float *col = bufs[3 + p->has_bias + p->has_residual];
    if (p->groups <= 0)
        return;
    if (p->packed_w == RT_CONV_PACKED_T) {
        conv_t_items(p, bufs, begin, end, false);
        return;
    }
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
        float *yg = y + (n * p->c_out + g * cout_g + c * cc) * out_vol + r0 * OW;
        if (ngb != have) {
            im2col_block(p, cin_g, x + (n * p->c_in + g * cin_g) * in_vol, col, r0, nr, nr * OW);
            have = ngb;
        }
        const bool full_c = c < cs - 1;
        if (bias || res)
            fill_rows(yg, full_c ? cc : last_c, nr * OW, out_vol, bias ? bias + g * cout_g + c * cc : NULL,
                      res ? res + (yg - y) : NULL);
        const float beta = bias || res ? 1.0f : 0.0f;
        if (nr == rpb && full_c)
            conv_gemm(p, w, g, cout_g, c * cc, cc, rpb * OW, K, col, rpb * OW, beta, yg, out_vol, gemm_work);
        else if (nr == rpb)
            conv_gemm(p, w, g, cout_g, c * cc, last_c, rpb * OW, K, col, rpb * OW, beta, yg, out_vol, gemm_work);
        else if (full_c)
            conv_gemm(p, w, g, cout_g, c * cc, cc, last * OW, K, col, last * OW, beta, yg, out_vol, gemm_work);
        else
            conv_gemm(p, w, g, cout_g, c * cc, last_c, last * OW, K, col, last * OW, beta, yg, out_vol, gemm_work);
        clip_rows(p, yg, full_c ? cc : last_c, nr * OW, out_vol);
    }
}

/* Items [begin, end) of (block of images, group, channel chunk), images_per_block > 1: small
 * images (7x7, 4x4 output pixels) make GEMMs so narrow that the vectors of their last columns run
 * mostly empty, or that compute C^T and repack the weights for every image; the columns of several
 * images side by side make one wide GEMM, into a buffer that is then copied out, plus the bias. */
static void conv_gemm_images_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    float *col = bufs[3 + p->has_bias + p->has_residual];
    if (p->groups <= 0 || p->images_per_block <= 0)
        return;
    const int64_t ipb = p->images_per_block;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t K = cin_g * p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2];
    const int64_t P = p->out[0] * p->out[1] * p->out[2], rows = p->out[0] * p->out[1];
    const int64_t nib = (p->batch + ipb - 1) / ipb, last_i = p->batch - (nib - 1) * ipb;
    const int64_t N = ipb * P; /* the row stride of col and t */
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    float *t = col + (K * N + 15) / 16 * 16;               /* cc rows of N */
    float *gemm_work = t + (cc * N + 15) / 16 * 16;
    int64_t have = -1; /* the (image block, group) whose columns are in col */
    for (int64_t it = begin; it < end; it++) {
        const int64_t c = it % cs, ig = it / cs, g = ig % p->groups, b = ig / p->groups;
        const int64_t n0 = b * ipb, ni = b == nib - 1 ? last_i : ipb;
        if (ig != have) {
            for (int64_t i = 0; i < ni; i++)
                im2col_block(p, cin_g, x + ((n0 + i) * p->c_in + g * cin_g) * in_vol, col + i * P, 0, rows, N);
            have = ig;
        }
        const bool full_c = c < cs - 1, full_b = ni == ipb;
        const int64_t m = full_c ? cc : last_c;
        if (full_b && full_c) /* constant sizes per call site */
            conv_gemm(p, w, g, cout_g, c * cc, cc, N, K, col, N, 0.0f, t, N, gemm_work);
        else if (full_b)
            conv_gemm(p, w, g, cout_g, c * cc, last_c, N, K, col, N, 0.0f, t, N, gemm_work);
        else if (full_c)
            conv_gemm(p, w, g, cout_g, c * cc, cc, last_i * P, K, col, N, 0.0f, t, N, gemm_work);
        else
            conv_gemm(p, w, g, cout_g, c * cc, last_c, last_i * P, K, col, N, 0.0f, t, N, gemm_work);
        for (int64_t i = 0; i < ni; i++)
            for (int64_t r = 0; r < m; r++) {
                const int64_t oc = g * cout_g + c * cc + r;
                const float add = bias ? bias[oc] : 0.0f, *src = t + r * N + i * P;
                float *dst = y + ((n0 + i) * p->c_out + oc) * P;
                if (res) {
                    const float *rs = res + ((n0 + i) * p->c_out + oc) * P;
                    for (int64_t j = 0; j < P; j++)
                        dst[j] = p->has_clip ? clip_value(src[j] + add + rs[j], p->clip_min, p->clip_max)
                                             : src[j] + add + rs[j];
                } else if (p->has_clip)
                    for (int64_t j = 0; j < P; j++)
                        dst[j] = clip_value(src[j] + add, p->clip_min, p->clip_max);
                else
                    for (int64_t j = 0; j < P; j++)
                        dst[j] = src[j] + add;
                act_rows(p, dst, 1, P, P);
            }
    }
}

static int64_t conv_gemm_n_items(const RtConvParams *p)
{
    if (p->images_per_block > 1)
        return (p->batch + p->images_per_block - 1) / p->images_per_block * p->groups * (p->c_split > 1 ? p->c_split : 1);
    const int64_t rows = p->out[0] * p->out[1], rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    return p->batch * p->groups * ((rows + rpb - 1) / rpb) * (p->c_split > 1 ? p->c_split : 1);
}

RT_KERNEL(rt_conv_gemm_f32)
{
    const RtConvParams *p = params_;
    if (p->images_per_block > 1)
        conv_gemm_images_items(p, bufs, 0, conv_gemm_n_items(p));
    else
        conv_gemm_items(p, bufs, 0, conv_gemm_n_items(p));
}
RT_RANGE_KERNEL(rt_conv_gemm_f32_range)
{
    const RtConvParams *p = params_;
    if (p->images_per_block > 1)
        conv_gemm_images_items(p, bufs, begin, end);
    else
        conv_gemm_items(p, bufs, begin, end);
}

/* Items [begin, end) of (image, group, channel chunk, block of columns), block fastest: each
 * product followed by its epilogue while its block is in cache (rt_conv_pw_block_cols). */
static void conv_pointwise_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    float *gemm_work = bufs[3 + p->has_bias + p->has_residual];
    if (p->groups <= 0)
        return;
    if (p->packed_w == RT_CONV_PACKED_T) {
        conv_t_items(p, bufs, begin, end, true);
        return;
    }
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t vol = p->out[0] * p->out[1] * p->out[2];
    const int64_t blk = rt_conv_pw_block_cols(p), nb = rt_conv_pw_blocks(p), last = vol - (nb - 1) * blk;
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    for (int64_t it = begin; it < end; it++) {
        const int64_t b = it % nb, c = it / nb % cs, g = it / nb / cs % p->groups, n = it / nb / cs / p->groups;
        const int64_t j0 = b * blk, at = (n * p->c_out + g * cout_g + c * cc) * vol + j0;
        const float *xg = x + (n * p->c_in + g * cin_g) * vol + j0;
        const bool full_c = c < cs - 1, full_b = b < nb - 1;
        if (full_c && full_b) /* constant sizes per call site */
            conv_gemm(p, w, g, cout_g, c * cc, cc, blk, cin_g, xg, vol, 0.0f, y + at, vol, gemm_work);
        else if (full_c)
            conv_gemm(p, w, g, cout_g, c * cc, cc, last, cin_g, xg, vol, 0.0f, y + at, vol, gemm_work);
        else if (full_b)
            conv_gemm(p, w, g, cout_g, c * cc, last_c, blk, cin_g, xg, vol, 0.0f, y + at, vol, gemm_work);
        else
            conv_gemm(p, w, g, cout_g, c * cc, last_c, last, cin_g, xg, vol, 0.0f, y + at, vol, gemm_work);
        finish_rows(p, y + at, full_c ? cc : last_c, full_b ? blk : last, vol,
                    bias ? bias + g * cout_g + c * cc : NULL, res ? res + at : NULL);
    }
}

RT_KERNEL(rt_conv_pointwise_f32)
{
    const RtConvParams *p = params_;
    conv_pointwise_items(p, bufs, 0, p->batch * p->groups * (p->c_split > 1 ? p->c_split : 1) * rt_conv_pw_blocks(p));
}
RT_RANGE_KERNEL(rt_conv_pointwise_f32_range) { conv_pointwise_items(params_, bufs, begin, end); }

/* --- transposed convolution: col = W_g^T * X_g, then scatter-add into y --- */

/* Adds the column block for input rows [r0, r0+nr) of one group into y (the group's first output
 * channel). col has cout_g * kvol rows of nr*IW. */
static void col2im_block(const RtConvParams *p, int64_t cout_g, const float *restrict col, float *restrict y,
                         int64_t r0, int64_t nr, int64_t ld)
{
    const int64_t IH = p->in[1], IW = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->kernel[0], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t SD = p->stride[0], SH = p->stride[1], SW = p->stride[2];
    const int64_t DD = p->dilation[0], DH = p->dilation[1], DW = p->dilation[2];
    const int64_t PD = p->pad[0], PH = p->pad[1], PW = p->pad[2];
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
                    row += ld;
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
        fill_rows(yg, cout_g, out_vol, out_vol, bias ? bias + g * cout_g : NULL, NULL);
        for (int64_t r0 = 0; r0 < rows; r0 += rpb) {
            int64_t nr = rows - r0 < rpb ? rows - r0 : rpb;
            if (nr == rpb) /* a full block or the last one: each GEMM call gets constant sizes */
                rt_gemm_f32(1, 0, M, rpb * IW, cin_g, 1.0f, w + g * cin_g * M, M, xg + r0 * IW, in_vol, 0.0f,
                            col, rpb * IW, p->use_blas, gemm_work);
            else
                rt_gemm_f32(1, 0, M, last * IW, cin_g, 1.0f, w + g * cin_g * M, M, xg + r0 * IW, in_vol, 0.0f,
                            col, last * IW, p->use_blas, gemm_work);
            col2im_block(p, cout_g, col, yg, r0, nr, nr * IW);
        }
    }
}

/* Items [begin, end) of (block of images, group), images_per_block > 1: the inputs of several
 * small images side by side (7x7, 4x4: a GEMM per image would be narrow, or compute C^T and repack
 * the weights each time), one GEMM into column form, then col2im image by image. */
static void conv_transpose_images_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL;
    float *y = bufs[2 + p->has_bias];
    float *col = bufs[3 + p->has_bias];
    if (p->groups <= 0 || p->images_per_block <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t M = cout_g * p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int64_t P = p->in[0] * p->in[1] * p->in[2], rows = p->in[0] * p->in[1];
    const int64_t out_vol = p->out[0] * p->out[1] * p->out[2];
    const int64_t ipb = p->images_per_block, N = ipb * P;
    const int64_t nib = (p->batch + ipb - 1) / ipb, last_i = p->batch - (nib - 1) * ipb;
    float *xt = col + (M * N + 15) / 16 * 16, *gemm_work = xt + (cin_g * N + 15) / 16 * 16;
    for (int64_t it = begin; it < end; it++) {
        const int64_t g = it % p->groups, b = it / p->groups, n0 = b * ipb, ni = b == nib - 1 ? last_i : ipb;
        for (int64_t i = 0; i < ni; i++)
            for (int64_t ci = 0; ci < cin_g; ci++)
                memcpy(xt + ci * N + i * P, x + ((n0 + i) * p->c_in + g * cin_g + ci) * P, (size_t)P * sizeof(float));
        if (ni == ipb) /* constant sizes per call site */
            rt_gemm_f32(1, 0, M, N, cin_g, 1.0f, w + g * cin_g * M, M, xt, N, 0.0f, col, N, p->use_blas, gemm_work);
        else
            rt_gemm_f32(1, 0, M, last_i * P, cin_g, 1.0f, w + g * cin_g * M, M, xt, N, 0.0f, col, N, p->use_blas,
                        gemm_work);
        for (int64_t i = 0; i < ni; i++) {
            float *yg = y + ((n0 + i) * p->c_out + g * cout_g) * out_vol;
            fill_rows(yg, cout_g, out_vol, out_vol, bias ? bias + g * cout_g : NULL, NULL);
            col2im_block(p, cout_g, col + i * P, yg, 0, rows, N);
        }
    }
}

RT_KERNEL(rt_conv_transpose_f32)
{
    const RtConvParams *p = params_;
    if (p->images_per_block > 1)
        conv_transpose_images_items(p, bufs, 0, (p->batch + p->images_per_block - 1) / p->images_per_block * p->groups);
    else
        conv_transpose_items(p, bufs, 0, p->batch * p->groups);
}
RT_RANGE_KERNEL(rt_conv_transpose_f32_range)
{
    const RtConvParams *p = params_;
    if (p->images_per_block > 1)
        conv_transpose_images_items(p, bufs, begin, end);
    else
        conv_transpose_items(p, bufs, begin, end);
}
