/* frontend/onnx/ops/pool.c — MaxPool, AveragePool, LpPool and their global forms. Opset changes:
 * MaxPool gains the Indices output and storage_order at 8, ceil_mode and dilations at 10;
 * AveragePool gains count_include_pad at 7, ceil_mode at 10, dilations at 19; LpPool's p is a
 * float before 2 and an int since, ceil_mode and dilations arrive at 18. Attributes are read
 * whenever present (an older model does not carry newer ones), so one path serves every opset. */
#include <math.h>
#include <string.h>

#include "frontend/onnx/import.h"
#include "frontend/onnx/ops/window.h"

typedef struct {
    const char *op_type;
    IrOp op;
} PoolName;

static const PoolName pools[] = {
    {"MaxPool", IR_OP_MAX_POOL},
    {"AveragePool", IR_OP_AVG_POOL},
    {"LpPool", IR_OP_LP_POOL},
    {"GlobalAveragePool", IR_OP_GLOBAL_AVG_POOL},
    {"GlobalMaxPool", IR_OP_GLOBAL_MAX_POOL},
    {"GlobalLpPool", IR_OP_GLOBAL_LP_POOL},
};

/* p: a float attribute in opset 1, an int since; either way an integer >= 1 here. */
static SdStatus read_p(OnnxCtx *c, int64_t *out)
{
    float p;
    SD_TRY(onnx_attr_float(c, "p", 2.0f, &p));
    if (!(p >= 1.0f && p <= 64.0f) || p != floorf(p))
        return onnx_node_error(c, SD_EUNSUPPORTED, "p = %g; an integer from 1 to 64 is supported", (double)p);
    *out = (int64_t)p;
    return SD_OK;
}

SdStatus onnx_import_pool(OnnxCtx *c)
{
    const char *t = c->node->op_type;
    IrOp op = IR_OP_MAX_POOL;
    bool found = false;
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
        if (strcmp(t, pools[i].op_type) == 0)
            op = pools[i].op, found = true;
    if (!found)
        return onnx_node_error(c, SD_EINTERNAL, "no pool translation for %s", t);
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, op == IR_OP_MAX_POOL && c->opset >= 8 ? 2 : 1));
    IrPoolAttrs a = {0};
    bool global = op == IR_OP_GLOBAL_AVG_POOL || op == IR_OP_GLOBAL_MAX_POOL || op == IR_OP_GLOBAL_LP_POOL;
    if (op == IR_OP_LP_POOL || op == IR_OP_GLOBAL_LP_POOL)
        SD_TRY(read_p(c, &a.p));
    if (!global) {
        SD_TRY(onnx_window_ints(c, "kernel_shape", 1, a.kernel, &a.nspatial));
        if (!a.nspatial)
            return onnx_node_error(c, SD_EBADMODEL, "attribute 'kernel_shape' is required");
        SD_TRY(onnx_window_ints(c, "strides", 1, a.strides, &a.nspatial));
        SD_TRY(onnx_window_ints(c, "dilations", 1, a.dilations, &a.nspatial));
        SD_TRY(onnx_window_ints(c, "pads", 2, a.pads, &a.nspatial));
        SD_TRY(onnx_window_auto_pad(c, &a.auto_pad));
        int64_t ceil_mode, count_include_pad, storage_order;
        SD_TRY(onnx_attr_int(c, "ceil_mode", 0, &ceil_mode));
        SD_TRY(onnx_attr_int(c, "count_include_pad", 0, &count_include_pad));
        SD_TRY(onnx_attr_int(c, "storage_order", 0, &storage_order));
        if (storage_order != 0 && storage_order != 1)
            return onnx_node_error(c, SD_EBADMODEL, "storage_order is %lld; 0 or 1 is expected", (long long)storage_order);
        a.ceil_mode = ceil_mode != 0;
        a.count_include_pad = count_include_pad != 0;
        a.storage_order = storage_order;
    }
    IrNode *n = onnx_emit_same(c, op);
    if (!n)
        return c->err->status;
    n->attrs.pool = a;
    return SD_OK;
}
