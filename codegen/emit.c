/* codegen/emit.c — a part of a graph's module. With the plan's homes (io pointer, constants blob,
 * state, scratch arena at the planned offset), each of the part's nodes becomes a function that
 * computes its operand pointers and calls its kernels with constant parameter globals, so after
 * inlining each kernel is specialized to that node's shapes. */
#include "codegen/emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/emit_internal.h"
#include "support/mem.h"

static Bases fn_bases(LLVMValueRef fn)
{
    return (Bases){LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), LLVMGetParam(fn, 2), LLVMGetParam(fn, 3)};
}

/* Pointer to a value, from the base pointers. */
static LLVMValueRef value_pointer(CgEmitter *e, LLVMBuilderRef b, const Bases *base, const IrValue *v)
{
    const Home *h = &e->p->homes[v->id];
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
            LLVMValueRef off = LLVMConstInt(e->i64, e->p->shared_offset, 0);
            p = LLVMBuildInBoundsGEP2(b, e->i8, base->scratch, &off, 1, "shared");
        } else if (op == CG_BUF_WORKSPACE) {
            LLVMValueRef off = LLVMConstInt(e->i64, e->p->workspace_offset, 0);
            if (thread) {
                LLVMValueRef t = LLVMBuildZExt(b, thread, e->i64, "");
                LLVMValueRef per = LLVMBuildMul(b, t, LLVMConstInt(e->i64, e->p->workspace_bytes, 0), "");
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
    if (e->p->threads < 2 || !call->range_kernel || call->extent < 2 || call->cost < CG_PARALLEL_MIN_COST)
        return 1;
    return (int)cg_split_tasks(call->extent, call->grain, e->p->threads);
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
    const Home *x = &e->p->homes[a->id], *y = &e->p->homes[b->id];
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
                                    LLVMConstInt(i32, (unsigned)e->p->threads, 0), task, ctx};
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
        const Home *h = &e->p->homes[v->id];
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

/* Node i's function: defined in its part, declared (external) in part 0 when it lies elsewhere. */
static LLVMValueRef node_function(CgEmitter *e, int i, bool define)
{
    char fname[64];
    snprintf(fname, sizeof fname, "node%d.%s", i, ir_op_name(ir_graph_node(e->g, i)->op));
    if (!define)
        return LLVMAddFunction(e->m, fname, e->fn_type);
    /* called from another part's entry: it needs a name the linker sees */
    return new_function(e, fname, e->p->part_of[i] == 0);
}

/* The entry: every node in order (with profile marks), then the output copies. */
static SdStatus emit_entry(CgEmitter *e, LLVMValueRef *fns, SdError *err)
{
    LLVMValueRef entry = new_function(e, e->p->entry, false);
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(e->ctx);
    LLVMPositionBuilderAtEnd(eb, LLVMAppendBasicBlockInContext(e->ctx, entry, "entry"));
    SdStatus st = SD_OK;
    LLVMValueRef args[4] = {LLVMGetParam(entry, 0), LLVMGetParam(entry, 1), LLVMGetParam(entry, 2),
                            LLVMGetParam(entry, 3)};
    for (int i = 0; i < ir_graph_num_nodes(e->g) && st == SD_OK; i++) {
        LLVMValueRef fn = fns[i] ? fns[i] : node_function(e, i, false);
        const size_t slot = e->p->profile_offset + (size_t)i * 2 * sizeof(int64_t); /* when profiling */
        if (e->opt->profile)
            st = emit_profile_mark(e, eb, entry, slot, 0, err);
        LLVMBuildCall2(eb, e->fn_type, fn, args, 4, "");
        if (e->opt->profile && st == SD_OK)
            st = emit_profile_mark(e, eb, entry, slot, 1, err);
    }
    if (st == SD_OK)
        st = emit_output_copies(e, eb, entry, err);
    LLVMBuildRetVoid(eb);
    LLVMDisposeBuilder(eb);
    return st;
}

SdStatus cg_emit_part(const CgPlan *p, int part, const CgTarget *t, LLVMContextRef ctx, LLVMModuleRef *out,
                      SdError *err)
{
    *out = NULL;
    const int n_nodes = ir_graph_num_nodes(p->g);
    CgEmitter e = {.p = p, .g = p->g, .opt = p->opt, .t = t, .ctx = ctx};
    LLVMValueRef *fns = calloc((size_t)(n_nodes ? n_nodes : 1), sizeof *fns);
    if (!fns)
        return sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(p->g));
    SdStatus st = cg_load_kernels(ctx, t, &e.m, err);
    if (st == SD_OK) {
        e.ptr = LLVMPointerTypeInContext(ctx, 0);
        e.i8 = LLVMInt8TypeInContext(ctx);
        e.i64 = LLVMInt64TypeInContext(ctx);
        e.fn_type = LLVMFunctionType(LLVMVoidTypeInContext(ctx), (LLVMTypeRef[]){e.ptr, e.ptr, e.ptr, e.ptr}, 4, 0);
        LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
        for (int i = 0; i < n_nodes && st == SD_OK; i++) {
            if (p->part_of[i] != part)
                continue;
            fns[i] = node_function(&e, i, true);
            LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fns[i], "entry"));
            e.cur_packed = p->packed_offset[i];
            e.cur_node = i;
            st = emit_calls(&e, b, fns[i], ir_graph_node(p->g, i), &p->lowered[i], err);
            LLVMBuildRetVoid(b);
        }
        LLVMDisposeBuilder(b);
        if (st == SD_OK && part == 0)
            st = emit_entry(&e, fns, err);
        cg_inline_single_instances(&e);
        if (st == SD_OK)
            st = cg_link_kernels(&e.m, err);
    }
    char *msg = NULL;
    if (st == SD_OK && LLVMVerifyModule(e.m, LLVMReturnStatusAction, &msg)) {
        st = sd_errorf(err, SD_EINTERNAL, "generated LLVM module for '%s' (part %d) is invalid: %.600s",
                       ir_graph_name(p->g), part, msg ? msg : "");
    }
    LLVMDisposeMessage(msg);
    free(fns);
    free(e.inst);
    if (st != SD_OK) {
        if (e.m)
            LLVMDisposeModule(e.m);
        return st;
    }
    *out = e.m;
    return SD_OK;
}

SdStatus cg_emit(const IrGraph *g, const CgOptions *opt, const CgTarget *t, LLVMContextRef ctx, CgEmitted *out,
                 SdError *err)
{
    CgPlan *plan;
    SD_TRY(cg_plan(g, opt, t, out, &plan, err));
    SdStatus st = cg_plan_fill(plan, out, err);
    if (st == SD_OK)
        st = cg_emit_part(plan, 0, t, ctx, &out->module, err);
    cg_plan_free(plan);
    if (st != SD_OK)
        cg_emitted_free(out);
    return st;
}

SdStatus cg_optimize(LLVMModuleRef m, const CgTarget *t, const CgOptions *opt, SdError *err)
{
    LLVMPassBuilderOptionsRef pbo = LLVMCreatePassBuilderOptions();
    char pipeline[32];
    int level = opt->opt_level ? opt->opt_level : 3;
    snprintf(pipeline, sizeof pipeline, "default<O%d>", level < 0 ? 0 : level > 3 ? 3 : level);
    LLVMErrorRef lerr = LLVMRunPasses(m, pipeline, t->tm, pbo);
    LLVMDisposePassBuilderOptions(pbo);
    SdStatus st = SD_OK;
    if (lerr) {
        char *em = LLVMGetErrorMessage(lerr);
        st = sd_errorf(err, SD_ELLVM, "LLVM optimization failed: %s", em);
        LLVMDisposeErrorMessage(em);
    }
    if (st == SD_OK && opt->print_llvm) {
        char *s = LLVMPrintModuleToString(m);
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
