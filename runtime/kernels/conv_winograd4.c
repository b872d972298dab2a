/* runtime/kernels/conv_winograd4.c — 3x3, stride-1 convolutions by Winograd's F(4x4, 3x3)
 * (rt_conv_winograd4_f32; conv.h has the layout): each 4x4 block of outputs of a channel (a tile) is
 * A^T [sum over input channels of (G w G^T) . (B^T d B)] A, d the tile's 6x6 window of the input:
 * 36 products per input channel for 16 outputs, where F(2x2, 3x3) takes 64 (conv_winograd.c) and the
 * direct sum 144. The transforms multiply by 2, 4, 5, 8 and 1/6, 1/12, 1/24 (Lavin and Gray's points
 * 0, 1, -1, 2, -2 and infinity), so rounding grows more than in F(2x2): the weights are transformed
 * in double, once, at compile time (constant weights only; a training step keeps F(2x2)). Its
 * products are f32, or bf16 with --precision bf16 (rt_winograd_point_products). */
#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_internal.h"
#include "runtime/kernels/conv_lanes.h"
#include "runtime/kernels/conv_rows.h"
#include "runtime/kernels/conv_winograd_points.h"

#include <stdlib.h>

/* u = G g G^T for a 3x3 kernel g (row-major) */
static void transform_kernel(const float *g, float u[36])
{
    static const double G[6][3] = {{0.25, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    double t[6][3]; /* G g */
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
            t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            u[i * 6 + j] = (float)(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
}

bool rt_conv_winograd4_pack_weights(const void *params, const void *w, void *dst)
{
    const RtConvParams *p = params;
    const int64_t K = p->c_out, C = p->c_in;
    float *u = malloc((size_t)(36 * K * C) * sizeof(float));
    if (!u)
        return false;
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < C; c++) {
            float t[36];
            transform_kernel((const float *)w + (k * C + c) * 9, t);
            for (int xi = 0; xi < 36; xi++)
                u[(xi * K + k) * C + c] = t[xi];
        }
    rt_winograd_pack_points(p, u, 0, 36, dst);
    free(u);
    return true;
}

/* B^T's rows applied to d0..d5 (any vector or scalar type): r0..r5 */
#define W4_BT(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5)                                  \
    r0 = 4.0f * (d0) - 5.0f * (d2) + (d4);                                                     \
    r1 = ((d4) + (d3)) - 4.0f * ((d1) + (d2));                                                 \
    r2 = ((d4) - (d3)) + 4.0f * ((d1) - (d2));                                                 \
    r3 = ((d4) - (d2)) + 2.0f * ((d3) - (d1));                                                 \
    r4 = ((d4) - (d2)) - 2.0f * ((d3) - (d1));                                                 \
    r5 = 4.0f * (d1) - 5.0f * (d3) + (d5)

/* rows[i * wp + PW + ix] = row i of B^T d over the input's columns ix (d: the 6 input rows of tile
 * row r of channel c, zero rows above and below the input); the rows' other columns stay zero. */
static void input_rows(const RtConvParams *p, const float *x, int64_t r, int64_t c, float *restrict rows,
                       const float *zero, int64_t wp)
{
    const int64_t C = p->c_in, IH = p->in[1], IW = p->in[2], PH = p->pad[1], PW = p->pad[2];
    const int64_t TH = (p->out[1] + 3) / 4, n = r / TH, ty = r % TH;
    const float *d[6];
    for (int k = 0; k < 6; k++) {
        const int64_t iy = 4 * ty - PH + k;
        d[k] = iy < 0 || iy >= IH ? zero : x + ((n * C + c) * IH + iy) * IW;
    }
    float *o = rows + PW;
#define W4_VERTICAL(VT, VTU, q)                                                                      \
    do {                                                                                         \
        VT r0_, r1_, r2_, r3_, r4_, r5_;                                                         \
        W4_BT(*(const VTU *)(d[0] + (q)), *(const VTU *)(d[1] + (q)), *(const VTU *)(d[2] + (q)), \
              *(const VTU *)(d[3] + (q)), *(const VTU *)(d[4] + (q)), *(const VTU *)(d[5] + (q)), r0_, \
              r1_, r2_, r3_, r4_, r5_);                                                          \
        *(VTU *)(o + (q)) = r0_;                                                                 \
        *(VTU *)(o + wp + (q)) = r1_;                                                            \
        *(VTU *)(o + 2 * wp + (q)) = r2_;                                                        \
        *(VTU *)(o + 3 * wp + (q)) = r3_;                                                        \
        *(VTU *)(o + 4 * wp + (q)) = r4_;                                                        \
        *(VTU *)(o + 5 * wp + (q)) = r5_;                                                        \
    } while (0)
    /* the next tile row's four new input rows, fetched into the cache while these are combined:
     * loads of x had taken most of the transforms' time (ResNet-18's 64-channel layers at 56x56,
     * batch 8, 1 thread: 4.24 -> 3.50 ms; fetching the next channel's first rows too gained nothing) */
    const int64_t next = 4 * ty - PH + 6;
    const float *ahead = next >= 0 && next + 4 <= IH ? x + ((n * C + c) * IH + next) * IW : NULL;
    if (IW >= 16) { /* whole vectors, the last one ending at the row's end */
        for (int64_t q = 0;; q += 16) {
            const int64_t at = q + 16 <= IW ? q : IW - 16;
            if (ahead)
                for (int k = 0; k < 4; k++)
                    __builtin_prefetch(ahead + k * IW + at);
            W4_VERTICAL(v16f, v16f_u, at);
            if (at + 16 >= IW)
                break;
        }
    } else if (IW >= 8) {
        W4_VERTICAL(v8f, v8f_u, 0);
        W4_VERTICAL(v8f, v8f_u, IW - 8);
    } else if (IW >= 4) {
        W4_VERTICAL(v4f, v4f_u, 0);
        W4_VERTICAL(v4f, v4f_u, IW - 4);
    } else {
        RT_NOVEC_LOOP
        for (int64_t q = 0; q < IW; q++)
            W4_VERTICAL(float, float, q);
    }
#undef W4_VERTICAL
}

/* The phases of 64 floats at a (a[4 l + k] -> phase k, lane l) */
#define W4_PHASES(a, p0, p1, p2, p3)                                                       \
    do {                                                                                   \
        const v16f a0_ = *(const v16f_u *)(a), a1_ = *(const v16f_u *)((a) + 16);         \
        const v16f a2_ = *(const v16f_u *)((a) + 32), a3_ = *(const v16f_u *)((a) + 48);  \
        const v16f e01_ = EVEN16(a0_, a1_), e23_ = EVEN16(a2_, a3_);                       \
        const v16f o01_ = ODD16(a0_, a1_), o23_ = ODD16(a2_, a3_);                         \
        p0 = EVEN16(e01_, e23_), p2 = ODD16(e01_, e23_);                                   \
        p1 = EVEN16(o01_, o23_), p3 = ODD16(o01_, o23_);                                   \
    } while (0)

/* V[point][c][col] for the tiles of tile row j of a block (col = j * TW + t): B^T d B from the rows
 * input_rows left, B applied along each row, tile t reading its columns 4t to 4t + 5. Vectors of 16
 * tiles, the last one running past the row into columns the next row (or the slack) overwrites. */
static void transform_rows(const float *restrict rows, int64_t wp, int64_t TW, float *restrict v, int64_t vv)
{
    for (int i = 0; i < 6; i++) {
        const float *q = rows + i * wp;
        float *vi = v + 6 * i * vv;
        for (int64_t t = 0; t < TW; t += 16) {
            v16f c0, c1, c2, c3, c4, c5, u2, u3, r0, r1, r2, r3, r4, r5;
            W4_PHASES(q + 4 * t, c0, c1, c2, c3);
            W4_PHASES(q + 4 * t + 4, c4, c5, u2, u3); /* columns 4t + 4 and 4t + 5 */
            (void)u2, (void)u3;
            W4_BT(c0, c1, c2, c3, c4, c5, r0, r1, r2, r3, r4, r5);
            *(v16f_u *)(vi + t) = r0;
            *(v16f_u *)(vi + vv + t) = r1;
            *(v16f_u *)(vi + 2 * vv + t) = r2;
            *(v16f_u *)(vi + 3 * vv + t) = r3;
            *(v16f_u *)(vi + 4 * vv + t) = r4;
            *(v16f_u *)(vi + 5 * vv + t) = r5;
        }
    }
}

/* A^T's rows applied to m0..m5: o0..o3 */
#define W4_AT(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                       \
    do {                                                                \
        const v16f a1_ = (m1) + (m2), s1_ = (m1) - (m2);                \
        const v16f a3_ = (m3) + (m4), s3_ = (m3) - (m4);                \
        o0 = (m0) + a1_ + a3_;                                          \
        o1 = s1_ + 2.0f * s3_;                                          \
        o2 = a1_ + 4.0f * a3_;                                          \
        o3 = s1_ + 8.0f * s3_ + (m5);                                   \
    } while (0)

/* y for output channels [k0, k0 + m) and tile rows [r0, r0 + nr) from M[point][k - k0][col]:
 * A^T m A with the bias, residual and folded activation, tile t giving columns 4t to 4t + 3 of four
 * output rows. 16 tiles' 64 columns go straight into y where they lie in the row, else through out
 * (64 floats). */
static void transform_output(const RtConvParams *p, const float *restrict M, int64_t ldc, int64_t mv, int64_t k0,
                             int64_t m, int64_t r0, int64_t nr, const float *bias, const float *res, float *y,
                             float *restrict out)
{
    const int64_t K = p->c_out, OH = p->out[1], OW = p->out[2], P = OH * OW;
    const int64_t TH = (OH + 3) / 4, TW = (OW + 3) / 4;
    const bool clip = p->has_clip;
    const float lo = p->clip_min, hi = p->clip_max;
    for (int64_t k = 0; k < m; k++) {
        const int64_t oc = k0 + k;
        const v16f addv = (v16f){0} + (bias ? bias[oc] : 0.0f);
        for (int64_t j = 0; j < nr; j++) {
            const int64_t r = r0 + j, n = r / TH, ty = r % TH, at = (n * K + oc) * P + 4 * ty * OW;
            const int64_t out_rows = OH - 4 * ty < 4 ? OH - 4 * ty : 4;
            const float *s = M + k * ldc + j * TW;
            for (int64_t t = 0; t < TW; t += 16) {
#define W4_M(i, jj) (*(const v16f_u *)(s + (6 * (i) + (jj)) * mv + t))
#define W4_COL(jj)                                                                                   \
    v16f o0_##jj, o1_##jj, o2_##jj, o3_##jj;                                                         \
    W4_AT(W4_M(0, jj), W4_M(1, jj), W4_M(2, jj), W4_M(3, jj), W4_M(4, jj), W4_M(5, jj), o0_##jj, o1_##jj, \
          o2_##jj, o3_##jj)
                W4_COL(0);
                W4_COL(1);
                W4_COL(2);
                W4_COL(3);
                W4_COL(4);
                W4_COL(5);
#undef W4_COL
#undef W4_M
                const int64_t cols = OW - 4 * t;
                /* 16 columns of an output row from 16 i: into y where they lie in the row; the
                 * row's last ones through out, read back by loads inside that one store (copy_add
                 * straight over four stores' 64 columns had stalled on every load that spanned two
                 * of them: ResNet-18's 64-channel layers at 56x56, batch 8, 1 thread, 3.37 -> 3.12 ms) */
#define W4_PUT(wv, i)                                                                                     \
    if (cols >= 16 * (i) + 16) {                                                                          \
        v16f v_ = (wv);                                                                                   \
        STORE_OUT(v16f, v16f_u, v16i, yr + 16 * (i), v_, rr, 16 * (i), clip, lo, hi);                     \
    } else if (cols > 16 * (i)) {                                                                         \
        *(v16f_u *)out = (wv);                                                                            \
        copy_add(yr + 16 * (i), out, rr ? rr + 16 * (i) : NULL, cols - 16 * (i), 0.0f, clip, lo, hi);     \
    }
                /* output row a: its 4 column phases, interleaved into 64 columns from 4t */
#define W4_ROW(a)                                                                                         \
    if ((a) < out_rows) {                                                                                 \
        v16f q0, q1, q2, q3, l0, l1, h0, h1, w0, w1, w2, w3;                                              \
        W4_AT(o##a##_0, o##a##_1, o##a##_2, o##a##_3, o##a##_4, o##a##_5, q0, q1, q2, q3);                \
        q0 += addv, q1 += addv, q2 += addv, q3 += addv;                                                   \
        INTERLEAVE_PAIR(q0, q2, l0, h0);                                                                  \
        INTERLEAVE_PAIR(q1, q3, l1, h1);                                                                  \
        INTERLEAVE_PAIR(l0, l1, w0, w1);                                                                  \
        INTERLEAVE_PAIR(h0, h1, w2, w3);                                                                  \
        float *yr = y + at + (a) * OW + 4 * t;                                                            \
        const float *rr = res ? res + at + (a) * OW + 4 * t : NULL;                                       \
        W4_PUT(w0, 0);                                                                                    \
        W4_PUT(w1, 1);                                                                                    \
        W4_PUT(w2, 2);                                                                                    \
        W4_PUT(w3, 3);                                                                                    \
    }
                W4_ROW(0)
                W4_ROW(1)
                W4_ROW(2)
                W4_ROW(3)
#undef W4_ROW
#undef W4_PUT
            }
            act_rows(p, y + at, 1, out_rows * OW, 0);
        }
    }
}

/* M(i); for the six rows (or columns) of a transform window */
#define W4L_EACH6(M) M(0); M(1); M(2); M(3); M(4); M(5)

/* --- small images: the tiles of 16 images in each vector's lanes (rt_conv_winograd_lanes), as
 * conv_winograd_lanes.c does for F(2x2, 3x3): an image 4 outputs wide has one tile, so the row-wise
 * transforms above would compute one lane in 16 --- */

/* V[point][c][col] = B^T d B for every tile of images [n0, n0 + images_per_block) (images past the
 * batch zero): each channel of 16 images transposed into a padded plane (wp positions a row, 16
 * floats each), then each tile's 6x6 window of whole vectors transformed along its rows, then down
 * its columns. */
static void lanes4_input(const RtConvParams *p, const float *x, int64_t n0, float *restrict plane,
                         float *restrict V, int64_t ldb, int64_t vv)
{
    const int64_t C = p->c_in, IH = p->in[1], IW = p->in[2], G = p->images_per_block;
    const int64_t TH = (p->out[1] + 3) / 4, TW = (p->out[2] + 3) / 4, wp = 4 * TW + 2;
    /* the padding stays zero: every channel writes the same positions */
    memset(plane, 0, (size_t)((4 * TH + 2) * wp * 16) * sizeof(float));
    for (int64_t g = 0; g < G; g += 16) {
        const int64_t lanes = lanes_images(p, n0 + g);
        for (int64_t c = 0; c < C; c++) {
            lanes_in(x + ((n0 + g) * C + c) * IH * IW, C * IH * IW, lanes, IH * IW, IW, p->pad[1], p->pad[2], wp,
                     plane);
            float *v = V + c * ldb + g;
            for (int64_t ty = 0; ty < TH; ty++)
                for (int64_t t = 0; t < TW; t++) {
                    const float *b = plane + (4 * ty * wp + 4 * t) * 16;
                    float *o = v + (ty * TW + t) * G;
#define W4L_D(i, j) (*(const v16f_u *)(b + ((i) * wp + (j)) * 16))
#define W4L_ROW(i)                                                                                     \
    v16f h##i##0, h##i##1, h##i##2, h##i##3, h##i##4, h##i##5;                                         \
    W4_BT(W4L_D(i, 0), W4L_D(i, 1), W4L_D(i, 2), W4L_D(i, 3), W4L_D(i, 4), W4L_D(i, 5), h##i##0, h##i##1, \
          h##i##2, h##i##3, h##i##4, h##i##5)
                    W4L_EACH6(W4L_ROW);
#undef W4L_ROW
#undef W4L_D
                    /* column j down the rows: points j, 6 + j, ..., 30 + j */
#define W4L_COL(j)                                                                               \
    do {                                                                                         \
        v16f r0_, r1_, r2_, r3_, r4_, r5_;                                                       \
        W4_BT(h0##j, h1##j, h2##j, h3##j, h4##j, h5##j, r0_, r1_, r2_, r3_, r4_, r5_);           \
        *(v16f_u *)(o + (j) * vv) = r0_;                                                         \
        *(v16f_u *)(o + (6 + (j)) * vv) = r1_;                                                   \
        *(v16f_u *)(o + (12 + (j)) * vv) = r2_;                                                  \
        *(v16f_u *)(o + (18 + (j)) * vv) = r3_;                                                  \
        *(v16f_u *)(o + (24 + (j)) * vv) = r4_;                                                  \
        *(v16f_u *)(o + (30 + (j)) * vv) = r5_;                                                  \
    } while (0)
                    W4L_EACH6(W4L_COL);
#undef W4L_COL
                }
        }
    }
}

/* y for output channels [k0, k0 + m) of images [n0, n0 + images_per_block) from M[point][k - k0][col]:
 * A^T m A with the bias into a stage of 4 TH rows of wt = 4 TW positions, then transposed back into
 * the images with the residual and the folded activation (lanes_out). */
static void lanes4_output(const RtConvParams *p, const float *restrict M, int64_t ldb, int64_t mv, int64_t k0,
                          int64_t m, int64_t n0, const float *bias, const float *res, float *y, float *restrict stage)
{
    const int64_t K = p->c_out, P = p->out[1] * p->out[2], G = p->images_per_block;
    const int64_t TH = (p->out[1] + 3) / 4, TW = (p->out[2] + 3) / 4, wt = 4 * TW;
    for (int64_t g = 0; g < G; g += 16) {
        const int64_t lanes = lanes_images(p, n0 + g);
        if (lanes == 0)
            break;
        for (int64_t k = 0; k < m; k++) {
            const int64_t oc = k0 + k;
            const v16f addv = (v16f){0} + (bias ? bias[oc] : 0.0f);
            const float *s = M + k * ldb + g;
            for (int64_t ty = 0; ty < TH; ty++)
                for (int64_t t = 0; t < TW; t++) {
                    const float *c = s + (ty * TW + t) * G;
#define W4L_M(i, j) (*(const v16f_u *)(c + (6 * (i) + (j)) * mv))
#define W4L_ROW(i)                                                                                     \
    v16f e##i##0, e##i##1, e##i##2, e##i##3;                                                           \
    W4_AT(W4L_M(i, 0), W4L_M(i, 1), W4L_M(i, 2), W4L_M(i, 3), W4L_M(i, 4), W4L_M(i, 5), e##i##0, e##i##1, \
          e##i##2, e##i##3)
                    W4L_EACH6(W4L_ROW);
#undef W4L_ROW
#undef W4L_M
                    float *o = stage + (4 * ty * wt + 4 * t) * 16;
                    /* column j of the tile's four output rows */
#define W4L_COL(j)                                                                  \
    do {                                                                            \
        v16f q0_, q1_, q2_, q3_;                                                    \
        W4_AT(e0##j, e1##j, e2##j, e3##j, e4##j, e5##j, q0_, q1_, q2_, q3_);        \
        *(v16f_u *)(o + (j) * 16) = q0_ + addv;                                     \
        *(v16f_u *)(o + (wt + (j)) * 16) = q1_ + addv;                              \
        *(v16f_u *)(o + (2 * wt + (j)) * 16) = q2_ + addv;                          \
        *(v16f_u *)(o + (3 * wt + (j)) * 16) = q3_ + addv;                          \
    } while (0)
                    W4L_COL(0);
                    W4L_COL(1);
                    W4L_COL(2);
                    W4L_COL(3);
#undef W4L_COL
                }
            const int64_t at = ((n0 + g) * K + oc) * P;
            lanes_out(p, stage, wt, 16, lanes, K * P, P, p->out[2], NULL, res ? res + at : NULL, y + at);
        }
    }
}

/* Items [begin, end) of (block of tile rows, channel chunk), chunk fastest: a task's chunks of one
 * block share its transformed input. */
static void conv_winograd4_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *U = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    float *work = bufs[3 + p->has_bias + p->has_residual];
    if (p->groups != 1 || p->rows_per_block <= 0 || p->winograd_tile != 4)
        return;
    const int64_t TW = (p->out[2] + 3) / 4, R = rt_conv_winograd_tile_rows(p);
    const int64_t rpb = p->rows_per_block, nblk = rt_conv_winograd_blocks(p), last_rows = R - (nblk - 1) * rpb;
    const bool lanes = rt_conv_winograd_lanes(p);
    int64_t cs, cc, last_c;
    channel_chunks(p, p->c_out, &cs, &cc, &last_c);
    RtWinogradLayout l = rt_conv_winograd_layout(p);
    float *V = work, *M = V + l.v_floats, *rows = M + l.m_floats, *zero = rows + 6 * l.wp,
          *out = rows + l.plane_floats, *gemm_work = out + l.out_floats;
    if (!lanes)
        memset(rows, 0, (size_t)l.plane_floats * sizeof(float)); /* the padding columns, the zero row */
    int64_t have = -1; /* the block in V */
    for (int64_t it = begin; it < end; it++) {
        const int64_t c = it % cs, blk = it / cs, r0 = blk * rpb;
        const bool full_r = blk < nblk - 1 || lanes, full_c = c < cs - 1;
        const int64_t nr = full_r ? rpb : last_rows, m = full_c ? cc : last_c;
        const int64_t n0 = blk * p->images_per_block; /* lanes */
        if (blk != have) {
            if (lanes)
                lanes4_input(p, x, n0, rows, V, l.ldb, l.vv);
            else
                for (int64_t ci = 0; ci < p->c_in; ci++)
                    for (int64_t j = 0; j < nr; j++) {
                        input_rows(p, x, r0 + j, ci, rows, zero, l.wp);
                        transform_rows(rows, l.wp, TW, V + ci * l.ldb + j * TW, l.vv);
                    }
            have = blk;
        }
        rt_winograd_item_products(p, 36, U, c * cc, full_r, full_c, cc, last_c, rpb * TW, last_rows * TW, V, l.ldb,
                                  l.vv, M, l.mv, gemm_work);
        if (lanes)
            lanes4_output(p, M, l.ldb, l.mv, c * cc, m, n0, bias, res, y, out);
        else
            transform_output(p, M, l.ldb, l.mv, c * cc, m, r0, nr, bias, res, y, out);
    }
}

RT_KERNEL(rt_conv_winograd4_f32)
{
    const RtConvParams *p = params_;
    conv_winograd4_items(p, bufs, 0, rt_conv_winograd_blocks(p) * (p->c_split > 1 ? p->c_split : 1));
}
RT_RANGE_KERNEL(rt_conv_winograd4_f32_range) { conv_winograd4_items(params_, bufs, begin, end); }
