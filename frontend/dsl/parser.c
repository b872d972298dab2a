/* frontend/dsl/parser.c — recursive descent from tokens to the syntax tree (grammar in
 * docs/dsl.md). One token of lookahead plus one more for `name =` (assignments, keyword
 * arguments, named return values). Nesting is limited so a hostile file cannot exhaust the stack.
 * Every error says where and what was expected: "f.sd:3:14: expected ')' after the arguments of
 * 'conv', found '='". Here: the token cursor, experiment sections and declarations; expressions
 * are in parser_expr.c, statements in parser_stmt.c. */
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/parser_internal.h"

SdStatus dsl_parser_bump(Parser *p)
{
    p->cur = p->next;
    if (p->cur.kind == T_EOF)
        return SD_OK;
    return dsl_lex(&p->lx, &p->next, p->err);
}

SdStatus dsl_parser_start(Parser *p, DslArena *arena, const char *file, const char *src, size_t len, int line, int col,
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

SdStatus dsl_parser_oom(Parser *p) { return dsl_error(p->err, SD_ENOMEM, p->cur.loc, "out of memory"); }

void *dsl_parser_alloc(Parser *p, size_t n) { return dsl_arena_alloc(p->arena, n); }

/* Grows an arena array of `elem` bytes to hold n + 1 items. */
void *dsl_parser_grow(Parser *p, void *arr, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return arr;
    int nc = *cap ? *cap * 2 : 4;
    void *na = dsl_parser_alloc(p, (size_t)nc * elem);
    if (na && n)
        memcpy(na, arr, (size_t)n * elem);
    *cap = nc;
    return na;
}

/* "'foo'" for a name, "'('" for punctuation, "end of file" ... */
const char *dsl_parser_describe(const DslToken *t, char *buf, size_t n)
{
    if (t->kind == T_IDENT || t->kind == T_INT || t->kind == T_FLOAT)
        snprintf(buf, n, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->start);
    else if (t->kind == T_STRING)
        snprintf(buf, n, "a string");
    else
        snprintf(buf, n, "%s", dsl_tok_name(t->kind));
    return buf;
}

SdStatus dsl_parser_expected(Parser *p, const char *what)
{
    char b[64];
    return dsl_error(p->err, SD_EBADMODEL, p->cur.loc, "expected %s, found %s", what,
                     dsl_parser_describe(&p->cur, b, sizeof b));
}

SdStatus dsl_parser_expect(Parser *p, DslTok k, const char *what)
{
    if (p->cur.kind != k)
        return dsl_parser_expected(p, what);
    return dsl_parser_bump(p);
}

char *dsl_parser_tok_text(Parser *p, const DslToken *t) { return dsl_arena_strndup(p->arena, t->start, t->len); }

bool dsl_parser_is_word(DslTok k) { return k == T_IDENT || (k >= T_IMPORT && k <= T_NOT); }

SdStatus dsl_parser_name_token(Parser *p, const char **out, DslLoc *loc, const char *what)
{
    if (p->cur.kind != T_IDENT)
        return dsl_parser_expected(p, what);
    if (!(*out = dsl_parser_tok_text(p, &p->cur)))
        return dsl_parser_oom(p);
    if (loc)
        *loc = p->cur.loc;
    return dsl_parser_bump(p);
}

DslExpr *dsl_parser_new_expr(Parser *p, DslExprKind k, DslLoc loc)
{
    DslExpr *e = dsl_parser_alloc(p, sizeof *e);
    if (e) {
        e->kind = k;
        e->loc = loc;
    }
    return e;
}

/* ---- experiments: sections of `key = value` and `key [label] { ... }` ---- */

static SdStatus parse_section(Parser *p, DslSection *sec)
{
    DslLoc open = p->cur.loc;
    SD_TRY(dsl_parser_expect(p, T_LBRACE, "'{'"));
    if (++p->depth > MAX_DEPTH)
        return dsl_error(p->err, SD_EBADMODEL, open, "sections nested too deeply");
    int cap = 0;
    while (p->cur.kind != T_RBRACE) {
        if (p->cur.kind == T_EOF)
            return dsl_error(p->err, SD_EBADMODEL, open, "this '{' is never closed");
        if (p->cur.kind == T_SEMI) {
            SD_TRY(dsl_parser_bump(p));
            continue;
        }
        if (!dsl_parser_is_word(p->cur.kind))
            return dsl_parser_expected(p, "a key ('epochs = 10') or a section ('data { ... }')");
        if (!(sec->entries = dsl_parser_grow(p, sec->entries, sec->n, &cap, sizeof *sec->entries)))
            return dsl_parser_oom(p);
        DslEntry *e = &sec->entries[sec->n++];
        e->loc = p->cur.loc;
        if (!(e->key = dsl_parser_tok_text(p, &p->cur)))
            return dsl_parser_oom(p);
        SD_TRY(dsl_parser_bump(p));
        if (p->cur.kind == T_ASSIGN) {
            SD_TRY(dsl_parser_bump(p));
            SD_TRY(dsl_parse_expr(p, &e->value));
        } else if (p->cur.kind == T_LBRACE || dsl_parser_is_word(p->cur.kind) || p->cur.kind == T_STRING) {
            DslSection *sub = dsl_parser_alloc(p, sizeof *sub);
            if (!sub)
                return dsl_parser_oom(p);
            sub->key = e->key;
            sub->loc = e->loc;
            if (p->cur.kind != T_LBRACE) {
                sub->label_loc = p->cur.loc;
                if (p->cur.kind == T_STRING)
                    sub->label = dsl_arena_strndup(p->arena, p->cur.start, p->cur.len);
                else
                    sub->label = dsl_parser_tok_text(p, &p->cur);
                if (!sub->label)
                    return dsl_parser_oom(p);
                SD_TRY(dsl_parser_bump(p));
            }
            SD_TRY(parse_section(p, sub));
            e->section = sub;
        } else {
            char what[96];
            snprintf(what, sizeof what, "'=' or '{' after '%s'", e->key);
            return dsl_parser_expected(p, what);
        }
        if (p->cur.kind != T_SEMI && p->cur.kind != T_RBRACE && !p->cur.newline_before)
            return dsl_parser_expected(p, "a line break or ';' after the entry");
    }
    p->depth--;
    return dsl_parser_bump(p);
}

/* ---- declarations ---- */

static SdStatus parse_params(Parser *p, DslDecl *d)
{
    int cap = 0;
    SD_TRY(dsl_parser_bump(p)); /* '(' */
    while (p->cur.kind != T_RPAREN) {
        if (!(d->params = dsl_parser_grow(p, d->params, d->n_params, &cap, sizeof *d->params)))
            return dsl_parser_oom(p);
        DslParam *pa = &d->params[d->n_params];
        SD_TRY(dsl_parser_name_token(p, &pa->name, &pa->loc, "a parameter name"));
        for (int i = 0; i < d->n_params; i++)
            if (strcmp(d->params[i].name, pa->name) == 0)
                return dsl_error(p->err, SD_EBADMODEL, pa->loc, "parameter '%s' is declared twice", pa->name);
        if (p->cur.kind == T_ASSIGN) {
            SD_TRY(dsl_parser_bump(p));
            SD_TRY(dsl_parse_expr(p, &pa->def));
        } else if (d->n_params > 0 && d->params[d->n_params - 1].def) {
            return dsl_error(p->err, SD_EBADMODEL, pa->loc,
                             "parameter '%s' has no default but follows one that has", pa->name);
        }
        d->n_params++;
        if (p->cur.kind == T_COMMA) {
            SD_TRY(dsl_parser_bump(p));
            continue;
        }
        if (p->cur.kind != T_RPAREN)
            return dsl_parser_expected(p, "',' or ')' in the parameter list");
    }
    return dsl_parser_bump(p);
}

static SdStatus parse_decl(Parser *p, DslFileAst *f, int *cap)
{
    DslDecl *d = dsl_parser_alloc(p, sizeof *d);
    if (!d)
        return dsl_parser_oom(p);
    d->loc = p->cur.loc;
    switch (p->cur.kind) {
    case T_LET:
        d->kind = D_LET;
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(dsl_parser_name_token(p, &d->name, &d->loc, "a name after 'let'"));
        SD_TRY(dsl_parser_expect(p, T_ASSIGN, "'=' after the name ('let width = 64')"));
        SD_TRY(dsl_parse_expr(p, &d->value));
        break;
    case T_BLOCK:
    case T_MODEL: {
        bool model = p->cur.kind == T_MODEL;
        d->kind = model ? D_MODEL : D_BLOCK;
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(dsl_parser_name_token(p, &d->name, &d->loc, model ? "the model's name" : "the block's name"));
        if (p->cur.kind == T_LPAREN)
            SD_TRY(parse_params(p, d));
        else if (!model)
            return dsl_parser_expected(p, "'(' and the block's parameters ('block basic(x, width, stride = 1)')");
        SD_TRY(dsl_parse_body(p, &d->body, model ? "'{' to open the model" : "'{' to open the block"));
        break;
    }
    case T_EXPERIMENT:
        d->kind = D_EXPERIMENT;
        SD_TRY(dsl_parser_bump(p));
        SD_TRY(dsl_parser_name_token(p, &d->name, &d->loc, "the experiment's name"));
        if (!(d->section = dsl_parser_alloc(p, sizeof *d->section)))
            return dsl_parser_oom(p);
        d->section->key = "experiment";
        d->section->label = d->name;
        d->section->loc = d->section->label_loc = d->loc;
        SD_TRY(parse_section(p, d->section));
        break;
    default:
        return dsl_parser_expected(p, "'import', 'let', 'block', 'model' or 'experiment'");
    }
    if (!(f->decls = dsl_parser_grow(p, f->decls, f->n_decls, cap, sizeof *f->decls)))
        return dsl_parser_oom(p);
    f->decls[f->n_decls++] = d;
    return SD_OK;
}

SdStatus dsl_parse(DslArena *arena, const char *path, const char *src, size_t len, DslFileAst *out, SdError *err)
{
    Parser p;
    *out = (DslFileAst){.path = path};
    SD_TRY(dsl_parser_start(&p, arena, path, src, len, 1, 1, err));
    int cap_decls = 0, cap_imports = 0, cap_locs = 0;
    while (p.cur.kind != T_EOF) {
        if (p.cur.kind == T_SEMI) {
            SD_TRY(dsl_parser_bump(&p));
            continue;
        }
        if (p.cur.kind == T_IMPORT) {
            DslLoc loc = p.cur.loc;
            SD_TRY(dsl_parser_bump(&p));
            if (p.cur.kind != T_STRING)
                return dsl_parser_expected(&p, "a file name in quotes after 'import'");
            if (!(out->imports =
                      dsl_parser_grow(&p, out->imports, out->n_imports, &cap_imports, sizeof *out->imports)) ||
                !(out->import_locs =
                      dsl_parser_grow(&p, out->import_locs, out->n_imports, &cap_locs, sizeof *out->import_locs)) ||
                !(out->imports[out->n_imports] = dsl_arena_strndup(arena, p.cur.start, p.cur.len)))
                return dsl_parser_oom(&p);
            out->import_locs[out->n_imports++] = loc;
            SD_TRY(dsl_parser_bump(&p));
            continue;
        }
        SD_TRY(parse_decl(&p, out, &cap_decls));
    }
    return SD_OK;
}
