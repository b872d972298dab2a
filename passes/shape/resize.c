/* passes/shape/resize.c — placeholder until the resize family lands. */
#include "passes/shape/shape.h"

SdStatus shape_resize(ShapeCtx *c, IrNode *n)
{
    return shape_error(c, n, SD_EUNSUPPORTED, "this operator is not supported yet");
}
