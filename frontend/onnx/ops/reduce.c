/* frontend/onnx/ops/reduce.c — ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare and
 * ArgMax/ArgMin. The reduced axes are an attribute until the opset where they became the optional
 * second input (13 for ReduceSum, 18 for the others); attribute axes go straight into the IR
 * attributes, input axes stay an input that shape inference reads. */
#include <string.h>

#include "frontend/onnx/import.h"

typedef struct {
    const char *op_type;
    IrOp op;
    int64_t axes_input_since; /* first opset that takes axes as an input */
} ReduceName;

static const ReduceName reductions[] = {
    {"ReduceSum", IR_OP_REDUCE_SUM, 13},
    {"ReduceMean", IR_OP_REDUCE_MEAN, 18},
    {"ReduceMax", IR_OP_REDUCE_MAX, 18},
    {"ReduceMin", IR_OP_REDUCE_MIN, 18},
    {"ReduceProd", IR_OP_REDUCE_PROD, 18},
    {"ReduceL1", IR_OP_REDUCE_L1, 18},
    {"ReduceL2", IR_OP_REDUCE_L2, 18},
    {"ReduceLogSum", IR_OP_REDUCE_LOG_SUM, 18},
    {"ReduceLogSumExp", IR_OP_REDUCE_LOG_SUM_EXP, 18},
    {"ReduceSumSquare", IR_OP_REDUCE_SUM_SQUARE, 18},
};

static SdStatus import_arg(OnnxCtx *c, IrOp op)
{
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
    int64_t axis, keepdims, last;
    SD_TRY(onnx_attr_int(c, "axis", 0, &axis));
    SD_TRY(onnx_attr_int(c, "keepdims", 1, &keepdims));
    SD_TRY(onnx_attr_int(c, "select_last_index", 0, &last));
    IrNode *n = onnx_emit_same(c, op);
    if (!n)
        return c->err->status;
    IrReduceAttrs *a = &n->attrs.reduce;
    a->n_axes = 1;
    a->axes[0] = axis;
    a->keepdims = keepdims != 0;
    a->select_last_index = last != 0;
    return SD_OK;
}

SdStatus onnx_import_reduce(OnnxCtx *c)
{
    const char *t = c->node->op_type;
    if (strcmp(t, "ArgMax") == 0)
        return import_arg(c, IR_OP_ARGMAX);
    if (strcmp(t, "ArgMin") == 0)
        return import_arg(c, IR_OP_ARGMIN);
    const ReduceName *r = NULL;
    for (size_t i = 0; i < sizeof reductions / sizeof reductions[0]; i++)
        if (strcmp(t, reductions[i].op_type) == 0)
            r = &reductions[i];
    if (!r)
        return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not a reduction", t);

    int64_t keepdims, noop = 0;
    SD_TRY(onnx_attr_int(c, "keepdims", 1, &keepdims));
    IrNode *n;
    if (c->opset < r->axes_input_since) {
        SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
        int64_t axes[IR_MAX_RANK];
        int count;
        SD_TRY(onnx_attr_ints(c, "axes", axes, IR_MAX_RANK, &count));
        if (!(n = onnx_emit_same(c, r->op)))
            return c->err->status;
        if (count > 0) {
            n->attrs.reduce.n_axes = count;
            memcpy(n->attrs.reduce.axes, axes, (size_t)count * sizeof axes[0]);
        }
    } else {
        SD_TRY(onnx_expect_arity(c, 1, 2, 1, 1));
        SD_TRY(onnx_attr_int(c, "noop_with_empty_axes", 0, &noop));
        if (!(n = onnx_emit_same(c, r->op)))
            return c->err->status;
    }
    n->attrs.reduce.keepdims = keepdims != 0;
    n->attrs.reduce.noop_with_empty_axes = noop != 0;
    return SD_OK;
}
