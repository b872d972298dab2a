/* frontend/onnx/ops/quant.c — quantization: QuantizeLinear and DequantizeLinear (opset 10: per
 * tensor; 13: per axis; 21: per block, output_dtype), DynamicQuantizeLinear, QLinearConv,
 * QLinearMatMul, ConvInteger and MatMulInteger. Operands keep ONNX's order; scales and zero points
 * stay tensors (node tests feed them at run time), and shape inference checks their shapes against
 * the granularity the attributes give. passes/quantize.c rewrites the constant cases onto the packed
 * int8 kernels. */
#include <string.h>

#include "frontend/onnx/import.h"
#include "frontend/onnx/ops/window.h"

static SdStatus import_qdq(OnnxCtx *c, IrOp op)
{
    SD_TRY(onnx_expect_arity(c, 2, 3, 1, 1));
    IrQuantAttrs a = {.axis = 1};
    if (c->opset >= 13)
        SD_TRY(onnx_attr_int(c, "axis", 1, &a.axis));
    if (c->opset >= 21) {
        SD_TRY(onnx_attr_int(c, "block_size", 0, &a.block_size));
        if (a.block_size < 0)
            return onnx_node_error(c, SD_EBADMODEL, "block_size is %lld; 0 or more is expected", (long long)a.block_size);
        if (op == IR_OP_QUANTIZE_LINEAR) {
            int64_t to;
            SD_TRY(onnx_attr_int(c, "output_dtype", 0, &to));
            if (to != 0 && to != SD_DT_U8 && to != SD_DT_I8)
                return onnx_node_error(c, SD_EUNSUPPORTED, "output_dtype %s is not supported; uint8 or int8 is",
                                       sd_dtype_name((int)to));
            a.out_dtype = (SdDType)to;
        }
    }
    IrNode *n = onnx_emit_same(c, op);
    if (!n)
        return c->err->status;
    n->attrs.quant = a;
    return SD_OK;
}

/* The window attributes of QLinearConv and ConvInteger, read as Conv's. */
static SdStatus read_conv(OnnxCtx *c, IrConvAttrs *a)
{
    memset(a, 0, sizeof *a);
    SD_TRY(onnx_window_ints(c, "kernel_shape", 1, a->kernel, &a->nspatial));
    SD_TRY(onnx_window_ints(c, "strides", 1, a->strides, &a->nspatial));
    SD_TRY(onnx_window_ints(c, "dilations", 1, a->dilations, &a->nspatial));
    SD_TRY(onnx_window_ints(c, "pads", 2, a->pads, &a->nspatial));
    SD_TRY(onnx_attr_int(c, "group", 1, &a->groups));
    SD_TRY(onnx_window_auto_pad(c, &a->auto_pad));
    if (a->groups < 1)
        return onnx_node_error(c, SD_EBADMODEL, "group is %lld; at least 1 is expected", (long long)a->groups);
    return SD_OK;
}

SdStatus onnx_import_quant(OnnxCtx *c)
{
    const char *t = c->node->op_type;
    if (strcmp(t, "QuantizeLinear") == 0)
        return import_qdq(c, IR_OP_QUANTIZE_LINEAR);
    if (strcmp(t, "DequantizeLinear") == 0)
        return import_qdq(c, IR_OP_DEQUANTIZE_LINEAR);
    IrOp op;
    int min_in, max_in, n_out = 1;
    bool conv = false;
    if (strcmp(t, "DynamicQuantizeLinear") == 0)
        op = IR_OP_DYNAMIC_QUANTIZE_LINEAR, min_in = max_in = 1, n_out = 3;
    else if (strcmp(t, "QLinearConv") == 0)
        op = IR_OP_QLINEAR_CONV, min_in = 8, max_in = 9, conv = true;
    else if (strcmp(t, "QLinearMatMul") == 0)
        op = IR_OP_QLINEAR_MATMUL, min_in = max_in = 8;
    else if (strcmp(t, "ConvInteger") == 0)
        op = IR_OP_CONV_INTEGER, min_in = 2, max_in = 4, conv = true;
    else if (strcmp(t, "MatMulInteger") == 0)
        op = IR_OP_MATMUL_INTEGER, min_in = 2, max_in = 4;
    else
        return onnx_node_error(c, SD_EINTERNAL, "not a quantization op");
    SD_TRY(onnx_expect_arity(c, min_in, max_in, n_out, n_out));
    IrQuantAttrs a = {0};
    if (conv)
        SD_TRY(read_conv(c, &a.conv));
    /* QLinearConv and QLinearMatMul need every scale and zero point (optional only in name) */
    for (int i = 0; i < min_in; i++)
        if (!c->in[i])
            return onnx_node_error(c, SD_EBADMODEL, "input %d is missing", i);
    IrNode *n = onnx_emit_same(c, op);
    if (!n)
        return c->err->status;
    n->attrs.quant = a;
    return SD_OK;
}
