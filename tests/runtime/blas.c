/* tests/runtime/blas.c — rt_blas_sgemm computes what a naive product does, transposed or not,
 * and leaves OpenBLAS one thread inside the pool's tasks and the pool's count outside them. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdatomic.h>

#include "runtime/blas.h"
#include "runtime/threadpool.h"

enum { M = 5, N = 7, K = 9 };

static void naive(int ta, int tb, const float *a, const float *b, float *c)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
            c[i * N + j] = (float)s;
        }
}

static void check(int ta, int tb)
{
    float a[M * K], b[K * N], c[M * N], want[M * N];
    for (int i = 0; i < M * K; i++)
        a[i] = (float)((i * 7) % 11) - 5.0f;
    for (int i = 0; i < K * N; i++)
        b[i] = (float)((i * 5) % 13) * 0.25f - 1.0f;
    naive(ta, tb, a, b, want);
    rt_blas_sgemm(ta, tb, M, N, K, 1.0f, a, ta ? M : K, b, tb ? K : N, 0.0f, c, N);
    for (int i = 0; i < M * N; i++)
        cr_assert(fabsf(c[i] - want[i]) <= 1e-4f, "ta %d tb %d: element %d is %g, expected %g", ta, tb, i, c[i],
                  want[i]);
}

static atomic_int inside_threads;

static void product_task(void *ctx, int64_t t, int32_t thread)
{
    (void)ctx, (void)thread;
    check((int)(t & 1), (int)(t >> 1 & 1));
    if (openblas_get_num_threads() != 1)
        atomic_store(&inside_threads, openblas_get_num_threads());
}

Test(blas, products_and_threads_inside_and_outside_the_pool)
{
    rt_set_num_threads(2);
    for (int t = 0; t < 4; t++)
        check(t & 1, t >> 1 & 1);
    cr_assert_eq(openblas_get_num_threads(), 2, "outside the pool's tasks OpenBLAS takes the pool's threads");
    atomic_store(&inside_threads, 1);
    rt_parallel_for(16, 0, product_task, NULL);
    cr_assert_eq(atomic_load(&inside_threads), 1, "a task's product ran on %d OpenBLAS threads",
                 atomic_load(&inside_threads));
    check(0, 0);
    cr_assert_eq(openblas_get_num_threads(), 2);
    rt_set_num_threads(1);
    check(1, 0);
    cr_assert_eq(openblas_get_num_threads(), 1);
}
