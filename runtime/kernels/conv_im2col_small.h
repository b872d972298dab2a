/* runtime/kernels/conv_im2col_small.h — im2col of a whole small image (4x4 and 7x7 layers): loops
 * over rows of 4 or 7 pixels spent such a layer's time on control, so each row of the column matrix
 * is built whole: as a run of a zero-bordered copy of the plane (stride 1), of one of its phase
 * planes (stride 2), or else by a gather through a table of input positions. */
#ifndef SD_RT_KERNELS_CONV_IM2COL_SMALL_H
#define SD_RT_KERNELS_CONV_IM2COL_SMALL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "runtime/kernels/conv.h"

/* At most IM2COL_GATHER_OUT output pixels from an input plane of at most IM2COL_GATHER_IN. */
#define IM2COL_GATHER_OUT 64
#define IM2COL_GATHER_IN 256
static inline bool im2col_small(const RtConvParams *p, int64_t r0, int64_t nr)
{
    return p->in[0] == 1 && p->out[0] == 1 && p->kernel[0] == 1 && p->out[1] * p->out[2] <= IM2COL_GATHER_OUT &&
           p->in[1] * p->in[2] <= IM2COL_GATHER_IN && p->kernel[1] * p->kernel[2] <= RT_CONV_SMALL_TAPS && r0 == 0 &&
           nr == p->out[1];
}

/* The gather: each row of the column matrix reads its pixels from a copy of the input plane through
 * a table of positions made once per call, position in[1] * in[2] holding the zero of the padding. */
static inline void im2col_small_gather(const RtConvParams *p, int64_t cin_g, const float *restrict x,
                                       float *restrict col, int64_t ld)
{
    const int64_t IH = p->in[1], IW = p->in[2], OW = p->out[2], KW = p->kernel[2];
    const int64_t plane = IH * IW, P = p->out[1] * OW, taps = p->kernel[1] * KW;
    int32_t at[RT_CONV_SMALL_TAPS][IM2COL_GATHER_OUT];
    for (int64_t t = 0; t < taps; t++)
        for (int64_t j = 0; j < P; j++) {
            const int64_t ih = j / OW * p->stride[1] - p->pad[1] + t / KW * p->dilation[1];
            const int64_t iw = j % OW * p->stride[2] - p->pad[2] + t % KW * p->dilation[2];
            at[t][j] = (int32_t)(ih >= 0 && ih < IH && iw >= 0 && iw < IW ? ih * IW + iw : plane);
        }
    float tbl[IM2COL_GATHER_IN + 1];
    tbl[plane] = 0.0f;
    float *row = col;
    for (int64_t ic = 0; ic < cin_g; ic++) {
        memcpy(tbl, x + ic * plane, (size_t)plane * sizeof(float));
        for (int64_t t = 0; t < taps; t++, row += ld)
            for (int64_t j = 0; j < P; j++)
                row[j] = tbl[at[t][j]];
    }
}

typedef float im2col_v16 __attribute__((vector_size(64), aligned(4), may_alias));
typedef float im2col_v8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t im2col_i16 __attribute__((vector_size(64), aligned(4), may_alias));

/* For each kernel column (at most 8), -1 where output j (of P) reads inside its input row, else 0. */
static inline void im2col_columns_valid(const RtConvParams *p, int64_t P, int32_t (*valid)[IM2COL_GATHER_OUT + 16])
{
    const int64_t OW = p->out[2];
    for (int64_t kw = 0; kw < p->kernel[2]; kw++)
        for (int64_t j = 0; j < (P + 15) / 16 * 16; j++) {
            const int64_t iw = j % OW * p->stride[2] + kw * p->dilation[2] - p->pad[2];
            valid[kw][j] = iw >= 0 && iw < p->in[2] ? -1 : 0;
        }
}

/* row[0, P) = src[0, P) where valid, else 0: whole vectors, then the rest (a row may be followed by
 * another image's, so nothing is written past P). */
static inline void im2col_run(float *restrict row, const float *restrict src, const int32_t *valid, int64_t P)
{
    int64_t j = 0;
    for (; j + 16 <= P; j += 16)
        *(im2col_v16 *)(row + j) = (im2col_v16)(*(const im2col_i16 *)(src + j) & *(const im2col_i16 *)(valid + j));
    for (; j < P; j++)
        row[j] = valid[j] ? src[j] : 0.0f;
}

/* Stride 1, the output as wide as the input (padding 1 on 4x4 and 7x7): output j of tap (kh, kw)
 * reads input j + (kh * DH - PH) * IW + kw * DW - PW, so a row is a run of a copy of the plane with
 * IM2COL_RUN_BORDER zeros each side (it must cover every shift), the columns past the row's edge
 * masked off. The gather took a 4x4 layer of 128 channels 3.8 of its 23 us. */
#define IM2COL_RUN_BORDER 64
static inline bool im2col_small_runs(const RtConvParams *p)
{
    const int64_t IW = p->in[2], lead = p->pad[1] * IW + p->pad[2];
    const int64_t trail = ((p->kernel[1] - 1) * p->dilation[1] - p->pad[1]) * IW + (p->kernel[2] - 1) * p->dilation[2] -
                          p->pad[2] + (p->out[1] - p->in[1]) * IW; /* the last read past the plane */
    return p->stride[1] == 1 && p->stride[2] == 1 && p->out[2] == IW && p->kernel[2] <= 8 && lead >= 0 &&
           lead <= IM2COL_RUN_BORDER && trail <= IM2COL_RUN_BORDER;
}
static inline void im2col_small_runs_image(const RtConvParams *p, int64_t cin_g, const float *restrict x,
                                           float *restrict col, int64_t ld)
{
    const int64_t IW = p->in[2], KW = p->kernel[2], plane = p->in[1] * IW, P = p->out[1] * IW, taps = p->kernel[1] * KW;
    int32_t valid[8][IM2COL_GATHER_OUT + 16];
    im2col_columns_valid(p, P, valid);
    float buf[IM2COL_RUN_BORDER + IM2COL_GATHER_IN + IM2COL_RUN_BORDER];
    memset(buf, 0, sizeof buf);
    float *const copy = buf + IM2COL_RUN_BORDER;
    float *row = col;
    for (int64_t ic = 0; ic < cin_g; ic++) {
        memcpy(copy, x + ic * plane, (size_t)plane * sizeof(float));
        for (int64_t t = 0; t < taps; t++, row += ld) {
            const int64_t kh = t / KW, kw = t % KW;
            im2col_run(row, copy + (kh * p->dilation[1] - p->pad[1]) * IW + kw * p->dilation[2] - p->pad[2], valid[kw], P);
        }
    }
}

/* Stride 2, outputs at most 8 wide from inputs at most 16 wide and at most twice the outputs' width
 * (7x7 from 14x14, 4x4 from 7x7): the plane is split into its four phase planes (even and odd rows
 * by even and odd columns), each as wide as the output, so that output j of a tap reads its phase
 * plane at j + a shift, and a row is again a run. A phase plane holds rows [lo, hi] of its phase
 * (those the taps read; the ones outside the input zero) between a zero row each side. */
#define IM2COL_PHASE_ROWS 16
static inline int64_t im2col_half_floor(int64_t e) { return e >= 0 ? e / 2 : -((1 - e) / 2); }
static inline bool im2col_small_phases(const RtConvParams *p, int64_t *lo, int64_t *hi)
{
    if (p->stride[1] != 2 || p->stride[2] != 2 || p->out[2] > 8 || p->in[2] > 16 || p->in[2] > 2 * p->out[2] ||
        p->kernel[2] > 8 || p->pad[2] > 2 || (p->kernel[2] - 1) * p->dilation[2] - p->pad[2] > 16)
        return false;
    *lo = 0, *hi = 0;
    for (int64_t kh = 0; kh < p->kernel[1]; kh++) {
        const int64_t dr = im2col_half_floor(kh * p->dilation[1] - p->pad[1]);
        *lo = dr < *lo ? dr : *lo;
        *hi = dr > *hi ? dr : *hi;
    }
    *hi += p->out[1] - 1;
    return *hi - *lo + 3 <= IM2COL_PHASE_ROWS;
}
static inline void im2col_small_phases_image(const RtConvParams *p, int64_t cin_g, const float *restrict x,
                                             float *restrict col, int64_t ld, int64_t lo, int64_t hi)
{
    const int64_t IH = p->in[1], IW = p->in[2], OW = p->out[2], KW = p->kernel[2], plane = IH * IW;
    const int64_t P = p->out[1] * OW, taps = p->kernel[1] * KW;
    int32_t valid[8][IM2COL_GATHER_OUT + 16];
    im2col_columns_valid(p, P, valid);
    float copy[IM2COL_GATHER_IN + 16]; /* a row's 16 floats are loaded whole */
    float q[4][IM2COL_PHASE_ROWS * 8 + 8];
    memset(copy, 0, sizeof copy);
    memset(q, 0, sizeof q);
    float *row = col;
    for (int64_t ic = 0; ic < cin_g; ic++) {
        memcpy(copy, x + ic * plane, (size_t)plane * sizeof(float));
        /* rows in order, each stored as 8 floats: what spills past OW lands on the next row of its
         * phase, written after it, or past the last one, zeroed again below */
        for (int64_t ih = 0; ih < IH; ih++) {
            const int64_t a = ih % 2, r = ih / 2;
            if (r > hi)
                break;
            const im2col_v16 v = *(const im2col_v16 *)(copy + ih * IW);
            *(im2col_v8 *)(q[2 * a] + (r - lo + 1) * OW) = __builtin_shufflevector(v, v, 0, 2, 4, 6, 8, 10, 12, 14);
            *(im2col_v8 *)(q[2 * a + 1] + (r - lo + 1) * OW) = __builtin_shufflevector(v, v, 1, 3, 5, 7, 9, 11, 13, 15);
        }
        for (int64_t a = 0; a < 2 && a < IH; a++) {
            const int64_t last = (IH - 1 - a) / 2 < hi ? (IH - 1 - a) / 2 : hi;
            for (int64_t b = 0; b < 2; b++)
                memset(q[2 * a + b] + (last - lo + 2) * OW, 0, (size_t)(8 - OW) * sizeof(float));
        }
        for (int64_t t = 0; t < taps; t++, row += ld) {
            const int64_t e = t / KW * p->dilation[1] - p->pad[1], f = t % KW * p->dilation[2] - p->pad[2];
            const int64_t dr = im2col_half_floor(e), dc = im2col_half_floor(f);
            const float *phase = q[2 * (e - 2 * dr) + (f - 2 * dc)];
            im2col_run(row, phase + (dr - lo + 1) * OW + dc, valid[t % KW], P);
        }
    }
}

/* One group of one small image (im2col_small): rows (ic, kh, kw) of the column matrix, P long and ld
 * apart; x points at the group's first input channel. */
static inline void im2col_small_image(const RtConvParams *p, int64_t cin_g, const float *restrict x,
                                      float *restrict col, int64_t ld)
{
    int64_t lo, hi;
    if (im2col_small_runs(p))
        im2col_small_runs_image(p, cin_g, x, col, ld);
    else if (im2col_small_phases(p, &lo, &hi))
        im2col_small_phases_image(p, cin_g, x, col, ld, lo, hi);
    else
        im2col_small_gather(p, cin_g, x, col, ld);
}

#endif
