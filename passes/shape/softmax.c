/* passes/shape/softmax.c — placeholder until the softmax family lands. */
#include "passes/shape/shape.h"

SdStatus shape_softmax(ShapeCtx *c, IrNode *n)
{
    return shape_error(c, n, SD_EUNSUPPORTED, "this operator is not supported yet");
}
