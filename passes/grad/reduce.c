/* passes/grad/reduce.c — gradients of reductions, with forward ops. dy and y are first viewed with
 * the reduced dims kept as 1 (gk, yk), so that broadcasting spreads them over x:
 *   ReduceSum        Expand(gk)                 ReduceMean  Expand(gk / count)
 *   ReduceSumSquare  2 x gk                     ReduceL1    sign(x) gk
 *   ReduceL2         x gk / yk (0 where yk = 0) ReduceLogSum  Expand(gk / exp(yk))
 *   ReduceLogSumExp  exp(x - yk) gk
 *   ReduceMax/Min    gk shared evenly among the elements equal to the extreme: mask gk / count,
 *                    as PyTorch's amax/amin (not max(dim), which picks one index)
 * With no axes and noop_with_empty_axes the forward is a copy and so is the gradient. ReduceProd is
 * not differentiable here (zeros need special care); ArgMax/ArgMin have integer outputs, so no
 * gradient reaches them. */
#include "passes/grad/grad.h"

static IrValue *op2(GradCtx *c, IrOp op, IrValue *a, IrValue *b)
{
    return a && b ? grad_op(c, op, (IrValue *[]){a, b}, 2) : NULL;
}

static IrValue *op1(GradCtx *c, IrOp op, IrValue *a) { return a ? grad_op(c, op, &a, 1) : NULL; }

SdStatus grad_reduce(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrReduceAttrs *a = &n->attrs.reduce;
    if (x->dtype != SD_DT_F32 || n->op == IR_OP_ARGMAX || n->op == IR_OP_ARGMIN || n->op == IR_OP_REDUCE_PROD)
        return grad_unsupported(c, n);
    if (a->n_axes == 0 && a->noop_with_empty_axes) { /* the forward copies x, whatever the op */
        dx[0] = dy[0];
        return SD_OK;
    }
    IrShape keep = x->shape;
    int64_t count = 1;
    for (int i = 0; i < a->n_axes; i++) {
        count *= x->shape.dims[a->axes[i]];
        keep.dims[a->axes[i]] = 1;
    }
    IrValue *gk = grad_reshape(c, dy[0], &keep), *g = NULL;
    GRAD_TRY(gk);
    switch (n->op) {
    case IR_OP_REDUCE_SUM:
        g = grad_expand(c, gk, &x->shape);
        break;
    case IR_OP_REDUCE_MEAN:
        g = grad_expand(c, op2(c, IR_OP_MUL, gk, grad_const(c, count ? 1.0f / (float)count : 0.0f)), &x->shape);
        break;
    case IR_OP_REDUCE_SUM_SQUARE:
        g = op2(c, IR_OP_MUL, x, op2(c, IR_OP_MUL, gk, grad_const(c, 2.0f)));
        break;
    case IR_OP_REDUCE_L1:
        g = op2(c, IR_OP_MUL, op1(c, IR_OP_SIGN, x), gk);
        break;
    case IR_OP_REDUCE_L2: {
        IrValue *yk = grad_reshape(c, y, &keep), *zero = grad_const(c, 0.0f);
        IrValue *safe = yk && zero ? grad_op(c, IR_OP_WHERE,
                                             (IrValue *[]){op2(c, IR_OP_EQUAL, yk, zero), grad_const(c, 1.0f), yk}, 3)
                                   : NULL; /* x is all zeros where the norm is: its gradient is 0 there */
        g = op2(c, IR_OP_MUL, x, op2(c, IR_OP_DIV, gk, safe));
        break;
    }
    case IR_OP_REDUCE_LOG_SUM:
        g = grad_expand(c, op2(c, IR_OP_DIV, gk, op1(c, IR_OP_EXP, grad_reshape(c, y, &keep))), &x->shape);
        break;
    case IR_OP_REDUCE_LOG_SUM_EXP:
        g = op2(c, IR_OP_MUL, op1(c, IR_OP_EXP, op2(c, IR_OP_SUB, x, grad_reshape(c, y, &keep))), gk);
        break;
    case IR_OP_REDUCE_MAX:
    case IR_OP_REDUCE_MIN: {
        IrValue *mask = grad_cast(c, op2(c, IR_OP_EQUAL, x, grad_reshape(c, y, &keep)), SD_DT_F32);
        IrValue *ties = mask ? grad_reduce_sum(c, mask, a->axes, a->n_axes, true) : NULL;
        g = op2(c, IR_OP_MUL, mask, op2(c, IR_OP_DIV, gk, ties));
        break;
    }
    default:
        return grad_unsupported(c, n);
    }
    GRAD_TRY(g);
    GRAD_TRY(dx[0] = grad_expand(c, g, &x->shape));
    return SD_OK;
}
