/* passes/memplan.c — memory planning: every temporary gets a byte offset in one scratch arena.
 * Liveness runs from a value's producer to its last reader (graph outputs live in the caller's
 * buffers and are not planned). Two kinds of values share storage on purpose:
 *  - a reshape's output is its input's bytes (codegen then emits no copy);
 *  - an elementwise op may write over an input of the same size whose last reader it is (each
 *    element is read before the same element is written, also when split over threads).
 * Those form classes (union-find) with one interval; the classes get offsets first-fit among the
 * classes live at the same time, largest first. */
#include <stdlib.h>

#include "passes/pass.h"
#include "support/mem.h"

typedef struct {
    int first, last; /* node positions */
    size_t size;
    int64_t offset;
    int root;        /* union-find parent */
} Slot;

static int find(Slot *s, int i)
{
    while (s[i].root != i)
        i = s[i].root = s[s[i].root].root;
    return i;
}

static bool is_reshape(IrOp op)
{
    return op == IR_OP_RESHAPE || op == IR_OP_FLATTEN || op == IR_OP_SQUEEZE || op == IR_OP_UNSQUEEZE;
}

static bool is_inplace_eltwise(const IrNode *n)
{
    IrFamily f = ir_op_info(n->op)->family;
    if (n->n_outputs != 1 || (f != IR_FAM_unary && f != IR_FAM_binary))
        return false;
    switch (n->op) { /* ops whose output element size differs from an input's, or that read elsewhere */
    case IR_OP_CAST: case IR_OP_DROPOUT: case IR_OP_IS_NAN: case IR_OP_IS_INF: case IR_OP_EQUAL: case IR_OP_LESS:
    case IR_OP_LESS_EQUAL: case IR_OP_GREATER: case IR_OP_GREATER_EQUAL: case IR_OP_UNARY_GRAD:
        return false;
    default:
        return true;
    }
}

static int by_size_desc(const void *a, const void *b, void *ctx)
{
    const Slot *s = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    if (s[x].size != s[y].size)
        return s[x].size < s[y].size ? 1 : -1;
    return s[x].first - s[y].first;
}

/* qsort_r is a GNU extension: a tiny insertion sort keeps this file portable. */
static void sort_by_size(int *idx, int n, Slot *s)
{
    for (int i = 1; i < n; i++) {
        int v = idx[i], j = i;
        while (j > 0 && by_size_desc(&idx[j - 1], &v, s) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

SdStatus pass_memplan(IrGraph *g, const PassOptions *opt, SdError *err)
{
    (void)opt;
    int n_nodes = ir_graph_num_nodes(g), n_values = ir_graph_num_values(g), max_id = 0;
    for (int i = 0; i < n_values; i++)
        if (ir_graph_value(g, i)->id > max_id)
            max_id = ir_graph_value(g, i)->id;
    int *slot_of = malloc(((size_t)max_id + 1) * sizeof *slot_of);
    Slot *s = calloc((size_t)n_values + 1, sizeof *s);
    int *order = malloc(((size_t)n_values + 1) * sizeof *order);
    int *placed = malloc(((size_t)n_values + 1) * sizeof *placed);
    if (!slot_of || !s || !order || !placed) {
        free(slot_of), free(s), free(order), free(placed);
        return sd_errorf(err, SD_ENOMEM, "out of memory planning memory for '%s'", ir_graph_name(g));
    }
    int n_slots = 0;
    for (int i = 0; i < n_values; i++) {
        IrValue *v = ir_graph_value(g, i);
        slot_of[v->id] = -1;
        v->arena_offset = -1;
        if (v->role != IR_ROLE_TEMP || !v->producer || ir_value_is_graph_output(g, v))
            continue;
        slot_of[v->id] = n_slots;
        s[n_slots] = (Slot){.first = -1, .last = -1, .size = sd_align_up(ir_value_nbytes(v)), .root = n_slots};
        n_slots++;
    }
    for (int k = 0; k < n_nodes; k++) {
        IrNode *n = ir_graph_node(g, k);
        for (int i = 0; i < n->n_outputs; i++)
            if (slot_of[n->outputs[i]->id] >= 0)
                s[slot_of[n->outputs[i]->id]].first = k;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] && slot_of[n->inputs[i]->id] >= 0)
                s[slot_of[n->inputs[i]->id]].last = k;
    }
    for (int i = 0; i < n_slots; i++)
        if (s[i].last < s[i].first)
            s[i].last = s[i].first; /* written but never read: still needs room while written */
    /* sharing: merge an output's slot into an input's class */
    for (int k = 0; k < n_nodes; k++) {
        IrNode *n = ir_graph_node(g, k);
        if (n->n_outputs != 1 || slot_of[n->outputs[0]->id] < 0)
            continue;
        int out = slot_of[n->outputs[0]->id];
        for (int i = 0; i < n->n_inputs && i < 2; i++) {
            IrValue *v = n->inputs[i];
            if (!v || slot_of[v->id] < 0 || ir_value_nbytes(v) != ir_value_nbytes(n->outputs[0]))
                continue;
            int in = find(s, slot_of[v->id]);
            bool share = (is_reshape(n->op) && i == 0) ||
                         (is_inplace_eltwise(n) && s[in].last == k && v->shape.rank == n->outputs[0]->shape.rank);
            if (!share)
                continue;
            int o = find(s, out);
            s[o].root = in;
            if (s[o].first < s[in].first)
                s[in].first = s[o].first;
            if (s[o].last > s[in].last)
                s[in].last = s[o].last;
            if (s[o].size > s[in].size)
                s[in].size = s[o].size;
            break;
        }
    }
    int n_roots = 0;
    for (int i = 0; i < n_slots; i++)
        if (find(s, i) == i)
            order[n_roots++] = i;
    sort_by_size(order, n_roots, s);
    /* first fit among already placed classes that overlap in time, kept sorted by offset */
    int n_placed = 0;
    size_t arena = 0;
    for (int r = 0; r < n_roots; r++) {
        Slot *cur = &s[order[r]];
        int64_t offset = 0;
        for (int j = 0; j < n_placed; j++) {
            Slot *p = &s[placed[j]];
            if (p->first > cur->last || cur->first > p->last)
                continue;
            if (offset + (int64_t)cur->size <= p->offset)
                break;
            int64_t end = p->offset + (int64_t)p->size;
            if (end > offset)
                offset = end;
        }
        cur->offset = offset;
        if ((size_t)offset + cur->size > arena)
            arena = (size_t)offset + cur->size;
        int at = n_placed;
        while (at > 0 && s[placed[at - 1]].offset > offset) {
            placed[at] = placed[at - 1];
            at--;
        }
        placed[at] = order[r];
        n_placed++;
    }
    for (int i = 0; i < n_values; i++) {
        IrValue *v = ir_graph_value(g, i);
        if (slot_of[v->id] >= 0)
            v->arena_offset = s[find(s, slot_of[v->id])].offset;
    }
    ir_graph_set_arena_bytes(g, arena);
    free(slot_of), free(s), free(order), free(placed);
    return SD_OK;
}
