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

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define HAVE_SHUFFLE 1 /* __builtin_shufflevector: transposes in registers */
#endif

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
