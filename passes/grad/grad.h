/* passes/grad/grad.h — what the per-family gradient rules share (internal to autodiff).
 * A rule gets a forward node and the gradients of its outputs (dy[i], NULL where none flows) and
 * emits nodes computing the gradients of the inputs that need one (dx[i]; leave the others NULL).
 * New nodes get their shapes at once, so a rule can build on what it just made. */
#ifndef SD_PASSES_GRAD_H
#define SD_PASSES_GRAD_H

#include "passes/pass.h"

typedef struct GradCtx {
    IrGraph *g;
    const PassOptions *opt;
    SdError *err;
    unsigned char *needs; /* by value id: a gradient must reach this value */
    int max_id;
    const IrNode *of;     /* the forward node whose gradient is being built: names the new nodes */
} GradCtx;

#define GRAD_FAMILY(f) SdStatus grad_##f(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx);
GRAD_FAMILY(unary)
GRAD_FAMILY(binary)
GRAD_FAMILY(conv)
GRAD_FAMILY(matmul)
GRAD_FAMILY(norm)
GRAD_FAMILY(softmax)
GRAD_FAMILY(pool)
GRAD_FAMILY(reduce)
GRAD_FAMILY(movement)
GRAD_FAMILY(gather)
GRAD_FAMILY(resize)
GRAD_FAMILY(einsum)
#undef GRAD_FAMILY

bool grad_needed(const GradCtx *c, const IrValue *v);
/* A new node of `op` on `inputs` with n_outputs fresh outputs, shapes inferred; NULL on error.
 * `setup` (may be NULL) fills the attributes before shape inference. */
IrNode *grad_node(GradCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, int n_outputs,
                  void (*setup)(IrNode *n, const void *arg), const void *arg);
/* The same, returning the single output. */
IrValue *grad_op(GradCtx *c, IrOp op, IrValue *const *inputs, int n_inputs);
IrValue *grad_const(GradCtx *c, float v); /* an f32 scalar */
/* Sums g over the dimensions that broadcasting added or stretched, so it has `target`'s shape. */
IrValue *grad_unbroadcast(GradCtx *c, IrValue *g, const IrShape *target);
/* g reshaped to `target` (a no-op when the shapes match). */
IrValue *grad_reshape(GradCtx *c, IrValue *g, const IrShape *target);
/* dy where it exists, else a zero tensor shaped like v. */
IrValue *grad_or_zero(GradCtx *c, IrValue *dy, const IrValue *v);
SdStatus grad_unsupported(GradCtx *c, const IrNode *n);

/* The same as grad_node/grad_op with the attributes copied from `attrs` before shape inference. */
IrNode *grad_node_with(GradCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, int n_outputs, const IrAttrs *attrs);
IrValue *grad_op_with(GradCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, const IrAttrs *attrs);
/* A 1-D i64 constant (shapes, axes, starts: the compile-time inputs of movement ops). */
IrValue *grad_ints(GradCtx *c, const int64_t *v, int n);
/* ReduceSum of g over `axes` (n_axes of them, any order), keeping the reduced dims or not. */
IrValue *grad_reduce_sum(GradCtx *c, IrValue *g, const int64_t *axes, int n_axes, bool keepdims);
/* g broadcast to `shape` (Expand). */
IrValue *grad_expand(GradCtx *c, IrValue *g, const IrShape *shape);
/* x cast to dtype. */
IrValue *grad_cast(GradCtx *c, IrValue *x, SdDType dtype);
/* The status to return after a helper gave NULL. */
SdStatus grad_status(const GradCtx *c);
#define GRAD_TRY(expr)                  \
    do {                                \
        if (!(expr))                    \
            return grad_status(c);      \
    } while (0)

#endif
