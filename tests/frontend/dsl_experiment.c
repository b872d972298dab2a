/* tests/frontend/dsl_experiment.c — experiments validated into DslExperiment: the example recipes,
 * defaults, every section, and the errors (unknown keys with suggestions, wrong types, values out
 * of range, what each method needs), each at its file:line:col. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/dsl.h"

static const char *source_path(const char *rel)
{
    static char buf[4][1024];
    static int next;
    const char *src = getenv("SEEDC_SOURCE_DIR");
    char *p = buf[next++ % 4];
    snprintf(p, 1024, "%s/%s", src ? src : ".", rel);
    return p;
}

static DslExperiment *load_recipe(const char *rel, const char *name, DslProgram **prog)
{
    SdError err = {0};
    cr_assert_eq(dsl_load_file(source_path(rel), prog, &err), SD_OK, "%s", err.msg);
    DslExperiment *e;
    cr_assert_eq(dsl_experiment_load(*prog, name, &e, &err), SD_OK, "%s", err.msg);
    return e;
}

/* A tiny model to refer to, then `body` inside `experiment e { ... }`. */
static const char *prelude = "model tiny(classes = 10, width = 8) {\n"
                             "    input x: [1, 8, 8]\n"
                             "    y = flatten(gap(relu(conv(x, width, 3))))\n"
                             "    if classes == 0 { return features = y }\n"
                             "    return linear(y, classes)\n"
                             "}\n"; /* 6 lines: the experiment starts on line 7 */

static SdStatus load_experiment(const char *body, DslProgram **p, DslExperiment **e, SdError *err)
{
    char src[8192];
    snprintf(src, sizeof src, "%sexperiment e {\n%s\n}\n", prelude, body);
    *p = NULL;
    *e = NULL;
    SD_TRY(dsl_load_string("r.sd", src, p, err));
    return dsl_experiment_load(*p, NULL, e, err);
}

static const char *minimal = "    epochs = 2\n"
                             "    data { dataset = \"fashion-mnist\" }\n"
                             "    network student { model = tiny() }\n"
                             "    method supervised {}\n";

/* The minimal experiment with `extra` lines after it (the first extra line is line 12). */
static void expect_error(const char *extra, const char *want)
{
    char body[4096];
    snprintf(body, sizeof body, "%s%s", minimal, extra);
    DslProgram *p;
    DslExperiment *e;
    SdError err = {0};
    SdStatus st = load_experiment(body, &p, &e, &err);
    cr_expect_neq(st, SD_OK, "loaded but should fail with: %s", want);
    cr_expect(strstr(err.msg, want) != NULL, "expected \"%s\"\n  message was: %s", want, err.msg);
    dsl_experiment_free(e);
    dsl_program_free(p);
}

/* A whole experiment body that must fail. */
static void expect_body_error(const char *body, const char *want)
{
    DslProgram *p;
    DslExperiment *e;
    SdError err = {0};
    SdStatus st = load_experiment(body, &p, &e, &err);
    cr_expect_neq(st, SD_OK, "loaded but should fail with: %s", want);
    cr_expect(strstr(err.msg, want) != NULL, "expected \"%s\"\n  message was: %s", want, err.msg);
    dsl_experiment_free(e);
    dsl_program_free(p);
}

Test(dsl_experiment, supervised_recipe)
{
    DslProgram *p;
    DslExperiment *e = load_recipe("examples/supervised_fmnist.sd", NULL, &p);
    cr_expect_str_eq(e->name, "supervised_fmnist");
    cr_expect_eq(e->epochs, 10);
    cr_expect_eq(e->batch_size, 128);
    cr_expect_eq(e->method.kind, DSL_METHOD_SUPERVISED);
    cr_expect_str_eq(e->data.dataset, "fashion-mnist");
    cr_expect_eq(e->data.views, 1);
    cr_expect_eq(e->data.n_norm, 1);
    cr_expect_float_eq(e->data.mean[0], 0.2860, 1e-9);
    cr_expect(e->data.augment.crop.on && e->data.augment.flip.on && !e->data.augment.jitter.on);
    cr_expect_float_eq(e->data.augment.crop.scale[0], 0.7, 1e-12);
    cr_expect_eq(e->n_networks, 1);
    const DslNetwork *s = dsl_experiment_role(e, DSL_ROLE_STUDENT);
    cr_assert_not_null(s);
    cr_expect_str_eq(dsl_model_name(s->model), "resnet10");
    cr_expect_eq(s->n_args, 2);
    cr_expect(s->args[1].kind == DSL_VAL_INTS && s->args[1].n == 4 && s->args[1].ints[0] == 16);
    cr_expect_eq(e->optimizer.kind, DSL_OPT_SGD);
    cr_expect_float_eq(e->optimizer.lr, 0.1, 1e-12);
    cr_expect(e->optimizer.nesterov);
    cr_expect(e->optimizer.n_exclude == 2 && strcmp(e->optimizer.exclude[1], "norm") == 0);
    cr_expect_eq(e->schedule.kind, DSL_SCHED_COSINE);
    cr_expect_float_eq(e->schedule.warmup_epochs, 1, 1e-12);
    cr_expect(e->eval.accuracy && !e->eval.knn);
    cr_expect_eq(e->n_exports, 1);
    cr_expect_eq(e->exports[0].kind, DSL_EXPORT_ONNX);
    cr_expect_str_eq(e->out_dir, "runs/supervised_fmnist");
    dsl_experiment_free(e);
    dsl_program_free(p);
}

Test(dsl_experiment, moco_and_seed_recipes)
{
    DslProgram *p;
    DslExperiment *e = load_recipe("examples/recipes/teacher_moco.sd", NULL, &p);
    cr_expect_eq(e->method.kind, DSL_METHOD_MOCO_V2);
    cr_expect_float_eq(e->method.temperature, 0.2, 1e-12);
    cr_expect_eq(e->method.queue, 4096);
    cr_expect_eq(e->data.views, 2);
    cr_expect(e->data.augment.jitter.on);
    cr_expect_float_eq(e->data.augment.crop.ratio[1], 4 / 3.0, 1e-12);
    const DslNetwork *key = dsl_experiment_network(e, "key");
    cr_assert_not_null(key);
    cr_expect_eq(key->role, DSL_ROLE_MOMENTUM);
    cr_expect_str_eq(key->momentum_of, "student");
    cr_expect_float_eq(key->ema, 0.99, 1e-12, "the method's momentum");
    const DslNetwork *s = dsl_experiment_network(e, "student");
    cr_expect(s->head.n_dims == 2 && s->head.dims[0] == 256 && s->head.dims[1] == 128 && s->head.bn);
    cr_expect(e->eval.knn && e->eval.linear && e->eval.knn_k == 200 && e->eval.every == 5);
    cr_expect(e->checkpoint.every_steps == 500 && e->checkpoint.keep == 3);
    cr_expect(e->n_exports == 2 && e->exports[1].with_head);
    dsl_experiment_free(e);
    dsl_program_free(p);

    e = load_recipe("examples/recipes/seed_student.sd", NULL, &p);
    cr_expect_eq(e->method.kind, DSL_METHOD_SEED);
    cr_expect_float_eq(e->method.temperature_student, 0.2, 1e-12);
    cr_expect_float_eq(e->method.temperature_teacher, 0.01, 1e-12);
    const DslNetwork *t = dsl_experiment_role(e, DSL_ROLE_TEACHER);
    cr_assert_not_null(t);
    cr_expect(t->frozen);
    cr_expect_null(t->model);
    cr_expect(strstr(t->onnx, "examples/recipes/../../../shared/teachers/fmnist-resnet18w32-mocov2/teacher_embed.onnx"),
              "relative to the recipe: %s", t->onnx);
    cr_expect_str_eq(t->onnx_output, "embedding");
    cr_expect_eq(e->method.dim, 128, "the teacher's embedding size");
    cr_expect_eq(e->n_exports, 2);
    cr_expect_eq(e->exports[1].kind, DSL_EXPORT_EXE);
    cr_expect_str_eq(e->exports[1].gemm, "builtin");
    dsl_experiment_free(e);
    dsl_program_free(p);
}

/* `seedc train --let`: the recipe's lets take the given values; a let it lacks is an error. */
Test(dsl_experiment, lets_overridden_at_load)
{
    SdError err = {0};
    DslArgValue lets[2];
    cr_assert_eq(dsl_arg_parse("widths=[8, 16, 32, 64]", &lets[0], &err), SD_OK, "%s", err.msg);
    cr_assert_eq(dsl_arg_parse("seed=7", &lets[1], &err), SD_OK, "%s", err.msg);
    DslProgram *p;
    cr_assert_eq(dsl_load_file_lets(source_path("examples/recipes/moco_student.sd"), lets, 2, &p, &err), SD_OK, "%s",
                 err.msg);
    DslExperiment *e;
    cr_assert_eq(dsl_experiment_load(p, NULL, &e, &err), SD_OK, "%s", err.msg);
    cr_expect_eq(e->seed, 7);
    const DslNetwork *s = dsl_experiment_network(e, "student");
    const DslArgValue *w = NULL;
    for (int i = 0; i < s->n_args; i++)
        if (strcmp(s->args[i].name, "widths") == 0)
            w = &s->args[i];
    cr_assert_not_null(w);
    cr_expect(w->kind == DSL_VAL_INTS && w->n == 4 && w->ints[0] == 8 && w->ints[3] == 64);
    dsl_experiment_free(e);
    dsl_program_free(p);

    cr_assert_eq(dsl_arg_parse("width=[8]", &lets[0], &err), SD_OK);
    cr_expect_eq(dsl_load_file_lets(source_path("examples/recipes/moco_student.sd"), lets, 1, &p, &err), SD_EUSAGE);
    cr_expect(strstr(err.msg, "moco_student.sd: no `let width` to override; did you mean 'widths'?"), "%s", err.msg);
    cr_assert_eq(dsl_arg_parse("qqqq=1", &lets[0], &err), SD_OK);
    cr_expect_eq(dsl_load_file_lets(source_path("examples/recipes/moco_student.sd"), lets, 1, &p, &err), SD_EUSAGE);
    cr_expect(strstr(err.msg, "its lets are seed, widths"), "%s", err.msg);
}

Test(dsl_experiment, every_method_recipe_validates)
{
    const struct {
        const char *file, *name;
        DslMethodKind method;
    } recipes[] = {
        {"examples/recipes/simclr_student.sd", NULL, DSL_METHOD_SIMCLR},
        {"examples/recipes/dogo_students.sd", NULL, DSL_METHOD_DOGO},
        {"examples/recipes/crd_student.sd", NULL, DSL_METHOD_CRD},
        {"examples/recipes/simclrv2.sd", "simclrv2_pretrain", DSL_METHOD_SIMCLRV2},
        {"examples/recipes/simclrv2.sd", "simclrv2_finetune_1pct", DSL_METHOD_SIMCLRV2},
        {"examples/recipes/simclrv2.sd", "simclrv2_finetune_10pct", DSL_METHOD_SIMCLRV2},
        {"examples/recipes/simclrv2.sd", "simclrv2_distill_1pct", DSL_METHOD_SIMCLRV2},
        {"examples/recipes/simclrv2.sd", "simclrv2_distill_10pct", DSL_METHOD_SIMCLRV2},
        {"examples/recipes/moco_student.sd", NULL, DSL_METHOD_MOCO_V2},
        {"examples/recipes/seed_from_checkpoint.sd", NULL, DSL_METHOD_SEED},
    };
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++) {
        DslProgram *p;
        DslExperiment *e = load_recipe(recipes[i].file, recipes[i].name, &p);
        cr_expect_eq(e->method.kind, recipes[i].method, "%s", recipes[i].file);
        if (e->method.kind == DSL_METHOD_SIMCLR) {
            cr_expect_eq(e->optimizer.kind, DSL_OPT_LARS);
            cr_expect_eq(e->optimizer.lr_base_batch, 256);
            cr_expect(e->data.augment.blur.on && e->data.augment.blur.kernel == 3);
        }
        if (e->method.kind == DSL_METHOD_DOGO)
            cr_expect_eq(dsl_experiment_role(e, DSL_ROLE_PEER)->args[1].ints[0], 32);
        if (e->method.kind == DSL_METHOD_CRD) {
            cr_expect(e->schedule.kind == DSL_SCHED_STEP && e->schedule.n_milestones == 2);
            cr_expect_float_eq(e->method.crd_weight, 0.8, 1e-12);
        }
        if (recipes[i].name && strcmp(recipes[i].name, "simclrv2_finetune_1pct") == 0) {
            cr_expect_float_eq(e->data.label_fraction, 0.01, 1e-12);
            cr_expect_str_eq(e->networks[0].checkpoint, "runs/simclrv2/pretrain");
            cr_expect(e->networks[0].head.last_bn);
        }
        if (recipes[i].name && strcmp(recipes[i].name, "simclrv2_distill_1pct") == 0) {
            cr_expect_float_eq(e->method.temperature, 1.0, 1e-12);
            cr_expect_str_eq(dsl_experiment_role(e, DSL_ROLE_TEACHER)->checkpoint, "runs/simclrv2/finetune_1pct");
        }
        if (e->method.kind == DSL_METHOD_SEED && !recipes[i].name) {
            const DslNetwork *t = dsl_experiment_role(e, DSL_ROLE_TEACHER);
            cr_expect(t->frozen && t->model && t->head.n_dims == 2, "a DSL teacher with its projection head");
            cr_expect_str_eq(t->checkpoint, "runs/teacher_moco");
        }
        dsl_experiment_free(e);
        dsl_program_free(p);
    }
}

Test(dsl_experiment, defaults_and_expressions)
{
    DslProgram *p;
    DslExperiment *e;
    SdError err = {0};
    const char *body = "    epochs = 2 * 5\n    batch_size = 64\n"
                       "    data { dataset = mnist; augment { crop {}; solarize {} } }\n"
                       "    network student { model = tiny(classes = 0, width = 4 * 4); head = [32, 16] }\n"
                       "    method moco_v2 { queue = 64 * 16; dim = 16 }\n";
    cr_assert_eq(load_experiment(body, &p, &e, &err), SD_OK, "%s", err.msg);
    cr_expect_eq(e->epochs, 10);
    cr_expect_str_eq(e->data.dataset, "mnist");
    cr_expect_float_eq(e->data.mean[0], 0.1307, 1e-9, "MNIST's own statistics");
    cr_expect(e->data.augment.crop.on && e->data.augment.crop.size == 28);
    cr_expect_float_eq(e->data.augment.crop.scale[0], 0.08, 1e-12);
    cr_expect(e->data.augment.solarize.on && e->data.augment.solarize.threshold == 0.5);
    cr_expect(!e->data.augment.flip.on);
    cr_expect_eq(e->data.views, 2, "a contrastive method compares two views");
    cr_expect_eq(e->method.queue, 1024);
    cr_expect_float_eq(e->method.momentum, 0.99, 1e-12);
    cr_expect_eq(e->optimizer.kind, DSL_OPT_SGD);
    cr_expect_eq(e->schedule.kind, DSL_SCHED_CONSTANT);
    cr_expect(e->eval.knn && e->eval.knn_k == 200);
    cr_expect(e->checkpoint.every_epoch);
    cr_expect_eq(e->networks[0].args[1].i, 16);

    /* the student with its head, built into a graph */
    IrGraph *g = ir_graph_new("t");
    IrShape s = ir_shape_make(4, (int64_t[]){3, 1, 8, 8});
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &s), *f, *emb;
    DslInstanceOptions o = dsl_instance_options_default();
    cr_assert_eq(dsl_network_instantiate(e, &e->networks[0], g, "student.", x, &o, &f, &emb, &err), SD_OK, "%s", err.msg);
    cr_expect_eq(f->shape.dims[1], 16);
    cr_expect(emb->shape.rank == 2 && emb->shape.dims[0] == 3 && emb->shape.dims[1] == 16);
    cr_expect_not_null(ir_graph_find_value(g, "student.head.0.weight"));
    cr_expect_not_null(ir_graph_find_value(g, "student.head.1.running_mean"));
    cr_expect_not_null(ir_graph_find_value(g, "student.head.3.bias"));
    ir_graph_free(g);
    dsl_experiment_free(e);
    dsl_program_free(p);
}

Test(dsl_experiment, unknown_keys_and_sections_get_suggestions)
{
    expect_error("    epoch = 3\n", "r.sd:12:5: unknown key 'epoch' in 'experiment e'; did you mean 'epochs'?");
    expect_error("    optimiser sgd {}\n", "r.sd:12:5: unknown section 'optimiser' in 'experiment e'; did you mean 'optimizer'?");
    expect_error("    optimizer sgd { lerning_rate = 0.1 }\n", "r.sd:12:21: unknown key 'lerning_rate' in 'optimizer sgd'");
    expect_error("    optimizer sgd { weight_deacy = 0.1 }\n",
                 "r.sd:12:21: unknown key 'weight_deacy' in 'optimizer sgd'; did you mean 'weight_decay'?");
    expect_error("    schedule cosine { warmpu_epochs = 1 }\n", "did you mean 'warmup_epochs'?");
    expect_body_error("    epochs = 2\n    data { dataset = \"fashion-mnist\"; augment { flp { p = 0.5 } } }\n",
                      "r.sd:9:49: unknown section 'flp' in 'augment'; did you mean 'flip'?");
    expect_body_error("    epochs = 2\n    data { datset = \"mnist\" }\n", "r.sd:9:12: unknown key 'datset' in 'data'; did you mean 'dataset'?");
    expect_error("    eval { knn { k = 20; temprature = 0.1 } }\n",
                 "r.sd:12:26: unknown key 'temprature' in 'knn'; did you mean 'temperature'?");
}

Test(dsl_experiment, wrong_types_and_ranges)
{
    expect_error("    batch_size = 1.5\n", "r.sd:12:18: 'batch_size' takes an integer, not a number");
    expect_error("    batch_size = 0\n", "r.sd:12:18: 'batch_size' is 0; it must be from 1 to");
    expect_error("    optimizer sgd { lr = \"fast\" }\n", "r.sd:12:26: 'lr' takes a number, not a string");
    expect_error("    optimizer sgd { nesterov = 1 }\n", "r.sd:12:32: 'nesterov' takes true or false, not an integer");
    expect_error("    optimizer sgd { momentum = 1.5 }\n", "'momentum' is 1.5; it must be from 0 to 1");
    expect_error("    optimizer sgd { exclude = [\"bias\", 3] }\n", "'exclude' takes a list of strings, not an integer");
    expect_error("    optimizer sgd {}\n    optimizer adamw {}\n", "r.sd:13:5: 'optimizer' is given twice in 'experiment e' (first at line 12)");
    expect_error("    data2 = 1\n", "unknown key 'data2'");
    expect_error("    optimizer = sgd\n", "r.sd:12:5: 'optimizer' is a section: write 'optimizer { ... }'");
    expect_error("    seed { }\n", "r.sd:12:5: 'seed' is a value: write 'seed = ...'");
    expect_body_error("    epochs = 2\n    data { dataset = \"fashion-mnist\"; augment { crop { scale = [1.0, 0.5] } } }\n",
                      "crop: scale and ratio are [low, high] with 0 < low <= high");
    expect_body_error("    epochs = 2\n    data { dataset = \"fashion-mnist\"; augment { crop { scale = [0.5] } } }\n",
                      "'scale' takes a list of two numbers: 2 items, not 1");
    expect_body_error("    epochs = 2\n    data { dataset = \"imagenet\" }\n",
                      "r.sd:9:22: unknown dataset 'imagenet' (fashion-mnist or mnist)");
    expect_body_error("    epochs = 2\n    data { dataset = \"fashion-mnist\"; mean = [0.5] }\n", "give 'mean' and 'std' together");
}

Test(dsl_experiment, methods_optimizers_schedules_exports)
{
    expect_body_error("    epochs = 2\n    data { dataset = \"mnist\" }\n    network student { model = tiny() }\n    method sed {}\n",
                      "r.sd:11:12: 'method' is 'sed'; did you mean 'seed'? (one of: supervised, moco_v2, simclr, seed, dogo, crd, simclrv2)");
    expect_body_error("    epochs = 2\n    data { dataset = \"mnist\" }\n    network student { model = tiny() }\n"
                      "    method simclr { queue = 4096 }\n",
                      "r.sd:11:21: 'queue' does not apply to method simclr (its keys: temperature, dim)");
    expect_body_error("    epochs = 2\n    data { dataset = \"mnist\" }\n    network student { model = tiny() }\n    method {}\n",
                      "r.sd:11:5: 'method' needs a kind: 'method KIND { ... }'");
    expect_error("    optimizer adamw { momentum = 0.9 }\n", "r.sd:12:23: 'momentum' does not apply to optimizer adamw");
    expect_error("    optimizer lars { nesterov = true }\n", "'nesterov' does not apply to optimizer lars");
    expect_error("    schedule cosine { gamma = 0.1 }\n", "'gamma' does not apply to schedule cosine");
    expect_error("    schedule step {}\n", "schedule step needs 'milestones = [epoch, ...]'");
    expect_error("    schedule step { milestones = [5, 3] }\n", "milestones must increase");
    expect_error("    schedule step { milestones = [1, 2] }\n", "every milestone must come before the last epoch (2)");
    expect_error("    schedule cosine { warmup_epochs = 5 }\n", "the warmup (5 epochs) is longer than the training (2 epochs)");
    expect_error("    export tflite {}\n", "r.sd:12:12: 'export' is 'tflite'");
    expect_error("    export onnx { network = studnet }\n",
                 "the export names network 'studnet', which this experiment does not declare; did you mean 'student'?");
    expect_error("    export onnx { target = \"native\" }\n", "'target' applies to compiled exports (exe, bundle)");
    expect_error("    export exe { target = \"riscv\" }\n", "'target' is 'riscv'");
}

Test(dsl_experiment, networks_and_what_methods_need)
{
    const char *data = "    epochs = 2\n    batch_size = 32\n    data { dataset = \"mnist\" }\n";
    char body[2048];
#define BODY(...) (snprintf(body, sizeof body, "%s%s", data, __VA_ARGS__), body)
    expect_body_error(BODY("    network student { model = tini() }\n    method supervised {}\n"),
                      "r.sd:11:31: no model 'tini'; did you mean 'tiny'?");
    expect_body_error(BODY("    network student { model = tiny(clases = 3) }\n    method supervised {}\n"),
                      "r.sd:11:36: model 'tiny' has no parameter 'clases'; did you mean 'classes'?");
    expect_body_error(BODY("    network student { model = tiny(3) }\n    method supervised {}\n"),
                      "give the model's parameters by name");
    expect_body_error(BODY("    network s2 { model = tiny() }\n    method supervised {}\n"),
                      "network 's2' needs a role (student, teacher, momentum or peer)");
    expect_body_error(BODY("    network student { role = studnet; model = tiny() }\n    method supervised {}\n"),
                      "'role' is 'studnet'; did you mean 'student'?");
    expect_body_error(BODY("    network student {}\n    method supervised {}\n"),
                      "network 'student' needs 'model = ...' or 'onnx = \"file.onnx\"'");
    expect_body_error(BODY("    network student { model = tiny() }\n    method seed {}\n"),
                      "method seed distills from one teacher; declare 'network teacher { ... }'");
    expect_body_error(BODY("    network student { model = tiny() }\n    network teacher { onnx = \"t.onnx\" }\n"
                           "    method moco_v2 { queue = 64 }\n"),
                      "method moco_v2 uses no teacher");
    expect_body_error(BODY("    network student { model = tiny() }\n    method moco_v2 { queue = 100 }\n"),
                      "method moco_v2: the queue (100) must be a multiple of the batch size (32)");
    expect_body_error(BODY("    data { views = 1 }\n"), "'data' is given twice");
    expect_body_error(BODY("    network student { model = tiny() }\n    network k { role = momentum; of = studen }\n"
                           "    method moco_v2 { queue = 64 }\n"),
                      "'of' names network 'studen', which this experiment does not declare; did you mean 'student'?");
    expect_body_error(BODY("    network student { model = tiny() }\n    network k { role = momentum; of = student; model = tiny() }\n"
                           "    method moco_v2 { queue = 64 }\n"),
                      "a momentum network copies the one it follows");
    expect_body_error(BODY("    network student { model = tiny() }\n    network k { role = momentum; of = student; ema = 0.9 }\n"
                           "    method moco_v2 { queue = 64; momentum = 0.99 }\n"),
                      "network 'k' has ema 0.9 but method moco_v2 has momentum 0.99: give one");
    expect_body_error(BODY("    network student { model = tiny(classes = 0); head = [16, 64] }\n    method simclr { dim = 128 }\n"),
                      "network 'student': the head ends at 64 but the method's dim is 128");
    expect_body_error(BODY("    network student { model = tiny() }\n    method dogo { queue = 64 }\n"),
                      "method dogo trains two peers");
    expect_body_error(BODY("    network student { model = tiny(); frozen = true }\n    method supervised {}\n"),
                      "only a teacher is frozen");
    expect_body_error(BODY("    network student { model = tiny() }\n    method simclrv2 { stage = \"finetune\" }\n"),
                      "simclrv2 finetune trains on a fraction of the labels");
    expect_body_error(BODY("    network student { model = tiny() }\n    method simclrv2 { stage = \"tune\" }\n"),
                      "simclrv2: stage is pretrain, finetune or distill, not 'tune'");
    expect_body_error(BODY("    network student { model = tiny() }\n    method simclr {}\n    data2 { }\n"),
                      "unknown section 'data2'");
    expect_body_error("    data { dataset = \"mnist\" }\n    network student { model = tiny() }\n    method supervised {}\n",
                      "r.sd:7:12: experiment 'e' needs 'epochs = N'");
    expect_body_error(BODY("    method supervised {}\n"), "experiment 'e' declares no network");
#undef BODY
}

Test(dsl_experiment, choosing_an_experiment)
{
    DslProgram *p;
    SdError err = {0};
    DslExperiment *e;
    cr_assert_eq(dsl_load_file(source_path("examples/recipes/simclrv2.sd"), &p, &err), SD_OK, "%s", err.msg);
    cr_expect_eq(dsl_program_num_experiments(p), 5);
    cr_expect_str_eq(dsl_program_experiment_name(p, 1), "simclrv2_finetune_1pct");
    cr_expect_neq(dsl_experiment_load(p, NULL, &e, &err), SD_OK);
    cr_expect(strstr(err.msg, "declares 5 experiments: name one"), "%s", err.msg);
    cr_expect_neq(dsl_experiment_load(p, "simclrv2_distil_1pct", &e, &err), SD_OK);
    cr_expect(strstr(err.msg, "no experiment 'simclrv2_distil_1pct'; did you mean 'simclrv2_distill_1pct'?"), "%s",
              err.msg);
    dsl_program_free(p);
}
