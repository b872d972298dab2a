/* codegen/bitcode.c — the kernel library as LLVM bitcode. clang-19 compiled the files in runtime/kernels/
 * at build time (vectorization deferred until shapes are constants, TOOLCHAIN.md); the bytes are
 * linked into seedc, read lazily per model, and only the kernels a model calls (with what they call)
 * are read whole and linked into its module. */
#include <stdbool.h>
#include <string.h>

#include <llvm-c/BitReader.h>
#include <llvm-c/Linker.h>

#include "codegen/emit.h"

extern const char seedc_kernels_bc[];
extern const char seedc_kernels_bc_end[];

static void set_fn_attr(LLVMContextRef ctx, LLVMValueRef fn, const char *key, const char *value)
{
    LLVMRemoveStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, key, (unsigned)strlen(key));
    LLVMAttributeRef a = LLVMCreateStringAttribute(ctx, key, (unsigned)strlen(key), value, (unsigned)strlen(value));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

void cg_set_target_attrs(LLVMContextRef ctx, LLVMValueRef fn, const CgTarget *t)
{
    set_fn_attr(ctx, fn, "target-cpu", t->cpu);
    set_fn_attr(ctx, fn, "target-features", t->features);
    if (t->avx512)
        set_fn_attr(ctx, fn, "prefer-vector-width", "512");
}

/* Deletes the internal functions nothing calls before LLVM's pipeline spends time on each. */
static void drop_unused(LLVMModuleRef m)
{
    for (bool dropped = true; dropped;) {
        dropped = false;
        for (LLVMValueRef fn = LLVMGetFirstFunction(m), next; fn; fn = next) {
            next = LLVMGetNextFunction(fn);
            LLVMLinkage l = LLVMGetLinkage(fn);
            if (!LLVMIsDeclaration(fn) && (l == LLVMInternalLinkage || l == LLVMPrivateLinkage) && !LLVMGetFirstUse(fn)) {
                LLVMDeleteFunction(fn);
                dropped = true;
            }
        }
    }
}

/* On targets with those features, each kernel function built with them ("X_avx512") takes the
 * place of its portable twin X: every call of X goes to it and it takes the name X, so callers,
 * code generation's included, name kernels one way (a kernel built once, rt_gemm_f32 in gemm.c,
 * reaches the bf16 GEMM's fast build too). */
static void adopt_avx512_kernels(LLVMModuleRef m)
{
    for (LLVMValueRef fn = LLVMGetFirstFunction(m); fn; fn = LLVMGetNextFunction(fn)) {
        size_t len;
        const char *name = LLVMGetValueName2(fn, &len);
        if (LLVMIsDeclaration(fn) || len <= 7 || len >= 128 || strcmp(name + len - 7, "_avx512") != 0)
            continue;
        char plain[128];
        memcpy(plain, name, len - 7);
        plain[len - 7] = '\0';
        LLVMValueRef twin = LLVMGetNamedFunction(m, plain);
        if (twin && LLVMGlobalGetValueType(twin) != LLVMGlobalGetValueType(fn))
            continue;
        if (twin) { /* the bodies not yet read call fn too: the reader's references follow the
                       replacement; twin stays, unused, and is never linked */
            LLVMReplaceAllUsesWith(twin, fn);
            LLVMSetValueName2(twin, "", 0);
        }
        LLVMSetValueName2(fn, plain, len - 7);
    }
}

SdStatus cg_load_kernels(LLVMContextRef ctx, const CgTarget *t, LLVMModuleRef *out, SdError *err)
{
    size_t n = (size_t)(seedc_kernels_bc_end - seedc_kernels_bc);
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(seedc_kernels_bc, n, "kernels.bc", 0);
    LLVMModuleRef m = NULL;
    if (LLVMGetBitcodeModuleInContext2(ctx, buf, &m)) { /* on success m owns buf */
        LLVMDisposeMemoryBuffer(buf);
        return sd_errorf(err, SD_EINTERNAL, "the embedded kernel bitcode (%zu bytes) does not parse", n);
    }
    unsigned always = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    if (t->avx512_lowp)
        adopt_avx512_kernels(m);
    for (LLVMValueRef fn = LLVMGetFirstFunction(m); fn; fn = LLVMGetNextFunction(fn)) {
        if (LLVMIsDeclaration(fn))
            continue;
        /* linked only where called (cg_link_kernels); on targets without AVX512-VNNI/BF16 nothing
         * calls the "_avx512" builds, so their code never reaches the model, even unoptimized */
        if (LLVMGetLinkage(fn) == LLVMExternalLinkage)
            LLVMSetLinkage(fn, LLVMLinkOnceODRLinkage);
        /* a kernel helper declared noinline (the GEMM micro-kernels) stays one shared copy */
        if (!LLVMGetEnumAttributeAtIndex(fn, LLVMAttributeFunctionIndex, noinline))
            LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(ctx, always, 0));
        cg_set_target_attrs(ctx, fn, t);
    }
    for (LLVMValueRef gv = LLVMGetFirstGlobal(m); gv; gv = LLVMGetNextGlobal(gv))
        if (!LLVMIsDeclaration(gv) && LLVMGetLinkage(gv) == LLVMExternalLinkage)
            LLVMSetLinkage(gv, LLVMLinkOnceODRLinkage);
    LLVMSetTarget(m, t->triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(t->tm);
    char *layout = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(m, layout);
    LLVMDisposeMessage(layout);
    LLVMDisposeTargetData(td);
    *out = m;
    return SD_OK;
}

SdStatus cg_link_kernels(LLVMModuleRef *m, SdError *err)
{
    size_t len;
    const char *id = LLVMGetModuleIdentifier(*m, &len);
    LLVMModuleRef dst = LLVMModuleCreateWithNameInContext(id, LLVMGetModuleContext(*m));
    LLVMSetTarget(dst, LLVMGetTarget(*m));
    LLVMSetDataLayout(dst, LLVMGetDataLayoutStr(*m));
    LLVMBool failed = LLVMLinkModules2(dst, *m); /* destroys *m */
    *m = NULL;
    if (failed) {
        LLVMDisposeModule(dst);
        return sd_errorf(err, SD_EINTERNAL, "linking the kernels into the model's module failed");
    }
    for (LLVMValueRef fn = LLVMGetFirstFunction(dst); fn; fn = LLVMGetNextFunction(fn))
        if (!LLVMIsDeclaration(fn) && LLVMGetLinkage(fn) == LLVMLinkOnceODRLinkage)
            LLVMSetLinkage(fn, LLVMInternalLinkage);
    for (LLVMValueRef gv = LLVMGetFirstGlobal(dst); gv; gv = LLVMGetNextGlobal(gv))
        if (!LLVMIsDeclaration(gv) && LLVMGetLinkage(gv) == LLVMLinkOnceODRLinkage)
            LLVMSetLinkage(gv, LLVMInternalLinkage);
    drop_unused(dst);
    *m = dst;
    return SD_OK;
}
