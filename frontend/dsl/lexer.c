/* frontend/dsl/lexer.c — tokens of the seedc DSL. Whitespace and line breaks separate tokens
 * (the parser asks whether a line break came before a token: a call's '(' or an index's '[' must
 * stay on the line of what they apply to); '#' and '//' start comments to the end of the line.
 * Numbers: 42, 1_000, 0.5, 1e-4 ("0..4" is 0, '..', 4). Strings are double-quoted with \" \\ \n \t
 * escapes; the parser reads {expr} interpolations out of them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/ast.h"

enum { MAX_TOKEN_BYTES = 4096 };

static const struct {
    const char *word;
    DslTok tok;
} keywords[] = {
    {"import", T_IMPORT}, {"let", T_LET}, {"block", T_BLOCK}, {"model", T_MODEL}, {"experiment", T_EXPERIMENT},
    {"input", T_INPUT}, {"if", T_IF}, {"else", T_ELSE}, {"for", T_FOR}, {"in", T_IN}, {"repeat", T_REPEAT},
    {"scope", T_SCOPE}, {"return", T_RETURN}, {"true", T_TRUE}, {"false", T_FALSE}, {"and", T_AND},
    {"or", T_OR}, {"not", T_NOT},
};

const char *dsl_tok_name(DslTok t)
{
    static const char *const names[T_COUNT] = {
        [T_EOF] = "end of file", [T_IDENT] = "a name", [T_INT] = "an integer", [T_FLOAT] = "a number",
        [T_STRING] = "a string", [T_IMPORT] = "'import'", [T_LET] = "'let'", [T_BLOCK] = "'block'",
        [T_MODEL] = "'model'", [T_EXPERIMENT] = "'experiment'", [T_INPUT] = "'input'", [T_IF] = "'if'",
        [T_ELSE] = "'else'", [T_FOR] = "'for'", [T_IN] = "'in'", [T_REPEAT] = "'repeat'", [T_SCOPE] = "'scope'",
        [T_RETURN] = "'return'", [T_TRUE] = "'true'", [T_FALSE] = "'false'", [T_AND] = "'and'", [T_OR] = "'or'",
        [T_NOT] = "'not'", [T_LPAREN] = "'('", [T_RPAREN] = "')'", [T_LBRACKET] = "'['", [T_RBRACKET] = "']'",
        [T_LBRACE] = "'{'", [T_RBRACE] = "'}'", [T_COMMA] = "','", [T_SEMI] = "';'", [T_COLON] = "':'",
        [T_ASSIGN] = "'='", [T_DOT] = "'.'", [T_DOTDOT] = "'..'", [T_PLUS] = "'+'", [T_MINUS] = "'-'",
        [T_STAR] = "'*'", [T_SLASH] = "'/'", [T_PERCENT] = "'%'", [T_EQ] = "'=='", [T_NE] = "'!='",
        [T_LT] = "'<'", [T_LE] = "'<='", [T_GT] = "'>'", [T_GE] = "'>='", [T_QUESTION] = "'?'",
    };
    return t < T_COUNT && names[t] ? names[t] : "?";
}

void dsl_lexer_init(DslLexer *lx, const char *file, const char *src, size_t len, int line, int col)
{
    *lx = (DslLexer){.src = src, .p = src, .end = src + len, .file = file, .line = line, .col = col};
}

static void advance(DslLexer *lx)
{
    if (*lx->p == '\n') {
        lx->line++;
        lx->col = 1;
        lx->saw_newline = true;
    } else {
        lx->col++;
    }
    lx->p++;
}

static int peek(const DslLexer *lx, int k) { return lx->p + k < lx->end ? (unsigned char)lx->p[k] : 0; }

static bool is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static void skip_space(DslLexer *lx)
{
    for (;;) {
        int c = peek(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            advance(lx);
        } else if (c == '#' || (c == '/' && peek(lx, 1) == '/')) {
            while (lx->p < lx->end && *lx->p != '\n')
                advance(lx);
        } else {
            return;
        }
    }
}

static SdStatus lex_number(DslLexer *lx, DslToken *t, SdError *err)
{
    char buf[128];
    size_t n = 0;
    bool is_float = false, seen_exp = false;
#define PUT(ch) (n < sizeof buf - 1 ? (void)(buf[n++] = (char)(ch)) : (void)(n = sizeof buf))
    while (lx->p < lx->end) {
        int c = peek(lx, 0);
        if (is_digit(c)) {
            PUT(c);
        } else if (c == '_' && is_digit(peek(lx, 1))) {
            /* digit separator */
        } else if (c == '.' && is_digit(peek(lx, 1)) && !is_float) {
            is_float = true;
            PUT('.');
        } else if ((c == 'e' || c == 'E') && !seen_exp &&
                   (is_digit(peek(lx, 1)) || ((peek(lx, 1) == '-' || peek(lx, 1) == '+') && is_digit(peek(lx, 2))))) {
            is_float = seen_exp = true;
            PUT('e');
            advance(lx);
            c = peek(lx, 0);
            if (c == '-' || c == '+') {
                PUT(c);
                advance(lx);
            }
            continue;
        } else {
            break;
        }
        advance(lx);
    }
#undef PUT
    if (is_ident_start(peek(lx, 0)))
        return dsl_error(err, SD_EBADMODEL, t->loc, "a number cannot run into a name ('%.*s...')",
                         (int)(lx->p - t->start + 1), t->start);
    if (n >= sizeof buf - 1)
        return dsl_error(err, SD_EBADMODEL, t->loc, "number too long");
    buf[n] = 0;
    char *end;
    errno = 0;
    if (is_float) {
        t->kind = T_FLOAT;
        t->f = strtod(buf, &end);
        if (errno == ERANGE && (t->f > 1.0 || t->f < -1.0))
            return dsl_error(err, SD_EBADMODEL, t->loc, "number %s is out of range", buf);
    } else {
        t->kind = T_INT;
        long long v = strtoll(buf, &end, 10);
        if (errno == ERANGE)
            return dsl_error(err, SD_EBADMODEL, t->loc, "integer %s does not fit in 64 bits", buf);
        t->i = v;
    }
    return SD_OK;
}

static SdStatus lex_string(DslLexer *lx, DslToken *t, SdError *err)
{
    advance(lx); /* the opening quote */
    for (;;) {
        if (lx->p >= lx->end || *lx->p == '\n')
            return dsl_error(err, SD_EBADMODEL, t->loc, "unterminated string (a string ends on its line with '\"')");
        if (*lx->p == '"')
            break;
        if (*lx->p == '\\') {
            int c = peek(lx, 1);
            if (c != '"' && c != '\\' && c != 'n' && c != 't')
                return dsl_error(err, SD_EBADMODEL, (DslLoc){lx->file, lx->line, lx->col},
                                 "unknown escape '\\%c' (\\\" \\\\ \\n \\t are known)", c ? c : ' ');
            advance(lx);
        }
        advance(lx);
        if (lx->p - t->start > MAX_TOKEN_BYTES)
            return dsl_error(err, SD_EBADMODEL, t->loc, "string longer than %d bytes", MAX_TOKEN_BYTES);
    }
    advance(lx); /* the closing quote */
    t->kind = T_STRING;
    t->start++; /* the text between the quotes, escapes still in */
    t->len = (size_t)(lx->p - t->start) - 1;
    return SD_OK;
}

SdStatus dsl_lex(DslLexer *lx, DslToken *out, SdError *err)
{
    lx->saw_newline = false;
    skip_space(lx);
    DslToken t = {.start = lx->p, .loc = {lx->file, lx->line, lx->col}, .newline_before = lx->saw_newline};
    if (lx->p >= lx->end) {
        t.kind = T_EOF;
        *out = t;
        return SD_OK;
    }
    int c = peek(lx, 0);
    if (is_ident_start(c)) {
        while (lx->p < lx->end && (is_ident_start(peek(lx, 0)) || is_digit(peek(lx, 0))))
            advance(lx);
        t.len = (size_t)(lx->p - t.start);
        if (t.len > DSL_NAME_MAX - 1)
            return dsl_error(err, SD_EBADMODEL, t.loc, "name longer than %d characters", DSL_NAME_MAX - 1);
        t.kind = T_IDENT;
        for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
            if (strlen(keywords[k].word) == t.len && memcmp(keywords[k].word, t.start, t.len) == 0)
                t.kind = keywords[k].tok;
        *out = t;
        return SD_OK;
    }
    if (is_digit(c) || (c == '.' && is_digit(peek(lx, 1)))) {
        SD_TRY(lex_number(lx, &t, err));
        t.len = (size_t)(lx->p - t.start);
        *out = t;
        return SD_OK;
    }
    if (c == '"') {
        SD_TRY(lex_string(lx, &t, err));
        *out = t;
        return SD_OK;
    }
    int c1 = peek(lx, 1);
    DslTok k;
    int len = 1;
    switch (c) {
    case '(': k = T_LPAREN; break;
    case ')': k = T_RPAREN; break;
    case '[': k = T_LBRACKET; break;
    case ']': k = T_RBRACKET; break;
    case '{': k = T_LBRACE; break;
    case '}': k = T_RBRACE; break;
    case ',': k = T_COMMA; break;
    case ';': k = T_SEMI; break;
    case ':': k = T_COLON; break;
    case '?': k = T_QUESTION; break;
    case '+': k = T_PLUS; break;
    case '-': k = T_MINUS; break;
    case '*': k = T_STAR; break;
    case '/': k = T_SLASH; break;
    case '%': k = T_PERCENT; break;
    case '.': k = c1 == '.' ? (len = 2, T_DOTDOT) : T_DOT; break;
    case '=': k = c1 == '=' ? (len = 2, T_EQ) : T_ASSIGN; break;
    case '!': k = c1 == '=' ? (len = 2, T_NE) : T_NOT; break;
    case '<': k = c1 == '=' ? (len = 2, T_LE) : T_LT; break;
    case '>': k = c1 == '=' ? (len = 2, T_GE) : T_GT; break;
    case '&':
        if (c1 != '&')
            return dsl_error(err, SD_EBADMODEL, t.loc, "unexpected '&' ('&&' or 'and' is logical and)");
        k = T_AND, len = 2;
        break;
    case '|':
        if (c1 != '|')
            return dsl_error(err, SD_EBADMODEL, t.loc, "unexpected '|' ('||' or 'or' is logical or)");
        k = T_OR, len = 2;
        break;
    default:
        if (c >= 0x20 && c < 0x7f)
            return dsl_error(err, SD_EBADMODEL, t.loc, "unexpected character '%c'", c);
        return dsl_error(err, SD_EBADMODEL, t.loc, "unexpected byte 0x%02x", c);
    }
    for (int i = 0; i < len; i++)
        advance(lx);
    t.kind = k;
    t.len = (size_t)len;
    *out = t;
    return SD_OK;
}
