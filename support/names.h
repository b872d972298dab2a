/* support/names.h — name lists as users write them on command lines ("conv1,fc,last"). */
#ifndef SD_SUPPORT_NAMES_H
#define SD_SUPPORT_NAMES_H

#include <stdbool.h>
#include <string.h>

/* Whether `name` is one of the comma-separated entries of `list` (NULL lists and names: no). */
static inline bool sd_name_listed(const char *list, const char *name)
{
    if (!list || !name)
        return false;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

#endif
