/* tests/tools/deploy.c — examples/deploy/build.sh as a user runs it: a student trained for a few
 * steps is compiled to a bundle, linked into the example's C program and run over the test set;
 * its accuracy must be what the JIT computes with the same model. Needs Fashion-MNIST and cc. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/seedc.h"
#include "runtime/data/idx.h"
#include "support/mem.h"
#include "tests/common/onnx_builder.h"

static char out[1 << 16];

/* Top-1 accuracy of `model` on the test set through the JIT, one batch of 500 at a time. */
static double jit_accuracy(const char *model)
{
    SdOptions opt = sd_options_default();
    opt.batch = 500;
    opt.gemm = "builtin";
    SdModel *m;
    SdError err = {0};
    cr_assert_eq(sd_model_load(model, &opt, &m, &err), SD_OK, "%s", err.msg);
    RtDataset d;
    cr_assert_eq(rt_dataset_load("fashion-mnist", RT_SPLIT_TEST, NULL, &d, &err), SD_OK, "%s", err.msg);
    float *x = sd_aligned_alloc(500 * 784 * sizeof(float)), *y = sd_aligned_alloc(500 * 10 * sizeof(float));
    int64_t correct = 0;
    for (int64_t b = 0; b + 500 <= d.n; b += 500) {
        for (int64_t i = 0; i < 500 * 784; i++)
            x[i] = (float)((d.images[b * 784 + i] / 255.0 - 0.2860) / 0.3530);
        sd_model_run_raw(m, (void *[]){x}, (void *[]){y});
        for (int i = 0; i < 500; i++) {
            int best = 0;
            for (int c = 1; c < 10; c++)
                if (y[i * 10 + c] > y[i * 10 + best])
                    best = c;
            correct += best == d.labels[b + i];
        }
    }
    double acc = (double)correct / (double)(d.n / 500 * 500);
    sd_aligned_free(x);
    sd_aligned_free(y);
    rt_dataset_free(&d);
    sd_model_free(m);
    return acc;
}

Test(deploy, the_example_program_classifies_like_the_jit, .timeout = 600)
{
    if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        cr_log_warn("dataset-fashion-mnist is not installed: the deployment example is not checked");
        return;
    }
    const char *src = getenv("SEEDC_SOURCE_DIR");
    char cmd[4096], dir[512];
    snprintf(dir, sizeof dir, "%s/deploy", tb_tmpdir());
    snprintf(cmd, sizeof cmd, "SEEDC=%s sh %s/examples/deploy/build.sh --quick --out %s", tb_seedc(), src ? src : ".",
             dir);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    const char *line = strstr(out, "accuracy    ");
    cr_assert(line && strstr(out, "latency     median"), "%s", out);
    double acc = atof(line + strlen("accuracy    ")) / 100;
    char model[600];
    snprintf(model, sizeof model, "%s/train/resnet10_fmnist.onnx", dir);
    double want = jit_accuracy(model);
    cr_assert(acc > 0.15, "the example's accuracy %.4f is no better than chance:\n%s", acc, out);
    cr_assert(fabs(acc - want) <= 2e-4, "the example program gives %.4f, the JIT %.4f", acc, want);
}
