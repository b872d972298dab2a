/* frontend/onnx/ops/norm.c — placeholder until the norm family lands. */
#include "frontend/onnx/import.h"

SdStatus onnx_import_norm(OnnxCtx *c)
{
    return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not supported yet", c->node->op_type);
}
