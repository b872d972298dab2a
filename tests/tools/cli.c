/* tests/tools/cli.c — the seedc command as a user meets it: exit status 0 on success, 1 with one
 * clear message for bad models and data, 2 for wrong usage; never a signal. */
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

static const char *relu_model(void)
{
    const char *path = tb_path("relu.onnx");
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){-1, 3});
    tb_node(m, "Relu", "relu0", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

static const char *write_input(const char *file, SdDType dt, int rank, const int64_t *dims)
{
    SdError err = {0};
    RtTensor t = {0};
    cr_assert_eq(rt_tensor_alloc(&t, dt, rank, dims, &err), SD_OK);
    if (dt == SD_DT_F32)
        for (size_t i = 0; i < t.nbytes / 4; i++)
            ((float *)t.data)[i] = (float)i - 2.0f;
    const char *path = tb_path(file);
    cr_assert_eq(rt_tensor_write(path, &t, &err), SD_OK, "%s", err.msg);
    rt_tensor_free(&t);
    return path;
}

Test(cli, help_and_usage_errors)
{
    cr_assert_eq(seedc("--help"), 0);
    cr_assert(strstr(out, "usage: seedc COMMAND"));
    cr_assert_eq(seedc(""), 2);
    cr_assert_eq(seedc("frobnicate"), 2);
    cr_assert(strstr(out, "unknown command 'frobnicate'"), "%s", out);
    for (const char *const *c = (const char *const[]){"run", "info", "ir", NULL}; *c; c++) {
        char args[64];
        snprintf(args, sizeof args, "%s --help", *c);
        cr_assert_eq(seedc(args), 0, "%s --help", *c);
        cr_assert(strstr(out, "usage: seedc"), "%s", out);
    }
    cr_assert_eq(seedc("run"), 2);
    cr_assert(strstr(out, "a model file is required"), "%s", out);
    cr_assert_eq(seedc("run model.onnx --batch zero"), 2);
    cr_assert(strstr(out, "--batch takes a positive integer"), "%s", out);
    cr_assert_eq(seedc("ir model.onnx --after nonsense"), 2);
    cr_assert_eq(seedc("run model.onnx --disable shape"), 2);
    cr_assert_eq(seedc("run model.onnx --bogus"), 2);
}

Test(cli, runs_a_model_and_writes_outputs)
{
    const char *model = relu_model();
    const char *in = write_input("x.npy", SD_DT_F32, 2, (int64_t[]){2, 3});
    char args[2048];
    snprintf(args, sizeof args, "run %s --batch 2 -i %s -o %s", model, in, tb_path("y.pb"));
    cr_assert_eq(seedc(args), 0, "%s", out);
    SdError err = {0};
    RtTensor y = {0};
    cr_assert_eq(rt_tensor_read(tb_path("y.pb"), &y, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(y.rank, 2);
    cr_assert_eq(y.dims[0], 2);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(((float *)y.data)[i], i - 2.0f > 0 ? i - 2.0f : 0.0f);
    cr_assert_str_eq(y.name, "y");
    rt_tensor_free(&y);
    snprintf(args, sizeof args, "info %s", model);
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_assert(strstr(out, "opset 17") && strstr(out, "Relu") && strstr(out, "f32[1,3]"), "%s", out);
    snprintf(args, sizeof args, "ir %s --dot", model);
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_assert(strstr(out, "digraph"), "%s", out);
    snprintf(args, sizeof args, "ir %s --after import", model);
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_assert(strstr(out, "relu(%x)"), "%s", out);
    snprintf(args, sizeof args, "bench %s --runs 3 --warmup 1 --profile=1", model);
    cr_assert_eq(seedc(args), 0, "%s", out);
    cr_assert(strstr(out, "latency") && strstr(out, "by op:") && strstr(out, "relu") && strstr(out, "slowest 1 node:"),
              "%s", out);
    snprintf(args, sizeof args, "bench %s --profile=many", model);
    cr_assert_eq(seedc(args), 2, "%s", out);
}

Test(cli, reports_bad_models_and_data_with_status_1)
{
    const char *model = relu_model();
    char args[2048];
    cr_assert_eq(seedc("run /nonexistent.onnx"), 1);
    cr_assert(strstr(out, "cannot open '/nonexistent.onnx'"), "%s", out);
    cr_assert_eq(seedc("run notes.txt"), 2);
    /* wrong shape and wrong dtype */
    const char *bad_shape = write_input("bad_shape.npy", SD_DT_F32, 2, (int64_t[]){1, 4});
    snprintf(args, sizeof args, "run %s -i %s", model, bad_shape);
    cr_assert_eq(seedc(args), 1, "%s", out);
    cr_assert(strstr(out, "input 0 ('x')") && strstr(out, "f32[1,4]") && strstr(out, "f32[1,3]"), "%s", out);
    const char *bad_type = write_input("bad_type.npy", SD_DT_I64, 2, (int64_t[]){1, 3});
    snprintf(args, sizeof args, "run %s -i %s", model, bad_type);
    cr_assert_eq(seedc(args), 1, "%s", out);
    cr_assert(strstr(out, "i64"), "%s", out);
    /* missing input file, too many inputs */
    snprintf(args, sizeof args, "run %s -i /nonexistent.npy", model);
    cr_assert_eq(seedc(args), 1);
    snprintf(args, sizeof args, "run %s -i %s -i %s", model, bad_shape, bad_shape);
    cr_assert_eq(seedc(args), 2, "%s", out);
    /* truncated and garbage model files */
    FILE *f = fopen(model, "rb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(tb_path("trunc.onnx"), "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    snprintf(args, sizeof args, "run %s", tb_path("trunc.onnx"));
    cr_assert_eq(seedc(args), 1, "%s", out);
    cr_assert(strstr(out, "trunc.onnx"), "%s", out);
    f = fopen(tb_path("garbage.onnx"), "wb");
    fputs("this is not protobuf at all \xff\xff\xff\xff", f);
    fclose(f);
    snprintf(args, sizeof args, "info %s", tb_path("garbage.onnx"));
    cr_assert_eq(seedc(args), 1, "%s", out);
    /* an unsupported operator names the node */
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){3});
    tb_node(m, "NonMaxSuppression", "nms_7", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, tb_path("unsupported.onnx"));
    tb_model_free(m);
    snprintf(args, sizeof args, "run %s", tb_path("unsupported.onnx"));
    cr_assert_eq(seedc(args), 1, "%s", out);
    cr_assert(strstr(out, "node 'nms_7' (NonMaxSuppression)"), "%s", out);
}
