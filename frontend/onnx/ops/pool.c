/* frontend/onnx/ops/pool.c — placeholder until the pool family lands. */
#include "frontend/onnx/import.h"

SdStatus onnx_import_pool(OnnxCtx *c)
{
    return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not supported yet", c->node->op_type);
}
