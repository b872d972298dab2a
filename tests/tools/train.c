/* tests/tools/train.c — `seedc train` as a user runs it: a small supervised recipe trains, logs,
 * plots, checkpoints and exports; and a run killed with SIGKILL mid-epoch and resumed ends with the
 * same state, bit for bit, as one that was never interrupted; a checkpoint is a model for
 * run/eval/export. Needs the Fashion-MNIST package. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/seedc.h"
#include "runtime/checkpoint.h"
#include "support/mem.h"
#include "tests/common/onnx_builder.h"

static char out[1 << 16];

static const char *recipe =
    "model tiny(classes = 10) {\n"
    "    input image: [1, 28, 28]\n"
    "    x = relu(bn(conv(image, 8, 3, stride = 2, bias = false)))\n"
    "    x = relu(bn(conv(x, 16, 3, stride = 2, bias = false)))\n"
    "    x = flatten(gap(x))\n"
    "    return logits = linear(x, classes)\n"
    "}\n"
    "experiment tiny_fmnist {\n"
    "    seed = 3\n    epochs = 3\n    batch_size = 32\n    steps_per_epoch = 30\n"
    "    data { dataset = \"fashion-mnist\"\n"
    "           augment { crop { size = 28; scale = [0.6, 1.0] }; flip { p = 0.5 } } }\n"
    "    network student { model = tiny() }\n"
    "    method supervised { }\n"
    "    optimizer sgd { lr = 0.05; momentum = 0.9; nesterov = true; weight_decay = 5e-4 }\n"
    "    schedule cosine { warmup_epochs = 1 }\n"
    "    eval { accuracy = true }\n"
    "    checkpoint { every_steps = 7; every_epoch = true; keep = 0 }\n"
    "    export onnx { path = \"tiny.onnx\" }\n"
    "}\n";

static bool have_data(void) { return access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0; }

static const char *write_recipe(void)
{
    const char *path = tb_path("tiny.sd");
    FILE *f = fopen(path, "w");
    fputs(recipe, f);
    fclose(f);
    return path;
}

static RtCheckpoint *final_checkpoint(const char *dir)
{
    char path[1024];
    bool found = false;
    SdError err = {0};
    cr_assert_eq(rt_ckpt_latest(dir, "ckpt", path, sizeof path, NULL, &found, &err), SD_OK, "%s", err.msg);
    cr_assert(found, "no checkpoint in %s", dir);
    RtCheckpoint *ck;
    cr_assert_eq(rt_ckpt_read(path, &ck, &err), SD_OK, "%s", err.msg);
    return ck;
}

/* The checkpoint as a model gives what the recipe's own ONNX export gives. */
static void expect_same_outputs(const char *a, const char *b)
{
    SdOptions opt = sd_options_default();
    opt.batch = 4;
    opt.head = true;
    SdModel *ma, *mb;
    SdError err = {0};
    cr_assert_eq(sd_model_load(a, &opt, &ma, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_model_load(b, &opt, &mb, &err), SD_OK, "%s", err.msg);
    float *x = sd_aligned_alloc(4 * 28 * 28 * sizeof(float)), ya[40], yb[40];
    for (int i = 0; i < 4 * 28 * 28; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    sd_model_run_raw(ma, (void *[]){x}, (void *[]){ya});
    sd_model_run_raw(mb, (void *[]){x}, (void *[]){yb});
    for (int i = 0; i < 40; i++)
        cr_assert(fabsf(ya[i] - yb[i]) <= 1e-5f * (1 + fabsf(ya[i])), "logit %d: %s %g, %s %g", i, a, ya[i], b, yb[i]);
    sd_aligned_free(x);
    sd_model_free(ma);
    sd_model_free(mb);
}

Test(train, trains_logs_checkpoints_and_exports, .timeout = 600)
{
    if (!have_data()) {
        cr_log_warn("dataset-fashion-mnist is not installed: training not checked");
        return;
    }
    const char *r = write_recipe();
    char cmd[4096], dir[512];
    snprintf(dir, sizeof dir, "%s/run", tb_tmpdir());
    snprintf(cmd, sizeof cmd, "%s train %s --out %s --images 4096 --epochs 2", tb_seedc(), r, dir);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "test accuracy") && strstr(out, "exported"), "%s", out);
    char path[1024];
    for (const char *const *f = (const char *const[]){"log.csv", "curves.svg", "tiny.onnx", NULL}; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, *f);
        cr_assert_eq(access(path, R_OK), 0, "%s is missing", path);
    }
    /* the exported student runs through seedc again */
    snprintf(cmd, sizeof cmd, "%s info %s/tiny.onnx", tb_seedc(), dir);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "f32[1,10]"), "%s", out);
    /* the last checkpoint is a model: run, evaluated, exported */
    char ckpt[1024];
    bool found = false;
    SdError err = {0};
    cr_assert_eq(rt_ckpt_latest(dir, "ckpt", ckpt, sizeof ckpt, NULL, &found, &err), SD_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/tiny.onnx", dir);
    expect_same_outputs(ckpt, path);
    snprintf(cmd, sizeof cmd, "%s eval %s --images 1000 --no-linear", tb_seedc(), ckpt);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "kNN accuracy") && strstr(out, "network 'student'"), "%s", out);
    snprintf(path, sizeof path, "%s/again.onnx", dir);
    snprintf(cmd, sizeof cmd, "%s export %s -o %s", tb_seedc(), ckpt, path);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import onnx; onnx.checker.check_model(onnx.load('%s'), "
             "full_check=True)\"", path);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "the ONNX checker rejects %s:\n%s", path, out);
    expect_same_outputs(ckpt, path);
    snprintf(cmd, sizeof cmd, "%s eval %s --model nosuch", tb_seedc(), ckpt);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "no network 'nosuch'") && strstr(out, "student"), "%s", out);
    /* a recipe error names the place */
    FILE *f = fopen(tb_path("bad.sd"), "w");
    fputs("experiment x {\n    epocs = 3\n}\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s train %s", tb_seedc(), tb_path("bad.sd"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "bad.sd:2:5") && strstr(out, "epochs"), "%s", out);
}

/* --let gives a recipe's let another value; the checkpoint keeps it (export rebuilds the network it
 * trained) and a resume without it is refused. */
Test(train, let_overrides_follow_the_checkpoint, .timeout = 300)
{
    if (!have_data()) {
        cr_log_warn("dataset-fashion-mnist is not installed: training not checked");
        return;
    }
    char cmd[4096], dir[512], path[1024];
    snprintf(dir, sizeof dir, "%s/let", tb_tmpdir());
    /* the recipe with its second conv's width from a let */
    FILE *f = fopen(tb_path("let.sd"), "w");
    fputs("let width = 16\n", f);
    const char *at = strstr(recipe, "conv(x, 16, 3");
    cr_assert_not_null(at);
    fprintf(f, "%.*sconv(x, width, 3%s", (int)(at - recipe), recipe, at + strlen("conv(x, 16, 3"));
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s train %s --out %s --images 256 --epochs 1 --no-eval --let width=24", tb_seedc(),
             tb_path("let.sd"), dir);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "let width=24"), "%s", out);
    char ckpt[1024];
    bool found = false;
    SdError err = {0};
    cr_assert_eq(rt_ckpt_latest(dir, "ckpt", ckpt, sizeof ckpt, NULL, &found, &err), SD_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/features.onnx", dir);
    snprintf(cmd, sizeof cmd, "%s export %s -o %s && /usr/bin/python3 -c \"import onnx; print([list(i.dims) for i "
             "in onnx.load('%s').graph.initializer])\"", tb_seedc(), ckpt, path, path);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "[24, 8, 3, 3]"), "the second conv has 24 channels:\n%s", out);
    snprintf(cmd, sizeof cmd, "%s train %s --out %s --images 256 --epochs 2 --no-eval --resume", tb_seedc(),
             tb_path("let.sd"), dir);
    cr_assert_neq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "another version of the recipe"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s train %s --let widht=3", tb_seedc(), tb_path("let.sd"));
    cr_assert_neq(tb_run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "no `let widht` to override; did you mean 'width'?"), "%s", out);
}

/* "final loss X" of a `seedc train` output, or NAN */
static double final_loss(const char *text)
{
    const char *at = strstr(text, "final loss ");
    return at ? atof(at + strlen("final loss ")) : NAN;
}

/* `precision = bf16` in a recipe (or --precision bf16) trains with bf16 products: close to f32's
 * training, not the same; --precision fp32 overrides the recipe and is f32's training exactly. */
Test(train, bf16_products_train_like_f32, .timeout = 300)
{
    if (!have_data()) {
        cr_log_warn("dataset-fashion-mnist is not installed: training not checked");
        return;
    }
    FILE *f = fopen(tb_path("bf16.sd"), "w");
    const char *at = strstr(recipe, "    seed = 3\n");
    cr_assert_not_null(at);
    fprintf(f, "%.*s    precision = bf16\n%s", (int)(at - recipe), recipe, at);
    fclose(f);
    char cmd[4096];
    double loss[3];
    static const char *const runs[3][2] = {{"tiny.sd", ""}, {"bf16.sd", ""}, {"bf16.sd", "--precision fp32"}};
    write_recipe();
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s train %s --out %s/prec%d --images 960 --epochs 1 --no-eval %s", tb_seedc(),
                 tb_path(runs[i][0]), tb_tmpdir(), i, runs[i][1]);
        cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
        cr_assert_eq(strstr(out, "bf16 products") != NULL, i == 1, "%s", out);
        loss[i] = final_loss(out);
        cr_assert(isfinite(loss[i]) && loss[i] > 0, "%s", out);
    }
    cr_assert(fabs(loss[1] - loss[0]) <= 0.05 * loss[0], "bf16 final loss %.4f, f32 %.4f", loss[1], loss[0]);
    cr_assert(loss[1] != loss[0], "bf16 products trained exactly as f32 (loss %.4f)", loss[0]);
    cr_assert(loss[2] == loss[0], "--precision fp32 over a bf16 recipe: loss %.4f, f32 %.4f", loss[2], loss[0]);
    /* a run resumes only under the precision it was trained with */
    snprintf(cmd, sizeof cmd, "%s train %s --out %s/prec0 --images 960 --epochs 2 --no-eval --resume --precision bf16",
             tb_seedc(), tb_path("tiny.sd"), tb_tmpdir());
    cr_assert_neq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "another --precision"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s train %s --precision fp16", tb_seedc(), tb_path("bf16.sd"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--precision takes fp32 or bf16, not 'fp16'"), "%s", out);
}

Test(train, resumes_a_killed_run_bit_for_bit, .timeout = 900)
{
    if (!have_data()) {
        cr_log_warn("dataset-fashion-mnist is not installed: resume not checked");
        return;
    }
    const char *r = write_recipe();
    char a[512], b[512], cmd[4096];
    snprintf(a, sizeof a, "%s/straight", tb_tmpdir());
    snprintf(b, sizeof b, "%s/killed", tb_tmpdir());
    snprintf(cmd, sizeof cmd, "%s train %s --out %s --images 4096 --no-eval", tb_seedc(), r, a);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);

    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1), dup2(devnull, 2);
        execl(tb_seedc(), "seedc", "train", r, "--out", b, "--images", "4096", "--no-eval", (char *)NULL);
        _exit(127);
    }
    /* kill it once a checkpoint past the first epoch's middle exists */
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/ckpt-000000000042.ckpt", b);
    for (int i = 0; i < 6000 && access(probe, R_OK) != 0; i++)
        usleep(10000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status), "the run finished before it could be killed: make it longer");
    snprintf(cmd, sizeof cmd, "%s train %s --out %s --images 4096 --no-eval --resume", tb_seedc(), r, b);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "resumed from"), "%s", out);
    /* its summary says that its time and rate are the resumed part's */
    cr_assert(strstr(out, "this run resumed at step"), "%s", out);

    RtCheckpoint *x = final_checkpoint(a), *y = final_checkpoint(b);
    cr_assert_eq(rt_ckpt_n_blobs(x), rt_ckpt_n_blobs(y));
    for (int i = 0; i < rt_ckpt_n_blobs(x); i++) {
        const char *name = rt_ckpt_blob_name(x, i);
        size_t nx, ny;
        const void *dx = rt_ckpt_find(x, name, &nx), *dy = rt_ckpt_find(y, name, &ny);
        cr_assert(dy && nx == ny, "'%s' is missing or of another size after the resume", name);
        cr_assert(memcmp(dx, dy, nx) == 0, "'%s' differs between the straight and the resumed run", name);
    }
    rt_ckpt_free(x);
    rt_ckpt_free(y);
}
