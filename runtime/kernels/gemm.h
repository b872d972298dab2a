/* runtime/kernels/gemm.h — the matrix product every GEMM-shaped kernel (MatMul, Gemm, Conv by
 * im2col) goes through: OpenBLAS, or seedc's own packed, register-blocked GEMM (gemm.c), which
 * codegen specializes to the constant sizes, strides and transposes of each call site. Row-major
 * throughout. */
#ifndef SD_RT_GEMM_H
#define SD_RT_GEMM_H

#include <stdint.h>

/* Which GEMM a call site uses (callers keep it in their params' use_blas field): the builtin one
 * with tiles for 32 registers of 512 bits (AVX-512), OpenBLAS's sgemm, the builtin one with tiles
 * for 16 registers of 256 bits or 32 of 128 (AVX2, NEON), or the builtin one with its products in
 * bf16: operands rounded to bf16 (nearest even) as they are packed, sums in f32 (gemm_bf16.c;
 * AVX512-BF16's vdpbf16ps where the target has it; training with --precision bf16). A packed
 * ahead of time (rt_gemm_f32_packed_a, Ap of rt_gemm_f32_rows) stays f32. */
enum { RT_GEMM_BUILTIN = 0, RT_GEMM_OPENBLAS = 1, RT_GEMM_BUILTIN_NARROW = 2, RT_GEMM_BF16 = 3 };

/* Blocking of the builtin GEMM (floats). A micro-tile of C is RT_GEMM_MR rows by RT_GEMM_NR
 * columns (RT_GEMM_MR_N by RT_GEMM_NR_N for the narrow one); K is cut into blocks of at most
 * RT_GEMM_KC; a block of A is at most RT_GEMM_MC rows (a multiple of both tile heights). */
#define RT_GEMM_MR 8
#define RT_GEMM_NR 48
#define RT_GEMM_THIN 4 /* a last sliver this narrow goes through the thin edge kernels */
#define RT_GEMM_MR_N 6
#define RT_GEMM_NR_N 16
#define RT_GEMM_KC 256
#define RT_GEMM_MC 240

/* Whether A (M rows of K, padded to whole micro-tiles of mr rows) is small enough to be packed
 * whole, once: then every sliver of B is packed and used once for all of K. */
#define RT_GEMM_WHOLE_A_FLOATS (1 << 18)
static inline int rt_gemm_whole_a(int64_t M, int64_t K, int mr)
{
    return M <= RT_GEMM_MC && (M + mr - 1) / mr * mr * K <= RT_GEMM_WHOLE_A_FLOATS;
}

/* Columns of C a product computes for n real ones: whole slivers, then whole 16-float vectors. */
static inline int64_t rt_gemm_padded_cols(int64_t n)
{
    return n / RT_GEMM_NR * RT_GEMM_NR + (n % RT_GEMM_NR + 15) / 16 * 16;
}

/* Whether the builtin GEMM computes C^T = op(B)^T op(A)^T instead (in blocks of RT_GEMM_T_FLOATS
 * floats of workspace, each then transposed into C): when N is narrow enough that the vectors of
 * its last sliver would leave over 5% more lanes idle than M's would, or N is one vector and M at
 * least two: a tile one vector wide loads an element of A for every product, which the loads cannot
 * keep up with (a 4x4 layer of 128 channels, 128 x 16 x 1152: 18 -> 16 us in the GEMM). */
#define RT_GEMM_T_FLOATS (1 << 16)
static inline int rt_gemm_transposed(int64_t M, int64_t N, int64_t K)
{
    return N <= 4 * RT_GEMM_NR && K >= 16 && M >= 16 &&
           (20 * M * rt_gemm_padded_cols(N) > 21 * N * rt_gemm_padded_cols(M) || (N <= 16 && M >= 32));
}

/* Rows of C (columns of C^T) per block of a transposed product: whole slivers, at least one. */
static inline int64_t rt_gemm_t_block(int64_t N)
{
    int64_t b = RT_GEMM_T_FLOATS / (N > 0 ? N : 1) / RT_GEMM_NR * RT_GEMM_NR;
    return b < RT_GEMM_NR ? RT_GEMM_NR : b;
}

/* Floats of workspace the packed A (a block, or all of it) and one packed sliver of B need with
 * tiles of mr rows, each a multiple of 16 floats, for M and any K' <= K. */
static inline int64_t rt_gemm_core_floats_mr(int64_t M, int64_t K, int mr)
{
    int64_t kc = K < RT_GEMM_KC ? K : RT_GEMM_KC;
    int64_t mc = M < RT_GEMM_MC ? M : RT_GEMM_MC;
    int64_t mc_pad = (mc + mr - 1) / mr * mr;
    int64_t cols = kc; /* a block of K; or all of a K' <= K when A is packed whole */
    if (M <= RT_GEMM_MC) {
        int64_t whole = RT_GEMM_WHOLE_A_FLOATS / mc_pad;
        cols = K < whole ? K : whole;
        cols = cols > kc ? cols : kc;
    }
    return (mc_pad * cols + 15) / 16 * 16 + (kc * RT_GEMM_NR + 15) / 16 * 16;
}

/* ... with either tile height */
static inline int64_t rt_gemm_core_floats(int64_t M, int64_t K)
{
    int64_t w = rt_gemm_core_floats_mr(M, K, RT_GEMM_MR), n = rt_gemm_core_floats_mr(M, K, RT_GEMM_MR_N);
    return w > n ? w : n;
}

/* Floats of workspace rt_gemm_f32 needs on either builtin path for M and any N' <= N, K' <= K
 * (callers that cut N or K into blocks pass the largest). Callers pass at least this many floats,
 * 64-byte aligned; OpenBLAS needs none (NULL is fine). */
static inline int64_t rt_gemm_workspace_floats(int64_t M, int64_t N, int64_t K)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return 0;
    int64_t w = rt_gemm_core_floats(M, K);
    for (int64_t n = 1; n <= N && n <= 4 * RT_GEMM_NR; n++)
        if (rt_gemm_transposed(M, n, K)) {
            int64_t mb = rt_gemm_t_block(n) < M ? rt_gemm_t_block(n) : M;
            int64_t t = (n * mb + 15) / 16 * 16 + rt_gemm_core_floats(n, K);
            w = t > w ? t : w;
        }
    return w;
}

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, with op = transpose when trans_* is set.
 * lda/ldb/ldc are row strides of A, B, C as stored. beta == 0 ignores C's old contents (NaNs too).
 * provider: RT_GEMM_*; work: rt_gemm_workspace_floats(M, N, K) floats for the builtin ones. */
void rt_gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int provider,
                 float *work);

/* A packed ahead of time (constant weights: codegen packs them once, at compile time), for the
 * builtin GEMM with 512-bit tiles (RT_GEMM_BUILTIN) only. rt_gemm_pack_a packs an M x K row-major
 * matrix into rt_gemm_packed_a_floats(M, K) floats: for each block of K the GEMM uses, every tile of
 * RT_GEMM_MR rows k-major (the last tile M % MR rows). rt_gemm_f32_packed_a then computes
 * C = op(A)[row0 : row0 + M] * B + beta * C for such a packed matrix of `rows` rows (row0 a multiple
 * of RT_GEMM_MR, alpha 1, B not transposed), skipping the packing every call would otherwise do. */
static inline int64_t rt_gemm_packed_a_floats(int64_t M, int64_t K)
{
    return (M + RT_GEMM_MR - 1) / RT_GEMM_MR * RT_GEMM_MR * K;
}
void rt_gemm_pack_a(const float *A, int64_t M, int64_t K, float *dst);
/* The same packing of op(A) = A^T, A stored K x M with rows lda apart: the columns of a batch-1
 * convolution with few output pixels, packed once and multiplied by every chunk of its channels. */
void rt_gemm_pack_a_trans(const float *A, int64_t lda, int64_t M, int64_t K, float *dst);
void rt_gemm_f32_packed_a(int64_t M, int64_t N, int64_t K, const float *Ap, int64_t row0, int64_t rows,
                          const float *B, int64_t ldb, float beta, float *C, int64_t ldc, float *work);

/* The bf16 product with A packed ahead of time (gemm_bf16.c), for A small enough to be packed
 * whole (rt_gemm_whole_a(M, K, RT_GEMM_MR)): rt_gemm_bf16_pack_a packs an M x K matrix (rows lda
 * apart) into rt_gemm_bf16_packed_a_lanes(M, K) 32-bit lanes of bf16 pairs; rt_gemm_bf16_packed_a
 * computes C = A B + beta * C from them (B not transposed, rows ldb apart), work:
 * rt_gemm_core_floats(M, K). */
static inline int64_t rt_gemm_bf16_packed_a_lanes(int64_t M, int64_t K)
{
    return (M + RT_GEMM_MR - 1) / RT_GEMM_MR * RT_GEMM_MR * ((K + 1) / 2);
}
void rt_gemm_bf16_pack_a(const float *A, int64_t lda, int64_t M, int64_t K, uint32_t *dst);
void rt_gemm_bf16_packed_a(int64_t M, int64_t N, int64_t K, const uint32_t *pa, const float *B, int64_t ldb,
                           float beta, float *C, int64_t ldc, float *work);
/* The same product for N of at most two tiles' rows (a Winograd point's 16 tiles at batch 1), where
 * C's tiles would be one vector wide: computed as C^T = B^T A^T, A the wide operand, with tiles of 3
 * vectors (an 8 x 16 tile ran at 2.6 G vdpbf16ps a second on one core, an 8 x 48 one at 3.6), then
 * transposed into C. rt_gemm_bf16_pack_at packs A (M x K, rows lda apart) as that product's B, in
 * rt_gemm_bf16_packed_at_lanes(M, K) lanes; rt_gemm_bf16_packed_at computes C = A B + beta * C
 * from them, work: rt_gemm_bf16_packed_at_floats(M, N, K). */
static inline int64_t rt_gemm_bf16_packed_at_lanes(int64_t M, int64_t K)
{
    return rt_gemm_padded_cols(M) * ((K + 1) / 2);
}
static inline int64_t rt_gemm_bf16_packed_at_floats(int64_t M, int64_t N, int64_t K)
{
    return ((N + RT_GEMM_MR - 1) / RT_GEMM_MR * RT_GEMM_MR * ((K + 1) / 2) + 15) / 16 * 16 + N * M;
}
void rt_gemm_bf16_pack_at(const float *A, int64_t lda, int64_t M, int64_t K, uint32_t *dst);
void rt_gemm_bf16_packed_at(int64_t M, int64_t N, int64_t K, const uint32_t *pat, const float *B, int64_t ldb,
                            float beta, float *C, int64_t ldc, float *work);

/* C[M,N] = op(A)[M,K] * B + beta * C where row k of B starts at B + b_rows[k] (overlapping rows
 * welcome: a convolution's shifted windows of one padded input, conv_direct.c). A is either M x K
 * row-major (lda) or, when Ap is given, packed ahead of time as for rt_gemm_f32_packed_a (row0,
 * rows; RT_GEMM_BUILTIN only). provider: one of the builtin ones (OpenBLAS has no such product);
 * work: rt_gemm_core_floats(M, K). */
void rt_gemm_f32_rows(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *Ap, int64_t row0,
                      int64_t rows, const float *B, const int32_t *b_rows, float beta, float *C, int64_t ldc,
                      int provider, float *work);

/* C[M,N] = A[M,K] * op(B) + beta * C where column j of op(B) (K floats) starts at B + bt_rows[j]:
 * a convolution's weight gradient, dy against shifted windows of its input (conv_direct.c). Builtin
 * providers only; work: rt_gemm_core_floats(M, K). */
void rt_gemm_f32_bt_rows(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                         const int32_t *bt_rows, float beta, float *C, int64_t ldc, int provider, float *work);

#endif
