/* frontend/onnx/ops/resize.c — placeholder until the resize family lands. */
#include "frontend/onnx/import.h"

SdStatus onnx_import_resize(OnnxCtx *c)
{
    return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not supported yet", c->node->op_type);
}
