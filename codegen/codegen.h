/* codegen/codegen.h — from a shape-inferred, planned graph to native code.
 * cg_compile_jit builds LLVM modules (kernels linked from embedded bitcode and specialized to the
 * graph's constant shapes), optimizes them for the host on threads and links them with ORC LLJIT. The
 * result runs as entry(consts, state, scratch, io): constants and scratch are caller memory, io
 * holds the input pointers then the output pointers, in graph order. cg_eval_node runs one node
 * natively with the same kernels (constant folding). */
#ifndef SD_CG_CODEGEN_H
#define SD_CG_CODEGEN_H

#include <stdbool.h>
#include <stddef.h>

#include "codegen/lower/lower.h"
#include "ir/graph.h"

typedef struct CgOptions {
    const char *name;       /* entry symbol is NAME_run; default "model" */
    CgLowerOptions lower;
    int opt_level;          /* 0..3, default 3 */
    const char *cpu;        /* NULL: the host */
    const char *features;   /* NULL: the host's */
    bool print_llvm;        /* dump the optimized module to stderr */
    int threads;            /* split calls over this many threads; 0 or 1: one thread */
    bool release_constants; /* free each constant's data in the graph once copied (lower peak memory) */
    bool no_pack_weights;   /* keep constant weights as they are (else convolutions pack them once) */
    bool profile;           /* time every node (runtime/kernels/profile.h): cg_model_profile_slots */
    int compile_threads;    /* the JIT compiles the module in parts on this many threads; 0: one per core
                               for models with 32 MB of weights or more, else one */
} CgOptions;

typedef void (*CgEntryFn)(const void *consts, void *state, void *scratch, void *const *io);

/* One persistent value in the state arena: checkpoints save the arena by these names, and weights
 * move between a training step and its evaluation graph by them. */
typedef struct CgStateEntry {
    char *name;
    IrRole role;       /* PARAM or STATE */
    SdDType dtype;
    IrShape shape;
    size_t offset, nbytes;
} CgStateEntry;

typedef struct CgModel CgModel;

SdStatus cg_compile_jit(const IrGraph *g, const CgOptions *opt, CgModel **out, SdError *err);
void cg_model_free(CgModel *m);
CgEntryFn cg_model_entry(const CgModel *m);
const void *cg_model_consts(const CgModel *m);
size_t cg_model_consts_bytes(const CgModel *m);
size_t cg_model_scratch_bytes(const CgModel *m);  /* planned arena + the largest workspace */
/* Compiled with CgOptions.profile: where in the scratch arena the nodes' profile slots lie (node i:
 * int64 [2 i] nanoseconds, [2 i + 1] runs), else SIZE_MAX. */
size_t cg_model_profile_offset(const CgModel *m);
size_t cg_model_state_bytes(const CgModel *m);
/* The initial contents of the state arena (parameters' and states' data), state_bytes long. */
const void *cg_model_state_init(const CgModel *m);
int cg_model_num_state_entries(const CgModel *m);
const CgStateEntry *cg_model_state_entry(const CgModel *m, int i);
double cg_model_compile_seconds(const CgModel *m);
/* How many modules (parts) LLVM compiled it as, on as many threads (CgOptions.compile_threads). */
int cg_model_parts(const CgModel *m);

/* Runs node n natively: inputs must be constants, outputs[i] must hold ir_value_nbytes(output i). */
SdStatus cg_eval_node(const IrNode *n, const CgLowerOptions *opt, void *const *outputs, SdError *err);

#endif
