/* tests/frontend/dsl_models.c — the example models of examples/models: each instantiates with
 * torchvision's parameter count, and in inference mode, with the same weights, computes what
 * PyTorch computes (tests/golden/dsl_models.py loads the weights seedc wrote, by torchvision's
 * state_dict names, into the torchvision network and compares the outputs). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/driver.h"
#include "frontend/dsl/dsl.h"
#include "runtime/tensor_io.h"
#include "tests/common/onnx_builder.h"

static const char *source_path(const char *rel)
{
    static char buf[8][1024];
    static int next;
    const char *src = getenv("SEEDC_SOURCE_DIR");
    char *p = buf[next++ % 8];
    snprintf(p, 1024, "%s/%s", src ? src : ".", rel);
    return p;
}

typedef struct Built {
    DslProgram *prog;
    IrGraph *g;
    IrValue *outs[DSL_MAX_OUTPUTS];
    int n_outs;
    DslInstanceInfo info;
} Built;

/* Instantiates the only model of examples/models/FILE with `args` ("name=value", NULL-ended). */
static void build(Built *b, const char *file, const char *const *args, int64_t batch, uint64_t seed)
{
    SdError err = {0};
    char rel[256];
    snprintf(rel, sizeof rel, "examples/models/%s", file);
    memset(b, 0, sizeof *b);
    cr_assert_eq(dsl_load_file(source_path(rel), &b->prog, &err), SD_OK, "%s", err.msg);
    const DslModel *m;
    cr_assert_eq(dsl_program_select_model(b->prog, NULL, &m, &err), SD_OK, "%s", err.msg);
    DslArgValue av[DSL_MAX_ARGS];
    int na = 0;
    for (; args && args[na]; na++)
        cr_assert_eq(dsl_arg_parse(args[na], &av[na], &err), SD_OK, "%s", err.msg);
    char in_name[DSL_NAME_MAX];
    IrShape s;
    cr_assert_eq(dsl_model_input(m, av, na, in_name, sizeof in_name, &s, &err), SD_OK, "%s", err.msg);
    b->g = ir_graph_new(file);
    IrShape full = {.rank = s.rank + 1, .dims = {batch}};
    memcpy(full.dims + 1, s.dims, (size_t)s.rank * sizeof *s.dims);
    IrValue *x = ir_value_new(b->g, in_name, SD_DT_F32, &full);
    ir_graph_add_input(b->g, x);
    DslInstanceOptions o = dsl_instance_options_default();
    o.args = av;
    o.n_args = na;
    o.seed = seed;
    o.info = &b->info;
    cr_assert_eq(dsl_model_instantiate(m, b->g, "", x, &o, b->outs, &b->n_outs, &err), SD_OK, "%s", err.msg);
    for (int i = 0; i < b->n_outs; i++)
        ir_graph_add_output(b->g, b->outs[i]);
}

static void built_free(Built *b)
{
    ir_graph_free(b->g);
    dsl_program_free(b->prog);
}

static void expect_params(const char *file, const char *const *args, int64_t want)
{
    Built b;
    build(&b, file, args, 1, 0);
    cr_expect_eq(b.info.n_params, want, "%s: %lld parameters, torchvision has %lld", file, (long long)b.info.n_params,
                 (long long)want);
    built_free(&b);
}

Test(dsl_models, parameter_counts_match_torchvision)
{
    expect_params("resnet18.sd", NULL, 11689512);
    expect_params("resnet34.sd", NULL, 21797672);
    expect_params("mobilenet_v2.sd", NULL, 3504872);
    expect_params("mobilenet_v3.sd", NULL, 5483032);
    expect_params("efficientnet_b0.sd", NULL, 5288548);
    expect_params("vit_tiny.sd", NULL, 5717416);
    /* ResNet-10 with torchvision's ImageNet layout (BasicBlock, [1, 1, 1, 1]) */
    expect_params("resnet10.sd",
                  (const char *[]){"widths=[64, 128, 256, 512]", "stem=\"imagenet\"", "in_channels=3", "size=224",
                                   "classes=1000", NULL},
                  5418792);
    /* the Fashion-MNIST student: widths 16-32-64-128 */
    expect_params("resnet18.sd", (const char *[]){"classes=10", NULL}, 11689512 - 990 * 513);
}

Test(dsl_models, fashion_mnist_student_is_small)
{
    Built b;
    build(&b, "resnet10.sd", NULL, 1, 0);
    cr_assert_eq(b.n_outs, 1);
    cr_assert_eq(b.outs[0]->shape.rank, 2);
    cr_assert_eq(b.outs[0]->shape.dims[1], 10);
    cr_assert_eq(b.info.n_params, 308538);
    cr_assert_str_eq(b.info.output_names[0], "logits");
    built_free(&b);
}

/* ---- against PyTorch ---- */

static bool torch_available(void)
{
    char out[4096];
    return tb_run("/usr/bin/python3 -c 'import torch, torchvision'", out, sizeof out) == 0;
}

static uint64_t rng_state;
static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static bool ends_with(const char *s, const char *t)
{
    size_t n = strlen(s), k = strlen(t);
    return n >= k && strcmp(s + n - k, t) == 0;
}

/* Running statistics, norm scales, biases and tokens away from their initial values, so that the
 * comparison sees every one of them. */
static void perturb(IrGraph *g)
{
    rng_state = 42;
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->role != IR_ROLE_PARAM && v->role != IR_ROLE_STATE)
            continue;
        float *d = v->data;
        int64_t n = ir_value_numel(v);
        bool var = ends_with(v->name, "running_var"), scale = v->shape.rank == 1 && ends_with(v->name, "weight");
        bool small = ends_with(v->name, "running_mean") || ends_with(v->name, "bias") ||
                     ends_with(v->name, "class_token") || ends_with(v->name, "pos_embedding");
        for (int64_t k = 0; k < n; k++) {
            if (var || scale)
                d[k] = (float)(0.5 + uniform());
            else if (small)
                d[k] = (float)(0.2 * uniform() - 0.1);
        }
    }
}

static void write_tensor(const char *dir, const char *name, SdDType dt, int rank, const int64_t *dims, const void *data)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    RtTensor t = {.dtype = dt, .rank = rank, .data = (void *)data};
    memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    t.nbytes = (size_t)n * sd_dtype_size(dt);
    SdError err = {0};
    cr_assert_eq(rt_tensor_write(path, &t, &err), SD_OK, "%s", err.msg);
}

/* Builds FILE with args, writes its weights, runs it through the JIT on a fixed input and asks
 * the golden script to compare with torchvision's `torch_model`. */
static void compare_with_torch(const char *file, const char *const *args, int64_t batch, const char *torch_model,
                               const char *script_args)
{
    if (!torch_available())
        cr_skip_test("python3 with torch and torchvision is not available");
    Built b;
    build(&b, file, args, batch, 7);
    perturb(b.g);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tb_tmpdir(), torch_model);
    mkdir(dir, 0755);
    for (int i = 0; i < ir_graph_num_values(b.g); i++) {
        IrValue *v = ir_graph_value(b.g, i);
        if (v->role == IR_ROLE_PARAM || v->role == IR_ROLE_STATE)
            write_tensor(dir, v->name, v->dtype, v->shape.rank, v->shape.dims, v->data);
    }
    dsl_graph_freeze(b.g);
    IrValue *x = ir_graph_input(b.g, 0);
    RtTensor in = {0};
    SdError err = {0};
    cr_assert_eq(rt_tensor_alloc(&in, SD_DT_F32, x->shape.rank, x->shape.dims, &err), SD_OK);
    rng_state = 7;
    for (size_t k = 0; k < in.nbytes / 4; k++)
        ((float *)in.data)[k] = (float)(2 * uniform() - 1);
    write_tensor(dir, "input", SD_DT_F32, in.rank, in.dims, in.data);
    SdOptions opt = sd_options_default();
    SdModel *m;
    cr_assert_eq(sd_optimize(b.g, &opt, NULL, NULL, NULL, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_model_compile(b.g, &opt, &m, &err), SD_OK, "%s", err.msg);
    b.g = NULL; /* the model owns it */
    RtTensor out = {0};
    cr_assert_eq(sd_model_run(m, &in, 1, &out, 1, &err), SD_OK, "%s", err.msg);
    write_tensor(dir, "output", out.dtype, out.rank, out.dims, out.data);
    rt_tensor_free(&out);
    rt_tensor_free(&in);
    sd_model_free(m);
    built_free(&b);
    char cmd[2048], log[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s %s", source_path("tests/golden/dsl_models.py"), dir,
             torch_model, script_args);
    int rc = tb_run(cmd, log, sizeof log);
    cr_assert_eq(rc, 0, "%s against PyTorch:\n%s", file, log);
    cr_log_info("%s", log);
}

Test(dsl_golden, resnet10_fashion_mnist_matches_pytorch)
{
    compare_with_torch("resnet10.sd", NULL, 2, "resnet10_fmnist", "--classes 10");
}

Test(dsl_golden, resnet18_matches_torchvision)
{
    compare_with_torch("resnet18.sd", (const char *[]){"classes=10", "size=64", NULL}, 2, "resnet18", "--classes 10");
}

Test(dsl_golden, mobilenet_v2_matches_torchvision)
{
    compare_with_torch("mobilenet_v2.sd", (const char *[]){"classes=10", "size=64", NULL}, 2, "mobilenet_v2",
                       "--classes 10");
}

Test(dsl_golden, mobilenet_v3_matches_torchvision)
{
    compare_with_torch("mobilenet_v3.sd", (const char *[]){"classes=10", "size=64", NULL}, 2, "mobilenet_v3",
                       "--classes 10");
}

Test(dsl_golden, efficientnet_b0_matches_torchvision)
{
    compare_with_torch("efficientnet_b0.sd", (const char *[]){"classes=10", "size=64", NULL}, 2, "efficientnet_b0",
                       "--classes 10");
}

Test(dsl_golden, vit_tiny_matches_torchvision)
{
    compare_with_torch("vit_tiny.sd", (const char *[]){"classes=10", "size=32", NULL}, 2, "vit_tiny",
                       "--classes 10 --size 32");
}
