/* passes/canonicalize.c — rewrites ONNX's many spellings onto few IR ops so that later passes see
 * one form: Identity, inference Dropout and StopGradient disappear (StopGradient only in a graph
 * without parameters: in a training graph autodiff reads it first, then turns it into Identity),
 * Flatten/Squeeze/Unsqueeze become Reshape,
 * Gemm and the common Einsum equations become MatMul (canonicalize_matmul.c). */
#include <string.h>

#include "passes/canonicalize.h"

SdStatus pass_canonicalize(IrGraph *g, const PassOptions *opt, SdError *err)
{
    (void)opt;
    bool has_params = false;
    for (int i = 0; i < ir_graph_num_values(g); i++)
        has_params |= ir_graph_value(g, i)->role == IR_ROLE_PARAM;
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *n = ir_graph_node(g, k);
        if (n->removed)
            continue;
        switch (n->op) {
        case IR_OP_IDENTITY:
        case IR_OP_DROPOUT:
        case IR_OP_STOP_GRADIENT:
            if (n->op == IR_OP_DROPOUT && n->attrs.unary.training)
                break; /* draws a random mask */
            if (n->op == IR_OP_STOP_GRADIENT && has_params)
                break; /* autodiff has yet to see it */
            if (n->n_outputs > 1 && (n->outputs[1]->n_uses > 0 || ir_value_is_graph_output(g, n->outputs[1])))
                break; /* the mask is used: keep the node, it fills the mask */
            if (ir_value_is_graph_output(g, n->outputs[0]) && !n->inputs[0]->producer)
                break; /* an output that is a copy of an input or constant: codegen copies it */
            ir_graph_replace_uses(g, n->outputs[0], n->inputs[0]);
            ir_node_remove(g, n);
            break;
        case IR_OP_FLATTEN:
        case IR_OP_SQUEEZE:
        case IR_OP_UNSQUEEZE: {
            IrMovementAttrs *a = &n->attrs.movement;
            const IrShape *s = &n->outputs[0]->shape;
            memset(a, 0, sizeof *a);
            a->n_shape = s->rank;
            memcpy(a->shape, s->dims, sizeof s->dims);
            a->resolved = true;
            n->op = IR_OP_RESHAPE;
            break;
        }
        case IR_OP_GEMM:
            SD_TRY(canonicalize_gemm(g, n, err));
            break;
        case IR_OP_EINSUM:
            SD_TRY(canonicalize_einsum(g, n, err));
            break;
        default:
            break;
        }
    }
    ir_graph_compact(g);
    return SD_OK;
}
