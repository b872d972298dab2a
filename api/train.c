/* api/train.c — the training driver. Setup compiles the step (recipe -> training pipeline -> JIT)
 * and an inference model of the evaluated network; the loop feeds batches, sets the learning rate,
 * reads the loss and metrics; weights move to the evaluation model by name; checkpoints hold the
 * whole state arena plus the data position, so a resumed run continues exactly. */
#include "api/train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/driver.h"
#include "api/eval.h"
#include "api/recipe.h"
#include "api/report.h"
#include "api/train_internal.h"
#include "runtime/checkpoint.h"
#include "runtime/data/loader.h"
#include "runtime/schedule.h"
#include "support/mem.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static SdStatus make_dirs(const char *path, SdError *err)
{
    char buf[600];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return sd_errorf(err, SD_EIO, "cannot create '%s': %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return sd_errorf(err, SD_EIO, "cannot create '%s': %s", buf, strerror(errno));
    return SD_OK;
}

static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint64_t h = 0;
    char buf[4096];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        h = rt_hash64(buf, n, h);
    if (f)
        fclose(f);
    return h;
}

/* The data pipeline's view specs from the recipe. */
static void augment_config(const DslExperiment *e, int n_views, RtAugment *aug)
{
    const DslAugment *a = &e->data.augment;
    memset(aug, 0, sizeof *aug);
    RtViewSpec v = {.copies = n_views, .height = 28, .width = 28, .scale = {1, 1}, .ratio = {1, 1}, .blur_kernel = 1,
                    .blur_sigma = {1, 1}};
    if (a->crop.on) {
        v.height = v.width = (int)(a->crop.size > 0 ? a->crop.size : 28);
        v.scale[0] = (float)a->crop.scale[0], v.scale[1] = (float)a->crop.scale[1];
        v.ratio[0] = (float)a->crop.ratio[0], v.ratio[1] = (float)a->crop.ratio[1];
    }
    if (a->flip.on)
        v.flip_p = (float)a->flip.p;
    if (a->jitter.on)
        v.jitter_p = (float)a->jitter.p, v.brightness = (float)a->jitter.brightness,
        v.contrast = (float)a->jitter.contrast;
    if (a->blur.on) {
        v.blur_p = (float)a->blur.p;
        v.blur_kernel = (int)(a->blur.kernel > 0 ? a->blur.kernel : 3);
        v.blur_sigma[0] = (float)a->blur.sigma[0], v.blur_sigma[1] = (float)a->blur.sigma[1];
    }
    if (a->solarize.on)
        v.solarize_p = (float)a->solarize.p, v.solarize_threshold = (float)a->solarize.threshold;
    aug->specs[0] = v;
    aug->n_specs = 1;
    aug->mean[0] = e->data.n_norm ? (float)e->data.mean[0] : 0.2860f;
    aug->std[0] = e->data.n_norm ? (float)e->data.std[0] : 0.3530f;
}

static void schedule_config(const DslExperiment *e, int64_t epochs, int64_t steps_per_epoch, RtSchedule *s)
{
    const DslSchedule *d = &e->schedule;
    double lr = e->optimizer.lr;
    if (e->optimizer.lr_base_batch > 0)
        lr *= (double)e->batch_size / (double)e->optimizer.lr_base_batch;
    memset(s, 0, sizeof *s);
    s->kind = d->kind == DSL_SCHED_COSINE ? RT_SCHEDULE_COSINE : d->kind == DSL_SCHED_STEP ? RT_SCHEDULE_STEP
                                                                                            : RT_SCHEDULE_CONSTANT;
    s->lr = lr;
    /* warmup and the cosine are counted in steps, so fractional warmup epochs work */
    s->steps_per_epoch = 0;
    s->warmup = (int64_t)llround(d->warmup_epochs * (double)steps_per_epoch);
    s->warmup_start_lr = d->warmup_start * lr;
    s->total = epochs * steps_per_epoch;
    if (s->kind == RT_SCHEDULE_COSINE && s->warmup >= s->total) /* runs shorter than their warmup (quick runs) */
        s->warmup = s->total / 2;
    s->final_lr = d->min_lr;
    s->gamma = d->gamma;
    s->n_milestones = d->n_milestones < RT_SCHEDULE_MAX_MILESTONES ? d->n_milestones : RT_SCHEDULE_MAX_MILESTONES;
    for (int i = 0; i < s->n_milestones; i++)
        s->milestones[i] = d->milestones[i] * steps_per_epoch;
}

void trainer_free(Trainer *t)
{
    rt_loader_free(t->loader);
    sd_model_free(t->model);
    sd_model_free(t->eval_model);
    rt_dataset_free(&t->train);
    rt_dataset_free(&t->test);
    report_close(&t->rep);
    dsl_experiment_free(t->e);
    dsl_program_free(t->prog);
    memset(t, 0, sizeof *t);
}

/* Compiles the training step: recipe graph -> training pipeline -> JIT. */
static SdStatus compile_step(Trainer *t, SdError *err)
{
    RecipeStep step;
    SD_TRY(recipe_step_graph(t->e, t->e->batch_size, &step, err));
    char exclude[512];
    PassTrainOptions train = recipe_train_options(t->e, exclude, sizeof exclude);
    SdStatus st = sd_optimize_training(step.g, &t->sopt, &train, err);
    if (st == SD_OK)
        st = sd_model_compile(step.g, &t->sopt, &t->model, err);
    if (st != SD_OK) {
        ir_graph_free(step.g);
        return st;
    }
    t->n_views = step.n_views;
    t->has_labels = step.labels;
    t->n_metrics = step.n_metrics;
    memcpy(t->metric_names, step.metric_names, sizeof t->metric_names);
    t->lr_input = -1;
    for (int i = 0; i < sd_model_num_inputs(t->model); i++)
        if (strcmp(sd_model_input(t->model, i).name, "lr") == 0)
            t->lr_input = i;
    if (t->lr_input < 0)
        return sd_errorf(err, SD_EINTERNAL, "the compiled step has no 'lr' input");
    return SD_OK;
}

static SdStatus compile_eval(Trainer *t, SdError *err)
{
    const DslNetwork *net = t->e->eval.network[0] ? dsl_experiment_network(t->e, t->e->eval.network)
                                                  : dsl_experiment_role(t->e, DSL_ROLE_STUDENT);
    if (!net)
        return sd_errorf(err, SD_EUSAGE, "%s: no network to evaluate", t->e->name);
    t->eval_net = net;
    bool classifier = t->e->method.kind == DSL_METHOD_SUPERVISED;
    IrGraph *g;
    SD_TRY(recipe_inference_graph(t->e, net, 256, !classifier, &g, err));
    SdStatus st = sd_optimize(g, &t->sopt, NULL, NULL, NULL, err);
    if (st == SD_OK)
        st = sd_model_compile(g, &t->sopt, &t->eval_model, err);
    if (st != SD_OK)
        ir_graph_free(g);
    return st;
}

/* Copies every persistent value the evaluation model shares with the step, by name. */
static void sync_eval(Trainer *t)
{
    for (int i = 0; i < sd_model_num_state(t->eval_model); i++) {
        SdStateInfo dst = sd_model_state(t->eval_model, i);
        int k = sd_model_find_state(t->model, dst.name);
        if (k < 0)
            continue;
        SdStateInfo src = sd_model_state(t->model, k);
        if (src.nbytes == dst.nbytes)
            memcpy(dst.data, src.data, dst.nbytes);
    }
}

static SdStatus evaluate(Trainer *t, bool final, double *test_acc, double *knn, double *linear, SdError *err)
{
    *test_acc = *knn = *linear = NAN;
    if (t->opt.no_eval)
        return SD_OK;
    sync_eval(t);
    const DslEvaluation *ev = &t->e->eval;
    const float mean = t->aug.mean[0], std = t->aug.std[0];
    SdFeatures te = {0}, tr = {0};
    SdStatus st = sd_extract_features(t->eval_model, 0, &t->test, &mean, &std, &te, err);
    if (st == SD_OK && ev->accuracy && t->e->method.kind == DSL_METHOD_SUPERVISED) {
        int64_t correct = 0;
        for (int64_t i = 0; i < te.n; i++) {
            int64_t best = 0;
            for (int64_t c = 1; c < te.dim; c++)
                if (te.data[i * te.dim + c] > te.data[i * te.dim + best])
                    best = c;
            correct += best == te.labels[i];
        }
        *test_acc = te.n ? (double)correct / (double)te.n : 0;
    }
    bool want_knn = ev->knn && (final || (ev->every > 0 && t->epoch % ev->every == 0));
    bool want_linear = ev->linear && final;
    if (st == SD_OK && (want_knn || want_linear))
        st = sd_extract_features(t->eval_model, 0, &t->train, &mean, &std, &tr, err);
    if (st == SD_OK && want_knn)
        st = sd_knn_accuracy(&tr, &te, t->train.n_classes, (int)(ev->knn_k > 0 ? ev->knn_k : 200),
                             ev->knn_temperature > 0 ? ev->knn_temperature : 0.1, knn, err);
    if (st == SD_OK && want_linear) {
        SdProbeOptions po = sd_probe_options_default();
        st = sd_linear_probe(&tr, &te, t->train.n_classes, &po, linear, err);
    }
    sd_features_free(&te);
    sd_features_free(&tr);
    return st;
}

SdStatus sd_train(const char *recipe_path, const SdTrainOptions *opt, SdTrainResult *result, SdError *err)
{
    Trainer t = {0};
    memset(result, 0, sizeof *result);
    result->test_accuracy = result->knn_accuracy = result->linear_accuracy = -1;
    t.opt = *opt;
    SdStatus st = dsl_load_file(recipe_path, &t.prog, err);
    if (st == SD_OK)
        st = dsl_experiment_load(t.prog, opt->experiment, &t.e, err);
    if (st != SD_OK) {
        trainer_free(&t);
        return st;
    }
    const DslExperiment *e = t.e;
    t.sopt = sd_options_default();
    t.sopt.gemm = opt->gemm;
    t.sopt.threads = opt->threads ? opt->threads : (int)e->threads;
    snprintf(t.out_dir, sizeof t.out_dir, "%s", opt->out_dir ? opt->out_dir : e->out_dir[0] ? e->out_dir : "runs");
    t.epochs = opt->epochs ? opt->epochs : e->epochs;
    FILE *out = opt->out ? opt->out : stdout;
    st = make_dirs(t.out_dir, err);
    if (st == SD_OK)
        st = rt_dataset_load(e->data.dataset, RT_SPLIT_TRAIN, e->data.path[0] ? e->data.path : NULL, &t.train, err);
    if (st == SD_OK)
        st = rt_dataset_load(e->data.dataset, RT_SPLIT_TEST, e->data.path[0] ? e->data.path : NULL, &t.test, err);
    if (st == SD_OK && opt->train_images > 0)
        rt_dataset_truncate(&t.train, opt->train_images);
    double t_compile = now_s();
    if (st == SD_OK)
        st = compile_step(&t, err);
    if (st == SD_OK && !opt->no_eval)
        st = compile_eval(&t, err);
    if (st == SD_OK)
        fprintf(out, "seedc train: %s (%s), step compiled in %.1f s, output in %s\n", e->name,
                dsl_method_name(e->method.kind), now_s() - t_compile, t.out_dir);
    if (st == SD_OK)
        st = trainer_run(&t, recipe_path, result, err);
    snprintf(result->out_dir, sizeof result->out_dir, "%s", t.out_dir);
    trainer_free(&t);
    return st;
}

/* The loop, checkpoints and exports live in train_loop.c; shared helpers: */
SdStatus trainer_evaluate(Trainer *t, bool final, double *test_acc, double *knn, double *linear, SdError *err)
{
    return evaluate(t, final, test_acc, knn, linear, err);
}

void trainer_configure_data(Trainer *t, RtAugment *aug, RtSchedule *sched, int64_t steps_per_epoch)
{
    augment_config(t->e, t->n_views, aug);
    schedule_config(t->e, t->epochs, steps_per_epoch, sched);
}

uint64_t trainer_recipe_hash(const char *path, const char *experiment)
{
    return rt_hash64(experiment, strlen(experiment), file_hash(path));
}
