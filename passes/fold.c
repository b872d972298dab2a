/* passes/fold.c — constant folding: a node whose inputs are all constants is computed at compile
 * time (through the eval hook, i.e. the same kernels the generated code calls) and replaced by its
 * results. Shape computations in exported models (Shape -> Gather -> Concat -> Reshape) and weight
 * preprocessing (Transpose of a constant) disappear here. */
#include <stdlib.h>

#include "passes/pass.h"
#include "support/mem.h"

static bool foldable(const IrNode *n)
{
    if (n->removed || n->n_inputs == 0)
        return false;
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i] && !ir_value_is_constant(n->inputs[i]))
            return false;
    for (int i = 0; i < n->n_outputs; i++)
        if (!n->outputs[i]->has_shape)
            return false;
    return true;
}

SdStatus pass_fold_node(IrGraph *g, IrNode *n, const PassOptions *opt, bool *folded, SdError *err)
{
    *folded = false;
    if (!opt || !opt->eval || !foldable(n))
        return SD_OK;
    size_t limit = opt->fold_max_bytes ? opt->fold_max_bytes : (size_t)64 << 20;
    size_t total = 0;
    for (int i = 0; i < n->n_outputs; i++)
        total += ir_value_nbytes(n->outputs[i]);
    if (total > limit)
        return SD_OK;
    void *outs[IR_MAX_OUTPUTS] = {0};
    SdStatus st = SD_OK;
    for (int i = 0; i < n->n_outputs && st == SD_OK; i++)
        if (!(outs[i] = sd_aligned_calloc(ir_value_nbytes(n->outputs[i]))))
            st = sd_errorf(err, SD_ENOMEM, "out of memory folding '%s'", n->outputs[i]->name);
    if (st == SD_OK)
        st = opt->eval(opt->eval_ctx, n, outs, err);
    if (st != SD_OK) {
        for (int i = 0; i < n->n_outputs; i++)
            sd_aligned_free(outs[i]);
        return st;
    }
    IrValue *results[IR_MAX_OUTPUTS];
    for (int i = 0; i < n->n_outputs; i++)
        results[i] = n->outputs[i];
    int n_out = n->n_outputs;
    ir_node_remove(g, n);
    for (int i = 0; i < n_out; i++) {
        results[i]->role = IR_ROLE_TEMP; /* adopt_data makes it a constant */
        ir_value_adopt_data(results[i], outs[i], ir_value_nbytes(results[i]));
    }
    *folded = true;
    return SD_OK;
}

SdStatus pass_fold(IrGraph *g, const PassOptions *opt, SdError *err)
{
    if (pass_disabled(opt, "fold"))
        return SD_OK; /* the manager skips it too; this guards direct calls */
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        bool folded;
        SD_TRY(pass_fold_node(g, ir_graph_node(g, i), opt, &folded, err));
    }
    ir_graph_compact(g);
    return SD_OK;
}
