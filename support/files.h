/* support/files.h — small file-system helpers the tools share: creating the folders an output
 * path needs, as `mkdir -p` does. */
#ifndef SD_SUPPORT_FILES_H
#define SD_SUPPORT_FILES_H

#include "support/status.h"

/* Creates `dir` and every missing folder above it. */
SdStatus sd_make_dirs(const char *dir, SdError *err);
/* Creates the folders above the file `path` (nothing when it has no '/'). */
SdStatus sd_make_parent_dirs(const char *path, SdError *err);

#endif
