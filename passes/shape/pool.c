/* passes/shape/pool.c — pooling windows and global pools. Windows get default strides and
 * dilations and explicit pads (auto_pad resolved), and their output sizes follow ceil_mode with
 * the rule that the last window must start inside the input or its leading padding. MaxPool's
 * optional second output is the i64 index of each maximum. The pool gradients check the forward
 * window again against their operands. */
#include "passes/shape/window.h"

/* MAX_POOL_GRAD / AVG_POOL_GRAD (dy, x) -> dx shaped like x: the forward window over x must give
 * dy's shape. */
static SdStatus shape_pool_grad(ShapeCtx *c, IrNode *n)
{
    const IrValue *dy = n->inputs[0], *x = n->inputs[1];
    IrPoolAttrs *a = &n->attrs.pool;
    SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    SD_TRY(shape_same_dtype(c, n, 0, 1));
    SD_TRY(shape_expect_rank(c, n, 1, 3, 2 + IR_MAX_SPATIAL));
    int ns = x->shape.rank - 2;
    char sx[128], sd[128], sw[128];
    if (a->nspatial != ns)
        return shape_error(c, n, SD_ESHAPE, "the forward pool has %d spatial dimensions, but input '%s' has shape %s",
                           a->nspatial, x->name, ir_shape_str(&x->shape, sx, sizeof sx));
    int64_t out[IR_MAX_SPATIAL];
    ShapeWindow win = {ns, x->shape.dims + 2, a->kernel, a->strides, a->dilations, a->pads, &a->auto_pad, &a->ceil_mode};
    SD_TRY(shape_window(c, n, &win, out));
    IrShape want = x->shape;
    for (int i = 0; i < ns; i++)
        want.dims[2 + i] = out[i];
    if (!ir_shape_equal(&dy->shape, &want))
        return shape_error(c, n, SD_ESHAPE, "the gradient '%s' has shape %s; the forward pool over '%s' %s gives %s",
                           dy->name, ir_shape_str(&dy->shape, sd, sizeof sd), x->name,
                           ir_shape_str(&x->shape, sx, sizeof sx), ir_shape_str(&want, sw, sizeof sw));
    shape_set(n, 0, x->dtype, &x->shape);
    return SD_OK;
}

SdStatus shape_pool(ShapeCtx *c, IrNode *n)
{
    if (n->op == IR_OP_MAX_POOL_GRAD || n->op == IR_OP_AVG_POOL_GRAD)
        return shape_pool_grad(c, n);
    const IrValue *x = n->inputs[0];
    IrPoolAttrs *a = &n->attrs.pool;
    bool global = n->op == IR_OP_GLOBAL_AVG_POOL || n->op == IR_OP_GLOBAL_MAX_POOL || n->op == IR_OP_GLOBAL_LP_POOL;
    bool ints_ok = n->op == IR_OP_MAX_POOL && n->n_outputs == 1;
    if (x->dtype != SD_DT_F32 && x->dtype != SD_DT_F16 && x->dtype != SD_DT_BF16 &&
        !(ints_ok && (x->dtype == SD_DT_U8 || x->dtype == SD_DT_I8)))
        return shape_error(c, n, SD_EDTYPE, "input 0 ('%s') is %s; a float tensor%s is expected", x->name,
                           sd_dtype_name(x->dtype), ints_ok ? " (or u8/i8)" : "");
    if ((n->op == IR_OP_LP_POOL || n->op == IR_OP_GLOBAL_LP_POOL) && (a->p < 1 || a->p > 64))
        return shape_error(c, n, SD_EUNSUPPORTED, "p = %lld; an integer from 1 to 64 is supported", (long long)a->p);
    IrShape s = x->shape;
    if (global) {
        SD_TRY(shape_expect_rank(c, n, 0, 2, IR_MAX_RANK));
        a->nspatial = x->shape.rank - 2;
        for (int i = 2; i < s.rank; i++)
            s.dims[i] = 1;
        shape_set(n, 0, x->dtype, &s);
        return SD_OK;
    }
    SD_TRY(shape_expect_rank(c, n, 0, 3, 2 + IR_MAX_SPATIAL));
    int ns = x->shape.rank - 2;
    if (a->nspatial != ns) {
        char sx[128];
        return shape_error(c, n, SD_ESHAPE, "kernel_shape has %d values, but input '%s' has shape %s (%d spatial dimensions)",
                           a->nspatial, x->name, ir_shape_str(&x->shape, sx, sizeof sx), ns);
    }
    int64_t out[IR_MAX_SPATIAL];
    ShapeWindow win = {ns, x->shape.dims + 2, a->kernel, a->strides, a->dilations, a->pads, &a->auto_pad, &a->ceil_mode};
    SD_TRY(shape_window(c, n, &win, out));
    for (int i = 0; i < ns; i++)
        s.dims[2 + i] = out[i];
    shape_set(n, 0, x->dtype, &s);
    if (n->n_outputs > 1)
        shape_set(n, 1, SD_DT_I64, &s);
    return SD_OK;
}
