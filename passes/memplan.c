/* passes/memplan.c — memory planning: every temporary gets a byte offset in one scratch arena.
 * Liveness runs from a value's producer to its last reader (graph outputs live in the caller's
 * buffers and are not planned); offsets are chosen first-fit among the blocks live at the same
 * time, largest values first, so buffers of values whose lives do not overlap are shared. */
#include <stdlib.h>

#include "passes/pass.h"
#include "support/mem.h"

typedef struct {
    IrValue *v;
    int first, last;   /* node positions */
    size_t size;
    int64_t offset;
} Interval;

static int by_size_desc(const void *a, const void *b)
{
    const Interval *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->first - y->first;
}

SdStatus pass_memplan(IrGraph *g, const PassOptions *opt, SdError *err)
{
    (void)opt;
    int n_nodes = ir_graph_num_nodes(g);
    int n_values = ir_graph_num_values(g);
    Interval *iv = calloc((size_t)(n_values ? n_values : 1), sizeof *iv);
    int max_id = 0;
    for (int i = 0; i < n_values; i++)
        if (ir_graph_value(g, i)->id > max_id)
            max_id = ir_graph_value(g, i)->id;
    int *slot = malloc(((size_t)max_id + 1) * sizeof *slot);
    if (!iv || !slot) {
        free(iv), free(slot);
        return sd_errorf(err, SD_ENOMEM, "out of memory planning memory for '%s'", ir_graph_name(g));
    }
    int n_iv = 0;
    for (int i = 0; i < n_values; i++) {
        IrValue *v = ir_graph_value(g, i);
        slot[v->id] = -1;
        v->arena_offset = -1;
        if (v->role != IR_ROLE_TEMP || !v->producer || ir_value_is_graph_output(g, v))
            continue;
        slot[v->id] = n_iv;
        iv[n_iv++] = (Interval){.v = v, .first = -1, .last = -1, .size = sd_align_up(ir_value_nbytes(v))};
    }
    for (int k = 0; k < n_nodes; k++) {
        IrNode *n = ir_graph_node(g, k);
        for (int i = 0; i < n->n_outputs; i++)
            if (slot[n->outputs[i]->id] >= 0)
                iv[slot[n->outputs[i]->id]].first = k;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] && slot[n->inputs[i]->id] >= 0)
                iv[slot[n->inputs[i]->id]].last = k;
    }
    for (int i = 0; i < n_iv; i++)
        if (iv[i].last < iv[i].first)
            iv[i].last = iv[i].first; /* written but never read: still needs room while written */
    qsort(iv, (size_t)n_iv, sizeof *iv, by_size_desc);

    /* first fit against the already placed intervals that overlap in time, kept sorted by offset */
    Interval **placed = malloc((size_t)(n_iv ? n_iv : 1) * sizeof *placed);
    Interval **overlap = malloc((size_t)(n_iv ? n_iv : 1) * sizeof *overlap);
    if (!placed || !overlap) {
        free(iv), free(slot), free(placed), free(overlap);
        return sd_errorf(err, SD_ENOMEM, "out of memory planning memory for '%s'", ir_graph_name(g));
    }
    int n_placed = 0;
    size_t arena = 0;
    for (int i = 0; i < n_iv; i++) {
        Interval *cur = &iv[i];
        int n_over = 0;
        for (int j = 0; j < n_placed; j++)
            if (placed[j]->first <= cur->last && cur->first <= placed[j]->last)
                overlap[n_over++] = placed[j];
        int64_t offset = 0;
        for (int j = 0; j < n_over; j++) { /* overlap is in offset order */
            if (offset + (int64_t)cur->size <= overlap[j]->offset)
                break;
            int64_t end = overlap[j]->offset + (int64_t)overlap[j]->size;
            if (end > offset)
                offset = end;
        }
        cur->offset = offset;
        cur->v->arena_offset = offset;
        if ((size_t)offset + cur->size > arena)
            arena = (size_t)offset + cur->size;
        int at = n_placed;
        while (at > 0 && placed[at - 1]->offset > offset) {
            placed[at] = placed[at - 1];
            at--;
        }
        placed[at] = cur;
        n_placed++;
    }
    ir_graph_set_arena_bytes(g, arena);
    free(iv), free(slot), free(placed), free(overlap);
    return SD_OK;
}
