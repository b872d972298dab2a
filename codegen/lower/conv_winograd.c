/* codegen/lower/conv_winograd.c — which 3x3 stride-1 convolutions go through Winograd's kernels
 * (runtime/kernels/conv_winograd*.c), F(2x2, 3x3) or F(4x4, 3x3), row by row or with the tiles of 16
 * images in the vector lanes, in what blocks and channel chunks; and their calls, with the weights
 * transformed at compile time or on every call (conv.c and conv_grad.c lower through these). */
#include "codegen/lower/conv_internal.h"

#include <string.h>

#include "ir/winograd.h"
#include "runtime/kernels/gemm.h"

/* Winograd's F(2x2, 3x3) (rt_conv_winograd_f32) for a 3x3, stride-1, ungrouped 2-D convolution
 * through the builtin GEMM with 512-bit tiles or its bf16 products (the weights' transforms are
 * packed for them), of the sizes ir/winograd.h allows: measured against the direct kernel, batch 1,
 * 1 and 2 threads, 128 to 512 channels, Winograd was faster down to 7x7 images (16 tiles; 0.66-0.88x
 * there, 0.53-0.59x at 28x28 and 14x14), slower at 4x4 (the teacher's last layers: 0.74 -> 1.1 ms
 * for the model); 16-channel layers gained (the student, batch 256: 18.3 -> 17.4 ms). Sets
 * rows_per_block: tile rows of about WINOGRAD_BLOCK_TILES tiles. Images at most 8 outputs wide
 * (WINOGRAD_LANES_MAX_TW tiles), of 16 pixels or more, in batches of 16 or more, put the tiles of 16
 * images in each vector (images_per_block, conv_winograd_lanes.c): the Fashion-MNIST ResNet-18's
 * 4x4 layers of 256 channels at batch 256 12.6-14.9 -> 8.6-8.8 ms, its 7x7 layers of 128 channels
 * 7.8-8.2 -> 6.7-7.3 ms; torchvision ResNet-18's 7x7 layers at batch 32 13.5-15.4 -> 11.3-12.0 ms.
 * Twice the tiles per block were slower in the weight gradient (7.9 -> 13.6-15.3 ms). Images up to
 * 16 outputs wide too where a block's transformed input stays within WINOGRAD_LANES_MAX_V floats:
 * the 14x14 layers of 64 channels, batch 256, 6.3-6.6 -> 5.6 ms (forward), 7.9 -> 6.4-6.6 ms (weight
 * gradient); at 256 channels (12.8 MB) 10.0-10.3 -> 10.5-11.2 ms, so not there. */
#define WINOGRAD_BLOCK_TILES 112
#define WINOGRAD_LANES_MAX_TW 4
#define WINOGRAD_LANES_MAX_V (1 << 20)

/* Tile rows per block of p's tile (2 or 4) not in lanes: about block_tiles tiles, at most the
 * batch's, the blocks of equal size (ResNet-18's 56x56 layers at batch 1 in F(4x4, 3x3): 2 blocks
 * of 98 tiles, not 112 and 84, 0.544 -> 0.516 ms on 2 threads); with too few channels for chunks
 * (cg_conv_split_for_threads: under 32) and too few tiles for blocks, a block for each thread (a
 * 14x14 32 -> 32 layer at batch 1, before chunks of 16 took it, ran on one thread: 0.017-0.019 ->
 * 0.012-0.014 ms) */
static int64_t winograd_rows_per_block(const RtConvParams *p, const CgLowerOptions *opt, int64_t block_tiles)
{
    const int64_t t = rt_conv_winograd_tile(p), tw = (p->out[2] + t - 1) / t, rows = rt_conv_winograd_tile_rows(p);
    int64_t rpb = (block_tiles + tw / 2) / tw;
    rpb = rpb < 1 ? 1 : rpb > rows ? rows : rpb;
    const int64_t blocks = (rows + rpb - 1) / rpb;
    rpb = (rows + blocks - 1) / blocks;
    if (opt->threads > 1 && p->c_out < 32 && (rows + rpb - 1) / rpb < opt->threads)
        rpb = (rows + opt->threads - 1) / opt->threads;
    return rpb;
}

bool cg_conv_winograd_plan(RtConvParams *p, const CgLowerOptions *opt)
{
    const bool bf16 = p->use_blas == RT_GEMM_BF16;
    if (opt->no_winograd || (p->use_blas != RT_GEMM_BUILTIN && !bf16) || p->in[0] != 1 || p->kernel[0] != 1 ||
        !ir_winograd_conv(p->groups, p->kernel + 1, p->stride + 1, p->dilation + 1, p->c_in, p->c_out, p->batch,
                          p->out[1], p->out[2], bf16))
        return false;
    const int64_t th = (p->out[1] + 1) / 2, tw = (p->out[2] + 1) / 2;
    p->packed_w = RT_CONV_PACKED_WINOGRAD;
    p->images_per_block = 0;
    const bool narrow = tw <= WINOGRAD_LANES_MAX_TW ||
                        (tw <= 2 * WINOGRAD_LANES_MAX_TW && 16 * p->c_in * th * tw * 16 <= WINOGRAD_LANES_MAX_V);
    if (narrow && p->in[1] * p->in[2] >= 16 && p->batch >= 16) {
        int64_t images = 16; /* the tiles of 16 images in each vector */
        while (images * th * tw < WINOGRAD_BLOCK_TILES && images < (p->batch + 15) / 16 * 16)
            images += 16;
        p->images_per_block = images;
        p->rows_per_block = images * th;
        return true;
    }
    p->rows_per_block = winograd_rows_per_block(p, opt, WINOGRAD_BLOCK_TILES);
    return true;
}

/* F(4x4, 3x3) (rt_conv_winograd4_f32) in place of a planned F(2x2, 3x3) that does not put images
 * in lanes, for constant weights (transformed once, at compile time): rows_per_block tile rows of
 * about WINOGRAD4_BLOCK_TILES 4x4 tiles. Its transformed weights take 36/16 of F(2x2)'s: at batch 1
 * on 14x14 outputs (16 tiles) it gained little (ResNet-18's 256-channel layers 0.357 -> 0.33-0.35
 * ms) for 5.2 MB more a layer, which put ResNet-18's and ResNet-50's peak memory above ONNX
 * Runtime's (250 against 230 MB, 360 against 335), so it needs WINOGRAD4_MIN_TILES tiles. With bf16
 * products alike: until now layers of at most 64 input channels took F(4x4) in f32 and the others
 * F(2x2) with bf16 products; F(4x4) with bf16 products took ResNet-18 from 16.4 to 15.1 ms at batch
 * 1 and from 482 to 413 at batch 32 (1 thread), ResNet-50 at batch 1 41.0 -> 40.0, the Fashion-MNIST
 * teacher at 256 226 -> 216, its rounding in docs/cli.md (`--precision`). */
#define WINOGRAD4_BLOCK_TILES 112
#define WINOGRAD4_MIN_TILES 48

/* F(4x4, 3x3) for images planned in lanes: blocks of 16 images (their transforms 0.6-2.4 MB on the
 * Fashion-MNIST networks). 1.78x fewer products than F(2x2)'s on 7x7 and 4x4 outputs, 1.36x on
 * 14x14: the Fashion-MNIST teacher's slice of 16 images, 1 thread, 23.1 -> 17.3 ms (its 4x4 layers
 * of 256 channels 1.42 -> 0.80 ms); the teacher at batch 256 0.82-0.84 of the time, the student
 * 0.83-0.91, with bf16 products 0.91 and 0.92. Also images F(2x2) left out of lanes (its transforms
 * of 16 images over WINOGRAD_LANES_MAX_V floats) where F(4x4)'s fit, 16 images' 36 points of tiles
 * at most 8 wide: the networks' 28x28 layers of 16 and 32 channels, whose rows of 7 tiles had
 * filled 7 lanes of 16 in the row-wise transforms: the student at batch 256 0.94-0.96 of the time,
 * the teacher 0.95. Blocks of about 112 tiles, as F(2x2) takes (up to 96 images of 4x4), were far
 * slower on a whole batch (not in slices: a training step's frozen teacher; the teacher at batch
 * 256 with slices off, 2 threads, 226-271 -> 140-146 ms; 1 thread 0.96 of the time with blocks of
 * 32 tiles, and 16 images as fast again). */
static void winograd4_lanes_plan(RtConvParams *p, int64_t tile_rows)
{
    p->winograd_tile = 4;
    p->images_per_block = 16;
    p->rows_per_block = 16 * tile_rows;
}

static void winograd4_plan(RtConvParams *p, const CgLowerOptions *opt)
{
    if (opt->no_winograd4)
        return;
    const int64_t th4 = (p->out[1] + 3) / 4, tw4 = (p->out[2] + 3) / 4;
    const int64_t th2 = (p->out[1] + 1) / 2, tw2 = (p->out[2] + 1) / 2;
    /* in lanes where its tiles take fewer products than F(2x2)'s (not on outputs 2 wide or 5-6 wide
     * and high, whose 4x4 tiles are mostly past the edge) */
    if ((rt_conv_winograd_lanes(p) || (p->batch >= 16 && tw4 <= 2 * WINOGRAD_LANES_MAX_TW &&
                                       16 * p->c_in * th4 * tw4 * 36 <= WINOGRAD_LANES_MAX_V)) &&
        36 * th4 * tw4 < 16 * th2 * tw2) {
        winograd4_lanes_plan(p, th4);
        return;
    }
    if (rt_conv_winograd_lanes(p) || p->out[1] < 8 || p->out[2] < 8)
        return;
    /* few channels and tiles: blocks of a few dozen tiles, too narrow for the GEMM to gain (the
     * Fashion-MNIST teacher's 28x28 32 -> 32 layers at batch 1 0.026 -> 0.030 ms) */
    const int64_t tiles = p->batch * th4 * tw4;
    if (tiles < WINOGRAD4_MIN_TILES || (p->c_out < 64 && tiles < 2 * WINOGRAD4_BLOCK_TILES))
        return;
    p->winograd_tile = 4;
    p->rows_per_block = winograd_rows_per_block(p, opt, WINOGRAD4_BLOCK_TILES);
}

/* Output-channel chunks of a planned p for the threads; with bf16 products untransposed, chunks
 * whose packed transforms the bf16 GEMM takes whole (rt_gemm_whole_a: at most RT_GEMM_MC rows), of
 * about equal size (512 channels had gone in chunks of 240, 240 and 32). */
void cg_conv_winograd_chunks(RtConvParams *p, int threads)
{
    cg_conv_split_for_threads(p, p->c_out, rt_conv_winograd_blocks(p), threads);
    int64_t chunk = p->c_split > 1 ? p->c_chunk : p->c_out;
    if (p->use_blas == RT_GEMM_BF16 && !p->winograd_at && !rt_gemm_whole_a(chunk, p->c_in, RT_GEMM_MR)) {
        const int64_t fit = RT_GEMM_WHOLE_A_FLOATS / p->c_in / 16 * 16;
        const int64_t most = fit < RT_GEMM_MC / 16 * 16 ? fit : RT_GEMM_MC / 16 * 16;
        const int64_t n = (p->c_out + most - 1) / most;
        p->c_chunk = ((p->c_out + n - 1) / n + 15) / 16 * 16;
        p->c_split = (p->c_out + p->c_chunk - 1) / p->c_chunk;
    }
}

SdStatus cg_conv_add_winograd_weights(CgLowered *out, const RtConvParams *p, int w_operand, bool flipped,
                                      SdError *err)
{
    const char *k = flipped ? "rt_conv_winograd_flipped_weights_f32" : "rt_conv_winograd_weights_f32";
    const char *kr = flipped ? "rt_conv_winograd_flipped_weights_f32_range" : "rt_conv_winograd_weights_f32_range";
    out->shared_bytes = (size_t)rt_conv_winograd_shared_floats(p) * sizeof(float);
    SD_TRY(cg_lowered_add(out, k, p, sizeof *p, 2, (int[]){w_operand, CG_BUF_SHARED}, err));
    cg_lowered_split(out, kr, p->c_out, 40.0 * (double)(p->c_out * p->c_in)); /* ~40 flops a kernel */
    SD_TRY(cg_lowered_add(out, "rt_conv_winograd_pack_f32", p, sizeof *p, 1, (int[]){CG_BUF_SHARED}, err));
    cg_lowered_split(out, "rt_conv_winograd_pack_f32_range", 16, 32.0 * (double)(p->c_out * p->c_in));
    return SD_OK;
}

/* rt_conv_winograd_f32 over p (planned, chunks too) with operands bufs (the workspace appended),
 * split over blocks of tile rows and output-channel chunks. */
SdStatus cg_conv_add_winograd(CgLowered *out, const RtConvParams *p, int nb, const int *bufs, double flops,
                              SdError *err)
{
    int b[CG_MAX_CALL_BUFS];
    memcpy(b, bufs, (size_t)nb * sizeof *b);
    b[nb++] = CG_BUF_WORKSPACE;
    const size_t ws = (size_t)rt_conv_winograd_layout(p).total * sizeof(float);
    out->workspace_bytes = ws > out->workspace_bytes ? ws : out->workspace_bytes;
    const bool f4 = p->winograd_tile == 4; /* 36 products for 16 outputs, or 16 for 4 */
    SD_TRY(cg_lowered_add(out, f4 ? "rt_conv_winograd4_f32" : "rt_conv_winograd_f32", p, sizeof *p, nb, b, err));
    cg_lowered_split(out, f4 ? "rt_conv_winograd4_f32_range" : "rt_conv_winograd_f32_range",
                     rt_conv_winograd_blocks(p) * (p->c_split > 1 ? p->c_split : 1),
                     flops * (f4 ? 36.0 / 144 : 16.0 / 36));
    cg_lowered_grain(out, p->c_split); /* a block's chunks share its transformed input */
    return SD_OK;
}

/* bf16 products on blocks of at most 16 tiles (ResNet's 7x7 layers at batch 1: 16 tiles of F(2x2,
 * 3x3)) computed transposed, the weights' transforms the wide operand (rt_gemm_bf16_packed_at):
 * the GEMM's tiles one vector wide ran at 72% of the rate of 3-vector ones. Planned before the
 * chunks: the transposed product takes any number of channels at once. */
static void winograd_at_plan(RtConvParams *p, const CgLowerOptions *opt)
{
    const int64_t t = rt_conv_winograd_tile(p), tw = (p->out[2] + t - 1) / t;
    p->winograd_at = p->use_blas == RT_GEMM_BF16 && !opt->no_winograd_at && !rt_conv_winograd_lanes(p) &&
                     p->rows_per_block * tw <= 2 * RT_GEMM_MR;
}

/* A forward convolution through Winograd's kernel: constant weights transformed and packed at
 * compile time (unless told not to pack), others on every call into scratch the threads share. */
bool cg_conv_lower_winograd(const IrNode *n, const CgLowerOptions *opt, RtConvParams *p, int nb, int *bufs,
                            double flops, CgLowered *out, SdStatus *st, SdError *err)
{
    const IrValue *w = n->inputs[1];
    const bool constant = w && ir_value_is_constant(w);
    /* a training step's bf16 products are those of its rounded operands (gemm_bf16.c), not of their
     * transforms: Winograd there only in f32 */
    if (n->op != IR_OP_CONV || !w || w->dtype != SD_DT_F32 || (constant && !opt->pack_weights) ||
        (!constant && p->use_blas == RT_GEMM_BF16) || !cg_conv_winograd_plan(p, opt))
        return false;
    if (constant)
        winograd4_plan(p, opt);
    winograd_at_plan(p, opt);
    cg_conv_winograd_chunks(p, opt->threads);
    if (constant) {
        out->packed_operand = 1;
        out->packed_bytes = (size_t)rt_conv_winograd_packed_floats(p) * sizeof(float);
        out->pack = p->winograd_tile == 4 ? rt_conv_winograd4_pack_weights : rt_conv_winograd_pack_weights;
        bufs[1] = CG_BUF_PACKED;
    } else {
        *st = cg_conv_add_winograd_weights(out, p, 1, false, err);
        if (*st != SD_OK)
            return true;
        bufs[1] = CG_BUF_SHARED;
    }
    *st = cg_conv_add_winograd(out, p, nb, bufs, flops, err);
    return true;
}
