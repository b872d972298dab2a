/* passes/shape/binary.c — NumPy broadcasting for binary ops and Where; comparisons and logic give
 * bool. Pow with an exponent of another type gets a converted constant exponent. */
#include <stdlib.h>

#include "passes/shape/shape.h"
#include "support/mem.h"

static bool is_compare(IrOp op)
{
    return op == IR_OP_EQUAL || op == IR_OP_LESS || op == IR_OP_LESS_EQUAL || op == IR_OP_GREATER ||
           op == IR_OP_GREATER_EQUAL;
}

/* Pow(x: f32, y: i64) and the like: a constant exponent is converted to x's type. */
static SdStatus convert_exponent(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0], *y = n->inputs[1];
    if (x->dtype != SD_DT_F32 || !ir_value_is_constant(y) || (y->dtype != SD_DT_I64 && y->dtype != SD_DT_I32))
        return shape_error(c, n, SD_EUNSUPPORTED, "Pow of %s by %s is not supported (the exponent must be f32, or a constant integer)",
                           sd_dtype_name(x->dtype), sd_dtype_name(y->dtype));
    int64_t numel = ir_value_numel(y);
    float *data = sd_aligned_alloc((size_t)numel * sizeof(float));
    if (!data)
        return shape_error(c, n, SD_ENOMEM, "out of memory");
    for (int64_t i = 0; i < numel; i++)
        data[i] = y->dtype == SD_DT_I64 ? (float)((const int64_t *)y->data)[i] : (float)((const int32_t *)y->data)[i];
    IrValue *f = ir_value_new(c->g, y->name, SD_DT_F32, &y->shape);
    if (!f) {
        sd_aligned_free(data);
        return shape_error(c, n, SD_ENOMEM, "out of memory");
    }
    ir_value_adopt_data(f, data, (size_t)numel * sizeof(float));
    ir_node_set_input(n, 1, f);
    return SD_OK;
}

SdStatus shape_binary(ShapeCtx *c, IrNode *n)
{
    IrShape s;
    if (n->op == IR_OP_FUSED_ELTWISE) {
        s = n->inputs[0]->shape;
        for (int i = 0; i < n->n_inputs; i++) {
            SD_TRY(shape_expect_dtype(c, n, i, SD_DT_F32));
            SD_TRY(shape_broadcast(c, n, &s, &n->inputs[i]->shape, &s));
        }
        shape_set(n, 0, SD_DT_F32, &s);
        return SD_OK;
    }
    if (n->op == IR_OP_WHERE) {
        SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_BOOL));
        SD_TRY(shape_same_dtype(c, n, 1, 2));
        IrShape ab;
        SD_TRY(shape_broadcast(c, n, &n->inputs[1]->shape, &n->inputs[2]->shape, &ab));
        SD_TRY(shape_broadcast(c, n, &n->inputs[0]->shape, &ab, &s));
        shape_set(n, 0, n->inputs[1]->dtype, &s);
        return SD_OK;
    }
    if (n->op == IR_OP_POW && n->inputs[0]->dtype != n->inputs[1]->dtype)
        SD_TRY(convert_exponent(c, n));
    SD_TRY(shape_same_dtype(c, n, 0, 1));
    SD_TRY(shape_broadcast(c, n, &n->inputs[0]->shape, &n->inputs[1]->shape, &s));
    SdDType dt = n->inputs[0]->dtype;
    if (n->op == IR_OP_AND || n->op == IR_OP_OR || n->op == IR_OP_XOR)
        SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_BOOL));
    if (n->op == IR_OP_PRELU && !ir_shape_equal(&s, &n->inputs[0]->shape))
        return shape_error(c, n, SD_ESHAPE, "the slope must broadcast to the input's shape");
    shape_set(n, 0, is_compare(n->op) ? SD_DT_BOOL : dt, &s);
    return SD_OK;
}
