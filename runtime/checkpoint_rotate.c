/* runtime/checkpoint_rotate.c — checkpoints rotated in a folder: DIR/PREFIX-<step>.ckpt written,
 * the newest kept, the newest found again on resume. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/checkpoint_internal.h"

/* ---- rotation ---- */

/* PREFIX-<digits>.ckpt → step; false for any other name. */
static bool parse_rotated_name(const char *name, const char *prefix, int64_t *step)
{
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0 || name[plen] != '-')
        return false;
    const char *digits = name + plen + 1;
    size_t nd = strspn(digits, "0123456789");
    if (nd < 1 || nd > 18 || strcmp(digits + nd, ".ckpt") != 0)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < nd; i++)
        v = v * 10 + (digits[i] - '0');
    *step = v;
    return true;
}

static bool prefix_ok(const char *prefix)
{
    return prefix && rt_ckpt_key_ok(prefix, strlen(prefix)) && prefix[0] != '.';
}

typedef struct Rotated {
    int64_t step;
    char name[128];
} Rotated;

static int compare_rotated(const void *a, const void *b)
{
    int64_t x = ((const Rotated *)a)->step, y = ((const Rotated *)b)->step;
    return (x > y) - (x < y);
}

SdStatus rt_ckpt_latest(const char *dir, const char *prefix, char *path, size_t cap, int64_t *step,
                        bool *found, SdError *err)
{
    *found = false;
    if (!prefix_ok(prefix))
        return sd_errorf(err, SD_EUSAGE, "checkpoint prefix '%s': expected 1 to %d of "
                         "[A-Za-z0-9_.-], not starting with '.'", prefix ? prefix : "(null)",
                         RT_CKPT_KEY_MAX);
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return SD_OK;
        return sd_errorf(err, SD_EIO, "%s: cannot list: %s", dir, strerror(errno));
    }
    int64_t best = -1;
    char best_name[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t s;
        if (parse_rotated_name(e->d_name, prefix, &s) && s > best) {
            best = s;
            snprintf(best_name, sizeof best_name, "%s", e->d_name);
        }
    }
    closedir(d);
    if (best < 0)
        return SD_OK;
    if (snprintf(path, cap, "%s/%s", dir, best_name) >= (int)cap)
        return sd_errorf(err, SD_EUSAGE, "%s: checkpoint path longer than %zu bytes", dir, cap);
    if (step)
        *step = best;
    *found = true;
    return SD_OK;
}

SdStatus rt_ckpt_save(const RtCheckpoint *ck, const char *dir, const char *prefix, int64_t step,
                      int keep, char *path_out, size_t cap, SdError *err)
{
    if (!prefix_ok(prefix))
        return sd_errorf(err, SD_EUSAGE, "checkpoint prefix '%s': expected 1 to %d of "
                         "[A-Za-z0-9_.-], not starting with '.'", prefix ? prefix : "(null)",
                         RT_CKPT_KEY_MAX);
    if (step < 0 || step > 999999999999999999LL)
        return sd_errorf(err, SD_EUSAGE, "checkpoint step %" PRId64 " is out of range", step);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return sd_errorf(err, SD_EIO, "%s: cannot create the folder: %s", dir, strerror(errno));
    char path[4200];
    if (snprintf(path, sizeof path, "%s/%s-%012" PRId64 ".ckpt", dir, prefix, step) >=
        (int)sizeof path)
        return sd_errorf(err, SD_EUSAGE, "%s: checkpoint path too long", dir);
    SD_TRY(rt_ckpt_write(ck, path, err));
    if (path_out && cap)
        snprintf(path_out, cap, "%s", path);

    /* rotation: older checkpoints beyond keep, and temporaries of killed writers. Newer steps
     * than this one (a run resumed from an older checkpoint) are left alone. */
    DIR *d = opendir(dir);
    if (!d)
        return SD_OK;
    Rotated *older = NULL;
    int n = 0, cap_older = 0;
    char tmp_prefix[RT_CKPT_KEY_MAX + 3];
    snprintf(tmp_prefix, sizeof tmp_prefix, ".%s-", prefix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t s;
        if (parse_rotated_name(e->d_name, prefix, &s)) {
            if (s < step && strlen(e->d_name) < sizeof older->name &&
                rt_ckpt_grow((void **)&older, &cap_older, n + 1, sizeof *older)) {
                older[n].step = s;
                snprintf(older[n].name, sizeof older[n].name, "%s", e->d_name);
                n++;
            }
        } else if (strncmp(e->d_name, tmp_prefix, strlen(tmp_prefix)) == 0 &&
                   strstr(e->d_name, ".ckpt.tmp.")) {
            char stale[4400];
            snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name);
            unlink(stale);
        }
    }
    closedir(d);
    if (keep > 0 && n > keep - 1) {
        qsort(older, (size_t)n, sizeof *older, compare_rotated);
        for (int i = 0; i < n - (keep - 1); i++) {
            char old[4400];
            snprintf(old, sizeof old, "%s/%s", dir, older[i].name);
            unlink(old);
        }
    }
    free(older);
    return SD_OK;
}
