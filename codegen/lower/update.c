/* codegen/lower/update.c — in-place updates onto runtime/kernels/update.c. The operands keep the
 * node's input order (the updated value first, then what it reads and the optimizer state it
 * writes); ASSIGN is a flat copy of any element type into the destination's storage. */
#include "codegen/lower/lower.h"
#include "runtime/kernels/update.h"

static SdStatus need_f32(const IrNode *n, int from, int to, SdError *err)
{
    for (int i = from; i < to; i++)
        if (n->inputs[i]->dtype != SD_DT_F32)
            return cg_unsupported_dtype(n, n->inputs[i], err);
    return SD_OK;
}

static RtUpdateParams params_of(const IrNode *n)
{
    const IrUpdateAttrs *a = &n->attrs.update;
    RtUpdateParams p = {0};
    p.n = ir_value_numel(n->inputs[0]);
    p.momentum = a->momentum;
    p.weight_decay = a->weight_decay;
    p.beta1 = a->beta1;
    p.beta2 = a->beta2;
    p.epsilon = a->epsilon;
    p.trust_coefficient = a->trust_coefficient;
    p.nesterov = a->nesterov;
    return p;
}

static SdStatus add_call(const IrNode *n, const char *kernel, const RtUpdateParams *p, CgLowered *out, SdError *err)
{
    int bufs[CG_MAX_CALL_BUFS];
    for (int i = 0; i < n->n_inputs; i++)
        bufs[i] = i;
    return cg_lowered_add(out, kernel, p, sizeof *p, n->n_inputs, bufs, err);
}

SdStatus cg_lower_update(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrValue *dst = n->inputs[0];
    RtUpdateParams p = params_of(n);
    switch (n->op) {
    case IR_OP_ASSIGN:
        return cg_lower_flat_copy(out, p.n, sd_dtype_size(dst->dtype), 1, 0, err);
    case IR_OP_EMA_UPDATE:
        SD_TRY(need_f32(n, 0, 2, err));
        return add_call(n, "rt_ema_update_f32", &p, out, err);
    case IR_OP_SGD_UPDATE:
        SD_TRY(need_f32(n, 0, 4, err));
        return add_call(n, "rt_sgd_update_f32", &p, out, err);
    case IR_OP_LARS_UPDATE:
        SD_TRY(need_f32(n, 0, 4, err));
        return add_call(n, "rt_lars_update_f32", &p, out, err);
    case IR_OP_ADAMW_UPDATE:
        SD_TRY(need_f32(n, 0, 5, err));
        return add_call(n, "rt_adamw_update_f32", &p, out, err);
    case IR_OP_LAMB_UPDATE:
        SD_TRY(need_f32(n, 0, 5, err));
        return add_call(n, "rt_lamb_update_f32", &p, out, err);
    case IR_OP_QUEUE_PUSH:
        p.queue_rows = dst->shape.dims[0];
        p.item_rows = n->inputs[1]->shape.dims[0];
        p.row_bytes = dst->shape.dims[1] * (int64_t)sd_dtype_size(dst->dtype);
        return add_call(n, "rt_queue_push", &p, out, err);
    default: {
        char lb[200];
        return sd_errorf(err, SD_EINTERNAL, "%s: not an update op", ir_node_label(n, lb, sizeof lb));
    }
    }
}
