/* codegen/lower/pool.c — pooling onto runtime/kernels/pool.h: one call over all (batch, channel)
 * planes (f32 pooling shared out over the threads by planes). MaxPool with its Indices output and
 * MaxPool over 8-bit integers take their own kernels; global pools reduce each plane to one value. The gradients of MaxPool and AveragePool take the
 * forward's params (x and y sizes) with operands dy, x, dx. */
#include "codegen/lower/lower.h"
#include "runtime/kernels/pool.h"

/* ns values padded at the front to 3 with `fill`. */
static void to3(const int64_t *v, int ns, int64_t fill, int64_t *out)
{
    for (int i = 0; i < 3; i++)
        out[i] = i < 3 - ns ? fill : v[i - (3 - ns)];
}

static RtPoolKind pool_kind(IrOp op)
{
    switch (op) {
    case IR_OP_MAX_POOL: case IR_OP_GLOBAL_MAX_POOL: return RT_POOL_MAX;
    case IR_OP_AVG_POOL: case IR_OP_GLOBAL_AVG_POOL: return RT_POOL_AVG;
    default: return RT_POOL_LP;
    }
}

SdStatus cg_lower_pool(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrPoolAttrs *a = &n->attrs.pool;
    int bufs[3] = {0, cg_out(n, 0), cg_out(n, 1)};
    int64_t planes = x->shape.dims[0] * (x->shape.rank > 1 ? x->shape.dims[1] : 1);
    if (n->op == IR_OP_GLOBAL_AVG_POOL || n->op == IR_OP_GLOBAL_MAX_POOL || n->op == IR_OP_GLOBAL_LP_POOL) {
        if (x->dtype != SD_DT_F32)
            return cg_unsupported_dtype(n, x, err);
        RtGlobalPoolParams g = {.planes = planes, .size = planes ? ir_value_numel(x) / planes : 0,
                                .kind = pool_kind(n->op), .p = (int32_t)a->p};
        SD_TRY(cg_lowered_add(out, "rt_global_pool_f32", &g, sizeof g, 2, bufs, err));
        /* planes shared over the threads: EfficientNet-B0's squeeze-excitation means of 112x112 and
         * 56x56 planes at batch 1 ran on one thread */
        cg_lowered_split(out, "rt_global_pool_f32_range", planes, (double)ir_value_numel(x));
        return SD_OK;
    }
    bool grad = n->op == IR_OP_MAX_POOL_GRAD || n->op == IR_OP_AVG_POOL_GRAD;
    if (grad) { /* dy, x -> dx: the forward's x is input 1, its y has dy's shape */
        x = n->inputs[1], y = n->inputs[0];
        if (x->dtype != SD_DT_F32)
            return cg_unsupported_dtype(n, x, err);
    }
    int ns = a->nspatial;
    RtPoolParams p = {.planes = planes, .kind = pool_kind(n->op), .count_include_pad = a->count_include_pad,
                      .p = (int32_t)a->p, .storage_order = (int32_t)a->storage_order};
    to3(x->shape.dims + 2, ns, 1, p.in);
    to3(y->shape.dims + 2, ns, 1, p.out);
    to3(a->kernel, ns, 1, p.kernel);
    to3(a->strides, ns, 1, p.stride);
    to3(a->dilations, ns, 1, p.dilation);
    to3(a->pads, ns, 0, p.pad);
    to3(a->pads + ns, ns, 0, p.pad_end);
    if (grad) { /* MaxPool's: one output row's running maxima (f32) and their indices (i32) */
        int gbufs[4] = {0, 1, cg_out(n, 0), CG_BUF_WORKSPACE};
        if (n->op == IR_OP_AVG_POOL_GRAD)
            return cg_lowered_add(out, "rt_avgpool_grad_f32", &p, sizeof p, 3, gbufs, err);
        out->workspace_bytes = (size_t)p.out[2] * (sizeof(float) + sizeof(int32_t));
        return cg_lowered_add(out, "rt_maxpool_grad_f32", &p, sizeof p, 4, gbufs, err);
    }
    if (n->n_outputs > 1) {
        if (x->dtype != SD_DT_F32)
            return cg_unsupported_dtype(n, x, err);
        return cg_lowered_add(out, "rt_maxpool_indices_f32", &p, sizeof p, 3, bufs, err);
    }
    switch (x->dtype) {
    case SD_DT_F32: {
        SD_TRY(cg_lowered_add(out, "rt_pool_f32", &p, sizeof p, 2, bufs, err));
        const double taps = (double)(p.kernel[0] * p.kernel[1] * p.kernel[2]);
        cg_lowered_split(out, "rt_pool_f32_range", planes, (double)ir_value_numel(y) * taps);
        return SD_OK;
    }
    case SD_DT_U8:
    case SD_DT_I8: {
        if (n->op != IR_OP_MAX_POOL)
            break;
        /* planes shared over the threads, as the float pools' (a quantized ResNet-18's max pool at
         * batch 32 took twice as long as its float one, on one thread) */
        const bool u8 = x->dtype == SD_DT_U8;
        SD_TRY(cg_lowered_add(out, u8 ? "rt_maxpool_u8" : "rt_maxpool_i8", &p, sizeof p, 2, bufs, err));
        cg_lowered_split(out, u8 ? "rt_maxpool_u8_range" : "rt_maxpool_i8_range", planes,
                         (double)ir_value_numel(y) * (double)(p.kernel[0] * p.kernel[1] * p.kernel[2]));
        return SD_OK;
    }
    default: break;
    }
    return cg_unsupported_dtype(n, x, err);
}
