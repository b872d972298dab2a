/* passes/shape/matmul.c — placeholder until the matmul family lands. */
#include "passes/shape/shape.h"

SdStatus shape_matmul(ShapeCtx *c, IrNode *n)
{
    return shape_error(c, n, SD_EUNSUPPORTED, "this operator is not supported yet");
}
