/* tests/passes/quantize_tables.c — the int8 quantize pass folds a SiLU (x * Sigmoid(x), either
 * operand order) or a HardSwish that alone reads a convolution into it as a table on its u8 output,
 * leaves one whose Sigmoid has another reader, and actfold then folds no skip connection into a
 * convolution with a table (it would be added before the activation); against the f32 model the
 * outputs are about as close as with the activations in f32 (`--disable qact`). The DSL's own
 * silu and hardswish nodes fold too. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/passes/int8_fixture.h"

enum { N = 2, C = 8, HW = 10 };

static void conv(TbModel *m, const char *name, const char *x, const char *w, const char *y)
{
    tb_node(m, "Conv", name, (const char *[]){x, w, "bias", NULL}, (const char *[]){y, NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
}

/* a = silu(conv(x)) as Sigmoid(a0) * a0; b = hardswish(conv(a)); e = c0 * Sigmoid(c0) + Sigmoid(c0)
 * with c0 = conv(b); y = silu(conv(e)) + e */
static const char *model(void)
{
    const char *path = tb_path("qtables.onnx");
    static float w3[4][C * C * 9], bias[C];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < C * C * 9; i++)
            w3[k][i] = sinf((float)(i + 89 * k) * 1.7f) * 0.3f;
    for (int c = 0; c < C; c++)
        bias[c] = 0.1f * (float)c - 0.3f;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){-1, C, HW, HW});
    static const char *const ws[4] = {"wa", "wb", "wc", "wd"};
    for (int k = 0; k < 4; k++)
        tb_init_f32(m, ws[k], 4, (int64_t[]){C, C, 3, 3}, w3[k], 0);
    tb_init_f32(m, "bias", 1, (int64_t[]){C}, bias, 0);
    conv(m, "ca", "x", "wa", "a0");
    tb_node(m, "Sigmoid", "sa", (const char *[]){"a0", NULL}, (const char *[]){"sa", NULL});
    tb_node(m, "Mul", "ma", (const char *[]){"sa", "a0", NULL}, (const char *[]){"a", NULL});
    conv(m, "cb", "a", "wb", "b0");
    tb_node(m, "HardSwish", "hb", (const char *[]){"b0", NULL}, (const char *[]){"b", NULL});
    conv(m, "cc", "b", "wc", "c0");
    tb_node(m, "Sigmoid", "sc", (const char *[]){"c0", NULL}, (const char *[]){"sc", NULL});
    tb_node(m, "Mul", "mc", (const char *[]){"c0", "sc", NULL}, (const char *[]){"c", NULL});
    tb_node(m, "Add", "ec", (const char *[]){"c", "sc", NULL}, (const char *[]){"e", NULL});
    conv(m, "cd", "e", "wd", "d0");
    tb_node(m, "Sigmoid", "sd", (const char *[]){"d0", NULL}, (const char *[]){"sd", NULL});
    tb_node(m, "Mul", "md", (const char *[]){"d0", "sd", NULL}, (const char *[]){"d", NULL});
    tb_node(m, "Add", "skip", (const char *[]){"d", "e", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

/* 8 calibration samples of x */
static const char *calibration(void) { return i8f_calibration("qtables_calib.npy", 8, C, HW, 1.5f, 0.29f); }

Test(quantize_tables, smooth_activations_fold_into_int8_convolutions)
{
    const char *path = model();
    SdError err = {0};
    const char *calib_path = calibration();

    SdOptions opt = i8f_options(calib_path, NULL, N);
    IrGraph *g;
    cr_assert_eq(sd_load_graph(path, &opt, &g, NULL, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_optimize(g, &opt, "actfold", NULL, NULL, &err), SD_OK, "%s", err.msg);
    int silu = 0, hard_swish = 0, residuals = 0, sigmoids = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const IrNode *n = ir_graph_node(g, i);
        sigmoids += n->op == IR_OP_SIGMOID;
        if (n->op != IR_OP_QCONV)
            continue;
        silu += n->attrs.quant.act == IR_CONV_ACT_SILU;
        hard_swish += n->attrs.quant.act == IR_CONV_ACT_HARD_SWISH;
        residuals += n->n_inputs > 4 && n->inputs[4];
        if (n->attrs.quant.act != IR_CONV_ACT_NONE)
            cr_expect(n->attrs.quant.act_in_scale > 0.0f && n->attrs.quant.act_out_scale > 0.0f, "'%s': scales",
                      n->name);
    }
    cr_expect_eq(silu, 2, "both SiLUs read by nothing else fold, in either operand order");
    cr_expect_eq(hard_swish, 1);
    cr_expect_eq(sigmoids, 1, "the SiLU whose Sigmoid the Add reads too stays");
    cr_expect_eq(residuals, 0, "no skip connection goes into a convolution with a table");
    ir_graph_free(g);

    /* against the f32 model, the tables' int8 outputs are about as far as those of the activations
     * in f32: their inputs are rounded to u8 too, one rounding more each */
    float *x = malloc(sizeof(float) * N * C * HW * HW), *y[3];
    i8f_fill(x, N * C * HW * HW, 1.5f, 0.29f, 0.7f);
    for (int k = 0; k < 3; k++) {
        SdOptions o = k == 2 ? sd_options_default() : i8f_options(calib_path, k ? "qact" : NULL, N);
        o.batch = N;
        SdModel *m;
        cr_assert_eq(sd_model_load(path, &o, &m, &err), SD_OK, "%s", err.msg);
        y[k] = malloc(sizeof(float) * N * C * HW * HW);
        sd_model_run_raw(m, (void *[]){x}, (void *[]){y[k]});
        sd_model_free(m);
    }
    float top = 0, worst[2] = {0, 0};
    double mean[2] = {0, 0};
    for (int i = 0; i < N * C * HW * HW; i++) {
        top = fmaxf(top, fabsf(y[2][i]));
        for (int k = 0; k < 2; k++) {
            worst[k] = fmaxf(worst[k], fabsf(y[k][i] - y[2][i]));
            mean[k] += fabsf(y[k][i] - y[2][i]) / (N * C * HW * HW);
        }
    }
    cr_assert_gt(top, 0.1f);
    cr_expect_lt(mean[0], 1.5 * mean[1], "tables: mean error %g against %g", mean[0], mean[1]);
    cr_expect_lt(worst[0], 2.0f * worst[1], "tables: largest error %g against %g", (double)worst[0],
                 (double)worst[1]);
    cr_expect_lt(worst[0], 0.1f * top, "tables: largest error %g of %g", (double)worst[0], (double)top);
    free(x), free(y[0]), free(y[1]), free(y[2]);
}

/* The DSL's own silu and hardswish (IR SILU and HARD_SWISH nodes, not Sigmoid * x) fold the same way */
Test(quantize_tables, dsl_activations_fold_too)
{
    const char *path = tb_path("qtables.sd");
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs("model qtables {\n    input x: [8, 10, 10]\n    a = silu(conv(x, 8, 3))\n"
          "    b = hardswish(conv(a, 8, 3))\n    return y = conv(b, 8, 1)\n}\n",
          f);
    fclose(f);
    SdError err = {0};
    SdOptions opt = i8f_options(calibration(), NULL, N);
    IrGraph *g;
    cr_assert_eq(sd_load_graph(path, &opt, &g, NULL, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_optimize(g, &opt, "actfold", NULL, NULL, &err), SD_OK, "%s", err.msg);
    int silu = 0, hard_swish = 0, left = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const IrNode *n = ir_graph_node(g, i);
        left += n->op == IR_OP_SILU || n->op == IR_OP_HARD_SWISH;
        silu += n->op == IR_OP_QCONV && n->attrs.quant.act == IR_CONV_ACT_SILU;
        hard_swish += n->op == IR_OP_QCONV && n->attrs.quant.act == IR_CONV_ACT_HARD_SWISH;
    }
    cr_expect_eq(silu, 1);
    cr_expect_eq(hard_swish, 1);
    cr_expect_eq(left, 0, "no activation node left");
    ir_graph_free(g);
}
