/* codegen/lower/quant.c — quantization ops onto runtime/kernels/quant.h (ONNX's ops with run-time
 * scales, int8 elementwise) and runtime/kernels/qgemm.h (the packed int8 and bf16 convolutions and
 * matrix products passes/quantize.c makes). The packed kernels exist twice in the bitcode, portable
 * C and with AVX512-VNNI/BF16 instructions under the suffix "_avx512", which takes the portable
 * one's name where the target has those features (codegen/bitcode.c), so lowering names kernels
 * one way. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/loops.h"
#include "runtime/kernels/qgemm.h"
#include "runtime/kernels/quant.h"

static bool has(const IrNode *n, int i) { return i < n->n_inputs && n->inputs[i] != NULL; }
static int64_t numel_of(const IrNode *n, int i) { return has(n, i) ? ir_value_numel(n->inputs[i]) : 1; }

static SdStatus internal(const IrNode *n, const char *what, SdError *err)
{
    char lb[200];
    return sd_errorf(err, SD_EINTERNAL, "%s: %s", ir_node_label(n, lb, sizeof lb), what);
}

/* --- QuantizeLinear / DequantizeLinear --- */

static SdStatus lower_qdq(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *x = n->inputs[0], *s = n->inputs[1];
    RtQuantizeParams p = {.outer = 1, .axis = 1, .inner = ir_value_numel(x), .block = 1, .n_blocks = 1};
    if (ir_value_numel(s) > 1) {
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < a->axis; i++)
            outer *= x->shape.dims[i];
        for (int i = (int)a->axis + 1; i < x->shape.rank; i++)
            inner *= x->shape.dims[i];
        p.outer = outer, p.axis = x->shape.dims[a->axis], p.inner = inner;
        p.mode = a->block_size ? 2 : 1;
        if (a->block_size)
            p.block = a->block_size, p.n_blocks = (p.axis + a->block_size - 1) / a->block_size;
    }
    p.has_zp = has(n, 2);
    p.x_dtype = x->dtype;
    p.y_dtype = n->outputs[0]->dtype;
    int bufs[4] = {0, 1, 2, cg_out(n, 0)};
    if (!p.has_zp)
        bufs[2] = cg_out(n, 0);
    const bool q = n->op == IR_OP_QUANTIZE_LINEAR;
    SD_TRY(cg_lowered_add(out, q ? "rt_quantize_linear" : "rt_dequantize_linear", &p, sizeof p, p.has_zp ? 4 : 3,
                          bufs, err));
    cg_lowered_split(out, q ? "rt_quantize_linear_range" : "rt_dequantize_linear_range", ir_value_numel(x),
                     4.0 * (double)ir_value_numel(x));
    return SD_OK;
}

/* --- the reference conv and matmul with a scale table --- */

/* The table of scales and zero points: "x" inputs (scale, zp) at ix, ix+1 (QLinear*) or the zp
 * at 2 (*Integer); "w" at iw, iw+1 or 3. n_x and n_w: the most values either side has. */
static RtQTableParams table_params(const IrNode *n, int ib)
{
    bool ql = n->op == IR_OP_QLINEAR_CONV || n->op == IR_OP_QLINEAR_MATMUL;
    int xs = ql ? 1 : -1, xz = ql ? 2 : 2, ws = ql ? 4 : -1, wz = ql ? 5 : 3;
    RtQTableParams t = {.has_scales = ql};
    int64_t c[4] = {xs >= 0 ? numel_of(n, xs) : 1, numel_of(n, xz), ws >= 0 ? numel_of(n, ws) : 1, numel_of(n, wz)};
    for (int i = 0; i < 4; i++)
        t.many[i] = c[i] > 1;
    t.n_x = c[0] > c[1] ? c[0] : c[1];
    t.n_w = c[2] > c[3] ? c[2] : c[3];
    t.x_dtype = n->inputs[0]->dtype;
    t.w_dtype = n->inputs[ib]->dtype;
    t.y_dtype = n->outputs[0]->dtype;
    t.has_x_zp = has(n, xz);
    t.has_w_zp = has(n, wz);
    if (ql)
        t.scale_dtype = n->inputs[1]->dtype;
    return t;
}

/* The table into the workspace: bufs x_scale, x_zp, w_scale, w_zp, y_scale, y_zp (absent ones
 * point anywhere; the params say they are absent). */
static SdStatus add_prep(const RtQTableParams *t, CgLowered *out, SdError *err)
{
    int bufs[7];
    if (t->has_scales) {
        int ql[6] = {1, 2, 4, 5, 6, 7};
        memcpy(bufs, ql, sizeof ql);
    } else {
        for (int i = 0; i < 6; i++)
            bufs[i] = 0;
        if (t->has_x_zp)
            bufs[1] = 2;
        if (t->has_w_zp)
            bufs[3] = 3;
    }
    bufs[6] = CG_BUF_WORKSPACE;
    out->workspace_bytes = (size_t)rt_qtable_bytes(t->n_x, t->n_w);
    return cg_lowered_add(out, "rt_qlinear_prep", t, sizeof *t, 7, bufs, err);
}

static void to3(const int64_t *v, int ns, int64_t fill, int64_t *out)
{
    for (int i = 0; i < 3; i++)
        out[i] = i < 3 - ns ? fill : v[i - (3 - ns)];
}

static SdStatus lower_qlinear_conv(const IrNode *n, CgLowered *out, SdError *err)
{
    bool ql = n->op == IR_OP_QLINEAR_CONV;
    int iw = ql ? 3 : 1;
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrConvAttrs *a = &n->attrs.quant.conv;
    RtQLinearConvParams p = {.t = table_params(n, iw)};
    int ns = a->nspatial;
    p.batch = x->shape.dims[0], p.groups = a->groups, p.c_in = x->shape.dims[1], p.c_out = y->shape.dims[1];
    to3(x->shape.dims + 2, ns, 1, p.in);
    to3(y->shape.dims + 2, ns, 1, p.out);
    to3(a->kernel, ns, 1, p.kernel);
    to3(a->strides, ns, 1, p.stride);
    to3(a->dilations, ns, 1, p.dilation);
    to3(a->pads, ns, 0, p.pad);
    p.has_bias = ql && has(n, 8);
    SD_TRY(add_prep(&p.t, out, err));
    int bufs[5] = {0, iw, p.has_bias ? 8 : 0, cg_out(n, 0), CG_BUF_WORKSPACE};
    return cg_lowered_add(out, "rt_qlinear_conv", &p, sizeof p, 5, bufs, err);
}

static SdStatus lower_qlinear_matmul(const IrNode *n, CgLowered *out, SdError *err)
{
    bool ql = n->op == IR_OP_QLINEAR_MATMUL;
    int ib = ql ? 3 : 1;
    const IrValue *a = n->inputs[0], *b = n->inputs[ib], *y = n->outputs[0];
    int ra = a->shape.rank, rb = b->shape.rank, ry = y->shape.rank;
    RtQLinearMatmulParams p = {.t = table_params(n, ib)};
    p.m = a->shape.dims[ra - 2], p.k = a->shape.dims[ra - 1], p.n = b->shape.dims[rb - 1];
    if (ry - 2 > RT_LOOP_RANK)
        return internal(n, "too many batch dimensions", err);
    IrShape yb = ir_shape_make(ry - 2, y->shape.dims), ab = ir_shape_make(ra - 2, a->shape.dims),
            bb = ir_shape_make(rb - 2, b->shape.dims);
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK];
    cg_broadcast_strides(&ab, &yb, sa);
    cg_broadcast_strides(&bb, &yb, sb);
    int pad = RT_LOOP_RANK - yb.rank;
    for (int i = 0; i < RT_LOOP_RANK; i++) {
        p.batch[i] = i < pad ? 1 : yb.dims[i - pad];
        p.a_stride[i] = i < pad ? 0 : sa[i - pad] * p.m * p.k;
        p.b_stride[i] = i < pad ? 0 : sb[i - pad] * p.k * p.n;
    }
    SD_TRY(add_prep(&p.t, out, err));
    int bufs[4] = {0, ib, cg_out(n, 0), CG_BUF_WORKSPACE};
    return cg_lowered_add(out, "rt_qlinear_matmul", &p, sizeof p, 4, bufs, err);
}

/* --- int8 elementwise --- */

static SdStatus lower_qadd(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *y = n->outputs[0];
    int64_t dims[IR_MAX_RANK], strides[2][IR_MAX_RANK];
    memcpy(dims, y->shape.dims, sizeof dims);
    for (int k = 0; k < 2; k++)
        cg_broadcast_strides(&n->inputs[k]->shape, &y->shape, strides[k]);
    if (!cg_collapse_dims(y->shape.rank, dims, 2, strides))
        return internal(n, "broadcasting needs too many loop dimensions", err);
    RtQAddParams p = {.a_mult = a->a_scale / a->y_scale, .b_mult = a->b_scale / a->y_scale, .a_zp = a->a_zp,
                      .b_zp = a->b_zp, .y_zp = a->y_zp, .qmin = a->qmin, .qmax = a->qmax, .y_dtype = y->dtype};
    memcpy(p.dims, dims, sizeof p.dims);
    for (int k = 0; k < 2; k++)
        memcpy(p.strides[k], strides[k], sizeof p.strides[k]);
    int bufs[3] = {0, 1, cg_out(n, 0)};
    SD_TRY(cg_lowered_add(out, "rt_qadd", &p, sizeof p, 3, bufs, err));
    cg_lowered_split(out, "rt_qadd_range", rt_outer_extent(p.dims), (double)ir_value_numel(y) * 4);
    return SD_OK;
}

/* QGLOBAL_AVG_POOL and QSCALE_CHANNELS: kernels over the planes of x (RtQPlanesParams), items planes */
static SdStatus lower_qplanes(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *x = n->inputs[0];
    const bool pool = n->op == IR_OP_QGLOBAL_AVG_POOL;
    const int64_t planes = x->shape.dims[0] * x->shape.dims[1], size = planes ? ir_value_numel(x) / planes : 0;
    RtQPlanesParams p = {.planes = planes, .size = size, .x_zp = a->a_zp, .y_zp = a->y_zp, .qmin = a->qmin,
                         .qmax = a->qmax, .dtype = x->dtype};
    p.mult = pool ? a->a_scale / ((float)size * a->y_scale) : a->a_scale / a->y_scale;
    int bufs[3] = {0, pool ? cg_out(n, 0) : 1, cg_out(n, 0)};
    SD_TRY(cg_lowered_add(out, pool ? "rt_qglobal_avg_pool" : "rt_qscale_channels", &p, sizeof p, pool ? 2 : 3, bufs,
                          err));
    cg_lowered_split(out, pool ? "rt_qglobal_avg_pool_range" : "rt_qscale_channels_range", planes,
                     (pool ? 1.0 : 2.0) * (double)ir_value_numel(x));
    return SD_OK;
}

/* --- the packed int8 and bf16 kernels (qgemm.h) --- */

/* Packed activation columns per block: about this many bytes, so a block stays in L2. */
#define QG_BLOCK_BYTES ((int64_t)1 << 19)
/* Fewer parallel items than this in a convolution: split the output rows, then the channels too. */
#define QG_MIN_ITEMS 8
/* Output pixels a block of rows keeps when rows are split for the threads: 4 tiles. */
#define QG_MIN_COLS (4 * RT_QG_NR)
/* Packed columns of all blocks at most, where they are packed once into shared scratch for the
 * chunks of channels (RtQConvParams.shared_cols) */
#define QG_SHARED_BYTES ((int64_t)2 << 20)

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

static SdStatus lower_pack(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *w = n->inputs[0];
    RtPackParams p = {.bf16 = a->out_dtype == SD_DT_BF16, .matmul = a->depth != 0};
    if (p.matmul) {
        p.k = w->shape.dims[0], p.n = w->shape.dims[1], p.groups = 1;
    } else {
        p.groups = a->conv.groups;
        p.rows = w->shape.dims[0] / p.groups;
        p.k = ir_value_numel(w) / w->shape.dims[0];
        const int64_t kvol = p.k / w->shape.dims[1];
        p.taps_inner = rt_qconv_taps_inner(p.groups, w->shape.dims[1], kvol, p.bf16) ? kvol : 0;
    }
    int bufs[2] = {0, cg_out(n, 0)};
    return cg_lowered_add(out, "rt_pack_weights", &p, sizeof p, 2, bufs, err);
}

/* The table of a SiLU or HardSwish the quantize pass folded into a QCONV (IrQuantAttrs.act): for
 * each u8 value of its input, the u8 of its output, quantized as QuantizeLinear does (in double,
 * so the table rounds once). */
static int32_t act_table(const IrQuantAttrs *a, uint8_t lut[256])
{
    if (a->act == IR_CONV_ACT_NONE)
        return 0;
    for (int q = 0; q < 256; q++) {
        const double v = (double)(q - a->y_zp) * a->act_in_scale;
        const double f = a->act == IR_CONV_ACT_SILU ? v / (1.0 + exp(-v)) : v * fmin(fmax(v / 6.0 + 0.5, 0.0), 1.0);
        const double z = nearbyint(f / a->act_out_scale) + a->act_out_zp;
        lut[q] = (uint8_t)fmin(fmax(z, 0.0), 255.0);
    }
    return 1;
}

static SdStatus lower_depthwise(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    int ns = a->conv.nspatial;
    if (ns > 2 || x->shape.dims[1] != y->shape.dims[1] || ir_value_numel(n->inputs[1]) / y->shape.dims[1] > 49 ||
        has(n, 4))
        return internal(n, "int8 depthwise convolution needs 1 or 2 spatial dims, one output channel per group, at most 7x7 taps and no residual", err);
    RtQDepthwiseParams p = {.batch = x->shape.dims[0], .channels = x->shape.dims[1]};
    for (int i = 0; i < 2; i++) {
        int k = i - (2 - ns);
        p.in[i] = k < 0 ? 1 : x->shape.dims[2 + k];
        p.out[i] = k < 0 ? 1 : y->shape.dims[2 + k];
        p.kernel[i] = k < 0 ? 1 : a->conv.kernel[k];
        p.stride[i] = k < 0 ? 1 : a->conv.strides[k];
        p.dilation[i] = k < 0 ? 1 : a->conv.dilations[k];
        p.pad[i] = k < 0 ? 0 : a->conv.pads[k];
        p.padded[i] = (p.out[i] - 1) * p.stride[i] + (p.kernel[i] - 1) * p.dilation[i] + 1;
    }
    p.x_zp = a->x_zp, p.y_zp = a->y_zp, p.qmin = a->qmin, p.qmax = a->qmax, p.lo = a->lo, p.hi = a->hi;
    p.out_kind = a->out_dtype == SD_DT_F32 ? RT_QOUT_F32 : a->out_dtype == SD_DT_I8 ? RT_QOUT_I8 : RT_QOUT_U8;
    if (p.out_kind == RT_QOUT_U8)
        p.has_lut = act_table(a, p.lut);
    out->workspace_bytes = (size_t)(4 * p.padded[0] * p.padded[1] + 128 + 8 * (p.out[1] + 16) + 64);
    int bufs[6] = {0, 1, 2, 3, cg_out(n, 0), CG_BUF_WORKSPACE};
    SD_TRY(cg_lowered_add(out, "rt_qconv_depthwise_u8", &p, sizeof p, 6, bufs, err));
    cg_lowered_split(out, "rt_qconv_depthwise_u8_range", p.batch * p.channels,
                     2.0 * (double)ir_value_numel(y) * (double)(p.kernel[0] * p.kernel[1]));
    return SD_OK;
}

/* Plane bytes of a block of images of the direct int8 or bf16 convolution: about this many, so they
 * stay in L2 while every channel panel sweeps them. */
#define QG_PLANE_BYTES ((int64_t)1 << 18)

/* Whether the int8 or bf16 convolution goes through its direct kernel (2-D or 1-D, groups 1,
 * input channels in blocks of lane_channels, not a plain 1x1: its packing copies no taps, and
 * measured on 1x1 layers of ResNet-50 it was as fast for 256 -> 64 channels but 6-29% slower for
 * 64 -> 256 and 1024 -> 256), and then its planes and images per block. Unlike
 * the float one it needs no limit on the columns that are no output pixel: the im2col kernel pads
 * each image's pixels to whole tiles of RT_QG_NR, which wastes as much on small images. */
static bool qconv_direct_plan(RtQConvParams *p, const CgLowerOptions *opt, bool bf16)
{
    p->lane_channels = bf16 ? 2 : 4;
    if (opt->no_direct_conv || p->groups != 1 || p->c_in % p->lane_channels != 0 || p->pointwise ||
        p->kernel[0] != 1 || p->in[0] != 1 || p->out[0] != 1 || p->stride[1] <= 0 || p->stride[2] <= 0) {
        p->lane_channels = 0;
        return false;
    }
    p->plane[0] = cg_direct_plane_dim(p->in[1], p->out[1], p->kernel[1], p->stride[1], p->dilation[1], p->pad[1]);
    p->plane[1] = cg_direct_plane_dim(p->in[2], p->out[2], p->kernel[2], p->stride[2], p->dilation[2], p->pad[2]);
    /* bytes of planes one column (plane pixel) reads, and one image's */
    const int64_t per_col = p->c_in / p->lane_channels * 4 * p->stride[1] * p->stride[2];
    const int64_t image = per_col * p->plane[0] * p->plane[1];
    p->images_per_block = image > 0 && QG_PLANE_BYTES / image > 1 ? QG_PLANE_BYTES / image : 1;
    if (p->images_per_block > p->batch)
        p->images_per_block = p->batch > 0 ? p->batch : 1;
    if (image > QG_PLANE_BYTES) {
        p->cols_per_block = QG_PLANE_BYTES / per_col / RT_QG_NR * RT_QG_NR;
        if (p->cols_per_block < RT_QG_NR)
            p->cols_per_block = RT_QG_NR;
    }
    if ((double)rt_qconv_direct_planes(p) * (double)rt_qconv_direct_plane_pixels(p) > (double)INT32_MAX) {
        p->plane[0] = p->plane[1] = p->images_per_block = p->lane_channels = 0;
        return false;
    }
    return true;
}

/* Chunks of channel panels that bring `base` items up to QG_MIN_ITEMS, at least 2 panels a chunk. */
static int64_t panel_chunks(int64_t base, int64_t panels)
{
    int64_t c = base < QG_MIN_ITEMS ? (QG_MIN_ITEMS + base - 1) / base : 1;
    if (c > panels / 2)
        c = panels / 2 > 1 ? panels / 2 : 1;
    return c;
}

/* The share of a block's columns that are output pixels, with ipb images of `pixels` each in it
 * (the block is padded to whole tiles). */
static double tile_use(int64_t pixels, int64_t ipb)
{
    const int64_t cols = pixels * ipb;
    return (double)cols / (double)((cols + RT_QG_NR - 1) / RT_QG_NR * RT_QG_NR);
}

/* Images an int8 or bf16 im2col block holds side by side where an image's pixels would leave a
 * tile part empty (7x7: 49 pixels in 64 columns; four images, 196 in 224): the count that fills
 * tiles best while the block (es bytes a packed value) stays within 2 * QG_BLOCK_BYTES and the
 * items can still share the threads; 1 where that gains under a tenth. In bf16 at batch 16, 1
 * thread: ResNet-50's 2048 -> 512 1x1 layer on 7x7 4.10 -> 3.75 ms (5 images a block), its
 * 256 -> 1024 on 14x14 5.10 -> 5.27 (8 images, 800 KB); a bf16 limit of QG_BLOCK_BYTES gained
 * nothing on the second and lost most of the first's gain. */
static int64_t qconv_images_per_block(const RtQConvParams *p, int64_t es)
{
    const int64_t pixels = p->out[0] * p->out[1] * p->out[2], per = pixels * p->kp * es;
    int64_t best = 1;
    for (int64_t ipb = 2; ipb <= p->batch && ipb * per <= 2 * QG_BLOCK_BYTES; ipb++) {
        if ((p->batch + ipb - 1) / ipb * p->groups < 2) /* both threads need an image block */
            break;
        if (tile_use(pixels, ipb) > tile_use(pixels, best) + 1e-9)
            best = ipb;
    }
    return tile_use(pixels, best) > 1.1 * tile_use(pixels, 1) ? best : 1;
}

/* A packed convolution's operands: int8 x, w, bias, mult, [residual], y, workspace; bf16 x, w,
 * [bias], [residual], y, workspace. Returns how many. */
static int qconv_bufs(const IrNode *n, const RtQConvParams *p, bool bf16, int *bufs)
{
    int nb = 0;
    bufs[nb++] = 0, bufs[nb++] = 1;
    if (!bf16 || p->has_bias)
        bufs[nb++] = 2;
    if (!bf16 || p->has_residual)
        bufs[nb++] = 3;
    if (!bf16 && p->has_residual)
        bufs[nb++] = 4;
    bufs[nb++] = cg_out(n, 0);
    bufs[nb++] = CG_BUF_WORKSPACE;
    return nb;
}

static SdStatus lower_qconv(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    bool bf16 = n->op == IR_OP_CONV_BF16;
    if (!bf16 && w->shape.rank == x->shape.rank)
        return lower_depthwise(n, out, err);
    int ns = a->conv.nspatial;
    RtQConvParams p = {.batch = x->shape.dims[0], .groups = a->conv.groups, .c_in = x->shape.dims[1], .c_out = y->shape.dims[1]};
    to3(x->shape.dims + 2, ns, 1, p.in);
    to3(y->shape.dims + 2, ns, 1, p.out);
    to3(a->conv.kernel, ns, 1, p.kernel);
    to3(a->conv.strides, ns, 1, p.stride);
    to3(a->conv.dilations, ns, 1, p.dilation);
    to3(a->conv.pads, ns, 0, p.pad);
    int64_t kvol = p.kernel[0] * p.kernel[1] * p.kernel[2], cin_g = p.c_in / p.groups, cout_g = p.c_out / p.groups;
    p.k = cin_g * kvol;
    p.kp = round_up(p.k, bf16 ? 2 : 4);
    p.cp = round_up(cout_g, 16);
    p.pointwise = kvol == 1;
    for (int i = 0; i < 3; i++)
        p.pointwise = p.pointwise && p.stride[i] == 1 && p.pad[i] == 0 && p.in[i] == p.out[i];
    p.taps_inner = rt_qconv_taps_inner(p.groups, cin_g, kvol, bf16);
    p.x_zp = a->x_zp, p.y_zp = a->y_zp, p.qmin = a->qmin, p.qmax = a->qmax, p.lo = a->lo, p.hi = a->hi;
    p.out_kind = bf16 || a->out_dtype == SD_DT_F32 ? RT_QOUT_F32 : a->out_dtype == SD_DT_I8 ? RT_QOUT_I8 : RT_QOUT_U8;
    if (!bf16 && p.out_kind == RT_QOUT_U8)
        p.has_lut = act_table(a, p.lut);
    p.has_bias = bf16 && has(n, 2);
    p.has_residual = bf16 ? has(n, 3) : has(n, 4);
    if (!bf16 && p.has_residual) /* actfold's QADD: the residual rescaled to y's units */
        p.r_zp = a->b_zp, p.r_mult = a->b_scale;
    const int64_t panels = p.cp / RT_QG_MR;
    if (qconv_direct_plan(&p, opt, bf16)) {
        const int64_t base = (p.batch + p.images_per_block - 1) / p.images_per_block;
        p.c_split = panel_chunks(base, panels);
        out->workspace_bytes = rt_qconv_direct_workspace(&p);
        int bufs[7], nb = qconv_bufs(n, &p, bf16, bufs);
        SD_TRY(cg_lowered_add(out, bf16 ? "rt_conv_bf16_direct" : "rt_qconv_direct_u8", &p, sizeof p, nb, bufs, err));
        cg_lowered_split(out, bf16 ? "rt_conv_bf16_direct_range" : "rt_qconv_direct_u8_range", base * p.c_split,
                         2.0 * (double)ir_value_numel(y) * (double)p.k);
        cg_lowered_grain(out, p.c_split);
        return SD_OK;
    }
    if (p.pointwise) { /* one row of pixels: blocks of whole tiles rather than of image rows */
        const int64_t pixels = p.out[0] * p.out[1] * p.out[2];
        for (int i = 0; i < 3; i++)
            p.in[i] = p.out[i] = i == 1 ? pixels : 1;
    }
    int64_t rows_total = p.out[0] * p.out[1], ow = p.out[2], es = bf16 ? 2 : 1;
    int64_t rpb = QG_BLOCK_BYTES / (p.kp * es * ow);
    p.rows_per_block = rpb < 1 ? 1 : rpb > rows_total ? rows_total : rpb;
    /* too few items for the threads (a batch-1 layer): smaller blocks of rows first, while they keep
     * QG_MIN_COLS pixels (each block packs only its own columns; a chunk of channels packs its
     * block's again) */
    const int64_t per = p.batch * p.groups, want = (QG_MIN_ITEMS + per - 1) / per;
    if (per * ((rows_total + p.rows_per_block - 1) / p.rows_per_block) < QG_MIN_ITEMS) {
        int64_t r = (rows_total + want - 1) / want, least = (QG_MIN_COLS + ow - 1) / ow;
        r = r < least ? least : r;
        if (r < p.rows_per_block)
            p.rows_per_block = r;
    }
    if (p.pointwise && p.rows_per_block < rows_total) { /* 28x28 in blocks of 5 rows: 784 of 960 columns */
        p.rows_per_block = round_up(p.rows_per_block, RT_QG_NR);
        p.rows_per_block = p.rows_per_block > rows_total ? rows_total : p.rows_per_block;
    }
    p.n_blocks = (rows_total + p.rows_per_block - 1) / p.rows_per_block;
    if (p.n_blocks == 1)
        p.images_per_block = qconv_images_per_block(&p, es);
    const int64_t ipb = p.images_per_block > 1 ? p.images_per_block : 1;
    int64_t base = (p.batch + ipb - 1) / ipb * p.groups * p.n_blocks;
    p.c_split = panel_chunks(base, panels);
    /* the chunks of a block would each pack it again, and a tile's work per packed column is only
     * 8 channels' products: MobileNetV2's 576 -> 96 layer on 14x14 in bf16, 2 blocks of 4 chunks,
     * packed its input 4 times */
    const size_t col_bytes = rt_qconv_col_bytes(&p, bf16);
    p.shared_cols = p.c_split > 1 && (double)base * (double)col_bytes <= (double)QG_SHARED_BYTES;
    out->workspace_bytes = rt_qconv_workspace(&p, bf16);
    int bufs[8], nb = qconv_bufs(n, &p, bf16, bufs);
    if (p.shared_cols) {
        out->shared_bytes = (size_t)base * col_bytes;
        bufs[nb++] = CG_BUF_SHARED;
        const char *pk = bf16 ? "rt_conv_bf16_pack" : "rt_qconv_pack_u8";
        const char *pkr = bf16 ? "rt_conv_bf16_pack_range" : "rt_qconv_pack_u8_range";
        SD_TRY(cg_lowered_add(out, pk, &p, sizeof p, 3, (int[]){0, CG_BUF_WORKSPACE, CG_BUF_SHARED}, err));
        cg_lowered_split(out, pkr, base, (double)ir_value_numel(y) / (double)p.c_out * (double)p.kp);
    }
    const char *k = bf16 ? "rt_conv_bf16" : "rt_qconv_u8", *kr = bf16 ? "rt_conv_bf16_range" : "rt_qconv_u8_range";
    SD_TRY(cg_lowered_add(out, k, &p, sizeof p, nb, bufs, err));
    cg_lowered_split(out, kr, base * p.c_split, 2.0 * (double)ir_value_numel(y) * (double)p.k);
    return SD_OK;
}

static SdStatus lower_qmatmul(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *x = n->inputs[0];
    bool bf16 = n->op == IR_OP_MATMUL_BF16;
    RtQMatmulParams p = {.k = a->depth, .n = a->channels};
    p.m = ir_value_numel(x) / (p.k ? p.k : 1);
    p.kp = round_up(p.k, bf16 ? 2 : 4);
    p.np = round_up(p.n, 16);
    p.m_block = 64;
    p.n_block = p.np > 256 ? 256 : p.np;
    p.n_items_n = (p.np + p.n_block - 1) / p.n_block;
    p.y_zp = a->y_zp, p.qmin = a->qmin, p.qmax = a->qmax, p.lo = a->lo, p.hi = a->hi;
    p.out_kind = bf16 || a->out_dtype == SD_DT_F32 ? RT_QOUT_F32 : a->out_dtype == SD_DT_I8 ? RT_QOUT_I8 : RT_QOUT_U8;
    p.has_bias = bf16 && has(n, 2);
    int bufs[6], nb = 0;
    bufs[nb++] = 0, bufs[nb++] = 1;
    if (!bf16 || p.has_bias)
        bufs[nb++] = 2;
    if (!bf16)
        bufs[nb++] = 3;
    bufs[nb++] = cg_out(n, 0);
    if (bf16) {
        bufs[nb++] = CG_BUF_WORKSPACE;
        out->workspace_bytes = (size_t)(p.m_block * p.kp * 2);
    }
    const char *k = bf16 ? "rt_matmul_bf16" : "rt_qmatmul_u8", *kr = bf16 ? "rt_matmul_bf16_range" : "rt_qmatmul_u8_range";
    SD_TRY(cg_lowered_add(out, k, &p, sizeof p, nb, bufs, err));
    int64_t items = (p.m + p.m_block - 1) / p.m_block * p.n_items_n;
    cg_lowered_split(out, kr, items, 2.0 * (double)p.m * (double)p.n * (double)p.k);
    return SD_OK;
}

SdStatus cg_lower_quant(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    switch (n->op) {
    case IR_OP_QUANTIZE_LINEAR:
    case IR_OP_DEQUANTIZE_LINEAR: return lower_qdq(n, out, err);
    case IR_OP_DYNAMIC_QUANTIZE_LINEAR: {
        RtDynQuantParams p = {ir_value_numel(n->inputs[0])};
        int bufs[4] = {0, cg_out(n, 0), cg_out(n, 1), cg_out(n, 2)};
        return cg_lowered_add(out, "rt_dynamic_quantize_linear", &p, sizeof p, 4, bufs, err);
    }
    case IR_OP_QLINEAR_CONV:
    case IR_OP_CONV_INTEGER: return lower_qlinear_conv(n, out, err);
    case IR_OP_QLINEAR_MATMUL:
    case IR_OP_MATMUL_INTEGER: return lower_qlinear_matmul(n, out, err);
    case IR_OP_QADD: return lower_qadd(n, out, err);
    case IR_OP_QGLOBAL_AVG_POOL: case IR_OP_QSCALE_CHANNELS: return lower_qplanes(n, out, err);
    case IR_OP_QCONV:
    case IR_OP_CONV_BF16: return lower_qconv(n, opt, out, err);
    case IR_OP_QMATMUL:
    case IR_OP_MATMUL_BF16: return lower_qmatmul(n, out, err);
    case IR_OP_PACK_WEIGHTS: return lower_pack(n, out, err);
    default: return internal(n, "not a quantization op", err);
    }
}
