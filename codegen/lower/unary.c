/* codegen/lower/unary.c — unary elementwise ops onto rt_unary_*, rt_predicate, rt_cast and
 * plain copies (Identity, StopGradient when it survives, inference Dropout); UnaryGrad onto
 * rt_unary_grad_f32 and training Dropout onto rt_dropout_f32. */
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/copy.h"
#include "runtime/kernels/eltwise.h"

bool cg_unary_code(IrOp op, int *code)
{
    switch (op) {
    case IR_OP_RELU: *code = RT_U_RELU; return true;
    case IR_OP_LEAKY_RELU: *code = RT_U_LEAKY_RELU; return true;
    case IR_OP_SIGMOID: *code = RT_U_SIGMOID; return true;
    case IR_OP_HARD_SIGMOID: *code = RT_U_HARD_SIGMOID; return true;
    case IR_OP_HARD_SWISH: *code = RT_U_HARD_SWISH; return true;
    case IR_OP_SILU: *code = RT_U_SILU; return true;
    case IR_OP_MISH: *code = RT_U_MISH; return true;
    case IR_OP_TANH: *code = RT_U_TANH; return true;
    case IR_OP_ERF: *code = RT_U_ERF; return true;
    case IR_OP_GELU: *code = RT_U_GELU; return true;
    case IR_OP_GELU_TANH: *code = RT_U_GELU_TANH; return true;
    case IR_OP_SOFTPLUS: *code = RT_U_SOFTPLUS; return true;
    case IR_OP_SOFTSIGN: *code = RT_U_SOFTSIGN; return true;
    case IR_OP_ELU: *code = RT_U_ELU; return true;
    case IR_OP_SELU: *code = RT_U_SELU; return true;
    case IR_OP_CELU: *code = RT_U_CELU; return true;
    case IR_OP_THRESHOLDED_RELU: *code = RT_U_THRESHOLDED_RELU; return true;
    case IR_OP_SHRINK: *code = RT_U_SHRINK; return true;
    case IR_OP_CLIP: *code = RT_U_CLIP; return true;
    case IR_OP_EXP: *code = RT_U_EXP; return true;
    case IR_OP_LOG: *code = RT_U_LOG; return true;
    case IR_OP_SQRT: *code = RT_U_SQRT; return true;
    case IR_OP_RECIPROCAL: *code = RT_U_RECIPROCAL; return true;
    case IR_OP_NEG: *code = RT_U_NEG; return true;
    case IR_OP_ABS: *code = RT_U_ABS; return true;
    case IR_OP_SIGN: *code = RT_U_SIGN; return true;
    case IR_OP_FLOOR: *code = RT_U_FLOOR; return true;
    case IR_OP_CEIL: *code = RT_U_CEIL; return true;
    case IR_OP_ROUND: *code = RT_U_ROUND; return true;
    case IR_OP_SIN: *code = RT_U_SIN; return true;
    case IR_OP_COS: *code = RT_U_COS; return true;
    case IR_OP_TAN: *code = RT_U_TAN; return true;
    case IR_OP_ASIN: *code = RT_U_ASIN; return true;
    case IR_OP_ACOS: *code = RT_U_ACOS; return true;
    case IR_OP_ATAN: *code = RT_U_ATAN; return true;
    case IR_OP_SINH: *code = RT_U_SINH; return true;
    case IR_OP_COSH: *code = RT_U_COSH; return true;
    case IR_OP_ASINH: *code = RT_U_ASINH; return true;
    case IR_OP_ACOSH: *code = RT_U_ACOSH; return true;
    case IR_OP_ATANH: *code = RT_U_ATANH; return true;
    default: return false;
    }
}

/* A flat copy of n elements from operand `src` to operand `dst`. */
SdStatus cg_lower_flat_copy(CgLowered *out, int64_t n, size_t elem_size, int src, int dst, SdError *err)
{
    RtCopyParams p = {0};
    for (int i = 0; i < RT_LOOP_RANK; i++)
        p.dims[i] = 1;
    p.dims[RT_LOOP_RANK - 1] = n;
    p.src_strides[RT_LOOP_RANK - 1] = 1;
    p.dst_strides[RT_LOOP_RANK - 1] = 1;
    p.elem_size = (int32_t)elem_size;
    int bufs[2] = {src, dst};
    return cg_lowered_add(out, "rt_copy_strided", &p, sizeof p, 2, bufs, err);
}

static SdStatus lower_unary_grad(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrUnaryAttrs *a = &n->attrs.unary;
    int code;
    if (!cg_unary_code(a->grad_of, &code)) {
        char lb[200];
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: no derivative kernel for %s", ir_node_label(n, lb, sizeof lb),
                         ir_op_name(a->grad_of));
    }
    bool has_y = n->n_inputs > 2 && n->inputs[2];
    RtUnaryGradParams p = {.n = ir_value_numel(n->outputs[0]), .op = code, .has_y = has_y,
                           .alpha = a->alpha, .beta = a->beta, .gamma = a->gamma};
    int bufs[4] = {0, 1, has_y ? 2 : 1, cg_out(n, 0)};
    SD_TRY(cg_lowered_add(out, "rt_unary_grad_f32", &p, sizeof p, 4, bufs, err));
    cg_lowered_split(out, "rt_unary_grad_f32_range", p.n, 4.0 * (double)p.n);
    return SD_OK;
}

static SdStatus lower_dropout(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrUnaryAttrs *a = &n->attrs.unary;
    if (n->inputs[0]->dtype != SD_DT_F32)
        return cg_unsupported_dtype(n, n->inputs[0], err);
    bool has_counter = n->n_inputs > 3 && n->inputs[3], has_mask = n->n_outputs > 1;
    double t = (double)a->ratio * 4294967296.0;
    RtDropoutParams p = {.n = ir_value_numel(n->outputs[0]), .seed = (uint64_t)a->seed,
                         .threshold = t <= 0 ? 0 : t >= 4294967296.0 ? 4294967296ULL : (uint64_t)t,
                         .scale = a->ratio < 1.0f ? 1.0f / (1.0f - a->ratio) : 0.0f,
                         .has_counter = has_counter, .has_mask = has_mask};
    int bufs[4] = {0, has_counter ? 3 : 0, cg_out(n, 0), cg_out(n, has_mask ? 1 : 0)};
    return cg_lowered_add(out, "rt_dropout_f32", &p, sizeof p, 4, bufs, err);
}

SdStatus cg_lower_unary(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrUnaryAttrs *a = &n->attrs.unary;
    int64_t numel = ir_value_numel(y);
    int bufs[2] = {0, cg_out(n, 0)};

    if (n->op == IR_OP_UNARY_GRAD)
        return lower_unary_grad(n, out, err);
    if (n->op == IR_OP_DROPOUT && a->training)
        return lower_dropout(n, out, err);
    if (n->op == IR_OP_IDENTITY || n->op == IR_OP_DROPOUT || n->op == IR_OP_STOP_GRADIENT) {
        SD_TRY(cg_lower_flat_copy(out, numel, sd_dtype_size(x->dtype), 0, cg_out(n, 0), err));
        if (n->op == IR_OP_DROPOUT && n->n_outputs > 1) { /* inference: the mask keeps everything */
            RtFillParams f = {.n = ir_value_numel(n->outputs[1]), .elem_size = 1, .value = {1}};
            int fb[1] = {cg_out(n, 1)};
            SD_TRY(cg_lowered_add(out, "rt_fill", &f, sizeof f, 1, fb, err));
        }
        return SD_OK;
    }
    if (n->op == IR_OP_CAST) {
        if (x->dtype == y->dtype)
            return cg_lower_flat_copy(out, numel, sd_dtype_size(x->dtype), 0, cg_out(n, 0), err);
        RtCastParams p = {.n = numel, .from = x->dtype, .to = y->dtype};
        return cg_lowered_add(out, "rt_cast", &p, sizeof p, 2, bufs, err);
    }
    if (n->op == IR_OP_NOT || n->op == IR_OP_IS_NAN || n->op == IR_OP_IS_INF) {
        if ((n->op == IR_OP_NOT) != (x->dtype == SD_DT_BOOL) || (n->op != IR_OP_NOT && x->dtype != SD_DT_F32))
            return cg_unsupported_dtype(n, x, err);
        RtPredicateParams p = {.n = numel, .op = n->op == IR_OP_NOT ? 0 : n->op == IR_OP_IS_NAN ? 1 : 2,
                               .detect_positive = a->alpha != 0, .detect_negative = a->beta != 0};
        return cg_lowered_add(out, "rt_predicate", &p, sizeof p, 2, bufs, err);
    }
    RtUnaryParams p = {.n = numel, .alpha = a->alpha, .beta = a->beta, .gamma = a->gamma};
    int code;
    if (!cg_unary_code(n->op, &code))
        return cg_unsupported_dtype(n, x, err);
    p.op = code;
    if (x->dtype == SD_DT_F32) {
        SD_TRY(cg_lowered_add(out, "rt_unary_f32", &p, sizeof p, 2, bufs, err));
        cg_lowered_split(out, "rt_unary_f32_range", numel, (double)numel * 4);
        return SD_OK;
    }
    bool int_op = code == RT_U_RELU || code == RT_U_NEG || code == RT_U_ABS || code == RT_U_SIGN ||
                  code == RT_U_CLIP;
    if (int_op && x->dtype == SD_DT_I64)
        return cg_lowered_add(out, "rt_unary_i64", &p, sizeof p, 2, bufs, err);
    if (int_op && x->dtype == SD_DT_I32)
        return cg_lowered_add(out, "rt_unary_i32", &p, sizeof p, 2, bufs, err);
    return cg_unsupported_dtype(n, x, err);
}
