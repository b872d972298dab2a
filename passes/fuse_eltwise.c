/* passes/fuse_eltwise.c — elementwise fusion: a tree of f32 elementwise ops whose intermediate
 * values are read once becomes one FUSED_ELTWISE node, computed in one loop with no intermediate
 * tensors (GELU's five ops, SiLU, bias + residual + activation chains). Safe because every fused
 * value had exactly one reader and the same shape as the result, so nothing else sees it and
 * nothing is computed twice; inputs may broadcast. */
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

static bool fusable_op(IrOp op)
{
    switch (op) {
    case IR_OP_RELU: case IR_OP_LEAKY_RELU: case IR_OP_SIGMOID: case IR_OP_HARD_SIGMOID: case IR_OP_HARD_SWISH:
    case IR_OP_SILU: case IR_OP_MISH: case IR_OP_TANH: case IR_OP_ERF: case IR_OP_GELU: case IR_OP_GELU_TANH:
    case IR_OP_SOFTPLUS: case IR_OP_SOFTSIGN: case IR_OP_ELU: case IR_OP_SELU: case IR_OP_CELU:
    case IR_OP_THRESHOLDED_RELU: case IR_OP_SHRINK: case IR_OP_CLIP: case IR_OP_EXP: case IR_OP_LOG:
    case IR_OP_SQRT: case IR_OP_RECIPROCAL: case IR_OP_NEG: case IR_OP_ABS: case IR_OP_SIGN: case IR_OP_FLOOR:
    case IR_OP_CEIL: case IR_OP_ROUND: case IR_OP_SIN: case IR_OP_COS: case IR_OP_TAN: case IR_OP_ASIN:
    case IR_OP_ACOS: case IR_OP_ATAN: case IR_OP_SINH: case IR_OP_COSH: case IR_OP_ASINH: case IR_OP_ACOSH:
    case IR_OP_ATANH:
    case IR_OP_ADD: case IR_OP_SUB: case IR_OP_MUL: case IR_OP_DIV: case IR_OP_POW: case IR_OP_MAX:
    case IR_OP_MIN: case IR_OP_PRELU:
        return true;
    default:
        return false;
    }
}

static bool fusable(const IrNode *n)
{
    if (n->removed || n->n_outputs != 1 || !fusable_op(n->op) || n->outputs[0]->dtype != SD_DT_F32)
        return false;
    for (int i = 0; i < n->n_inputs; i++)
        if (!n->inputs[i] || n->inputs[i]->dtype != SD_DT_F32)
            return false;
    return true;
}

typedef struct {
    IrNode *nodes[IR_FUSED_MAX_STEPS];
    int n;
    IrValue *inputs[8];
    int n_inputs;
} Group;

static bool in_group(const Group *gr, const IrNode *n)
{
    for (int i = 0; i < gr->n; i++)
        if (gr->nodes[i] == n)
            return true;
    return false;
}

/* Grows the group from its root through producers read only by the group. */
static void grow(const IrGraph *g, Group *gr, const IrShape *shape)
{
    for (int i = 0; i < gr->n && gr->n < IR_FUSED_MAX_STEPS; i++) {
        IrNode *m = gr->nodes[i];
        for (int k = 0; k < m->n_inputs && gr->n < IR_FUSED_MAX_STEPS; k++) {
            IrValue *v = m->inputs[k];
            IrNode *p = v->producer;
            if (!p || !fusable(p) || in_group(gr, p) || v->n_uses != 1 || ir_value_is_graph_output(g, v) ||
                !ir_shape_equal(&v->shape, shape))
                continue;
            gr->nodes[gr->n++] = p;
        }
    }
}

static int node_position(const IrGraph *g, const IrNode *n)
{
    for (int i = 0; i < ir_graph_num_nodes(g); i++)
        if (ir_graph_node(g, i) == n)
            return i;
    return -1;
}

static int by_position(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* External inputs (deduplicated), or false when there are more than the kernel takes. */
static bool collect_inputs(Group *gr)
{
    gr->n_inputs = 0;
    for (int i = 0; i < gr->n; i++) {
        IrNode *m = gr->nodes[i];
        for (int k = 0; k < m->n_inputs; k++) {
            IrValue *v = m->inputs[k];
            if (v->producer && in_group(gr, v->producer))
                continue;
            bool seen = false;
            for (int j = 0; j < gr->n_inputs; j++)
                seen |= gr->inputs[j] == v;
            if (seen)
                continue;
            if (gr->n_inputs == 8)
                return false;
            gr->inputs[gr->n_inputs++] = v;
        }
    }
    return true;
}

static SdStatus fuse_group(IrGraph *g, Group *gr, const PassOptions *opt, SdError *err)
{
    /* steps in graph order: producers before readers */
    int order[IR_FUSED_MAX_STEPS][2];
    for (int i = 0; i < gr->n; i++)
        order[i][0] = node_position(g, gr->nodes[i]), order[i][1] = i;
    qsort(order, (size_t)gr->n, sizeof order[0], by_position);
    IrNode *sorted[IR_FUSED_MAX_STEPS];
    for (int i = 0; i < gr->n; i++)
        sorted[i] = gr->nodes[order[i][1]];
    IrBinaryAttrs attrs = {.n_steps = gr->n};
    for (int s = 0; s < gr->n; s++) {
        IrNode *m = sorted[s];
        IrFusedStep *st = &attrs.steps[s];
        st->op = m->op;
        st->alpha = m->attrs.unary.alpha, st->beta = m->attrs.unary.beta, st->gamma = m->attrs.unary.gamma;
        for (int k = 0; k < m->n_inputs && k < 2; k++) {
            IrValue *v = m->inputs[k];
            int reg = -1;
            for (int j = 0; j < gr->n_inputs; j++)
                if (gr->inputs[j] == v)
                    reg = j;
            for (int j = 0; j < s && reg < 0; j++)
                if (sorted[j]->outputs[0] == v)
                    reg = gr->n_inputs + j;
            SD_ASSERT(reg >= 0);
            *(k == 0 ? &st->a : &st->b) = (int8_t)reg;
        }
    }
    IrValue *out = sorted[gr->n - 1]->outputs[0];
    IrValue *inputs[8];
    memcpy(inputs, gr->inputs, sizeof inputs);
    for (int i = 0; i < gr->n; i++)
        ir_node_remove(g, sorted[i]);
    IrNode *f = ir_node_new(g, IR_OP_FUSED_ELTWISE, "fused", inputs, gr->n_inputs, &out, 1);
    if (!f)
        return sd_errorf(err, SD_ENOMEM, "out of memory fusing");
    f->attrs.binary = attrs;
    return pass_shape_node(g, f, opt, err);
}

SdStatus pass_fuse_eltwise(IrGraph *g, const PassOptions *opt, SdError *err)
{
    int n_nodes = ir_graph_num_nodes(g);
    for (int k = n_nodes - 1; k >= 0; k--) {
        IrNode *root = ir_graph_node(g, k);
        if (!fusable(root))
            continue;
        Group gr = {.nodes = {root}, .n = 1};
        grow(g, &gr, &root->outputs[0]->shape);
        while (gr.n >= 2 && !collect_inputs(&gr))
            gr.n--; /* too many inputs: give up the producers found last */
        if (gr.n < 2)
            continue;
        SD_TRY(fuse_group(g, &gr, opt, err));
    }
    ir_graph_compact(g);
    return ir_graph_toposort(g, err);
}
