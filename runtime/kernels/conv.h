/* runtime/kernels/conv.h — convolution and transposed convolution, f32, NCHW (1 to 3 spatial dims).
 * Spatial sizes arrive padded at the front to 3 dims with 1 (a 2-D conv has in[0] == out[0] ==
 * kernel[0] == 1), so one struct and one set of loops serve every rank. Codegen picks the kernel:
 *   rt_conv_gemm_f32       im2col of a block of output rows into the workspace, then one GEMM per
 *                          group and block (rt_gemm_f32);
 *   rt_conv_pointwise_f32  1x1, stride 1, unpadded: the input already is the GEMM operand;
 *   rt_conv_winograd_f32   3x3, stride 1, groups 1, 2-D: Winograd's F(2x2, 3x3), 16 GEMMs of 2.25x
 *                          fewer multiply-adds in all (conv_winograd.c; its weight gradient too);
 *   rt_conv_winograd4_f32  the same, F(4x4, 3x3): 36 GEMMs of 4x fewer (conv_winograd4.c);
 *   rt_conv_depthwise_f32  one input channel per group, at most 2 spatial dims: on small planes 16
 *                          channels in the vector lanes (conv_depthwise_lanes.c, with a workspace);
 *                          else bands of output rows as sums of shifted windows of zero-padded
 *                          copies, or direct loops over output rows (conv_depthwise.c);
 *   rt_conv_transpose_f32  GEMM into column form (workspace), then scatter-add (col2im).
 * Operands: x, w, [bias when has_bias], [residual when has_residual], y, [workspace for the gemm,
 * pointwise, direct and transpose kernels:
 * the column block, if any, rounded up to 16 floats, then the GEMM's rt_gemm_workspace_floats; for
 * the depthwise lanes kernel RT_DW_LANES_WORKSPACE_FLOATS].
 *
 * Gradients (params describe the FORWARD conv: in = x, out = dy, c_in = x's channels):
 *   rt_conv_grad_input_pointwise_f32   dy, w -> dx, workspace (the GEMM's): 1x1, stride 1,
 *                                      unpadded: dx_g = W_g^T dy_g
 *   rt_conv_grad_input_depthwise_f32   dy, w -> dx: one input channel per group, direct loops:
 *                                      width stride 1 gathers each kernel row's flipped taps in one
 *                                      pass, a larger stride scatters each tap
 *   rt_conv_grad_weight_f32            x, dy -> dw, workspace: im2col of x by blocks of output rows,
 *                                      dw_g += dy_g col^T (one GEMM per block); the column block
 *                                      (none when 1x1) rounded up to 16 floats, then the GEMM's
 *   rt_conv_grad_weight_depthwise_f32  x, dy -> dw, [workspace]: one input channel per group: dot
 *                                      products of dy rows with x rows per tap, in lanes summed once
 *                                      per channel; a width stride above 1 reads x planes split by
 *                                      phase (workspace: one such plane) so the reads stay contiguous
 * The general input gradient is a transposed convolution of dy with the same weights: codegen calls
 * rt_conv_transpose_f32 with params in ITS orientation (in = dy, out = dx, no bias). */
#ifndef SD_RT_CONV_H
#define SD_RT_CONV_H

#include <stdbool.h>

#include "runtime/kernels/gemm.h"
#include "runtime/kernels/kernel.h"

typedef struct RtConvParams {
    int64_t batch;
    int64_t groups;
    int64_t c_in, c_out;        /* channels of x and y (all groups) */
    int64_t in[3], out[3];      /* spatial sizes of x and y */
    int64_t kernel[3], stride[3], dilation[3];
    int64_t pad[3];             /* leading padding; the trailing side follows from the sizes */
    int64_t rows_per_block;     /* gemm: output rows (outer spatial positions) per im2col block;
                                   transpose: input rows per GEMM block */
    int64_t c_split, c_chunk;   /* gemm, pointwise: each group's output channels in c_split chunks of
                                   c_chunk (the last one shorter), so that threads can share a
                                   batch-1 layer; 0: one chunk */
    int32_t has_bias;
    int32_t use_blas;           /* the GEMM: RT_GEMM_* of gemm.h */
    int32_t packed_w;           /* gemm, pointwise with RT_GEMM_BUILTIN: w was packed at compile time by
                                   rt_conv_pack_weights (constant weights), RT_CONV_PACKED_* */
    int64_t images_per_block;   /* gemm: > 1 puts the columns of this many whole images side by side
                                   (items: block of images, group, channel chunk); workspace: the
                                   columns, then a buffer of c_chunk x images_per_block * pixels for
                                   the product, then the GEMM's. direct: images per plane.
                                   winograd: > 1 (a multiple of 16) puts the tiles of this many
                                   small images in the vector lanes (conv_winograd_lanes.c) */
    int64_t plane[2];           /* direct: rows and columns of one image in a plane (see below) */
    int32_t col_taps;           /* direct: planes by kernel column instead of column phase */
    int64_t slices;             /* weight gradients: > 1 cuts the images into this many slices summed
                                   apart (scratch shared by the threads), then in order */
    int64_t col_blocks;         /* pointwise: at least this many blocks of columns (rt_conv_pw_blocks), so
                                   that a batch-1 layer with too few output channels to split shares
                                   its columns out over the threads; 0: as the block size gives */
    int32_t has_clip;           /* forward kernels: y clamped to [clip_min, clip_max] (a folded Relu or
                                   Clip), NaN kept */
    int32_t has_residual;       /* forward kernels: operand after the bias (before y) added to y before
                                   the clamp (a folded skip connection; never with one channel per group) */
    int32_t winograd_tile;      /* winograd: the output tile's side, 2 (0 too: F(2x2, 3x3)) or 4
                                   (F(4x4, 3x3), rt_conv_winograd4_f32: forward, packed weights) */
    int32_t winograd_at;        /* winograd with bf16 products, blocks of at most 16 tiles: the
                                   weights' transforms packed as the wide operand of the transposed
                                   product (rt_gemm_bf16_pack_at) */
    float clip_min, clip_max;
    int32_t act;                /* forward kernels: RT_CONV_ACT_* applied after the clamp (a folded SiLU
                                   or HardSwish), on each block of y while it is in cache */
} RtConvParams;

enum { RT_CONV_ACT_NONE = 0, RT_CONV_ACT_SILU = 1, RT_CONV_ACT_HARD_SWISH = 2 };

/* Constant weights packed once for the builtin GEMM, which then skips packing them on every call:
 * rt_conv_packed_weight_floats(p) floats. Not a kernel: codegen runs it natively while it lays out
 * the constants, and sets packed_w to how:
 *   RT_CONV_PACKED_A  rt_gemm_pack_a per group: the weights are the GEMM's A (C = W col);
 *   RT_CONV_PACKED_T  W^T per group in slivers of RT_GEMM_NR channels (each K rows of
 *                     its channels, contiguous, the last sliver narrower): a batch-1 layer with few output
 *                     pixels (7x7, 4x4) and one block of rows computes C^T = col^T W^T, the columns
 *                     packed once per image for all its channel chunks (whole slivers) and each
 *                     sliver of W^T read where it lies, one sequential stream.
 *                     Workspace (gemm, pointwise): the column block (not for pointwise), the
 *                     columns packed (rt_gemm_packed_a_floats(pixels, K)), the product (c_chunk x
 *                     pixels), the GEMM's (rt_gemm_core_floats(pixels, K)), each rounded up to 16
 *                     floats (rt_conv_t_workspace_floats). */
enum { RT_CONV_PACKED_NONE = 0, RT_CONV_PACKED_A = 1, RT_CONV_PACKED_T = 2, RT_CONV_PACKED_WINOGRAD = 3 };
static inline int64_t rt_conv_packed_weight_floats(const RtConvParams *p)
{
    if (p->groups <= 0)
        return 0;
    const int64_t k = p->c_in / p->groups * p->kernel[0] * p->kernel[1] * p->kernel[2], cout_g = p->c_out / p->groups;
    return p->groups * (p->packed_w == RT_CONV_PACKED_T ? cout_g * k : rt_gemm_packed_a_floats(cout_g, k));
}
bool rt_conv_pack_weights(const void *params, const void *w, void *dst);
static inline int64_t rt_conv_t_workspace_floats(const RtConvParams *p, int pointwise)
{
    if (p->groups <= 0)
        return 0;
    const int64_t k = p->c_in / p->groups * p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int64_t P = p->out[0] * p->out[1] * p->out[2];
    const int64_t chunk = p->c_split > 1 ? p->c_chunk : p->c_out / p->groups;
    return (pointwise ? 0 : (k * P + 15) / 16 * 16) + (rt_gemm_packed_a_floats(P, k) + 15) / 16 * 16 +
           (chunk * P + 15) / 16 * 16 + rt_gemm_core_floats(P, k);
}

/* rt_conv_direct_f32: 2-D convolutions without im2col. The input of a block of images_per_block
 * images is copied once into planes, one per input channel and stride phase (py, px): plane row qy,
 * column qx holds the padded input at (qy * stride + py, qx * stride + px), zero in the padding, the
 * images stacked plane[0] rows apart, plane[1] columns a row. Output pixel (oy, ox) of image i is
 * then column n = (i * plane[0] + oy) * plane[1] + ox of a GEMM whose row for tap (ci, ky, kx) is a
 * shifted window of one plane: codegen picks plane sizes (the smallest that work) where the reads
 * that run past a row's or an image's end land on zeros of the next one, so the only extra work is
 * the columns n that are no output pixel, computed and dropped. Narrow images (7x7: 8 plane
 * columns for 7 pixels) take col_taps instead: a plane per input channel, row phase and kernel
 * column kx, whose column ox holds what output column ox reads through kx (plane[1] = out[2]),
 * kernel[2] / stride copies of the input for no extra columns. Items: (block of images, group,
 * block of rows_per_block plane rows, channel chunk). Workspace: the planes, [an input plane split
 * into even and odd columns, for stride 2], the row offsets, a buffer for the product (c_chunk x
 * rows_per_block * plane[1]), the GEMM's. */
static inline int64_t rt_conv_direct_plane_floats(const RtConvParams *p)
{
    const int64_t ipb = p->images_per_block > 1 ? p->images_per_block : 1;
    const int64_t sh = p->stride[1] > 0 ? p->stride[1] : 1, sw = p->stride[2] > 0 ? p->stride[2] : 1;
    const int64_t past = (p->kernel[1] - 1) * p->dilation[1] / sh * p->plane[1] +
                         (p->col_taps ? 0 : (p->kernel[2] - 1) * p->dilation[2] / sw);
    return (ipb * p->plane[0] * p->plane[1] + past + 16 + 15) / 16 * 16;
}
static inline int64_t rt_conv_direct_planes(const RtConvParams *p)
{
    return (p->groups > 0 ? p->c_in / p->groups : 0) * p->stride[1] * (p->col_taps ? p->kernel[2] : p->stride[2]);
}
static inline int64_t rt_conv_direct_split_floats(const RtConvParams *p)
{
    return p->stride[2] == 2 && p->in[2] % 2 == 0 ? (p->in[1] * p->in[2] + 15) / 16 * 16 : 0;
}
static inline int64_t rt_conv_direct_workspace_floats(const RtConvParams *p, int64_t gemm_floats)
{
    const int64_t cin_g = p->groups > 0 ? p->c_in / p->groups : 0, chunk = p->c_split > 1 ? p->c_chunk : p->c_out / (p->groups > 0 ? p->groups : 1);
    const int64_t k = cin_g * p->kernel[1] * p->kernel[2];
    return rt_conv_direct_planes(p) * rt_conv_direct_plane_floats(p) + rt_conv_direct_split_floats(p) +
           (k + 15) / 16 * 16 +
           (chunk * p->rows_per_block * p->plane[1] + 15) / 16 * 16 + gemm_floats;
}

/* Small images (2-D, at most RT_CONV_SMALL_OUT output pixels from at most RT_CONV_SMALL_IN input
 * pixels, at most RT_CONV_SMALL_TAPS taps): a training step's input gradient of such a convolution
 * goes through im2col (codegen/lower/conv_grad.c), whose gather through a table of input positions
 * (conv_internal.h) takes images up to 7x7 outputs. */
#define RT_CONV_SMALL_OUT 16
#define RT_CONV_SMALL_IN 64
#define RT_CONV_SMALL_TAPS 49
static inline int rt_conv_small_images(const RtConvParams *p)
{
    return p->in[0] == 1 && p->out[0] == 1 && p->kernel[0] == 1 && p->out[1] * p->out[2] <= RT_CONV_SMALL_OUT &&
           p->in[1] * p->in[2] <= RT_CONV_SMALL_IN && p->kernel[1] * p->kernel[2] <= RT_CONV_SMALL_TAPS;
}

/* rt_conv_pointwise_f32 computes y in blocks of columns of about RT_CONV_PW_BLOCK_FLOATS floats of
 * a channel chunk (whole slivers), the bias, residual and clamp following each block while it is in
 * cache (over all of y at once they were three more trips through memory for large outputs:
 * MobileNetV2's 112x112 expansions, 4.8 MB); items: (image, group, channel chunk, block), so the
 * blocks also share a batch-1 layer out over the threads. */
#define RT_CONV_PW_BLOCK_FLOATS 32768
/* The blocks of columns: about RT_CONV_PW_BLOCK_FLOATS floats of a chunk each, of equal width in
 * whole vectors, the last one taking the rest: a last block of a few columns cost as much as a whole
 * item (196 columns in blocks of 96 + 96 + 4 left the threads unbalanced at batch 1). */
static inline int64_t rt_conv_pw_blocks_of(const RtConvParams *p, int64_t *cols)
{
    const int64_t m = p->c_split > 1 ? p->c_chunk : p->c_out / (p->groups > 0 ? p->groups : 1);
    const int64_t vol = p->out[0] * p->out[1] * p->out[2];
    int64_t b = RT_CONV_PW_BLOCK_FLOATS / (m > 0 ? m : 1) / RT_GEMM_NR * RT_GEMM_NR;
    b = b < RT_GEMM_NR ? RT_GEMM_NR : b;
    int64_t n = (vol + b / 2) / b, w = vol;
    n = n < p->col_blocks ? p->col_blocks : n;
    if (p->packed_w == RT_CONV_PACKED_T || n < 2) /* C^T: whole images */
        n = 1;
    for (; n > 1; n--) {
        w = (vol / n + 8) / 16 * 16;
        if (w >= 16 && (n - 1) * w < vol)
            break;
    }
    *cols = n > 1 ? w : (vol > 0 ? vol : 1);
    return n;
}
static inline int64_t rt_conv_pw_block_cols(const RtConvParams *p)
{
    int64_t cols;
    rt_conv_pw_blocks_of(p, &cols);
    return cols;
}
static inline int64_t rt_conv_pw_blocks(const RtConvParams *p)
{
    int64_t cols;
    return rt_conv_pw_blocks_of(p, &cols);
}

RT_KERNEL_DECL(rt_conv_gemm_f32)
RT_KERNEL_DECL(rt_conv_direct_f32)
/* rt_conv_grad_weight_direct_f32: x, dy -> dw (or, with slices, partial sums into the shared
 * scratch), workspace: dw_g += dy_g X^T where X's rows are the direct convolution's shifted windows
 * of x's planes (same params and planes as rt_conv_direct_f32) and dy is laid out on the plane's
 * columns, zero where they are no output pixel. Items: (slice of the images, group, channel chunk).
 * Workspace: the planes, [split], the row offsets, dy for a block of images (c_chunk x
 * images_per_block * plane[0] * plane[1]), the GEMM's. rt_conv_sum_slices_f32: shared -> dw. */
RT_KERNEL_DECL(rt_conv_grad_weight_direct_f32)
RT_RANGE_KERNEL_DECL(rt_conv_grad_weight_direct_f32_range)
RT_KERNEL_DECL(rt_conv_sum_slices_f32)
static inline int64_t rt_conv_grad_weight_direct_workspace_floats(const RtConvParams *p, int64_t gemm_floats)
{
    const int64_t cin_g = p->groups > 0 ? p->c_in / p->groups : 0;
    const int64_t chunk = p->c_split > 1 ? p->c_chunk : p->c_out / (p->groups > 0 ? p->groups : 1);
    const int64_t k = cin_g * p->kernel[1] * p->kernel[2];
    const int64_t ipb = p->images_per_block > 1 ? p->images_per_block : 1;
    return rt_conv_direct_planes(p) * rt_conv_direct_plane_floats(p) + rt_conv_direct_split_floats(p) +
           (k + 15) / 16 * 16 + (chunk * ipb * p->plane[0] * p->plane[1] + 15) / 16 * 16 + gemm_floats;
}

/* x = w, y = the weights flipped in space, input and output channels swapped (groups 1, 2-D):
 * with them, rt_conv_direct_f32 computes the input gradient of a stride-1 convolution from dy */
RT_KERNEL_DECL(rt_conv_flip_weights_f32)
RT_KERNEL_DECL(rt_conv_pointwise_f32)
RT_KERNEL_DECL(rt_conv_depthwise_f32)

/* Depthwise convolutions with 16 channels in the vector lanes (conv_depthwise_lanes.c), for input
 * planes up to RT_DW_LANES_SMALL_PLANE floats, or RT_DW_LANES_MAX_PLANE at stride 2:
 * the output rows a band of it takes, 0 where that kernel does not apply (a channel multiplier, 3-D,
 * too many taps, too wide). Not a kernel: code generation calls it natively to count the items. */
#define RT_DW_LANES_SMALL_PLANE 1024
#define RT_DW_LANES_MAX_PLANE 3136
int64_t rt_conv_depthwise_lanes_rows(const RtConvParams *p);
/* Its workspace, operand after y (a thread's): a band's zero-padded input rows, 16 lanes a
 * position (64 KB), its outputs (512 positions), a block's weights (at most RT_DW_LANES_MAX_TAPS
 * taps) and bias */
#define RT_DW_LANES_TILE_FLOATS 16384
#define RT_DW_LANES_OUT_FLOATS 8192
#define RT_DW_LANES_MAX_TAPS 64
#define RT_DW_LANES_WORKSPACE_FLOATS (RT_DW_LANES_TILE_FLOATS + RT_DW_LANES_OUT_FLOATS + (RT_DW_LANES_MAX_TAPS + 1) * 16)
/* Items of rt_conv_depthwise_f32_range: (image, block of 16 channels, the last one narrower) where
 * the lanes kernel takes the layer, so that no task splits a block (tasks of 4 channels each had
 * filled a quarter of the lanes); (image, channel) otherwise */
static inline int64_t rt_conv_depthwise_items(const RtConvParams *p)
{
    return rt_conv_depthwise_lanes_rows(p) > 0 ? p->batch * ((p->c_out + 15) / 16) : p->batch * p->c_out;
}

/* rt_conv_winograd_f32: x, U (packed), [bias], [residual], y, workspace. The output is cut into
 * tiles of 2x2 pixels, tile rows counted over all images (batch * ceil(OH / 2) of them, each
 * TW = ceil(OW / 2) tiles), in blocks of rows_per_block tile rows; items: (block, output-channel
 * chunk), chunk fastest. U: the weights' 16 transforms G w G^T, each a c_out x c_in matrix packed
 * for the builtin GEMM (rt_gemm_pack_a; bf16 pairs per chunk with RT_GEMM_BF16, see below): packed
 * at compile time by rt_conv_winograd_pack_weights (constant weights; false: out of memory), or on
 * every call into scratch the threads share (rt_conv_winograd_shared_floats) by
 * rt_conv_winograd_weights_f32 (w -> shared: a training step's weights; items: output channels) or
 * rt_conv_winograd_flipped_weights_f32 (the forward convolution's weights, for the input gradient p
 * computes: flipped in space, channels swapped), then rt_conv_winograd_pack_f32. Per block, the
 * input's transforms V (16 matrices of c_in rows, a column per tile) and, per chunk, the 16
 * products M = U V are computed and turned into outputs. */
bool rt_conv_winograd_pack_weights(const void *params, const void *w, void *dst);
/* Tile rows over the whole batch, and the blocks of rows_per_block of them */
static inline int64_t rt_conv_winograd_tile(const RtConvParams *p) { return p->winograd_tile == 4 ? 4 : 2; }
static inline int rt_conv_winograd_points(const RtConvParams *p)
{
    return (int)((rt_conv_winograd_tile(p) + 2) * (rt_conv_winograd_tile(p) + 2));
}
static inline int64_t rt_conv_winograd_tile_rows(const RtConvParams *p)
{
    const int64_t m = rt_conv_winograd_tile(p);
    return p->batch * ((p->out[1] + m - 1) / m);
}
static inline int64_t rt_conv_winograd_blocks(const RtConvParams *p)
{
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    return (rt_conv_winograd_tile_rows(p) + rpb - 1) / rpb;
}
/* With bf16 products (use_blas RT_GEMM_BF16), each point's transforms are packed per channel chunk
 * as bf16 pairs (rt_gemm_bf16_pack_a, or rt_gemm_bf16_pack_at with winograd_at), chunk_lanes apart,
 * the points point_lanes apart: the last chunk takes only its own lanes (a slot as large as the
 * others' made ResNet-18's bf16 constants 56 MB instead of 38: 512 channels in chunks of 240, 240
 * and 32). */
static inline int64_t rt_conv_winograd_bf16_lanes(const RtConvParams *p, int64_t channels)
{
    return p->winograd_at ? rt_gemm_bf16_packed_at_lanes(channels, p->c_in)
                          : rt_gemm_bf16_packed_a_lanes(channels, p->c_in);
}
static inline int64_t rt_conv_winograd_chunk_lanes(const RtConvParams *p)
{
    return rt_conv_winograd_bf16_lanes(p, p->c_split > 1 ? p->c_chunk : p->c_out);
}
static inline int64_t rt_conv_winograd_point_lanes(const RtConvParams *p)
{
    const int64_t cs = p->c_split > 1 ? p->c_split : 1, last = p->c_out - (cs - 1) * (cs > 1 ? p->c_chunk : 0);
    return ((cs - 1) * rt_conv_winograd_chunk_lanes(p) + rt_conv_winograd_bf16_lanes(p, last) + 15) / 16 * 16;
}
static inline int64_t rt_conv_winograd_packed_floats(const RtConvParams *p)
{
    if (p->use_blas == RT_GEMM_BF16)
        return rt_conv_winograd_points(p) * rt_conv_winograd_point_lanes(p);
    return rt_conv_winograd_points(p) * rt_gemm_packed_a_floats(p->c_out, p->c_in);
}
static inline int64_t rt_conv_winograd_shared_floats(const RtConvParams *p)
{
    return rt_conv_winograd_packed_floats(p) + 16 * p->c_out * p->c_in;
}
RT_KERNEL_DECL(rt_conv_winograd_weights_f32)
RT_RANGE_KERNEL_DECL(rt_conv_winograd_weights_f32_range)
RT_KERNEL_DECL(rt_conv_winograd_flipped_weights_f32)
RT_RANGE_KERNEL_DECL(rt_conv_winograd_flipped_weights_f32_range)
/* shared -> shared: the transforms (after the packed ones) packed, items: the 16 points */
RT_KERNEL_DECL(rt_conv_winograd_pack_f32)
RT_RANGE_KERNEL_DECL(rt_conv_winograd_pack_f32_range)
/* Whether the tiles of images_per_block images share each vector (their lanes), small images'
 * tiles side by side: column (ty * TW + t) * images_per_block + image of a block, blocks of
 * images_per_block whole images (rows_per_block = images_per_block * TH tile rows). */
static inline bool rt_conv_winograd_lanes(const RtConvParams *p) { return p->images_per_block > 1; }
/* The workspace, in floats, each part a multiple of 16: V (16 points vv apart, each c_in rows of
 * ldb floats: a block's tiles and the slack that whole vectors of 16 tiles run into), M (16 points
 * mv apart, a chunk's rows of ldb floats), the input rows a block reads (4 per tile row and channel,
 * wp floats each; in lanes: one channel's padded input for 16 images, wp positions a row), the output
 * rows (out_floats: two rows of 2 wt floats; in lanes: a channel's 2 TH x wt outputs of 16 images),
 * the GEMM's. */
typedef struct RtWinogradLayout {
    int64_t ldb, vv, mv, wp, wt, v_floats, m_floats, plane_floats, out_floats, total;
} RtWinogradLayout;
static inline RtWinogradLayout rt_conv_winograd_layout(const RtConvParams *p)
{
    RtWinogradLayout l;
    const int64_t t = rt_conv_winograd_tile(p), points = rt_conv_winograd_points(p);
    const int64_t tw = (p->out[2] + t - 1) / t, th = (p->out[1] + t - 1) / t;
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1;
    const int64_t chunk = p->c_split > 1 ? p->c_chunk : p->c_out;
    /* strides of an odd number of 64-byte lines, and points a line more than their rows apart: the
     * transforms' 16 streams of points 32 KB apart (64 channels of 128 floats) fell into one set of
     * the L1 cache, and the input's took 3 times as long as their arithmetic */
    l.ldb = rt_conv_winograd_lanes(p) ? th * tw * p->images_per_block : (rpb * tw + 31) / 16 * 16;
    l.ldb += l.ldb / 16 % 2 ? 0 : 16;
    l.vv = p->c_in * l.ldb + 16;
    l.mv = chunk * l.ldb + 16;
    if (rt_conv_winograd_lanes(p)) {
        l.wt = t * tw;
        l.wp = t * tw + 2;
        l.plane_floats = (t * th + 2) * l.wp * 16;
        l.out_floats = t * th * l.wt * 16;
    } else if (t == 4) {
        l.wt = (tw + 15) / 16 * 16;
        l.wp = 4 * l.wt + 16;
        l.plane_floats = 7 * l.wp;
        l.out_floats = 64;
    } else {
        l.wt = (tw + 15) / 16 * 16;
        l.wp = 2 * l.wt + 16;
        l.plane_floats = p->c_in * rpb * 4 * l.wp;
        l.out_floats = 4 * l.wt;
    }
    l.v_floats = points * l.vv;
    l.m_floats = points * l.mv;
    const int64_t gemm = p->winograd_at ? rt_gemm_bf16_packed_at_floats(chunk, rpb * tw, p->c_in)
                                        : rt_gemm_core_floats(chunk, p->c_in);
    l.total = l.v_floats + l.m_floats + l.plane_floats + l.out_floats + gemm;
    return l;
}
/* The columns (tiles) of block blk: the lanes' blocks always whole (images past the batch zero) */
static inline int64_t rt_conv_winograd_block_cols(const RtConvParams *p, int64_t blk)
{
    const int64_t t = rt_conv_winograd_tile(p), tw = (p->out[2] + t - 1) / t;
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1, rows = rt_conv_winograd_tile_rows(p) - blk * rpb;
    return (rt_conv_winograd_lanes(p) || rows > rpb ? rpb : rows) * tw;
}
RT_KERNEL_DECL(rt_conv_winograd_f32)
RT_RANGE_KERNEL_DECL(rt_conv_winograd_f32_range)
/* rt_conv_winograd4_f32: the same operands, layout and items for winograd_tile 4, F(4x4, 3x3)
 * (conv_winograd4.c): tiles of 4x4 pixels (ceil(OH / 4) tile rows an image, TW = ceil(OW / 4)
 * tiles a row), 36 points, the weights' transforms packed at compile time only, by
 * rt_conv_winograd4_pack_weights; small images in lanes as F(2x2)'s (rt_conv_winograd_lanes).
 * Workspace as rt_conv_winograd_layout gives: V, M, seven rows of wp floats (the six rows of B^T d
 * of a tile row, then a zero row; in lanes: a channel's padded plane of 16 images), 64 floats for a
 * partial row of outputs (in lanes: a channel's 4 TH x wt outputs of 16 images), the GEMM's. */
bool rt_conv_winograd4_pack_weights(const void *params, const void *w, void *dst);
RT_KERNEL_DECL(rt_conv_winograd4_f32)
RT_RANGE_KERNEL_DECL(rt_conv_winograd4_f32_range)

/* rt_conv_grad_weight_winograd_f32: x, dy -> dw, workspace, [shared]: the weight gradient of such a
 * convolution (params: the forward's), dU[point] = D[point] V[point]^T summed over the tiles, D the
 * gradients of the products (A dy A^T per tile), then dw = G^T dU G. Items: slices of the blocks of
 * tile rows (RtConvParams.slices, each summed into its own partial in the shared scratch when above
 * 1, then rt_conv_sum_slices_f32). Workspace: V, D (16 points of c_out rows of ldb floats, dv
 * apart), dU (16 c_out x c_in), the input rows, the rows of dy (2 per tile row and channel, wq
 * floats; in lanes: one channel's dy of 16 images, laid out as the forward's outputs), the GEMM's. */
typedef struct RtWinogradGradLayout {
    int64_t ldb, vv, dv, wp, wq, v_floats, d_floats, u_floats, plane_floats, rows_floats, total;
} RtWinogradGradLayout;
static inline RtWinogradGradLayout rt_conv_winograd_grad_layout(const RtConvParams *p)
{
    const RtWinogradLayout f = rt_conv_winograd_layout(p);
    const int64_t rpb = p->rows_per_block > 0 ? p->rows_per_block : 1, tw = (p->out[2] + 1) / 2;
    RtWinogradGradLayout l;
    l.ldb = f.ldb, l.vv = f.vv, l.wp = f.wp;
    l.dv = p->c_out * l.ldb + 16;
    l.wq = 2 * f.wt;
    l.v_floats = f.v_floats;
    l.d_floats = 16 * l.dv;
    l.u_floats = (16 * p->c_out * p->c_in + 15) / 16 * 16;
    l.plane_floats = f.plane_floats;
    l.rows_floats = rt_conv_winograd_lanes(p) ? f.out_floats : p->c_out * rpb * 2 * l.wq;
    l.total = l.v_floats + l.d_floats + l.u_floats + l.plane_floats + l.rows_floats +
              rt_gemm_workspace_floats(p->c_out, p->c_in, rpb * tw);
    return l;
}
RT_KERNEL_DECL(rt_conv_grad_weight_winograd_f32)
RT_RANGE_KERNEL_DECL(rt_conv_grad_weight_winograd_f32_range)
/* The same work split over threads: items are (image, group, row block, channel chunk) for gemm,
 * or (block of images_per_block images, group, channel chunk) when that is above 1; (image, group,
 * channel chunk) for pointwise, (image, output channel) for depthwise. */
RT_RANGE_KERNEL_DECL(rt_conv_gemm_f32_range)
RT_RANGE_KERNEL_DECL(rt_conv_direct_f32_range)
RT_RANGE_KERNEL_DECL(rt_conv_pointwise_f32_range)
RT_RANGE_KERNEL_DECL(rt_conv_depthwise_f32_range)
/* (image, group) for transpose (and so the input gradient), or (block of images, group) when
 * images_per_block is above 1; (slice of images, group, output-channel chunk) for the weight
 * gradient, each summing over its slice's images (a block of images at a time when
 * images_per_block is above 1) into dw, or with slices into the shared scratch's slice (operand 4),
 * which rt_conv_sum_slices_f32 then adds up. */
RT_RANGE_KERNEL_DECL(rt_conv_transpose_f32_range)
RT_RANGE_KERNEL_DECL(rt_conv_grad_weight_f32_range)
RT_KERNEL_DECL(rt_conv_transpose_f32)
RT_KERNEL_DECL(rt_conv_grad_input_pointwise_f32)
RT_KERNEL_DECL(rt_conv_grad_input_depthwise_f32)
RT_KERNEL_DECL(rt_conv_grad_weight_f32)
RT_KERNEL_DECL(rt_conv_grad_weight_depthwise_f32)
/* Split over threads: (image, input channel) planes of dx; output channels of dw, each summed over
 * every image (the same bits whatever the split). */
RT_RANGE_KERNEL_DECL(rt_conv_grad_input_depthwise_f32_range)
RT_RANGE_KERNEL_DECL(rt_conv_grad_weight_depthwise_f32_range)

#endif
