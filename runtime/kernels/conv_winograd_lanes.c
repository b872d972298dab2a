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

#include "runtime/kernels/conv_lanes.h"

void rt_winograd_lanes_input(const RtConvParams *p, const float *x, int64_t n0, float *restrict plane,
                             float *restrict V, int64_t ldb, int64_t vv)
{
    const int64_t C = p->c_in, IH = p->in[1], IW = p->in[2], G = p->images_per_block;
    const int64_t TH = (p->out[1] + 1) / 2, TW = (p->out[2] + 1) / 2, wp = 2 * TW + 2;
    /* the padding stays zero: every channel writes the same positions */
    memset(plane, 0, (size_t)((2 * TH + 2) * wp * 16) * sizeof(float));
    for (int64_t g = 0; g < G; g += 16) {
        const int64_t lanes = lanes_images(p, n0 + g);
        for (int64_t c = 0; c < C; c++) {
            lanes_in(x + ((n0 + g) * C + c) * IH * IW, C * IH * IW, lanes, IH * IW, IW, p->pad[1], p->pad[2], wp,
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

void rt_winograd_lanes_output(const RtConvParams *p, const float *restrict M, int64_t ldb, int64_t mv, int64_t k0,
                              int64_t m, int64_t n0, const float *bias, const float *res, float *y,
                              float *restrict stage)
{
    const int64_t K = p->c_out, P = p->out[1] * p->out[2], G = p->images_per_block;
    const int64_t TH = (p->out[1] + 1) / 2, TW = (p->out[2] + 1) / 2, wt = 2 * TW;
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
            lanes_out(p, stage, wt, 16, lanes, K * P, P, p->out[2], NULL, res ? res + at : NULL, y + at);
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
        const int64_t lanes = lanes_images(p, n0 + g);
        for (int64_t k = 0; k < K; k++) {
            lanes_in(dy + ((n0 + g) * K + k) * OH * OW, K * OH * OW, lanes, OH * OW, OW, 0, 0, wt, stage);
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
