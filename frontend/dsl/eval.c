/* frontend/dsl/eval.c — values and expressions: arithmetic, comparisons, lists, strings with
 * interpolation, variables, errors with the chain of calls. Values are immutable and live in the
 * evaluation's arena; variables are per call (a `for` or `scope` body shares its block's
 * variables). Integers are 64-bit and checked for overflow; `/` between integers rounds down.
 * exec.c runs statements and calls; budgets (steps, call depth, list sizes) stop a wrong loop
 * bound with a message, not a hang. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/lower.h"

enum { MAX_LIST = 1 << 20 };

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

const DslDecl *dsl_find_callable(const DslProgram *p, const char *name)
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
    if (dsl_find_callable(E->prog, name) || dsl_builtin_find(name))
        return dsl_eval_error(E, SD_EBADMODEL, e->loc, "'%s' is a block or layer: call it, as in '%s(x)'", name, name);
    return dsl_eval_error(E, SD_EBADMODEL, e->loc, "unknown name '%s'%s", name, dym);
}

/* ---- expressions ---- */


SdStatus dsl_make_list(DslEval *E, DslLoc loc, int n, DslValue *out)
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
    *out = dsl_int(r);
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
        *out = dsl_float(r);
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
        SD_TRY(dsl_make_list(E, loc, a->u.list.n + b->u.list.n, out));
        for (int i = 0; i < a->u.list.n; i++)
            out->u.list.items[i] = a->u.list.items[i];
        for (int i = 0; i < b->u.list.n; i++)
            out->u.list.items[a->u.list.n + i] = b->u.list.items[i];
        return SD_OK;
    }
    if (op == T_STAR && a->kind == V_LIST && b->kind == V_INT) {
        if (b->u.i < 0 || (a->u.list.n && b->u.i > MAX_LIST / a->u.list.n))
            return dsl_eval_error(E, SD_EBADMODEL, loc, "cannot repeat a list %lld times", (long long)b->u.i);
        SD_TRY(dsl_make_list(E, loc, a->u.list.n * (int)b->u.i, out));
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
        *out = dsl_bool(op == T_EQ ? eq : !eq);
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
    *out = dsl_bool(r);
    return SD_OK;
}

SdStatus dsl_eval_bool(DslEval *E, const DslExpr *e, const char *what, bool *out)
{
    DslValue v;
    SD_TRY(dsl_eval_expr(E, e, &v));
    if (v.kind != V_BOOL)
        return dsl_eval_error(E, SD_EBADMODEL, e->loc, "%s must be true or false, not %s", what, dsl_kind_name(v.kind));
    *out = v.u.b;
    return SD_OK;
}

SdStatus dsl_eval_expr(DslEval *E, const DslExpr *e, DslValue *out)
{
    DslValue a, b;
    switch (e->kind) {
    case E_INT: *out = dsl_int(e->u.i); return SD_OK;
    case E_FLOAT: *out = dsl_float(e->u.f); return SD_OK;
    case E_BOOL: *out = dsl_bool(e->u.b); return SD_OK;
    case E_STRING: return eval_string(E, e, out);
    case E_NAME: return lookup(E, e, out);
    case E_CALL: return dsl_eval_call(E, e, out);
    case E_LIST:
        SD_TRY(dsl_make_list(E, e->loc, e->u.list.n, out));
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
            *out = dsl_bool(!a.u.b);
        } else if (e->u.unary.op == T_PLUS && dsl_value_is_number(&a)) {
            *out = a;
        } else if (a.kind == V_INT) {
            if (a.u.i == INT64_MIN)
                return dsl_eval_error(E, SD_EBADMODEL, e->loc, "integer overflow");
            *out = dsl_int(-a.u.i);
        } else if (a.kind == V_FLOAT) {
            *out = dsl_float(-a.u.f);
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
            SD_TRY(dsl_eval_bool(E, e->u.binary.a, op == T_AND ? "the left side of 'and'" : "the left side of 'or'", &x));
            if (op == T_AND ? !x : x) {
                *out = dsl_bool(x);
                return SD_OK;
            }
            SD_TRY(dsl_eval_bool(E, e->u.binary.b, op == T_AND ? "the right side of 'and'" : "the right side of 'or'", &y));
            *out = dsl_bool(y);
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
        SD_TRY(dsl_eval_bool(E, e->u.ternary.cond, "the condition of '? :'", &c));
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
        SD_TRY(dsl_make_list(E, e->loc, (int)n, out));
        for (int64_t i = 0; i < n; i++)
            out->u.list.items[i] = dsl_int(a.u.i + i);
        return SD_OK;
    }
    }
    return dsl_eval_error(E, SD_EINTERNAL, e->loc, "unknown expression");
}

