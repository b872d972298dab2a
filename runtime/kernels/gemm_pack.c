/* runtime/kernels/gemm_pack.c — the builtin GEMM's packing: operands copied into the micro-kernels'
 * layouts (A in slivers of MR rows k-major, B in slivers of NR columns), transposing in registers
 * where the operand is stored the other way; and the packing of B from rows at offsets (the direct
 * convolution's shifted windows). gemm.c decides what to pack and drives the micro-kernels. */
#include "runtime/kernels/gemm_internal.h"

/* rows x kc of alpha * A (row-major, not transposed) from row i0, column k0, as [kc][rows] */
__attribute__((noinline)) void rt_gemm_pack_a_n(const float *restrict A, int64_t lda, int64_t i0, int64_t k0,
                                                int rows, int64_t kc, float alpha, float *restrict dst)
{
    A += i0 * lda + k0;
    int64_t k = 0;
#ifdef HAVE_SHUFFLE
    if (rows == MR) /* 16 columns of the 8 rows at a time, transposed in registers */
        for (; k + 16 <= kc; k += 16) {
            v16f v[MR];
            RT_UNROLL
            for (int i = 0; i < MR; i++)
                v[i] = VSPLAT(alpha) * VLOAD(A + i * lda + k);
            transpose_rows(v, MR, 3);
            RT_UNROLL
            for (int i = 0; i < MR; i++)
                VSTORE(dst + k * MR + 16 * i, v[i]);
        }
#endif
    RT_NOVEC
    for (; k < kc; k++)
        RT_NOVEC
        for (int i = 0; i < rows; i++)
            dst[k * rows + i] = alpha * A[i * lda + k];
}

/* the same from A stored transposed (op(A)[i][k] = A[k * lda + i]): rows are contiguous */
__attribute__((noinline)) void rt_gemm_pack_a_t(const float *restrict A, int64_t lda, int64_t i0, int64_t k0,
                                                int rows, int64_t kc, float alpha, float *restrict dst)
{
    A += k0 * lda + i0;
    if (rows == MR) {
        for (int64_t k = 0; k < kc; k++)
            for (int i = 0; i < MR; i++)
                dst[k * MR + i] = alpha * A[k * lda + i];
        return;
    }
    RT_NOVEC
    for (int64_t k = 0; k < kc; k++)
        RT_NOVEC
        for (int i = 0; i < rows; i++)
            dst[k * rows + i] = alpha * A[k * lda + i];
}

/* kc x cols of B (not transposed) from row k0, column j0, as [kc][width], zeros in [cols, width) */
__attribute__((noinline)) void rt_gemm_pack_b_n(const float *restrict B, int64_t ldb, int64_t k0, int64_t j0,
                                                int cols, int width, int64_t kc, float *restrict dst)
{
    B += k0 * ldb + j0;
    if (cols == RT_GEMM_NR_N && width == RT_GEMM_NR_N) {
        for (int64_t k = 0; k < kc; k++) {
            __builtin_prefetch(B + k * ldb + RT_GEMM_NR_N);
            VSTORE(dst + k * RT_GEMM_NR_N, VLOAD(B + k * ldb));
        }
        return;
    }
    if (cols == NR && width == NR) {
        for (int64_t k = 0; k < kc; k++) {
            RT_UNROLL
            for (int v = 0; v < NV; v++) {
                __builtin_prefetch(B + k * ldb + NR + 16 * v);
                VSTORE(dst + k * NR + 16 * v, VLOAD(B + k * ldb + 16 * v));
            }
        }
        return;
    }
    RT_NOVEC
    for (int64_t k = 0; k < kc; k++) {
        RT_NOVEC
        for (int j = 0; j < cols; j++)
            dst[k * width + j] = B[k * ldb + j];
        RT_NOVEC
        for (int j = cols; j < width; j++)
            dst[k * width + j] = 0.0f;
    }
}

/* how far ahead (floats along a row) the packing routines prefetch */
#define PF_T 64
#ifdef HAVE_SHUFFLE
/* dst[r * ldd + c] = src[c * lds + r] for r, c < 16, in registers; prefetches the next block of
 * each source row (the packing of a transposed operand walks along them) */
__attribute__((noinline)) void rt_gemm_transpose16(const float *restrict src, int64_t lds, float *restrict dst,
                                                   int64_t ldd)
{
    v16f v[16];
    RT_UNROLL
    for (int r = 0; r < 16; r++) {
        __builtin_prefetch(src + r * lds + PF_T);
        v[r] = VLOAD(src + r * lds);
    }
    transpose_rows(v, 16, 4);
    RT_UNROLL
    for (int r = 0; r < 16; r++)
        VSTORE(dst + r * ldd, v[r]);
}
#endif

/* the same from B stored transposed (op(B)[k][j] = B[j * ldb + k]) */
__attribute__((noinline)) void rt_gemm_pack_b_t(const float *restrict B, int64_t ldb, int64_t k0, int64_t j0,
                                                int cols, int width, int64_t kc, float *restrict dst)
{
    B += j0 * ldb + k0;
    int j = 0;
#ifdef HAVE_SHUFFLE
    /* 16 x 16 blocks transposed in registers */
    for (; j + 16 <= cols; j += 16) {
        int64_t k = 0;
        for (; k + 16 <= kc; k += 16)
            rt_gemm_transpose16(B + j * ldb + k, ldb, dst + k * width + j, width);
        RT_NOVEC
        for (; k < kc; k++)
            RT_NOVEC
            for (int r = 0; r < 16; r++)
                dst[k * width + j + r] = B[(j + r) * ldb + k];
    }
#endif
    RT_NOVEC
    for (; j < cols; j++)
        RT_NOVEC
        for (int64_t k = 0; k < kc; k++)
            dst[k * width + j] = B[j * ldb + k];
    RT_NOVEC
    for (int64_t k = 0; k < kc; k++)
        RT_NOVEC
        for (int jj = cols; jj < width; jj++)
            dst[k * width + jj] = 0.0f;
}

/* rt_gemm_pack_b_t with column j of op(B) (a row of B) at B + rows[j] instead of j * ldb apart */
__attribute__((noinline)) void rt_gemm_pack_b_t_rows(const float *restrict B, const int32_t *restrict rows, int64_t k0,
                                                     int64_t j0, int cols, int width, int64_t kc, float *restrict dst)
{
    rows += j0;
    B += k0;
    int j = 0;
#ifdef HAVE_SHUFFLE
    for (; j + 16 <= cols; j += 16) {
        int64_t k = 0;
        for (; k + 16 <= kc; k += 16) {
            v16f v[16];
            RT_UNROLL
            for (int r = 0; r < 16; r++)
                v[r] = VLOAD(B + rows[j + r] + k);
            transpose_rows(v, 16, 4);
            RT_UNROLL
            for (int r = 0; r < 16; r++)
                VSTORE(dst + (k + r) * width + j, v[r]);
        }
        RT_NOVEC
        for (; k < kc; k++)
            RT_NOVEC
            for (int r = 0; r < 16; r++)
                dst[k * width + j + r] = B[rows[j + r] + k];
    }
#endif
    RT_NOVEC
    for (; j < cols; j++)
        RT_NOVEC
        for (int64_t k = 0; k < kc; k++)
            dst[k * width + j] = B[rows[j] + k];
    RT_NOVEC
    for (int64_t k = 0; k < kc; k++)
        RT_NOVEC
        for (int jj = cols; jj < width; jj++)
            dst[k * width + jj] = 0.0f;
}

/* kc rows of n floats, row k at B + rows[k], into dst with rows of width floats (zero-padded) */
__attribute__((noinline)) void rt_gemm_pack_b_rows(const float *restrict B, const int32_t *restrict rows, int n,
                                                   int width, int64_t kc, float *restrict dst)
{
    RT_NOVEC
    for (int64_t k = 0; k < kc; k++) {
        RT_NOVEC
        for (int j = 0; j < n; j++)
            dst[k * width + j] = B[rows[k] + j];
        RT_NOVEC
        for (int j = n; j < width; j++)
            dst[k * width + j] = 0.0f;
    }
}
