/* frontend/onnx/ops/matmul.c — MatMul and Gemm. Gemm's opset differences end here: C is required
 * before opset 11, and before opset 7 it broadcasts only with the `broadcast` attribute (otherwise
 * it must already have the output's shape, which shape inference checks through `c_exact`). */
#include <string.h>

#include "frontend/onnx/import.h"

static SdStatus import_gemm(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, c->opset < 11 ? 3 : 2, 3, 1, 1));
    int64_t trans_a, trans_b, broadcast = 1;
    float alpha, beta;
    SD_TRY(onnx_attr_int(c, "transA", 0, &trans_a));
    SD_TRY(onnx_attr_int(c, "transB", 0, &trans_b));
    SD_TRY(onnx_attr_float(c, "alpha", 1.0f, &alpha));
    SD_TRY(onnx_attr_float(c, "beta", 1.0f, &beta));
    if (c->opset < 7)
        SD_TRY(onnx_attr_int(c, "broadcast", 0, &broadcast));
    IrNode *n = onnx_emit_same(c, IR_OP_GEMM);
    if (!n)
        return c->err->status;
    IrMatmulAttrs *a = &n->attrs.matmul;
    a->trans_a = trans_a != 0;
    a->trans_b = trans_b != 0;
    a->alpha = alpha;
    a->beta = beta;
    a->c_exact = broadcast == 0;
    return SD_OK;
}

SdStatus onnx_import_matmul(OnnxCtx *c)
{
    if (strcmp(c->node->op_type, "Gemm") == 0)
        return import_gemm(c);
    SD_TRY(onnx_expect_arity(c, 2, 2, 1, 1));
    IrNode *n = onnx_emit_same(c, IR_OP_MATMUL);
    if (!n)
        return c->err->status;
    n->attrs.matmul.alpha = 1.0f;
    return SD_OK;
}
