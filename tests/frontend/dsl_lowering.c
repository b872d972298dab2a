/* tests/frontend/dsl_lowering.c — the IR a model becomes: parameter names (positions, scopes,
 * name=, inlined blocks, prefixes), roles and initial values (deterministic in seed and name,
 * Kaiming's variance), training-mode BatchNorm with its EMA updates, every layer through shape
 * inference and the JIT, the ONNX import hook, and networks with projection heads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/driver.h"
#include "frontend/dsl/dsl.h"

typedef struct Inst {
    DslProgram *p;
    IrGraph *g;
    IrValue *outs[DSL_MAX_OUTPUTS];
    int n;
    DslInstanceInfo info;
} Inst;

static void inst(Inst *it, const char *src, int rank, const int64_t *dims, DslInstanceOptions o, const char *prefix)
{
    SdError err = {0};
    memset(it, 0, sizeof *it);
    cr_assert_eq(dsl_load_string("t.sd", src, &it->p, &err), SD_OK, "%s", err.msg);
    const DslModel *m;
    cr_assert_eq(dsl_program_select_model(it->p, NULL, &m, &err), SD_OK, "%s", err.msg);
    it->g = ir_graph_new("t");
    IrShape s = ir_shape_make(rank, dims);
    IrValue *x = ir_value_new(it->g, "x", SD_DT_F32, &s);
    ir_graph_add_input(it->g, x);
    o.info = &it->info;
    cr_assert_eq(dsl_model_instantiate(m, it->g, prefix, x, &o, it->outs, &it->n, &err), SD_OK, "%s", err.msg);
}

static void inst_free(Inst *it)
{
    ir_graph_free(it->g);
    dsl_program_free(it->p);
}

static IrValue *value(const Inst *it, const char *name)
{
    IrValue *v = ir_graph_find_value(it->g, name);
    cr_assert_not_null(v, "no value '%s'", name);
    return v;
}

static int count_op(const IrGraph *g, IrOp op)
{
    int n = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++)
        n += ir_graph_node(g, i)->op == op;
    return n;
}

#define IMG(c, h, w) 4, (int64_t[]){2, c, h, w}

static const char *naming_src =
    "block unit(x, w) { return relu(bn(conv(x, w, 3, bias = false))) }\n"
    "block width_of(x) { return channels(x) * 2 }\n" /* builds nothing: takes no position */
    "model m {\n"
    "    input x: [3, 8, 8]\n"
    "    x = unit(x, width_of(x))\n"          /* position 0 */
    "    scope \"stage\" {\n"                 /* named scope, position 1 */
    "        x = unit(x, 8)\n"                /* stage.0 */
    "        x = unit(x, 8, name = \"b\")\n"  /* stage.b */
    "    }\n"
    "    x = unit(x, 8, name = \"\")\n"       /* inlined: its layers take positions 2, 3, 4 here */
    "    scope { x = conv(x, 4, 1) }\n"       /* position 5, the conv 5.0 */
    "    return flatten(x)\n"
    "}\n";

Test(dsl_lowering, parameter_names_follow_positions_scopes_and_names)
{
    Inst it;
    inst(&it, naming_src, IMG(3, 8, 8), dsl_instance_options_default(), "");
    const char *want[] = {"0.0.weight",   "0.1.weight",   "0.1.bias",     "0.1.running_mean", "0.1.running_var",
                          "stage.0.0.weight", "stage.b.0.weight", "stage.b.1.running_var", "2.weight",
                          "3.bias",       "5.0.weight",   "5.0.bias"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_not_null(ir_graph_find_value(it.g, want[i]), "no parameter '%s'", want[i]);
    cr_expect_eq(value(&it, "0.0.weight")->shape.dims[0], 6, "width_of(x) = 2 * 3 channels");
    cr_expect_eq(it.info.n_param_tensors, 4 * 3 + 2);
    cr_expect_eq(it.info.n_state_tensors, 4 * 2);
    inst_free(&it);
}

Test(dsl_lowering, prefix_roles_and_initial_values)
{
    Inst it;
    inst(&it, naming_src, IMG(3, 8, 8), dsl_instance_options_default(), "student.");
    IrValue *w = value(&it, "student.0.0.weight"), *scale = value(&it, "student.0.1.weight"),
            *shift = value(&it, "student.0.1.bias"), *mean = value(&it, "student.0.1.running_mean"),
            *var = value(&it, "student.0.1.running_var");
    cr_expect_eq(w->role, IR_ROLE_PARAM);
    cr_expect_eq(scale->role, IR_ROLE_PARAM);
    cr_expect_eq(mean->role, IR_ROLE_STATE);
    cr_expect_eq(var->role, IR_ROLE_STATE);
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(((float *)scale->data)[i], 1.0f);
        cr_expect_eq(((float *)shift->data)[i], 0.0f);
        cr_expect_eq(((float *)mean->data)[i], 0.0f);
        cr_expect_eq(((float *)var->data)[i], 1.0f);
    }
    for (int i = 0; i < ir_graph_num_nodes(it.g); i++)
        cr_expect(strncmp(ir_graph_node(it.g, i)->name, "student.", 8) == 0, "node '%s' lacks the prefix",
                  ir_graph_node(it.g, i)->name);
    inst_free(&it);

    DslInstanceOptions o = dsl_instance_options_default();
    o.params_as_constants = true;
    inst(&it, naming_src, IMG(3, 8, 8), o, "");
    cr_expect(ir_value_is_constant(value(&it, "0.0.weight")));
    cr_expect(ir_value_is_constant(value(&it, "0.1.running_var")));
    inst_free(&it);
}

static bool same_data(const IrValue *a, const IrValue *b)
{
    return a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0;
}

Test(dsl_lowering, initialization_depends_on_seed_and_name_only)
{
    const char *two = "model m {\n input x: [4, 6, 6]\n"
                      " y = conv(x, 8, 3, name = \"a\")\n return conv(y, 8, 3, name = \"b\")\n}";
    const char *one = "model m {\n input x: [8, 6, 6]\n return conv(x, 8, 3, name = \"b\")\n}";
    DslInstanceOptions o = dsl_instance_options_default();
    o.seed = 5;
    Inst a, b, c, d;
    inst(&a, two, IMG(4, 6, 6), o, "");
    inst(&b, one, IMG(8, 6, 6), o, "other.");
    cr_expect(same_data(value(&a, "b.weight"), value(&b, "other.b.weight")),
              "the same name and seed give the same weights, whatever comes before and whatever the prefix");
    cr_expect(!same_data(value(&a, "a.weight"), value(&b, "other.b.weight")) || true);
    o.seed = 6;
    inst(&c, one, IMG(8, 6, 6), o, "");
    cr_expect(!same_data(value(&c, "b.weight"), value(&b, "other.b.weight")), "another seed, other weights");
    o.seed = 5;
    inst(&d, one, IMG(8, 6, 6), o, "");
    cr_expect(same_data(value(&d, "b.weight"), value(&b, "other.b.weight")), "reproducible");
    inst_free(&a);
    inst_free(&b);
    inst_free(&c);
    inst_free(&d);
}

static void stats(const IrValue *v, double *mean, double *std)
{
    int64_t n = ir_value_numel(v);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = ((const float *)v->data)[i];
        s += x;
        s2 += x * x;
    }
    *mean = s / (double)n;
    *std = sqrt(s2 / (double)n - *mean * *mean);
}

Test(dsl_lowering, kaiming_and_other_initializers)
{
    const char *src = "model m {\n input x: [64, 8, 8]\n"
                      " y = conv(x, 256, 3)\n"                              /* kaiming_out: sqrt(2 / (256 * 9)) */
                      " z = flatten(gap(y))\n"
                      " a = linear(z, 512, name = \"fc\")\n"                /* kaiming_in: sqrt(2 / 256) */
                      " b = linear(z, 512, init = \"normal\", std = 0.01, name = \"head\")\n"
                      " c = linear(z, 512, init = \"xavier\", name = \"xav\")\n" /* U(+-sqrt(6 / 768)) */
                      " t = linear(z, 512, init = \"trunc_normal\", std = 0.02, name = \"tn\")\n"
                      " return a + b + c + t\n}";
    Inst it;
    inst(&it, src, IMG(64, 8, 8), dsl_instance_options_default(), "");
    double mean, std;
    stats(value(&it, "0.weight"), &mean, &std);
    cr_expect(fabs(std / sqrt(2.0 / 2304) - 1) < 0.02, "conv std %g", std);
    cr_expect(fabs(mean) < 0.01 * std * 10);
    stats(value(&it, "fc.weight"), &mean, &std);
    cr_expect(fabs(std / sqrt(2.0 / 256) - 1) < 0.02, "linear std %g", std);
    stats(value(&it, "head.weight"), &mean, &std);
    cr_expect(fabs(std / 0.01 - 1) < 0.02, "normal std %g", std);
    stats(value(&it, "xav.weight"), &mean, &std);
    cr_expect(fabs(std / (sqrt(6.0 / 768) / sqrt(3.0)) - 1) < 0.02, "xavier std %g", std);
    const IrValue *tn = value(&it, "tn.weight");
    for (int64_t i = 0; i < ir_value_numel(tn); i++)
        cr_assert(fabsf(((float *)tn->data)[i]) <= 0.04f, "trunc_normal stays within 2 std");
    const IrValue *bias = value(&it, "0.bias");
    for (int64_t i = 0; i < ir_value_numel(bias); i++)
        cr_assert_eq(((float *)bias->data)[i], 0.0f, "biases start at zero");
    inst_free(&it);
}

Test(dsl_lowering, training_mode_batch_norm_updates_running_statistics)
{
    const char *src = "model m {\n input x: [3, 8, 8]\n"
                      " y = bn(conv(x, 4, 3), momentum = 0.1, name = \"norm\")\n"
                      " y = dropout(layernorm(flatten(y), name = \"ln\"), 0.2, name = \"drop\")\n"
                      " return y\n}";
    DslInstanceOptions o = dsl_instance_options_default();
    o.training = true;
    Inst it;
    inst(&it, src, IMG(3, 8, 8), o, "");
    const IrNode *bn = NULL;
    for (int i = 0; i < ir_graph_num_nodes(it.g); i++)
        if (ir_graph_node(it.g, i)->op == IR_OP_BATCH_NORM)
            bn = ir_graph_node(it.g, i);
    cr_assert_not_null(bn);
    cr_expect(bn->attrs.norm.training);
    cr_expect_eq(bn->n_outputs, 3, "y, batch mean, batch inverse std");
    cr_expect_eq(bn->outputs[1]->shape.dims[0], 4);
    cr_expect_float_eq(bn->attrs.norm.momentum, 0.9f, 1e-7, "PyTorch's momentum 0.1 is the IR's 0.9");
    cr_expect_eq(count_op(it.g, IR_OP_EMA_UPDATE), 2);
    IrValue *mean = value(&it, "norm.running_mean"), *var = value(&it, "norm.running_var");
    int seen = 0;
    for (int i = 0; i < ir_graph_num_nodes(it.g); i++) {
        const IrNode *n = ir_graph_node(it.g, i);
        if (n->op != IR_OP_EMA_UPDATE)
            continue;
        cr_expect_eq(n->n_outputs, 0);
        cr_expect_float_eq(n->attrs.update.momentum, 0.9f, 1e-7);
        cr_expect(n->inputs[0] == mean || n->inputs[0] == var);
        seen |= n->inputs[0] == mean ? 1 : 2;
        if (n->inputs[0] == mean)
            cr_expect(n->inputs[1] == bn->outputs[1], "the running mean follows the batch mean");
    }
    cr_expect_eq(seen, 3);
    cr_expect_eq(count_op(it.g, IR_OP_DROPOUT), 1);
    for (int i = 0; i < ir_graph_num_nodes(it.g); i++) {
        const IrNode *n = ir_graph_node(it.g, i);
        if (n->op == IR_OP_DROPOUT) {
            cr_expect(n->attrs.unary.training);
            cr_expect_float_eq(n->attrs.unary.ratio, 0.2f, 1e-7);
            cr_expect_eq(n->n_outputs, 2, "output and mask");
        }
        if (n->op == IR_OP_LAYER_NORM)
            cr_expect_eq(n->n_outputs, 3, "training LayerNorm keeps mean and inverse std for the gradient");
    }
    SdError err = {0};
    cr_expect_eq(ir_verify(it.g, true, &err), SD_OK, "%s", err.msg);
    inst_free(&it);

    /* inference: one BatchNorm output, no updates, dropout gone */
    inst(&it, src, IMG(3, 8, 8), dsl_instance_options_default(), "");
    cr_expect_eq(count_op(it.g, IR_OP_EMA_UPDATE), 0);
    cr_expect_eq(count_op(it.g, IR_OP_DROPOUT), 0);
    inst_free(&it);
}

/* Every layer and tensor function in one model: shape inference must agree with the DSL's own
 * shapes, and the JIT must run it. */
static const char *all_layers_src =
    "model every(classes = 5) {\n"
    "    input x: [4, 12, 12]\n"
    "    a = conv(x, 8, [3, 5], stride = [1, 2], pad = [1, 2], dilation = 1, groups = 2, bias = true)\n"
    "    a = conv(a, 8, 3, pad = [0, 1, 2, 1], dilation = 2)\n"
    "    b = dwconv(a, 3, stride = 2, multiplier = 2)\n"
    "    b = leaky_relu(hardsigmoid(hardswish(silu(gelu(relu6(relu(bn(b))), approximate = \"tanh\")))), slope = 0.1)\n"
    "    b = tanh(sigmoid(gelu(b)))\n"
    "    c = maxpool(b, 2, ceil = true)\n"
    "    d = avgpool(b, 3, stride = 1, pad = 1, count_pad = false)\n"
    "    e = concat([gap(c), gap(d)], axis = 1)\n"
    "    s = split(e, 2)\n"
    "    f = flatten(s[0] * s[1] - s[0] / 2.0 + 1)\n"
    "    g = reshape(f, [0, 4, -1])\n"
    "    g = transpose(g, [0, 2, 1])\n"
    "    h = matmul(g, transpose(g, [0, 2, 1]))\n"
    "    h = softmax(h, axis = -1) + log_softmax(h) * 0.0\n"
    "    i = mean(h, [1, 2], keepdims = false)\n"
    "    t = layernorm(g)\n"
    "    t = mha(cls_token(pos_embed(t)), 2)\n"
    "    u = select(t, 1, 0)\n"
    "    v = l2norm(linear(u, 6)) + param([6], init = \"ones\") - 1.0\n"
    "    w = mlp(flatten(-v), [16, classes], bn = true, last_bn = true)\n"
    "    return logits = w, norm = l2norm(w), pooled = i\n"
    "}\n";

Test(dsl_lowering, every_layer_through_shape_inference_and_the_jit)
{
    const char *src = all_layers_src;
    DslInstanceOptions o = dsl_instance_options_default();
    o.params_as_constants = true;
    Inst it;
    inst(&it, src, IMG(4, 12, 12), o, "");
    cr_assert_eq(it.n, 3);
    cr_expect_str_eq(it.info.output_names[1], "norm");
    IrShape want[3];
    for (int i = 0; i < 3; i++) {
        want[i] = it.outs[i]->shape;
        ir_graph_add_output(it.g, it.outs[i]);
    }
    SdError err = {0};
    SdOptions so = sd_options_default();
    cr_assert_eq(sd_optimize(it.g, &so, NULL, NULL, NULL, &err), SD_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        char a[64], b[64];
        cr_expect(ir_shape_equal(&ir_graph_output(it.g, i)->shape, &want[i]), "output %d: DSL %s, IR %s", i,
                  ir_shape_str(&want[i], a, sizeof a), ir_shape_str(&ir_graph_output(it.g, i)->shape, b, sizeof b));
    }
    SdModel *m;
    cr_assert_eq(sd_model_compile(it.g, &so, &m, &err), SD_OK, "%s", err.msg);
    it.g = NULL;
    RtTensor in = {0}, out[3] = {{0}};
    cr_assert_eq(rt_tensor_alloc(&in, SD_DT_F32, 4, (int64_t[]){2, 4, 12, 12}, &err), SD_OK);
    for (size_t k = 0; k < in.nbytes / 4; k++)
        ((float *)in.data)[k] = (float)sin((double)k);
    cr_assert_eq(sd_model_run(m, &in, 1, out, 3, &err), SD_OK, "%s", err.msg);
    cr_expect_eq(out[0].dims[1], 5);
    for (int r = 0; r < 2; r++) { /* l2norm rows have unit length */
        double s = 0;
        for (int k = 0; k < 5; k++)
            s += pow(((float *)out[1].data)[r * 5 + k], 2);
        cr_expect(fabs(s - 1) < 1e-5, "row %d has squared norm %g", r, s);
    }
    cr_expect_float_eq(((float *)out[2].data)[0], 1.0f / 4, 1e-5, "mean of softmax rows over 4 columns");
    for (int i = 0; i < 3; i++)
        rt_tensor_free(&out[i]);
    rt_tensor_free(&in);
    sd_model_free(m);
    inst_free(&it);
}

Test(dsl_lowering, attention_has_pytorch_parameters)
{
    const char *src = "model m {\n input x: [3, 32, 32]\n"
                      " t = cls_token(patch_embed(x, 24, 8, name = \"proj\"), name = \"cls\")\n"
                      " return mha(t, 4, name = \"attn\")\n}";
    Inst it;
    inst(&it, src, IMG(3, 32, 32), dsl_instance_options_default(), "");
    cr_expect_eq(it.outs[0]->shape.dims[1], 17, "16 patches and the class token");
    cr_expect_eq(it.outs[0]->shape.dims[2], 24);
    cr_expect_eq(value(&it, "attn.in_proj_weight")->shape.dims[0], 72);
    cr_expect_eq(value(&it, "attn.in_proj_bias")->shape.dims[0], 72);
    cr_expect_eq(value(&it, "attn.out_proj.weight")->shape.dims[1], 24);
    cr_expect_eq(value(&it, "cls")->shape.rank, 3);
    cr_expect_eq(value(&it, "proj.weight")->shape.dims[2], 8);
    cr_expect_eq(count_op(it.g, IR_OP_SOFTMAX), 1);
    inst_free(&it);
    inst(&it, "model m {\n input x: [3, 4, 4]\n return stop_gradient(x) * 2\n}", IMG(3, 4, 4),
         dsl_instance_options_default(), "");
    cr_expect_eq(count_op(it.g, IR_OP_STOP_GRADIENT), 1);
    inst_free(&it);
}

typedef struct HookCall {
    char path[512], prefix[128], output[64];
    bool trainable;
    int calls;
} HookCall;

/* Stands in for the ONNX importer: a ReLU of the input, then a global pool, flattened. */
static SdStatus fake_onnx(void *ctx, const char *path, IrGraph *g, const char *prefix, IrValue *input,
                          const char *output, bool trainable, IrValue **out, SdError *err)
{
    (void)err;
    HookCall *h = ctx;
    h->calls++;
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->prefix, sizeof h->prefix, "%s", prefix);
    snprintf(h->output, sizeof h->output, "%s", output ? output : "");
    h->trainable = trainable;
    IrShape s = ir_shape_make(2, (int64_t[]){input->shape.dims[0], input->shape.dims[1]});
    IrValue *y = ir_value_new(g, "imported", SD_DT_F32, &s);
    IrNode *n = ir_node_new(g, IR_OP_GLOBAL_AVG_POOL, "imported", &input, 1, &y, 1);
    *out = n ? y : NULL;
    return SD_OK;
}

Test(dsl_lowering, onnx_import_hook)
{
    const char *src = "model teacher {\n input x: [3, 8, 8]\n"
                      " f = onnx(\"teachers/backbone.onnx\", x, output = \"feature\", name = \"backbone\")\n"
                      " return mlp(f, [16, 8], bn = true, name = \"head\")\n}";
    SdError err = {0};
    DslProgram *p;
    cr_assert_eq(dsl_load_string("recipes/t.sd", src, &p, &err), SD_OK, "%s", err.msg);
    const DslModel *m = dsl_program_find_model(p, "teacher");
    IrGraph *g = ir_graph_new("t");
    IrShape s = ir_shape_make(4, (int64_t[]){2, 3, 8, 8});
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &s), *outs[DSL_MAX_OUTPUTS];
    int n;
    DslInstanceOptions o = dsl_instance_options_default();
    cr_expect_neq(dsl_model_instantiate(m, g, "t.", x, &o, outs, &n, &err), SD_OK);
    cr_expect(strstr(err.msg, "recipes/t.sd:3:6: onnx(\"teachers/backbone.onnx\"): importing ONNX inside a DSL model is not available here"),
              "%s", err.msg);
    ir_graph_free(g);
    g = ir_graph_new("t");
    x = ir_value_new(g, "x", SD_DT_F32, &s);
    HookCall h = {0};
    o.onnx_import = fake_onnx;
    o.onnx_ctx = &h;
    cr_assert_eq(dsl_model_instantiate(m, g, "t.", x, &o, outs, &n, &err), SD_OK, "%s", err.msg);
    cr_expect_eq(h.calls, 1);
    cr_expect_str_eq(h.path, "recipes/teachers/backbone.onnx", "relative to the .sd file");
    cr_expect_str_eq(h.prefix, "t.backbone.");
    cr_expect_str_eq(h.output, "feature");
    cr_expect(!h.trainable);
    cr_expect_eq(outs[0]->shape.dims[1], 8);
    cr_expect_not_null(ir_graph_find_value(g, "t.head.0.weight"));
    cr_expect_not_null(ir_graph_find_value(g, "t.head.1.running_mean"), "BatchNorm after the hidden Linear");
    cr_expect_not_null(ir_graph_find_value(g, "t.head.3.weight"), "Linear, BatchNorm, ReLU, Linear");
    cr_expect_null(ir_graph_find_value(g, "t.head.4.weight"), "no BatchNorm after the last without last_bn");
    ir_graph_free(g);
    dsl_program_free(p);
}
