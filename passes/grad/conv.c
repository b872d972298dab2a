/* passes/grad/conv.c — gradients of Conv and ConvTranspose.
 *   Conv:          dx = CONV_GRAD_INPUT(dy, w), dw = CONV_GRAD_WEIGHT(x, dy), dbias = ReduceSum(dy)
 *                  over every axis but the channels; the grad ops carry the forward's resolved
 *                  attributes and the shape of the gradient they make.
 *   ConvTranspose: the adjoint of a Conv with the same attributes and weights, so dx = Conv(dy, w)
 *                  and dw = CONV_GRAD_WEIGHT(dy, x) (the Conv's input is dy, its output x). */
#include <string.h>

#include "passes/grad/grad.h"

static void set_attrs(IrNode *n, const void *arg) { n->attrs = *(const IrAttrs *)arg; }

static void set_sum_but_channels(IrNode *n, const void *arg)
{
    int rank = *(const int *)arg;
    IrReduceAttrs *r = &n->attrs.reduce;
    r->n_axes = 0;
    for (int i = 0; i < rank; i++)
        if (i != 1)
            r->axes[r->n_axes++] = i;
    r->keepdims = false;
}

/* dy summed over every axis but 1: the gradient of a per-channel bias. */
static IrValue *sum_but_channels(GradCtx *c, IrValue *dy)
{
    int rank = dy->shape.rank;
    IrNode *n = grad_node(c, IR_OP_REDUCE_SUM, &dy, 1, 1, set_sum_but_channels, &rank);
    return n ? n->outputs[0] : NULL;
}

/* A conv gradient op on (a, b) with the forward's attributes, making a tensor of `shape`. */
static IrValue *conv_grad_op(GradCtx *c, IrOp op, IrValue *a, IrValue *b, const IrConvAttrs *fwd, const IrShape *shape)
{
    IrAttrs at;
    memset(&at, 0, sizeof at);
    at.conv = *fwd;
    memcpy(at.conv.grad_shape, shape->dims, sizeof(int64_t) * (size_t)shape->rank);
    IrNode *n = grad_node(c, op, (IrValue *[]){a, b}, 2, 1, set_attrs, &at);
    return n ? n->outputs[0] : NULL;
}

static SdStatus grad_conv_forward(GradCtx *c, IrNode *n, IrValue *dy, IrValue **dx)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1];
    if (grad_needed(c, x) && !(dx[0] = conv_grad_op(c, IR_OP_CONV_GRAD_INPUT, dy, w, &n->attrs.conv, &x->shape)))
        return c->err->status;
    if (grad_needed(c, w) && !(dx[1] = conv_grad_op(c, IR_OP_CONV_GRAD_WEIGHT, x, dy, &n->attrs.conv, &w->shape)))
        return c->err->status;
    return SD_OK;
}

static SdStatus grad_conv_transpose(GradCtx *c, IrNode *n, IrValue *dy, IrValue **dx)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1];
    const IrConvAttrs *a = &n->attrs.conv;
    for (int i = 0; i < 2 * a->nspatial; i++)
        if (a->pads[i] < 0) { /* output_shape beyond the natural size: no Conv inverts that crop */
            char lb[200];
            return sd_errorf(c->err, SD_EUNSUPPORTED,
                             "%s: %s: the gradient of a ConvTranspose whose output_shape exceeds its natural size "
                             "(negative padding) is not supported",
                             ir_graph_source(c->g), ir_node_label(n, lb, sizeof lb));
        }
    IrAttrs at;
    memset(&at, 0, sizeof at);
    at.conv = *a;
    memset(at.conv.output_padding, 0, sizeof at.conv.output_padding);
    if (grad_needed(c, x)) {
        IrNode *conv = grad_node(c, IR_OP_CONV, (IrValue *[]){dy, w}, 2, 1, set_attrs, &at);
        if (!conv)
            return c->err->status;
        dx[0] = conv->outputs[0];
    }
    if (grad_needed(c, w) && !(dx[1] = conv_grad_op(c, IR_OP_CONV_GRAD_WEIGHT, dy, x, &at.conv, &w->shape)))
        return c->err->status;
    return SD_OK;
}

SdStatus grad_conv(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    if (n->op != IR_OP_CONV && n->op != IR_OP_CONV_TRANSPOSE)
        return grad_unsupported(c, n);
    SD_TRY(n->op == IR_OP_CONV ? grad_conv_forward(c, n, dy[0], dx) : grad_conv_transpose(c, n, dy[0], dx));
    if (n->n_inputs > 2 && grad_needed(c, n->inputs[2]) && !(dx[2] = sum_but_channels(c, dy[0])))
        return c->err->status;
    return SD_OK;
}
