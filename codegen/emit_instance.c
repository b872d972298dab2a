/* codegen/emit_instance.c — see emit_internal.h: kernels by name, and their specializations to one
 * params value, each made once and called by every node that passes the same params. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/emit_internal.h"

LLVMValueRef cg_kernel_function(CgEmitter *e, const char *name) { return LLVMGetNamedFunction(e->m, name); }

LLVMValueRef cg_param_global(CgEmitter *e, const CgCall *call)
{
    char name[64];
    snprintf(name, sizeof name, "params.%d", e->n_param_globals++);
    LLVMValueRef init = LLVMConstStringInContext2(e->ctx, call->params, call->params_size, 1);
    LLVMValueRef gv = LLVMAddGlobal(e->m, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(gv, 16);
    return gv;
}

/* A kernel specialized to one params value, shared by every call with the same kernel and the
 * same params bytes: repeated layers (ResNet-50's blocks) make LLVM compile each shape once, not
 * once per node. */
typedef struct Instance {
    const char *kernel;
    const void *params;
    size_t size;
    uint64_t hash;
    LLVMValueRef fn;
    int uses;
} Instance;

static uint64_t instance_hash(const char *kernel, const void *params, size_t size)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *c = kernel; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ ((const uint8_t *)params)[i]) * 1099511628211ull;
    return h;
}

LLVMValueRef cg_kernel_instance(CgEmitter *e, const IrNode *n, const char *kernel, const CgCall *call, bool range,
                                SdError *err)
{
    const uint64_t h = instance_hash(kernel, call->params, call->params_size);
    for (int i = 0; i < e->n_inst; i++) {
        const Instance *in = &e->inst[i];
        if (in->hash == h && in->size == call->params_size && strcmp(in->kernel, kernel) == 0 &&
            memcmp(in->params, call->params, call->params_size) == 0) {
            e->inst[i].uses++;
            return in->fn;
        }
    }
    char lb[200];
    LLVMValueRef k = cg_kernel_function(e, kernel);
    if (!k) {
        sd_errorf(err, SD_EINTERNAL, "%s: kernel %s is missing from the kernel bitcode", ir_node_label(n, lb, sizeof lb),
                  kernel);
        return NULL;
    }
    if (e->n_inst == e->cap_inst) {
        int cap = e->cap_inst ? 2 * e->cap_inst : 64;
        Instance *grown = realloc(e->inst, (size_t)cap * sizeof *grown);
        if (!grown) {
            sd_errorf(err, SD_ENOMEM, "out of memory generating code for '%s'", ir_graph_name(e->g));
            return NULL;
        }
        e->inst = grown, e->cap_inst = cap;
    }
    LLVMTypeRef args[3] = {e->ptr, e->i64, e->i64};
    LLVMTypeRef type = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), args, range ? 3 : 1, 0);
    char name[128];
    snprintf(name, sizeof name, "%s.n%d", kernel, e->cur_node); /* named after the first node using it */
    LLVMValueRef fn = LLVMAddFunction(e->m, name, type);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    const char *attrs[2] = {"noinline", "nounwind"};
    for (int i = 0; i < 2; i++)
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                LLVMCreateEnumAttribute(e->ctx, LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i])), 0));
    cg_set_target_attrs(e->ctx, fn, e->t);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(e->ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(e->ctx, fn, "entry"));
    LLVMTypeRef kargs[4] = {e->ptr, e->ptr, e->i64, e->i64};
    LLVMTypeRef ktype = LLVMFunctionType(LLVMVoidTypeInContext(e->ctx), kargs, range ? 4 : 2, 0);
    LLVMValueRef vals[4] = {cg_param_global(e, call), LLVMGetParam(fn, 0), range ? LLVMGetParam(fn, 1) : NULL,
                            range ? LLVMGetParam(fn, 2) : NULL};
    LLVMBuildCall2(b, ktype, k, vals, range ? 4 : 2, "");
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    e->inst[e->n_inst++] = (Instance){kernel, call->params, call->params_size, h, fn, 1};
    return fn;
}

void cg_inline_single_instances(CgEmitter *e)
{
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    unsigned always = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
    for (int i = 0; i < e->n_inst; i++)
        if (e->inst[i].uses == 1) {
            LLVMRemoveEnumAttributeAtIndex(e->inst[i].fn, LLVMAttributeFunctionIndex, noinline);
            LLVMAddAttributeAtIndex(e->inst[i].fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(e->ctx, always, 0));
        }
}

