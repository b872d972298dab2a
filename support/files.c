/* support/files.c — `mkdir -p` for output paths. */
#include "support/files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

SdStatus sd_make_dirs(const char *dir, SdError *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return sd_errorf(err, SD_EUSAGE, "folder name too long: '%.64s...'", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return sd_errorf(err, SD_EIO, "cannot create the folder '%s': %s", buf, strerror(errno));
        *p = '/';
    }
    if (buf[0] && mkdir(buf, 0755) != 0 && errno != EEXIST)
        return sd_errorf(err, SD_EIO, "cannot create the folder '%s': %s", buf, strerror(errno));
    return SD_OK;
}

SdStatus sd_make_parent_dirs(const char *path, SdError *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return SD_OK;
    char buf[4096];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof buf)
        return sd_errorf(err, SD_EUSAGE, "path too long: '%.64s...'", path);
    memcpy(buf, path, n);
    buf[n] = 0;
    return sd_make_dirs(buf, err);
}
