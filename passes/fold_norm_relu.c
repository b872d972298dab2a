/* passes/fold_norm_relu.c — a ReLU after a training BatchNorm folded into it, forward and backward
 * (bnrelu, training pipeline, after autodiff):
 *   y = Relu(BatchNorm(x))          -> y = BatchNorm(x) with attrs.norm.relu (clamped as written)
 *   dz = UNARY_GRAD[relu](dy, z)    -> dropped: BATCH_NORM_GRAD(dy, x, scale, mean, inv_std, y) with
 *   BATCH_NORM_GRAD(dz, x, ...)        attrs.norm.relu reads dy where y > 0 and 0 elsewhere;
 * and a ResNet block's end, a residual r added before the ReLU:
 *   y = Relu(BatchNorm(x) + r)      -> y = BatchNorm(x, ..., r) with attrs.norm.relu
 *   UNARY_GRAD[relu](dy, z)         -> UNARY_GRAD[relu](dy, y) (its result also feeds r's side)
 * z before the clamp is then neither written nor kept for the backward pass: passes over memory
 * fewer per step and one activation less alive between forward and backward. The same numbers
 * (ReLU'(z) = [z > 0] = [y > 0]). Folded only when nothing else reads what disappears. */
#include "passes/pass.h"

/* The nodes of g that read v (each counted once): how many, the first `max` of them in out. */
static int readers_of(const IrGraph *g, const IrValue *v, IrNode **out, int max)
{
    int n = 0;
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *m = ir_graph_node(g, k);
        if (m->removed)
            continue;
        for (int i = 0; i < m->n_inputs; i++)
            if (m->inputs[i] == v) {
                if (n < max)
                    out[n] = m;
                n++;
                break;
            }
    }
    return n;
}

#define MAX_READERS 8

/* A ReLU gradient of z whose result only feeds the gradient of bn: that gradient node, else NULL. */
static IrNode *folded_gradient(const IrGraph *g, const IrNode *bn, const IrNode *rg)
{
    if (rg->op != IR_OP_UNARY_GRAD || rg->attrs.unary.grad_of != IR_OP_RELU || rg->n_inputs != 2 ||
        rg->inputs[1] != bn->outputs[0] || rg->inputs[0] == bn->outputs[0] || rg->n_outputs != 1)
        return NULL;
    const IrValue *dz = rg->outputs[0];
    IrNode *r[MAX_READERS];
    if (ir_value_is_graph_output(g, dz) || dz->n_uses != 1 || readers_of(g, dz, r, MAX_READERS) != 1)
        return NULL;
    IrNode *bg = r[0];
    if (bg->op != IR_OP_BATCH_NORM_GRAD || !bg->attrs.norm.training || bg->attrs.norm.relu || bg->n_inputs != 5 ||
        bg->inputs[0] != dz || bg->inputs[1] != bn->inputs[0] || bg->inputs[3] != bn->outputs[1] ||
        bg->inputs[4] != bn->outputs[2])
        return NULL;
    return bg;
}

/* bn made again (and removed) with inputs ins, writing y clamped at 0 (attrs.norm.relu) and its
 * statistics as before; then it and the gradient nodes rewritten for it are shaped. */
static SdStatus remake_norm(IrGraph *g, IrNode *bn, IrValue *const *ins, int n_in, IrValue *y, IrNode *const *grads,
                            int n_grads, const PassOptions *opt, SdError *err)
{
    IrValue *outs[IR_MAX_OUTPUTS];
    outs[0] = y;
    for (int i = 1; i < bn->n_outputs; i++)
        outs[i] = bn->outputs[i];
    IrAttrs at = bn->attrs;
    at.norm.relu = true;
    ir_node_remove(g, bn); /* removed nodes keep their names until the graph is compacted */
    ir_graph_set_insert_point(g, NULL);
    IrNode *n = ir_node_new(g, IR_OP_BATCH_NORM, bn->name, ins, n_in, outs, bn->n_outputs);
    if (!n)
        return sd_errorf(err, SD_ENOMEM, "out of memory folding a ReLU into '%s'", bn->name);
    n->attrs = at;
    SD_TRY(pass_shape_node(g, n, opt, err));
    for (int j = 0; j < n_grads; j++)
        SD_TRY(pass_shape_node(g, grads[j], opt, err));
    return SD_OK;
}

static SdStatus fold(IrGraph *g, IrNode *bn, IrNode *relu, IrNode **rg, IrNode **bg, int n_grads,
                     const PassOptions *opt, SdError *err)
{
    IrValue *y = relu->outputs[0];
    IrValue *ins[5];
    for (int i = 0; i < bn->n_inputs; i++)
        ins[i] = bn->inputs[i];
    IrNode *grads[MAX_READERS];
    for (int j = 0; j < n_grads; j++) {
        IrValue *gi[6] = {rg[j]->inputs[0], bg[j]->inputs[1], bg[j]->inputs[2], bg[j]->inputs[3], bg[j]->inputs[4], y};
        IrValue *go[3] = {bg[j]->outputs[0], bg[j]->outputs[1], bg[j]->outputs[2]};
        IrAttrs ga = bg[j]->attrs;
        ga.norm.relu = true;
        ir_node_remove(g, rg[j]);
        ir_node_remove(g, bg[j]);
        ir_graph_set_insert_point(g, NULL);
        if (!(grads[j] = ir_node_new(g, IR_OP_BATCH_NORM_GRAD, bg[j]->name, gi, 6, go, bg[j]->n_outputs)))
            return sd_errorf(err, SD_ENOMEM, "out of memory folding a ReLU into '%s'", bg[j]->name);
        grads[j]->attrs = ga;
    }
    ir_node_remove(g, relu);
    return remake_norm(g, bn, ins, bn->n_inputs, y, grads, n_grads, opt, err);
}

/* A training BatchNorm bn whose output z only an Add with a residual of its shape reads, and that
 * Add's output only a ReLU and ReLU gradients of it (in rg, *n_rg of them): the Add, the ReLU and
 * the residual; NULL when bn is no such node. */
static IrNode *residual_relu(const IrGraph *g, const IrNode *bn, IrNode **relu, IrValue **residual, IrNode **rg,
                             int *n_rg)
{
    const IrValue *b = bn->outputs[0];
    IrNode *r[MAX_READERS];
    if (b->n_uses != 1 || readers_of(g, b, r, MAX_READERS) != 1)
        return NULL;
    IrNode *add = r[0];
    if (add->op != IR_OP_ADD || add->n_inputs != 2 || add->n_outputs != 1 || add->inputs[0] == add->inputs[1])
        return NULL;
    IrValue *z = add->outputs[0], *res = add->inputs[add->inputs[0] == b ? 1 : 0];
    if (res->dtype != SD_DT_F32 || z->dtype != SD_DT_F32 || ir_value_is_graph_output(g, z) ||
        !ir_shape_equal(&res->shape, &b->shape) || !ir_shape_equal(&z->shape, &b->shape))
        return NULL;
    const int n = readers_of(g, z, r, MAX_READERS);
    if (n > MAX_READERS || n != z->n_uses)
        return NULL;
    *relu = NULL, *n_rg = 0;
    for (int i = 0; i < n; i++) {
        if (r[i]->op == IR_OP_RELU && !*relu && r[i]->n_inputs == 1 && r[i]->outputs[0]->dtype == SD_DT_F32)
            *relu = r[i];
        else if (r[i]->op == IR_OP_UNARY_GRAD && r[i]->attrs.unary.grad_of == IR_OP_RELU && r[i]->n_inputs == 2 &&
                 r[i]->inputs[1] == z && r[i]->inputs[0] != z)
            rg[(*n_rg)++] = r[i];
        else
            return NULL;
    }
    *residual = res;
    return *relu ? add : NULL;
}

static SdStatus fold_residual(IrGraph *g, IrNode *bn, IrNode *add, IrNode *relu, IrValue *residual, IrNode **rg,
                              int n_rg, const PassOptions *opt, SdError *err)
{
    IrValue *y = relu->outputs[0];
    IrValue *ins[6] = {bn->inputs[0], bn->inputs[1], bn->inputs[2], bn->inputs[3], bn->inputs[4], residual};
    IrNode *grads[MAX_READERS];
    for (int j = 0; j < n_rg; j++) {
        IrValue *gi[2] = {rg[j]->inputs[0], y};
        IrAttrs ga = rg[j]->attrs;
        ir_node_remove(g, rg[j]);
        ir_graph_set_insert_point(g, NULL);
        if (!(grads[j] = ir_node_new(g, IR_OP_UNARY_GRAD, rg[j]->name, gi, 2, rg[j]->outputs, 1)))
            return sd_errorf(err, SD_ENOMEM, "out of memory folding a residual into '%s'", bn->name);
        grads[j]->attrs = ga;
    }
    ir_node_remove(g, relu);
    ir_node_remove(g, add);
    return remake_norm(g, bn, ins, 6, y, grads, n_rg, opt, err);
}

SdStatus pass_fold_norm_relu(IrGraph *g, const PassOptions *opt, SdError *err)
{
    bool changed = false;
    const int n_nodes = ir_graph_num_nodes(g);
    for (int k = 0; k < n_nodes; k++) { /* Relu(BatchNorm(x) + r) */
        IrNode *bn = ir_graph_node(g, k), *relu, *rg[MAX_READERS], *add;
        IrValue *residual;
        int n_rg;
        if (bn->removed || bn->op != IR_OP_BATCH_NORM || !bn->attrs.norm.training || bn->attrs.norm.relu ||
            bn->n_inputs != 5 || bn->n_outputs < 3 || bn->outputs[0]->dtype != SD_DT_F32 ||
            ir_value_is_graph_output(g, bn->outputs[0]) || !(add = residual_relu(g, bn, &relu, &residual, rg, &n_rg)))
            continue;
        SD_TRY(fold_residual(g, bn, add, relu, residual, rg, n_rg, opt, err));
        changed = true;
    }
    for (int k = 0; k < n_nodes; k++) {
        IrNode *bn = ir_graph_node(g, k);
        if (bn->removed || bn->op != IR_OP_BATCH_NORM || !bn->attrs.norm.training || bn->attrs.norm.relu ||
            bn->n_inputs != 5 || bn->n_outputs < 3 || bn->outputs[0]->dtype != SD_DT_F32 ||
            ir_value_is_graph_output(g, bn->outputs[0]))
            continue;
        IrNode *r[MAX_READERS], *relu = NULL, *rg[MAX_READERS], *bg[MAX_READERS];
        const int n_readers = readers_of(g, bn->outputs[0], r, MAX_READERS);
        if (n_readers > MAX_READERS || n_readers != bn->outputs[0]->n_uses)
            continue; /* a node reading z twice, or too many readers */
        int n_grads = 0;
        bool ok = true;
        for (int i = 0; i < n_readers && ok; i++) {
            if (r[i]->op == IR_OP_RELU && !relu && r[i]->n_inputs == 1 && r[i]->outputs[0]->dtype == SD_DT_F32) {
                relu = r[i];
            } else if ((bg[n_grads] = folded_gradient(g, bn, r[i]))) {
                rg[n_grads++] = r[i];
            } else {
                ok = false;
            }
        }
        if (!ok || !relu)
            continue;
        SD_TRY(fold(g, bn, relu, rg, bg, n_grads, opt, err));
        changed = true;
    }
    if (!changed)
        return SD_OK;
    ir_graph_compact(g);
    return ir_graph_toposort(g, err);
}
