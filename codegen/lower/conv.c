/* codegen/lower/conv.c — Conv and ConvTranspose onto the kernels of runtime/kernels/conv.h.
 * The choice, by shape:
 *   one input channel per group (depthwise, with or without a channel multiplier), <= 2 spatial
 *   dims: direct loops, or on small planes 16 channels in the vector lanes (rt_conv_depthwise_f32;
 *   its items then blocks of 16 channels);
 *   1x1 kernel, stride 1, no padding: GEMM straight on the input (rt_conv_pointwise_f32);
 *   3x3, stride 1, groups 1, 2-D, the builtin GEMM, enough channels and tiles: Winograd's F(2x2, 3x3)
 *   (rt_conv_winograd_f32, the weights transformed at compile time or, a training step's, per call),
 *   or for constant f32 weights, F(4x4, 3x3) (rt_conv_winograd4_f32) on outputs of 8x8 or more
 *   and on small images in batches of 16 or more (their tiles in the vector lanes);
 *   2-D with the builtin GEMM, when the plane layout adds at most DIRECT_MAX_WASTE extra columns:
 *   a GEMM over shifted windows of a padded copy of the input (rt_conv_direct_f32);
 *   otherwise im2col of a block of output rows into the workspace and GEMM (rt_conv_gemm_f32);
 *   ConvTranspose: GEMM into column form and col2im (rt_conv_transpose_f32).
 * The gradients are lowered in conv_grad.c with the plans here (conv_internal.h), Winograd's plans
 * and calls in conv_winograd.c.
 * Blocks are sized so the column matrix stays near the L2 cache; the GEMM is OpenBLAS or the
 * builtin loops as opt->gemm says. */
#include "codegen/lower/conv_internal.h"

#include <string.h>

#include "runtime/kernels/gemm.h"

/* Column-matrix floats per block (2 MiB): big enough for an efficient GEMM, small enough that
 * the block is still in cache when the GEMM reads it. */
#define CONV_BLOCK_FLOATS ((int64_t)1 << 19)

/* Workspace bytes of a column block of col_floats (rounded up to 16 floats as the kernels do)
 * followed by the workspace of an M x N x K GEMM (none for OpenBLAS). */
size_t cg_conv_gemm_workspace_bytes(const RtConvParams *p, int64_t col_floats, int64_t M, int64_t N, int64_t K)
{
    int64_t f = (col_floats + 15) / 16 * 16;
    if (p->use_blas != RT_GEMM_OPENBLAS)
        f += rt_gemm_workspace_floats(M, N, K);
    return (size_t)f * sizeof(float);
}

/* ns values padded at the front to 3 with `fill`. */
static void to3(const int64_t *v, int ns, int64_t fill, int64_t *out)
{
    for (int i = 0; i < 3; i++)
        out[i] = i < 3 - ns ? fill : v[i - (3 - ns)];
}

/* At most r rows per block, as even as the same number of blocks allows: blocks are what the
 * threads share out (56 rows by 17 gave one thread 34 rows and the other 22). */
static int64_t even_rows(int64_t rows, int64_t r)
{
    if (r < 1 || rows < 1)
        return 1;
    const int64_t blocks = (rows + r - 1) / r;
    return (rows + blocks - 1) / blocks;
}

/* Rows per block when one row of the column matrix block is row_floats long; at least 1. */
int64_t cg_conv_block_rows(int64_t rows, int64_t row_floats)
{
    int64_t r = row_floats > 0 ? CONV_BLOCK_FLOATS / row_floats : rows;
    return even_rows(rows, r < 1 ? 1 : (r > rows ? rows : r));
}

/* Whole images per im2col block (RtConvParams.images_per_block). Below 4 slivers of output pixels
 * (7x7, 4x4 images) a GEMM per image leaves most lanes of its last vectors empty or computes C^T,
 * repacking the weights for every image; enough images side by side pass 4 slivers (never C^T),
 * choosing among the next few counts the one whose last vector is fullest. The columns of the
 * block stay under 4 blocks' worth. */
static int64_t images_for(int64_t batch, int64_t rows_per_block, int64_t rows, int64_t P, int64_t k)
{
    const int64_t wide = 4 * RT_GEMM_NR;
    if (batch < 2 || rows_per_block < rows || P <= 0 || P > wide)
        return 1;
    const int64_t lo = wide / P + 1;
    int64_t best = lo < batch ? lo : batch;
    double best_fill = 0;
    for (int64_t i = lo; i <= lo + 3 && i <= batch; i++) {
        double fill = (double)(i * P) / (double)rt_gemm_padded_cols(i * P);
        if (fill > best_fill + 1e-9)
            best = i, best_fill = fill;
    }
    while (best > 1 && k * P * best > 4 * CONV_BLOCK_FLOATS)
        best--;
    return best;
}

/* ... for a convolution's output pixels (forward, weight gradient) */
int64_t cg_conv_images_per_block(const RtConvParams *p, int64_t k)
{
    return images_for(p->batch, p->rows_per_block, p->out[0] * p->out[1], p->out[0] * p->out[1] * p->out[2], k);
}

/* Params of the forward conv between x and y (shapes), as the kernels take them. */
RtConvParams cg_conv_forward_params(const IrConvAttrs *a, const IrShape *x, const IrShape *y,
                                    const CgLowerOptions *opt)
{
    int ns = a->nspatial;
    RtConvParams p = {0};
    p.batch = x->dims[0];
    p.groups = a->groups;
    p.c_in = x->dims[1];
    p.c_out = y->dims[1];
    to3(x->dims + 2, ns, 1, p.in);
    to3(y->dims + 2, ns, 1, p.out);
    to3(a->kernel, ns, 1, p.kernel);
    to3(a->strides, ns, 1, p.stride);
    to3(a->dilations, ns, 1, p.dilation);
    to3(a->pads, ns, 0, p.pad);
    p.use_blas = cg_gemm_provider(opt);
    p.has_clip = a->has_clip;
    p.clip_min = a->clip_min, p.clip_max = a->clip_max;
    p.act = a->act == IR_CONV_ACT_SILU         ? RT_CONV_ACT_SILU
            : a->act == IR_CONV_ACT_HARD_SWISH ? RT_CONV_ACT_HARD_SWISH
                                               : RT_CONV_ACT_NONE;
    return p;
}

bool cg_conv_is_pointwise(const RtConvParams *p)
{
    bool pointwise = p->kernel[0] * p->kernel[1] * p->kernel[2] == 1;
    for (int i = 0; i < 3; i++)
        pointwise = pointwise && p->stride[i] == 1 && p->pad[i] == 0 && p->in[i] == p->out[i];
    return pointwise;
}

/* The smallest size q >= out of one image's plane in a dimension (rt_conv_direct_f32, and
 * rt_qconv_direct_u8's by lower/quant.c) for which
 * every read of an output pixel that runs past the end of its plane row (or image) stands for
 * padding and lands on a zero at the start of the next one; past out + the kernel's reach nothing
 * runs past. */
int64_t cg_direct_plane_dim(int64_t in, int64_t out, int64_t kernel, int64_t s, int64_t d, int64_t pad)
{
    const int64_t limit = out + (kernel - 1) * d / s;
    for (int64_t q = out; q < limit; q++) {
        bool ok = true;
        for (int64_t t = 0; t < kernel && ok; t++) {
            const int64_t phase = t * d % s, shift = t * d / s;
            for (int64_t o = q - shift > 0 ? q - shift : 0; o < out && ok; o++) {
                const int64_t at = o + shift, stands_for = at * s + phase - pad, lands_on = (at - q) * s + phase - pad;
                ok = at - q < q && stands_for >= in && (lands_on < 0 || lands_on >= in);
            }
        }
        if (ok)
            return q;
    }
    return limit;
}

/* Columns of the direct convolution's GEMM that are no output pixel, at most this fraction of
 * those that are (else im2col). Measured, single layers at batch 32 and 256: 4-7% extra columns
 * ran 6-25% faster than im2col, 14% as fast or up to 5% faster, 15% 3% slower, 25% 8% slower. */
#define DIRECT_MAX_WASTE 0.145
/* ... and below batch 4, where im2col's copies weigh more: stride-2 3x3 layers of 14x14 outputs
 * (planes of 15x15, 14.8% more) at batch 1 0.72-0.73 -> 0.65-0.67 ms (256 channels), 0.039 ->
 * 0.025 ms (64); ResNet-18 at batch 1 4% faster, the Fashion-MNIST teacher 8%; at batch 4 as fast,
 * at 32 2-4% slower. */
#define DIRECT_MAX_WASTE_FEW_IMAGES 0.16
/* Extra plane columns from column phases beyond which planes go by kernel column (col_taps). */
#define DIRECT_COL_WASTE 0.08
/* ... at stride 2 and more, where it costs copies of kernel[2] / stride, not kernel[2], planes: 3x3
 * stride-2 layers of 14x14 outputs (15 columns) then take this kernel, not im2col. 1 thread, batch
 * 8 / 32 (ms): 16 -> 32 channels 0.129 -> 0.094 / 0.532 -> 0.386, 32 -> 64 0.386 -> 0.323 / 1.54 ->
 * 1.27, 256 -> 256 9.27 -> 8.93 / 36.9 -> 35.3; 2 threads, batch 1 (direct there already): 256
 * channels 0.615 -> 0.578, the others alike. */
#define DIRECT_COL_WASTE_STRIDED 0.05
/* Floats of the direct convolution's product buffer a block of plane rows aims at. */
#define DIRECT_BLOCK_FLOATS ((int64_t)1 << 16)

/* Whether the convolution goes through rt_conv_direct_f32 (2-D, the builtin GEMM), and then its
 * plane sizes, images per plane and plane rows per block. */
bool cg_conv_direct_plan(RtConvParams *p, const CgLowerOptions *opt, int64_t cout_g)
{
    if (opt->no_direct_conv || p->use_blas == RT_GEMM_OPENBLAS || p->groups <= 0 || p->kernel[0] != 1 ||
        p->in[0] != 1 || p->out[0] != 1 || p->stride[1] <= 0 || p->stride[2] <= 0)
        return false;
    const int64_t OH = p->out[1], OW = p->out[2];
    const int64_t hq = cg_direct_plane_dim(p->in[1], OH, p->kernel[1], p->stride[1], p->dilation[1], p->pad[1]);
    int64_t wq = cg_direct_plane_dim(p->in[2], OW, p->kernel[2], p->stride[2], p->dilation[2], p->pad[2]);
    /* planes by kernel column where the column phases waste more than copying the input
     * kernel[2] / stride times costs (measured on 7x7 and 4x4 layers) */
    const double col_waste = p->stride[2] > 1 ? DIRECT_COL_WASTE_STRIDED : DIRECT_COL_WASTE;
    p->col_taps = (double)wq > (1.0 + col_waste) * (double)OW;
    if (p->col_taps)
        wq = OW;
    const double max_waste = p->batch < 4 ? DIRECT_MAX_WASTE_FEW_IMAGES : DIRECT_MAX_WASTE;
    if ((double)(hq * wq) > (1.0 + max_waste) * (double)(OH * OW)) {
        p->col_taps = 0;
        return false;
    }
    p->plane[0] = hq, p->plane[1] = wq;
    const int64_t planes = rt_conv_direct_planes(p);
    p->images_per_block = images_for(p->batch, OH, OH, hq * wq, planes);
    bool per_thread = false; /* blocks of rows cut for the threads, narrower than usual */
    if (p->images_per_block > 1) {
        p->rows_per_block = (p->images_per_block - 1) * hq + OH;
    } else {
        int64_t r = DIRECT_BLOCK_FLOATS / (cout_g * wq > 0 ? cout_g * wq : 1);
        r = r < 1 ? 1 : r > OH ? OH : r;
        /* too few images to share out, and channels too few for chunks (split_channels): blocks
         * of rows share the layer out instead (a 28x28 32->32 layer at batch 1 ran on one thread) */
        const int64_t want = opt->threads > 1 && cout_g < 64 ? CG_CONV_MIN_ITEMS / 2 / (p->batch * p->groups) : 0;
        if (want > 1 && (OH + r - 1) / r < want) {
            const int64_t fewer = (OH + want - 1) / want;
            const int64_t share = (OH + opt->threads - 1) / opt->threads;
            if (fewer >= 2 && fewer * wq >= 4 * RT_GEMM_NR) {
                r = fewer;
            } else if (share < r && share * wq >= 2 * RT_GEMM_NR) {
                /* else a block for each thread, if not too narrow either (a 14x14 16 -> 32 layer
                 * at stride 2: two blocks of 7 rows, 0.012-0.016 -> 0.009-0.010 ms) */
                r = share;
                per_thread = true;
            }
        }
        p->rows_per_block = even_rows(OH, r);
    }
    /* a GEMM this narrow (a 7x7 image at batch 1) leaves vector lanes idle; im2col computes C^T */
    const bool narrow = p->rows_per_block * wq < (per_thread ? 2 : 4) * RT_GEMM_NR;
    if (narrow || (double)planes * (double)rt_conv_direct_plane_floats(p) > (double)INT32_MAX) {
        p->plane[0] = p->plane[1] = p->images_per_block = p->rows_per_block = 0;
        p->col_taps = 0;
        return false;
    }
    return true;
}

int64_t cg_conv_direct_items(const RtConvParams *p)
{
    const int64_t ipb = p->images_per_block > 1 ? p->images_per_block : 1;
    const int64_t nblk = ((ipb - 1) * p->plane[0] + p->out[1] + p->rows_per_block - 1) / p->rows_per_block;
    return (p->batch + ipb - 1) / ipb * p->groups * nblk;
}

/* A transposed convolution (params in its own orientation; m = rows of its column form, cin_g its
 * input channels per group): images side by side when its input images are small, and the
 * workspace: the column block, [the images' inputs gathered], the GEMM's. */
void cg_conv_transpose_images(RtConvParams *t, int64_t m, int64_t cin_g, CgLowered *out)
{
    const int64_t P = t->in[0] * t->in[1] * t->in[2];
    t->images_per_block = images_for(t->batch, t->rows_per_block, t->in[0] * t->in[1], P, m);
    const int64_t cols = t->images_per_block > 1 ? t->images_per_block * P : t->rows_per_block * t->in[2];
    out->workspace_bytes = cg_conv_gemm_workspace_bytes(t, m * cols, m, cols, cin_g);
    if (t->images_per_block > 1)
        out->workspace_bytes += (size_t)((cin_g * cols + 15) / 16 * 16) * sizeof(float);
}

int64_t cg_conv_transpose_items(const RtConvParams *t)
{
    const int64_t ipb = t->images_per_block > 1 ? t->images_per_block : 1;
    return (t->batch + ipb - 1) / ipb * t->groups;
}

/* rt_conv_gemm_f32's plan (p's forward sizes, cout_g channels per group, K = k): blocks of rows or
 * whole images side by side, channel chunks. Returns its items (before the chunks), the blocks of
 * rows of an image and the columns of one GEMM. */
int64_t cg_conv_im2col_plan(RtConvParams *p, int64_t cout_g, int64_t k, int64_t *n_blocks, int64_t *cols,
                            int threads)
{
    p->rows_per_block = cg_conv_block_rows(p->out[0] * p->out[1], k * p->out[2]);
    p->images_per_block = cg_conv_images_per_block(p, k);
    *n_blocks = (p->out[0] * p->out[1] + p->rows_per_block - 1) / p->rows_per_block;
    const int64_t base = p->images_per_block > 1
                             ? (p->batch + p->images_per_block - 1) / p->images_per_block * p->groups
                             : p->batch * p->groups * *n_blocks;
    cg_conv_split_channels(p, cout_g, base, threads);
    /* the columns of one GEMM: a block of rows of one image, or several whole images */
    *cols = p->images_per_block > 1 ? p->images_per_block * p->out[0] * p->out[1] * p->out[2]
                                    : p->rows_per_block * p->out[2];
    cg_conv_sliver_chunks(p, cout_g, *cols, k);
    return base;
}

/* ... its workspace: the column block, [the product of images side by side], the GEMM's */
size_t cg_conv_im2col_workspace_bytes(const RtConvParams *p, int64_t chunk, int64_t cols, int64_t k)
{
    const int64_t product = p->images_per_block > 1 ? (chunk * cols + 15) / 16 * 16 : 0;
    return cg_conv_gemm_workspace_bytes(p, k * cols, chunk, cols, k) + (size_t)product * sizeof(float);
}

/* Constant weights and the builtin GEMM with 512-bit tiles (its tile height is what the packing
 * assumes): the weights are packed at compile time and never again (CgLowered.packed_*). Channel
 * chunks are multiples of 16 channels, so every chunk starts on a whole tile. Not where the GEMM
 * (m x n x k) would rather compute C^T (few output pixels: 7x7 layers): there the weights are the
 * operand packed as B, and computing C directly wastes vector lanes on the last columns; measured on
 * ResNet-18 at batch 1, packed A and C computed directly took 9% longer. */
static bool packable(const IrNode *n, const CgLowerOptions *opt, RtConvParams *p, int64_t m, int64_t cols, int64_t k)
{
    const IrValue *w = n->inputs[1];
    p->packed_w = opt->pack_weights && p->use_blas == RT_GEMM_BUILTIN && w && ir_value_is_constant(w) &&
                          w->dtype == SD_DT_F32 && n->op == IR_OP_CONV && !rt_gemm_transposed(m, cols, k)
                      ? RT_CONV_PACKED_A
                      : RT_CONV_PACKED_NONE;
    return p->packed_w != RT_CONV_PACKED_NONE;
}

/* ... and where the GEMM would compute C^T for one whole image at a time (a batch-1 layer of few
 * output pixels, one block of rows, cols of them; chunks of whole slivers): RT_CONV_PACKED_T, the
 * weights transposed. */
static bool packable_t(const IrNode *n, const CgLowerOptions *opt, RtConvParams *p, int64_t m, int64_t cols,
                       int64_t k, int64_t n_blocks)
{
    const IrValue *w = n->inputs[1];
    if (!opt->pack_weights || p->use_blas != RT_GEMM_BUILTIN || !w || !ir_value_is_constant(w) ||
        w->dtype != SD_DT_F32 || n->op != IR_OP_CONV || p->images_per_block > 1 || n_blocks != 1 ||
        !rt_gemm_transposed(m, cols, k))
        return false;
    p->packed_w = RT_CONV_PACKED_T;
    return true;
}

static void pack_with(CgLowered *out, const RtConvParams *p)
{
    out->packed_operand = 1;
    out->packed_bytes = (size_t)rt_conv_packed_weight_floats(p) * sizeof(float);
    out->pack = rt_conv_pack_weights;
}

SdStatus cg_lower_conv(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrConvAttrs *a = &n->attrs.conv;
    if (x->dtype != SD_DT_F32)
        return cg_unsupported_dtype(n, x, err);
    if (n->op == IR_OP_CONV_GRAD_INPUT)
        return cg_lower_conv_grad_input(n, opt, out, err);
    if (n->op == IR_OP_CONV_GRAD_WEIGHT)
        return cg_lower_conv_grad_weight(n, opt, out, err);
    int ns = a->nspatial;
    RtConvParams p = cg_conv_forward_params(a, &x->shape, &y->shape, opt);
    p.has_bias = n->n_inputs > 2 && n->inputs[2] != NULL;
    p.has_residual = n->op == IR_OP_CONV && n->n_inputs > 3 && n->inputs[3] != NULL;

    int bufs[6], nb = 0;
    bufs[nb++] = 0;
    bufs[nb++] = 1;
    if (p.has_bias)
        bufs[nb++] = 2;
    if (p.has_residual)
        bufs[nb++] = 3;
    bufs[nb++] = cg_out(n, 0);
    const int64_t kvol = p.kernel[0] * p.kernel[1] * p.kernel[2];
    const int64_t cin_g = p.c_in / p.groups, cout_g = p.c_out / p.groups;

    if (n->op == IR_OP_CONV_TRANSPOSE) {
        int64_t m = cout_g * kvol;
        p.rows_per_block = cg_conv_block_rows(p.in[0] * p.in[1], m * p.in[2]);
        cg_conv_transpose_images(&p, m, cin_g, out);
        bufs[nb++] = CG_BUF_WORKSPACE;
        SD_TRY(cg_lowered_add(out, "rt_conv_transpose_f32", &p, sizeof p, nb, bufs, err));
        cg_lowered_split(out, "rt_conv_transpose_f32_range", cg_conv_transpose_items(&p),
                         2.0 * (double)ir_value_numel(x) * (double)m);
        return SD_OK;
    }
    const double flops = 2.0 * (double)ir_value_numel(y) * (double)(cin_g * kvol);
    if (cin_g == 1 && ns <= 2) {
        if (rt_conv_depthwise_lanes_rows(&p) > 0) {
            out->workspace_bytes = (size_t)RT_DW_LANES_WORKSPACE_FLOATS * sizeof(float);
            bufs[nb++] = CG_BUF_WORKSPACE;
        }
        SD_TRY(cg_lowered_add(out, "rt_conv_depthwise_f32", &p, sizeof p, nb, bufs, err));
        cg_lowered_split(out, "rt_conv_depthwise_f32_range", rt_conv_depthwise_items(&p), flops);
        return SD_OK;
    }
    const int64_t rows = p.out[0] * p.out[1], pixels = rows * p.out[2];
    /* a 1x1 conv reads its input as the GEMM operand, unless small images are better side by side:
     * then the im2col path copies them together */
    if (cg_conv_is_pointwise(&p) && images_for(p.batch, rows, rows, pixels, cin_g) <= 1) {
        cg_conv_pointwise_chunks(&p, cout_g, pixels, cin_g, opt->threads);
        const int64_t chunk = p.c_split > 1 ? p.c_chunk : cout_g;
        if (packable_t(n, opt, &p, chunk, pixels, cin_g, 1) || packable(n, opt, &p, chunk, pixels, cin_g)) {
            bufs[1] = CG_BUF_PACKED;
            pack_with(out, &p);
        }
        out->workspace_bytes = p.packed_w == RT_CONV_PACKED_T
                                   ? (size_t)rt_conv_t_workspace_floats(&p, 1) * sizeof(float)
                                   : cg_conv_gemm_workspace_bytes(&p, 0, cout_g, pixels, cin_g);
        bufs[nb++] = CG_BUF_WORKSPACE;
        SD_TRY(cg_lowered_add(out, "rt_conv_pointwise_f32", &p, sizeof p, nb, bufs, err));
        cg_lowered_split(out, "rt_conv_pointwise_f32_range", p.batch * p.groups * p.c_split * rt_conv_pw_blocks(&p),
                         flops);
        if (p.packed_w == RT_CONV_PACKED_T) /* each task packs the image's columns for its chunks */
            cg_lowered_grain(out, p.c_split);
        return SD_OK;
    }
    SdStatus st;
    if (cg_conv_lower_winograd(n, opt, &p, nb, bufs, flops, out, &st, err))
        return st;
    int64_t k = cin_g * kvol;
    if (cg_conv_direct_plan(&p, opt, cout_g)) {
        const int64_t base = cg_conv_direct_items(&p);
        cg_conv_split_channels(&p, cout_g, base, opt->threads);
        const int64_t ipb = p.images_per_block > 1 ? p.images_per_block : 1;
        const int64_t plane_rows = (ipb - 1) * p.plane[0] + p.out[1];
        const int64_t nblk = (plane_rows + p.rows_per_block - 1) / p.rows_per_block;
        cg_conv_balanced_chunks(&p, cout_g, base, nblk, p.rows_per_block * p.plane[1],
                                (plane_rows - (nblk - 1) * p.rows_per_block) * p.plane[1], k, opt->threads);
        const int64_t chunk = p.c_split > 1 ? p.c_chunk : cout_g;
        if (packable(n, opt, &p, chunk, p.rows_per_block * p.plane[1], k)) {
            bufs[1] = CG_BUF_PACKED;
            pack_with(out, &p);
        }
        out->workspace_bytes = (size_t)rt_conv_direct_workspace_floats(&p, rt_gemm_core_floats(chunk, k)) * sizeof(float);
        bufs[nb++] = CG_BUF_WORKSPACE;
        SD_TRY(cg_lowered_add(out, "rt_conv_direct_f32", &p, sizeof p, nb, bufs, err));
        cg_lowered_split(out, "rt_conv_direct_f32_range", base * p.c_split, flops);
        cg_lowered_grain(out, p.c_split); /* a block's chunks share its planes */
        return SD_OK;
    }
    int64_t n_blocks, cols;
    const int64_t base = cg_conv_im2col_plan(&p, cout_g, k, &n_blocks, &cols, opt->threads);
    if (p.images_per_block <= 1)
        cg_conv_balanced_chunks(&p, cout_g, base, n_blocks, cols, (rows - (n_blocks - 1) * p.rows_per_block) * p.out[2],
                                k, opt->threads);
    const int64_t chunk = p.c_split > 1 ? p.c_chunk : cout_g;
    if (packable_t(n, opt, &p, chunk, cols, k, n_blocks) || packable(n, opt, &p, chunk, cols, k)) {
        bufs[1] = CG_BUF_PACKED;
        pack_with(out, &p);
    }
    out->workspace_bytes = p.packed_w == RT_CONV_PACKED_T ? (size_t)rt_conv_t_workspace_floats(&p, 0) * sizeof(float)
                                                          : cg_conv_im2col_workspace_bytes(&p, chunk, cols, k);
    bufs[nb++] = CG_BUF_WORKSPACE;
    SD_TRY(cg_lowered_add(out, "rt_conv_gemm_f32", &p, sizeof p, nb, bufs, err));
    cg_lowered_split(out, "rt_conv_gemm_f32_range", base * p.c_split, flops);
    cg_lowered_grain(out, p.c_split); /* a block's chunks share its im2col */
    return SD_OK;
}
