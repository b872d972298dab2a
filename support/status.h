/* support/status.h — the status and error message every public seedc function returns.
 * User input never aborts: a function fills an SdError with one sentence that names the file,
 * node or tensor and what was expected, and returns its status. Broken invariants are bugs:
 * SD_ASSERT prints file:line and aborts. */
#ifndef SD_SUPPORT_STATUS_H
#define SD_SUPPORT_STATUS_H

#include <stddef.h>

typedef enum SdStatus {
    SD_OK = 0,
    SD_EUSAGE,       /* bad command line or API use */
    SD_EIO,          /* a file could not be opened, read or written */
    SD_EBADMODEL,    /* the model file is malformed or inconsistent */
    SD_EUNSUPPORTED, /* valid input that seedc does not handle (yet) */
    SD_ESHAPE,       /* shapes do not fit */
    SD_EDTYPE,       /* element types do not fit */
    SD_ENOMEM,       /* an allocation or a size limit failed */
    SD_ELLVM,        /* LLVM refused the generated code */
    SD_EINTERNAL,    /* seedc's own bug, reported rather than aborted */
} SdStatus;

#define SD_ERROR_MSG_MAX 1024

typedef struct SdError {
    SdStatus status;
    char msg[SD_ERROR_MSG_MAX];
} SdError;

/* Sets err (when not NULL) and returns st. printf-style. */
SdStatus sd_errorf(SdError *err, SdStatus st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in err with a context sentence part: "ctx: old message". */
SdStatus sd_error_prefix(SdError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *sd_status_name(SdStatus st);

_Noreturn void sd_assert_fail(const char *expr, const char *file, int line);

#define SD_ASSERT(cond) ((cond) ? (void)0 : sd_assert_fail(#cond, __FILE__, __LINE__))

/* Propagate a failed status to the caller. */
#define SD_TRY(expr)                      \
    do {                                  \
        SdStatus sd_try_st_ = (expr);     \
        if (sd_try_st_ != SD_OK)          \
            return sd_try_st_;            \
    } while (0)

#endif
