/* passes/shape/reduce.c — placeholder until the reduce family lands. */
#include "passes/shape/shape.h"

SdStatus shape_reduce(ShapeCtx *c, IrNode *n)
{
    return shape_error(c, n, SD_EUNSUPPORTED, "this operator is not supported yet");
}
