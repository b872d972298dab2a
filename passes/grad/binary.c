/* passes/grad/binary.c — gradients of broadcasting elementwise ops, written with forward ops; each
 * operand's gradient is summed over the dimensions broadcasting stretched (grad_unbroadcast).
 *   Add/Sub  da = dy, db = +-dy          Mul  da = dy b, db = dy a
 *   Div      da = dy / b, db = -da y     Pow  da = dy b a^(b-1), db = dy y log(a) (0 at a = 0)
 *   Max/Min  dy to the larger/smaller operand, split evenly on ties (as PyTorch's maximum)
 *   PRelu    da = dy where a >= 0, else dy slope; dslope = dy a where a < 0
 *   Where    da = dy where cond, db = dy elsewhere
 * Comparisons and logic have no float output, so no gradient reaches them; Mod is not
 * differentiable here. */
#include "passes/grad/grad.h"

static IrValue *op2(GradCtx *c, IrOp op, IrValue *a, IrValue *b)
{
    return a && b ? grad_op(c, op, (IrValue *[]){a, b}, 2) : NULL;
}

static IrValue *op1(GradCtx *c, IrOp op, IrValue *a) { return a ? grad_op(c, op, &a, 1) : NULL; }

static IrValue *where(GradCtx *c, IrValue *cond, IrValue *a, IrValue *b)
{
    return cond && a && b ? grad_op(c, IR_OP_WHERE, (IrValue *[]){cond, a, b}, 3) : NULL;
}

/* The share of dy that goes to `a` for Max (Min with `min`): 1 where a wins, 1/2 on a tie, else 0,
 * as (sign(a - b) + 1) / 2 (sign(b - a) for Min). */
static IrValue *winner_share(GradCtx *c, IrValue *a, IrValue *b, bool min)
{
    IrValue *d = min ? op2(c, IR_OP_SUB, b, a) : op2(c, IR_OP_SUB, a, b);
    IrValue *s = op2(c, IR_OP_ADD, op1(c, IR_OP_SIGN, d), grad_const(c, 1.0f));
    return op2(c, IR_OP_MUL, s, grad_const(c, 0.5f));
}

static SdStatus set(GradCtx *c, IrNode *n, IrValue **dx, int i, IrValue *g)
{
    if (!grad_needed(c, n->inputs[i]))
        return SD_OK;
    GRAD_TRY(g);
    GRAD_TRY(dx[i] = grad_unbroadcast(c, g, &n->inputs[i]->shape));
    return SD_OK;
}

SdStatus grad_binary(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    IrValue *g = dy[0], *y = n->outputs[0];
    IrValue *a = n->inputs[0], *b = n->inputs[n->op == IR_OP_WHERE ? 2 : 1];
    bool need_a = grad_needed(c, n->op == IR_OP_WHERE ? n->inputs[1] : a), need_b = grad_needed(c, b);
    if (y->dtype != SD_DT_F32)
        return grad_unsupported(c, n);
    switch (n->op) {
    case IR_OP_ADD:
        SD_TRY(set(c, n, dx, 0, g));
        return set(c, n, dx, 1, g);
    case IR_OP_SUB:
        SD_TRY(set(c, n, dx, 0, g));
        return set(c, n, dx, 1, need_b ? op1(c, IR_OP_NEG, g) : g);
    case IR_OP_MUL:
        SD_TRY(set(c, n, dx, 0, need_a ? op2(c, IR_OP_MUL, g, b) : g));
        return set(c, n, dx, 1, need_b ? op2(c, IR_OP_MUL, g, a) : g);
    case IR_OP_DIV: {
        IrValue *ga = op2(c, IR_OP_DIV, g, b); /* dy / b */
        SD_TRY(set(c, n, dx, 0, ga));
        return set(c, n, dx, 1, need_b ? op1(c, IR_OP_NEG, op2(c, IR_OP_MUL, ga, y)) : g);
    }
    case IR_OP_POW: {
        if (need_a) { /* dy * b * a^(b - 1) */
            IrValue *p = op2(c, IR_OP_POW, a, op2(c, IR_OP_SUB, b, grad_const(c, 1.0f)));
            SD_TRY(set(c, n, dx, 0, op2(c, IR_OP_MUL, g, op2(c, IR_OP_MUL, b, p))));
        }
        if (need_b) { /* dy * y * log(a), and 0 where a = 0 (as PyTorch: 0 * log 0 would be NaN) */
            IrValue *zero = grad_const(c, 0.0f), *at_zero = op2(c, IR_OP_EQUAL, a, zero);
            IrValue *d = op2(c, IR_OP_MUL, g, op2(c, IR_OP_MUL, y, op1(c, IR_OP_LOG, a)));
            SD_TRY(set(c, n, dx, 1, where(c, at_zero, zero, d)));
        }
        return SD_OK;
    }
    case IR_OP_MAX:
    case IR_OP_MIN: {
        IrValue *share = winner_share(c, a, b, n->op == IR_OP_MIN);
        IrValue *ga = op2(c, IR_OP_MUL, g, share);
        SD_TRY(set(c, n, dx, 0, ga));
        return set(c, n, dx, 1, need_b ? op2(c, IR_OP_SUB, g, ga) : g);
    }
    case IR_OP_PRELU: {
        IrValue *pos = op2(c, IR_OP_GREATER_EQUAL, a, grad_const(c, 0.0f)), *zero = grad_const(c, 0.0f);
        if (need_a)
            SD_TRY(set(c, n, dx, 0, where(c, pos, g, op2(c, IR_OP_MUL, g, b))));
        if (need_b)
            SD_TRY(set(c, n, dx, 1, where(c, pos, zero, op2(c, IR_OP_MUL, g, a))));
        return SD_OK;
    }
    case IR_OP_WHERE: {
        IrValue *cond = n->inputs[0], *zero = grad_const(c, 0.0f);
        if (grad_needed(c, n->inputs[1]))
            SD_TRY(set(c, n, dx, 1, where(c, cond, g, zero)));
        if (need_b)
            SD_TRY(set(c, n, dx, 2, where(c, cond, zero, g)));
        return SD_OK;
    }
    default:
        return grad_unsupported(c, n);
    }
}
