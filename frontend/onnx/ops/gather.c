/* frontend/onnx/ops/gather.c — Gather and GatherElements. */
#include <string.h>

#include "frontend/onnx/import.h"

SdStatus onnx_import_gather(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 2, 2, 1, 1));
    int64_t axis;
    SD_TRY(onnx_attr_int(c, "axis", 0, &axis));
    IrNode *n = onnx_emit_same(c, strcmp(c->node->op_type, "Gather") == 0 ? IR_OP_GATHER : IR_OP_GATHER_ELEMENTS);
    if (!n)
        return c->err->status;
    n->attrs.gather.axis = axis;
    return SD_OK;
}
