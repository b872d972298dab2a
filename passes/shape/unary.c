/* passes/shape/unary.c — elementwise unary ops keep their input's shape; Cast, Not, IsNaN/IsInf
 * and Dropout's mask change the type. Clip's bounds and Dropout's ratio and mode are read into
 * attributes. StopGradient is an identity here; UnaryGrad (dy, x[, y]) has dy's shape. */
#include <math.h>
#include <string.h>

#include "passes/shape/shape.h"

static SdStatus clip_bounds(ShapeCtx *c, IrNode *n)
{
    IrUnaryAttrs *a = &n->attrs.unary;
    for (int i = 1; i < n->n_inputs; i++) {
        if (!shape_has_input(n, i))
            continue;
        if (ir_value_numel(n->inputs[i]) != 1)
            return shape_error(c, n, SD_EBADMODEL, "the %s bound must be a scalar", i == 1 ? "min" : "max");
        float v;
        int count;
        if (n->inputs[i]->dtype == SD_DT_F32 || n->inputs[i]->dtype == SD_DT_I64 || n->inputs[i]->dtype == SD_DT_I32)
            SD_TRY(shape_const_floats(c, n, i, &v, 1, &count));
        else
            return shape_error(c, n, SD_EUNSUPPORTED, "Clip bounds of type %s are not supported",
                               sd_dtype_name(n->inputs[i]->dtype));
        if (i == 1)
            a->alpha = v;
        else
            a->beta = v;
    }
    ir_node_truncate_inputs(n, 1);
    return SD_OK;
}

/* Dropout: the ratio (input 1) and training_mode (input 2) go into the attributes; in training
 * mode an optional i64 scalar counter (input 3) stays, at that index (inputs 1 and 2 left empty),
 * and feeds the mask's random draw with the seed attribute. */
static SdStatus dropout_inputs(ShapeCtx *c, IrNode *n)
{
    IrUnaryAttrs *a = &n->attrs.unary;
    if (shape_has_input(n, 2)) {
        const IrValue *t = n->inputs[2];
        if (!ir_value_is_constant(t) || ir_value_numel(t) != 1)
            return shape_error(c, n, SD_EUNSUPPORTED, "training_mode must be a constant scalar");
        if (t->dtype != SD_DT_BOOL)
            return shape_error(c, n, SD_EDTYPE, "training_mode is %s; bool is expected", sd_dtype_name(t->dtype));
        a->training = *(const uint8_t *)t->data != 0;
    }
    if (shape_has_input(n, 1) && (a->training || ir_value_is_constant(n->inputs[1]))) {
        float r;
        int count;
        if (ir_value_numel(n->inputs[1]) != 1)
            return shape_error(c, n, SD_EBADMODEL, "the ratio must be a scalar");
        SD_TRY(shape_const_floats(c, n, 1, &r, 1, &count)); /* says so when it is not a constant */
        a->ratio = r;
    }
    IrValue *counter = shape_has_input(n, 3) ? n->inputs[3] : NULL;
    if (!a->training) {
        ir_node_truncate_inputs(n, 1);
        return SD_OK;
    }
    if (!(a->ratio >= 0.0f && a->ratio <= 1.0f))
        return shape_error(c, n, SD_EBADMODEL, "ratio %g is outside [0, 1]", (double)a->ratio);
    SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    if (counter && (counter->dtype != SD_DT_I64 || ir_value_numel(counter) != 1))
        return shape_error(c, n, SD_EDTYPE, "the RNG counter '%s' must be an i64 scalar", counter->name);
    if (counter) {
        ir_node_set_input(n, 1, NULL);
        ir_node_set_input(n, 2, NULL);
    } else {
        ir_node_truncate_inputs(n, 1);
    }
    return SD_OK;
}

/* UNARY_GRAD: dy, x and the optional forward output y, all f32 of one shape. */
static SdStatus unary_grad_inputs(ShapeCtx *c, IrNode *n)
{
    for (int i = 0; i < n->n_inputs; i++) {
        if (!shape_has_input(n, i)) {
            if (i == 2)
                continue;
            return shape_error(c, n, SD_EBADMODEL, "input %d is missing", i);
        }
        SD_TRY(shape_expect_dtype(c, n, i, SD_DT_F32));
        if (!ir_shape_equal(&n->inputs[i]->shape, &n->inputs[0]->shape)) {
            char sa[128], sb[128];
            return shape_error(c, n, SD_ESHAPE, "input %d ('%s') has shape %s; the gradient dy has %s", i,
                               n->inputs[i]->name, ir_shape_str(&n->inputs[i]->shape, sa, sizeof sa),
                               ir_shape_str(&n->inputs[0]->shape, sb, sizeof sb));
        }
    }
    return SD_OK;
}

SdStatus shape_unary(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    SdDType out = x->dtype;
    switch (n->op) {
    case IR_OP_CAST:
        if (shape_has_input(n, 1)) { /* CastLike: the type of the second input */
            n->attrs.unary.to = n->inputs[1]->dtype;
            ir_node_truncate_inputs(n, 1);
        }
        out = n->attrs.unary.to;
        if (sd_dtype_size(out) == 0)
            return shape_error(c, n, SD_EUNSUPPORTED, "casting to %s is not supported", sd_dtype_name(out));
        break;
    case IR_OP_NOT:
        SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_BOOL));
        break;
    case IR_OP_IS_NAN: case IR_OP_IS_INF:
        SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
        out = SD_DT_BOOL;
        break;
    case IR_OP_CLIP:
        SD_TRY(clip_bounds(c, n));
        break;
    case IR_OP_DROPOUT:
        SD_TRY(dropout_inputs(c, n));
        if (n->n_outputs > 1)
            shape_set(n, 1, SD_DT_BOOL, &x->shape);
        break;
    case IR_OP_UNARY_GRAD:
        SD_TRY(unary_grad_inputs(c, n));
        break;
    case IR_OP_IDENTITY:
    case IR_OP_STOP_GRADIENT:
        break;
    default:
        if (x->dtype != SD_DT_F32 && x->dtype != SD_DT_I64 && x->dtype != SD_DT_I32)
            return shape_error(c, n, SD_EUNSUPPORTED, "element type %s is not supported (f32 is)",
                               sd_dtype_name(x->dtype));
        break;
    }
    shape_set(n, 0, out, &x->shape);
    return SD_OK;
}
