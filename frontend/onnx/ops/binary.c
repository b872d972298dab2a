/* frontend/onnx/ops/binary.c — binary elementwise operators, the variadic ones (Sum, Mean, Max,
 * Min) as chains, and the legacy broadcasting of opsets before 7 (an explicit axis aligns the
 * second operand at that axis instead of at the end). */
#include <string.h>

#include "frontend/onnx/import.h"

static const struct {
    const char *op_type;
    IrOp op;
} binary_ops[] = {
    {"Add", IR_OP_ADD}, {"Sub", IR_OP_SUB}, {"Mul", IR_OP_MUL}, {"Div", IR_OP_DIV}, {"Pow", IR_OP_POW},
    {"Mod", IR_OP_MOD}, {"PRelu", IR_OP_PRELU}, {"Equal", IR_OP_EQUAL}, {"Less", IR_OP_LESS},
    {"LessOrEqual", IR_OP_LESS_EQUAL}, {"Greater", IR_OP_GREATER}, {"GreaterOrEqual", IR_OP_GREATER_EQUAL},
    {"And", IR_OP_AND}, {"Or", IR_OP_OR}, {"Xor", IR_OP_XOR},
};

/* Opsets < 7 with broadcast=1 and an axis: B's dims line up with A's from `axis` on, so B gets
 * trailing unit dims to make NumPy's right alignment agree. Needs both ranks at import. */
static SdStatus legacy_broadcast(OnnxCtx *c, IrValue **b)
{
    int64_t broadcast, axis;
    SD_TRY(onnx_attr_int(c, "broadcast", 0, &broadcast));
    if (!broadcast || !onnx_attr(c, "axis"))
        return SD_OK;
    SD_TRY(onnx_attr_int(c, "axis", 0, &axis));
    IrValue *a = c->in[0];
    if (!a->has_shape || !(*b)->has_shape)
        return onnx_node_error(c, SD_EUNSUPPORTED, "legacy broadcasting with an axis needs the operand shapes at import");
    int ra = a->shape.rank, rb = (*b)->shape.rank;
    if (axis < 0)
        axis += ra;
    int trailing = ra - (int)axis - rb;
    if (trailing < 0 || axis < 0)
        return onnx_node_error(c, SD_EBADMODEL, "legacy broadcast axis %lld does not fit ranks %d and %d", (long long)axis,
                               ra, rb);
    if (trailing == 0)
        return SD_OK;
    int64_t shape[IR_MAX_RANK];
    int n = 0;
    for (int i = 0; i < rb; i++)
        shape[n++] = (*b)->shape.dims[i];
    for (int i = 0; i < trailing && n < IR_MAX_RANK; i++)
        shape[n++] = 1;
    IrValue *target = onnx_const_ints(c, "legacy_shape", shape, n);
    IrValue *reshaped = onnx_temp(c, "legacy_b", (*b)->dtype);
    if (!target || !reshaped || !onnx_emit(c, IR_OP_RESHAPE, (IrValue *[]){*b, target}, 2, &reshaped, 1))
        return c->err->status ? c->err->status : SD_ENOMEM;
    *b = reshaped;
    return SD_OK;
}

/* PRelu before opset 7: a 1-D slope of C values applies per channel (axis 1), not NumPy-style. */
static SdStatus legacy_prelu_slope(OnnxCtx *c, IrValue **slope)
{
    IrValue *x = c->in[0], *s = *slope;
    if (!x->has_shape || !s->has_shape || s->shape.rank != 1 || x->shape.rank <= 2 || s->shape.dims[0] == 1 ||
        s->shape.dims[0] != x->shape.dims[1])
        return SD_OK;
    int64_t shape[IR_MAX_RANK];
    shape[0] = s->shape.dims[0];
    for (int i = 1; i < x->shape.rank - 1; i++)
        shape[i] = 1;
    IrValue *target = onnx_const_ints(c, "slope_shape", shape, x->shape.rank - 1);
    IrValue *reshaped = onnx_temp(c, "slope", s->dtype);
    if (!target || !reshaped || !onnx_emit(c, IR_OP_RESHAPE, (IrValue *[]){s, target}, 2, &reshaped, 1))
        return c->err->status ? c->err->status : SD_ENOMEM;
    *slope = reshaped;
    return SD_OK;
}

/* in[0] op in[1] op ... into out[0]; Mean divides the sum by the count. */
static SdStatus chain(OnnxCtx *c, IrOp op, bool mean)
{
    SD_TRY(onnx_expect_arity(c, 1, IR_MAX_OUTPUTS, 1, 1));
    for (int i = 0; i < c->n_in; i++)
        if (!c->in[i])
            return onnx_node_error(c, SD_EBADMODEL, "input %d is empty", i);
    if (c->n_in == 1 && !mean)
        return onnx_emit(c, IR_OP_IDENTITY, c->in, 1, c->out, 1) ? SD_OK : c->err->status;
    IrValue *acc = c->in[0];
    for (int i = 1; i < c->n_in; i++) {
        bool last = i == c->n_in - 1 && !mean;
        IrValue *dst = last ? c->out[0] : onnx_temp(c, "partial", acc->dtype);
        if (!dst || !onnx_emit(c, op, (IrValue *[]){acc, c->in[i]}, 2, &dst, 1))
            return c->err->status;
        acc = dst;
    }
    if (mean) {
        IrValue *count = onnx_const_scalar_f32(c, "count", (float)c->n_in);
        if (!count || !onnx_emit(c, IR_OP_DIV, (IrValue *[]){acc, count}, 2, c->out, 1))
            return c->err->status;
    }
    return SD_OK;
}

SdStatus onnx_import_binary(OnnxCtx *c)
{
    const char *t = c->node->op_type;
    if (strcmp(t, "Sum") == 0)
        return chain(c, IR_OP_ADD, false);
    if (strcmp(t, "Mean") == 0)
        return chain(c, IR_OP_ADD, true);
    if (strcmp(t, "Max") == 0)
        return chain(c, IR_OP_MAX, false);
    if (strcmp(t, "Min") == 0)
        return chain(c, IR_OP_MIN, false);
    if (strcmp(t, "Where") == 0) {
        SD_TRY(onnx_expect_arity(c, 3, 3, 1, 1));
        return onnx_emit_same(c, IR_OP_WHERE) ? SD_OK : c->err->status;
    }
    for (size_t i = 0; i < sizeof binary_ops / sizeof binary_ops[0]; i++) {
        if (strcmp(t, binary_ops[i].op_type) != 0)
            continue;
        SD_TRY(onnx_expect_arity(c, 2, 2, 1, 1));
        IrValue *b = c->in[1];
        if (c->opset < 7 && binary_ops[i].op == IR_OP_PRELU)
            SD_TRY(legacy_prelu_slope(c, &b));
        else if (c->opset < 7)
            SD_TRY(legacy_broadcast(c, &b));
        IrNode *n = onnx_emit(c, binary_ops[i].op, (IrValue *[]){c->in[0], b}, 2, c->out, 1);
        if (!n)
            return c->err->status;
        if (binary_ops[i].op == IR_OP_MOD) {
            int64_t fmod;
            SD_TRY(onnx_attr_int(c, "fmod", 0, &fmod));
            n->attrs.binary.fmod = fmod != 0;
        }
        return SD_OK;
    }
    return onnx_node_error(c, SD_EINTERNAL, "no binary translation for %s", t);
}
