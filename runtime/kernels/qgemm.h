/* runtime/kernels/qgemm.h — packed int8 and bf16 convolutions and matrix products (the ops
 * passes/quantize.c makes: QCONV, QMATMUL, CONV_BF16, MATMUL_BF16, PACK_WEIGHTS).
 *
 * int8: u8 activations times i8 weights, summed in int32 (exact), then requantized in the kernel:
 *   y = clamp(round_half_even((sum + bias[c]) * mult[c]) + y_zp, qmin, qmax)   (u8/i8 output)
 *   y = clamp((sum + bias[c]) * mult[c], lo, hi)                              (f32 output)
 * where bias already holds the quantized bias minus x_zp * sum of channel c's weights, so the sum
 * runs over raw u8 activations (padding reads x_zp). bf16: f32 activations rounded to bf16 times
 * bf16 weights, summed in f32, plus the f32 bias, clamped to [lo, hi].
 *
 * Layouts. Weights are packed once at compile time (rt_pack_weights, folded): a conv's weights of
 * group g in panels of RT_QG_MR output channels, [k/4][MR][4] bytes (bf16: [k/2][MR][2]), the
 * channels padded to 16 and k to 4 (2) with zeros; a matmul's [K, N] as [K/4][N16][4] (bf16:
 * [K/2][N16][2]). Activations are packed per block of output pixels into the workspace the same
 * way, [k/4][pixels][4], so that one 32-bit lane holds the 4 (or 2) values one dot-product
 * instruction multiplies: AVX512-VNNI vpdpbusd and AVX512-BF16 vdpbf16ps when compiled with them
 * (these files build a second time into the bitcode with those features, under the suffix
 * "_avx512"), plain C loops otherwise. */
#ifndef SD_RT_QGEMM_H
#define SD_RT_QGEMM_H

#include <stdbool.h>

#include "runtime/kernels/kernel.h"

#define RT_QG_MR 8  /* output channels of a conv tile */
#define RT_QG_NR 32 /* output pixels of a conv tile */
#define RT_QG_MM_MR 4  /* rows of a matmul tile */
#define RT_QG_MM_NR 64 /* columns of a matmul tile */

/* Packed matmul weights: panels of RT_QG_MM_NR columns (the last one np's remainder), each its rows
 * of 4-byte lanes (4 int8 or 2 bf16 values of k) one after the other, so that a tile reads its
 * panel from start to end. Rows np lanes apart put every row of a tile on its own 4 KB page where
 * np is 1008 or 1024 (a 1000-class classifier): at batch 1 the bf16 classifier of ResNet-50 took
 * longer than its f32 one. The lane of row kq (of kqn) and column j (of np): */
static inline int64_t rt_qmm_lane(int64_t kq, int64_t j, int64_t kqn, int64_t np)
{
    const int64_t j0 = j / RT_QG_MM_NR * RT_QG_MM_NR, width = np - j0 < RT_QG_MM_NR ? np - j0 : RT_QG_MM_NR;
    return j0 * kqn + kq * width + (j - j0);
}

/* conv: w [groups * rows, k] (rows = output channels per group, k = inputs per group * kernel
 * volume) -> packed; matmul: w [k, n] -> packed. */
typedef struct RtPackParams {
    int64_t groups, rows, k, n;
    int32_t matmul, bf16;
    int64_t taps_inner; /* conv: the kernel volume where k runs in the order rt_qconv_taps_inner says; 0: no */
} RtPackParams;

/* A packed convolution's k order: (input channel, tap) by default; with one group, input channels
 * in blocks of L (4 for int8, 2 for bf16) and a kernel volume above 1, (block of L channels, tap,
 * channel of the L) instead, so that a 32-bit lane holds one pixel's L channels at one tap, which
 * is what the direct kernels read from their planes (the im2col kernels follow either order). */
static inline bool rt_qconv_taps_inner(int64_t groups, int64_t cin_g, int64_t kvol, bool bf16)
{
    return groups == 1 && cin_g % (bf16 ? 2 : 4) == 0 && kvol > 1;
}

/* Index of packed position kk in the (input channel, tap) order, for the order above with L (4 int8,
 * 2 bf16) channels a lane. */
static inline int64_t rt_qconv_k_of(int64_t kk, int64_t kvol, int64_t L)
{
    const int64_t kl = kk / L;
    return ((kl / kvol) * L + kk % L) * kvol + kl % kvol;
}

typedef enum RtQOut { RT_QOUT_U8, RT_QOUT_I8, RT_QOUT_F32 } RtQOut;

/* Operands int8: x, packed w, bias (i32), mult (f32), [residual u8], y, workspace; bf16: x, packed w, [bias f32],
 * [residual f32], y, workspace; with shared_cols the shared scratch after them, and the packing
 * kernels' operands are x, workspace, shared scratch (items: blocks). Spatial sizes padded at the
 * front to 3 as in conv.h. The work splits into items (image or block of images, group, block of
 * output rows, chunk of channel panels). */
typedef struct RtQConvParams {
    int64_t batch, groups, c_in, c_out;
    int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad[3];
    int64_t k, kp;            /* per group: inputs times kernel volume, and padded to 4 (int8) or 2 (bf16) */
    int64_t cp;               /* per group: output channels padded to 16 (packed weight rows) */
    int64_t rows_per_block;   /* output rows (outer spatial positions) per block of pixels */
    int64_t n_blocks;         /* blocks per image */
    int64_t c_split;          /* channel chunks per block */
    int32_t pointwise;        /* 1x1, stride 1, unpadded: rows of x are the columns to pack, and in and
                                 out are [1, pixels, 1] (a block is a run of pixels) */
    int32_t x_zp, y_zp, qmin, qmax;
    float lo, hi;
    int32_t out_kind;         /* RtQOut (bf16: F32) */
    int32_t has_lut;          /* int8 u8 output: each requantized byte q becomes lut[q] (a SiLU or HardSwish
                                 the quantize pass folded in: lut maps the u8 pre-activation to
                                 the u8 activation, both with their calibrated scales) */
    uint8_t lut[256];
    int32_t has_bias;         /* bf16 */
    int32_t has_residual;     /* an operand of y's shape added to it: bf16 f32 after the bias, before the clamp;
                                 int8 u8, (r - r_zp) * r_mult added to the scaled sum before rounding */
    int32_t r_zp;             /* int8 residual */
    float r_mult;
    int32_t taps_inner;       /* the weights' k order (rt_qconv_taps_inner) */
    int64_t plane[2];         /* direct: rows and columns of one image in a plane (as conv.h's) */
    int64_t images_per_block; /* direct: images in the planes at once; im2col: whole images a block
                                 packs side by side (above 1; then one block of rows) */
    int64_t lane_channels;    /* direct: input channels a plane interleaves (4 int8, 2 bf16) */
    int64_t cols_per_block;   /* direct: GEMM columns every channel panel takes before the next
                                 block of them (a multiple of RT_QG_NR; 0: all of the images') */
    int32_t shared_cols;      /* im2col with c_split > 1: every block packed once, by rt_qconv_pack_u8
                                 or rt_conv_bf16_pack, into the node's shared scratch (block b at
                                 b * rt_qconv_col_bytes), which each chunk of channels then reads; else
                                 each item packs its block into its own workspace */
} RtQConvParams;

/* One input channel per group (depthwise), 2-D, int8: x, w [C, 1, kh, kw] (i8), bias, mult, y,
 * workspace (a padded input plane and a row of sums). Items: planes (image, channel). */
typedef struct RtQDepthwiseParams {
    int64_t batch, channels;
    int64_t in[2], out[2], kernel[2], stride[2], dilation[2], pad[2];
    int64_t padded[2];        /* the padded plane in the workspace */
    int32_t x_zp, y_zp, qmin, qmax;
    float lo, hi;
    int32_t out_kind;         /* RtQOut */
    int32_t has_lut;          /* as RtQConvParams's */
    uint8_t lut[256];
} RtQDepthwiseParams;

/* a [m, k] (u8, or f32 for bf16) times packed b -> y [m, n]. Operands int8: a, b, bias, mult, y;
 * bf16: a, b, [bias], y, workspace (a block of rows as bf16 pairs). Items: (row block, column block). */
typedef struct RtQMatmulParams {
    int64_t m, k, kp, n, np;
    int64_t m_block, n_block;  /* rows and columns (a multiple of RT_QG_MM_NR... or np) per item */
    int64_t n_items_n;         /* column blocks */
    int32_t y_zp, qmin, qmax;
    float lo, hi;
    int32_t out_kind;          /* RtQOut */
    int32_t has_bias;          /* bf16 */
} RtQMatmulParams;

/* 32-bit lanes from one row of packed columns to the next, for npad (a multiple of RT_QG_NR) pixels:
 * an odd number of 64-byte lines. A tile reads 2 lines of every row; rows a multiple of 4 KB apart
 * (npad = 1024: a block of 1008 pixels) all fell into one set of the L1 cache, and a 1x1 layer of
 * 256 input channels ran 1.9x slower in bf16. */
static inline int64_t rt_qconv_col_stride(int64_t npad) { return npad + 16; }

/* Items of rt_qconv_u8_range: (block of images, group, block of output rows, chunk of channel
 * panels), the last fastest. */
static inline int64_t rt_qconv_items(const RtQConvParams *p)
{
    const int64_t ipb = p->images_per_block > 1 ? p->images_per_block : 1;
    return (p->batch + ipb - 1) / ipb * p->groups * p->n_blocks * p->c_split;
}

/* Blocks of pixels the items pack: rt_qconv_items without the chunks of channels. */
static inline int64_t rt_qconv_blocks(const RtQConvParams *p)
{
    return p->c_split > 0 ? rt_qconv_items(p) / p->c_split : 0;
}

/* Output pixels of the largest block padded to whole tiles, and the bytes of its packed columns (a
 * multiple of 64). */
static inline int64_t rt_qconv_block_npad(const RtQConvParams *p)
{
    const int64_t pix = (p->images_per_block > 1 ? p->images_per_block : 1) * p->rows_per_block * p->out[2];
    return (pix + RT_QG_NR - 1) / RT_QG_NR * RT_QG_NR;
}
static inline size_t rt_qconv_col_bytes(const RtQConvParams *p, int bf16)
{
    return ((size_t)(rt_qconv_col_stride(rt_qconv_block_npad(p)) * p->kp * (bf16 ? 2 : 1)) + 63) / 64 * 64;
}

/* A thread's workspace: the packed columns (unless shared_cols), 4 staging rows of the block and one
 * tile of sums. */
static inline size_t rt_qconv_workspace(const RtQConvParams *p, int bf16)
{
    return (p->shared_cols ? 0 : rt_qconv_col_bytes(p, bf16)) +
           (size_t)(4 * rt_qconv_block_npad(p) * (bf16 ? 4 : 1) + 4 * RT_QG_MR * RT_QG_NR + 256);
}

/* rt_qconv_direct_u8 and rt_conv_bf16_direct: the int8 and bf16 convolutions of 2-D (or 1-D)
 * inputs, groups 1, input channels a multiple of lane_channels (4 int8, 2 bf16), weights in the
 * taps_inner order, without im2col (runtime/kernels/qconv_direct.c). The input of a block of
 * images_per_block images is copied once into planes of lane_channels channels interleaved (a pixel
 * is 32 bits), one per block of input channels and stride phase (py, px), images stacked plane[0]
 * rows apart, plane[1] pixels a row, padded with x_zp (bf16: 0): plane pixel (qy, qx)
 * holds input pixel (qy * SH + py - PH, qx * SW + px - PW). Output pixel (oy, ox) of image i is
 * then column (i * plane[0] + oy) * plane[1] + ox of a GEMM whose row for packed lane (block, ky,
 * kx) is a plane shifted by the tap; plane sizes as conv.h's direct convolution (codegen picks
 * them), the columns that are no output pixel computed and dropped. Operands as rt_qconv_u8's and
 * rt_conv_bf16's; items: (block of images, chunk of channel panels). Workspace: the planes, the tap
 * offsets, one tile of sums. */
static inline int64_t rt_qconv_direct_plane_pixels(const RtQConvParams *p)
{
    const int64_t sh = p->stride[1] > 0 ? p->stride[1] : 1, sw = p->stride[2] > 0 ? p->stride[2] : 1;
    const int64_t reach =
        (p->kernel[1] - 1) * p->dilation[1] / sh * p->plane[1] + (p->kernel[2] - 1) * p->dilation[2] / sw;
    return (p->images_per_block * p->plane[0] * p->plane[1] + reach + RT_QG_NR + 16 + 15) / 16 * 16;
}
static inline int64_t rt_qconv_direct_planes(const RtQConvParams *p)
{
    return p->lane_channels > 0 ? p->c_in / p->lane_channels * p->stride[1] * p->stride[2] : 0;
}
static inline int64_t rt_qconv_direct_items(const RtQConvParams *p)
{
    const int64_t ipb = p->images_per_block > 0 ? p->images_per_block : 1;
    return (p->batch + ipb - 1) / ipb * p->c_split;
}
static inline size_t rt_qconv_direct_workspace(const RtQConvParams *p)
{
    const int64_t lanes = p->lane_channels > 0 ? p->kp / p->lane_channels : p->kp; /* tap offsets */
    return (size_t)(rt_qconv_direct_planes(p) * rt_qconv_direct_plane_pixels(p) * 4 + lanes * 4 + 64 +
                    4 * RT_QG_MR * RT_QG_NR + 64);
}

RT_KERNEL_DECL(rt_pack_weights)
RT_KERNEL_DECL(rt_qconv_u8)
RT_RANGE_KERNEL_DECL(rt_qconv_u8_range)
RT_KERNEL_DECL(rt_qconv_pack_u8)
RT_RANGE_KERNEL_DECL(rt_qconv_pack_u8_range)
RT_KERNEL_DECL(rt_qconv_direct_u8)
RT_RANGE_KERNEL_DECL(rt_qconv_direct_u8_range)
RT_KERNEL_DECL(rt_conv_bf16_direct)
RT_RANGE_KERNEL_DECL(rt_conv_bf16_direct_range)
RT_KERNEL_DECL(rt_qconv_depthwise_u8)
RT_RANGE_KERNEL_DECL(rt_qconv_depthwise_u8_range)
RT_KERNEL_DECL(rt_qmatmul_u8)
RT_RANGE_KERNEL_DECL(rt_qmatmul_u8_range)
RT_KERNEL_DECL(rt_conv_bf16)
RT_RANGE_KERNEL_DECL(rt_conv_bf16_range)
RT_KERNEL_DECL(rt_conv_bf16_pack)
RT_RANGE_KERNEL_DECL(rt_conv_bf16_pack_range)
RT_KERNEL_DECL(rt_matmul_bf16)
RT_RANGE_KERNEL_DECL(rt_matmul_bf16_range)

#endif
