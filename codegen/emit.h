/* codegen/emit.h — one graph to LLVM modules (DESIGN §5): where every value lives (constants
 * blob, state, scratch arena, caller io), one function per node calling its kernels with constant
 * parameters, and the entry NAME_entry(consts, state, scratch, io) calling them in order. The AOT
 * driver finishes one module; the JIT compiles the graph in parts, on threads. */
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
} CgEmitted;

/* The decisions every part of a graph's module shares (codegen/emit_plan.c): nodes lowered to
 * kernel calls, homes of values, out's blob sizes (its blobs stay NULL, and its module). */
typedef struct CgPlan CgPlan;
SdStatus cg_plan(const IrGraph *g, const CgOptions *opt, const CgTarget *t, CgEmitted *out, CgPlan **plan,
                 SdError *err);
/* Fills out's constants (packed weights included) and state blobs from the graph and, with
 * release_constants, frees the constants' data in the graph. Reads nothing the emission of parts
 * reads, so it may run while they are built. */
SdStatus cg_plan_fill(const CgPlan *p, CgEmitted *out, SdError *err);
/* Shares the nodes out into at most max_parts modules that LLVM can optimize and compile on
 * threads of their own: nodes calling the same kernels with the same parameters go to one part
 * (their code made once), parts carry about equal work. Returns the number of parts; 1 for graphs
 * too small to be worth it. */
int cg_plan_split(CgPlan *p, int max_parts);
/* Part `part`'s module in ctx for target t: its nodes' functions, and in part 0 the entry, which
 * calls the other parts' node functions by name (not yet optimized). Threads may build different
 * parts of one plan at once, each in its own context. */
SdStatus cg_emit_part(const CgPlan *p, int part, const CgTarget *t, LLVMContextRef ctx, LLVMModuleRef *out,
                      SdError *err);
void cg_plan_free(CgPlan *p);
/* The whole graph as one module in ctx (cg_plan, then its only part). */
SdStatus cg_emit(const IrGraph *g, const CgOptions *opt, const CgTarget *t, LLVMContextRef ctx, CgEmitted *out,
                 SdError *err);
/* Runs LLVM's optimization pipeline at opt->opt_level (and prints the module with print_llvm). */
SdStatus cg_optimize(LLVMModuleRef m, const CgTarget *t, const CgOptions *opt, SdError *err);
/* Frees the blobs; the module belongs to whoever took it (set module to NULL after handing it over). */
void cg_emitted_free(CgEmitted *e);

/* The kernel bitcode embedded at build time, read lazily into ctx (bodies stay unread), kernels
 * always-inline, linked only where called and their CPU attributes replaced by the target's; on
 * targets with AVX512-VNNI/BF16 their "_avx512" builds answer to the portable names. Code
 * generation adds the model's functions to this module, then cg_link_kernels. */
SdStatus cg_load_kernels(LLVMContextRef ctx, const CgTarget *t, LLVMModuleRef *out, SdError *err);

/* Replaces *m (cg_load_kernels' module with the model's functions added) by a module holding the
 * model's functions and only the kernels they reach, read whole now, made internal. The whole
 * library read was 13 MB of memory for every model, a few kernels' worth of it used. */
SdStatus cg_link_kernels(LLVMModuleRef *m, SdError *err);

/* Stamps the target's CPU, features and vector width on a function. */
void cg_set_target_attrs(LLVMContextRef ctx, LLVMValueRef fn, const CgTarget *t);

#endif
