/* passes/per_sample.c — whether an inference graph computes each sample of its batch on its own:
 * then the same graph at a smaller batch, run on slices of the inputs, gives the same outputs, and
 * the driver may run it so (api/model.c: slices small enough for the caches, one per thread).
 *
 * An analysis, not a rewrite. It holds when every value that is not a constant has the batch n as
 * its leading dimension and every node is one of a few ops known to treat that dimension as
 * independent samples, given where its per-sample operands are (int8 ones included: the
 * quantize pass's activations have one scale per tensor). Anything else (a reduction, a transpose,
 * a batch-sized constant, state) answers no: slicing is an optimization, never a guess. */
#include "passes/pass.h"

/* v is a non-constant value of n samples along its leading dimension */
static bool per_sample(const IrValue *v, int64_t n)
{
    return v && (v->role == IR_ROLE_TEMP || v->role == IR_ROLE_INPUT) && v->shape.rank >= 1 && v->shape.dims[0] == n;
}

/* v broadcasts over the samples: a constant without the batch as its leading dimension of full rank */
static bool shared(const IrValue *v, int rank, int64_t n)
{
    return !v || (ir_value_is_constant(v) && (v->shape.rank < rank || v->shape.dims[0] != n || n == 1));
}

/* Elementwise with broadcasting: every operand per-sample, or shared. */
static bool elementwise_ok(const IrNode *node, int64_t n)
{
    const int rank = node->outputs[0]->shape.rank;
    for (int i = 0; i < node->n_inputs; i++) {
        const IrValue *v = node->inputs[i];
        if (!per_sample(v, n) && !shared(v, rank, n))
            return false;
        if (per_sample(v, n) && v->shape.rank != rank)
            return false;
    }
    return true;
}

/* Input 0 per-sample, inputs [1, n_inputs) shared except `also` (an index that may be per-sample:
 * a convolution's folded residual), -1 for none. */
static bool first_per_sample(const IrNode *node, int64_t n, int also)
{
    if (!per_sample(node->inputs[0], n))
        return false;
    for (int i = 1; i < node->n_inputs; i++) {
        const IrValue *v = node->inputs[i];
        if (i == also && v && per_sample(v, n) && v->shape.rank == node->outputs[0]->shape.rank)
            continue;
        if (v && !ir_value_is_constant(v))
            return false;
    }
    return true;
}

static bool node_ok(const IrNode *node, int64_t n)
{
    for (int j = 0; j < node->n_outputs; j++)
        if (node->outputs[j] && !per_sample(node->outputs[j], n))
            return false;
    switch (node->op) {
    case IR_OP_CONV:
    case IR_OP_CONV_BF16: return first_per_sample(node, n, 3);
    case IR_OP_MAX_POOL:
    case IR_OP_AVG_POOL:
    case IR_OP_LP_POOL:
    case IR_OP_GLOBAL_AVG_POOL:
    case IR_OP_GLOBAL_MAX_POOL:
    case IR_OP_GLOBAL_LP_POOL:
        return node->n_outputs == 1 && first_per_sample(node, n, -1);
    case IR_OP_MATMUL:
    case IR_OP_GEMM:
    case IR_OP_MATMUL_BF16:
        /* rows of A are samples; B (and C) constant */
        return !node->attrs.matmul.trans_a && first_per_sample(node, n, -1);
    case IR_OP_RESHAPE:
    case IR_OP_FLATTEN:
    case IR_OP_SQUEEZE:
    case IR_OP_UNSQUEEZE:
        /* row-major with the leading dimension kept: each sample's elements stay its own */
        return first_per_sample(node, n, -1);
    case IR_OP_QCONV: return first_per_sample(node, n, 4);
    case IR_OP_QGLOBAL_AVG_POOL:
    case IR_OP_QMATMUL: /* a's rows are samples; b packed, constant */
        return first_per_sample(node, n, -1);
    case IR_OP_QADD: return elementwise_ok(node, n);
    case IR_OP_QUANTIZE_LINEAR:
    case IR_OP_DEQUANTIZE_LINEAR:
        /* one scale and zero point for the tensor (per axis they might run along the batch) */
        return first_per_sample(node, n, -1) && ir_value_numel(node->inputs[1]) == 1 &&
               (node->n_inputs < 3 || !node->inputs[2] || ir_value_numel(node->inputs[2]) == 1);
    default: break;
    }
    const IrFamily f = ir_op_info(node->op)->family;
    if ((f == IR_FAM_unary || f == IR_FAM_binary) && node->n_outputs == 1)
        return elementwise_ok(node, n);
    return false;
}

bool pass_per_sample(const IrGraph *g, int64_t n)
{
    if (n < 2)
        return false;
    for (int i = 0; i < ir_graph_num_inputs(g); i++)
        if (!per_sample(ir_graph_input(g, i), n))
            return false;
    for (int i = 0; i < ir_graph_num_outputs(g); i++)
        if (!per_sample(ir_graph_output(g, i), n))
            return false;
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        const IrValue *v = ir_graph_value(g, i);
        if (v->role == IR_ROLE_PARAM || v->role == IR_ROLE_STATE)
            return false;
    }
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const IrNode *node = ir_graph_node(g, i);
        if (!node->removed && !node_ok(node, n))
            return false;
    }
    return true;
}
