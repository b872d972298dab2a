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

SdStatus cg_lower_binary(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
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
