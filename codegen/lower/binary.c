/* codegen/lower/binary.c — broadcasting binary ops, comparisons, logic and where. */
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/eltwise.h"
#include "runtime/kernels/loops.h"

static RtBinaryOp binary_code(const IrNode *n)
{
    switch (n->op) {
    case IR_OP_ADD: return RT_B_ADD;
    case IR_OP_SUB: return RT_B_SUB;
    case IR_OP_MUL: return RT_B_MUL;
    case IR_OP_DIV: return RT_B_DIV;
    case IR_OP_POW: return RT_B_POW;
    case IR_OP_MAX: return RT_B_MAX;
    case IR_OP_MIN: return RT_B_MIN;
    case IR_OP_MOD: return n->attrs.binary.fmod ? RT_B_FMOD : RT_B_MOD;
    case IR_OP_PRELU: return RT_B_PRELU;
    case IR_OP_EQUAL: return RT_B_EQUAL;
    case IR_OP_LESS: return RT_B_LESS;
    case IR_OP_LESS_EQUAL: return RT_B_LESS_EQUAL;
    case IR_OP_GREATER: return RT_B_GREATER;
    case IR_OP_GREATER_EQUAL: return RT_B_GREATER_EQUAL;
    case IR_OP_AND: return RT_B_AND;
    case IR_OP_OR: return RT_B_OR;
    default: return RT_B_XOR;
    }
}

bool cg_binary_arith_code(IrOp op, bool fmod, int *code)
{
    switch (op) {
    case IR_OP_ADD: *code = RT_B_ADD; return true;
    case IR_OP_SUB: *code = RT_B_SUB; return true;
    case IR_OP_MUL: *code = RT_B_MUL; return true;
    case IR_OP_DIV: *code = RT_B_DIV; return true;
    case IR_OP_POW: *code = RT_B_POW; return true;
    case IR_OP_MAX: *code = RT_B_MAX; return true;
    case IR_OP_MIN: *code = RT_B_MIN; return true;
    case IR_OP_MOD: *code = fmod ? RT_B_FMOD : RT_B_MOD; return true;
    case IR_OP_PRELU: *code = RT_B_PRELU; return true;
    default: return false;
    }
}

/* FUSED_ELTWISE: the IR program with registers renumbered to the kernel's (inputs 0..7, steps 8..). */
static SdStatus lower_fused(const IrNode *n, int threads, CgLowered *out, SdError *err)
{
    const IrValue *y = n->outputs[0];
    const IrBinaryAttrs *a = &n->attrs.binary;
    RtFusedParams p = {.n_inputs = n->n_inputs, .n_steps = a->n_steps};
    int64_t dims[IR_MAX_RANK];
    char lb[200];
    if (n->n_inputs > RT_FUSED_MAX_INPUTS || a->n_steps > RT_FUSED_MAX_STEPS || a->n_steps < 1)
        return sd_errorf(err, SD_EINTERNAL, "%s: fused program too large", ir_node_label(n, lb, sizeof lb));
    for (int i = 0; i < y->shape.rank; i++)
        dims[i] = y->shape.dims[i];
    int64_t all[RT_FUSED_MAX_INPUTS][IR_MAX_RANK];
    for (int k = 0; k < n->n_inputs; k++)
        cg_broadcast_strides(&n->inputs[k]->shape, &y->shape, all[k]);
    if (!cg_collapse_dims(y->shape.rank, dims, n->n_inputs, all))
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: broadcasting needs more than %d loop dimensions",
                         ir_node_label(n, lb, sizeof lb), RT_LOOP_RANK);
    cg_split_inner_dim(dims, n->n_inputs, all, 4 * (int64_t)threads);
    memcpy(p.dims, dims, sizeof p.dims);
    for (int k = 0; k < n->n_inputs; k++)
        memcpy(p.strides[k], all[k], sizeof p.strides[k]);
    for (int s = 0; s < a->n_steps; s++) {
        const IrFusedStep *st = &a->steps[s];
        RtFusedStep *rs = &p.steps[s];
        int reg_a = st->a < n->n_inputs ? st->a : RT_FUSED_MAX_INPUTS + (st->a - n->n_inputs);
        int reg_b = st->b < n->n_inputs ? st->b : RT_FUSED_MAX_INPUTS + (st->b - n->n_inputs);
        rs->a = reg_a, rs->b = reg_b;
        rs->alpha = st->alpha, rs->beta = st->beta, rs->gamma = st->gamma;
        int code;
        if (cg_binary_arith_code(st->op, false, &code))
            rs->binary = 1, rs->op = code;
        else if (cg_unary_code(st->op, &code))
            rs->binary = 0, rs->op = code;
        else
            return sd_errorf(err, SD_EINTERNAL, "%s: step %d (%s) cannot be fused", ir_node_label(n, lb, sizeof lb), s,
                             ir_op_name(st->op));
    }
    int bufs[RT_FUSED_MAX_INPUTS + 1];
    for (int k = 0; k < n->n_inputs; k++)
        bufs[k] = k;
    bufs[n->n_inputs] = cg_out(n, 0);
    SD_TRY(cg_lowered_add(out, "rt_fused_f32", &p, sizeof p, n->n_inputs + 1, bufs, err));
    cg_lowered_split(out, "rt_fused_f32_range", rt_outer_extent(p.dims), (double)ir_value_numel(y) * a->n_steps);
    return SD_OK;
}

SdStatus cg_lower_binary(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    const int threads = opt->threads > 1 ? opt->threads : 1;
    if (n->op == IR_OP_FUSED_ELTWISE)
        return lower_fused(n, threads, out, err);
    const IrValue *y = n->outputs[0];
    int n_ops = n->n_inputs;
    int64_t dims[IR_MAX_RANK];
    int64_t strides[4][IR_MAX_RANK];
    for (int i = 0; i < y->shape.rank; i++)
        dims[i] = y->shape.dims[i];
    for (int k = 0; k < n_ops; k++)
        cg_broadcast_strides(&n->inputs[k]->shape, &y->shape, strides[k]);
    char lb[200];
    if (!cg_collapse_dims(y->shape.rank, dims, n_ops, strides))
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: broadcasting needs more than %d loop dimensions",
                         ir_node_label(n, lb, sizeof lb), RT_LOOP_RANK);
    cg_split_inner_dim(dims, n_ops, strides, 4 * (int64_t)threads);
    RtBroadcastParams p = {0};
    memcpy(p.dims, dims, sizeof p.dims);
    for (int k = 0; k < n_ops; k++)
        memcpy(p.strides[k], strides[k], sizeof p.strides[k]);
    int bufs[4] = {0, 1, 2, 3};
    bufs[n_ops] = cg_out(n, 0);

    if (n->op == IR_OP_WHERE) {
        p.dtype = n->inputs[1]->dtype;
        return cg_lowered_add(out, "rt_where", &p, sizeof p, 4, bufs, err);
    }
    const IrValue *a = n->inputs[0];
    RtBinaryOp code = binary_code(n);
    p.op = code;
    p.dtype = a->dtype;
    if (code >= RT_B_EQUAL && code <= RT_B_GREATER_EQUAL) {
        if (sd_dtype_size(a->dtype) == 0 || a->dtype == SD_DT_F16 || a->dtype == SD_DT_BF16)
            return cg_unsupported_dtype(n, a, err);
        return cg_lowered_add(out, "rt_compare", &p, sizeof p, 3, bufs, err);
    }
    if (code >= RT_B_AND) {
        if (a->dtype != SD_DT_BOOL)
            return cg_unsupported_dtype(n, a, err);
        return cg_lowered_add(out, "rt_logic", &p, sizeof p, 3, bufs, err);
    }
    switch (a->dtype) {
    case SD_DT_F32:
        SD_TRY(cg_lowered_add(out, "rt_binary_f32", &p, sizeof p, 3, bufs, err));
        cg_lowered_split(out, "rt_binary_f32_range", rt_outer_extent(p.dims), (double)ir_value_numel(y));
        return SD_OK;
    case SD_DT_I64: return cg_lowered_add(out, "rt_binary_i64", &p, sizeof p, 3, bufs, err);
    case SD_DT_I32: return cg_lowered_add(out, "rt_binary_i32", &p, sizeof p, 3, bufs, err);
    default: return cg_unsupported_dtype(n, a, err);
    }
}
