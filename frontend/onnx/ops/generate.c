/* frontend/onnx/ops/generate.c — Shape (with start/end from opset 15), Size, ConstantOfShape
 * (its fill value is a one-element tensor attribute) and Range. */
#include <string.h>

#include "frontend/onnx/import.h"

static SdStatus fill_value(OnnxCtx *c, IrGenerateAttrs *a)
{
    const Onnx__AttributeProto *attr = onnx_attr(c, "value");
    a->value_dtype = SD_DT_F32;
    a->value.f32 = 0.0f;
    if (!attr)
        return SD_OK;
    if (!attr->t)
        return onnx_node_error(c, SD_EBADMODEL, "attribute 'value' must be a tensor");
    IrValue *v;
    SD_TRY(onnx_tensor_to_value(c->file, attr->t, "fill_value", &v));
    if (ir_value_numel(v) != 1)
        return onnx_node_error(c, SD_EBADMODEL, "attribute 'value' must hold one element (it has %lld)",
                               (long long)ir_value_numel(v));
    a->value_dtype = v->dtype;
    memcpy(a->value.bytes, v->data, v->nbytes);
    return SD_OK;
}

SdStatus onnx_import_generate(OnnxCtx *c)
{
    const char *t = c->node->op_type;
    IrNode *n;
    if (strcmp(t, "Range") == 0) {
        SD_TRY(onnx_expect_arity(c, 3, 3, 1, 1));
        return onnx_emit_same(c, IR_OP_RANGE) ? SD_OK : c->err->status;
    }
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
    if (strcmp(t, "Size") == 0)
        return onnx_emit_same(c, IR_OP_SIZE) ? SD_OK : c->err->status;
    if (strcmp(t, "ConstantOfShape") == 0) {
        if (!(n = onnx_emit_same(c, IR_OP_CONSTANT_OF_SHAPE)))
            return c->err->status;
        return fill_value(c, &n->attrs.generate);
    }
    if (!(n = onnx_emit_same(c, IR_OP_SHAPE)))
        return c->err->status;
    IrGenerateAttrs *a = &n->attrs.generate;
    SD_TRY(onnx_attr_int(c, "start", 0, &a->start));
    a->has_end = onnx_attr(c, "end") != NULL;
    SD_TRY(onnx_attr_int(c, "end", 0, &a->end));
    return SD_OK;
}
