/* support/status.c — error messages and the assert that stops on a bug. */
#include "support/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SdStatus sd_errorf(SdError *err, SdStatus st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

SdStatus sd_error_prefix(SdError *err, const char *fmt, ...)
{
    if (!err)
        return SD_EINTERNAL;
    char prefix[SD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[SD_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t m = strlen(old);
    memcpy(err->msg + n + 2, old, m < room ? m : room);
    err->msg[n + 2 + (m < room ? m : room)] = 0;
    if (err->status == SD_OK)
        err->status = SD_EINTERNAL;
    return err->status;
}

const char *sd_status_name(SdStatus st)
{
    switch (st) {
    case SD_OK: return "ok";
    case SD_EUSAGE: return "usage error";
    case SD_EIO: return "I/O error";
    case SD_EBADMODEL: return "malformed model";
    case SD_EUNSUPPORTED: return "unsupported";
    case SD_ESHAPE: return "shape error";
    case SD_EDTYPE: return "type error";
    case SD_ENOMEM: return "out of memory";
    case SD_ELLVM: return "LLVM error";
    case SD_EINTERNAL: return "internal error";
    }
    return "unknown status";
}

void sd_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "seedc: internal error at %s:%d: assertion '%s' failed (this is a bug in seedc)\n",
            file, line, expr);
    fflush(stderr);
    abort();
}
