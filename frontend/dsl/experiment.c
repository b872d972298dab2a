/* frontend/dsl/experiment.c — an `experiment` block validated into DslExperiment. Each section has
 * a table of keys (name, type, where it goes, allowed range); an unknown key or section is an
 * error that suggests the closest known one, a wrong type or a value out of range names the key
 * and what it takes. Values are DSL expressions (`queue = 16 * 256`, `let`s in sight); a bare
 * name stands for itself where a choice is expected (`role = teacher`). After the sections are
 * read, the whole is checked: roles, references between networks, what each method needs. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/lower.h"

typedef enum KType {
    K_INT,    /* int64_t */
    K_FLOAT,  /* double */
    K_BOOL,   /* bool */
    K_STR,    /* char[size] */
    K_INPATH, /* char[size], resolved relative to the recipe's folder */
    K_PAIR,   /* double[2] */
    K_FLOATS, /* double[max], count at count_off (int) */
    K_INTS,   /* int64_t[max], count at count_off (int) */
    K_NAMES,  /* char[max][DSL_NAME_MAX], count at count_off (int) */
    K_ENUM,   /* int, index into choices */
    K_NET,    /* char[DSL_NAME_MAX]: a network of this experiment */
    K_MODEL,  /* a DSL model call: DslNetwork.model and .args */
} KType;

typedef struct Key {
    const char *name;
    KType type;
    size_t off;
    double lo, hi;               /* numbers: the allowed range */
    size_t size;                 /* K_STR/K_INPATH: buffer bytes; lists: max items */
    size_t count_off;            /* lists: where the count goes */
    const char *const *choices;  /* K_ENUM */
    unsigned methods;            /* method keys: the methods it applies to (bit per DslMethodKind), 0: all */
} Key;

#define NUM(n, t, T, f, lo, hi) {n, t, offsetof(T, f), lo, hi, 0, 0, NULL, 0}
#define STR(n, t, T, f) {n, t, offsetof(T, f), 0, 0, sizeof(((T *)0)->f), 0, NULL, 0}
#define LIST(n, t, T, f, cnt, lo, hi) \
    {n, t, offsetof(T, f), lo, hi, sizeof(((T *)0)->f) / sizeof(((T *)0)->f[0]), offsetof(T, cnt), NULL, 0}
#define ENUM(n, T, f, ch) {n, K_ENUM, offsetof(T, f), 0, 0, 0, 0, ch, 0}
#define BIG 1e18

typedef struct X {
    const DslProgram *p;
    DslExperiment *e;
    SdError *err;
    DslEval E;
    DslArena arena;
    char dir[DSL_PATH_MAX]; /* the recipe's folder, "" for the working one */
} X;

/* ---- values ---- */

/* A bare name that is no `let` evaluates to itself (a choice such as `role = teacher`). */
static SdStatus eval_entry(X *x, const DslEntry *en, DslValue *out)
{
    const DslExpr *v = en->value;
    if (v->kind == E_NAME && !dsl_global(x->p, v->u.name)) {
        *out = (DslValue){.kind = V_STR, .u.s = v->u.name};
        return SD_OK;
    }
    return dsl_eval_expr(&x->E, v, out);
}

static SdStatus bad_type(X *x, const DslEntry *en, const char *want, const DslValue *v)
{
    return dsl_error(x->err, SD_EBADMODEL, en->value->loc, "'%s' takes %s, not %s", en->key, want, dsl_kind_name(v->kind));
}

static SdStatus check_range(X *x, const DslEntry *en, const Key *k, double v)
{
    if (v < k->lo || v > k->hi || isnan(v)) {
        if (k->hi >= BIG)
            return dsl_error(x->err, SD_EBADMODEL, en->value->loc, "'%s' is %g; it must be at least %g", en->key, v, k->lo);
        return dsl_error(x->err, SD_EBADMODEL, en->value->loc, "'%s' is %g; it must be from %g to %g", en->key, v, k->lo,
                         k->hi);
    }
    return SD_OK;
}

static SdStatus set_string(X *x, const DslEntry *en, const char *s, char *dst, size_t size)
{
    if (strlen(s) >= size)
        return dsl_error(x->err, SD_EBADMODEL, en->value->loc, "'%s' is longer than %zu characters", en->key, size - 1);
    memcpy(dst, s, strlen(s) + 1);
    return SD_OK;
}

static SdStatus set_choice(X *x, const DslEntry *en, const char *s, const char *const *choices, int *out)
{
    int n = 0;
    for (; choices[n]; n++)
        if (strcmp(choices[n], s) == 0) {
            *out = n;
            return SD_OK;
        }
    SdStrbuf b = {0};
    for (int i = 0; i < n; i++)
        sd_strbuf_printf(&b, "%s%s", i ? ", " : "", choices[i]);
    char dym[128];
    SdStatus st = dsl_error(x->err, SD_EBADMODEL, en->value->loc, "'%s' is '%s'%s (one of: %s)", en->key, s,
                            dsl_did_you_mean(s, choices, n, dym, sizeof dym), sd_strbuf_str(&b));
    sd_strbuf_free(&b);
    return st;
}

static SdStatus set_model(X *x, const DslEntry *en, DslNetwork *net)
{
    const DslExpr *v = en->value;
    const char *callee = v->kind == E_CALL ? v->u.call.callee : v->kind == E_NAME ? v->u.name : NULL;
    if (!callee)
        return dsl_error(x->err, SD_EBADMODEL, v->loc, "'model' takes a model, as in 'model = resnet10(widths = [16, 32, 64, 128])'");
    const DslModel *m = dsl_program_find_model(x->p, callee);
    if (!m) {
        const char *cands[64];
        int n = 0;
        for (int i = 0; i < x->p->n_models && n < 64; i++)
            cands[n++] = x->p->models[i].decl->name;
        char dym[128];
        return dsl_error(x->err, SD_EBADMODEL, v->loc, "no model '%s'%s%s", callee,
                         dsl_did_you_mean(callee, cands, n, dym, sizeof dym),
                         n ? "" : " (import the file that declares it: import \"models/resnet10.sd\")");
    }
    net->model = m;
    net->n_args = 0;
    const DslDecl *d = m->decl;
    for (int i = 0; v->kind == E_CALL && i < v->u.call.n; i++) {
        const DslArg *a = &v->u.call.args[i];
        if (!a->name)
            return dsl_error(x->err, SD_EBADMODEL, a->loc, "give the model's parameters by name ('widths = [16, 32]')");
        const char *cands[64];
        int nc = 0, found = -1;
        for (int k = 0; k < d->n_params; k++) {
            if (nc < 64)
                cands[nc++] = d->params[k].name;
            if (strcmp(d->params[k].name, a->name) == 0)
                found = k;
        }
        if (found < 0) {
            char dym[128];
            return dsl_error(x->err, SD_EBADMODEL, a->loc, "model '%s' has no parameter '%s'%s", d->name, a->name,
                             dsl_did_you_mean(a->name, cands, nc, dym, sizeof dym));
        }
        if (net->n_args == DSL_MAX_ARGS)
            return dsl_error(x->err, SD_EBADMODEL, a->loc, "at most %d model arguments", DSL_MAX_ARGS);
        DslValue val;
        SD_TRY(dsl_eval_expr(&x->E, a->value, &val));
        char why[128];
        if (!dsl_value_to_arg(&val, a->name, &net->args[net->n_args], why, sizeof why))
            return dsl_error(x->err, SD_EBADMODEL, a->value->loc, "%s", why);
        net->n_args++;
    }
    return SD_OK;
}

static SdStatus set_value(X *x, const DslEntry *en, const Key *k, void *base)
{
    char *dst = (char *)base + k->off;
    DslValue v;
    if (k->type == K_MODEL)
        return set_model(x, en, base);
    SD_TRY(eval_entry(x, en, &v));
    switch (k->type) {
    case K_INT:
        if (v.kind != V_INT)
            return bad_type(x, en, "an integer", &v);
        SD_TRY(check_range(x, en, k, (double)v.u.i));
        *(int64_t *)dst = v.u.i;
        return SD_OK;
    case K_FLOAT:
        if (!dsl_value_is_number(&v))
            return bad_type(x, en, "a number", &v);
        SD_TRY(check_range(x, en, k, dsl_value_number(&v)));
        *(double *)dst = dsl_value_number(&v);
        return SD_OK;
    case K_BOOL:
        if (v.kind != V_BOOL)
            return bad_type(x, en, "true or false", &v);
        *(bool *)dst = v.u.b;
        return SD_OK;
    case K_STR:
    case K_NET:
        if (v.kind != V_STR)
            return bad_type(x, en, k->type == K_NET ? "a network's name" : "a string", &v);
        return set_string(x, en, v.u.s, dst, k->type == K_NET ? DSL_NAME_MAX : k->size);
    case K_INPATH: {
        if (v.kind != V_STR)
            return bad_type(x, en, "a file name", &v);
        char path[2 * DSL_PATH_MAX];
        if (v.u.s[0] == '/' || !x->dir[0])
            snprintf(path, sizeof path, "%s", v.u.s);
        else
            snprintf(path, sizeof path, "%s/%s", x->dir, v.u.s);
        return set_string(x, en, path, dst, k->size);
    }
    case K_ENUM:
        if (v.kind != V_STR)
            return bad_type(x, en, "a name", &v);
        return set_choice(x, en, v.u.s, k->choices, (int *)dst);
    case K_PAIR:
    case K_FLOATS:
    case K_INTS:
    case K_NAMES: {
        size_t max = k->type == K_PAIR ? 2 : k->size;
        const char *want = k->type == K_PAIR ? "a list of two numbers" : k->type == K_INTS ? "a list of integers"
                         : k->type == K_NAMES ? "a list of strings" : "a list of numbers";
        if (v.kind != V_LIST)
            return bad_type(x, en, want, &v);
        if ((size_t)v.u.list.n > max || (k->type == K_PAIR && v.u.list.n != 2))
            return dsl_error(x->err, SD_EBADMODEL, en->value->loc, "'%s' takes %s%s%zu items, not %d", en->key, want,
                             k->type == K_PAIR ? ": " : " of at most ", max, v.u.list.n);
        for (int i = 0; i < v.u.list.n; i++) {
            const DslValue *it = &v.u.list.items[i];
            if (k->type == K_NAMES) {
                if (it->kind != V_STR)
                    return bad_type(x, en, want, it);
                SD_TRY(set_string(x, en, it->u.s, dst + (size_t)i * DSL_NAME_MAX, DSL_NAME_MAX));
                continue;
            }
            if (k->type == K_INTS ? it->kind != V_INT : !dsl_value_is_number(it))
                return dsl_error(x->err, SD_EBADMODEL, en->value->loc, "'%s' takes %s; item %d is %s", en->key, want, i,
                                 dsl_kind_name(it->kind));
            SD_TRY(check_range(x, en, k, dsl_value_number(it)));
            if (k->type == K_INTS)
                ((int64_t *)dst)[i] = it->u.i;
            else
                ((double *)dst)[i] = dsl_value_number(it);
        }
        if (k->type != K_PAIR)
            *(int *)((char *)base + k->count_off) = v.u.list.n;
        return SD_OK;
    }
    case K_MODEL:
        break;
    }
    return dsl_error(x->err, SD_EINTERNAL, en->loc, "bad key type");
}

/* ---- sections ---- */

typedef SdStatus (*SectionFn)(X *x, const DslSection *s, void *base);

typedef struct Sub {
    const char *name;
    SectionFn fn;
} Sub;

/* "data", "method seed", "experiment supervised_fmnist" */
static const char *section_name(const DslSection *s, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", s->key, s->label ? " " : "", s->label ? s->label : "");
    return buf;
}

/* Applies every entry of s: values by `keys`, sections by `subs`. */
static SdStatus apply(X *x, const DslSection *s, const Key *keys, const Sub *subs, void *base)
{
    const char *names[96];
    int n = 0;
    for (const Key *k = keys; k && k->name && n < 90; k++)
        names[n++] = k->name;
    for (const Sub *u = subs; u && u->name && n < 95; u++)
        names[n++] = u->name;
    char where[DSL_NAME_MAX + 32];
    section_name(s, where, sizeof where);
    for (int i = 0; i < s->n; i++) {
        const DslEntry *en = &s->entries[i];
        for (int j = 0; j < i; j++)
            if (strcmp(s->entries[j].key, en->key) == 0 && !(en->section && strcmp(en->key, "network") == 0) &&
                !(en->section && strcmp(en->key, "export") == 0))
                return dsl_error(x->err, SD_EBADMODEL, en->loc, "'%s' is given twice in '%s' (first at line %d)", en->key,
                                 where, s->entries[j].loc.line);
        const Key *key = NULL;
        const Sub *sub = NULL;
        for (const Key *k = keys; k && k->name; k++)
            if (strcmp(k->name, en->key) == 0)
                key = k;
        for (const Sub *u = subs; u && u->name; u++)
            if (strcmp(u->name, en->key) == 0)
                sub = u;
        if (en->section && sub) {
            SD_TRY(sub->fn(x, en->section, base));
        } else if (!en->section && key) {
            SD_TRY(set_value(x, en, key, base));
        } else if (en->section && key) {
            return dsl_error(x->err, SD_EBADMODEL, en->loc, "'%s' is a value: write '%s = ...'", en->key, en->key);
        } else if (!en->section && sub) {
            return dsl_error(x->err, SD_EBADMODEL, en->loc, "'%s' is a section: write '%s { ... }'", en->key, en->key);
        } else {
            char dym[128];
            return dsl_error(x->err, SD_EBADMODEL, en->loc, "unknown %s '%s' in '%s'%s", en->section ? "section" : "key",
                             en->key, where, dsl_did_you_mean(en->key, names, n, dym, sizeof dym));
        }
    }
    return SD_OK;
}

static SdStatus no_label(X *x, const DslSection *s)
{
    if (s->label)
        return dsl_error(x->err, SD_EBADMODEL, s->label_loc, "'%s' takes no name: write '%s { ... }'", s->key, s->key);
    return SD_OK;
}

/* `key LABEL { ... }`: the label is one of choices. */
static SdStatus label_choice(X *x, const DslSection *s, const char *const *choices, int *out)
{
    if (!s->label) {
        SdStrbuf b = {0};
        for (int i = 0; choices[i]; i++)
            sd_strbuf_printf(&b, "%s%s", i ? ", " : "", choices[i]);
        SdStatus st = dsl_error(x->err, SD_EBADMODEL, s->loc, "'%s' needs a kind: '%s KIND { ... }' with KIND one of %s",
                                s->key, s->key, sd_strbuf_str(&b));
        sd_strbuf_free(&b);
        return st;
    }
    DslEntry fake = {.key = s->key, .loc = s->label_loc};
    DslExpr e = {.kind = E_STRING, .loc = s->label_loc};
    fake.value = &e;
    return set_choice(x, &fake, s->label, choices, out);
}

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
    SD_TRY(no_label(x, s));
    SD_TRY(apply(x, s, crop_keys, NULL, a));
    if (a->crop.scale[0] > a->crop.scale[1] || a->crop.scale[0] <= 0 || a->crop.ratio[0] > a->crop.ratio[1])
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "crop: scale and ratio are [low, high] with 0 < low <= high");
    return SD_OK;
}
static SdStatus sec_flip(X *x, const DslSection *s, void *b)
{
    ((DslAugment *)b)->flip.on = true;
    SD_TRY(no_label(x, s));
    return apply(x, s, flip_keys, NULL, b);
}
static SdStatus sec_jitter(X *x, const DslSection *s, void *b)
{
    ((DslAugment *)b)->jitter.on = true;
    SD_TRY(no_label(x, s));
    return apply(x, s, jitter_keys, NULL, b);
}
static SdStatus sec_blur(X *x, const DslSection *s, void *b)
{
    DslAugment *a = b;
    a->blur.on = true;
    SD_TRY(no_label(x, s));
    SD_TRY(apply(x, s, blur_keys, NULL, b));
    if (a->blur.kernel % 2 == 0 || a->blur.sigma[0] > a->blur.sigma[1])
        return dsl_error(x->err, SD_EBADMODEL, s->loc, "blur: the kernel size is odd and sigma is [low, high]");
    return SD_OK;
}
static SdStatus sec_solarize(X *x, const DslSection *s, void *b)
{
    ((DslAugment *)b)->solarize.on = true;
    SD_TRY(no_label(x, s));
    return apply(x, s, solarize_keys, NULL, b);
}

static const Sub augment_subs[] = {
    {"crop", sec_crop}, {"flip", sec_flip}, {"jitter", sec_jitter}, {"blur", sec_blur}, {"solarize", sec_solarize}, {0},
};

static SdStatus sec_augment(X *x, const DslSection *s, void *b)
{
    SD_TRY(no_label(x, s));
    return apply(x, s, NULL, augment_subs, &((DslData *)b)->augment);
}

#define T DslData
static const Key local_keys[] = {
    NUM("count", K_INT, T, local_views.count, 0, 64), NUM("size", K_INT, T, local_views.size, 1, 4096),
    NUM("scale", K_PAIR, T, local_views.scale, 0, 1), {0},
};
#undef T

static SdStatus sec_local_views(X *x, const DslSection *s, void *b)
{
    SD_TRY(no_label(x, s));
    return apply(x, s, local_keys, NULL, b);
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

static SdStatus sec_data(X *x, const DslSection *s, void *b)
{
    DslData *d = &((DslExperiment *)b)->data;
    SD_TRY(no_label(x, s));
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
    SD_TRY(apply(x, s, data_keys, data_subs, d));
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

static SdStatus sec_network(X *x, const DslSection *s, void *b)
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
    SD_TRY(apply(x, s, network_keys, NULL, n));
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

static SdStatus sec_method(X *x, const DslSection *s, void *b)
{
    DslMethod *m = &((DslExperiment *)b)->method;
    int kind;
    SD_TRY(label_choice(x, s, method_names, &kind));
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
    SD_TRY(apply(x, s, method_keys, NULL, m));
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

static SdStatus sec_optimizer(X *x, const DslSection *s, void *b)
{
    DslOptimizer *o = &((DslExperiment *)b)->optimizer;
    int kind;
    SD_TRY(label_choice(x, s, optimizer_names, &kind));
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
    SD_TRY(apply(x, s, optimizer_keys, NULL, o));
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

static SdStatus sec_schedule(X *x, const DslSection *s, void *b)
{
    DslSchedule *sc = &((DslExperiment *)b)->schedule;
    int kind;
    SD_TRY(label_choice(x, s, schedule_names, &kind));
    *sc = (DslSchedule){.kind = (DslScheduleKind)kind, .gamma = 0.1};
    for (int i = 0; i < s->n; i++) {
        const char *k = s->entries[i].key;
        bool step_key = strcmp(k, "milestones") == 0 || strcmp(k, "gamma") == 0;
        if ((step_key && kind != DSL_SCHED_STEP) || (strcmp(k, "min_lr") == 0 && kind != DSL_SCHED_COSINE))
            return dsl_error(x->err, SD_EBADMODEL, s->entries[i].loc, "'%s' does not apply to schedule %s", k,
                             schedule_names[kind]);
    }
    SD_TRY(apply(x, s, schedule_keys, NULL, sc));
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
    SD_TRY(no_label(x, s));
    return apply(x, s, knn_keys, NULL, b);
}
static SdStatus sec_linear(X *x, const DslSection *s, void *b)
{
    ((DslEvaluation *)b)->linear = true;
    SD_TRY(no_label(x, s));
    return apply(x, s, linear_keys, NULL, b);
}
static const Sub eval_subs[] = {{"knn", sec_knn}, {"linear", sec_linear}, {0}};

static SdStatus sec_eval(X *x, const DslSection *s, void *b)
{
    SD_TRY(no_label(x, s));
    return apply(x, s, eval_keys, eval_subs, &((DslExperiment *)b)->eval);
}

#define T DslCheckpoint
static const Key checkpoint_keys[] = {
    NUM("every_steps", K_INT, T, every_steps, 0, 1e12), NUM("every_epoch", K_BOOL, T, every_epoch, 0, 0),
    NUM("keep", K_INT, T, keep, 0, 1 << 20), {0},
};
#undef T

static SdStatus sec_checkpoint(X *x, const DslSection *s, void *b)
{
    SD_TRY(no_label(x, s));
    return apply(x, s, checkpoint_keys, NULL, &((DslExperiment *)b)->checkpoint);
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

static SdStatus sec_export(X *x, const DslSection *s, void *b)
{
    DslExperiment *e = b;
    int kind;
    SD_TRY(label_choice(x, s, export_names, &kind));
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
    SD_TRY(apply(x, s, export_keys, NULL, ex));
    for (int i = 0; i < s->n; i++) {
        const DslEntry *en = &s->entries[i];
        int dummy;
        if (strcmp(en->key, "target") == 0)
            SD_TRY(set_choice(x, en, ex->target, target_names, &dummy));
        if (strcmp(en->key, "gemm") == 0)
            SD_TRY(set_choice(x, en, ex->gemm, gemm_names, &dummy));
    }
    if (!ex->path[0])
        snprintf(ex->path, sizeof ex->path, "%s%s", "student", kind == DSL_EXPORT_ONNX ? ".onnx" : "");
    return SD_OK;
}

/* -- the experiment -- */

#define T DslExperiment
static const Key experiment_keys[] = {
    NUM("epochs", K_INT, T, epochs, 1, 1e6), NUM("batch_size", K_INT, T, batch_size, 1, 1 << 20),
    NUM("seed", K_INT, T, seed, 0, 9e18), NUM("threads", K_INT, T, threads, 0, 1024),
    NUM("steps_per_epoch", K_INT, T, steps_per_epoch, 0, 1e12), STR("out_dir", K_STR, T, out_dir), {0},
};
#undef T

static const Sub experiment_subs[] = {
    {"data", sec_data}, {"network", sec_network}, {"method", sec_method}, {"optimizer", sec_optimizer},
    {"schedule", sec_schedule}, {"eval", sec_eval}, {"checkpoint", sec_checkpoint}, {"export", sec_export}, {0},
};

static SdStatus need_network(X *x, DslLoc loc, const char *what, const char *name)
{
    if (!name[0] || dsl_experiment_network(x->e, name))
        return SD_OK;
    const char *cands[DSL_MAX_NETWORKS];
    for (int i = 0; i < x->e->n_networks; i++)
        cands[i] = x->e->networks[i].name;
    char dym[128];
    return dsl_error(x->err, SD_EBADMODEL, loc, "%s names network '%s', which this experiment does not declare%s", what,
                     name, dsl_did_you_mean(name, cands, x->e->n_networks, dym, sizeof dym));
}

static const DslSection *find_section(const DslSection *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (s->entries[i].section && strcmp(s->entries[i].key, key) == 0)
            return s->entries[i].section;
    return NULL;
}

/* Whether the method section gives `key` itself. */
static bool method_sets(const DslSection *s, const char *key)
{
    const DslSection *m = find_section(s, "method");
    for (int i = 0; m && i < m->n; i++)
        if (strcmp(m->entries[i].key, key) == 0)
            return true;
    return false;
}

static int count_role(const DslExperiment *e, DslRole r)
{
    int n = 0;
    for (int i = 0; i < e->n_networks; i++)
        n += e->networks[i].role == r;
    return n;
}

/* What holds only for the whole: the method's networks, views, queue sizes, references. */
static SdStatus check_experiment(X *x, const DslSection *s)
{
    DslExperiment *e = x->e;
    static const char *const required[] = {"data", "method", NULL};
    for (int i = 0; required[i]; i++)
        if (!find_section(s, required[i]))
            return dsl_error(x->err, SD_EBADMODEL, e->loc, "experiment '%s' needs a '%s { ... }' section", e->name,
                             required[i]);
    if (e->n_networks == 0)
        return dsl_error(x->err, SD_EBADMODEL, e->loc, "experiment '%s' declares no network ('network student { model = ... }')",
                         e->name);
    const DslMethod *m = &e->method;
    const char *mname = method_names[m->kind];
    if (count_role(e, DSL_ROLE_STUDENT) != 1)
        return dsl_error(x->err, SD_EBADMODEL, e->loc, "experiment '%s' has %d student networks; exactly one is trained as the student",
                         e->name, count_role(e, DSL_ROLE_STUDENT));
    bool distill = m->kind == DSL_METHOD_SEED || m->kind == DSL_METHOD_CRD ||
                   (m->kind == DSL_METHOD_SIMCLRV2 && strcmp(m->stage, "distill") == 0);
    if (distill && count_role(e, DSL_ROLE_TEACHER) != 1)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s distills from one teacher; declare 'network teacher { ... }'",
                         mname);
    if (!distill && m->kind != DSL_METHOD_SIMCLRV2 && count_role(e, DSL_ROLE_TEACHER))
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s uses no teacher", mname);
    if (m->kind == DSL_METHOD_DOGO && count_role(e, DSL_ROLE_PEER) != 1)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method dogo trains two peers: declare the second as 'role = peer'");
    if (m->kind != DSL_METHOD_DOGO && count_role(e, DSL_ROLE_PEER))
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "only method dogo trains peers");
    if (count_role(e, DSL_ROLE_MOMENTUM) && m->kind != DSL_METHOD_MOCO_V2 && m->kind != DSL_METHOD_DOGO)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s uses no momentum encoder", mname);
    for (int i = 0; i < e->n_networks; i++) {
        DslNetwork *n = &e->networks[i];
        if (n->role == DSL_ROLE_MOMENTUM && n->ema < 0)
            n->ema = m->kind == DSL_METHOD_MOCO_V2 ? m->momentum : 0.99;
        else if (n->role == DSL_ROLE_MOMENTUM && m->kind == DSL_METHOD_MOCO_V2 && n->ema != m->momentum &&
                 method_sets(s, "momentum"))
            return dsl_error(x->err, SD_EBADMODEL, n->loc, "network '%s' has ema %g but method moco_v2 has momentum %g: give one",
                             n->name, n->ema, m->momentum);
        SD_TRY(need_network(x, n->loc, "'of'", n->momentum_of));
        if (n->role == DSL_ROLE_MOMENTUM && strcmp(n->momentum_of, n->name) == 0)
            return dsl_error(x->err, SD_EBADMODEL, n->loc, "a momentum network cannot follow itself");
        if (n->role == DSL_ROLE_MOMENTUM) {
            const DslNetwork *of = dsl_experiment_network(e, n->momentum_of);
            if (of->role == DSL_ROLE_MOMENTUM || of->role == DSL_ROLE_TEACHER)
                return dsl_error(x->err, SD_EBADMODEL, n->loc, "a momentum network follows a trained network, not a %s",
                                 role_names[of->role]);
        }
        if (n->role != DSL_ROLE_TEACHER && n->frozen)
            return dsl_error(x->err, SD_EBADMODEL, n->loc, "only a teacher is frozen");
        bool needs_head = m->kind != DSL_METHOD_SUPERVISED && n->role != DSL_ROLE_MOMENTUM &&
                          !(n->role == DSL_ROLE_TEACHER && n->onnx[0]);
        if (n->head.n_dims && m->kind != DSL_METHOD_SUPERVISED && n->head.dims[n->head.n_dims - 1] != m->dim &&
            n->role != DSL_ROLE_TEACHER)
            return dsl_error(x->err, SD_EBADMODEL, n->loc, "network '%s': the head ends at %lld but the method's dim is %lld",
                             n->name, (long long)n->head.dims[n->head.n_dims - 1], (long long)m->dim);
        (void)needs_head;
    }
    /* views: contrastive methods compare two views of each image */
    bool two_views = m->kind == DSL_METHOD_MOCO_V2 || m->kind == DSL_METHOD_SIMCLR || m->kind == DSL_METHOD_DOGO ||
                     (m->kind == DSL_METHOD_SIMCLRV2 && strcmp(m->stage, "pretrain") == 0);
    if (!e->data.views)
        e->data.views = two_views ? 2 : 1;
    else if (two_views && e->data.views < 2)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s compares two views of each image: views must be at least 2",
                         mname);
    bool queued = m->kind == DSL_METHOD_MOCO_V2 || m->kind == DSL_METHOD_SEED || m->kind == DSL_METHOD_DOGO;
    if (queued && m->queue % e->batch_size)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s: the queue (%lld) must be a multiple of the batch size (%lld)",
                         mname, (long long)m->queue, (long long)e->batch_size);
    if (m->kind == DSL_METHOD_SIMCLRV2 && strcmp(m->stage, "finetune") == 0 && e->data.label_fraction >= 1)
        return dsl_error(x->err, SD_EBADMODEL, m->loc,
                         "simclrv2 finetune trains on a fraction of the labels: set data { label_fraction = 0.01 }");
    if (e->schedule.warmup_epochs > (double)e->epochs)
        return dsl_error(x->err, SD_EBADMODEL, e->loc, "the warmup (%g epochs) is longer than the training (%lld epochs)",
                         e->schedule.warmup_epochs, (long long)e->epochs);
    if (e->schedule.n_milestones && e->schedule.milestones[e->schedule.n_milestones - 1] >= e->epochs)
        return dsl_error(x->err, SD_EBADMODEL, e->loc, "schedule step: every milestone must come before the last epoch (%lld)",
                         (long long)e->epochs);
    for (int i = 0; i < e->n_exports; i++)
        SD_TRY(need_network(x, e->exports[i].loc, "the export", e->exports[i].network));
    SD_TRY(need_network(x, e->loc, "eval", e->eval.network));
    return SD_OK;
}

SdStatus dsl_experiment_load(const DslProgram *p, const char *name, DslExperiment **out, SdError *err)
{
    *out = NULL;
    const DslDecl *d = NULL;
    int n = 0, n_root = 0;
    const char *cands[64];
    for (int i = 0; i < p->n_decls; i++) {
        const DslDecl *k = p->decls[i];
        if (k->kind != D_EXPERIMENT)
            continue;
        if (n < 64)
            cands[n++] = k->name;
        if (name ? strcmp(k->name, name) == 0 : k->in_root)
            d = k;
        n_root += k->in_root;
    }
    if (!name && n_root > 1)
        return sd_errorf(err, SD_EUSAGE, "%s declares %d experiments: name one", p->path, n_root);
    if (!d) {
        char dym[128];
        if (name)
            return sd_errorf(err, SD_EUSAGE, "%s: no experiment '%s'%s", p->path, name,
                             dsl_did_you_mean(name, cands, n, dym, sizeof dym));
        return sd_errorf(err, SD_EUSAGE, "%s declares no experiment", p->path);
    }
    DslExperiment *e = calloc(1, sizeof *e);
    if (!e)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    X x = {.p = p, .e = e, .err = err};
    dsl_eval_init(&x.E, p, &x.arena, err);
    const char *slash = strrchr(d->loc.file, '/');
    if (slash)
        snprintf(x.dir, sizeof x.dir, "%.*s", (int)(slash - d->loc.file), d->loc.file);
    snprintf(e->name, sizeof e->name, "%s", d->name);
    e->loc = d->loc;
    e->program = p;
    e->batch_size = 256;
    e->data.label_fraction = 1;
    e->eval = (DslEvaluation){.knn = true, .accuracy = true, .knn_k = 200, .knn_temperature = 0.1, .linear_epochs = 10,
                              .linear_lr = 0.1, .linear_batch = 256, .every = 1};
    e->checkpoint.every_epoch = true;
    e->schedule = (DslSchedule){.kind = DSL_SCHED_CONSTANT, .gamma = 0.1};
    e->optimizer = (DslOptimizer){.kind = DSL_OPT_SGD, .lr = 0.1, .momentum = 0.9, .n_exclude = 2,
                                  .exclude = {"bias", "norm"}};
    bool has_epochs = false;
    for (int i = 0; i < d->section->n; i++)
        has_epochs = has_epochs || strcmp(d->section->entries[i].key, "epochs") == 0;
    SdStatus st = apply(&x, d->section, experiment_keys, experiment_subs, e);
    if (st == SD_OK && !has_epochs)
        st = dsl_error(err, SD_EBADMODEL, e->loc, "experiment '%s' needs 'epochs = N'", e->name);
    if (st == SD_OK)
        st = check_experiment(&x, d->section);
    if (st == SD_OK && !e->out_dir[0])
        snprintf(e->out_dir, sizeof e->out_dir, "runs/%s", e->name);
    dsl_arena_free(&x.arena);
    if (st != SD_OK) {
        free(e);
        return st;
    }
    *out = e;
    return SD_OK;
}

void dsl_experiment_free(DslExperiment *e) { free(e); }

int dsl_program_num_experiments(const DslProgram *p)
{
    int n = 0;
    for (int i = 0; i < p->n_decls; i++)
        n += p->decls[i]->kind == D_EXPERIMENT && p->decls[i]->in_root;
    return n;
}

const char *dsl_program_experiment_name(const DslProgram *p, int i)
{
    for (int k = 0; k < p->n_decls; k++)
        if (p->decls[k]->kind == D_EXPERIMENT && p->decls[k]->in_root && i-- == 0)
            return p->decls[k]->name;
    return NULL;
}

const DslNetwork *dsl_experiment_network(const DslExperiment *e, const char *name)
{
    for (int i = 0; i < e->n_networks; i++)
        if (strcmp(e->networks[i].name, name) == 0)
            return &e->networks[i];
    return NULL;
}

const DslNetwork *dsl_experiment_role(const DslExperiment *e, DslRole role)
{
    for (int i = 0; i < e->n_networks; i++)
        if (e->networks[i].role == role)
            return &e->networks[i];
    return NULL;
}

const char *dsl_method_name(DslMethodKind k) { return method_names[k]; }
const char *dsl_role_name(DslRole r) { return role_names[r]; }
const char *dsl_optimizer_name(DslOptimizerKind k) { return optimizer_names[k]; }
const char *dsl_schedule_name(DslScheduleKind k) { return schedule_names[k]; }
const char *dsl_export_name(DslExportKind k) { return export_names[k]; }
