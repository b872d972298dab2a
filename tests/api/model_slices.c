/* tests/api/model_slices.c — batch slices (sd_model_slices): a model that computes each sample on
 * its own runs a batch of 16 or more as slices, with the outputs of the whole batch; a model that
 * mixes samples (a mean over the batch, a batch-sized constant) runs whole, as it must; an int8 one
 * slices with one calibration. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/seedc.h"
#include "runtime/tensor_io.h"
#include "tests/common/onnx_builder.h"

#define C 3
#define HW 12

/* Conv(3->8, 3x3, pad 1, bias) -> Relu -> MaxPool 2x2 -> Conv(8->16, stride 2) + Sigmoid-gated
 * product -> GlobalAveragePool -> Flatten -> Gemm(16 -> 10, weights transposed, bias) on [N, 3, 12, 12] */
static const char *per_sample_model(void)
{
    const char *path = tb_path("sliced.onnx");
    static float w1[8 * C * 9], b1[8], w2[16 * 8 * 9], fc[10 * 16], fb[10];
    for (int i = 0; i < 8 * C * 9; i++)
        w1[i] = sinf((float)i * 0.7f) * 0.3f;
    for (int i = 0; i < 16 * 8 * 9; i++)
        w2[i] = cosf((float)i * 0.3f) * 0.1f;
    for (int i = 0; i < 8; i++)
        b1[i] = 0.05f * (float)i - 0.2f;
    for (int i = 0; i < 160; i++)
        fc[i] = sinf((float)i * 1.3f) * 0.2f;
    for (int i = 0; i < 10; i++)
        fb[i] = 0.01f * (float)i;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){-1, C, HW, HW});
    tb_init_f32(m, "w1", 4, (int64_t[]){8, C, 3, 3}, w1, 0);
    tb_init_f32(m, "b1", 1, (int64_t[]){8}, b1, 0);
    tb_init_f32(m, "w2", 4, (int64_t[]){16, 8, 3, 3}, w2, 0);
    tb_init_f32(m, "fc", 2, (int64_t[]){10, 16}, fc, 0);
    tb_init_f32(m, "fb", 1, (int64_t[]){10}, fb, 0);
    tb_node(m, "Conv", "c1", (const char *[]){"x", "w1", "b1", NULL}, (const char *[]){"a", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Relu", "r1", (const char *[]){"a", NULL}, (const char *[]){"r", NULL});
    tb_node(m, "MaxPool", "p1", (const char *[]){"r", NULL}, (const char *[]){"p", NULL});
    tb_attr_ints(m, "kernel_shape", (int64_t[]){2, 2}, 2);
    tb_attr_ints(m, "strides", (int64_t[]){2, 2}, 2);
    tb_node(m, "Conv", "c2", (const char *[]){"p", "w2", NULL}, (const char *[]){"q", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_attr_ints(m, "strides", (int64_t[]){2, 2}, 2);
    tb_node(m, "Sigmoid", "s", (const char *[]){"q", NULL}, (const char *[]){"g", NULL});
    tb_node(m, "Mul", "gate", (const char *[]){"q", "g", NULL}, (const char *[]){"h", NULL});
    tb_node(m, "GlobalAveragePool", "gap", (const char *[]){"h", NULL}, (const char *[]){"v", NULL});
    tb_node(m, "Flatten", "flat", (const char *[]){"v", NULL}, (const char *[]){"f", NULL});
    tb_node(m, "Gemm", "fc", (const char *[]){"f", "fc", "fb", NULL}, (const char *[]){"y", NULL});
    tb_attr_int(m, "transB", 1);
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

static float *inputs(int64_t n, int64_t per)
{
    float *x = malloc((size_t)(n * per) * sizeof *x);
    for (int64_t i = 0; i < n * per; i++)
        x[i] = sinf((float)i * 0.37f) + 0.1f * cosf((float)i * 0.011f);
    return x;
}

static SdModel *load(const char *path, int64_t batch, const char *disable)
{
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.batch = batch;
    opt.disable = disable;
    opt.threads = 2; /* slices of at most batch / threads: one thread would take 16 whole */
    SdModel *m;
    cr_assert_eq(sd_model_load(path, &opt, &m, &err), SD_OK, "%s", err.msg);
    return m;
}

/* Conv(3->48, 3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten on [N, 3, 160, 160]: 4.9 MB of
 * activations a sample, so that two samples would pass the slices' byte bound */
static const char *large_sample_model(void)
{
    const char *path = tb_path("sliced_large.onnx");
    static float w[48 * C * 9];
    for (int i = 0; i < 48 * C * 9; i++)
        w[i] = sinf((float)i * 0.9f) * 0.2f;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){-1, C, 160, 160});
    tb_init_f32(m, "w", 4, (int64_t[]){48, C, 3, 3}, w, 0);
    tb_node(m, "Conv", "c", (const char *[]){"x", "w", NULL}, (const char *[]){"a", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Relu", "r", (const char *[]){"a", NULL}, (const char *[]){"r", NULL});
    tb_node(m, "GlobalAveragePool", "gap", (const char *[]){"r", NULL}, (const char *[]){"v", NULL});
    tb_node(m, "Flatten", "flat", (const char *[]){"v", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

/* Large samples run one a slice; small ones in a batch without a small divisor (17) run whole. */
Test(model_slices, one_sample_a_slice_only_where_the_bytes_ask)
{
    const char *path = large_sample_model();
    const int64_t n = 16;
    float *x = inputs(n, C * 160 * 160), *y = calloc((size_t)(n * 48), sizeof *y);
    float *want = calloc((size_t)(n * 48), sizeof *want);
    SdModel *sliced = load(path, n, NULL), *whole = load(path, n, "slices");
    cr_expect_eq(sd_model_slices(sliced), n, "%lld slices", (long long)sd_model_slices(sliced));
    sd_model_run_raw(sliced, (void *[]){x}, (void *[]){y});
    sd_model_run_raw(whole, (void *[]){x}, (void *[]){want});
    for (int64_t i = 0; i < n * 48; i++)
        cr_assert(fabsf(y[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])), "output %lld: %g, whole %g",
                  (long long)i, (double)y[i], (double)want[i]);
    sd_model_free(sliced), sd_model_free(whole);
    free(x), free(y), free(want);
    SdModel *prime = load(per_sample_model(), 17, NULL);
    cr_expect_eq(sd_model_slices(prime), 1, "batch 17 of small samples: %lld slices",
                 (long long)sd_model_slices(prime));
    sd_model_free(prime);
}

Test(model_slices, per_sample_model_runs_in_slices_with_the_whole_batch_outputs)
{
    const char *path = per_sample_model();
    const int64_t batches[] = {16, 24, 40};
    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        const int64_t n = batches[k];
        float *x = inputs(n, C * HW * HW), *y = calloc((size_t)(n * 10), sizeof *y);
        float *want = calloc((size_t)(n * 10), sizeof *want);
        SdModel *sliced = load(path, n, NULL), *whole = load(path, n, "slices");
        cr_expect_gt(sd_model_slices(sliced), 1, "batch %lld: %lld slices", (long long)n,
                     (long long)sd_model_slices(sliced));
        cr_expect_eq(n % sd_model_slices(sliced), 0);
        cr_expect_eq(sd_model_slices(whole), 1);
        cr_expect_eq(sd_model_input(sliced, 0).dims[0], n, "the model still takes the whole batch");
        cr_expect_eq(sd_model_output(sliced, 0).dims[0], n);
        for (int r = 0; r < 2; r++) /* twice: slices reuse their threads' scratch */
            sd_model_run_raw(sliced, (void *[]){x}, (void *[]){y});
        sd_model_run_raw(whole, (void *[]){x}, (void *[]){want});
        for (int64_t i = 0; i < n * 10; i++)
            cr_assert(fabsf(y[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])),
                      "batch %lld, element %lld: %g, whole %g", (long long)n, (long long)i, y[i], want[i]);
        /* every sample alone gives its row too */
        SdModel *one = load(path, 1, NULL);
        float y1[10];
        for (int64_t s = 0; s < n; s += 7) {
            sd_model_run_raw(one, (void *[]){x + s * C * HW * HW}, (void *[]){y1});
            for (int j = 0; j < 10; j++)
                cr_assert(fabsf(y[s * 10 + j] - y1[j]) <= 1e-5f * (1.0f + fabsf(y1[j])), "sample %lld", (long long)s);
        }
        sd_model_free(one);
        sd_model_free(sliced);
        sd_model_free(whole);
        free(x), free(y), free(want);
    }
    SdModel *small = load(path, 8, NULL);
    cr_expect_eq(sd_model_slices(small), 1, "a batch under 16 runs whole");
    sd_model_free(small);
}

/* y = x - mean over the batch (+ c, a batch-sized constant, when with_constant) on [N, 4] */
static const char *mixing_model(bool with_constant, int64_t n, const float *c)
{
    const char *path = tb_path(with_constant ? "batch_constant.onnx" : "batch_mean.onnx");
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){-1, 4});
    if (with_constant) {
        tb_init_f32(m, "c", 2, (int64_t[]){n, 4}, c, 0);
        tb_node(m, "Add", "add", (const char *[]){"x", "c", NULL}, (const char *[]){"y", NULL});
    } else {
        tb_node(m, "ReduceMean", "mean", (const char *[]){"x", NULL}, (const char *[]){"mu", NULL});
        tb_attr_ints(m, "axes", (int64_t[]){0}, 1);
        tb_node(m, "Sub", "sub", (const char *[]){"x", "mu", NULL}, (const char *[]){"y", NULL});
    }
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

Test(model_slices, models_that_mix_samples_run_whole)
{
    const int64_t n = 32;
    float *x = inputs(n, 4), *c = inputs(n, 4), y[32 * 4];
    for (int64_t i = 0; i < n * 4; i++)
        c[i] = c[i] * 3.0f + (float)i;
    SdModel *m = load(mixing_model(false, n, NULL), n, NULL);
    cr_expect_eq(sd_model_slices(m), 1, "a mean over the batch");
    sd_model_run_raw(m, (void *[]){x}, (void *[]){y});
    for (int j = 0; j < 4; j++) {
        double mu = 0;
        for (int64_t i = 0; i < n; i++)
            mu += x[i * 4 + j];
        mu /= (double)n;
        for (int64_t i = 0; i < n; i++)
            cr_assert(fabs(y[i * 4 + j] - (x[i * 4 + j] - mu)) < 1e-5, "row %lld column %d", (long long)i, j);
    }
    sd_model_free(m);
    m = load(mixing_model(true, n, c), n, NULL);
    cr_expect_eq(sd_model_slices(m), 1, "a constant with one row per sample");
    sd_model_run_raw(m, (void *[]){x}, (void *[]){y});
    for (int64_t i = 0; i < n * 4; i++)
        cr_assert(fabsf(y[i] - (x[i] + c[i])) < 1e-4f, "element %lld", (long long)i);
    sd_model_free(m);
    free(x), free(c);
}

/* int8: the slice's graph is quantized with the whole batch's calibration (one calibration, ranges
 * by tensor name), and integer kernels sum exactly, so the slices give the whole batch's bytes. */
Test(model_slices, int8_models_slice_with_one_calibration)
{
    const char *path = per_sample_model();
    const int64_t n = 24;
    float *x = inputs(n, C * HW * HW), *y = calloc((size_t)(n * 10), sizeof *y);
    float *want = calloc((size_t)(n * 10), sizeof *want);
    SdError err = {0};
    RtTensor calib;
    cr_assert_eq(rt_tensor_alloc(&calib, SD_DT_F32, 4, (int64_t[]){16, C, HW, HW}, &err), SD_OK, "%s", err.msg);
    for (int64_t i = 0; i < 16 * C * HW * HW; i++)
        ((float *)calib.data)[i] = cosf((float)i * 0.21f) + 0.2f * sinf((float)i * 0.003f);
    const char *calib_path = tb_path("sliced_calib.npy");
    cr_assert_eq(rt_tensor_write(calib_path, &calib, &err), SD_OK, "%s", err.msg);
    rt_tensor_free(&calib);
    SdModel *m[2];
    for (int k = 0; k < 2; k++) {
        SdOptions opt = sd_options_default();
        opt.batch = n;
        opt.quantize = "int8";
        opt.calib = calib_path;
        opt.disable = k ? "slices" : NULL;
        cr_assert_eq(sd_model_load(path, &opt, &m[k], &err), SD_OK, "%s", err.msg);
    }
    cr_expect_gt(sd_model_slices(m[0]), 1, "an int8 model of per-sample ops slices");
    cr_expect_eq(sd_model_slices(m[1]), 1);
    sd_model_run_raw(m[0], (void *[]){x}, (void *[]){y});
    sd_model_run_raw(m[1], (void *[]){x}, (void *[]){want});
    float norm = 0;
    for (int64_t i = 0; i < n * 10; i++)
        norm += fabsf(want[i]);
    cr_expect_gt(norm, 1e-3f, "the outputs should not all vanish");
    cr_expect_eq(memcmp(y, want, (size_t)(n * 10) * sizeof *y), 0, "slices changed the int8 outputs");
    sd_model_free(m[0]);
    sd_model_free(m[1]);
    free(x), free(y), free(want);
}
