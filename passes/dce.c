/* passes/dce.c — dead-code elimination: nodes none of whose outputs reach a graph output are
 * removed, walking backwards so whole dead chains go in one pass. */
#include "passes/pass.h"

static bool live(const IrGraph *g, const IrNode *n)
{
    if (ir_op_is_update(n->op))
        return true; /* its effect is the point */
    for (int i = 0; i < n->n_outputs; i++)
        if (n->outputs[i]->n_uses > 0 || ir_value_is_graph_output(g, n->outputs[i]))
            return true;
    return false;
}

SdStatus pass_dce(IrGraph *g, const PassOptions *opt, SdError *err)
{
    (void)opt, (void)err;
    for (int i = ir_graph_num_nodes(g) - 1; i >= 0; i--) {
        IrNode *n = ir_graph_node(g, i);
        if (!n->removed && !live(g, n))
            ir_node_remove(g, n);
    }
    ir_graph_compact(g);
    return SD_OK;
}
