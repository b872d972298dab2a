/* frontend/dsl/parser.c — recursive descent from tokens to the syntax tree (grammar in
 * docs/dsl.md). One token of lookahead plus one more for `name =` (assignments, keyword
 * arguments, named return values). Nesting is limited so a hostile file cannot exhaust the stack.
 * Every error says where and what was expected: "f.sd:3:14: expected ')' after the arguments of
 * 'conv', found '='". */
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/ast.h"

enum { MAX_DEPTH = 200 };

typedef struct Parser {
    DslArena *arena;
    DslLexer lx;
    DslToken cur, next;
    SdError *err;
    int depth;
} Parser;

static SdStatus bump(Parser *p)
{
    p->cur = p->next;
    if (p->cur.kind == T_EOF)
        return SD_OK;
    return dsl_lex(&p->lx, &p->next, p->err);
}

static SdStatus start(Parser *p, DslArena *arena, const char *file, const char *src, size_t len, int line, int col,
                      SdError *err)
{
    *p = (Parser){.arena = arena, .err = err};
    dsl_lexer_init(&p->lx, file, src, len, line, col);
    SD_TRY(dsl_lex(&p->lx, &p->cur, err));
    if (p->cur.kind == T_EOF) {
        p->next = p->cur;
        return SD_OK;
    }
    return dsl_lex(&p->lx, &p->next, err);
}

static SdStatus oom(Parser *p) { return dsl_error(p->err, SD_ENOMEM, p->cur.loc, "out of memory"); }

static void *alloc(Parser *p, size_t n) { return dsl_arena_alloc(p->arena, n); }

/* Grows an arena array of `elem` bytes to hold n + 1 items. */
static void *grow(Parser *p, void *arr, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return arr;
    int nc = *cap ? *cap * 2 : 4;
    void *na = alloc(p, (size_t)nc * elem);
    if (na && n)
        memcpy(na, arr, (size_t)n * elem);
    *cap = nc;
    return na;
}

/* "'foo'" for a name, "'('" for punctuation, "end of file" ... */
static const char *describe(const DslToken *t, char *buf, size_t n)
{
    if (t->kind == T_IDENT || t->kind == T_INT || t->kind == T_FLOAT)
        snprintf(buf, n, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->start);
    else if (t->kind == T_STRING)
        snprintf(buf, n, "a string");
    else
        snprintf(buf, n, "%s", dsl_tok_name(t->kind));
    return buf;
}

static SdStatus expected(Parser *p, const char *what)
{
    char b[64];
    return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "expected %s, found %s", what, describe(&p->cur, b, sizeof b));
}

static SdStatus expect(Parser *p, DslTok k, const char *what)
{
    if (p->cur.kind != k)
        return expected(p, what);
    return bump(p);
}

static char *tok_text(Parser *p, const DslToken *t) { return dsl_arena_strndup(p->arena, t->start, t->len); }

static bool is_word(DslTok k) { return k == T_IDENT || (k >= T_IMPORT && k <= T_NOT); }

static SdStatus name_token(Parser *p, const char **out, DslLoc *loc, const char *what)
{
    if (p->cur.kind != T_IDENT)
        return expected(p, what);
    if (!(*out = tok_text(p, &p->cur)))
        return oom(p);
    if (loc)
        *loc = p->cur.loc;
    return bump(p);
}

static DslExpr *new_expr(Parser *p, DslExprKind k, DslLoc loc)
{
    DslExpr *e = alloc(p, sizeof *e);
    if (e) {
        e->kind = k;
        e->loc = loc;
    }
    return e;
}

static SdStatus parse_expr(Parser *p, DslExpr **out);

/* ---- strings with {expr} interpolation ---- */

static SdStatus parse_string(Parser *p, DslExpr **out)
{
    const DslToken t = p->cur;
    DslExpr *e = new_expr(p, E_STRING, t.loc);
    int cap_t = 0, cap_e = 0, n = 0;
    char *buf = alloc(p, t.len + 1);
    if (!e || !buf)
        return oom(p);
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
        if (!(text = grow(p, text, n, &cap_t, sizeof *text)) || !(text[n] = dsl_arena_strndup(p->arena, buf, k)))
            return oom(p);
        k = 0;
        if (i == t.len)
            break;
        size_t close = i + 1;
        while (close < t.len && t.start[close] != '}')
            close++;
        if (close >= t.len)
            return dsl_error(p->err, SD_EBADMODEL, here, "'{' without '}' in a string (write '{{' for a brace)");
        Parser sub;
        SD_TRY(start(&sub, p->arena, t.loc.file, t.start + i + 1, close - i - 1, t.loc.line, here.col + 1, p->err));
        sub.depth = p->depth;
        if (!(exprs = grow(p, exprs, n, &cap_e, sizeof *exprs)))
            return oom(p);
        if (sub.cur.kind == T_EOF)
            return dsl_error(p->err, SD_EBADMODEL, here, "empty '{}' in a string");
        SD_TRY(parse_expr(&sub, &exprs[n]));
        if (sub.cur.kind != T_EOF)
            return expected(&sub, "'}' after the expression in the string");
        n++;
        i = close;
    }
    e->u.str.n = n;
    e->u.str.text = text;
    e->u.str.exprs = exprs;
    *out = e;
    return bump(p);
}

/* ---- expressions ---- */

static SdStatus parse_args(Parser *p, const char *callee, DslArg **args, int *n_args)
{
    int n = 0, cap = 0;
    DslArg *a = NULL;
    bool keyword_seen = false;
    while (p->cur.kind != T_RPAREN) {
        if (!(a = grow(p, a, n, &cap, sizeof *a)))
            return oom(p);
        a[n].loc = p->cur.loc;
        if (is_word(p->cur.kind) && p->next.kind == T_ASSIGN) {
            if (!(a[n].name = tok_text(p, &p->cur)))
                return oom(p);
            for (int i = 0; i < n; i++)
                if (a[i].name && strcmp(a[i].name, a[n].name) == 0)
                    return dsl_error(p->err, SD_EBADMODEL, a[n].loc, "argument '%s' is given twice", a[n].name);
            SD_TRY(bump(p));
            SD_TRY(bump(p));
            keyword_seen = true;
        } else if (keyword_seen) {
            return dsl_error(p->err, SD_EBADMODEL, p->cur.loc,
                             "a positional argument cannot follow keyword arguments in the call of '%s'", callee);
        }
        SD_TRY(parse_expr(p, &a[n].value));
        n++;
        if (p->cur.kind == T_COMMA) {
            SD_TRY(bump(p));
            continue;
        }
        if (p->cur.kind != T_RPAREN) {
            char what[96];
            snprintf(what, sizeof what, "',' or ')' in the arguments of '%s'", callee);
            return expected(p, what);
        }
    }
    *args = a;
    *n_args = n;
    return bump(p);
}

static SdStatus parse_list(Parser *p, DslExpr **out)
{
    DslExpr *e = new_expr(p, E_LIST, p->cur.loc);
    if (!e)
        return oom(p);
    SD_TRY(bump(p)); /* '[' */
    int cap = 0;
    while (p->cur.kind != T_RBRACKET) {
        if (!(e->u.list.items = grow(p, e->u.list.items, e->u.list.n, &cap, sizeof *e->u.list.items)))
            return oom(p);
        SD_TRY(parse_expr(p, &e->u.list.items[e->u.list.n++]));
        if (p->cur.kind == T_COMMA) {
            SD_TRY(bump(p));
            continue;
        }
        if (p->cur.kind != T_RBRACKET)
            return expected(p, "',' or ']' in the list");
    }
    *out = e;
    return bump(p);
}

static SdStatus parse_primary(Parser *p, DslExpr **out)
{
    DslToken t = p->cur;
    DslExpr *e;
    switch (t.kind) {
    case T_INT:
        if (!(e = new_expr(p, E_INT, t.loc)))
            return oom(p);
        e->u.i = t.i;
        break;
    case T_FLOAT:
        if (!(e = new_expr(p, E_FLOAT, t.loc)))
            return oom(p);
        e->u.f = t.f;
        break;
    case T_TRUE:
    case T_FALSE:
        if (!(e = new_expr(p, E_BOOL, t.loc)))
            return oom(p);
        e->u.b = t.kind == T_TRUE;
        break;
    case T_STRING:
        return parse_string(p, out);
    case T_LBRACKET:
        return parse_list(p, out);
    case T_LPAREN:
        SD_TRY(bump(p));
        SD_TRY(parse_expr(p, out));
        return expect(p, T_RPAREN, "')'");
    case T_IDENT:
        if (!(e = new_expr(p, E_NAME, t.loc)) || !(e->u.name = tok_text(p, &t)))
            return oom(p);
        break;
    default: {
        char b[64];
        return dsl_error(p->err, SD_EBADMODEL, t.loc, "expected a value (number, string, name, list or call), found %s",
                         describe(&t, b, sizeof b));
    }
    }
    *out = e;
    return bump(p);
}

static SdStatus parse_postfix(Parser *p, DslExpr **out)
{
    SD_TRY(parse_primary(p, out));
    for (;;) {
        DslExpr *base = *out;
        if (p->cur.kind == T_LPAREN && !p->cur.newline_before) {
            if (base->kind != E_NAME)
                return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "only a block, layer or function name can be called");
            DslExpr *c = new_expr(p, E_CALL, base->loc);
            if (!c)
                return oom(p);
            c->u.call.callee = base->u.name;
            SD_TRY(bump(p));
            SD_TRY(parse_args(p, base->u.name, &c->u.call.args, &c->u.call.n));
            *out = c;
        } else if (p->cur.kind == T_LBRACKET && !p->cur.newline_before) {
            DslExpr *ix = new_expr(p, E_INDEX, p->cur.loc);
            if (!ix)
                return oom(p);
            SD_TRY(bump(p));
            ix->u.index.base = base;
            SD_TRY(parse_expr(p, &ix->u.index.index));
            SD_TRY(expect(p, T_RBRACKET, "']' after the index"));
            *out = ix;
        } else {
            return SD_OK;
        }
    }
}

static SdStatus parse_unary(Parser *p, DslExpr **out)
{
    if (p->cur.kind == T_MINUS || p->cur.kind == T_PLUS) {
        DslExpr *e = new_expr(p, E_UNARY, p->cur.loc);
        if (!e)
            return oom(p);
        e->u.unary.op = p->cur.kind;
        SD_TRY(bump(p));
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
    DslExpr *e = new_expr(p, E_BINARY, loc);
    if (!e)
        return oom(p);
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
        SD_TRY(bump(p));
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
        SD_TRY(bump(p));
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
    DslExpr *e = new_expr(p, E_RANGE, p->cur.loc);
    if (!e)
        return oom(p);
    SD_TRY(bump(p));
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
    SD_TRY(bump(p));
    SD_TRY(parse_range(p, &b));
    if (is_comparison(p->cur.kind))
        return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "comparisons do not chain; combine them with 'and'");
    return binary(p, op.kind, op.loc, *out, b, out);
}

static SdStatus parse_not(Parser *p, DslExpr **out)
{
    if (p->cur.kind != T_NOT)
        return parse_cmp(p, out);
    DslExpr *e = new_expr(p, E_UNARY, p->cur.loc);
    if (!e)
        return oom(p);
    e->u.unary.op = T_NOT;
    SD_TRY(bump(p));
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
        SD_TRY(bump(p));
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
        SD_TRY(bump(p));
        SD_TRY(parse_and(p, &b));
        SD_TRY(binary(p, T_OR, op.loc, *out, b, out));
    }
    return SD_OK;
}

static SdStatus parse_expr(Parser *p, DslExpr **out)
{
    if (++p->depth > MAX_DEPTH)
        return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "expression nested too deeply");
    SD_TRY(parse_or(p, out));
    if (p->cur.kind == T_QUESTION) {
        DslExpr *e = new_expr(p, E_TERNARY, p->cur.loc);
        if (!e)
            return oom(p);
        SD_TRY(bump(p));
        e->u.ternary.cond = *out;
        SD_TRY(parse_expr(p, &e->u.ternary.a));
        SD_TRY(expect(p, T_COLON, "':' of 'condition ? a : b'"));
        SD_TRY(parse_expr(p, &e->u.ternary.b));
        *out = e;
    }
    p->depth--;
    return SD_OK;
}

/* ---- statements ---- */

static SdStatus parse_body(Parser *p, DslBody *body, const char *what);

static SdStatus new_stmt(Parser *p, DslStmtKind k, DslStmt **out)
{
    if (!(*out = alloc(p, sizeof **out)))
        return oom(p);
    (*out)->kind = k;
    (*out)->loc = p->cur.loc;
    return SD_OK;
}

static SdStatus parse_if(Parser *p, DslStmt **out)
{
    DslStmt *s;
    SD_TRY(new_stmt(p, S_IF, &s));
    SD_TRY(bump(p));
    SD_TRY(parse_expr(p, &s->u.if_.cond));
    SD_TRY(parse_body(p, &s->u.if_.then, "'{' to open the body of 'if'"));
    if (p->cur.kind == T_ELSE) {
        SD_TRY(bump(p));
        s->u.if_.has_else = true;
        if (p->cur.kind == T_IF) { /* else if: a body holding one if statement */
            DslStmt **one = alloc(p, sizeof *one);
            if (!one)
                return oom(p);
            if (++p->depth > MAX_DEPTH)
                return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "too many 'else if'");
            SD_TRY(parse_if(p, one));
            p->depth--;
            s->u.if_.otherwise = (DslBody){1, one};
        } else {
            SD_TRY(parse_body(p, &s->u.if_.otherwise, "'{' or 'if' after 'else'"));
        }
    }
    *out = s;
    return SD_OK;
}

static SdStatus parse_return(Parser *p, DslStmt **out)
{
    DslStmt *s;
    SD_TRY(new_stmt(p, S_RETURN, &s));
    SD_TRY(bump(p));
    int cap = 0;
    if (p->cur.kind == T_RBRACE || p->cur.kind == T_SEMI)
        return dsl_error(p->err, SD_EBADMODEL, s->loc, "'return' needs a value");
    for (;;) {
        if (!(s->u.ret.items = grow(p, s->u.ret.items, s->u.ret.n, &cap, sizeof *s->u.ret.items)))
            return oom(p);
        DslReturnItem *it = &s->u.ret.items[s->u.ret.n++];
        if (p->cur.kind == T_IDENT && p->next.kind == T_ASSIGN) {
            if (!(it->name = tok_text(p, &p->cur)))
                return oom(p);
            SD_TRY(bump(p));
            SD_TRY(bump(p));
        }
        SD_TRY(parse_expr(p, &it->value));
        if (p->cur.kind != T_COMMA)
            break;
        SD_TRY(bump(p));
    }
    *out = s;
    return SD_OK;
}

static SdStatus parse_input(Parser *p, DslStmt **out)
{
    DslStmt *s;
    SD_TRY(new_stmt(p, S_INPUT, &s));
    SD_TRY(bump(p));
    SD_TRY(name_token(p, &s->u.input.name, NULL, "the input's name after 'input'"));
    SD_TRY(expect(p, T_COLON, "':' between the input's name and its shape ('input image: [3, 224, 224]')"));
    if (p->cur.kind != T_LBRACKET)
        return expected(p, "the input's shape without the batch dimension, as a list ('[3, 224, 224]')");
    DslExpr *list;
    SD_TRY(parse_list(p, &list));
    if (list->u.list.n < 1 || list->u.list.n > IR_MAX_RANK - 1)
        return dsl_error(p->err, SD_EBADMODEL, list->loc, "an input shape has 1 to %d dimensions (the batch comes first and is not written)",
                         IR_MAX_RANK - 1);
    s->u.input.n = list->u.list.n;
    s->u.input.dims = list->u.list.items;
    *out = s;
    return SD_OK;
}

static SdStatus parse_stmt(Parser *p, DslStmt **out)
{
    DslStmt *s;
    switch (p->cur.kind) {
    case T_IF: return parse_if(p, out);
    case T_RETURN: return parse_return(p, out);
    case T_INPUT: return parse_input(p, out);
    case T_FOR:
        SD_TRY(new_stmt(p, S_FOR, &s));
        SD_TRY(bump(p));
        SD_TRY(name_token(p, &s->u.for_.var, NULL, "the loop variable after 'for'"));
        SD_TRY(expect(p, T_IN, "'in' after the loop variable ('for i in 0..4')"));
        SD_TRY(parse_expr(p, &s->u.for_.iter));
        SD_TRY(parse_body(p, &s->u.for_.body, "'{' to open the loop body"));
        *out = s;
        return SD_OK;
    case T_REPEAT:
        SD_TRY(new_stmt(p, S_REPEAT, &s));
        SD_TRY(bump(p));
        SD_TRY(parse_expr(p, &s->u.repeat.count));
        SD_TRY(parse_body(p, &s->u.repeat.body, "'{' to open the body of 'repeat'"));
        *out = s;
        return SD_OK;
    case T_SCOPE:
        SD_TRY(new_stmt(p, S_SCOPE, &s));
        SD_TRY(bump(p));
        if (p->cur.kind != T_LBRACE)
            SD_TRY(parse_expr(p, &s->u.scope.name));
        SD_TRY(parse_body(p, &s->u.scope.body, "'{' to open the scope"));
        *out = s;
        return SD_OK;
    case T_IDENT:
        if (p->next.kind == T_ASSIGN || p->next.kind == T_COMMA) {
            SD_TRY(new_stmt(p, S_ASSIGN, &s));
            int cap = 0, cap2 = 0;
            for (;;) {
                if (!(s->u.assign.names = grow(p, s->u.assign.names, s->u.assign.n, &cap, sizeof *s->u.assign.names)) ||
                    !(s->u.assign.locs = grow(p, s->u.assign.locs, s->u.assign.n, &cap2, sizeof *s->u.assign.locs)))
                    return oom(p);
                SD_TRY(name_token(p, &s->u.assign.names[s->u.assign.n], &s->u.assign.locs[s->u.assign.n],
                                  "a variable name"));
                s->u.assign.n++;
                if (p->cur.kind != T_COMMA)
                    break;
                SD_TRY(bump(p));
            }
            SD_TRY(expect(p, T_ASSIGN, "'=' after the names being assigned"));
            SD_TRY(parse_expr(p, &s->u.assign.value));
            *out = s;
            return SD_OK;
        }
        /* an expression statement */
        __attribute__((fallthrough));
    default: {
        SD_TRY(new_stmt(p, S_EXPR, &s));
        SD_TRY(parse_expr(p, &s->u.expr));
        if (s->u.expr->kind != E_CALL)
            return dsl_error(p->err, SD_EBADMODEL, s->loc,
                             "a statement is an assignment ('x = ...'), a call, 'if', 'for', 'repeat', 'scope', 'input' or 'return'");
        *out = s;
        return SD_OK;
    }
    }
}

static SdStatus parse_body(Parser *p, DslBody *body, const char *what)
{
    if (p->cur.kind != T_LBRACE)
        return expected(p, what);
    DslLoc open = p->cur.loc;
    SD_TRY(bump(p));
    if (++p->depth > MAX_DEPTH)
        return dsl_error(p->err, SD_EBADMODEL, open, "blocks nested too deeply");
    int cap = 0;
    *body = (DslBody){0};
    while (p->cur.kind != T_RBRACE) {
        if (p->cur.kind == T_EOF)
            return dsl_error(p->err, SD_EBADMODEL, open, "this '{' is never closed");
        if (p->cur.kind == T_SEMI) {
            SD_TRY(bump(p));
            continue;
        }
        if (!(body->stmts = grow(p, body->stmts, body->n, &cap, sizeof *body->stmts)))
            return oom(p);
        SD_TRY(parse_stmt(p, &body->stmts[body->n++]));
        if (p->cur.kind != T_SEMI && p->cur.kind != T_RBRACE && !p->cur.newline_before)
            return expected(p, "a line break or ';' after the statement");
    }
    p->depth--;
    return bump(p);
}

/* ---- experiments: sections of `key = value` and `key [label] { ... }` ---- */

static SdStatus parse_section(Parser *p, DslSection *sec)
{
    DslLoc open = p->cur.loc;
    SD_TRY(expect(p, T_LBRACE, "'{'"));
    if (++p->depth > MAX_DEPTH)
        return dsl_error(p->err, SD_EBADMODEL, open, "sections nested too deeply");
    int cap = 0;
    while (p->cur.kind != T_RBRACE) {
        if (p->cur.kind == T_EOF)
            return dsl_error(p->err, SD_EBADMODEL, open, "this '{' is never closed");
        if (p->cur.kind == T_SEMI) {
            SD_TRY(bump(p));
            continue;
        }
        if (!is_word(p->cur.kind))
            return expected(p, "a key ('epochs = 10') or a section ('data { ... }')");
        if (!(sec->entries = grow(p, sec->entries, sec->n, &cap, sizeof *sec->entries)))
            return oom(p);
        DslEntry *e = &sec->entries[sec->n++];
        e->loc = p->cur.loc;
        if (!(e->key = tok_text(p, &p->cur)))
            return oom(p);
        SD_TRY(bump(p));
        if (p->cur.kind == T_ASSIGN) {
            SD_TRY(bump(p));
            SD_TRY(parse_expr(p, &e->value));
        } else if (p->cur.kind == T_LBRACE || is_word(p->cur.kind) || p->cur.kind == T_STRING) {
            DslSection *sub = alloc(p, sizeof *sub);
            if (!sub)
                return oom(p);
            sub->key = e->key;
            sub->loc = e->loc;
            if (p->cur.kind != T_LBRACE) {
                sub->label_loc = p->cur.loc;
                if (p->cur.kind == T_STRING)
                    sub->label = dsl_arena_strndup(p->arena, p->cur.start, p->cur.len);
                else
                    sub->label = tok_text(p, &p->cur);
                if (!sub->label)
                    return oom(p);
                SD_TRY(bump(p));
            }
            SD_TRY(parse_section(p, sub));
            e->section = sub;
        } else {
            char what[96];
            snprintf(what, sizeof what, "'=' or '{' after '%s'", e->key);
            return expected(p, what);
        }
        if (p->cur.kind != T_SEMI && p->cur.kind != T_RBRACE && !p->cur.newline_before)
            return expected(p, "a line break or ';' after the entry");
    }
    p->depth--;
    return bump(p);
}

/* ---- declarations ---- */

static SdStatus parse_params(Parser *p, DslDecl *d)
{
    int cap = 0;
    SD_TRY(bump(p)); /* '(' */
    while (p->cur.kind != T_RPAREN) {
        if (!(d->params = grow(p, d->params, d->n_params, &cap, sizeof *d->params)))
            return oom(p);
        DslParam *pa = &d->params[d->n_params];
        SD_TRY(name_token(p, &pa->name, &pa->loc, "a parameter name"));
        for (int i = 0; i < d->n_params; i++)
            if (strcmp(d->params[i].name, pa->name) == 0)
                return dsl_error(p->err, SD_EBADMODEL, pa->loc, "parameter '%s' is declared twice", pa->name);
        if (p->cur.kind == T_ASSIGN) {
            SD_TRY(bump(p));
            SD_TRY(parse_expr(p, &pa->def));
        } else if (d->n_params > 0 && d->params[d->n_params - 1].def) {
            return dsl_error(p->err, SD_EBADMODEL, pa->loc,
                             "parameter '%s' has no default but follows one that has", pa->name);
        }
        d->n_params++;
        if (p->cur.kind == T_COMMA) {
            SD_TRY(bump(p));
            continue;
        }
        if (p->cur.kind != T_RPAREN)
            return expected(p, "',' or ')' in the parameter list");
    }
    return bump(p);
}

static SdStatus parse_decl(Parser *p, DslFileAst *f, int *cap)
{
    DslDecl *d = alloc(p, sizeof *d);
    if (!d)
        return oom(p);
    d->loc = p->cur.loc;
    switch (p->cur.kind) {
    case T_LET:
        d->kind = D_LET;
        SD_TRY(bump(p));
        SD_TRY(name_token(p, &d->name, &d->loc, "a name after 'let'"));
        SD_TRY(expect(p, T_ASSIGN, "'=' after the name ('let width = 64')"));
        SD_TRY(parse_expr(p, &d->value));
        break;
    case T_BLOCK:
    case T_MODEL: {
        bool model = p->cur.kind == T_MODEL;
        d->kind = model ? D_MODEL : D_BLOCK;
        SD_TRY(bump(p));
        SD_TRY(name_token(p, &d->name, &d->loc, model ? "the model's name" : "the block's name"));
        if (p->cur.kind == T_LPAREN)
            SD_TRY(parse_params(p, d));
        else if (!model)
            return expected(p, "'(' and the block's parameters ('block basic(x, width, stride = 1)')");
        SD_TRY(parse_body(p, &d->body, model ? "'{' to open the model" : "'{' to open the block"));
        break;
    }
    case T_EXPERIMENT:
        d->kind = D_EXPERIMENT;
        SD_TRY(bump(p));
        SD_TRY(name_token(p, &d->name, &d->loc, "the experiment's name"));
        if (!(d->section = alloc(p, sizeof *d->section)))
            return oom(p);
        d->section->key = "experiment";
        d->section->label = d->name;
        d->section->loc = d->section->label_loc = d->loc;
        SD_TRY(parse_section(p, d->section));
        break;
    default:
        return expected(p, "'import', 'let', 'block', 'model' or 'experiment'");
    }
    if (!(f->decls = grow(p, f->decls, f->n_decls, cap, sizeof *f->decls)))
        return oom(p);
    f->decls[f->n_decls++] = d;
    return SD_OK;
}

SdStatus dsl_parse(DslArena *arena, const char *path, const char *src, size_t len, DslFileAst *out, SdError *err)
{
    Parser p;
    *out = (DslFileAst){.path = path};
    SD_TRY(start(&p, arena, path, src, len, 1, 1, err));
    int cap_decls = 0, cap_imports = 0, cap_locs = 0;
    while (p.cur.kind != T_EOF) {
        if (p.cur.kind == T_SEMI) {
            SD_TRY(bump(&p));
            continue;
        }
        if (p.cur.kind == T_IMPORT) {
            DslLoc loc = p.cur.loc;
            SD_TRY(bump(&p));
            if (p.cur.kind != T_STRING)
                return expected(&p, "a file name in quotes after 'import'");
            if (!(out->imports = grow(&p, out->imports, out->n_imports, &cap_imports, sizeof *out->imports)) ||
                !(out->import_locs = grow(&p, out->import_locs, out->n_imports, &cap_locs, sizeof *out->import_locs)) ||
                !(out->imports[out->n_imports] = dsl_arena_strndup(arena, p.cur.start, p.cur.len)))
                return oom(&p);
            out->import_locs[out->n_imports++] = loc;
            SD_TRY(bump(&p));
            continue;
        }
        SD_TRY(parse_decl(&p, out, &cap_decls));
    }
    return SD_OK;
}
