/* frontend/onnx/ops/conv.c — placeholder until the conv family lands. */
#include "frontend/onnx/import.h"

SdStatus onnx_import_conv(OnnxCtx *c)
{
    return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not supported yet", c->node->op_type);
}
