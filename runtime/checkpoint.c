/* runtime/checkpoint.c — checkpoint files (checkpoint.h): the checkpoint in memory, its blobs and
 * metadata. Writing and reading are in checkpoint_file.c, rotation in checkpoint_rotate.c, the
 * CRC-32 in checksum.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/checkpoint_internal.h"
#include "support/mem.h"

/* ---- the in-memory checkpoint ---- */

RtCheckpoint *rt_ckpt_new(void) { return calloc(1, sizeof(RtCheckpoint)); }

void rt_ckpt_free(RtCheckpoint *ck)
{
    if (!ck)
        return;
    for (int i = 0; i < ck->n_meta; i++)
        free(ck->meta[i].value);
    free(ck->meta);
    free(ck->blobs);
    sd_aligned_free(ck->file);
    free(ck);
}

bool rt_ckpt_grow(void **items, int *cap, int need, size_t item_size)
{
    if (need <= *cap)
        return true;
    int cap2 = *cap ? *cap * 2 : 8;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc(*items, (size_t)cap2 * item_size);
    if (!p)
        return false;
    *items = p;
    *cap = cap2;
    return true;
}

SdStatus rt_ckpt_add(RtCheckpoint *ck, const char *name, const void *data, size_t size,
                     SdError *err)
{
    size_t len = name ? strlen(name) : 0;
    if (len < 1 || len > RT_CKPT_NAME_MAX || strcmp(name, "meta") == 0)
        return sd_errorf(err, SD_EUSAGE, "checkpoint: blob name '%s' must be 1 to %d bytes and not "
                         "'meta'", name ? name : "(null)", RT_CKPT_NAME_MAX);
    if (!data && size)
        return sd_errorf(err, SD_EUSAGE, "checkpoint: blob '%s' has %zu bytes but no data", name,
                         size);
    for (int i = 0; i < ck->n_blobs; i++)
        if (strcmp(ck->blobs[i].name, name) == 0)
            return sd_errorf(err, SD_EUSAGE, "checkpoint: blob '%s' added twice", name);
    if (ck->n_blobs + 1 >= RT_CKPT_MAX_SECTIONS)
        return sd_errorf(err, SD_EUSAGE, "checkpoint: more than %d blobs", RT_CKPT_MAX_SECTIONS - 1);
    if (!rt_ckpt_grow((void **)&ck->blobs, &ck->cap_blobs, ck->n_blobs + 1, sizeof(Blob)))
        return sd_errorf(err, SD_ENOMEM, "checkpoint: out of memory");
    Blob *b = &ck->blobs[ck->n_blobs++];
    memset(b, 0, sizeof *b);
    memcpy(b->name, name, len);
    b->data = data;
    b->size = size;
    return SD_OK;
}

bool rt_ckpt_key_ok(const char *key, size_t len)
{
    if (len < 1 || len > RT_CKPT_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

SdStatus rt_ckpt_meta_put(RtCheckpoint *ck, const char *key, size_t key_len, const char *value,
                          size_t value_len, bool replace, SdError *err)
{
    for (int i = 0; i < ck->n_meta; i++)
        if (strlen(ck->meta[i].key) == key_len && memcmp(ck->meta[i].key, key, key_len) == 0) {
            if (!replace)
                return sd_errorf(err, SD_EIO, "metadata key '%s' appears twice", ck->meta[i].key);
            char *v = malloc(value_len + 1);
            if (!v)
                return sd_errorf(err, SD_ENOMEM, "checkpoint: out of memory");
            memcpy(v, value, value_len);
            v[value_len] = 0;
            free(ck->meta[i].value);
            ck->meta[i].value = v;
            return SD_OK;
        }
    if (!rt_ckpt_grow((void **)&ck->meta, &ck->cap_meta, ck->n_meta + 1, sizeof(Meta)))
        return sd_errorf(err, SD_ENOMEM, "checkpoint: out of memory");
    Meta *m = &ck->meta[ck->n_meta];
    memset(m, 0, sizeof *m);
    memcpy(m->key, key, key_len);
    if (!(m->value = malloc(value_len + 1)))
        return sd_errorf(err, SD_ENOMEM, "checkpoint: out of memory");
    memcpy(m->value, value, value_len);
    m->value[value_len] = 0;
    ck->n_meta++;
    return SD_OK;
}

SdStatus rt_ckpt_set(RtCheckpoint *ck, const char *key, const char *value, SdError *err)
{
    size_t key_len = key ? strlen(key) : 0;
    if (!rt_ckpt_key_ok(key, key_len))
        return sd_errorf(err, SD_EUSAGE, "checkpoint: metadata key '%s': expected 1 to %d of "
                         "[A-Za-z0-9_.-]", key ? key : "(null)", RT_CKPT_KEY_MAX);
    size_t value_len = value ? strlen(value) : 0;
    if (value_len > RT_CKPT_VALUE_MAX || (value && strchr(value, '\n')))
        return sd_errorf(err, SD_EUSAGE, "checkpoint: metadata value of '%s' must be at most %d "
                         "bytes on one line", key, RT_CKPT_VALUE_MAX);
    return rt_ckpt_meta_put(ck, key, key_len, value ? value : "", value_len, true, err);
}

SdStatus rt_ckpt_set_i64(RtCheckpoint *ck, const char *key, int64_t value, SdError *err)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, value);
    return rt_ckpt_set(ck, key, s, err);
}

SdStatus rt_ckpt_set_u64(RtCheckpoint *ck, const char *key, uint64_t value, SdError *err)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRIu64, value);
    return rt_ckpt_set(ck, key, s, err);
}

const char *rt_ckpt_get(const RtCheckpoint *ck, const char *key)
{
    for (int i = 0; i < ck->n_meta; i++)
        if (strcmp(ck->meta[i].key, key) == 0)
            return ck->meta[i].value;
    return NULL;
}

/* Decimal digits only, optionally signed, no overflow. */
static bool parse_integer(const char *s, bool is_signed, int64_t *i, uint64_t *u)
{
    bool negative = false;
    if (is_signed && *s == '-') {
        negative = true;
        s++;
    }
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (!is_signed) {
        *u = v;
        return true;
    }
    if (negative ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return false;
    *i = negative ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

SdStatus rt_ckpt_get_i64(const RtCheckpoint *ck, const char *key, int64_t *value, SdError *err)
{
    const char *s = rt_ckpt_get(ck, key);
    uint64_t unused;
    if (!s)
        return sd_errorf(err, SD_EIO, "checkpoint metadata has no '%s'", key);
    if (!parse_integer(s, true, value, &unused))
        return sd_errorf(err, SD_EIO, "checkpoint metadata '%s' is '%s', not a 64-bit integer",
                         key, s);
    return SD_OK;
}

SdStatus rt_ckpt_get_u64(const RtCheckpoint *ck, const char *key, uint64_t *value, SdError *err)
{
    const char *s = rt_ckpt_get(ck, key);
    int64_t unused;
    if (!s)
        return sd_errorf(err, SD_EIO, "checkpoint metadata has no '%s'", key);
    if (!parse_integer(s, false, &unused, value))
        return sd_errorf(err, SD_EIO, "checkpoint metadata '%s' is '%s', not an unsigned 64-bit "
                         "integer", key, s);
    return SD_OK;
}

SdStatus rt_ckpt_set_position(RtCheckpoint *ck, const RtTrainPosition *p, SdError *err)
{
    SD_TRY(rt_ckpt_set_i64(ck, "epoch", p->epoch, err));
    SD_TRY(rt_ckpt_set_i64(ck, "step", p->step, err));
    SD_TRY(rt_ckpt_set_i64(ck, "data.epoch", p->data_epoch, err));
    SD_TRY(rt_ckpt_set_i64(ck, "data.batch", p->data_batch, err));
    SD_TRY(rt_ckpt_set_u64(ck, "seed", p->seed, err));
    SD_TRY(rt_ckpt_set_u64(ck, "model_hash", p->model_hash, err));
    return rt_ckpt_set_u64(ck, "recipe_hash", p->recipe_hash, err);
}

SdStatus rt_ckpt_get_position(const RtCheckpoint *ck, RtTrainPosition *p, SdError *err)
{
    memset(p, 0, sizeof *p);
    SD_TRY(rt_ckpt_get_i64(ck, "epoch", &p->epoch, err));
    SD_TRY(rt_ckpt_get_i64(ck, "step", &p->step, err));
    SD_TRY(rt_ckpt_get_i64(ck, "data.epoch", &p->data_epoch, err));
    SD_TRY(rt_ckpt_get_i64(ck, "data.batch", &p->data_batch, err));
    SD_TRY(rt_ckpt_get_u64(ck, "seed", &p->seed, err));
    SD_TRY(rt_ckpt_get_u64(ck, "model_hash", &p->model_hash, err));
    return rt_ckpt_get_u64(ck, "recipe_hash", &p->recipe_hash, err);
}

const void *rt_ckpt_find(const RtCheckpoint *ck, const char *name, size_t *size)
{
    for (int i = 0; i < ck->n_blobs; i++)
        if (strcmp(ck->blobs[i].name, name) == 0) {
            if (size)
                *size = ck->blobs[i].size;
            return ck->blobs[i].data ? ck->blobs[i].data : (const void *)"";
        }
    if (size)
        *size = 0;
    return NULL;
}

SdStatus rt_ckpt_copy_out(const RtCheckpoint *ck, const char *name, void *dst, size_t size,
                          SdError *err)
{
    size_t have;
    const void *p = rt_ckpt_find(ck, name, &have);
    if (!p)
        return sd_errorf(err, SD_EIO, "checkpoint has no blob '%s'", name);
    if (have != size)
        return sd_errorf(err, SD_EIO, "checkpoint blob '%s' has %zu bytes; %zu expected (another "
                         "model or recipe?)", name, have, size);
    if (size)
        memcpy(dst, p, size);
    return SD_OK;
}

int rt_ckpt_n_blobs(const RtCheckpoint *ck) { return ck->n_blobs; }

const char *rt_ckpt_blob_name(const RtCheckpoint *ck, int i)
{
    return i >= 0 && i < ck->n_blobs ? ck->blobs[i].name : NULL;
}
