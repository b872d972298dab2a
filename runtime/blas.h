/* runtime/blas.h — matrix products through OpenBLAS with its threads kept off the pool's cores.
 * Both pools on the same cores were twice as slow as either alone (ResNet-18 with --gemm openblas,
 * 2 threads: 40.8 against 18.6 ms), so a product called from one of the pool's tasks runs on one
 * OpenBLAS thread, and one called outside them on as many as the pool would use. */
#ifndef SD_RT_BLAS_H
#define SD_RT_BLAS_H

#include <stdint.h>

/* C = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm. */
void rt_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                   const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
