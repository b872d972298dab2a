/* frontend/onnx/ops/softmax.c — Softmax, LogSoftmax and Hardmax. Before opset 13 they normalize
 * the input flattened to 2-D at `axis` (default 1), from 13 on along the one axis `axis`
 * (default -1): flatten_trailing records which. */
#include <string.h>

#include "frontend/onnx/import.h"

SdStatus onnx_import_softmax(OnnxCtx *c)
{
    const char *t = c->node->op_type;
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
