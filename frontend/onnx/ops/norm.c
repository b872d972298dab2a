/* frontend/onnx/ops/norm.c — BatchNormalization, LayerNormalization, InstanceNormalization and LRN.
 * Opset differences resolved here: BatchNormalization's `spatial` (before 9), `is_test` (before 7)
 * and `training_mode` (14 on: batch statistics, running statistics updated by Mul/Add; training
 * before 14 is refused); `consumed_inputs` of opset 1 is ignored. */
#include <stdio.h>
#include <string.h>

#include "frontend/onnx/import.h"

/* out = a * ka + b * kb, for the running statistics of training mode. */
static SdStatus blend(OnnxCtx *c, const char *what, IrValue *a, float ka, IrValue *b, float kb, IrValue *out)
{
    char sfx[64];
    snprintf(sfx, sizeof sfx, "%s_old", what);
    IrValue *sa = onnx_temp(c, sfx, SD_DT_F32), *ca = onnx_const_scalar_f32(c, sfx, ka);
    snprintf(sfx, sizeof sfx, "%s_new", what);
    IrValue *sb = onnx_temp(c, sfx, SD_DT_F32), *cb = onnx_const_scalar_f32(c, sfx, kb);
    if (!sa || !ca || !sb || !cb || !onnx_emit(c, IR_OP_MUL, (IrValue *[]){a, ca}, 2, &sa, 1) ||
        !onnx_emit(c, IR_OP_MUL, (IrValue *[]){b, cb}, 2, &sb, 1) ||
        !onnx_emit(c, IR_OP_ADD, (IrValue *[]){sa, sb}, 2, &out, 1))
        return c->err->status;
    return SD_OK;
}

/* Training mode (opset 14 on): y from the batch statistics, and the running statistics updated as
 * ONNX says, input * momentum + batch * (1 - momentum), with the biased batch variance. */
static SdStatus import_batch_norm_training(OnnxCtx *c, float epsilon, float momentum)
{
    IrValue *outs[4] = {c->out[0], NULL, NULL, NULL};
    int n_out = 1;
    bool stats = c->n_out > 1;
    if (stats) {
        outs[1] = onnx_temp(c, "batch_mean", SD_DT_F32);
        outs[2] = onnx_temp(c, "batch_inv_std", SD_DT_F32);
        outs[3] = onnx_temp(c, "batch_var", SD_DT_F32);
        if (!outs[1] || !outs[2] || !outs[3])
            return c->err->status;
        n_out = 4;
    }
    IrNode *n = onnx_emit(c, IR_OP_BATCH_NORM, c->in, 5, outs, n_out);
    if (!n)
        return c->err->status;
    IrNormAttrs *a = &n->attrs.norm;
    a->epsilon = epsilon;
    a->momentum = momentum;
    a->training = true;
    a->var_biased = true;
    if (c->n_out > 1 && c->out[1])
        SD_TRY(blend(c, "running_mean", c->in[3], momentum, outs[1], 1.0f - momentum, c->out[1]));
    if (c->n_out > 2 && c->out[2])
        SD_TRY(blend(c, "running_var", c->in[4], momentum, outs[3], 1.0f - momentum, c->out[2]));
    return SD_OK;
}

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
    if (training) {
        if (c->n_out > 3)
            return onnx_node_error(c, SD_EBADMODEL, "%d outputs; training mode has Y, running_mean and running_var",
                                   c->n_out);
        return import_batch_norm_training(c, epsilon, momentum);
    }
    /* Before opset 14 the mode is implied by the outputs: only training writes the statistics.
     * is_test (before 7) is not consulted: with a single output the statistics are the inputs'. */
    if (c->n_out > 1)
        return onnx_node_error(c, SD_EUNSUPPORTED,
                               "BatchNormalization in training mode before opset 14 (batch statistics and running "
                               "mean/variance outputs) is not supported; export the model in inference (eval) mode "
                               "or with opset 14 or later");
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
