/* passes/grad/softmax.c — gradients of the softmax family, from the forward output:
 *   Softmax     SOFTMAX_GRAD(dy, y):     dx = y (dy - sum(dy y))
 *   LogSoftmax  LOG_SOFTMAX_GRAD(dy, y): dx = dy - exp(y) sum(dy)
 *   Hardmax     zero (piecewise constant)
 * and of the losses, whose gradient kernels recompute the softmax from the logits (nothing of the
 * forward is kept): SOFTMAX_CROSS_ENTROPY_GRAD(dloss, logits, target),
 * NEGATIVE_LOG_LIKELIHOOD_GRAD(dloss, log_prob, target[, weights]). Soft targets (probabilities)
 * get a gradient too, -w log_softmax(logits) (or -w log_prob) times the incoming scale, for
 * distillation between networks that both train; class weights get none. */
#include "passes/grad/grad.h"

static IrValue *op2(GradCtx *c, IrOp op, IrValue *a, IrValue *b)
{
    return a && b ? grad_op(c, op, (IrValue *[]){a, b}, 2) : NULL;
}

/* d loss / d soft target: -w_c * logp * s, with s the loss gradient per position, broadcast over C. */
static IrValue *soft_target_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue *logp, IrValue *weights)
{
    const IrValue *x = n->inputs[0];
    int r = x->shape.rank;
    IrValue *s = g;
    if (n->attrs.softmax.reduction == IR_REDUCTION_NONE) { /* [N, d...] -> [N, 1, d...] */
        IrShape v = x->shape;
        v.dims[1] = 1;
        s = grad_reshape(c, g, &v);
    } else if (n->attrs.softmax.reduction == IR_REDUCTION_MEAN) {
        int64_t positions = ir_value_numel(x) / (x->shape.dims[1] ? x->shape.dims[1] : 1);
        s = op2(c, IR_OP_MUL, g, grad_const(c, positions ? 1.0f / (float)positions : 0.0f));
    }
    IrValue *d = op2(c, IR_OP_MUL, logp, s);
    if (weights) {
        IrShape v = {.rank = r - 1};
        v.dims[0] = x->shape.dims[1];
        for (int i = 1; i < r - 1; i++)
            v.dims[i] = 1;
        d = op2(c, IR_OP_MUL, d, grad_reshape(c, weights, &v));
    }
    return d ? grad_op(c, IR_OP_NEG, &d, 1) : NULL;
}

static SdStatus loss_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue **dx)
{
    bool sce = n->op == IR_OP_SOFTMAX_CROSS_ENTROPY;
    IrValue *x = n->inputs[0], *t = n->inputs[1], *w = !sce && n->n_inputs > 2 ? n->inputs[2] : NULL;
    if (w && grad_needed(c, w)) {
        char lb[200];
        return sd_errorf(c->err, SD_EUNSUPPORTED, "%s: %s: class weights that need a gradient are not supported",
                         ir_graph_source(c->g), ir_node_label(n, lb, sizeof lb));
    }
    if (grad_needed(c, x)) {
        IrValue *ins[4] = {g, x, t, w};
        IrOp op = sce ? IR_OP_SOFTMAX_CROSS_ENTROPY_GRAD : IR_OP_NEGATIVE_LOG_LIKELIHOOD_GRAD;
        GRAD_TRY(dx[0] = grad_op_with(c, op, ins, w ? 4 : 3, &n->attrs));
    }
    if (grad_needed(c, t)) { /* soft targets: f32 */
        IrValue *logp = x;
        if (sce) {
            IrAttrs a = {0};
            a.softmax.axis = 1;
            GRAD_TRY(logp = grad_op_with(c, IR_OP_LOG_SOFTMAX, &x, 1, &a));
        }
        GRAD_TRY(dx[1] = soft_target_grad(c, n, g, logp, w));
    }
    return SD_OK;
}

SdStatus grad_softmax(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    IrValue *g = dy[0];
    switch (n->op) {
    case IR_OP_SOFTMAX:
    case IR_OP_LOG_SOFTMAX: {
        IrOp op = n->op == IR_OP_SOFTMAX ? IR_OP_SOFTMAX_GRAD : IR_OP_LOG_SOFTMAX_GRAD;
        GRAD_TRY(dx[0] = grad_op_with(c, op, (IrValue *[]){g, n->outputs[0]}, 2, &n->attrs));
        return SD_OK;
    }
    case IR_OP_HARDMAX:
        GRAD_TRY(dx[0] = grad_or_zero(c, NULL, n->inputs[0]));
        return SD_OK;
    case IR_OP_SOFTMAX_CROSS_ENTROPY:
    case IR_OP_NEGATIVE_LOG_LIKELIHOOD:
        return loss_grad(c, n, g, dx);
    default:
        return grad_unsupported(c, n);
    }
}
