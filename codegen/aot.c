/* codegen/aot.c — the AOT driver. The module is built exactly as for the JIT (cg_emit), then gets
 * a C-callable wrapper NAME_run(weights, scratch, inputs, outputs) and, unless weights go to a
 * file, the weights as a read-only global NAME_weights; it is optimized and emitted as an
 * object for the target. Same module, same optimizer: the numbers equal the JIT's. */
#include "codegen/aot.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/Object.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/emit.h"
#include "support/mem.h"

typedef struct {
    const char *name, *triple, *cpu, *features;
    bool avx512;
} AotTarget;

static const AotTarget targets[] = {
    {"native", NULL, NULL, NULL, false},
    {"x86-64-v3", "x86_64-pc-linux-gnu", "x86-64-v3", "", false},
    {"x86-64-v4", "x86_64-pc-linux-gnu", "x86-64-v4", "", true},
    {"aarch64-linux-gnu", "aarch64-unknown-linux-gnu", "generic", "+neon", false},
};

const char *const *cg_aot_targets(void)
{
    static const char *names[] = {"native", "x86-64-v3", "x86-64-v4", "aarch64-linux-gnu", NULL};
    return names;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* NAME_run(weights, scratch, inputs, outputs): io in the entry's layout, no state. */
static void add_wrapper(LLVMModuleRef m, LLVMContextRef ctx, const CgEmitted *e, const IrGraph *g,
                        const CgTarget *t, const char *name)
{
    LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0), i64 = LLVMInt64TypeInContext(ctx);
    LLVMTypeRef fn_type = LLVMFunctionType(LLVMVoidTypeInContext(ctx), (LLVMTypeRef[]){ptr, ptr, ptr, ptr}, 4, 0);
    char sym[256];
    snprintf(sym, sizeof sym, "%s_run", name);
    LLVMValueRef fn = LLVMAddFunction(m, sym, fn_type);
    cg_set_target_attrs(ctx, fn, t);
    LLVMValueRef entry = LLVMGetNamedFunction(m, e->entry);
    LLVMSetLinkage(entry, LLVMInternalLinkage);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
    int ni = ir_graph_num_inputs(g), no = ir_graph_num_outputs(g);
    LLVMTypeRef io_type = LLVMArrayType2(ptr, (uint64_t)(ni + no + 1));
    LLVMValueRef io = LLVMBuildAlloca(b, io_type, "io");
    for (int k = 0; k < ni + no; k++) {
        bool in = k < ni;
        LLVMValueRef idx = LLVMConstInt(i64, (unsigned long long)(in ? k : k - ni), 0);
        LLVMValueRef src = LLVMBuildGEP2(b, ptr, LLVMGetParam(fn, in ? 2 : 3), &idx, 1, "");
        LLVMValueRef p = LLVMBuildLoad2(b, ptr, src, in ? "in" : "out");
        LLVMValueRef slot[2] = {LLVMConstInt(i64, 0, 0), LLVMConstInt(i64, (unsigned long long)k, 0)};
        LLVMBuildStore(b, p, LLVMBuildInBoundsGEP2(b, io_type, io, slot, 2, ""));
    }
    LLVMValueRef args[4] = {LLVMGetParam(fn, 0), LLVMConstNull(ptr), LLVMGetParam(fn, 1), io};
    LLVMBuildCall2(b, fn_type, entry, args, 4, "");
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
}

static void add_weights(LLVMModuleRef m, LLVMContextRef ctx, const CgEmitted *e, const char *name)
{
    char sym[256];
    snprintf(sym, sizeof sym, "%s_weights", name);
    LLVMValueRef init = LLVMConstStringInContext2(ctx, (const char *)e->consts, e->consts_bytes, 1);
    LLVMValueRef gv = LLVMAddGlobal(m, LLVMTypeOf(init), sym);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetAlignment(gv, 64);
}

/* Sum of the object's executable sections. */
static size_t text_bytes(const char *path)
{
    LLVMMemoryBufferRef buf;
    char *msg = NULL;
    if (LLVMCreateMemoryBufferWithContentsOfFile(path, &buf, &msg)) {
        LLVMDisposeMessage(msg);
        return 0;
    }
    size_t total = 0;
    LLVMBinaryRef bin = LLVMCreateBinary(buf, NULL, &msg);
    if (bin) {
        LLVMSectionIteratorRef it = LLVMObjectFileCopySectionIterator(bin);
        for (; !LLVMObjectFileIsSectionIteratorAtEnd(bin, it); LLVMMoveToNextSection(it)) {
            const char *s = LLVMGetSectionName(it);
            if (s && strncmp(s, ".text", 5) == 0)
                total += LLVMGetSectionSize(it);
        }
        LLVMDisposeSectionIterator(it);
        LLVMDisposeBinary(bin);
    } else {
        LLVMDisposeMessage(msg);
    }
    LLVMDisposeMemoryBuffer(buf);
    return total;
}

static void add_file(CgAotReport *rep, const char *path)
{
    if (rep->n_files < CG_AOT_MAX_FILES)
        snprintf(rep->files[rep->n_files++], sizeof rep->files[0], "%s", path);
}

static SdStatus write_blob(const char *path, const void *data, size_t n, SdError *err)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return sd_errorf(err, SD_EIO, "cannot write '%s'", tmp);
    bool ok = fwrite(data, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return sd_errorf(err, SD_EIO, "cannot write '%s'", path);
    }
    return SD_OK;
}

SdStatus cg_compile_aot(const IrGraph *g, const CgAotOptions *opt, CgAotReport *rep, SdError *err)
{
    double t0 = now_seconds();
    memset(rep, 0, sizeof *rep);
    const AotTarget *at = NULL;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (strcmp(opt->target ? opt->target : "native", targets[i].name) == 0)
            at = &targets[i];
    if (!at)
        return sd_errorf(err, SD_EUSAGE, "unknown target '%s' (native, x86-64-v3, x86-64-v4 or aarch64-linux-gnu)",
                         opt->target);
    const char *name = opt->cg.name;
    if (!name || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return sd_errorf(err, SD_EUSAGE, "the output name '%s' is not a C identifier (use --name)", name ? name : "");
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return sd_errorf(err, SD_EUSAGE, "the output name '%s' is not a C identifier (use --name)", name);
    if (at->triple && strncmp(at->triple, "aarch64", 7) == 0 && opt->cg.lower.gemm == CG_GEMM_OPENBLAS)
        return sd_errorf(err, SD_EUSAGE, "--gemm=openblas is not available for aarch64-linux-gnu; use --gemm=builtin");

    LLVMInitializeAllTargetInfos();
    LLVMInitializeAllTargets();
    LLVMInitializeAllTargetMCs();
    LLVMInitializeAllAsmPrinters();
    CgTarget t;
    SD_TRY(cg_target_init(&t, at->triple, at->cpu, at->features, opt->cg.opt_level ? opt->cg.opt_level : 3, true, err));
    if (at->avx512)
        t.avx512 = true;
    LLVMContextRef ctx = LLVMContextCreate();
    CgEmitted e;
    SdStatus st = cg_emit(g, &opt->cg, &t, ctx, &e, err);
    if (st == SD_OK && e.state_bytes)
        st = sd_errorf(err, SD_EUNSUPPORTED, "models with persistent state cannot be compiled ahead of time yet");
    if (st == SD_OK) {
        add_wrapper(e.module, ctx, &e, g, &t, name);
        if (!opt->weights_file)
            add_weights(e.module, ctx, &e, name);
        st = cg_optimize(e.module, &t, &opt->cg, err);
    }
    char path[1100], obj[1100], tmpdir[] = "/tmp/seedc-aot-XXXXXX";
    bool keep_object = opt->kind == CG_EMIT_BUNDLE;
    if (st == SD_OK && !keep_object && !mkdtemp(tmpdir))
        st = sd_errorf(err, SD_EIO, "cannot create a temporary folder");
    if (st == SD_OK) {
        if (keep_object)
            snprintf(obj, sizeof obj, "%s.o", opt->out);
        else
            snprintf(obj, sizeof obj, "%s/%s.o", tmpdir, name);
        char *msg = NULL;
        if (LLVMTargetMachineEmitToFile(t.tm, e.module, obj, LLVMObjectFile, &msg)) {
            st = sd_errorf(err, SD_EIO, "cannot write the object '%s': %s", obj, msg ? msg : "");
        }
        LLVMDisposeMessage(msg);
    }
    if (st == SD_OK) {
        rep->code_bytes = text_bytes(obj);
        rep->weights_bytes = e.consts_bytes;
        rep->scratch_bytes = e.scratch_bytes;
        if (keep_object)
            add_file(rep, obj);
    }
    if (st == SD_OK && opt->kind != CG_EMIT_EXE) {
        snprintf(path, sizeof path, "%s.h", opt->out);
        st = cg_aot_write_header(g, opt, t.triple, t.cpu, e.consts_bytes, e.scratch_bytes, path, err);
        if (st == SD_OK)
            add_file(rep, path);
    }
    if (st == SD_OK && opt->weights_file) {
        snprintf(path, sizeof path, "%s.weights", opt->out);
        st = write_blob(path, e.consts, e.consts_bytes, err);
        if (st == SD_OK)
            add_file(rep, path);
    }
    if (st == SD_OK && !keep_object) {
        char desc[1100], output[1100];
        desc[0] = 0;
        if (opt->kind == CG_EMIT_EXE) {
            snprintf(desc, sizeof desc, "%s/%s_model.c", tmpdir, name);
            st = cg_aot_write_descriptor(g, opt, e.consts_bytes, e.scratch_bytes, desc, err);
        }
        const char *dir_end = strrchr(opt->out, '/');
        int dir_len = dir_end ? (int)(dir_end - opt->out + 1) : 0;
        if (opt->kind == CG_EMIT_STATIC)
            snprintf(output, sizeof output, "%.*slib%s.a", dir_len, opt->out, name);
        else if (opt->kind == CG_EMIT_SHARED)
            snprintf(output, sizeof output, "%.*slib%s.so", dir_len, opt->out, name);
        else
            snprintf(output, sizeof output, "%s", opt->out);
        if (st == SD_OK)
            st = cg_aot_link(opt, t.triple, obj, desc[0] ? desc : NULL, output, err);
        if (st == SD_OK)
            add_file(rep, output);
        unlink(obj);
        if (desc[0]) {
            unlink(desc);
            char o[1200];
            snprintf(o, sizeof o, "%s.o", desc);
            unlink(o);
        }
        rmdir(tmpdir);
    }
    if (e.module)
        LLVMDisposeModule(e.module);
    cg_emitted_free(&e);
    LLVMContextDispose(ctx);
    cg_target_dispose(&t);
    rep->compile_seconds = now_seconds() - t0;
    return st;
}
