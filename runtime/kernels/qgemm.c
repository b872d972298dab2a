/* runtime/kernels/qgemm.c — see qgemm.h: the weight packing and the im2col int8 and bf16
 * convolutions (the matrix products are qmatmul.c's, the direct convolutions qconv_direct.c's).
 * Built twice into the bitcode: as plain C (every target), and with RT_QGEMM_AVX512 and the
 * AVX512-VNNI/BF16 features on, where the inner tiles use vpdpbusd and vdpbf16ps and every kernel's
 * name ends in "_avx512". Both builds share everything else: packing, tiling over output pixels and
 * channels, and the requantizing epilogue. */
#include "runtime/kernels/qgemm_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* weight packing (the portable build only: one definition)                                    */
/* ------------------------------------------------------------------------------------------ */

#if !defined(RT_QGEMM_AVX512)
RT_KERNEL(rt_pack_weights)
{
    const RtPackParams *p = params_;
    const int step = p->bf16 ? 2 : 4;
    if (p->matmul) {
        const int64_t kp = ceil_div(p->k, step) * step, np = ceil_div(p->n, 16) * 16;
        for (int64_t kk = 0; kk < kp; kk++)
            for (int64_t j = 0; j < np; j++) {
                int64_t dst = rt_qmm_lane(kk / step, j, kp / step, np) * step + kk % step;
                bool in = kk < p->k && j < p->n;
                if (p->bf16)
                    ((uint16_t *)bufs[1])[dst] = (uint16_t)(in ? bf16_bits(((const float *)bufs[0])[kk * p->n + j]) : 0);
                else
                    ((int8_t *)bufs[1])[dst] = in ? ((const int8_t *)bufs[0])[kk * p->n + j] : 0;
            }
        return;
    }
    const int64_t kp = ceil_div(p->k, step) * step, cp = ceil_div(p->rows, 16) * 16;
    for (int64_t g = 0; g < p->groups; g++)
        for (int64_t r = 0; r < cp; r++)
            for (int64_t kk = 0; kk < kp; kk++) {
                int64_t panel = r / RT_QG_MR, lane = r % RT_QG_MR;
                int64_t dst = g * cp * kp + panel * RT_QG_MR * kp + (kk / step) * RT_QG_MR * step + lane * step + kk % step;
                bool in = r < p->rows && kk < p->k;
                int64_t src = (g * p->rows + r) * p->k + (p->taps_inner && in ? rt_qconv_k_of(kk, p->taps_inner, step) : kk);
                if (p->bf16)
                    ((uint16_t *)bufs[1])[dst] = (uint16_t)(in ? bf16_bits(((const float *)bufs[0])[src]) : 0);
                else
                    ((int8_t *)bufs[1])[dst] = in ? ((const int8_t *)bufs[0])[src] : 0;
            }
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* im2col rows                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* The output columns [ow_lo, ow_hi) whose input column ow * s + off lies inside [0, in). */
static inline void inner_range(int64_t out, int64_t in, int64_t s, int64_t off, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : ceil_div(-off, s);
    int64_t t = in - 1 - off;
    int64_t h = t < 0 ? 0 : t / s + 1;
    if (l > out)
        l = out;
    if (h > out)
        h = out;
    if (h < l)
        h = l;
    *lo = l, *hi = h;
}

/* Row k of the column matrix for output rows [row0, row0 + nrows) of one image and group:
 * x points at the group's first input channel. Out-of-bounds taps read `pad`. */
#define IM2COL_ROW(NAME, T)                                                                             \
    static void NAME(const RtQConvParams *p, const T *restrict x, int64_t k, int64_t row0, int64_t nrows, \
                     T pad, T *restrict r)                                                              \
    {                                                                                                   \
        const int64_t K1 = p->kernel[1], K2 = p->kernel[2], kvol = p->kernel[0] * K1 * K2;              \
        const int64_t ic = k / kvol, t = k % kvol, kd = t / (K1 * K2), kh = (t / K2) % K1, kw = t % K2;  \
        const int64_t OH = p->out[1], OW = p->out[2], IH = p->in[1], IW = p->in[2];                     \
        const T *xc = x + ic * p->in[0] * IH * IW;                                                      \
        const int64_t off = kw * p->dilation[2] - p->pad[2], s = p->stride[2];                          \
        int64_t lo, hi;                                                                                 \
        inner_range(OW, IW, s, off, &lo, &hi);                                                          \
        for (int64_t rr = 0; rr < nrows; rr++) {                                                        \
            int64_t orow = row0 + rr, od = orow / OH, oh = orow % OH;                                    \
            int64_t id = od * p->stride[0] + kd * p->dilation[0] - p->pad[0];                            \
            int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad[1];                            \
            T *o = r + rr * OW;                                                                         \
            if (id < 0 || id >= p->in[0] || ih < 0 || ih >= IH) {                                        \
                for (int64_t ow = 0; ow < OW; ow++)                                                     \
                    o[ow] = pad;                                                                        \
                continue;                                                                               \
            }                                                                                           \
            const T *xr = xc + (id * IH + ih) * IW + off;                                               \
            for (int64_t ow = 0; ow < lo; ow++)                                                         \
                o[ow] = pad;                                                                            \
            if (s == 1)                                                                                 \
                for (int64_t ow = lo; ow < hi; ow++)                                                    \
                    o[ow] = xr[ow];                                                                     \
            else                                                                                        \
                for (int64_t ow = lo; ow < hi; ow++)                                                    \
                    o[ow] = xr[ow * s];                                                                 \
            for (int64_t ow = hi; ow < OW; ow++)                                                        \
                o[ow] = pad;                                                                            \
        }                                                                                               \
    }

IM2COL_ROW(im2col_row_u8, uint8_t)
IM2COL_ROW(im2col_row_f32, float)

/* Row k of a block's column matrix, staged in r: rows [row0, row0 + nrows) of ni images side by side
 * (image i's group at x + i * xs), zeros for a k past the group's, pad after the last pixel up to
 * npad. */
#define STAGE_ROW(NAME, T, IM2COL)                                                                      \
    static void NAME(const RtQConvParams *p, const T *restrict x, int64_t xs, int64_t ni, int64_t k,    \
                     int64_t row0, int64_t nrows, int64_t npad, T pad, T *restrict r)                   \
    {                                                                                                   \
        const int64_t per = nrows * p->out[2], plane = p->in[0] * p->in[1] * p->in[2];                  \
        if (k >= p->k) {                                                                                \
            for (int64_t q = 0; q < npad; q++)                                                          \
                r[q] = 0;                                                                               \
        } else {                                                                                        \
            for (int64_t i = 0; i < ni; i++) {                                                          \
                if (p->pointwise) {                                                                     \
                    const T *src = x + i * xs + k * plane + row0 * p->out[2];                           \
                    for (int64_t q = 0; q < per; q++)                                                   \
                        r[i * per + q] = src[q];                                                        \
                } else {                                                                                \
                    IM2COL(p, x + i * xs, k, row0, nrows, pad, r + i * per);                            \
                }                                                                                       \
            }                                                                                           \
        }                                                                                               \
        for (int64_t q = ni * per; q < npad; q++)                                                       \
            r[q] = pad;                                                                                 \
    }

STAGE_ROW(stage_row_u8, uint8_t, im2col_row_u8)
STAGE_ROW(stage_row_f32, float, im2col_row_f32)

/* The block's columns as [kp/4][npad][4] bytes, rows rt_qconv_col_stride(npad) lanes apart: 4 rows
 * staged contiguously, then interleaved. The block is rows [row0, row0 + nrows) of ni images side
 * by side (ni > 1: whole images), image i's group at x + i * xs. */
static void pack_cols_u8(const RtQConvParams *p, const uint8_t *restrict x, int64_t xs, int64_t ni, int64_t row0,
                         int64_t nrows, int64_t npad, uint8_t *restrict col, uint8_t *restrict stage)
{
    const int64_t per = nrows * p->out[2], np = ni * per, plane = p->in[0] * p->in[1] * p->in[2];
    const uint8_t zp = (uint8_t)p->x_zp;
    const int64_t lds = rt_qconv_col_stride(npad);
    for (int64_t k4 = 0; k4 < p->kp / 4; k4++) {
        if (p->pointwise && 4 * k4 + 3 < p->k) { /* 4 rows of x as they are: interleaved straight */
            uint32_t *dst = (uint32_t *)(col + k4 * lds * 4);
            for (int64_t i = 0; i < ni; i++)
                interleave4(x + i * xs + 4 * k4 * plane + row0 * p->out[2], plane, 0, 1, per, per, dst + i * per);
            for (int64_t q = np; q < npad; q++)
                dst[q] = (uint32_t)zp * 0x01010101u;
            continue;
        }
        const uint8_t *rows[4];
        for (int j = 0; j < 4; j++) {
            int64_t k = 4 * k4 + j;
            if (p->taps_inner)
                k = rt_qconv_k_of(k, p->kernel[0] * p->kernel[1] * p->kernel[2], 4);
            stage_row_u8(p, x, xs, ni, k, row0, nrows, npad, zp, stage + j * npad);
            rows[j] = stage + j * npad;
        }
        uint8_t *dst = col + k4 * lds * 4;
        const uint8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
        for (int64_t q = 0; q < npad; q++) {
            dst[4 * q] = r0[q];
            dst[4 * q + 1] = r1[q];
            dst[4 * q + 2] = r2[q];
            dst[4 * q + 3] = r3[q];
        }
    }
}

/* The block's columns as [kp/2][npad] pairs of bf16 (low half: the even k), rows
 * rt_qconv_col_stride(npad) lanes apart; the block as pack_cols_u8's (ni images side by side). */
static void pack_cols_bf16(const RtQConvParams *p, const float *restrict x, int64_t xs, int64_t ni, int64_t row0,
                           int64_t nrows, int64_t npad, uint32_t *restrict col, float *restrict stage)
{
    const int64_t per = nrows * p->out[2], np = ni * per, plane = p->in[0] * p->in[1] * p->in[2];
    const int64_t lds = rt_qconv_col_stride(npad);
    for (int64_t k2 = 0; k2 < p->kp / 2; k2++) {
        if (p->pointwise && 2 * k2 + 1 < p->k) { /* 2 rows of x as they are: interleaved straight */
            uint32_t *dst = col + k2 * lds;
            for (int64_t i = 0; i < ni; i++)
                interleave2_bf16(x + i * xs + 2 * k2 * plane + row0 * p->out[2], plane, 0, 1, per, per, dst + i * per);
            for (int64_t q = np; q < npad; q++)
                dst[q] = 0;
            continue;
        }
        const float *rows[2];
        for (int j = 0; j < 2; j++) {
            int64_t k = 2 * k2 + j;
            if (p->taps_inner)
                k = rt_qconv_k_of(k, p->kernel[0] * p->kernel[1] * p->kernel[2], 2);
            stage_row_f32(p, x, xs, ni, k, row0, nrows, npad, 0.0f, stage + j * npad);
            rows[j] = stage + j * npad;
        }
        interleave2_bf16(rows[0], rows[1] - rows[0], 0, 1, npad, npad, col + k2 * lds);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* int8 convolution                                                                            */
/* ------------------------------------------------------------------------------------------ */

static inline void conv_item(const RtQConvParams *p, int64_t item, int64_t *n, int64_t *g, int64_t *blk, int64_t *cs)
{
    *cs = item % p->c_split, item /= p->c_split;
    *blk = item % p->n_blocks, item /= p->n_blocks;
    *g = item % p->groups;
    *n = item / p->groups;
}

/* An item's block of pixels: ni images from n0 (several only for whole images), output rows
 * [row0, row0 + nrows) of group g, np pixels in npad columns; cs its chunk of channel panels. */
typedef struct QBlock {
    int64_t n0, ni, g, row0, nrows, np, npad, cs;
} QBlock;

static inline QBlock block_of(const RtQConvParams *p, int64_t item)
{
    int64_t nb, g, blk, cs;
    conv_item(p, item, &nb, &g, &blk, &cs);
    const int64_t ipb = p->images_per_block > 1 ? p->images_per_block : 1, rows_total = p->out[0] * p->out[1];
    QBlock b = {.n0 = nb * ipb, .g = g, .row0 = blk * p->rows_per_block, .cs = cs};
    b.ni = min64(ipb, p->batch - b.n0);
    b.nrows = min64(p->rows_per_block, rows_total - b.row0);
    b.np = b.ni * b.nrows * p->out[2];
    b.npad = ceil_div(b.np, RT_QG_NR) * RT_QG_NR;
    return b;
}

/* The columns each image has in a block: column a of a block of whole images side by side lies in
 * its image a / image_cols, at a % image_cols. */
static inline int64_t image_cols(const RtQConvParams *p)
{
    return p->images_per_block > 1 ? p->out[0] * p->out[1] * p->out[2] : p->rows_per_block * p->out[2];
}

/* The tile's sums of rows output channels from oc0, its columns [t, t + cnt) of the block that
 * starts at row row0 of image n0: each image's run of them (a block of whole images) requantized
 * into y, with the residual res where given. */
static void store_conv_tile(const RtQConvParams *p, const int32_t *acc, int64_t n0, int64_t row0, int64_t t,
                            int64_t cnt, int64_t oc0, int64_t rows, const int32_t *bias, const float *mult,
                            const uint8_t *res, uint8_t *y)
{
    const int64_t OW = p->out[2], plane_out = p->out[0] * p->out[1] * OW, per = image_cols(p);
    const size_t es = out_size(p->out_kind);
    for (int64_t a = t; a < t + cnt;) {
        const int64_t i = a / per, b = min64((i + 1) * per, t + cnt);
        for (int64_t r = 0; r < rows; r++) {
            /* where column a of image n0 + i goes, and where the tile's column t would */
            const int64_t at = ((n0 + i) * p->c_out + oc0 + r) * plane_out + row0 * OW + (a - i * per);
#if QG_SIMD
            if (p->out_kind != RT_QOUT_F32) {
                const int64_t t_at = at - (a - t); /* may lie before the row: its lanes are masked off */
                const uint32_t m = (uint32_t)(((uint64_t)1 << (b - t)) - ((uint64_t)1 << (a - t)));
                requant32_store(acc + r * RT_QG_NR, bias[oc0 + r], mult[oc0 + r],
                                res ? (const uint8_t *)((uintptr_t)res + (uintptr_t)t_at) : NULL, p->r_zp, p->r_mult,
                                m, p->y_zp, p->qmin, p->qmax, QG_LUT(p),
                                (void *)((uintptr_t)y + (uintptr_t)t_at));
                continue;
            }
#endif
            requant_conv_row(p, acc + r * RT_QG_NR + (a - t), b - a, bias[oc0 + r], mult[oc0 + r],
                             res ? res + at : NULL, y + at * es);
        }
        a = b;
    }
}

static void pack_block_u8(const RtQConvParams *p, const uint8_t *x, const QBlock *b, uint8_t *col, uint8_t *stage)
{
    const int64_t plane_in = p->in[0] * p->in[1] * p->in[2], cin_g = p->c_in / p->groups;
    pack_cols_u8(p, x + (b->n0 * p->c_in + b->g * cin_g) * plane_in, p->c_in * plane_in, b->ni, b->row0, b->nrows,
                 b->npad, col, stage);
}

static void qconv_items(const RtQConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const uint8_t *x = bufs[0];
    const int8_t *w = bufs[1];
    const int32_t *bias = bufs[2];
    const float *mult = bufs[3];
    const uint8_t *res = p->has_residual ? bufs[4] : NULL;
    uint8_t *y = bufs[4 + p->has_residual];
    uint8_t *ws = bufs[5 + p->has_residual];
    uint8_t *shared = p->shared_cols ? bufs[6 + p->has_residual] : NULL;
    const size_t col_bytes = rt_qconv_col_bytes(p, false);
    uint8_t *col = ws, *stage = ws + (shared ? 0 : col_bytes);
    int32_t *acc = (int32_t *)(((uintptr_t)(stage + 4 * rt_qconv_block_npad(p)) + 63) & ~(uintptr_t)63);
    const int64_t cout_g = p->c_out / p->groups, panels = p->cp / RT_QG_MR;
    for (int64_t item = begin; item < end; item++) {
        const QBlock b = block_of(p, item);
        if (shared)
            col = shared + (size_t)(item / p->c_split) * col_bytes;
        else
            pack_block_u8(p, x, &b, col, stage);
        int64_t pan0 = b.cs * panels / p->c_split, pan1 = (b.cs + 1) * panels / p->c_split;
        for (int64_t pan = pan0; pan < pan1; pan++) {
            int64_t c0 = pan * RT_QG_MR;
            if (c0 >= cout_g)
                break;
            int64_t rows = min64(RT_QG_MR, cout_g - c0), oc0 = b.g * cout_g + c0;
            const int8_t *wp = w + b.g * p->cp * p->kp + pan * RT_QG_MR * p->kp;
            for (int64_t t = 0; t < b.npad; t += RT_QG_NR) {
                tile_u8(col + t * 4, rt_qconv_col_stride(b.npad) * 4, NULL, wp, p->kp / 4, acc);
                store_conv_tile(p, acc, b.n0, b.row0, t, min64(RT_QG_NR, b.np - t), oc0, rows, bias, mult, res, y);
            }
        }
    }
}

/* Blocks [begin, end) packed into the shared scratch (shared_cols). */
static void qconv_pack_items(const RtQConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const size_t col_bytes = rt_qconv_col_bytes(p, false);
    for (int64_t blk = begin; blk < end; blk++) {
        const QBlock b = block_of(p, blk * p->c_split);
        pack_block_u8(p, bufs[0], &b, (uint8_t *)bufs[2] + (size_t)blk * col_bytes, bufs[1]);
    }
}

RT_RANGE_KERNEL(QG(rt_qconv_pack_u8_range)) { qconv_pack_items(params_, bufs, begin, end); }

RT_KERNEL(QG(rt_qconv_pack_u8)) { qconv_pack_items(params_, bufs, 0, rt_qconv_blocks(params_)); }

RT_RANGE_KERNEL(QG(rt_qconv_u8_range)) { qconv_items(params_, bufs, begin, end); }

RT_KERNEL(QG(rt_qconv_u8)) { qconv_items(params_, bufs, 0, rt_qconv_items(params_)); }

/* ------------------------------------------------------------------------------------------ */
/* bf16 convolution                                                                            */
/* ------------------------------------------------------------------------------------------ */

static void pack_block_bf16(const RtQConvParams *p, const float *x, const QBlock *b, uint32_t *col, float *stage)
{
    const int64_t plane_in = p->in[0] * p->in[1] * p->in[2], cin_g = p->c_in / p->groups;
    pack_cols_bf16(p, x + (b->n0 * p->c_in + b->g * cin_g) * plane_in, p->c_in * plane_in, b->ni, b->row0, b->nrows,
                   b->npad, col, stage);
}

/* The same for bf16's f32 sums: plus the bias and the residual res where given, clamped to
 * [lo, hi]. */
static void store_bf16_tile(const RtQConvParams *p, const float *acc, int64_t n0, int64_t row0, int64_t t,
                            int64_t cnt, int64_t oc0, int64_t rows, const float *bias, const float *res, float *y)
{
    const int64_t OW = p->out[2], plane_out = p->out[0] * p->out[1] * OW, per = image_cols(p);
    for (int64_t a = t; a < t + cnt;) {
        const int64_t i = a / per, b = min64((i + 1) * per, t + cnt);
        for (int64_t r = 0; r < rows; r++) {
            const int64_t at = ((n0 + i) * p->c_out + oc0 + r) * plane_out + row0 * OW + (a - i * per);
            const float *s = acc + r * RT_QG_NR + (a - t), bb = bias ? bias[oc0 + r] : 0.0f;
            float *dst = y + at;
            if (res)
                for (int64_t q = 0; q < b - a; q++)
                    dst[q] = fminf(fmaxf(s[q] + bb + res[at + q], p->lo), p->hi);
            else
                for (int64_t q = 0; q < b - a; q++)
                    dst[q] = fminf(fmaxf(s[q] + bb, p->lo), p->hi);
        }
        a = b;
    }
}

static void conv_bf16_items(const RtQConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0];
    const uint32_t *w = bufs[1]; /* bf16 pairs */
    const float *bias = p->has_bias ? bufs[2] : NULL;
    const float *res = p->has_residual ? bufs[2 + p->has_bias] : NULL;
    float *y = bufs[2 + p->has_bias + p->has_residual];
    uint8_t *ws = bufs[3 + p->has_bias + p->has_residual];
    uint8_t *shared = p->shared_cols ? bufs[4 + p->has_bias + p->has_residual] : NULL;
    const int64_t cout_g = p->c_out / p->groups;
    const size_t col_bytes = rt_qconv_col_bytes(p, true);
    uint32_t *col = (uint32_t *)ws;
    float *stage = (float *)(ws + (shared ? 0 : col_bytes));
    float *acc = (float *)(((uintptr_t)(stage + 4 * rt_qconv_block_npad(p)) + 63) & ~(uintptr_t)63);
    const int64_t panels = p->cp / RT_QG_MR;
    for (int64_t item = begin; item < end; item++) {
        const QBlock b = block_of(p, item);
        if (shared)
            col = (uint32_t *)(shared + (size_t)(item / p->c_split) * col_bytes);
        else
            pack_block_bf16(p, x, &b, col, stage);
        int64_t pan0 = b.cs * panels / p->c_split, pan1 = (b.cs + 1) * panels / p->c_split;
        for (int64_t pan = pan0; pan < pan1; pan++) {
            int64_t c0 = pan * RT_QG_MR;
            if (c0 >= cout_g)
                break;
            int64_t rows = min64(RT_QG_MR, cout_g - c0), oc0 = b.g * cout_g + c0;
            const uint32_t *wp = w + (b.g * p->cp * p->kp + pan * RT_QG_MR * p->kp) / 2;
            for (int64_t t = 0; t < b.npad; t += RT_QG_NR) {
                tile_bf16(col + t, rt_qconv_col_stride(b.npad), NULL, wp, p->kp / 2, acc);
                store_bf16_tile(p, acc, b.n0, b.row0, t, min64(RT_QG_NR, b.np - t), oc0, rows, bias, res, y);
            }
        }
    }
}

/* Blocks [begin, end) packed into the shared scratch (shared_cols). */
static void conv_bf16_pack_items(const RtQConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const size_t col_bytes = rt_qconv_col_bytes(p, true);
    for (int64_t blk = begin; blk < end; blk++) {
        const QBlock b = block_of(p, blk * p->c_split);
        pack_block_bf16(p, bufs[0], &b, (uint32_t *)((uint8_t *)bufs[2] + (size_t)blk * col_bytes), bufs[1]);
    }
}

RT_RANGE_KERNEL(QG(rt_conv_bf16_pack_range)) { conv_bf16_pack_items(params_, bufs, begin, end); }

RT_KERNEL(QG(rt_conv_bf16_pack)) { conv_bf16_pack_items(params_, bufs, 0, rt_qconv_blocks(params_)); }

RT_RANGE_KERNEL(QG(rt_conv_bf16_range)) { conv_bf16_items(params_, bufs, begin, end); }

RT_KERNEL(QG(rt_conv_bf16)) { conv_bf16_items(params_, bufs, 0, rt_qconv_items(params_)); }
