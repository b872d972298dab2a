/* frontend/dsl/parser_internal.h — what parser.c, parser_expr.c and parser_stmt.c share: the
 * parser's state and its token helpers (parser.c), expressions (parser_expr.c) and statement
 * bodies (parser_stmt.c). Not for use outside these files. */
#ifndef SD_DSL_PARSER_INTERNAL_H
#define SD_DSL_PARSER_INTERNAL_H

#include "frontend/dsl/ast.h"

enum { MAX_DEPTH = 200 };

typedef struct Parser {
    DslArena *arena;
    DslLexer lx;
    DslToken cur, next;
    SdError *err;
    int depth;
} Parser;

/* parser.c: the token cursor */
SdStatus dsl_parser_bump(Parser *p);
SdStatus dsl_parser_start(Parser *p, DslArena *arena, const char *file, const char *src, size_t len, int line, int col,
                          SdError *err);
SdStatus dsl_parser_oom(Parser *p);
void *dsl_parser_alloc(Parser *p, size_t n);
/* Grows an arena array of `elem` bytes to hold n + 1 items. */
void *dsl_parser_grow(Parser *p, void *arr, int n, int *cap, size_t elem);
/* "'foo'" for a name, "'('" for punctuation, "end of file" ... */
const char *dsl_parser_describe(const DslToken *t, char *buf, size_t n);
SdStatus dsl_parser_expected(Parser *p, const char *what);
SdStatus dsl_parser_expect(Parser *p, DslTok k, const char *what);
char *dsl_parser_tok_text(Parser *p, const DslToken *t);
bool dsl_parser_is_word(DslTok k);
SdStatus dsl_parser_name_token(Parser *p, const char **out, DslLoc *loc, const char *what);
DslExpr *dsl_parser_new_expr(Parser *p, DslExprKind k, DslLoc loc);

/* parser_expr.c */
SdStatus dsl_parse_expr(Parser *p, DslExpr **out);
SdStatus dsl_parse_list(Parser *p, DslExpr **out);

/* parser_stmt.c: `{ statements }` of a block or model; `what` names the '{' for the message */
SdStatus dsl_parse_body(Parser *p, DslBody *body, const char *what);

#endif
