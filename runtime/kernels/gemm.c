/* runtime/kernels/gemm.c — the shared matrix product. The builtin path keeps a row of C in the
 * innermost loop (unit stride over N for both B and C), so once M, N and K are constants LLVM
 * vectorizes it along N; blocking over K keeps a panel of B in cache. Issue 3 replaces it with
 * packed, register-blocked micro-kernels. */
#include "runtime/kernels/gemm.h"

#include <cblas.h>

#define KC 256

void rt_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int use_blas)
{
    if (M <= 0 || N <= 0)
        return;
    if (use_blas && K > 0) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            for (int64_t j = 0; j < N; j++)
                c[j] = 0.0f;
        else if (beta != 1.0f)
            for (int64_t j = 0; j < N; j++)
                c[j] *= beta;
    }
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int64_t k1 = k0 + KC < K ? k0 + KC : K;
        for (int64_t i = 0; i < M; i++) {
            float *c = C + i * ldc;
            for (int64_t k = k0; k < k1; k++) {
                float a = alpha * (trans_a ? A[k * lda + i] : A[i * lda + k]);
                if (trans_b) {
                    for (int64_t j = 0; j < N; j++)
                        c[j] += a * B[j * ldb + k];
                } else {
                    const float *b = B + k * ldb;
                    for (int64_t j = 0; j < N; j++)
                        c[j] += a * b[j];
                }
            }
        }
    }
}
