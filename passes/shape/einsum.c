/* passes/shape/einsum.c — placeholder until the einsum family lands. */
#include "passes/shape/shape.h"

SdStatus shape_einsum(ShapeCtx *c, IrNode *n)
{
    return shape_error(c, n, SD_EUNSUPPORTED, "this operator is not supported yet");
}
