/* runtime/kernels/gemm_internal.h — what the builtin GEMM's driver (gemm.c) and its packing
 * routines (gemm_pack.c) share: the 16-float vectors and their macros, the tile sizes, and the
 * packing routines the driver calls (out of line: one copy serves every call site of a module). */
#ifndef SD_RT_GEMM_INTERNAL_H
#define SD_RT_GEMM_INTERNAL_H

#include <stdint.h>

#include "runtime/kernels/gemm.h"
#include "runtime/kernels/kernel.h"

typedef float v16f __attribute__((vector_size(64)));

#ifdef __clang__
#define VFMA(a, b, c) __builtin_elementwise_fma((a), (b), (c))
#else
#define VFMA(a, b, c) ((a) * (b) + (c))
#endif

/* Edge and remainder loops are short and cold: vectorizing them only costs compile time. */
#ifdef __clang__
#define RT_NOVEC _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define RT_NOVEC
#endif

#define MR RT_GEMM_MR
#define NR RT_GEMM_NR
#define NV (NR / 16)

/* Unaligned, alias-safe access to 16 floats (macros: vector values never cross a call). */
typedef float v16f_u __attribute__((vector_size(64), aligned(4), may_alias));
#define VLOAD(p) (*(const v16f_u *)(p))
#define VSTORE(p, v) (*(v16f_u *)(p) = (v))
#define VSPLAT(x) ((v16f){(x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x)})

/* C[i][j] = t[j][i] + beta * C[i][j] (t alone when beta == 0) for the MR rows and the n columns of a
 * thin kernel's tile (gemm.c and gemm_bf16.c): t holds a column's MR sums together. */
static inline void rt_gemm_store_thin(const float *restrict t, int n, float beta, float *restrict c, int64_t ldc)
{
    RT_NOVEC
    for (int j = 0; j < n; j++)
        RT_NOVEC
        for (int i = 0; i < MR; i++)
            c[i * ldc + j] = beta == 0.0f ? t[j * MR + i] : t[j * MR + i] + beta * c[i * ldc + j];
}

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define HAVE_SHUFFLE 1 /* __builtin_shufflevector: transposes in registers */
#endif

#ifdef HAVE_SHUFFLE
/* the first (last) 8 lanes of a and b, interleaved */
#define ZIP_LO(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define ZIP_HI(a, b) __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)

/* Transposes r vectors (r = 2^rounds, 8 or 16) of 16 floats: afterwards v[0..r) read as one array
 * hold element k of input vector i at [k * r + i]. Each round interleaves vector j with j + r/2. */
static inline __attribute__((always_inline)) void transpose_rows(v16f *v, const int r, const int rounds)
{
    RT_UNROLL
    for (int round = 0; round < rounds; round++) {
        v16f t[16];
        RT_UNROLL
        for (int j = 0; j < r / 2; j++) {
            t[2 * j] = ZIP_LO(v[j], v[j + r / 2]);
            t[2 * j + 1] = ZIP_HI(v[j], v[j + r / 2]);
        }
        RT_UNROLL
        for (int j = 0; j < r; j++)
            v[j] = t[j];
    }
}
#endif

/* `switch (rows)` over the tile heights 1..MR, CASE(R) each (the last one the default): how the
 * f32 and bf16 products pick the micro-kernel of a tile from its rows */
#define RT_GEMM_ROWS_SWITCH(rows, CASE) \
    switch (rows) {                     \
        CASE(1)                         \
        CASE(2)                         \
        CASE(3)                         \
        CASE(4)                         \
        CASE(5)                         \
        CASE(6)                         \
        CASE(7)                         \
    default:                            \
        CASE(8)                         \
    }

/* The stores every product shares (gemm.c): an edge tile from a buffer with rows of NR floats, and
 * a block of C^T transposed into C (beta as rt_gemm_f32's). */
__attribute__((noinline)) void rt_gemm_store_edge(const float *restrict t, int m, int n, float beta,
                                                  float *restrict c, int64_t ldc);
__attribute__((noinline)) void rt_gemm_store_t(const float *restrict ct, int64_t ldct, int64_t rows, int64_t cols,
                                               float beta, float *restrict C, int64_t ldc);

/* The product with bf16 operands (gemm_bf16.c), what rt_gemm_f32 and its row variants call for
 * RT_GEMM_BF16; arguments as theirs (K > 0, alpha != 0 already checked). */
void rt_gemm_bf16(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, float *work);
void rt_gemm_bf16_rows(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       const int32_t *b_rows, float beta, float *C, int64_t ldc, float *work);
void rt_gemm_bf16_bt_rows(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                          const int32_t *bt_rows, float beta, float *C, int64_t ldc, float *work);

typedef void (*PackAFn)(const float *restrict A, int64_t lda, int64_t i0, int64_t k0, int rows, int64_t kc,
                        float alpha, float *restrict dst);
typedef void (*PackBFn)(const float *restrict B, int64_t ldb, int64_t k0, int64_t j0, int cols, int width,
                        int64_t kc, float *restrict dst);

__attribute__((noinline)) void rt_gemm_pack_a_n(const float *restrict A, int64_t lda, int64_t i0, int64_t k0,
                                                int rows, int64_t kc, float alpha, float *restrict dst);
__attribute__((noinline)) void rt_gemm_pack_a_t(const float *restrict A, int64_t lda, int64_t i0, int64_t k0,
                                                int rows, int64_t kc, float alpha, float *restrict dst);
__attribute__((noinline)) void rt_gemm_pack_b_n(const float *restrict B, int64_t ldb, int64_t k0, int64_t j0,
                                                int cols, int width, int64_t kc, float *restrict dst);
__attribute__((noinline)) void rt_gemm_transpose16(const float *restrict src, int64_t lds, float *restrict dst,
                                                   int64_t ldd);
__attribute__((noinline)) void rt_gemm_pack_b_t(const float *restrict B, int64_t ldb, int64_t k0, int64_t j0,
                                                int cols, int width, int64_t kc, float *restrict dst);
__attribute__((noinline)) void rt_gemm_pack_b_t_rows(const float *restrict B, const int32_t *restrict rows, int64_t k0,
                                                     int64_t j0, int cols, int width, int64_t kc, float *restrict dst);
__attribute__((noinline)) void rt_gemm_pack_b_rows(const float *restrict B, const int32_t *restrict rows, int n,
                                                   int width, int64_t kc, float *restrict dst);

#endif
