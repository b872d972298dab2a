/* tests/tools/dsl_check.c — `seedc check` on .sd files, and .sd models through run, info, ir and
 * compile: exit 0 with a summary, 1 with file:line:col for a wrong file, 2 for wrong usage. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tensor_io.h"
#include "tests/common/onnx_builder.h"

static char out[65536];

static int seedc(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s", tb_seedc(), args);
    return tb_run(cmd, out, sizeof out);
}

static const char *src(const char *rel)
{
    static char buf[4][1024];
    static int next;
    const char *s = getenv("SEEDC_SOURCE_DIR");
    char *p = buf[next++ % 4];
    snprintf(p, 1024, "%s/%s", s ? s : ".", rel);
    return p;
}

static const char *write_file(const char *name, const char *text)
{
    const char *path = tb_path(name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

Test(dsl_check, summarizes_a_model)
{
    char args[2048];
    snprintf(args, sizeof args, "check %s", src("examples/models/resnet18.sd"));
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_expect(strstr(out, "model resnet18"), "%s", out);
    cr_expect(strstr(out, "input   image        f32[1,3,224,224]"), "%s", out);
    cr_expect(strstr(out, "output  logits       f32[1,1000]"), "%s", out);
    cr_expect(strstr(out, "params  11,689,512 in 62 tensors"), "%s", out);
    cr_expect(strstr(out, "shapes confirmed by shape inference"), "%s", out);
    cr_expect(strstr(out, ": ok"), "%s", out);

    snprintf(args, sizeof args, "check %s --arg 'widths=[8, 16, 32, 64]' --arg classes=0 --batch 4",
             src("examples/models/resnet10.sd"));
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_expect(strstr(out, "output  features     f32[4,64]"), "%s", out);
}

Test(dsl_check, validates_an_experiment_and_builds_its_networks)
{
    char args[2048];
    snprintf(args, sizeof args, "check %s", src("examples/recipes/teacher_moco.sd"));
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_expect(strstr(out, "method     moco_v2 (temperature 0.2, queue 4096, key momentum 0.99, dim 128)"), "%s", out);
    cr_expect(strstr(out, "student    input f32[1,1,28,28], features f32[1,256], embedding f32[1,128]"), "%s", out);
}

Test(dsl_check, errors_name_the_place)
{
    const char *bad = write_file("bad.sd", "model m {\n    input x: [3, 8, 8]\n    return conv(x, 8, 3, strid = 2)\n}\n");
    char args[2048];
    snprintf(args, sizeof args, "check %s", bad);
    cr_assert_eq(seedc(args), 1, "%s", out);
    cr_expect(strstr(out, "bad.sd:3:26: conv has no argument 'strid'; did you mean 'stride'?"), "%s", out);
    const char *bad2 = write_file("bad2.sd", "experiment e {\n    epoch = 3\n}\n");
    snprintf(args, sizeof args, "check %s", bad2);
    cr_assert_eq(seedc(args), 1, "%s", out);
    cr_expect(strstr(out, "bad2.sd:2:5: unknown key 'epoch' in 'experiment e'; did you mean 'epochs'?"), "%s", out);
    cr_expect_eq(seedc("check"), 2);
    cr_expect(strstr(out, "a .sd file is required"), "%s", out);
    cr_expect_eq(seedc("check --help"), 0);
    cr_expect(strstr(out, "usage: seedc check FILE.sd"), "%s", out);
    snprintf(args, sizeof args, "check %s --arg oops", bad);
    cr_expect_eq(seedc(args), 2, "%s", out);
    cr_expect_eq(seedc("check /no/such/file.sd"), 1);
    cr_expect(strstr(out, "cannot open '/no/such/file.sd'"), "%s", out);
}

static const char *two_models(void)
{
    return write_file("two.sd", "model small {\n  input x: [1, 4, 4]\n  return logits = linear(flatten(x), 3)\n}\n"
                                "model big {\n  input x: [1, 4, 4]\n  return linear(flatten(relu(x)), 5)\n}\n");
}

Test(dsl_check, sd_models_run_and_compile_like_onnx_models)
{
    const char *m = two_models();
    char args[2048];
    snprintf(args, sizeof args, "info %s", m);
    cr_expect_eq(seedc(args), 2, "%s", out);
    cr_expect(strstr(out, "declares 2 models (small, big): choose one with --model NAME"), "%s", out);
    snprintf(args, sizeof args, "info %s --model big", m);
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_expect(strstr(out, "producer seedc DSL"), "%s", out);
    cr_expect(strstr(out, "f32[1,5]"), "%s", out);
    snprintf(args, sizeof args, "info %s --model bigg", m);
    cr_expect_eq(seedc(args), 2, "%s", out);
    cr_expect(strstr(out, "no model 'bigg'; did you mean 'big'?"), "%s", out);

    SdError err = {0};
    RtTensor x = {0};
    cr_assert_eq(rt_tensor_alloc(&x, SD_DT_F32, 4, (int64_t[]){2, 1, 4, 4}, &err), SD_OK);
    const char *in = tb_path("x.npy"), *y = tb_path("y.npy");
    cr_assert_eq(rt_tensor_write(in, &x, &err), SD_OK);
    rt_tensor_free(&x);
    snprintf(args, sizeof args, "run %s --model small --batch 2 -i %s -o %s", m, in, y);
    cr_assert_eq(seedc(args), 0, "%s", out);
    RtTensor r = {0};
    cr_assert_eq(rt_tensor_read(y, &r, &err), SD_OK, "%s", err.msg);
    cr_expect(r.rank == 2 && r.dims[0] == 2 && r.dims[1] == 3);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(((float *)r.data)[i], 0.0f, "zero input, zero biases");
    rt_tensor_free(&r);

    snprintf(args, sizeof args, "ir %s --model small --after shape", m);
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_expect(strstr(out, "matmul"), "%s", out);
    snprintf(args, sizeof args, "compile %s --model big -o %s --emit=bundle", m, tb_path("big"));
    cr_expect_eq(seedc(args), 0, "%s", out);
}
