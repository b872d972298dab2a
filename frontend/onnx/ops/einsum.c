/* frontend/onnx/ops/einsum.c — placeholder until the einsum family lands. */
#include "frontend/onnx/import.h"

SdStatus onnx_import_einsum(OnnxCtx *c)
{
    return onnx_node_error(c, SD_EUNSUPPORTED, "operator %s is not supported yet", c->node->op_type);
}
