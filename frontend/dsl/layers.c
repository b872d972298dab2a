/* frontend/dsl/layers.c — the layers and tensor functions of the DSL, lowered to IR nodes as the
 * program runs. Each computes its output shape itself, so a misfit (channels, groups, a kernel
 * larger than its input) is reported at the DSL call, not later by shape inference. Semantics
 * follow PyTorch: conv/linear weights are [out, in, ...], BatchNorm's momentum is PyTorch's (0.1:
 * running = 0.9 * running + 0.1 * batch; the IR's EMA momentum is 1 - that), running variance is
 * updated with the unbiased batch variance, attention is nn.MultiheadAttention's. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/eval.h"
#include "support/mem.h"

/* ---- helpers ---- */

void dsl_count_layer(DslEval *E, const char *kind)
{
    DslInstanceInfo *in = &E->info;
    in->n_layers++;
    for (int i = 0; i < in->n_kinds; i++)
        if (strcmp(in->layers[i].kind, kind) == 0) {
            in->layers[i].count++;
            return;
        }
    if (in->n_kinds < DSL_INFO_MAX_KINDS) {
        snprintf(in->layers[in->n_kinds].kind, sizeof in->layers[0].kind, "%s", kind);
        in->layers[in->n_kinds++].count = 1;
    }
}

static SdStatus oom(DslEval *E, DslLoc loc) { return dsl_eval_error(E, SD_ENOMEM, loc, "out of memory"); }

static IrShape shape_of(int rank, const int64_t *dims) { return ir_shape_make(rank, dims); }

static const char *shape_text(const IrShape *s, char *buf, size_t n) { return ir_shape_str(s, buf, n); }

/* prefix + scope [+ "." + suffix] */
static void full_name(const DslEval *E, const char *suffix, bool with_prefix, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s", with_prefix && E->prefix ? E->prefix : "", E->scope,
             suffix && E->scope[0] ? "." : "", suffix ? suffix : "");
}

/* One node with one f32 output of shape `s`; name: the scope, or scope.suffix. */
static SdStatus emit(DslEval *E, DslLoc loc, IrOp op, const char *suffix, IrValue *const *in, int n_in,
                     const IrShape *s, const IrAttrs *attrs, IrValue **out)
{
    char name[DSL_SCOPE_MAX + 128];
    full_name(E, suffix, true, name, sizeof name);
    IrValue *y = ir_value_new(E->g, name, in[0] ? in[0]->dtype : SD_DT_F32, s);
    IrNode *n = y ? ir_node_new(E->g, op, name, in, n_in, &y, 1) : NULL;
    if (!n)
        return oom(E, loc);
    if (attrs)
        n->attrs = *attrs;
    *out = y;
    return SD_OK;
}

static SdStatus constant(DslEval *E, DslLoc loc, const char *suffix, SdDType dt, const IrShape *s, const void *data,
                         IrValue **out)
{
    char name[DSL_SCOPE_MAX + 128];
    full_name(E, suffix, true, name, sizeof name);
    SdError e2 = {0};
    *out = ir_constant_new(E->g, name, dt, s, data, &e2);
    if (!*out)
        return dsl_eval_error(E, e2.status, loc, "%s", e2.msg);
    return SD_OK;
}

static SdStatus scalar_f32(DslEval *E, DslLoc loc, const char *suffix, float v, IrValue **out)
{
    IrShape s = {0};
    return constant(E, loc, suffix, SD_DT_F32, &s, &v, out);
}

static SdStatus ints_const(DslEval *E, DslLoc loc, const char *suffix, const int64_t *v, int n, IrValue **out)
{
    IrShape s = shape_of(1, (int64_t[]){n});
    return constant(E, loc, suffix, SD_DT_I64, &s, v, out);
}

/* A parameter (role PARAM) or state (role STATE) named scope.suffix, initialized from the seed and
 * that name (without the instance prefix). */
static SdStatus new_tensor(DslEval *E, DslLoc loc, const char *suffix, const IrShape *s, IrRole role, DslInit init,
                           double std, IrValue **out)
{
    char local[DSL_SCOPE_MAX + 64], name[DSL_SCOPE_MAX + 128];
    full_name(E, suffix, false, local, sizeof local);
    full_name(E, suffix, true, name, sizeof name);
    if (ir_graph_find_value(E->g, name))
        return dsl_eval_error(E, SD_EBADMODEL, loc,
                              "a tensor named '%s' exists already: give this layer another name (name = \"...\")", name);
    int64_t numel;
    if (!sd_numel_checked(s->dims, s->rank, &numel) || numel > DSL_MAX_TENSOR_ELEMS) {
        char sb[128];
        return dsl_eval_error(E, SD_ESHAPE, loc, "parameter '%s' would have shape %s: more than %lld elements", local,
                              shape_text(s, sb, sizeof sb), (long long)DSL_MAX_TENSOR_ELEMS);
    }
    if (E->info.n_params + E->info.n_state + numel > DSL_MAX_MODEL_ELEMS)
        return dsl_eval_error(E, SD_ESHAPE, loc, "the model would hold more than %lld parameters: is a width wrong?",
                              (long long)DSL_MAX_MODEL_ELEMS);
    size_t nbytes = (size_t)numel * sizeof(float);
    float *data = sd_aligned_alloc(nbytes ? nbytes : 1);
    IrValue *v = data ? ir_value_new(E->g, name, SD_DT_F32, s) : NULL;
    if (!v) {
        sd_aligned_free(data);
        return oom(E, loc);
    }
    dsl_init_fill(data, s, init, std, E->opt->seed, local);
    v->role = E->opt->params_as_constants ? IR_ROLE_CONSTANT : role;
    ir_value_adopt_data(v, data, nbytes);
    if (role == IR_ROLE_PARAM) {
        E->info.n_params += numel;
        E->info.n_param_tensors++;
    } else {
        E->info.n_state += numel;
        E->info.n_state_tensors++;
    }
    *out = v;
    return SD_OK;
}

static SdStatus need_rank(DslEval *E, DslCall *c, const IrValue *x, int lo, int hi, const char *what)
{
    if (x->shape.rank >= lo && x->shape.rank <= hi)
        return SD_OK;
    char sb[128];
    return dsl_eval_error(E, SD_ESHAPE, c->locs[0], "%s: the input is %s; %s is expected", c->b->name,
                          shape_text(&x->shape, sb, sizeof sb), what);
}

static SdStatus init_arg(DslEval *E, DslCall *c, int i, DslInit def, DslInit *out)
{
    const char *s;
    SD_TRY(dsl_arg_str(E, c, i, NULL, &s));
    if (!s) {
        *out = def;
        return SD_OK;
    }
    if (dsl_init_parse(s, out))
        return SD_OK;
    int n;
    const char *const *names = dsl_init_names(&n);
    char dym[128];
    return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: unknown init '%s'%s", c->b->name, s,
                          dsl_did_you_mean(s, names, n, dym, sizeof dym));
}

/* ---- convolution ---- */

typedef struct ConvSpec {
    int64_t out, kernel[2], stride[2], pads[4], dilation[2], groups;
    bool bias;
    DslInit init;
    double std;
} ConvSpec;

static SdStatus lower_conv(DslEval *E, DslCall *c, IrValue *x, const ConvSpec *cs, IrValue **y)
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
                                  (long long)cs->kernel[0], (long long)cs->kernel[1], shape_text(&x->shape, sb, sizeof sb));
        }
        od[i] = (padded - extent) / cs->stride[i] + 1;
    }
    IrValue *w, *b = NULL;
    IrShape ws = shape_of(4, (int64_t[]){cs->out, C / cs->groups, cs->kernel[0], cs->kernel[1]});
    SD_TRY(new_tensor(E, loc, "weight", &ws, IR_ROLE_PARAM, cs->init, cs->std, &w));
    if (cs->bias) {
        IrShape bs = shape_of(1, &cs->out);
        SD_TRY(new_tensor(E, loc, "bias", &bs, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &b));
    }
    IrAttrs a = {.conv = {.nspatial = 2, .groups = cs->groups}};
    for (int i = 0; i < 2; i++) {
        a.conv.kernel[i] = cs->kernel[i];
        a.conv.strides[i] = cs->stride[i];
        a.conv.dilations[i] = cs->dilation[i];
    }
    memcpy(a.conv.pads, cs->pads, sizeof cs->pads);
    IrShape os = shape_of(4, (int64_t[]){x->shape.dims[0], cs->out, od[0], od[1]});
    dsl_count_layer(E, "conv");
    return emit(E, loc, IR_OP_CONV, NULL, (IrValue *[]){x, w, b}, b ? 3 : 2, &os, &a, y);
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
    ConvSpec cs;
    SD_TRY(dsl_arg_tensor(E, c, CONV_X, &x));
    SD_TRY(need_rank(E, c, x, 4, 4, "[batch, channels, height, width]"));
    SD_TRY(dsl_arg_int(E, c, CONV_OUT, 0, &cs.out));
    SD_TRY(dsl_arg_ints(E, c, CONV_KERNEL, 2, 1, cs.kernel));
    SD_TRY(dsl_arg_ints(E, c, CONV_STRIDE, 2, 1, cs.stride));
    SD_TRY(dsl_arg_ints(E, c, CONV_DILATION, 2, 1, cs.dilation));
    SD_TRY(pads_arg(E, c, CONV_PAD, cs.kernel, cs.dilation, cs.pads));
    SD_TRY(dsl_arg_int(E, c, CONV_GROUPS, 1, &cs.groups));
    SD_TRY(dsl_arg_bool(E, c, CONV_BIAS, true, &cs.bias));
    SD_TRY(init_arg(E, c, CONV_INIT, DSL_INIT_KAIMING_OUT, &cs.init));
    SD_TRY(dsl_arg_float(E, c, CONV_STD, 0.02, &cs.std));
    SD_TRY(lower_conv(E, c, x, &cs, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

enum { DW_X, DW_KERNEL, DW_STRIDE, DW_PAD, DW_DILATION, DW_MULT, DW_BIAS, DW_INIT };

static SdStatus fn_dwconv(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    ConvSpec cs = {.std = 0.02};
    int64_t mult;
    SD_TRY(dsl_arg_tensor(E, c, DW_X, &x));
    SD_TRY(need_rank(E, c, x, 4, 4, "[batch, channels, height, width]"));
    SD_TRY(dsl_arg_ints(E, c, DW_KERNEL, 2, 1, cs.kernel));
    SD_TRY(dsl_arg_ints(E, c, DW_STRIDE, 2, 1, cs.stride));
    SD_TRY(dsl_arg_ints(E, c, DW_DILATION, 2, 1, cs.dilation));
    SD_TRY(pads_arg(E, c, DW_PAD, cs.kernel, cs.dilation, cs.pads));
    SD_TRY(dsl_arg_int(E, c, DW_MULT, 1, &mult));
    SD_TRY(dsl_arg_bool(E, c, DW_BIAS, true, &cs.bias));
    SD_TRY(init_arg(E, c, DW_INIT, DSL_INIT_KAIMING_OUT, &cs.init));
    cs.groups = x->shape.dims[1];
    if (mult < 1 || mult > (1 << 16))
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[DW_MULT], "dwconv: the multiplier must be from 1 to 65536");
    cs.out = cs.groups * mult;
    SD_TRY(lower_conv(E, c, x, &cs, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

/* ---- normalization ---- */

static SdStatus lower_bn(DslEval *E, DslLoc loc, IrValue *x, double eps, double momentum, bool affine, IrValue **y)
{
    int64_t C = x->shape.dims[1];
    IrShape cs = shape_of(1, &C);
    IrValue *scale, *shift, *mean, *var;
    if (affine) {
        SD_TRY(new_tensor(E, loc, "weight", &cs, IR_ROLE_PARAM, DSL_INIT_ONES, 0, &scale));
        SD_TRY(new_tensor(E, loc, "bias", &cs, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &shift));
    } else {
        float *ones = sd_aligned_alloc((size_t)C * sizeof(float));
        float *zeros = sd_aligned_calloc((size_t)C * sizeof(float));
        SdStatus st = ones && zeros ? SD_OK : oom(E, loc);
        for (int64_t i = 0; ones && i < C; i++)
            ones[i] = 1.0f;
        if (st == SD_OK)
            st = constant(E, loc, "weight", SD_DT_F32, &cs, ones, &scale);
        if (st == SD_OK)
            st = constant(E, loc, "bias", SD_DT_F32, &cs, zeros, &shift);
        sd_aligned_free(ones);
        sd_aligned_free(zeros);
        SD_TRY(st);
    }
    SD_TRY(new_tensor(E, loc, "running_mean", &cs, IR_ROLE_STATE, DSL_INIT_ZEROS, 0, &mean));
    SD_TRY(new_tensor(E, loc, "running_var", &cs, IR_ROLE_STATE, DSL_INIT_ONES, 0, &var));
    IrAttrs a = {.norm = {.epsilon = (float)eps, .momentum = (float)(1.0 - momentum)}};
    dsl_count_layer(E, "batch_norm");
    IrValue *in[5] = {x, scale, shift, mean, var};
    if (!E->opt->training)
        return emit(E, loc, IR_OP_BATCH_NORM, NULL, in, 5, &x->shape, &a, y);
    /* training: batch statistics out, running statistics updated in place */
    char name[DSL_SCOPE_MAX + 128];
    full_name(E, NULL, true, name, sizeof name);
    IrValue *outs[3] = {ir_value_new(E->g, name, x->dtype, &x->shape), NULL, NULL};
    full_name(E, "batch_mean", true, name, sizeof name);
    outs[1] = ir_value_new(E->g, name, SD_DT_F32, &cs);
    full_name(E, "batch_invstd", true, name, sizeof name);
    outs[2] = ir_value_new(E->g, name, SD_DT_F32, &cs);
    full_name(E, NULL, true, name, sizeof name);
    IrNode *n = outs[0] && outs[1] && outs[2] ? ir_node_new(E->g, IR_OP_BATCH_NORM, name, in, 5, outs, 3) : NULL;
    if (!n)
        return oom(E, loc);
    a.norm.training = true;
    n->attrs = a;
    *y = outs[0];
    /* running_var follows the unbiased batch variance: (1/invstd^2 - eps) * m / (m - 1) */
    int64_t m = ir_shape_numel(&x->shape) / (C ? C : 1);
    IrValue *sq, *inv, *epsv, *biased, *corr, *unbiased;
    SD_TRY(emit(E, loc, IR_OP_MUL, "invstd_sq", (IrValue *[]){outs[2], outs[2]}, 2, &cs, NULL, &sq));
    SD_TRY(emit(E, loc, IR_OP_RECIPROCAL, "batch_var_eps", (IrValue *[]){sq}, 1, &cs, NULL, &inv));
    SD_TRY(scalar_f32(E, loc, "eps", (float)eps, &epsv));
    SD_TRY(emit(E, loc, IR_OP_SUB, "batch_var", (IrValue *[]){inv, epsv}, 2, &cs, NULL, &biased));
    SD_TRY(scalar_f32(E, loc, "bessel", m > 1 ? (float)((double)m / (double)(m - 1)) : 1.0f, &corr));
    SD_TRY(emit(E, loc, IR_OP_MUL, "batch_var_unbiased", (IrValue *[]){biased, corr}, 2, &cs, NULL, &unbiased));
    IrValue *upd[2][2] = {{mean, outs[1]}, {var, unbiased}};
    for (int i = 0; i < 2; i++) {
        full_name(E, i ? "update_running_var" : "update_running_mean", true, name, sizeof name);
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
    SD_TRY(need_rank(E, c, x, 2, 5, "[batch, channels, ...]"));
    SD_TRY(dsl_arg_float(E, c, 1, 1e-5, &eps));
    SD_TRY(dsl_arg_float(E, c, 2, 0.1, &mom));
    SD_TRY(dsl_arg_bool(E, c, 3, true, &affine));
    if (!(eps > 0) || !(mom >= 0 && mom <= 1))
        return dsl_eval_error(E, SD_EBADMODEL, c->e->loc, "bn: eps must be positive and momentum from 0 to 1");
    SD_TRY(lower_bn(E, c->e->loc, x, eps, mom, affine, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static SdStatus fn_layernorm(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y, *scale, *shift;
    double eps;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(need_rank(E, c, x, 2, IR_MAX_RANK, "a tensor of rank 2 or more"));
    SD_TRY(dsl_arg_float(E, c, 1, 1e-5, &eps));
    if (!(eps > 0))
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "layernorm: eps must be positive");
    DslLoc loc = c->e->loc;
    int r = x->shape.rank;
    IrShape ds = shape_of(1, &x->shape.dims[r - 1]);
    SD_TRY(new_tensor(E, loc, "weight", &ds, IR_ROLE_PARAM, DSL_INIT_ONES, 0, &scale));
    SD_TRY(new_tensor(E, loc, "bias", &ds, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &shift));
    IrAttrs a = {.norm = {.axis = r - 1, .epsilon = (float)eps}};
    dsl_count_layer(E, "layer_norm");
    IrValue *in[3] = {x, scale, shift};
    if (!E->opt->training) {
        SD_TRY(emit(E, loc, IR_OP_LAYER_NORM, NULL, in, 3, &x->shape, &a, &y));
    } else { /* training: mean and inverse std are outputs too, for the gradient */
        char name[DSL_SCOPE_MAX + 128];
        IrShape st = x->shape;
        st.dims[r - 1] = 1;
        full_name(E, NULL, true, name, sizeof name);
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

static SdStatus lower_linear(DslEval *E, DslLoc loc, IrValue *x, int64_t out_features, bool bias, DslInit init,
                             double std, IrValue **y)
{
    int r = x->shape.rank;
    int64_t in_features = x->shape.dims[r - 1];
    if (out_features < 1)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "linear: %lld output features; at least 1 is needed",
                              (long long)out_features);
    IrValue *w, *wt, *b, *mm;
    IrShape ws = shape_of(2, (int64_t[]){out_features, in_features});
    IrShape wts = shape_of(2, (int64_t[]){in_features, out_features});
    SD_TRY(new_tensor(E, loc, "weight", &ws, IR_ROLE_PARAM, init, std, &w));
    IrAttrs t = {.movement = {.n_perm = 2, .perm = {1, 0}}};
    SD_TRY(emit(E, loc, IR_OP_TRANSPOSE, "weight_t", (IrValue *[]){w}, 1, &wts, &t, &wt));
    IrShape os = x->shape;
    os.dims[r - 1] = out_features;
    dsl_count_layer(E, "linear");
    if (!bias)
        return emit(E, loc, IR_OP_MATMUL, NULL, (IrValue *[]){x, wt}, 2, &os, NULL, y);
    IrShape bs = shape_of(1, &out_features);
    SD_TRY(new_tensor(E, loc, "bias", &bs, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &b));
    SD_TRY(emit(E, loc, IR_OP_MATMUL, "matmul", (IrValue *[]){x, wt}, 2, &os, NULL, &mm));
    return emit(E, loc, IR_OP_ADD, NULL, (IrValue *[]){mm, b}, 2, &os, NULL, y);
}

static SdStatus fn_linear(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t n;
    bool bias;
    DslInit init;
    double std;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(need_rank(E, c, x, 2, IR_MAX_RANK, "a tensor of rank 2 or more ([batch, features, ...]: flatten first)"));
    SD_TRY(dsl_arg_int(E, c, 1, 0, &n));
    SD_TRY(dsl_arg_bool(E, c, 2, true, &bias));
    SD_TRY(init_arg(E, c, 3, DSL_INIT_KAIMING_IN, &init));
    SD_TRY(dsl_arg_float(E, c, 4, 0.01, &std));
    SD_TRY(lower_linear(E, c->e->loc, x, n, bias, init, std, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

/* ---- activations ---- */

static SdStatus lower_act(DslEval *E, DslLoc loc, const char *kind, IrValue *x, IrValue **y)
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
        return emit(E, loc, acts[i].op, NULL, (IrValue *[]){x}, 1, &x->shape, &a, y);
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
    SD_TRY(lower_act(E, c->e->loc, kind, x, &y));
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
    SD_TRY(emit(E, c->e->loc, IR_OP_LEAKY_RELU, NULL, (IrValue *[]){x}, 1, &x->shape, &a, &y));
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
    SD_TRY(need_rank(E, c, x, 4, 4, "[batch, channels, height, width]"));
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
    SD_TRY(emit(E, c->e->loc, is_max ? IR_OP_MAX_POOL : IR_OP_AVG_POOL, NULL, (IrValue *[]){x}, 1, &os, &a, &y));
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static SdStatus fn_gap(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(need_rank(E, c, x, 3, 5, "[batch, channels, spatial...]"));
    IrShape os = x->shape;
    for (int i = 2; i < os.rank; i++)
        os.dims[i] = 1;
    IrAttrs a = {.pool = {.nspatial = x->shape.rank - 2}};
    dsl_count_layer(E, "global_avg_pool");
    SD_TRY(emit(E, c->e->loc, IR_OP_GLOBAL_AVG_POOL, NULL, (IrValue *[]){x}, 1, &os, &a, &y));
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
    IrShape os = shape_of(2, (int64_t[]){outer, inner});
    IrAttrs at = {.movement = {.axis = a}};
    dsl_count_layer(E, "flatten");
    SD_TRY(emit(E, c->e->loc, IR_OP_FLATTEN, NULL, (IrValue *[]){x}, 1, &os, &at, &y));
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
    full_name(E, NULL, true, name, sizeof name);
    full_name(E, NULL, false, local, sizeof local);
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

/* ---- tensor functions (no position, no parameters) ---- */

static SdStatus tensor_out(IrValue *y, DslValue *out)
{
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

static SdStatus axis_arg(DslEval *E, DslCall *c, int i, int64_t def, int rank, int64_t *out)
{
    int64_t axis;
    SD_TRY(dsl_arg_int(E, c, i, def, &axis));
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: axis %lld is out of range for rank %d", c->b->name,
                              (long long)axis, rank);
    *out = a;
    return SD_OK;
}

static SdStatus fn_softmax(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t axis;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(axis_arg(E, c, 1, -1, x->shape.rank, &axis));
    IrAttrs a = {.softmax = {.axis = axis}};
    bool log = strcmp(c->b->name, "log_softmax") == 0;
    SD_TRY(emit(E, c->e->loc, log ? IR_OP_LOG_SOFTMAX : IR_OP_SOFTMAX, log ? "log_softmax" : "softmax",
                (IrValue *[]){x}, 1, &x->shape, &a, &y));
    return tensor_out(y, out);
}

static SdStatus fn_l2norm(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *n, *epsv, *d, *y;
    int64_t axis;
    double eps;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(axis_arg(E, c, 1, 1, x->shape.rank, &axis));
    SD_TRY(dsl_arg_float(E, c, 2, 1e-12, &eps));
    DslLoc loc = c->e->loc;
    IrShape ns = x->shape;
    ns.dims[axis] = 1;
    IrAttrs r = {.reduce = {.n_axes = 1, .axes = {axis}, .keepdims = true}};
    SD_TRY(emit(E, loc, IR_OP_REDUCE_L2, "norm", (IrValue *[]){x}, 1, &ns, &r, &n));
    SD_TRY(scalar_f32(E, loc, "eps", (float)eps, &epsv));
    SD_TRY(emit(E, loc, IR_OP_MAX, "norm_clamped", (IrValue *[]){n, epsv}, 2, &ns, NULL, &d));
    SD_TRY(emit(E, loc, IR_OP_DIV, "normalized", (IrValue *[]){x, d}, 2, &x->shape, NULL, &y));
    return tensor_out(y, out);
}

static SdStatus fn_concat(DslEval *E, DslCall *c, DslValue *out)
{
    const DslValue *l = &c->args[0];
    if (l->kind != V_LIST || l->u.list.n < 1 || l->u.list.n > 64)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[0], "concat: needs a list of 1 to 64 tensors");
    IrValue *in[64], *y;
    for (int i = 0; i < l->u.list.n; i++) {
        if (l->u.list.items[i].kind != V_TENSOR)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[0], "concat: item %d is %s, not a tensor", i,
                                  dsl_kind_name(l->u.list.items[i].kind));
        in[i] = l->u.list.items[i].u.t;
    }
    int64_t axis;
    SD_TRY(axis_arg(E, c, 1, 1, in[0]->shape.rank, &axis));
    IrShape os = in[0]->shape;
    os.dims[axis] = 0;
    for (int i = 0; i < l->u.list.n; i++) {
        bool ok = in[i]->shape.rank == os.rank;
        for (int d = 0; ok && d < os.rank; d++)
            ok = d == axis || in[i]->shape.dims[d] == os.dims[d];
        if (!ok) {
            char s0[128], si[128];
            return dsl_eval_error(E, SD_ESHAPE, c->locs[0], "concat: %s and %s differ outside axis %lld",
                                  shape_text(&in[0]->shape, s0, sizeof s0), shape_text(&in[i]->shape, si, sizeof si),
                                  (long long)axis);
        }
        os.dims[axis] += in[i]->shape.dims[axis];
    }
    IrAttrs a = {.movement = {.axis = axis}};
    SD_TRY(emit(E, c->e->loc, IR_OP_CONCAT, "concat", in, l->u.list.n, &os, &a, &y));
    return tensor_out(y, out);
}

static SdStatus lower_reshape(DslEval *E, DslLoc loc, IrValue *x, const int64_t *want, int n, IrValue **y)
{
    IrShape s = {.rank = n};
    int infer = -1;
    int64_t known = 1, numel = ir_shape_numel(&x->shape);
    for (int i = 0; i < n; i++) {
        int64_t d = want[i];
        if (d == 0 && i < x->shape.rank)
            d = x->shape.dims[i];
        if (d == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (d < 1)
            return dsl_eval_error(E, SD_EBADMODEL, loc, "reshape: dimension %d is %lld (use -1 once to infer one, 0 to copy)",
                                  i, (long long)want[i]);
        if (__builtin_mul_overflow(known, d, &known))
            return dsl_eval_error(E, SD_ESHAPE, loc, "reshape: the shape is too large");
        s.dims[i] = d;
    }
    if (infer >= 0) {
        if (numel % known)
            goto bad;
        s.dims[infer] = numel / known;
    } else if (known != numel) {
        goto bad;
    }
    IrValue *sv;
    SD_TRY(ints_const(E, loc, "shape", want, n, &sv));
    return emit(E, loc, IR_OP_RESHAPE, "reshape", (IrValue *[]){x, sv}, 2, &s, NULL, y);
bad: {
    char sb[128];
    return dsl_eval_error(E, SD_ESHAPE, loc, "reshape: %s (%lld elements) does not fit the requested shape",
                          shape_text(&x->shape, sb, sizeof sb), (long long)numel);
}
}

static SdStatus list_ints(DslEval *E, DslCall *c, int i, int64_t *out, int max, int *n)
{
    const DslValue *v = &c->args[i];
    if (v->kind != V_LIST || v->u.list.n > max)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must be a list of at most %d integers",
                              c->b->name, c->b->params[i] + (c->b->params[i][0] == '?'), max);
    for (int k = 0; k < v->u.list.n; k++) {
        if (v->u.list.items[k].kind != V_INT)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must hold integers", c->b->name,
                                  c->b->params[i] + (c->b->params[i][0] == '?'));
        out[k] = v->u.list.items[k].u.i;
    }
    *n = v->u.list.n;
    return SD_OK;
}

static SdStatus fn_reshape(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t want[IR_MAX_RANK];
    int n;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(list_ints(E, c, 1, want, IR_MAX_RANK, &n));
    if (n < 1)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "reshape: the shape is empty");
    SD_TRY(lower_reshape(E, c->e->loc, x, want, n, &y));
    return tensor_out(y, out);
}

static SdStatus lower_transpose(DslEval *E, DslLoc loc, IrValue *x, const int64_t *perm, int n, IrValue **y)
{
    unsigned seen = 0;
    if (n != x->shape.rank)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "transpose: %d axes given for a tensor of rank %d", n, x->shape.rank);
    IrAttrs a = {.movement = {.n_perm = n}};
    IrShape s = {.rank = n};
    for (int i = 0; i < n; i++) {
        if (perm[i] < 0 || perm[i] >= n || (seen & (1u << perm[i])))
            return dsl_eval_error(E, SD_EBADMODEL, loc, "transpose: the axes must be a permutation of 0..%d", n - 1);
        seen |= 1u << perm[i];
        a.movement.perm[i] = perm[i];
        s.dims[i] = x->shape.dims[perm[i]];
    }
    return emit(E, loc, IR_OP_TRANSPOSE, "transpose", (IrValue *[]){x}, 1, &s, &a, y);
}

static SdStatus fn_transpose(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t perm[IR_MAX_RANK];
    int n;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(list_ints(E, c, 1, perm, IR_MAX_RANK, &n));
    SD_TRY(lower_transpose(E, c->e->loc, x, perm, n, &y));
    return tensor_out(y, out);
}

/* NumPy broadcasting of two shapes; false when they do not broadcast. */
static bool broadcast(const IrShape *a, const IrShape *b, IrShape *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        out->dims[i] = da == 1 ? db : da;
    }
    return true;
}

static SdStatus lower_matmul(DslEval *E, DslLoc loc, IrValue *a, IrValue *b, IrValue **y)
{
    char sa[128], sb[128];
    int ra = a->shape.rank, rb = b->shape.rank;
    if (ra < 2 || rb < 2 || a->shape.dims[ra - 1] != b->shape.dims[rb - 2])
        return dsl_eval_error(E, SD_ESHAPE, loc, "matmul: %s and %s do not multiply", shape_text(&a->shape, sa, sizeof sa),
                              shape_text(&b->shape, sb, sizeof sb));
    IrShape ba = shape_of(ra - 2, a->shape.dims), bb = shape_of(rb - 2, b->shape.dims), s;
    if (!broadcast(&ba, &bb, &s))
        return dsl_eval_error(E, SD_ESHAPE, loc, "matmul: the batch dimensions of %s and %s do not broadcast",
                              shape_text(&a->shape, sa, sizeof sa), shape_text(&b->shape, sb, sizeof sb));
    s.dims[s.rank++] = a->shape.dims[ra - 2];
    s.dims[s.rank++] = b->shape.dims[rb - 1];
    return emit(E, loc, IR_OP_MATMUL, "matmul", (IrValue *[]){a, b}, 2, &s, NULL, y);
}

static SdStatus fn_matmul(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *a, *b, *y;
    SD_TRY(dsl_arg_tensor(E, c, 0, &a));
    SD_TRY(dsl_arg_tensor(E, c, 1, &b));
    SD_TRY(lower_matmul(E, c->e->loc, a, b, &y));
    return tensor_out(y, out);
}

static SdStatus lower_split(DslEval *E, DslLoc loc, IrValue *x, int64_t axis, const int64_t *sizes, int n,
                            IrValue **outs)
{
    if (n < 1 || n > IR_MAX_OUTPUTS)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "split: 1 to %d parts", IR_MAX_OUTPUTS);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 1)
            return dsl_eval_error(E, SD_EBADMODEL, loc, "split: part %d has size %lld", i, (long long)sizes[i]);
        total += sizes[i];
    }
    if (total != x->shape.dims[axis])
        return dsl_eval_error(E, SD_ESHAPE, loc, "split: the parts add up to %lld, but axis %lld has size %lld",
                              (long long)total, (long long)axis, (long long)x->shape.dims[axis]);
    char name[DSL_SCOPE_MAX + 128];
    full_name(E, "split", true, name, sizeof name);
    for (int i = 0; i < n; i++) {
        IrShape s = x->shape;
        s.dims[axis] = sizes[i];
        if (!(outs[i] = ir_value_new(E->g, name, x->dtype, &s)))
            return oom(E, loc);
    }
    IrNode *node = ir_node_new(E->g, IR_OP_SPLIT, name, &x, 1, outs, n);
    if (!node)
        return oom(E, loc);
    node->attrs.movement.axis = axis;
    node->attrs.movement.n_split = n;
    memcpy(node->attrs.movement.split, sizes, (size_t)n * sizeof *sizes);
    return SD_OK;
}

static SdStatus fn_split(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *outs[IR_MAX_OUTPUTS];
    int64_t axis, sizes[IR_MAX_OUTPUTS];
    int n;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(axis_arg(E, c, 2, 1, x->shape.rank, &axis));
    if (c->args[1].kind == V_INT) {
        int64_t parts = c->args[1].u.i;
        if (parts < 1 || parts > IR_MAX_OUTPUTS || x->shape.dims[axis] % parts)
            return dsl_eval_error(E, SD_ESHAPE, c->locs[1], "split: %lld equal parts of axis %lld (size %lld) do not exist",
                                  (long long)parts, (long long)axis, (long long)x->shape.dims[axis]);
        n = (int)parts;
        for (int i = 0; i < n; i++)
            sizes[i] = x->shape.dims[axis] / parts;
    } else {
        SD_TRY(list_ints(E, c, 1, sizes, IR_MAX_OUTPUTS, &n));
    }
    SD_TRY(lower_split(E, c->e->loc, x, axis, sizes, n, outs));
    DslValue *items = dsl_arena_alloc(E->arena, (size_t)n * sizeof *items);
    if (!items)
        return oom(E, c->e->loc);
    for (int i = 0; i < n; i++)
        items[i] = (DslValue){.kind = V_TENSOR, .u.t = outs[i]};
    *out = (DslValue){.kind = V_LIST, .u.list = {n, items}};
    return SD_OK;
}

static SdStatus lower_select(DslEval *E, DslLoc loc, IrValue *x, int64_t axis, int64_t index, IrValue **y)
{
    int64_t size = x->shape.dims[axis];
    int64_t i = index < 0 ? index + size : index;
    if (i < 0 || i >= size)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "select: index %lld is out of range for size %lld", (long long)index,
                              (long long)size);
    IrShape is = {0};
    IrValue *iv;
    SD_TRY(constant(E, loc, "index", SD_DT_I64, &is, &i, &iv));
    IrShape s = {.rank = x->shape.rank - 1};
    for (int d = 0, k = 0; d < x->shape.rank; d++)
        if (d != axis)
            s.dims[k++] = x->shape.dims[d];
    IrAttrs a = {.gather = {.axis = axis}};
    return emit(E, loc, IR_OP_GATHER, "select", (IrValue *[]){x, iv}, 2, &s, &a, y);
}

static SdStatus fn_select(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t axis, index;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(axis_arg(E, c, 1, 0, x->shape.rank, &axis));
    SD_TRY(dsl_arg_int(E, c, 2, 0, &index));
    SD_TRY(lower_select(E, c->e->loc, x, axis, index, &y));
    return tensor_out(y, out);
}

static SdStatus fn_mean(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t axes[IR_MAX_RANK];
    int n;
    bool keep;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    if (c->args[1].kind == V_INT) {
        axes[0] = c->args[1].u.i;
        n = 1;
    } else {
        SD_TRY(list_ints(E, c, 1, axes, IR_MAX_RANK, &n));
    }
    SD_TRY(dsl_arg_bool(E, c, 2, false, &keep));
    IrAttrs a = {.reduce = {.n_axes = n, .keepdims = keep}};
    unsigned seen = 0;
    for (int i = 0; i < n; i++) {
        int64_t ax = axes[i] < 0 ? axes[i] + x->shape.rank : axes[i];
        if (ax < 0 || ax >= x->shape.rank || (seen & (1u << ax)))
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "mean: axis %lld is out of range or repeated",
                                  (long long)axes[i]);
        seen |= 1u << ax;
        a.reduce.axes[i] = ax;
    }
    IrShape s = {0};
    for (int d = 0; d < x->shape.rank; d++) {
        if (!(seen & (1u << d)))
            s.dims[s.rank++] = x->shape.dims[d];
        else if (keep)
            s.dims[s.rank++] = 1;
    }
    SD_TRY(emit(E, c->e->loc, IR_OP_REDUCE_MEAN, "mean", (IrValue *[]){x}, 1, &s, &a, &y));
    return tensor_out(y, out);
}

static SdStatus fn_stop_gradient(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(emit(E, c->e->loc, IR_OP_STOP_GRADIENT, "stop_gradient", (IrValue *[]){x}, 1, &x->shape, NULL, &y));
    return tensor_out(y, out);
}

/* a (op) b for the DSL's operators */
SdStatus dsl_tensor_binary(DslEval *E, DslLoc loc, DslTok op, const DslValue *a, const DslValue *b, DslValue *out)
{
    IrValue *x[2];
    const DslValue *v[2] = {a, b};
    if (!E->g)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "tensors exist only inside a model");
    for (int i = 0; i < 2; i++) {
        if (v[i]->kind == V_TENSOR)
            x[i] = v[i]->u.t;
        else if (dsl_value_is_number(v[i]))
            SD_TRY(scalar_f32(E, loc, "scalar", (float)dsl_value_number(v[i]), &x[i]));
        else
            return dsl_eval_error(E, SD_EBADMODEL, loc, "a tensor combines with a tensor or a number, not %s",
                                  dsl_kind_name(v[i]->kind));
    }
    IrShape s;
    if (!broadcast(&x[0]->shape, &x[1]->shape, &s)) {
        char s0[128], s1[128];
        return dsl_eval_error(E, SD_ESHAPE, loc, "shapes %s and %s do not broadcast", shape_text(&x[0]->shape, s0, sizeof s0),
                              shape_text(&x[1]->shape, s1, sizeof s1));
    }
    IrOp ops[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV};
    const char *names[] = {"add", "sub", "mul", "div"};
    int k = op == T_PLUS ? 0 : op == T_MINUS ? 1 : op == T_STAR ? 2 : 3;
    IrValue *y;
    SD_TRY(emit(E, loc, ops[k], names[k], x, 2, &s, NULL, &y));
    return tensor_out(y, out);
}

SdStatus dsl_tensor_neg(DslEval *E, DslLoc loc, const DslValue *a, DslValue *out)
{
    IrValue *y;
    SD_TRY(emit(E, loc, IR_OP_NEG, "neg", (IrValue *[]){a->u.t}, 1, &a->u.t->shape, NULL, &y));
    return tensor_out(y, out);
}

/* ---- layers with learned tensors of their own: ViT pieces, heads, free parameters ---- */

static SdStatus fn_param(DslEval *E, DslCall *c, DslValue *out)
{
    int64_t dims[IR_MAX_RANK];
    int n;
    DslInit init;
    double std;
    SD_TRY(list_ints(E, c, 0, dims, IR_MAX_RANK, &n));
    SD_TRY(init_arg(E, c, 1, DSL_INIT_ZEROS, &init));
    SD_TRY(dsl_arg_float(E, c, 2, 0.02, &std));
    for (int i = 0; i < n; i++)
        if (dims[i] < 1)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[0], "param: dimensions must be positive");
    IrShape s = shape_of(n, dims);
    IrValue *v;
    SD_TRY(new_tensor(E, c->e->loc, NULL, &s, IR_ROLE_PARAM, init, std, &v));
    dsl_count_layer(E, "param");
    return tensor_out(v, out);
}

static SdStatus tokens_arg(DslEval *E, DslCall *c, IrValue **x)
{
    SD_TRY(dsl_arg_tensor(E, c, 0, x));
    return need_rank(E, c, *x, 3, 3, "tokens [batch, count, dim]");
}

static SdStatus fn_cls_token(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *tok, *shape, *expanded, *y;
    SD_TRY(tokens_arg(E, c, &x));
    DslLoc loc = c->e->loc;
    int64_t B = x->shape.dims[0], N = x->shape.dims[1], D = x->shape.dims[2];
    IrShape ts = shape_of(3, (int64_t[]){1, 1, D}), es = shape_of(3, (int64_t[]){B, 1, D});
    SD_TRY(new_tensor(E, loc, NULL, &ts, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &tok));
    SD_TRY(ints_const(E, loc, "expand_shape", es.dims, 3, &shape));
    SD_TRY(emit(E, loc, IR_OP_EXPAND, "expand", (IrValue *[]){tok, shape}, 2, &es, NULL, &expanded));
    IrShape os = shape_of(3, (int64_t[]){B, N + 1, D});
    IrAttrs a = {.movement = {.axis = 1}};
    dsl_count_layer(E, "cls_token");
    SD_TRY(emit(E, loc, IR_OP_CONCAT, "concat", (IrValue *[]){expanded, x}, 2, &os, &a, &y));
    return tensor_out(y, out);
}

static SdStatus fn_pos_embed(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *pos, *y;
    double std;
    SD_TRY(tokens_arg(E, c, &x));
    SD_TRY(dsl_arg_float(E, c, 1, 0.02, &std));
    IrShape ps = shape_of(3, (int64_t[]){1, x->shape.dims[1], x->shape.dims[2]});
    SD_TRY(new_tensor(E, c->e->loc, NULL, &ps, IR_ROLE_PARAM, DSL_INIT_NORMAL, std, &pos));
    dsl_count_layer(E, "pos_embed");
    SD_TRY(emit(E, c->e->loc, IR_OP_ADD, "add", (IrValue *[]){x, pos}, 2, &x->shape, NULL, &y));
    return tensor_out(y, out);
}

static SdStatus fn_patch_embed(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y, *r, *t;
    int64_t dim, patch;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(need_rank(E, c, x, 4, 4, "[batch, channels, height, width]"));
    SD_TRY(dsl_arg_int(E, c, 1, 0, &dim));
    SD_TRY(dsl_arg_int(E, c, 2, 0, &patch));
    if (patch < 1 || x->shape.dims[2] % patch || x->shape.dims[3] % patch)
        return dsl_eval_error(E, SD_ESHAPE, c->locs[2], "patch_embed: patches of %lld do not tile a %lldx%lld image",
                              (long long)patch, (long long)x->shape.dims[2], (long long)x->shape.dims[3]);
    ConvSpec cs = {.out = dim, .kernel = {patch, patch}, .stride = {patch, patch}, .dilation = {1, 1}, .groups = 1,
                   .bias = true, .init = DSL_INIT_LECUN};
    SD_TRY(lower_conv(E, c, x, &cs, &y));
    int64_t B = x->shape.dims[0], n = (x->shape.dims[2] / patch) * (x->shape.dims[3] / patch);
    SD_TRY(lower_reshape(E, c->e->loc, y, (int64_t[]){B, dim, n}, 3, &r));
    SD_TRY(lower_transpose(E, c->e->loc, r, (int64_t[]){0, 2, 1}, 3, &t));
    return tensor_out(t, out);
}

/* PyTorch's nn.MultiheadAttention (batch first, self-attention, no mask): one [3D, D] input
 * projection split into q, k, v; softmax(q k^T / sqrt(d_head)) v per head; an output projection. */
static SdStatus fn_mha(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x;
    int64_t H;
    bool bias;
    SD_TRY(tokens_arg(E, c, &x));
    SD_TRY(dsl_arg_int(E, c, 1, 0, &H));
    SD_TRY(dsl_arg_bool(E, c, 2, true, &bias));
    DslLoc loc = c->e->loc;
    int64_t B = x->shape.dims[0], N = x->shape.dims[1], D = x->shape.dims[2];
    if (H < 1 || D % H)
        return dsl_eval_error(E, SD_ESHAPE, c->locs[1], "mha: %lld heads do not divide the width %lld", (long long)H,
                              (long long)D);
    int64_t hd = D / H;
    IrValue *w, *wt, *b = NULL, *qkv, *t5, *parts[3], *q, *k, *v, *qs, *kt, *scores, *attn, *ctx, *ctx_t, *merged;
    IrShape ws = shape_of(2, (int64_t[]){3 * D, D}), wts = shape_of(2, (int64_t[]){D, 3 * D});
    SD_TRY(new_tensor(E, loc, "in_proj_weight", &ws, IR_ROLE_PARAM, DSL_INIT_XAVIER, 0, &w));
    if (bias) {
        IrShape bs = shape_of(1, (int64_t[]){3 * D});
        SD_TRY(new_tensor(E, loc, "in_proj_bias", &bs, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &b));
    }
    IrAttrs tr = {.movement = {.n_perm = 2, .perm = {1, 0}}};
    SD_TRY(emit(E, loc, IR_OP_TRANSPOSE, "in_proj_weight_t", (IrValue *[]){w}, 1, &wts, &tr, &wt));
    IrShape qs3 = shape_of(3, (int64_t[]){B, N, 3 * D});
    SD_TRY(emit(E, loc, IR_OP_MATMUL, "in_proj", (IrValue *[]){x, wt}, 2, &qs3, NULL, &qkv));
    if (b)
        SD_TRY(emit(E, loc, IR_OP_ADD, "in_proj_add", (IrValue *[]){qkv, b}, 2, &qs3, NULL, &qkv));
    SD_TRY(lower_reshape(E, loc, qkv, (int64_t[]){B, N, 3, H, hd}, 5, &t5));
    SD_TRY(lower_transpose(E, loc, t5, (int64_t[]){2, 0, 3, 1, 4}, 5, &t5)); /* [3, B, H, N, hd] */
    SD_TRY(lower_split(E, loc, t5, 0, (int64_t[]){1, 1, 1}, 3, parts));
    IrValue **qkvp[3] = {&q, &k, &v};
    for (int i = 0; i < 3; i++)
        SD_TRY(lower_reshape(E, loc, parts[i], (int64_t[]){B, H, N, hd}, 4, qkvp[i]));
    IrValue *scale;
    SD_TRY(scalar_f32(E, loc, "scale", (float)(1.0 / sqrt((double)hd)), &scale));
    SD_TRY(emit(E, loc, IR_OP_MUL, "q_scaled", (IrValue *[]){q, scale}, 2, &q->shape, NULL, &qs));
    SD_TRY(lower_transpose(E, loc, k, (int64_t[]){0, 1, 3, 2}, 4, &kt));
    SD_TRY(lower_matmul(E, loc, qs, kt, &scores)); /* [B, H, N, N] */
    IrAttrs sm = {.softmax = {.axis = 3}};
    SD_TRY(emit(E, loc, IR_OP_SOFTMAX, "softmax", (IrValue *[]){scores}, 1, &scores->shape, &sm, &attn));
    SD_TRY(lower_matmul(E, loc, attn, v, &ctx));                                /* [B, H, N, hd] */
    SD_TRY(lower_transpose(E, loc, ctx, (int64_t[]){0, 2, 1, 3}, 4, &ctx_t));   /* [B, N, H, hd] */
    SD_TRY(lower_reshape(E, loc, ctx_t, (int64_t[]){B, N, D}, 3, &merged));
    DslSavedScope saved;
    SD_TRY(dsl_enter_scope(E, loc, "out_proj", &saved));
    SdStatus st = lower_linear(E, loc, merged, D, bias, DSL_INIT_XAVIER, 0, &merged);
    dsl_leave_scope(E, &saved);
    SD_TRY(st);
    dsl_count_layer(E, "attention");
    return tensor_out(merged, out);
}

/* A projection head as nn.Sequential: Linear, [BatchNorm1d], act, ..., Linear, [BatchNorm1d]. */
SdStatus dsl_lower_mlp(DslEval *E, DslLoc loc, IrValue *x, const int64_t *dims, int n, bool bn, bool last_bn,
                       const char *act, bool bias, IrValue **y)
{
    for (int i = 0; i < n; i++) {
        bool last = i == n - 1;
        DslSavedScope saved;
        SD_TRY(dsl_enter_scope(E, loc, NULL, &saved));
        SdStatus st = lower_linear(E, loc, x, dims[i], bias, DSL_INIT_KAIMING_IN, 0, &x);
        dsl_leave_scope(E, &saved);
        SD_TRY(st);
        if (last ? last_bn : bn) {
            SD_TRY(dsl_enter_scope(E, loc, NULL, &saved));
            st = lower_bn(E, loc, x, 1e-5, 0.1, true, &x);
            dsl_leave_scope(E, &saved);
            SD_TRY(st);
        }
        if (!last) {
            SD_TRY(dsl_enter_scope(E, loc, NULL, &saved));
            st = lower_act(E, loc, act, x, &x);
            dsl_leave_scope(E, &saved);
            SD_TRY(st);
        }
    }
    *y = x;
    return SD_OK;
}

static SdStatus fn_mlp(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x;
    int64_t dims[DSL_MAX_LIST];
    int n;
    bool bn, last_bn, bias;
    const char *act;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(need_rank(E, c, x, 2, 2, "[batch, features] (flatten first)"));
    SD_TRY(list_ints(E, c, 1, dims, DSL_MAX_LIST, &n));
    SD_TRY(dsl_arg_bool(E, c, 2, false, &bn));
    SD_TRY(dsl_arg_bool(E, c, 3, false, &last_bn));
    SD_TRY(dsl_arg_str(E, c, 4, "relu", &act));
    SD_TRY(dsl_arg_bool(E, c, 5, true, &bias));
    if (n < 1)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "mlp: needs at least one layer size");
    SD_TRY(dsl_lower_mlp(E, c->e->loc, x, dims, n, bn, last_bn, act, bias, &x));
    return tensor_out(x, out);
}

static SdStatus fn_onnx(DslEval *E, DslCall *c, DslValue *out)
{
    const char *path, *output;
    IrValue *x, *y = NULL;
    bool trainable;
    SD_TRY(dsl_arg_str(E, c, 0, NULL, &path));
    SD_TRY(dsl_arg_tensor(E, c, 1, &x));
    SD_TRY(dsl_arg_str(E, c, 2, NULL, &output));
    SD_TRY(dsl_arg_bool(E, c, 3, false, &trainable));
    if (!E->opt->onnx_import)
        return dsl_eval_error(E, SD_EUNSUPPORTED, c->e->loc,
                              "onnx(\"%s\"): importing ONNX inside a DSL model is not available here (no import hook)", path);
    char resolved[DSL_PATH_MAX], prefix[DSL_SCOPE_MAX + 128];
    const char *file = c->e->loc.file, *slash = file ? strrchr(file, '/') : NULL;
    if (path[0] != '/' && slash)
        snprintf(resolved, sizeof resolved, "%.*s/%s", (int)(slash - file), file, path);
    else
        snprintf(resolved, sizeof resolved, "%s", path);
    full_name(E, "", true, prefix, sizeof prefix);
    SdError e2 = {0};
    if (E->opt->onnx_import(E->opt->onnx_ctx, resolved, E->g, prefix, x, output, trainable, &y, &e2) != SD_OK)
        return dsl_eval_error(E, e2.status ? e2.status : SD_EBADMODEL, c->e->loc, "%s", e2.msg);
    if (!y || !y->has_shape)
        return dsl_eval_error(E, SD_EINTERNAL, c->e->loc, "onnx(\"%s\"): the import gave no output with a known shape", path);
    dsl_count_layer(E, "onnx");
    return tensor_out(y, out);
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
    {"param", true, {"shape", "?init", "?std", NULL}, fn_param, "param(shape, init=\"zeros\", std=0.02): a learned tensor"},
    {"cls_token", true, {"x", NULL}, fn_cls_token, "cls_token(x): a learned token before the tokens [batch, n, dim]"},
    {"pos_embed", true, {"x", "?std", NULL}, fn_pos_embed, "pos_embed(x, std=0.02): adds a learned position embedding"},
    {"patch_embed", true, {"x", "dim", "patch", NULL}, fn_patch_embed,
     "patch_embed(x, dim, patch): patches to tokens [batch, n, dim]"},
    {"mha", true, {"x", "heads", "?bias", NULL}, fn_mha, "mha(x, heads, bias=true): multi-head self-attention"},
    {"mlp", true, {"x", "dims", "?bn", "?last_bn", "?act", "?bias", NULL}, fn_mlp,
     "mlp(x, dims, bn=false, last_bn=false, act=\"relu\", bias=true): a projection head"},
    {"onnx", true, {"path", "x", "?output", "?trainable", NULL}, fn_onnx,
     "onnx(path, x, output=first, trainable=false): an ONNX model as a layer"},
    /* tensor functions: no position, no parameters */
    {"softmax", false, {"x", "?axis", NULL}, fn_softmax, "softmax(x, axis=-1)"},
    {"log_softmax", false, {"x", "?axis", NULL}, fn_softmax, "log_softmax(x, axis=-1)"},
    {"l2norm", false, {"x", "?axis", "?eps", NULL}, fn_l2norm, "l2norm(x, axis=1, eps=1e-12)"},
    {"concat", false, {"xs", "?axis", NULL}, fn_concat, "concat([a, b, ...], axis=1)"},
    {"reshape", false, {"x", "shape", NULL}, fn_reshape, "reshape(x, shape): batch included, 0 copies, -1 infers"},
    {"transpose", false, {"x", "perm", NULL}, fn_transpose, "transpose(x, perm)"},
    {"matmul", false, {"a", "b", NULL}, fn_matmul, "matmul(a, b)"},
    {"split", false, {"x", "parts", "?axis", NULL}, fn_split, "split(x, parts or [sizes], axis=1): a list of tensors"},
    {"select", false, {"x", "axis", "index", NULL}, fn_select, "select(x, axis, index): drops the axis"},
    {"mean", false, {"x", "axes", "?keepdims", NULL}, fn_mean, "mean(x, axes, keepdims=false)"},
    {"stop_gradient", false, {"x", NULL}, fn_stop_gradient, "stop_gradient(x)"},
    {NULL, false, {NULL}, NULL, NULL},
};
