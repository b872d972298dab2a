/* tests/passes/fuse.c — elementwise fusion: GELU written out as five ops and a broadcast bias +
 * residual + ReLU become single fused loops, values read twice are not fused, and the outputs
 * equal the unfused model's. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "codegen/lower/lower.h"
#include "tests/common/onnx_builder.h"

/* The graph of the model at `path` after the inference passes up to and with `pass`. */
static IrGraph *optimized_until(const char *path, const SdOptions *opt, const char *pass)
{
    SdError err = {0};
    IrGraph *g;
    cr_assert_eq(sd_load_graph(path, opt, &g, NULL, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_optimize(g, opt, pass, NULL, NULL, &err), SD_OK, "%s", err.msg);
    return g;
}

/* y = gelu(x) (as exported by PyTorch) + relu(x * w + b) + x*x (x read many times) */
static const char *model(void)
{
    const char *path = tb_path("fuse.onnx");
    float half = 0.5f, one = 1.0f, sqrt2 = 1.41421356f, w[8], b[1] = {0.25f};
    for (int i = 0; i < 8; i++)
        w[i] = 0.1f * (float)(i + 1);
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 3, (int64_t[]){2, 5, 8});
    tb_init_f32(m, "half", 0, NULL, &half, 0);
    tb_init_f32(m, "one", 0, NULL, &one, 0);
    tb_init_f32(m, "sqrt2", 0, NULL, &sqrt2, 0);
    tb_init_f32(m, "w", 1, (int64_t[]){8}, w, 0);
    tb_init_f32(m, "b", 1, (int64_t[]){1}, b, 0);
    tb_node(m, "Div", "d", (const char *[]){"x", "sqrt2", NULL}, (const char *[]){"t1", NULL});
    tb_node(m, "Erf", "e", (const char *[]){"t1", NULL}, (const char *[]){"t2", NULL});
    tb_node(m, "Add", "a", (const char *[]){"t2", "one", NULL}, (const char *[]){"t3", NULL});
    tb_node(m, "Mul", "m1", (const char *[]){"x", "t3", NULL}, (const char *[]){"t4", NULL});
    tb_node(m, "Mul", "m2", (const char *[]){"t4", "half", NULL}, (const char *[]){"gelu", NULL});
    tb_node(m, "Mul", "m3", (const char *[]){"x", "w", NULL}, (const char *[]){"xw", NULL});
    tb_node(m, "Add", "a2", (const char *[]){"xw", "b", NULL}, (const char *[]){"xwb", NULL});
    tb_node(m, "Relu", "r", (const char *[]){"xwb", NULL}, (const char *[]){"act", NULL});
    tb_node(m, "Add", "a3", (const char *[]){"gelu", "act", NULL}, (const char *[]){"s", NULL});
    tb_node(m, "Mul", "sq", (const char *[]){"x", "x", NULL}, (const char *[]){"xx", NULL});
    tb_node(m, "Add", "a4", (const char *[]){"s", "xx", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

static void run(const char *path, const char *disable, float *y)
{
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.disable = disable;
    SdModel *m;
    cr_assert_eq(sd_model_load(path, &opt, &m, &err), SD_OK, "%s", err.msg);
    float x[80];
    for (int i = 0; i < 80; i++)
        x[i] = sinf((float)i * 0.37f) * 3.0f;
    void *in[1] = {x}, *out[1] = {y};
    sd_model_run_raw(m, in, out);
    sd_model_free(m);
}

Test(fuse, fuses_chains_and_keeps_the_outputs)
{
    const char *path = model();
    SdOptions opt = sd_options_default();
    IrGraph *g = optimized_until(path, &opt, "fuse");
    cr_assert_eq(ir_graph_num_nodes(g), 1, "the whole tree is single-use elementwise math");
    IrNode *f = ir_graph_node(g, 0);
    cr_assert_eq(f->op, IR_OP_FUSED_ELTWISE);
    cr_assert_eq(f->attrs.binary.n_steps, 11);
    ir_graph_free(g);
    float fused[80], plain[80];
    run(path, NULL, fused);
    run(path, "fuse", plain);
    for (int i = 0; i < 80; i++)
        cr_assert(fabsf(fused[i] - plain[i]) <= 1e-6f * (fabsf(plain[i]) + 1e-6f), "element %d: %g vs %g", i,
                  (double)fused[i], (double)plain[i]);
}

/* SiLU written out (t * sigmoid(t)) after a 1x1 convolution (actfold off), over 6 x 64 x 64 values: one fused
 * loop whose output may take its input's memory (the loop computes in blocks, so it vectorizes
 * even then), cut into rows the 2 threads share (a contiguous tensor collapses to one row), and
 * the values are t * sigmoid(t). */
Test(fuse, silu_rows_shared_and_in_place)
{
    const char *path = tb_path("silu.onnx");
    enum { C = 6, HW = 64 * 64 };
    float w[C * C] = {0};
    for (int c = 0; c < C; c++)
        w[c * C + c] = 0.5f + 0.25f * (float)c;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){1, C, 64, 64});
    tb_init_f32(m, "w", 4, (int64_t[]){C, C, 1, 1}, w, 0);
    tb_node(m, "Conv", "conv", (const char *[]){"x", "w", NULL}, (const char *[]){"t", NULL});
    tb_node(m, "Sigmoid", "sig", (const char *[]){"t", NULL}, (const char *[]){"s", NULL});
    tb_node(m, "Mul", "mul", (const char *[]){"t", "s", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);

    SdOptions opt = sd_options_default();
    opt.disable = "actfold"; /* which would fold the SiLU into the convolution (tests/passes/fold_activation.c) */
    IrGraph *g = optimized_until(path, &opt, NULL);
    CgLowerOptions lo = {.gemm = CG_GEMM_BUILTIN, .threads = 2};
    int fused = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        IrNode *n = ir_graph_node(g, i);
        if (n->op != IR_OP_FUSED_ELTWISE)
            continue;
        SdError err = {0};
        CgLowered low;
        cr_assert_eq(cg_lower_node(n, &lo, &low, &err), SD_OK, "%s", err.msg);
        cr_expect_geq(low.calls[0].extent, 8, "rows for the threads: %lld", (long long)low.calls[0].extent);
        cg_lowered_free(&low);
        fused++;
    }
    cr_assert_eq(fused, 1);
    ir_graph_free(g);

    SdError err = {0};
    SdModel *model;
    cr_assert_eq(sd_model_load(path, &opt, &model, &err), SD_OK, "%s", err.msg);
    static float x[C * HW], y[C * HW];
    for (int i = 0; i < C * HW; i++)
        x[i] = sinf((float)i * 0.013f) * 6.0f;
    void *in[1] = {x}, *out[1] = {y};
    sd_model_run_raw(model, in, out);
    sd_model_free(model);
    for (int c = 0; c < C; c++)
        for (int j = 0; j < HW; j++) {
            const double t = (double)w[c * C + c] * x[c * HW + j], want = t / (1.0 + exp(-t));
            /* the logistic function's own bound (vmath.h: 2e-7 absolute) times t, and rounding */
            cr_assert(fabs(y[c * HW + j] - want) <= 2e-7 * fabs(t) + 1e-5 * fabs(want) + 1e-8,
                      "channel %d element %d: %g vs %g", c, j, (double)y[c * HW + j], want);
        }
}

/* Conv + inference BatchNorm: one convolution with folded weights, same outputs (to rounding). */
Test(fuse, folds_batchnorm_into_the_convolution)
{
    const char *path = tb_path("convbn.onnx");
    float w[4 * 3 * 3 * 3], b[4], gamma[4], beta[4], mean[4], var[4];
    for (int i = 0; i < 108; i++)
        w[i] = sinf((float)i) * 0.3f;
    for (int c = 0; c < 4; c++)
        b[c] = 0.1f * (float)c, gamma[c] = 1.0f + 0.2f * (float)c, beta[c] = -0.3f * (float)c,
        mean[c] = 0.05f * (float)c, var[c] = 0.5f + (float)c;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){1, 3, 7, 7});
    tb_init_f32(m, "w", 4, (int64_t[]){4, 3, 3, 3}, w, 0);
    tb_init_f32(m, "b", 1, (int64_t[]){4}, b, 0);
    tb_init_f32(m, "gamma", 1, (int64_t[]){4}, gamma, 0);
    tb_init_f32(m, "beta", 1, (int64_t[]){4}, beta, 0);
    tb_init_f32(m, "mean", 1, (int64_t[]){4}, mean, 0);
    tb_init_f32(m, "var", 1, (int64_t[]){4}, var, 0);
    tb_node(m, "Conv", "conv", (const char *[]){"x", "w", "b", NULL}, (const char *[]){"c", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "BatchNormalization", "bn", (const char *[]){"c", "gamma", "beta", "mean", "var", NULL},
            (const char *[]){"y", NULL});
    tb_attr_float(m, "epsilon", 1e-3f);
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    SdError err = {0};
    SdOptions opt = sd_options_default();
    IrGraph *g = optimized_until(path, &opt, "bnfold");
    cr_assert_eq(ir_graph_num_nodes(g), 1);
    cr_assert_eq(ir_graph_node(g, 0)->op, IR_OP_CONV);
    ir_graph_free(g);
    float folded[196], plain[196];
    SdModel *a, *b2;
    cr_assert_eq(sd_model_load(path, &opt, &a, &err), SD_OK, "%s", err.msg);
    opt.disable = "bnfold";
    cr_assert_eq(sd_model_load(path, &opt, &b2, &err), SD_OK, "%s", err.msg);
    float x[147];
    for (int i = 0; i < 147; i++)
        x[i] = cosf((float)i * 0.7f);
    sd_model_run_raw(a, (void *[]){x}, (void *[]){folded});
    sd_model_run_raw(b2, (void *[]){x}, (void *[]){plain});
    for (int i = 0; i < 196; i++)
        cr_assert(fabsf(folded[i] - plain[i]) <= 1e-5f * (fabsf(plain[i]) + 1e-3f), "element %d: %g vs %g", i,
                  (double)folded[i], (double)plain[i]);
    sd_model_free(a);
    sd_model_free(b2);
}

/* Relu and Clip after convolutions (im2col or direct 3x3, 1x1, depthwise) fold into them; a
 * convolution whose output is also read elsewhere keeps its Relu; the outputs are those of the
 * unfolded model. */
Test(fuse, folds_activations_into_the_convolution)
{
    const char *path = tb_path("convact.onnx");
    static float wa[6 * 4 * 9], wb[6 * 6 * 9], wd[6 * 9], wp[5 * 6], bias[6];
    for (int i = 0; i < 6 * 4 * 9; i++)
        wa[i] = sinf((float)i * 1.3f) * 0.4f;
    for (int i = 0; i < 6 * 6 * 9; i++)
        wb[i] = cosf((float)i * 0.7f) * 0.3f;
    for (int i = 0; i < 6 * 9; i++)
        wd[i] = sinf((float)i * 0.9f) * 0.5f;
    for (int i = 0; i < 5 * 6; i++)
        wp[i] = cosf((float)i * 1.1f) * 0.5f;
    for (int c = 0; c < 6; c++)
        bias[c] = 0.1f * (float)c - 0.2f;
    float lo = -0.5f, hi = 0.5f;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){2, 4, 12, 12});
    tb_init_f32(m, "wa", 4, (int64_t[]){6, 4, 3, 3}, wa, 0);
    tb_init_f32(m, "wb", 4, (int64_t[]){6, 6, 3, 3}, wb, 0);
    tb_init_f32(m, "wd", 4, (int64_t[]){6, 1, 3, 3}, wd, 0);
    tb_init_f32(m, "wp", 4, (int64_t[]){5, 6, 1, 1}, wp, 0);
    tb_init_f32(m, "bias", 1, (int64_t[]){6}, bias, 0);
    tb_init_f32(m, "lo", 0, NULL, &lo, 0);
    tb_init_f32(m, "hi", 0, NULL, &hi, 0);
    tb_node(m, "Conv", "ca", (const char *[]){"x", "wa", "bias", NULL}, (const char *[]){"a", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Relu", "ra", (const char *[]){"a", NULL}, (const char *[]){"ar", NULL});
    tb_node(m, "Conv", "cb", (const char *[]){"ar", "wb", NULL}, (const char *[]){"b", NULL});
    tb_attr_ints(m, "strides", (int64_t[]){2, 2}, 2);
    tb_node(m, "Clip", "kb", (const char *[]){"b", "lo", "hi", NULL}, (const char *[]){"bc", NULL});
    tb_node(m, "Conv", "cd", (const char *[]){"bc", "wd", NULL}, (const char *[]){"d", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_attr_int(m, "group", 6);
    tb_node(m, "Relu", "rd", (const char *[]){"d", NULL}, (const char *[]){"dr", NULL});
    tb_node(m, "Add", "twice", (const char *[]){"dr", "d", NULL}, (const char *[]){"s", NULL}); /* d read twice */
    tb_node(m, "Conv", "cp", (const char *[]){"s", "wp", NULL}, (const char *[]){"p", NULL});
    tb_node(m, "Relu", "rp", (const char *[]){"p", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);

    SdError err = {0};
    SdOptions opt = sd_options_default();
    IrGraph *g = optimized_until(path, &opt, "actfold");
    int convs = 0, clipped = 0, relus = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const IrNode *n = ir_graph_node(g, i);
        convs += n->op == IR_OP_CONV;
        clipped += n->op == IR_OP_CONV && n->attrs.conv.has_clip;
        relus += n->op == IR_OP_RELU || n->op == IR_OP_CLIP;
        if (n->op == IR_OP_CONV && n->attrs.conv.has_clip && !isinf(n->attrs.conv.clip_max))
            cr_expect(n->attrs.conv.clip_min == -0.5f && n->attrs.conv.clip_max == 0.5f);
    }
    cr_expect_eq(convs, 4);
    cr_expect_eq(clipped, 3, "the Relus after ca and cp and the Clip after cb fold");
    cr_expect_eq(relus, 1, "the Relu of the convolution read twice stays");
    ir_graph_free(g);

    float x[2 * 4 * 144], folded[2 * 5 * 25], plain[2 * 5 * 25];
    for (int i = 0; i < 2 * 4 * 144; i++)
        x[i] = sinf((float)i * 0.37f) * 2.0f;
    SdModel *a, *b;
    cr_assert_eq(sd_model_load(path, &opt, &a, &err), SD_OK, "%s", err.msg);
    opt.disable = "actfold";
    cr_assert_eq(sd_model_load(path, &opt, &b, &err), SD_OK, "%s", err.msg);
    sd_model_run_raw(a, (void *[]){x}, (void *[]){folded});
    sd_model_run_raw(b, (void *[]){x}, (void *[]){plain});
    for (int i = 0; i < 2 * 5 * 25; i++)
        cr_assert(fabsf(folded[i] - plain[i]) <= 1e-6f * (fabsf(plain[i]) + 1e-3f), "element %d: %g vs %g", i,
                  (double)folded[i], (double)plain[i]);
    sd_model_free(a);
    sd_model_free(b);
}

/* Skip connections: Relu(conv + x) and b + conv fold into the convolutions as a residual operand
 * (with the clamp for the first); the results equal the unfolded model's, through the direct, the
 * im2col (by rows, and small images side by side) and the 1x1 kernels; in f32, or in bf16 (the
 * folds then land on CONV_BF16); with 16 channels and 16 images, through Winograd's kernel with the
 * images in its vector lanes; at batch 1 on 7x7 images, through the products computed transposed. */
static void check_residual_fold(int64_t batch, int64_t C, int64_t hw, const char *precision)
{
    char name[48];
    snprintf(name, sizeof name, "convres%dx%dx%d%s.onnx", (int)batch, (int)C, (int)hw, precision ? precision : "");
    const char *path = tb_path(name);
    const int N = (int)(batch * C * hw * hw);
    float *wa = malloc((size_t)(C * C * 9) * sizeof(float)), *wb = malloc((size_t)(C * C * 9) * sizeof(float));
    float *wc = malloc((size_t)(C * C) * sizeof(float)), *bias = malloc((size_t)C * sizeof(float));
    float *x = malloc((size_t)N * sizeof(float)), *want = malloc((size_t)N * sizeof(float));
    float *got = malloc((size_t)N * sizeof(float));
    cr_assert(wa && wb && wc && bias && x && want && got);
    for (int i = 0; i < C * C * 9; i++)
        wa[i] = sinf((float)i * 1.7f) * 0.4f, wb[i] = cosf((float)i * 0.3f) * 0.3f;
    for (int i = 0; i < C * C; i++)
        wc[i] = sinf((float)i) * 0.6f;
    for (int c = 0; c < C; c++)
        bias[c] = 0.2f * (float)c - 0.3f;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){batch, C, hw, hw});
    tb_init_f32(m, "wa", 4, (int64_t[]){C, C, 3, 3}, wa, 0);
    tb_init_f32(m, "wb", 4, (int64_t[]){C, C, 3, 3}, wb, 0);
    tb_init_f32(m, "wc", 4, (int64_t[]){C, C, 1, 1}, wc, 0);
    tb_init_f32(m, "bias", 1, (int64_t[]){C}, bias, 0);
    tb_node(m, "Conv", "ca", (const char *[]){"x", "wa", "bias", NULL}, (const char *[]){"a0", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Relu", "ra", (const char *[]){"a0", NULL}, (const char *[]){"a", NULL});
    tb_node(m, "Conv", "cb", (const char *[]){"a", "wb", NULL}, (const char *[]){"b0", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Add", "skip", (const char *[]){"b0", "x", NULL}, (const char *[]){"b1", NULL});
    tb_node(m, "Relu", "rb", (const char *[]){"b1", NULL}, (const char *[]){"b", NULL});
    tb_node(m, "Conv", "cc", (const char *[]){"b", "wc", "bias", NULL}, (const char *[]){"c0", NULL});
    tb_node(m, "Add", "skip2", (const char *[]){"b", "c0", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);

    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.precision = precision;
    IrGraph *g = optimized_until(path, &opt, "actfold");
    int convs = 0, residuals = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const IrNode *n = ir_graph_node(g, i);
        if (n->op == IR_OP_PACK_WEIGHTS)
            continue;
        cr_assert_eq(n->op, precision ? IR_OP_CONV_BF16 : IR_OP_CONV, "%s", ir_op_name(n->op));
        convs++;
        residuals += n->n_inputs > 3 && n->inputs[3];
    }
    cr_expect_eq(convs, 3, "only the three convolutions are left");
    cr_expect_eq(residuals, 2);
    ir_graph_free(g);

    for (int i = 0; i < N; i++)
        x[i] = sinf((float)i * 0.37f) * 2.0f;
    const char *variants[3] = {"actfold", NULL, "direct-conv"};
    for (int v = 0; v < 3; v++) {
        SdModel *model;
        opt.disable = variants[v];
        cr_assert_eq(sd_model_load(path, &opt, &model, &err), SD_OK, "%s", err.msg);
        sd_model_run_raw(model, (void *[]){x}, (void *[]){v ? got : want});
        sd_model_free(model);
        for (int i = 0; v && i < N; i++)
            cr_assert(fabsf(got[i] - want[i]) <= 1e-5f * (fabsf(want[i]) + 1e-2f), "%s: element %d: %g vs %g",
                      variants[v] ? variants[v] : "all on", i, (double)got[i], (double)want[i]);
    }
    free(wa), free(wb), free(wc), free(bias), free(x), free(want), free(got);
}

Test(fuse, folds_residual_adds_into_the_convolution)
{
    check_residual_fold(3, 4, 16, NULL);
    check_residual_fold(3, 4, 6, NULL);
    check_residual_fold(3, 4, 16, "bf16");
    check_residual_fold(3, 4, 6, "bf16");
    check_residual_fold(17, 16, 6, NULL);
    /* batch 1, 7x7, 32 channels: C^T against weights packed transposed, y in blocks of 16 x 16 */
    check_residual_fold(1, 32, 7, NULL);
    /* 26x26, 64 channels: Winograd F(4x4, 3x3), the residual added in its output transform */
    check_residual_fold(1, 64, 26, NULL);
}
