/* runtime/data/idx.c — IDX files, gzip'ed or plain, and the data sets made of them.
 * A file is read whole into memory (compressed), then parsed from the buffer: the header first,
 * checked, then exactly the data the header announces, then the end of the stream, so a file with
 * less or more data than its header says is refused. zlib inflates gzip (why zlib and not our own
 * inflate: it has been hardened against hostile streams for decades, checks the gzip CRC32 and
 * length for us, and is several times faster than a small hand-written inflate). */
#include "runtime/data/idx.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "support/mem.h"

/* Deflate cannot expand more than about 1032:1; a header that promises more than this from a
 * small gzip file is a lie, found before the allocation instead of after it. */
#define DEFLATE_MAX_RATIO 1032u

/* Where the bytes come from: the buffer itself, or zlib inflating it. */
typedef struct Source {
    const char *what;
    const uint8_t *buf;
    size_t n, pos; /* plain: read position; gz: bytes handed to zlib so far */
    bool gz, gz_ended;
    z_stream zs;
} Source;

static void source_feed(Source *s)
{
    if (s->zs.avail_in == 0 && s->pos < s->n) {
        size_t chunk = s->n - s->pos;
        if (chunk > (1u << 30))
            chunk = 1u << 30;
        s->zs.next_in = (Bytef *)(s->buf + s->pos);
        s->zs.avail_in = (uInt)chunk;
        s->pos += chunk;
    }
}

/* Reads up to want bytes into dst; *got says how many came. Errors are a corrupt gzip stream. */
static SdStatus source_read(Source *s, uint8_t *dst, size_t want, size_t *got, SdError *err)
{
    *got = 0;
    if (!s->gz) {
        size_t left = s->n - s->pos;
        size_t take = want < left ? want : left;
        memcpy(dst, s->buf + s->pos, take);
        s->pos += take;
        *got = take;
        return SD_OK;
    }
    while (*got < want && !s->gz_ended) {
        source_feed(s);
        size_t chunk = want - *got;
        if (chunk > (1u << 30))
            chunk = 1u << 30;
        s->zs.next_out = dst + *got;
        s->zs.avail_out = (uInt)chunk;
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        *got += chunk - s->zs.avail_out;
        if (rc == Z_STREAM_END) {
            s->gz_ended = true;
        } else if (rc == Z_BUF_ERROR) { /* no progress although the output has room */
            if (s->zs.avail_in == 0 && s->pos == s->n)
                return sd_errorf(err, SD_EIO, "%s: the gzip stream is truncated (it ends before "
                                 "its end marker)", s->what);
            if (s->zs.avail_in != 0)
                return sd_errorf(err, SD_EIO, "%s: the gzip stream is corrupted (inflate makes "
                                 "no progress)", s->what);
        } else if (rc != Z_OK) {
            return sd_errorf(err, rc == Z_MEM_ERROR ? SD_ENOMEM : SD_EIO,
                             "%s: the gzip stream is corrupted (%s)", s->what,
                             s->zs.msg ? s->zs.msg : zError(rc));
        }
    }
    return SD_OK;
}

/* After the data: the stream must end here (gzip: its CRC and length checked by zlib). */
static SdStatus source_finish(Source *s, SdError *err)
{
    uint8_t extra;
    size_t got;
    SD_TRY(source_read(s, &extra, 1, &got, err));
    if (got)
        return sd_errorf(err, SD_EIO, "%s: holds more data than its header announces", s->what);
    if (s->gz) {
        if (!s->gz_ended) /* cannot happen: a read that got nothing either ended or failed */
            return sd_errorf(err, SD_EIO, "%s: the gzip stream does not end", s->what);
        size_t trailing = s->zs.avail_in + (s->n - s->pos);
        if (trailing)
            return sd_errorf(err, SD_EIO, "%s: %zu bytes follow the end of the gzip stream",
                             s->what, trailing);
    }
    return SD_OK;
}

static const char *idx_type_name(uint8_t t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

static SdStatus idx_parse(Source *s, RtIdx *out, SdError *err)
{
    uint8_t magic[4];
    size_t got;
    SD_TRY(source_read(s, magic, 4, &got, err));
    if (got < 4)
        return sd_errorf(err, SD_EIO, "%s: %zu bytes; an IDX file starts with a 4-byte magic "
                         "number", s->what, got);
    if (magic[0] != 0 || magic[1] != 0)
        return sd_errorf(err, SD_EIO, "%s: not an IDX file (magic bytes %02x %02x %02x %02x; "
                         "expected 00 00 TYPE RANK)", s->what, magic[0], magic[1], magic[2],
                         magic[3]);
    const char *type = idx_type_name(magic[2]);
    if (!type)
        return sd_errorf(err, SD_EIO, "%s: unknown IDX element type 0x%02x", s->what, magic[2]);
    if (magic[2] != 0x08)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: holds %s data; only unsigned byte IDX files "
                         "(images, labels) are read", s->what, type);
    int rank = magic[3];
    if (rank < 1 || rank > RT_IDX_MAX_RANK)
        return sd_errorf(err, SD_EIO, "%s: rank %d; IDX data sets have rank 1 to %d", s->what, rank,
                         RT_IDX_MAX_RANK);
    uint8_t dim_bytes[4 * RT_IDX_MAX_RANK];
    SD_TRY(source_read(s, dim_bytes, 4 * (size_t)rank, &got, err));
    if (got < 4 * (size_t)rank)
        return sd_errorf(err, SD_EIO, "%s: truncated in its header (rank %d needs %d bytes of "
                         "sizes, found %zu)", s->what, rank, 4 * rank, got);
    out->rank = rank;
    int64_t numel = 1;
    char shape[96];
    int len = 0;
    for (int i = 0; i < rank; i++) {
        const uint8_t *b = dim_bytes + 4 * i;
        out->dims[i] = (int64_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                                 (uint32_t)b[2] << 8 | b[3]);
        len += snprintf(shape + len, sizeof shape - (size_t)len, "%s%" PRId64, i ? ", " : "[",
                        out->dims[i]);
        if (!sd_mul_i64(numel, out->dims[i], &numel) || (uint64_t)numel > RT_IDX_MAX_BYTES)
            numel = INT64_MAX; /* reported below, with the whole shape */
    }
    snprintf(shape + len, sizeof shape - (size_t)len, "]");
    if ((uint64_t)numel > RT_IDX_MAX_BYTES)
        return sd_errorf(err, SD_ENOMEM, "%s: shape %s is larger than the %" PRIu64 " bytes seedc "
                         "reads from an IDX file", s->what, shape, RT_IDX_MAX_BYTES);
    size_t header = 4 + 4 * (size_t)rank;
    if (!s->gz && (uint64_t)numel != s->n - header)
        return sd_errorf(err, SD_EIO, "%s: shape %s needs %" PRId64 " bytes of data; the file "
                         "holds %zu%s", s->what, shape, numel, s->n - header,
                         (uint64_t)numel > s->n - header ? " (truncated)" : "");
    if (s->gz && (uint64_t)numel > (uint64_t)s->n * DEFLATE_MAX_RATIO + 4096)
        return sd_errorf(err, SD_EIO, "%s: shape %s needs %" PRId64 " bytes, more than %zu bytes "
                         "of gzip data can hold (truncated or corrupted)", s->what, shape, numel,
                         s->n);
    out->nbytes = (size_t)numel;
    out->data = sd_aligned_alloc(out->nbytes);
    if (!out->data)
        return sd_errorf(err, SD_ENOMEM, "%s: cannot allocate %zu bytes", s->what, out->nbytes);
    SD_TRY(source_read(s, out->data, out->nbytes, &got, err));
    if (got < out->nbytes)
        return sd_errorf(err, SD_EIO, "%s: shape %s needs %zu bytes of data; the stream holds %zu "
                         "(truncated)", s->what, shape, out->nbytes, got);
    return source_finish(s, err);
}

SdStatus rt_idx_read_buffer(const uint8_t *buf, size_t n, const char *what, RtIdx *out,
                            SdError *err)
{
    memset(out, 0, sizeof *out);
    Source s = {.what = what, .buf = buf, .n = n};
    s.gz = n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
    if (s.gz && inflateInit2(&s.zs, 15 + 16) != Z_OK) /* 15: largest window; +16: gzip only */
        return sd_errorf(err, SD_ENOMEM, "%s: cannot start zlib", what);
    SdStatus st = idx_parse(&s, out, err);
    if (s.gz)
        inflateEnd(&s.zs);
    if (st != SD_OK)
        rt_idx_free(out);
    return st;
}

/* The whole file in memory; compressed data sets are small (26 MB for Fashion-MNIST's images). */
static SdStatus read_file(const char *path, uint8_t **data, size_t *n, SdError *err)
{
    *data = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sd_errorf(err, SD_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sd_errorf(err, SD_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > RT_IDX_MAX_BYTES + 4096) {
        fclose(f);
        return sd_errorf(err, SD_ENOMEM, "%s: %lld bytes, larger than an IDX file seedc reads",
                         path, (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return sd_errorf(err, SD_ENOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = fread(buf, 1, size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != size) {
        free(buf);
        return sd_errorf(err, SD_EIO, "%s: read %zu of %zu bytes", path, got, size);
    }
    *data = buf;
    *n = size;
    return SD_OK;
}

SdStatus rt_idx_read(const char *path, RtIdx *out, SdError *err)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t n;
    SD_TRY(read_file(path, &buf, &n, err));
    SdStatus st = rt_idx_read_buffer(buf, n, path, out, err);
    free(buf);
    return st;
}

void rt_idx_free(RtIdx *x)
{
    if (!x)
        return;
    sd_aligned_free(x->data);
    memset(x, 0, sizeof *x);
}

#define MAX_IMAGE_SIDE 65536

SdStatus rt_dataset_load_files(const char *images_path, const char *labels_path, RtDataset *out,
                               SdError *err)
{
    memset(out, 0, sizeof *out);
    RtIdx images, labels;
    SD_TRY(rt_idx_read(images_path, &images, err));
    SdStatus st = rt_idx_read(labels_path, &labels, err);
    if (st != SD_OK) {
        rt_idx_free(&images);
        return st;
    }
    if (images.rank != 3 || images.dims[1] < 1 || images.dims[2] < 1 ||
        images.dims[1] > MAX_IMAGE_SIDE || images.dims[2] > MAX_IMAGE_SIDE)
        st = sd_errorf(err, SD_EIO, "%s: an images file has rank 3 [n, height, width] with sides "
                       "of 1 to %d; this one has rank %d", images_path, MAX_IMAGE_SIDE,
                       images.rank);
    else if (labels.rank != 1)
        st = sd_errorf(err, SD_EIO, "%s: a labels file has rank 1 [n]; this one has rank %d",
                       labels_path, labels.rank);
    else if (labels.dims[0] != images.dims[0])
        st = sd_errorf(err, SD_EIO, "%s holds %" PRId64 " labels but %s holds %" PRId64 " images",
                       labels_path, labels.dims[0], images_path, images.dims[0]);
    if (st != SD_OK) {
        rt_idx_free(&images);
        rt_idx_free(&labels);
        return st;
    }
    out->n = images.dims[0];
    out->channels = 1;
    out->height = (int)images.dims[1];
    out->width = (int)images.dims[2];
    out->images = images.data;
    out->labels = labels.data;
    int max_label = -1;
    for (int64_t i = 0; i < out->n; i++)
        if (out->labels[i] > max_label)
            max_label = out->labels[i];
    out->n_classes = max_label + 1;
    return SD_OK;
}

/* The data sets seedc knows by name, and how to get them. */
static const struct {
    const char *name;
    const char *package; /* NULL: no Debian package */
} known_datasets[] = {
    {"fashion-mnist", "dataset-fashion-mnist"},
    {"mnist", NULL},
};

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ROOT/NAME/STEM.gz, else ROOT/NAME/STEM. */
static SdStatus find_split_file(const char *dir, const char *stem, const char *hint, char *path,
                                size_t cap, SdError *err)
{
    snprintf(path, cap, "%s/%s.gz", dir, stem);
    if (is_file(path))
        return SD_OK;
    snprintf(path, cap, "%s/%s", dir, stem);
    if (is_file(path))
        return SD_OK;
    return sd_errorf(err, SD_EIO, "%s: neither %s.gz nor %s is there%s", dir, stem, stem, hint);
}

SdStatus rt_dataset_load(const char *name, RtSplit split, const char *root, RtDataset *out,
                         SdError *err)
{
    memset(out, 0, sizeof *out);
    if (!name || !*name || strchr(name, '/') || strlen(name) >= sizeof out->name)
        return sd_errorf(err, SD_EUSAGE, "data set name '%s' is not a plain name like "
                         "'fashion-mnist'", name ? name : "(null)");
    const char *env = getenv("SEEDC_DATASETS");
    if (!root)
        root = env && *env ? env : RT_DATASETS_ROOT;
    int known = -1;
    for (int i = 0; i < (int)(sizeof known_datasets / sizeof known_datasets[0]); i++)
        if (strcmp(known_datasets[i].name, name) == 0)
            known = i;
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/%s", root, name) >= (int)sizeof dir)
        return sd_errorf(err, SD_EUSAGE, "data set folder path is too long: %s/%s", root, name);
    char hint[8192] = "";
    if (known >= 0 && known_datasets[known].package)
        snprintf(hint, sizeof hint, "; install the Debian package %s (apt-get install %s), which "
                 "puts it in %s/%s%s", known_datasets[known].package,
                 known_datasets[known].package, RT_DATASETS_ROOT, name,
                 strcmp(root, RT_DATASETS_ROOT) ? " (this lookup used another root, from "
                 "SEEDC_DATASETS or the caller)" : "");
    else if (known >= 0)
        snprintf(hint, sizeof hint, "; %s has no Debian package: put its four IDX files "
                 "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-"
                 "ubyte.gz, t10k-labels-idx1-ubyte.gz) in %s", name, dir);
    if (!is_dir(dir)) {
        if (known < 0)
            return sd_errorf(err, SD_EIO, "unknown data set '%s': %s does not exist (known: "
                             "fashion-mnist, mnist)", name, dir);
        return sd_errorf(err, SD_EIO, "data set '%s' is not installed: %s does not exist%s", name,
                         dir, hint);
    }
    const char *prefix = split == RT_SPLIT_TRAIN ? "train" : "t10k";
    char stem[64], images_path[4200], labels_path[4200];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", prefix);
    SD_TRY(find_split_file(dir, stem, hint, images_path, sizeof images_path, err));
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", prefix);
    SD_TRY(find_split_file(dir, stem, hint, labels_path, sizeof labels_path, err));
    SD_TRY(rt_dataset_load_files(images_path, labels_path, out, err));
    snprintf(out->name, sizeof out->name, "%s", name);
    return SD_OK;
}

void rt_dataset_truncate(RtDataset *d, int64_t n)
{
    if (n >= 0 && n < d->n)
        d->n = n;
}

void rt_dataset_free(RtDataset *d)
{
    if (!d)
        return;
    sd_aligned_free(d->images);
    sd_aligned_free(d->labels);
    memset(d, 0, sizeof *d);
}
