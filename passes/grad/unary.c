/* passes/grad/unary.c — gradients of the unary family. Smooth activations become one UNARY_GRAD
 * node dx = dy * f'(x) (inputs dy, x and, where f' is cheapest from the output, y), computed by
 * rt_unary_grad_f32 with the forward's alpha/beta/gamma. Identity, f32 Cast and inference Dropout
 * pass dy through; training Dropout applies the same Dropout (same seed and counter, so the same
 * mask and scale) to dy; Neg negates; Sign/Floor/Ceil/Round have a zero gradient.
 * At kinks the one-sided value PyTorch uses is taken: ReLU'(0) = 0, LeakyReLU'(0) = 1, |x|'(0) = 0,
 * Clip passes the gradient at its bounds. */
#include "passes/grad/grad.h"

/* Ops whose derivative the kernel computes from the forward output y. */
static bool uses_output(IrOp op)
{
    return op == IR_OP_SIGMOID || op == IR_OP_TANH || op == IR_OP_EXP || op == IR_OP_SQRT || op == IR_OP_RECIPROCAL;
}

static bool has_derivative_kernel(IrOp op)
{
    switch (op) {
    case IR_OP_RELU: case IR_OP_LEAKY_RELU: case IR_OP_SIGMOID: case IR_OP_HARD_SIGMOID: case IR_OP_HARD_SWISH:
    case IR_OP_SILU: case IR_OP_MISH: case IR_OP_TANH: case IR_OP_ERF: case IR_OP_GELU: case IR_OP_GELU_TANH:
    case IR_OP_SOFTPLUS: case IR_OP_SOFTSIGN: case IR_OP_ELU: case IR_OP_SELU: case IR_OP_CELU:
    case IR_OP_THRESHOLDED_RELU: case IR_OP_SHRINK: case IR_OP_CLIP: case IR_OP_EXP: case IR_OP_LOG:
    case IR_OP_SQRT: case IR_OP_RECIPROCAL: case IR_OP_ABS: case IR_OP_SIN: case IR_OP_COS: case IR_OP_TAN:
    case IR_OP_ASIN: case IR_OP_ACOS: case IR_OP_ATAN: case IR_OP_SINH: case IR_OP_COSH: case IR_OP_ASINH:
    case IR_OP_ACOSH: case IR_OP_ATANH:
        return true;
    default:
        return false;
    }
}

static SdStatus dropout_grad(GradCtx *c, IrNode *n, IrValue *dy, IrValue **dx)
{
    if (!n->attrs.unary.training) {
        dx[0] = dy;
        return SD_OK;
    }
    IrValue *counter = n->n_inputs > 3 ? n->inputs[3] : NULL;
    IrAttrs a = n->attrs;
    IrValue *ins[4] = {dy, NULL, NULL, counter};
    GRAD_TRY(dx[0] = grad_op_with(c, IR_OP_DROPOUT, ins, counter ? 4 : 1, &a));
    return SD_OK;
}

SdStatus grad_unary(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    IrValue *x = n->inputs[0], *g = dy[0];
    if (!g)
        return SD_OK; /* only Dropout's mask has no gradient flowing into it */
    switch (n->op) {
    case IR_OP_IDENTITY:
        dx[0] = g;
        return SD_OK;
    case IR_OP_STOP_GRADIENT: /* never reached: the driver cuts the path there */
        return SD_OK;
    case IR_OP_CAST:
        if (x->dtype != SD_DT_F32 || n->outputs[0]->dtype != SD_DT_F32)
            return grad_unsupported(c, n);
        dx[0] = g;
        return SD_OK;
    case IR_OP_DROPOUT:
        return dropout_grad(c, n, g, dx);
    case IR_OP_NEG:
        GRAD_TRY(dx[0] = grad_op(c, IR_OP_NEG, &g, 1));
        return SD_OK;
    case IR_OP_SIGN: case IR_OP_FLOOR: case IR_OP_CEIL: case IR_OP_ROUND:
        GRAD_TRY(dx[0] = grad_or_zero(c, NULL, x));
        return SD_OK;
    default:
        break;
    }
    if (!has_derivative_kernel(n->op) || x->dtype != SD_DT_F32)
        return grad_unsupported(c, n);
    IrAttrs a = {0};
    a.unary.grad_of = n->op;
    a.unary.alpha = n->attrs.unary.alpha;
    a.unary.beta = n->attrs.unary.beta;
    a.unary.gamma = n->attrs.unary.gamma;
    IrValue *ins[3] = {g, x, n->outputs[0]};
    GRAD_TRY(dx[0] = grad_op_with(c, IR_OP_UNARY_GRAD, ins, uses_output(n->op) ? 3 : 2, &a));
    return SD_OK;
}
