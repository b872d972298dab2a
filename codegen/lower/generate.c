/* codegen/lower/generate.c — ConstantOfShape as a fill, Range as rt_range. Shape and Size never
 * reach code generation: shape inference turns them into constants. */
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/copy.h"
#include "runtime/kernels/generate.h"

SdStatus cg_lower_generate(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrValue *y = n->outputs[0];
    char lb[200];
    switch (n->op) {
    case IR_OP_CONSTANT_OF_SHAPE: {
        RtFillParams f = {.n = ir_value_numel(y), .elem_size = (int32_t)sd_dtype_size(y->dtype)};
        memcpy(f.value, n->attrs.generate.value.bytes, sizeof f.value);
        int bufs[1] = {cg_out(n, 0)};
        return cg_lowered_add(out, "rt_fill", &f, sizeof f, 1, bufs, err);
    }
    case IR_OP_RANGE: {
        if (y->dtype != SD_DT_F32 && y->dtype != SD_DT_I64 && y->dtype != SD_DT_I32)
            return cg_unsupported_dtype(n, y, err);
        RtRangeParams p = {.n = ir_value_numel(y), .dtype = y->dtype};
        int bufs[4] = {0, 1, 2, cg_out(n, 0)};
        return cg_lowered_add(out, "rt_range", &p, sizeof p, 4, bufs, err);
    }
    default:
        return sd_errorf(err, SD_EINTERNAL, "%s should have been folded to a constant",
                         ir_node_label(n, lb, sizeof lb));
    }
}
