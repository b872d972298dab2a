/* codegen/emit_plan.c — what a graph's code needs decided before any LLVM module exists: every
 * node lowered to kernel calls, every value's home (io slot, constants blob, state, scratch arena),
 * the packed weights, and which module part compiles which node. Parts compile on threads of
 * their own (codegen/jit.c), so this stage holds everything they share, read-only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/emit_internal.h"
#include "support/mem.h"

static int max_value_id(const IrGraph *g)
{
    int m = 0;
    for (int i = 0; i < ir_graph_num_values(g); i++)
        if (ir_graph_value(g, i)->id > m)
            m = ir_graph_value(g, i)->id;
    return m;
}

/* Marks, by value id, every input some call reads itself: a constant read only through packed
 * weights made from it (CG_BUF_PACKED) needs no place of its own. */
static void mark_read_inputs(const CgPlan *p, bool *read)
{
    for (int i = 0; i < ir_graph_num_nodes(p->g); i++) {
        const IrNode *n = ir_graph_node(p->g, i);
        for (int c = 0; c < p->lowered[i].n_calls; c++) {
            const CgCall *call = &p->lowered[i].calls[c];
            for (int k = 0; k < call->n_bufs; k++)
                if (call->bufs[k] >= 0 && call->bufs[k] < n->n_inputs && n->inputs[call->bufs[k]])
                    read[n->inputs[call->bufs[k]]->id] = true;
        }
    }
}

/* Packed weights (CgLowered.packed_*) after the constants: laid out, then packed from the
 * constants' data. */
static size_t place_packed(CgPlan *p, size_t consts)
{
    for (int i = 0; i < ir_graph_num_nodes(p->g); i++)
        if (p->lowered[i].packed_bytes) {
            p->packed_offset[i] = consts;
            consts += sd_align_up(p->lowered[i].packed_bytes);
        }
    return consts;
}

/* Frees a constant's data, which the blob now holds, and every RELEASE_BATCH bytes hands the freed
 * pages back (sd_release_freed), so that the blob's pages replace the graph's as it fills:
 * MobileNetV3-Large's compile peaked at 130 MB with them kept, 121 without. */
#define RELEASE_BATCH ((size_t)8 << 20)
static void release_data(IrValue *v, size_t *freed)
{
    *freed += v->nbytes;
    sd_aligned_free(v->data);
    v->data = NULL;
    if (*freed >= RELEASE_BATCH) {
        sd_release_freed();
        *freed = 0;
    }
}

/* Packs each node's weights into its place in out's constants. With release_constants, weights
 * that only packing reads are freed as soon as they are packed for the last time: the blob's pages
 * are touched as they are filled, so the process holds one copy of most weights at a time, not
 * the graph's and the packed ones together (ResNet-50: 102 MB of f32 weights, 133 MB packed).
 * *freed counts the bytes freed since pages were last handed back. */
static SdStatus fill_packed(const CgPlan *p, CgEmitted *out, size_t *freed, SdError *err)
{
    const IrGraph *g = p->g;
    int *left = NULL; /* packings still to read each value */
    if (p->opt->release_constants) {
        if (!(left = calloc((size_t)max_value_id(g) + 1, sizeof *left)))
            return sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(g));
        for (int i = 0; i < ir_graph_num_nodes(g); i++)
            if (p->lowered[i].packed_bytes)
                left[ir_graph_node(g, i)->inputs[p->lowered[i].packed_operand]->id]++;
    }
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const CgLowered *l = &p->lowered[i];
        if (!l->packed_bytes)
            continue;
        IrValue *v = ir_graph_node(g, i)->inputs[l->packed_operand];
        uint8_t *dst = out->consts + p->packed_offset[i];
        memset(dst, 0, sd_align_up(l->packed_bytes));
        if (!l->pack(l->calls[0].params, v->data, dst)) {
            char lb[160];
            free(left);
            return sd_errorf(err, SD_ENOMEM, "%s: out of memory packing its weights",
                             ir_node_label(ir_graph_node(g, i), lb, sizeof lb));
        }
        if (left && --left[v->id] == 0 && v->role == IR_ROLE_CONSTANT && v->data &&
            p->homes[v->id].kind != HOME_CONSTS)
            release_data(v, freed);
    }
    free(left);
    return SD_OK;
}

/* Decides every value's home and the blobs' sizes. */
static SdStatus assign_homes(CgPlan *p, CgEmitted *out, size_t workspace, size_t shared, SdError *err)
{
    const IrGraph *g = p->g;
    int n_in = ir_graph_num_inputs(g);
    for (int i = 0; i < n_in; i++)
        p->homes[ir_graph_input(g, i)->id] = (Home){HOME_IO, i};
    for (int j = 0; j < ir_graph_num_outputs(g); j++) {
        IrValue *v = ir_graph_output(g, j);
        if (v->producer && p->homes[v->id].kind == HOME_NONE)
            p->homes[v->id] = (Home){HOME_IO, n_in + j};
    }
    size_t consts = 0, state = 0, scratch = ir_graph_arena_bytes(g);
    bool planned = true;
    bool *read = calloc((size_t)max_value_id(g) + 1, sizeof *read);
    if (!read)
        return sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(g));
    mark_read_inputs(p, read);
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        Home *h = &p->homes[v->id];
        if (h->kind != HOME_NONE)
            continue;
        if (v->role == IR_ROLE_CONSTANT && (read[v->id] || ir_value_is_graph_output(g, v))) {
            h->kind = HOME_CONSTS, h->offset = (int64_t)consts;
            consts += sd_align_up(v->nbytes);
        } else if (v->role == IR_ROLE_PARAM || v->role == IR_ROLE_STATE) {
            h->kind = HOME_STATE, h->offset = (int64_t)state;
            state += sd_align_up(ir_value_nbytes(v));
        } else if (v->role == IR_ROLE_TEMP && v->producer) {
            h->kind = HOME_SCRATCH;
            if (v->arena_offset >= 0) {
                h->offset = v->arena_offset;
            } else { /* no memory plan: every temporary gets its own place */
                planned = false;
                h->offset = -1;
            }
        }
    }
    free(read);
    if (!planned) {
        scratch = 0;
        for (int i = 0; i < ir_graph_num_values(g); i++) {
            IrValue *v = ir_graph_value(g, i);
            Home *h = &p->homes[v->id];
            if (h->kind == HOME_SCRATCH) {
                h->offset = (int64_t)scratch;
                scratch += sd_align_up(ir_value_nbytes(v));
            }
        }
    }
    consts = place_packed(p, consts);
    p->workspace_offset = sd_align_up(scratch);
    p->workspace_bytes = sd_align_up(workspace);
    p->shared_offset = p->workspace_offset + p->workspace_bytes * (size_t)(p->threads > 1 ? p->threads : 1);
    out->scratch_bytes = p->shared_offset + sd_align_up(shared);
    out->profile_offset = SIZE_MAX;
    if (p->opt->profile) { /* two int64 per node: time and runs */
        out->profile_offset = out->scratch_bytes;
        out->scratch_bytes += sd_align_up((size_t)ir_graph_num_nodes(g) * 2 * sizeof(int64_t));
    }
    out->consts_bytes = consts;
    out->state_bytes = state;
    return SD_OK;
}

SdStatus cg_plan_fill(const CgPlan *p, CgEmitted *out, SdError *err)
{
    const IrGraph *g = p->g;
    /* every byte is written below, region by region (not zeroed all at once, which would make the
     * whole blob resident before a single weight is freed) */
    out->consts = sd_aligned_alloc(out->consts_bytes ? out->consts_bytes : 1);
    out->state_init = sd_aligned_calloc(out->state_bytes);
    if (!out->consts || !out->state_init)
        return sd_errorf(err, SD_ENOMEM, "out of memory for %zu bytes of constants", out->consts_bytes);
    size_t freed = 0;
    SD_TRY(fill_packed(p, out, &freed, err)); /* before the constants' data may be released below */
    int n_state = 0;
    for (int i = 0; i < ir_graph_num_values(g); i++)
        n_state += p->homes[ir_graph_value(g, i)->id].kind == HOME_STATE;
    out->state_entries = calloc((size_t)(n_state ? n_state : 1), sizeof *out->state_entries);
    if (!out->state_entries)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        const Home *h = &p->homes[v->id];
        if (h->kind == HOME_STATE) {
            CgStateEntry *se = &out->state_entries[out->n_state_entries++];
            *se = (CgStateEntry){sd_strdup(v->name), v->role, v->dtype, v->shape, (size_t)h->offset, ir_value_nbytes(v)};
            if (!se->name)
                return sd_errorf(err, SD_ENOMEM, "out of memory");
        }
        if (h->kind == HOME_CONSTS) {
            if (v->nbytes)
                memcpy(out->consts + h->offset, v->data, v->nbytes);
            memset(out->consts + h->offset + v->nbytes, 0, sd_align_up(v->nbytes) - v->nbytes);
        }
        if (v->role == IR_ROLE_CONSTANT && v->data && p->opt->release_constants &&
            (h->kind == HOME_CONSTS || v->n_uses > 0))
            release_data(v, &freed); /* the graph keeps the shape; the data lives on in the blob (perhaps packed) */
        else if (h->kind == HOME_STATE && v->data)
            memcpy(out->state_init + h->offset, v->data, v->nbytes);
    }
    if (freed) /* what the last batch left */
        sd_release_freed();
    return SD_OK;
}

SdStatus cg_plan(const IrGraph *g, const CgOptions *opt, const CgTarget *t, CgEmitted *out, CgPlan **plan, SdError *err)
{
    memset(out, 0, sizeof *out);
    *plan = NULL;
    int n_nodes = ir_graph_num_nodes(g);
    CgPlan *p = calloc(1, sizeof *p);
    if (!p)
        return sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(g));
    *p = (CgPlan){.g = g, .opt = opt, .threads = opt->threads > 1 ? opt->threads : 1, .n_parts = 1};
    p->lowered = calloc((size_t)(n_nodes ? n_nodes : 1), sizeof *p->lowered);
    p->homes = calloc((size_t)max_value_id(g) + 1, sizeof *p->homes);
    p->packed_offset = calloc((size_t)(n_nodes ? n_nodes : 1), sizeof *p->packed_offset);
    p->part_of = calloc((size_t)(n_nodes ? n_nodes : 1), sizeof *p->part_of);
    if (!p->lowered || !p->homes || !p->packed_offset || !p->part_of) {
        cg_plan_free(p);
        return sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(g));
    }
    SdStatus st = SD_OK;
    size_t workspace = 0, shared = 0;
    CgLowerOptions lower = opt->lower;
    if (lower.gemm == CG_GEMM_BUILTIN && !t->avx512)
        lower.gemm = CG_GEMM_BUILTIN_NARROW;
    lower.pack_weights = !opt->no_pack_weights;
    lower.threads = p->threads;
    for (int i = 0; i < n_nodes && st == SD_OK; i++) {
        st = cg_lower_node(ir_graph_node(g, i), &lower, &p->lowered[i], err);
        if (st == SD_OK && p->lowered[i].workspace_bytes > workspace)
            workspace = p->lowered[i].workspace_bytes;
        if (st == SD_OK && p->lowered[i].shared_bytes > shared)
            shared = p->lowered[i].shared_bytes;
    }
    if (st == SD_OK)
        st = assign_homes(p, out, workspace, shared, err);
    if (st != SD_OK) {
        cg_plan_free(p);
        cg_emitted_free(out);
        return st;
    }
    snprintf(out->entry, sizeof out->entry, "%s_entry", opt->name ? opt->name : "model");
    p->profile_offset = out->profile_offset;
    p->entry = out->entry;
    *plan = p;
    return SD_OK;
}

/* What compiling a call costs, roughly: the GEMM-shaped kernels inline a packed product or an
 * im2col and a product, many times the code of an elementwise loop. */
static double call_weight(const CgCall *c)
{
    const char *k = c->kernel;
    double w = strstr(k, "conv") || strstr(k, "gemm") || strstr(k, "matmul") ? 6.0 : 1.0;
    return c->range_kernel ? 1.5 * w : w;
}

/* Nodes whose calls are the same kernels with the same parameter bytes share their instances
 * (emit_instance.c) when they are in one part: one key for all of them. */
static uint64_t node_key(const CgLowered *l)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int c = 0; c < l->n_calls; c++) {
        for (const char *s = l->calls[c].kernel; *s; s++)
            h = (h ^ (uint8_t)*s) * 1099511628211ull;
        const uint8_t *b = l->calls[c].params;
        for (size_t i = 0; i < l->calls[c].params_size; i++)
            h = (h ^ b[i]) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    return h;
}

/* A node's key and estimated work; then, sorted by key, runs of equal keys are the groups. */
typedef struct {
    uint64_t key;
    double weight;
    int node;
} Keyed;

/* A run of nodes with one key (Keyed entries [first, first + count)), compiled in one part. */
typedef struct {
    double weight; /* one node's: the group's code is made once */
    int first, count;
} Group;

static int by_key(const void *a, const void *b)
{
    const Keyed *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : x->node - y->node;
}

static int heavier_first(const void *a, const void *b)
{
    const Group *x = a, *y = b;
    return x->weight < y->weight ? 1 : x->weight > y->weight ? -1 : x->first - y->first;
}

/* Below this much estimated work a second part is not worth its cost: another parse of the kernel
 * bitcode and another LLVM context alive at once (the Fashion-MNIST student in two parts compiled
 * in 0.60 s instead of 0.79 s but its peak RSS went from 85 to 100 MB, above ONNX Runtime's 85). */
#define CG_PART_MIN_WEIGHT 60.0

int cg_plan_split(CgPlan *p, int max_parts)
{
    const int n = ir_graph_num_nodes(p->g);
    memset(p->part_of, 0, (size_t)(n ? n : 1) * sizeof *p->part_of);
    p->n_parts = 1;
    Keyed *nodes = calloc((size_t)(n ? n : 1), sizeof *nodes);
    Group *groups = calloc((size_t)(n ? n : 1), sizeof *groups);
    if (max_parts < 2 || n < 2 || !nodes || !groups) { /* no memory: one part still compiles */
        free(nodes), free(groups);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        nodes[i] = (Keyed){node_key(&p->lowered[i]), 0, i};
        for (int c = 0; c < p->lowered[i].n_calls; c++)
            nodes[i].weight += call_weight(&p->lowered[i].calls[c]);
    }
    qsort(nodes, (size_t)n, sizeof *nodes, by_key);
    int n_groups = 0;
    double total = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && nodes[i].key == nodes[i - 1].key) {
            groups[n_groups - 1].count++;
            continue;
        }
        groups[n_groups++] = (Group){nodes[i].weight, i, 1};
        total += nodes[i].weight;
    }
    int parts = (int)(total / CG_PART_MIN_WEIGHT);
    parts = parts < max_parts ? parts : max_parts;
    parts = parts < n_groups ? parts : n_groups;
    parts = parts < CG_MAX_PARTS ? parts : CG_MAX_PARTS;
    if (parts >= 2) {
        /* the heaviest group first to the lightest part; part 0 also has the entry */
        qsort(groups, (size_t)n_groups, sizeof *groups, heavier_first);
        double load[CG_MAX_PARTS] = {1.0};
        for (int k = 0; k < n_groups; k++) {
            int best = 0;
            for (int q = 1; q < parts; q++)
                if (load[q] < load[best])
                    best = q;
            load[best] += groups[k].weight;
            for (int j = groups[k].first; j < groups[k].first + groups[k].count; j++)
                p->part_of[nodes[j].node] = best;
        }
        p->n_parts = parts;
    }
    free(nodes), free(groups);
    return p->n_parts;
}

void cg_plan_free(CgPlan *p)
{
    if (!p)
        return;
    if (p->lowered)
        for (int i = 0; i < ir_graph_num_nodes(p->g); i++)
            cg_lowered_free(&p->lowered[i]);
    free(p->lowered);
    free(p->homes);
    free(p->packed_offset);
    free(p->part_of);
    free(p);
}
