/* frontend/dsl/experiment_sections.c — the sections of an experiment (data, network, method,
 * optimizer, schedule, eval, checkpoint, export): each one's keys with their ranges, its defaults,
 * and the checks that hold within the section; the names of the choices they take. */
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/experiment_internal.h"

/* -- data -- */

#define T DslAugment
static const Key crop_keys[] = {
    NUM("size", K_INT, T, crop.size, 1, 4096), NUM("scale", K_PAIR, T, crop.scale, 0, 1),
    NUM("ratio", K_PAIR, T, crop.ratio, 0.01, 100), {0},
};
static const Key flip_keys[] = {NUM("p", K_FLOAT, T, flip.p, 0, 1), {0}};
static const Key jitter_keys[] = {
    NUM("brightness", K_FLOAT, T, jitter.brightness, 0, 10), NUM("contrast", K_FLOAT, T, jitter.contrast, 0, 10),
    NUM("p", K_FLOAT, T, jitter.p, 0, 1), {0},
};
static const Key blur_keys[] = {
    NUM("sigma", K_PAIR, T, blur.sigma, 0, 100), NUM("kernel", K_INT, T, blur.kernel, 1, 99),
    NUM("p", K_FLOAT, T, blur.p, 0, 1), {0},
};
static const Key solarize_keys[] = {NUM("threshold", K_FLOAT, T, solarize.threshold, 0, 1), NUM("p", K_FLOAT, T, solarize.p, 0, 1), {0}};
#undef T

static SdStatus sec_crop(X *x, const DslSection *s, void *b)
{
    DslAugment *a = b;
    a->crop.on = true;
    SD_TRY(dsl_exp_no_label(x, s));
    SD_TRY(dsl_exp_apply(x, s, crop_keys, NULL, a));
    if (a->crop.scale[0] > a->crop.scale[1] || a->crop.scale[0] <= 0 || a->crop.ratio[0] > a->crop.ratio[1])
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "crop: scale and ratio are [low, high] with 0 < low <= high");
    return SD_OK;
}
static SdStatus sec_flip(X *x, const DslSection *s, void *b)
{
    ((DslAugment *)b)->flip.on = true;
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, flip_keys, NULL, b);
}
static SdStatus sec_jitter(X *x, const DslSection *s, void *b)
{
    ((DslAugment *)b)->jitter.on = true;
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, jitter_keys, NULL, b);
}
static SdStatus sec_blur(X *x, const DslSection *s, void *b)
{
    DslAugment *a = b;
    a->blur.on = true;
    SD_TRY(dsl_exp_no_label(x, s));
    SD_TRY(dsl_exp_apply(x, s, blur_keys, NULL, b));
    if (a->blur.kernel % 2 == 0 || a->blur.sigma[0] > a->blur.sigma[1])
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "blur: the kernel size is odd and sigma is [low, high]");
    return SD_OK;
}
static SdStatus sec_solarize(X *x, const DslSection *s, void *b)
{
    ((DslAugment *)b)->solarize.on = true;
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, solarize_keys, NULL, b);
}

static const Sub augment_subs[] = {
    {"crop", sec_crop}, {"flip", sec_flip}, {"jitter", sec_jitter}, {"blur", sec_blur}, {"solarize", sec_solarize}, {0},
};

static SdStatus sec_augment(X *x, const DslSection *s, void *b)
{
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, NULL, augment_subs, &((DslData *)b)->augment);
}

#define T DslData
static const Key local_keys[] = {
    NUM("count", K_INT, T, local_views.count, 0, 64), NUM("size", K_INT, T, local_views.size, 1, 4096),
    NUM("scale", K_PAIR, T, local_views.scale, 0, 1), {0},
};
#undef T

static SdStatus sec_local_views(X *x, const DslSection *s, void *b)
{
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, local_keys, NULL, b);
}

static const char *const dataset_names[] = {"fashion-mnist", "mnist", NULL};

#define T DslData
static const Key data_keys[] = {
    STR("dataset", K_STR, T, dataset), STR("path", K_INPATH, T, path),
    LIST("mean", K_FLOATS, T, mean, n_norm, -10, 10), LIST("std", K_FLOATS, T, std, n_norm, 1e-6, 100),
    NUM("views", K_INT, T, views, 1, 64), NUM("label_fraction", K_FLOAT, T, label_fraction, 1e-6, 1),
    NUM("workers", K_INT, T, workers, 0, 256), {0},
};
#undef T

static const Sub data_subs[] = {{"augment", sec_augment}, {"local_views", sec_local_views}, {0}};

SdStatus dsl_exp_sec_data(X *x, const DslSection *s, void *b)
{
    DslData *d = &((DslExperiment *)b)->data;
    SD_TRY(dsl_exp_no_label(x, s));
    /* defaults of each augmentation, used when its section is present */
    d->augment = (DslAugment){
        .crop = {false, 28, {0.08, 1.0}, {3.0 / 4.0, 4.0 / 3.0}},
        .flip = {false, 0.5},
        .jitter = {false, 0.4, 0.4, 0.8},
        .blur = {false, {0.1, 2.0}, 3, 0.5},
        .solarize = {false, 0.5, 0.2},
    };
    d->local_views.size = 14;
    d->local_views.scale[0] = 0.05, d->local_views.scale[1] = 0.3;
    int means = 0;
    for (int i = 0; i < s->n; i++)
        means += strcmp(s->entries[i].key, "mean") == 0 || strcmp(s->entries[i].key, "std") == 0;
    SD_TRY(dsl_exp_apply(x, s, data_keys, data_subs, d));
    bool known = false;
    for (int i = 0; dataset_names[i]; i++)
        known = known || strcmp(d->dataset, dataset_names[i]) == 0;
    const DslEntry *ds = NULL;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->entries[i].key, "dataset") == 0)
            ds = &s->entries[i];
    if (!ds)
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "'data' needs 'dataset' (fashion-mnist or mnist)");
    if (!known) {
        char dym[128];
        return dsl_error(x->err, SD_EBADMODEL, ds->value->loc, "unknown dataset '%s'%s (fashion-mnist or mnist)",
                         d->dataset, dsl_did_you_mean(d->dataset, dataset_names, 2, dym, sizeof dym));
    }
    if (means == 1)
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "give 'mean' and 'std' together");
    if (!means) { /* the data set's own statistics */
        bool fashion = strcmp(d->dataset, "fashion-mnist") == 0;
        d->n_norm = 1;
        d->mean[0] = fashion ? 0.2860 : 0.1307;
        d->std[0] = fashion ? 0.3530 : 0.3081;
    }
    return SD_OK;
}

/* -- networks -- */

static const char *const role_names[] = {"student", "teacher", "momentum", "peer", NULL};

#define T DslNetwork
static const Key network_keys[] = {
    ENUM("role", T, role, role_names), {"model", K_MODEL, 0, 0, 0, 0, 0, NULL, 0},
    STR("onnx", K_INPATH, T, onnx), STR("output", K_STR, T, onnx_output), STR("checkpoint", K_STR, T, checkpoint),
    LIST("head", K_INTS, T, head.dims, head.n_dims, 1, 1 << 20), NUM("head_bn", K_BOOL, T, head.bn, 0, 0),
    NUM("head_last_bn", K_BOOL, T, head.last_bn, 0, 0), NUM("frozen", K_BOOL, T, frozen, 0, 0),
    STR("of", K_NET, T, momentum_of), NUM("ema", K_FLOAT, T, ema, 0, 1), {0},
};
#undef T

SdStatus dsl_exp_sec_network(X *x, const DslSection *s, void *b)
{
    DslExperiment *e = b;
    if (!s->label)
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "a network needs a name: 'network student { ... }'");
    for (int i = 0; i < e->n_networks; i++)
        if (strcmp(e->networks[i].name, s->label) == 0)
            return dsl_error(x->err, SD_EBADMODEL, s->label_loc, "network '%s' is declared twice", s->label);
    if (e->n_networks == DSL_MAX_NETWORKS)
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "at most %d networks", DSL_MAX_NETWORKS);
    DslNetwork *n = &e->networks[e->n_networks++];
    memset(n, 0, sizeof *n);
    if (strlen(s->label) >= sizeof n->name)
        return dsl_error(x->err, SD_EBADMODEL, s->label_loc, "network name too long");
    snprintf(n->name, sizeof n->name, "%s", s->label);
    n->loc = s->label_loc;
    n->ema = -1; /* the method's momentum unless given */
    n->head.bn = true;
    int role = -1;
    for (int i = 0; role_names[i]; i++)
        if (strcmp(role_names[i], n->name) == 0)
            role = i;
    bool has_role = false, has_frozen = false;
    for (int i = 0; i < s->n; i++) {
        has_role = has_role || strcmp(s->entries[i].key, "role") == 0;
        has_frozen = has_frozen || strcmp(s->entries[i].key, "frozen") == 0;
    }
    n->role = role >= 0 ? (DslRole)role : DSL_ROLE_STUDENT;
    SD_TRY(dsl_exp_apply(x, s, network_keys, NULL, n));
    if (!has_role && role < 0)
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "network '%s' needs a role (student, teacher, momentum or peer)",
                         n->name);
    if (!has_frozen)
        n->frozen = n->role == DSL_ROLE_TEACHER;
    int sources = (n->model != NULL) + (n->onnx[0] != 0);
    if (n->role == DSL_ROLE_MOMENTUM) {
        if (!n->momentum_of[0])
            return dsl_error(x->err, SD_EBADMODEL, s->loc, "a momentum network follows another: 'of = student'");
        if (sources)
            return dsl_error(x->err, SD_EBADMODEL, s->loc, "a momentum network copies the one it follows; it has no model of its own");
    } else {
        if (sources > 1)
            return dsl_error(x->err, SD_EBADMODEL, s->loc, "network '%s' has both 'model' and 'onnx'; give one", n->name);
        if (!sources && !(n->role == DSL_ROLE_TEACHER && n->checkpoint[0]))
            return dsl_error(x->err, SD_EBADMODEL, s->loc, "network '%s' needs 'model = ...' or 'onnx = \"file.onnx\"'%s",
                             n->name, n->role == DSL_ROLE_TEACHER ? " (or a 'checkpoint')" : "");
        if (n->momentum_of[0])
            return dsl_error(x->err, SD_EBADMODEL, s->loc, "'of' is for momentum networks");
    }
    if (n->onnx_output[0] && !n->onnx[0])
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "'output' names an output of the 'onnx' model");
    return SD_OK;
}

/* -- method -- */

static const char *const method_names[] = {"supervised", "moco_v2", "simclr", "seed", "dogo", "crd", "simclrv2", NULL};
static const char *const stage_names[] = {"pretrain", "finetune", "distill", NULL};

#define M(k) (1u << DSL_METHOD_##k)
#define T DslMethod
static const Key method_keys[] = {
    {"temperature", K_FLOAT, offsetof(T, temperature), 1e-6, 100, 0, 0, NULL,
     M(MOCO_V2) | M(SIMCLR) | M(DOGO) | M(CRD) | M(SIMCLRV2)},
    {"temperature_student", K_FLOAT, offsetof(T, temperature_student), 1e-6, 100, 0, 0, NULL, M(SEED)},
    {"temperature_teacher", K_FLOAT, offsetof(T, temperature_teacher), 1e-8, 100, 0, 0, NULL, M(SEED)},
    {"queue", K_INT, offsetof(T, queue), 1, 1 << 24, 0, 0, NULL, M(MOCO_V2) | M(SEED) | M(DOGO) | M(CRD)},
    {"momentum", K_FLOAT, offsetof(T, momentum), 0, 1, 0, 0, NULL, M(MOCO_V2) | M(CRD)},
    {"dim", K_INT, offsetof(T, dim), 1, 1 << 16, 0, 0, NULL,
     M(MOCO_V2) | M(SIMCLR) | M(SEED) | M(DOGO) | M(CRD) | M(SIMCLRV2)},
    {"kl_weight", K_FLOAT, offsetof(T, kl_weight), 0, 1e6, 0, 0, NULL, M(DOGO)},
    {"ssl_weight", K_FLOAT, offsetof(T, ssl_weight), 0, 1e6, 0, 0, NULL, M(DOGO)},
    {"crd_weight", K_FLOAT, offsetof(T, crd_weight), 0, 1e6, 0, 0, NULL, M(CRD)},
    {"label_smoothing", K_FLOAT, offsetof(T, label_smoothing), 0, 1, 0, 0, NULL, M(SUPERVISED)},
    {"stage", K_STR, offsetof(T, stage), 0, 0, sizeof(((T *)0)->stage), 0, NULL, M(SIMCLRV2)},
    {"finetune_from", K_INT, offsetof(T, finetune_from), 0, 16, 0, 0, NULL, M(SIMCLRV2)},
    {0},
};
#undef T

SdStatus dsl_exp_sec_method(X *x, const DslSection *s, void *b)
{
    DslMethod *m = &((DslExperiment *)b)->method;
    int kind;
    SD_TRY(dsl_exp_label_choice(x, s, method_names, &kind));
    static const DslMethod defaults[] = {
        [DSL_METHOD_SUPERVISED] = {.kind = DSL_METHOD_SUPERVISED},
        [DSL_METHOD_MOCO_V2] = {.kind = DSL_METHOD_MOCO_V2, .temperature = 0.2, .queue = 4096, .momentum = 0.99, .dim = 128},
        [DSL_METHOD_SIMCLR] = {.kind = DSL_METHOD_SIMCLR, .temperature = 0.5, .dim = 128},
        [DSL_METHOD_SEED] = {.kind = DSL_METHOD_SEED, .temperature_student = 0.2, .temperature_teacher = 0.01,
                             .queue = 4096, .dim = 128},
        [DSL_METHOD_DOGO] = {.kind = DSL_METHOD_DOGO, .temperature = 0.2, .queue = 4096, .dim = 128, .kl_weight = 1,
                             .ssl_weight = 1},
        [DSL_METHOD_CRD] = {.kind = DSL_METHOD_CRD, .temperature = 0.07, .queue = 4096, .momentum = 0.5, .dim = 128,
                            .crd_weight = 0.8},
        [DSL_METHOD_SIMCLRV2] = {.kind = DSL_METHOD_SIMCLRV2, .temperature = 0.5, .dim = 128, .stage = "pretrain",
                                 .finetune_from = 1},
    };
    *m = defaults[kind];
    m->loc = s->label_loc;
    /* keys of other methods: say which method they belong to */
    for (int i = 0; i < s->n; i++) {
        const DslEntry *en = &s->entries[i];
        for (const Key *k = method_keys; k->name; k++) {
            if (strcmp(k->name, en->key) != 0 || (k->methods & (1u << kind)))
                continue;
            SdStrbuf own = {0};
            for (const Key *o = method_keys; o->name; o++)
                if (o->methods & (1u << kind))
                    sd_strbuf_printf(&own, "%s%s", own.len ? ", " : "", o->name);
            SdStatus st = dsl_error(x->err, SD_EBADMODEL, en->loc, "'%s' does not apply to method %s (its keys: %s)",
                                    en->key, method_names[kind], own.len ? sd_strbuf_str(&own) : "none");
            sd_strbuf_free(&own);
            return st;
        }
    }
    SD_TRY(dsl_exp_apply(x, s, method_keys, NULL, m));
    if (kind == DSL_METHOD_SIMCLRV2) {
        bool ok = false;
        for (int i = 0; stage_names[i]; i++)
            ok = ok || strcmp(stage_names[i], m->stage) == 0;
        if (!ok)
            return dsl_error(x->err, SD_EBADMODEL, s->loc, "simclrv2: stage is pretrain, finetune or distill, not '%s'",
                             m->stage);
        if (strcmp(m->stage, "distill") == 0 && m->temperature == 0.5)
            m->temperature = 1.0; /* distillation temperature T, unless given */
    }
    return SD_OK;
}

/* -- optimizer and schedule -- */

static const char *const optimizer_names[] = {"sgd", "lars", "adamw", "lamb", NULL};

#define T DslOptimizer
static const Key optimizer_keys[] = {
    NUM("lr", K_FLOAT, T, lr, 1e-12, 1e3), NUM("lr_base_batch", K_INT, T, lr_base_batch, 0, 1 << 24),
    NUM("momentum", K_FLOAT, T, momentum, 0, 1), NUM("nesterov", K_BOOL, T, nesterov, 0, 0),
    NUM("weight_decay", K_FLOAT, T, weight_decay, 0, 10), NUM("beta1", K_FLOAT, T, beta1, 0, 1),
    NUM("beta2", K_FLOAT, T, beta2, 0, 1), NUM("eps", K_FLOAT, T, eps, 0, 1),
    NUM("trust_coefficient", K_FLOAT, T, trust_coefficient, 0, 10),
    {"exclude", K_NAMES, offsetof(T, exclude), 0, 0, DSL_MAX_EXCLUDE, offsetof(T, n_exclude), NULL, 0},
    NUM("clip_grad_norm", K_FLOAT, T, clip_grad_norm, 0, 1e9), {0},
};
#undef T

SdStatus dsl_exp_sec_optimizer(X *x, const DslSection *s, void *b)
{
    DslOptimizer *o = &((DslExperiment *)b)->optimizer;
    int kind;
    SD_TRY(dsl_exp_label_choice(x, s, optimizer_names, &kind));
    static const DslOptimizer defaults[] = {
        [DSL_OPT_SGD] = {.kind = DSL_OPT_SGD, .lr = 0.1, .momentum = 0.9},
        [DSL_OPT_LARS] = {.kind = DSL_OPT_LARS, .lr = 0.3, .momentum = 0.9, .trust_coefficient = 0.001,
                          .weight_decay = 1e-6},
        [DSL_OPT_ADAMW] = {.kind = DSL_OPT_ADAMW, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                           .weight_decay = 0.01},
        [DSL_OPT_LAMB] = {.kind = DSL_OPT_LAMB, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-6,
                          .weight_decay = 0.01},
    };
    *o = defaults[kind];
    o->loc = s->label_loc;
    static const char *const sgd_only[] = {"nesterov", NULL}, *const moment_keys[] = {"momentum", NULL},
                             *const adam_keys[] = {"beta1", "beta2", "eps", NULL}, *const lars_keys[] = {"trust_coefficient", NULL};
    for (int i = 0; i < s->n; i++) {
        const char *k = s->entries[i].key;
        const char *const *groups[] = {sgd_only, moment_keys, adam_keys, lars_keys};
        bool allowed[] = {kind == DSL_OPT_SGD, kind == DSL_OPT_SGD || kind == DSL_OPT_LARS,
                          kind == DSL_OPT_ADAMW || kind == DSL_OPT_LAMB, kind == DSL_OPT_LARS};
        for (int g = 0; g < 4; g++)
            for (int j = 0; groups[g][j]; j++)
                if (strcmp(groups[g][j], k) == 0 && !allowed[g])
                    return dsl_error(x->err, SD_EBADMODEL, s->entries[i].loc, "'%s' does not apply to optimizer %s", k,
                                     optimizer_names[kind]);
    }
    SD_TRY(dsl_exp_apply(x, s, optimizer_keys, NULL, o));
    if (!o->n_exclude) { /* the usual: no decay on biases and normalization parameters */
        snprintf(o->exclude[0], DSL_NAME_MAX, "bias");
        snprintf(o->exclude[1], DSL_NAME_MAX, "norm");
        o->n_exclude = 2;
    }
    return SD_OK;
}

static const char *const schedule_names[] = {"constant", "cosine", "step", NULL};

#define T DslSchedule
static const Key schedule_keys[] = {
    NUM("warmup_epochs", K_FLOAT, T, warmup_epochs, 0, 1e6), NUM("warmup_start", K_FLOAT, T, warmup_start, 0, 1),
    NUM("min_lr", K_FLOAT, T, min_lr, 0, 1e3), LIST("milestones", K_INTS, T, milestones, n_milestones, 1, 1e9),
    NUM("gamma", K_FLOAT, T, gamma, 0, 1), {0},
};
#undef T

SdStatus dsl_exp_sec_schedule(X *x, const DslSection *s, void *b)
{
    DslSchedule *sc = &((DslExperiment *)b)->schedule;
    int kind;
    SD_TRY(dsl_exp_label_choice(x, s, schedule_names, &kind));
    *sc = (DslSchedule){.kind = (DslScheduleKind)kind, .gamma = 0.1};
    for (int i = 0; i < s->n; i++) {
        const char *k = s->entries[i].key;
        bool step_key = strcmp(k, "milestones") == 0 || strcmp(k, "gamma") == 0;
        if ((step_key && kind != DSL_SCHED_STEP) || (strcmp(k, "min_lr") == 0 && kind != DSL_SCHED_COSINE))
            return dsl_error(x->err, SD_EBADMODEL, s->entries[i].loc, "'%s' does not apply to schedule %s", k,
                             schedule_names[kind]);
    }
    SD_TRY(dsl_exp_apply(x, s, schedule_keys, NULL, sc));
    if (kind == DSL_SCHED_STEP && sc->n_milestones == 0)
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "schedule step needs 'milestones = [epoch, ...]'");
    for (int i = 1; i < sc->n_milestones; i++)
        if (sc->milestones[i] <= sc->milestones[i - 1])
            return dsl_error(x->err, SD_EBADMODEL, s->loc, "schedule step: milestones must increase");
    return SD_OK;
}

/* -- evaluation, checkpoints, exports -- */

#define T DslEvaluation
static const Key knn_keys[] = {NUM("k", K_INT, T, knn_k, 1, 1 << 20), NUM("temperature", K_FLOAT, T, knn_temperature, 1e-6, 100), {0}};
static const Key linear_keys[] = {
    NUM("epochs", K_INT, T, linear_epochs, 1, 10000), NUM("lr", K_FLOAT, T, linear_lr, 1e-9, 1e3),
    NUM("batch_size", K_INT, T, linear_batch, 1, 1 << 20), NUM("weight_decay", K_FLOAT, T, linear_weight_decay, 0, 10),
    {0},
};
static const Key eval_keys[] = {
    STR("network", K_NET, T, network), NUM("knn", K_BOOL, T, knn, 0, 0), NUM("linear", K_BOOL, T, linear, 0, 0),
    NUM("accuracy", K_BOOL, T, accuracy, 0, 0),
    NUM("every", K_INT, T, every, 0, 1 << 20), {0},
};
#undef T

static SdStatus sec_knn(X *x, const DslSection *s, void *b)
{
    ((DslEvaluation *)b)->knn = true;
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, knn_keys, NULL, b);
}
static SdStatus sec_linear(X *x, const DslSection *s, void *b)
{
    ((DslEvaluation *)b)->linear = true;
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, linear_keys, NULL, b);
}
static const Sub eval_subs[] = {{"knn", sec_knn}, {"linear", sec_linear}, {0}};

SdStatus dsl_exp_sec_eval(X *x, const DslSection *s, void *b)
{
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, eval_keys, eval_subs, &((DslExperiment *)b)->eval);
}

#define T DslCheckpoint
static const Key checkpoint_keys[] = {
    NUM("every_steps", K_INT, T, every_steps, 0, 1e12), NUM("every_epoch", K_BOOL, T, every_epoch, 0, 0),
    NUM("keep", K_INT, T, keep, 0, 1 << 20), {0},
};
#undef T

SdStatus dsl_exp_sec_checkpoint(X *x, const DslSection *s, void *b)
{
    SD_TRY(dsl_exp_no_label(x, s));
    return dsl_exp_apply(x, s, checkpoint_keys, NULL, &((DslExperiment *)b)->checkpoint);
}

static const char *const export_names[] = {"onnx", "exe", "bundle", NULL};
static const char *const gemm_names[] = {"openblas", "builtin", NULL};
static const char *const target_names[] = {"native", "x86-64-v3", "x86-64-v4", "aarch64-linux-gnu", NULL};

#define T DslExport
static const Key export_keys[] = {
    STR("network", K_NET, T, network), STR("path", K_STR, T, path), NUM("head", K_BOOL, T, with_head, 0, 0),
    STR("target", K_STR, T, target), STR("gemm", K_STR, T, gemm), {0},
};
#undef T

SdStatus dsl_exp_sec_export(X *x, const DslSection *s, void *b)
{
    DslExperiment *e = b;
    int kind;
    SD_TRY(dsl_exp_label_choice(x, s, export_names, &kind));
    if (e->n_exports == DSL_MAX_EXPORTS)
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "at most %d exports", DSL_MAX_EXPORTS);
    DslExport *ex = &e->exports[e->n_exports++];
    *ex = (DslExport){.kind = (DslExportKind)kind, .loc = s->label_loc};
    snprintf(ex->target, sizeof ex->target, "native");
    snprintf(ex->gemm, sizeof ex->gemm, "openblas");
    for (int i = 0; i < s->n; i++) {
        const char *k = s->entries[i].key;
        if ((strcmp(k, "target") == 0 || strcmp(k, "gemm") == 0) && kind == DSL_EXPORT_ONNX)
            return dsl_error(x->err, SD_EBADMODEL, s->entries[i].loc, "'%s' applies to compiled exports (exe, bundle)", k);
    }
    SD_TRY(dsl_exp_apply(x, s, export_keys, NULL, ex));
    for (int i = 0; i < s->n; i++) {
        const DslEntry *en = &s->entries[i];
        int dummy;
        if (strcmp(en->key, "target") == 0)
            SD_TRY(dsl_exp_set_choice(x, en, ex->target, target_names, &dummy));
        if (strcmp(en->key, "gemm") == 0)
            SD_TRY(dsl_exp_set_choice(x, en, ex->gemm, gemm_names, &dummy));
    }
    if (!ex->path[0])
        snprintf(ex->path, sizeof ex->path, "%s%s", "student", kind == DSL_EXPORT_ONNX ? ".onnx" : "");
    return SD_OK;
}

const char *dsl_method_name(DslMethodKind k) { return method_names[k]; }
const char *dsl_role_name(DslRole r) { return role_names[r]; }
const char *dsl_optimizer_name(DslOptimizerKind k) { return optimizer_names[k]; }
const char *dsl_schedule_name(DslScheduleKind k) { return schedule_names[k]; }
const char *dsl_export_name(DslExportKind k) { return export_names[k]; }
