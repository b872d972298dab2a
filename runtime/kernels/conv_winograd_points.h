/* runtime/kernels/conv_winograd_points.h — the part of Winograd's convolutions that does not depend
 * on the tile: the weights' transforms, one c_out x c_in matrix per point of the transform, packed
 * for the GEMM, and the products M[point] = U[point] V[point] that F(2x2, 3x3) (16 points,
 * conv_winograd.c) and F(4x4, 3x3) (36 points, conv_winograd4.c) both run. */
#ifndef SD_RT_KERNELS_CONV_WINOGRAD_POINTS_H
#define SD_RT_KERNELS_CONV_WINOGRAD_POINTS_H

#include "runtime/kernels/conv.h"
#include "runtime/kernels/gemm.h"

/* dst = the transforms u (u[(point * c_out + k) * c_in + c]) of points [x0, x1), each packed for the
 * builtin GEMM (bf16 pairs per channel chunk with RT_GEMM_BF16) */
void rt_winograd_pack_points(const RtConvParams *p, const float *u, int64_t x0, int64_t x1, float *dst);

/* M[point] = U[point] (channels [k0, k0 + m) of the packed weights) V[point], n columns, for the
 * first `points` points. Inline: each call site passes constant sizes. */
static inline void rt_winograd_point_products(const RtConvParams *p, int points, const float *U, int64_t k0,
                                              int64_t m, int64_t n, const float *V, int64_t ldb, int64_t vv,
                                              float *M, int64_t mv, float *work)
{
    const int64_t K = p->c_out, C = p->c_in, pa = rt_gemm_packed_a_floats(K, C);
    if (p->use_blas == RT_GEMM_BF16) { /* the chunk's own packed pairs */
        const int64_t cs = p->c_split > 1 ? p->c_split : 1, c = cs > 1 ? k0 / p->c_chunk : 0;
        const int64_t lanes = rt_conv_winograd_chunk_lanes(p), pl = rt_conv_winograd_point_lanes(p);
        for (int xi = 0; xi < points; xi++)
            (p->winograd_at ? rt_gemm_bf16_packed_at : rt_gemm_bf16_packed_a)(
                m, n, C, (const uint32_t *)U + xi * pl + c * lanes, V + xi * vv, ldb, 0.0f, M + xi * mv, ldb, work);
        return;
    }
    for (int xi = 0; xi < points; xi++)
        rt_gemm_f32_packed_a(m, n, C, U + xi * pa, k0, K, V + xi * vv, ldb, 0.0f, M + xi * mv, ldb, work);
}

/* The products of one item (block of tile rows, output-channel chunk): cols columns and cc channels
 * where the block and the chunk are whole ones (full_r, full_c), else last_cols and last_c; one call
 * site per case, each with sizes that stay the same from item to item. */
static inline void rt_winograd_item_products(const RtConvParams *p, int points, const float *U, int64_t k0,
                                             bool full_r, bool full_c, int64_t cc, int64_t last_c, int64_t cols,
                                             int64_t last_cols, const float *V, int64_t ldb, int64_t vv, float *M,
                                             int64_t mv, float *work)
{
    if (full_r && full_c)
        rt_winograd_point_products(p, points, U, k0, cc, cols, V, ldb, vv, M, mv, work);
    else if (full_r)
        rt_winograd_point_products(p, points, U, k0, last_c, cols, V, ldb, vv, M, mv, work);
    else if (full_c)
        rt_winograd_point_products(p, points, U, k0, cc, last_cols, V, ldb, vv, M, mv, work);
    else
        rt_winograd_point_products(p, points, U, k0, last_c, last_cols, V, ldb, vv, M, mv, work);
}

#endif
