/* codegen/lower/softmax.c — the softmax family onto rt_softmax_f32 over [outer, n, inner]: with
 * flatten_trailing (opset < 13) n is the product of the dims from `axis` on and inner is 1. Their
 * gradients onto rt_softmax_grad_f32 over the same view; the losses (softmax cross-entropy,
 * negative log-likelihood) and their gradients onto rt_loss_f32 / rt_loss_grad_f32 over
 * [N, C, d1*...*dk]. */
#include "codegen/lower/lower.h"
#include "runtime/kernels/softmax.h"

static SdStatus lower_loss(const IrNode *n, CgLowered *out, SdError *err)
{
    bool grad = n->op == IR_OP_SOFTMAX_CROSS_ENTROPY_GRAD || n->op == IR_OP_NEGATIVE_LOG_LIKELIHOOD_GRAD;
    int xi = grad ? 1 : 0;
    const IrValue *x = n->inputs[xi], *t = n->inputs[xi + 1];
    const IrSoftmaxAttrs *a = &n->attrs.softmax;
    bool has_w = n->n_inputs > xi + 2 && n->inputs[xi + 2];
    RtLossParams p = {.outer = x->shape.dims[0], .classes = x->shape.dims[1], .inner = 1,
                      .ignore_index = a->ignore_index, .has_ignore = a->has_ignore_index,
                      .from_logits = n->op == IR_OP_SOFTMAX_CROSS_ENTROPY || n->op == IR_OP_SOFTMAX_CROSS_ENTROPY_GRAD,
                      .soft = t->dtype == SD_DT_F32, .index_size = (int32_t)sd_dtype_size(t->dtype),
                      .has_weights = has_w, .reduction = (int32_t)a->reduction};
    for (int i = 2; i < x->shape.rank; i++)
        p.inner *= x->shape.dims[i];
    if (grad) {
        if (ir_value_numel(n->outputs[0]) == 0)
            return SD_OK;
        int bufs[5] = {0, 1, 2, has_w ? 3 : 1, cg_out(n, 0)};
        return cg_lowered_add(out, "rt_loss_grad_f32", &p, sizeof p, 5, bufs, err);
    }
    if (ir_value_numel(n->outputs[0]) == 0)
        return SD_OK;
    int bufs[4] = {0, 1, has_w ? 2 : 0, cg_out(n, 0)};
    return cg_lowered_add(out, "rt_loss_f32", &p, sizeof p, 4, bufs, err);
}

SdStatus cg_lower_softmax(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    switch (n->op) {
    case IR_OP_SOFTMAX_CROSS_ENTROPY: case IR_OP_SOFTMAX_CROSS_ENTROPY_GRAD:
    case IR_OP_NEGATIVE_LOG_LIKELIHOOD: case IR_OP_NEGATIVE_LOG_LIKELIHOOD_GRAD:
        return lower_loss(n, out, err);
    default:
        break;
    }
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
    case IR_OP_LOG_SOFTMAX: case IR_OP_LOG_SOFTMAX_GRAD: p.op = RT_LOG_SOFTMAX; break;
    case IR_OP_HARDMAX: p.op = RT_HARDMAX; break;
    default: p.op = RT_SOFTMAX; break;
    }
    if (p.outer * p.n * p.inner == 0)
        return SD_OK;
    if (n->op == IR_OP_SOFTMAX_GRAD || n->op == IR_OP_LOG_SOFTMAX_GRAD) {
        out->workspace_bytes = (size_t)rt_softmax_grad_scratch_bytes(p.inner);
        int bufs[4] = {0, 1, cg_out(n, 0), CG_BUF_WORKSPACE};
        SD_TRY(cg_lowered_add(out, "rt_softmax_grad_f32", &p, sizeof p, 4, bufs, err));
        cg_lowered_split(out, "rt_softmax_grad_f32_range", p.outer, 4.0 * (double)(p.outer * p.n * p.inner));
        return SD_OK;
    }
    out->workspace_bytes = (size_t)rt_softmax_scratch_bytes(p.inner);
    int bufs[3] = {0, cg_out(n, 0), CG_BUF_WORKSPACE};
    SD_TRY(cg_lowered_add(out, "rt_softmax_f32", &p, sizeof p, 3, bufs, err));
    /* the slabs are independent (attention's rows: one per head and query) */
    cg_lowered_split(out, "rt_softmax_f32_range", p.outer, 8.0 * (double)(p.outer * p.n * p.inner));
    return SD_OK;
}
