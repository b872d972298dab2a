/* runtime/kernels/gemm.h — the matrix product every GEMM-shaped kernel (MatMul, Gemm, Conv by
 * im2col) goes through: OpenBLAS when asked (use_blas), otherwise seedc's own packed,
 * register-blocked GEMM (gemm.c), which codegen specializes to the constant sizes, strides and
 * transposes of each call site. Row-major throughout. */
#ifndef SD_RT_GEMM_H
#define SD_RT_GEMM_H

#include <stdint.h>

/* Blocking of the builtin GEMM (floats). A micro-tile of C is RT_GEMM_MR rows by RT_GEMM_NR
 * columns; K is cut into blocks of at most RT_GEMM_KC; a block of A is at most RT_GEMM_MC rows. */
#define RT_GEMM_MR 8
#define RT_GEMM_NR 48
#define RT_GEMM_KC 256
#define RT_GEMM_MC 240

/* Floats of workspace rt_gemm_f32 needs for these sizes on the builtin path (the packed block of A
 * and one packed sliver of B, each a multiple of 16 floats). Callers pass at least this many
 * floats, 64-byte aligned; the OpenBLAS path takes NULL. */
static inline int64_t rt_gemm_workspace_floats(int64_t M, int64_t N, int64_t K)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return 0;
    int64_t kc = K < RT_GEMM_KC ? K : RT_GEMM_KC;
    int64_t mc = M < RT_GEMM_MC ? M : RT_GEMM_MC;
    int64_t mc_pad = (mc + RT_GEMM_MR - 1) / RT_GEMM_MR * RT_GEMM_MR;
    int64_t a = (mc_pad * kc + 15) / 16 * 16;
    int64_t b = (kc * RT_GEMM_NR + 15) / 16 * 16;
    return a + b;
}

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, with op = transpose when trans_* is set.
 * lda/ldb/ldc are row strides of A, B, C as stored. beta == 0 ignores C's old contents (NaNs too).
 * work: rt_gemm_workspace_floats(M, N, K) floats (unused, may be NULL, with use_blas). */
void rt_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int use_blas,
                 float *work);

#endif
