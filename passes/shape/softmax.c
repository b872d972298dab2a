/* passes/shape/softmax.c — Softmax, LogSoftmax, Hardmax: the output has the input's type and
 * shape; the axis ends non-negative. */
#include "passes/shape/shape.h"

SdStatus shape_softmax(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    SD_TRY(shape_expect_rank(c, n, 0, 1, IR_MAX_RANK));
    SD_TRY(shape_axis(c, n, n->attrs.softmax.axis, x->shape.rank, &n->attrs.softmax.axis));
    shape_set(n, 0, x->dtype, &x->shape);
    return SD_OK;
}
