/* passes/fold_batchnorm.c — inference BatchNorm folded into the convolution before it:
 *   BN(conv(x, W, b)) = conv(x, W * s, (b - mean) * s + beta),  s = gamma / sqrt(var + eps)
 * per output channel. Safe when the weights and the BN statistics are constants and nothing
 * else reads the convolution's output; the folded model computes the same function with one op
 * and one tensor less (the float result may differ in the last bits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"
#include "support/mem.h"

static bool constant_f32(const IrValue *v) { return v && ir_value_is_constant(v) && v->dtype == SD_DT_F32 && v->data; }

static SdStatus fold_one(IrGraph *g, IrNode *bn, IrNode *conv, const PassOptions *opt, SdError *err)
{
    const IrValue *w = conv->inputs[1], *b = conv->n_inputs > 2 ? conv->inputs[2] : NULL;
    const float *gamma = bn->inputs[1]->data, *beta = bn->inputs[2]->data, *mean = bn->inputs[3]->data,
                *var = bn->inputs[4]->data;
    int64_t c_out = conv->op == IR_OP_CONV ? w->shape.dims[0] : w->shape.dims[1] * conv->attrs.conv.groups;
    int64_t per = ir_value_numel(w) / w->shape.dims[0];
    float *nw = sd_aligned_alloc(ir_value_nbytes(w)), *nb = sd_aligned_alloc((size_t)c_out * sizeof(float));
    if (!nw || !nb) {
        sd_aligned_free(nw), sd_aligned_free(nb);
        return sd_errorf(err, SD_ENOMEM, "out of memory folding BatchNorm");
    }
    const float *ow = w->data, *ob = b ? b->data : NULL;
    float eps = bn->attrs.norm.epsilon;
    if (conv->op == IR_OP_CONV) { /* W is [C_out, C_in/g, k...] */
        for (int64_t c = 0; c < c_out; c++) {
            float s = gamma[c] / sqrtf(var[c] + eps);
            for (int64_t k = 0; k < per; k++)
                nw[c * per + k] = ow[c * per + k] * s;
            nb[c] = ((ob ? ob[c] : 0.0f) - mean[c]) * s + beta[c];
        }
    } else { /* CONV_TRANSPOSE: W is [C_in, C_out/g, k...]; output channel = group * (C_out/g) + j */
        int64_t c_in = w->shape.dims[0], groups = conv->attrs.conv.groups, cog = w->shape.dims[1];
        int64_t spatial = per / cog;
        for (int64_t ci = 0; ci < c_in; ci++) {
            int64_t grp = ci / (c_in / groups);
            for (int64_t j = 0; j < cog; j++) {
                int64_t c = grp * cog + j;
                float s = gamma[c] / sqrtf(var[c] + eps);
                for (int64_t k = 0; k < spatial; k++)
                    nw[(ci * cog + j) * spatial + k] = ow[(ci * cog + j) * spatial + k] * s;
            }
        }
        for (int64_t c = 0; c < c_out; c++) {
            float s = gamma[c] / sqrtf(var[c] + eps);
            nb[c] = ((ob ? ob[c] : 0.0f) - mean[c]) * s + beta[c];
        }
    }
    IrValue *w2 = ir_value_new(g, w->name, SD_DT_F32, &w->shape);
    IrShape bs = ir_shape_make(1, &c_out);
    IrValue *b2 = ir_value_new(g, b ? b->name : "folded_bias", SD_DT_F32, &bs);
    if (!w2 || !b2) {
        sd_aligned_free(nw), sd_aligned_free(nb);
        return sd_errorf(err, SD_ENOMEM, "out of memory folding BatchNorm");
    }
    ir_value_adopt_data(w2, nw, ir_value_nbytes(w2));
    ir_value_adopt_data(b2, nb, (size_t)c_out * sizeof(float));
    /* the convolution now writes the BatchNorm's output */
    IrValue *inputs[3] = {conv->inputs[0], w2, b2};
    IrValue *out = bn->outputs[0];
    IrAttrs attrs = conv->attrs;
    IrOp op = conv->op;
    ir_node_remove(g, bn);
    ir_node_remove(g, conv);
    ir_graph_set_insert_point(g, NULL);
    IrNode *n = ir_node_new(g, op, conv->name, inputs, 3, &out, 1);
    if (!n)
        return sd_errorf(err, SD_ENOMEM, "out of memory folding BatchNorm");
    n->attrs = attrs;
    return pass_shape_node(g, n, opt, err);
}

SdStatus pass_fold_batchnorm(IrGraph *g, const PassOptions *opt, SdError *err)
{
    bool changed = false;
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *bn = ir_graph_node(g, k);
        if (bn->removed || bn->op != IR_OP_BATCH_NORM || bn->attrs.norm.training || bn->n_outputs != 1 ||
            bn->attrs.norm.per_activation)
            continue;
        IrValue *y = bn->inputs[0];
        IrNode *conv = y->producer;
        if (!conv || conv->removed || (conv->op != IR_OP_CONV && conv->op != IR_OP_CONV_TRANSPOSE) || y->n_uses != 1 ||
            ir_value_is_graph_output(g, y) || y->dtype != SD_DT_F32)
            continue;
        bool constants = constant_f32(conv->inputs[1]) && (conv->n_inputs < 3 || !conv->inputs[2] ||
                                                           constant_f32(conv->inputs[2]));
        for (int i = 1; i < 5; i++)
            constants = constants && constant_f32(bn->inputs[i]) && ir_value_numel(bn->inputs[i]) == y->shape.dims[1];
        if (!constants)
            continue;
        SD_TRY(fold_one(g, bn, conv, opt, err));
        changed = true;
    }
    if (!changed)
        return SD_OK;
    ir_graph_compact(g);
    return ir_graph_toposort(g, err);
}
