/* tests/passes/fold_qresidual.c — actfold's int8 fold: a QADD of a convolution's output and a skip
 * connection becomes the convolution's residual operand (with the ReLU after the Add), where the
 * convolution clamps nothing of its own; and the outputs stay those of the unfolded int8 model
 * but for the one rounding the fold removes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/passes/int8_fixture.h"

enum { N = 2, C = 8, HW = 10 };

/* a = relu(conv(x)); b = relu(conv(a) + x); c = conv(b) + b; d = relu(conv(c)) + c: the first two
 * Adds fold, the last does not (its convolution clamps) */
static const char *model(void)
{
    const char *path = tb_path("qresidual.onnx");
    static float w3[4][C * C * 9], bias[C];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < C * C * 9; i++)
            w3[k][i] = sinf((float)(i + 97 * k) * 1.3f) * 0.25f;
    for (int c = 0; c < C; c++)
        bias[c] = 0.05f * (float)c - 0.2f;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){-1, C, HW, HW});
    static const char *const ws[4] = {"wa", "wb", "wc", "wd"};
    for (int k = 0; k < 4; k++)
        tb_init_f32(m, ws[k], 4, (int64_t[]){C, C, 3, 3}, w3[k], 0);
    tb_init_f32(m, "bias", 1, (int64_t[]){C}, bias, 0);
    const char *pads = "pads";
    tb_node(m, "Conv", "ca", (const char *[]){"x", "wa", "bias", NULL}, (const char *[]){"a0", NULL});
    tb_attr_ints(m, pads, (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Relu", "ra", (const char *[]){"a0", NULL}, (const char *[]){"a", NULL});
    tb_node(m, "Conv", "cb", (const char *[]){"a", "wb", NULL}, (const char *[]){"b0", NULL});
    tb_attr_ints(m, pads, (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Add", "skip_b", (const char *[]){"b0", "x", NULL}, (const char *[]){"b1", NULL});
    tb_node(m, "Relu", "rb", (const char *[]){"b1", NULL}, (const char *[]){"b", NULL});
    tb_node(m, "Conv", "cc", (const char *[]){"b", "wc", "bias", NULL}, (const char *[]){"c0", NULL});
    tb_attr_ints(m, pads, (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Add", "skip_c", (const char *[]){"b", "c0", NULL}, (const char *[]){"c", NULL});
    tb_node(m, "Conv", "cd", (const char *[]){"c", "wd", NULL}, (const char *[]){"d0", NULL});
    tb_attr_ints(m, pads, (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Relu", "rd", (const char *[]){"d0", NULL}, (const char *[]){"d1", NULL});
    tb_node(m, "Add", "skip_d", (const char *[]){"d1", "c", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

Test(fold_qresidual, qadds_fold_into_the_convolutions_that_clamp_nothing)
{
    const char *path = model();
    SdError err = {0};
    const char *calib_path = i8f_calibration("qresidual_calib.npy", 8, C, HW, 1.0f, 0.37f);
    SdOptions opt = i8f_options(calib_path, NULL, N);
    IrGraph *g;
    cr_assert_eq(sd_load_graph(path, &opt, &g, NULL, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_optimize(g, &opt, "actfold", NULL, NULL, &err), SD_OK, "%s", err.msg);
    int qconvs = 0, residuals = 0, qadds = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const IrNode *n = ir_graph_node(g, i);
        qadds += n->op == IR_OP_QADD;
        if (n->op != IR_OP_QCONV)
            continue;
        qconvs++;
        if (n->n_inputs > 4 && n->inputs[4]) {
            residuals++;
            cr_expect(n->attrs.quant.b_scale > 0.0f, "'%s': the residual's multiplier", n->name);
        }
    }
    cr_expect_eq(qconvs, 4);
    cr_expect_eq(residuals, 2, "conv + skip and relu(conv + skip) fold");
    cr_expect_eq(qadds, 1, "relu(conv) + skip stays a QADD");
    ir_graph_free(g);

    float *x = malloc(sizeof(float) * N * C * HW * HW), *y[2];
    i8f_fill(x, N * C * HW * HW, 1.0f, 0.37f, 1.1f);
    for (int k = 0; k < 2; k++) {
        SdOptions o = i8f_options(calib_path, k ? "actfold" : NULL, N);
        SdModel *m;
        cr_assert_eq(sd_model_load(path, &o, &m, &err), SD_OK, "%s", err.msg);
        y[k] = malloc(sizeof(float) * N * C * HW * HW);
        sd_model_run_raw(m, (void *[]){x}, (void *[]){y[k]});
        sd_model_free(m);
    }
    /* one rounding fewer: the folded sums differ from the QADD's by a step or two of the output's
     * scale (about max/255), not more */
    float top = 0;
    for (int i = 0; i < N * C * HW * HW; i++)
        top = fmaxf(top, fabsf(y[1][i]));
    cr_assert_gt(top, 0.1f);
    double sum = 0;
    for (int i = 0; i < N * C * HW * HW; i++) {
        cr_assert(fabsf(y[0][i] - y[1][i]) <= 3.0f * top / 255.0f, "element %d: %g folded, %g not", i,
                  (double)y[0][i], (double)y[1][i]);
        sum += fabsf(y[0][i] - y[1][i]);
    }
    cr_expect_lt(sum / (N * C * HW * HW), 0.5 * top / 255.0, "the outputs differ by %g on average",
                 sum / (N * C * HW * HW));
    free(x), free(y[0]), free(y[1]);
}
