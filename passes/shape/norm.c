/* passes/shape/norm.c — placeholder until the norm family lands. */
#include "passes/shape/shape.h"

SdStatus shape_norm(ShapeCtx *c, IrNode *n)
{
    return shape_error(c, n, SD_EUNSUPPORTED, "this operator is not supported yet");
}
