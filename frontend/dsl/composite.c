/* frontend/dsl/composite.c — layers that hold learned tensors of their own or are made of other
 * layers: free parameters, the ViT pieces (patch embedding, class token, position embedding,
 * multi-head self-attention as nn.MultiheadAttention computes it), projection heads, and ONNX
 * models through the import hook. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/lower.h"

static SdStatus fn_param(DslEval *E, DslCall *c, DslValue *out)
{
    int64_t dims[IR_MAX_RANK];
    int n;
    DslInit init;
    double std;
    SD_TRY(dsl_list_ints(E, c, 0, dims, IR_MAX_RANK, &n));
    SD_TRY(dsl_init_arg(E, c, 1, DSL_INIT_ZEROS, &init));
    SD_TRY(dsl_arg_float(E, c, 2, 0.02, &std));
    for (int i = 0; i < n; i++)
        if (dims[i] < 1)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[0], "param: dimensions must be positive");
    IrShape s = dsl_shape_of(n, dims);
    IrValue *v;
    SD_TRY(dsl_new_tensor(E, c->e->loc, NULL, &s, IR_ROLE_PARAM, init, std, &v));
    dsl_count_layer(E, "param");
    return dsl_tensor_out(v, out);
}

static SdStatus tokens_arg(DslEval *E, DslCall *c, IrValue **x)
{
    SD_TRY(dsl_arg_tensor(E, c, 0, x));
    return dsl_need_rank(E, c, *x, 3, 3, "tokens [batch, count, dim]");
}

static SdStatus fn_cls_token(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *tok, *shape, *expanded, *y;
    SD_TRY(tokens_arg(E, c, &x));
    DslLoc loc = c->e->loc;
    int64_t B = x->shape.dims[0], N = x->shape.dims[1], D = x->shape.dims[2];
    IrShape ts = dsl_shape_of(3, (int64_t[]){1, 1, D}), es = dsl_shape_of(3, (int64_t[]){B, 1, D});
    SD_TRY(dsl_new_tensor(E, loc, NULL, &ts, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &tok));
    SD_TRY(dsl_ints_const(E, loc, "expand_shape", es.dims, 3, &shape));
    SD_TRY(dsl_emit(E, loc, IR_OP_EXPAND, "expand", (IrValue *[]){tok, shape}, 2, &es, NULL, &expanded));
    IrShape os = dsl_shape_of(3, (int64_t[]){B, N + 1, D});
    IrAttrs a = {.movement = {.axis = 1}};
    dsl_count_layer(E, "cls_token");
    SD_TRY(dsl_emit(E, loc, IR_OP_CONCAT, "concat", (IrValue *[]){expanded, x}, 2, &os, &a, &y));
    return dsl_tensor_out(y, out);
}

static SdStatus fn_pos_embed(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *pos, *y;
    double std;
    SD_TRY(tokens_arg(E, c, &x));
    SD_TRY(dsl_arg_float(E, c, 1, 0.02, &std));
    IrShape ps = dsl_shape_of(3, (int64_t[]){1, x->shape.dims[1], x->shape.dims[2]});
    SD_TRY(dsl_new_tensor(E, c->e->loc, NULL, &ps, IR_ROLE_PARAM, DSL_INIT_NORMAL, std, &pos));
    dsl_count_layer(E, "pos_embed");
    SD_TRY(dsl_emit(E, c->e->loc, IR_OP_ADD, "add", (IrValue *[]){x, pos}, 2, &x->shape, NULL, &y));
    return dsl_tensor_out(y, out);
}

static SdStatus fn_patch_embed(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y, *r, *t;
    int64_t dim, patch;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_need_rank(E, c, x, 4, 4, "[batch, channels, height, width]"));
    SD_TRY(dsl_arg_int(E, c, 1, 0, &dim));
    SD_TRY(dsl_arg_int(E, c, 2, 0, &patch));
    if (patch < 1 || x->shape.dims[2] % patch || x->shape.dims[3] % patch)
        return dsl_eval_error(E, SD_ESHAPE, c->locs[2], "patch_embed: patches of %lld do not tile a %lldx%lld image",
                              (long long)patch, (long long)x->shape.dims[2], (long long)x->shape.dims[3]);
    DslConvSpec cs = {.out = dim, .kernel = {patch, patch}, .stride = {patch, patch}, .dilation = {1, 1}, .groups = 1,
                   .bias = true, .init = DSL_INIT_LECUN};
    SD_TRY(dsl_lower_conv(E, c, x, &cs, &y));
    int64_t B = x->shape.dims[0], n = (x->shape.dims[2] / patch) * (x->shape.dims[3] / patch);
    SD_TRY(dsl_lower_reshape(E, c->e->loc, y, (int64_t[]){B, dim, n}, 3, &r));
    SD_TRY(dsl_lower_transpose(E, c->e->loc, r, (int64_t[]){0, 2, 1}, 3, &t));
    return dsl_tensor_out(t, out);
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
    IrShape ws = dsl_shape_of(2, (int64_t[]){3 * D, D}), wts = dsl_shape_of(2, (int64_t[]){D, 3 * D});
    SD_TRY(dsl_new_tensor(E, loc, "in_proj_weight", &ws, IR_ROLE_PARAM, DSL_INIT_XAVIER, 0, &w));
    if (bias) {
        IrShape bs = dsl_shape_of(1, (int64_t[]){3 * D});
        SD_TRY(dsl_new_tensor(E, loc, "in_proj_bias", &bs, IR_ROLE_PARAM, DSL_INIT_ZEROS, 0, &b));
    }
    IrAttrs tr = {.movement = {.n_perm = 2, .perm = {1, 0}}};
    SD_TRY(dsl_emit(E, loc, IR_OP_TRANSPOSE, "in_proj_weight_t", (IrValue *[]){w}, 1, &wts, &tr, &wt));
    IrShape qs3 = dsl_shape_of(3, (int64_t[]){B, N, 3 * D});
    SD_TRY(dsl_emit(E, loc, IR_OP_MATMUL, "in_proj", (IrValue *[]){x, wt}, 2, &qs3, NULL, &qkv));
    if (b)
        SD_TRY(dsl_emit(E, loc, IR_OP_ADD, "in_proj_add", (IrValue *[]){qkv, b}, 2, &qs3, NULL, &qkv));
    SD_TRY(dsl_lower_reshape(E, loc, qkv, (int64_t[]){B, N, 3, H, hd}, 5, &t5));
    SD_TRY(dsl_lower_transpose(E, loc, t5, (int64_t[]){2, 0, 3, 1, 4}, 5, &t5)); /* [3, B, H, N, hd] */
    SD_TRY(dsl_lower_split(E, loc, t5, 0, (int64_t[]){1, 1, 1}, 3, parts));
    IrValue **qkvp[3] = {&q, &k, &v};
    for (int i = 0; i < 3; i++)
        SD_TRY(dsl_lower_reshape(E, loc, parts[i], (int64_t[]){B, H, N, hd}, 4, qkvp[i]));
    IrValue *scale;
    SD_TRY(dsl_scalar_f32(E, loc, "scale", (float)(1.0 / sqrt((double)hd)), &scale));
    SD_TRY(dsl_emit(E, loc, IR_OP_MUL, "q_scaled", (IrValue *[]){q, scale}, 2, &q->shape, NULL, &qs));
    SD_TRY(dsl_lower_transpose(E, loc, k, (int64_t[]){0, 1, 3, 2}, 4, &kt));
    SD_TRY(dsl_lower_matmul(E, loc, qs, kt, &scores)); /* [B, H, N, N] */
    IrAttrs sm = {.softmax = {.axis = 3}};
    SD_TRY(dsl_emit(E, loc, IR_OP_SOFTMAX, "softmax", (IrValue *[]){scores}, 1, &scores->shape, &sm, &attn));
    SD_TRY(dsl_lower_matmul(E, loc, attn, v, &ctx));                                /* [B, H, N, hd] */
    SD_TRY(dsl_lower_transpose(E, loc, ctx, (int64_t[]){0, 2, 1, 3}, 4, &ctx_t));   /* [B, N, H, hd] */
    SD_TRY(dsl_lower_reshape(E, loc, ctx_t, (int64_t[]){B, N, D}, 3, &merged));
    DslSavedScope saved;
    SD_TRY(dsl_enter_scope(E, loc, "out_proj", &saved));
    SdStatus st = dsl_lower_linear(E, loc, merged, D, bias, DSL_INIT_XAVIER, 0, &merged);
    dsl_leave_scope(E, &saved);
    SD_TRY(st);
    dsl_count_layer(E, "attention");
    return dsl_tensor_out(merged, out);
}

/* A projection head as nn.Sequential: Linear, [BatchNorm1d], act, ..., Linear, [BatchNorm1d]. */
SdStatus dsl_lower_mlp(DslEval *E, DslLoc loc, IrValue *x, const int64_t *dims, int n, bool bn, bool last_bn,
                       const char *act, bool bias, IrValue **y)
{
    for (int i = 0; i < n; i++) {
        bool last = i == n - 1;
        DslSavedScope saved;
        SD_TRY(dsl_enter_scope(E, loc, NULL, &saved));
        SdStatus st = dsl_lower_linear(E, loc, x, dims[i], bias, DSL_INIT_KAIMING_IN, 0, &x);
        dsl_leave_scope(E, &saved);
        SD_TRY(st);
        if (last ? last_bn : bn) {
            SD_TRY(dsl_enter_scope(E, loc, NULL, &saved));
            st = dsl_lower_bn(E, loc, x, 1e-5, 0.1, true, &x);
            dsl_leave_scope(E, &saved);
            SD_TRY(st);
        }
        if (!last) {
            SD_TRY(dsl_enter_scope(E, loc, NULL, &saved));
            st = dsl_lower_act(E, loc, act, x, &x);
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
    SD_TRY(dsl_need_rank(E, c, x, 2, 2, "[batch, features] (flatten first)"));
    SD_TRY(dsl_list_ints(E, c, 1, dims, DSL_MAX_LIST, &n));
    SD_TRY(dsl_arg_bool(E, c, 2, false, &bn));
    SD_TRY(dsl_arg_bool(E, c, 3, false, &last_bn));
    SD_TRY(dsl_arg_str(E, c, 4, "relu", &act));
    SD_TRY(dsl_arg_bool(E, c, 5, true, &bias));
    if (n < 1)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "mlp: needs at least one layer size");
    SD_TRY(dsl_lower_mlp(E, c->e->loc, x, dims, n, bn, last_bn, act, bias, &x));
    return dsl_tensor_out(x, out);
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
    dsl_full_name(E, "", true, prefix, sizeof prefix);
    SdError e2 = {0};
    if (E->opt->onnx_import(E->opt->onnx_ctx, resolved, E->g, prefix, x, output, trainable, &y, &e2) != SD_OK)
        return dsl_eval_error(E, e2.status ? e2.status : SD_EBADMODEL, c->e->loc, "%s", e2.msg);
    if (!y || !y->has_shape)
        return dsl_eval_error(E, SD_EINTERNAL, c->e->loc, "onnx(\"%s\"): the import gave no output with a known shape", path);
    dsl_count_layer(E, "onnx");
    return dsl_tensor_out(y, out);
}

const DslBuiltin dsl_composite_builtins[] = {
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
    {NULL, false, {NULL}, NULL, NULL},
};
