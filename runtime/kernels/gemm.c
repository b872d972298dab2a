/* runtime/kernels/gemm.c — the shared matrix product.
 *
 * The builtin path is a packed, register-blocked GEMM in the style of BLIS. K is cut into balanced
 * blocks of at most RT_GEMM_KC. op(A) is packed (alpha folded in) into slivers of MR rows, k-major:
 * all of it once when it is small (rt_gemm_whole_a: the usual weights of a convolution), else a
 * block of at most RT_GEMM_MC rows per K block. Each NR-wide sliver of op(B) is read in place when
 * B is not transposed (kc rows of NR floats, ldb apart: the hardware prefetchers follow them, and
 * copying them first cost 5-13% of a whole ResNet, measured) and packed k-major into a small buffer
 * otherwise and for the last, narrower sliver (zero-padded to whole vectors). A micro-kernel computes
 * every MR x NR tile of C against the sliver with MR x NR/16 vector accumulators: 8 x 48 (24 of 32
 * AVX-512 registers) or, for targets without 512-bit vectors, 6 x 16 (12 of 16 AVX2 registers,
 * 24 of 32 NEON ones). Edge tiles (M % MR rows, N % NR columns) have their own variants with fewer
 * rows or vectors, so only lanes of the last vector of a row are ever wasted, and the last 1 to 4
 * columns their thin kernels (A's rows in the vector lanes); when N is so narrow that those would
 * be many (7x7 images: N = 49), or is one vector, C^T = op(B)^T op(A)^T is computed instead and
 * transposed into C.
 *
 * rt_gemm_f32 is inlined at every call site with constant sizes, transposes, alpha and beta, where
 * it decides the strategy and picks the packing routines and micro-kernels; everything else is
 * out of line (codegen keeps `noinline` kernel functions as they are): one copy of each serves
 * every call site of a module, and only the variants some call site picks are compiled, which
 * keeps compile time and code size down. Callers pass constant sizes (a convolution calls the
 * GEMM for its full blocks and for its last block apart) so that the choices fold.
 *
 * Portable C11 with GCC/Clang vector extensions (and __builtin_shufflevector for in-register
 * transposes, scalar loops without it): LLVM lowers the 16-float vectors to one AVX-512 register,
 * two AVX2 ones or four NEON ones. The packing routines are in gemm_pack.c. */
#include "runtime/kernels/gemm.h"

#include <string.h>

#include "runtime/blas.h"
#include "runtime/kernels/gemm_internal.h"
#include "runtime/kernels/kernel.h"

/* --- micro-kernels --- */

/* C[0:m, 0:n] = t + beta * C (t alone when beta == 0), t with rows of NR floats: the store of an
 * edge tile, shared by every micro-kernel. */
__attribute__((noinline)) void rt_gemm_store_edge(const float *restrict t, int m, int n, float beta,
                                                  float *restrict c, int64_t ldc)
{
    RT_NOVEC
    for (int i = 0; i < m; i++)
        RT_NOVEC
        for (int j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? t[i * NR + j] : t[i * NR + j] + beta * c[i * ldc + j];
}

/* C[0:m, 0:n] (row stride ldc) = acc + beta * C, or acc when beta == 0, where acc is the
 * rows x (16 * nv) product of the packed A sliver a ([kc][rows]) and the B sliver b ([kc] rows of
 * bstride floats, or, when b_rows is given, row k at b + b_rows[k]). m == rows and n == 16 * nv on
 * full tiles; edge tiles store less. */
static inline __attribute__((always_inline)) void ukr_body(const int rows, const int nv, int64_t kc,
                                                            const float *restrict a, const float *restrict b,
                                                            int64_t bstride, float *restrict c, int64_t ldc,
                                                            float beta, int m, int n,
                                                            const int32_t *restrict b_rows)
{
    v16f acc[MR][NV];
    RT_UNROLL
    for (int i = 0; i < rows; i++) {
        RT_UNROLL
        for (int v = 0; v < nv; v++)
            acc[i][v] = VSPLAT(0.0f);
    }
    for (int64_t k = 0; k < kc; k++) {
        __builtin_prefetch(a + 64 * rows); /* A packed at compile time comes from memory the first time */
        const float *bk = b_rows ? b + b_rows[k] : b;
        v16f bv[NV];
        RT_UNROLL
        for (int v = 0; v < nv; v++)
            bv[v] = VLOAD(bk + 16 * v);
        RT_UNROLL
        for (int i = 0; i < rows; i++) {
            v16f av = VSPLAT(a[i]);
            RT_UNROLL
            for (int v = 0; v < nv; v++)
                acc[i][v] = VFMA(av, bv[v], acc[i][v]);
        }
        a += rows;
        if (!b_rows)
            b += bstride;
    }
    if (m == rows && n == 16 * nv) {
        RT_UNROLL
        for (int i = 0; i < rows; i++) {
            RT_UNROLL
            for (int v = 0; v < nv; v++) {
                float *cp = c + i * ldc + 16 * v;
                VSTORE(cp, beta == 0.0f ? acc[i][v] : acc[i][v] + VSPLAT(beta) * VLOAD(cp));
            }
        }
        return;
    }
    /* an edge tile: through a buffer, only the m x n corner */
    float t[MR * NR];
    RT_UNROLL
    for (int i = 0; i < rows; i++) {
        RT_UNROLL
        for (int v = 0; v < nv; v++)
            VSTORE(t + i * NR + 16 * v, acc[i][v]);
    }
    rt_gemm_store_edge(t, m, n, beta, c, ldc);
}

#define UKR_ARGS                                                                                      \
    int64_t kc, const float *restrict a, const float *restrict b, int64_t bstride, float *restrict c, \
        int64_t ldc, float beta, int m, int n, const int32_t *restrict b_rows
/* rt_gemm_ukr_*: B's rows bstride apart (b_rows unused); rt_gemm_ukro_*: at the offsets b_rows */
#define UKR(R, V)                                                                  \
    __attribute__((noinline)) void rt_gemm_ukr_##R##x##V(UKR_ARGS);               \
    __attribute__((noinline)) void rt_gemm_ukr_##R##x##V(UKR_ARGS)                \
    {                                                                              \
        (void)b_rows;                                                              \
        ukr_body(R, V, kc, a, b, bstride, c, ldc, beta, m, n, NULL);               \
    }                                                                              \
    __attribute__((noinline)) void rt_gemm_ukro_##R##x##V(UKR_ARGS);              \
    __attribute__((noinline)) void rt_gemm_ukro_##R##x##V(UKR_ARGS)               \
    {                                                                              \
        ukr_body(R, V, kc, a, b, bstride, c, ldc, beta, m, n, b_rows);             \
    }
#define UKR_ROWS(V) UKR(1, V) UKR(2, V) UKR(3, V) UKR(4, V) UKR(5, V) UKR(6, V) UKR(7, V) UKR(8, V)
UKR_ROWS(1)
UKR_ROWS(2)
UKR_ROWS(3)

typedef void (*UkrFn)(UKR_ARGS);

/* The last n <= RT_GEMM_THIN columns of a tile of MR rows: a k step loads MR floats of A as one
 * vector and broadcasts n of B, where the 16-wide edge kernel broadcasts MR of A for its one vector
 * of B and is bound by those loads (the 49th tile of a Winograd block, N = 49, took 27% of the
 * products' time; 196 pixels end in 4). */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));
static inline __attribute__((always_inline)) void thin_body(const int n, int64_t kc, const float *restrict a,
                                                             const float *restrict b, int64_t bstride,
                                                             float *restrict c, int64_t ldc, float beta)
{
    v8f acc[RT_GEMM_THIN];
    RT_UNROLL
    for (int j = 0; j < n; j++)
        acc[j] = (v8f){0};
    for (int64_t k = 0; k < kc; k++) {
        __builtin_prefetch(a + 64 * MR);
        const v8f av = *(const v8f_u *)a;
        RT_UNROLL
        for (int j = 0; j < n; j++)
            acc[j] = VFMA(av, (v8f){0} + b[j], acc[j]);
        a += MR;
        b += bstride;
    }
    float t[RT_GEMM_THIN][MR];
    RT_UNROLL
    for (int j = 0; j < n; j++)
        *(v8f_u *)t[j] = acc[j];
    rt_gemm_store_thin(&t[0][0], n, beta, c, ldc);
}
#define THIN(N_)                                                                   \
    __attribute__((noinline)) void rt_gemm_ukr_thin##N_(UKR_ARGS);                 \
    __attribute__((noinline)) void rt_gemm_ukr_thin##N_(UKR_ARGS)                  \
    {                                                                              \
        (void)m, (void)n, (void)b_rows;                                            \
        thin_body(N_, kc, a, b, bstride, c, ldc, beta);                            \
    }
THIN(1)
THIN(2)
THIN(3)
THIN(4)
static inline UkrFn thin_for(int n)
{
    return n == 1 ? rt_gemm_ukr_thin1 : n == 2 ? rt_gemm_ukr_thin2 : n == 3 ? rt_gemm_ukr_thin3 : rt_gemm_ukr_thin4;
}

/* The variant for a rows x (16 nv) tile; rows and nv are constants at specialized call sites, so
 * only the variants a module uses end up in it. */
static inline UkrFn ukr_for(int rows, int nv, int offsets)
{
#define CASE(R)                                                                       \
    case R:                                                                           \
        if (offsets)                                                                  \
            return nv == 1 ? rt_gemm_ukro_##R##x1 : nv == 2 ? rt_gemm_ukro_##R##x2 : rt_gemm_ukro_##R##x3; \
        return nv == 1 ? rt_gemm_ukr_##R##x1 : nv == 2 ? rt_gemm_ukr_##R##x2 : rt_gemm_ukr_##R##x3;
    RT_GEMM_ROWS_SWITCH(rows, CASE)
#undef CASE
}

/* --- the driver --- */

static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            for (int64_t j = 0; j < N; j++)
                c[j] = 0.0f;
        else if (beta != 1.0f)
            for (int64_t j = 0; j < N; j++)
                c[j] *= beta;
    }
}

/* What a call site needs, decided from its constant sizes and transposes: the packing routines
 * and the micro-kernels of the full tiles and of the edges (M % MR rows, N % NR columns). */
typedef struct GemmPlan {
    int mr, nr; /* the tile: RT_GEMM_MR x RT_GEMM_NR, or the narrow RT_GEMM_MR_N x RT_GEMM_NR_N */
    PackAFn pack_a;
    PackBFn pack_b;
    UkrFn full, n_edge, m_edge, corner;
    int direct_b; /* full slivers of B are read where they lie (B not transposed), not packed; so is
                     the last, narrower one where it is whole vectors wide or thin, and B's rows plain
                     strides */
    int thin;     /* the last columns (at most RT_GEMM_THIN) go through rt_gemm_ukr_thin* */
    const int32_t *b_rows; /* row k of B starts at B + b_rows[k] (rt_gemm_f32_rows; direct_b set) */
    const int32_t *bt_rows; /* column j of op(B) starts at B + bt_rows[j] (rt_gemm_f32_bt_rows) */
    const float *packed_a; /* A packed ahead of time (rt_gemm_pack_a): its blocks of K are */
    int64_t pa_stride;     /* pa_stride floats apart, this call's rows from row pa_row0 */
    int64_t pa_row0;
} GemmPlan;

/* mc rows of alpha * op(A) from row ic, columns [pc, pc + kc): full slivers, then the edge */
__attribute__((noinline)) void rt_gemm_pack_block_a(const GemmPlan *plan, const float *A, int64_t lda, int64_t ic,
                                                    int64_t pc, int64_t tiles, int m_edge, int64_t kc, float alpha,
                                                    float *pa);
__attribute__((noinline)) void rt_gemm_pack_block_a(const GemmPlan *plan, const float *A, int64_t lda, int64_t ic,
                                                    int64_t pc, int64_t tiles, int m_edge, int64_t kc, float alpha,
                                                    float *pa)
{
    const int mr = plan->mr;
    for (int64_t t = 0; t < tiles; t++)
        plan->pack_a(A, lda, ic + t * mr, pc, mr, kc, alpha, pa + t * mr * kc);
    if (m_edge)
        plan->pack_a(A, lda, ic + tiles * mr, pc, m_edge, kc, alpha, pa + tiles * mr * kc);
}

/* The next sliver of B read in place (rows ld floats apart, cols floats each) while the current one
 * is multiplied, a part of its rows before each tile: the first tile of a sliver read its rows from
 * memory, one short stream per row of B (a 1x1 layer's input: 256 of them), more than the hardware
 * prefetchers follow. Only where B's rows are far apart: a sliver that is one sequential stream
 * (weights packed as W^T) is prefetched well by the hardware, and ResNet-18 at batch 1 ran 3%
 * slower with these. With the first K block, C's columns of the next sliver too, for writing: a
 * layer's output goes where the arena last held some other tensor, long out of cache, and each
 * store waited for its line (MobileNetV2's 1x1 layers on 112x112, batch 1, 1 thread: 16 -> 96
 * channels 0.59 -> 0.53 ms, 32 -> 16 0.23 -> 0.20; the network 0.98, at batch 32 0.97). */
typedef struct NextSliver {
    const float *b; /* NULL: nothing to prefetch */
    int64_t ld, rows;
    int cols;
    float *c; /* NULL, or C's columns of that sliver (c_rows rows ldc apart), about to be written */
    int64_t ldc, c_rows;
} NextSliver;

static inline void prefetch_part(const NextSliver *nx, int64_t part, int64_t parts)
{
    if (!nx->b)
        return;
    for (int64_t r = part * nx->rows / parts; r < (part + 1) * nx->rows / parts; r++)
        for (int j = 0; j < nx->cols; j += 16)
            __builtin_prefetch(nx->b + r * nx->ld + j);
    if (nx->c)
        for (int64_t r = part * nx->c_rows / parts; r < (part + 1) * nx->c_rows / parts; r++)
            for (int j = 0; j < nx->cols; j += 16)
                __builtin_prefetch(nx->c + r * nx->ldc + j, 1, 3);
}

/* One sliver of B (width floats a row, or at the offsets rows; n valid columns) times every packed
 * sliver of A */
__attribute__((noinline)) void rt_gemm_sliver_times_block(UkrFn full, UkrFn edge, int mr, int64_t kc,
                                                          const float *pa, int64_t tiles, int m_edge, const float *pb,
                                                          int width, int n, float *c, int64_t ldc, float bk,
                                                          const int32_t *rows, const NextSliver *nx);
__attribute__((noinline)) void rt_gemm_sliver_times_block(UkrFn full, UkrFn edge, int mr, int64_t kc,
                                                          const float *pa, int64_t tiles, int m_edge, const float *pb,
                                                          int width, int n, float *c, int64_t ldc, float bk,
                                                          const int32_t *rows, const NextSliver *nx)
{
    const int64_t parts = tiles + (m_edge ? 1 : 0);
    for (int64_t t = 0; t < tiles; t++) {
        prefetch_part(nx, t, parts);
        full(kc, pa + t * mr * kc, pb, width, c + t * mr * ldc, ldc, bk, mr, n, rows);
    }
    if (m_edge) {
        prefetch_part(nx, tiles, parts);
        edge(kc, pa + tiles * mr * kc, pb, width, c + tiles * mr * ldc, ldc, bk, m_edge, n, rows);
    }
}

/* The sliver of B at column jr for the K block [pc, pc + kc): where it lies (*rows set when its
 * rows are at offsets), or packed into pb (width floats a row, n valid columns). */
static inline const float *b_sliver(const GemmPlan *plan, const float *B, int64_t ldb, int64_t pc, int64_t jr,
                                    int n, int width, int64_t kc, int direct, float *pb, const int32_t **rows)
{
    *rows = NULL;
    if (plan->bt_rows) {
        rt_gemm_pack_b_t_rows(B, plan->bt_rows, pc, jr, n, width, kc, pb);
        return pb;
    }
    if (plan->b_rows) {
        if (direct) {
            *rows = plan->b_rows + pc;
            return B + jr;
        }
        rt_gemm_pack_b_rows(B + jr, plan->b_rows + pc, n, width, kc, pb);
        return pb;
    }
    if (direct)
        return B + pc * ldb + jr;
    plan->pack_b(B, ldb, pc, jr, n, width, kc, pb);
    return pb;
}

/* The blocked loops, one shared copy per module; see the top of the file. */
__attribute__((noinline)) void rt_gemm_run(const GemmPlan *plan, int64_t M, int64_t N, int64_t K, float alpha,
                                           const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                                           float *C, int64_t ldc, float *work);
__attribute__((noinline)) void rt_gemm_run(const GemmPlan *plan, int64_t M, int64_t N, int64_t K, float alpha,
                                           const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                                           float *C, int64_t ldc, float *work)
{
    const int mr = plan->mr, nr = plan->nr;
    const int m_rem = (int)(M % mr), n_rem = (int)(N % nr), w_rem = (n_rem + 15) / 16 * 16;
    const int64_t n_full = N - n_rem;
    const int64_t nkb = (K + RT_GEMM_KC - 1) / RT_GEMM_KC, kcb = (K + nkb - 1) / nkb;
    const int64_t kc_max = K < RT_GEMM_KC ? K : RT_GEMM_KC;
    float *pa = work;
    if (rt_gemm_whole_a(M, K, mr)) {
        /* A small enough to pack whole, once: each B sliver is then read once, runs through all
         * of K while its column of C tiles stays in cache. Block pc of A starts at pa + pc * M_pad. */
        const int64_t m_pad = (M + mr - 1) / mr * mr, tiles = M / mr;
        float *pb = work + (plan->packed_a ? 0 : (m_pad * K + 15) / 16 * 16);
        for (int64_t pc = 0; pc < K && !plan->packed_a; pc += kcb) {
            const int64_t kc = K - pc < kcb ? K - pc : kcb;
            rt_gemm_pack_block_a(plan, A, lda, 0, pc, tiles, m_rem, kc, alpha, pa + pc * m_pad);
        }
        for (int64_t jr = 0; jr < N; jr += nr) {
            const int edge = jr == n_full, width = edge ? w_rem : nr, n = edge ? n_rem : nr;
            for (int64_t pc = 0; pc < K; pc += kcb) {
                const int64_t kc = K - pc < kcb ? K - pc : kcb;
                const int direct = plan->direct_b && (!edge || ((n_rem % 16 == 0 || plan->thin) && !plan->b_rows));
                const int32_t *rows;
                const float *b = b_sliver(plan, B, ldb, pc, jr, n, width, kc, direct, pb, &rows);
                /* the block after this one, when it is read in place too */
                const int64_t npc = pc + kc < K ? pc + kc : 0, njr = pc + kc < K ? jr : jr + nr;
                NextSliver nx = {NULL, ldb, K - npc < kcb ? K - npc : kcb, nr, NULL, 0, 0};
                if (plan->direct_b && !plan->b_rows && ldb >= 4 * nr && njr + nr <= n_full) {
                    nx.b = B + npc * ldb + njr;
                    if (npc == 0 && ldc >= 4 * nr)
                        nx.c = C + njr, nx.ldc = ldc, nx.c_rows = M;
                }
                const float *pa_k = plan->packed_a ? plan->packed_a + pc * plan->pa_stride + plan->pa_row0 * kc
                                                   : pa + pc * m_pad;
                rt_gemm_sliver_times_block(edge ? plan->n_edge : plan->full, edge ? plan->corner : plan->m_edge, mr,
                                           kc, pa_k, tiles, m_rem, b, direct ? ldb : width, n, C + jr, ldc,
                                           pc == 0 ? beta : 1.0f, rows, &nx);
            }
        }
        return;
    }
    const int64_t mc_step = RT_GEMM_MC / mr * mr; /* whole tiles */
    const int64_t mc_max = M < mc_step ? M : mc_step;
    float *pb = work + ((mc_max + mr - 1) / mr * mr * kc_max + 15) / 16 * 16;
    for (int64_t pc = 0; pc < K; pc += kcb) {
        const int64_t kc = K - pc < kcb ? K - pc : kcb;
        const float bk = pc == 0 ? beta : 1.0f;
        for (int64_t ic = 0; ic < M; ic += mc_step) {
            const int64_t mc = M - ic < mc_step ? M - ic : mc_step;
            const int m_edge = ic + mc == M ? m_rem : 0;
            const int64_t tiles = (mc - m_edge) / mr;
            const float *pa_blk = pa;
            if (plan->packed_a)
                pa_blk = plan->packed_a + pc * plan->pa_stride + (plan->pa_row0 + ic) * kc;
            else
                rt_gemm_pack_block_a(plan, A, lda, ic, pc, tiles, m_edge, kc, alpha, pa);
            float *cb = C + ic * ldc;
            for (int64_t jr = 0; jr < n_full; jr += nr) {
                const int32_t *rows;
                const float *b = b_sliver(plan, B, ldb, pc, jr, nr, nr, kc, plan->direct_b, pb, &rows);
                NextSliver nx = {NULL, ldb, kc, nr, NULL, 0, 0};
                if (plan->direct_b && !plan->b_rows && ldb >= 4 * nr && jr + 2 * nr <= n_full)
                    nx.b = B + pc * ldb + jr + nr;
                rt_gemm_sliver_times_block(plan->full, plan->m_edge, mr, kc, pa_blk, tiles, m_edge, b,
                                           plan->direct_b ? ldb : nr, nr, cb + jr, ldc, bk, rows, &nx);
            }
            if (n_rem) {
                const int32_t *rows;
                const int direct = plan->direct_b && (n_rem % 16 == 0 || plan->thin) && !plan->b_rows;
                const float *b = b_sliver(plan, B, ldb, pc, n_full, n_rem, w_rem, kc, direct, pb, &rows);
                const NextSliver none = {NULL, 0, 0, 0, NULL, 0, 0};
                rt_gemm_sliver_times_block(plan->n_edge, plan->corner, mr, kc, pa_blk, tiles, m_edge, b,
                                           direct ? ldb : w_rem, n_rem, cb + n_full, ldc, bk, rows, &none);
            }
        }
    }
}

/* C[i][j] = ct[j][i] + beta * C[i][j] (C alone when beta == 0), for rows x cols of C */
__attribute__((noinline)) void rt_gemm_store_t(const float *restrict ct, int64_t ldct, int64_t rows, int64_t cols,
                                               float beta, float *restrict C, int64_t ldc)
{
    int64_t i = 0;
#ifdef HAVE_SHUFFLE
    for (; i + 16 <= rows; i += 16) {
        int64_t j = 0;
        for (; j + 16 <= cols; j += 16) {
            float t[16 * 16];
            rt_gemm_transpose16(ct + j * ldct + i, ldct, t, 16);
            for (int r = 0; r < 16; r++) {
                float *c = C + (i + r) * ldc + j;
                v16f x = VLOAD(t + 16 * r);
                VSTORE(c, beta == 0.0f ? x : x + VSPLAT(beta) * VLOAD(c));
            }
        }
        RT_NOVEC
        for (int64_t r = i; r < i + 16; r++)
            RT_NOVEC
            for (int64_t jj = j; jj < cols; jj++)
                C[r * ldc + jj] = beta == 0.0f ? ct[jj * ldct + r] : ct[jj * ldct + r] + beta * C[r * ldc + jj];
    }
#endif
    RT_NOVEC
    for (; i < rows; i++)
        RT_NOVEC
        for (int64_t j = 0; j < cols; j++)
            C[i * ldc + j] = beta == 0.0f ? ct[j * ldct + i] : ct[j * ldct + i] + beta * C[i * ldc + j];
}

static inline GemmPlan plan_for(int trans_a, int trans_b, int64_t M, int64_t N, int narrow, int offsets)
{
    const int mr = narrow ? RT_GEMM_MR_N : MR, nr = narrow ? RT_GEMM_NR_N : NR, nv = nr / 16;
    const int m_rem = (int)(M % mr), nv_rem = (int)(N % nr + 15) / 16, n_rem = (int)(N % nr);
    const int thin = mr == MR && n_rem > 0 && n_rem <= RT_GEMM_THIN;
    return (GemmPlan){
        .mr = mr,
        .nr = nr,
        .pack_a = trans_a ? rt_gemm_pack_a_t : rt_gemm_pack_a_n,
        .pack_b = trans_b ? rt_gemm_pack_b_t : rt_gemm_pack_b_n,
        .full = M >= mr && N >= nr ? ukr_for(mr, nv, offsets) : NULL,
        .n_edge = M >= mr && nv_rem ? (thin ? thin_for(n_rem) : ukr_for(mr, nv_rem, 0)) : NULL,
        .thin = thin,
        .m_edge = m_rem && N >= nr ? ukr_for(m_rem, nv, offsets) : NULL,
        .corner = m_rem && nv_rem ? ukr_for(m_rem, nv_rem, 0) : NULL,
    };
}

void rt_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int provider,
                 float *work)
{
    if (M <= 0 || N <= 0)
        return;
    if (provider == RT_GEMM_OPENBLAS && K > 0) {
        rt_blas_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    if (provider == RT_GEMM_BF16) {
        rt_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, work);
        return;
    }
    const int narrow = provider == RT_GEMM_BUILTIN_NARROW;
    if (!rt_gemm_transposed(M, N, K)) {
        GemmPlan plan = plan_for(trans_a, trans_b, M, N, narrow, 0);
        plan.direct_b = !trans_b; /* measured: resnet18 13%, resnet50 5%, mobilenet_v2 6% faster than packing */
        rt_gemm_run(&plan, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, work);
        return;
    }
    /* C^T = op(B)^T op(A)^T, mb rows of C at a time: op(B)^T is B read with the other transpose */
    const int64_t mb = rt_gemm_t_block(N) < M ? rt_gemm_t_block(N) : M, last = M - (M - 1) / mb * mb;
    const GemmPlan plan = plan_for(!trans_b, !trans_a, N, mb, narrow, 0);
    const GemmPlan last_plan = plan_for(!trans_b, !trans_a, N, last, narrow, 0);
    float *ct = work, *core = work + (N * mb + 15) / 16 * 16;
    for (int64_t i0 = 0; i0 < M; i0 += mb) {
        const int64_t rows = M - i0 < mb ? M - i0 : mb;
        rt_gemm_run(rows == mb ? &plan : &last_plan, N, rows, K, alpha, B, ldb, trans_a ? A + i0 : A + i0 * lda, lda,
                    0.0f, ct, rows, core);
        rt_gemm_store_t(ct, rows, rows, N, beta, C + i0 * ldc, ldc);
    }
}


/* K is cut into blocks exactly as rt_gemm_run cuts it, so that a packed block is what it would
 * have packed. */
static void pack_a_whole(const float *A, int64_t lda, int trans, int64_t M, int64_t K, float *dst)
{
    if (M <= 0 || K <= 0)
        return;
    const int64_t nkb = (K + RT_GEMM_KC - 1) / RT_GEMM_KC, kcb = (K + nkb - 1) / nkb;
    const int64_t m_pad = (M + MR - 1) / MR * MR;
    for (int64_t pc = 0; pc < K; pc += kcb) {
        const int64_t kc = K - pc < kcb ? K - pc : kcb;
        for (int64_t i = 0; i < M; i += MR) {
            const int rows = M - i < MR ? (int)(M - i) : MR;
            if (trans)
                rt_gemm_pack_a_t(A, lda, i, pc, rows, kc, 1.0f, dst + pc * m_pad + i * kc);
            else
                rt_gemm_pack_a_n(A, lda, i, pc, rows, kc, 1.0f, dst + pc * m_pad + i * kc);
        }
    }
}

void rt_gemm_pack_a(const float *A, int64_t M, int64_t K, float *dst) { pack_a_whole(A, K, 0, M, K, dst); }

void rt_gemm_pack_a_trans(const float *A, int64_t lda, int64_t M, int64_t K, float *dst)
{
    pack_a_whole(A, lda, 1, M, K, dst);
}

void rt_gemm_f32_packed_a(int64_t M, int64_t N, int64_t K, const float *Ap, int64_t row0, int64_t rows,
                          const float *B, int64_t ldb, float beta, float *C, int64_t ldc, float *work)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    GemmPlan plan = plan_for(0, 0, M, N, 0, 0);
    plan.direct_b = 1;
    plan.packed_a = Ap;
    plan.pa_stride = (rows + MR - 1) / MR * MR;
    plan.pa_row0 = row0;
    rt_gemm_run(&plan, M, N, K, 1.0f, NULL, 0, B, ldb, beta, C, ldc, work);
}

void rt_gemm_f32_rows(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *Ap, int64_t row0,
                      int64_t rows, const float *B, const int32_t *b_rows, float beta, float *C, int64_t ldc,
                      int provider, float *work)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    if (provider == RT_GEMM_BF16 && !Ap) {
        rt_gemm_bf16_rows(M, N, K, A, lda, B, b_rows, beta, C, ldc, work);
        return;
    }
    GemmPlan plan = plan_for(0, 0, M, N, provider == RT_GEMM_BUILTIN_NARROW, 1);
    plan.direct_b = 1;
    plan.b_rows = b_rows;
    if (Ap) {
        plan.packed_a = Ap;
        plan.pa_stride = (rows + MR - 1) / MR * MR;
        plan.pa_row0 = row0;
    }
    rt_gemm_run(&plan, M, N, K, 1.0f, A, lda, B, 0, beta, C, ldc, work);
}

void rt_gemm_f32_bt_rows(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                         const int32_t *bt_rows, float beta, float *C, int64_t ldc, int provider, float *work)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    if (provider == RT_GEMM_BF16) {
        rt_gemm_bf16_bt_rows(M, N, K, A, lda, B, bt_rows, beta, C, ldc, work);
        return;
    }
    GemmPlan plan = plan_for(0, 1, M, N, provider == RT_GEMM_BUILTIN_NARROW, 0);
    plan.bt_rows = bt_rows;
    rt_gemm_run(&plan, M, N, K, 1.0f, A, lda, B, 0, beta, C, ldc, work);
}
