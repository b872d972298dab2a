/* passes/shape/pool.c — placeholder until the pool family lands. */
#include "passes/shape/shape.h"

SdStatus shape_pool(ShapeCtx *c, IrNode *n)
{
    return shape_error(c, n, SD_EUNSUPPORTED, "this operator is not supported yet");
}
