/* codegen/jit.c — ORC LLJIT for the host. Every symbol the kernels call outside the module (libm,
 * libc, OpenBLAS, the runtime) is defined absolutely from seedc's own addresses: relying on the
 * process's symbol table breaks when the linker dropped a library it thought unused. The module is
 * compiled in parts (codegen/emit_plan.c), each optimized and turned into an object on a thread of
 * its own, and the JIT links the objects. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include <llvm-c/Core.h>
#include <llvm-c/ExecutionEngine.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/OrcEE.h>

#include "codegen/emit.h"
#include "codegen/emit_internal.h"
#include "runtime/blas.h"
#include "runtime/threadpool.h"
#include "support/mem.h"

struct CgModel {
    LLVMOrcLLJITRef jit;
    CgEntryFn entry;
    CgEmitted emitted;
    double compile_seconds;
    int parts;
};

typedef struct {
    const char *name;
    void *addr;
} ExternalSymbol;

/* SEEDC_PERF=1: an object layer that tells perf where each compiled function lies (a jitdump file
 * for `perf inject --jit`), so that a profile of JIT code names its nodes and kernels. */
static LLVMOrcObjectLayerRef perf_object_layer(void *ctx, LLVMOrcExecutionSessionRef es, const char *triple)
{
    (void)ctx, (void)triple;
    LLVMOrcObjectLayerRef layer = LLVMOrcCreateRTDyldObjectLinkingLayerWithSectionMemoryManager(es);
    LLVMJITEventListenerRef perf = LLVMCreatePerfJITEventListener();
    if (perf)
        LLVMOrcRTDyldObjectLinkingLayerRegisterJITEventListener(layer, perf);
    return layer;
}

/* Functions LLVM may call from kernel code: what the kernels call plus what its optimizer emits. */
static const ExternalSymbol *external_symbols(size_t *n)
{
    static ExternalSymbol syms[] = {
        {"memcpy", (void *)memcpy}, {"memmove", (void *)memmove}, {"memset", (void *)memset},
        {"expf", (void *)expf}, {"exp2f", (void *)exp2f}, {"expm1f", (void *)expm1f},
        {"logf", (void *)logf}, {"log2f", (void *)log2f}, {"log10f", (void *)log10f},
        {"log1pf", (void *)log1pf}, {"powf", (void *)powf}, {"sqrtf", (void *)sqrtf},
        {"tanhf", (void *)tanhf}, {"erff", (void *)erff}, {"erfcf", (void *)erfcf},
        {"sinf", (void *)sinf}, {"cosf", (void *)cosf}, {"tanf", (void *)tanf},
        {"asinf", (void *)asinf}, {"acosf", (void *)acosf}, {"atanf", (void *)atanf},
        {"atan2f", (void *)atan2f}, {"sinhf", (void *)sinhf}, {"coshf", (void *)coshf},
        {"asinhf", (void *)asinhf}, {"acoshf", (void *)acoshf}, {"atanhf", (void *)atanhf},
        {"floorf", (void *)floorf}, {"ceilf", (void *)ceilf}, {"roundf", (void *)roundf},
        {"rintf", (void *)rintf}, {"nearbyintf", (void *)nearbyintf}, {"truncf", (void *)truncf},
        {"fmodf", (void *)fmodf}, {"fmaf", (void *)fmaf}, {"fmaxf", (void *)fmaxf},
        {"fminf", (void *)fminf}, {"ldexpf", (void *)ldexpf}, {"frexpf", (void *)frexpf},
        {"exp", (void *)exp}, {"log", (void *)log}, {"pow", (void *)pow}, {"sqrt", (void *)sqrt},
        {"floor", (void *)floor}, {"ceil", (void *)ceil}, {"fmod", (void *)fmod}, {"round", (void *)round},
        {"rint", (void *)rint}, {"nearbyint", (void *)nearbyint}, {"trunc", (void *)trunc},
        {"rt_blas_sgemm", (void *)rt_blas_sgemm}, {"rt_parallel_for", (void *)rt_parallel_for},
    };
    *n = sizeof syms / sizeof syms[0];
    return syms;
}

static SdStatus llvm_error(LLVMErrorRef e, const char *what, SdError *err)
{
    char *msg = LLVMGetErrorMessage(e);
    sd_errorf(err, SD_ELLVM, "%s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return SD_ELLVM;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static SdStatus define_externals(LLVMOrcLLJITRef jit, SdError *err)
{
    size_t n;
    const ExternalSymbol *syms = external_symbols(&n);
    LLVMOrcCSymbolMapPair *pairs = calloc(n, sizeof *pairs);
    if (!pairs)
        return sd_errorf(err, SD_ENOMEM, "out of memory defining JIT symbols");
    for (size_t i = 0; i < n; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(jit, syms[i].name);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)syms[i].addr;
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, n);
    free(pairs);
    LLVMErrorRef e = LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(jit), mu);
    return e ? llvm_error(e, "defining runtime symbols for the JIT", err) : SD_OK;
}

/* One part of the module, from IR to an object in memory, on a thread of its own: its own context
 * and target machine, since LLVM shares neither between threads. */
typedef struct {
    const CgPlan *plan;
    const CgOptions *opt;
    int part;
    LLVMMemoryBufferRef object;
    SdStatus status;
    SdError err;
} PartJob;

static void *compile_part(void *arg)
{
    PartJob *job = arg;
    const CgOptions *opt = job->opt;
    CgTarget t;
    job->status = cg_target_init(&t, NULL, opt->cpu, opt->features, opt->opt_level ? opt->opt_level : 3, true,
                                 &job->err);
    if (job->status != SD_OK)
        return NULL;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef m = NULL;
    job->status = cg_emit_part(job->plan, job->part, &t, ctx, &m, &job->err);
    if (job->status == SD_OK)
        job->status = cg_optimize(m, &t, opt, &job->err);
    if (job->status == SD_OK) {
        char *msg = NULL;
        if (LLVMTargetMachineEmitToMemoryBuffer(t.tm, m, LLVMObjectFile, &msg, &job->object))
            job->status = sd_errorf(&job->err, SD_ELLVM, "LLVM could not compile part %d of '%s': %s", job->part,
                                    ir_graph_name(job->plan->g), msg ? msg : "");
        LLVMDisposeMessage(msg);
    }
    if (m)
        LLVMDisposeModule(m);
    LLVMContextDispose(ctx);
    cg_target_dispose(&t);
    return NULL;
}

/* Each part alive at once costs its own LLVM context, about 8-10 MB at its peak: by default a model
 * compiles in parts only when its weights are this large, so that the cost is small beside them
 * (MobileNetV2, 14 MB of weights, peaked at 116 MB in two parts and 108 in one, compiling in 0.65
 * against 1.0 s; MobileNetV3-Large 130 and 121 MB; ONNX Runtime 123 and 128). */
#define CG_PARTS_MIN_CONSTS ((size_t)32 << 20)

static int compile_threads(const CgOptions *opt, size_t consts_bytes)
{
    if (opt->print_llvm) /* one module printed whole, not parts interleaved */
        return 1;
    if (opt->compile_threads > 0)
        return opt->compile_threads;
    if (consts_bytes < CG_PARTS_MIN_CONSTS)
        return 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : (int)cores;
}

/* The JIT, with its own target machine built from t's (t->tm is taken), and the symbols it lets
 * the code call. */
static SdStatus create_jit(CgTarget *t, bool perf_map, LLVMOrcLLJITRef *jit, SdError *err)
{
    LLVMOrcJITTargetMachineBuilderRef jtmb = LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(t->tm);
    t->tm = NULL;
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
    if (perf_map)
        LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(builder, perf_object_layer, NULL);
    LLVMErrorRef e = LLVMOrcCreateLLJIT(jit, builder);
    if (e)
        return llvm_error(e, "creating the JIT", err);
    return define_externals(*jit, err);
}

/* Compiles the plan's parts, part 1 on up on threads of their own and part 0 on the caller's, which
 * first creates the JIT and fills the constants while the others compile; then hands every object
 * to the JIT. */
static SdStatus compile_parts(const CgPlan *plan, const CgOptions *opt, int n_parts, CgTarget *t, bool perf_map,
                              CgModel *m, SdError *err)
{
    PartJob jobs[CG_MAX_PARTS];
    pthread_t threads[CG_MAX_PARTS];
    bool started[CG_MAX_PARTS] = {false};
    for (int p = 0; p < n_parts; p++)
        jobs[p] = (PartJob){plan, opt, p, NULL, SD_OK, {0}};
    for (int p = 1; p < n_parts; p++)
        started[p] = pthread_create(&threads[p], NULL, compile_part, &jobs[p]) == 0;
    SdStatus st = create_jit(t, perf_map, &m->jit, err);
    if (st == SD_OK)
        st = cg_plan_fill(plan, &m->emitted, err);
    if (st == SD_OK)
        compile_part(&jobs[0]);
    for (int p = 1; p < n_parts; p++) {
        if (started[p])
            pthread_join(threads[p], NULL);
        else if (st == SD_OK) /* no thread to be had: compile it here */
            compile_part(&jobs[p]);
    }
    LLVMOrcJITDylibRef dylib = st == SD_OK ? LLVMOrcLLJITGetMainJITDylib(m->jit) : NULL;
    for (int p = 0; p < n_parts; p++) {
        if (st == SD_OK && jobs[p].status != SD_OK) {
            *err = jobs[p].err;
            st = jobs[p].status;
        }
        if (!jobs[p].object)
            continue;
        if (st != SD_OK) {
            LLVMDisposeMemoryBuffer(jobs[p].object);
            continue;
        }
        LLVMErrorRef e = LLVMOrcLLJITAddObjectFile(m->jit, dylib, jobs[p].object); /* takes the buffer */
        if (e)
            st = llvm_error(e, "adding compiled code to the JIT", err);
    }
    return st;
}

SdStatus cg_compile_jit(const IrGraph *g, const CgOptions *opt, CgModel **out, SdError *err)
{
    double t0 = now_seconds();
    *out = NULL;
    CgModel *m = calloc(1, sizeof *m);
    if (!m)
        return sd_errorf(err, SD_ENOMEM, "out of memory compiling '%s'", ir_graph_name(g));
    CgTarget target;
    const char *perf = getenv("SEEDC_PERF");
    const bool perf_map = perf && *perf && strcmp(perf, "0") != 0;
    /* position-independent: JITLink and RTDyld place code anywhere in the address space */
    SdStatus st = cg_target_init(&target, NULL, opt->cpu, opt->features, opt->opt_level ? opt->opt_level : 3, true,
                                 err);
    if (st != SD_OK) {
        free(m);
        return st;
    }
    CgPlan *plan = NULL;
    st = cg_plan(g, opt, &target, &m->emitted, &plan, err);
    if (st == SD_OK) {
        m->parts = cg_plan_split(plan, compile_threads(opt, m->emitted.consts_bytes));
        st = compile_parts(plan, opt, m->parts, &target, perf_map, m, err);
    }
    if (st == SD_OK) {
        LLVMOrcExecutorAddress addr = 0;
        LLVMErrorRef e = LLVMOrcLLJITLookup(m->jit, &addr, m->emitted.entry);
        if (e)
            st = llvm_error(e, "linking the compiled code", err);
        else
            m->entry = (CgEntryFn)(uintptr_t)addr;
    }
    cg_plan_free(plan);
    cg_target_dispose(&target);
    if (st != SD_OK) {
        cg_model_free(m);
        return st;
    }
    m->compile_seconds = now_seconds() - t0;
    *out = m;
    return SD_OK;
}

void cg_model_free(CgModel *m)
{
    if (!m)
        return;
    if (m->jit)
        LLVMOrcDisposeLLJIT(m->jit);
    cg_emitted_free(&m->emitted);
    free(m);
}

CgEntryFn cg_model_entry(const CgModel *m) { return m->entry; }
const void *cg_model_consts(const CgModel *m) { return m->emitted.consts; }
size_t cg_model_consts_bytes(const CgModel *m) { return m->emitted.consts_bytes; }
size_t cg_model_scratch_bytes(const CgModel *m) { return m->emitted.scratch_bytes; }
size_t cg_model_profile_offset(const CgModel *m) { return m->emitted.profile_offset; }
size_t cg_model_state_bytes(const CgModel *m) { return m->emitted.state_bytes; }
const void *cg_model_state_init(const CgModel *m) { return m->emitted.state_init; }
int cg_model_num_state_entries(const CgModel *m) { return m->emitted.n_state_entries; }
const CgStateEntry *cg_model_state_entry(const CgModel *m, int i) { return &m->emitted.state_entries[i]; }
double cg_model_compile_seconds(const CgModel *m) { return m->compile_seconds; }
int cg_model_parts(const CgModel *m) { return m->parts; }
