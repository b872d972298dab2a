/* passes/shape/conv.c — Conv and ConvTranspose: operands checked against each other (channels,
 * groups, kernel against the weights, bias), attributes completed (kernel from the weights,
 * default strides and dilations, auto_pad and ConvTranspose's output_shape resolved into explicit
 * pads), output sizes computed. Also the window arithmetic the pools share (window.h), and the
 * conv gradients (CONV_GRAD_INPUT, CONV_GRAD_WEIGHT), whose forward window is checked again. */
#include "passes/shape/window.h"

/* Strides, dilations, kernel and explicit pads of one spatial dim, checked. */
static SdStatus check_dim(ShapeCtx *c, const IrNode *n, ShapeWindow *w, int i)
{
    int ns = w->nspatial;
    if (w->strides[i] == 0)
        w->strides[i] = 1;
    if (w->dilations[i] == 0)
        w->dilations[i] = 1;
    if (w->kernel[i] < 1)
        return shape_error(c, n, SD_EBADMODEL, "kernel size %lld along spatial axis %d; at least 1 is expected",
                           (long long)w->kernel[i], i);
    if (w->strides[i] < 1 || w->dilations[i] < 1)
        return shape_error(c, n, SD_EBADMODEL, "stride %lld and dilation %lld along spatial axis %d; at least 1 is expected",
                           (long long)w->strides[i], (long long)w->dilations[i], i);
    if (w->pads[i] < 0 || w->pads[ns + i] < 0)
        return shape_error(c, n, SD_EBADMODEL, "pads %lld and %lld along spatial axis %d; pads must not be negative",
                           (long long)w->pads[i], (long long)w->pads[ns + i], i);
    if (w->in[i] < 1)
        return shape_error(c, n, SD_ESHAPE, "the input has size %lld along spatial axis %d", (long long)w->in[i], i);
    return SD_OK;
}

SdStatus shape_window(ShapeCtx *c, const IrNode *n, ShapeWindow *w, int64_t *out)
{
    int ns = w->nspatial;
    for (int i = 0; i < ns; i++) {
        SD_TRY(check_dim(c, n, w, i));
        int64_t in = w->in[i], s = w->strides[i], d = w->dilations[i];
        int64_t extent = (w->kernel[i] - 1) * d + 1;
        int64_t *pb = &w->pads[i], *pe = &w->pads[ns + i];
        switch (*w->auto_pad) {
        case IR_PAD_SAME_UPPER:
        case IR_PAD_SAME_LOWER: {
            out[i] = (in + s - 1) / s;
            int64_t total = (out[i] - 1) * s + extent - in;
            if (total < 0)
                total = 0;
            *pb = *w->auto_pad == IR_PAD_SAME_UPPER ? total / 2 : total - total / 2;
            *pe = total - *pb;
            continue;
        }
        case IR_PAD_VALID: *pb = *pe = 0; break;
        case IR_PAD_NOTSET: break;
        }
        int64_t padded = in + *pb + *pe;
        if (padded < extent)
            return shape_error(c, n, SD_ESHAPE,
                               "the kernel spans %lld elements (size %lld, dilation %lld) along spatial axis %d, more than the padded input's %lld (%lld + pads %lld and %lld)",
                               (long long)extent, (long long)w->kernel[i], (long long)d, i, (long long)padded,
                               (long long)in, (long long)*pb, (long long)*pe);
        out[i] = (padded - extent) / s + 1;
        if (w->ceil_mode && *w->ceil_mode && *w->auto_pad == IR_PAD_NOTSET) {
            out[i] = (padded - extent + s - 1) / s + 1;
            if ((out[i] - 1) * s >= in + *pb) /* the last window must start inside the input or its leading pad */
                out[i]--;
        }
    }
    if (w->ceil_mode && *w->auto_pad == IR_PAD_VALID)
        *w->ceil_mode = false;
    *w->auto_pad = IR_PAD_NOTSET;
    return SD_OK;
}

static SdStatus check_operands(ShapeCtx *c, IrNode *n, int *nspatial)
{
    const IrValue *x = n->inputs[0], *w = n->inputs[1];
    SD_TRY(shape_expect_rank(c, n, 0, 3, 2 + IR_MAX_SPATIAL));
    if (x->dtype != SD_DT_F32 && x->dtype != SD_DT_F16 && x->dtype != SD_DT_BF16)
        return shape_error(c, n, SD_EDTYPE, "input 0 ('%s') is %s; a float tensor is expected", x->name,
                           sd_dtype_name(x->dtype));
    SD_TRY(shape_same_dtype(c, n, 0, 1));
    char sx[128], sw[128];
    if (w->shape.rank != x->shape.rank)
        return shape_error(c, n, SD_ESHAPE, "weights '%s' have shape %s; for input '%s' of shape %s, rank %d is expected",
                           w->name, ir_shape_str(&w->shape, sw, sizeof sw), x->name,
                           ir_shape_str(&x->shape, sx, sizeof sx), x->shape.rank);
    int ns = x->shape.rank - 2;
    if (*nspatial && *nspatial != ns)
        return shape_error(c, n, SD_ESHAPE, "the attributes describe %d spatial dimensions, but input '%s' has shape %s",
                           *nspatial, x->name, ir_shape_str(&x->shape, sx, sizeof sx));
    *nspatial = ns;
    return SD_OK;
}

static SdStatus check_bias(ShapeCtx *c, IrNode *n, int64_t c_out)
{
    if (!shape_has_input(n, 2))
        return SD_OK;
    const IrValue *b = n->inputs[2];
    SD_TRY(shape_same_dtype(c, n, 0, 2));
    if (b->shape.rank != 1 || b->shape.dims[0] != c_out) {
        char sb[128];
        return shape_error(c, n, SD_ESHAPE, "bias '%s' has shape %s; [%lld] (one per output channel) is expected",
                           b->name, ir_shape_str(&b->shape, sb, sizeof sb), (long long)c_out);
    }
    return SD_OK;
}

/* The kernel attribute, when given, must match the weights' spatial dims; then it is taken from them. */
static SdStatus kernel_from_weights(ShapeCtx *c, IrNode *n, int64_t *kernel, int ns)
{
    const IrValue *w = n->inputs[1];
    for (int i = 0; i < ns; i++) {
        int64_t k = w->shape.dims[2 + i];
        if (kernel[i] && kernel[i] != k) {
            char sw[128];
            return shape_error(c, n, SD_ESHAPE, "kernel_shape says %lld along spatial axis %d, but weights '%s' have shape %s",
                               (long long)kernel[i], i, w->name, ir_shape_str(&w->shape, sw, sizeof sw));
        }
        kernel[i] = k;
    }
    return SD_OK;
}

static SdStatus shape_conv_forward(ShapeCtx *c, IrNode *n)
{
    IrConvAttrs *a = &n->attrs.conv;
    const IrValue *x = n->inputs[0], *w = n->inputs[1];
    SD_TRY(check_operands(c, n, &a->nspatial));
    int ns = a->nspatial;
    int64_t ch = x->shape.dims[1], g = a->groups, c_out = w->shape.dims[0];
    if (g < 1 || ch % g != 0)
        return shape_error(c, n, SD_ESHAPE, "input '%s' has %lld channels, which group = %lld does not divide", x->name,
                           (long long)ch, (long long)g);
    if (w->shape.dims[1] != ch / g) {
        char sw[128];
        return shape_error(c, n, SD_ESHAPE,
                           "weights '%s' have shape %s, so %lld input channels per group; input '%s' has %lld channels in %lld group%s, so %lld are expected",
                           w->name, ir_shape_str(&w->shape, sw, sizeof sw), (long long)w->shape.dims[1], x->name,
                           (long long)ch, (long long)g, g == 1 ? "" : "s", (long long)(ch / g));
    }
    if (c_out % g != 0)
        return shape_error(c, n, SD_ESHAPE, "weights '%s' have %lld output channels, which group = %lld does not divide",
                           w->name, (long long)c_out, (long long)g);
    SD_TRY(check_bias(c, n, c_out));
    SD_TRY(kernel_from_weights(c, n, a->kernel, ns));
    int64_t out[IR_MAX_SPATIAL];
    ShapeWindow win = {ns, x->shape.dims + 2, a->kernel, a->strides, a->dilations, a->pads, &a->auto_pad, NULL};
    SD_TRY(shape_window(c, n, &win, out));
    IrShape s = {.rank = x->shape.rank, .dims = {x->shape.dims[0], c_out}};
    for (int i = 0; i < ns; i++)
        s.dims[2 + i] = out[i];
    if (shape_has_input(n, 3)) { /* a residual folded in by actfold: the output's shape */
        SD_TRY(shape_same_dtype(c, n, 0, 3));
        if (!ir_shape_equal(&n->inputs[3]->shape, &s)) {
            char sr[128], so[128];
            return shape_error(c, n, SD_ESHAPE, "residual '%s' has shape %s; the output's %s is expected",
                               n->inputs[3]->name, ir_shape_str(&n->inputs[3]->shape, sr, sizeof sr),
                               ir_shape_str(&s, so, sizeof so));
        }
    }
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_conv_transpose(ShapeCtx *c, IrNode *n)
{
    IrConvAttrs *a = &n->attrs.conv;
    const IrValue *x = n->inputs[0], *w = n->inputs[1];
    SD_TRY(check_operands(c, n, &a->nspatial));
    int ns = a->nspatial;
    int64_t ch = x->shape.dims[1], g = a->groups;
    if (w->shape.dims[0] != ch) {
        char sw[128];
        return shape_error(c, n, SD_ESHAPE, "weights '%s' have shape %s, so %lld input channels; input '%s' has %lld",
                           w->name, ir_shape_str(&w->shape, sw, sizeof sw), (long long)w->shape.dims[0], x->name,
                           (long long)ch);
    }
    if (g < 1 || ch % g != 0)
        return shape_error(c, n, SD_ESHAPE, "input '%s' has %lld channels, which group = %lld does not divide", x->name,
                           (long long)ch, (long long)g);
    int64_t c_out = w->shape.dims[1] * g;
    SD_TRY(check_bias(c, n, c_out));
    SD_TRY(kernel_from_weights(c, n, a->kernel, ns));
    IrShape s = {.rank = x->shape.rank, .dims = {x->shape.dims[0], c_out}};
    for (int i = 0; i < ns; i++) {
        if (a->strides[i] == 0)
            a->strides[i] = 1;
        if (a->dilations[i] == 0)
            a->dilations[i] = 1;
        int64_t in = x->shape.dims[2 + i], st = a->strides[i], d = a->dilations[i], op = a->output_padding[i];
        if (st < 1 || d < 1 || op < 0)
            return shape_error(c, n, SD_EBADMODEL,
                               "stride %lld, dilation %lld and output_padding %lld along spatial axis %d; strides and dilations must be at least 1, output_padding not negative",
                               (long long)st, (long long)d, (long long)op, i);
        int64_t full = st * (in - 1) + op + (a->kernel[i] - 1) * d + 1; /* the output before padding is cut */
        int64_t *pb = &a->pads[i], *pe = &a->pads[ns + i];
        if (a->has_output_shape || a->auto_pad == IR_PAD_SAME_UPPER || a->auto_pad == IR_PAD_SAME_LOWER) {
            int64_t want = a->has_output_shape ? a->output_shape[i] : in * st;
            if (want < 1)
                return shape_error(c, n, SD_EBADMODEL, "output_shape is %lld along spatial axis %d", (long long)want, i);
            int64_t total = full - want, half = total >= 0 ? total / 2 : -((1 - total) / 2); /* floor */
            /* odd padding: the extra element goes at the end for SAME_UPPER, at the beginning otherwise;
             * a negative total (output_shape beyond the natural size) grows the end */
            *pb = a->auto_pad == IR_PAD_SAME_UPPER ? half : total - half;
            *pe = total - *pb;
        } else if (a->auto_pad == IR_PAD_VALID) {
            *pb = *pe = 0;
        } else if (*pb < 0 || *pe < 0) {
            return shape_error(c, n, SD_EBADMODEL, "pads %lld and %lld along spatial axis %d; pads must not be negative",
                               (long long)*pb, (long long)*pe, i);
        }
        s.dims[2 + i] = full - *pb - *pe;
        if (s.dims[2 + i] < 1)
            return shape_error(c, n, SD_ESHAPE, "the output would have size %lld along spatial axis %d (pads %lld and %lld)",
                               (long long)s.dims[2 + i], i, (long long)*pb, (long long)*pe);
    }
    /* resolved: the pads now say everything (running this again must not re-split them) */
    a->auto_pad = IR_PAD_NOTSET;
    a->has_output_shape = false;
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

/* --- gradients: the forward conv's attributes, checked again against the operands --- */

/* The forward conv's window over the input sizes in[] must give dy's spatial sizes. */
static SdStatus check_grad_window(ShapeCtx *c, IrNode *n, const int64_t *in, const IrValue *dy)
{
    IrConvAttrs *a = &n->attrs.conv;
    int64_t out[IR_MAX_SPATIAL];
    ShapeWindow win = {a->nspatial, in, a->kernel, a->strides, a->dilations, a->pads, &a->auto_pad, NULL};
    SD_TRY(shape_window(c, n, &win, out));
    for (int i = 0; i < a->nspatial; i++)
        if (out[i] != dy->shape.dims[2 + i]) {
            char sd[128];
            return shape_error(c, n, SD_ESHAPE,
                               "the forward conv's output has size %lld along spatial axis %d, but the gradient '%s' has shape %s",
                               (long long)out[i], i, dy->name, ir_shape_str(&dy->shape, sd, sizeof sd));
        }
    return SD_OK;
}

/* grad_shape as an IrShape (nspatial + 2 dims), checked to be positive. */
static SdStatus grad_shape(ShapeCtx *c, IrNode *n, IrShape *s)
{
    const IrConvAttrs *a = &n->attrs.conv;
    *s = ir_shape_make(a->nspatial + 2, a->grad_shape);
    for (int i = 0; i < s->rank; i++)
        if (s->dims[i] < 1) {
            char ss[128];
            return shape_error(c, n, SD_EINTERNAL, "the gradient's shape %s is not set", ir_shape_str(s, ss, sizeof ss));
        }
    return SD_OK;
}

/* dy [N, C_out, out...], w [C_out, C_in/group, k...] -> dx shaped grad_shape [N, C_in, in...]. */
static SdStatus shape_conv_grad_input(ShapeCtx *c, IrNode *n)
{
    IrConvAttrs *a = &n->attrs.conv;
    const IrValue *dy = n->inputs[0], *w = n->inputs[1];
    SD_TRY(check_operands(c, n, &a->nspatial));
    IrShape dx;
    SD_TRY(grad_shape(c, n, &dx));
    int64_t g = a->groups, c_out = w->shape.dims[0];
    char sd[128], sw[128], sx[128];
    if (g < 1 || c_out % g != 0 || dy->shape.dims[1] != c_out || dx.dims[1] != w->shape.dims[1] * g ||
        dx.dims[0] != dy->shape.dims[0])
        return shape_error(c, n, SD_ESHAPE,
                           "gradient '%s' %s, weights '%s' %s and group = %lld do not fit the input gradient's shape %s",
                           dy->name, ir_shape_str(&dy->shape, sd, sizeof sd), w->name,
                           ir_shape_str(&w->shape, sw, sizeof sw), (long long)g, ir_shape_str(&dx, sx, sizeof sx));
    SD_TRY(kernel_from_weights(c, n, a->kernel, a->nspatial));
    SD_TRY(check_grad_window(c, n, dx.dims + 2, dy));
    shape_set(n, 0, dy->dtype, &dx);
    return SD_OK;
}

/* x [N, C_in, in...], dy [N, C_out, out...] -> dw shaped grad_shape [C_out, C_in/group, k...]. */
static SdStatus shape_conv_grad_weight(ShapeCtx *c, IrNode *n)
{
    IrConvAttrs *a = &n->attrs.conv;
    const IrValue *x = n->inputs[0], *dy = n->inputs[1];
    SD_TRY(check_operands(c, n, &a->nspatial));
    IrShape dw;
    SD_TRY(grad_shape(c, n, &dw));
    int64_t g = a->groups;
    char sd[128], sx[128], sw[128];
    if (g < 1 || dy->shape.dims[0] != x->shape.dims[0] || dw.dims[0] != dy->shape.dims[1] || dw.dims[0] % g != 0 ||
        dw.dims[1] * g != x->shape.dims[1])
        return shape_error(c, n, SD_ESHAPE,
                           "input '%s' %s, gradient '%s' %s and group = %lld do not fit the weight gradient's shape %s",
                           x->name, ir_shape_str(&x->shape, sx, sizeof sx), dy->name,
                           ir_shape_str(&dy->shape, sd, sizeof sd), (long long)g, ir_shape_str(&dw, sw, sizeof sw));
    for (int i = 0; i < a->nspatial; i++) {
        if (a->kernel[i] && a->kernel[i] != dw.dims[2 + i])
            return shape_error(c, n, SD_ESHAPE, "kernel_shape says %lld along spatial axis %d, but the weight gradient is %s",
                               (long long)a->kernel[i], i, ir_shape_str(&dw, sw, sizeof sw));
        a->kernel[i] = dw.dims[2 + i];
    }
    SD_TRY(check_grad_window(c, n, x->shape.dims + 2, dy));
    shape_set(n, 0, x->dtype, &dw);
    return SD_OK;
}

SdStatus shape_conv(ShapeCtx *c, IrNode *n)
{
    switch (n->op) {
    case IR_OP_CONV_TRANSPOSE: return shape_conv_transpose(c, n);
    case IR_OP_CONV_GRAD_INPUT: return shape_conv_grad_input(c, n);
    case IR_OP_CONV_GRAD_WEIGHT: return shape_conv_grad_weight(c, n);
    default: return shape_conv_forward(c, n);
    }
}
