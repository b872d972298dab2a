/* tests/api/calibration.c — int8 calibration of a model whose batch is fixed above 1: the samples
 * are grouped into batches of the model's size (the images that do not fill one dropped), the
 * quantized model follows the float one, and too few images for one batch is an error that says
 * so. (Models with a symbolic batch: tests/models/quantize_models.py.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "tests/common/onnx_builder.h"

enum { B = 3, C = 4, HW = 6, OC = 8 };

static const char *fixed_batch_model(void)
{
    const char *path = tb_path("fixed_batch3.onnx");
    static float w[OC * C * 9];
    for (int i = 0; i < OC * C * 9; i++)
        w[i] = sinf((float)i * 0.9f) * 0.3f;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){B, C, HW, HW});
    tb_init_f32(m, "w", 4, (int64_t[]){OC, C, 3, 3}, w, 0);
    tb_node(m, "Conv", "conv", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

static const char *calib_file(const char *name, int64_t images)
{
    SdError err = {0};
    RtTensor t;
    cr_assert_eq(rt_tensor_alloc(&t, SD_DT_F32, 4, (int64_t[]){images, C, HW, HW}, &err), SD_OK, "%s", err.msg);
    for (int64_t i = 0; i < images * C * HW * HW; i++)
        ((float *)t.data)[i] = sinf((float)i * 0.13f);
    const char *path = tb_path(name);
    cr_assert_eq(rt_tensor_write(path, &t, &err), SD_OK, "%s", err.msg);
    rt_tensor_free(&t);
    return path;
}

Test(calibration, a_fixed_batch_takes_its_samples_in_batches)
{
    const char *path = fixed_batch_model();
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.quantize = "int8";
    opt.calib = calib_file("calib7.npy", 7); /* two batches of 3, one image left over */
    SdCalibration cal;
    cr_assert_eq(sd_calibrate(path, &opt, &cal, &err), SD_OK, "%s", err.msg);
    cr_expect_eq(cal.n_samples, 2, "7 images make two batches of 3");
    cr_expect_gt(cal.n_ranges, 0);
    sd_calibration_free(&cal);

    SdModel *q, *f;
    cr_assert_eq(sd_model_load(path, &opt, &q, &err), SD_OK, "%s", err.msg);
    SdOptions fopt = sd_options_default();
    cr_assert_eq(sd_model_load(path, &fopt, &f, &err), SD_OK, "%s", err.msg);
    static float x[B * C * HW * HW], yq[B * OC * HW * HW], yf[B * OC * HW * HW];
    for (int i = 0; i < B * C * HW * HW; i++)
        x[i] = cosf((float)i * 0.21f);
    sd_model_run_raw(q, (void *[]){x}, (void *[]){yq});
    sd_model_run_raw(f, (void *[]){x}, (void *[]){yf});
    double signal = 0, noise = 0;
    for (int i = 0; i < B * OC * HW * HW; i++)
        signal += (double)yf[i] * yf[i], noise += (double)(yq[i] - yf[i]) * (yq[i] - yf[i]);
    cr_expect_gt(signal, 1.0);
    cr_expect_gt(10.0 * log10(signal / (noise + 1e-30)), 25.0, "int8 output SQNR %.1f dB",
                 10.0 * log10(signal / (noise + 1e-30)));
    sd_model_free(q);
    sd_model_free(f);

    opt.calib = calib_file("calib2.npy", 2);
    cr_expect_neq(sd_calibrate(path, &opt, &cal, &err), SD_OK);
    cr_expect(strstr(err.msg, "fewer than the 3 images") != NULL, "message: %s", err.msg);
}
