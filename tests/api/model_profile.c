/* tests/api/model_profile.c — SdOptions.profile: every node of the compiled graph timed on every
 * run, by name and op (sd_model_profile), zeroed by sd_model_profile_reset, absent without it. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "api/seedc.h"
#include "tests/common/onnx_builder.h"

/* Conv -> Sigmoid -> GlobalAveragePool on [1, 4, 16, 16]. */
static const char *small_model(void)
{
    const char *path = tb_path("profiled.onnx");
    static float w[8 * 4 * 9];
    for (int i = 0; i < 8 * 4 * 9; i++)
        w[i] = sinf((float)i) * 0.2f;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 4, (int64_t[]){1, 4, 16, 16});
    tb_init_f32(m, "w", 4, (int64_t[]){8, 4, 3, 3}, w, 0);
    tb_node(m, "Conv", "the_conv", (const char *[]){"x", "w", NULL}, (const char *[]){"c", NULL});
    tb_attr_ints(m, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    tb_node(m, "Sigmoid", "the_sigmoid", (const char *[]){"c", NULL}, (const char *[]){"s", NULL});
    tb_node(m, "GlobalAveragePool", "the_pool", (const char *[]){"s", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

Test(model_profile, times_every_node_on_every_run)
{
    const char *path = small_model();
    static float x[4 * 256], y[8];
    for (int i = 0; i < 4 * 256; i++)
        x[i] = cosf((float)i * 0.1f);
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.profile = true;
    SdModel *m;
    cr_assert_eq(sd_model_load(path, &opt, &m, &err), SD_OK, "%s", err.msg);
    SdNodeTime t[16];
    int n = sd_model_profile(m, t, 16);
    cr_assert(n >= 2 && n <= 16, "%d nodes", n);
    for (int i = 0; i < n; i++)
        cr_expect(t[i].runs == 0 && t[i].ms == 0.0, "node %s before any run: %lld runs", t[i].name, (long long)t[i].runs);
    for (int r = 0; r < 3; r++)
        sd_model_run_raw(m, (void *[]){x}, (void *[]){y});
    cr_assert_eq(sd_model_profile(m, t, 16), n);
    double total = 0;
    bool conv = false;
    for (int i = 0; i < n; i++) {
        cr_expect_eq(t[i].runs, 3, "node %s ran %lld times", t[i].name, (long long)t[i].runs);
        cr_expect(t[i].ms >= 0.0 && t[i].ms < 10000.0, "node %s: %g ms", t[i].name, t[i].ms);
        cr_expect(t[i].name && t[i].name[0] && t[i].op && t[i].op[0]);
        conv |= strcmp(t[i].op, "conv") == 0 && strcmp(t[i].name, "the_conv") == 0;
        total += t[i].ms;
    }
    cr_expect(conv, "the convolution is listed by its ONNX name");
    cr_expect(total > 0.0, "3 runs took no time");
    sd_model_profile_reset(m);
    sd_model_profile(m, t, 16);
    for (int i = 0; i < n; i++)
        cr_expect(t[i].runs == 0 && t[i].ms == 0.0);
    sd_model_free(m);

    opt.profile = false;
    cr_assert_eq(sd_model_load(path, &opt, &m, &err), SD_OK, "%s", err.msg);
    sd_model_run_raw(m, (void *[]){x}, (void *[]){y});
    cr_expect_eq(sd_model_profile(m, t, 16), 0, "a model compiled without profiling has none");
    sd_model_free(m);
}
