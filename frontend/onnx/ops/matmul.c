/* frontend/onnx/ops/matmul.c — placeholder until the matmul family lands. */
#include "frontend/onnx/import.h"

SdStatus onnx_import_matmul(OnnxCtx *c)
{
    return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not supported yet", c->node->op_type);
}
