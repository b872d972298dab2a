/* runtime/checkpoint.h — checkpoint files: named blobs and a small key/value metadata section,
 * written so that a crash never leaves a half-written checkpoint under its final name.
 *
 *   RtCheckpoint *ck = rt_ckpt_new();
 *   rt_ckpt_add(ck, "state", state_arena, state_bytes, &err);   // borrowed until written
 *   rt_ckpt_set_position(ck, &(RtTrainPosition){.epoch = 3, .step = 1200, ...}, &err);
 *   rt_ckpt_save(ck, "runs/a", "ckpt", 1200, 3, NULL, 0, &err);  // runs/a/ckpt-000000001200.ckpt,
 *   rt_ckpt_free(ck);                                              // the 3 newest are kept
 *
 *   char path[4096]; bool found;
 *   rt_ckpt_latest("runs/a", "ckpt", path, sizeof path, NULL, &found, &err);
 *   rt_ckpt_read(path, &ck, &err);                     // every size and checksum checked
 *   rt_ckpt_copy_out(ck, "state", state_arena, state_bytes, &err);
 *
 * A blob is bytes: the state arena whole (parameters, optimizer moments, BN statistics, queues,
 * RNG counters), or any other named piece. The layout, all little-endian:
 *   header   64 bytes: "SEEDCKPT", u32 version (1), u32 section count, u64 file size,
 *            u32 CRC32 of the section table, zeros, u32 CRC32 of header bytes 0..59 at byte 60
 *   table    per section: name (NUL-padded, 64 bytes in version 1, 256 in version 2), then
 *            u32 kind (1 blob, 2 metadata), u32 CRC32 of the data, u64 offset, u64 size, u64 zero
 *            (96 or 288 bytes a section)
 *   data     each section at a 64-byte aligned offset, zero padding between
 * The metadata section ("meta") holds lines "key=value\n". Writing goes to a temporary file in
 * the same folder (fwrite, fflush, fsync), which is renamed over the final name, and the folder
 * is fsynced. Reading checks the header, every offset and size against the file and every
 * checksum: a truncated or corrupted file gives an error that says which part is bad. A file is
 * written in version 1 when every name fits its 63 bytes (the files of earlier seedc), else in
 * version 2 (a ViT's parameter names pass 63 bytes); both are read. */
#ifndef SD_RUNTIME_CHECKPOINT_H
#define SD_RUNTIME_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "support/status.h"

#define RT_CKPT_VERSION 2          /* the newest this seedc writes and reads */
#define RT_CKPT_NAME_MAX 255       /* section name bytes, NUL excluded */
#define RT_CKPT_NAME_MAX_V1 63     /* ... in version 1 files */
#define RT_CKPT_MAX_SECTIONS 65536
#define RT_CKPT_KEY_MAX 63
#define RT_CKPT_VALUE_MAX 1023

typedef struct RtCheckpoint RtCheckpoint;

/* NULL when out of memory. */
RtCheckpoint *rt_ckpt_new(void);
void rt_ckpt_free(RtCheckpoint *ck);

/* A blob; data is borrowed (not copied) and must stay valid until written. Names are 1 to 255
 * bytes, unique, not "meta". */
SdStatus rt_ckpt_add(RtCheckpoint *ck, const char *name, const void *data, size_t size,
                     SdError *err);
/* Metadata: keys [A-Za-z0-9_.-], 1 to 63 bytes; values up to 1023 bytes without '\n' or NUL.
 * Setting a key again replaces its value. */
SdStatus rt_ckpt_set(RtCheckpoint *ck, const char *key, const char *value, SdError *err);
SdStatus rt_ckpt_set_i64(RtCheckpoint *ck, const char *key, int64_t value, SdError *err);
SdStatus rt_ckpt_set_u64(RtCheckpoint *ck, const char *key, uint64_t value, SdError *err);

/* Writes atomically (see above); a failed write leaves no file behind and the old one intact. */
SdStatus rt_ckpt_write(const RtCheckpoint *ck, const char *path, SdError *err);
/* Reads and checks a whole file; the blobs then point into memory owned by *out (64-aligned). */
SdStatus rt_ckpt_read(const char *path, RtCheckpoint **out, SdError *err);

/* A blob's bytes and size; NULL when there is no such blob. */
const void *rt_ckpt_find(const RtCheckpoint *ck, const char *name, size_t *size);
/* Copies blob `name` into dst, which must be exactly its size. */
SdStatus rt_ckpt_copy_out(const RtCheckpoint *ck, const char *name, void *dst, size_t size,
                          SdError *err);
int rt_ckpt_n_blobs(const RtCheckpoint *ck);
const char *rt_ckpt_blob_name(const RtCheckpoint *ck, int i);
/* Metadata value, NULL when absent. */
const char *rt_ckpt_get(const RtCheckpoint *ck, const char *key);
/* A value parsed as an integer: an error names the key when it is absent or not a number. */
SdStatus rt_ckpt_get_i64(const RtCheckpoint *ck, const char *key, int64_t *value, SdError *err);
SdStatus rt_ckpt_get_u64(const RtCheckpoint *ck, const char *key, uint64_t *value, SdError *err);

/* Where training stands, under fixed metadata keys (epoch, step, data.epoch, data.batch, seed,
 * model_hash, recipe_hash). data_epoch and data_batch are the loader's next position. */
typedef struct RtTrainPosition {
    int64_t epoch, step;
    int64_t data_epoch, data_batch;
    uint64_t seed;
    uint64_t model_hash, recipe_hash;
} RtTrainPosition;
SdStatus rt_ckpt_set_position(RtCheckpoint *ck, const RtTrainPosition *p, SdError *err);
SdStatus rt_ckpt_get_position(const RtCheckpoint *ck, RtTrainPosition *p, SdError *err);

/* Rotation in a folder: creates DIR when missing (not its parents), writes
 * DIR/PREFIX-<step, 12 digits>.ckpt atomically, then removes the
 * oldest PREFIX-*.ckpt beyond the `keep` newest (keep <= 0 keeps all) and temporaries left by
 * killed writers of this prefix (one writer per folder and prefix). The path written goes to
 * path_out when not NULL. */
SdStatus rt_ckpt_save(const RtCheckpoint *ck, const char *dir, const char *prefix, int64_t step,
                      int keep, char *path_out, size_t cap, SdError *err);
/* The newest DIR/PREFIX-<step>.ckpt; *found is false (and SD_OK returned) when there is none or
 * the folder does not exist. step may be NULL. */
SdStatus rt_ckpt_latest(const char *dir, const char *prefix, char *path, size_t cap, int64_t *step,
                        bool *found, SdError *err);

/* CRC-32 (IEEE 802.3, as zlib and gzip): start with crc = 0, feed the result back to continue. */
uint32_t rt_crc32(uint32_t crc, const void *data, size_t n);
/* A 64-bit hash for model and recipe fingerprints (not cryptographic). */
uint64_t rt_hash64(const void *data, size_t n, uint64_t seed);

#endif
