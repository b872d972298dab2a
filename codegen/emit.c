/* codegen/emit.c — the module for one graph. Values get their homes first (io pointer, constants
 * blob, state, scratch arena at the planned offset); then every node becomes an internal function
 * that computes its operand pointers and calls its kernels with constant parameter globals, so
 * after inlining each kernel is specialized to that node's shapes. */
#include "codegen/emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/emit_internal.h"
#include "support/mem.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
static void mark_read_inputs(const CgEmitter *e, bool *read)
{
    for (int i = 0; i < ir_graph_num_nodes(e->g); i++) {
        const IrNode *n = ir_graph_node(e->g, i);
        for (int c = 0; c < e->lowered[i].n_calls; c++) {
            const CgCall *call = &e->lowered[i].calls[c];
            for (int k = 0; k < call->n_bufs; k++)
                if (call->bufs[k] >= 0 && call->bufs[k] < n->n_inputs && n->inputs[call->bufs[k]])
                    read[n->inputs[call->bufs[k]]->id] = true;
        }
    }
}

/* Packed weights (CgLowered.packed_*) after the constants: laid out, then packed from the
 * constants' data. */
static size_t place_packed(CgEmitter *e, size_t consts)
{
    for (int i = 0; i < ir_graph_num_nodes(e->g); i++)
        if (e->lowered[i].packed_bytes) {
            e->packed_offset[i] = consts;
            consts += sd_align_up(e->lowered[i].packed_bytes);
        }
    return consts;
}

static void fill_packed(CgEmitter *e, CgEmitted *out)
{
    for (int i = 0; i < ir_graph_num_nodes(e->g); i++) {
        const CgLowered *l = &e->lowered[i];
        if (l->packed_bytes)
            l->pack(l->calls[0].params, ir_graph_node(e->g, i)->inputs[l->packed_operand]->data,
                    out->consts + e->packed_offset[i]);
    }
}

/* Decides every value's home and fills the constants and state blobs. */
static SdStatus assign_homes(CgEmitter *e, CgEmitted *out, size_t workspace, size_t shared, SdError *err)
{
    const IrGraph *g = e->g;
    int n_in = ir_graph_num_inputs(g);
    for (int i = 0; i < n_in; i++)
        e->homes[ir_graph_input(g, i)->id] = (Home){HOME_IO, i};
    for (int j = 0; j < ir_graph_num_outputs(g); j++) {
        IrValue *v = ir_graph_output(g, j);
        if (v->producer && e->homes[v->id].kind == HOME_NONE)
            e->homes[v->id] = (Home){HOME_IO, n_in + j};
    }
    size_t consts = 0, state = 0, scratch = ir_graph_arena_bytes(g);
    bool planned = true;
    bool *read = calloc((size_t)max_value_id(g) + 1, sizeof *read);
    if (!read)
        return sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(g));
    mark_read_inputs(e, read);
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        Home *h = &e->homes[v->id];
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
            Home *h = &e->homes[v->id];
            if (h->kind == HOME_SCRATCH) {
                h->offset = (int64_t)scratch;
                scratch += sd_align_up(ir_value_nbytes(v));
            }
        }
    }
    consts = place_packed(e, consts);
    e->workspace_offset = sd_align_up(scratch);
    e->workspace_bytes = sd_align_up(workspace);
    e->shared_offset = e->workspace_offset + e->workspace_bytes * (size_t)(e->threads > 1 ? e->threads : 1);
    out->scratch_bytes = e->shared_offset + sd_align_up(shared);
    out->profile_offset = SIZE_MAX;
    if (e->opt->profile) { /* two int64 per node: time and runs */
        out->profile_offset = out->scratch_bytes;
        out->scratch_bytes += sd_align_up((size_t)ir_graph_num_nodes(g) * 2 * sizeof(int64_t));
    }
    out->consts_bytes = consts;
    out->state_bytes = state;
    out->consts = sd_aligned_calloc(consts);
    out->state_init = sd_aligned_calloc(state);
    if (!out->consts || !out->state_init)
        return sd_errorf(err, SD_ENOMEM, "out of memory for %zu bytes of constants", consts);
    fill_packed(e, out); /* before the constants' data may be released below */
    int n_state = 0;
    for (int i = 0; i < ir_graph_num_values(g); i++)
        n_state += e->homes[ir_graph_value(g, i)->id].kind == HOME_STATE;
    out->state_entries = calloc((size_t)(n_state ? n_state : 1), sizeof *out->state_entries);
    if (!out->state_entries)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        Home *h = &e->homes[v->id];
        if (h->kind == HOME_STATE) {
            CgStateEntry *se = &out->state_entries[out->n_state_entries++];
            *se = (CgStateEntry){sd_strdup(v->name), v->role, v->dtype, v->shape, (size_t)h->offset, ir_value_nbytes(v)};
            if (!se->name)
                return sd_errorf(err, SD_ENOMEM, "out of memory");
        }
        if (h->kind == HOME_CONSTS && v->nbytes)
            memcpy(out->consts + h->offset, v->data, v->nbytes);
        if (v->role == IR_ROLE_CONSTANT && v->data && e->opt->release_constants &&
            (h->kind == HOME_CONSTS || v->n_uses > 0)) {
            sd_aligned_free(v->data);
            v->data = NULL; /* the graph keeps the shape; the data lives on in the blob (perhaps packed) */
        }
        else if (h->kind == HOME_STATE && v->data)
            memcpy(out->state_init + h->offset, v->data, v->nbytes);
    }
    return SD_OK;
}

static Bases fn_bases(LLVMValueRef fn)
{
    return (Bases){LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), LLVMGetParam(fn, 2), LLVMGetParam(fn, 3)};
}

/* Pointer to a value, from the base pointers. */
static LLVMValueRef value_pointer(CgEmitter *e, LLVMBuilderRef b, const Bases *base, const IrValue *v)
{
    const Home *h = &e->homes[v->id];
    if (h->kind == HOME_IO) {
        LLVMValueRef idx = LLVMConstInt(e->i64, (unsigned long long)h->offset, 0);
        LLVMValueRef slot = LLVMBuildGEP2(b, e->ptr, base->io, &idx, 1, "io.slot");
        return LLVMBuildLoad2(b, e->ptr, slot, v->name);
    }
    SD_ASSERT(h->kind != HOME_NONE);
    LLVMValueRef root = h->kind == HOME_CONSTS ? base->consts : h->kind == HOME_STATE ? base->state : base->scratch;
    LLVMValueRef off = LLVMConstInt(e->i64, (unsigned long long)h->offset, 0);
    return LLVMBuildInBoundsGEP2(b, e->i8, root, &off, 1, v->name);
}

static LLVMValueRef new_function(CgEmitter *e, const char *name, bool internal)
{
    LLVMValueRef fn = LLVMAddFunction(e->m, name, e->fn_type);
    if (internal) {
        LLVMSetLinkage(fn, LLVMInternalLinkage);
        unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(e->ctx, noinline, 0));
    }
    unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(e->ctx, nounwind, 0));
    cg_set_target_attrs(e->ctx, fn, e->t);
    return fn;
}

/* Fills a bufs array for one call; `thread` (may be NULL) offsets the workspace per thread. */
static LLVMValueRef build_bufs(CgEmitter *e, LLVMBuilderRef b, const Bases *base, const IrNode *n, const CgCall *call,
                               LLVMValueRef thread)
{
    LLVMTypeRef bufs_type = LLVMArrayType2(e->ptr, CG_MAX_CALL_BUFS);
    LLVMValueRef bufs = LLVMBuildAlloca(b, bufs_type, "bufs");
    for (int k = 0; k < call->n_bufs; k++) {
        int op = call->bufs[k];
        LLVMValueRef p;
        if (op == CG_BUF_PACKED) {
            LLVMValueRef off = LLVMConstInt(e->i64, e->cur_packed, 0);
            p = LLVMBuildInBoundsGEP2(b, e->i8, base->consts, &off, 1, "packed");
        } else if (op == CG_BUF_SHARED) {
            LLVMValueRef off = LLVMConstInt(e->i64, e->shared_offset, 0);
            p = LLVMBuildInBoundsGEP2(b, e->i8, base->scratch, &off, 1, "shared");
        } else if (op == CG_BUF_WORKSPACE) {
            LLVMValueRef off = LLVMConstInt(e->i64, e->workspace_offset, 0);
            if (thread) {
                LLVMValueRef t = LLVMBuildZExt(b, thread, e->i64, "");
                LLVMValueRef per = LLVMBuildMul(b, t, LLVMConstInt(e->i64, e->workspace_bytes, 0), "");
                off = LLVMBuildAdd(b, off, per, "");
            }
            p = LLVMBuildInBoundsGEP2(b, e->i8, base->scratch, &off, 1, "workspace");
        } else {
            const IrValue *v = op < n->n_inputs ? n->inputs[op] : n->outputs[op - n->n_inputs];
            p = v ? value_pointer(e, b, base, v) : LLVMConstNull(e->ptr);
        }
        LLVMValueRef idx[2] = {LLVMConstInt(e->i64, 0, 0), LLVMConstInt(e->i64, (unsigned)k, 0)};
        LLVMBuildStore(b, p, LLVMBuildInBoundsGEP2(b, bufs_type, bufs, idx, 2, ""));
    }
    return bufs;
}

/* Work below this (about elements or flops) is not worth waking another thread for. */
#define CG_PARALLEL_MIN_COST 32768.0

static int tasks_for(const CgEmitter *e, const CgCall *call)
{
    if (e->threads < 2 || !call->range_kernel || call->extent < 2 || call->cost < CG_PARALLEL_MIN_COST)
        return 1;
    int64_t t = (int64_t)e->threads * 4;
    if (call->grain > 1) { /* whole runs of items that share setup, but every thread busy */
        int64_t runs = call->extent / call->grain;
        t = runs < t ? runs : t;
        t = t < e->threads ? e->threads : t;
    }
    return (int)(call->extent < t ? call->extent : t);
}

/* task(ctx, task, thread): slice `task` of n_tasks of the call, ctx = the node's four bases. */
static LLVMValueRef emit_task(CgEmitter *e, const IrNode *n, const CgCall *call, int n_tasks, SdError *err)
{
    LLVMTypeRef i32 = LLVMInt32TypeInContext(e->ctx);
    LLVMTypeRef task_type = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), (LLVMTypeRef[]){e->ptr, e->i64, i32}, 3, 0);
    char name[64];
    snprintf(name, sizeof name, "task%d", e->n_tasks++);
    LLVMValueRef fn = LLVMAddFunction(e->m, name, task_type);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    cg_set_target_attrs(e->ctx, fn, e->t);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
    Bases base;
    LLVMValueRef slots[4];
    for (int i = 0; i < 4; i++) {
        LLVMValueRef idx = LLVMConstInt(e->i64, (unsigned)i, 0);
        slots[i] = LLVMBuildLoad2(b, e->ptr, LLVMBuildGEP2(b, e->ptr, LLVMGetParam(fn, 0), &idx, 1, ""), "");
    }
    base = (Bases){slots[0], slots[1], slots[2], slots[3]};
    LLVMValueRef bufs = build_bufs(e, b, &base, n, call, LLVMGetParam(fn, 2));
    /* items [task*extent/n, (task+1)*extent/n) */
    LLVMValueRef task = LLVMGetParam(fn, 1), extent = LLVMConstInt(e->i64, (unsigned long long)call->extent, 0);
    LLVMValueRef nt = LLVMConstInt(e->i64, (unsigned long long)n_tasks, 0);
    LLVMValueRef begin = LLVMBuildUDiv(b, LLVMBuildMul(b, task, extent, ""), nt, "begin");
    LLVMValueRef next = LLVMBuildAdd(b, task, LLVMConstInt(e->i64, 1, 0), "");
    LLVMValueRef end = LLVMBuildUDiv(b, LLVMBuildMul(b, next, extent, ""), nt, "end");
    LLVMValueRef inst = cg_kernel_instance(e, n, call->range_kernel, call, true, err);
    if (inst) {
        LLVMTypeRef range_type =
            LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), (LLVMTypeRef[]){e->ptr, e->i64, e->i64}, 3, 0);
        LLVMBuildCall2(b, range_type, inst, (LLVMValueRef[]){bufs, begin, end}, 3, "");
    }
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    return inst ? fn : NULL;
}

static bool same_home(const CgEmitter *e, const IrValue *a, const IrValue *b)
{
    const Home *x = &e->homes[a->id], *y = &e->homes[b->id];
    return x->kind == y->kind && x->offset == y->offset && x->kind != HOME_NONE;
}

static SdStatus emit_calls(CgEmitter *e, LLVMBuilderRef b, LLVMValueRef fn, const IrNode *n, const CgLowered *low,
                           SdError *err)
{
    bool reshape = n->op == IR_OP_RESHAPE || n->op == IR_OP_FLATTEN || n->op == IR_OP_SQUEEZE || n->op == IR_OP_UNSQUEEZE;
    if (reshape && same_home(e, n->inputs[0], n->outputs[0]))
        return SD_OK; /* memory planning made the output the input's bytes */
    LLVMTypeRef inst_type = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), (LLVMTypeRef[]){e->ptr}, 1, 0);
    Bases base = fn_bases(fn);
    for (int c = 0; c < low->n_calls; c++) {
        const CgCall *call = &low->calls[c];
        int n_tasks = tasks_for(e, call);
        if (n_tasks > 1) {
            LLVMValueRef task = emit_task(e, n, call, n_tasks, err);
            if (!task)
                return err->status;
            LLVMTypeRef ctx_type = LLVMArrayType2(e->ptr, 4);
            LLVMValueRef ctx = LLVMBuildAlloca(b, ctx_type, "ctx");
            LLVMValueRef vals[4] = {base.consts, base.state, base.scratch, base.io};
            for (int i = 0; i < 4; i++) {
                LLVMValueRef idx[2] = {LLVMConstInt(e->i64, 0, 0), LLVMConstInt(e->i64, (unsigned)i, 0)};
                LLVMBuildStore(b, vals[i], LLVMBuildInBoundsGEP2(b, ctx_type, ctx, idx, 2, ""));
            }
            LLVMTypeRef i32 = LLVMInt32TypeInContext(e->ctx);
            LLVMTypeRef pf_type = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx),
                                                   (LLVMTypeRef[]){e->i64, i32, e->ptr, e->ptr}, 4, 0);
            LLVMValueRef pf = LLVMGetNamedFunction(e->m, "rt_parallel_for");
            if (!pf)
                pf = LLVMAddFunction(e->m, "rt_parallel_for", pf_type);
            LLVMValueRef args[4] = {LLVMConstInt(e->i64, (unsigned)n_tasks, 0),
                                    LLVMConstInt(i32, (unsigned)e->threads, 0), task, ctx};
            LLVMBuildCall2(b, pf_type, pf, args, 4, "");
            continue;
        }
        LLVMValueRef inst = cg_kernel_instance(e, n, call->kernel, call, false, err);
        if (!inst)
            return err->status;
        LLVMValueRef bufs = build_bufs(e, b, &base, n, call, NULL);
        LLVMBuildCall2(b, inst_type, inst, (LLVMValueRef[]){bufs}, 1, "");
    }
    return SD_OK;
}

/* rt_profile_mark(scratch + offset, end) in the entry, around a node's call. */
static SdStatus emit_profile_mark(CgEmitter *e, LLVMBuilderRef b, LLVMValueRef entry, size_t offset, int end,
                                  SdError *err)
{
    LLVMValueRef mark = LLVMGetNamedFunction(e->m, "rt_profile_mark");
    if (!mark)
        return sd_errorf(err, SD_EINTERNAL, "the kernel bitcode has no rt_profile_mark");
    LLVMTypeRef type = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), (LLVMTypeRef[]){e->ptr, e->i64}, 2, 0);
    LLVMValueRef off = LLVMConstInt(e->i64, offset, 0);
    LLVMValueRef slot = LLVMBuildInBoundsGEP2(b, e->i8, fn_bases(entry).scratch, &off, 1, "profile");
    LLVMBuildCall2(b, type, mark, (LLVMValueRef[]){slot, LLVMConstInt(e->i64, (unsigned)end, 0)}, 2, "");
    return SD_OK;
}

/* Graph outputs that do not live in their io slot (inputs, constants, repeated outputs) are copied. */
static SdStatus emit_output_copies(CgEmitter *e, LLVMBuilderRef b, LLVMValueRef entry, SdError *err)
{
    const IrGraph *g = e->g;
    int n_in = ir_graph_num_inputs(g);
    for (int j = 0; j < ir_graph_num_outputs(g); j++) {
        IrValue *v = ir_graph_output(g, j);
        const Home *h = &e->homes[v->id];
        if (h->kind == HOME_IO && h->offset == n_in + j)
            continue;
        CgLowered low = {0};
        SD_TRY(cg_lower_flat_copy(&low, ir_value_numel(v), sd_dtype_size(v->dtype), 0, 1, err));
        LLVMTypeRef kernel_type = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), (LLVMTypeRef[]){e->ptr, e->ptr}, 2, 0);
        LLVMTypeRef bufs_type = LLVMArrayType2(e->ptr, 2);
        LLVMValueRef bufs = LLVMBuildAlloca(b, bufs_type, "copy.bufs");
        Bases base = fn_bases(entry);
        LLVMValueRef src = value_pointer(e, b, &base, v);
        LLVMValueRef idx_dst = LLVMConstInt(e->i64, (unsigned)(n_in + j), 0);
        LLVMValueRef dst = LLVMBuildLoad2(b, e->ptr, LLVMBuildGEP2(b, e->ptr, LLVMGetParam(entry, 3), &idx_dst, 1, ""), "out");
        LLVMValueRef i0[2] = {LLVMConstInt(e->i64, 0, 0), LLVMConstInt(e->i64, 0, 0)};
        LLVMValueRef i1[2] = {LLVMConstInt(e->i64, 0, 0), LLVMConstInt(e->i64, 1, 0)};
        LLVMBuildStore(b, src, LLVMBuildInBoundsGEP2(b, bufs_type, bufs, i0, 2, ""));
        LLVMBuildStore(b, dst, LLVMBuildInBoundsGEP2(b, bufs_type, bufs, i1, 2, ""));
        LLVMValueRef args[2] = {cg_param_global(e, &low.calls[0]), bufs};
        LLVMBuildCall2(b, kernel_type, LLVMGetNamedFunction(e->m, "rt_copy_strided"), args, 2, "");
        cg_lowered_free(&low);
    }
    return SD_OK;
}

SdStatus cg_emit(const IrGraph *g, const CgOptions *opt, const CgTarget *t, LLVMContextRef ctx, CgEmitted *out,
                 SdError *err)
{
    memset(out, 0, sizeof *out);
    int n_nodes = ir_graph_num_nodes(g);
    CgLowered *lowered = calloc((size_t)(n_nodes ? n_nodes : 1), sizeof *lowered);
    CgEmitter e = {.g = g, .opt = opt, .t = t, .ctx = ctx, .threads = opt->threads > 1 ? opt->threads : 1};
    e.homes = calloc((size_t)max_value_id(g) + 1, sizeof *e.homes);
    if (!lowered || !e.homes) {
        free(lowered), free(e.homes);
        return sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(g));
    }
    SdStatus st = SD_OK;
    size_t workspace = 0, shared = 0;
    CgLowerOptions lower = opt->lower;
    if (lower.gemm == CG_GEMM_BUILTIN && !t->avx512)
        lower.gemm = CG_GEMM_BUILTIN_NARROW;
    lower.pack_weights = !opt->no_pack_weights;
    e.lowered = lowered;
    e.packed_offset = calloc((size_t)(n_nodes ? n_nodes : 1), sizeof *e.packed_offset);
    if (!e.packed_offset)
        st = sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(g));
    for (int i = 0; i < n_nodes && st == SD_OK; i++) {
        st = cg_lower_node(ir_graph_node(g, i), &lower, &lowered[i], err);
        if (st == SD_OK && lowered[i].workspace_bytes > workspace)
            workspace = lowered[i].workspace_bytes;
        if (st == SD_OK && lowered[i].shared_bytes > shared)
            shared = lowered[i].shared_bytes;
    }
    if (st == SD_OK)
        st = assign_homes(&e, out, workspace, shared, err);
    if (st == SD_OK)
        st = cg_load_kernels(ctx, t, &e.m, err);
    if (st == SD_OK) {
        e.ptr = LLVMPointerTypeInContext(ctx, 0);
        e.i8 = LLVMInt8TypeInContext(ctx);
        e.i64 = LLVMInt64TypeInContext(ctx);
        e.fn_type = LLVMFunctionType(LLVMVoidTypeInContext(ctx), (LLVMTypeRef[]){e.ptr, e.ptr, e.ptr, e.ptr}, 4, 0);
        snprintf(out->entry, sizeof out->entry, "%s_entry", opt->name ? opt->name : "model");
        LLVMValueRef entry = new_function(&e, out->entry, false);
        LLVMBuilderRef eb = LLVMCreateBuilderInContext(ctx);
        LLVMPositionBuilderAtEnd(eb, LLVMAppendBasicBlockInContext(ctx, entry, "entry"));
        LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
        for (int i = 0; i < n_nodes && st == SD_OK; i++) {
            const IrNode *n = ir_graph_node(g, i);
            char fname[64];
            snprintf(fname, sizeof fname, "node%d.%s", i, ir_op_name(n->op));
            LLVMValueRef fn = new_function(&e, fname, true);
            LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
            e.cur_packed = e.packed_offset[i];
            e.cur_node = i;
            st = emit_calls(&e, b, fn, n, &lowered[i], err);
            LLVMBuildRetVoid(b);
            LLVMValueRef args[4] = {LLVMGetParam(entry, 0), LLVMGetParam(entry, 1), LLVMGetParam(entry, 2),
                                    LLVMGetParam(entry, 3)};
            const size_t slot = out->profile_offset + (size_t)i * 2 * sizeof(int64_t); /* when profiling */
            if (opt->profile && st == SD_OK)
                st = emit_profile_mark(&e, eb, entry, slot, 0, err);
            LLVMBuildCall2(eb, e.fn_type, fn, args, 4, "");
            if (opt->profile && st == SD_OK)
                st = emit_profile_mark(&e, eb, entry, slot, 1, err);
        }
        if (st == SD_OK)
            st = emit_output_copies(&e, eb, entry, err);
        cg_inline_single_instances(&e);
        LLVMBuildRetVoid(eb);
        LLVMDisposeBuilder(b);
        LLVMDisposeBuilder(eb);
    }
    char *msg = NULL;
    if (st == SD_OK && LLVMVerifyModule(e.m, LLVMReturnStatusAction, &msg)) {
        st = sd_errorf(err, SD_EINTERNAL, "generated LLVM module for '%s' is invalid: %.600s", ir_graph_name(g),
                       msg ? msg : "");
    }
    LLVMDisposeMessage(msg);
    for (int i = 0; i < n_nodes; i++)
        cg_lowered_free(&lowered[i]);
    free(lowered);
    free(e.homes);
    free(e.packed_offset);
    free(e.inst);
    if (st != SD_OK) {
        if (e.m)
            LLVMDisposeModule(e.m);
        cg_emitted_free(out);
        return st;
    }
    out->module = e.m;
    return SD_OK;
}

SdStatus cg_optimize(CgEmitted *e, const CgTarget *t, const CgOptions *opt, SdError *err)
{
    double t0 = now_seconds();
    LLVMPassBuilderOptionsRef pbo = LLVMCreatePassBuilderOptions();
    char pipeline[32];
    int level = opt->opt_level ? opt->opt_level : 3;
    snprintf(pipeline, sizeof pipeline, "default<O%d>", level < 0 ? 0 : level > 3 ? 3 : level);
    LLVMErrorRef lerr = LLVMRunPasses(e->module, pipeline, t->tm, pbo);
    LLVMDisposePassBuilderOptions(pbo);
    SdStatus st = SD_OK;
    if (lerr) {
        char *em = LLVMGetErrorMessage(lerr);
        st = sd_errorf(err, SD_ELLVM, "LLVM optimization failed: %s", em);
        LLVMDisposeErrorMessage(em);
    }
    e->optimize_seconds = now_seconds() - t0;
    if (st == SD_OK && opt->print_llvm) {
        char *s = LLVMPrintModuleToString(e->module);
        fputs(s, stderr);
        LLVMDisposeMessage(s);
    }
    return st;
}

void cg_emitted_free(CgEmitted *e)
{
    sd_aligned_free(e->consts);
    sd_aligned_free(e->state_init);
    e->consts = e->state_init = NULL;
    for (int i = 0; i < e->n_state_entries; i++)
        free(e->state_entries[i].name);
    free(e->state_entries);
    e->state_entries = NULL;
    e->n_state_entries = 0;
}
