/* frontend/dsl/parser_expr.c — expressions, by precedence from `a ? b : c` down to literals,
 * calls and indexing; strings with {expr} interpolation parsed by a parser of their own. */
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/parser_internal.h"

/* ---- strings with {expr} interpolation ---- */

static SdStatus parse_string(Parser *p, DslExpr **out)
{
    const DslToken t = p->cur;
    DslExpr *e = dsl_parser_new_expr(p, E_STRING, t.loc);
    int cap_t = 0, cap_e = 0, n = 0;
    char *buf = dsl_parser_alloc(p, t.len + 1);
    if (!e || !buf)
        return dsl_parser_oom(p);
    size_t k = 0;
    const char **text = NULL;
    DslExpr **exprs = NULL;
    for (size_t i = 0; i <= t.len; i++) {
        char c = i < t.len ? t.start[i] : 0;
        DslLoc here = {t.loc.file, t.loc.line, t.loc.col + 1 + (int)i};
        if (i < t.len && c == '\\') {
            char d = t.start[++i];
            buf[k++] = d == 'n' ? '\n' : d == 't' ? '\t' : d;
            continue;
        }
        if (i < t.len && (c == '{' || c == '}') && i + 1 < t.len && t.start[i + 1] == c) {
            buf[k++] = c;
            i++;
            continue;
        }
        if (i < t.len && c == '}')
            return dsl_error(p->err, SD_EBADMODEL, here, "'}' without '{' in a string (write '}}' for a brace)");
        if (i < t.len && c != '{') {
            buf[k++] = c;
            continue;
        }
        /* end of a literal piece: at '{' or at the end */
        if (!(text = dsl_parser_grow(p, text, n, &cap_t, sizeof *text)) ||
            !(text[n] = dsl_arena_strndup(p->arena, buf, k)))
            return dsl_parser_oom(p);
        k = 0;
        if (i == t.len)
            break;
        size_t close = i + 1;
        while (close < t.len && t.start[close] != '}')
            close++;
        if (close >= t.len)
            return dsl_error(p->err, SD_EBADMODEL, here, "'{' without '}' in a string (write '{{' for a brace)");
        Parser sub;
        SD_TRY(dsl_parser_start(&sub, p->arena, t.loc.file, t.start + i + 1, close - i - 1, t.loc.line, here.col + 1,
                                p->err));
        sub.depth = p->depth;
        if (!(exprs = dsl_parser_grow(p, exprs, n, &cap_e, sizeof *exprs)))
            return dsl_parser_oom(p);
        if (sub.cur.kind == T_EOF)
            return dsl_error(p->err, SD_EBADMODEL, here, "empty '{}' in a string");
        SD_TRY(dsl_parse_expr(&sub, &exprs[n]));
        if (sub.cur.kind != T_EOF)
            return dsl_parser_expected(&sub, "'}' after the expression in the string");
        n++;
        i = close;
    }
    e->u.str.n = n;
    e->u.str.text = text;
    e->u.str.exprs = exprs;
    *out = e;
    return dsl_parser_bump(p);
}

/* ---- expressions ---- */

static SdStatus parse_args(Parser *p, const char *callee, DslArg **args, int *n_args)
{
    int n = 0, cap = 0;
    DslArg *a = NULL;
    bool keyword_seen = false;
    while (p->cur.kind != T_RPAREN) {
        if (!(a = dsl_parser_grow(p, a, n, &cap, sizeof *a)))
            return dsl_parser_oom(p);
        a[n].loc = p->cur.loc;
        if (dsl_parser_is_word(p->cur.kind) && p->next.kind == T_ASSIGN) {
            if (!(a[n].name = dsl_parser_tok_text(p, &p->cur)))
                return dsl_parser_oom(p);
            for (int i = 0; i < n; i++)
                if (a[i].name && strcmp(a[i].name, a[n].name) == 0)
                    return dsl_error(p->err, SD_EBADMODEL, a[n].loc, "argument '%s' is given twice", a[n].name);
            SD_TRY(dsl_parser_bump(p));
            SD_TRY(dsl_parser_bump(p));
            keyword_seen = true;
        } else if (keyword_seen) {
            return dsl_error(p->err, SD_EBADMODEL, p->cur.loc,
                             "a positional argument cannot follow keyword arguments in the call of '%s'", callee);
        }
        SD_TRY(dsl_parse_expr(p, &a[n].value));
        n++;
        if (p->cur.kind == T_COMMA) {
            SD_TRY(dsl_parser_bump(p));
            continue;
        }
        if (p->cur.kind != T_RPAREN) {
            char what[96];
            snprintf(what, sizeof what, "',' or ')' in the arguments of '%s'", callee);
            return dsl_parser_expected(p, what);
        }
    }
    *args = a;
    *n_args = n;
    return dsl_parser_bump(p);
}

SdStatus dsl_parse_list(Parser *p, DslExpr **out)
{
    DslExpr *e = dsl_parser_new_expr(p, E_LIST, p->cur.loc);
    if (!e)
        return dsl_parser_oom(p);
    SD_TRY(dsl_parser_bump(p)); /* '[' */
    int cap = 0;
    while (p->cur.kind != T_RBRACKET) {
        if (!(e->u.list.items = dsl_parser_grow(p, e->u.list.items, e->u.list.n, &cap, sizeof *e->u.list.items)))
            return dsl_parser_oom(p);
        SD_TRY(dsl_parse_expr(p, &e->u.list.items[e->u.list.n++]));
        if (p->cur.kind == T_COMMA) {
            SD_TRY(dsl_parser_bump(p));
            continue;
        }
        if (p->cur.kind != T_RBRACKET)
            return dsl_parser_expected(p, "',' or ']' in the list");
    }
    *out = e;
    return dsl_parser_bump(p);
}

static SdStatus parse_primary(Parser *p, DslExpr **out)
{
    DslToken t = p->cur;
    DslExpr *e;
    switch (t.kind) {
    case T_INT:
        if (!(e = dsl_parser_new_expr(p, E_INT, t.loc)))
            return dsl_parser_oom(p);
        e->u.i = t.i;
        break;
    case T_FLOAT:
        if (!(e = dsl_parser_new_expr(p, E_FLOAT, t.loc)))
            return dsl_parser_oom(p);
        e->u.f = t.f;
        break;
    case T_TRUE:
    case T_FALSE:
        if (!(e = dsl_parser_new_expr(p, E_BOOL, t.loc)))
            return dsl_parser_oom(p);
        e->u.b = t.kind == T_TRUE;
        break;
    case T_STRING:
        return parse_string(p, out);
    case T_LBRACKET:
        return dsl_parse_list(p, out);
    case T_LPAREN:
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(dsl_parse_expr(p, out));
        return dsl_parser_expect(p, T_RPAREN, "')'");
    case T_IDENT:
        if (!(e = dsl_parser_new_expr(p, E_NAME, t.loc)) || !(e->u.name = dsl_parser_tok_text(p, &t)))
            return dsl_parser_oom(p);
        break;
    default: {
        char b[64];
        return dsl_error(p->err, SD_EBADMODEL, t.loc, "expected a value (number, string, name, list or call), found %s",
                         dsl_parser_describe(&t, b, sizeof b));
    }
    }
    *out = e;
    return dsl_parser_bump(p);
}

static SdStatus parse_postfix(Parser *p, DslExpr **out)
{
    SD_TRY(parse_primary(p, out));
    for (;;) {
        DslExpr *base = *out;
        if (p->cur.kind == T_LPAREN && !p->cur.newline_before) {
            if (base->kind != E_NAME)
                return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "only a block, layer or function name can be called");
            DslExpr *c = dsl_parser_new_expr(p, E_CALL, base->loc);
            if (!c)
                return dsl_parser_oom(p);
            c->u.call.callee = base->u.name;
            SD_TRY(dsl_parser_bump(p));
            SD_TRY(parse_args(p, base->u.name, &c->u.call.args, &c->u.call.n));
            *out = c;
        } else if (p->cur.kind == T_LBRACKET && !p->cur.newline_before) {
            DslExpr *ix = dsl_parser_new_expr(p, E_INDEX, p->cur.loc);
            if (!ix)
                return dsl_parser_oom(p);
            SD_TRY(dsl_parser_bump(p));
            ix->u.index.base = base;
            SD_TRY(dsl_parse_expr(p, &ix->u.index.index));
            SD_TRY(dsl_parser_expect(p, T_RBRACKET, "']' after the index"));
            *out = ix;
        } else {
            return SD_OK;
        }
    }
}

static SdStatus parse_unary(Parser *p, DslExpr **out)
{
    if (p->cur.kind == T_MINUS || p->cur.kind == T_PLUS) {
        DslExpr *e = dsl_parser_new_expr(p, E_UNARY, p->cur.loc);
        if (!e)
            return dsl_parser_oom(p);
        e->u.unary.op = p->cur.kind;
        SD_TRY(dsl_parser_bump(p));
        if (++p->depth > MAX_DEPTH)
            return dsl_error(p->err, SD_EBADMODEL, e->loc, "expression nested too deeply");
        SD_TRY(parse_unary(p, &e->u.unary.a));
        p->depth--;
        *out = e;
        return SD_OK;
    }
    return parse_postfix(p, out);
}

static SdStatus binary(Parser *p, DslTok op, DslLoc loc, DslExpr *a, DslExpr *b, DslExpr **out)
{
    DslExpr *e = dsl_parser_new_expr(p, E_BINARY, loc);
    if (!e)
        return dsl_parser_oom(p);
    e->u.binary.op = op;
    e->u.binary.a = a;
    e->u.binary.b = b;
    *out = e;
    return SD_OK;
}

static SdStatus parse_mul(Parser *p, DslExpr **out)
{
    SD_TRY(parse_unary(p, out));
    while (p->cur.kind == T_STAR || p->cur.kind == T_SLASH || p->cur.kind == T_PERCENT) {
        DslToken op = p->cur;
        DslExpr *b;
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(parse_unary(p, &b));
        SD_TRY(binary(p, op.kind, op.loc, *out, b, out));
    }
    return SD_OK;
}

static SdStatus parse_add(Parser *p, DslExpr **out)
{
    SD_TRY(parse_mul(p, out));
    while (p->cur.kind == T_PLUS || p->cur.kind == T_MINUS) {
        DslToken op = p->cur;
        DslExpr *b;
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(parse_mul(p, &b));
        SD_TRY(binary(p, op.kind, op.loc, *out, b, out));
    }
    return SD_OK;
}

static SdStatus parse_range(Parser *p, DslExpr **out)
{
    SD_TRY(parse_add(p, out));
    if (p->cur.kind != T_DOTDOT)
        return SD_OK;
    DslExpr *e = dsl_parser_new_expr(p, E_RANGE, p->cur.loc);
    if (!e)
        return dsl_parser_oom(p);
    SD_TRY(dsl_parser_bump(p));
    e->u.range.lo = *out;
    SD_TRY(parse_add(p, &e->u.range.hi));
    *out = e;
    return SD_OK;
}

static bool is_comparison(DslTok k)
{
    return k == T_EQ || k == T_NE || k == T_LT || k == T_LE || k == T_GT || k == T_GE;
}

static SdStatus parse_cmp(Parser *p, DslExpr **out)
{
    SD_TRY(parse_range(p, out));
    if (!is_comparison(p->cur.kind))
        return SD_OK;
    DslToken op = p->cur;
    DslExpr *b;
    SD_TRY(dsl_parser_bump(p));
    SD_TRY(parse_range(p, &b));
    if (is_comparison(p->cur.kind))
        return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "comparisons do not chain; combine them with 'and'");
    return binary(p, op.kind, op.loc, *out, b, out);
}

static SdStatus parse_not(Parser *p, DslExpr **out)
{
    if (p->cur.kind != T_NOT)
        return parse_cmp(p, out);
    DslExpr *e = dsl_parser_new_expr(p, E_UNARY, p->cur.loc);
    if (!e)
        return dsl_parser_oom(p);
    e->u.unary.op = T_NOT;
    SD_TRY(dsl_parser_bump(p));
    if (++p->depth > MAX_DEPTH)
        return dsl_error(p->err, SD_EBADMODEL, e->loc, "expression nested too deeply");
    SD_TRY(parse_not(p, &e->u.unary.a));
    p->depth--;
    *out = e;
    return SD_OK;
}

static SdStatus parse_and(Parser *p, DslExpr **out)
{
    SD_TRY(parse_not(p, out));
    while (p->cur.kind == T_AND) {
        DslToken op = p->cur;
        DslExpr *b;
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(parse_not(p, &b));
        SD_TRY(binary(p, T_AND, op.loc, *out, b, out));
    }
    return SD_OK;
}

static SdStatus parse_or(Parser *p, DslExpr **out)
{
    SD_TRY(parse_and(p, out));
    while (p->cur.kind == T_OR) {
        DslToken op = p->cur;
        DslExpr *b;
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(parse_and(p, &b));
        SD_TRY(binary(p, T_OR, op.loc, *out, b, out));
    }
    return SD_OK;
}

SdStatus dsl_parse_expr(Parser *p, DslExpr **out)
{
    if (++p->depth > MAX_DEPTH)
        return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "expression nested too deeply");
    SD_TRY(parse_or(p, out));
    if (p->cur.kind == T_QUESTION) {
        DslExpr *e = dsl_parser_new_expr(p, E_TERNARY, p->cur.loc);
        if (!e)
            return dsl_parser_oom(p);
        SD_TRY(dsl_parser_bump(p));
        e->u.ternary.cond = *out;
        SD_TRY(dsl_parse_expr(p, &e->u.ternary.a));
        SD_TRY(dsl_parser_expect(p, T_COLON, "':' of 'condition ? a : b'"));
        SD_TRY(dsl_parse_expr(p, &e->u.ternary.b));
        *out = e;
    }
    p->depth--;
    return SD_OK;
}
