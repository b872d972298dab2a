/* passes/shape/unary.c — elementwise unary ops keep their input's shape; Cast, Not, IsNaN/IsInf
 * and Dropout's mask change the type. Clip's bounds and Dropout's ratio are read into attributes. */
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
    case IR_OP_DROPOUT: {
        if (shape_has_input(n, 2)) {
            if (!ir_value_is_constant(n->inputs[2]))
                return shape_error(c, n, SD_EUNSUPPORTED, "training_mode must be a constant");
            if (*(const uint8_t *)n->inputs[2]->data)
                return shape_error(c, n, SD_EUNSUPPORTED, "Dropout in training mode is not supported in inference graphs");
        }
        ir_node_truncate_inputs(n, 1);
        if (n->n_outputs > 1)
            shape_set(n, 1, SD_DT_BOOL, &x->shape);
        break;
    }
    case IR_OP_IDENTITY:
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
