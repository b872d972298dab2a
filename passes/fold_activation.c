/* passes/fold_activation.c — a Relu or Clip folded into the f32 convolution before it (actfold):
 *   Relu(conv(x)) = conv(x) clamped to [0, inf),  Clip(conv(x), lo, hi) = ... to [lo, hi]
 * The kernels clamp each output while it is still in cache (the direct convolution as it copies
 * the product out), so the activation costs no pass over memory of its own. Safe when nothing else
 * reads the convolution's output; computes exactly what the two ops did (NaN stays NaN). Runs in
 * the inference pipeline after quantization: int8 and bf16 convolutions are other ops. */
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

static SdStatus fold_one(IrGraph *g, IrNode *act, IrNode *conv, float lo, float hi, const PassOptions *opt,
                         SdError *err)
{
    IrValue *inputs[3] = {conv->inputs[0], conv->inputs[1], conv->n_inputs > 2 ? conv->inputs[2] : NULL};
    int n_inputs = conv->n_inputs;
    IrValue *out = act->outputs[0];
    IrAttrs attrs = conv->attrs;
    attrs.conv.has_clip = true;
    attrs.conv.clip_min = lo, attrs.conv.clip_max = hi;
    ir_node_remove(g, act);
    ir_node_remove(g, conv);
    ir_graph_set_insert_point(g, NULL);
    IrNode *n = ir_node_new(g, IR_OP_CONV, conv->name, inputs, n_inputs, &out, 1);
    if (!n)
        return sd_errorf(err, SD_ENOMEM, "out of memory folding an activation into '%s'", conv->name);
    n->attrs = attrs;
    return pass_shape_node(g, n, opt, err);
}

SdStatus pass_fold_activation(IrGraph *g, const PassOptions *opt, SdError *err)
{
    bool changed = false;
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *act = ir_graph_node(g, k);
        float lo, hi;
        if (act->removed || act->n_outputs != 1 || act->n_inputs < 1 || !clamp_of(act, &lo, &hi))
            continue;
        IrValue *y = act->inputs[0];
        IrNode *conv = y->producer;
        if (!conv || conv->removed || conv->op != IR_OP_CONV || conv->attrs.conv.has_clip || y->n_uses != 1 ||
            ir_value_is_graph_output(g, y) || y->dtype != SD_DT_F32 || act->outputs[0]->dtype != SD_DT_F32)
            continue;
        SD_TRY(fold_one(g, act, conv, lo, hi, opt, err));
        changed = true;
    }
    if (!changed)
        return SD_OK;
    ir_graph_compact(g);
    return ir_graph_toposort(g, err);
}
