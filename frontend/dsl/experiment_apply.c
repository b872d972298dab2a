/* frontend/dsl/experiment_apply.c — applying a section's key table: each value evaluated, checked
 * for type and range and stored where its key says; nested sections handed to their functions;
 * unknown keys answered with the closest known one. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/experiment_internal.h"

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

SdStatus dsl_exp_set_choice(X *x, const DslEntry *en, const char *s, const char *const *choices, int *out)
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
        return dsl_exp_set_choice(x, en, v.u.s, k->choices, (int *)dst);
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

/* "data", "method seed", "experiment supervised_fmnist" */
static const char *section_name(const DslSection *s, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s", s->key, s->label ? " " : "", s->label ? s->label : "");
    return buf;
}

SdStatus dsl_exp_apply(X *x, const DslSection *s, const Key *keys, const Sub *subs, void *base)
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

SdStatus dsl_exp_no_label(X *x, const DslSection *s)
{
    if (s->label)
        return dsl_error(x->err, SD_EBADMODEL, s->label_loc, "'%s' takes no name: write '%s { ... }'", s->key, s->key);
    return SD_OK;
}

SdStatus dsl_exp_label_choice(X *x, const DslSection *s, const char *const *choices, int *out)
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
    return dsl_exp_set_choice(x, &fake, s->label, choices, out);
}
