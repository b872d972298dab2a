/* tests/passes/int8_fixture.h — what the int8 pass tests share: smooth test data, the options of an
 * int8 build, and a calibration file of such data. */
#ifndef SD_TESTS_PASSES_INT8_FIXTURE_H
#define SD_TESTS_PASSES_INT8_FIXTURE_H

#include <criterion/criterion.h>
#include <math.h>

#include "api/driver.h"
#include "tests/common/onnx_builder.h"

static inline void i8f_fill(float *x, int64_t n, float amplitude, float freq, float phase)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = amplitude * sinf((float)i * freq + phase) + 0.3f * cosf((float)i * 0.011f);
}

static inline SdOptions i8f_options(const char *calib, const char *disable, int64_t batch)
{
    SdOptions opt = sd_options_default();
    opt.quantize = "int8", opt.calib = calib, opt.disable = disable, opt.batch = batch;
    return opt;
}

/* `samples` images of [c, hw, hw] filled as i8f_fill does, written to the test file `name` */
static inline const char *i8f_calibration(const char *name, int64_t samples, int64_t c, int64_t hw, float amplitude,
                                          float freq)
{
    SdError err = {0};
    RtTensor calib;
    cr_assert_eq(rt_tensor_alloc(&calib, SD_DT_F32, 4, (int64_t[]){samples, c, hw, hw}, &err), SD_OK, "%s", err.msg);
    i8f_fill(calib.data, samples * c * hw * hw, amplitude, freq, 0.0f);
    const char *path = tb_path(name);
    cr_assert_eq(rt_tensor_write(path, &calib, &err), SD_OK, "%s", err.msg);
    rt_tensor_free(&calib);
    return path;
}

#endif
