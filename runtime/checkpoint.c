/* runtime/checkpoint.c — checkpoint files (checkpoint.h): layout, atomic writes, checked reads,
 * rotation, CRC-32 (slicing by 8, about 2 GB/s: a 100 MB state costs 50 ms to checksum). */
#include "runtime/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/mem.h"
#include "support/strbuf.h"

#define HEADER_BYTES 64
#define ENTRY_BYTES 96
#define KIND_BLOB 1
#define KIND_META 2
static const char ckpt_magic[8] = {'S', 'E', 'E', 'D', 'C', 'K', 'P', 'T'};

/* ---- CRC-32 ---- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t rt_crc32(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
            crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

uint64_t rt_hash64(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (0x9e3779b97f4a7c15ull * (n + 1));
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull; /* FNV-1a step, then a strong finalizer below */
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* ---- the in-memory checkpoint ---- */

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

static bool grow(void **items, int *cap, int need, size_t item_size)
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
    if (!grow((void **)&ck->blobs, &ck->cap_blobs, ck->n_blobs + 1, sizeof(Blob)))
        return sd_errorf(err, SD_ENOMEM, "checkpoint: out of memory");
    Blob *b = &ck->blobs[ck->n_blobs++];
    memset(b, 0, sizeof *b);
    memcpy(b->name, name, len);
    b->data = data;
    b->size = size;
    return SD_OK;
}

static bool key_ok(const char *key, size_t len)
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

static SdStatus meta_put(RtCheckpoint *ck, const char *key, size_t key_len, const char *value,
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
    if (!grow((void **)&ck->meta, &ck->cap_meta, ck->n_meta + 1, sizeof(Meta)))
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
    if (!key_ok(key, key_len))
        return sd_errorf(err, SD_EUSAGE, "checkpoint: metadata key '%s': expected 1 to %d of "
                         "[A-Za-z0-9_.-]", key ? key : "(null)", RT_CKPT_KEY_MAX);
    size_t value_len = value ? strlen(value) : 0;
    if (value_len > RT_CKPT_VALUE_MAX || (value && strchr(value, '\n')))
        return sd_errorf(err, SD_EUSAGE, "checkpoint: metadata value of '%s' must be at most %d "
                         "bytes on one line", key, RT_CKPT_VALUE_MAX);
    return meta_put(ck, key, key_len, value ? value : "", value_len, true, err);
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

/* ---- the file ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

static uint64_t align64(uint64_t n) { return (n + 63) & ~(uint64_t)63; }

/* "dir" and "base" of a path ("." when it has no folder). */
static void split_path(const char *path, char *dir, size_t dir_cap, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dir_cap, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(dir, dir_cap, "/");
        *base = slash + 1;
    } else {
        snprintf(dir, dir_cap, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

static bool write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n; }

SdStatus rt_ckpt_write(const RtCheckpoint *ck, const char *path, SdError *err)
{
    SdStrbuf meta = {0};
    for (int i = 0; i < ck->n_meta; i++)
        sd_strbuf_printf(&meta, "%s=%s\n", ck->meta[i].key, ck->meta[i].value);
    if (meta.failed) {
        sd_strbuf_free(&meta);
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory", path);
    }
    int n = ck->n_blobs + 1; /* the blobs, then the metadata */
    size_t table_bytes = HEADER_BYTES + (size_t)n * ENTRY_BYTES;
    uint8_t *head = calloc(1, table_bytes);
    if (!head) {
        sd_strbuf_free(&meta);
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory", path);
    }
    uint64_t offset = align64(table_bytes);
    for (int i = 0; i < n; i++) {
        bool is_meta = i == ck->n_blobs;
        const char *name = is_meta ? "meta" : ck->blobs[i].name;
        const void *data = is_meta ? (const void *)sd_strbuf_str(&meta) : ck->blobs[i].data;
        size_t size = is_meta ? meta.len : ck->blobs[i].size;
        uint8_t *e = head + HEADER_BYTES + (size_t)i * ENTRY_BYTES;
        memcpy(e, name, strlen(name));
        put_u32(e + 64, is_meta ? KIND_META : KIND_BLOB);
        put_u32(e + 68, rt_crc32(0, data, size));
        put_u64(e + 72, offset);
        put_u64(e + 80, size);
        offset = align64(offset + size);
    }
    uint64_t file_size = offset;
    memcpy(head, ckpt_magic, 8);
    put_u32(head + 8, RT_CKPT_VERSION);
    put_u32(head + 12, (uint32_t)n);
    put_u64(head + 16, file_size);
    put_u32(head + 24, rt_crc32(0, head + HEADER_BYTES, (size_t)n * ENTRY_BYTES));
    put_u32(head + 60, rt_crc32(0, head, 60));

    char dir[4096], tmp[4096 + 64];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, base, (long)getpid());
    SdStatus st = SD_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        st = sd_errorf(err, SD_EIO, "%s: cannot create the temporary file %s: %s", path, tmp,
                       strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    static const uint8_t zeros[64];
    bool ok = write_all(f, head, table_bytes);
    uint64_t at = table_bytes;
    for (int i = 0; i < n && ok; i++) {
        const uint8_t *e = head + HEADER_BYTES + (size_t)i * ENTRY_BYTES;
        uint64_t off = get_u64(e + 72), size = get_u64(e + 80);
        bool is_meta = i == ck->n_blobs;
        ok = write_all(f, zeros, (size_t)(off - at)) &&
             write_all(f, is_meta ? (const void *)sd_strbuf_str(&meta) : ck->blobs[i].data,
                       (size_t)size);
        at = off + size;
    }
    ok = ok && write_all(f, zeros, (size_t)(file_size - at));
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        st = sd_errorf(err, SD_EIO, "%s: writing %" PRIu64 " bytes to %s failed: %s", path,
                       file_size, tmp, strerror(saved));
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        st = sd_errorf(err, SD_EIO, "%s: cannot rename %s over it: %s", path, tmp,
                       strerror(errno));
        unlink(tmp);
        goto done;
    }
    /* the rename itself must reach the disk: fsync the folder (some file systems refuse it) */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS)
            st = sd_errorf(err, SD_EIO, "%s: fsync of the folder %s failed: %s", path, dir,
                           strerror(errno));
        close(dfd);
    }
done:
    free(head);
    sd_strbuf_free(&meta);
    return st;
}

static SdStatus parse_meta(RtCheckpoint *ck, const char *path, const uint8_t *p, size_t n,
                           SdError *err)
{
    size_t line = 1;
    while (n > 0) {
        const uint8_t *end = memchr(p, '\n', n);
        if (!end)
            return sd_errorf(err, SD_EIO, "%s: metadata line %zu does not end", path, line);
        const uint8_t *eq = memchr(p, '=', (size_t)(end - p));
        size_t key_len = eq ? (size_t)(eq - p) : 0;
        if (!eq || !key_ok((const char *)p, key_len) || memchr(p, 0, (size_t)(end - p)) ||
            (size_t)(end - eq - 1) > RT_CKPT_VALUE_MAX)
            return sd_errorf(err, SD_EIO, "%s: metadata line %zu is not key=value", path, line);
        SdStatus st = meta_put(ck, (const char *)p, key_len, (const char *)eq + 1,
                               (size_t)(end - eq - 1), false, err);
        if (st != SD_OK)
            return sd_error_prefix(err, "%s", path);
        n -= (size_t)(end - p) + 1;
        p = end + 1;
        line++;
    }
    return SD_OK;
}

static SdStatus parse_file(RtCheckpoint *ck, const char *path, const uint8_t *buf, uint64_t size,
                           SdError *err)
{
    if (size < HEADER_BYTES)
        return sd_errorf(err, SD_EIO, "%s: %" PRIu64 " bytes, shorter than a checkpoint header "
                         "(%d): truncated or not a checkpoint", path, size, HEADER_BYTES);
    if (memcmp(buf, ckpt_magic, 8) != 0)
        return sd_errorf(err, SD_EIO, "%s: not a seedc checkpoint (no SEEDCKPT magic)", path);
    uint32_t stored = get_u32(buf + 60), computed = rt_crc32(0, buf, 60);
    if (stored != computed)
        return sd_errorf(err, SD_EIO, "%s: the header is corrupted (CRC32 %08x, computed %08x)",
                         path, stored, computed);
    uint32_t version = get_u32(buf + 8);
    if (version != RT_CKPT_VERSION)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: checkpoint format version %u; this seedc "
                         "reads version %d", path, version, RT_CKPT_VERSION);
    uint64_t file_size = get_u64(buf + 16);
    if (file_size > size)
        return sd_errorf(err, SD_EIO, "%s: truncated: %" PRIu64 " bytes, the header says %" PRIu64,
                         path, size, file_size);
    if (file_size < size)
        return sd_errorf(err, SD_EIO, "%s: %" PRIu64 " bytes, more than the %" PRIu64 " its header "
                         "says", path, size, file_size);
    uint32_t n = get_u32(buf + 12);
    if (n < 1 || n > RT_CKPT_MAX_SECTIONS)
        return sd_errorf(err, SD_EIO, "%s: %u sections; expected 1 to %d", path, n,
                         RT_CKPT_MAX_SECTIONS);
    uint64_t table_end = HEADER_BYTES + (uint64_t)n * ENTRY_BYTES;
    if (table_end > size)
        return sd_errorf(err, SD_EIO, "%s: its table of %u sections does not fit in %" PRIu64
                         " bytes", path, n, size);
    stored = get_u32(buf + 24);
    computed = rt_crc32(0, buf + HEADER_BYTES, (size_t)n * ENTRY_BYTES);
    if (stored != computed)
        return sd_errorf(err, SD_EIO, "%s: the section table is corrupted (CRC32 %08x, computed "
                         "%08x)", path, stored, computed);
    if (!(ck->blobs = calloc(n, sizeof(Blob))))
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory", path);
    ck->cap_blobs = (int)n;
    bool have_meta = false;
    uint64_t expected = align64(table_end), prev_end = table_end;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = buf + HEADER_BYTES + (size_t)i * ENTRY_BYTES;
        const uint8_t *nul = memchr(e, 0, 64);
        if (!nul || nul == e)
            return sd_errorf(err, SD_EIO, "%s: section %u has no name of 1 to %d bytes", path, i,
                             RT_CKPT_NAME_MAX);
        const char *name = (const char *)e;
        uint32_t kind = get_u32(e + 64);
        uint64_t off = get_u64(e + 72), len = get_u64(e + 80);
        if (kind != KIND_BLOB && kind != KIND_META)
            return sd_errorf(err, SD_EIO, "%s: section '%s' has unknown kind %u", path, name, kind);
        if (off % 64 != 0 || off < table_end || off > size || len > size - off)
            return sd_errorf(err, SD_EIO, "%s: section '%s' (%" PRIu64 " bytes at %" PRIu64 ") "
                             "lies outside the %" PRIu64 "-byte file", path, name, len, off, size);
        /* sections follow each other in table order with zero padding: a damaged byte anywhere
         * in the file is found, not only inside a section */
        if (off != expected)
            return sd_errorf(err, SD_EIO, "%s: section '%s' is at offset %" PRIu64 "; the layout "
                             "puts it at %" PRIu64, path, name, off, expected);
        for (uint64_t at = prev_end; at < off; at++)
            if (buf[at])
                return sd_errorf(err, SD_EIO, "%s: the padding before section '%s' is corrupted",
                                 path, name);
        prev_end = off + len;
        expected = align64(prev_end);
        stored = get_u32(e + 68);
        computed = rt_crc32(0, buf + off, (size_t)len);
        if (stored != computed)
            return sd_errorf(err, SD_EIO, "%s: section '%s' is corrupted (CRC32 %08x, computed "
                             "%08x)", path, name, stored, computed);
        if (kind == KIND_META) {
            if (have_meta)
                return sd_errorf(err, SD_EIO, "%s: two metadata sections", path);
            have_meta = true;
            SD_TRY(parse_meta(ck, path, buf + off, (size_t)len, err));
            continue;
        }
        for (int j = 0; j < ck->n_blobs; j++)
            if (strcmp(ck->blobs[j].name, name) == 0)
                return sd_errorf(err, SD_EIO, "%s: blob '%s' appears twice", path, name);
        Blob *b = &ck->blobs[ck->n_blobs++];
        memcpy(b->name, name, (size_t)(nul - e));
        b->data = buf + off;
        b->size = (size_t)len;
    }
    if (expected != size)
        return sd_errorf(err, SD_EIO, "%s: %" PRIu64 " bytes after the last section; the layout "
                         "has %" PRIu64, path, size - prev_end, expected - prev_end);
    for (uint64_t at = prev_end; at < size; at++)
        if (buf[at])
            return sd_errorf(err, SD_EIO, "%s: the padding after the last section is corrupted",
                             path);
    return SD_OK;
}

SdStatus rt_ckpt_read(const char *path, RtCheckpoint **out, SdError *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sd_errorf(err, SD_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sd_errorf(err, SD_EIO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    RtCheckpoint *ck = rt_ckpt_new();
    if (!ck || size > SIZE_MAX / 2 || !(ck->file = sd_aligned_alloc((size_t)size))) {
        close(fd);
        rt_ckpt_free(ck);
        return sd_errorf(err, SD_ENOMEM, "%s: cannot allocate %" PRIu64 " bytes to read it", path,
                         size);
    }
    uint64_t got = 0;
    while (got < size) {
        size_t chunk = size - got > (1u << 30) ? (1u << 30) : (size_t)(size - got);
        ssize_t r = read(fd, ck->file + got, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int saved = errno;
            close(fd);
            rt_ckpt_free(ck);
            return sd_errorf(err, SD_EIO, "%s: read %" PRIu64 " of %" PRIu64 " bytes%s%s", path,
                             got, size, r < 0 ? ": " : "", r < 0 ? strerror(saved) : "");
        }
        got += (uint64_t)r;
    }
    close(fd);
    SdStatus s = parse_file(ck, path, ck->file, size, err);
    if (s != SD_OK) {
        rt_ckpt_free(ck);
        return s;
    }
    *out = ck;
    return SD_OK;
}

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
    return prefix && key_ok(prefix, strlen(prefix)) && prefix[0] != '.';
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
                grow((void **)&older, &cap_older, n + 1, sizeof *older)) {
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
