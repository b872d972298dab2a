/* codegen/lower/norm.c — normalizations onto rt_*_norm_f32 and rt_lrn_f32 as (outer, channels,
 * inner) blocks. LayerNorm's scale and bias that broadcast (fewer elements than the normalized
 * dims) are first expanded into the node's shared scratch by strided copies, so the kernel reads
 * full rows (and threads can share LayerNorm's rows out).
 * BatchNorm in training mode and the BatchNorm and LayerNorm gradients use the same blocks. */
#include "codegen/lower/lower.h"
#include "runtime/kernels/norm.h"

static int64_t dims_product(const IrShape *s, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= s->dims[i];
    return p;
}

/* Operand `input` (broadcasting to the tail of x from `axis`) as a full row: itself, or a copy
 * expanded into the node's shared scratch (which every thread of the next call reads) at element
 * offset `ws_offset`. */
static SdStatus full_row(const IrNode *n, int input, int axis, int64_t inner, int64_t ws_offset, CgLowered *out,
                         int *operand, int64_t *offset, SdError *err)
{
    const IrValue *v = n->inputs[input];
    *operand = input;
    *offset = 0;
    if (ir_value_numel(v) == inner)
        return SD_OK; /* broadcast-compatible with as many elements: the same layout */
    const IrShape *x = &n->inputs[0]->shape;
    IrShape tail = ir_shape_make(x->rank - axis, &x->dims[axis]);
    int64_t src[IR_MAX_RANK], dst[IR_MAX_RANK];
    cg_broadcast_strides(&v->shape, &tail, src);
    cg_contiguous_strides(&tail, dst);
    *operand = CG_BUF_SHARED;
    *offset = ws_offset;
    return cg_lower_strided_copy(out, n, tail.rank, tail.dims, src, 0, dst, ws_offset, sizeof(float), input,
                                 CG_BUF_SHARED, err);
}

static SdStatus lower_layer_norm(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrShape *x = &n->inputs[0]->shape;
    int axis = (int)n->attrs.norm.axis;
    RtNormParams p = {0};
    p.outer = dims_product(x, 0, axis);
    p.channels = 1;
    p.inner = dims_product(x, axis, x->rank);
    p.epsilon = n->attrs.norm.epsilon;
    p.has_bias = n->n_inputs > 2 && n->inputs[2];
    p.has_mean = n->n_outputs > 1;
    p.has_inv_std = n->n_outputs > 2;
    int scale_op, bias_op = 0;
    int64_t scale_off, bias_off = 0;
    SD_TRY(full_row(n, 1, axis, p.inner, 0, out, &scale_op, &scale_off, err));
    if (p.has_bias)
        SD_TRY(full_row(n, 2, axis, p.inner, p.inner, out, &bias_op, &bias_off, err));
    if (scale_op == CG_BUF_SHARED || bias_op == CG_BUF_SHARED)
        out->shared_bytes = 2 * (size_t)p.inner * sizeof(float);
    p.scale_offset = scale_off;
    p.bias_offset = bias_off;
    int bufs[6] = {0, scale_op, bias_op, cg_out(n, 0), cg_out(n, p.has_mean ? 1 : 0),
                   cg_out(n, p.has_inv_std ? 2 : 0)};
    SD_TRY(cg_lowered_add(out, "rt_layer_norm_f32", &p, sizeof p, 6, bufs, err));
    /* rows are independent (a transformer's tokens) */
    cg_lowered_split(out, "rt_layer_norm_f32_range", p.outer, 5.0 * (double)(p.outer * p.inner));
    return SD_OK;
}

/* (dy, x, scale, mean, invstd) -> (dx, dscale, dbias) over rows of the normalized dims; a scale
 * that broadcasts is expanded into the shared scratch first. */
static SdStatus lower_layer_norm_grad(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrShape *x = &n->inputs[1]->shape;
    int axis = (int)n->attrs.norm.axis;
    RtNormParams p = {0};
    p.outer = dims_product(x, 0, axis);
    p.channels = 1;
    p.inner = dims_product(x, axis, x->rank);
    int scale_op;
    int64_t scale_off;
    /* full_row reads the normalized dims from input 0, which has x's shape here too (dy) */
    SD_TRY(full_row(n, 2, axis, p.inner, 0, out, &scale_op, &scale_off, err));
    if (scale_op == CG_BUF_SHARED)
        out->shared_bytes = (size_t)p.inner * sizeof(float);
    p.scale_offset = scale_off;
    int bufs[8] = {0, 1, scale_op, 3, 4, cg_out(n, 0), cg_out(n, 1), cg_out(n, 2)};
    return cg_lowered_add(out, "rt_layer_norm_grad_f32", &p, sizeof p, 8, bufs, err);
}

SdStatus cg_lower_norm(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrValue *xv = n->inputs[n->op == IR_OP_BATCH_NORM_GRAD || n->op == IR_OP_LAYER_NORM_GRAD ? 1 : 0];
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i] && n->inputs[i]->dtype != SD_DT_F32)
            return cg_unsupported_dtype(n, n->inputs[i], err);
    const IrShape *x = &xv->shape;
    RtNormParams p = {0};
    p.outer = x->dims[0];
    p.channels = x->dims[1];
    p.inner = dims_product(x, 2, x->rank);
    p.epsilon = n->attrs.norm.epsilon;
    switch (n->op) {
    case IR_OP_BATCH_NORM: {
        if (n->attrs.norm.per_activation) {
            p.channels *= p.inner;
            p.inner = 1;
        }
        if (n->attrs.norm.training) {
            out->workspace_bytes = 3 * (size_t)p.channels * sizeof(float);
            p.has_mean = n->n_outputs > 1;
            p.has_inv_std = n->n_outputs > 2;
            p.has_var = n->n_outputs > 3;
            p.var_biased = n->attrs.norm.var_biased;
            p.relu = n->attrs.norm.relu;
            p.has_residual = n->n_inputs > 5 && n->inputs[5];
            int bufs[9] = {0, 1, 2, cg_out(n, 0), p.has_mean ? cg_out(n, 1) : CG_BUF_WORKSPACE,
                           p.has_inv_std ? cg_out(n, 2) : CG_BUF_WORKSPACE, p.has_var ? cg_out(n, 3) : CG_BUF_WORKSPACE,
                           CG_BUF_WORKSPACE, p.has_residual ? 5 : 0};
            SD_TRY(cg_lowered_add(out, "rt_batch_norm_train_f32", &p, sizeof p, 9, bufs, err));
            /* by channels: a channel's statistics are its own whatever the split */
            cg_lowered_split(out, "rt_batch_norm_train_f32_range", p.channels, 4.0 * (double)ir_value_numel(xv));
            return SD_OK;
        }
        out->workspace_bytes = 2 * (size_t)p.channels * sizeof(float);
        int bufs[7] = {0, 1, 2, 3, 4, cg_out(n, 0), CG_BUF_WORKSPACE};
        return cg_lowered_add(out, "rt_batch_norm_f32", &p, sizeof p, 7, bufs, err);
    }
    case IR_OP_BATCH_NORM_GRAD: {
        if (n->attrs.norm.per_activation) {
            p.channels *= p.inner;
            p.inner = 1;
        }
        p.training = n->attrs.norm.training;
        p.relu = n->attrs.norm.relu && n->n_inputs > 5 && n->inputs[5];
        int bufs[9] = {0, 1, 2, 3, 4, cg_out(n, 0), cg_out(n, 1), cg_out(n, 2), p.relu ? 5 : 0};
        SD_TRY(cg_lowered_add(out, "rt_batch_norm_grad_f32", &p, sizeof p, 9, bufs, err));
        cg_lowered_split(out, "rt_batch_norm_grad_f32_range", p.channels, 5.0 * (double)ir_value_numel(xv));
        return SD_OK;
    }
    case IR_OP_LAYER_NORM_GRAD: return lower_layer_norm_grad(n, out, err);
    case IR_OP_LAYER_NORM: return lower_layer_norm(n, out, err);
    case IR_OP_INSTANCE_NORM: {
        int bufs[4] = {0, 1, 2, cg_out(n, 0)};
        return cg_lowered_add(out, "rt_instance_norm_f32", &p, sizeof p, 4, bufs, err);
    }
    default: {
        const IrNormAttrs *a = &n->attrs.norm;
        p.size = a->size;
        p.size_lo = (a->size - 1) / 2;
        p.size_hi = a->size - 1 - p.size_lo;
        p.alpha = a->alpha;
        p.beta = a->beta;
        p.bias = a->bias;
        out->workspace_bytes = (size_t)p.inner * sizeof(float);
        int bufs[3] = {0, cg_out(n, 0), CG_BUF_WORKSPACE};
        return cg_lowered_add(out, "rt_lrn_f32", &p, sizeof p, 3, bufs, err);
    }
    }
}
