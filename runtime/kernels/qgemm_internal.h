/* runtime/kernels/qgemm_internal.h — what the packed int8 kernels (qgemm.c, qconv_direct.c) share:
 * the switch between their portable build and their AVX512-VNNI build (names suffixed "_avx512"),
 * small helpers, and the requantizing epilogue. Both files are compiled twice into the bitcode. */
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

/* Requantizes n sums of one output channel into y (u8/i8/f32). */
static inline void requant_row(const int32_t *restrict s, int64_t n, int32_t bias, float mult, int32_t out,
                               int32_t y_zp, int32_t qmin, int32_t qmax, float lo, float hi, void *restrict y)
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
        for (int64_t q = 0; q < n; q++)
            o[q] = (uint8_t)fminf(fmaxf(rintf((float)(s[q] + bias) * mult) + zp, fmin), fmax);
    }
}

#if QG_SIMD
/* The requantization of 16 int32 sums (bias included), as requant_row computes it, into the lanes
 * of y that mask m selects (masked lanes are neither written nor touched: y may point before the
 * start of a row). */
QG_INLINE void requant16_masked(__m512i v, __mmask16 m, float mult, int32_t out, int32_t y_zp, int32_t qmin,
                                int32_t qmax, float lo, float hi, void *y)
{
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(mult));
    if (out == RT_QOUT_F32) {
        f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
        _mm512_mask_storeu_ps(y, m, f);
        return;
    }
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(-1073741824.0f)), _mm512_set1_ps(1073741824.0f));
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(y_zp)); /* round half to even */
    q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(qmin)), _mm512_set1_epi32(qmax));
    _mm512_mask_cvtepi32_storeu_epi8(y, m, q);
}
#endif

#endif
