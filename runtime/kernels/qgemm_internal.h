/* runtime/kernels/qgemm_internal.h — what the int8 and bf16 kernels (qgemm.c, qmatmul.c,
 * qconv_direct.c, qconv_depthwise.c) share: the switch between their portable build and their
 * AVX512-VNNI/BF16 build (names suffixed "_avx512"), small helpers, the tiles and the requantizing
 * epilogue. Each of those files is compiled twice into the bitcode (CMakeLists.txt lists them). */
#ifndef SD_RT_QGEMM_INTERNAL_H
#define SD_RT_QGEMM_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "runtime/kernels/qgemm.h"

#if defined(RT_QGEMM_AVX512)
#define QG(name) name##_avx512
#else
#define QG(name) name
#endif

#if defined(RT_QGEMM_AVX512) && defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512BF16__) && \
    defined(__AVX512VBMI__)
#include <immintrin.h>
#define QG_SIMD 1
#else
#define QG_SIMD 0
#endif

#define QG_INLINE static inline __attribute__((always_inline))

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int32_t load_i32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline size_t out_size(int32_t out) { return out == RT_QOUT_F32 ? 4 : 1; }

/* The folded activation's table of a conv's params (RtQConvParams, RtQDepthwiseParams), or NULL */
#define QG_LUT(p) ((p)->has_lut ? (p)->lut : NULL)

/* Requantizes n sums of one output channel into y (u8/i8), adding a u8 residual's
 * (r - r_zp) * r_mult to each scaled sum before it is rounded. */
static inline void requant_row_residual(const int32_t *restrict s, int64_t n, int32_t bias, float mult,
                                        const uint8_t *restrict r, int32_t r_zp, float r_mult, int32_t out,
                                        int32_t y_zp, int32_t qmin, int32_t qmax, const uint8_t *lut, void *restrict y)
{
    const float fmin = (float)qmin, fmax = (float)qmax, zp = (float)y_zp;
    for (int64_t q = 0; q < n; q++) {
        const float v = fminf(fmaxf(rintf((float)(s[q] + bias) * mult + (float)(r[q] - r_zp) * r_mult) + zp, fmin), fmax);
        if (out == RT_QOUT_I8)
            ((int8_t *)y)[q] = (int8_t)v;
        else
            ((uint8_t *)y)[q] = lut ? lut[(uint8_t)v] : (uint8_t)v;
    }
}

/* Requantizes n sums of one output channel into y (u8/i8/f32); u8 bytes through lut where given. */
static inline void requant_row(const int32_t *restrict s, int64_t n, int32_t bias, float mult, int32_t out,
                               int32_t y_zp, int32_t qmin, int32_t qmax, float lo, float hi, const uint8_t *lut,
                               void *restrict y)
{
    if (out == RT_QOUT_F32) {
        float *o = y;
        for (int64_t q = 0; q < n; q++)
            o[q] = fminf(fmaxf((float)(s[q] + bias) * mult, lo), hi);
        return;
    }
    const float fmin = (float)qmin, fmax = (float)qmax, zp = (float)y_zp;
    if (out == RT_QOUT_I8) {
        int8_t *o = y;
        for (int64_t q = 0; q < n; q++)
            o[q] = (int8_t)fminf(fmaxf(rintf((float)(s[q] + bias) * mult) + zp, fmin), fmax);
    } else {
        uint8_t *o = y;
        for (int64_t q = 0; q < n; q++) {
            const uint8_t v = (uint8_t)fminf(fmaxf(rintf((float)(s[q] + bias) * mult) + zp, fmin), fmax);
            o[q] = lut ? lut[v] : v;
        }
    }
}

/* A convolution's row of n sums into y as p says: with its residual r added (requant_row_residual)
 * where r is given, else requant_row. */
static inline void requant_conv_row(const RtQConvParams *p, const int32_t *s, int64_t n, int32_t bias, float mult,
                                    const uint8_t *r, void *y)
{
    if (r)
        requant_row_residual(s, n, bias, mult, r, p->r_zp, p->r_mult, p->out_kind, p->y_zp, p->qmin, p->qmax,
                             QG_LUT(p), y);
    else
        requant_row(s, n, bias, mult, p->out_kind, p->y_zp, p->qmin, p->qmax, p->lo, p->hi, QG_LUT(p),
                    y);
}

#if QG_SIMD
/* 16 int32 sums (bias included) as requant_row computes them for f32 outputs: scaled, clamped to
 * [lo, hi]. */
QG_INLINE __m512 requant16_f32(__m512i v, float mult, float lo, float hi)
{
    const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(mult));
    return _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
}

/* f (sums scaled to y's units) rounded half to even to q - y_zp, q in [qmin, qmax], as bytes. The
 * clamp is done in float (the bounds are integers, so rounding after it gives what clamping after
 * rounding gives); a byte of q - y_zp plus y_zp, mod 256, is q, so callers add y_zp to 16 or 32
 * bytes at once: 6 vector operations per 16 sums where there were 9 (14% off a 1x1 layer with 16
 * input channels, whose epilogue takes as long as its products). */
QG_INLINE __m128i requant16_offset_bytes(__m512 f, int32_t y_zp, int32_t qmin, int32_t qmax)
{
    const __m512 lo = _mm512_set1_ps((float)(qmin - y_zp)), hi = _mm512_set1_ps((float)(qmax - y_zp));
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(f, lo), hi)));
}

/* 16 sums (bias included) requantized as requant_row does, to u8 or i8 bytes. */
QG_INLINE __m128i requant16_bytes(__m512i v, float mult, int32_t y_zp, int32_t qmin, int32_t qmax)
{
    const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(mult));
    return _mm_add_epi8(requant16_offset_bytes(f, y_zp, qmin, qmax), _mm_set1_epi8((char)y_zp));
}

/* Bytes q through the 256-byte table t (vpermi2b on each half of the table, then the half bit 7
 * picks): an activation folded into the requantization, at 4 instructions a 64 bytes. */
QG_INLINE __m512i lut64(__m512i q, const uint8_t *t)
{
    const __m512i lo = _mm512_permutex2var_epi8(_mm512_loadu_si512(t), q, _mm512_loadu_si512(t + 64));
    const __m512i hi = _mm512_permutex2var_epi8(_mm512_loadu_si512(t + 128), q, _mm512_loadu_si512(t + 192));
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(q), lo, hi);
}
QG_INLINE __m256i lut32(__m256i q, const uint8_t *t)
{
    return _mm512_castsi512_si256(lut64(_mm512_castsi256_si512(q), t));
}
QG_INLINE __m128i lut16(__m128i q, const uint8_t *t)
{
    return _mm512_castsi512_si128(lut64(_mm512_castsi128_si512(q), t));
}

/* 32 sums already scaled to y's units (f0: the first 16), the same way. */
QG_INLINE __m256i requant32_bytes(__m512 f0, __m512 f1, int32_t y_zp, int32_t qmin, int32_t qmax)
{
    const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(requant16_offset_bytes(f0, y_zp, qmin, qmax)),
                                              requant16_offset_bytes(f1, y_zp, qmin, qmax), 1);
    return _mm256_add_epi8(b, _mm256_set1_epi8((char)y_zp));
}

/* The 32 sums s[0..32) of one output channel plus bias, scaled by mult, with a u8 residual's
 * (r - r_zp) * r_mult added where r is given (its lanes that mask m selects read), into the bytes
 * of y that m selects, through lut where given. */
_Static_assert(RT_QG_NR == 32, "a conv tile's row is requant32_store's 32 lanes");
QG_INLINE void requant32_store(const int32_t *s, int32_t bias, float mult, const uint8_t *r, int32_t r_zp, float r_mult,
                               uint32_t m, int32_t y_zp, int32_t qmin, int32_t qmax, const uint8_t *lut, void *y)
{
    const __m512i b = _mm512_set1_epi32(bias);
    const __m512 mv = _mm512_set1_ps(mult);
    __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_loadu_si512(s), b)), mv);
    __m512 f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_loadu_si512(s + 16), b)), mv);
    if (r) {
        const __m256i rb = _mm256_maskz_loadu_epi8(m, r);
        const __m512i rz = _mm512_set1_epi32(r_zp);
        const __m512 rm = _mm512_set1_ps(r_mult);
        const __m512i r0 = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(rb)), rz);
        const __m512i r1 = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(rb, 1)), rz);
        f0 = _mm512_add_ps(f0, _mm512_mul_ps(_mm512_cvtepi32_ps(r0), rm));
        f1 = _mm512_add_ps(f1, _mm512_mul_ps(_mm512_cvtepi32_ps(r1), rm));
    }
    __m256i q = requant32_bytes(f0, f1, y_zp, qmin, qmax);
    if (lut)
        q = lut32(q, lut);
    if (m == 0xffffffffu)
        _mm256_storeu_si256(y, q);
    else
        _mm256_mask_storeu_epi8(y, m, q);
}

#endif

#if QG_SIMD
/* dst[q] = the bytes q of a, b, e, f, for 16 q */
QG_INLINE void store_interleaved4(__m128i a, __m128i b, __m128i e, __m128i f, uint32_t *dst)
{
    const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    const __m128i ef0 = _mm_unpacklo_epi8(e, f), ef1 = _mm_unpackhi_epi8(e, f);
    _mm_storeu_si128((void *)dst, _mm_unpacklo_epi16(ab0, ef0));
    _mm_storeu_si128((void *)(dst + 4), _mm_unpackhi_epi16(ab0, ef0));
    _mm_storeu_si128((void *)(dst + 8), _mm_unpacklo_epi16(ab1, ef1));
    _mm_storeu_si128((void *)(dst + 12), _mm_unpackhi_epi16(ab1, ef1));
}
#endif

/* dst[q] = the 4 bytes c[j][start + q * s] (j = 0..3, channels cs apart) for q < n. */
static inline void interleave4(const uint8_t *restrict c, int64_t cs, int64_t start, int64_t s, int64_t n,
                               int64_t limit, uint32_t *restrict dst)
{
    int64_t q = 0;
#if QG_SIMD
    /* 16 pixels at a time while the loads stay inside the row (start + 16 s <= limit) */
    if (s == 1)
        for (; q + 16 <= n && start + q + 16 <= limit; q += 16) {
            const uint8_t *r = c + start + q;
            if ((q & 63) == 0) /* the next 4 channels, as interleave2_bf16 does */
                for (int j = 4; j < 8; j++)
                    _mm_prefetch((const char *)(r + j * cs), _MM_HINT_T0);
            __m128i a = _mm_loadu_si128((const void *)r), b = _mm_loadu_si128((const void *)(r + cs));
            __m128i e = _mm_loadu_si128((const void *)(r + 2 * cs)), f = _mm_loadu_si128((const void *)(r + 3 * cs));
            store_interleaved4(a, b, e, f, dst + q);
        }
    else if (s == 2)
        for (; q + 16 <= n && start + 2 * q + 32 <= limit; q += 16) {
            const uint8_t *r = c + start + 2 * q;
            if ((q & 31) == 0)
                for (int j = 4; j < 8; j++)
                    _mm_prefetch((const char *)(r + j * cs), _MM_HINT_T0);
            const __m256i lo = _mm256_set1_epi16(0xff);
            __m128i a = _mm256_cvtepi16_epi8(_mm256_and_si256(_mm256_loadu_si256((const void *)r), lo));
            __m128i b = _mm256_cvtepi16_epi8(_mm256_and_si256(_mm256_loadu_si256((const void *)(r + cs)), lo));
            __m128i e = _mm256_cvtepi16_epi8(_mm256_and_si256(_mm256_loadu_si256((const void *)(r + 2 * cs)), lo));
            __m128i f = _mm256_cvtepi16_epi8(_mm256_and_si256(_mm256_loadu_si256((const void *)(r + 3 * cs)), lo));
            store_interleaved4(a, b, e, f, dst + q);
        }
#else
    (void)limit;
#endif
    for (; q < n; q++) {
        const int64_t at = start + q * s;
        dst[q] = (uint32_t)c[at] | (uint32_t)c[cs + at] << 8 | (uint32_t)c[2 * cs + at] << 16 |
                 (uint32_t)c[3 * cs + at] << 24;
    }
}

/* f32 -> bf16, round to nearest even (NaN stays NaN). */
static inline uint32_t bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (u >> 16) | 0x40u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

#if QG_SIMD
/* lane q: (bf16 of lo[q], bf16 of hi[q]), rounded to nearest even by vcvtne2ps2bf16 (which, unlike
 * bf16_bits, flushes denormals to zero) */
QG_INLINE __m512i pairs16(__m512 lo, __m512 hi)
{
    const __m512i zip = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(zip, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}
#endif

/* dst[q] = bf16 pair (c[start + q * s], c[cs + start + q * s]) for q < n; loads stay below limit.
 * The callers pack the channels a pair at a time, so the same columns of the next pair (2 cs on)
 * are prefetched: short rows of many channels (a block of a 1x1 layer's input: 256 rows of 4 KB)
 * are too many streams for the hardware prefetchers, and packing them from memory ran at 15 GB/s
 * (28 GB/s with this). */
static inline void interleave2_bf16(const float *restrict c, int64_t cs, int64_t start, int64_t s, int64_t n, int64_t limit,
                             uint32_t *restrict dst)
{
    int64_t q = 0;
#if QG_SIMD
    if (s == 1)
        for (; q + 16 <= n && start + q + 16 <= limit; q += 16) {
            const float *r = c + start + q;
            _mm_prefetch((const char *)(r + 2 * cs), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + 3 * cs), _MM_HINT_T0);
            _mm512_storeu_si512(dst + q, pairs16(_mm512_loadu_ps(r), _mm512_loadu_ps(r + cs)));
        }
    else if (s == 2) {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        for (; q + 16 <= n && start + 2 * q + 32 <= limit; q += 16) {
            const float *r = c + start + 2 * q;
            _mm_prefetch((const char *)(r + 2 * cs), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + 2 * cs + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + 3 * cs), _MM_HINT_T0);
            _mm_prefetch((const char *)(r + 3 * cs + 16), _MM_HINT_T0);
            const __m512 a = _mm512_permutex2var_ps(_mm512_loadu_ps(r), even, _mm512_loadu_ps(r + 16));
            const __m512 b = _mm512_permutex2var_ps(_mm512_loadu_ps(r + cs), even, _mm512_loadu_ps(r + cs + 16));
            _mm512_storeu_si512(dst + q, pairs16(a, b));
        }
    }
#else
    (void)limit;
#endif
    for (; q < n; q++) {
        const int64_t at = start + q * s;
        dst[q] = bf16_bits(c[at]) | bf16_bits(c[cs + at]) << 16;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* tiles: sums of RT_QG_MR channels x RT_QG_NR pixels                                           */
/* ------------------------------------------------------------------------------------------ */

/* How many k steps ahead a tile prefetches its weights. A panel's weights are one sequential
 * stream, but at batch 1 they come from memory (every layer's once per run) and the hardware
 * prefetchers ramp up too late for a panel of a few tiles: the tiles of ResNet-50's 512 -> 2048
 * 1x1 layer on 7x7 ran at 62% of their speed with the weights in cache, at full speed prefetching
 * 128 k steps (4 KB) ahead, as the f32 tile prefetches its packed weights (gemm.c). */
#define QG_W_AHEAD 128

/* acc[r][q] = sum over k4 of dot4(a's row k4 at pixel q, b[k4][r]); a's row k4 starts k4 * a_stride
 * bytes in (im2col's packed columns), or with offs, 4 * offs[k4] bytes in (the direct kernel's
 * shifted windows). vpdpbusd: 8 channels x 2 vectors of 16 pixels. */
#if QG_SIMD
QG_INLINE void tile_u8(const uint8_t *restrict a, int64_t a_stride, const int32_t *restrict offs,
                       const int8_t *restrict b, int64_t k4n, int32_t *restrict acc)
{
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
            c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t k = 0; k < k4n; k++) {
        const uint8_t *ak = offs ? a + 4 * (int64_t)offs[k] : a + k * a_stride;
        const int8_t *bk = b + k * RT_QG_MR * 4;
        __builtin_prefetch(bk + QG_W_AHEAD * RT_QG_MR * 4);
        __m512i a0 = _mm512_loadu_si512(ak), a1 = _mm512_loadu_si512(ak + 64), w;
#define QG_ROW(r, x0, x1)                          \
    w = _mm512_set1_epi32(load_i32(bk + 4 * (r))); \
    x0 = _mm512_dpbusd_epi32(x0, a0, w);           \
    x1 = _mm512_dpbusd_epi32(x1, a1, w);
        QG_ROW(0, c00, c01) QG_ROW(1, c10, c11) QG_ROW(2, c20, c21) QG_ROW(3, c30, c31)
        QG_ROW(4, c40, c41) QG_ROW(5, c50, c51) QG_ROW(6, c60, c61) QG_ROW(7, c70, c71)
#undef QG_ROW
    }
    __m512i *o = (__m512i *)acc;
    _mm512_storeu_si512(o + 0, c00), _mm512_storeu_si512(o + 1, c01), _mm512_storeu_si512(o + 2, c10);
    _mm512_storeu_si512(o + 3, c11), _mm512_storeu_si512(o + 4, c20), _mm512_storeu_si512(o + 5, c21);
    _mm512_storeu_si512(o + 6, c30), _mm512_storeu_si512(o + 7, c31), _mm512_storeu_si512(o + 8, c40);
    _mm512_storeu_si512(o + 9, c41), _mm512_storeu_si512(o + 10, c50), _mm512_storeu_si512(o + 11, c51);
    _mm512_storeu_si512(o + 12, c60), _mm512_storeu_si512(o + 13, c61), _mm512_storeu_si512(o + 14, c70);
    _mm512_storeu_si512(o + 15, c71);
}

/* The same in bf16 pairs (a's rows a_stride or offs[k2] 32-bit lanes in): vdpbf16ps, sums in f32. */
QG_INLINE void tile_bf16(const uint32_t *restrict a, int64_t a_stride, const int32_t *restrict offs,
                         const uint32_t *restrict b, int64_t k2n, float *restrict acc)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t k = 0; k < k2n; k++) {
        const uint32_t *ak = offs ? a + offs[k] : a + k * a_stride, *bk = b + k * RT_QG_MR;
        __builtin_prefetch(bk + QG_W_AHEAD * RT_QG_MR);
        __m512bh a0 = (__m512bh)_mm512_loadu_si512(ak), a1 = (__m512bh)_mm512_loadu_si512(ak + 16), w;
#define QG_ROW(r, x0, x1)                        \
    w = (__m512bh)_mm512_set1_epi32((int)bk[r]); \
    x0 = _mm512_dpbf16_ps(x0, a0, w);            \
    x1 = _mm512_dpbf16_ps(x1, a1, w);
        QG_ROW(0, c00, c01) QG_ROW(1, c10, c11) QG_ROW(2, c20, c21) QG_ROW(3, c30, c31)
        QG_ROW(4, c40, c41) QG_ROW(5, c50, c51) QG_ROW(6, c60, c61) QG_ROW(7, c70, c71)
#undef QG_ROW
    }
    _mm512_storeu_ps(acc + 0, c00), _mm512_storeu_ps(acc + 16, c01), _mm512_storeu_ps(acc + 32, c10);
    _mm512_storeu_ps(acc + 48, c11), _mm512_storeu_ps(acc + 64, c20), _mm512_storeu_ps(acc + 80, c21);
    _mm512_storeu_ps(acc + 96, c30), _mm512_storeu_ps(acc + 112, c31), _mm512_storeu_ps(acc + 128, c40);
    _mm512_storeu_ps(acc + 144, c41), _mm512_storeu_ps(acc + 160, c50), _mm512_storeu_ps(acc + 176, c51);
    _mm512_storeu_ps(acc + 192, c60), _mm512_storeu_ps(acc + 208, c61), _mm512_storeu_ps(acc + 224, c70);
    _mm512_storeu_ps(acc + 240, c71);
}
#else
static inline void tile_u8(const uint8_t *restrict a, int64_t a_stride, const int32_t *restrict offs,
                           const int8_t *restrict b, int64_t k4n, int32_t *restrict acc)
{
    for (int i = 0; i < RT_QG_MR * RT_QG_NR; i++)
        acc[i] = 0;
    for (int64_t k = 0; k < k4n; k++) {
        const uint8_t *ak = offs ? a + 4 * (int64_t)offs[k] : a + k * a_stride;
        const int8_t *bk = b + k * RT_QG_MR * 4;
        for (int r = 0; r < RT_QG_MR; r++) {
            int32_t b0 = bk[4 * r], b1 = bk[4 * r + 1], b2 = bk[4 * r + 2], b3 = bk[4 * r + 3];
            int32_t *c = acc + r * RT_QG_NR;
            for (int q = 0; q < RT_QG_NR; q++)
                c[q] += ak[4 * q] * b0 + ak[4 * q + 1] * b1 + ak[4 * q + 2] * b2 + ak[4 * q + 3] * b3;
        }
    }
}

static inline float bf16_lo(uint32_t v)
{
    uint32_t u = v << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline float bf16_hi(uint32_t v)
{
    uint32_t u = v & 0xffff0000u;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline void tile_bf16(const uint32_t *restrict a, int64_t a_stride, const int32_t *restrict offs,
                             const uint32_t *restrict b, int64_t k2n, float *restrict acc)
{
    for (int i = 0; i < RT_QG_MR * RT_QG_NR; i++)
        acc[i] = 0.0f;
    for (int64_t k = 0; k < k2n; k++) {
        const uint32_t *ak = offs ? a + offs[k] : a + k * a_stride, *bk = b + k * RT_QG_MR;
        for (int r = 0; r < RT_QG_MR; r++) {
            const float b0 = bf16_lo(bk[r]), b1 = bf16_hi(bk[r]);
            float *c = acc + r * RT_QG_NR;
            for (int q = 0; q < RT_QG_NR; q++)
                c[q] += bf16_lo(ak[q]) * b0 + bf16_hi(ak[q]) * b1;
        }
    }
}
#endif

#endif
