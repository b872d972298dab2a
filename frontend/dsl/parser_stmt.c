/* frontend/dsl/parser_stmt.c — statements of block and model bodies: assignments, `if`,
 * `return`, `input`, and the body between braces. */
#include <string.h>

#include "frontend/dsl/parser_internal.h"

/* ---- statements ---- */

static SdStatus new_stmt(Parser *p, DslStmtKind k, DslStmt **out)
{
    if (!(*out = dsl_parser_alloc(p, sizeof **out)))
        return dsl_parser_oom(p);
    (*out)->kind = k;
    (*out)->loc = p->cur.loc;
    return SD_OK;
}

static SdStatus parse_if(Parser *p, DslStmt **out)
{
    DslStmt *s;
    SD_TRY(new_stmt(p, S_IF, &s));
    SD_TRY(dsl_parser_bump(p));
    SD_TRY(dsl_parse_expr(p, &s->u.if_.cond));
    SD_TRY(dsl_parse_body(p, &s->u.if_.then, "'{' to open the body of 'if'"));
    if (p->cur.kind == T_ELSE) {
        SD_TRY(dsl_parser_bump(p));
        s->u.if_.has_else = true;
        if (p->cur.kind == T_IF) { /* else if: a body holding one if statement */
            DslStmt **one = dsl_parser_alloc(p, sizeof *one);
            if (!one)
                return dsl_parser_oom(p);
            if (++p->depth > MAX_DEPTH)
                return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "too many 'else if'");
            SD_TRY(parse_if(p, one));
            p->depth--;
            s->u.if_.otherwise = (DslBody){1, one};
        } else {
            SD_TRY(dsl_parse_body(p, &s->u.if_.otherwise, "'{' or 'if' after 'else'"));
        }
    }
    *out = s;
    return SD_OK;
}

static SdStatus parse_return(Parser *p, DslStmt **out)
{
    DslStmt *s;
    SD_TRY(new_stmt(p, S_RETURN, &s));
    SD_TRY(dsl_parser_bump(p));
    int cap = 0;
    if (p->cur.kind == T_RBRACE || p->cur.kind == T_SEMI)
        return dsl_error(p->err, SD_EBADMODEL, s->loc, "'return' needs a value");
    for (;;) {
        if (!(s->u.ret.items = dsl_parser_grow(p, s->u.ret.items, s->u.ret.n, &cap, sizeof *s->u.ret.items)))
            return dsl_parser_oom(p);
        DslReturnItem *it = &s->u.ret.items[s->u.ret.n++];
        if (p->cur.kind == T_IDENT && p->next.kind == T_ASSIGN) {
            if (!(it->name = dsl_parser_tok_text(p, &p->cur)))
                return dsl_parser_oom(p);
            SD_TRY(dsl_parser_bump(p));
            SD_TRY(dsl_parser_bump(p));
        }
        SD_TRY(dsl_parse_expr(p, &it->value));
        if (p->cur.kind != T_COMMA)
            break;
        SD_TRY(dsl_parser_bump(p));
    }
    *out = s;
    return SD_OK;
}

static SdStatus parse_input(Parser *p, DslStmt **out)
{
    DslStmt *s;
    SD_TRY(new_stmt(p, S_INPUT, &s));
    SD_TRY(dsl_parser_bump(p));
    SD_TRY(dsl_parser_name_token(p, &s->u.input.name, NULL, "the input's name after 'input'"));
    SD_TRY(dsl_parser_expect(p, T_COLON, "':' between the input's name and its shape ('input image: [3, 224, 224]')"));
    if (p->cur.kind != T_LBRACKET)
        return dsl_parser_expected(p, "the input's shape without the batch dimension, as a list ('[3, 224, 224]')");
    DslExpr *list;
    SD_TRY(dsl_parse_list(p, &list));
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
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(dsl_parser_name_token(p, &s->u.for_.var, NULL, "the loop variable after 'for'"));
        SD_TRY(dsl_parser_expect(p, T_IN, "'in' after the loop variable ('for i in 0..4')"));
        SD_TRY(dsl_parse_expr(p, &s->u.for_.iter));
        SD_TRY(dsl_parse_body(p, &s->u.for_.body, "'{' to open the loop body"));
        *out = s;
        return SD_OK;
    case T_REPEAT:
        SD_TRY(new_stmt(p, S_REPEAT, &s));
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(dsl_parse_expr(p, &s->u.repeat.count));
        SD_TRY(dsl_parse_body(p, &s->u.repeat.body, "'{' to open the body of 'repeat'"));
        *out = s;
        return SD_OK;
    case T_SCOPE:
        SD_TRY(new_stmt(p, S_SCOPE, &s));
        SD_TRY(dsl_parser_bump(p));
        if (p->cur.kind != T_LBRACE)
            SD_TRY(dsl_parse_expr(p, &s->u.scope.name));
        SD_TRY(dsl_parse_body(p, &s->u.scope.body, "'{' to open the scope"));
        *out = s;
        return SD_OK;
    case T_IDENT:
        if (p->next.kind == T_ASSIGN || p->next.kind == T_COMMA) {
            SD_TRY(new_stmt(p, S_ASSIGN, &s));
            int cap = 0, cap2 = 0;
            for (;;) {
                if (!(s->u.assign.names =
                          dsl_parser_grow(p, s->u.assign.names, s->u.assign.n, &cap, sizeof *s->u.assign.names)) ||
                    !(s->u.assign.locs =
                          dsl_parser_grow(p, s->u.assign.locs, s->u.assign.n, &cap2, sizeof *s->u.assign.locs)))
                    return dsl_parser_oom(p);
                SD_TRY(dsl_parser_name_token(p, &s->u.assign.names[s->u.assign.n], &s->u.assign.locs[s->u.assign.n],
                                  "a variable name"));
                s->u.assign.n++;
                if (p->cur.kind != T_COMMA)
                    break;
                SD_TRY(dsl_parser_bump(p));
            }
            SD_TRY(dsl_parser_expect(p, T_ASSIGN, "'=' after the names being assigned"));
            SD_TRY(dsl_parse_expr(p, &s->u.assign.value));
            *out = s;
            return SD_OK;
        }
        /* an expression statement */
        __attribute__((fallthrough));
    default: {
        SD_TRY(new_stmt(p, S_EXPR, &s));
        SD_TRY(dsl_parse_expr(p, &s->u.expr));
        if (s->u.expr->kind != E_CALL)
            return dsl_error(p->err, SD_EBADMODEL, s->loc,
                             "a statement is an assignment ('x = ...'), a call, 'if', 'for', 'repeat', 'scope', 'input' or 'return'");
        *out = s;
        return SD_OK;
    }
    }
}

SdStatus dsl_parse_body(Parser *p, DslBody *body, const char *what)
{
    if (p->cur.kind != T_LBRACE)
        return dsl_parser_expected(p, what);
    DslLoc open = p->cur.loc;
    SD_TRY(dsl_parser_bump(p));
    if (++p->depth > MAX_DEPTH)
        return dsl_error(p->err, SD_EBADMODEL, open, "blocks nested too deeply");
    int cap = 0;
    *body = (DslBody){0};
    while (p->cur.kind != T_RBRACE) {
        if (p->cur.kind == T_EOF)
            return dsl_error(p->err, SD_EBADMODEL, open, "this '{' is never closed");
        if (p->cur.kind == T_SEMI) {
            SD_TRY(dsl_parser_bump(p));
            continue;
        }
        if (!(body->stmts = dsl_parser_grow(p, body->stmts, body->n, &cap, sizeof *body->stmts)))
            return dsl_parser_oom(p);
        SD_TRY(parse_stmt(p, &body->stmts[body->n++]));
        if (p->cur.kind != T_SEMI && p->cur.kind != T_RBRACE && !p->cur.newline_before)
            return dsl_parser_expected(p, "a line break or ';' after the statement");
    }
    p->depth--;
    return dsl_parser_bump(p);
}
