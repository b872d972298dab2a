/* tests/api/ssl_golden.c — MoCo-v2 and SEED training steps against PyTorch: three steps of the
 * experiments in tests/golden/ssl_golden.sd, built as the trainer builds them (recipe_step_graph,
 * sd_optimize_training, sd_model_compile), started from the weights, BN statistics and queue that
 * tests/golden/ssl_steps.py wrote (by seedc name) and fed its image batches directly. The loss of
 * each step, and every parameter, BN statistic, key-encoder tensor and queue entry after step 3
 * match PyTorch within 1e-4 relative. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "api/recipe.h"
#include "runtime/tensor_io.h"

#define MAX_ENTRIES 64

typedef struct Layout {
    int n;
    char names[MAX_ENTRIES][96];
    int64_t numel[MAX_ENTRIES];
} Layout;

static void path_of(char *buf, size_t size, const char *file)
{
    const char *root = getenv("SEEDC_SOURCE_DIR");
    snprintf(buf, size, "%s/tests/golden/%s", root ? root : ".", file);
}

static void load(RtTensor *t, const char *file)
{
    char path[1024];
    path_of(path, sizeof path, file);
    SdError err = {0};
    cr_assert_eq(rt_tensor_read(path, t, &err), SD_OK, "%s (run from the repository root or set SEEDC_SOURCE_DIR)",
                 err.msg);
}

static void read_layout(Layout *l, const char *file)
{
    char path[1024];
    path_of(path, sizeof path, file);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    memset(l, 0, sizeof *l);
    long long n;
    while (l->n < MAX_ENTRIES && fscanf(f, "%95s %lld", l->names[l->n], &n) == 2)
        l->numel[l->n++] = n;
    fclose(f);
    cr_assert_gt(l->n, 0, "%s is empty", path);
}

/* The experiment's step, compiled as the trainer compiles it. */
static SdModel *compile_experiment(const char *name, DslProgram **prog, DslExperiment **e)
{
    char path[1024];
    path_of(path, sizeof path, "ssl_golden.sd");
    SdError err = {0};
    cr_assert_eq(dsl_load_file(path, prog, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(dsl_experiment_load(*prog, name, e, &err), SD_OK, "%s", err.msg);
    RecipeStep step;
    cr_assert_eq(recipe_step_graph(*e, (*e)->batch_size, 0, &step, &err), SD_OK, "%s", err.msg);
    char exclude[256];
    PassTrainOptions train = recipe_train_options(*e, exclude, sizeof exclude);
    SdOptions so = sd_options_default();
    so.verify = true;
    so.threads = 1;
    cr_assert_eq(sd_optimize_training(step.g, &so, &train, &err), SD_OK, "%s", err.msg);
    SdModel *m;
    cr_assert_eq(sd_model_compile(step.g, &so, &m, &err), SD_OK, "%s", err.msg);
    return m;
}

/* Copies (or, with `check`, compares) the flat golden tensor into/with the model's state; returns
 * the largest |seedc - PyTorch| / (|PyTorch| + rms of the tensor). */
static double state_vs(SdModel *m, const Layout *l, const RtTensor *flat, bool check, const char *what)
{
    double worst = 0;
    const float *src = flat->data;
    int64_t off = 0;
    for (int i = 0; i < l->n; i++) {
        int k = sd_model_find_state(m, l->names[i]);
        cr_assert_geq(k, 0, "%s: seedc's step has no '%s'", what, l->names[i]);
        SdStateInfo s = sd_model_state(m, k);
        cr_assert_eq(s.nbytes, (size_t)l->numel[i] * sizeof(float), "%s: '%s' holds %zu bytes, PyTorch %lld floats",
                     what, l->names[i], s.nbytes, (long long)l->numel[i]);
        float *dst = s.data;
        if (!check) {
            memcpy(dst, src + off, s.nbytes);
        } else {
            double rms = 0;
            for (int64_t j = 0; j < l->numel[i]; j++)
                rms += (double)src[off + j] * src[off + j];
            rms = sqrt(rms / (double)l->numel[i]);
            for (int64_t j = 0; j < l->numel[i]; j++) {
                double want = src[off + j], got = dst[j];
                worst = fmax(worst, fabs(got - want) / (fabs(want) + rms));
                cr_expect(fabs(got - want) <= 1e-4 * (fabs(want) + rms),
                          "%s: %s[%lld] is %.8g after 3 steps, PyTorch %.8g", what, l->names[i], (long long)j, got,
                          want);
            }
        }
        off += l->numel[i];
    }
    cr_assert_eq(off * (int64_t)sizeof(float), (int64_t)flat->nbytes, "%s: layout and data disagree", what);
    return worst;
}

static void run_golden(const char *experiment, const char *method, int views)
{
    DslProgram *prog;
    DslExperiment *e;
    SdModel *m = compile_experiment(experiment, &prog, &e);
    char file[128];
    Layout l;
    RtTensor init, final, loss, images;
    snprintf(file, sizeof file, "data/ssl_%s_names.txt", method);
    read_layout(&l, file);
    snprintf(file, sizeof file, "data/ssl_%s_init.npy", method);
    load(&init, file);
    snprintf(file, sizeof file, "data/ssl_%s_final.npy", method);
    load(&final, file);
    snprintf(file, sizeof file, "data/ssl_%s_loss.npy", method);
    load(&loss, file);
    load(&images, "data/ssl_images.npy");
    cr_assert_eq(images.dtype, SD_DT_U8);
    state_vs(m, &l, &init, false, experiment);

    int64_t b = e->batch_size, per_view = b * 28 * 28;
    cr_assert_eq(images.dims[2], b);
    int ni = sd_model_num_inputs(m);
    cr_assert_eq(ni, views + 1, "inputs: the views and lr");
    cr_assert_str_eq(sd_model_input(m, views).name, "lr");
    float *x = malloc((size_t)(views * per_view) * sizeof *x), lr = (float)e->optimizer.lr;
    float outs[4];
    double worst_loss = 0;
    void *in[4], *out[4] = {&outs[0], &outs[1], &outs[2], &outs[3]};
    for (int step = 0; step < 3; step++) {
        for (int v = 0; v < views; v++) {
            const uint8_t *px = (const uint8_t *)images.data + ((int64_t)step * 2 + v) * per_view;
            for (int64_t i = 0; i < per_view; i++)
                x[v * per_view + i] = ((float)px[i] / 255.0f - 0.2860f) / 0.3530f;
            in[v] = x + v * per_view;
        }
        in[views] = &lr;
        sd_model_run_raw(m, in, out);
        double want = ((const float *)loss.data)[step];
        worst_loss = fmax(worst_loss, fabs(outs[0] - want) / fabs(want));
        cr_expect(fabs(outs[0] - want) <= 1e-4 * fabs(want), "%s: loss of step %d is %.8g, PyTorch %.8g", experiment,
                  step + 1, (double)outs[0], want);
    }
    double worst = state_vs(m, &l, &final, true, experiment);
    cr_log_info("%s: largest relative difference to PyTorch: loss %.2g, state after 3 steps %.2g", experiment,
                worst_loss, worst);
    free(x);
    rt_tensor_free(&init), rt_tensor_free(&final), rt_tensor_free(&loss), rt_tensor_free(&images);
    sd_model_free(m);
    dsl_experiment_free(e);
    dsl_program_free(prog);
}

Test(ssl_golden, moco_v2_three_steps, .timeout = 120) { run_golden("moco_golden", "moco", 2); }

Test(ssl_golden, seed_three_steps, .timeout = 120) { run_golden("seed_golden", "seed", 1); }
