/* runtime/kernels/matmul.h — batched matrix products (MatMul, Gemm). Each batch slice is one
 * rt_gemm_f32 call; batch dims arrive collapsed to RT_LOOP_RANK dims with per-operand element
 * strides (0 where an operand is broadcast), and codegen folds a batch that only A carries into M,
 * so [B, M, K] x [K, N] is a single [B*M, K] x [K, N] product. */
#ifndef SD_RT_MATMUL_H
#define SD_RT_MATMUL_H

#include <stdbool.h>

#include "runtime/kernels/gemm.h"
#include "runtime/kernels/kernel.h"

typedef struct RtMatmulParams {
    int64_t batch[RT_LOOP_RANK];          /* batch dims of the output, outermost first */
    int64_t a_stride[RT_LOOP_RANK];       /* elements per batch step; 0 where A is broadcast */
    int64_t b_stride[RT_LOOP_RANK];
    int64_t c_stride[RT_LOOP_RANK];
    int64_t M, N, K;
    int64_t lda, ldb, ldc;                /* row strides as stored */
    float alpha, beta;                    /* C = alpha * op(A) op(B) + beta * C */
    int32_t trans_a, trans_b;
    int32_t use_blas;                     /* the GEMM (f32): RT_GEMM_* of gemm.h */
} RtMatmulParams;

RT_KERNEL_DECL(rt_matmul_f32)             /* A, B -> C (C read first when beta != 0), workspace of
                                             rt_gemm_workspace_floats(M, N, K) floats */
/* Whether the product is a few rows of A (not transposed) against B stored transposed, which
 * rt_matmul_f32 computes as dot products along K on the builtin path. */
static inline int rt_matmul_rows_dot(const RtMatmulParams *p)
{
    return p->M <= 4 && p->trans_b && !p->trans_a &&
           (p->use_blas == RT_GEMM_BUILTIN || p->use_blas == RT_GEMM_BUILTIN_NARROW);
}
/* A product of a few rows (a classifier at batch 1: B, the weights, streams through once) and no
 * batch is shared out by rt_matmul_f32_range in blocks of RT_MATMUL_COLS columns of C. */
#define RT_MATMUL_COLS 96
static inline int rt_matmul_unbatched(const RtMatmulParams *p)
{
    int one = 1;
    for (int i = 0; i < RT_LOOP_RANK; i++)
        one = one && p->batch[i] == 1;
    return one;
}
static inline int rt_matmul_by_columns(const RtMatmulParams *p)
{
    return rt_matmul_unbatched(p) && p->M <= 4 && p->N > RT_MATMUL_COLS && !p->trans_a &&
           p->use_blas != RT_GEMM_OPENBLAS;
}
RT_RANGE_KERNEL_DECL(rt_matmul_f32_range)
/* Code generation's packing of a constant B stored [K, N] for a product that rt_matmul_rows_dot
 * takes (params: trans_b set, ldb = K): B^T into dst, each output column's weights one contiguous
 * row. Never fails. */
bool rt_matmul_pack_bt(const void *params, const void *b, void *dst);
RT_KERNEL_DECL(rt_matmul_i64)             /* A, B -> C, no transposes, alpha = 1, beta = 0 */
RT_KERNEL_DECL(rt_matmul_i32)

#endif
