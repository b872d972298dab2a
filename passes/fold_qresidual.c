/* passes/fold_qresidual.c — actfold's int8 fold: QADD(qconv(x), r) = qconv(x) with r as its
 * residual, requantized straight to the sum's scale and clamp (a ResNet or MobileNetV2 block's
 * skip connection). The QADD read the convolution's u8 output back from memory and wrote the sum;
 * the convolution now adds (r - r_zp) * s_r / s_y to each scaled sum while it is in registers:
 *   y = clamp(round(acc * m * s_c / s_y + (r - r_zp) * s_r / s_y) + y_zp)
 * where the two ops rounded twice (the convolution's output to its own scale s_c, then the sum),
 * so the fold is no less exact than what it replaces, though not bit for bit the same. Only for a
 * convolution that clamps nothing of its own (a clamp between it and the Add would be lost), with
 * packed weights (the depthwise kernel writes rows before it could read r) and u8 output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "passes/pass.h"

/* The QCONV that makes v, when it can take a residual: v its only use, a u8 output clamped by
 * nothing but the u8 range and through no activation's table (the residual would go in before
 * it), packed weights, no residual yet. */
static IrNode *foldable_qconv(const IrGraph *g, const IrValue *v)
{
    IrNode *conv = v->producer;
    if (!conv || conv->removed || conv->op != IR_OP_QCONV || v->n_uses != 1 || ir_value_is_graph_output(g, v) ||
        conv->n_inputs != 4 || v->dtype != SD_DT_U8)
        return NULL;
    const IrQuantAttrs *a = &conv->attrs.quant;
    if (a->out_dtype != SD_DT_U8 || a->act != IR_CONV_ACT_NONE || a->lo != -INFINITY || a->hi != INFINITY ||
        a->qmin != 0 || a->qmax != 255 ||
        conv->inputs[1]->shape.rank == conv->inputs[0]->shape.rank || !ir_value_is_constant(conv->inputs[3]))
        return NULL;
    return conv;
}

/* conv now writes add's output: its multipliers rescaled from its own output scale to the sum's,
 * the other operand of the Add its residual. */
static SdStatus fold_one(IrGraph *g, IrNode *add, int which, const PassOptions *opt, SdError *err)
{
    const IrQuantAttrs *qa = &add->attrs.quant;
    IrNode *conv = add->inputs[which]->producer;
    IrValue *r = add->inputs[1 - which], *out = add->outputs[0], *m = conv->inputs[3];
    const double conv_scale = which == 0 ? qa->a_scale : qa->b_scale;
    const float r_scale = which == 0 ? qa->b_scale : qa->a_scale;
    const int32_t r_zp = which == 0 ? qa->b_zp : qa->a_zp;
    const int64_t channels = ir_value_numel(m);
    float *mult = malloc((size_t)channels * sizeof *mult);
    if (!mult)
        return sd_errorf(err, SD_ENOMEM, "out of memory folding '%s' into '%s'", add->name, conv->name);
    for (int64_t c = 0; c < channels; c++)
        mult[c] = (float)((double)((const float *)m->data)[c] * conv_scale / (double)qa->y_scale);
    char name[300];
    snprintf(name, sizeof name, "%s/multiplier_residual", conv->name);
    IrValue *mv = ir_constant_new(g, name, SD_DT_F32, &m->shape, mult, err);
    free(mult);
    if (!mv)
        return err->status;
    IrAttrs attrs = conv->attrs;
    attrs.quant.y_zp = qa->y_zp, attrs.quant.qmin = qa->qmin, attrs.quant.qmax = qa->qmax;
    attrs.quant.b_scale = (float)((double)r_scale / (double)qa->y_scale), attrs.quant.b_zp = r_zp;
    IrValue *inputs[5] = {conv->inputs[0], conv->inputs[1], conv->inputs[2], mv, r};
    ir_node_remove(g, add);
    ir_node_remove(g, conv);
    ir_graph_set_insert_point(g, NULL);
    IrNode *n = ir_node_new(g, IR_OP_QCONV, conv->name, inputs, 5, &out, 1);
    if (!n)
        return sd_errorf(err, SD_ENOMEM, "out of memory folding '%s' into '%s'", add->name, conv->name);
    n->attrs = attrs;
    return pass_shape_node(g, n, opt, err);
}

SdStatus pass_fold_qresidual(IrGraph *g, const PassOptions *opt, bool *changed, SdError *err)
{
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *add = ir_graph_node(g, k);
        if (add->removed || add->op != IR_OP_QADD || add->n_inputs != 2 || add->n_outputs != 1 ||
            add->outputs[0]->dtype != SD_DT_U8 || !(add->attrs.quant.y_scale > 0.0f))
            continue;
        for (int i = 0; i < 2; i++) {
            const IrValue *v = add->inputs[i], *r = add->inputs[1 - i];
            if (r == v || r->dtype != SD_DT_U8 || !foldable_qconv(g, v) ||
                !ir_shape_equal(&r->shape, &add->outputs[0]->shape) ||
                !ir_shape_equal(&v->shape, &add->outputs[0]->shape))
                continue;
            SD_TRY(fold_one(g, add, i, opt, err));
            *changed = true;
            break;
        }
    }
    return SD_OK;
}
