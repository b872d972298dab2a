/* codegen/emit_internal.h — what emit_plan.c (lowering, homes, parts), emit.c (a part's module:
 * values, nodes and calls) and emit_instance.c (the kernels: found by name, specialized to a params
 * value once, shared by the calls that pass the same one) share: the plan and the emitter's state. */
#ifndef SD_CG_EMIT_INTERNAL_H
#define SD_CG_EMIT_INTERNAL_H

#include <stdbool.h>

#include "codegen/emit.h"
#include "codegen/lower/lower.h"

typedef enum { HOME_NONE, HOME_CONSTS, HOME_STATE, HOME_SCRATCH, HOME_IO } HomeKind;
typedef struct {
    HomeKind kind;
    int64_t offset; /* bytes into its blob, or the io index */
} Home;

/* The four base pointers every node function and task reads: (consts, state, scratch, io). */
typedef struct {
    LLVMValueRef consts, state, scratch, io;
} Bases;

/* Most parts one graph's code is compiled in (cg_plan_split). */
#define CG_MAX_PARTS 8

/* Everything the parts of a graph's module share, read-only once made (emit_plan.c). */
struct CgPlan {
    const IrGraph *g;
    const CgOptions *opt;
    CgLowered *lowered;       /* by node index */
    Home *homes;              /* by value id */
    size_t *packed_offset;    /* by node index: where its packed weights lie in the constants blob */
    size_t workspace_offset;
    size_t workspace_bytes;   /* per thread */
    size_t shared_offset;     /* CG_BUF_SHARED: after every thread's workspace */
    size_t profile_offset;    /* CgEmitted.profile_offset */
    const char *entry;        /* CgEmitted.entry */
    int threads;
    int n_parts;
    int *part_of;             /* by node index: the part whose module defines its function */
};

/* One part's module being built. */
typedef struct CgEmitter {
    const CgPlan *p;
    const IrGraph *g;
    const CgOptions *opt;
    const CgTarget *t;
    LLVMContextRef ctx;
    LLVMModuleRef m;
    LLVMTypeRef ptr, i8, i64, fn_type;
    int n_param_globals, n_tasks;
    struct Instance *inst;    /* kernel specializations made so far (cg_kernel_instance) */
    int n_inst, cap_inst;
    int cur_node;
    size_t cur_packed;        /* the node being emitted's packed weights */
} CgEmitter;

/* A kernel by name (on targets with AVX512-VNNI/BF16 its build for them where there is one: it has
 * taken the portable one's name, codegen/bitcode.c). NULL when the bitcode has none. */
LLVMValueRef cg_kernel_function(CgEmitter *e, const char *name);
/* The call's params as a private constant global. */
LLVMValueRef cg_param_global(CgEmitter *e, const CgCall *call);
/* fn(bufs) = kernel(params, bufs), or for a range kernel fn(bufs, begin, end), one per (kernel,
 * params bytes); NULL when the kernel is not in the bitcode or memory runs out (err says which). */
LLVMValueRef cg_kernel_instance(CgEmitter *e, const IrNode *n, const char *kernel, const CgCall *call, bool range,
                                SdError *err);
/* Instances only one call uses go back inline into their node (no wrapper left in the code). */
void cg_inline_single_instances(CgEmitter *e);

#endif
