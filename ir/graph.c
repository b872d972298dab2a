/* ir/graph.c — graph storage: values and nodes in arrays, names in a hash table. */
#include "ir/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/mem.h"

struct IrGraph {
    char *name;
    char *source;
    IrValue **values;
    int n_values, cap_values;
    IrNode **nodes;
    int n_nodes, cap_nodes;
    IrValue **inputs;
    int n_inputs, cap_inputs;
    IrValue **outputs;
    int n_outputs, cap_outputs;
    int next_value_id, next_node_id;
    IrNode *insert_before;
    size_t arena_bytes;
    /* open addressing, power-of-two size, keyed by value name */
    IrValue **table;
    size_t table_size;
};

static bool grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return true;
    int c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, (size_t)c * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bool table_insert(IrGraph *g, IrValue *v);

static bool table_rebuild(IrGraph *g, size_t size)
{
    IrValue **t = calloc(size, sizeof *t);
    if (!t)
        return false;
    free(g->table);
    g->table = t;
    g->table_size = size;
    for (int i = 0; i < g->n_values; i++)
        table_insert(g, g->values[i]);
    return true;
}

static bool table_insert(IrGraph *g, IrValue *v)
{
    size_t mask = g->table_size - 1;
    for (size_t i = hash_str(v->name) & mask;; i = (i + 1) & mask) {
        if (!g->table[i]) {
            g->table[i] = v;
            return true;
        }
    }
}

IrValue *ir_graph_find_value(const IrGraph *g, const char *name)
{
    if (!name || !g->table_size)
        return NULL;
    size_t mask = g->table_size - 1;
    for (size_t i = hash_str(name) & mask; g->table[i]; i = (i + 1) & mask)
        if (strcmp(g->table[i]->name, name) == 0)
            return g->table[i];
    return NULL;
}

IrGraph *ir_graph_new(const char *name)
{
    IrGraph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->name = sd_strdup(name ? name : "graph");
    if (!g->name || !table_rebuild(g, 64)) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

static void value_free(IrValue *v)
{
    free(v->name);
    sd_aligned_free(v->data);
    free(v);
}

static void node_free(IrNode *n)
{
    free(n->name);
    free(n->inputs);
    free(n->outputs);
    free(n);
}

void ir_graph_free(IrGraph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++)
        value_free(g->values[i]);
    for (int i = 0; i < g->n_nodes; i++)
        node_free(g->nodes[i]);
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->table);
    free(g->name);
    free(g->source);
    free(g);
}

const char *ir_graph_name(const IrGraph *g) { return g->name; }

void ir_graph_set_source(IrGraph *g, const char *source)
{
    char *s = sd_strdup(source);
    if (s || !source) {
        free(g->source);
        g->source = s;
    }
}

const char *ir_graph_source(const IrGraph *g) { return g->source ? g->source : g->name; }

/* --- values --- */

static char *unique_name(const IrGraph *g, const char *base)
{
    if (!base || !*base)
        base = "t";
    if (!ir_graph_find_value(g, base))
        return sd_strdup(base);
    size_t n = strlen(base) + 24;
    char *s = malloc(n);
    if (!s)
        return NULL;
    for (long k = 1;; k++) {
        snprintf(s, n, "%s.%ld", base, k);
        if (!ir_graph_find_value(g, s))
            return s;
    }
}

IrValue *ir_value_new(IrGraph *g, const char *name, SdDType dtype, const IrShape *shape)
{
    if (!grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values))
        return NULL;
    if ((size_t)(g->n_values + 1) * 2 > g->table_size && !table_rebuild(g, g->table_size * 2))
        return NULL;
    IrValue *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->name = unique_name(g, name);
    if (!v->name) {
        free(v);
        return NULL;
    }
    v->id = g->next_value_id++;
    v->dtype = dtype;
    v->arena_offset = -1;
    if (shape) {
        v->shape = *shape;
        v->has_shape = true;
    }
    g->values[g->n_values++] = v;
    table_insert(g, v);
    return v;
}

IrValue *ir_constant_new(IrGraph *g, const char *name, SdDType dtype, const IrShape *shape,
                         const void *data, SdError *err)
{
    int64_t numel;
    size_t esize = sd_dtype_size(dtype);
    if (!sd_numel_checked(shape->dims, shape->rank, &numel) || esize == 0) {
        sd_errorf(err, SD_EBADMODEL, "constant '%s' has an invalid shape or type", name ? name : "?");
        return NULL;
    }
    size_t nbytes;
    if (!sd_mul_size((size_t)numel, esize, &nbytes)) {
        sd_errorf(err, SD_ENOMEM, "constant '%s' is too large", name ? name : "?");
        return NULL;
    }
    void *copy = sd_aligned_alloc(nbytes);
    IrValue *v = copy ? ir_value_new(g, name, dtype, shape) : NULL;
    if (!v) {
        sd_aligned_free(copy);
        sd_errorf(err, SD_ENOMEM, "out of memory for constant '%s' (%zu bytes)", name ? name : "?", nbytes);
        return NULL;
    }
    if (nbytes)
        memcpy(copy, data, nbytes);
    ir_value_adopt_data(v, copy, nbytes);
    return v;
}

void ir_value_adopt_data(IrValue *v, void *data, size_t nbytes)
{
    sd_aligned_free(v->data);
    v->data = data;
    v->nbytes = nbytes;
    if (v->role == IR_ROLE_TEMP)
        v->role = IR_ROLE_CONSTANT;
}

size_t ir_graph_arena_bytes(const IrGraph *g) { return g->arena_bytes; }
void ir_graph_set_arena_bytes(IrGraph *g, size_t n) { g->arena_bytes = n; }

int ir_graph_num_values(const IrGraph *g) { return g->n_values; }
IrValue *ir_graph_value(const IrGraph *g, int i) { return g->values[i]; }

int64_t ir_value_numel(const IrValue *v) { return v->has_shape ? ir_shape_numel(&v->shape) : 0; }

size_t ir_value_nbytes(const IrValue *v)
{
    return (size_t)ir_value_numel(v) * sd_dtype_size(v->dtype);
}

bool ir_value_is_constant(const IrValue *v) { return v->role == IR_ROLE_CONSTANT && v->producer == NULL; }

/* --- graph inputs and outputs --- */

void ir_graph_add_input(IrGraph *g, IrValue *v)
{
    SD_ASSERT(grow((void **)&g->inputs, &g->cap_inputs, g->n_inputs + 1, sizeof *g->inputs));
    g->inputs[g->n_inputs++] = v;
    v->role = IR_ROLE_INPUT;
}

void ir_graph_remove_input(IrGraph *g, int i)
{
    SD_ASSERT(i >= 0 && i < g->n_inputs);
    memmove(&g->inputs[i], &g->inputs[i + 1], (size_t)(g->n_inputs - i - 1) * sizeof *g->inputs);
    g->n_inputs--;
}

void ir_graph_add_output(IrGraph *g, IrValue *v)
{
    SD_ASSERT(grow((void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1, sizeof *g->outputs));
    g->outputs[g->n_outputs++] = v;
}

int ir_graph_num_inputs(const IrGraph *g) { return g->n_inputs; }
IrValue *ir_graph_input(const IrGraph *g, int i) { return g->inputs[i]; }
int ir_graph_num_outputs(const IrGraph *g) { return g->n_outputs; }
IrValue *ir_graph_output(const IrGraph *g, int i) { return g->outputs[i]; }
void ir_graph_set_output(IrGraph *g, int i, IrValue *v) { g->outputs[i] = v; }

bool ir_value_is_graph_output(const IrGraph *g, const IrValue *v)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

/* --- nodes --- */

IrNode *ir_node_new(IrGraph *g, IrOp op, const char *name, IrValue *const *inputs, int n_inputs,
                    IrValue *const *outputs, int n_outputs)
{
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
        return NULL;
    IrNode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->inputs = calloc((size_t)(n_inputs ? n_inputs : 1), sizeof *n->inputs);
    n->outputs = calloc((size_t)(n_outputs ? n_outputs : 1), sizeof *n->outputs);
    n->name = sd_strdup(name ? name : "");
    if (!n->inputs || !n->outputs || !n->name) {
        node_free(n);
        return NULL;
    }
    n->id = g->next_node_id++;
    n->op = op;
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    for (int i = 0; i < n_inputs; i++) {
        n->inputs[i] = inputs[i];
        if (inputs[i])
            inputs[i]->n_uses++;
    }
    for (int i = 0; i < n_outputs; i++) {
        SD_ASSERT(outputs[i] && outputs[i]->producer == NULL);
        n->outputs[i] = outputs[i];
        outputs[i]->producer = n;
        outputs[i]->producer_slot = i;
    }
    int at = g->n_nodes;
    if (g->insert_before) {
        for (at = 0; at < g->n_nodes && g->nodes[at] != g->insert_before; at++)
            ;
        memmove(&g->nodes[at + 1], &g->nodes[at], (size_t)(g->n_nodes - at) * sizeof *g->nodes);
    }
    g->nodes[at] = n;
    g->n_nodes++;
    return n;
}

IrNode *ir_node_new1(IrGraph *g, IrOp op, const char *name, IrValue *const *inputs, int n_inputs,
                     SdDType dtype)
{
    IrValue *out = ir_value_new(g, name, dtype, NULL);
    if (!out)
        return NULL;
    return ir_node_new(g, op, name, inputs, n_inputs, &out, 1);
}

int ir_graph_num_nodes(const IrGraph *g) { return g->n_nodes; }
IrNode *ir_graph_node(const IrGraph *g, int i) { return g->nodes[i]; }

void ir_node_set_input(IrNode *n, int i, IrValue *v)
{
    SD_ASSERT(i >= 0 && i < n->n_inputs);
    if (n->inputs[i])
        n->inputs[i]->n_uses--;
    n->inputs[i] = v;
    if (v)
        v->n_uses++;
}

void ir_node_truncate_inputs(IrNode *n, int keep)
{
    for (int i = keep; i < n->n_inputs; i++)
        ir_node_set_input(n, i, NULL);
    if (keep < n->n_inputs)
        n->n_inputs = keep;
}

void ir_node_remove(IrGraph *g, IrNode *n)
{
    (void)g;
    if (n->removed)
        return;
    for (int i = 0; i < n->n_inputs; i++)
        ir_node_set_input(n, i, NULL);
    for (int i = 0; i < n->n_outputs; i++)
        if (n->outputs[i] && n->outputs[i]->producer == n)
            n->outputs[i]->producer = NULL;
    n->removed = true;
    if (g->insert_before == n)
        g->insert_before = NULL;
}

void ir_graph_replace_uses(IrGraph *g, IrValue *old, IrValue *new_value)
{
    for (int k = 0; k < g->n_nodes; k++) {
        IrNode *n = g->nodes[k];
        if (n->removed)
            continue;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] == old)
                ir_node_set_input(n, i, new_value);
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == old)
            g->outputs[i] = new_value;
}

void ir_graph_set_insert_point(IrGraph *g, IrNode *anchor) { g->insert_before = anchor; }

static bool value_kept(const IrGraph *g, const IrValue *v)
{
    return v->producer || v->n_uses > 0 || v->role == IR_ROLE_PARAM || v->role == IR_ROLE_STATE ||
           v->role == IR_ROLE_INPUT || ir_value_is_graph_output(g, v);
}

void ir_graph_compact(IrGraph *g)
{
    int kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->removed)
            node_free(g->nodes[i]);
        else
            g->nodes[kept++] = g->nodes[i];
    }
    g->n_nodes = kept;
    g->insert_before = NULL;

    /* Keep values that are produced, read, listed, or persistent state. A parameter's gradient
     * that goes away (nothing produces or reads it any more) leaves grad NULL, not dangling. */
    for (int i = 0; i < g->n_values; i++) {
        IrValue *v = g->values[i];
        if (v->grad && !value_kept(g, v->grad))
            v->grad = NULL;
    }
    int kv = 0;
    for (int i = 0; i < g->n_values; i++) {
        IrValue *v = g->values[i];
        bool keep = value_kept(g, v);
        if (keep)
            g->values[kv++] = v;
        else
            value_free(v);
    }
    g->n_values = kv;
    table_rebuild(g, g->table_size);
}

SdStatus ir_graph_toposort(IrGraph *g, SdError *err)
{
    int n = g->n_nodes;
    IrNode **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    /* state per node id: 0 unvisited, 1 on stack, 2 done; ids may exceed n after removals */
    unsigned char *state = calloc((size_t)g->next_node_id + 1, 1);
    int *stack = malloc((size_t)(n ? n : 1) * sizeof *stack);
    int *next_in = calloc((size_t)(n ? n : 1), sizeof *next_in);
    if (!order || !state || !stack || !next_in) {
        free(order), free(state), free(stack), free(next_in);
        return sd_errorf(err, SD_ENOMEM, "out of memory sorting graph '%s'", g->name);
    }
    /* index of each node in g->nodes by id, to walk producers */
    int *index_of = malloc(((size_t)g->next_node_id + 1) * sizeof *index_of);
    if (!index_of) {
        free(order), free(state), free(stack), free(next_in);
        return sd_errorf(err, SD_ENOMEM, "out of memory sorting graph '%s'", g->name);
    }
    for (int i = 0; i < n; i++)
        index_of[g->nodes[i]->id] = i;

    int n_order = 0;
    SdStatus st = SD_OK;
    for (int root = 0; root < n && st == SD_OK; root++) {
        if (g->nodes[root]->removed || state[g->nodes[root]->id])
            continue;
        int sp = 0;
        stack[sp++] = root;
        next_in[root] = 0;
        state[g->nodes[root]->id] = 1;
        while (sp > 0) {
            int cur = stack[sp - 1];
            IrNode *node = g->nodes[cur];
            if (next_in[cur] < node->n_inputs) {
                IrValue *v = node->inputs[next_in[cur]++];
                if (!v || !v->producer)
                    continue;
                IrNode *p = v->producer;
                if (p->removed)
                    continue;
                if (state[p->id] == 1) {
                    char b[160];
                    st = sd_errorf(err, SD_EBADMODEL, "%s: graph has a cycle through %s",
                                   ir_graph_source(g), ir_node_label(node, b, sizeof b));
                    break;
                }
                if (state[p->id] == 0) {
                    int pi = index_of[p->id];
                    state[p->id] = 1;
                    next_in[pi] = 0;
                    stack[sp++] = pi;
                }
            } else {
                state[node->id] = 2;
                order[n_order++] = node;
                sp--;
            }
        }
    }
    if (st == SD_OK) {
        int k = n_order;
        for (int i = 0; i < n; i++)
            if (g->nodes[i]->removed)
                order[k++] = g->nodes[i];
        if (n)
            memcpy(g->nodes, order, (size_t)n * sizeof *order);
    }
    free(order), free(state), free(stack), free(next_in), free(index_of);
    return st;
}

/* --- shapes --- */

IrShape ir_shape_make(int rank, const int64_t *dims)
{
    IrShape s = {0};
    SD_ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
    s.rank = rank;
    for (int i = 0; i < rank; i++)
        s.dims[i] = dims[i];
    return s;
}

int64_t ir_shape_numel(const IrShape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->dims[i];
    return n;
}

bool ir_shape_equal(const IrShape *a, const IrShape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

char *ir_shape_str(const IrShape *s, char *buf, size_t n)
{
    size_t used = 0;
    used += (size_t)snprintf(buf + used, n - used, "[");
    for (int i = 0; i < s->rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ",%lld" : "%lld", (long long)s->dims[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
    return buf;
}

char *ir_value_type_str(const IrValue *v, char *buf, size_t n)
{
    char sb[128];
    if (v->has_shape)
        snprintf(buf, n, "%s%s", sd_dtype_name(v->dtype), ir_shape_str(&v->shape, sb, sizeof sb));
    else
        snprintf(buf, n, "%s[?]", sd_dtype_name(v->dtype));
    return buf;
}

const char *ir_node_label(const IrNode *n, char *buf, size_t size)
{
    snprintf(buf, size, "node '%s' (%s)", n->name, ir_op_name(n->op));
    return buf;
}
