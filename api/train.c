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
#include "codegen/target.h"
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

/* data.label_fraction: the labelled subset semi-supervised fine-tuning trains on, balanced over
 * the classes (round(fraction * n / classes) images of each, SimCLRv2's 1% and 10% subsets are
 * balanced too), drawn from the seed and kept in data-set order. */
static void label_fraction(RtDataset *d, double fraction, uint64_t seed, FILE *out)
{
    int64_t n = d->n, per_class = llround(fraction * (double)n / (double)(d->n_classes > 0 ? d->n_classes : 1));
    if (per_class < 1)
        per_class = 1;
    int64_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order), taken[256] = {0};
    unsigned char *keep = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!order || !keep) {
        free(order), free(keep);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    uint64_t s = seed ^ 0x6c6162656c73ull; /* Fisher-Yates with an xorshift stream */
    for (int64_t i = n - 1; i > 0; i--) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int64_t j = (int64_t)(s % (uint64_t)(i + 1)), tmp = order[i];
        order[i] = order[j], order[j] = tmp;
    }
    for (int64_t i = 0; i < n; i++) {
        int c = d->labels[order[i]];
        if (taken[c] < per_class)
            taken[c]++, keep[order[i]] = 1;
    }
    size_t image = (size_t)d->channels * (size_t)d->height * (size_t)d->width;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (keep[i]) {
            memmove(d->images + (size_t)m * image, d->images + (size_t)i * image, image);
            d->labels[m++] = d->labels[i];
        }
    d->n = m;
    free(order), free(keep);
    fprintf(out, "seedc train: %lld labelled training images (%g of %lld, %lld per class)\n", (long long)m, fraction,
            (long long)n, (long long)per_class);
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

/* Optimizer state in a checkpoint: not a network's weights. */
static bool optimizer_state(const char *name)
{
    static const char *const suffixes[] = {".momentum_buffer", ".exp_avg", ".exp_avg_sq", NULL};
    size_t n = strlen(name);
    for (int i = 0; suffixes[i]; i++) {
        size_t k = strlen(suffixes[i]);
        if (n >= k && strcmp(name + n - k, suffixes[i]) == 0)
            return true;
    }
    return strncmp(name, "optimizer.", 10) == 0;
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Appends a name to a short list for a message ("a, b, c and 4 more"). */
static void note(char *buf, size_t size, int *count, const char *name)
{
    if (*count < 4) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", *count ? ", " : "", name);
    }
    ++*count;
}

static void note_end(char *buf, size_t size, int count)
{
    size_t used = strlen(buf);
    if (count > 4)
        snprintf(buf + used, size - used, " and %d more", count - 4);
}

/* network.checkpoint: the weights of `net` (and of the key encoder that follows it) in the step
 * graph, by name, from a seedc checkpoint file or the newest checkpoint of a run folder, before
 * anything is compiled, so that frozen teachers (constants) get them too. A checkpoint holds a
 * run's values under that run's network names: "NAME/..." when it has the network's name, else
 * "student/..." (the trained network of any run). Names missing on either side are reported;
 * tensors whose shapes differ (a cut projection head) keep their initialization. */
static SdStatus load_network_checkpoint(Trainer *t, IrGraph *g, const DslNetwork *net, SdError *err)
{
    FILE *out = t->opt.out ? t->opt.out : stdout;
    char path[1024];
    struct stat sb;
    if (stat(net->checkpoint, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        bool found = false;
        SD_TRY(rt_ckpt_latest(net->checkpoint, "ckpt", path, sizeof path, NULL, &found, err));
        if (!found)
            return sd_errorf(err, SD_EIO, "%s:%d:%d: network '%s': no checkpoint (ckpt-*.ckpt) in '%s' (run the stage "
                             "that writes it first)", net->loc.file, net->loc.line, net->loc.col, net->name,
                             net->checkpoint);
    } else {
        snprintf(path, sizeof path, "%s", net->checkpoint);
    }
    RtCheckpoint *ck;
    SdStatus st = rt_ckpt_read(path, &ck, err);
    if (st != SD_OK)
        return sd_error_prefix(err, "%s:%d:%d: network '%s'", net->loc.file, net->loc.line, net->loc.col, net->name);
    char own[DSL_NAME_MAX + 2], key[DSL_NAME_MAX + 8], src[DSL_NAME_MAX + 2] = "student/";
    recipe_prefix(net, own, sizeof own);
    recipe_momentum_prefix(t->e, net, key, sizeof key);
    for (int i = 0; i < rt_ckpt_n_blobs(ck); i++)
        if (starts_with(rt_ckpt_blob_name(ck, i), own))
            snprintf(src, sizeof src, "%s", own);
    int loaded = 0, missing = 0, shaped = 0, unused = 0;
    char missing_s[300] = "", shaped_s[300] = "", unused_s[300] = "";
    unsigned char *used = calloc((size_t)rt_ckpt_n_blobs(ck) + 1, 1);
    if (!used) {
        rt_ckpt_free(ck);
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    }
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->role == IR_ROLE_TEMP || v->role == IR_ROLE_INPUT || !v->data)
            continue;
        const char *rest = starts_with(v->name, own) ? v->name + strlen(own)
                           : starts_with(v->name, key) ? v->name + strlen(key) : NULL;
        if (!rest)
            continue;
        char name[600];
        snprintf(name, sizeof name, "%s%s", src, rest);
        size_t size;
        const void *data = rt_ckpt_find(ck, name, &size);
        for (int k = 0; data && k < rt_ckpt_n_blobs(ck); k++)
            if (strcmp(rt_ckpt_blob_name(ck, k), name) == 0)
                used[k] = 1;
        if (!data) { /* a frozen network's weights are constants, and so are its structural ones (eps) */
            if (v->role != IR_ROLE_CONSTANT)
                note(missing_s, sizeof missing_s, &missing, v->name);
        }
        else if (size != v->nbytes)
            note(shaped_s, sizeof shaped_s, &shaped, v->name);
        else
            memcpy(v->data, data, size), loaded++;
    }
    for (int k = 0; k < rt_ckpt_n_blobs(ck); k++) {
        const char *b = rt_ckpt_blob_name(ck, k);
        if (!used[k] && starts_with(b, src) && !optimizer_state(b))
            note(unused_s, sizeof unused_s, &unused, b);
    }
    free(used);
    rt_ckpt_free(ck);
    if (!loaded)
        return sd_errorf(err, SD_EUSAGE, "%s:%d:%d: network '%s': no tensor of it is in %s (its values are named "
                         "'%s...', the checkpoint's '%s...')", net->loc.file, net->loc.line, net->loc.col, net->name,
                         path, own, src);
    fprintf(out, "seedc train: network '%s' starts from %s: %d tensors loaded", net->name, path, loaded);
    if (missing) {
        note_end(missing_s, sizeof missing_s, missing);
        fprintf(out, "; %d not in the checkpoint (initialized): %s", missing, missing_s);
    }
    if (shaped) {
        note_end(shaped_s, sizeof shaped_s, shaped);
        fprintf(out, "; %d of another shape there (initialized): %s", shaped, shaped_s);
    }
    if (unused) {
        note_end(unused_s, sizeof unused_s, unused);
        fprintf(out, "; %d in the checkpoint unused: %s", unused, unused_s);
    }
    fprintf(out, "\n");
    return SD_OK;
}

/* Compiles the training step: recipe graph -> network checkpoints -> training pipeline -> JIT. */
static SdStatus compile_step(Trainer *t, SdError *err)
{
    RecipeStep step;
    SD_TRY(recipe_step_graph(t->e, t->e->batch_size, t->train.n, &step, err));
    SdStatus st = SD_OK;
    for (int i = 0; i < t->e->n_networks && st == SD_OK; i++)
        if (t->e->networks[i].checkpoint[0] && t->e->networks[i].role != DSL_ROLE_MOMENTUM)
            st = load_network_checkpoint(t, step.g, &t->e->networks[i], err);
    char exclude[512];
    PassTrainOptions train = recipe_train_options(t->e, exclude, sizeof exclude);
    if (st == SD_OK)
        st = sd_optimize_training(step.g, &t->sopt, &train, err);
    if (st == SD_OK)
        st = sd_model_compile(step.g, &t->sopt, &t->model, err);
    if (st != SD_OK) {
        ir_graph_free(step.g);
        return st;
    }
    t->n_views = step.n_views;
    t->has_labels = step.labels;
    t->labels_input = step.labels_input;
    t->indices_input = step.indices_input;
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
    bool classifier = recipe_classifier(t->e);
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
    if (st == SD_OK && ev->accuracy && recipe_classifier(t->e)) {
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

/* --let NAME=VALUE options into t->lets and, normalized, t->lets_text. */
static SdStatus parse_lets(Trainer *t, const SdTrainOptions *opt, SdError *err)
{
    if (opt->n_lets > DSL_MAX_ARGS)
        return sd_errorf(err, SD_EUSAGE, "at most %d lets can be given, not %d", DSL_MAX_ARGS, opt->n_lets);
    size_t used = 0;
    for (int i = 0; i < opt->n_lets; i++) {
        SD_TRY(dsl_arg_parse(opt->lets[i], &t->lets[i], err));
        char one[DSL_PATH_MAX + 64];
        dsl_arg_format(&t->lets[i], one, sizeof one);
        int w = snprintf(t->lets_text + used, sizeof t->lets_text - used, "%s%s", i ? "\n" : "", one);
        if (w < 0 || (size_t)w >= sizeof t->lets_text - used)
            return sd_errorf(err, SD_EUSAGE, "the lets given are longer than %d characters together",
                             RT_CKPT_VALUE_MAX);
        used += (size_t)w;
    }
    t->n_lets = opt->n_lets;
    return SD_OK;
}

SdStatus sd_train(const char *recipe_path, const SdTrainOptions *opt, SdTrainResult *result, SdError *err)
{
    Trainer t = {0};
    memset(result, 0, sizeof *result);
    result->test_accuracy = result->knn_accuracy = result->linear_accuracy = -1;
    t.opt = *opt;
    SdStatus st = parse_lets(&t, opt, err);
    if (st == SD_OK)
        st = dsl_load_file_lets(recipe_path, t.lets, t.n_lets, &t.prog, err);
    if (st == SD_OK)
        st = dsl_experiment_load(t.prog, opt->experiment, &t.e, err);
    if (st != SD_OK) {
        trainer_free(&t);
        return st;
    }
    const DslExperiment *e = t.e;
    t.sopt = sd_options_default();
    t.sopt.gemm = opt->gemm ? opt->gemm : "builtin"; /* 2.2x OpenBLAS on a MoCo ResNet-18 step (bench/RESULTS.md) */
    t.sopt.threads = opt->threads ? opt->threads : (int)e->threads;
    t.sopt.disable = opt->disable;
    snprintf(t.out_dir, sizeof t.out_dir, "%s", opt->out_dir ? opt->out_dir : e->out_dir[0] ? e->out_dir : "runs");
    t.epochs = opt->epochs ? opt->epochs : e->epochs;
    FILE *out = opt->out ? opt->out : stdout;
    st = make_dirs(t.out_dir, err);
    if (st == SD_OK)
        st = rt_dataset_load(e->data.dataset, RT_SPLIT_TRAIN, e->data.path[0] ? e->data.path : NULL, &t.train, err);
    if (st == SD_OK)
        st = rt_dataset_load(e->data.dataset, RT_SPLIT_TEST, e->data.path[0] ? e->data.path : NULL, &t.test, err);
    if (st == SD_OK && e->data.label_fraction < 1)
        label_fraction(&t.train, e->data.label_fraction, (uint64_t)e->seed, out);
    if (st == SD_OK && opt->train_images > 0)
        rt_dataset_truncate(&t.train, opt->train_images);
    double t_compile = now_s();
    /* the step's, not the evaluation's nor the exports' */
    t.sopt.profile = opt->profile;
    t.sopt.precision = opt->precision ? opt->precision : e->precision == 1 ? "bf16" : NULL;
    if (st == SD_OK)
        st = sd_check_precision(t.sopt.precision, err);
    if (st == SD_OK)
        st = compile_step(&t, err);
    const bool bf16 = sd_wants_bf16(&t.sopt);
    t.bf16 = bf16;
    if (st == SD_OK && bf16 && !cg_host_has_lowp())
        fprintf(out, "seedc train: note: this CPU has no AVX512-BF16: the bf16 products run as plain C loops, "
                     "slower than fp32\n");
    t.sopt.profile = false;
    t.sopt.precision = NULL;
    if (st == SD_OK && !opt->no_eval)
        st = compile_eval(&t, err);
    if (st == SD_OK) {
        fprintf(out, "seedc train: %s (%s%s), step compiled in %.1f s, output in %s\n", e->name,
                dsl_method_name(e->method.kind), bf16 ? ", bf16 products" : "", now_s() - t_compile, t.out_dir);
        for (int i = 0; i < t.n_lets; i++) {
            char one[DSL_PATH_MAX + 64];
            dsl_arg_format(&t.lets[i], one, sizeof one);
            fprintf(out, "seedc train: let %s\n", one);
        }
    }
    if (st == SD_OK)
        st = trainer_run(&t, recipe_path, result, err);
    if (st == SD_OK && opt->profile && sd_model_profile_print(t.model, out, opt->profile_top) != SD_OK)
        st = sd_errorf(err, SD_ENOMEM, "out of memory printing the profile");
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

uint64_t trainer_recipe_hash(const char *path, const char *experiment, const char *lets_text, bool bf16)
{
    uint64_t h = rt_hash64(experiment, strlen(experiment), file_hash(path));
    h = lets_text[0] ? rt_hash64(lets_text, strlen(lets_text), h) : h;
    return bf16 ? rt_hash64("precision bf16", 14, h) : h; /* fp32 runs keep the hash they always had */
}
