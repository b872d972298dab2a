/* frontend/onnx/ops/unary.c — elementwise unary operators, with their attributes and the opset
 * changes of Clip (bounds become inputs at 11), Dropout (ratio and mode become inputs at 12) and
 * Cast/CastLike. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "frontend/onnx/import.h"

typedef struct {
    const char *op_type;
    IrOp op;
} UnaryName;

static const UnaryName simple[] = {
    {"Identity", IR_OP_IDENTITY}, {"Relu", IR_OP_RELU}, {"Sigmoid", IR_OP_SIGMOID},
    {"HardSwish", IR_OP_HARD_SWISH}, {"Tanh", IR_OP_TANH}, {"Erf", IR_OP_ERF}, {"Softplus", IR_OP_SOFTPLUS},
    {"Softsign", IR_OP_SOFTSIGN}, {"Exp", IR_OP_EXP}, {"Log", IR_OP_LOG}, {"Sqrt", IR_OP_SQRT},
    {"Reciprocal", IR_OP_RECIPROCAL}, {"Neg", IR_OP_NEG}, {"Abs", IR_OP_ABS}, {"Sign", IR_OP_SIGN},
    {"Floor", IR_OP_FLOOR}, {"Ceil", IR_OP_CEIL}, {"Round", IR_OP_ROUND}, {"Sin", IR_OP_SIN},
    {"Cos", IR_OP_COS}, {"Tan", IR_OP_TAN}, {"Asin", IR_OP_ASIN}, {"Acos", IR_OP_ACOS}, {"Atan", IR_OP_ATAN},
    {"Sinh", IR_OP_SINH}, {"Cosh", IR_OP_COSH}, {"Asinh", IR_OP_ASINH}, {"Acosh", IR_OP_ACOSH},
    {"Atanh", IR_OP_ATANH}, {"Not", IR_OP_NOT}, {"IsNaN", IR_OP_IS_NAN}, {"Mish", IR_OP_MISH},
};

/* Ops with alpha/beta attributes and their ONNX defaults. */
typedef struct {
    const char *op_type;
    IrOp op;
    const char *alpha_name, *beta_name;
    float alpha, beta;
} UnaryWithAttrs;

static const UnaryWithAttrs with_attrs[] = {
    {"LeakyRelu", IR_OP_LEAKY_RELU, "alpha", NULL, 0.01f, 0},
    {"HardSigmoid", IR_OP_HARD_SIGMOID, "alpha", "beta", 0.2f, 0.5f},
    {"Elu", IR_OP_ELU, "alpha", NULL, 1.0f, 0},
    {"Celu", IR_OP_CELU, "alpha", NULL, 1.0f, 0},
    {"ThresholdedRelu", IR_OP_THRESHOLDED_RELU, "alpha", NULL, 1.0f, 0},
    {"Shrink", IR_OP_SHRINK, "lambd", "bias", 0.5f, 0.0f},
};

static SdStatus import_clip(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 1, 3, 1, 1));
    IrNode *n;
    if (c->opset < 11) {
        float lo, hi;
        SD_TRY(onnx_attr_float(c, "min", -FLT_MAX, &lo));
        SD_TRY(onnx_attr_float(c, "max", FLT_MAX, &hi));
        if (!(n = onnx_emit(c, IR_OP_CLIP, c->in, 1, c->out, 1)))
            return c->err->status;
        n->attrs.unary.alpha = lo;
        n->attrs.unary.beta = hi;
        return SD_OK;
    }
    if (!(n = onnx_emit_same(c, IR_OP_CLIP)))
        return c->err->status;
    n->attrs.unary.alpha = -INFINITY; /* shape inference reads the bound inputs, when present */
    n->attrs.unary.beta = INFINITY;
    return SD_OK;
}

static SdStatus import_dropout(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 1, 3, 1, 2));
    float ratio = 0.5f;
    int64_t seed = 0;
    IrNode *n;
    if (c->opset < 12) {
        int64_t is_test = 1;
        SD_TRY(onnx_attr_float(c, "ratio", 0.5f, &ratio));
        if (c->opset < 7)
            SD_TRY(onnx_attr_int(c, "is_test", 0, &is_test));
        (void)is_test; /* seedc compiles inference graphs: Dropout passes its input through */
        n = onnx_emit(c, IR_OP_DROPOUT, c->in, 1, c->out, c->n_out);
    } else {
        SD_TRY(onnx_attr_int(c, "seed", 0, &seed)); /* training mode: seeds the mask's draw */
        n = onnx_emit_same(c, IR_OP_DROPOUT);
    }
    if (!n)
        return c->err->status;
    n->attrs.unary.ratio = ratio;
    n->attrs.unary.seed = seed;
    return SD_OK;
}

static SdStatus import_cast(OnnxCtx *c, bool like)
{
    SD_TRY(onnx_expect_arity(c, like ? 2 : 1, like ? 2 : 1, 1, 1));
    int64_t to = 0;
    if (!like) {
        SD_TRY(onnx_attr_int(c, "to", 0, &to));
        if (!sd_dtype_supported((int)to))
            return onnx_node_error(c, SD_EUNSUPPORTED, "casting to %s is not supported", sd_dtype_name((int)to));
    }
    IrNode *n = onnx_emit_same(c, IR_OP_CAST);
    if (!n)
        return c->err->status;
    n->attrs.unary.to = (SdDType)to;
    return SD_OK;
}

SdStatus onnx_import_unary(OnnxCtx *c)
{
    const char *t = c->node->op_type;
    if (strcmp(t, "Clip") == 0)
        return import_clip(c);
    if (strcmp(t, "Dropout") == 0)
        return import_dropout(c);
    if (strcmp(t, "Cast") == 0 || strcmp(t, "CastLike") == 0)
        return import_cast(c, strcmp(t, "CastLike") == 0);
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
    IrNode *n;
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strcmp(t, simple[i].op_type) == 0)
            return onnx_emit_same(c, simple[i].op) ? SD_OK : c->err->status;
    }
    for (size_t i = 0; i < sizeof with_attrs / sizeof with_attrs[0]; i++) {
        const UnaryWithAttrs *u = &with_attrs[i];
        if (strcmp(t, u->op_type) != 0)
            continue;
        float alpha, beta = u->beta;
        SD_TRY(onnx_attr_float(c, u->alpha_name, u->alpha, &alpha));
        if (u->beta_name)
            SD_TRY(onnx_attr_float(c, u->beta_name, u->beta, &beta));
        if (!(n = onnx_emit_same(c, u->op)))
            return c->err->status;
        n->attrs.unary.alpha = alpha;
        n->attrs.unary.beta = beta;
        return SD_OK;
    }
    if (strcmp(t, "Selu") == 0) {
        float alpha, gamma;
        SD_TRY(onnx_attr_float(c, "alpha", 1.67326319217681884765625f, &alpha));
        SD_TRY(onnx_attr_float(c, "gamma", 1.05070102214813232421875f, &gamma));
        if (!(n = onnx_emit_same(c, IR_OP_SELU)))
            return c->err->status;
        n->attrs.unary.alpha = alpha;
        n->attrs.unary.gamma = gamma;
        return SD_OK;
    }
    if (strcmp(t, "Gelu") == 0) {
        char approx[16];
        SD_TRY(onnx_attr_string(c, "approximate", "none", approx, sizeof approx));
        if (strcmp(approx, "none") != 0 && strcmp(approx, "tanh") != 0)
            return onnx_node_error(c, SD_EBADMODEL, "approximate='%s'; 'none' or 'tanh' is expected", approx);
        return onnx_emit_same(c, strcmp(approx, "tanh") == 0 ? IR_OP_GELU_TANH : IR_OP_GELU) ? SD_OK : c->err->status;
    }
    if (strcmp(t, "IsInf") == 0) {
        int64_t pos, neg;
        SD_TRY(onnx_attr_int(c, "detect_positive", 1, &pos));
        SD_TRY(onnx_attr_int(c, "detect_negative", 1, &neg));
        if (!(n = onnx_emit_same(c, IR_OP_IS_INF)))
            return c->err->status;
        n->attrs.unary.alpha = pos ? 1.0f : 0.0f;
        n->attrs.unary.beta = neg ? 1.0f : 0.0f;
        return SD_OK;
    }
    if (strcmp(t, "Swish") == 0) {
        float alpha;
        SD_TRY(onnx_attr_float(c, "alpha", 1.0f, &alpha));
        if (alpha != 1.0f)
            return onnx_node_error(c, SD_EUNSUPPORTED, "Swish with alpha %g is not supported (only 1)", (double)alpha);
        return onnx_emit_same(c, IR_OP_SILU) ? SD_OK : c->err->status;
    }
    return onnx_node_error(c, SD_EINTERNAL, "no unary translation for %s", t);
}
