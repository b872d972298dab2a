/* passes/shape/shape.h — what the per-family shape functions share (internal to shape inference).
 * A shape function checks its node's operands, completes its attributes (explicit pads,
 * non-negative axes, compile-time inputs read into attributes and dropped) and sets every output's
 * dtype and shape. Errors name the model, the node and what was expected. */
#ifndef SD_PASSES_SHAPE_H
#define SD_PASSES_SHAPE_H

#include "passes/pass.h"

typedef struct ShapeCtx {
    IrGraph *g;
    const PassOptions *opt;
    SdError *err;
} ShapeCtx;

#define SHAPE_FAMILY(f) SdStatus shape_##f(ShapeCtx *c, IrNode *n);
SHAPE_FAMILY(unary)
SHAPE_FAMILY(binary)
SHAPE_FAMILY(conv)
SHAPE_FAMILY(matmul)
SHAPE_FAMILY(norm)
SHAPE_FAMILY(softmax)
SHAPE_FAMILY(pool)
SHAPE_FAMILY(reduce)
SHAPE_FAMILY(movement)
SHAPE_FAMILY(gather)
SHAPE_FAMILY(generate)
SHAPE_FAMILY(resize)
SHAPE_FAMILY(einsum)
SHAPE_FAMILY(update)
SHAPE_FAMILY(quant)
#undef SHAPE_FAMILY

/* "model.onnx: node 'Conv_3' (conv): <message>" with status st. */
SdStatus shape_error(ShapeCtx *c, const IrNode *n, SdStatus st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void shape_set(IrNode *n, int output, SdDType dtype, const IrShape *s);
bool shape_has_input(const IrNode *n, int i);
/* Reads constant input i (i64 or i32) as integers; fails naming the input if it is not a
 * compile-time constant or has more than max elements. */
SdStatus shape_const_ints(ShapeCtx *c, const IrNode *n, int i, int64_t *out, int max, int *count);
/* Reads constant input i (f32, or any integer type) as floats. */
SdStatus shape_const_floats(ShapeCtx *c, const IrNode *n, int i, float *out, int max, int *count);
/* NumPy broadcasting of a and b. */
SdStatus shape_broadcast(ShapeCtx *c, const IrNode *n, const IrShape *a, const IrShape *b, IrShape *out);
/* Normalizes axis into [0, rank) (negative counts from the end). */
SdStatus shape_axis(ShapeCtx *c, const IrNode *n, int64_t axis, int rank, int64_t *out);
SdStatus shape_expect_dtype(ShapeCtx *c, const IrNode *n, int input, SdDType dt);
SdStatus shape_expect_rank(ShapeCtx *c, const IrNode *n, int input, int min_rank, int max_rank);
SdStatus shape_same_dtype(ShapeCtx *c, const IrNode *n, int a, int b);
/* Checks a product of dims stays a sane tensor size. */
SdStatus shape_check_size(ShapeCtx *c, const IrNode *n, const IrShape *s);

#endif
