/* frontend/dsl/program.c — loading a .sd file and its imports into one program, the checks that
 * need every declaration (duplicate names, a model's single `input`), and the public entry points
 * for models: selecting one, its declared input, instantiating it into a graph. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/eval.h"

enum { MAX_FILE_BYTES = 4 << 20, MAX_FILES = 64 };

typedef struct Loader {
    DslProgram *p;
    SdError *err;
    char *loaded[MAX_FILES]; /* real paths */
    int n_loaded;
    int cap_decls;
} Loader;

static SdStatus read_file(const char *path, DslLoc from, char **out, size_t *len, SdError *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (from.file)
            return dsl_error(err, SD_EIO, from, "cannot open '%s': %s", path, strerror(errno));
        return sd_errorf(err, SD_EIO, "cannot open '%s': %s", path, strerror(errno));
    }
    char *buf = malloc(MAX_FILE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE_BYTES + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf)
        return sd_errorf(err, SD_ENOMEM, "out of memory reading '%s'", path);
    if (bad || n > MAX_FILE_BYTES) {
        free(buf);
        return sd_errorf(err, bad ? SD_EIO : SD_EBADMODEL, bad ? "cannot read '%s'" : "'%s' is larger than 4 MB", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return SD_OK;
}

static SdStatus load_text(Loader *L, const char *path, char *text, size_t len, bool root);

static SdStatus add_source(Loader *L, char *text)
{
    DslProgram *p = L->p;
    char **ns = realloc(p->sources, (size_t)(p->n_sources + 1) * sizeof *ns);
    if (!ns) {
        free(text);
        return sd_errorf(L->err, SD_ENOMEM, "out of memory");
    }
    p->sources = ns;
    p->sources[p->n_sources++] = text;
    return SD_OK;
}

static SdStatus load_import(Loader *L, const char *from_file, const char *name, DslLoc loc)
{
    char path[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(from_file, '/');
    if (name[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", name);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - from_file), from_file, name);
    if (!realpath(path, real))
        return dsl_error(L->err, SD_EIO, loc, "cannot import '%s' (%s): %s", name, path, strerror(errno));
    for (int i = 0; i < L->n_loaded; i++)
        if (strcmp(L->loaded[i], real) == 0)
            return SD_OK; /* already in (imports may repeat and cycle) */
    if (L->n_loaded == MAX_FILES)
        return dsl_error(L->err, SD_EBADMODEL, loc, "more than %d files imported", MAX_FILES);
    if (!(L->loaded[L->n_loaded++] = strdup(real)))
        return sd_errorf(L->err, SD_ENOMEM, "out of memory");
    char *text;
    size_t len;
    SD_TRY(read_file(path, loc, &text, &len, L->err));
    SD_TRY(add_source(L, text));
    const char *kept = dsl_arena_strndup(&L->p->arena, path, strlen(path));
    if (!kept)
        return sd_errorf(L->err, SD_ENOMEM, "out of memory");
    return load_text(L, kept, text, len, false);
}

static SdStatus load_text(Loader *L, const char *path, char *text, size_t len, bool root)
{
    DslProgram *p = L->p;
    DslFileAst f;
    if (memchr(text, 0, len))
        return sd_errorf(L->err, SD_EBADMODEL, "%s: the file holds a NUL byte; a .sd file is text", path);
    SD_TRY(dsl_parse(&p->arena, path, text, len, &f, L->err));
    for (int i = 0; i < f.n_imports; i++)
        SD_TRY(load_import(L, path, f.imports[i], f.import_locs[i]));
    for (int i = 0; i < f.n_decls; i++) {
        if (p->n_decls == L->cap_decls) {
            int nc = L->cap_decls ? 2 * L->cap_decls : 32;
            DslDecl **nd = realloc(p->decls, (size_t)nc * sizeof *nd);
            if (!nd)
                return sd_errorf(L->err, SD_ENOMEM, "out of memory");
            p->decls = nd;
            L->cap_decls = nc;
        }
        f.decls[i]->in_root = root;
        p->decls[p->n_decls++] = f.decls[i];
    }
    return SD_OK;
}

static const char *kind_word(DslDeclKind k)
{
    return k == D_LET ? "value" : k == D_BLOCK ? "block" : k == D_MODEL ? "model" : "experiment";
}

/* `input` statements: exactly one at the top of each model's body, none anywhere else. */
static SdStatus check_inputs(const DslBody *b, bool top_of_model, int *count, SdError *err)
{
    for (int i = 0; i < b->n; i++) {
        const DslStmt *s = b->stmts[i];
        switch (s->kind) {
        case S_INPUT:
            if (!top_of_model)
                return dsl_error(err, SD_EBADMODEL, s->loc, "'input' belongs at the top level of a model");
            if (++*count > 1)
                return dsl_error(err, SD_EBADMODEL, s->loc, "a model has one input; this is a second");
            break;
        case S_IF:
            SD_TRY(check_inputs(&s->u.if_.then, false, count, err));
            SD_TRY(check_inputs(&s->u.if_.otherwise, false, count, err));
            break;
        case S_FOR: SD_TRY(check_inputs(&s->u.for_.body, false, count, err)); break;
        case S_REPEAT: SD_TRY(check_inputs(&s->u.repeat.body, false, count, err)); break;
        case S_SCOPE: SD_TRY(check_inputs(&s->u.scope.body, false, count, err)); break;
        default: break;
        }
    }
    return SD_OK;
}

static SdStatus check_program(DslProgram *p, SdError *err)
{
    int n_models = 0;
    for (int i = 0; i < p->n_decls; i++) {
        const DslDecl *d = p->decls[i];
        for (int j = 0; j < i; j++) {
            const DslDecl *o = p->decls[j];
            if (strcmp(o->name, d->name) == 0)
                return dsl_error(err, SD_EBADMODEL, d->loc, "'%s' is declared twice: first as a %s at %s:%d:%d", d->name,
                                 kind_word(o->kind), o->loc.file, o->loc.line, o->loc.col);
        }
        if ((d->kind == D_BLOCK || d->kind == D_MODEL || d->kind == D_LET) && dsl_builtin_find(d->name))
            return dsl_error(err, SD_EBADMODEL, d->loc, "'%s' is a built-in layer or function; choose another name", d->name);
        for (int k = 0; k < d->n_params; k++)
            if (strcmp(d->params[k].name, "name") == 0)
                return dsl_error(err, SD_EBADMODEL, d->params[k].loc,
                                 "a parameter cannot be called 'name': `name = \"...\"` names a call");
        if (d->kind == D_BLOCK || d->kind == D_MODEL) {
            int count = 0;
            SD_TRY(check_inputs(&d->body, d->kind == D_MODEL, &count, err));
            if (d->kind == D_MODEL && count == 0)
                return dsl_error(err, SD_EBADMODEL, d->loc, "model '%s' declares no input ('input image: [3, 224, 224]')",
                                 d->name);
            n_models += d->kind == D_MODEL;
        }
    }
    p->models = dsl_arena_alloc(&p->arena, (size_t)(n_models + 1) * sizeof *p->models);
    if (!p->models)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int i = 0; i < p->n_decls; i++)
        if (p->decls[i]->kind == D_MODEL)
            p->models[p->n_models++] = (DslModel){p->decls[i], p};
    return SD_OK;
}

static SdStatus load(const char *path, char *text, size_t len, const DslArgValue *lets, int n_lets, DslProgram **out,
                     SdError *err)
{
    *out = NULL;
    DslProgram *p = calloc(1, sizeof *p);
    if (!p) {
        free(text);
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    }
    Loader L = {.p = p, .err = err};
    SdStatus st = add_source(&L, text);
    const char *kept = st == SD_OK ? dsl_arena_strndup(&p->arena, path, strlen(path)) : NULL;
    if (st == SD_OK && !kept)
        st = sd_errorf(err, SD_ENOMEM, "out of memory");
    p->path = kept;
    char real[PATH_MAX];
    if (st == SD_OK && realpath(path, real) && !(L.loaded[L.n_loaded++] = strdup(real)))
        st = sd_errorf(err, SD_ENOMEM, "out of memory");
    if (st == SD_OK)
        st = load_text(&L, kept, text, len, true);
    if (st == SD_OK)
        st = check_program(p, err);
    if (st == SD_OK)
        st = dsl_eval_globals(p, lets, n_lets, err);
    for (int i = 0; i < L.n_loaded; i++)
        free(L.loaded[i]);
    if (st != SD_OK) {
        dsl_program_free(p);
        return st;
    }
    *out = p;
    return SD_OK;
}

SdStatus dsl_load_file_lets(const char *path, const DslArgValue *lets, int n_lets, DslProgram **out, SdError *err)
{
    char *text;
    size_t len;
    *out = NULL;
    SD_TRY(read_file(path, (DslLoc){0}, &text, &len, err));
    return load(path, text, len, lets, n_lets, out, err);
}

SdStatus dsl_load_file(const char *path, DslProgram **out, SdError *err)
{
    return dsl_load_file_lets(path, NULL, 0, out, err);
}

SdStatus dsl_load_string(const char *name, const char *text, DslProgram **out, SdError *err)
{
    size_t len = strlen(text);
    *out = NULL;
    if (len > MAX_FILE_BYTES)
        return sd_errorf(err, SD_EBADMODEL, "'%s' is larger than 4 MB", name);
    char *copy = malloc(len + 1);
    if (!copy)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    memcpy(copy, text, len + 1);
    return load(name, copy, len, NULL, 0, out, err);
}

void dsl_program_free(DslProgram *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_sources; i++)
        free(p->sources[i]);
    free(p->sources);
    free(p->decls);
    dsl_arena_free(&p->arena);
    free(p);
}

const char *dsl_program_path(const DslProgram *p) { return p->path; }

int dsl_program_num_models(const DslProgram *p)
{
    int n = 0;
    for (int i = 0; i < p->n_models; i++)
        n += p->models[i].decl->in_root;
    return n;
}

const DslModel *dsl_program_model(const DslProgram *p, int i)
{
    for (int k = 0; k < p->n_models; k++)
        if (p->models[k].decl->in_root && i-- == 0)
            return &p->models[k];
    return NULL;
}

const DslModel *dsl_program_find_model(const DslProgram *p, const char *name)
{
    for (int k = 0; k < p->n_models; k++)
        if (strcmp(p->models[k].decl->name, name) == 0)
            return &p->models[k];
    return NULL;
}

SdStatus dsl_program_select_model(const DslProgram *p, const char *name, const DslModel **out, SdError *err)
{
    int n = dsl_program_num_models(p);
    if (name) {
        if ((*out = dsl_program_find_model(p, name)))
            return SD_OK;
        const char *cands[64];
        int k = 0;
        for (int i = 0; i < p->n_models && k < 64; i++)
            cands[k++] = p->models[i].decl->name;
        char dym[128];
        return sd_errorf(err, SD_EUSAGE, "%s: no model '%s'%s", p->path, name, dsl_did_you_mean(name, cands, k, dym, sizeof dym));
    }
    if (n == 1) {
        *out = dsl_program_model(p, 0);
        return SD_OK;
    }
    if (n == 0)
        return sd_errorf(err, SD_EUSAGE, "%s declares no model", p->path);
    SdStrbuf b = {0};
    for (int i = 0; i < n; i++)
        sd_strbuf_printf(&b, "%s%s", i ? ", " : "", dsl_model_name(dsl_program_model(p, i)));
    SdStatus st = sd_errorf(err, SD_EUSAGE, "%s declares %d models (%s): choose one with --model NAME", p->path, n,
                            sd_strbuf_str(&b));
    sd_strbuf_free(&b);
    *out = NULL;
    return st;
}

const char *dsl_model_name(const DslModel *m) { return m->decl->name; }
DslLoc dsl_model_loc(const DslModel *m) { return m->decl->loc; }

DslInstanceOptions dsl_instance_options_default(void) { return (DslInstanceOptions){0}; }

SdStatus dsl_model_input(const DslModel *m, const DslArgValue *args, int n_args, char *name, size_t name_size,
                         IrShape *shape, SdError *err)
{
    DslArena arena = {0};
    DslEval E;
    DslFrame frame = {0};
    dsl_eval_init(&E, m->program, &arena, err);
    SdStatus st = dsl_bind_model_params(&E, m->decl, args, n_args, &frame);
    const DslStmt *in = NULL;
    for (int i = 0; i < m->decl->body.n && !in; i++)
        if (m->decl->body.stmts[i]->kind == S_INPUT)
            in = m->decl->body.stmts[i];
    E.frame = &frame;
    *shape = (IrShape){.rank = in ? in->u.input.n : 0};
    for (int i = 0; st == SD_OK && in && i < in->u.input.n; i++) {
        DslValue v;
        if ((st = dsl_eval_expr(&E, in->u.input.dims[i], &v)) != SD_OK)
            break;
        if (v.kind != V_INT || v.u.i < 1)
            st = dsl_error(err, SD_EBADMODEL, in->u.input.dims[i]->loc,
                           "an input dimension must be a positive integer, not %s", dsl_kind_name(v.kind));
        else
            shape->dims[i] = v.u.i;
    }
    if (st == SD_OK && in)
        snprintf(name, name_size, "%s", in->u.input.name);
    dsl_frame_free(&frame);
    dsl_arena_free(&arena);
    return st;
}

SdStatus dsl_model_instantiate(const DslModel *m, IrGraph *g, const char *prefix, IrValue *input,
                               const DslInstanceOptions *opt, IrValue **outputs, int *n_outputs, SdError *err)
{
    DslInstanceOptions defaults = dsl_instance_options_default();
    if (!opt)
        opt = &defaults;
    *n_outputs = 0;
    if (!input || !input->has_shape || input->shape.rank < 1)
        return sd_errorf(err, SD_EUSAGE, "model '%s': the input value needs a shape [batch, ...]", m->decl->name);
    DslArena arena = {0};
    DslEval E;
    dsl_eval_init(&E, m->program, &arena, err);
    E.g = g;
    E.prefix = prefix ? prefix : "";
    E.opt = opt;
    SdStatus st = dsl_run_model(&E, m->decl, opt->args, opt->n_args, input, outputs, n_outputs);
    if (st == SD_OK && opt->info)
        *opt->info = E.info;
    dsl_arena_free(&arena);
    return st;
}

void dsl_graph_freeze(IrGraph *g)
{
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->role == IR_ROLE_PARAM || v->role == IR_ROLE_STATE)
            v->role = IR_ROLE_CONSTANT;
    }
}

/* ---- model arguments ---- */

bool dsl_value_to_arg(const DslValue *v, const char *name, DslArgValue *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    switch (v->kind) {
    case V_INT: out->kind = DSL_VAL_INT, out->i = v->u.i; return true;
    case V_FLOAT: out->kind = DSL_VAL_FLOAT, out->f = v->u.f; return true;
    case V_BOOL: out->kind = DSL_VAL_BOOL, out->b = v->u.b; return true;
    case V_STR:
        if (strlen(v->u.s) >= sizeof out->s) {
            snprintf(why, why_size, "the string is longer than %zu characters", sizeof out->s - 1);
            return false;
        }
        out->kind = DSL_VAL_STRING;
        snprintf(out->s, sizeof out->s, "%s", v->u.s);
        return true;
    case V_LIST: {
        if (v->u.list.n > DSL_MAX_LIST) {
            snprintf(why, why_size, "a list given to a model holds at most %d values", DSL_MAX_LIST);
            return false;
        }
        bool all_int = true;
        for (int i = 0; i < v->u.list.n; i++) {
            if (!dsl_value_is_number(&v->u.list.items[i])) {
                snprintf(why, why_size, "a list given to a model holds numbers only, not %s",
                         dsl_kind_name(v->u.list.items[i].kind));
                return false;
            }
            all_int = all_int && v->u.list.items[i].kind == V_INT;
        }
        out->kind = all_int ? DSL_VAL_INTS : DSL_VAL_FLOATS;
        out->n = v->u.list.n;
        for (int i = 0; i < v->u.list.n; i++) {
            if (all_int)
                out->ints[i] = v->u.list.items[i].u.i;
            else
                out->floats[i] = dsl_value_number(&v->u.list.items[i]);
        }
        return true;
    }
    default:
        snprintf(why, why_size, "%s cannot be given to a model", dsl_kind_name(v->kind));
        return false;
    }
}

SdStatus dsl_arg_parse(const char *text, DslArgValue *out, SdError *err)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || (size_t)(eq - text) >= DSL_NAME_MAX)
        return sd_errorf(err, SD_EUSAGE, "'%s': expected NAME=VALUE", text);
    char name[DSL_NAME_MAX];
    snprintf(name, sizeof name, "%.*s", (int)(eq - text), text);
    SdStrbuf src = {0};
    sd_strbuf_printf(&src, "let value = %s\n", eq + 1);
    DslProgram *p;
    SdError e2 = {0};
    SdStatus st = dsl_load_string("<argument>", sd_strbuf_str(&src), &p, &e2);
    sd_strbuf_free(&src);
    if (st != SD_OK)
        return sd_errorf(err, SD_EUSAGE, "'%s': the value does not parse (%s)", text, e2.msg);
    char why[128] = "not a single value";
    bool ok = p->n_globals == 1 && dsl_value_to_arg(&p->globals[0], name, out, why, sizeof why);
    dsl_program_free(p);
    if (!ok)
        return sd_errorf(err, SD_EUSAGE, "'%s': %s", text, why);
    return SD_OK;
}

void dsl_arg_format(const DslArgValue *a, char *buf, size_t size)
{
    SdStrbuf b = {0};
    sd_strbuf_printf(&b, "%s=", a->name);
    switch (a->kind) {
    case DSL_VAL_INT: sd_strbuf_printf(&b, "%lld", (long long)a->i); break;
    case DSL_VAL_FLOAT: sd_strbuf_printf(&b, "%g", a->f); break;
    case DSL_VAL_BOOL: sd_strbuf_printf(&b, "%s", a->b ? "true" : "false"); break;
    case DSL_VAL_STRING: sd_strbuf_printf(&b, "\"%s\"", a->s); break;
    case DSL_VAL_INTS:
    case DSL_VAL_FLOATS:
        sd_strbuf_printf(&b, "[");
        for (int i = 0; i < a->n; i++) {
            if (a->kind == DSL_VAL_INTS)
                sd_strbuf_printf(&b, "%s%lld", i ? ", " : "", (long long)a->ints[i]);
            else
                sd_strbuf_printf(&b, "%s%g", i ? ", " : "", a->floats[i]);
        }
        sd_strbuf_printf(&b, "]");
        break;
    }
    snprintf(buf, size, "%s", sd_strbuf_str(&b));
    sd_strbuf_free(&b);
}
