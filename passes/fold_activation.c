/* passes/fold_activation.c — what follows an f32 convolution folded into it (actfold):
 *   Relu(conv(x)) = conv(x) clamped to [0, inf),  Clip(conv(x), lo, hi) = ... to [lo, hi]
 *   conv(x) + r = conv(x) with r as its residual input (a ResNet block's skip connection), and
 *   Relu(conv(x) + r) = both;
 *   SiLU(conv(x)) (also as conv(x) * Sigmoid(conv(x))) and HardSwish(conv(x)) = conv(x) with act
 *   set (after a residual, never with a clamp; f32 only).
 * The kernels add and clamp each output while it is still in cache (the direct convolution as it
 * copies the product out), so neither costs a pass over memory of its own. Safe when nothing else
 * reads the convolution's output (nor the sum, when an activation follows); computes exactly what
 * the ops did (NaN stays NaN). A residual must have the output's shape (no broadcast), and only
 * convolutions with several input channels per group take one (the one-channel kernel writes y
 * before it could read r). Runs in the inference pipeline after quantization, so bf16 convolutions
 * (CONV_BF16, whose clamp is attrs.quant's lo/hi) take the same folds; int8 ones requantize in
 * their own kernels (their activations fold in the quantize pass) and take their residual Adds
 * (QADD) in passes/fold_qresidual.c. */
#include <math.h>

#include "passes/pass.h"

/* The clamp the activation node applies, or false when it is none. */
static bool clamp_of(const IrNode *act, float *lo, float *hi)
{
    if (act->op == IR_OP_RELU) {
        *lo = 0.0f, *hi = INFINITY;
        return true;
    }
    if (act->op == IR_OP_CLIP && act->n_inputs == 1) { /* bounds folded into attributes by canonicalize */
        *lo = act->attrs.unary.alpha, *hi = act->attrs.unary.beta;
        return !isnan(*lo) && !isnan(*hi) && *lo <= *hi;
    }
    return false;
}

static bool is_bf16(const IrNode *conv) { return conv->op == IR_OP_CONV_BF16; }

/* An f32 convolution that clamps and activates nothing yet */
static bool bare_f32_conv(const IrNode *conv)
{
    return conv && !conv->removed && conv->op == IR_OP_CONV && !conv->attrs.conv.has_clip &&
           conv->attrs.conv.act == IR_CONV_ACT_NONE;
}

/* The f32 or bf16 convolution that makes v when v has one reader and the convolution can take a
 * fold (it clamps nothing yet); else NULL. */
static IrNode *foldable_conv(const IrGraph *g, const IrValue *v)
{
    IrNode *conv = v->producer;
    if (!conv || conv->removed || v->n_uses != 1 || ir_value_is_graph_output(g, v) || v->dtype != SD_DT_F32)
        return NULL;
    if (bare_f32_conv(conv))
        return conv;
    if (is_bf16(conv) && conv->attrs.quant.lo == -INFINITY && conv->attrs.quant.hi == INFINITY)
        return conv;
    return NULL;
}

static int64_t groups_of(const IrNode *conv)
{
    return is_bf16(conv) ? conv->attrs.quant.conv.groups : conv->attrs.conv.groups;
}

/* conv now writes `out`: clamped to [lo, hi] when clip, plus `residual` when given, then act. */
static SdStatus fold_one(IrGraph *g, IrNode *conv, IrNode *const *gone, int n_gone, IrValue *out, IrValue *residual,
                         bool clip, float lo, float hi, IrConvAct act, const PassOptions *opt, SdError *err)
{
    IrValue *inputs[4] = {conv->inputs[0], conv->inputs[1], conv->n_inputs > 2 ? conv->inputs[2] : NULL,
                          conv->n_inputs > 3 ? conv->inputs[3] : NULL};
    if (residual)
        inputs[3] = residual;
    int n_inputs = inputs[3] ? 4 : conv->n_inputs;
    IrAttrs attrs = conv->attrs;
    if (clip && is_bf16(conv)) {
        attrs.quant.lo = lo, attrs.quant.hi = hi;
    } else if (clip) {
        attrs.conv.has_clip = true;
        attrs.conv.clip_min = lo, attrs.conv.clip_max = hi;
    }
    if (act != IR_CONV_ACT_NONE)
        attrs.conv.act = act;
    for (int i = 0; i < n_gone; i++)
        ir_node_remove(g, gone[i]);
    ir_node_remove(g, conv);
    ir_graph_set_insert_point(g, NULL);
    IrNode *n = ir_node_new(g, conv->op, conv->name, inputs, n_inputs, &out, 1);
    if (!n)
        return sd_errorf(err, SD_ENOMEM, "out of memory folding an activation into '%s'", conv->name);
    n->attrs = attrs;
    return pass_shape_node(g, n, opt, err);
}

/* An Add of a convolution's output and a tensor of its shape: the convolution, *residual the other
 * operand; NULL when it is no such Add. */
static IrNode *residual_conv(const IrGraph *g, const IrNode *add, IrValue **residual)
{
    if (add->removed || add->op != IR_OP_ADD || add->n_inputs != 2 || add->n_outputs != 1 ||
        add->outputs[0]->dtype != SD_DT_F32)
        return NULL;
    for (int i = 0; i < 2; i++) {
        IrNode *conv = foldable_conv(g, add->inputs[i]);
        IrValue *r = add->inputs[1 - i];
        if (!conv || conv->n_inputs > 3 || r == add->inputs[i] || r->dtype != SD_DT_F32 ||
            !ir_shape_equal(&r->shape, &add->outputs[0]->shape) ||
            !ir_shape_equal(&add->inputs[i]->shape, &add->outputs[0]->shape) ||
            conv->inputs[0]->shape.dims[1] / groups_of(conv) < 2)
            continue;
        *residual = r;
        return conv;
    }
    return NULL;
}

/* A SiLU (one node, or x * Sigmoid(x) as exported from PyTorch) or HardSwish whose x an f32
 * convolution makes and nothing else reads: the convolution, *act what it is, *gone the nodes it
 * replaces (n_gone of them); else NULL. bf16 convolutions keep theirs (their kernels do not apply
 * one). */
static IrNode *smooth_act_conv(const IrGraph *g, IrNode *n, IrConvAct *act, IrNode **gone, int *n_gone)
{
    if (n->removed || n->n_outputs != 1 || n->outputs[0]->dtype != SD_DT_F32 || n->n_inputs < 1)
        return NULL;
    IrNode *conv = NULL;
    if (n->op == IR_OP_SILU || n->op == IR_OP_HARD_SWISH) {
        conv = foldable_conv(g, n->inputs[0]);
        *act = n->op == IR_OP_SILU ? IR_CONV_ACT_SILU : IR_CONV_ACT_HARD_SWISH;
        gone[0] = n, *n_gone = 1;
    } else if (n->op == IR_OP_MUL && n->n_inputs == 2) {
        for (int i = 0; i < 2 && !conv; i++) {
            IrValue *x = n->inputs[i], *s = n->inputs[1 - i];
            IrNode *sig = s->producer;
            if (!sig || sig->removed || sig->op != IR_OP_SIGMOID || sig->inputs[0] != x || s->n_uses != 1 ||
                x->n_uses != 2 || ir_value_is_graph_output(g, s) || ir_value_is_graph_output(g, x) ||
                !ir_shape_equal(&x->shape, &n->outputs[0]->shape))
                continue;
            /* foldable_conv wants x read once: here the Sigmoid and the Mul read it */
            if (bare_f32_conv(x->producer) && x->dtype == SD_DT_F32)
                conv = x->producer, gone[0] = sig, gone[1] = n, *n_gone = 2;
        }
        *act = IR_CONV_ACT_SILU;
    }
    return conv && conv->op == IR_OP_CONV ? conv : NULL;
}

SdStatus pass_fold_activation(IrGraph *g, const PassOptions *opt, SdError *err)
{
    bool changed = false;
    for (int k = 0; k < ir_graph_num_nodes(g); k++) { /* Relu(conv + r): both at once */
        IrNode *act = ir_graph_node(g, k), *add;
        IrValue *residual;
        float lo, hi;
        if (act->removed || act->n_outputs != 1 || act->n_inputs < 1 || !clamp_of(act, &lo, &hi) ||
            act->outputs[0]->dtype != SD_DT_F32 || act->inputs[0]->n_uses != 1 ||
            ir_value_is_graph_output(g, act->inputs[0]) || !(add = act->inputs[0]->producer))
            continue;
        IrNode *conv = residual_conv(g, add, &residual);
        if (!conv)
            continue;
        SD_TRY(fold_one(g, conv, (IrNode *[]){act, add}, 2, act->outputs[0], residual, true, lo, hi, IR_CONV_ACT_NONE,
                        opt, err));
        changed = true;
    }
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *n = ir_graph_node(g, k), *conv;
        IrValue *residual;
        float lo, hi;
        if (n->removed || n->n_outputs != 1 || n->outputs[0]->dtype != SD_DT_F32)
            continue;
        if ((conv = residual_conv(g, n, &residual))) { /* conv + r, nothing to clamp after it */
            SD_TRY(fold_one(g, conv, (IrNode *[]){n}, 1, n->outputs[0], residual, false, 0, 0, IR_CONV_ACT_NONE, opt,
                            err));
            changed = true;
        } else if (n->n_inputs >= 1 && clamp_of(n, &lo, &hi) && (conv = foldable_conv(g, n->inputs[0]))) {
            SD_TRY(
                fold_one(g, conv, (IrNode *[]){n}, 1, n->outputs[0], NULL, true, lo, hi, IR_CONV_ACT_NONE, opt, err));
            changed = true;
        }
    }
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *n = ir_graph_node(g, k), *gone[2];
        IrConvAct act;
        int n_gone = 0;
        IrNode *conv = smooth_act_conv(g, n, &act, gone, &n_gone);
        if (conv) {
            SD_TRY(fold_one(g, conv, gone, n_gone, n->outputs[0], NULL, false, 0, 0, act, opt, err));
            changed = true;
        }
    }
    SD_TRY(pass_fold_qresidual(g, opt, &changed, err));
    if (!changed)
        return SD_OK;
    ir_graph_compact(g);
    return ir_graph_toposort(g, err);
}
