/* runtime/kernels/conv_winograd.c — 3x3, stride-1 convolutions by Winograd's minimal filtering
 * F(2x2, 3x3) (rt_conv_winograd_f32; conv.h has the layout). Each 2x2 block of outputs of a channel
 * (a tile) is A^T [sum over input channels of (G w G^T) . (B^T d B)] A, d the tile's 4x4 window of
 * the input: 16 products per input channel where the direct sum takes 36, so the 16 matrix products
 * (one per point of the 4x4 transform) do 2.25x fewer multiply-adds than the direct convolution's
 * GEMM. The transforms only add and subtract (and halve, in G): the result differs from the direct
 * sum by rounding only. The weight gradient (rt_conv_grad_weight_winograd_f32) runs the same
 * transforms backwards: the products' gradients A dy A^T against the input's transforms, summed over
 * the tiles, then G^T . G back to 3x3. */
#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_internal.h"
#include "runtime/kernels/conv_rows.h"
#include "runtime/kernels/conv_winograd_lanes.h"
#include "runtime/kernels/conv_winograd_points.h"

#include <stdlib.h>

#include "runtime/kernels/gemm.h"

/* u = G g G^T for a 3x3 kernel g (row-major): G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] */
static void transform_kernel(const float *g, float u[16])
{
    float t[4][3]; /* G g */
    for (int j = 0; j < 3; j++) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        u[i * 4 + 0] = t[i][0];
        u[i * 4 + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[i * 4 + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[i * 4 + 3] = t[i][2];
    }
}

/* u[(point * c_out + k) * c_in + c] = the 16 transforms of the weights w for output channels
 * [k0, k1) (p's orientation, or with flip those of the forward convolution whose input gradient p
 * computes: w[c][k] flipped in space). */
static void transform_weight_rows(const RtConvParams *p, const float *w, bool flip, float *restrict u, int64_t k0,
                                  int64_t k1)
{
    const int64_t K = p->c_out, C = p->c_in;
    for (int64_t k = k0; k < k1; k++)
        for (int64_t c = 0; c < C; c++) {
            float g[9], t[16];
            const float *src = w + (flip ? c * K + k : k * C + c) * 9;
            for (int i = 0; i < 9; i++)
                g[i] = src[flip ? 8 - i : i];
            transform_kernel(g, t);
            for (int xi = 0; xi < 16; xi++)
                u[(xi * K + k) * C + c] = t[xi];
        }
}

void rt_winograd_pack_points(const RtConvParams *p, const float *u, int64_t x0, int64_t x1, float *dst)
{
    const int64_t K = p->c_out, C = p->c_in, pa = rt_gemm_packed_a_floats(K, C);
    if (p->use_blas == RT_GEMM_BF16) {
        const int64_t cs = p->c_split > 1 ? p->c_split : 1, cc = cs > 1 ? p->c_chunk : K;
        const int64_t lanes = rt_conv_winograd_chunk_lanes(p), pl = rt_conv_winograd_point_lanes(p);
        for (int64_t xi = x0; xi < x1; xi++)
            for (int64_t c = 0; c < cs; c++)
                (p->winograd_at ? rt_gemm_bf16_pack_at : rt_gemm_bf16_pack_a)(
                    u + (xi * K + c * cc) * C, C, c < cs - 1 ? cc : K - c * cc, C, (uint32_t *)dst + xi * pl + c * lanes);
        return;
    }
    for (int64_t xi = x0; xi < x1; xi++)
        rt_gemm_pack_a(u + xi * K * C, K, C, dst + xi * pa);
}

bool rt_conv_winograd_pack_weights(const void *params, const void *w, void *dst)
{
    const RtConvParams *p = params;
    float *u = malloc((size_t)(16 * p->c_out * p->c_in) * sizeof(float));
    if (!u)
        return false;
    transform_weight_rows(p, w, false, u, 0, p->c_out);
    rt_winograd_pack_points(p, u, 0, 16, dst);
    free(u);
    return true;
}

/* A training step's weights, on every call: transformed (split over output channels), then packed
 * (split over the points), the two calls threads share out in turn; in the shared scratch, the
 * packed transforms first, then u. */
RT_RANGE_KERNEL(rt_conv_winograd_weights_f32_range)
{
    const RtConvParams *p = params_;
    transform_weight_rows(p, bufs[0], false, (float *)bufs[1] + rt_conv_winograd_packed_floats(p), begin, end);
}
RT_KERNEL(rt_conv_winograd_weights_f32)
{
    rt_conv_winograd_weights_f32_range(params_, bufs, 0, ((const RtConvParams *)params_)->c_out);
}
RT_RANGE_KERNEL(rt_conv_winograd_flipped_weights_f32_range)
{
    const RtConvParams *p = params_;
    transform_weight_rows(p, bufs[0], true, (float *)bufs[1] + rt_conv_winograd_packed_floats(p), begin, end);
}
RT_KERNEL(rt_conv_winograd_flipped_weights_f32)
{
    rt_conv_winograd_flipped_weights_f32_range(params_, bufs, 0, ((const RtConvParams *)params_)->c_out);
}
RT_RANGE_KERNEL(rt_conv_winograd_pack_f32_range)
{
    const RtConvParams *p = params_;
    float *shared = bufs[0];
    rt_winograd_pack_points(p, shared + rt_conv_winograd_packed_floats(p), begin, end, shared);
}
RT_KERNEL(rt_conv_winograd_pack_f32) { rt_conv_winograd_pack_f32_range(params_, bufs, 0, 16); }

/* row[0, w) = the hi - lo floats at src in columns [lo, hi), zero elsewhere; all zero when src is
 * NULL */
static inline void padded_row(float *restrict row, const float *src, int64_t lo, int64_t hi, int64_t w)
{
    if (!src || lo >= hi) {
        memset(row, 0, (size_t)w * sizeof(float));
        return;
    }
    memset(row, 0, (size_t)lo * sizeof(float));
    memcpy(row + lo, src, (size_t)(hi - lo) * sizeof(float));
    memset(row + hi, 0, (size_t)(w - hi) * sizeof(float));
}

/* Where the four input rows of tile row j of a block start, in rows of its channel's copy: two rows
 * after the previous tile row's (they share two), four at the first tile row of an image. */
static inline int64_t next_base(int64_t base, int64_t j, int64_t r0, int64_t TH)
{
    return j == 0 ? 0 : (r0 + j) % TH == 0 ? base + 4 : base + 2;
}

/* The input rows the tiles of tile rows [r0, r0 + nr) read, for every input channel: channel c's
 * copy at plane + c * 4 * nr * wp, row i of tile row j at row next_base(...) + i, input column ix
 * at column ix + PW, zero outside the input. All of them first, then the transforms: loads right
 * behind the copies' stores stalled (half the kernel's time in the first version, which copied and
 * split each row just before transforming it). */
static void copy_input_rows(const RtConvParams *p, const float *x, int64_t r0, int64_t nr, float *restrict plane,
                            int64_t wp)
{
    const int64_t C = p->c_in, IH = p->in[1], IW = p->in[2], PH = p->pad[1], PW = p->pad[2];
    const int64_t TH = (p->out[1] + 1) / 2;
    const int64_t lo = PW < wp ? PW : wp, hi = IW + PW < wp ? IW + PW : wp; /* columns that hold input */
    for (int64_t c = 0; c < C; c++)
        for (int64_t j = 0, base = 0; j < nr; j++) {
            const int64_t r = r0 + j, n = r / TH, ty = r % TH;
            const float *xc = x + (n * C + c) * IH * IW;
            const int64_t nb = next_base(base, j, r0, TH);
            for (int64_t i = j > 0 && nb == base + 2 ? 2 : 0; i < 4; i++) {
                const int64_t iy = 2 * ty - PH + i;
                padded_row(plane + (c * 4 * nr + nb + i) * wp, iy < 0 || iy >= IH ? NULL : xc + iy * IW + lo - PW, lo,
                           hi, wp);
            }
            base = nb;
        }
}

/* V[point][c][col] = B^T d B for the tiles of tile rows [r0, r0 + nr) (col = (row - r0) * TW + t),
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], from the rows copy_input_rows copied: tile t reads
 * columns 2t to 2t + 3, the even and odd columns from 2t and from 2t + 2 of each row. Whole vectors
 * of 16 tiles, the last one running past the row into columns the next row (or the slack after the
 * last) overwrites. */
static void transform_input(const RtConvParams *p, const float *restrict plane, int64_t wp, int64_t r0, int64_t nr,
                            float *restrict V, int64_t ldb, int64_t cv)
{
    const int64_t C = p->c_in, TW = (p->out[2] + 1) / 2, TH = (p->out[1] + 1) / 2;
    for (int64_t c = 0; c < C; c++)
        for (int64_t j = 0, base = 0; j < nr; j++) {
            base = next_base(base, j, r0, TH);
            const float *q = plane + (c * 4 * nr + base) * wp;
            float *v = V + c * ldb + j * TW;
            for (int64_t t = 0; t < TW; t += 16) {
                /* each row i: d_i0 - d_i2, d_i1 + d_i2, d_i2 - d_i1, d_i1 - d_i3 (a_i0 .. a_i3) */
#define WG_ROW(i, a0, a1, a2, a3)                                                                              \
    const float *qi##i = q + (i) * wp + 2 * t;                                                                 \
    const v16f v0_##i = *(const v16f_u *)qi##i, v1_##i = *(const v16f_u *)(qi##i + 16);                       \
    const v16f u0_##i = *(const v16f_u *)(qi##i + 2), u1_##i = *(const v16f_u *)(qi##i + 18);                 \
    const v16f e_##i = EVEN16(v0_##i, v1_##i), o_##i = ODD16(v0_##i, v1_##i);                                 \
    const v16f en_##i = EVEN16(u0_##i, u1_##i), on_##i = ODD16(u0_##i, u1_##i);                               \
    const v16f a0 = e_##i - en_##i, a1 = o_##i + en_##i, a2 = en_##i - o_##i, a3 = o_##i - on_##i
                WG_ROW(0, a00, a01, a02, a03);
                WG_ROW(1, a10, a11, a12, a13);
                WG_ROW(2, a20, a21, a22, a23);
                WG_ROW(3, a30, a31, a32, a33);
#undef WG_ROW
                /* rows: the same combinations of rows 0-3, point (i, j) at V + (4 i + j) * cv */
#define WG_STORE(xi, val) (*(v16f_u *)(v + (xi) * cv + t) = (val))
                WG_INPUT_POINTS(WG_STORE);
#undef WG_STORE
            }
        }
}

/* y for output channels [k0, k0 + m) and tile rows [r0, r0 + nr) from M[point][k - k0][col]:
 * A^T m A, A^T = [1 1 1 0; 0 1 -1 -1], tile t giving columns 2t and 2t + 1 of two output rows, with
 * the bias, residual and folded activation. Vectors of 16 tiles are stored into y where their 32
 * columns lie in the row (the last one of an even row width recomputed to end at it: storing a
 * value twice is harmless); the rest goes through two row buffers (out, 2 * wt floats each). */
static void transform_output(const RtConvParams *p, const float *restrict M, int64_t ldc, int64_t mv, int64_t k0,
                             int64_t m, int64_t r0, int64_t nr, const float *bias, const float *res, float *y,
                             float *restrict out, int64_t wt)
{
    const int64_t K = p->c_out, OH = p->out[1], OW = p->out[2], P = OH * OW;
    const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2;
    const bool clip = p->has_clip, even = OW % 2 == 0 && TW >= 16;
    const float lo = p->clip_min, hi = p->clip_max;
    for (int64_t k = 0; k < m; k++) {
        const int64_t oc = k0 + k;
        const float add = bias ? bias[oc] : 0.0f;
        const v16f addv = (v16f){0} + add;
        for (int64_t j = 0; j < nr; j++) {
            const int64_t r = r0 + j, n = r / TH, ty = r % TH, at = (n * K + oc) * P + 2 * ty * OW;
            const bool second = 2 * ty + 1 < OH;
            const float *s = M + k * ldc + j * TW;
            float *y0 = y + at, *y1 = y0 + OW;
            const float *res0 = res ? res + at : NULL, *res1 = res ? res + at + OW : NULL;
            int64_t done = 0; /* columns of the rows stored */
            for (int64_t t0 = 0; done < OW; t0 += 16) {
                int64_t t = t0;
                bool direct = 2 * t + 32 <= OW;
                if (!direct && even) /* the last vector, recomputed to end at the row's end */
                    t = TW - 16, direct = true;
#define WG_M(xi) (*(const v16f_u *)(s + (xi) * mv + t))
                /* columns: m_i0 + m_i1 + m_i2 and m_i1 - m_i2 - m_i3 of each row i */
                const v16f b00 = WG_M(0) + WG_M(1) + WG_M(2), b01 = WG_M(1) - WG_M(2) - WG_M(3);
                const v16f b10 = WG_M(4) + WG_M(5) + WG_M(6), b11 = WG_M(5) - WG_M(6) - WG_M(7);
                const v16f b20 = WG_M(8) + WG_M(9) + WG_M(10), b21 = WG_M(9) - WG_M(10) - WG_M(11);
                const v16f b30 = WG_M(12) + WG_M(13) + WG_M(14), b31 = WG_M(13) - WG_M(14) - WG_M(15);
#undef WG_M
                const v16f y00 = b00 + b10 + b20 + addv, y01 = b01 + b11 + b21 + addv;
                const v16f y10 = b10 - b20 - b30 + addv, y11 = b11 - b21 - b31 + addv;
                if (direct) {
                    /* the two rows' 32 columns from 2t, the residual added and the clamp applied here */
#define WG_PUT(dst, rs, lo16, hi16)                                                                             \
    do {                                                                                                      \
        v16f w0_, w1_;                                                                                        \
        INTERLEAVE_PAIR(lo16, hi16, w0_, w1_);                                                                \
        STORE_OUT(v16f, v16f_u, v16i, (dst) + 2 * t, w0_, rs, 2 * t, clip, lo, hi);                           \
        STORE_OUT(v16f, v16f_u, v16i, (dst) + 2 * t + 16, w1_, rs, 2 * t + 16, clip, lo, hi);                 \
    } while (0)
                    WG_PUT(y0, res0, y00, y01);
                    if (second)
                        WG_PUT(y1, res1, y10, y11);
#undef WG_PUT
                    done = 2 * t + 32;
                    continue;
                }
                INTERLEAVE16(y00, y01, out);
                INTERLEAVE16(y10, y11, out + 2 * wt);
                /* columns [2t, OW): the bias is in already */
                copy_add(y0 + 2 * t, out, res0 ? res0 + 2 * t : NULL, OW - 2 * t, 0.0f, clip, lo, hi);
                if (second)
                    copy_add(y1 + 2 * t, out + 2 * wt, res1 ? res1 + 2 * t : NULL, OW - 2 * t, 0.0f, clip, lo, hi);
                done = OW;
            }
            act_rows(p, y0, 1, (second ? 2 : 1) * OW, 0);
        }
    }
}

/* Items [begin, end) of (block of tile rows, channel chunk), chunk fastest: a task's chunks of one
 * block share its transformed input. */
static void conv_winograd_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *U = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    float *work = bufs[3 + p->has_bias + p->has_residual];
    if (p->groups != 1 || p->rows_per_block <= 0)
        return;
    const int64_t TW = (p->out[2] + 1) / 2, R = rt_conv_winograd_tile_rows(p);
    const int64_t rpb = p->rows_per_block, nblk = rt_conv_winograd_blocks(p), last_rows = R - (nblk - 1) * rpb;
    const bool lanes = rt_conv_winograd_lanes(p);
    int64_t cs, cc, last_c;
    channel_chunks(p, p->c_out, &cs, &cc, &last_c);
    RtWinogradLayout l = rt_conv_winograd_layout(p);
    float *V = work, *M = V + l.v_floats, *plane = M + l.m_floats, *out = plane + l.plane_floats,
          *gemm_work = out + l.out_floats;
    int64_t have = -1; /* the block in V */
    for (int64_t it = begin; it < end; it++) {
        const int64_t c = it % cs, blk = it / cs, r0 = blk * rpb;
        const bool full_r = blk < nblk - 1 || lanes, full_c = c < cs - 1;
        const int64_t nr = full_r ? rpb : last_rows, m = full_c ? cc : last_c;
        const int64_t n0 = blk * p->images_per_block; /* lanes */
        if (blk != have) {
            if (lanes) {
                rt_winograd_lanes_input(p, x, n0, plane, V, l.ldb, l.vv);
            } else {
                copy_input_rows(p, x, r0, nr, plane, l.wp);
                transform_input(p, plane, l.wp, r0, nr, V, l.ldb, l.vv);
            }
            have = blk;
        }
        rt_winograd_item_products(p, 16, U, c * cc, full_r, full_c, cc, last_c, rpb * TW, last_rows * TW, V, l.ldb,
                                  l.vv, M, l.mv, gemm_work);
        if (lanes)
            rt_winograd_lanes_output(p, M, l.ldb, l.mv, c * cc, m, n0, bias, res, y, out);
        else
            transform_output(p, M, l.ldb, l.mv, c * cc, m, r0, nr, bias, res, y, out, l.wt);
    }
}

RT_KERNEL(rt_conv_winograd_f32)
{
    const RtConvParams *p = params_;
    conv_winograd_items(p, bufs, 0, rt_conv_winograd_blocks(p) * (p->c_split > 1 ? p->c_split : 1));
}
RT_RANGE_KERNEL(rt_conv_winograd_f32_range) { conv_winograd_items(params_, bufs, begin, end); }

/* --- the weight gradient (rt_conv_grad_weight_winograd_f32) --- */

/* The rows of dy the tiles of tile rows [r0, r0 + nr) cover, for every output channel: row a of
 * tile row j of channel k at rows + ((k * nr + j) * 2 + a) * wq, zero past the output. */
static void copy_dy_rows(const RtConvParams *p, const float *dy, int64_t r0, int64_t nr, float *restrict rows,
                         int64_t wq)
{
    const int64_t K = p->c_out, OH = p->out[1], OW = p->out[2], TH = (OH + 1) / 2;
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < nr; j++) {
            const int64_t r = r0 + j, n = r / TH, ty = r % TH;
            for (int64_t a = 0; a < 2; a++) {
                const int64_t oy = 2 * ty + a;
                const float *src = oy < OH ? dy + ((n * K + k) * OH + oy) * OW : NULL;
                padded_row(rows + ((k * nr + j) * 2 + a) * wq, src, 0, OW, wq);
            }
        }
}

/* D[point][k][col] = A dy A^T for each tile's 2x2 of dy (the gradient of the products M, through
 * the output transform A^T M A), A = [1 0; 1 1; 1 -1; 0 -1]. */
static void transform_dy(const RtConvParams *p, const float *restrict rows, int64_t wq, int64_t nr,
                         float *restrict D, int64_t ldb, int64_t dv)
{
    const int64_t K = p->c_out, TW = (p->out[2] + 1) / 2;
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < nr; j++) {
            const float *q = rows + (k * nr + j) * 2 * wq;
            float *d = D + k * ldb + j * TW;
            for (int64_t t = 0; t < TW; t += 16) {
                const v16f v0 = *(const v16f_u *)(q + 2 * t), v1 = *(const v16f_u *)(q + 2 * t + 16);
                const v16f w0 = *(const v16f_u *)(q + wq + 2 * t), w1 = *(const v16f_u *)(q + wq + 2 * t + 16);
                const v16f y00 = EVEN16(v0, v1), y01 = ODD16(v0, v1), y10 = EVEN16(w0, w1), y11 = ODD16(w0, w1);
                /* rows: y0, y0 + y1, y0 - y1, -y1; then the same along the columns */
                const v16f a10 = y00 + y10, a11 = y01 + y11, a20 = y00 - y10, a21 = y01 - y11;
#define WG_D(xi, val) (*(v16f_u *)(d + (xi) * dv + t) = (val))
                WG_D(0, y00), WG_D(1, y00 + y01), WG_D(2, y00 - y01), WG_D(3, -y01);
                WG_D(4, a10), WG_D(5, a10 + a11), WG_D(6, a10 - a11), WG_D(7, -a11);
                WG_D(8, a20), WG_D(9, a20 + a21), WG_D(10, a20 - a21), WG_D(11, -a21);
                WG_D(12, -y10), WG_D(13, -y10 - y11), WG_D(14, y11 - y10), WG_D(15, y11);
#undef WG_D
            }
        }
}

/* dw[k][c] = G^T dU[.][k][c] G (3x3 from the 16 points) */
static void weights_from_points(const RtConvParams *p, const float *restrict dU, float *restrict dw)
{
    const int64_t K = p->c_out, C = p->c_in;
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < C; c++) {
            float u[16], t[3][4];
            for (int xi = 0; xi < 16; xi++)
                u[xi] = dU[(xi * K + k) * C + c];
            for (int j = 0; j < 4; j++) {
                t[0][j] = u[j] + 0.5f * (u[4 + j] + u[8 + j]);
                t[1][j] = 0.5f * (u[4 + j] - u[8 + j]);
                t[2][j] = 0.5f * (u[4 + j] + u[8 + j]) + u[12 + j];
            }
            float *g = dw + (k * C + c) * 9;
            for (int a = 0; a < 3; a++) {
                g[a * 3 + 0] = t[a][0] + 0.5f * (t[a][1] + t[a][2]);
                g[a * 3 + 1] = 0.5f * (t[a][1] - t[a][2]);
                g[a * 3 + 2] = 0.5f * (t[a][1] + t[a][2]) + t[a][3];
            }
        }
}

/* Slices [begin, end) of the blocks of tile rows: each sums dU[point] = D[point] V[point]^T over
 * its blocks, then writes G^T dU G into dw (one slice) or its partial in the shared scratch. */
static void grad_weight_winograd_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *dy = bufs[1];
    float *dw = bufs[2], *work = bufs[3];
    float *partial = p->slices > 1 ? bufs[4] : NULL;
    if (p->groups != 1 || p->rows_per_block <= 0)
        return;
    const int64_t K = p->c_out, C = p->c_in, R = rt_conv_winograd_tile_rows(p);
    const int64_t rpb = p->rows_per_block, nblk = rt_conv_winograd_blocks(p), S = p->slices > 1 ? p->slices : 1;
    RtWinogradGradLayout l = rt_conv_winograd_grad_layout(p);
    float *V = work, *D = V + l.v_floats, *dU = D + l.d_floats, *plane = dU + l.u_floats,
          *rows = plane + l.plane_floats, *gemm_work = rows + l.rows_floats;
    for (int64_t s = begin; s < end; s++) {
        const int64_t b0 = s * nblk / S, b1 = (s + 1) * nblk / S;
        if (b0 == b1)
            memset(dU, 0, (size_t)(16 * K * C) * sizeof(float));
        for (int64_t b = b0; b < b1; b++) {
            const int64_t r0 = b * rpb, nr = R - r0 < rpb ? R - r0 : rpb;
            if (rt_conv_winograd_lanes(p)) {
                rt_winograd_lanes_input(p, x, b * p->images_per_block, plane, V, l.ldb, l.vv);
                rt_winograd_lanes_dy(p, dy, b * p->images_per_block, rows, D, l.ldb, l.dv);
            } else {
                copy_input_rows(p, x, r0, nr, plane, l.wp);
                copy_dy_rows(p, dy, r0, nr, rows, l.wq);
                transform_input(p, plane, l.wp, r0, nr, V, l.ldb, l.vv);
                transform_dy(p, rows, l.wq, nr, D, l.ldb, l.dv);
            }
            for (int xi = 0; xi < 16; xi++)
                rt_gemm_f32(0, 1, K, C, rt_conv_winograd_block_cols(p, b), 1.0f, D + xi * l.dv, l.ldb, V + xi * l.vv, l.ldb,
                            b == b0 ? 0.0f : 1.0f, dU + xi * K * C, C, p->use_blas, gemm_work);
        }
        weights_from_points(p, dU, partial ? partial + s * K * C * 9 : dw);
    }
}

RT_KERNEL(rt_conv_grad_weight_winograd_f32)
{
    const RtConvParams *p = params_;
    grad_weight_winograd_items(p, bufs, 0, p->slices > 1 ? p->slices : 1);
}
RT_RANGE_KERNEL(rt_conv_grad_weight_winograd_f32_range) { grad_weight_winograd_items(params_, bufs, begin, end); }
