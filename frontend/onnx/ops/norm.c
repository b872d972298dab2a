/* frontend/onnx/ops/norm.c — BatchNormalization (inference only), LayerNormalization,
 * InstanceNormalization and LRN. Opset differences resolved here: BatchNormalization's `spatial`
 * (before 9), `is_test` (before 7) and `training_mode` (14 on); `consumed_inputs` of opset 1 is
 * ignored. */
#include <string.h>

#include "frontend/onnx/import.h"

static SdStatus import_batch_norm(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 5, 5, 1, 5));
    float epsilon, momentum;
    int64_t training = 0, spatial = 1;
    SD_TRY(onnx_attr_float(c, "epsilon", 1e-5f, &epsilon));
    SD_TRY(onnx_attr_float(c, "momentum", 0.9f, &momentum));
    if (c->opset >= 14)
        SD_TRY(onnx_attr_int(c, "training_mode", 0, &training));
    if (c->opset < 9)
        SD_TRY(onnx_attr_int(c, "spatial", 1, &spatial));
    /* Before opset 14 the mode is implied by the outputs: only training writes the statistics.
     * is_test (before 7) is not consulted: with a single output the statistics are the inputs'. */
    if (training || c->n_out > 1)
        return onnx_node_error(c, SD_EUNSUPPORTED,
                               "BatchNormalization in training mode (batch statistics%s) is not supported; "
                               "export the model in inference (eval) mode",
                               c->n_out > 1 ? " and running mean/variance outputs" : "");
    IrNode *n = onnx_emit(c, IR_OP_BATCH_NORM, c->in, 5, c->out, 1);
    if (!n)
        return c->err->status;
    IrNormAttrs *a = &n->attrs.norm;
    a->epsilon = epsilon;
    a->momentum = momentum;
    a->per_activation = spatial == 0;
    return SD_OK;
}

static SdStatus import_layer_norm(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 2, 3, 1, 3));
    int64_t axis, stash_type;
    float epsilon;
    SD_TRY(onnx_attr_int(c, "axis", -1, &axis));
    SD_TRY(onnx_attr_float(c, "epsilon", 1e-5f, &epsilon));
    SD_TRY(onnx_attr_int(c, "stash_type", 1, &stash_type));
    if (stash_type != 1) /* 1 is float: the precision of the statistics and of Mean/InvStdDev */
        return onnx_node_error(c, SD_EUNSUPPORTED, "stash_type %lld is not supported (only 1, float)",
                               (long long)stash_type);
    IrNode *n = onnx_emit_same(c, IR_OP_LAYER_NORM);
    if (!n)
        return c->err->status;
    n->attrs.norm.axis = axis;
    n->attrs.norm.epsilon = epsilon;
    return SD_OK;
}

static SdStatus import_instance_norm(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 3, 3, 1, 1));
    float epsilon;
    SD_TRY(onnx_attr_float(c, "epsilon", 1e-5f, &epsilon));
    IrNode *n = onnx_emit_same(c, IR_OP_INSTANCE_NORM);
    if (!n)
        return c->err->status;
    n->attrs.norm.epsilon = epsilon;
    return SD_OK;
}

static SdStatus import_lrn(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
    int64_t size;
    float alpha, beta, bias;
    SD_TRY(onnx_attr_int(c, "size", 0, &size));
    SD_TRY(onnx_attr_float(c, "alpha", 1e-4f, &alpha));
    SD_TRY(onnx_attr_float(c, "beta", 0.75f, &beta));
    SD_TRY(onnx_attr_float(c, "bias", 1.0f, &bias));
    if (size < 1)
        return onnx_node_error(c, SD_EBADMODEL, "attribute 'size' is %s; a positive window size is required",
                               onnx_attr(c, "size") ? "not positive" : "missing");
    IrNode *n = onnx_emit_same(c, IR_OP_LRN);
    if (!n)
        return c->err->status;
    IrNormAttrs *a = &n->attrs.norm;
    a->size = size;
    a->alpha = alpha;
    a->beta = beta;
    a->bias = bias;
    return SD_OK;
}

SdStatus onnx_import_norm(OnnxCtx *c)
{
    const char *op = c->node->op_type;
    if (strcmp(op, "BatchNormalization") == 0)
        return import_batch_norm(c);
    if (strcmp(op, "LayerNormalization") == 0)
        return import_layer_norm(c);
    if (strcmp(op, "InstanceNormalization") == 0)
        return import_instance_norm(c);
    return import_lrn(c);
}
