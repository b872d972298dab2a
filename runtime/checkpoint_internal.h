/* runtime/checkpoint_internal.h — what the checkpoint files share (checkpoint.c: the in-memory
 * checkpoint; checkpoint_file.c: writing and reading; checkpoint_rotate.c: rotation in a folder):
 * the checkpoint's layout in memory and the helpers more than one of them needs. */
#ifndef SD_RUNTIME_CHECKPOINT_INTERNAL_H
#define SD_RUNTIME_CHECKPOINT_INTERNAL_H

#include "runtime/checkpoint.h"

typedef struct Blob {
    char name[RT_CKPT_NAME_MAX + 1];
    const void *data;
    size_t size;
} Blob;

typedef struct Meta {
    char key[RT_CKPT_KEY_MAX + 1];
    char *value;
} Meta;

struct RtCheckpoint {
    Blob *blobs;
    int n_blobs, cap_blobs;
    Meta *meta;
    int n_meta, cap_meta;
    uint8_t *file; /* a checkpoint read from disk owns its bytes */
};

/* Grows a realloc'ed array to hold `need` items of item_size bytes; false when out of memory. */
bool rt_ckpt_grow(void **items, int *cap, int need, size_t item_size);
/* Metadata keys: [A-Za-z0-9_.-], 1 to RT_CKPT_KEY_MAX bytes. */
bool rt_ckpt_key_ok(const char *key, size_t len);
/* Sets key to value; a key already there is replaced, or an error when !replace (reading a
 * file). */
SdStatus rt_ckpt_meta_put(RtCheckpoint *ck, const char *key, size_t key_len, const char *value,
                          size_t value_len, bool replace, SdError *err);

#endif
