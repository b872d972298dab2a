/* frontend/dsl/ast.h — the syntax tree of a .sd file, the lexer that feeds the parser, and the
 * arena both allocate from. Internal to frontend/dsl: users see dsl.h.
 *
 * Every node carries its DslLoc (file:line:col, 1-based) so that errors found later, while
 * lowering a model or validating an experiment, still point at the text that caused them. */
#ifndef SD_DSL_AST_H
#define SD_DSL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/dsl/dsl.h"

/* ---- arena: everything of a program (tree, strings, constant values) lives until it is freed ---- */
typedef struct DslArena {
    struct DslArenaChunk *chunks;
} DslArena;

void *dsl_arena_alloc(DslArena *a, size_t n);            /* zeroed; NULL when memory runs out */
char *dsl_arena_strndup(DslArena *a, const char *s, size_t n);
void dsl_arena_free(DslArena *a);

/* ---- tokens ---- */
typedef enum DslTok {
    T_EOF, T_IDENT, T_INT, T_FLOAT, T_STRING,
    /* keywords */
    T_IMPORT, T_LET, T_BLOCK, T_MODEL, T_EXPERIMENT, T_INPUT, T_IF, T_ELSE, T_FOR, T_IN, T_REPEAT,
    T_SCOPE, T_RETURN, T_TRUE, T_FALSE, T_AND, T_OR, T_NOT,
    /* punctuation */
    T_LPAREN, T_RPAREN, T_LBRACKET, T_RBRACKET, T_LBRACE, T_RBRACE, T_COMMA, T_SEMI, T_COLON,
    T_ASSIGN, T_DOT, T_DOTDOT, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_EQ, T_NE, T_LT, T_LE,
    T_GT, T_GE, T_QUESTION,
    T_COUNT
} DslTok;

typedef struct DslToken {
    DslTok kind;
    const char *start; /* into the source text */
    size_t len;
    DslLoc loc;
    int64_t i;         /* T_INT */
    double f;          /* T_FLOAT */
    bool newline_before; /* a line break separates it from the previous token */
} DslToken;

typedef struct DslLexer {
    const char *src, *p, *end;
    const char *file;
    int line, col;
    bool saw_newline;
} DslLexer;

void dsl_lexer_init(DslLexer *lx, const char *file, const char *src, size_t len, int line, int col);
/* The next token; T_EOF at the end. An unexpected character, an unterminated string or a number
 * out of range is an error naming its place. */
SdStatus dsl_lex(DslLexer *lx, DslToken *out, SdError *err);
/* "identifier", "'('", "end of file" ... for messages. */
const char *dsl_tok_name(DslTok t);

/* ---- expressions ---- */
typedef enum DslExprKind {
    E_INT, E_FLOAT, E_BOOL, E_STRING, E_NAME, E_LIST, E_CALL, E_INDEX, E_UNARY, E_BINARY, E_TERNARY, E_RANGE,
} DslExprKind;

typedef struct DslExpr DslExpr;

typedef struct DslArg {
    const char *name; /* NULL for a positional argument */
    DslLoc loc;
    DslExpr *value;
} DslArg;

struct DslExpr {
    DslExprKind kind;
    DslLoc loc;
    union {
        int64_t i;
        double f;
        bool b;
        const char *name;                                           /* E_NAME */
        struct { int n; const char **text; DslExpr **exprs; } str;  /* text[0] expr[0] text[1] ... text[n] */
        struct { int n; DslExpr **items; } list;
        struct { const char *callee; int n; DslArg *args; } call;
        struct { DslExpr *base, *index; } index;
        struct { DslTok op; DslExpr *a; } unary;
        struct { DslTok op; DslExpr *a, *b; } binary;
        struct { DslExpr *cond, *a, *b; } ternary;
        struct { DslExpr *lo, *hi; } range;
    } u;
};

/* ---- statements ---- */
typedef enum DslStmtKind { S_ASSIGN, S_EXPR, S_IF, S_FOR, S_REPEAT, S_SCOPE, S_RETURN, S_INPUT } DslStmtKind;

typedef struct DslStmt DslStmt;

typedef struct DslBody {
    int n;
    DslStmt **stmts;
} DslBody;

typedef struct DslReturnItem {
    const char *name; /* NULL: unnamed */
    DslExpr *value;
} DslReturnItem;

struct DslStmt {
    DslStmtKind kind;
    DslLoc loc;
    union {
        struct { int n; const char **names; DslLoc *locs; DslExpr *value; } assign;
        DslExpr *expr;
        struct { DslExpr *cond; DslBody then; DslBody otherwise; bool has_else; } if_;
        struct { const char *var; DslExpr *iter; DslBody body; } for_;
        struct { DslExpr *count; DslBody body; } repeat;
        struct { DslExpr *name; DslBody body; } scope;  /* name NULL: the next position */
        struct { int n; DslReturnItem *items; } ret;
        struct { const char *name; int n; DslExpr **dims; } input;
    } u;
};

/* ---- declarations ---- */
typedef struct DslParam {
    const char *name;
    DslLoc loc;
    DslExpr *def; /* NULL: required */
} DslParam;

typedef enum DslDeclKind { D_LET, D_BLOCK, D_MODEL, D_EXPERIMENT } DslDeclKind;

/* An experiment section: `key = value` entries and nested `key [label] { ... }` sections. */
typedef struct DslSection DslSection;
typedef struct DslEntry {
    const char *key;
    DslLoc loc;
    DslExpr *value;        /* `key = value` */
    DslSection *section;   /* `key [label] { ... }` */
} DslEntry;

struct DslSection {
    const char *key, *label; /* label may be NULL */
    DslLoc loc, label_loc;
    int n;
    DslEntry *entries;
};

typedef struct DslDecl {
    DslDeclKind kind;
    const char *name;
    DslLoc loc;
    bool in_root;        /* declared in the file that was loaded, not in an import */
    DslExpr *value;      /* D_LET */
    int n_params;        /* D_BLOCK, D_MODEL */
    DslParam *params;
    DslBody body;
    DslSection *section; /* D_EXPERIMENT */
} DslDecl;

typedef struct DslFileAst {
    const char *path;
    int n_imports;
    const char **imports;
    DslLoc *import_locs;
    int n_decls;
    DslDecl **decls;
} DslFileAst;

/* Parses one file's text into `out` (allocated in `arena`). */
SdStatus dsl_parse(DslArena *arena, const char *path, const char *src, size_t len, DslFileAst *out, SdError *err);

/* ---- errors ---- */
/* "file:line:col: message" into err. */
SdStatus dsl_error(SdError *err, SdStatus st, DslLoc loc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The closest candidate by edit distance, or NULL when none is close enough to be a likely typo. */
const char *dsl_suggest(const char *word, const char *const *candidates, int n);
/* "; did you mean 'x'?" or "" — for the end of a message. buf needs 96 bytes. */
const char *dsl_did_you_mean(const char *word, const char *const *candidates, int n, char *buf, size_t size);

#endif
