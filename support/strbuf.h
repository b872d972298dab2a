/* support/strbuf.h — a growable string for printers and writers (IR text, DOT, headers).
 * Appends never fail loudly: an allocation failure sets `failed` and later appends do nothing. */
#ifndef SD_SUPPORT_STRBUF_H
#define SD_SUPPORT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct SdStrbuf {
    char *data;
    size_t len, cap;
    bool failed;
} SdStrbuf;

void sd_strbuf_printf(SdStrbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sd_strbuf_append(SdStrbuf *b, const char *s, size_t n);
void sd_strbuf_free(SdStrbuf *b);
/* Returns the string (never NULL: "" after a failure) and keeps ownership. */
const char *sd_strbuf_str(const SdStrbuf *b);

#endif
