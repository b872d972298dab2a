/* frontend/dsl/diag.c — error messages that name file:line:col, and "did you mean" suggestions
 * by edit distance (optimal string alignment: a swap of two neighbours counts as one edit, the
 * commonest typo). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/ast.h"

SdStatus dsl_error(SdError *err, SdStatus st, DslLoc loc, const char *fmt, ...)
{
    char msg[SD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (loc.file)
        return sd_errorf(err, st, "%s:%d:%d: %s", loc.file, loc.line, loc.col, msg);
    return sd_errorf(err, st, "%s", msg);
}

static int min3(int a, int b, int c) { return a < b ? (a < c ? a : c) : (b < c ? b : c); }

/* Case-insensitive distance; -1 when either word is too long to bother. */
static int distance(const char *a, const char *b)
{
    enum { MAXW = 48 };
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n > MAXW || m > MAXW)
        return -1;
    int d[MAXW + 1][MAXW + 1];
    for (int i = 0; i <= n; i++)
        d[i][0] = i;
    for (int j = 0; j <= m; j++)
        d[0][j] = j;
    for (int i = 1; i <= n; i++) {
        for (int j = 1; j <= m; j++) {
            char ca = a[i - 1] | 0x20, cb = b[j - 1] | 0x20;
            int cost = ca != cb;
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && ca == (b[j - 2] | 0x20) && (a[i - 2] | 0x20) == cb && d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    }
    return d[n][m];
}

const char *dsl_suggest(const char *word, const char *const *candidates, int n)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    int len = (int)strlen(word);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    for (int i = 0; i < n; i++) {
        if (!candidates[i] || strcmp(candidates[i], word) == 0)
            continue;
        int d = distance(word, candidates[i]);
        if (d < 0)
            continue;
        /* a word that the candidate starts with ("temp" -> "temperature") is a likely slip too */
        size_t cl = strlen(candidates[i]);
        if (d > limit && len >= 4 && cl > (size_t)len && strncmp(candidates[i], word, (size_t)len) == 0)
            d = limit;
        if (d <= limit && d < best_d) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}

const char *dsl_did_you_mean(const char *word, const char *const *candidates, int n, char *buf, size_t size)
{
    const char *s = dsl_suggest(word, candidates, n);
    if (!s) {
        if (size)
            buf[0] = 0;
        return buf;
    }
    snprintf(buf, size, "; did you mean '%s'?", s);
    return buf;
}
