/* frontend/onnx/ops/einsum.c — Einsum: the equation is kept as written; shape inference parses
 * and checks it against the operands. */
#include <string.h>

#include "frontend/onnx/import.h"

SdStatus onnx_import_einsum(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 1, IR_EINSUM_MAX_INPUTS, 1, 1));
    if (!onnx_attr(c, "equation"))
        return onnx_node_error(c, SD_EBADMODEL, "attribute 'equation' is missing");
    char equation[sizeof(((IrEinsumAttrs *)0)->equation)];
    SD_TRY(onnx_attr_string(c, "equation", "", equation, sizeof equation));
    IrNode *n = onnx_emit_same(c, IR_OP_EINSUM);
    if (!n)
        return c->err->status;
    memcpy(n->attrs.einsum.equation, equation, sizeof equation);
    return SD_OK;
}
