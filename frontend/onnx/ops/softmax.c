/* frontend/onnx/ops/softmax.c — placeholder until the softmax family lands. */
#include "frontend/onnx/import.h"

SdStatus onnx_import_softmax(OnnxCtx *c)
{
    return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not supported yet", c->node->op_type);
}
