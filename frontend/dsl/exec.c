/* frontend/dsl/exec.c — runs statements and calls: `input`, assignments, if/for/repeat, scopes
 * and the naming of layers (positions, `name =`, inlined blocks), returns, calls of blocks and
 * builtins with their arguments bound and checked, and whole models with their parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/lower.h"

enum { MAX_STEPS = 10 * 1000 * 1000 };

static SdStatus oom(DslEval *E, DslLoc loc) { return dsl_eval_error(E, SD_ENOMEM, loc, "out of memory"); }

/* ---- naming ---- */

/* Enters the scope of a call or `scope` statement: component `name` (NULL: the next position;
 * "": no new level). */
SdStatus dsl_enter_scope(DslEval *E, DslLoc loc, const char *name, DslSavedScope *saved)
{
    memcpy(saved->scope, E->scope, sizeof E->scope);
    saved->counter = E->counter;
    saved->layers = E->info.n_layers;
    saved->named = name != NULL;
    if (name && !name[0])
        return SD_OK; /* inline: the caller's scope and positions */
    char comp[32];
    if (!name) {
        snprintf(comp, sizeof comp, "%d", E->counter);
        name = comp;
    }
    E->counter++;
    size_t need = strlen(E->scope) + strlen(name) + 2;
    if (need > sizeof E->scope)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "layer names nest too deeply (more than %zu characters)",
                              sizeof E->scope - 1);
    size_t len = strlen(E->scope);
    if (len)
        E->scope[len++] = '.';
    memcpy(E->scope + len, name, strlen(name) + 1);
    E->counter = 0;
    return SD_OK;
}

void dsl_leave_scope(DslEval *E, const DslSavedScope *saved)
{
    bool inline_scope = strcmp(saved->scope, E->scope) == 0;
    if (inline_scope)
        return;
    memcpy(E->scope, saved->scope, sizeof E->scope);
    E->counter = saved->counter + 1;
    /* a call that built no layer (arithmetic only) takes no position */
    if (!saved->named && E->info.n_layers == saved->layers)
        E->counter = saved->counter;
}

/* ---- statements ---- */

static SdStatus exec_body(DslEval *E, const DslBody *body);

static SdStatus step(DslEval *E, DslLoc loc)
{
    if (++E->steps > MAX_STEPS)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "the program runs more than %d steps: is a loop bound wrong?",
                              MAX_STEPS);
    return SD_OK;
}

static SdStatus exec_input(DslEval *E, const DslStmt *s)
{
    IrValue *x = E->pending_input;
    if (!x)
        return dsl_eval_error(E, SD_EBADMODEL, s->loc, "'input' is given once, at the top of a model");
    E->pending_input = NULL;
    if (!x->has_shape)
        return dsl_eval_error(E, SD_EINTERNAL, s->loc, "input '%s' has no shape", x->name);
    int64_t dims[IR_MAX_RANK];
    bool ok = x->shape.rank == s->u.input.n + 1;
    for (int i = 0; i < s->u.input.n; i++) {
        DslValue v;
        SD_TRY(dsl_eval_expr(E, s->u.input.dims[i], &v));
        if (v.kind != V_INT || v.u.i < 1)
            return dsl_eval_error(E, SD_EBADMODEL, s->u.input.dims[i]->loc,
                                  "an input dimension must be a positive integer, not %s", dsl_kind_name(v.kind));
        dims[i] = v.u.i;
        ok = ok && x->shape.dims[i + 1] == v.u.i;
    }
    if (!ok) {
        char got[128], want[128];
        IrShape w = ir_shape_make(s->u.input.n, dims);
        return dsl_eval_error(E, SD_ESHAPE, s->loc, "input '%s' is %s, but the model declares %s (without the batch)",
                              s->u.input.name, ir_shape_str(&x->shape, got, sizeof got),
                              ir_shape_str(&w, want, sizeof want));
    }
    return dsl_frame_set(E, E->frame, s->u.input.name, (DslValue){.kind = V_TENSOR, .u.t = x}, s->loc);
}

static SdStatus exec_stmt(DslEval *E, const DslStmt *s)
{
    SD_TRY(step(E, s->loc));
    DslValue v;
    switch (s->kind) {
    case S_INPUT:
        return exec_input(E, s);
    case S_EXPR:
        return dsl_eval_expr(E, s->u.expr, &v);
    case S_ASSIGN:
        SD_TRY(dsl_eval_expr(E, s->u.assign.value, &v));
        if (s->u.assign.n == 1)
            return dsl_frame_set(E, E->frame, s->u.assign.names[0], v, s->loc);
        if (v.kind != V_LIST)
            return dsl_eval_error(E, SD_EBADMODEL, s->u.assign.value->loc, "%d names are assigned but the value is %s",
                                  s->u.assign.n, dsl_kind_name(v.kind));
        if (v.u.list.n != s->u.assign.n)
            return dsl_eval_error(E, SD_EBADMODEL, s->u.assign.value->loc,
                                  "%d names are assigned but the value is a list of %d", s->u.assign.n, v.u.list.n);
        for (int i = 0; i < s->u.assign.n; i++)
            SD_TRY(dsl_frame_set(E, E->frame, s->u.assign.names[i], v.u.list.items[i], s->u.assign.locs[i]));
        return SD_OK;
    case S_IF: {
        bool c;
        SD_TRY(dsl_eval_bool(E, s->u.if_.cond, "the condition of 'if'", &c));
        if (c)
            return exec_body(E, &s->u.if_.then);
        return s->u.if_.has_else ? exec_body(E, &s->u.if_.otherwise) : SD_OK;
    }
    case S_FOR:
        SD_TRY(dsl_eval_expr(E, s->u.for_.iter, &v));
        if (v.kind != V_LIST)
            return dsl_eval_error(E, SD_EBADMODEL, s->u.for_.iter->loc,
                                  "'for' runs over a list or a range ('0..n'), not %s", dsl_kind_name(v.kind));
        for (int i = 0; i < v.u.list.n && !E->returning; i++) {
            SD_TRY(step(E, s->loc));
            SD_TRY(dsl_frame_set(E, E->frame, s->u.for_.var, v.u.list.items[i], s->loc));
            SD_TRY(exec_body(E, &s->u.for_.body));
        }
        return SD_OK;
    case S_REPEAT:
        SD_TRY(dsl_eval_expr(E, s->u.repeat.count, &v));
        if (v.kind != V_INT || v.u.i < 0)
            return dsl_eval_error(E, SD_EBADMODEL, s->u.repeat.count->loc,
                                  "'repeat' needs a count of zero or more, not %s", dsl_kind_name(v.kind));
        for (int64_t i = 0; i < v.u.i && !E->returning; i++) {
            SD_TRY(step(E, s->loc));
            SD_TRY(exec_body(E, &s->u.repeat.body));
        }
        return SD_OK;
    case S_SCOPE: {
        const char *name = NULL;
        char buf[32];
        if (s->u.scope.name) {
            SD_TRY(dsl_eval_expr(E, s->u.scope.name, &v));
            if (v.kind == V_INT) {
                snprintf(buf, sizeof buf, "%lld", (long long)v.u.i);
                name = buf;
            } else if (v.kind == V_STR && v.u.s[0]) {
                name = v.u.s;
            } else {
                return dsl_eval_error(E, SD_EBADMODEL, s->u.scope.name->loc,
                                      "a scope is named by a non-empty string or an integer, not %s", dsl_kind_name(v.kind));
            }
        }
        DslSavedScope saved;
        SD_TRY(dsl_enter_scope(E, s->loc, name, &saved));
        SdStatus st = exec_body(E, &s->u.scope.body);
        dsl_leave_scope(E, &saved);
        return st;
    }
    case S_RETURN:
        if (s->u.ret.n == 1) {
            SD_TRY(dsl_eval_expr(E, s->u.ret.items[0].value, &E->ret));
        } else {
            DslValue list;
            SD_TRY(dsl_make_list(E, s->loc, s->u.ret.n, &list));
            for (int i = 0; i < s->u.ret.n; i++)
                SD_TRY(dsl_eval_expr(E, s->u.ret.items[i].value, &list.u.list.items[i]));
            E->ret = list;
        }
        E->ret_stmt = s;
        E->returning = true;
        return SD_OK;
    }
    return dsl_eval_error(E, SD_EINTERNAL, s->loc, "unknown statement");
}

static SdStatus exec_body(DslEval *E, const DslBody *body)
{
    for (int i = 0; i < body->n && !E->returning; i++)
        SD_TRY(exec_stmt(E, body->stmts[i]));
    return SD_OK;
}

/* ---- calls ---- */

static SdStatus name_arg(DslEval *E, const DslArg *a, const char **out)
{
    DslValue v;
    SD_TRY(dsl_eval_expr(E, a->value, &v));
    if (v.kind != V_STR)
        return dsl_eval_error(E, SD_EBADMODEL, a->loc, "'name' must be a string, not %s", dsl_kind_name(v.kind));
    for (const char *p = v.u.s; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n' || (*p == '.' && (p == v.u.s || p[1] == 0 || p[1] == '.')))
            return dsl_eval_error(E, SD_EBADMODEL, a->loc, "'%s' is not a layer name (no spaces, no empty parts between dots)",
                                  v.u.s);
    *out = v.u.s;
    return SD_OK;
}

static SdStatus push_call(DslEval *E, const char *callee, DslLoc loc)
{
    if (E->depth >= DSL_MAX_CALL_DEPTH)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "calls nest more than %d deep: does '%s' call itself?",
                              DSL_MAX_CALL_DEPTH, callee);
    E->stack[E->depth++] = (DslCallSite){callee, loc};
    return SD_OK;
}

static SdStatus call_builtin(DslEval *E, const DslExpr *e, const DslBuiltin *b, DslValue *out)
{
    DslCall c = {.e = e, .b = b};
    int np = 0;
    while (b->params[np])
        np++;
    const char *layer_name = NULL;
    for (int i = 0; i < np; i++)
        c.locs[i] = e->loc;
    int pos = 0;
    for (int k = 0; k < e->u.call.n; k++) {
        const DslArg *a = &e->u.call.args[k];
        int slot = -1;
        if (!a->name) {
            if (pos >= np)
                return dsl_eval_error(E, SD_EBADMODEL, a->loc, "%s takes at most %d argument%s", b->name, np,
                                      np == 1 ? "" : "s");
            slot = pos++;
        } else if (b->layer && strcmp(a->name, "name") == 0) {
            SD_TRY(name_arg(E, a, &layer_name));
            if (!layer_name[0])
                return dsl_eval_error(E, SD_EBADMODEL, a->loc, "a layer's name cannot be empty");
            continue;
        } else {
            const char *cands[16];
            int nc = 0;
            for (int i = 0; i < np; i++) {
                const char *pn = b->params[i] + (b->params[i][0] == '?');
                cands[nc++] = pn;
                if (strcmp(pn, a->name) == 0)
                    slot = i;
            }
            if (b->layer)
                cands[nc++] = "name";
            if (slot < 0) {
                char dym[128];
                return dsl_eval_error(E, SD_EBADMODEL, a->loc, "%s has no argument '%s'%s", b->name, a->name,
                                      dsl_did_you_mean(a->name, cands, nc, dym, sizeof dym));
            }
            if (c.args[slot].kind != V_NONE)
                return dsl_eval_error(E, SD_EBADMODEL, a->loc, "%s: argument '%s' is given twice", b->name, a->name);
        }
        SD_TRY(dsl_eval_expr(E, a->value, &c.args[slot]));
        c.locs[slot] = a->loc;
        if (c.args[slot].kind == V_NONE)
            return dsl_eval_error(E, SD_EBADMODEL, a->loc, "%s: argument '%s' has no value", b->name,
                                  b->params[slot] + (b->params[slot][0] == '?'));
    }
    for (int i = 0; i < np; i++)
        if (b->params[i][0] != '?' && c.args[i].kind == V_NONE)
            return dsl_eval_error(E, SD_EBADMODEL, e->loc, "%s needs argument '%s' (%s)", b->name, b->params[i], b->summary);
    if (!b->layer)
        return b->fn(E, &c, out);
    if (!E->g)
        return dsl_eval_error(E, SD_EBADMODEL, e->loc, "layer '%s' can only be used inside a model or block", b->name);
    /* the layer's parameters are named after its scope: E->scope while fn runs */
    DslSavedScope saved;
    SD_TRY(dsl_enter_scope(E, e->loc, layer_name, &saved));
    SdStatus st = b->fn(E, &c, out);
    dsl_leave_scope(E, &saved);
    return st;
}

/* Calls a block or a model (as a block: its input is the first argument). */
static SdStatus call_decl(DslEval *E, const DslExpr *e, const DslDecl *d, DslValue *out)
{
    DslFrame frame = {0};
    DslFrame *caller = E->frame;
    const char *call_name = NULL;
    bool model = d->kind == D_MODEL;
    IrValue *input = NULL;
    int pos = 0;
    SdStatus st = SD_OK;
    bool *given = calloc((size_t)d->n_params + 1, sizeof *given);
    if (!given)
        return oom(E, e->loc);
    for (int k = 0; k < e->u.call.n && st == SD_OK; k++) {
        const DslArg *a = &e->u.call.args[k];
        DslValue v;
        if (a->name && strcmp(a->name, "name") == 0) {
            st = name_arg(E, a, &call_name);
            continue;
        }
        if ((st = dsl_eval_expr(E, a->value, &v)) != SD_OK)
            break;
        int slot = -1;
        if (!a->name && model && !input) {
            if (v.kind != V_TENSOR) {
                st = dsl_eval_error(E, SD_EBADMODEL, a->loc, "model '%s' called as a block takes its input tensor first, not %s",
                                    d->name, dsl_kind_name(v.kind));
                break;
            }
            input = v.u.t;
            continue;
        }
        if (!a->name) {
            if (pos >= d->n_params) {
                st = dsl_eval_error(E, SD_EBADMODEL, a->loc, "'%s' takes %d argument%s%s", d->name, d->n_params,
                                    d->n_params == 1 ? "" : "s", model ? " after its input" : "");
                break;
            }
            slot = pos++;
        } else {
            const char *cands[64];
            int nc = 0;
            for (int i = 0; i < d->n_params; i++) {
                if (nc < 64)
                    cands[nc++] = d->params[i].name;
                if (strcmp(d->params[i].name, a->name) == 0)
                    slot = i;
            }
            if (slot < 0) {
                char dym[128];
                st = dsl_eval_error(E, SD_EBADMODEL, a->loc, "'%s' has no parameter '%s'%s", d->name, a->name,
                                    dsl_did_you_mean(a->name, cands, nc, dym, sizeof dym));
                break;
            }
            if (given[slot]) {
                st = dsl_eval_error(E, SD_EBADMODEL, a->loc, "parameter '%s' of '%s' is given twice", a->name, d->name);
                break;
            }
        }
        given[slot] = true;
        st = dsl_frame_set(E, &frame, d->params[slot].name, v, a->loc);
    }
    if (st == SD_OK && model && !input)
        st = dsl_eval_error(E, SD_EBADMODEL, e->loc, "model '%s' called as a block needs its input tensor as first argument",
                            d->name);
    /* defaults, evaluated in the callee's frame so they may use earlier parameters */
    E->frame = &frame;
    for (int i = 0; i < d->n_params && st == SD_OK; i++) {
        if (given[i])
            continue;
        if (!d->params[i].def) {
            E->frame = caller;
            st = dsl_eval_error(E, SD_EBADMODEL, e->loc, "'%s' needs argument '%s'", d->name, d->params[i].name);
            break;
        }
        DslValue v;
        if ((st = dsl_eval_expr(E, d->params[i].def, &v)) == SD_OK)
            st = dsl_frame_set(E, &frame, d->params[i].name, v, d->params[i].loc);
    }
    free(given);
    if (st != SD_OK) {
        E->frame = caller;
        dsl_frame_free(&frame);
        return st;
    }
    DslSavedScope saved;
    IrValue *pending = E->pending_input;
    E->pending_input = input;
    if ((st = push_call(E, d->name, e->loc)) == SD_OK) {
        if ((st = dsl_enter_scope(E, e->loc, call_name, &saved)) == SD_OK) {
            st = exec_body(E, &d->body);
            dsl_leave_scope(E, &saved);
        }
        E->depth--;
    }
    E->pending_input = pending;
    E->frame = caller;
    dsl_frame_free(&frame);
    if (st != SD_OK)
        return st;
    *out = E->returning ? E->ret : (DslValue){.kind = V_NONE};
    E->returning = false;
    return SD_OK;
}

SdStatus dsl_eval_call(DslEval *E, const DslExpr *e, DslValue *out)
{
    const char *name = e->u.call.callee;
    const DslDecl *d = dsl_find_callable(E->prog, name);
    if (d)
        return call_decl(E, e, d, out);
    const DslBuiltin *b = dsl_builtin_find(name);
    if (b)
        return call_builtin(E, e, b, out);
    const char **cands = calloc((size_t)(DSL_MAX_BUILTINS + E->prog->n_decls) + 1, sizeof *cands);
    int k = 0;
    if (cands) {
        k = dsl_builtin_names(cands, DSL_MAX_BUILTINS);
        for (int i = 0; i < E->prog->n_decls; i++)
            if (E->prog->decls[i]->kind == D_BLOCK || E->prog->decls[i]->kind == D_MODEL)
                cands[k++] = E->prog->decls[i]->name;
    }
    char dym[128];
    dsl_did_you_mean(name, cands, k, dym, sizeof dym);
    free(cands);
    return dsl_eval_error(E, SD_EBADMODEL, e->loc, "unknown layer, block or function '%s'%s", name, dym);
}

/* ---- globals and models ---- */

void dsl_eval_init(DslEval *E, const DslProgram *p, DslArena *arena, SdError *err)
{
    memset(E, 0, sizeof *E);
    E->prog = p;
    E->arena = arena;
    E->err = err;
}

static SdStatus from_arg(DslEval *E, const DslArgValue *a, DslLoc loc, DslValue *out);

/* Every override must name a `let` of the program: a misspelt one would otherwise be ignored. */
static SdStatus check_overrides(const DslProgram *p, const DslArgValue *lets, int n_lets, SdError *err)
{
    for (int k = 0; k < n_lets; k++) {
        const char *cands[64] = {0};
        int nc = 0;
        bool found = false;
        for (int i = 0; i < p->n_decls; i++)
            if (p->decls[i]->kind == D_LET) {
                found = found || strcmp(p->decls[i]->name, lets[k].name) == 0;
                if (nc < 64)
                    cands[nc++] = p->decls[i]->name;
            }
        if (!found) {
            char dym[256];
            dsl_did_you_mean(lets[k].name, cands, nc, dym, sizeof dym);
            if (!dym[0]) { /* no close name: list them */
                size_t o = (size_t)snprintf(dym, sizeof dym, nc ? "; its lets are" : " (it declares no lets)");
                for (int i = 0; i < nc && o < sizeof dym; i++)
                    o += (size_t)snprintf(dym + o, sizeof dym - o, "%s %s", i ? "," : "", cands[i]);
            }
            return sd_errorf(err, SD_EUSAGE, "%s: no `let %s` to override%s", p->path ? p->path : "<recipe>",
                             lets[k].name, dym);
        }
    }
    return SD_OK;
}

SdStatus dsl_eval_globals(DslProgram *p, const DslArgValue *lets, int n_lets, SdError *err)
{
    SD_TRY(check_overrides(p, lets, n_lets, err));
    int n = 0;
    for (int i = 0; i < p->n_decls; i++)
        n += p->decls[i]->kind == D_LET;
    p->global_names = dsl_arena_alloc(&p->arena, (size_t)(n + 1) * sizeof *p->global_names);
    p->globals = dsl_arena_alloc(&p->arena, (size_t)(n + 1) * sizeof *p->globals);
    if (!p->global_names || !p->globals)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    DslEval E;
    dsl_eval_init(&E, p, &p->arena, err);
    for (int i = 0; i < p->n_decls; i++) {
        const DslDecl *d = p->decls[i];
        if (d->kind != D_LET)
            continue;
        const DslArgValue *given = NULL;
        for (int k = 0; k < n_lets; k++)
            if (strcmp(lets[k].name, d->name) == 0)
                given = &lets[k]; /* the last one given wins, as on a command line */
        DslValue v;
        SD_TRY(given ? from_arg(&E, given, d->loc, &v) : dsl_eval_expr(&E, d->value, &v));
        p->global_names[p->n_globals] = d->name;
        p->globals[p->n_globals++] = v;
    }
    return SD_OK;
}

static SdStatus from_arg(DslEval *E, const DslArgValue *a, DslLoc loc, DslValue *out)
{
    switch (a->kind) {
    case DSL_VAL_INT: *out = dsl_int(a->i); return SD_OK;
    case DSL_VAL_FLOAT: *out = dsl_float(a->f); return SD_OK;
    case DSL_VAL_BOOL: *out = dsl_bool(a->b); return SD_OK;
    case DSL_VAL_STRING: {
        char *s = dsl_arena_strndup(E->arena, a->s, strlen(a->s));
        if (!s)
            return oom(E, loc);
        *out = (DslValue){.kind = V_STR, .u.s = s};
        return SD_OK;
    }
    case DSL_VAL_INTS:
    case DSL_VAL_FLOATS:
        SD_TRY(dsl_make_list(E, loc, a->n, out));
        for (int i = 0; i < a->n; i++)
            out->u.list.items[i] = a->kind == DSL_VAL_INTS ? dsl_int(a->ints[i]) : dsl_float(a->floats[i]);
        return SD_OK;
    }
    return dsl_eval_error(E, SD_EUSAGE, loc, "bad argument kind");
}

SdStatus dsl_bind_model_params(DslEval *E, const DslDecl *d, const DslArgValue *args, int n_args, DslFrame *frame)
{
    for (int k = 0; k < n_args; k++) {
        bool found = false;
        const char *cands[64];
        int nc = 0;
        for (int i = 0; i < d->n_params; i++) {
            found = found || strcmp(d->params[i].name, args[k].name) == 0;
            if (nc < 64)
                cands[nc++] = d->params[i].name;
        }
        if (!found) {
            char dym[128];
            return dsl_eval_error(E, SD_EUSAGE, d->loc, "model '%s' has no parameter '%s'%s", d->name, args[k].name,
                                  dsl_did_you_mean(args[k].name, cands, nc, dym, sizeof dym));
        }
    }
    DslFrame *saved = E->frame;
    E->frame = frame;
    for (int i = 0; i < d->n_params; i++) {
        DslValue v;
        const DslArgValue *given = NULL;
        for (int k = 0; k < n_args; k++)
            if (strcmp(args[k].name, d->params[i].name) == 0)
                given = &args[k];
        SdStatus st;
        if (given)
            st = from_arg(E, given, d->params[i].loc, &v);
        else if (d->params[i].def)
            st = dsl_eval_expr(E, d->params[i].def, &v);
        else
            st = dsl_eval_error(E, SD_EUSAGE, d->params[i].loc, "model '%s' needs a value for parameter '%s'", d->name,
                                d->params[i].name);
        if (st == SD_OK)
            st = dsl_frame_set(E, frame, d->params[i].name, v, d->params[i].loc);
        if (st != SD_OK) {
            E->frame = saved;
            return st;
        }
    }
    E->frame = saved;
    return SD_OK;
}

static SdStatus collect_outputs(DslEval *E, const DslDecl *d, IrValue **outputs, int *n_outputs)
{
    const DslValue *r = &E->ret;
    int n = r->kind == V_LIST ? r->u.list.n : 1;
    if (!E->returning) /* (E->ret may still hold what a block returned) */
        return dsl_eval_error(E, SD_EBADMODEL, d->loc, "model '%s' returns nothing; end it with 'return x'", d->name);
    if (n > DSL_MAX_OUTPUTS)
        return dsl_eval_error(E, SD_EBADMODEL, E->ret_stmt->loc, "a model returns at most %d tensors", DSL_MAX_OUTPUTS);
    const DslStmt *s = E->ret_stmt;
    for (int i = 0; i < n; i++) {
        const DslValue *v = r->kind == V_LIST ? &r->u.list.items[i] : r;
        DslLoc loc = s->u.ret.n == n ? s->u.ret.items[i].value->loc : s->loc;
        if (v->kind != V_TENSOR)
            return dsl_eval_error(E, SD_EBADMODEL, loc, "a model returns tensors; this is %s", dsl_kind_name(v->kind));
        outputs[i] = v->u.t;
        const char *name = s->u.ret.n == n ? s->u.ret.items[i].name : NULL;
        if (name)
            snprintf(E->info.output_names[i], sizeof E->info.output_names[i], "%s", name);
        else if (n == 1)
            snprintf(E->info.output_names[i], sizeof E->info.output_names[i], "output");
        else
            snprintf(E->info.output_names[i], sizeof E->info.output_names[i], "output%d", i);
    }
    E->info.n_outputs = n;
    *n_outputs = n;
    return SD_OK;
}

SdStatus dsl_run_model(DslEval *E, const DslDecl *d, const DslArgValue *args, int n_args, IrValue *input,
                       IrValue **outputs, int *n_outputs)
{
    DslFrame frame = {0};
    SdStatus st = dsl_bind_model_params(E, d, args, n_args, &frame);
    if (st == SD_OK) {
        E->frame = &frame;
        E->pending_input = input;
        E->depth = 0;
        st = exec_body(E, &d->body);
        if (st == SD_OK)
            st = collect_outputs(E, d, outputs, n_outputs);
        E->frame = NULL;
    }
    dsl_frame_free(&frame);
    return st;
}
