/* codegen/lower/reduce.c — reductions onto rt_reduce_* and arg reductions onto rt_argreduce_*.
 * Unit dims are dropped and neighbouring dims that are both kept or both reduced merge, which
 * leaves alternating groups: [kept, reduced, kept, ...]. The common case has one reduced group
 * and is one call over [outer, red, inner]. Otherwise the groups are reduced one call each, the
 * innermost first, through the workspace; the partial results compose (sums of sums, max of
 * maxes, log-sum-exp of log-sum-exps, and the mean, sqrt or log applied once at the end). */
#include <stdint.h>
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/reduce.h"
#include "support/mem.h"

typedef struct {
    int n;
    int64_t size[IR_MAX_RANK];
    bool reduced[IR_MAX_RANK];
} Groups;

static const char *reduce_kernel(SdDType dt)
{
    switch (dt) {
    case SD_DT_F32: return "rt_reduce_f32";
    case SD_DT_I64: return "rt_reduce_i64";
    case SD_DT_I32: return "rt_reduce_i32";
    case SD_DT_U8: case SD_DT_BOOL: return "rt_reduce_u8";
    case SD_DT_I8: return "rt_reduce_i8";
    default: return NULL;
    }
}

static const char *arg_kernel(SdDType dt)
{
    switch (dt) {
    case SD_DT_F32: return "rt_argreduce_f32";
    case SD_DT_I64: return "rt_argreduce_i64";
    case SD_DT_I32: return "rt_argreduce_i32";
    case SD_DT_U8: return "rt_argreduce_u8";
    case SD_DT_I8: return "rt_argreduce_i8";
    default: return NULL;
    }
}

static void int_range(SdDType dt, int64_t *lo, int64_t *hi)
{
    switch (dt) {
    case SD_DT_I32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case SD_DT_U8: *lo = 0, *hi = UINT8_MAX; break;
    case SD_DT_BOOL: *lo = 0, *hi = 1; break;
    case SD_DT_I8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    default: *lo = INT64_MIN, *hi = INT64_MAX; break;
    }
}

static SdStatus lower_arg(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0];
    int64_t axis = n->attrs.reduce.axes[0];
    RtArgReduceParams p = {.outer = 1, .red = x->shape.dims[axis], .inner = 1};
    for (int i = 0; i < x->shape.rank; i++)
        if (i != axis)
            *(i < axis ? &p.outer : &p.inner) *= x->shape.dims[i];
    p.is_min = n->op == IR_OP_ARGMIN;
    p.select_last = n->attrs.reduce.select_last_index;
    const char *k = arg_kernel(x->dtype);
    if (!k)
        return cg_unsupported_dtype(n, x, err);
    if (p.outer * p.inner == 0)
        return SD_OK;
    if (p.inner > 1)
        out->workspace_bytes = (size_t)p.inner * 8;
    int bufs[3] = {0, cg_out(n, 0), CG_BUF_WORKSPACE};
    return cg_lowered_add(out, k, &p, sizeof p, 3, bufs, err);
}

SdStatus cg_lower_reduce(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    if (n->op == IR_OP_ARGMAX || n->op == IR_OP_ARGMIN)
        return lower_arg(n, out, err);
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrReduceAttrs *a = &n->attrs.reduce;
    const char *kernel = reduce_kernel(x->dtype);
    if (!kernel)
        return cg_unsupported_dtype(n, x, err);
    int64_t out_numel = ir_value_numel(y);
    if (out_numel == 0)
        return SD_OK;
    if (a->n_axes == 0 && a->noop_with_empty_axes)
        return cg_lower_flat_copy(out, out_numel, sd_dtype_size(x->dtype), 0, cg_out(n, 0), err);

    /* alternating groups of kept and reduced dims; unit dims belong to neither */
    Groups g = {0};
    int64_t count = 1;
    for (int i = 0; i < x->shape.rank; i++) {
        bool red = false;
        for (int k = 0; k < a->n_axes; k++)
            red |= a->axes[k] == i;
        int64_t d = x->shape.dims[i];
        if (red)
            count *= d;
        if (d == 1)
            continue;
        if (g.n > 0 && g.reduced[g.n - 1] == red) {
            g.size[g.n - 1] *= d;
        } else {
            g.size[g.n] = d;
            g.reduced[g.n++] = red;
        }
    }
    int n_stages = 0;
    for (int i = 0; i < g.n; i++)
        n_stages += g.reduced[i];
    if (n_stages == 0) { /* only unit dims are reduced: one pass applies the map and finish */
        g.n = 2;
        g.size[0] = out_numel, g.reduced[0] = false;
        g.size[1] = 1, g.reduced[1] = true;
        n_stages = 1;
    }

    RtReduceParams base = {.count = (double)count};
    int_range(x->dtype, &base.lo, &base.hi);
    int map = RT_RMAP_NONE, finish = RT_RFIN_NONE;
    switch (n->op) {
    case IR_OP_REDUCE_SUM: base.combine = RT_RC_SUM; break;
    case IR_OP_REDUCE_MEAN: base.combine = RT_RC_SUM, finish = RT_RFIN_MEAN; break;
    case IR_OP_REDUCE_MAX: base.combine = RT_RC_MAX; break;
    case IR_OP_REDUCE_MIN: base.combine = RT_RC_MIN; break;
    case IR_OP_REDUCE_PROD: base.combine = RT_RC_PROD; break;
    case IR_OP_REDUCE_L1: base.combine = RT_RC_SUM, map = RT_RMAP_ABS; break;
    case IR_OP_REDUCE_L2: base.combine = RT_RC_SUM, map = RT_RMAP_SQUARE, finish = RT_RFIN_SQRT; break;
    case IR_OP_REDUCE_LOG_SUM: base.combine = RT_RC_SUM, finish = RT_RFIN_LOG; break;
    case IR_OP_REDUCE_LOG_SUM_EXP: base.combine = RT_RC_LOG_SUM_EXP; break;
    default: base.combine = RT_RC_SUM, map = RT_RMAP_SQUARE; break; /* SUM_SQUARE */
    }

    /* Workspace: the intermediates of stages 1, 3, ... in region A, of 2, 4, ... in B (each smaller
     * than the one before), then the scratch rows of the widest stage. */
    size_t esize = sd_dtype_size(x->dtype);
    int64_t stage_numel[IR_MAX_RANK], stage_inner[IR_MAX_RANK];
    Groups cur = g;
    int64_t max_inner = 1;
    for (int s = 0, gi = cur.n - 1; s < n_stages; s++, gi--) {
        while (!cur.reduced[gi])
            gi--;
        int64_t inner = 1, numel = 1;
        for (int k = gi + 1; k < cur.n; k++)
            inner *= cur.size[k];
        cur.size[gi] = 1;
        for (int k = 0; k < cur.n; k++)
            numel *= cur.size[k];
        stage_numel[s] = numel, stage_inner[s] = inner;
        if (inner > max_inner)
            max_inner = inner;
    }
    size_t region_a = n_stages > 1 ? sd_align_up((size_t)stage_numel[0] * esize) : 0;
    size_t region_b = n_stages > 2 ? sd_align_up((size_t)stage_numel[1] * esize) : 0;
    size_t scratch = (size_t)rt_reduce_scratch_bytes(max_inner);
    out->workspace_bytes = region_a + region_b + scratch;

    cur = g;
    for (int s = 0, gi = cur.n - 1; s < n_stages; s++, gi--) {
        while (!cur.reduced[gi])
            gi--;
        RtReduceParams p = base;
        p.outer = 1, p.inner = stage_inner[s], p.red = cur.size[gi];
        for (int k = 0; k < gi; k++)
            p.outer *= cur.size[k];
        cur.size[gi] = 1;
        p.map = s == 0 ? map : RT_RMAP_NONE;
        p.finish = s == n_stages - 1 ? finish : RT_RFIN_NONE;
        p.scratch_offset = (int64_t)(region_a + region_b);
        bool last = s == n_stages - 1;
        int src = s == 0 ? 0 : CG_BUF_WORKSPACE;
        int dst = last ? cg_out(n, 0) : CG_BUF_WORKSPACE;
        p.src_offset = s == 0 ? 0 : (int64_t)((s - 1) % 2 ? region_a : 0);
        p.dst_offset = last ? 0 : (int64_t)(s % 2 ? region_a : 0);
        int bufs[3] = {src, dst, CG_BUF_WORKSPACE};
        SD_TRY(cg_lowered_add(out, kernel, &p, sizeof p, 3, bufs, err));
    }
    return SD_OK;
}
