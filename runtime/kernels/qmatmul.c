/* runtime/kernels/qmatmul.c — the int8 and bf16 matrix products of qgemm.h (rt_qmatmul_u8,
 * rt_matmul_bf16): a [m, k] row-major activation times weights packed at compile time. Built twice
 * into the bitcode like qgemm.c: plain C, and with AVX512-VNNI/BF16 under the suffix "_avx512". */
#include "runtime/kernels/qgemm_internal.h"

#include "runtime/kernels/half.h"

/* ------------------------------------------------------------------------------------------ */
/* int8 matrix product                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* The 4 bytes of row a at k4 (zeros past k: the packed b is zero there too, but the row must not
 * be read past its end). */
static inline uint32_t a_quad(const uint8_t *a, int64_t k4, int64_t k)
{
    uint32_t v = 0;
    for (int j = 0; j < 4; j++)
        if (4 * k4 + j < k)
            v |= (uint32_t)a[4 * k4 + j] << (8 * j);
    return v;
}

/* sums[r][j] for rows and 16 * nv columns starting at column j0. */
static void mm_tile_u8(const RtQMatmulParams *p, const uint8_t *a, const int8_t *b, int64_t rows, int64_t j0, int nv,
                       int32_t *restrict sums)
{
    const int64_t k4n = p->kp / 4;
#if QG_SIMD
    const int64_t kfull = p->k / 4;
#endif
#if QG_SIMD
    if (rows == RT_QG_MM_MR && nv == 4) {
        __m512i c[4][4];
        for (int r = 0; r < 4; r++)
            c[r][0] = c[r][1] = c[r][2] = c[r][3] = _mm512_setzero_si512();
        for (int64_t k = 0; k < k4n; k++) {
            const int8_t *bk = b + rt_qmm_lane(k, j0, k4n, p->np) * 4;
            __m512i b0 = _mm512_loadu_si512(bk), b1 = _mm512_loadu_si512(bk + 64), b2 = _mm512_loadu_si512(bk + 128),
                    b3 = _mm512_loadu_si512(bk + 192);
#define QG_MROW(r)                                                                                   \
    {                                                                                                \
        const uint8_t *ar = a + (r) * p->k;                                                          \
        int32_t q;                                                                                   \
        if (k < kfull)                                                                               \
            memcpy(&q, ar + 4 * k, 4);                                                               \
        else                                                                                         \
            q = (int32_t)a_quad(ar, k, p->k);                                                        \
        __m512i av = _mm512_set1_epi32(q);                                                           \
        c[r][0] = _mm512_dpbusd_epi32(c[r][0], av, b0), c[r][1] = _mm512_dpbusd_epi32(c[r][1], av, b1); \
        c[r][2] = _mm512_dpbusd_epi32(c[r][2], av, b2), c[r][3] = _mm512_dpbusd_epi32(c[r][3], av, b3); \
    }
            QG_MROW(0) QG_MROW(1) QG_MROW(2) QG_MROW(3)
#undef QG_MROW
        }
        for (int r = 0; r < 4; r++)
            for (int v = 0; v < 4; v++)
                _mm512_storeu_si512(sums + r * RT_QG_MM_NR + 16 * v, c[r][v]);
        return;
    }
    if (nv == 4) {
        for (int64_t r = 0; r < rows; r++) {
            __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
            const uint8_t *ar = a + r * p->k;
            for (int64_t k = 0; k < k4n; k++) {
                const int8_t *bk = b + rt_qmm_lane(k, j0, k4n, p->np) * 4;
                int32_t q;
                if (k < kfull)
                    memcpy(&q, ar + 4 * k, 4);
                else
                    q = (int32_t)a_quad(ar, k, p->k);
                __m512i av = _mm512_set1_epi32(q);
                c0 = _mm512_dpbusd_epi32(c0, av, _mm512_loadu_si512(bk));
                c1 = _mm512_dpbusd_epi32(c1, av, _mm512_loadu_si512(bk + 64));
                c2 = _mm512_dpbusd_epi32(c2, av, _mm512_loadu_si512(bk + 128));
                c3 = _mm512_dpbusd_epi32(c3, av, _mm512_loadu_si512(bk + 192));
            }
            int32_t *o = sums + r * RT_QG_MM_NR;
            _mm512_storeu_si512(o, c0), _mm512_storeu_si512(o + 16, c1);
            _mm512_storeu_si512(o + 32, c2), _mm512_storeu_si512(o + 48, c3);
        }
        return;
    }
#endif
    for (int64_t r = 0; r < rows; r++) {
        int32_t *o = sums + r * RT_QG_MM_NR;
        const uint8_t *ar = a + r * p->k;
        for (int64_t j = 0; j < 16 * nv; j++)
            o[j] = 0;
        for (int64_t k = 0; k < k4n; k++) {
            uint32_t q = a_quad(ar, k, p->k);
            int32_t a0 = (int32_t)(q & 0xff), a1 = (int32_t)((q >> 8) & 0xff), a2 = (int32_t)((q >> 16) & 0xff),
                    a3 = (int32_t)(q >> 24);
            const int8_t *bk = b + rt_qmm_lane(k, j0, k4n, p->np) * 4;
            for (int64_t j = 0; j < 16 * nv; j++)
                o[j] += a0 * bk[4 * j] + a1 * bk[4 * j + 1] + a2 * bk[4 * j + 2] + a3 * bk[4 * j + 3];
        }
    }
}

static void qmatmul_items(const RtQMatmulParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const uint8_t *a = bufs[0];
    const int8_t *b = bufs[1];
    const int32_t *bias = bufs[2];
    const float *mult = bufs[3];
    uint8_t *y = bufs[4];
    int32_t sums[RT_QG_MM_MR * RT_QG_MM_NR];
    const size_t es = out_size(p->out_kind);
    for (int64_t item = begin; item < end; item++) {
        int64_t mb = item / p->n_items_n, nb = item % p->n_items_n;
        int64_t m0 = mb * p->m_block, m1 = min64(m0 + p->m_block, p->m);
        int64_t n0 = nb * p->n_block, n1 = min64(n0 + p->n_block, p->np);
        for (int64_t i = m0; i < m1; i += RT_QG_MM_MR) {
            int64_t rows = min64(RT_QG_MM_MR, m1 - i);
            for (int64_t j = n0; j < n1; j += RT_QG_MM_NR) {
                int nv = (int)min64(4, (n1 - j) / 16);
                mm_tile_u8(p, a + i * p->k, b, rows, j, nv, sums);
                int64_t cnt = min64(16 * nv, p->n - j);
                for (int64_t r = 0; r < rows && cnt > 0; r++) {
                    int32_t *s = sums + r * RT_QG_MM_NR;
                    for (int64_t q = 0; q < cnt; q++)
                        s[q] += bias[j + q];
                    uint8_t *dst = y + ((i + r) * p->n + j) * es;
                    if (p->out_kind == RT_QOUT_F32) {
                        float *o = (float *)dst;
                        for (int64_t q = 0; q < cnt; q++)
                            o[q] = fminf(fmaxf((float)s[q] * mult[j + q], p->lo), p->hi);
                    } else {
                        const float zp = (float)p->y_zp, lo = (float)p->qmin, hi = (float)p->qmax;
                        for (int64_t q = 0; q < cnt; q++) {
                            float v = fminf(fmaxf(rintf((float)s[q] * mult[j + q]) + zp, lo), hi);
                            if (p->out_kind == RT_QOUT_I8)
                                ((int8_t *)dst)[q] = (int8_t)v;
                            else
                                dst[q] = (uint8_t)v;
                        }
                    }
                }
            }
        }
    }
}

RT_RANGE_KERNEL(QG(rt_qmatmul_u8_range)) { qmatmul_items(params_, bufs, begin, end); }

RT_KERNEL(QG(rt_qmatmul_u8))
{
    const RtQMatmulParams *p = params_;
    qmatmul_items(p, bufs, 0, ceil_div(p->m, p->m_block) * p->n_items_n);
}

/* ------------------------------------------------------------------------------------------ */
/* bf16 matrix product                                                                         */
/* ------------------------------------------------------------------------------------------ */

#if QG_SIMD
/* sums[r][j] for R rows of bf16 pairs (ar, k2n pairs a row) and the 64 columns from j0: the panel's
 * rows loaded once for the R rows (R a constant at each call site) */
QG_INLINE void tile_rows_bf16(const int R, const RtQMatmulParams *p, const uint32_t *ar, const uint32_t *b, int64_t j0,
                              float *restrict sums)
{
    const int64_t k2n = p->kp / 2;
    __m512 c[RT_QG_MM_MR][4];
    RT_UNROLL
    for (int r = 0; r < R; r++)
        c[r][0] = c[r][1] = c[r][2] = c[r][3] = _mm512_setzero_ps();
    for (int64_t k = 0; k < k2n; k++) {
        const uint32_t *bk = b + rt_qmm_lane(k, j0, k2n, p->np);
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bk), b1 = (__m512bh)_mm512_loadu_si512(bk + 16),
                       b2 = (__m512bh)_mm512_loadu_si512(bk + 32), b3 = (__m512bh)_mm512_loadu_si512(bk + 48);
        RT_UNROLL
        for (int r = 0; r < R; r++) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32((int)ar[r * k2n + k]);
            c[r][0] = _mm512_dpbf16_ps(c[r][0], av, b0), c[r][1] = _mm512_dpbf16_ps(c[r][1], av, b1);
            c[r][2] = _mm512_dpbf16_ps(c[r][2], av, b2), c[r][3] = _mm512_dpbf16_ps(c[r][3], av, b3);
        }
    }
    RT_UNROLL
    for (int r = 0; r < R; r++)
        for (int v = 0; v < 4; v++)
            _mm512_storeu_ps(sums + r * RT_QG_MM_NR + 16 * v, c[r][v]);
}
#endif

/* sums[r][j] for `rows` rows of bf16 pairs (ar, k2n pairs a row) and 16 * nv columns from j0 */
static void mm_tile_bf16(const RtQMatmulParams *p, const uint32_t *ar, const uint32_t *b, int64_t rows, int64_t j0, int nv,
                         float *restrict sums)
{
    const int64_t k2n = p->kp / 2;
#if QG_SIMD
    if (nv == 4) {
        if (rows == RT_QG_MM_MR) {
            tile_rows_bf16(RT_QG_MM_MR, p, ar, b, j0, sums);
            return;
        }
        for (int64_t r = 0; r < rows; r++)
            tile_rows_bf16(1, p, ar + r * k2n, b, j0, sums + r * RT_QG_MM_NR);
        return;
    }
#endif
    for (int64_t r = 0; r < rows; r++) {
        const uint32_t *a = ar + r * k2n;
        float *o = sums + r * RT_QG_MM_NR;
        for (int64_t q = 0; q < 16 * nv; q++)
            o[q] = 0.0f;
        for (int64_t k = 0; k < k2n; k++) {
            float a0 = rt_bits_to_float(a[k] << 16), a1 = rt_bits_to_float(a[k] & 0xffff0000u);
            const uint32_t *bk = b + rt_qmm_lane(k, j0, k2n, p->np);
            for (int64_t q = 0; q < 16 * nv; q++)
                o[q] += a0 * rt_bits_to_float(bk[q] << 16) + a1 * rt_bits_to_float(bk[q] & 0xffff0000u);
        }
    }
}

/* Rows [m0, m1) of a as bf16 pairs [rows][kp/2] in the workspace, then tiles against packed b. */
static void matmul_bf16_items(const RtQMatmulParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *a = bufs[0];
    const uint32_t *b = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL;
    float *y = bufs[p->has_bias ? 3 : 2];
    uint32_t *aw = bufs[p->has_bias ? 4 : 3];
    const int64_t k2n = p->kp / 2;
    float sums[RT_QG_MM_MR * RT_QG_MM_NR];
    for (int64_t item = begin; item < end; item++) {
        int64_t mb = item / p->n_items_n, nb = item % p->n_items_n;
        int64_t m0 = mb * p->m_block, m1 = min64(m0 + p->m_block, p->m);
        int64_t n0 = nb * p->n_block, n1 = min64(n0 + p->n_block, p->np);
        for (int64_t i = m0; i < m1; i++) {
            const float *ar = a + i * p->k;
            uint32_t *o = aw + (i - m0) * k2n;
            for (int64_t k = 0; k < p->k / 2; k++)
                o[k] = bf16_bits(ar[2 * k]) | (bf16_bits(ar[2 * k + 1]) << 16);
            if (p->k % 2)
                o[k2n - 1] = bf16_bits(ar[p->k - 1]);
        }
        for (int64_t i = m0; i < m1; i += RT_QG_MM_MR) {
            const int64_t rows = min64(RT_QG_MM_MR, m1 - i);
            for (int64_t j = n0; j < n1; j += RT_QG_MM_NR) {
                int nv = (int)min64(4, (n1 - j) / 16);
                mm_tile_bf16(p, aw + (i - m0) * k2n, b, rows, j, nv, sums);
                int64_t cnt = min64(16 * nv, p->n - j);
                for (int64_t r = 0; r < rows; r++) {
                    const float *s = sums + r * RT_QG_MM_NR;
                    float *dst = y + (i + r) * p->n + j;
                    for (int64_t q = 0; q < cnt; q++)
                        dst[q] = fminf(fmaxf(s[q] + (bias ? bias[j + q] : 0.0f), p->lo), p->hi);
                }
            }
        }
    }
}

RT_RANGE_KERNEL(QG(rt_matmul_bf16_range)) { matmul_bf16_items(params_, bufs, begin, end); }

RT_KERNEL(QG(rt_matmul_bf16))
{
    const RtQMatmulParams *p = params_;
    matmul_bf16_items(p, bufs, 0, ceil_div(p->m, p->m_block) * p->n_items_n);
}
