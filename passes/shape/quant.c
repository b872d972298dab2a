/* passes/shape/quant.c — quantization ops: element types checked (u8/i8 data, f32 scales, zero
 * points of the data's type), scale and zero-point shapes checked against the granularity (per
 * tensor, per axis, per block), the convolution window completed as for CONV, and the packed
 * weight shapes of the ops passes/quantize.c makes (ops.def states the contract). */
#include "passes/shape/window.h"

static bool is_q8(SdDType t) { return t == SD_DT_U8 || t == SD_DT_I8; }
static bool is_scale(SdDType t) { return t == SD_DT_F32 || t == SD_DT_F16; }
static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

static SdStatus expect_q8(ShapeCtx *c, const IrNode *n, int i)
{
    const IrValue *v = n->inputs[i];
    if (!is_q8(v->dtype))
        return shape_error(c, n, SD_EDTYPE, "input %d ('%s') is %s; u8 or i8 is expected", i, v->name,
                           sd_dtype_name(v->dtype));
    return SD_OK;
}

static SdStatus expect_scale(ShapeCtx *c, const IrNode *n, int i, int64_t allowed)
{
    const IrValue *v = n->inputs[i];
    if (!is_scale(v->dtype))
        return shape_error(c, n, SD_EDTYPE, "scale %d ('%s') is %s; f32 is expected", i, v->name, sd_dtype_name(v->dtype));
    int64_t k = ir_value_numel(v);
    if (k != 1 && (k != allowed || v->shape.rank != 1)) {
        char sb[128];
        if (allowed > 1)
            return shape_error(c, n, SD_ESHAPE, "scale '%s' has shape %s; one value or [%lld] is expected", v->name,
                               ir_shape_str(&v->shape, sb, sizeof sb), (long long)allowed);
        return shape_error(c, n, SD_ESHAPE, "scale '%s' has shape %s; one value is expected", v->name,
                           ir_shape_str(&v->shape, sb, sizeof sb));
    }
    return SD_OK;
}

/* Zero point i (optional) of data input `data`: the data's type and, with one value or `allowed`. */
static SdStatus expect_zp(ShapeCtx *c, const IrNode *n, int i, int data, int64_t allowed)
{
    if (!shape_has_input(n, i))
        return SD_OK;
    const IrValue *v = n->inputs[i];
    if (v->dtype != n->inputs[data]->dtype)
        return shape_error(c, n, SD_EDTYPE, "zero point '%s' is %s but '%s' is %s; they must match", v->name,
                           sd_dtype_name(v->dtype), n->inputs[data]->name, sd_dtype_name(n->inputs[data]->dtype));
    int64_t k = ir_value_numel(v);
    if (k != 1 && (k != allowed || v->shape.rank != 1)) {
        char sb[128];
        return shape_error(c, n, SD_ESHAPE, "zero point '%s' has shape %s; one value%s is expected", v->name,
                           ir_shape_str(&v->shape, sb, sizeof sb), allowed > 1 ? " or one per channel" : "");
    }
    return SD_OK;
}

/* QUANTIZE_LINEAR / DEQUANTIZE_LINEAR: the scale is one value, one per element along axis, or
 * (block_size > 0) x's shape with axis divided into blocks; the zero point is shaped like it. */
static SdStatus shape_qdq(ShapeCtx *c, IrNode *n)
{
    IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *x = n->inputs[0], *s = n->inputs[1];
    bool q = n->op == IR_OP_QUANTIZE_LINEAR;
    if (q && x->dtype != SD_DT_F32)
        return shape_error(c, n, SD_EDTYPE, "input '%s' is %s; f32 is expected", x->name, sd_dtype_name(x->dtype));
    if (!q && !is_q8(x->dtype) && x->dtype != SD_DT_I32)
        return shape_error(c, n, SD_EDTYPE, "input '%s' is %s; u8, i8 or i32 is expected", x->name,
                           sd_dtype_name(x->dtype));
    if (s->dtype != SD_DT_F32)
        return shape_error(c, n, SD_EDTYPE, "scale '%s' is %s; f32 is expected", s->name, sd_dtype_name(s->dtype));
    const IrValue *zp = shape_has_input(n, 2) ? n->inputs[2] : NULL;
    SdDType out = SD_DT_F32;
    if (q) {
        out = zp ? zp->dtype : a->out_dtype != SD_DT_UNDEFINED ? a->out_dtype : SD_DT_U8;
        if (!is_q8(out))
            return shape_error(c, n, SD_EDTYPE, "the output would be %s; u8 and i8 are supported", sd_dtype_name(out));
        if (zp && a->out_dtype != SD_DT_UNDEFINED && a->out_dtype != zp->dtype)
            return shape_error(c, n, SD_EDTYPE, "output_dtype is %s but the zero point is %s",
                               sd_dtype_name(a->out_dtype), sd_dtype_name(zp->dtype));
    } else if (zp && zp->dtype != x->dtype) {
        return shape_error(c, n, SD_EDTYPE, "zero point '%s' is %s but '%s' is %s; they must match", zp->name,
                           sd_dtype_name(zp->dtype), x->name, sd_dtype_name(x->dtype));
    }
    char sb[128], sx[128];
    if (zp && !ir_shape_equal(&zp->shape, &s->shape) && !(ir_value_numel(zp) == 1 && ir_value_numel(s) == 1))
        return shape_error(c, n, SD_ESHAPE, "zero point '%s' has shape %s, scale '%s' %s; they must match", zp->name,
                           ir_shape_str(&zp->shape, sb, sizeof sb), s->name, ir_shape_str(&s->shape, sx, sizeof sx));
    int r = x->shape.rank;
    if (ir_value_numel(s) == 1 && s->shape.rank <= 1) {
        a->block_size = 0; /* one scale: per tensor, whatever axis says */
        a->axis = 0;
    } else {
        SD_TRY(shape_axis(c, n, a->axis, r, &a->axis));
        int64_t d = x->shape.dims[a->axis];
        if (a->block_size == 0) {
            if (s->shape.rank != 1 || s->shape.dims[0] != d)
                return shape_error(c, n, SD_ESHAPE, "scale '%s' has shape %s; one value or [%lld] (axis %lld of %s) is expected",
                                   s->name, ir_shape_str(&s->shape, sb, sizeof sb), (long long)d, (long long)a->axis,
                                   ir_shape_str(&x->shape, sx, sizeof sx));
        } else {
            bool ok = s->shape.rank == r;
            for (int i = 0; ok && i < r; i++)
                ok = s->shape.dims[i] == (i == a->axis ? (d + a->block_size - 1) / a->block_size : x->shape.dims[i]);
            if (!ok)
                return shape_error(c, n, SD_ESHAPE,
                                   "scale '%s' has shape %s; blocks of %lld along axis %lld of %s need the input's shape with that axis %lld",
                                   s->name, ir_shape_str(&s->shape, sb, sizeof sb), (long long)a->block_size,
                                   (long long)a->axis, ir_shape_str(&x->shape, sx, sizeof sx),
                                   (long long)((d + a->block_size - 1) / a->block_size));
        }
    }
    shape_set(n, 0, out, &x->shape);
    return SD_OK;
}

static SdStatus shape_dynamic_quantize(ShapeCtx *c, IrNode *n)
{
    SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    IrShape scalar = {0};
    shape_set(n, 0, SD_DT_U8, &n->inputs[0]->shape);
    shape_set(n, 1, SD_DT_F32, &scalar);
    shape_set(n, 2, SD_DT_U8, &scalar);
    return SD_OK;
}

/* The window of a conv over x [N, C, in...] with weights [c_out, C/groups, kernel...] (kernel taken
 * from the weights when kw is given): completes a and sets output 0 to [N, c_out, out...] of dtype. */
static SdStatus conv_output(ShapeCtx *c, IrNode *n, IrConvAttrs *a, const IrValue *x, const IrShape *kw, int64_t c_out,
                            SdDType dtype)
{
    char sx[128], sw[128];
    if (x->shape.rank < 3 || x->shape.rank > 2 + IR_MAX_SPATIAL)
        return shape_error(c, n, SD_ESHAPE, "input '%s' has shape %s; rank 3 to %d is expected", x->name,
                           ir_shape_str(&x->shape, sx, sizeof sx), 2 + IR_MAX_SPATIAL);
    int ns = x->shape.rank - 2;
    if (a->nspatial && a->nspatial != ns)
        return shape_error(c, n, SD_ESHAPE, "the attributes describe %d spatial dimensions, but input '%s' has shape %s",
                           a->nspatial, x->name, ir_shape_str(&x->shape, sx, sizeof sx));
    a->nspatial = ns;
    int64_t ch = x->shape.dims[1], g = a->groups;
    if (g < 1 || ch % g != 0 || c_out % g != 0)
        return shape_error(c, n, SD_ESHAPE, "%lld input and %lld output channels are not divisible by group = %lld",
                           (long long)ch, (long long)c_out, (long long)g);
    if (kw) {
        if (kw->rank != x->shape.rank || kw->dims[0] != c_out || kw->dims[1] != ch / g)
            return shape_error(c, n, SD_ESHAPE, "weights of shape %s do not fit input '%s' %s with group = %lld",
                               ir_shape_str(kw, sw, sizeof sw), x->name, ir_shape_str(&x->shape, sx, sizeof sx),
                               (long long)g);
        for (int i = 0; i < ns; i++) {
            if (a->kernel[i] && a->kernel[i] != kw->dims[2 + i])
                return shape_error(c, n, SD_ESHAPE, "kernel_shape says %lld along spatial axis %d, but the weights are %s",
                                   (long long)a->kernel[i], i, ir_shape_str(kw, sw, sizeof sw));
            a->kernel[i] = kw->dims[2 + i];
        }
    }
    int64_t out[IR_MAX_SPATIAL];
    ShapeWindow win = {ns, x->shape.dims + 2, a->kernel, a->strides, a->dilations, a->pads, &a->auto_pad, NULL};
    SD_TRY(shape_window(c, n, &win, out));
    IrShape s = {.rank = x->shape.rank, .dims = {x->shape.dims[0], c_out}};
    for (int i = 0; i < ns; i++)
        s.dims[2 + i] = out[i];
    shape_set(n, 0, dtype, &s);
    return SD_OK;
}

static SdStatus check_bias(ShapeCtx *c, const IrNode *n, int i, SdDType dt, int64_t count)
{
    if (!shape_has_input(n, i))
        return SD_OK;
    const IrValue *b = n->inputs[i];
    if (b->dtype != dt || ir_value_numel(b) != count || b->shape.rank != 1) {
        char sb[128];
        return shape_error(c, n, SD_ESHAPE, "bias '%s' is %s%s; %s[%lld] is expected", b->name, sd_dtype_name(b->dtype),
                           ir_shape_str(&b->shape, sb, sizeof sb), sd_dtype_name(dt), (long long)count);
    }
    return SD_OK;
}

/* QLINEAR_CONV x, xs, xzp, w, ws, wzp, ys, yzp, [bias]; CONV_INTEGER x, w, [xzp], [wzp]. */
static SdStatus shape_qconv_onnx(ShapeCtx *c, IrNode *n)
{
    bool ql = n->op == IR_OP_QLINEAR_CONV;
    int iw = ql ? 3 : 1;
    const IrValue *x = n->inputs[0], *w = n->inputs[iw];
    SD_TRY(expect_q8(c, n, 0));
    SD_TRY(expect_q8(c, n, iw));
    int64_t c_out = w->shape.rank >= 1 ? w->shape.dims[0] : 0;
    if (ql) {
        SD_TRY(expect_scale(c, n, 1, 1));
        SD_TRY(expect_zp(c, n, 2, 0, 1));
        SD_TRY(expect_scale(c, n, 4, c_out));
        SD_TRY(expect_zp(c, n, 5, 3, c_out));
        SD_TRY(expect_scale(c, n, 6, 1));
        if (!is_q8(n->inputs[7]->dtype) || ir_value_numel(n->inputs[7]) != 1)
            return shape_error(c, n, SD_EDTYPE, "the output zero point '%s' must be one u8 or i8 value", n->inputs[7]->name);
        SD_TRY(check_bias(c, n, 8, SD_DT_I32, c_out));
    } else {
        SD_TRY(expect_zp(c, n, 2, 0, 1));
        SD_TRY(expect_zp(c, n, 3, 1, c_out));
    }
    return conv_output(c, n, &n->attrs.quant.conv, x, &w->shape, c_out, ql ? n->inputs[7]->dtype : SD_DT_I32);
}

/* Matrix product shapes with NumPy broadcasting of the batch dims (a and b of rank >= 2). */
static SdStatus matmul_output(ShapeCtx *c, IrNode *n, const IrValue *a, const IrValue *b, SdDType dtype)
{
    char sa[128], sb[128];
    if (a->shape.rank < 2 || b->shape.rank < 2 || a->shape.dims[a->shape.rank - 1] != b->shape.dims[b->shape.rank - 2])
        return shape_error(c, n, SD_ESHAPE, "'%s' %s and '%s' %s do not multiply as matrices (rank 2 or more, [.., M, K] x [.., K, N])",
                           a->name, ir_shape_str(&a->shape, sa, sizeof sa), b->name, ir_shape_str(&b->shape, sb, sizeof sb));
    IrShape ba = ir_shape_make(a->shape.rank - 2, a->shape.dims), bb = ir_shape_make(b->shape.rank - 2, b->shape.dims), s;
    SD_TRY(shape_broadcast(c, n, &ba, &bb, &s));
    s.dims[s.rank++] = a->shape.dims[a->shape.rank - 2];
    s.dims[s.rank++] = b->shape.dims[b->shape.rank - 1];
    shape_set(n, 0, dtype, &s);
    return SD_OK;
}

/* QLINEAR_MATMUL a, as, azp, b, bs, bzp, ys, yzp; MATMUL_INTEGER a, b, [azp], [bzp]. Per row of a
 * and per column of b only for 2-D operands. */
static SdStatus shape_qmatmul_onnx(ShapeCtx *c, IrNode *n)
{
    bool ql = n->op == IR_OP_QLINEAR_MATMUL;
    int ib = ql ? 3 : 1;
    const IrValue *a = n->inputs[0], *b = n->inputs[ib];
    SD_TRY(expect_q8(c, n, 0));
    SD_TRY(expect_q8(c, n, ib));
    int64_t rows = a->shape.rank == 2 ? a->shape.dims[0] : 1, cols = b->shape.rank == 2 ? b->shape.dims[1] : 1;
    if (ql) {
        SD_TRY(expect_scale(c, n, 1, rows));
        SD_TRY(expect_zp(c, n, 2, 0, rows));
        SD_TRY(expect_scale(c, n, 4, cols));
        SD_TRY(expect_zp(c, n, 5, 3, cols));
        SD_TRY(expect_scale(c, n, 6, 1));
        if (!is_q8(n->inputs[7]->dtype) || ir_value_numel(n->inputs[7]) != 1)
            return shape_error(c, n, SD_EDTYPE, "the output zero point '%s' must be one u8 or i8 value", n->inputs[7]->name);
        if (ir_value_numel(n->inputs[1]) != ir_value_numel(n->inputs[2]) ||
            ir_value_numel(n->inputs[4]) != ir_value_numel(n->inputs[5]))
            return shape_error(c, n, SD_ESHAPE, "each scale and its zero point must have the same number of values");
    } else {
        SD_TRY(expect_zp(c, n, 2, 0, rows));
        SD_TRY(expect_zp(c, n, 3, 1, cols));
    }
    return matmul_output(c, n, a, b, ql ? n->inputs[7]->dtype : SD_DT_I32);
}

static SdStatus expect_per_channel(ShapeCtx *c, const IrNode *n, int i, SdDType dt, int64_t count)
{
    const IrValue *v = n->inputs[i];
    if (v->dtype != dt || v->shape.rank != 1 || v->shape.dims[0] != count) {
        char sb[128];
        return shape_error(c, n, SD_ESHAPE, "input %d ('%s') is %s%s; %s[%lld] is expected", i, v->name,
                           sd_dtype_name(v->dtype), ir_shape_str(&v->shape, sb, sizeof sb), sd_dtype_name(dt),
                           (long long)count);
    }
    return SD_OK;
}

static SdStatus expect_packed(ShapeCtx *c, const IrNode *n, int i, SdDType dt, int64_t rows, int64_t cols)
{
    const IrValue *w = n->inputs[i];
    if (w->dtype != dt || w->shape.rank != 2 || w->shape.dims[0] != rows || w->shape.dims[1] != cols) {
        char sb[128];
        return shape_error(c, n, SD_ESHAPE, "packed weights '%s' are %s%s; %s[%lld,%lld] is expected", w->name,
                           sd_dtype_name(w->dtype), ir_shape_str(&w->shape, sb, sizeof sb), sd_dtype_name(dt),
                           (long long)rows, (long long)cols);
    }
    return SD_OK;
}

/* Input i, a residual added to the output: of dtype and of the output's shape. */
static SdStatus expect_residual(ShapeCtx *c, IrNode *n, int i, SdDType dtype)
{
    SD_TRY(shape_expect_dtype(c, n, i, dtype));
    const IrValue *r = n->inputs[i];
    if (!ir_shape_equal(&r->shape, &n->outputs[0]->shape)) {
        char sr[128], sy[128];
        return shape_error(c, n, SD_ESHAPE, "residual '%s' has shape %s; the output's %s is expected", r->name,
                           ir_shape_str(&r->shape, sr, sizeof sr), ir_shape_str(&n->outputs[0]->shape, sy, sizeof sy));
    }
    return SD_OK;
}

/* QCONV x, w (packed, or [C, 1, k...] for one input channel per group), bias, multiplier, [residual];
 * CONV_BF16 x, w, [bias], [residual]. */
static SdStatus shape_qconv(ShapeCtx *c, IrNode *n)
{
    IrQuantAttrs *a = &n->attrs.quant;
    bool q = n->op == IR_OP_QCONV;
    const IrValue *x = n->inputs[0], *w = n->inputs[1];
    if (q)
        SD_TRY(expect_q8(c, n, 0));
    else
        SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    int64_t c_out = a->channels, g = a->conv.groups;
    if (x->shape.rank < 3 || g < 1 || c_out < 1 || x->shape.dims[1] % g != 0 || c_out % g != 0)
        return shape_error(c, n, SD_ESHAPE, "input '%s', %lld output channels and group = %lld do not fit", x->name,
                           (long long)c_out, (long long)g);
    int64_t kvol = 1, cin_g = x->shape.dims[1] / g;
    for (int i = 0; i < x->shape.rank - 2; i++)
        kvol *= a->conv.kernel[i];
    bool raw = q && w->shape.rank == x->shape.rank;
    if (raw) {
        if (cin_g != 1 || w->dtype != SD_DT_I8)
            return shape_error(c, n, SD_ESHAPE, "unpacked weights '%s' need one input channel per group and i8", w->name);
        SD_TRY(conv_output(c, n, &a->conv, x, &w->shape, c_out, q ? a->out_dtype : SD_DT_F32));
    } else {
        SD_TRY(expect_packed(c, n, 1, q ? SD_DT_I8 : SD_DT_BF16, g * round_up(c_out / g, 16), round_up(cin_g * kvol, q ? 4 : 2)));
        SD_TRY(conv_output(c, n, &a->conv, x, NULL, c_out, q ? a->out_dtype : SD_DT_F32));
    }
    if (q) {
        SD_TRY(expect_per_channel(c, n, 2, SD_DT_I32, c_out));
        SD_TRY(expect_per_channel(c, n, 3, SD_DT_F32, c_out));
        if (a->out_dtype != SD_DT_U8 && a->out_dtype != SD_DT_I8 && a->out_dtype != SD_DT_F32)
            return shape_error(c, n, SD_EDTYPE, "output type %s; u8, i8 or f32 is expected", sd_dtype_name(a->out_dtype));
        if (shape_has_input(n, 4) && (raw || a->out_dtype == SD_DT_F32))
            return shape_error(c, n, SD_EUNSUPPORTED, "a residual needs packed weights and an integer output");
        return shape_has_input(n, 4) ? expect_residual(c, n, 4, SD_DT_U8) : SD_OK;
    }
    if (shape_has_input(n, 2))
        SD_TRY(expect_per_channel(c, n, 2, SD_DT_F32, c_out));
    return shape_has_input(n, 3) ? expect_residual(c, n, 3, SD_DT_F32) : SD_OK;
}

/* QMATMUL a [.., M, K], packed b, bias, multiplier; MATMUL_BF16 a, packed b, [bias]. */
static SdStatus shape_qmatmul(ShapeCtx *c, IrNode *n)
{
    IrQuantAttrs *a = &n->attrs.quant;
    bool q = n->op == IR_OP_QMATMUL;
    const IrValue *x = n->inputs[0];
    if (q)
        SD_TRY(expect_q8(c, n, 0));
    else
        SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    int64_t K = a->depth, N = a->channels;
    if (x->shape.rank < 1 || x->shape.dims[x->shape.rank - 1] != K || N < 1) {
        char sx[128];
        return shape_error(c, n, SD_ESHAPE, "input '%s' has shape %s; [.., %lld] is expected", x->name,
                           ir_shape_str(&x->shape, sx, sizeof sx), (long long)K);
    }
    SD_TRY(expect_packed(c, n, 1, q ? SD_DT_I8 : SD_DT_BF16, round_up(K, q ? 4 : 2), round_up(N, 16)));
    if (q) {
        SD_TRY(expect_per_channel(c, n, 2, SD_DT_I32, N));
        SD_TRY(expect_per_channel(c, n, 3, SD_DT_F32, N));
    } else if (shape_has_input(n, 2)) {
        SD_TRY(expect_per_channel(c, n, 2, SD_DT_F32, N));
    }
    IrShape s = x->shape;
    s.dims[s.rank - 1] = N;
    shape_set(n, 0, q ? a->out_dtype : SD_DT_F32, &s);
    return SD_OK;
}

static SdStatus shape_pack(ShapeCtx *c, IrNode *n)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    const IrValue *w = n->inputs[0];
    bool i8 = a->out_dtype == SD_DT_I8;
    if (!i8 && a->out_dtype != SD_DT_BF16)
        return shape_error(c, n, SD_EINTERNAL, "packing to %s", sd_dtype_name(a->out_dtype));
    if (w->dtype != (i8 ? SD_DT_I8 : SD_DT_F32))
        return shape_error(c, n, SD_EDTYPE, "weights '%s' are %s", w->name, sd_dtype_name(w->dtype));
    int64_t m = i8 ? 4 : 2;
    IrShape s = {.rank = 2};
    if (a->depth) {
        if (w->shape.rank != 2 || w->shape.dims[0] != a->depth)
            return shape_error(c, n, SD_ESHAPE, "matmul weights '%s' must be [%lld, N]", w->name, (long long)a->depth);
        s.dims[0] = round_up(w->shape.dims[0], m), s.dims[1] = round_up(w->shape.dims[1], 16);
    } else {
        int64_t g = a->conv.groups, k = 1;
        if (w->shape.rank < 3 || g < 1 || w->shape.dims[0] % g != 0)
            return shape_error(c, n, SD_ESHAPE, "conv weights '%s' do not split into %lld groups", w->name, (long long)g);
        for (int i = 1; i < w->shape.rank; i++)
            k *= w->shape.dims[i];
        s.dims[0] = g * round_up(w->shape.dims[0] / g, 16), s.dims[1] = round_up(k, m);
    }
    shape_set(n, 0, a->out_dtype, &s);
    return SD_OK;
}

static SdStatus shape_qadd(ShapeCtx *c, IrNode *n)
{
    SD_TRY(expect_q8(c, n, 0));
    SD_TRY(shape_same_dtype(c, n, 0, 1));
    IrShape s;
    SD_TRY(shape_broadcast(c, n, &n->inputs[0]->shape, &n->inputs[1]->shape, &s));
    shape_set(n, 0, n->inputs[0]->dtype, &s);
    return SD_OK;
}

static SdStatus shape_qgap(ShapeCtx *c, IrNode *n)
{
    SD_TRY(expect_q8(c, n, 0));
    SD_TRY(shape_expect_rank(c, n, 0, 3, 2 + IR_MAX_SPATIAL));
    IrShape s = n->inputs[0]->shape;
    for (int i = 2; i < s.rank; i++)
        s.dims[i] = 1;
    shape_set(n, 0, n->inputs[0]->dtype, &s);
    return SD_OK;
}

static SdStatus shape_qscale_channels(ShapeCtx *c, IrNode *n)
{
    SD_TRY(expect_q8(c, n, 0));
    SD_TRY(shape_expect_rank(c, n, 0, 3, 2 + IR_MAX_SPATIAL));
    const IrShape *x = &n->inputs[0]->shape, *s = &n->inputs[1]->shape;
    bool ok = n->inputs[1]->dtype == SD_DT_F32 && s->rank == x->rank && s->dims[0] == x->dims[0] &&
              s->dims[1] == x->dims[1];
    for (int i = 2; i < s->rank && ok; i++)
        ok = s->dims[i] == 1;
    if (!ok)
        return shape_error(c, n, SD_ESHAPE, "the scales '%s' must be f32 [N, C, 1...] for x '%s'", n->inputs[1]->name,
                           n->inputs[0]->name);
    shape_set(n, 0, n->inputs[0]->dtype, x);
    return SD_OK;
}

SdStatus shape_quant(ShapeCtx *c, IrNode *n)
{
    switch (n->op) {
    case IR_OP_QUANTIZE_LINEAR:
    case IR_OP_DEQUANTIZE_LINEAR: return shape_qdq(c, n);
    case IR_OP_DYNAMIC_QUANTIZE_LINEAR: return shape_dynamic_quantize(c, n);
    case IR_OP_QLINEAR_CONV:
    case IR_OP_CONV_INTEGER: return shape_qconv_onnx(c, n);
    case IR_OP_QLINEAR_MATMUL:
    case IR_OP_MATMUL_INTEGER: return shape_qmatmul_onnx(c, n);
    case IR_OP_QCONV:
    case IR_OP_CONV_BF16: return shape_qconv(c, n);
    case IR_OP_QMATMUL:
    case IR_OP_MATMUL_BF16: return shape_qmatmul(c, n);
    case IR_OP_PACK_WEIGHTS: return shape_pack(c, n);
    case IR_OP_QADD: return shape_qadd(c, n);
    case IR_OP_QGLOBAL_AVG_POOL: return shape_qgap(c, n);
    case IR_OP_QSCALE_CHANNELS: return shape_qscale_channels(c, n);
    default: return shape_error(c, n, SD_EINTERNAL, "not a quantization op");
    }
}
