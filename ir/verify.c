/* ir/verify.c — the invariants every pass must keep. Run after each pass in debug builds and
 * by tests; a failure here is a bug in the pass that ran last, reported with the node it broke. */
#include <stdlib.h>

#include "ir/graph.h"

SdStatus ir_verify(const IrGraph *g, bool shapes, SdError *err)
{
    const char *src = ir_graph_source(g);
    int n_values = ir_graph_num_values(g);
    int max_id = 0;
    for (int i = 0; i < n_values; i++)
        if (ir_graph_value(g, i)->id > max_id)
            max_id = ir_graph_value(g, i)->id;
    /* defined[id]: the value is available at the current point of the walk */
    unsigned char *defined = calloc((size_t)max_id + 1, 1);
    int *uses = calloc((size_t)max_id + 1, sizeof *uses);
    if (!defined || !uses) {
        free(defined), free(uses);
        return sd_errorf(err, SD_ENOMEM, "out of memory verifying '%s'", src);
    }
    SdStatus st = SD_OK;
    char lb[200], tb[128];
    for (int i = 0; i < n_values && st == SD_OK; i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->producer == NULL) {
            defined[v->id] = 1;
            if ((v->role == IR_ROLE_CONSTANT || v->role == IR_ROLE_PARAM || v->role == IR_ROLE_STATE) &&
                v->has_shape && v->data && v->nbytes != ir_value_nbytes(v))
                st = sd_errorf(err, SD_EINTERNAL, "%s: constant '%s' %s holds %zu bytes, expected %zu",
                               src, v->name, ir_value_type_str(v, tb, sizeof tb), v->nbytes, ir_value_nbytes(v));
            if (v->role == IR_ROLE_TEMP && v->n_uses > 0)
                st = sd_errorf(err, SD_EINTERNAL, "%s: value '%s' is read but nothing produces it", src, v->name);
        }
        if (st == SD_OK && shapes && !v->has_shape && (v->producer || v->n_uses))
            st = sd_errorf(err, SD_EINTERNAL, "%s: value '%s' has no shape after shape inference", src, v->name);
        if (st == SD_OK && shapes && v->has_shape && sd_dtype_size(v->dtype) == 0)
            st = sd_errorf(err, SD_EINTERNAL, "%s: value '%s' has no element type", src, v->name);
    }
    for (int k = 0; k < ir_graph_num_nodes(g) && st == SD_OK; k++) {
        IrNode *n = ir_graph_node(g, k);
        if (n->removed) {
            st = sd_errorf(err, SD_EINTERNAL, "%s: removed %s is still in the graph (compact missing)",
                           src, ir_node_label(n, lb, sizeof lb));
            break;
        }
        const IrOpInfo *info = ir_op_info(n->op);
        int min_out = info->max_outputs ? 1 : 0;
        if (n->n_inputs < info->min_inputs || n->n_inputs > info->max_inputs || n->n_outputs < min_out ||
            n->n_outputs > info->max_outputs) {
            st = sd_errorf(err, SD_EINTERNAL, "%s: %s has %d inputs and %d outputs; %s takes %d..%d and %d..%d",
                           src, ir_node_label(n, lb, sizeof lb), n->n_inputs, n->n_outputs, info->name,
                           info->min_inputs, info->max_inputs, min_out, info->max_outputs);
            break;
        }
        if (ir_op_is_update(n->op)) {
            const IrValue *dst = n->inputs[0];
            if (!dst || (dst->role != IR_ROLE_PARAM && dst->role != IR_ROLE_STATE)) {
                st = sd_errorf(err, SD_EINTERNAL, "%s: %s updates '%s', which is not a parameter or state", src,
                               ir_node_label(n, lb, sizeof lb), dst ? dst->name : "(none)");
                break;
            }
            /* every read of the old contents must come first */
            for (int j = k + 1; j < ir_graph_num_nodes(g) && st == SD_OK; j++) {
                const IrNode *later = ir_graph_node(g, j);
                for (int i = 0; i < later->n_inputs; i++)
                    if (later->inputs[i] == dst)
                        st = sd_errorf(err, SD_EINTERNAL, "%s: %s reads '%s' after %s updated it", src,
                                       ir_node_label(later, lb, sizeof lb), dst->name, ir_op_name(n->op));
            }
        }
        for (int i = 0; i < n->n_inputs && st == SD_OK; i++) {
            IrValue *v = n->inputs[i];
            if (!v)
                continue;
            uses[v->id]++;
            if (!defined[v->id])
                st = sd_errorf(err, SD_EINTERNAL, "%s: %s reads '%s' before it is produced", src,
                               ir_node_label(n, lb, sizeof lb), v->name);
        }
        for (int i = 0; i < n->n_outputs && st == SD_OK; i++) {
            IrValue *v = n->outputs[i];
            if (!v || v->producer != n || v->producer_slot != i)
                st = sd_errorf(err, SD_EINTERNAL, "%s: %s output %d does not point back at its producer",
                               src, ir_node_label(n, lb, sizeof lb), i);
            else if (defined[v->id])
                st = sd_errorf(err, SD_EINTERNAL, "%s: value '%s' is produced twice (not SSA)", src, v->name);
            else
                defined[v->id] = 1;
        }
    }
    for (int i = 0; i < n_values && st == SD_OK; i++) {
        IrValue *v = ir_graph_value(g, i);
        if (uses[v->id] != v->n_uses)
            st = sd_errorf(err, SD_EINTERNAL, "%s: value '%s' counts %d uses but %d nodes read it", src,
                           v->name, v->n_uses, uses[v->id]);
    }
    for (int i = 0; i < ir_graph_num_outputs(g) && st == SD_OK; i++) {
        IrValue *v = ir_graph_output(g, i);
        if (!defined[v->id])
            st = sd_errorf(err, SD_EINTERNAL, "%s: graph output '%s' is never produced", src, v->name);
    }
    free(defined);
    free(uses);
    return st;
}
