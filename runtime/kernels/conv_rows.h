/* runtime/kernels/conv_rows.h — row helpers the direct and Winograd convolutions share: a row of
 * the product into y with the bias, residual and folded activation, in whole vectors; and a plane's
 * even and odd columns split apart, so that stride-2 reads become contiguous ones. */
#ifndef SD_RT_KERNELS_CONV_ROWS_H
#define SD_RT_KERNELS_CONV_ROWS_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/kernels/conv_internal.h"

#ifdef __clang__
#define RT_NOVEC_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define RT_NOVEC_LOOP
#endif

typedef float v16f __attribute__((vector_size(64)));
typedef float v16f_u __attribute__((vector_size(64), aligned(4), may_alias));
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));

typedef float v4f __attribute__((vector_size(16)));
typedef float v4f_u __attribute__((vector_size(16), aligned(4), may_alias));

typedef int32_t v16i __attribute__((vector_size(64)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* The folded activation on every lane of vector v (of type vt, it the integers of its width):
 * comparisons and masks, so that NaN stays NaN (a loop over lanes stayed one: the kernels are built
 * without unrolling; max/min would turn NaN into a bound). A macro: vectors passed to functions
 * change the ABI with the target. */
#define CLIP_LANES(v, vt, it, lo, hi)                                   \
    do {                                                               \
        const vt lo_ = (vt){0} + (lo), hi_ = (vt){0} + (hi);           \
        it m_ = (v) < lo_;                                             \
        (v) = (vt)(((it)(v) & ~m_) | ((it)lo_ & m_));                  \
        m_ = (v) > hi_;                                                \
        (v) = (vt)(((it)(v) & ~m_) | ((it)hi_ & m_));                  \
    } while (0)

/* A finished vector of outputs into dst: v (a VT variable, changed) + the residual's vector at
 * res + off when res, clamped to [lo, hi] when clip; VTU the unaligned VT, IT its integers. How
 * every kernel here stores its outputs. */
#define STORE_OUT(VT, VTU, IT, dst, v, res, off, clip, lo, hi)  \
    do {                                                      \
        if (res)                                              \
            (v) += *(const VTU *)((res) + (off));             \
        if (clip)                                             \
            CLIP_LANES(v, VT, IT, lo, hi);                    \
        *(VTU *)(dst) = (v);                                  \
    } while (0)

/* copy_add's n (W <= n < 2 W) values as two W-lane vectors of type VT (VTU unaligned, IT its integers),
 * the second ending at n and overlapping the first */
#define ADD_TWO(VT, VTU, IT, W)                                                                    \
    do {                                                                                           \
        const VT a_ = (VT){0} + add;                                                               \
        VT v0_ = *(const VTU *)src + a_, v1_ = *(const VTU *)(src + n - (W)) + a_;                 \
        STORE_OUT(VT, VTU, IT, dst, v0_, res, 0, clip, lo, hi);                                    \
        STORE_OUT(VT, VTU, IT, dst + n - (W), v1_, res, n - (W), clip, lo, hi);                    \
    } while (0)

/* dst[j] = src[j] + add (+ res[j] when res), clamped when clip. Rows of 14 or 7 pixels made scalar loops of
 * this; whole vectors instead, the last one overlapping the one before (storing a value twice is
 * harmless). */
static inline void copy_add(float *restrict dst, const float *restrict src, const float *restrict res, int64_t n,
                            float add, bool clip, float lo, float hi)
{
    if (n >= 16) {
        const v16f a = {add, add, add, add, add, add, add, add, add, add, add, add, add, add, add, add};
        for (int64_t j = 0; j + 16 <= n; j += 16) {
            v16f v = *(const v16f_u *)(src + j) + a;
            STORE_OUT(v16f, v16f_u, v16i, dst + j, v, res, j, clip, lo, hi);
        }
        v16f v = *(const v16f_u *)(src + n - 16) + a;
        STORE_OUT(v16f, v16f_u, v16i, dst + n - 16, v, res, n - 16, clip, lo, hi);
    } else if (n >= 8) {
        ADD_TWO(v8f, v8f_u, v8i, 8);
    } else if (n >= 4) { /* rows of 7 and 4 pixels: the 28x28 networks' last layers */
        ADD_TWO(v4f, v4f_u, v4i, 4);
    } else {
        RT_NOVEC_LOOP
        for (int64_t j = 0; j < n; j++) {
            const float v = src[j] + add + (res ? res[j] : 0.0f);
            dst[j] = clip ? clip_value(v, lo, hi) : v;
        }
    }
}

/* copy_row's n (W <= n < 2 W) floats as two overlapping W-lane vectors */
#define COPY_TWO(VT, VTU, W)                                                                       \
    do {                                                                                           \
        const VT a_ = *(const VTU *)src, b_ = *(const VTU *)(src + n - (W));                       \
        *(VTU *)dst = a_;                                                                          \
        *(VTU *)(dst + n - (W)) = b_;                                                              \
    } while (0)

/* dst[j] = src[j] for j < n: inline whole vectors, the last overlapping (the direct convolution's
 * plane rows of 7 to 30 floats were library calls, 8% of a small layer). */
static inline void copy_row(float *restrict dst, const float *restrict src, int64_t n)
{
    if (n >= 16) {
        for (int64_t j = 0; j + 16 <= n; j += 16)
            *(v16f_u *)(dst + j) = *(const v16f_u *)(src + j);
        *(v16f_u *)(dst + n - 16) = *(const v16f_u *)(src + n - 16);
    } else if (n >= 8) {
        COPY_TWO(v8f, v8f_u, 8);
    } else if (n >= 4) {
        COPY_TWO(v4f, v4f_u, 4);
    } else {
        RT_NOVEC_LOOP
        for (int64_t j = 0; j < n; j++)
            dst[j] = src[j];
    }
}

/* dst[j] = 0 for j < n, the same way */
static inline void zero_row(float *restrict dst, int64_t n)
{
    if (n >= 16) {
        const v16f z = {0};
        for (int64_t j = 0; j + 16 <= n; j += 16)
            *(v16f_u *)(dst + j) = z;
        *(v16f_u *)(dst + n - 16) = z;
    } else if (n >= 4) {
        const v4f z = {0};
        for (int64_t j = 0; j + 4 <= n; j += 4)
            *(v4f_u *)(dst + j) = z;
        *(v4f_u *)(dst + n - 4) = z;
    } else {
        RT_NOVEC_LOOP
        for (int64_t j = 0; j < n; j++)
            dst[j] = 0.0f;
    }
}

/* The even and odd lanes of the 32 floats in a, b (v16f): deinterleaved with two permutes. */
#if defined(__clang__)
#define EVEN16(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define ODD16(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#else
#define EVEN16(a, b) __builtin_shuffle(a, b, (v16i){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30})
#define ODD16(a, b) __builtin_shuffle(a, b, (v16i){1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31})
#endif

/* lo16/hi16 = the first and last 16 of a[0], b[0], a[1], b[1], ... (a, b: v16f) */
#if defined(__clang__)
#define INTERLEAVE_PAIR(a, b, lo16, hi16)                                                                  \
    do {                                                                                                 \
        (lo16) = __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);     \
        (hi16) = __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31); \
    } while (0)
#else
#define INTERLEAVE_PAIR(a, b, lo16, hi16)                                                                   \
    do {                                                                                                  \
        (lo16) = __builtin_shuffle(a, b, (v16i){0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23});     \
        (hi16) = __builtin_shuffle(a, b, (v16i){8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}); \
    } while (0)
#endif

/* dst[2l] = a[l], dst[2l + 1] = b[l] for the 16 lanes of a and b (v16f): two vector stores */
#define INTERLEAVE16(a, b, dst)            \
    do {                                   \
        v16f l16_, h16_;                   \
        INTERLEAVE_PAIR(a, b, l16_, h16_); \
        *(v16f_u *)(dst) = l16_;           \
        *(v16f_u *)((dst) + 16) = h16_;    \
    } while (0)

/* Winograd F(2x2, 3x3)'s input transform B^T d B along the window's columns, from the combinations
 * a<i><j> of each row i (d_i0 - d_i2, d_i1 + d_i2, d_i2 - d_i1, d_i1 - d_i3): PUT(point, value) for
 * the 16 points, point (i, j) = 4 i + j (conv_winograd.c row by row, conv_winograd_lanes.c in lanes). */
#define WG_INPUT_POINTS(PUT)                                                                            \
    PUT(0, a00 - a20), PUT(1, a01 - a21), PUT(2, a02 - a22), PUT(3, a03 - a23), PUT(4, a10 + a20),        \
        PUT(5, a11 + a21), PUT(6, a12 + a22), PUT(7, a13 + a23), PUT(8, a20 - a10), PUT(9, a21 - a11),    \
        PUT(10, a22 - a12), PUT(11, a23 - a13), PUT(12, a10 - a30), PUT(13, a11 - a31), PUT(14, a12 - a32), \
        PUT(15, a13 - a33)

/* even[j] = x[2j], odd[j] = x[2j + 1] for j < n: a whole input plane of even width at once, so
 * that each stride-2 phase row is then one contiguous copy (rows of 14 columns made masked gathers
 * or scalar loops of the strided reads, 70% of a stride-2 layer's time). */
static inline void deinterleave(const float *restrict x, int64_t n, float *restrict even, float *restrict odd)
{
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const v16f a = *(const v16f_u *)(x + 2 * j), b = *(const v16f_u *)(x + 2 * j + 16);
        *(v16f_u *)(even + j) = EVEN16(a, b);
        *(v16f_u *)(odd + j) = ODD16(a, b);
    }
    RT_NOVEC_LOOP
    for (; j < n; j++) {
        even[j] = x[2 * j];
        odd[j] = x[2 * j + 1];
    }
}

#endif
