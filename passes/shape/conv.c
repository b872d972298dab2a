/* passes/shape/conv.c — placeholder until the conv family lands. */
#include "passes/shape/shape.h"

SdStatus shape_conv(ShapeCtx *c, IrNode *n)
{
    return shape_error(c, n, SD_EUNSUPPORTED, "this operator is not supported yet");
}
