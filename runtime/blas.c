/* runtime/blas.c — see blas.h. The two OpenBLAS calls are declared here rather than through
 * <cblas.h>, so that libseedrt builds for targets without OpenBLAS (programs that never call
 * rt_blas_sgemm never pull this file in); the enum arguments are ints to the ABI. */
#include "runtime/blas.h"

#include <stdatomic.h>

#include "runtime/threadpool.h"

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 }; /* CBLAS_ORDER, CBLAS_TRANSPOSE */

void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);

static atomic_int blas_threads; /* what OpenBLAS was last told; 0: nothing yet */

void rt_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                   const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    const int want = rt_in_task() ? 1 : rt_num_threads();
    if (atomic_load_explicit(&blas_threads, memory_order_relaxed) != want) {
        openblas_set_num_threads(want);
        atomic_store_explicit(&blas_threads, want, memory_order_relaxed);
    }
    cblas_sgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, (int)m, (int)n, (int)k, alpha, a,
                (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
