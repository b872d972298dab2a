/* frontend/dsl/layers.c — the DSL's layers: convolution, normalization, linear, activations,
 * pooling, flatten, dropout, lowered to IR nodes as the program runs. Each computes its output shape
 * itself, so a misfit (channels, groups, a kernel larger than its input) is reported at the DSL
 * call, not later by shape inference. Semantics follow PyTorch: conv/linear weights are
 * [out, in, ...], BatchNorm's momentum is PyTorch's (0.1: running = 0.9 * running + 0.1 * batch;
 * the IR's EMA momentum is 1 - that) and its running variance follows the unbiased batch variance. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/lower.h"
#include "support/mem.h"

static SdStatus oom(DslEval *E, DslLoc loc) { return dsl_eval_error(E, SD_ENOMEM, loc, "out of memory"); }

/* ---- convolution ---- */

SdStatus dsl_lower_conv(DslEval *E, DslCall *c, IrValue *x, const DslConvSpec *cs, IrValue **y)
{
    DslLoc loc = c->e->loc;
    int64_t C = x->shape.dims[1];
    const char *who = c->b->name;
    if (cs->out < 1 || cs->groups < 1)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "%s: %lld output channels and %lld groups; both must be positive",
                              who, (long long)cs->out, (long long)cs->groups);
    if (C % cs->groups || cs->out % cs->groups)
        return dsl_eval_error(E, SD_ESHAPE, loc, "%s: groups = %lld must divide the input channels (%lld) and the output channels (%lld)",
                              who, (long long)cs->groups, (long long)C, (long long)cs->out);
    int64_t od[2];
    for (int i = 0; i < 2; i++) {
        if (cs->kernel[i] < 1 || cs->stride[i] < 1 || cs->dilation[i] < 1 || cs->pads[i] < 0 || cs->pads[2 + i] < 0)
            return dsl_eval_error(E, SD_EBADMODEL, loc, "%s: kernel, stride and dilation must be positive and padding not negative",
                                  who);
        int64_t extent = (cs->kernel[i] - 1) * cs->dilation[i] + 1;
        int64_t padded = x->shape.dims[2 + i] + cs->pads[i] + cs->pads[2 + i];
        if (padded < extent) {
            char sb[128];
            return dsl_eval_error(E, SD_ESHAPE, loc, "%s: the %lldx%lld kernel does not fit the input %s (with padding)", who,
                                  (long long)cs->kernel[0], (long long)cs->kernel[1], dsl_shape_text(&x->shape, sb, sizeof sb));
        }
        od[i] = (padded - extent) / cs->stride[i] + 1;
    }
    IrValue *w, *b = NULL;
    IrShape ws = dsl_shape_of(4, (int64_t[]){cs->out, C / cs->groups, cs->kernel[0], cs->kernel[1]});
    SD_TRY(dsl_new_tensor(E, loc, "weight", &ws, IR_ROLE_PARAM, cs->init, cs->std, &w));
    if (cs->bias) {
        IrShape bs = dsl_shape_of(1, &cs->out);
        SD_TRY(dsl_new_tensor(E, loc, "bias", &bs, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &b));
    }
    IrAttrs a = {.conv = {.nspatial = 2, .groups = cs->groups}};
    for (int i = 0; i < 2; i++) {
        a.conv.kernel[i] = cs->kernel[i];
        a.conv.strides[i] = cs->stride[i];
        a.conv.dilations[i] = cs->dilation[i];
    }
    memcpy(a.conv.pads, cs->pads, sizeof cs->pads);
    IrShape os = dsl_shape_of(4, (int64_t[]){x->shape.dims[0], cs->out, od[0], od[1]});
    dsl_count_layer(E, "conv");
    return dsl_emit(E, loc, IR_OP_CONV, NULL, (IrValue *[]){x, w, b}, b ? 3 : 2, &os, &a, y);
}

/* pad: an integer, [h, w] or [top, left, bottom, right]; default: "same" for stride 1. */
static SdStatus pads_arg(DslEval *E, DslCall *c, int i, const int64_t *kernel, const int64_t *dilation, int64_t *pads)
{
    const DslValue *v = &c->args[i];
    if (!dsl_arg_given(c, i)) {
        for (int k = 0; k < 2; k++)
            pads[k] = pads[2 + k] = (kernel[k] - 1) / 2 * dilation[k];
        return SD_OK;
    }
    if (v->kind == V_LIST && v->u.list.n == 4) {
        for (int k = 0; k < 4; k++) {
            if (v->u.list.items[k].kind != V_INT)
                return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: 'pad' must hold integers", c->b->name);
            pads[k] = v->u.list.items[k].u.i;
        }
        return SD_OK;
    }
    int64_t p[2];
    SD_TRY(dsl_arg_ints(E, c, i, 2, 0, p));
    pads[0] = pads[2] = p[0];
    pads[1] = pads[3] = p[1];
    return SD_OK;
}

enum { CONV_X, CONV_OUT, CONV_KERNEL, CONV_STRIDE, CONV_PAD, CONV_DILATION, CONV_GROUPS, CONV_BIAS, CONV_INIT, CONV_STD };

static SdStatus fn_conv(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    DslConvSpec cs;
    SD_TRY(dsl_arg_tensor(E, c, CONV_X, &x));
    SD_TRY(dsl_need_rank(E, c, x, 4, 4, "[batch, channels, height, width]"));
    SD_TRY(dsl_arg_int(E, c, CONV_OUT, 0, &cs.out));
    SD_TRY(dsl_arg_ints(E, c, CONV_KERNEL, 2, 1, cs.kernel));
    SD_TRY(dsl_arg_ints(E, c, CONV_STRIDE, 2, 1, cs.stride));
    SD_TRY(dsl_arg_ints(E, c, CONV_DILATION, 2, 1, cs.dilation));
    SD_TRY(pads_arg(E, c, CONV_PAD, cs.kernel, cs.dilation, cs.pads));
    SD_TRY(dsl_arg_int(E, c, CONV_GROUPS, 1, &cs.groups));
    SD_TRY(dsl_arg_bool(E, c, CONV_BIAS, true, &cs.bias));
    SD_TRY(dsl_init_arg(E, c, CONV_INIT, DSL_INIT_KAIMING_OUT, &cs.init));
    SD_TRY(dsl_arg_float(E, c, CONV_STD, 0.02, &cs.std));
    SD_TRY(dsl_lower_conv(E, c, x, &cs, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

enum { DW_X, DW_KERNEL, DW_STRIDE, DW_PAD, DW_DILATION, DW_MULT, DW_BIAS, DW_INIT };

static SdStatus fn_dwconv(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    DslConvSpec cs = {.std = 0.02};
    int64_t mult;
    SD_TRY(dsl_arg_tensor(E, c, DW_X, &x));
    SD_TRY(dsl_need_rank(E, c, x, 4, 4, "[batch, channels, height, width]"));
    SD_TRY(dsl_arg_ints(E, c, DW_KERNEL, 2, 1, cs.kernel));
    SD_TRY(dsl_arg_ints(E, c, DW_STRIDE, 2, 1, cs.stride));
    SD_TRY(dsl_arg_ints(E, c, DW_DILATION, 2, 1, cs.dilation));
    SD_TRY(pads_arg(E, c, DW_PAD, cs.kernel, cs.dilation, cs.pads));
    SD_TRY(dsl_arg_int(E, c, DW_MULT, 1, &mult));
    SD_TRY(dsl_arg_bool(E, c, DW_BIAS, true, &cs.bias));
    SD_TRY(dsl_init_arg(E, c, DW_INIT, DSL_INIT_KAIMING_OUT, &cs.init));
    cs.groups = x->shape.dims[1];
    if (mult < 1 || mult > (1 << 16))
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[DW_MULT], "dwconv: the multiplier must be from 1 to 65536");
    cs.out = cs.groups * mult;
    SD_TRY(dsl_lower_conv(E, c, x, &cs, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

/* ---- normalization ---- */

SdStatus dsl_lower_bn(DslEval *E, DslLoc loc, IrValue *x, double eps, double momentum, bool affine, IrValue **y)
{
    int64_t C = x->shape.dims[1];
    IrShape cs = dsl_shape_of(1, &C);
    IrValue *scale, *shift, *mean, *var;
    if (affine) {
        SD_TRY(dsl_new_tensor(E, loc, "weight", &cs, IR_ROLE_PARAM, DSL_INIT_ONES, 0, &scale));
        SD_TRY(dsl_new_tensor(E, loc, "bias", &cs, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &shift));
    } else {
        float *ones = sd_aligned_alloc((size_t)C * sizeof(float));
        float *zeros = sd_aligned_calloc((size_t)C * sizeof(float));
        SdStatus st = ones && zeros ? SD_OK : oom(E, loc);
        for (int64_t i = 0; ones && i < C; i++)
            ones[i] = 1.0f;
        if (st == SD_OK)
            st = dsl_constant(E, loc, "weight", SD_DT_F32, &cs, ones, &scale);
        if (st == SD_OK)
            st = dsl_constant(E, loc, "bias", SD_DT_F32, &cs, zeros, &shift);
        sd_aligned_free(ones);
        sd_aligned_free(zeros);
        SD_TRY(st);
    }
    SD_TRY(dsl_new_tensor(E, loc, "running_mean", &cs, IR_ROLE_STATE, DSL_INIT_ZEROS, 0, &mean));
    SD_TRY(dsl_new_tensor(E, loc, "running_var", &cs, IR_ROLE_STATE, DSL_INIT_ONES, 0, &var));
    IrAttrs a = {.norm = {.epsilon = (float)eps, .momentum = (float)(1.0 - momentum)}};
    dsl_count_layer(E, "batch_norm");
    IrValue *in[5] = {x, scale, shift, mean, var};
    if (!E->opt->training)
        return dsl_emit(E, loc, IR_OP_BATCH_NORM, NULL, in, 5, &x->shape, &a, y);
    /* training: batch statistics out, running statistics updated in place */
    char name[DSL_SCOPE_MAX + 128];
    dsl_full_name(E, NULL, true, name, sizeof name);
    IrValue *outs[3] = {ir_value_new(E->g, name, x->dtype, &x->shape), NULL, NULL};
    dsl_full_name(E, "batch_mean", true, name, sizeof name);
    outs[1] = ir_value_new(E->g, name, SD_DT_F32, &cs);
    dsl_full_name(E, "batch_invstd", true, name, sizeof name);
    outs[2] = ir_value_new(E->g, name, SD_DT_F32, &cs);
    dsl_full_name(E, NULL, true, name, sizeof name);
    IrNode *n = outs[0] && outs[1] && outs[2] ? ir_node_new(E->g, IR_OP_BATCH_NORM, name, in, 5, outs, 3) : NULL;
    if (!n)
        return oom(E, loc);
    a.norm.training = true;
    n->attrs = a;
    *y = outs[0];
    /* running_var follows the unbiased batch variance: (1/invstd^2 - eps) * m / (m - 1) */
    int64_t m = ir_shape_numel(&x->shape) / (C ? C : 1);
    IrValue *sq, *inv, *epsv, *biased, *corr, *unbiased;
    SD_TRY(dsl_emit(E, loc, IR_OP_MUL, "invstd_sq", (IrValue *[]){outs[2], outs[2]}, 2, &cs, NULL, &sq));
    SD_TRY(dsl_emit(E, loc, IR_OP_RECIPROCAL, "batch_var_eps", (IrValue *[]){sq}, 1, &cs, NULL, &inv));
    SD_TRY(dsl_scalar_f32(E, loc, "eps", (float)eps, &epsv));
    SD_TRY(dsl_emit(E, loc, IR_OP_SUB, "batch_var", (IrValue *[]){inv, epsv}, 2, &cs, NULL, &biased));
    SD_TRY(dsl_scalar_f32(E, loc, "bessel", m > 1 ? (float)((double)m / (double)(m - 1)) : 1.0f, &corr));
    SD_TRY(dsl_emit(E, loc, IR_OP_MUL, "batch_var_unbiased", (IrValue *[]){biased, corr}, 2, &cs, NULL, &unbiased));
    IrValue *upd[2][2] = {{mean, outs[1]}, {var, unbiased}};
    for (int i = 0; i < 2; i++) {
        dsl_full_name(E, i ? "update_running_var" : "update_running_mean", true, name, sizeof name);
        IrNode *u = ir_node_new(E->g, IR_OP_EMA_UPDATE, name, upd[i], 2, NULL, 0);
        if (!u)
            return oom(E, loc);
        u->attrs.update.momentum = (float)(1.0 - momentum);
    }
    return SD_OK;
}

static SdStatus fn_bn(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    double eps, mom;
    bool affine;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_need_rank(E, c, x, 2, 5, "[batch, channels, ...]"));
    SD_TRY(dsl_arg_float(E, c, 1, 1e-5, &eps));
    SD_TRY(dsl_arg_float(E, c, 2, 0.1, &mom));
    SD_TRY(dsl_arg_bool(E, c, 3, true, &affine));
    if (!(eps > 0) || !(mom >= 0 && mom <= 1))
        return dsl_eval_error(E, SD_EBADMODEL, c->e->loc, "bn: eps must be positive and momentum from 0 to 1");
    SD_TRY(dsl_lower_bn(E, c->e->loc, x, eps, mom, affine, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static SdStatus fn_layernorm(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y, *scale, *shift;
    double eps;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_need_rank(E, c, x, 2, IR_MAX_RANK, "a tensor of rank 2 or more"));
    SD_TRY(dsl_arg_float(E, c, 1, 1e-5, &eps));
    if (!(eps > 0))
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "layernorm: eps must be positive");
    DslLoc loc = c->e->loc;
    int r = x->shape.rank;
    IrShape ds = dsl_shape_of(1, &x->shape.dims[r - 1]);
    SD_TRY(dsl_new_tensor(E, loc, "weight", &ds, IR_ROLE_PARAM, DSL_INIT_ONES, 0, &scale));
    SD_TRY(dsl_new_tensor(E, loc, "bias", &ds, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &shift));
    IrAttrs a = {.norm = {.axis = r - 1, .epsilon = (float)eps}};
    dsl_count_layer(E, "layer_norm");
    IrValue *in[3] = {x, scale, shift};
    if (!E->opt->training) {
        SD_TRY(dsl_emit(E, loc, IR_OP_LAYER_NORM, NULL, in, 3, &x->shape, &a, &y));
    } else { /* training: mean and inverse std are outputs too, for the gradient */
        char name[DSL_SCOPE_MAX + 128];
        IrShape st = x->shape;
        st.dims[r - 1] = 1;
        dsl_full_name(E, NULL, true, name, sizeof name);
        IrValue *outs[3] = {ir_value_new(E->g, name, x->dtype, &x->shape), ir_value_new(E->g, name, SD_DT_F32, &st),
                            ir_value_new(E->g, name, SD_DT_F32, &st)};
        IrNode *n = outs[0] && outs[1] && outs[2] ? ir_node_new(E->g, IR_OP_LAYER_NORM, name, in, 3, outs, 3) : NULL;
        if (!n)
            return oom(E, loc);
        n->attrs = a;
        y = outs[0];
    }
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

/* ---- linear ---- */

SdStatus dsl_lower_linear(DslEval *E, DslLoc loc, IrValue *x, int64_t out_features, bool bias, DslInit init,
                             double std, IrValue **y)
{
    int r = x->shape.rank;
    int64_t in_features = x->shape.dims[r - 1];
    if (out_features < 1)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "linear: %lld output features; at least 1 is needed",
                              (long long)out_features);
    IrValue *w, *wt, *b, *mm;
    IrShape ws = dsl_shape_of(2, (int64_t[]){out_features, in_features});
    IrShape wts = dsl_shape_of(2, (int64_t[]){in_features, out_features});
    SD_TRY(dsl_new_tensor(E, loc, "weight", &ws, IR_ROLE_PARAM, init, std, &w));
    IrAttrs t = {.movement = {.n_perm = 2, .perm = {1, 0}}};
    SD_TRY(dsl_emit(E, loc, IR_OP_TRANSPOSE, "weight_t", (IrValue *[]){w}, 1, &wts, &t, &wt));
    IrShape os = x->shape;
    os.dims[r - 1] = out_features;
    dsl_count_layer(E, "linear");
    if (!bias)
        return dsl_emit(E, loc, IR_OP_MATMUL, NULL, (IrValue *[]){x, wt}, 2, &os, NULL, y);
    IrShape bs = dsl_shape_of(1, &out_features);
    SD_TRY(dsl_new_tensor(E, loc, "bias", &bs, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &b));
    SD_TRY(dsl_emit(E, loc, IR_OP_MATMUL, "matmul", (IrValue *[]){x, wt}, 2, &os, NULL, &mm));
    return dsl_emit(E, loc, IR_OP_ADD, NULL, (IrValue *[]){mm, b}, 2, &os, NULL, y);
}

static SdStatus fn_linear(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t n;
    bool bias;
    DslInit init;
    double std;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_need_rank(E, c, x, 2, IR_MAX_RANK, "a tensor of rank 2 or more ([batch, features, ...]: flatten first)"));
    SD_TRY(dsl_arg_int(E, c, 1, 0, &n));
    SD_TRY(dsl_arg_bool(E, c, 2, true, &bias));
    SD_TRY(dsl_init_arg(E, c, 3, DSL_INIT_KAIMING_IN, &init));
    SD_TRY(dsl_arg_float(E, c, 4, 0.01, &std));
    SD_TRY(dsl_lower_linear(E, c->e->loc, x, n, bias, init, std, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

/* ---- activations ---- */

SdStatus dsl_lower_act(DslEval *E, DslLoc loc, const char *kind, IrValue *x, IrValue **y)
{
    static const struct {
        const char *name;
        IrOp op;
        float alpha, beta;
    } acts[] = {
        {"relu", IR_OP_RELU, 0, 0},          {"relu6", IR_OP_CLIP, 0, 6},
        {"gelu", IR_OP_GELU, 0, 0},          {"gelu_tanh", IR_OP_GELU_TANH, 0, 0},
        {"silu", IR_OP_SILU, 0, 0},          {"hardswish", IR_OP_HARD_SWISH, 0, 0},
        {"hardsigmoid", IR_OP_HARD_SIGMOID, 1.0f / 6.0f, 0.5f},
        {"sigmoid", IR_OP_SIGMOID, 0, 0},    {"tanh", IR_OP_TANH, 0, 0},
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        if (strcmp(acts[i].name, kind) != 0)
            continue;
        IrAttrs a = {.unary = {.alpha = acts[i].alpha, .beta = acts[i].beta}};
        dsl_count_layer(E, kind);
        return dsl_emit(E, loc, acts[i].op, NULL, (IrValue *[]){x}, 1, &x->shape, &a, y);
    }
    return dsl_eval_error(E, SD_EBADMODEL, loc,
                          "unknown activation '%s' (relu, relu6, gelu, gelu_tanh, silu, hardswish, hardsigmoid, sigmoid, tanh)",
                          kind);
}

static SdStatus fn_act(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    const char *kind = c->b->name;
    if (strcmp(kind, "gelu") == 0 && dsl_arg_given(c, 1)) {
        const char *approx;
        SD_TRY(dsl_arg_str(E, c, 1, "none", &approx));
        if (strcmp(approx, "tanh") == 0)
            kind = "gelu_tanh";
        else if (strcmp(approx, "none") != 0)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "gelu: approximate is \"none\" or \"tanh\", not \"%s\"",
                                  approx);
    }
    SD_TRY(dsl_lower_act(E, c->e->loc, kind, x, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static SdStatus fn_leaky_relu(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    double slope;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_arg_float(E, c, 1, 0.01, &slope));
    IrAttrs a = {.unary = {.alpha = (float)slope}};
    dsl_count_layer(E, "leaky_relu");
    SD_TRY(dsl_emit(E, c->e->loc, IR_OP_LEAKY_RELU, NULL, (IrValue *[]){x}, 1, &x->shape, &a, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static SdStatus fn_identity(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    dsl_count_layer(E, "identity");
    *out = c->args[0];
    return SD_OK;
}

/* ---- pooling, flatten, dropout ---- */

static SdStatus fn_pool(DslEval *E, DslCall *c, DslValue *out)
{
    bool is_max = strcmp(c->b->name, "maxpool") == 0;
    IrValue *x, *y;
    int64_t k[2], s[2], p[4], one[2] = {1, 1};
    bool ceil_mode, count_pad = true;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_need_rank(E, c, x, 4, 4, "[batch, channels, height, width]"));
    SD_TRY(dsl_arg_ints(E, c, 1, 2, 1, k));
    SD_TRY(dsl_arg_ints(E, c, 2, 2, 0, s));
    if (!dsl_arg_given(c, 2))
        s[0] = k[0], s[1] = k[1];
    if (dsl_arg_given(c, 3))
        SD_TRY(pads_arg(E, c, 3, k, one, p));
    else
        memset(p, 0, sizeof p);
    SD_TRY(dsl_arg_bool(E, c, 4, false, &ceil_mode));
    if (!is_max)
        SD_TRY(dsl_arg_bool(E, c, 5, true, &count_pad));
    IrAttrs a = {.pool = {.nspatial = 2, .ceil_mode = ceil_mode, .count_include_pad = count_pad}};
    IrShape os = x->shape;
    for (int i = 0; i < 2; i++) {
        if (k[i] < 1 || s[i] < 1 || p[i] < 0 || p[2 + i] < 0 || p[i] > k[i] / 2 || p[2 + i] > k[i] / 2)
            return dsl_eval_error(E, SD_EBADMODEL, c->e->loc,
                                  "%s: kernel and stride must be positive, padding at most half the kernel", c->b->name);
        int64_t in = x->shape.dims[2 + i], padded = in + p[i] + p[2 + i];
        if (padded < k[i])
            return dsl_eval_error(E, SD_ESHAPE, c->e->loc, "%s: the kernel %lld is larger than the padded input %lld",
                                  c->b->name, (long long)k[i], (long long)padded);
        int64_t o = (padded - k[i]) / s[i] + 1;
        if (ceil_mode) {
            o = (padded - k[i] + s[i] - 1) / s[i] + 1;
            if ((o - 1) * s[i] >= in + p[i])
                o--;
        }
        os.dims[2 + i] = o;
        a.pool.kernel[i] = k[i];
        a.pool.strides[i] = s[i];
        a.pool.dilations[i] = 1;
    }
    memcpy(a.pool.pads, p, sizeof p);
    dsl_count_layer(E, is_max ? "max_pool" : "avg_pool");
    SD_TRY(dsl_emit(E, c->e->loc, is_max ? IR_OP_MAX_POOL : IR_OP_AVG_POOL, NULL, (IrValue *[]){x}, 1, &os, &a, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static SdStatus fn_gap(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_need_rank(E, c, x, 3, 5, "[batch, channels, spatial...]"));
    IrShape os = x->shape;
    for (int i = 2; i < os.rank; i++)
        os.dims[i] = 1;
    IrAttrs a = {.pool = {.nspatial = x->shape.rank - 2}};
    dsl_count_layer(E, "global_avg_pool");
    SD_TRY(dsl_emit(E, c->e->loc, IR_OP_GLOBAL_AVG_POOL, NULL, (IrValue *[]){x}, 1, &os, &a, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static SdStatus fn_flatten(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t axis;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_arg_int(E, c, 1, 1, &axis));
    int r = x->shape.rank;
    int64_t a = axis < 0 ? axis + r : axis;
    if (a < 0 || a > r)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "flatten: axis %lld is out of range for rank %d",
                              (long long)axis, r);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < r; i++)
        *(i < a ? &outer : &inner) *= x->shape.dims[i];
    IrShape os = dsl_shape_of(2, (int64_t[]){outer, inner});
    IrAttrs at = {.movement = {.axis = a}};
    dsl_count_layer(E, "flatten");
    SD_TRY(dsl_emit(E, c->e->loc, IR_OP_FLATTEN, NULL, (IrValue *[]){x}, 1, &os, &at, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static SdStatus fn_dropout(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x;
    double p;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_arg_float(E, c, 1, 0.5, &p));
    if (!(p >= 0 && p < 1))
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "dropout: p must be in [0, 1), not %g", p);
    dsl_count_layer(E, "dropout");
    *out = c->args[0];
    if (!E->opt->training || p == 0)
        return SD_OK; /* the identity */
    char name[DSL_SCOPE_MAX + 128], local[DSL_SCOPE_MAX + 64];
    dsl_full_name(E, NULL, true, name, sizeof name);
    dsl_full_name(E, NULL, false, local, sizeof local);
    IrValue *outs[2] = {ir_value_new(E->g, name, x->dtype, &x->shape), ir_value_new(E->g, name, SD_DT_BOOL, &x->shape)};
    IrNode *n = outs[0] && outs[1] ? ir_node_new(E->g, IR_OP_DROPOUT, name, &x, 1, outs, 2) : NULL;
    if (!n)
        return oom(E, c->e->loc);
    n->attrs.unary.ratio = (float)p;
    n->attrs.unary.training = true;
    n->attrs.unary.seed = (int64_t)((E->opt->seed * 0x9e3779b97f4a7c15ull) ^ name_hash(local));
    out->u.t = outs[0];
    return SD_OK;
}

const DslBuiltin dsl_layer_builtins[] = {
    {"conv", true, {"x", "out", "kernel", "?stride", "?pad", "?dilation", "?groups", "?bias", "?init", "?std", NULL},
     fn_conv, "conv(x, out, kernel, stride=1, pad=same, dilation=1, groups=1, bias=true)"},
    {"dwconv", true, {"x", "kernel", "?stride", "?pad", "?dilation", "?multiplier", "?bias", "?init", NULL}, fn_dwconv,
     "dwconv(x, kernel, stride=1, pad=same, dilation=1, multiplier=1, bias=true): depthwise conv"},
    {"bn", true, {"x", "?eps", "?momentum", "?affine", NULL}, fn_bn, "bn(x, eps=1e-5, momentum=0.1, affine=true)"},
    {"layernorm", true, {"x", "?eps", NULL}, fn_layernorm, "layernorm(x, eps=1e-5): over the last axis"},
    {"linear", true, {"x", "out", "?bias", "?init", "?std", NULL}, fn_linear, "linear(x, out, bias=true)"},
    {"relu", true, {"x", NULL}, fn_act, "relu(x)"},
    {"relu6", true, {"x", NULL}, fn_act, "relu6(x)"},
    {"gelu", true, {"x", "?approximate", NULL}, fn_act, "gelu(x, approximate=\"none\")"},
    {"silu", true, {"x", NULL}, fn_act, "silu(x)"},
    {"hardswish", true, {"x", NULL}, fn_act, "hardswish(x)"},
    {"hardsigmoid", true, {"x", NULL}, fn_act, "hardsigmoid(x)"},
    {"sigmoid", true, {"x", NULL}, fn_act, "sigmoid(x)"},
    {"tanh", true, {"x", NULL}, fn_act, "tanh(x)"},
    {"leaky_relu", true, {"x", "?slope", NULL}, fn_leaky_relu, "leaky_relu(x, slope=0.01)"},
    {"identity", true, {"x", NULL}, fn_identity, "identity(x)"},
    {"maxpool", true, {"x", "kernel", "?stride", "?pad", "?ceil", NULL}, fn_pool,
     "maxpool(x, kernel, stride=kernel, pad=0, ceil=false)"},
    {"avgpool", true, {"x", "kernel", "?stride", "?pad", "?ceil", "?count_pad", NULL}, fn_pool,
     "avgpool(x, kernel, stride=kernel, pad=0, ceil=false, count_pad=true)"},
    {"gap", true, {"x", NULL}, fn_gap, "gap(x): global average pool to [batch, channels, 1, 1]"},
    {"flatten", true, {"x", "?axis", NULL}, fn_flatten, "flatten(x, axis=1)"},
    {"dropout", true, {"x", "?p", NULL}, fn_dropout, "dropout(x, p=0.5)"},
    {NULL, false, {NULL}, NULL, NULL},
};
