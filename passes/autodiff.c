/* passes/autodiff.c — reverse-mode differentiation over the IR. Which values need a gradient is
 * decided first (they depend on a parameter and the loss depends on them, through float values
 * and not through STOP_GRADIENT); then the nodes are visited in reverse order, each family's rule
 * (passes/grad/<family>.c) turns output gradients into input gradients, and gradients reaching a
 * value along several paths are summed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/grad/grad.h"
#include "passes/shape/shape.h"
#include "support/mem.h"

typedef SdStatus (*GradFn)(GradCtx *, IrNode *, IrValue *const *, IrValue **);

static const GradFn family_grad[IR_FAM_COUNT] = {
    [IR_FAM_unary] = grad_unary,
    [IR_FAM_binary] = grad_binary,
    [IR_FAM_conv] = grad_conv,
    [IR_FAM_matmul] = grad_matmul,
    [IR_FAM_norm] = grad_norm,
    [IR_FAM_softmax] = grad_softmax,
    [IR_FAM_pool] = grad_pool,
    [IR_FAM_reduce] = grad_reduce,
    [IR_FAM_movement] = grad_movement,
    [IR_FAM_gather] = grad_gather,
    [IR_FAM_resize] = grad_resize,
    [IR_FAM_einsum] = grad_einsum,
    [IR_FAM_quant] = NULL, /* quantized and bf16 ops are inference only: grad_unsupported */
};

static bool is_float(const IrValue *v) { return v->dtype == SD_DT_F32; }

bool grad_needed(const GradCtx *c, const IrValue *v) { return v && v->id <= c->max_id && c->needs[v->id]; }

IrNode *grad_node(GradCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, int n_outputs,
                  void (*setup)(IrNode *n, const void *arg), const void *arg)
{
    /* a helper that failed gave NULL: pass the failure on instead of building on it */
    for (int i = 0; i < n_inputs && i < ir_op_info(op)->min_inputs; i++)
        if (!inputs[i]) {
            grad_status(c);
            return NULL;
        }
    IrValue *outs[IR_MAX_OUTPUTS];
    for (int i = 0; i < n_outputs; i++)
        if (!(outs[i] = ir_value_new(c->g, "grad", SD_DT_F32, NULL))) {
            sd_errorf(c->err, SD_ENOMEM, "out of memory in autodiff");
            return NULL;
        }
    char name[256]; /* grad/<forward node>: profiles and errors say whose gradient a node is */
    snprintf(name, sizeof name, "grad/%s", c->of && c->of->name ? c->of->name : "");
    IrNode *n = ir_node_new(c->g, op, c->of ? name : "grad", inputs, n_inputs, outs, n_outputs);
    if (!n) {
        sd_errorf(c->err, SD_ENOMEM, "out of memory in autodiff");
        return NULL;
    }
    if (setup)
        setup(n, arg);
    if (pass_shape_node(c->g, n, c->opt, c->err) != SD_OK)
        return NULL;
    return n;
}

IrValue *grad_op(GradCtx *c, IrOp op, IrValue *const *inputs, int n_inputs)
{
    IrNode *n = grad_node(c, op, inputs, n_inputs, 1, NULL, NULL);
    return n ? n->outputs[0] : NULL;
}

IrValue *grad_const(GradCtx *c, float v)
{
    IrShape s = ir_shape_make(0, NULL);
    return ir_constant_new(c->g, "grad_const", SD_DT_F32, &s, &v, c->err);
}

static void set_reshape(IrNode *n, const void *arg) { (void)n, (void)arg; }

IrValue *grad_reshape(GradCtx *c, IrValue *g, const IrShape *target)
{
    if (!g || ir_shape_equal(&g->shape, target))
        return g;
    IrShape s = ir_shape_make(1, (int64_t[]){target->rank});
    IrValue *shape = ir_constant_new(c->g, "grad_shape", SD_DT_I64, &s, target->dims, c->err);
    if (!shape)
        return NULL;
    IrNode *n = grad_node(c, IR_OP_RESHAPE, (IrValue *[]){g, shape}, 2, 1, set_reshape, NULL);
    return n ? n->outputs[0] : NULL;
}

static void set_reduce_axes(IrNode *n, const void *arg)
{
    const IrShape *axes = arg; /* dims[] holds the axes, rank their count */
    n->attrs.reduce.n_axes = axes->rank;
    memcpy(n->attrs.reduce.axes, axes->dims, sizeof(int64_t) * (size_t)axes->rank);
    n->attrs.reduce.keepdims = true;
}

IrValue *grad_unbroadcast(GradCtx *c, IrValue *g, const IrShape *target)
{
    if (!g || ir_shape_equal(&g->shape, target))
        return g;
    IrShape axes = {0};
    int off = g->shape.rank - target->rank;
    for (int i = 0; i < g->shape.rank; i++) {
        int k = i - off;
        if (k < 0 || (target->dims[k] == 1 && g->shape.dims[i] != 1))
            axes.dims[axes.rank++] = i;
    }
    IrValue *sum = g;
    if (axes.rank) {
        IrNode *n = grad_node(c, IR_OP_REDUCE_SUM, &g, 1, 1, set_reduce_axes, &axes);
        if (!n)
            return NULL;
        sum = n->outputs[0];
    }
    return grad_reshape(c, sum, target);
}

static void set_fill(IrNode *n, const void *arg)
{
    (void)arg;
    n->attrs.generate.value_dtype = SD_DT_F32;
    n->attrs.generate.value.f32 = 0.0f;
}

IrValue *grad_or_zero(GradCtx *c, IrValue *dy, const IrValue *v)
{
    if (dy)
        return dy;
    IrShape s = ir_shape_make(1, (int64_t[]){v->shape.rank});
    IrValue *shape = ir_constant_new(c->g, "zero_shape", SD_DT_I64, &s, v->shape.dims, c->err);
    if (!shape)
        return NULL;
    IrNode *n = grad_node(c, IR_OP_CONSTANT_OF_SHAPE, &shape, 1, 1, set_fill, NULL);
    return n ? n->outputs[0] : NULL;
}

static void copy_attrs(IrNode *n, const void *arg) { n->attrs = *(const IrAttrs *)arg; }

IrNode *grad_node_with(GradCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, int n_outputs, const IrAttrs *attrs)
{
    return grad_node(c, op, inputs, n_inputs, n_outputs, copy_attrs, attrs);
}

IrValue *grad_op_with(GradCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, const IrAttrs *attrs)
{
    IrNode *n = grad_node_with(c, op, inputs, n_inputs, 1, attrs);
    return n ? n->outputs[0] : NULL;
}

IrValue *grad_ints(GradCtx *c, const int64_t *v, int n)
{
    IrShape s = ir_shape_make(1, (int64_t[]){n});
    return ir_constant_new(c->g, "grad_ints", SD_DT_I64, &s, v, c->err);
}

IrValue *grad_reduce_sum(GradCtx *c, IrValue *g, const int64_t *axes, int n_axes, bool keepdims)
{
    if (!g)
        return NULL;
    if (n_axes == 0)
        return g;
    IrAttrs a = {0};
    a.reduce.n_axes = n_axes;
    memcpy(a.reduce.axes, axes, sizeof(int64_t) * (size_t)n_axes);
    a.reduce.keepdims = keepdims;
    return grad_op_with(c, IR_OP_REDUCE_SUM, &g, 1, &a);
}

IrValue *grad_expand(GradCtx *c, IrValue *g, const IrShape *shape)
{
    if (!g || ir_shape_equal(&g->shape, shape))
        return g;
    IrValue *s = grad_ints(c, shape->dims, shape->rank);
    return s ? grad_op(c, IR_OP_EXPAND, (IrValue *[]){g, s}, 2) : NULL;
}

IrValue *grad_cast(GradCtx *c, IrValue *x, SdDType dtype)
{
    if (!x || x->dtype == dtype)
        return x;
    IrAttrs a = {0};
    a.unary.to = dtype;
    return grad_op_with(c, IR_OP_CAST, &x, 1, &a);
}

SdStatus grad_status(const GradCtx *c)
{
    return c->err->status != SD_OK ? c->err->status
                                   : sd_errorf(c->err, SD_EINTERNAL, "autodiff: a gradient helper failed");
}

SdStatus grad_unsupported(GradCtx *c, const IrNode *n)
{
    char lb[200];
    return sd_errorf(c->err, SD_EUNSUPPORTED, "%s: %s is not differentiable in seedc (yet)", ir_graph_source(c->g),
                     ir_node_label(n, lb, sizeof lb));
}

/* needs[v]: some parameter reaches v and v reaches the loss, through float values. */
static SdStatus mark_needed(GradCtx *c, const IrValue *loss)
{
    unsigned char *from_param = calloc((size_t)c->max_id + 1, 1);
    unsigned char *to_loss = calloc((size_t)c->max_id + 1, 1);
    c->needs = calloc((size_t)c->max_id + 1, 1);
    if (!from_param || !to_loss || !c->needs) {
        free(from_param), free(to_loss);
        return sd_errorf(c->err, SD_ENOMEM, "out of memory in autodiff");
    }
    for (int i = 0; i < ir_graph_num_values(c->g); i++) {
        const IrValue *v = ir_graph_value(c->g, i);
        if (v->role == IR_ROLE_PARAM && is_float(v))
            from_param[v->id] = 1;
    }
    int n_nodes = ir_graph_num_nodes(c->g);
    for (int k = 0; k < n_nodes; k++) {
        const IrNode *n = ir_graph_node(c->g, k);
        bool any = false;
        for (int i = 0; i < n->n_inputs; i++)
            any |= n->inputs[i] && from_param[n->inputs[i]->id];
        if (n->op == IR_OP_STOP_GRADIENT || ir_op_is_update(n->op))
            any = false;
        for (int i = 0; i < n->n_outputs; i++)
            from_param[n->outputs[i]->id] = any && is_float(n->outputs[i]);
    }
    to_loss[loss->id] = 1;
    for (int k = n_nodes - 1; k >= 0; k--) {
        const IrNode *n = ir_graph_node(c->g, k);
        bool any = false;
        for (int i = 0; i < n->n_outputs; i++)
            any |= to_loss[n->outputs[i]->id];
        if (any && n->op != IR_OP_STOP_GRADIENT)
            for (int i = 0; i < n->n_inputs; i++)
                if (n->inputs[i])
                    to_loss[n->inputs[i]->id] = 1;
    }
    for (int i = 0; i <= c->max_id; i++)
        c->needs[i] = from_param[i] && to_loss[i];
    free(from_param), free(to_loss);
    return SD_OK;
}

/* grads[id] += g */
static SdStatus accumulate(GradCtx *c, IrValue **grads, const IrValue *v, IrValue *g)
{
    if (!g)
        return SD_OK;
    if (!ir_shape_equal(&g->shape, &v->shape)) {
        char a[128], b[128];
        return sd_errorf(c->err, SD_EINTERNAL, "autodiff: gradient of '%s' has shape %s, expected %s", v->name,
                         ir_shape_str(&g->shape, a, sizeof a), ir_shape_str(&v->shape, b, sizeof b));
    }
    if (!grads[v->id]) {
        grads[v->id] = g;
        return SD_OK;
    }
    IrValue *sum = grad_op(c, IR_OP_ADD, (IrValue *[]){grads[v->id], g}, 2);
    if (!sum)
        return c->err->status;
    grads[v->id] = sum;
    return SD_OK;
}

/* StopGradient has done its work once the backward graph exists: it becomes an Identity, which
 * canonicalization removes (and codegen copies when it does not run). */
static void retire_stop_gradients(IrGraph *g)
{
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *n = ir_graph_node(g, k);
        if (!n->removed && n->op == IR_OP_STOP_GRADIENT)
            n->op = IR_OP_IDENTITY;
    }
}

SdStatus pass_autodiff(IrGraph *g, IrValue *loss, const PassOptions *opt, SdError *err)
{
    if (!loss || loss->dtype != SD_DT_F32 || !loss->has_shape || ir_value_numel(loss) != 1)
        return sd_errorf(err, SD_EUSAGE, "%s: the loss must be an f32 scalar", ir_graph_source(g));
    GradCtx c = {.g = g, .opt = opt, .err = err};
    for (int i = 0; i < ir_graph_num_values(g); i++)
        if (ir_graph_value(g, i)->id > c.max_id)
            c.max_id = ir_graph_value(g, i)->id;
    SD_TRY(mark_needed(&c, loss));
    IrValue **grads = calloc((size_t)c.max_id + 1, sizeof *grads);
    if (!grads) {
        free(c.needs);
        return sd_errorf(err, SD_ENOMEM, "out of memory in autodiff");
    }
    SdStatus st = SD_OK;
    /* d loss / d loss = 1, shaped like the loss */
    IrValue *one = grad_const(&c, 1.0f);
    grads[loss->id] = one ? grad_reshape(&c, one, &loss->shape) : NULL;
    if (!grads[loss->id])
        st = err->status ? err->status : SD_ENOMEM;
    /* only the forward nodes: the backward ones are appended after them, but before the updates
     * that end the forward graph (a recipe's queue pushes and encoder assignments), so that those
     * still run after every read of what they overwrite, the backward pass's reads included */
    int n_forward = ir_graph_num_nodes(g), tail = n_forward;
    while (tail > 0 && (ir_graph_node(g, tail - 1)->removed || ir_op_is_update(ir_graph_node(g, tail - 1)->op)))
        tail--;
    ir_graph_set_insert_point(g, tail < n_forward ? ir_graph_node(g, tail) : NULL);
    for (int k = n_forward - 1; k >= 0 && st == SD_OK; k--) {
        IrNode *n = ir_graph_node(g, k);
        if (n->removed || ir_op_is_update(n->op) || n->op == IR_OP_STOP_GRADIENT)
            continue;
        bool wanted = false, flowing = false;
        for (int i = 0; i < n->n_inputs; i++)
            wanted |= grad_needed(&c, n->inputs[i]);
        IrValue *dy[IR_MAX_OUTPUTS] = {0}, *dx[IR_MAX_OUTPUTS + 8] = {0};
        for (int i = 0; i < n->n_outputs; i++)
            flowing |= (dy[i] = grads[n->outputs[i]->id]) != NULL;
        if (!wanted || !flowing)
            continue;
        GradFn fn = family_grad[ir_op_info(n->op)->family];
        c.of = n;
        st = fn ? fn(&c, n, dy, dx) : grad_unsupported(&c, n);
        c.of = NULL;
        for (int i = 0; i < n->n_inputs && st == SD_OK; i++)
            if (grad_needed(&c, n->inputs[i]))
                st = accumulate(&c, grads, n->inputs[i], dx[i]);
    }
    for (int i = 0; i < ir_graph_num_values(g) && st == SD_OK; i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->role != IR_ROLE_PARAM)
            continue;
        v->grad = v->id <= c.max_id ? grads[v->id] : NULL;
        if (!v->grad && is_float(v)) /* the loss does not depend on it: its gradient is zero */
            v->grad = grad_or_zero(&c, NULL, v);
    }
    ir_graph_set_insert_point(g, NULL);
    free(grads);
    free(c.needs);
    if (st == SD_OK)
        retire_stop_gradients(g);
    return st;
}
