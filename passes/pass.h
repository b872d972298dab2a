/* passes/pass.h — graph-to-graph rewrites and the pass manager that runs them in a named pipeline.
 * A pass is `SdStatus pass_NAME(IrGraph *, const PassOptions *, SdError *)`, one per file. Passes
 * know only the IR; anything that must execute an op (constant folding) goes through the `eval`
 * hook, which the driver connects to codegen's interpreter. */
#ifndef SD_PASSES_PASS_H
#define SD_PASSES_PASS_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/graph.h"

/* Computes node n whose inputs are all constants; outputs[i] holds ir_value_nbytes(output i). */
typedef SdStatus (*PassEvalFn)(void *ctx, const IrNode *n, void *const *outputs, SdError *err);

typedef struct PassOptions {
    PassEvalFn eval;         /* NULL: no constant folding */
    void *eval_ctx;
    size_t fold_max_bytes;   /* largest tensor folding may create; 0 means 64 MiB */
    const char *disabled;    /* comma-separated pass names to skip (never "shape") */
    bool verify;             /* run ir_verify after every pass */
    const char *stop_after;  /* stop after this pass; NULL runs the whole pipeline */
    /* called after each pass that ran, e.g. to print the IR */
    void (*after_pass)(void *ctx, const char *pass, const IrGraph *g);
    void *after_ctx;
} PassOptions;

typedef SdStatus (*PassFn)(IrGraph *g, const PassOptions *opt, SdError *err);

SdStatus pass_shape(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_canonicalize(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_fold(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_dce(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_memplan(IrGraph *g, const PassOptions *opt, SdError *err);

/* Runs a pipeline by name: "inference" = shape, canonicalize, fold, dce, memplan. */
SdStatus pass_run_pipeline(IrGraph *g, const char *pipeline, const PassOptions *opt, SdError *err);
/* The passes of a pipeline in order, NULL-terminated; NULL for an unknown pipeline. */
const char *const *pass_pipeline_names(const char *pipeline);
bool pass_is_known(const char *name);

/* Shape inference for one new node whose inputs already have shapes (passes that add nodes). */
SdStatus pass_shape_node(IrGraph *g, IrNode *n, const PassOptions *opt, SdError *err);

/* Reverse-mode differentiation (autodiff.c): appends the backward graph of `loss` (an f32 scalar)
 * and points every parameter's `grad` at its gradient. Gradients of a value read twice are summed;
 * STOP_GRADIENT cuts a path (and becomes an IDENTITY once autodiff ran, for canonicalize to remove);
 * integer values carry none. */
SdStatus pass_autodiff(IrGraph *g, IrValue *loss, const PassOptions *opt, SdError *err);

/* Folds one node whose inputs are constants (fold.c): its outputs become constants and the node
 * is removed. Returns SD_OK without change when folding is off or the result would be too big. */
SdStatus pass_fold_node(IrGraph *g, IrNode *n, const PassOptions *opt, bool *folded, SdError *err);

/* By value id (calloc'd, caller frees; NULL when out of memory): 1 for every value whose contents
 * some shape depends on, directly (a static input in ops.def) or through the nodes that make it. */
unsigned char *pass_static_values(const IrGraph *g);
/* True when `name` is in opt->disabled. */
bool pass_disabled(const PassOptions *opt, const char *name);

/* A value known before compiling, for pass_bind_static_inputs. */
typedef struct PassBinding {
    SdDType dtype;
    int rank;
    const int64_t *dims;
    const void *data;
} PassBinding;

/* For inputs [0, n) of g, with bindings[i] the value of input i: every input that a shape depends
 * on becomes a constant holding that value and leaves the input list; bound[i] says which did.
 * Run before shape inference. */
SdStatus pass_bind_static_inputs(IrGraph *g, const PassBinding *bindings, int n, bool *bound, SdError *err);

#endif
