/* runtime/kernels/matmul.c — batched products over the shared GEMM. Two shapes skip it: a single
 * output element per slice (a dot product, e.g. einsum "nc,nc->n") and, on the builtin path, a
 * single output column (matrix times vector), where row dot products vectorize along K while the
 * GEMM's loop along N has one iteration. Integer products are plain loops (exact, wrapping). */
#include "runtime/kernels/matmul.h"

#include "runtime/kernels/gemm.h"
#include "runtime/kernels/loops.h"

#define DOT_LANES 16

/* sum a[i] * b[i * b_step]; lanes of partial sums let the loop vectorize without reassociation */
static float dot_f32(const float *restrict a, const float *restrict b, int64_t n, int64_t b_step)
{
    float acc[DOT_LANES] = {0};
    int64_t i = 0;
    for (; i + DOT_LANES <= n; i += DOT_LANES)
        for (int j = 0; j < DOT_LANES; j++)
            acc[j] += a[i + j] * b[(i + j) * b_step];
    float s = 0.0f;
    for (; i < n; i++)
        s += a[i] * b[i * b_step];
    for (int j = 0; j < DOT_LANES; j++)
        s += acc[j];
    return s;
}

static void store(float *c, float v, float alpha, float beta)
{
    *c = beta == 0.0f ? alpha * v : alpha * v + beta * *c;
}

/* C for a few rows of A against B stored transposed (N x K: a classifier's
 * weights at batch 1): dot products along K, B read once, in place. The GEMM transposed every
 * sliver of B into its packed layout first (MobileNetV2's classifier at batch 1: 5% of the run). */
static void rows_dot_bt(const RtMatmulParams *p, int64_t N, const float *A, const float *B, float *C)
{
    for (int64_t i = 0; i < p->M; i++)
        for (int64_t j = 0; j < N; j++)
            store(&C[i * p->ldc + j], dot_f32(A + i * p->lda, B + j * p->ldb, p->K, 1), p->alpha, p->beta);
}

/* The product of one batch slice, or of its first N columns (N: p->N, or a block's; inlined at
 * each call site so that the GEMM sees constant sizes) */
static inline __attribute__((always_inline)) void slice_f32(const RtMatmulParams *p, int64_t N, const float *A,
                                                           const float *B, float *C, float *work)
{
    if (rt_matmul_rows_dot(p)) {
        rows_dot_bt(p, N, A, B, C);
        return;
    }
    if (N == 1 && p->use_blas != RT_GEMM_BF16 && (p->M == 1 || (p->use_blas != RT_GEMM_OPENBLAS && !p->trans_a))) {
        /* rows of op(A) are contiguous unless transposed; op(B)'s column steps by ldb unless transposed */
        int64_t b_step = p->trans_b ? 1 : p->ldb;
        for (int64_t i = 0; i < p->M; i++) {
            float v;
            if (p->trans_a) { /* M == 1: the row is A's column 0 */
                v = 0.0f;
                for (int64_t k = 0; k < p->K; k++)
                    v += A[k * p->lda] * B[k * b_step];
            } else {
                v = dot_f32(A + i * p->lda, B, p->K, b_step);
            }
            store(&C[i * p->ldc], v, p->alpha, p->beta);
        }
        return;
    }
    rt_gemm_f32(p->trans_a, p->trans_b, p->M, N, p->K, p->alpha, A, p->lda, B, p->ldb, p->beta, C, p->ldc,
                p->use_blas, work);
}

RT_KERNEL(rt_matmul_f32)
{
    const RtMatmulParams *p = params_;
    const float *A = bufs[0], *B = bufs[1];
    float *C = bufs[2], *work = bufs[3];
    const int64_t *d = p->batch;
    RT_NEST6(d)
    {
        slice_f32(p, p->N, A + RT_OFF6(p->a_stride), B + RT_OFF6(p->b_stride), C + RT_OFF6(p->c_stride), work);
    }
}

/* Blocks [begin, end) of RT_MATMUL_COLS columns of the one product of rt_matmul_by_columns */
RT_RANGE_KERNEL(rt_matmul_f32_range)
{
    const RtMatmulParams *p = params_;
    const float *A = bufs[0], *B = bufs[1];
    float *C = bufs[2], *work = bufs[3];
    const int64_t nb = (p->N + RT_MATMUL_COLS - 1) / RT_MATMUL_COLS;
    for (int64_t blk = begin; blk < end; blk++) {
        const int64_t j0 = blk * RT_MATMUL_COLS;
        const float *Bj = p->trans_b ? B + j0 * p->ldb : B + j0;
        if (blk < nb - 1) /* constant sizes per call site */
            slice_f32(p, RT_MATMUL_COLS, A, Bj, C + j0, work);
        else
            slice_f32(p, p->N - (nb - 1) * RT_MATMUL_COLS, A, Bj, C + j0, work);
    }
}

bool rt_matmul_pack_bt(const void *params, const void *b, void *dst)
{
    const RtMatmulParams *p = params;
    const float *src = b;
    float *t = dst;
    for (int64_t k = 0; k < p->K; k++)
        for (int64_t j = 0; j < p->N; j++)
            t[j * p->K + k] = src[k * p->N + j];
    return true;
}

#define INT_MATMUL(T)                                                                        \
    do {                                                                                     \
        const RtMatmulParams *p = params_;                                                   \
        const int64_t *d = p->batch;                                                         \
        RT_NEST6(d)                                                                          \
        {                                                                                    \
            const T *A = (const T *)bufs[0] + RT_OFF6(p->a_stride);                          \
            const T *B = (const T *)bufs[1] + RT_OFF6(p->b_stride);                          \
            T *C = (T *)bufs[2] + RT_OFF6(p->c_stride);                                      \
            for (int64_t i = 0; i < p->M; i++) {                                             \
                T *c = C + i * p->ldc;                                                       \
                for (int64_t j = 0; j < p->N; j++)                                           \
                    c[j] = 0;                                                                \
                for (int64_t k = 0; k < p->K; k++) {                                         \
                    /* unsigned arithmetic: overflow wraps instead of being undefined */     \
                    U a = (U)A[i * p->lda + k];                                              \
                    const T *b = B + k * p->ldb;                                             \
                    for (int64_t j = 0; j < p->N; j++)                                       \
                        c[j] = (T)((U)c[j] + a * (U)b[j]);                                   \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    } while (0)

RT_KERNEL(rt_matmul_i64)
{
    typedef uint64_t U;
    INT_MATMUL(int64_t);
}

RT_KERNEL(rt_matmul_i32)
{
    typedef uint32_t U;
    INT_MATMUL(int32_t);
}
