/* runtime/kernels/conv_winograd_lanes.c — Winograd F(2x2, 3x3) transforms for small images, the
 * tiles of 16 images side by side in each vector's lanes. The row-wise transforms of conv_winograd.c
 * take 16 tiles of one tile row per vector: an image 4 outputs wide has 2, so 7 of 8 lanes computed
 * nothing, and ResNet's 7x7 and 4x4 layers spent more time in the transforms than in the products
 * (a 4x4 layer of 256 channels, batch 256: 12.9 ms, against 14.1 for the direct kernel). Here each
 * channel of 16 images is transposed once (16x16 blocks in registers) into a plane whose every
 * position holds that pixel of the 16 images, so each point of each tile is one whole vector; the
 * outputs go back through the same transpose. */
#include "runtime/kernels/conv_winograd_lanes.h"

#include <string.h>

#include "runtime/kernels/conv_rows.h"

#if defined(__clang__)
#define WL_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define WL_SHUF(a, b, ...) __builtin_shuffle(a, b, (v16i){__VA_ARGS__})
#endif

/* One step of the transpose: rows i and j (= i + d) swap bit d of the row with bit d of the lane. */
#define WL_PAIR(r, i, j, LO, HI)                    \
    do {                                            \
        const v16f a_ = (r)[i], b_ = (r)[j];        \
        (r)[i] = WL_SHUF(a_, b_, LO);               \
        (r)[j] = WL_SHUF(a_, b_, HI);               \
    } while (0)
#define WL_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define WL_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define WL_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define WL_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define WL_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define WL_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define WL_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define WL_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31

/* r[i][l] <-> r[l][i] for the 16 vectors of r: 64 two-source shuffles, written out (the kernels are
 * built without unrolling, and a loop would keep r in memory) */
static inline void transpose16(v16f *r)
{
    WL_PAIR(r, 0, 8, WL_LO8, WL_HI8); WL_PAIR(r, 1, 9, WL_LO8, WL_HI8); WL_PAIR(r, 2, 10, WL_LO8, WL_HI8);
    WL_PAIR(r, 3, 11, WL_LO8, WL_HI8); WL_PAIR(r, 4, 12, WL_LO8, WL_HI8); WL_PAIR(r, 5, 13, WL_LO8, WL_HI8);
    WL_PAIR(r, 6, 14, WL_LO8, WL_HI8); WL_PAIR(r, 7, 15, WL_LO8, WL_HI8);
    WL_PAIR(r, 0, 4, WL_LO4, WL_HI4); WL_PAIR(r, 1, 5, WL_LO4, WL_HI4); WL_PAIR(r, 2, 6, WL_LO4, WL_HI4);
    WL_PAIR(r, 3, 7, WL_LO4, WL_HI4); WL_PAIR(r, 8, 12, WL_LO4, WL_HI4); WL_PAIR(r, 9, 13, WL_LO4, WL_HI4);
    WL_PAIR(r, 10, 14, WL_LO4, WL_HI4); WL_PAIR(r, 11, 15, WL_LO4, WL_HI4);
    WL_PAIR(r, 0, 2, WL_LO2, WL_HI2); WL_PAIR(r, 1, 3, WL_LO2, WL_HI2); WL_PAIR(r, 4, 6, WL_LO2, WL_HI2);
    WL_PAIR(r, 5, 7, WL_LO2, WL_HI2); WL_PAIR(r, 8, 10, WL_LO2, WL_HI2); WL_PAIR(r, 9, 11, WL_LO2, WL_HI2);
    WL_PAIR(r, 12, 14, WL_LO2, WL_HI2); WL_PAIR(r, 13, 15, WL_LO2, WL_HI2);
    WL_PAIR(r, 0, 1, WL_LO1, WL_HI1); WL_PAIR(r, 2, 3, WL_LO1, WL_HI1); WL_PAIR(r, 4, 5, WL_LO1, WL_HI1);
    WL_PAIR(r, 6, 7, WL_LO1, WL_HI1); WL_PAIR(r, 8, 9, WL_LO1, WL_HI1); WL_PAIR(r, 10, 11, WL_LO1, WL_HI1);
    WL_PAIR(r, 12, 13, WL_LO1, WL_HI1); WL_PAIR(r, 14, 15, WL_LO1, WL_HI1);
}

#define WL_EACH16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)

/* Images [n0, n0 + 16) that exist */
static inline int64_t lanes_at(const RtConvParams *p, int64_t n0)
{
    const int64_t left = p->batch - n0;
    return left < 0 ? 0 : left > 16 ? 16 : left;
}

/* dst[pos(q) * 16 + l] = plane q of image l (src + l * image floats), for the P floats of the
 * planes of the first `lanes` images (zero for the others); pos(q) = (q / w + oy) * wp + q % w + ox */
static void transpose_in(const float *src, int64_t image, int64_t lanes, int64_t P, int64_t w, int64_t oy, int64_t ox,
                         int64_t wp, float *restrict dst)
{
    int64_t q = 0;
    for (; q + 16 <= P; q += 16) {
        v16f r[16];
#define WL_LOAD(l) if ((l) < lanes) r[l] = *(const v16f_u *)(src + (l) * image + q); else r[l] = (v16f){0};
        WL_EACH16(WL_LOAD)
#undef WL_LOAD
        transpose16(r);
#define WL_PUT(l) *(v16f_u *)(dst + (((q + (l)) / w + oy) * wp + (q + (l)) % w + ox) * 16) = r[l];
        WL_EACH16(WL_PUT)
#undef WL_PUT
    }
    for (; q < P; q++) {
        float *d = dst + ((q / w + oy) * wp + q % w + ox) * 16;
        for (int64_t l = 0; l < 16; l++)
            d[l] = l < lanes ? src[l * image + q] : 0.0f;
    }
}

void rt_winograd_lanes_input(const RtConvParams *p, const float *x, int64_t n0, float *restrict plane,
                             float *restrict V, int64_t ldb, int64_t vv)
{
    const int64_t C = p->c_in, IH = p->in[1], IW = p->in[2], G = p->images_per_block;
    const int64_t TH = (p->out[1] + 1) / 2, TW = (p->out[2] + 1) / 2, wp = 2 * TW + 2;
    /* the padding stays zero: every channel writes the same positions */
    memset(plane, 0, (size_t)((2 * TH + 2) * wp * 16) * sizeof(float));
    for (int64_t g = 0; g < G; g += 16) {
        const int64_t lanes = lanes_at(p, n0 + g);
        for (int64_t c = 0; c < C; c++) {
            transpose_in(x + ((n0 + g) * C + c) * IH * IW, C * IH * IW, lanes, IH * IW, IW, p->pad[1], p->pad[2], wp,
                         plane);
            float *v = V + c * ldb + g;
            for (int64_t ty = 0; ty < TH; ty++)
                for (int64_t t = 0; t < TW; t++) {
                    const float *b = plane + (2 * ty * wp + 2 * t) * 16;
                    /* each row i: d_i0 - d_i2, d_i1 + d_i2, d_i2 - d_i1, d_i1 - d_i3 (a_i0 .. a_i3) */
#define WL_D(i, j) (*(const v16f_u *)(b + ((i) * wp + (j)) * 16))
#define WL_ROW(i, a0, a1, a2, a3)                                                                 \
    const v16f a0 = WL_D(i, 0) - WL_D(i, 2), a1 = WL_D(i, 1) + WL_D(i, 2), a2 = WL_D(i, 2) - WL_D(i, 1), \
               a3 = WL_D(i, 1) - WL_D(i, 3)
                    WL_ROW(0, a00, a01, a02, a03);
                    WL_ROW(1, a10, a11, a12, a13);
                    WL_ROW(2, a20, a21, a22, a23);
                    WL_ROW(3, a30, a31, a32, a33);
#undef WL_ROW
#undef WL_D
                    float *o = v + (ty * TW + t) * G;
#define WL_V(xi, val) (*(v16f_u *)(o + (xi) * vv) = (val))
                    WG_INPUT_POINTS(WL_V);
#undef WL_V
                }
        }
    }
}

/* y[image][oc] (P = OH * OW floats, image floats apart) += residual, clamped, from the stage's 16
 * lanes (position oy * wt + ox); lanes images of them exist. Each output written once, so y may be
 * the residual's buffer. */
static void transpose_out(const RtConvParams *p, const float *restrict stage, int64_t wt, int64_t lanes, int64_t image,
                          const float *res, float *y)
{
    const int64_t OW = p->out[2], P = p->out[1] * OW;
    const bool clip = p->has_clip;
    const float lo = p->clip_min, hi = p->clip_max;
    int64_t q = 0;
    for (; q + 16 <= P; q += 16) {
        v16f r[16];
#define WL_GET(l) r[l] = *(const v16f_u *)(stage + ((q + (l)) / OW * wt + (q + (l)) % OW) * 16);
        WL_EACH16(WL_GET)
#undef WL_GET
        transpose16(r);
        for (int64_t l = 0; l < lanes; l++) {
            v16f v = r[l];
            if (res)
                v += *(const v16f_u *)(res + l * image + q);
            if (clip)
                CLIP_LANES(v, v16f, v16i, lo, hi);
            *(v16f_u *)(y + l * image + q) = v;
        }
    }
    for (; q < P; q++) {
        const float *s = stage + (q / OW * wt + q % OW) * 16;
        for (int64_t l = 0; l < lanes; l++) {
            const float v = s[l] + (res ? res[l * image + q] : 0.0f);
            y[l * image + q] = clip ? clip_value(v, lo, hi) : v;
        }
    }
}

void rt_winograd_lanes_output(const RtConvParams *p, const float *restrict M, int64_t ldb, int64_t mv, int64_t k0,
                              int64_t m, int64_t n0, const float *bias, const float *res, float *y,
                              float *restrict stage)
{
    const int64_t K = p->c_out, P = p->out[1] * p->out[2], G = p->images_per_block;
    const int64_t TH = (p->out[1] + 1) / 2, TW = (p->out[2] + 1) / 2, wt = 2 * TW;
    for (int64_t g = 0; g < G; g += 16) {
        const int64_t lanes = lanes_at(p, n0 + g);
        if (lanes == 0)
            break;
        for (int64_t k = 0; k < m; k++) {
            const int64_t oc = k0 + k;
            const v16f addv = (v16f){0} + (bias ? bias[oc] : 0.0f);
            const float *s = M + k * ldb + g;
            for (int64_t ty = 0; ty < TH; ty++)
                for (int64_t t = 0; t < TW; t++) {
                    const float *c = s + (ty * TW + t) * G;
#define WL_M(xi) (*(const v16f_u *)(c + (xi) * mv))
                    /* columns: m_i0 + m_i1 + m_i2 and m_i1 - m_i2 - m_i3 of each row i */
                    const v16f b00 = WL_M(0) + WL_M(1) + WL_M(2), b01 = WL_M(1) - WL_M(2) - WL_M(3);
                    const v16f b10 = WL_M(4) + WL_M(5) + WL_M(6), b11 = WL_M(5) - WL_M(6) - WL_M(7);
                    const v16f b20 = WL_M(8) + WL_M(9) + WL_M(10), b21 = WL_M(9) - WL_M(10) - WL_M(11);
                    const v16f b30 = WL_M(12) + WL_M(13) + WL_M(14), b31 = WL_M(13) - WL_M(14) - WL_M(15);
#undef WL_M
                    float *o = stage + (2 * ty * wt + 2 * t) * 16;
                    *(v16f_u *)o = b00 + b10 + b20 + addv;
                    *(v16f_u *)(o + 16) = b01 + b11 + b21 + addv;
                    *(v16f_u *)(o + wt * 16) = b10 - b20 - b30 + addv;
                    *(v16f_u *)(o + wt * 16 + 16) = b11 - b21 - b31 + addv;
                }
            const int64_t at = ((n0 + g) * K + oc) * P;
            transpose_out(p, stage, wt, lanes, K * P, res ? res + at : NULL, y + at);
        }
    }
}

void rt_winograd_lanes_dy(const RtConvParams *p, const float *dy, int64_t n0, float *restrict stage,
                          float *restrict D, int64_t ldb, int64_t dv)
{
    const int64_t K = p->c_out, OH = p->out[1], OW = p->out[2], G = p->images_per_block;
    const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2, wt = 2 * TW;
    /* the row and column past an odd size stay zero */
    memset(stage, 0, (size_t)(2 * TH * wt * 16) * sizeof(float));
    for (int64_t g = 0; g < G; g += 16) {
        const int64_t lanes = lanes_at(p, n0 + g);
        for (int64_t k = 0; k < K; k++) {
            transpose_in(dy + ((n0 + g) * K + k) * OH * OW, K * OH * OW, lanes, OH * OW, OW, 0, 0, wt, stage);
            float *d = D + k * ldb + g;
            for (int64_t ty = 0; ty < TH; ty++)
                for (int64_t t = 0; t < TW; t++) {
                    const float *b = stage + (2 * ty * wt + 2 * t) * 16;
                    const v16f y00 = *(const v16f_u *)b, y01 = *(const v16f_u *)(b + 16);
                    const v16f y10 = *(const v16f_u *)(b + wt * 16), y11 = *(const v16f_u *)(b + wt * 16 + 16);
                    /* rows: y0, y0 + y1, y0 - y1, -y1; then the same along the columns */
                    const v16f a10 = y00 + y10, a11 = y01 + y11, a20 = y00 - y10, a21 = y01 - y11;
                    float *o = d + (ty * TW + t) * G;
#define WL_DV(xi, val) (*(v16f_u *)(o + (xi) * dv) = (val))
                    WL_DV(0, y00), WL_DV(1, y00 + y01), WL_DV(2, y00 - y01), WL_DV(3, -y01);
                    WL_DV(4, a10), WL_DV(5, a10 + a11), WL_DV(6, a10 - a11), WL_DV(7, -a11);
                    WL_DV(8, a20), WL_DV(9, a20 + a21), WL_DV(10, a20 - a21), WL_DV(11, -a21);
                    WL_DV(12, -y10), WL_DV(13, -y10 - y11), WL_DV(14, y11 - y10), WL_DV(15, y11);
#undef WL_DV
                }
        }
    }
}
