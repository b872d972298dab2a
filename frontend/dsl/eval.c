/* frontend/dsl/eval.c — runs a model's program: statements, expressions, calls of blocks and
 * builtins, and the naming of layers (see eval.h). Values are immutable and live in the
 * evaluation's arena; variables are per call (a `for` or `scope` body shares its block's
 * variables). Integers are 64-bit and checked for overflow; `/` between integers rounds down.
 * Budgets (steps, call depth, list sizes) stop a wrong loop bound with a message, not a hang. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/eval.h"

enum { MAX_STEPS = 10 * 1000 * 1000, MAX_LIST = 1 << 20 };

/* ---- values ---- */

const char *dsl_kind_name(DslVKind k)
{
    switch (k) {
    case V_NONE: return "nothing";
    case V_INT: return "an integer";
    case V_FLOAT: return "a number";
    case V_BOOL: return "true or false";
    case V_STR: return "a string";
    case V_LIST: return "a list";
    case V_TENSOR: return "a tensor";
    }
    return "?";
}

bool dsl_value_is_number(const DslValue *v) { return v->kind == V_INT || v->kind == V_FLOAT; }
double dsl_value_number(const DslValue *v) { return v->kind == V_INT ? (double)v->u.i : v->u.f; }

static void fmt_value(const DslValue *v, SdStrbuf *b, int depth)
{
    char sb[160];
    switch (v->kind) {
    case V_NONE: sd_strbuf_printf(b, "nothing"); break;
    case V_INT: sd_strbuf_printf(b, "%lld", (long long)v->u.i); break;
    case V_FLOAT: sd_strbuf_printf(b, "%g", v->u.f); break;
    case V_BOOL: sd_strbuf_printf(b, "%s", v->u.b ? "true" : "false"); break;
    case V_STR: sd_strbuf_printf(b, "%s", v->u.s); break;
    case V_TENSOR: sd_strbuf_printf(b, "%s", ir_value_type_str(v->u.t, sb, sizeof sb)); break;
    case V_LIST:
        sd_strbuf_printf(b, "[");
        for (int i = 0; i < v->u.list.n; i++) {
            if (i)
                sd_strbuf_printf(b, ", ");
            if (depth > 3 || i >= 16) {
                sd_strbuf_printf(b, "...");
                break;
            }
            fmt_value(&v->u.list.items[i], b, depth + 1);
        }
        sd_strbuf_printf(b, "]");
        break;
    }
}

const char *dsl_value_str(const DslValue *v, char *buf, size_t size)
{
    SdStrbuf b = {0};
    fmt_value(v, &b, 0);
    snprintf(buf, size, "%s", sd_strbuf_str(&b));
    sd_strbuf_free(&b);
    return buf;
}

/* ---- errors ---- */

SdStatus dsl_eval_error(DslEval *E, SdStatus st, DslLoc loc, const char *fmt, ...)
{
    char msg[SD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    SdStrbuf b = {0};
    sd_strbuf_printf(&b, "%s", msg);
    for (int i = E->depth - 1, shown = 0; i >= 0; i--, shown++) {
        if (shown == 4) {
            sd_strbuf_printf(&b, ", ...");
            break;
        }
        const DslCallSite *cs = &E->stack[i];
        sd_strbuf_printf(&b, "%s'%s' called at %s:%d:%d", shown ? ", " : " (in ", cs->callee, cs->loc.file,
                         cs->loc.line, cs->loc.col);
        if (i == 0 || shown == 3)
            sd_strbuf_printf(&b, ")");
    }
    if (E->depth > 4)
        sd_strbuf_printf(&b, ")");
    SdStatus r = dsl_error(E->err, st, loc, "%s", sd_strbuf_str(&b));
    sd_strbuf_free(&b);
    return r;
}

static SdStatus oom(DslEval *E, DslLoc loc) { return dsl_eval_error(E, SD_ENOMEM, loc, "out of memory"); }

/* ---- variables ---- */

void dsl_frame_free(DslFrame *f)
{
    free(f->names);
    free(f->values);
    *f = (DslFrame){0};
}

SdStatus dsl_frame_set(DslEval *E, DslFrame *f, const char *name, DslValue v, DslLoc loc)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0) {
            f->values[i] = v;
            return SD_OK;
        }
    if (f->n == f->cap) {
        int nc = f->cap ? 2 * f->cap : 16;
        const char **nn = realloc(f->names, (size_t)nc * sizeof *nn);
        if (!nn)
            return oom(E, loc);
        f->names = nn;
        DslValue *nv = realloc(f->values, (size_t)nc * sizeof *nv);
        if (!nv)
            return oom(E, loc);
        f->values = nv;
        f->cap = nc;
    }
    f->names[f->n] = name;
    f->values[f->n++] = v;
    return SD_OK;
}

const DslValue *dsl_global(const DslProgram *p, const char *name)
{
    for (int i = 0; i < p->n_globals; i++)
        if (strcmp(p->global_names[i], name) == 0)
            return &p->globals[i];
    return NULL;
}

const DslDecl *dsl_find_decl(const DslProgram *p, const char *name, DslDeclKind kind)
{
    for (int i = 0; i < p->n_decls; i++)
        if (p->decls[i]->kind == kind && strcmp(p->decls[i]->name, name) == 0)
            return p->decls[i];
    return NULL;
}

static const DslDecl *find_callable(const DslProgram *p, const char *name)
{
    const DslDecl *d = dsl_find_decl(p, name, D_BLOCK);
    return d ? d : dsl_find_decl(p, name, D_MODEL);
}

static SdStatus lookup(DslEval *E, const DslExpr *e, DslValue *out)
{
    const char *name = e->u.name;
    if (E->frame)
        for (int i = 0; i < E->frame->n; i++)
            if (strcmp(E->frame->names[i], name) == 0) {
                *out = E->frame->values[i];
                return SD_OK;
            }
    const DslValue *g = dsl_global(E->prog, name);
    if (g) {
        *out = *g;
        return SD_OK;
    }
    /* suggestions: variables in sight, then globals */
    int n = (E->frame ? E->frame->n : 0) + E->prog->n_globals, k = 0;
    const char **cands = calloc((size_t)n + 1, sizeof *cands);
    if (cands) {
        for (int i = 0; E->frame && i < E->frame->n; i++)
            cands[k++] = E->frame->names[i];
        for (int i = 0; i < E->prog->n_globals; i++)
            cands[k++] = E->prog->global_names[i];
    }
    char dym[128];
    dsl_did_you_mean(name, cands, k, dym, sizeof dym);
    free(cands);
    if (find_callable(E->prog, name) || dsl_builtin_find(name))
        return dsl_eval_error(E, SD_EBADMODEL, e->loc, "'%s' is a block or layer: call it, as in '%s(x)'", name, name);
    return dsl_eval_error(E, SD_EBADMODEL, e->loc, "unknown name '%s'%s", name, dym);
}

/* ---- expressions ---- */

static DslValue v_int(int64_t i) { return (DslValue){.kind = V_INT, .u.i = i}; }
static DslValue v_float(double f) { return (DslValue){.kind = V_FLOAT, .u.f = f}; }
static DslValue v_bool(bool b) { return (DslValue){.kind = V_BOOL, .u.b = b}; }

static SdStatus make_list(DslEval *E, DslLoc loc, int n, DslValue *out)
{
    if (n < 0 || n > MAX_LIST)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "a list of %d items is more than the %d allowed", n, MAX_LIST);
    DslValue *items = n ? dsl_arena_alloc(E->arena, (size_t)n * sizeof *items) : NULL;
    if (n && !items)
        return oom(E, loc);
    *out = (DslValue){.kind = V_LIST, .u.list = {n, items}};
    return SD_OK;
}

static SdStatus eval_string(DslEval *E, const DslExpr *e, DslValue *out)
{
    SdStrbuf b = {0};
    for (int i = 0; i <= e->u.str.n; i++) {
        sd_strbuf_printf(&b, "%s", e->u.str.text[i]);
        if (i == e->u.str.n)
            break;
        DslValue v;
        SdStatus st = dsl_eval_expr(E, e->u.str.exprs[i], &v);
        if (st != SD_OK) {
            sd_strbuf_free(&b);
            return st;
        }
        fmt_value(&v, &b, 0);
    }
    char *s = b.failed ? NULL : dsl_arena_strndup(E->arena, sd_strbuf_str(&b), b.len);
    sd_strbuf_free(&b);
    if (!s)
        return oom(E, e->loc);
    *out = (DslValue){.kind = V_STR, .u.s = s};
    return SD_OK;
}

static bool values_equal(const DslValue *a, const DslValue *b)
{
    if (dsl_value_is_number(a) && dsl_value_is_number(b)) {
        if (a->kind == V_INT && b->kind == V_INT)
            return a->u.i == b->u.i;
        return dsl_value_number(a) == dsl_value_number(b);
    }
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case V_NONE: return true;
    case V_BOOL: return a->u.b == b->u.b;
    case V_STR: return strcmp(a->u.s, b->u.s) == 0;
    case V_TENSOR: return a->u.t == b->u.t;
    case V_LIST:
        if (a->u.list.n != b->u.list.n)
            return false;
        for (int i = 0; i < a->u.list.n; i++)
            if (!values_equal(&a->u.list.items[i], &b->u.list.items[i]))
                return false;
        return true;
    default: return false;
    }
}

static SdStatus type_error(DslEval *E, DslLoc loc, const char *op, const DslValue *a, const DslValue *b)
{
    if (b)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "'%s' does not apply to %s and %s", op, dsl_kind_name(a->kind),
                              dsl_kind_name(b->kind));
    return dsl_eval_error(E, SD_EBADMODEL, loc, "'%s' does not apply to %s", op, dsl_kind_name(a->kind));
}

static const char *op_text(DslTok op)
{
    switch (op) {
    case T_PLUS: return "+";
    case T_MINUS: return "-";
    case T_STAR: return "*";
    case T_SLASH: return "/";
    case T_PERCENT: return "%";
    case T_EQ: return "==";
    case T_NE: return "!=";
    case T_LT: return "<";
    case T_LE: return "<=";
    case T_GT: return ">";
    case T_GE: return ">=";
    case T_AND: return "and";
    case T_OR: return "or";
    default: return "?";
    }
}

static SdStatus arith_int(DslEval *E, DslLoc loc, DslTok op, int64_t a, int64_t b, DslValue *out)
{
    int64_t r;
    bool overflow = false;
    switch (op) {
    case T_PLUS: overflow = __builtin_add_overflow(a, b, &r); break;
    case T_MINUS: overflow = __builtin_sub_overflow(a, b, &r); break;
    case T_STAR: overflow = __builtin_mul_overflow(a, b, &r); break;
    case T_SLASH:
    case T_PERCENT:
        if (b == 0)
            return dsl_eval_error(E, SD_EBADMODEL, loc, "integer %s by zero", op == T_SLASH ? "division" : "remainder");
        if (a == INT64_MIN && b == -1)
            return dsl_eval_error(E, SD_EBADMODEL, loc, "integer overflow");
        r = op == T_SLASH ? a / b : a % b;
        /* round toward minus infinity, as Python's // and % */
        if ((a % b != 0) && ((a < 0) != (b < 0)))
            r = op == T_SLASH ? r - 1 : r + b;
        break;
    default: return dsl_eval_error(E, SD_EINTERNAL, loc, "bad operator");
    }
    if (overflow)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "integer overflow in %lld %s %lld", (long long)a, op_text(op),
                              (long long)b);
    *out = v_int(r);
    return SD_OK;
}

static SdStatus arith(DslEval *E, DslLoc loc, DslTok op, const DslValue *a, const DslValue *b, DslValue *out)
{
    if (a->kind == V_TENSOR || b->kind == V_TENSOR) {
        if (op == T_PERCENT)
            return type_error(E, loc, "%", a, b);
        return dsl_tensor_binary(E, loc, op, a, b, out);
    }
    if (a->kind == V_INT && b->kind == V_INT)
        return arith_int(E, loc, op, a->u.i, b->u.i, out);
    if (dsl_value_is_number(a) && dsl_value_is_number(b)) {
        double x = dsl_value_number(a), y = dsl_value_number(b), r;
        switch (op) {
        case T_PLUS: r = x + y; break;
        case T_MINUS: r = x - y; break;
        case T_STAR: r = x * y; break;
        case T_SLASH:
            if (y == 0)
                return dsl_eval_error(E, SD_EBADMODEL, loc, "division by zero");
            r = x / y;
            break;
        default:
            if (y == 0)
                return dsl_eval_error(E, SD_EBADMODEL, loc, "remainder by zero");
            r = fmod(x, y);
            if (r != 0 && ((r < 0) != (y < 0)))
                r += y;
            break;
        }
        *out = v_float(r);
        return SD_OK;
    }
    if (op == T_PLUS && a->kind == V_STR && b->kind == V_STR) {
        size_t la = strlen(a->u.s), lb = strlen(b->u.s);
        char *s = dsl_arena_alloc(E->arena, la + lb + 1);
        if (!s)
            return oom(E, loc);
        memcpy(s, a->u.s, la);
        memcpy(s + la, b->u.s, lb);
        *out = (DslValue){.kind = V_STR, .u.s = s};
        return SD_OK;
    }
    if (op == T_PLUS && a->kind == V_LIST && b->kind == V_LIST) {
        SD_TRY(make_list(E, loc, a->u.list.n + b->u.list.n, out));
        for (int i = 0; i < a->u.list.n; i++)
            out->u.list.items[i] = a->u.list.items[i];
        for (int i = 0; i < b->u.list.n; i++)
            out->u.list.items[a->u.list.n + i] = b->u.list.items[i];
        return SD_OK;
    }
    if (op == T_STAR && a->kind == V_LIST && b->kind == V_INT) {
        if (b->u.i < 0 || (a->u.list.n && b->u.i > MAX_LIST / a->u.list.n))
            return dsl_eval_error(E, SD_EBADMODEL, loc, "cannot repeat a list %lld times", (long long)b->u.i);
        SD_TRY(make_list(E, loc, a->u.list.n * (int)b->u.i, out));
        for (int i = 0; i < out->u.list.n; i++)
            out->u.list.items[i] = a->u.list.items[i % a->u.list.n];
        return SD_OK;
    }
    if (a->kind == V_STR || b->kind == V_STR)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "'%s' does not apply to %s and %s (write values into a string as \"name{i}\")",
                              op_text(op), dsl_kind_name(a->kind), dsl_kind_name(b->kind));
    return type_error(E, loc, op_text(op), a, b);
}

static SdStatus compare(DslEval *E, DslLoc loc, DslTok op, const DslValue *a, const DslValue *b, DslValue *out)
{
    if (op == T_EQ || op == T_NE) {
        bool eq = values_equal(a, b);
        *out = v_bool(op == T_EQ ? eq : !eq);
        return SD_OK;
    }
    int c;
    if (dsl_value_is_number(a) && dsl_value_is_number(b)) {
        if (a->kind == V_INT && b->kind == V_INT)
            c = (a->u.i > b->u.i) - (a->u.i < b->u.i);
        else
            c = (dsl_value_number(a) > dsl_value_number(b)) - (dsl_value_number(a) < dsl_value_number(b));
    } else if (a->kind == V_STR && b->kind == V_STR) {
        c = strcmp(a->u.s, b->u.s);
    } else {
        return type_error(E, loc, op_text(op), a, b);
    }
    bool r = op == T_LT ? c < 0 : op == T_LE ? c <= 0 : op == T_GT ? c > 0 : c >= 0;
    *out = v_bool(r);
    return SD_OK;
}

static SdStatus eval_bool(DslEval *E, const DslExpr *e, const char *what, bool *out)
{
    DslValue v;
    SD_TRY(dsl_eval_expr(E, e, &v));
    if (v.kind != V_BOOL)
        return dsl_eval_error(E, SD_EBADMODEL, e->loc, "%s must be true or false, not %s", what, dsl_kind_name(v.kind));
    *out = v.u.b;
    return SD_OK;
}

static SdStatus eval_call(DslEval *E, const DslExpr *e, DslValue *out);

SdStatus dsl_eval_expr(DslEval *E, const DslExpr *e, DslValue *out)
{
    DslValue a, b;
    switch (e->kind) {
    case E_INT: *out = v_int(e->u.i); return SD_OK;
    case E_FLOAT: *out = v_float(e->u.f); return SD_OK;
    case E_BOOL: *out = v_bool(e->u.b); return SD_OK;
    case E_STRING: return eval_string(E, e, out);
    case E_NAME: return lookup(E, e, out);
    case E_CALL: return eval_call(E, e, out);
    case E_LIST:
        SD_TRY(make_list(E, e->loc, e->u.list.n, out));
        for (int i = 0; i < e->u.list.n; i++)
            SD_TRY(dsl_eval_expr(E, e->u.list.items[i], &out->u.list.items[i]));
        return SD_OK;
    case E_INDEX: {
        SD_TRY(dsl_eval_expr(E, e->u.index.base, &a));
        SD_TRY(dsl_eval_expr(E, e->u.index.index, &b));
        if (a.kind != V_LIST)
            return dsl_eval_error(E, SD_EBADMODEL, e->loc, "only lists can be indexed, not %s%s", dsl_kind_name(a.kind),
                                  a.kind == V_TENSOR ? " (select(x, axis, index) picks from a tensor)" : "");
        if (b.kind != V_INT)
            return dsl_eval_error(E, SD_EBADMODEL, e->u.index.index->loc, "a list index must be an integer, not %s",
                                  dsl_kind_name(b.kind));
        int64_t i = b.u.i < 0 ? b.u.i + a.u.list.n : b.u.i;
        if (i < 0 || i >= a.u.list.n)
            return dsl_eval_error(E, SD_EBADMODEL, e->u.index.index->loc, "index %lld is out of range for a list of %d",
                                  (long long)b.u.i, a.u.list.n);
        *out = a.u.list.items[i];
        return SD_OK;
    }
    case E_UNARY:
        SD_TRY(dsl_eval_expr(E, e->u.unary.a, &a));
        if (e->u.unary.op == T_NOT) {
            if (a.kind != V_BOOL)
                return type_error(E, e->loc, "not", &a, NULL);
            *out = v_bool(!a.u.b);
        } else if (e->u.unary.op == T_PLUS && dsl_value_is_number(&a)) {
            *out = a;
        } else if (a.kind == V_INT) {
            if (a.u.i == INT64_MIN)
                return dsl_eval_error(E, SD_EBADMODEL, e->loc, "integer overflow");
            *out = v_int(-a.u.i);
        } else if (a.kind == V_FLOAT) {
            *out = v_float(-a.u.f);
        } else if (a.kind == V_TENSOR && e->u.unary.op == T_MINUS) {
            return dsl_tensor_neg(E, e->loc, &a, out);
        } else {
            return type_error(E, e->loc, e->u.unary.op == T_MINUS ? "-" : "+", &a, NULL);
        }
        return SD_OK;
    case E_BINARY: {
        DslTok op = e->u.binary.op;
        if (op == T_AND || op == T_OR) {
            bool x, y;
            SD_TRY(eval_bool(E, e->u.binary.a, op == T_AND ? "the left side of 'and'" : "the left side of 'or'", &x));
            if (op == T_AND ? !x : x) {
                *out = v_bool(x);
                return SD_OK;
            }
            SD_TRY(eval_bool(E, e->u.binary.b, op == T_AND ? "the right side of 'and'" : "the right side of 'or'", &y));
            *out = v_bool(y);
            return SD_OK;
        }
        SD_TRY(dsl_eval_expr(E, e->u.binary.a, &a));
        SD_TRY(dsl_eval_expr(E, e->u.binary.b, &b));
        if (op == T_EQ || op == T_NE || op == T_LT || op == T_LE || op == T_GT || op == T_GE)
            return compare(E, e->loc, op, &a, &b, out);
        return arith(E, e->loc, op, &a, &b, out);
    }
    case E_TERNARY: {
        bool c;
        SD_TRY(eval_bool(E, e->u.ternary.cond, "the condition of '? :'", &c));
        return dsl_eval_expr(E, c ? e->u.ternary.a : e->u.ternary.b, out);
    }
    case E_RANGE: {
        SD_TRY(dsl_eval_expr(E, e->u.range.lo, &a));
        SD_TRY(dsl_eval_expr(E, e->u.range.hi, &b));
        if (a.kind != V_INT || b.kind != V_INT)
            return dsl_eval_error(E, SD_EBADMODEL, e->loc, "a range 'a..b' needs integers, not %s and %s",
                                  dsl_kind_name(a.kind), dsl_kind_name(b.kind));
        int64_t n = b.u.i > a.u.i ? b.u.i - a.u.i : 0;
        if (n > MAX_LIST)
            return dsl_eval_error(E, SD_EBADMODEL, e->loc, "the range %lld..%lld has more than %d values",
                                  (long long)a.u.i, (long long)b.u.i, MAX_LIST);
        SD_TRY(make_list(E, e->loc, (int)n, out));
        for (int64_t i = 0; i < n; i++)
            out->u.list.items[i] = v_int(a.u.i + i);
        return SD_OK;
    }
    }
    return dsl_eval_error(E, SD_EINTERNAL, e->loc, "unknown expression");
}

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
        SD_TRY(eval_bool(E, s->u.if_.cond, "the condition of 'if'", &c));
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
            SD_TRY(make_list(E, s->loc, s->u.ret.n, &list));
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

static SdStatus eval_call(DslEval *E, const DslExpr *e, DslValue *out)
{
    const char *name = e->u.call.callee;
    const DslDecl *d = find_callable(E->prog, name);
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

/* ---- argument readers ---- */

bool dsl_arg_given(const DslCall *c, int i) { return c->args[i].kind != V_NONE; }

static const char *param_name(const DslCall *c, int i) { return c->b->params[i] + (c->b->params[i][0] == '?'); }

static SdStatus arg_type_error(DslEval *E, DslCall *c, int i, const char *want)
{
    return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must be %s, not %s", c->b->name,
                          param_name(c, i), want, dsl_kind_name(c->args[i].kind));
}

SdStatus dsl_arg_int(DslEval *E, DslCall *c, int i, int64_t def, int64_t *out)
{
    if (!dsl_arg_given(c, i)) {
        *out = def;
        return SD_OK;
    }
    if (c->args[i].kind != V_INT)
        return arg_type_error(E, c, i, "an integer");
    *out = c->args[i].u.i;
    return SD_OK;
}

SdStatus dsl_arg_float(DslEval *E, DslCall *c, int i, double def, double *out)
{
    if (!dsl_arg_given(c, i)) {
        *out = def;
        return SD_OK;
    }
    if (!dsl_value_is_number(&c->args[i]))
        return arg_type_error(E, c, i, "a number");
    *out = dsl_value_number(&c->args[i]);
    return SD_OK;
}

SdStatus dsl_arg_bool(DslEval *E, DslCall *c, int i, bool def, bool *out)
{
    if (!dsl_arg_given(c, i)) {
        *out = def;
        return SD_OK;
    }
    if (c->args[i].kind != V_BOOL)
        return arg_type_error(E, c, i, "true or false");
    *out = c->args[i].u.b;
    return SD_OK;
}

SdStatus dsl_arg_str(DslEval *E, DslCall *c, int i, const char *def, const char **out)
{
    if (!dsl_arg_given(c, i)) {
        *out = def;
        return SD_OK;
    }
    if (c->args[i].kind != V_STR)
        return arg_type_error(E, c, i, "a string");
    *out = c->args[i].u.s;
    return SD_OK;
}

SdStatus dsl_arg_tensor(DslEval *E, DslCall *c, int i, IrValue **out)
{
    if (c->args[i].kind != V_TENSOR)
        return arg_type_error(E, c, i, "a tensor");
    *out = c->args[i].u.t;
    return SD_OK;
}

SdStatus dsl_arg_ints(DslEval *E, DslCall *c, int i, int n, int64_t def, int64_t *out)
{
    const DslValue *v = &c->args[i];
    if (!dsl_arg_given(c, i)) {
        for (int k = 0; k < n; k++)
            out[k] = def;
        return SD_OK;
    }
    if (v->kind == V_INT) {
        for (int k = 0; k < n; k++)
            out[k] = v->u.i;
        return SD_OK;
    }
    if (v->kind != V_LIST || v->u.list.n != n) {
        char want[64];
        snprintf(want, sizeof want, "an integer or a list of %d integers", n);
        if (v->kind == V_LIST)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must be %s, not a list of %d",
                                  c->b->name, param_name(c, i), want, v->u.list.n);
        return arg_type_error(E, c, i, want);
    }
    for (int k = 0; k < n; k++) {
        if (v->u.list.items[k].kind != V_INT)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must hold integers, not %s",
                                  c->b->name, param_name(c, i), dsl_kind_name(v->u.list.items[k].kind));
        out[k] = v->u.list.items[k].u.i;
    }
    return SD_OK;
}

/* ---- globals and models ---- */

void dsl_eval_init(DslEval *E, const DslProgram *p, DslArena *arena, SdError *err)
{
    memset(E, 0, sizeof *E);
    E->prog = p;
    E->arena = arena;
    E->err = err;
}

SdStatus dsl_eval_globals(DslProgram *p, SdError *err)
{
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
        DslValue v;
        SD_TRY(dsl_eval_expr(&E, d->value, &v));
        p->global_names[p->n_globals] = d->name;
        p->globals[p->n_globals++] = v;
    }
    return SD_OK;
}

static SdStatus from_arg(DslEval *E, const DslArgValue *a, DslLoc loc, DslValue *out)
{
    switch (a->kind) {
    case DSL_VAL_INT: *out = v_int(a->i); return SD_OK;
    case DSL_VAL_FLOAT: *out = v_float(a->f); return SD_OK;
    case DSL_VAL_BOOL: *out = v_bool(a->b); return SD_OK;
    case DSL_VAL_STRING: {
        char *s = dsl_arena_strndup(E->arena, a->s, strlen(a->s));
        if (!s)
            return oom(E, loc);
        *out = (DslValue){.kind = V_STR, .u.s = s};
        return SD_OK;
    }
    case DSL_VAL_INTS:
    case DSL_VAL_FLOATS:
        SD_TRY(make_list(E, loc, a->n, out));
        for (int i = 0; i < a->n; i++)
            out->u.list.items[i] = a->kind == DSL_VAL_INTS ? v_int(a->ints[i]) : v_float(a->floats[i]);
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
