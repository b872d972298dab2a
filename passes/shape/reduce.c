/* passes/shape/reduce.c — reductions and ArgMax/ArgMin. Axes given as an input (a compile-time
 * constant) are read into the attributes and the input dropped; they end sorted, non-negative and
 * explicit: "all axes" is spelled out, so n_axes == 0 afterwards means either a rank-0 input or
 * noop_with_empty_axes (the output is a copy of the input). */
#include <string.h>

#include "passes/shape/shape.h"

static bool is_arg(const IrNode *n) { return n->op == IR_OP_ARGMAX || n->op == IR_OP_ARGMIN; }

static SdStatus check_dtype(ShapeCtx *c, const IrNode *n, const IrValue *x)
{
    bool extreme = n->op == IR_OP_REDUCE_MAX || n->op == IR_OP_REDUCE_MIN || is_arg(n);
    switch (x->dtype) {
    case SD_DT_F32: case SD_DT_I64: case SD_DT_I32: return SD_OK;
    case SD_DT_U8: case SD_DT_I8: case SD_DT_BOOL:
        if (extreme && (x->dtype != SD_DT_BOOL || !is_arg(n)))
            return SD_OK;
        break;
    default: break;
    }
    return shape_error(c, n, SD_EDTYPE, "input '%s' is %s; this reduction takes f32, i64 or i32%s", x->name,
                       sd_dtype_name(x->dtype), extreme ? (is_arg(n) ? ", u8 or i8" : ", u8, i8 or bool") : "");
}

static SdStatus shape_arg(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrReduceAttrs *a = &n->attrs.reduce;
    int r = x->shape.rank;
    if (r < 1)
        return shape_error(c, n, SD_ESHAPE, "input '%s' is a scalar; rank 1 or more is expected", x->name);
    SD_TRY(shape_axis(c, n, a->axes[0], r, &a->axes[0]));
    a->n_axes = 1;
    if (x->shape.dims[a->axes[0]] == 0)
        return shape_error(c, n, SD_ESHAPE, "axis %lld of '%s' is empty; there is no extreme to index",
                           (long long)a->axes[0], x->name);
    IrShape s = {0};
    for (int i = 0; i < r; i++) {
        if (i != a->axes[0])
            s.dims[s.rank++] = x->shape.dims[i];
        else if (a->keepdims)
            s.dims[s.rank++] = 1;
    }
    shape_set(n, 0, SD_DT_I64, &s);
    return SD_OK;
}

SdStatus shape_reduce(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    SD_TRY(check_dtype(c, n, x));
    if (is_arg(n))
        return shape_arg(c, n);

    IrReduceAttrs *a = &n->attrs.reduce;
    int r = x->shape.rank;
    if (shape_has_input(n, 1)) {
        if (n->inputs[1]->shape.rank > 1)
            return shape_error(c, n, SD_ESHAPE, "axes '%s' must be 1-D", n->inputs[1]->name);
        SD_TRY(shape_const_ints(c, n, 1, a->axes, IR_MAX_RANK, &a->n_axes));
    }
    ir_node_truncate_inputs(n, 1);
    unsigned seen = 0;
    for (int i = 0; i < a->n_axes; i++) {
        int64_t ax;
        SD_TRY(shape_axis(c, n, a->axes[i], r, &ax));
        if (seen & (1u << ax))
            return shape_error(c, n, SD_EBADMODEL, "axis %lld is listed twice", (long long)a->axes[i]);
        seen |= 1u << ax;
    }
    if (a->n_axes == 0 && !a->noop_with_empty_axes)
        seen = r ? (1u << r) - 1 : 0;
    a->n_axes = 0;
    for (int i = 0; i < r; i++)
        if (seen & (1u << i))
            a->axes[a->n_axes++] = i;
    if (a->n_axes)
        a->noop_with_empty_axes = false; /* only meaningful for empty axes */

    IrShape s = {0};
    for (int i = 0; i < r; i++) {
        if (!(seen & (1u << i)))
            s.dims[s.rank++] = x->shape.dims[i];
        else if (a->keepdims)
            s.dims[s.rank++] = 1;
    }
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}
