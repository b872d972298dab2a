/* runtime/kernels/gemm.h — the matrix product every GEMM-shaped kernel (MatMul, Gemm, Conv by
 * im2col) goes through: OpenBLAS when asked (use_blas), otherwise seedc's own loops, which codegen
 * specializes to the constant M, N, K of each call site. Row-major throughout. */
#ifndef SD_RT_GEMM_H
#define SD_RT_GEMM_H

#include <stdint.h>

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, with op = transpose when trans_* is set.
 * lda/ldb/ldc are row strides of A, B, C as stored. beta == 0 ignores C's old contents (NaNs too). */
void rt_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int use_blas);

#endif
