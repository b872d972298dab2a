/* frontend/onnx/ops/softmax.c — Softmax, LogSoftmax and Hardmax. Before opset 13 they normalize
 * the input flattened to 2-D at `axis` (default 1), from 13 on along the one axis `axis`
 * (default -1): flatten_trailing records which. The losses: NegativeLogLikelihoodLoss is one IR
 * node; SoftmaxCrossEntropyLoss is LogSoftmax over axis 1 (its optional second output) followed by
 * NegativeLogLikelihood, which is how ONNX defines it (weights, ignore_index and the mean's
 * denominator then behave alike for both). */
#include <string.h>

#include "frontend/onnx/import.h"

static SdStatus loss_attrs(OnnxCtx *c, IrSoftmaxAttrs *a)
{
    char red[16];
    SD_TRY(onnx_attr_string(c, "reduction", "mean", red, sizeof red));
    if (strcmp(red, "mean") == 0)
        a->reduction = IR_REDUCTION_MEAN;
    else if (strcmp(red, "sum") == 0)
        a->reduction = IR_REDUCTION_SUM;
    else if (strcmp(red, "none") == 0)
        a->reduction = IR_REDUCTION_NONE;
    else
        return onnx_node_error(c, SD_EBADMODEL, "reduction '%s' is not one of none, sum, mean", red);
    a->has_ignore_index = onnx_attr(c, "ignore_index") != NULL;
    SD_TRY(onnx_attr_int(c, "ignore_index", 0, &a->ignore_index));
    a->axis = 1;
    return SD_OK;
}

static SdStatus import_loss(OnnxCtx *c, bool softmax_ce)
{
    SD_TRY(onnx_expect_arity(c, 2, 3, 1, softmax_ce ? 2 : 1));
    IrSoftmaxAttrs la = {0};
    SD_TRY(loss_attrs(c, &la));
    IrValue *log_prob = c->in[0];
    if (softmax_ce) {
        log_prob = c->n_out > 1 ? c->out[1] : onnx_temp(c, "log_prob", SD_DT_F32);
        if (!log_prob)
            return c->err->status;
        IrNode *ls = onnx_emit(c, IR_OP_LOG_SOFTMAX, c->in, 1, &log_prob, 1);
        if (!ls)
            return c->err->status;
        ls->attrs.softmax.axis = 1;
    }
    IrValue *ins[3] = {log_prob, c->in[1], c->n_in > 2 ? c->in[2] : NULL};
    IrNode *n = onnx_emit(c, IR_OP_NEGATIVE_LOG_LIKELIHOOD, ins, ins[2] ? 3 : 2, c->out, 1);
    if (!n)
        return c->err->status;
    n->attrs.softmax = la;
    return SD_OK;
}

SdStatus onnx_import_softmax(OnnxCtx *c)
{
    const char *t = c->node->op_type;
    if (strcmp(t, "SoftmaxCrossEntropyLoss") == 0 || strcmp(t, "NegativeLogLikelihoodLoss") == 0)
        return import_loss(c, t[0] == 'S');
    IrOp op = strcmp(t, "Softmax") == 0 ? IR_OP_SOFTMAX : strcmp(t, "LogSoftmax") == 0 ? IR_OP_LOG_SOFTMAX : IR_OP_HARDMAX;
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
    bool flatten = c->opset < 13;
    int64_t axis;
    SD_TRY(onnx_attr_int(c, "axis", flatten ? 1 : -1, &axis));
    IrNode *n = onnx_emit_same(c, op);
    if (!n)
        return c->err->status;
    n->attrs.softmax.axis = axis;
    n->attrs.softmax.flatten_trailing = flatten;
    return SD_OK;
}
