/* runtime/kernels/conv_winograd_lanes.h — Winograd F(2x2, 3x3) on small images with the tiles of 16
 * images in each vector's lanes (rt_conv_winograd_lanes): the transforms that conv_winograd.c calls
 * per block of images_per_block images in place of its row-wise ones. */
#ifndef SD_RT_KERNELS_CONV_WINOGRAD_LANES_H
#define SD_RT_KERNELS_CONV_WINOGRAD_LANES_H

#include "runtime/kernels/conv.h"

/* V[point][c][col] = B^T d B for every tile of images [n0, n0 + images_per_block) (images past the
 * batch zero); plane: RtWinogradLayout.plane_floats of scratch. */
void rt_winograd_lanes_input(const RtConvParams *p, const float *x, int64_t n0, float *restrict plane,
                             float *restrict V, int64_t ldb, int64_t vv);

/* y for output channels [k0, k0 + m) of images [n0, n0 + images_per_block) from M[point][k - k0][col]
 * (A^T m A, the bias, the residual, the folded activation); stage: RtWinogradLayout.out_floats. */
void rt_winograd_lanes_output(const RtConvParams *p, const float *restrict M, int64_t ldb, int64_t mv, int64_t k0,
                              int64_t m, int64_t n0, const float *bias, const float *res, float *y,
                              float *restrict stage);

/* D[point][k][col] = A dy A^T for every tile of the block's images (zero past the batch); stage:
 * RtWinogradGradLayout.rows_floats. */
void rt_winograd_lanes_dy(const RtConvParams *p, const float *dy, int64_t n0, float *restrict stage,
                          float *restrict D, int64_t ldb, int64_t dv);

#endif
