/* runtime/checkpoint_file.c — a checkpoint file's layout (header, entry table, 64-aligned blobs,
 * metadata, CRC-32s), written atomically and read with every size and checksum checked. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/checkpoint_internal.h"
#include "support/mem.h"
#include "support/strbuf.h"

#define HEADER_BYTES 64
#define ENTRY_TAIL_BYTES 32 /* kind, CRC32, offset, size, zero */
#define KIND_BLOB 1
#define KIND_META 2
static const char ckpt_magic[8] = {'S', 'E', 'E', 'D', 'C', 'K', 'P', 'T'};

/* ---- the file ---- */

/* Bytes of a name field, and of a table entry, in a file of format `version` (1 or 2). */
static size_t name_bytes(uint32_t version) { return version == 1 ? RT_CKPT_NAME_MAX_V1 + 1 : RT_CKPT_NAME_MAX + 1; }
static size_t entry_bytes(uint32_t version) { return name_bytes(version) + ENTRY_TAIL_BYTES; }

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
    uint32_t version = 1;
    for (int i = 0; i < ck->n_blobs; i++)
        if (strlen(ck->blobs[i].name) > RT_CKPT_NAME_MAX_V1)
            version = 2;
    const size_t nb = name_bytes(version), eb = entry_bytes(version);
    size_t table_bytes = HEADER_BYTES + (size_t)n * eb;
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
        uint8_t *e = head + HEADER_BYTES + (size_t)i * eb;
        memcpy(e, name, strlen(name));
        put_u32(e + nb, is_meta ? KIND_META : KIND_BLOB);
        put_u32(e + nb + 4, rt_crc32(0, data, size));
        put_u64(e + nb + 8, offset);
        put_u64(e + nb + 16, size);
        offset = align64(offset + size);
    }
    uint64_t file_size = offset;
    memcpy(head, ckpt_magic, 8);
    put_u32(head + 8, version);
    put_u32(head + 12, (uint32_t)n);
    put_u64(head + 16, file_size);
    put_u32(head + 24, rt_crc32(0, head + HEADER_BYTES, (size_t)n * eb));
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
        const uint8_t *e = head + HEADER_BYTES + (size_t)i * eb;
        uint64_t off = get_u64(e + nb + 8), size = get_u64(e + nb + 16);
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
        if (!eq || !rt_ckpt_key_ok((const char *)p, key_len) || memchr(p, 0, (size_t)(end - p)) ||
            (size_t)(end - eq - 1) > RT_CKPT_VALUE_MAX)
            return sd_errorf(err, SD_EIO, "%s: metadata line %zu is not key=value", path, line);
        SdStatus st = rt_ckpt_meta_put(ck, (const char *)p, key_len, (const char *)eq + 1,
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
    if (version < 1 || version > RT_CKPT_VERSION)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: checkpoint format version %u; this seedc "
                         "reads versions 1 to %d", path, version, RT_CKPT_VERSION);
    const size_t nb = name_bytes(version), eb = entry_bytes(version);
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
    uint64_t table_end = HEADER_BYTES + (uint64_t)n * eb;
    if (table_end > size)
        return sd_errorf(err, SD_EIO, "%s: its table of %u sections does not fit in %" PRIu64
                         " bytes", path, n, size);
    stored = get_u32(buf + 24);
    computed = rt_crc32(0, buf + HEADER_BYTES, (size_t)n * eb);
    if (stored != computed)
        return sd_errorf(err, SD_EIO, "%s: the section table is corrupted (CRC32 %08x, computed "
                         "%08x)", path, stored, computed);
    if (!(ck->blobs = calloc(n, sizeof(Blob))))
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory", path);
    ck->cap_blobs = (int)n;
    bool have_meta = false;
    uint64_t expected = align64(table_end), prev_end = table_end;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = buf + HEADER_BYTES + (size_t)i * eb;
        const uint8_t *nul = memchr(e, 0, nb);
        if (!nul || nul == e)
            return sd_errorf(err, SD_EIO, "%s: section %u has no name of 1 to %d bytes", path, i,
                             (int)nb - 1);
        const char *name = (const char *)e;
        uint32_t kind = get_u32(e + nb);
        uint64_t off = get_u64(e + nb + 8), len = get_u64(e + nb + 16);
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
        stored = get_u32(e + nb + 4);
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
