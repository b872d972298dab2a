/* runtime/kernels/gemm_bf16.c — the builtin GEMM with its products in bf16, what rt_gemm_f32 and
 * its row variants run for RT_GEMM_BF16 (training with --precision bf16: every convolution and
 * matrix product of the step, forward and backward, whose weights change every step).
 *
 * The operands stay f32 in memory. Packing rounds them to bf16 (nearest even) in pairs along K, so
 * that one 32-bit lane holds the two values one vdpbf16ps multiplies: A as [k/2][MR] lanes per
 * tile, B as [k/2][NR] lanes per sliver, K cut into blocks of even length. Sums, alpha's product
 * with A (folded before rounding) aside, and beta * C stay f32. The blocking, the C^T product for
 * narrow N, the edge tiles and the thin kernels of the last 1 to 4 columns are gemm.c's (its header
 * explains them), as is the prefetch of A in the micro-kernels (here B's rows 48 ahead too: packed
 * whole ahead of time, rt_gemm_bf16_pack_at's come from memory); unlike there, every sliver
 * of B is packed, since it must be converted, so only the strides and offsets of B differ between
 * the entry points. Built twice like qgemm.c: portable C, and with AVX512-BF16 under the suffix
 * _avx512, which code generation puts in the portable one's place on targets that have it
 * (codegen/bitcode.c). */
#include "runtime/kernels/gemm_internal.h"
#include "runtime/kernels/qgemm_internal.h"

/* Where operand rows lie: row i of a matrix at base + offs[i] when offs is given, else i * ld in. */
typedef struct Rows {
    const float *base;
    int64_t ld;
    const int32_t *offs;
} Rows;

static inline const float *row_at(const Rows *r, int64_t i) { return r->base + (r->offs ? r->offs[i] : i * r->ld); }

static inline uint32_t pair_bits(float lo, float hi) { return bf16_bits(lo) | bf16_bits(hi) << 16; }

#if QG_SIMD
/* lane q: (bf16 of p[2q], bf16 of p[2q + 1]) for the first n of 32 consecutive floats, zeros after */
QG_INLINE __m512i pairs_along(const float *p, int64_t n, __m512 scale)
{
    const __mmask16 m0 = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
    const __mmask16 m1 = n >= 32 ? (__mmask16)0xffff : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
    return (__m512i)_mm512_cvtne2ps_pbh(_mm512_mul_ps(_mm512_maskz_loadu_ps(m1, p + 16), scale),
                                        _mm512_mul_ps(_mm512_maskz_loadu_ps(m0, p), scale));
}
#endif

/* --- packing --- */

/* rows x kc of alpha * op(A) from row i0, column k0, as [ceil(kc/2)][rows] pairs. Not transposed:
 * rows of op(A) are rows of a (pairs along them, tiles transposed in registers); transposed:
 * op(A)[i][k] is at row k, column i of a (pairs across two of its rows). */
static __attribute__((noinline)) void pack_a(const Rows *a, int trans, int64_t i0, int64_t k0, int rows, int64_t kc,
                                             float alpha, uint32_t *restrict dst)
{
    const int64_t kq = (kc + 1) / 2;
    int64_t q = 0;
    if (!trans) {
#if QG_SIMD && defined(HAVE_SHUFFLE)
        if (rows == MR) /* 16 pairs of the 8 rows at a time (the last ones masked), transposed */
            for (; q < kq; q += 16) {
                v16f v[MR];
                RT_UNROLL
                for (int i = 0; i < MR; i++)
                    v[i] = (v16f)pairs_along(row_at(a, i0 + i) + k0 + 2 * q, kc - 2 * q, _mm512_set1_ps(alpha));
                transpose_rows(v, MR, 3);
                const int64_t lanes = (kq - q < 16 ? kq - q : 16) * MR;
                RT_UNROLL
                for (int i = 0; i < MR; i++) {
                    const int64_t n = lanes - 16 * i;
                    if (n > 0)
                        _mm512_mask_storeu_epi32(dst + q * MR + 16 * i,
                                                 n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1),
                                                 (__m512i)v[i]);
                }
            }
#endif
        RT_NOVEC
        for (; q < kq; q++)
            RT_NOVEC
            for (int i = 0; i < rows; i++) {
                const float *r = row_at(a, i0 + i) + k0;
                dst[q * rows + i] = pair_bits(alpha * r[2 * q], 2 * q + 1 < kc ? alpha * r[2 * q + 1] : 0.0f);
            }
        return;
    }
    RT_NOVEC
    for (; q < kq; q++) {
        const float *r0 = row_at(a, k0 + 2 * q) + i0, *r1 = 2 * q + 1 < kc ? row_at(a, k0 + 2 * q + 1) + i0 : NULL;
        int i = 0;
#if QG_SIMD
        for (; i + 16 <= rows; i += 16) /* the narrow product's transposed operand: rows up to 16 */
            _mm512_storeu_si512(dst + q * rows + i,
                                pairs16(_mm512_mul_ps(_mm512_loadu_ps(r0 + i), _mm512_set1_ps(alpha)),
                                        r1 ? _mm512_mul_ps(_mm512_loadu_ps(r1 + i), _mm512_set1_ps(alpha))
                                           : _mm512_setzero_ps()));
        if (i < rows) {
            const __mmask16 m = (__mmask16)((1u << (rows - i)) - 1);
            const __m512 lo = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, r0 + i), _mm512_set1_ps(alpha));
            const __m512 hi = r1 ? _mm512_mul_ps(_mm512_maskz_loadu_ps(m, r1 + i), _mm512_set1_ps(alpha))
                                 : _mm512_setzero_ps();
            _mm512_mask_storeu_epi32(dst + q * rows + i, m, pairs16(lo, hi));
            i = rows;
        }
#endif
        RT_NOVEC
        for (; i < rows; i++)
            dst[q * rows + i] = pair_bits(alpha * r0[i], r1 ? alpha * r1[i] : 0.0f);
    }
}

/* kc x cols of op(B) from row k0, column j0, as [ceil(kc/2)][width] pairs, zeros in [cols, width).
 * Not transposed: row k of op(B) is row k of b (pairs across two rows); transposed: column j of
 * op(B) is row j of b (pairs along it, blocks of 16 x 16 lanes transposed in registers). */
static __attribute__((noinline)) void pack_b(const Rows *b, int trans, int64_t k0, int64_t j0, int cols, int width,
                                             int64_t kc, uint32_t *restrict dst)
{
    const int64_t kq = (kc + 1) / 2;
    if (!trans) {
        for (int64_t q = 0; q < kq; q++) {
            const float *r0 = row_at(b, k0 + 2 * q) + j0, *r1 = 2 * q + 1 < kc ? row_at(b, k0 + 2 * q + 1) + j0 : NULL;
            uint32_t *d = dst + q * width;
            int j = 0;
#if QG_SIMD
            for (; j + 16 <= cols; j += 16) {
                __builtin_prefetch(r0 + j + 64);
                __builtin_prefetch(r1 ? r1 + j + 64 : r0);
                _mm512_storeu_si512(d + j, pairs16(_mm512_loadu_ps(r0 + j),
                                                   r1 ? _mm512_loadu_ps(r1 + j) : _mm512_setzero_ps()));
            }
            if (j < cols) { /* the last columns masked, zeros up to the vector's end (width is whole vectors) */
                const __mmask16 m = (__mmask16)((1u << (cols - j)) - 1);
                _mm512_storeu_si512(d + j, pairs16(_mm512_maskz_loadu_ps(m, r0 + j),
                                                   r1 ? _mm512_maskz_loadu_ps(m, r1 + j) : _mm512_setzero_ps()));
                j += 16;
            }
#endif
            RT_NOVEC
            for (; j < cols; j++)
                d[j] = pair_bits(r0[j], r1 ? r1[j] : 0.0f);
            RT_NOVEC
            for (; j < width; j++)
                d[j] = 0;
        }
        return;
    }
    int j = 0;
#if QG_SIMD && defined(HAVE_SHUFFLE)
    for (; j + 16 <= cols; j += 16)
        for (int64_t q = 0; q < kq; q += 16) { /* the last pairs masked */
            v16f v[16];
            RT_UNROLL
            for (int r = 0; r < 16; r++) {
                const float *p = row_at(b, j0 + j + r) + k0 + 2 * q;
                __builtin_prefetch(p + 64);
                v[r] = (v16f)pairs_along(p, kc - 2 * q, _mm512_set1_ps(1.0f));
            }
            transpose_rows(v, 16, 4);
            const int64_t n = kq - q < 16 ? kq - q : 16;
            RT_UNROLL
            for (int r = 0; r < 16; r++)
                if (r < n)
                    VSTORE((float *)(dst + (q + r) * width + j), v[r]);
        }
#endif
    RT_NOVEC
    for (; j < cols; j++) {
        const float *p = row_at(b, j0 + j) + k0;
        RT_NOVEC
        for (int64_t q = 0; q < kq; q++)
            dst[q * width + j] = pair_bits(p[2 * q], 2 * q + 1 < kc ? p[2 * q + 1] : 0.0f);
    }
    RT_NOVEC
    for (int64_t q = 0; q < kq; q++)
        RT_NOVEC
        for (int jj = cols; jj < width; jj++)
            dst[q * width + jj] = 0;
}

/* --- micro-kernels --- */

/* C[0:m, 0:n] = acc + beta * C (acc alone when beta == 0), acc the rows x (16 nv) product of the
 * packed A tile a and B sliver b (kq pairs deep, b's rows bstride lanes apart), as gemm.c's. */
static inline __attribute__((always_inline)) void ukr_body(const int rows, const int nv, int64_t kq,
                                                            const uint32_t *restrict a, const uint32_t *restrict b,
                                                            int64_t bstride, float *restrict c, int64_t ldc,
                                                            float beta, int m, int n)
{
    float t[MR * NR];
#if QG_SIMD
    __m512 acc[MR][NV];
    RT_UNROLL
    for (int i = 0; i < rows; i++) {
        RT_UNROLL
        for (int v = 0; v < nv; v++)
            acc[i][v] = _mm512_setzero_ps();
    }
    for (int64_t q = 0; q < kq; q++) {
        __builtin_prefetch(a + 64 * rows);
        RT_UNROLL
        for (int v = 0; v < nv; v++)
            __builtin_prefetch(b + 48 * bstride + 16 * v);
        __m512bh bv[NV];
        RT_UNROLL
        for (int v = 0; v < nv; v++)
            bv[v] = (__m512bh)_mm512_loadu_si512(b + 16 * v);
        RT_UNROLL
        for (int i = 0; i < rows; i++) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[i]);
            RT_UNROLL
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
        }
        a += rows;
        b += bstride;
    }
    if (m == rows && n == 16 * nv) {
        RT_UNROLL
        for (int i = 0; i < rows; i++) {
            RT_UNROLL
            for (int v = 0; v < nv; v++) {
                float *cp = c + i * ldc + 16 * v;
                VSTORE(cp, beta == 0.0f ? (v16f)acc[i][v] : (v16f)acc[i][v] + VSPLAT(beta) * VLOAD(cp));
            }
        }
        return;
    }
    RT_UNROLL
    for (int i = 0; i < rows; i++) {
        RT_UNROLL
        for (int v = 0; v < nv; v++)
            VSTORE(t + i * NR + 16 * v, (v16f)acc[i][v]);
    }
#else
    RT_NOVEC
    for (int i = 0; i < rows; i++)
        RT_NOVEC
        for (int j = 0; j < 16 * nv; j++)
            t[i * NR + j] = 0.0f;
    RT_NOVEC
    for (int64_t q = 0; q < kq; q++) {
        RT_NOVEC
        for (int i = 0; i < rows; i++) {
            const float a0 = bf16_lo(a[i]), a1 = bf16_hi(a[i]);
            RT_NOVEC
            for (int j = 0; j < 16 * nv; j++)
                t[i * NR + j] += a0 * bf16_lo(b[j]) + a1 * bf16_hi(b[j]);
        }
        a += rows;
        b += bstride;
    }
#endif
    rt_gemm_store_edge(t, m, n, beta, c, ldc);
}

#define UKR_ARGS                                                                                            \
    int64_t kq, const uint32_t *restrict a, const uint32_t *restrict b, int64_t bstride, float *restrict c, \
        int64_t ldc, float beta, int m, int n
#define UKR(R, V)                                                       \
    static __attribute__((noinline)) void ukr_##R##x##V(UKR_ARGS)       \
    {                                                                   \
        ukr_body(R, V, kq, a, b, bstride, c, ldc, beta, m, n);          \
    }
#define UKR_ROWS(V) UKR(1, V) UKR(2, V) UKR(3, V) UKR(4, V) UKR(5, V) UKR(6, V) UKR(7, V) UKR(8, V)
UKR_ROWS(1)
UKR_ROWS(2)
UKR_ROWS(3)

typedef void (*UkrFn)(UKR_ARGS);

/* The last n <= RT_GEMM_THIN columns of a tile of MR rows, as gemm.c's thin kernels: a step loads
 * the MR rows' pairs of A as one 256-bit vector and broadcasts the n pairs of B, where the 16-wide
 * edge kernel broadcasts MR pairs of A for its one vector of B (a 128-channel 28x28 layer in
 * F(4x4, 3x3), N = 49: 17.5% of its time in that edge, 1/49 of its products). */
static inline __attribute__((always_inline)) void thin_body(const int n, int64_t kq, const uint32_t *restrict a,
                                                             const uint32_t *restrict b, int64_t bstride,
                                                             float *restrict c, int64_t ldc, float beta)
{
    float t[RT_GEMM_THIN][MR];
#if QG_SIMD
    __m256 acc[RT_GEMM_THIN];
    RT_UNROLL
    for (int j = 0; j < n; j++)
        acc[j] = _mm256_setzero_ps();
    for (int64_t q = 0; q < kq; q++) {
        __builtin_prefetch(a + 64 * MR);
        const __m256bh av = (__m256bh)_mm256_loadu_si256((const __m256i *)a);
        RT_UNROLL
        for (int j = 0; j < n; j++)
            acc[j] = _mm256_dpbf16_ps(acc[j], av, (__m256bh)_mm256_set1_epi32((int)b[j]));
        a += MR;
        b += bstride;
    }
    RT_UNROLL
    for (int j = 0; j < n; j++)
        _mm256_storeu_ps(t[j], acc[j]);
#else
    RT_NOVEC
    for (int j = 0; j < n; j++)
        RT_NOVEC
        for (int i = 0; i < MR; i++)
            t[j][i] = 0.0f;
    RT_NOVEC
    for (int64_t q = 0; q < kq; q++) {
        RT_NOVEC
        for (int j = 0; j < n; j++)
            RT_NOVEC
            for (int i = 0; i < MR; i++)
                t[j][i] += bf16_lo(a[i]) * bf16_lo(b[j]) + bf16_hi(a[i]) * bf16_hi(b[j]);
        a += MR;
        b += bstride;
    }
#endif
    rt_gemm_store_thin(&t[0][0], n, beta, c, ldc);
}
#define THIN(N_)                                                      \
    static __attribute__((noinline)) void thin_##N_(UKR_ARGS)         \
    {                                                                 \
        (void)m, (void)n;                                             \
        thin_body(N_, kq, a, b, bstride, c, ldc, beta);               \
    }
THIN(1)
THIN(2)
THIN(3)
THIN(4)
static inline UkrFn thin_for(int n) { return n == 1 ? thin_1 : n == 2 ? thin_2 : n == 3 ? thin_3 : thin_4; }

static inline UkrFn ukr_for(int rows, int nv)
{
#define CASE(R) \
    case R: return nv == 1 ? ukr_##R##x1 : nv == 2 ? ukr_##R##x2 : ukr_##R##x3;
    RT_GEMM_ROWS_SWITCH(rows, CASE)
#undef CASE
}

/* --- the driver --- */

typedef struct Product {
    Rows a, b;
    int trans_a, trans_b;
    float alpha;
} Product;

/* mc rows of the packed A (whole tiles, then m_edge rows) for columns [pc, pc + kc) */
static void pack_a_block(const Product *p, int64_t ic, int64_t pc, int64_t tiles, int m_edge, int64_t kc,
                         uint32_t *pa)
{
    const int64_t kq = (kc + 1) / 2;
    for (int64_t t = 0; t < tiles; t++)
        pack_a(&p->a, p->trans_a, ic + t * MR, pc, MR, kc, p->alpha, pa + t * MR * kq);
    if (m_edge)
        pack_a(&p->a, p->trans_a, ic + tiles * MR, pc, m_edge, kc, p->alpha, pa + tiles * MR * kq);
}

/* one packed sliver of B (width lanes a row, n valid columns) times every tile of a packed block */
static void sliver_times_block(int64_t kq, const uint32_t *pa, int64_t tiles, int m_edge, const uint32_t *pb,
                               int width, int n, float *c, int64_t ldc, float beta)
{
    const int nv = width / 16;
    const UkrFn full = n > RT_GEMM_THIN ? ukr_for(MR, nv) : thin_for(n);
    for (int64_t t = 0; t < tiles; t++)
        full(kq, pa + t * MR * kq, pb, width, c + t * MR * ldc, ldc, beta, MR, n);
    if (m_edge)
        ukr_for(m_edge, nv)(kq, pa + tiles * MR * kq, pb, width, c + tiles * MR * ldc, ldc, beta, m_edge, n);
}

/* The blocks of K the products use, of even length: kcb each, the last one shorter. */
static inline int64_t k_block(int64_t K)
{
    const int64_t nkb = (K + RT_GEMM_KC - 1) / RT_GEMM_KC;
    return ((K + nkb - 1) / nkb + 1) / 2 * 2;
}

/* A packed whole, once (when rt_gemm_whole_a(M, K, MR)): block pc starts pc / 2 * m_pad lanes in */
static void pack_a_whole(const Product *p, int64_t M, int64_t K, uint32_t *pa)
{
    const int64_t kcb = k_block(K), m_pad = (M + MR - 1) / MR * MR;
    for (int64_t pc = 0; pc < K; pc += kcb)
        pack_a_block(p, 0, pc, M / MR, (int)(M % MR), K - pc < kcb ? K - pc : kcb, pa + pc / 2 * m_pad);
}

/* The sliver of B from column jr of cols: its columns (NR, or the last ones), *width whole vectors */
static inline int sliver_cols(int64_t jr, int64_t cols, int *width)
{
    const int n = cols - jr < NR ? (int)(cols - jr) : NR;
    *width = (n + 15) / 16 * 16;
    return n;
}

/* C = A op(B) + beta C for A packed whole (pack_a_whole), every sliver of B packed into pb */
static void times_whole_a(const Product *p, const uint32_t *pa, int64_t M, int64_t N, int64_t K, float beta, float *C,
                          int64_t ldc, uint32_t *pb)
{
    const int m_rem = (int)(M % MR);
    const int64_t kcb = k_block(K), m_pad = (M + MR - 1) / MR * MR, tiles = M / MR;
    for (int64_t jr = 0; jr < N; jr += NR) {
        int width;
        const int n = sliver_cols(jr, N, &width);
        for (int64_t pc = 0; pc < K; pc += kcb) {
            const int64_t kc = K - pc < kcb ? K - pc : kcb;
            pack_b(&p->b, p->trans_b, pc, jr, n, width, kc, pb);
            sliver_times_block((kc + 1) / 2, pa + pc / 2 * m_pad, tiles, m_rem, pb, width, n, C + jr, ldc,
                               pc == 0 ? beta : 1.0f);
        }
    }
}

/* C[M,N] = alpha op(A) op(B) + beta C without the C^T variant; work: rt_gemm_core_floats(M, K)
 * floats (the pairs take at most as many 32-bit lanes as gemm.c's floats). */
static __attribute__((noinline)) void run(const Product *p, int64_t M, int64_t N, int64_t K, float beta, float *C,
                                          int64_t ldc, float *work)
{
    const int m_rem = (int)(M % MR);
    const int64_t kcb = k_block(K);
    uint32_t *pa = (uint32_t *)work;
    if (rt_gemm_whole_a(M, K, MR)) {
        const int64_t m_pad = (M + MR - 1) / MR * MR;
        pack_a_whole(p, M, K, pa);
        times_whole_a(p, pa, M, N, K, beta, C, ldc, pa + (m_pad * ((K + 1) / 2) + 15) / 16 * 16);
        return;
    }
    const int64_t mc_step = RT_GEMM_MC / MR * MR, mc_max = M < mc_step ? M : mc_step;
    uint32_t *pb = pa + ((mc_max + MR - 1) / MR * MR * (kcb / 2) + 15) / 16 * 16;
    for (int64_t pc = 0; pc < K; pc += kcb) {
        const int64_t kc = K - pc < kcb ? K - pc : kcb, kq = (kc + 1) / 2;
        const float bk = pc == 0 ? beta : 1.0f;
        for (int64_t ic = 0; ic < M; ic += mc_step) {
            const int64_t mc = M - ic < mc_step ? M - ic : mc_step;
            const int m_edge = ic + mc == M ? m_rem : 0;
            const int64_t tiles = (mc - m_edge) / MR;
            pack_a_block(p, ic, pc, tiles, m_edge, kc, pa);
            for (int64_t jr = 0; jr < N; jr += NR) {
                int width;
                const int n = sliver_cols(jr, N, &width);
                pack_b(&p->b, p->trans_b, pc, jr, n, width, kc, pb);
                sliver_times_block(kq, pa, tiles, m_edge, pb, width, n, C + ic * ldc + jr, ldc, bk);
            }
        }
    }
}

void QG(rt_gemm_bf16)(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                      int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, float *work)
{
    if (!rt_gemm_transposed(M, N, K)) {
        const Product p = {{A, lda, NULL}, {B, ldb, NULL}, trans_a, trans_b, alpha};
        run(&p, M, N, K, beta, C, ldc, work);
        return;
    }
    /* C^T = op(B)^T op(A)^T, mb rows of C at a time, as gemm.c */
    const int64_t mb = rt_gemm_t_block(N) < M ? rt_gemm_t_block(N) : M;
    float *ct = work, *core = work + (N * mb + 15) / 16 * 16;
    for (int64_t i0 = 0; i0 < M; i0 += mb) {
        const int64_t rows = M - i0 < mb ? M - i0 : mb;
        const Product p = {{B, ldb, NULL}, {trans_a ? A + i0 : A + i0 * lda, lda, NULL}, !trans_b, !trans_a, alpha};
        run(&p, N, rows, K, 0.0f, ct, rows, core);
        rt_gemm_store_t(ct, rows, rows, N, beta, C + i0 * ldc, ldc);
    }
}

void QG(rt_gemm_bf16_rows)(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                           const int32_t *b_rows, float beta, float *C, int64_t ldc, float *work)
{
    const Product p = {{A, lda, NULL}, {B, 0, b_rows}, 0, 0, 1.0f};
    run(&p, M, N, K, beta, C, ldc, work);
}

void QG(rt_gemm_bf16_bt_rows)(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                              const int32_t *bt_rows, float beta, float *C, int64_t ldc, float *work)
{
    const Product p = {{A, lda, NULL}, {B, 0, bt_rows}, 0, 1, 1.0f};
    run(&p, M, N, K, beta, C, ldc, work);
}

void QG(rt_gemm_bf16_pack_a)(const float *A, int64_t lda, int64_t M, int64_t K, uint32_t *dst)
{
    const Product p = {{A, lda, NULL}, {NULL, 0, NULL}, 0, 0, 1.0f};
    pack_a_whole(&p, M, K, dst);
}

void QG(rt_gemm_bf16_packed_a)(int64_t M, int64_t N, int64_t K, const uint32_t *pa, const float *B, int64_t ldb,
                               float beta, float *C, int64_t ldc, float *work)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return;
    const Product p = {{NULL, 0, NULL}, {B, ldb, NULL}, 0, 0, 1.0f};
    times_whole_a(&p, pa, M, N, K, beta, C, ldc, (uint32_t *)work);
}

/* A (M x K) as the B of C^T = B^T A^T: slivers of NR of its rows (the last one whole vectors), each
 * its blocks of K in the order the products take them; sliver jr starts jr * ceil(K / 2) lanes in,
 * its block pc pc / 2 * width lanes after that. */
void QG(rt_gemm_bf16_pack_at)(const float *A, int64_t lda, int64_t M, int64_t K, uint32_t *dst)
{
    const Rows a = {A, lda, NULL};
    const int64_t kcb = k_block(K), kqt = (K + 1) / 2;
    for (int64_t jr = 0; jr < M; jr += NR) {
        int width;
        const int n = sliver_cols(jr, M, &width);
        for (int64_t pc = 0; pc < K; pc += kcb)
            pack_b(&a, 1, pc, jr, n, width, K - pc < kcb ? K - pc : kcb, dst + jr * kqt + pc / 2 * width);
    }
}

void QG(rt_gemm_bf16_packed_at)(int64_t M, int64_t N, int64_t K, const uint32_t *pat, const float *B, int64_t ldb,
                                float beta, float *C, int64_t ldc, float *work)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return;
    /* B^T (N x K, B stored K x N) packed whole as the tiles of the transposed product, then C^T's
     * [N][M] rows sliver by sliver of A */
    const Product p = {{B, ldb, NULL}, {NULL, 0, NULL}, 1, 0, 1.0f};
    const int64_t kcb = k_block(K), kqt = (K + 1) / 2, n_pad = (N + MR - 1) / MR * MR;
    uint32_t *pa = (uint32_t *)work;
    float *ct = work + (n_pad * kqt + 15) / 16 * 16;
    pack_a_whole(&p, N, K, pa);
    for (int64_t jr = 0; jr < M; jr += NR) {
        int width;
        const int n = sliver_cols(jr, M, &width);
        for (int64_t pc = 0; pc < K; pc += kcb) {
            const int64_t kc = K - pc < kcb ? K - pc : kcb;
            sliver_times_block((kc + 1) / 2, pa + pc / 2 * n_pad, N / MR, (int)(N % MR), pat + jr * kqt + pc / 2 * width,
                               width, n, ct + jr, M, pc == 0 ? 0.0f : 1.0f);
        }
    }
    rt_gemm_store_t(ct, M, M, N, beta, C, ldc);
}
