/* passes/shape/softmax.c — Softmax, LogSoftmax, Hardmax: the output has the input's type and
 * shape; the axis ends non-negative. Their gradients (dy, y) have dy's shape. The losses take an
 * input [N, C, d...] (class axis 1), a target of class indices [N, d...] (i64/i32) or, for
 * SoftmaxCrossEntropy and NLL alike, probabilities shaped like the input (f32), and NLL optional
 * weights [C]; the loss is a scalar, or [N, d...] with reduction none. A loss gradient has the
 * input's shape. */
#include "passes/shape/shape.h"

static bool is_loss(IrOp op)
{
    return op == IR_OP_SOFTMAX_CROSS_ENTROPY || op == IR_OP_NEGATIVE_LOG_LIKELIHOOD;
}

static SdStatus same_shape(ShapeCtx *c, const IrNode *n, int i, const IrShape *s, const char *what)
{
    const IrValue *v = n->inputs[i];
    if (ir_shape_equal(&v->shape, s))
        return SD_OK;
    char sa[128], sb[128];
    return shape_error(c, n, SD_ESHAPE, "input %d ('%s') has shape %s, expected %s (%s)", i, v->name,
                       ir_shape_str(&v->shape, sa, sizeof sa), ir_shape_str(s, sb, sizeof sb), what);
}

/* x [N, C, d...] at input xi, target at input xi + 1, optional weights at xi + 2. */
static SdStatus loss_operands(ShapeCtx *c, const IrNode *n, int xi, IrShape *positions)
{
    const IrValue *x = n->inputs[xi], *t = n->inputs[xi + 1];
    SD_TRY(shape_expect_dtype(c, n, xi, SD_DT_F32));
    SD_TRY(shape_expect_rank(c, n, xi, 2, IR_MAX_RANK));
    IrShape pos = {0};
    for (int i = 0; i < x->shape.rank; i++)
        if (i != 1)
            pos.dims[pos.rank++] = x->shape.dims[i];
    if (t->dtype == SD_DT_F32)
        SD_TRY(same_shape(c, n, xi + 1, &x->shape, "soft targets: the input's shape"));
    else if (t->dtype == SD_DT_I64 || t->dtype == SD_DT_I32)
        SD_TRY(same_shape(c, n, xi + 1, &pos, "class indices"));
    else
        return shape_error(c, n, SD_EDTYPE, "target '%s' is %s; class indices (i64, i32) or probabilities (f32) are expected",
                           t->name, sd_dtype_name(t->dtype));
    if (shape_has_input(n, xi + 2)) {
        SD_TRY(shape_expect_dtype(c, n, xi + 2, SD_DT_F32));
        SD_TRY(same_shape(c, n, xi + 2, &(IrShape){.rank = 1, .dims = {x->shape.dims[1]}}, "one weight per class"));
    }
    *positions = pos;
    return SD_OK;
}

static SdStatus shape_loss(ShapeCtx *c, IrNode *n)
{
    IrShape pos;
    bool grad = !is_loss(n->op);
    int xi = grad ? 1 : 0;
    SD_TRY(loss_operands(c, n, xi, &pos));
    IrShape scalar = {0}, *loss_shape = n->attrs.softmax.reduction == IR_REDUCTION_NONE ? &pos : &scalar;
    if (!grad) {
        shape_set(n, 0, SD_DT_F32, loss_shape);
        return SD_OK;
    }
    SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    SD_TRY(same_shape(c, n, 0, loss_shape, "the loss gradient"));
    shape_set(n, 0, SD_DT_F32, &n->inputs[1]->shape);
    return SD_OK;
}

SdStatus shape_softmax(ShapeCtx *c, IrNode *n)
{
    switch (n->op) {
    case IR_OP_SOFTMAX_CROSS_ENTROPY: case IR_OP_SOFTMAX_CROSS_ENTROPY_GRAD:
    case IR_OP_NEGATIVE_LOG_LIKELIHOOD: case IR_OP_NEGATIVE_LOG_LIKELIHOOD_GRAD:
        return shape_loss(c, n);
    case IR_OP_SOFTMAX_GRAD: case IR_OP_LOG_SOFTMAX_GRAD:
        SD_TRY(shape_expect_dtype(c, n, 1, SD_DT_F32));
        SD_TRY(same_shape(c, n, 1, &n->inputs[0]->shape, "the output, shaped like dy"));
        break;
    default:
        break;
    }
    const IrValue *x = n->inputs[0];
    SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    SD_TRY(shape_expect_rank(c, n, 0, 1, IR_MAX_RANK));
    SD_TRY(shape_axis(c, n, n->attrs.softmax.axis, x->shape.rank, &n->attrs.softmax.axis));
    shape_set(n, 0, x->dtype, &x->shape);
    return SD_OK;
}
