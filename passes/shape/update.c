/* passes/shape/update.c — in-place updates of persistent state: they produce nothing, so shape
 * inference only checks that the new values fit the storage they are written into. */
#include "passes/shape/shape.h"

static SdStatus same_shape(ShapeCtx *c, IrNode *n, int a, int b)
{
    const IrValue *x = n->inputs[a], *y = n->inputs[b];
    char sa[128], sb[128];
    if (x->dtype != y->dtype || !ir_shape_equal(&x->shape, &y->shape))
        return shape_error(c, n, SD_ESHAPE, "'%s' is %s%s but '%s' is %s%s", x->name, sd_dtype_name(x->dtype),
                           ir_shape_str(&x->shape, sa, sizeof sa), y->name, sd_dtype_name(y->dtype),
                           ir_shape_str(&y->shape, sb, sizeof sb));
    return SD_OK;
}

static SdStatus scalar_f32(ShapeCtx *c, IrNode *n, int i)
{
    const IrValue *v = n->inputs[i];
    if (v->dtype != SD_DT_F32 || ir_value_numel(v) != 1)
        return shape_error(c, n, SD_ESHAPE, "'%s' must be an f32 scalar (the learning rate)", v->name);
    return SD_OK;
}

/* Hyperparameters come from recipes: a decay outside [0, 1) diverges or never forgets. */
static SdStatus check_hyper(ShapeCtx *c, IrNode *n)
{
    const IrUpdateAttrs *a = &n->attrs.update;
    bool ema = n->op == IR_OP_EMA_UPDATE, adam = n->op == IR_OP_ADAMW_UPDATE || n->op == IR_OP_LAMB_UPDATE;
    if (!(a->momentum >= 0.0 && (ema ? a->momentum <= 1.0 : a->momentum < 1.0)))
        return shape_error(c, n, SD_EUSAGE, "momentum %g is outside [0, %s", a->momentum, ema ? "1]" : "1)");
    if (!(a->weight_decay >= 0.0) || (n->op == IR_OP_LARS_UPDATE && !(a->trust_coefficient > 0.0)))
        return shape_error(c, n, SD_EUSAGE, "weight decay %g and trust coefficient %g: a weight decay >= 0 and a "
                           "trust coefficient > 0 are expected", a->weight_decay, a->trust_coefficient);
    if (adam && (!(a->beta1 >= 0.0 && a->beta1 < 1.0) || !(a->beta2 >= 0.0 && a->beta2 < 1.0) || !(a->epsilon >= 0.0)))
        return shape_error(c, n, SD_EUSAGE, "betas (%g, %g) and epsilon %g: betas in [0, 1) and epsilon >= 0 are expected",
                           a->beta1, a->beta2, a->epsilon);
    return SD_OK;
}

SdStatus shape_update(ShapeCtx *c, IrNode *n)
{
    const IrValue *dst = n->inputs[0];
    if (dst->role != IR_ROLE_PARAM && dst->role != IR_ROLE_STATE)
        return shape_error(c, n, SD_EINTERNAL, "'%s' is not a parameter or state", dst->name);
    if (n->op != IR_OP_ASSIGN && n->op != IR_OP_QUEUE_PUSH) {
        if (dst->dtype != SD_DT_F32)
            return shape_error(c, n, SD_EDTYPE, "'%s' is %s; this update takes f32", dst->name,
                               sd_dtype_name(dst->dtype));
        SD_TRY(check_hyper(c, n));
    }
    switch (n->op) {
    case IR_OP_ASSIGN:
    case IR_OP_EMA_UPDATE:
        return same_shape(c, n, 0, 1);
    case IR_OP_SGD_UPDATE:
    case IR_OP_LARS_UPDATE: /* param, grad, velocity (SGD without momentum: any tensor of the shape), lr */
        SD_TRY(same_shape(c, n, 0, 1));
        SD_TRY(same_shape(c, n, 0, 2));
        return scalar_f32(c, n, 3);
    case IR_OP_ADAMW_UPDATE:
    case IR_OP_LAMB_UPDATE: /* param, grad, m, v, lr, step (i64 scalar, counted from 1) */
        SD_TRY(same_shape(c, n, 0, 1));
        SD_TRY(same_shape(c, n, 0, 2));
        SD_TRY(same_shape(c, n, 0, 3));
        SD_TRY(scalar_f32(c, n, 4));
        if (n->inputs[5]->dtype != SD_DT_I64 || ir_value_numel(n->inputs[5]) != 1)
            return shape_error(c, n, SD_ESHAPE, "the step count must be an i64 scalar");
        return SD_OK;
    case IR_OP_QUEUE_PUSH: { /* queue [K, D], items [B, D], position i64 scalar state */
        const IrValue *q = dst, *items = n->inputs[1], *pos = n->inputs[2];
        if (q->shape.rank != 2 || items->shape.rank != 2 || items->shape.dims[1] != q->shape.dims[1] ||
            items->shape.dims[0] > q->shape.dims[0] || q->dtype != items->dtype)
            return shape_error(c, n, SD_ESHAPE, "items [B, D] must fit the queue [K, D] with B <= K");
        if (pos->dtype != SD_DT_I64 || ir_value_numel(pos) != 1 || pos->role != IR_ROLE_STATE)
            return shape_error(c, n, SD_ESHAPE, "the queue position must be an i64 scalar state");
        return SD_OK;
    }
    default:
        return shape_error(c, n, SD_EINTERNAL, "not an update op");
    }
}
