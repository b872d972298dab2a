/* tests/api/model_parts.c — the JIT compiles a large enough model in parts, each on a thread of its
 * own (SdOptions.compile_threads): the code is the same code, so the outputs are the same bits as
 * one part's; a small model stays one part, and so by default does a model of small weights. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/seedc.h"
#include "tests/common/onnx_builder.h"

#define HW 6
#define LAYERS 24

static int width(int layer) { return 3 + layer; } /* no two layers alike */

/* LAYERS convolutions (3x3, pad 1, bias) of changing widths, each followed by a Relu, the last
 * one's output averaged: each layer its own kernel instance, so the model has work to share out. */
static const char *deep_model(void)
{
    const char *path = tb_path("parts.onnx");
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){1, width(0), HW, HW});
    char prev[16] = "x";
    for (int l = 0; l < LAYERS; l++) {
        const int cin = width(l), cout = width(l + 1);
        float *w = malloc((size_t)(cout * cin * 9) * sizeof *w), *b = malloc((size_t)cout * sizeof *b);
        cr_assert(w && b);
        for (int i = 0; i < cout * cin * 9; i++)
            w[i] = sinf((float)(i + 31 * l) * 0.7f) / (float)(cin * 3);
        for (int i = 0; i < cout; i++)
            b[i] = 0.01f * (float)(i % 5) - 0.02f;
        char wn[16], bn[16], cn[16], rn[16], node[16];
        snprintf(wn, sizeof wn, "w%d", l), snprintf(bn, sizeof bn, "b%d", l);
        snprintf(cn, sizeof cn, "c%d", l), snprintf(rn, sizeof rn, "r%d", l);
        tb_init_f32(m, wn, 4, (int64_t[]){cout, cin, 3, 3}, w, 0);
        tb_init_f32(m, bn, 1, (int64_t[]){cout}, b, 0);
        snprintf(node, sizeof node, "conv%d", l);
        tb_node(m, "Conv", node, (const char *[]){prev, wn, bn, NULL}, (const char *[]){cn, NULL});
        tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
        snprintf(node, sizeof node, "relu%d", l);
        tb_node(m, "Relu", node, (const char *[]){cn, NULL}, (const char *[]){rn, NULL});
        snprintf(prev, sizeof prev, "%s", rn);
        free(w), free(b);
    }
    tb_node(m, "GlobalAveragePool", "gap", (const char *[]){prev, NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

static SdModel *load(const char *path, int compile_threads)
{
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.compile_threads = compile_threads;
    SdModel *m;
    cr_assert_eq(sd_model_load(path, &opt, &m, &err), SD_OK, "%s", err.msg);
    return m;
}

Test(model_parts, parts_compute_the_same_bits_as_one_module)
{
    const char *path = deep_model();
    SdModel *one = load(path, 1), *four = load(path, 4);
    cr_expect_eq(sd_model_compile_parts(one), 1);
    cr_expect_gt(sd_model_compile_parts(four), 1, "%d parts", sd_model_compile_parts(four));
    cr_expect_leq(sd_model_compile_parts(four), 4);
    SdModel *dflt = load(path, 0); /* by default parts only for 32 MB of weights or more */
    cr_expect_eq(sd_model_compile_parts(dflt), 1, "%d parts for a model of small weights", sd_model_compile_parts(dflt));
    sd_model_free(dflt);
    const int n_in = width(0) * HW * HW, n_out = width(LAYERS);
    float *x = malloc((size_t)n_in * sizeof *x), *y1 = calloc((size_t)n_out, sizeof *y1);
    float *y4 = calloc((size_t)n_out, sizeof *y4);
    cr_assert(x && y1 && y4);
    for (int i = 0; i < n_in; i++)
        x[i] = cosf((float)i * 0.13f);
    sd_model_run_raw(one, (void *[]){x}, (void *[]){y1});
    sd_model_run_raw(four, (void *[]){x}, (void *[]){y4});
    float norm = 0;
    for (int i = 0; i < n_out; i++)
        norm += fabsf(y1[i]);
    cr_expect_gt(norm, 1e-6f, "the outputs should not all vanish");
    cr_expect_eq(memcmp(y1, y4, (size_t)n_out * sizeof *y1), 0, "parts changed the outputs");
    sd_model_free(one);
    sd_model_free(four);
    free(x), free(y1), free(y4);
}

Test(model_parts, a_small_model_is_one_part)
{
    const char *path = tb_path("parts_small.onnx");
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){2, 3});
    tb_node(m, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    SdModel *small = load(path, 8);
    cr_expect_eq(sd_model_compile_parts(small), 1);
    sd_model_free(small);
}
