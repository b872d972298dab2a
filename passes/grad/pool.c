/* passes/grad/pool.c — gradients of the pools.
 *   MaxPool:         MAX_POOL_GRAD(dy, x): each dy to the first maximum of its window (PyTorch's
 *                    tie-break); the Indices output carries no gradient.
 *   AveragePool:     AVG_POOL_GRAD(dy, x), divisors as the forward's (pads, count_include_pad,
 *                    ceil_mode, dilations).
 *   GlobalAveragePool: dy / (spatial size), expanded over the spatial dims.
 *   GlobalMaxPool:   a MAX_POOL_GRAD over the flattened spatial dims, one window per plane, so ties
 *                    go to the first maximum as for MaxPool.
 *   LpPool and GlobalLpPool have no gradient yet. */
#include <string.h>

#include "passes/grad/grad.h"

static void set_attrs(IrNode *n, const void *arg) { n->attrs = *(const IrAttrs *)arg; }

static IrValue *pool_grad_op(GradCtx *c, IrOp op, IrValue *dy, IrValue *x, const IrPoolAttrs *a)
{
    IrAttrs at;
    memset(&at, 0, sizeof at);
    at.pool = *a;
    IrNode *n = grad_node(c, op, (IrValue *[]){dy, x}, 2, 1, set_attrs, &at);
    return n ? n->outputs[0] : NULL;
}

static int64_t spatial_size(const IrShape *s)
{
    int64_t size = 1;
    for (int i = 2; i < s->rank; i++)
        size *= s->dims[i];
    return size;
}

static IrValue *global_avg_grad(GradCtx *c, IrValue *dy, const IrValue *x)
{
    IrValue *k = grad_const(c, 1.0f / (float)spatial_size(&x->shape));
    IrValue *scaled = k ? grad_op(c, IR_OP_MUL, (IrValue *[]){dy, k}, 2) : NULL;
    if (!scaled)
        return NULL;
    IrShape s = ir_shape_make(1, (int64_t[]){x->shape.rank});
    IrValue *shape = ir_constant_new(c->g, "grad_shape", SD_DT_I64, &s, x->shape.dims, c->err);
    return shape ? grad_op(c, IR_OP_EXPAND, (IrValue *[]){scaled, shape}, 2) : NULL;
}

static IrValue *global_max_grad(GradCtx *c, IrValue *dy, IrValue *x)
{
    if (x->shape.rank == 2)
        return dy;
    int64_t n = x->shape.dims[0], ch = x->shape.dims[1], size = spatial_size(&x->shape);
    IrShape flat = ir_shape_make(3, (int64_t[]){n, ch, size}), one = ir_shape_make(3, (int64_t[]){n, ch, 1});
    IrValue *xf = grad_reshape(c, x, &flat), *dyf = grad_reshape(c, dy, &one);
    if (!xf || !dyf)
        return NULL;
    IrPoolAttrs a = {.nspatial = 1, .kernel = {size}, .strides = {1}, .dilations = {1}};
    IrValue *g = pool_grad_op(c, IR_OP_MAX_POOL_GRAD, dyf, xf, &a);
    return g ? grad_reshape(c, g, &x->shape) : NULL;
}

SdStatus grad_pool(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    IrValue *x = n->inputs[0];
    if (!grad_needed(c, x) || !dy[0])
        return SD_OK;
    switch (n->op) {
    case IR_OP_MAX_POOL: dx[0] = pool_grad_op(c, IR_OP_MAX_POOL_GRAD, dy[0], x, &n->attrs.pool); break;
    case IR_OP_AVG_POOL: dx[0] = pool_grad_op(c, IR_OP_AVG_POOL_GRAD, dy[0], x, &n->attrs.pool); break;
    case IR_OP_GLOBAL_AVG_POOL: dx[0] = global_avg_grad(c, dy[0], x); break;
    case IR_OP_GLOBAL_MAX_POOL: dx[0] = global_max_grad(c, dy[0], x); break;
    default: return grad_unsupported(c, n);
    }
    return dx[0] ? SD_OK : c->err->status;
}
