/* codegen/emit.h — one graph to one LLVM module (DESIGN §5): where every value lives (constants
 * blob, state, scratch arena, caller io), one internal function per node calling its kernels with
 * constant parameters, and the entry NAME_run(consts, state, scratch, io) calling them in order.
 * The JIT and the AOT driver both finish the module this builds. */
#ifndef SD_CG_EMIT_H
#define SD_CG_EMIT_H

#include <llvm-c/Core.h>
#include <stdint.h>

#include "codegen/codegen.h"
#include "codegen/target.h"

typedef struct CgEmitted {
    LLVMModuleRef module;
    uint8_t *consts;          /* 64-byte aligned, every constant a node reads */
    size_t consts_bytes;
    uint8_t *state_init;      /* initial contents of parameters and state */
    size_t state_bytes;
    CgStateEntry *state_entries; /* where each parameter and state value lives in the state arena */
    int n_state_entries;
    size_t scratch_bytes;     /* planned arena plus the largest node workspace (and profile slots) */
    size_t profile_offset;    /* CgOptions.profile: the nodes' slots in the scratch arena; else SIZE_MAX */
    char entry[160];          /* NAME_entry(consts, state, scratch, io) */
    double optimize_seconds;
} CgEmitted;

/* Builds the module in ctx for target t (not yet optimized: callers may add to it first). */
SdStatus cg_emit(const IrGraph *g, const CgOptions *opt, const CgTarget *t, LLVMContextRef ctx, CgEmitted *out,
                 SdError *err);
/* Runs LLVM's optimization pipeline at opt->opt_level (and prints the module with print_llvm). */
SdStatus cg_optimize(CgEmitted *e, const CgTarget *t, const CgOptions *opt, SdError *err);
/* Frees the blobs; the module belongs to whoever took it (set module to NULL after handing it over). */
void cg_emitted_free(CgEmitted *e);

/* The kernel bitcode embedded at build time, parsed into ctx, with kernels made internal and
 * always-inline and their CPU attributes replaced by the target's. */
SdStatus cg_load_kernels(LLVMContextRef ctx, const CgTarget *t, LLVMModuleRef *out, SdError *err);

/* Stamps the target's CPU, features and vector width on a function. */
void cg_set_target_attrs(LLVMContextRef ctx, LLVMValueRef fn, const CgTarget *t);

#endif
