/* runtime/kernels/conv_direct.c — 2-D convolution as a GEMM over shifted windows of the input
 * (rt_conv_direct_f32; the layout is described in conv.h). im2col writes every input pixel once
 * per tap (9 times for 3x3) and the GEMM reads it all back; here the input is copied once, padded
 * and split by stride phase, and the GEMM reads each tap's row where it lies in that copy. What it
 * costs instead: the columns that are no output pixel (plane[1] - OW per row, plane[0] - OH rows
 * per image), and one copy of the product into y, where the bias is added. */
#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_internal.h"
#include "runtime/kernels/conv_rows.h"

#include <stdbool.h>

#include "runtime/kernels/gemm.h"

/* Rows of one plane for image i and row phase py: plane column j holds input column
 * j * SW + shift (zero outside the input); xc is the image's channel, split its even and odd
 * columns when halves. */
static void fill_plane_rows(const RtConvParams *p, const float *restrict xc, const float *restrict split, bool halves,
                            float *restrict pl, int64_t i, int64_t py, int64_t shift, int64_t q0, int64_t q1)
{
    const int64_t IH = p->in[1], IW = p->in[2], SH = p->stride[1], SW = p->stride[2];
    const int64_t PH = p->pad[1], HQ = p->plane[0], WQ = p->plane[1];
    int64_t lo, hi; /* the columns that hold input columns */
    rt_tap_range(WQ, IW, SW, 0, shift, &lo, &hi);
    for (int64_t qy = q0; qy < q1; qy++) {
        float *row = pl + (i * HQ + qy) * WQ;
        const int64_t iy = qy * SH + py - PH;
        if (iy < 0 || iy >= IH || lo == hi) {
            zero_row(row, WQ);
            continue;
        }
        RT_NOVEC_LOOP
        for (int64_t q = 0; q < lo; q++)
            row[q] = 0.0f;
        const int64_t ix = lo * SW + shift; /* the first input column copied */
        if (SW == 1)
            copy_row(row + lo, xc + iy * IW + ix, hi - lo);
        else if (halves)
            copy_row(row + lo, split + (ix % 2) * (IH * IW / 2) + (iy * IW + ix) / 2, hi - lo);
        else
            RT_NOVEC_LOOP
            for (int64_t q = lo; q < hi; q++)
                row[q] = xc[iy * IW + q * SW + shift];
        RT_NOVEC_LOOP
        for (int64_t q = hi; q < WQ; q++)
            row[q] = 0.0f;
    }
}

/* The planes of images [n0, n0 + ni) of one group (x: the group's first channel in image n0), their
 * rows [q0, q1) (all of them, 0 and plane[0], for several images); split: IH * IW floats of
 * workspace for a stride-2 input plane of even width. Plane (ci, py, c) is column phase c, or with
 * col_taps the columns kernel column c reads. */
static void fill_planes(const RtConvParams *p, int64_t cin_g, const float *restrict x, int64_t ni,
                        float *restrict planes, int64_t ps, float *restrict split, int64_t q0, int64_t q1)
{
    const int64_t IH = p->in[1], IW = p->in[2], SH = p->stride[1], SW = p->stride[2], PW = p->pad[2];
    const int64_t PH = p->pad[1], HQ = p->plane[0], WQ = p->plane[1], NC = p->col_taps ? p->kernel[2] : SW;
    const int64_t image = p->c_in * IH * IW;
    const bool halves = SW == 2 && IW % 2 == 0; /* rows read from the deinterleaved plane */
    /* the input rows those plane rows hold */
    int64_t iy0 = q0 * SH - PH, iy1 = (q1 - 1) * SH + SH - PH;
    iy0 = iy0 < 0 ? 0 : iy0 > IH ? IH : iy0;
    iy1 = iy1 < iy0 ? iy0 : iy1 > IH ? IH : iy1;
    for (int64_t i = 0; i < ni; i++)
        for (int64_t ci = 0; ci < cin_g; ci++) {
            const float *xc = x + i * image + ci * IH * IW;
            if (halves)
                deinterleave(xc + iy0 * IW, (iy1 - iy0) * IW / 2, split + iy0 * IW / 2, split + (IH + iy0) * IW / 2);
            for (int64_t py = 0; py < SH; py++)
                for (int64_t c = 0; c < NC; c++) {
                    if (!rt_phase_read(p->kernel[1], p->dilation[1], SH, py) ||
                        (!p->col_taps && !rt_phase_read(p->kernel[2], p->dilation[2], SW, c)))
                        continue; /* never read: left as it is */
                    float *pl = planes + ((ci * SH + py) * NC + c) * ps;
                    fill_plane_rows(p, xc, split, halves, pl, i, py, p->col_taps ? c * p->dilation[2] - PW : c - PW,
                                    q0, q1);
                    if (i == ni - 1)
                        memset(pl + ni * HQ * WQ, 0, (size_t)(ps - ni * HQ * WQ) * sizeof(float));
                }
        }
}

/* Where the GEMM's row for tap (ci, ky, kx) starts, from the first plane: k = (ci * KH + ky) * KW + kx,
 * the order of the weights' columns. */
static void tap_offsets(const RtConvParams *p, int64_t cin_g, int64_t ps, int32_t *rows)
{
    const int64_t KH = p->kernel[1], KW = p->kernel[2], SH = p->stride[1], SW = p->stride[2];
    const int64_t DH = p->dilation[1], DW = p->dilation[2], NC = p->col_taps ? KW : SW;
    for (int64_t ci = 0, k = 0; ci < cin_g; ci++)
        for (int64_t ky = 0; ky < KH; ky++)
            for (int64_t kx = 0; kx < KW; kx++, k++) {
                const int64_t c = p->col_taps ? kx : kx * DW % SW, col = p->col_taps ? 0 : kx * DW / SW;
                const int64_t plane = (ci * SH + ky * DH % SH) * NC + c;
                rows[k] = (int32_t)(plane * ps + ky * DH / SH * p->plane[1] + col);
            }
}

/* The workspace's planes, [split] and tap offsets (filled in); returns the floats after them. */
static float *direct_workspace(const RtConvParams *p, int64_t cin_g, int64_t K, int64_t ps, float *work, float **split,
                               int32_t **rows)
{
    *split = work + rt_conv_direct_planes(p) * ps;
    *rows = (int32_t *)(*split + rt_conv_direct_split_floats(p));
    tap_offsets(p, cin_g, ps, *rows);
    return (float *)*rows + (K + 15) / 16 * 16;
}

/* C = the weights of channels [c0, c0 + m) of group g times the GEMM rows at b (offsets rows):
 * from weights packed at compile time or as they are. Constant sizes at every call site. */
static inline void direct_gemm(const RtConvParams *p, const float *w, int64_t g, int64_t cout_g, int64_t c0,
                               int64_t m, int64_t n, int64_t k, const float *b, const int32_t *rows, float *c,
                               int64_t ldc, float *work)
{
    if (p->packed_w)
        rt_gemm_f32_rows(m, n, k, NULL, 0, w + g * rt_gemm_packed_a_floats(cout_g, k), c0, cout_g, b, rows, 0.0f, c,
                         ldc, p->use_blas, work);
    else
        rt_gemm_f32_rows(m, n, k, w + (g * cout_g + c0) * k, k, NULL, 0, 0, b, rows, 0.0f, c, ldc, p->use_blas, work);
}

/* Items [begin, end) of (block of images, group, block of plane rows, channel chunk), chunk fastest:
 * a task's items of one block of images share its planes. */
static void conv_direct_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    float *work = bufs[3 + p->has_bias + p->has_residual];
    if (p->groups <= 0 || p->stride[1] <= 0 || p->stride[2] <= 0 || p->plane[0] <= 0 || p->plane[1] <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t K = cin_g * p->kernel[1] * p->kernel[2];
    const int64_t HQ = p->plane[0], WQ = p->plane[1], OH = p->out[1], OW = p->out[2], P = OH * OW;
    const int64_t ipb = p->images_per_block > 1 ? p->images_per_block : 1;
    const int64_t nib = (p->batch + ipb - 1) / ipb, last_i = p->batch - (nib - 1) * ipb;
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    /* plane rows a block of ni images computes: up to the last image's last output row */
    const int64_t full_rows = (ipb - 1) * HQ + OH, nblk = (full_rows + rpb - 1) / rpb;
    const int64_t last_rows = ipb > 1 ? (last_i - 1) * HQ + OH : full_rows - (nblk - 1) * rpb;
    const int64_t ps = rt_conv_direct_plane_floats(p), ldt = rpb * WQ;
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    float *planes = work, *split, *t;
    int32_t *rows;
    t = direct_workspace(p, cin_g, K, ps, work, &split, &rows);
    float *gemm_work = t + (cc * ldt + 15) / 16 * 16;
    int64_t have = -1; /* the (block of images, group[, block of rows]) in the planes */
    for (int64_t it = begin; it < end; it++) {
        const int64_t c = it % cs, blk = it / cs % nblk, ig = it / cs / nblk, g = ig % p->groups, b = ig / p->groups;
        const int64_t n0 = b * ipb, ni = b == nib - 1 ? last_i : ipb;
        const int64_t r0 = blk * rpb, avail = (ni - 1) * HQ + OH - r0;
        if (avail <= 0)
            continue;
        const int64_t nr = avail < rpb ? avail : rpb;
        /* one image: the rows of its planes this block reads (with the next row, where reads that run
         * past a row's end land), so that the tasks sharing out a large batch-1 layer by blocks of
         * rows do not each copy its whole input (ResNet-18's stem, 2 threads: 8 copies of it) */
        const int64_t q0 = ipb > 1 ? 0 : r0;
        int64_t q1 = ipb > 1 ? HQ : r0 + nr + (p->kernel[1] - 1) * p->dilation[1] / p->stride[1] + 1;
        q1 = q1 > HQ ? HQ : q1;
        if (ig * nblk + (ipb > 1 ? 0 : blk) != have) {
            fill_planes(p, cin_g, x + (n0 * p->c_in + g * cin_g) * p->in[1] * p->in[2], ni, planes, ps, split, q0, q1);
            have = ig * nblk + (ipb > 1 ? 0 : blk);
        }
        const bool full_c = c < cs - 1;
        const int64_t m = full_c ? cc : last_c;
        const float *bb = planes + r0 * WQ;
        if (nr == rpb && full_c) /* constant sizes per call site */
            direct_gemm(p, w, g, cout_g, c * cc, cc, rpb * WQ, K, bb, rows, t, ldt, gemm_work);
        else if (nr == rpb)
            direct_gemm(p, w, g, cout_g, c * cc, last_c, rpb * WQ, K, bb, rows, t, ldt, gemm_work);
        else if (full_c)
            direct_gemm(p, w, g, cout_g, c * cc, cc, last_rows * WQ, K, bb, rows, t, ldt, gemm_work);
        else
            direct_gemm(p, w, g, cout_g, c * cc, last_c, last_rows * WQ, K, bb, rows, t, ldt, gemm_work);
        for (int64_t j = 0; j < nr;) {
            const int64_t i = (r0 + j) / HQ, oy = r0 + j - i * HQ;
            if (oy >= OH) {
                j++;
                continue; /* a row between two images */
            }
            /* planes as wide as the output: an image's rows lie in y as they lie in t, one run (7x7
             * outputs made rows of 7, most of a small layer's copy time) */
            const int64_t run = WQ == OW ? (nr - j < OH - oy ? nr - j : OH - oy) : 1;
            for (int64_t r = 0; r < m; r++) {
                const int64_t oc = g * cout_g + c * cc + r;
                const int64_t at = ((n0 + i) * p->c_out + oc) * P + oy * OW;
                copy_add(y + at, t + r * ldt + j * WQ, res ? res + at : NULL, run * OW, bias ? bias[oc] : 0.0f,
                         p->has_clip, p->clip_min, p->clip_max);
                act_rows(p, y + at, 1, run * OW, run * OW);
            }
            j += run;
        }
    }
}

static int64_t conv_direct_n_items(const RtConvParams *p)
{
    const int64_t ipb = p->images_per_block > 1 ? p->images_per_block : 1;
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    const int64_t nblk = ((ipb - 1) * p->plane[0] + p->out[1] + rpb - 1) / rpb;
    return (p->batch + ipb - 1) / ipb * p->groups * nblk * (p->c_split > 1 ? p->c_split : 1);
}

RT_KERNEL(rt_conv_direct_f32)
{
    const RtConvParams *p = params_;
    conv_direct_items(p, bufs, 0, conv_direct_n_items(p));
}
RT_RANGE_KERNEL(rt_conv_direct_f32_range) { conv_direct_items(params_, bufs, begin, end); }

/* params: the FORWARD convolution (groups 1). dst[ci][co][ky][kx] = w[co][ci][KH-1-ky][KW-1-kx]: the
 * weights of the convolution of dy that is the input gradient of a stride-1 convolution. */
RT_KERNEL(rt_conv_flip_weights_f32)
{
    const RtConvParams *p = params_;
    const float *restrict w = bufs[0];
    float *restrict dst = bufs[1];
    const int64_t CI = p->c_in, CO = p->c_out, KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW;
    for (int64_t ci = 0; ci < CI; ci++)
        for (int64_t co = 0; co < CO; co++) {
            const float *src = w + (co * CI + ci) * taps;
            float *d = dst + (ci * CO + co) * taps;
            for (int64_t t = 0; t < taps; t++)
                d[t] = src[taps - 1 - t];
        }
}

/* dw_g += dy_g X^T for channels [c0, c0 + m) of group g over images blocks [b0, b1): see conv.h. */
static void grad_weight_direct_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *dy = bufs[1];
    float *dw = bufs[2], *work = bufs[3];
    float *partial = p->slices > 1 ? bufs[4] : NULL;
    if (p->groups <= 0 || p->stride[1] <= 0 || p->stride[2] <= 0 || p->plane[0] <= 0 || p->plane[1] <= 0)
        return;
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t K = cin_g * p->kernel[1] * p->kernel[2];
    const int64_t HQ = p->plane[0], WQ = p->plane[1], OH = p->out[1], OW = p->out[2], P = OH * OW;
    const int64_t ipb = p->images_per_block > 1 ? p->images_per_block : 1, ld = ipb * HQ * WQ;
    const int64_t nib = (p->batch + ipb - 1) / ipb, last_i = p->batch - (nib - 1) * ipb;
    const int64_t S = p->slices > 1 ? p->slices : 1;
    const int64_t ps = rt_conv_direct_plane_floats(p);
    int64_t cs, cc, last_c;
    channel_chunks(p, cout_g, &cs, &cc, &last_c);
    float *planes = work, *split, *dyp;
    int32_t *rows;
    dyp = direct_workspace(p, cin_g, K, ps, work, &split, &rows);
    float *gemm_work = dyp + (cc * ld + 15) / 16 * 16;
    /* the task's items of one (slice, group) are a run of its chunks: each block of images fills the
     * planes once for all of them */
    for (int64_t run = begin; run < end;) {
        const int64_t gs = run / cs, run_end = (gs + 1) * cs < end ? (gs + 1) * cs : end;
        const int64_t g = gs % p->groups, s = gs / p->groups, b0 = s * nib / S, b1 = (s + 1) * nib / S;
        for (int64_t b = b0; b < b1; b++) {
            const int64_t n0 = b * ipb, ni = b == nib - 1 ? last_i : ipb;
            fill_planes(p, cin_g, x + (n0 * p->c_in + g * cin_g) * p->in[1] * p->in[2], ni, planes, ps, split, 0,
                        p->plane[0]);
            for (int64_t it = run; it < run_end; it++) {
                const int64_t c = it % cs, c0 = c * cc;
                const bool full_c = c < cs - 1;
                const int64_t m = full_c ? cc : last_c;
                float *out = (partial ? partial + s * p->c_out * K : dw) + (g * cout_g + c0) * K;
                for (int64_t r = 0; r < m; r++)
                    for (int64_t i = 0; i < ni; i++) {
                        const float *src = dy + ((n0 + i) * p->c_out + g * cout_g + c0 + r) * P;
                        for (int64_t qy = 0; qy < HQ; qy++) {
                            float *row = dyp + r * ld + (i * HQ + qy) * WQ;
                            if (qy >= OH) {
                                memset(row, 0, (size_t)WQ * sizeof(float));
                                continue;
                            }
                            memcpy(row, src + qy * OW, (size_t)OW * sizeof(float));
                            RT_NOVEC_LOOP
                            for (int64_t q = OW; q < WQ; q++)
                                row[q] = 0.0f;
                        }
                    }
                const float beta = b == b0 ? 0.0f : 1.0f;
                if (ni == ipb && full_c) /* constant sizes per call site */
                    rt_gemm_f32_bt_rows(cc, K, ipb * HQ * WQ, dyp, ld, planes, rows, beta, out, K, p->use_blas,
                                        gemm_work);
                else if (ni == ipb)
                    rt_gemm_f32_bt_rows(last_c, K, ipb * HQ * WQ, dyp, ld, planes, rows, beta, out, K, p->use_blas,
                                        gemm_work);
                else if (full_c)
                    rt_gemm_f32_bt_rows(cc, K, last_i * HQ * WQ, dyp, ld, planes, rows, beta, out, K, p->use_blas,
                                        gemm_work);
                else
                    rt_gemm_f32_bt_rows(last_c, K, last_i * HQ * WQ, dyp, ld, planes, rows, beta, out, K,
                                        p->use_blas, gemm_work);
            }
        }
        if (b0 == b1) /* a slice without images (never planned: slices <= blocks): its partial is zero */
            for (int64_t it = run; it < run_end; it++) {
                const int64_t c = it % cs;
                memset((partial ? partial + s * p->c_out * K : dw) + (g * cout_g + c * cc) * K, 0,
                       (size_t)((c < cs - 1 ? cc : last_c) * K) * sizeof(float));
            }
        run = run_end;
    }
}

RT_KERNEL(rt_conv_grad_weight_direct_f32)
{
    const RtConvParams *p = params_;
    grad_weight_direct_items(p, bufs, 0, (p->slices > 1 ? p->slices : 1) * p->groups * (p->c_split > 1 ? p->c_split : 1));
}
RT_RANGE_KERNEL(rt_conv_grad_weight_direct_f32_range) { grad_weight_direct_items(params_, bufs, begin, end); }

/* dw = the slices' partial sums, added in slice order (the same bits whatever the threads) */
RT_KERNEL(rt_conv_sum_slices_f32)
{
    const RtConvParams *p = params_;
    const float *restrict partial = bufs[0];
    float *restrict dw = bufs[1];
    if (p->groups <= 0)
        return;
    const int64_t n = p->c_out * (p->c_in / p->groups) * p->kernel[0] * p->kernel[1] * p->kernel[2];
    for (int64_t i = 0; i < n; i++)
        dw[i] = partial[i];
    for (int64_t s = 1; s < p->slices; s++)
        for (int64_t i = 0; i < n; i++)
            dw[i] += partial[s * n + i];
}
