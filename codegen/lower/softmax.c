/* codegen/lower/softmax.c — the softmax family onto rt_softmax_f32 over [outer, n, inner]: with
 * flatten_trailing (opset < 13) n is the product of the dims from `axis` on and inner is 1. */
#include "codegen/lower/lower.h"
#include "runtime/kernels/softmax.h"

SdStatus cg_lower_softmax(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrValue *x = n->inputs[0];
    const IrSoftmaxAttrs *a = &n->attrs.softmax;
    if (x->dtype != SD_DT_F32)
        return cg_unsupported_dtype(n, x, err);
    RtSoftmaxParams p = {.outer = 1, .n = 1, .inner = 1};
    for (int i = 0; i < x->shape.rank; i++) {
        int64_t d = x->shape.dims[i];
        if (i < a->axis)
            p.outer *= d;
        else if (i == a->axis || a->flatten_trailing)
            p.n *= d;
        else
            p.inner *= d;
    }
    switch (n->op) {
    case IR_OP_LOG_SOFTMAX: p.op = RT_LOG_SOFTMAX; break;
    case IR_OP_HARDMAX: p.op = RT_HARDMAX; break;
    default: p.op = RT_SOFTMAX; break;
    }
    if (p.outer * p.n * p.inner == 0)
        return SD_OK;
    out->workspace_bytes = (size_t)rt_softmax_scratch_bytes(p.inner);
    int bufs[3] = {0, cg_out(n, 0), CG_BUF_WORKSPACE};
    return cg_lowered_add(out, "rt_softmax_f32", &p, sizeof p, 3, bufs, err);
}
