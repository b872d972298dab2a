/* ir/attrs.c — attributes in the text form, one formatter per family. Only what differs from a
 * default is printed, so `seedc ir` stays readable. */
#include <inttypes.h>

#include "ir/graph.h"

static void ints(SdStrbuf *o, const char *key, const int64_t *v, int n)
{
    sd_strbuf_printf(o, "%s%s=[", o->len ? " " : "", key);
    for (int i = 0; i < n; i++)
        sd_strbuf_printf(o, i ? ",%" PRId64 : "%" PRId64, v[i]);
    sd_strbuf_printf(o, "]");
}

static void num(SdStrbuf *o, const char *key, double v) { sd_strbuf_printf(o, "%s%s=%g", o->len ? " " : "", key, v); }
static void flag(SdStrbuf *o, const char *key) { sd_strbuf_printf(o, "%s%s", o->len ? " " : "", key); }

static const char *auto_pad_name(IrAutoPad p)
{
    switch (p) {
    case IR_PAD_SAME_UPPER: return "same_upper";
    case IR_PAD_SAME_LOWER: return "same_lower";
    case IR_PAD_VALID: return "valid";
    case IR_PAD_NOTSET: break;
    }
    return "notset";
}

static void format_unary(const IrNode *n, SdStrbuf *o)
{
    const IrUnaryAttrs *a = &n->attrs.unary;
    switch (n->op) {
    case IR_OP_CAST: sd_strbuf_printf(o, "to=%s", sd_dtype_name(a->to)); break;
    case IR_OP_LEAKY_RELU: case IR_OP_ELU: case IR_OP_CELU: case IR_OP_THRESHOLDED_RELU:
        num(o, "alpha", a->alpha); break;
    case IR_OP_HARD_SIGMOID: num(o, "alpha", a->alpha), num(o, "beta", a->beta); break;
    case IR_OP_SELU: num(o, "alpha", a->alpha), num(o, "gamma", a->gamma); break;
    case IR_OP_SHRINK: num(o, "lambd", a->alpha), num(o, "bias", a->beta); break;
    case IR_OP_CLIP: num(o, "min", a->alpha), num(o, "max", a->beta); break;
    case IR_OP_DROPOUT:
        num(o, "ratio", a->ratio);
        if (a->training) flag(o, "training"), num(o, "seed", (double)a->seed);
        break;
    case IR_OP_UNARY_GRAD:
        sd_strbuf_printf(o, "of=%s", ir_op_name(a->grad_of));
        if (a->alpha != 0) num(o, "alpha", a->alpha);
        if (a->beta != 0) num(o, "beta", a->beta);
        if (a->gamma != 0) num(o, "gamma", a->gamma);
        break;
    default: break;
    }
}

static void format_conv(const IrNode *n, SdStrbuf *o)
{
    const IrConvAttrs *a = &n->attrs.conv;
    int s = a->nspatial;
    ints(o, "kernel", a->kernel, s);
    ints(o, "strides", a->strides, s);
    ints(o, "pads", a->pads, 2 * s);
    ints(o, "dilations", a->dilations, s);
    if (a->groups != 1)
        num(o, "groups", (double)a->groups);
    if (a->auto_pad != IR_PAD_NOTSET)
        sd_strbuf_printf(o, " auto_pad=%s", auto_pad_name(a->auto_pad));
    if (n->op == IR_OP_CONV_GRAD_INPUT || n->op == IR_OP_CONV_GRAD_WEIGHT)
        ints(o, "grad_shape", a->grad_shape, s + 2);
    if (a->has_clip)
        num(o, "clip_min", a->clip_min), num(o, "clip_max", a->clip_max);
    if (a->act != IR_CONV_ACT_NONE)
        sd_strbuf_printf(o, " act=%s", a->act == IR_CONV_ACT_SILU ? "silu" : "hard_swish");
    if (n->op == IR_OP_CONV_TRANSPOSE) {
        ints(o, "output_padding", a->output_padding, s);
        if (a->has_output_shape)
            ints(o, "output_shape", a->output_shape, s);
    }
}

static void format_pool(const IrNode *n, SdStrbuf *o)
{
    const IrPoolAttrs *a = &n->attrs.pool;
    if (n->op == IR_OP_GLOBAL_AVG_POOL || n->op == IR_OP_GLOBAL_MAX_POOL) return;
    if (n->op == IR_OP_GLOBAL_LP_POOL) { num(o, "p", (double)a->p); return; }
    int s = a->nspatial;
    ints(o, "kernel", a->kernel, s);
    ints(o, "strides", a->strides, s);
    ints(o, "pads", a->pads, 2 * s);
    ints(o, "dilations", a->dilations, s);
    if (a->ceil_mode) flag(o, "ceil_mode");
    if (a->count_include_pad) flag(o, "count_include_pad");
    if (a->auto_pad != IR_PAD_NOTSET) sd_strbuf_printf(o, " auto_pad=%s", auto_pad_name(a->auto_pad));
    if (n->op == IR_OP_LP_POOL) num(o, "p", (double)a->p);
}

static void format_movement(const IrNode *n, SdStrbuf *o)
{
    const IrMovementAttrs *a = &n->attrs.movement;
    switch (n->op) {
    case IR_OP_RESHAPE: case IR_OP_EXPAND: case IR_OP_TILE:
        if (a->resolved) ints(o, n->op == IR_OP_TILE ? "repeats" : "shape", a->shape, a->n_shape);
        break;
    case IR_OP_SQUEEZE: case IR_OP_UNSQUEEZE:
        if (a->has_axes) ints(o, "axes", a->axes, a->n_axes);
        break;
    case IR_OP_TRANSPOSE: if (a->n_perm) ints(o, "perm", a->perm, a->n_perm); break;
    case IR_OP_CONCAT: case IR_OP_FLATTEN: num(o, "axis", (double)a->axis); break;
    case IR_OP_SPLIT: num(o, "axis", (double)a->axis); if (a->n_split) ints(o, "split", a->split, a->n_split); break;
    case IR_OP_SLICE:
        if (a->resolved) {
            ints(o, "starts", a->starts, a->n_axes), ints(o, "ends", a->ends, a->n_axes);
            ints(o, "steps", a->steps, a->n_axes);
        }
        break;
    case IR_OP_PAD:
        if (a->resolved) ints(o, "pads", a->pads, 2 * a->n_axes);
        sd_strbuf_printf(o, " mode=%s", a->pad_mode == IR_PADMODE_CONSTANT ? "constant" :
                                        a->pad_mode == IR_PADMODE_REFLECT ? "reflect" :
                                        a->pad_mode == IR_PADMODE_EDGE ? "edge" : "wrap");
        if (a->pad_value != 0) num(o, "value", a->pad_value);
        break;
    case IR_OP_DEPTH_TO_SPACE: case IR_OP_SPACE_TO_DEPTH:
        num(o, "blocksize", (double)a->blocksize);
        if (a->crd) flag(o, "crd");
        break;
    default: break;
    }
}

static void format_quant(const IrNode *n, SdStrbuf *o)
{
    const IrQuantAttrs *a = &n->attrs.quant;
    switch (n->op) {
    case IR_OP_QUANTIZE_LINEAR: case IR_OP_DEQUANTIZE_LINEAR:
        num(o, "axis", (double)a->axis);
        if (a->block_size) num(o, "block_size", (double)a->block_size);
        if (n->op == IR_OP_QUANTIZE_LINEAR && a->out_dtype != SD_DT_UNDEFINED)
            sd_strbuf_printf(o, " to=%s", sd_dtype_name(a->out_dtype));
        return;
    case IR_OP_QADD:
        num(o, "a_scale", a->a_scale), num(o, "a_zp", a->a_zp), num(o, "b_scale", a->b_scale), num(o, "b_zp", a->b_zp);
        num(o, "y_scale", a->y_scale), num(o, "y_zp", a->y_zp), num(o, "qmin", a->qmin), num(o, "qmax", a->qmax);
        return;
    case IR_OP_QGLOBAL_AVG_POOL:
        num(o, "x_scale", a->a_scale), num(o, "x_zp", a->a_zp), num(o, "y_scale", a->y_scale), num(o, "y_zp", a->y_zp);
        return;
    case IR_OP_QSCALE_CHANNELS:
        num(o, "x_scale", a->a_scale), num(o, "x_zp", a->a_zp), num(o, "y_scale", a->y_scale), num(o, "y_zp", a->y_zp);
        num(o, "qmin", a->qmin), num(o, "qmax", a->qmax);
        return;
    case IR_OP_QLINEAR_CONV: case IR_OP_CONV_INTEGER: case IR_OP_QCONV: case IR_OP_CONV_BF16: {
        const IrConvAttrs *c = &a->conv;
        int s = c->nspatial;
        ints(o, "kernel", c->kernel, s);
        ints(o, "strides", c->strides, s);
        ints(o, "pads", c->pads, 2 * s);
        ints(o, "dilations", c->dilations, s);
        if (c->groups != 1) num(o, "groups", (double)c->groups);
        if (c->auto_pad != IR_PAD_NOTSET) sd_strbuf_printf(o, " auto_pad=%s", auto_pad_name(c->auto_pad));
        break;
    }
    default: break;
    }
    if (n->op == IR_OP_QCONV || n->op == IR_OP_CONV_BF16 || n->op == IR_OP_QMATMUL || n->op == IR_OP_MATMUL_BF16) {
        num(o, n->op == IR_OP_QCONV || n->op == IR_OP_CONV_BF16 ? "channels" : "n", (double)a->channels);
        if (n->op == IR_OP_QMATMUL || n->op == IR_OP_MATMUL_BF16) num(o, "k", (double)a->depth);
    }
    if (n->op == IR_OP_QCONV || n->op == IR_OP_QMATMUL) {
        num(o, "x_zp", a->x_zp);
        if (a->out_dtype != SD_DT_F32)
            num(o, "y_zp", a->y_zp), num(o, "qmin", a->qmin), num(o, "qmax", a->qmax);
        sd_strbuf_printf(o, " to=%s", sd_dtype_name(a->out_dtype));
        if (n->op == IR_OP_QCONV && n->n_inputs > 4 && n->inputs[4])
            num(o, "residual_mult", a->b_scale), num(o, "residual_zp", a->b_zp);
        if (n->op == IR_OP_QCONV && a->act != IR_CONV_ACT_NONE) {
            sd_strbuf_printf(o, " act=%s", a->act == IR_CONV_ACT_SILU ? "silu" : "hard_swish");
            num(o, "act_in_scale", a->act_in_scale), num(o, "act_out_scale", a->act_out_scale);
            num(o, "act_out_zp", a->act_out_zp);
        }
    }
    if ((n->op == IR_OP_QCONV || n->op == IR_OP_QMATMUL) ? a->out_dtype == SD_DT_F32
                                                         : (n->op == IR_OP_CONV_BF16 || n->op == IR_OP_MATMUL_BF16)) {
        if (a->lo > -3.0e38f) num(o, "lo", a->lo);
        if (a->hi < 3.0e38f) num(o, "hi", a->hi);
    }
}

void ir_attrs_format(const IrNode *n, SdStrbuf *o)
{
    const IrAttrs *a = &n->attrs;
    switch (ir_op_info(n->op)->family) {
    case IR_FAM_unary: format_unary(n, o); break;
    case IR_FAM_binary:
        if (n->op == IR_OP_MOD && a->binary.fmod) flag(o, "fmod");
        for (int i = 0; i < a->binary.n_steps && n->op == IR_OP_FUSED_ELTWISE; i++) {
            const IrFusedStep *st = &a->binary.steps[i];
            sd_strbuf_printf(o, "%sr%d=%s(r%d", i ? "; " : "", n->n_inputs + i, ir_op_name(st->op), st->a);
            if (ir_op_info(st->op)->family == IR_FAM_binary)
                sd_strbuf_printf(o, ",r%d", st->b);
            sd_strbuf_printf(o, ")");
        }
        break;
    case IR_FAM_conv: format_conv(n, o); break;
    case IR_FAM_matmul:
        if (n->op == IR_OP_GEMM) num(o, "alpha", a->matmul.alpha), num(o, "beta", a->matmul.beta);
        if (a->matmul.trans_a) flag(o, "trans_a");
        if (a->matmul.trans_b) flag(o, "trans_b");
        break;
    case IR_FAM_norm:
        if (n->op == IR_OP_LRN) {
            num(o, "size", (double)a->norm.size), num(o, "alpha", a->norm.alpha);
            num(o, "beta", a->norm.beta), num(o, "bias", a->norm.bias);
        } else {
            num(o, "epsilon", a->norm.epsilon);
            if (n->op == IR_OP_LAYER_NORM || n->op == IR_OP_LAYER_NORM_GRAD) num(o, "axis", (double)a->norm.axis);
            if (a->norm.training) flag(o, "training"), num(o, "momentum", a->norm.momentum);
            if (a->norm.var_biased) flag(o, "var_biased");
            if (a->norm.relu) flag(o, "relu");
        }
        break;
    case IR_FAM_softmax:
        if (n->op == IR_OP_SOFTMAX_CROSS_ENTROPY || n->op == IR_OP_SOFTMAX_CROSS_ENTROPY_GRAD ||
            n->op == IR_OP_NEGATIVE_LOG_LIKELIHOOD || n->op == IR_OP_NEGATIVE_LOG_LIKELIHOOD_GRAD) {
            IrLossReduction r = a->softmax.reduction;
            sd_strbuf_printf(o, "reduction=%s", r == IR_REDUCTION_MEAN ? "mean" : r == IR_REDUCTION_SUM ? "sum" : "none");
            if (a->softmax.has_ignore_index) num(o, "ignore_index", (double)a->softmax.ignore_index);
            break;
        }
        num(o, "axis", (double)a->softmax.axis);
        if (a->softmax.flatten_trailing) flag(o, "flatten_trailing");
        break;
    case IR_FAM_pool: format_pool(n, o); break;
    case IR_FAM_reduce:
        if (n->op == IR_OP_ARGMAX || n->op == IR_OP_ARGMIN) {
            num(o, "axis", a->reduce.n_axes ? (double)a->reduce.axes[0] : 0);
            if (a->reduce.select_last_index) flag(o, "select_last_index");
        } else if (a->reduce.n_axes) {
            ints(o, "axes", a->reduce.axes, a->reduce.n_axes);
        }
        if (a->reduce.keepdims) flag(o, "keepdims");
        break;
    case IR_FAM_movement: format_movement(n, o); break;
    case IR_FAM_gather:
        num(o, "axis", (double)a->gather.axis);
        if (n->op == IR_OP_GATHER_GRAD && a->gather.elements) flag(o, "elements");
        break;
    case IR_FAM_generate:
        if (n->op == IR_OP_SHAPE && (a->generate.start || a->generate.has_end)) {
            num(o, "start", (double)a->generate.start);
            if (a->generate.has_end) num(o, "end", (double)a->generate.end);
        }
        break;
    case IR_FAM_resize:
        sd_strbuf_printf(o, "mode=%s", a->resize.mode == IR_RESIZE_NEAREST ? "nearest" :
                                       a->resize.mode == IR_RESIZE_LINEAR ? "linear" : "cubic");
        break;
    case IR_FAM_einsum: sd_strbuf_printf(o, "equation=\"%s\"", a->einsum.equation); break;
    case IR_FAM_update:
        if (n->op == IR_OP_SGD_UPDATE || n->op == IR_OP_LARS_UPDATE || n->op == IR_OP_EMA_UPDATE)
            num(o, "momentum", a->update.momentum);
        if (a->update.nesterov) flag(o, "nesterov");
        if (a->update.weight_decay != 0) num(o, "weight_decay", a->update.weight_decay);
        if (n->op == IR_OP_ADAMW_UPDATE || n->op == IR_OP_LAMB_UPDATE)
            num(o, "beta1", a->update.beta1), num(o, "beta2", a->update.beta2), num(o, "epsilon", a->update.epsilon);
        if (n->op == IR_OP_LARS_UPDATE) num(o, "trust", a->update.trust_coefficient);
        break;
    case IR_FAM_quant: format_quant(n, o); break;
    case IR_FAM_COUNT: break;
    }
}
