/* api/model_internal.h — what api/model.c and api/model_slices.c share: the model itself, its
 * compilation, and batch slices (a batch run as slices of a few samples, one per thread). */
#ifndef SD_API_MODEL_INTERNAL_H
#define SD_API_MODEL_INTERNAL_H

#include <stdbool.h>

#include "api/seedc.h"
#include "codegen/codegen.h"
#include "passes/pass.h"

struct SdModel {
    IrGraph *graph;
    CgModel *code;
    void *scratch;
    void *state;
    void **io;
    int n_original_inputs;  /* inputs before binding */
    bool *bound;            /* by original input: compiled in as a constant */
    /* Batch slices (load_sliced): the code is `graph` compiled at a batch of graph's / slices, run
     * on `slices` slices of the inputs and outputs at once, one per thread, each thread on its own
     * scratch (scratch_bytes apart) and operand list (in slice_io). */
    IrGraph *code_graph;
    int64_t slices;
    int threads;
    size_t scratch_bytes;
    size_t *slice_bytes;    /* by input, then output */
    void **slice_io;
};

/* m's code from graph `code` (m->graph's, or its slice's) for `threads` threads, with `copies`
 * scratch arenas (one per thread running a slice). */
SdStatus sd_model_compile_code(SdModel *m, IrGraph *code, const SdOptions *opt, int threads, int copies, SdError *err);
/* The compiled code has its own copy of every constant: the graph keeps only shapes and names. */
void sd_graph_drop_constants(IrGraph *g);

/* *out: g (loaded from path, optimized at opt->batch with q: precision and int8 calibration)
 * compiled as batch slices, or NULL where it does not qualify (the caller then compiles g whole). */
SdStatus sd_model_load_sliced(const char *path, const SdOptions *opt, const PassQuantOptions *q, IrGraph *g,
                              SdModel **out, SdError *err);
/* Runs m->slices slices of the operands in m->io, on the thread pool. */
void sd_model_run_slices(SdModel *m);

#endif
