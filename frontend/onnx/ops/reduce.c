/* frontend/onnx/ops/reduce.c — placeholder until the reduce family lands. */
#include "frontend/onnx/import.h"

SdStatus onnx_import_reduce(OnnxCtx *c)
{
    return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not supported yet", c->node->op_type);
}
