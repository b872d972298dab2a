/* passes/grad/norm.c — gradients of the normalizations.
 *   BatchNorm, training: BATCH_NORM_GRAD(dy, x, scale, batch mean, batch inv std) -> (dx, dscale,
 *     dbias); the forward gains its statistics outputs if it had none. The running statistics
 *     inputs do not affect y and get no gradient.
 *   BatchNorm, inference: a per-channel affine map; BATCH_NORM_GRAD in its inference form with
 *     inv std = 1/sqrt(var + eps) computed here, and the mean's and variance's gradients composed.
 *   LayerNorm: LAYER_NORM_GRAD over the forward's statistics (added as outputs when missing);
 *     dscale and dbias summed down to the shapes of Scale and B.
 *   InstanceNorm: a LayerNorm over the spatial dims per (n, c) with the per-channel scale folded
 *     into dy: LAYER_NORM + LAYER_NORM_GRAD, dscale and dbias as sums over (N, spatial).
 *   LRN: composed of elementwise ops and two AveragePools over the channels.
 * Gradients flowing into the statistics outputs (BatchNorm's mean, inv std and variance,
 * LayerNorm's Mean and InvStdDev) are not supported: those outputs feed running-statistics
 * updates, not losses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/grad/grad.h"

static void set_attrs(IrNode *n, const void *arg) { n->attrs = *(const IrAttrs *)arg; }

static SdStatus unsupported(GradCtx *c, const IrNode *n, const char *why)
{
    char lb[200];
    return sd_errorf(c->err, SD_EUNSUPPORTED, "%s: %s: %s is not supported", ir_graph_source(c->g),
                     ir_node_label(n, lb, sizeof lb), why);
}

/* Gives the forward node `count` outputs, the new ones fresh f32 values with inferred shapes: the
 * statistics a gradient needs when the forward was built without them. */
static SdStatus grow_outputs(GradCtx *c, IrNode *n, int count)
{
    if (n->n_outputs >= count)
        return SD_OK;
    IrValue **outs = realloc(n->outputs, (size_t)count * sizeof *outs);
    if (!outs)
        return sd_errorf(c->err, SD_ENOMEM, "out of memory in autodiff");
    n->outputs = outs;
    for (int i = n->n_outputs; i < count; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s_stat%d", n->outputs[0]->name, i);
        IrValue *v = ir_value_new(c->g, name, SD_DT_F32, NULL);
        if (!v)
            return sd_errorf(c->err, SD_ENOMEM, "out of memory in autodiff");
        v->producer = n;
        v->producer_slot = i;
        outs[i] = v;
        n->n_outputs = i + 1;
    }
    return pass_shape_node(c->g, n, c->opt, c->err);
}

static IrValue *binop(GradCtx *c, IrOp op, IrValue *a, IrValue *b)
{
    return a && b ? grad_op(c, op, (IrValue *[]){a, b}, 2) : NULL;
}

static IrValue *unop(GradCtx *c, IrOp op, IrValue *a) { return a ? grad_op(c, op, &a, 1) : NULL; }

static IrValue *scalar(GradCtx *c, float v) { return grad_const(c, v); }

/* BATCH_NORM_GRAD(dy, x, scale, mean, inv_std) with the forward's attributes. */
static IrNode *batch_norm_grad(GradCtx *c, const IrNode *fwd, IrValue *dy, IrValue *mean, IrValue *inv_std)
{
    IrAttrs at;
    memset(&at, 0, sizeof at);
    at.norm = fwd->attrs.norm;
    IrValue *ins[5] = {dy, fwd->inputs[0], fwd->inputs[1], mean, inv_std};
    return grad_node(c, IR_OP_BATCH_NORM_GRAD, ins, 5, 3, set_attrs, &at);
}

static SdStatus grad_batch_norm(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    for (int i = 1; i < n->n_outputs; i++)
        if (dy[i])
            return unsupported(c, n, "a gradient through BatchNorm's batch statistics outputs");
    if (n->attrs.norm.relu || n->n_inputs > 5) /* bnrelu runs after autodiff */
        return unsupported(c, n, "a gradient of a BatchNorm with a folded ReLU or residual");
    bool want_stats = grad_needed(c, n->inputs[3]) || grad_needed(c, n->inputs[4]);
    if (!grad_needed(c, n->inputs[0]) && !grad_needed(c, n->inputs[1]) && !grad_needed(c, n->inputs[2]) &&
        (n->attrs.norm.training || !want_stats))
        return SD_OK;
    IrNode *g;
    if (n->attrs.norm.training) {
        SD_TRY(grow_outputs(c, n, 3));
        g = batch_norm_grad(c, n, dy[0], n->outputs[1], n->outputs[2]);
    } else {
        IrValue *var = n->inputs[4], *scale = n->inputs[1];
        IrValue *inv_std = unop(c, IR_OP_RECIPROCAL,
                                unop(c, IR_OP_SQRT, binop(c, IR_OP_ADD, var, scalar(c, n->attrs.norm.epsilon))));
        g = inv_std ? batch_norm_grad(c, n, dy[0], n->inputs[3], inv_std) : NULL;
        if (g && grad_needed(c, n->inputs[3])) /* dmean = -dbias * scale * inv_std */
            dx[3] = unop(c, IR_OP_NEG, binop(c, IR_OP_MUL, binop(c, IR_OP_MUL, g->outputs[2], scale), inv_std));
        if (g && grad_needed(c, n->inputs[4])) /* dvar = -0.5 * dscale * scale * inv_std^2 */
            dx[4] = binop(c, IR_OP_MUL, binop(c, IR_OP_MUL, g->outputs[1], scale),
                          binop(c, IR_OP_MUL, binop(c, IR_OP_MUL, inv_std, inv_std), scalar(c, -0.5f)));
        if (g && ((grad_needed(c, n->inputs[3]) && !dx[3]) || (grad_needed(c, n->inputs[4]) && !dx[4])))
            return c->err->status;
    }
    if (!g)
        return c->err->status;
    for (int i = 0; i < 3; i++)
        dx[i] = g->outputs[i];
    return SD_OK;
}

/* LAYER_NORM_GRAD(dy, x, scale, mean, inv_std) with LayerNorm attributes `a`. */
static IrNode *layer_norm_grad(GradCtx *c, const IrNormAttrs *a, IrValue *dy, IrValue *x, IrValue *scale,
                               IrValue *mean, IrValue *inv_std)
{
    IrAttrs at;
    memset(&at, 0, sizeof at);
    at.norm = *a;
    IrValue *ins[5] = {dy, x, scale, mean, inv_std};
    return grad_node(c, IR_OP_LAYER_NORM_GRAD, ins, 5, 3, set_attrs, &at);
}

static SdStatus grad_layer_norm(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    for (int i = 1; i < n->n_outputs; i++)
        if (dy[i])
            return unsupported(c, n, "a gradient through LayerNorm's Mean or InvStdDev outputs");
    SD_TRY(grow_outputs(c, n, 3));
    IrNode *g = layer_norm_grad(c, &n->attrs.norm, dy[0], n->inputs[0], n->inputs[1], n->outputs[1], n->outputs[2]);
    if (!g)
        return c->err->status;
    dx[0] = g->outputs[0];
    if (grad_needed(c, n->inputs[1]) && !(dx[1] = grad_unbroadcast(c, g->outputs[1], &n->inputs[1]->shape)))
        return c->err->status;
    if (n->n_inputs > 2 && grad_needed(c, n->inputs[2]) &&
        !(dx[2] = grad_unbroadcast(c, g->outputs[2], &n->inputs[2]->shape)))
        return c->err->status;
    return SD_OK;
}

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

static IrValue *sum_but_channels(GradCtx *c, IrValue *v)
{
    if (!v)
        return NULL;
    int rank = v->shape.rank;
    IrNode *n = grad_node(c, IR_OP_REDUCE_SUM, &v, 1, 1, set_sum_but_channels, &rank);
    return n ? n->outputs[0] : NULL;
}

/* InstanceNorm(x, s, b) = LayerNorm over the dims from 2 on (no scale) * s[c] + b[c]. */
static SdStatus grad_instance_norm(GradCtx *c, IrNode *n, IrValue *dy, IrValue **dx)
{
    IrValue *x = n->inputs[0], *scale = n->inputs[1];
    int rank = x->shape.rank;
    if (rank < 3)
        return unsupported(c, n, "the gradient of InstanceNorm without spatial dims");
    IrShape one = ir_shape_make(1, (int64_t[]){1});
    float one_v = 1.0f;
    IrValue *ones = ir_constant_new(c->g, "grad_ones", SD_DT_F32, &one, &one_v, c->err);
    if (!ones)
        return c->err->status;
    IrAttrs at;
    memset(&at, 0, sizeof at);
    at.norm.axis = 2;
    at.norm.epsilon = n->attrs.norm.epsilon;
    IrNode *ln = grad_node(c, IR_OP_LAYER_NORM, (IrValue *[]){x, ones}, 2, 3, set_attrs, &at);
    if (!ln)
        return c->err->status;
    IrValue *xhat = ln->outputs[0];
    if (grad_needed(c, x)) {
        IrShape cs = {.rank = rank - 1};
        cs.dims[0] = x->shape.dims[1];
        for (int i = 1; i < rank - 1; i++)
            cs.dims[i] = 1;
        IrValue *g = binop(c, IR_OP_MUL, dy, grad_reshape(c, scale, &cs));
        IrNode *lg = g ? layer_norm_grad(c, &at.norm, g, x, ones, ln->outputs[1], ln->outputs[2]) : NULL;
        if (!lg)
            return c->err->status;
        dx[0] = lg->outputs[0];
    }
    if (grad_needed(c, scale) && !(dx[1] = sum_but_channels(c, binop(c, IR_OP_MUL, dy, xhat))))
        return c->err->status;
    if (grad_needed(c, n->inputs[2]) && !(dx[2] = sum_but_channels(c, dy)))
        return c->err->status;
    return SD_OK;
}

static void set_channel_pool(IrNode *n, const void *arg)
{
    const int64_t *pads = arg; /* before, after along the channels */
    IrPoolAttrs *p = &n->attrs.pool;
    p->nspatial = 2;
    p->kernel[0] = pads[0] + pads[1] + 1, p->kernel[1] = 1;
    p->strides[0] = p->strides[1] = 1;
    p->dilations[0] = p->dilations[1] = 1;
    p->pads[0] = pads[0], p->pads[2] = pads[1];
    p->count_include_pad = true;
}

/* The mean over channels [c - before, c + after] (zeros outside) of v viewed as [N, 1, C, inner]. */
static IrValue *channel_window_mean(GradCtx *c, IrValue *v, int64_t before, int64_t after)
{
    if (!v)
        return NULL;
    IrNode *n = grad_node(c, IR_OP_AVG_POOL, &v, 1, 1, set_channel_pool, (int64_t[]){before, after});
    return n ? n->outputs[0] : NULL;
}

/* y = x * D^-beta, D = bias + alpha * mean of x^2 over the window [c - lo, c + hi] (size values):
 * dx = dy * D^-beta - 2 alpha beta x * (mean over the mirrored window [c - hi, c + lo] of
 * dy x D^(-beta-1)). */
static SdStatus grad_lrn(GradCtx *c, IrNode *n, IrValue *dy, IrValue **dx)
{
    const IrNormAttrs *a = &n->attrs.norm;
    IrValue *x = n->inputs[0];
    const IrShape *s = &x->shape;
    int64_t inner = 1;
    for (int i = 2; i < s->rank; i++)
        inner *= s->dims[i];
    IrShape view = ir_shape_make(4, (int64_t[]){s->dims[0], 1, s->dims[1], inner});
    int64_t lo = (a->size - 1) / 2, hi = a->size - 1 - lo;
    IrValue *xv = grad_reshape(c, x, &view), *dyv = grad_reshape(c, dy, &view);
    IrValue *d = binop(c, IR_OP_ADD, scalar(c, a->bias),
                       binop(c, IR_OP_MUL, scalar(c, a->alpha),
                             channel_window_mean(c, binop(c, IR_OP_MUL, xv, xv), lo, hi)));
    IrValue *d_pow = binop(c, IR_OP_POW, d, scalar(c, -a->beta));           /* D^-beta */
    IrValue *t = binop(c, IR_OP_MUL, binop(c, IR_OP_MUL, dyv, xv), binop(c, IR_OP_DIV, d_pow, d));
    IrValue *back = channel_window_mean(c, t, hi, lo);
    IrValue *g = binop(c, IR_OP_SUB, binop(c, IR_OP_MUL, dyv, d_pow),
                       binop(c, IR_OP_MUL, binop(c, IR_OP_MUL, xv, back), scalar(c, 2.0f * a->alpha * a->beta)));
    if (!g || !(dx[0] = grad_reshape(c, g, s)))
        return c->err->status;
    return SD_OK;
}

SdStatus grad_norm(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    switch (n->op) {
    case IR_OP_BATCH_NORM: return grad_batch_norm(c, n, dy, dx);
    case IR_OP_LAYER_NORM: return grad_layer_norm(c, n, dy, dx);
    case IR_OP_INSTANCE_NORM: return dy[0] ? grad_instance_norm(c, n, dy[0], dx) : SD_OK;
    case IR_OP_LRN: return dy[0] && grad_needed(c, n->inputs[0]) ? grad_lrn(c, n, dy[0], dx) : SD_OK;
    default: return grad_unsupported(c, n);
    }
}
