/* runtime/kernels/conv_lanes.h — 16 planes side by side in the lanes of each vector (each position
 * of a plane one whole vector): the in-register transposes into and out of that layout, shared by the
 * kernels that compute in it (Winograd on small images, conv_winograd_lanes.c and conv_winograd4.c;
 * depthwise on small planes, conv_depthwise_lanes.c). */
#ifndef SD_RT_KERNELS_CONV_LANES_H
#define SD_RT_KERNELS_CONV_LANES_H

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

/* Images [n0, n0 + 16) of p's batch that exist: the lanes of a group of 16 that hold one */
static inline int64_t lanes_images(const RtConvParams *p, int64_t n0)
{
    const int64_t left = p->batch - n0;
    return left < 0 ? 0 : left > 16 ? 16 : left;
}

#define WL_EACH16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)

/* dst[pos(q) * 16 + l] = plane q of image l (src + l * image floats), for the P floats of the
 * planes of the first `lanes` images (zero for the others); pos(q) = (q / w + oy) * wp + q % w + ox */
static inline void lanes_in(const float *src, int64_t image, int64_t lanes, int64_t P, int64_t w, int64_t oy,
                            int64_t ox, int64_t wp, float *restrict dst)
{
    int64_t q = 0;
    for (; q + 16 <= P; q += 16) {
        v16f r[16];
        /* all 16 lanes without a test each (the tests kept r in memory) */
#define WL_LOAD(l) r[l] = *(const v16f_u *)(src + (l) * image + q);
#define WL_LOAD_SOME(l) if ((l) < lanes) r[l] = *(const v16f_u *)(src + (l) * image + q); else r[l] = (v16f){0};
        if (lanes == 16) {
            WL_EACH16(WL_LOAD)
        } else {
            WL_EACH16(WL_LOAD_SOME)
        }
#undef WL_LOAD_SOME
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

/* y[l * image + q] = lane l of the stage at position q (row q / w, column q % w of rows wt positions
 * apart, positions ps floats apart: 16 in the lanes kernels' stages), + bias[l] when bias, + the
 * residual (laid out as y), clamped as p says, for the P positions of the first `lanes` lanes. Each
 * output written once, so y may be the residual's buffer. Every position's 16 floats are read. */
static inline void lanes_out(const RtConvParams *p, const float *restrict stage, int64_t wt, int64_t ps, int64_t lanes,
                             int64_t image, int64_t P, int64_t w, const float *bias, const float *res, float *y)
{
    const bool clip = p->has_clip;
    const float lo = p->clip_min, hi = p->clip_max;
    int64_t q = 0;
    for (; q + 16 <= P; q += 16) {
        v16f r[16];
#define WL_GET(l) r[l] = *(const v16f_u *)(stage + ((q + (l)) / w * wt + (q + (l)) % w) * ps);
        WL_EACH16(WL_GET)
#undef WL_GET
        transpose16(r);
#define WL_PUT(l)                                                   \
    if ((l) < lanes) {                                              \
        v16f v = r[l];                                              \
        if (bias)                                                   \
            v += bias[l];                                           \
        STORE_OUT(v16f, v16f_u, v16i, y + (l) * image + q, v, res,  \
                  (l) * image + q, clip, lo, hi);                   \
    }
        WL_EACH16(WL_PUT)
#undef WL_PUT
    }
    for (; q < P; q++) {
        const float *s = stage + (q / w * wt + q % w) * ps;
        for (int64_t l = 0; l < lanes; l++) {
            const float v = s[l] + (bias ? bias[l] : 0.0f) + (res ? res[l * image + q] : 0.0f);
            y[l * image + q] = clip ? clip_value(v, lo, hi) : v;
        }
    }
    act_rows(p, y, lanes, P, image);
}

#endif
