/* codegen/lower/conv_grad.c — a convolution's gradients onto the kernels of runtime/kernels/conv.h.
 * CONV_GRAD_INPUT: direct loops for depthwise, one GEMM for 1x1, the convolution of dy with the
 * flipped weights where the convolution has stride 1 (Winograd's for 3x3, direct, or im2col for
 * images of at most 16 pixels), else the transposed convolution of dy (GEMM and col2im). CONV_GRAD_WEIGHT: direct loops
 * for depthwise, dy against shifted windows of x (direct), or im2col of x and GEMM against dy; a
 * layer with few items for the threads sums slices of its images apart and adds them in order. */
#include "codegen/lower/conv_internal.h"

/* The input gradient of a stride-1 convolution p (groups 1) is the convolution of dy with its
 * weights flipped in space and channels swapped, padded by dilation * (kernel - 1) - pad: its
 * params in *d, or false when such padding would be negative. */
static bool grad_input_as_conv(const RtConvParams *p, RtConvParams *d)
{
    *d = *p;
    d->c_in = p->c_out, d->c_out = p->c_in;
    for (int i = 0; i < 3; i++) {
        d->in[i] = p->out[i], d->out[i] = p->in[i];
        d->pad[i] = p->dilation[i] * (p->kernel[i] - 1) - p->pad[i];
        if (d->pad[i] < 0)
            return false;
    }
    return true;
}

/* The input gradient of forward convolution p as convolution d of dy (grad_input_as_conv, its
 * kernel planned, `items` items before the channel chunks, K = k): rt_conv_flip_weights_f32 writes
 * the flipped weights into scratch the threads share, then `kernel` reads them. */
static SdStatus add_flipped(const IrNode *n, const RtConvParams *p, const RtConvParams *d, const char *kernel,
                            const char *range, int64_t items, int64_t k, CgLowered *out, SdError *err)
{
    out->shared_bytes = (size_t)(d->c_out * k) * sizeof(float);
    SD_TRY(cg_lowered_add(out, "rt_conv_flip_weights_f32", p, sizeof *p, 2, (int[]){1, CG_BUF_SHARED}, err));
    SD_TRY(cg_lowered_add(out, kernel, d, sizeof *d, 4, (int[]){0, CG_BUF_SHARED, cg_out(n, 0), CG_BUF_WORKSPACE},
                          err));
    cg_lowered_split(out, range, items * d->c_split, 2.0 * (double)ir_value_numel(n->outputs[0]) * (double)k);
    cg_lowered_grain(out, d->c_split);
    return SD_OK;
}

/* The input gradient as a convolution of dy through rt_conv_gemm_f32 where the images are small
 * (at most 16 pixels: 4x4 layers), whose im2col gathers them through a table where the transposed
 * convolution's col2im scattered them by loops over rows of 4 pixels (a 4x4 layer of 256 channels
 * at batch 256, 2 threads: 15.1 -> 13.7 ms). */
static SdStatus lower_grad_input_im2col(const IrNode *n, const RtConvParams *p, RtConvParams *d, int threads,
                                        CgLowered *out, SdError *err)
{
    const int64_t k = d->c_in * d->kernel[0] * d->kernel[1] * d->kernel[2];
    int64_t n_blocks, cols;
    const int64_t base = cg_conv_im2col_plan(d, d->c_out, k, &n_blocks, &cols, threads);
    const int64_t chunk = d->c_split > 1 ? d->c_chunk : d->c_out;
    out->workspace_bytes = cg_conv_im2col_workspace_bytes(d, chunk, cols, k);
    return add_flipped(n, p, d, "rt_conv_gemm_f32", "rt_conv_gemm_f32_range", base, k, out, err);
}

/* The input gradient as a convolution of dy through rt_conv_direct_f32 (d planned by direct_plan). */
static SdStatus lower_grad_input_direct(const IrNode *n, const RtConvParams *p, RtConvParams *d, int threads,
                                        CgLowered *out, SdError *err)
{
    const int64_t k = d->c_in * d->kernel[1] * d->kernel[2], base = cg_conv_direct_items(d);
    cg_conv_split_channels(d, d->c_out, base, threads);
    const int64_t chunk = d->c_split > 1 ? d->c_chunk : d->c_out;
    out->workspace_bytes = (size_t)rt_conv_direct_workspace_floats(d, rt_gemm_core_floats(chunk, k)) * sizeof(float);
    return add_flipped(n, p, d, "rt_conv_direct_f32", "rt_conv_direct_f32_range", base, k, out, err);
}

/* The input gradient as a convolution of dy through Winograd's kernel (d planned): the forward
 * weights flipped, transformed and packed into scratch the threads share, then the kernel. */
static SdStatus lower_grad_input_winograd(const IrNode *n, RtConvParams *d, int threads, CgLowered *out, SdError *err)
{
    cg_conv_winograd_chunks(d, threads);
    SD_TRY(cg_conv_add_winograd_weights(out, d, 1, true, err));
    const double flops = 2.0 * (double)ir_value_numel(n->outputs[0]) * (double)(d->c_in * 9);
    return cg_conv_add_winograd(out, d, 3, (int[]){0, CG_BUF_SHARED, cg_out(n, 0)}, flops, err);
}

/* dx (output) from dy (input 0) and w (input 1): direct loops for one input channel per group,
 * one GEMM per group for 1x1, else the transposed convolution of dy (GEMM and col2im). */
SdStatus cg_lower_conv_grad_input(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    RtConvParams p = cg_conv_forward_params(&n->attrs.conv, &n->outputs[0]->shape, &n->inputs[0]->shape, opt), d;
    int bufs[4] = {0, 1, cg_out(n, 0), CG_BUF_WORKSPACE};
    const int64_t cin_g = p.groups > 0 ? p.c_in / p.groups : 0;
    if (cin_g == 1) {
        SD_TRY(cg_lowered_add(out, "rt_conv_grad_input_depthwise_f32", &p, sizeof p, 3, bufs, err));
        const double kvol = (double)(p.kernel[0] * p.kernel[1] * p.kernel[2]);
        cg_lowered_split(out, "rt_conv_grad_input_depthwise_f32_range", p.batch * p.c_in,
                         2.0 * (double)ir_value_numel(n->outputs[0]) * (double)(p.c_out / p.groups) * kvol);
        return SD_OK;
    }
    if (cg_conv_is_pointwise(&p)) {
        out->workspace_bytes = cg_conv_gemm_workspace_bytes(&p, 0, cin_g, p.in[0] * p.in[1] * p.in[2],
                                                            p.groups > 0 ? p.c_out / p.groups : 0);
        return cg_lowered_add(out, "rt_conv_grad_input_pointwise_f32", &p, sizeof p, 4, bufs, err);
    }
    if (p.groups == 1 && p.stride[1] == 1 && p.stride[2] == 1 && grad_input_as_conv(&p, &d)) {
        if (p.use_blas != RT_GEMM_BF16 && cg_conv_winograd_plan(&d, opt))
            return lower_grad_input_winograd(n, &d, opt->threads, out, err);
        if (cg_conv_direct_plan(&d, opt, d.c_out))
            return lower_grad_input_direct(n, &p, &d, opt->threads, out, err);
        if (rt_conv_small_images(&d))
            return lower_grad_input_im2col(n, &p, &d, opt->threads, out, err);
    }
    /* the transposed conv's view: its input is dy, its output dx, its weights read the same */
    RtConvParams t = p;
    t.c_in = p.c_out, t.c_out = p.c_in;
    for (int i = 0; i < 3; i++)
        t.in[i] = p.out[i], t.out[i] = p.in[i];
    const int64_t kvol = p.kernel[0] * p.kernel[1] * p.kernel[2], m = cin_g * kvol;
    t.rows_per_block = cg_conv_block_rows(t.in[0] * t.in[1], m * t.in[2]);
    cg_conv_transpose_images(&t, m, p.groups > 0 ? p.c_out / p.groups : 0, out);
    int tbufs[4] = {0, 1, cg_out(n, 0), CG_BUF_WORKSPACE};
    SD_TRY(cg_lowered_add(out, "rt_conv_transpose_f32", &t, sizeof t, 4, tbufs, err));
    cg_lowered_split(out, "rt_conv_transpose_f32_range", cg_conv_transpose_items(&t),
                     2.0 * (double)ir_value_numel(n->outputs[0]) * (double)(p.c_out / (p.groups > 0 ? p.groups : 1)) *
                         kvol);
    return SD_OK;
}

/* Slices of the images (RtConvParams.slices) for a weight gradient whose `base` items would leave
 * threads idle: one per missing item, at most one per block of images (nib of them). */
static void plan_slices(RtConvParams *p, int64_t base, int64_t nib)
{
    const int64_t want = (CG_CONV_MIN_ITEMS + base - 1) / base;
    p->slices = base >= CG_CONV_MIN_ITEMS ? 1 : want < nib ? want : nib;
}

/* The weight-gradient kernel (and its range form: names the calls keep) over slices x `base`
 * items, its partial sums in scratch the threads share when sliced. */
static SdStatus add_weight_gradient(const IrNode *n, const RtConvParams *p, int64_t k, const char *kernel,
                                    const char *range, int64_t base, CgLowered *out, SdError *err)
{
    if (p->slices > 1)
        out->shared_bytes = (size_t)(p->slices * p->c_out * k) * sizeof(float);
    int bufs[5] = {0, 1, cg_out(n, 0), CG_BUF_WORKSPACE, CG_BUF_SHARED};
    SD_TRY(cg_lowered_add(out, kernel, p, sizeof *p, p->slices > 1 ? 5 : 4, bufs, err));
    cg_lowered_split(out, range, p->slices * base, 2.0 * (double)ir_value_numel(n->inputs[1]) * (double)k);
    return SD_OK;
}

/* ... then the slices' partial sums added into dw, in order. */
static SdStatus add_slice_sum(const IrNode *n, const RtConvParams *p, CgLowered *out, SdError *err)
{
    if (p->slices <= 1)
        return SD_OK;
    return cg_lowered_add(out, "rt_conv_sum_slices_f32", p, sizeof *p, 2, (int[]){CG_BUF_SHARED, cg_out(n, 0)}, err);
}

/* The weight gradient through rt_conv_grad_weight_direct_f32 (d: the forward's params, planned by
 * direct_plan). A layer with few output channels has few chunks for the threads: its images are
 * then cut into slices, each summed into its own partial gradient, and the partials added up in
 * order (a fixed count, so the result does not depend on the threads). */
static SdStatus lower_grad_weight_direct(const IrNode *n, RtConvParams *d, int64_t k, int64_t cout_g, int threads,
                                         CgLowered *out, SdError *err)
{
    cg_conv_split_channels(d, cout_g, d->groups, threads);
    const int64_t base = d->groups * d->c_split, chunk = d->c_split > 1 ? d->c_chunk : cout_g;
    const int64_t ipb = d->images_per_block > 1 ? d->images_per_block : 1, nib = (d->batch + ipb - 1) / ipb;
    const int64_t cols = ipb * d->plane[0] * d->plane[1];
    plan_slices(d, base, nib);
    out->workspace_bytes =
        (size_t)rt_conv_grad_weight_direct_workspace_floats(d, rt_gemm_core_floats(chunk, cols)) * sizeof(float);
    SD_TRY(add_weight_gradient(n, d, k, "rt_conv_grad_weight_direct_f32", "rt_conv_grad_weight_direct_f32_range",
                               base, out, err));
    cg_lowered_grain(out, d->c_split); /* a slice's chunks share its planes */
    return add_slice_sum(n, d, out, err);
}

/* The weight gradient through Winograd's F(2x2, 3x3) (d: the forward's params, planned by
 * cg_conv_winograd_plan): slices of the blocks of tile rows, summed apart, then in order. */
static SdStatus lower_grad_weight_winograd(const IrNode *n, RtConvParams *d, int64_t k, CgLowered *out, SdError *err)
{
    /* blocks of more tiles where the channels are many: every block reads and writes all 16 dU
     * (4 MB at 256 channels); the 4x4 layers of 256 channels took 19 ms at the forward's blocks, 16 ms
     * at 4 times them, while 128 channels at 7x7 took 10 -> 12.6 ms at 4 times; with images in the
     * lanes, 4x4 layers of 256 channels 10.8 ms at the forward's blocks, 7.9 at 4 times */
    const int64_t rows = rt_conv_winograd_tile_rows(d), more = d->c_in * d->c_out / (128 * 128);
    if (more > 1 && rt_conv_winograd_lanes(d)) { /* whole blocks of 16 images */
        const int64_t most = (d->batch + 15) / 16 * 16, th = (d->out[1] + 1) / 2;
        d->images_per_block = d->images_per_block * more < most ? d->images_per_block * more : most;
        d->rows_per_block = d->images_per_block * th;
    } else if (more > 1) {
        d->rows_per_block = d->rows_per_block * more < rows ? d->rows_per_block * more : rows;
    }
    d->c_split = 1, d->c_chunk = d->c_out;
    plan_slices(d, 1, rt_conv_winograd_blocks(d));
    out->workspace_bytes = (size_t)rt_conv_winograd_grad_layout(d).total * sizeof(float);
    SD_TRY(add_weight_gradient(n, d, k, "rt_conv_grad_weight_winograd_f32", "rt_conv_grad_weight_winograd_f32_range", 1,
                               out, err));
    return add_slice_sum(n, d, out, err);
}

/* dw (output) from x (input 0) and dy (input 1). */
SdStatus cg_lower_conv_grad_weight(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    RtConvParams p = cg_conv_forward_params(&n->attrs.conv, &n->inputs[0]->shape, &n->inputs[1]->shape, opt);
    const int64_t cin_g = p.groups > 0 ? p.c_in / p.groups : 0;
    if (cin_g == 1) { /* a width stride above 1 splits the rows of an x plane by phase in the workspace */
        int64_t S = p.stride[2], row = S * ((p.in[2] + S - 1) / S);
        out->workspace_bytes = S > 1 ? (size_t)(p.in[0] * p.in[1] * row) * sizeof(float) : 0;
        int bufs[4] = {0, 1, cg_out(n, 0), CG_BUF_WORKSPACE};
        SD_TRY(cg_lowered_add(out, "rt_conv_grad_weight_depthwise_f32", &p, sizeof p, S > 1 ? 4 : 3, bufs, err));
        cg_lowered_split(out, "rt_conv_grad_weight_depthwise_f32_range", p.c_out,
                         2.0 * (double)ir_value_numel(n->inputs[1]) * (double)(p.kernel[0] * p.kernel[1] * p.kernel[2]));
        return SD_OK;
    }
    const int64_t k = cin_g * p.kernel[0] * p.kernel[1] * p.kernel[2];
    const int64_t cout_g = p.c_out / p.groups;
    RtConvParams d = p;
    if (p.use_blas != RT_GEMM_BF16 && cg_conv_winograd_plan(&d, opt)) /* f32 only, as the forward */
        return lower_grad_weight_winograd(n, &d, k, out, err);
    d = p;
    if (!cg_conv_is_pointwise(&p) && cg_conv_direct_plan(&d, opt, cout_g))
        return lower_grad_weight_direct(n, &d, k, cout_g, opt->threads, out, err);
    p.rows_per_block = cg_conv_block_rows(p.out[0] * p.out[1], k * p.out[2]);
    if (cg_conv_is_pointwise(&p)) { /* dw_g += dy_g x_g^T: the input is the column matrix */
        out->workspace_bytes = cg_conv_gemm_workspace_bytes(&p, 0, cout_g, k, p.out[0] * p.out[1] * p.out[2]);
    } else if ((p.images_per_block = cg_conv_images_per_block(&p, k)) > 1) {
        /* the columns, then dy's rows, of several images */
        const int64_t cols = p.images_per_block * p.out[0] * p.out[1] * p.out[2];
        out->workspace_bytes = cg_conv_gemm_workspace_bytes(&p, k * cols, cout_g, k, cols) +
                               (size_t)((cout_g * cols + 15) / 16 * 16) * sizeof(float);
    } else {
        out->workspace_bytes =
            cg_conv_gemm_workspace_bytes(&p, k * p.rows_per_block * p.out[2], cout_g, k, p.rows_per_block * p.out[2]);
    }
    /* the threads: by output channels where one item per group is too few, but with im2col each
     * chunk would build all the columns again (8 chunks made ResNet-18's 4x4 layers' weight
     * gradient 2.6x its forward), so there by slices of the images summed apart, like the direct one */
    if (cg_conv_is_pointwise(&p)) {
        cg_conv_split_channels(&p, cout_g, p.groups, opt->threads);
        p.slices = 1;
    } else {
        const int64_t ipb = p.images_per_block > 1 ? p.images_per_block : 1;
        p.c_split = 1, p.c_chunk = cout_g;
        plan_slices(&p, p.groups, (p.batch + ipb - 1) / ipb);
    }
    SD_TRY(add_weight_gradient(n, &p, k, "rt_conv_grad_weight_f32", "rt_conv_grad_weight_f32_range",
                               p.groups * p.c_split, out, err));
    return add_slice_sum(n, &p, out, err);
}
