/* tests/passes/fold_activation.c — actfold's smooth activations: SiLU written as x * Sigmoid(x)
 * (either operand order) and HardSwish after f32 convolutions fold into them (CONV with act set,
 * no Sigmoid, Mul or HardSwish left), and the outputs equal the unfolded model's through each
 * convolution kernel that finishes blocks of y: Winograd F(4x4) and F(2x2) (and with small images
 * in its vector lanes), the direct and im2col kernels (by rows, and small images side by side), the
 * 1x1 kernel, the depthwise kernels (bands, row loops, vector lanes) and the products computed
 * transposed at batch 1. A SiLU whose input something else reads, and one after a clamped
 * convolution, stay as they are. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/driver.h"
#include "tests/common/onnx_builder.h"

/* Fills n floats with a smooth pattern of both signs. */
static float *pattern(int64_t n, float freq, float amp)
{
    float *v = malloc((size_t)n * sizeof(float));
    cr_assert(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = sinf((float)i * freq) * amp;
    return v;
}

/* y = silu(x * silu(...)): conv3x3 (pad 1) -> SiLU as t * Sigmoid(t) -> depthwise 3x3 (pad 1) ->
 * HardSwish -> 1x1 -> SiLU as Sigmoid(t) * t -> 3x3 stride 2 (pad 1) -> HardSwish; C channels
 * throughout, a bias on every convolution but the 1x1 when !pointwise_bias (the 1x1 kernel's
 * epilogue then has nothing to add). */
static const char *chain_model(int64_t batch, int64_t C, int64_t hw, bool pointwise_bias)
{
    char name[64];
    snprintf(name, sizeof name, "convsilu%dx%dx%d%s.onnx", (int)batch, (int)C, (int)hw, pointwise_bias ? "b" : "");
    const char *path = tb_path(name);
    float *w3 = pattern(C * C * 9, 1.3f, 0.35f), *wd = pattern(C * 9, 0.9f, 0.5f);
    float *w1 = pattern(C * C, 1.1f, 0.5f), *ws = pattern(C * C * 9, 0.7f, 0.3f), *b = pattern(C, 2.3f, 0.4f);
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){batch, C, hw, hw});
    tb_init_f32(m, "w3", 4, (int64_t[]){C, C, 3, 3}, w3, 0);
    tb_init_f32(m, "wd", 4, (int64_t[]){C, 1, 3, 3}, wd, 0);
    tb_init_f32(m, "w1", 4, (int64_t[]){C, C, 1, 1}, w1, 0);
    tb_init_f32(m, "ws", 4, (int64_t[]){C, C, 3, 3}, ws, 0);
    tb_init_f32(m, "b", 1, (int64_t[]){C}, b, 0);
    tb_node(m, "Conv", "c3", (const char *[]){"x", "w3", "b", NULL}, (const char *[]){"a", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Sigmoid", "sa", (const char *[]){"a", NULL}, (const char *[]){"as", NULL});
    tb_node(m, "Mul", "ma", (const char *[]){"a", "as", NULL}, (const char *[]){"am", NULL});
    tb_node(m, "Conv", "cd", (const char *[]){"am", "wd", "b", NULL}, (const char *[]){"d", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_attr_int(m, "group", C);
    tb_node(m, "HardSwish", "hd", (const char *[]){"d", NULL}, (const char *[]){"dh", NULL});
    tb_node(m, "Conv", "c1", (const char *[]){"dh", "w1", pointwise_bias ? "b" : NULL, NULL}, (const char *[]){"p", NULL});
    tb_node(m, "Sigmoid", "sp", (const char *[]){"p", NULL}, (const char *[]){"ps", NULL});
    tb_node(m, "Mul", "mp", (const char *[]){"ps", "p", NULL}, (const char *[]){"pm", NULL});
    tb_node(m, "Conv", "cs", (const char *[]){"pm", "ws", "b", NULL}, (const char *[]){"s", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_attr_ints(m, "strides", (int64_t[]){2, 2}, 2);
    tb_node(m, "HardSwish", "hs", (const char *[]){"s", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    free(w3), free(wd), free(w1), free(ws), free(b);
    return path;
}

/* The graph of the model at `path` after the inference passes up to and with actfold. */
static IrGraph *folded_graph(const char *path, int64_t batch)
{
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.batch = batch;
    IrGraph *g;
    cr_assert_eq(sd_load_graph(path, &opt, &g, NULL, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_optimize(g, &opt, "actfold", NULL, NULL, &err), SD_OK, "%s", err.msg);
    return g;
}

/* Runs the model at `path` with `disable` on `threads` threads. */
static void run(const char *path, const char *disable, int threads, const float *x, float *y)
{
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.disable = disable;
    opt.threads = threads;
    SdModel *m;
    cr_assert_eq(sd_model_load(path, &opt, &m, &err), SD_OK, "%s: %s", disable ? disable : "all on", err.msg);
    sd_model_run_raw(m, (void *[]){(void *)x}, (void *[]){y});
    sd_model_free(m);
}

static void check_chain(int64_t batch, int64_t C, int64_t hw, bool pointwise_bias)
{
    const char *path = chain_model(batch, C, hw, pointwise_bias);
    IrGraph *g = folded_graph(path, batch);
    int silu = 0, hard_swish = 0, others = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const IrNode *n = ir_graph_node(g, i);
        if (n->op == IR_OP_PACK_WEIGHTS)
            continue;
        if (n->op != IR_OP_CONV) {
            others++;
            continue;
        }
        silu += n->attrs.conv.act == IR_CONV_ACT_SILU;
        hard_swish += n->attrs.conv.act == IR_CONV_ACT_HARD_SWISH;
        cr_expect(!n->attrs.conv.has_clip);
    }
    cr_expect_eq(silu, 2, "both SiLUs fold (%dx%dx%d)", (int)batch, (int)C, (int)hw);
    cr_expect_eq(hard_swish, 2);
    cr_expect_eq(others, 0, "no activation node is left");
    ir_graph_free(g);

    const int64_t oh = (hw + 1) / 2, n_in = batch * C * hw * hw, n_out = batch * C * oh * oh;
    float *x = pattern(n_in, 0.37f, 2.0f), *want = malloc((size_t)n_out * sizeof(float));
    float *got = malloc((size_t)n_out * sizeof(float));
    cr_assert(want && got);
    /* all on (on 1 and 2 threads), then each kernel choice the code generator can be steered to,
     * against the same choice without the fold: the same kernels, the activation as its own node */
    const char *variants[][2] = {{NULL, "actfold"},
                                 {NULL, "actfold"},
                                 {"winograd4", "winograd4,actfold"},
                                 {"winograd", "winograd,actfold"},
                                 {"direct-conv", "direct-conv,actfold"},
                                 {"winograd,direct-conv", "winograd,direct-conv,actfold"},
                                 {"prepack", "prepack,actfold"}};
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        const int threads = v == 1 ? 2 : 1;
        run(path, variants[v][1], threads, x, want);
        run(path, variants[v][0], threads, x, got);
        for (int64_t i = 0; i < n_out; i++)
            cr_assert(fabsf(got[i] - want[i]) <= 1e-6f * (fabsf(want[i]) + 1e-3f),
                      "%dx%dx%d, %s, %d threads: element %lld: %g vs %g", (int)batch, (int)C, (int)hw,
                      variants[v][0] ? variants[v][0] : "all on", threads, (long long)i, (double)got[i],
                      (double)want[i]);
    }
    free(x), free(want), free(got);
}

Test(actfold, smooth_activations_fold_on_large_planes) { check_chain(3, 16, 40, false); }
Test(actfold, smooth_activations_fold_on_small_images) { check_chain(4, 16, 7, true); }
Test(actfold, smooth_activations_fold_with_images_in_lanes) { check_chain(16, 16, 8, true); }
Test(actfold, smooth_activations_fold_at_batch_1_with_few_pixels) { check_chain(1, 40, 7, false); }
Test(actfold, smooth_activations_fold_on_odd_sizes) { check_chain(1, 20, 13, true); }

/* SiLU's x read by something else too (here the output), and a HardSwish after a Relu that folded
 * into the convolution: both stay nodes. */
Test(actfold, smooth_activation_left_where_it_cannot_fold)
{
    const char *path = tb_path("convsilu_keep.onnx");
    float *w = pattern(8 * 8 * 9, 0.8f, 0.3f);
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){1, 8, 10, 10});
    tb_init_f32(m, "w", 4, (int64_t[]){8, 8, 3, 3}, w, 0);
    tb_node(m, "Conv", "ca", (const char *[]){"x", "w", NULL}, (const char *[]){"a", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Sigmoid", "sa", (const char *[]){"a", NULL}, (const char *[]){"as", NULL});
    tb_node(m, "Mul", "ma", (const char *[]){"a", "as", NULL}, (const char *[]){"y1", NULL});
    tb_node(m, "Conv", "cb", (const char *[]){"y1", "w", NULL}, (const char *[]){"b", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Relu", "rb", (const char *[]){"b", NULL}, (const char *[]){"br", NULL});
    tb_node(m, "HardSwish", "hb", (const char *[]){"br", NULL}, (const char *[]){"y2", NULL});
    tb_output(m, "a", SD_DT_F32);
    tb_output(m, "y2", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    free(w);

    IrGraph *g = folded_graph(path, 1);
    int acts = 0, nodes = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const IrNode *n = ir_graph_node(g, i);
        acts += n->op == IR_OP_CONV && n->attrs.conv.act != IR_CONV_ACT_NONE;
        nodes += n->op == IR_OP_SIGMOID || n->op == IR_OP_MUL || n->op == IR_OP_HARD_SWISH;
    }
    cr_expect_eq(acts, 0);
    cr_expect_eq(nodes, 3, "the Sigmoid, the Mul and the HardSwish stay");
    ir_graph_free(g);
}
