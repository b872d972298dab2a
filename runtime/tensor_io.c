/* runtime/tensor_io.c — tensor structs, and the files around the two formats: reading a whole
 * file with its size checked, choosing the format by extension, streaming a tensor out.
 * The formats themselves live in runtime/npy.c and runtime/tensor_pb.c. */
#define _POSIX_C_SOURCE 200809L /* fstat, fileno: the size of a file before reading it */

#include "runtime/tensor_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/mem.h"

const char *rt_shape_format(const int64_t *dims, int rank, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, i ? ", " : "", dims[i]);
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
    return buf;
}

SdStatus rt_tensor_alloc(RtTensor *t, SdDType dtype, int rank, const int64_t *dims, SdError *err)
{
    memset(t, 0, sizeof *t);
    size_t esize = sd_dtype_size(dtype);
    if (esize == 0)
        return sd_errorf(err, SD_EUNSUPPORTED, "unsupported tensor dtype %s", sd_dtype_name(dtype));
    if (rank < 0 || rank > RT_MAX_RANK)
        return sd_errorf(err, SD_ESHAPE, "tensor rank %d is outside 0..%d", rank, RT_MAX_RANK);
    char shape[256];
    int64_t numel;
    if (!sd_numel_checked(dims, rank, &numel))
        return sd_errorf(err, SD_ESHAPE, "tensor shape %s has a negative dim or too many elements",
                         rt_shape_format(dims, rank, shape, sizeof shape));
    size_t nbytes;
    if ((uint64_t)numel > SIZE_MAX || !sd_mul_size((size_t)numel, esize, &nbytes))
        return sd_errorf(err, SD_ENOMEM, "tensor of shape %s (%s) is too large for this machine",
                         rt_shape_format(dims, rank, shape, sizeof shape), sd_dtype_name(dtype));
    void *data = sd_aligned_calloc(nbytes);
    if (!data)
        return sd_errorf(err, SD_ENOMEM, "cannot allocate %zu bytes for a tensor of shape %s (%s)",
                         nbytes, rt_shape_format(dims, rank, shape, sizeof shape),
                         sd_dtype_name(dtype));
    t->dtype = dtype;
    t->rank = rank;
    if (rank > 0)
        memcpy(t->dims, dims, (size_t)rank * sizeof dims[0]);
    t->data = data;
    t->nbytes = nbytes;
    return SD_OK;
}

void rt_tensor_free(RtTensor *t)
{
    if (!t)
        return;
    sd_aligned_free(t->data);
    free(t->name);
    memset(t, 0, sizeof *t);
}

SdStatus rt_tensor_check(const RtTensor *t, const char *what, SdError *err)
{
    size_t esize = sd_dtype_size(t->dtype);
    if (esize == 0)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: unsupported tensor dtype %s", what,
                         sd_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > RT_MAX_RANK)
        return sd_errorf(err, SD_EUSAGE, "%s: tensor rank %d is outside 0..%d", what, t->rank,
                         RT_MAX_RANK);
    char shape[256];
    int64_t numel;
    size_t want;
    if (!sd_numel_checked(t->dims, t->rank, &numel) || (uint64_t)numel > SIZE_MAX ||
        !sd_mul_size((size_t)numel, esize, &want))
        return sd_errorf(err, SD_EUSAGE, "%s: tensor shape %s has a negative dim or too many "
                         "elements", what, rt_shape_format(t->dims, t->rank, shape, sizeof shape));
    if (want != t->nbytes)
        return sd_errorf(err, SD_EUSAGE, "%s: tensor of shape %s (%s) needs %zu bytes but nbytes "
                         "is %zu", what, rt_shape_format(t->dims, t->rank, shape, sizeof shape),
                         sd_dtype_name(t->dtype), want, t->nbytes);
    if (t->nbytes > 0 && !t->data)
        return sd_errorf(err, SD_EUSAGE, "%s: tensor has %zu bytes but no data", what, t->nbytes);
    return SD_OK;
}

typedef enum RtFormat { RT_FORMAT_NPY, RT_FORMAT_PB } RtFormat;

static bool ends_with_nocase(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        char c = s[n - k + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suffix[i])
            return false;
    }
    return true;
}

static SdStatus format_of(const char *path, RtFormat *format, SdError *err)
{
    if (ends_with_nocase(path, ".npy"))
        *format = RT_FORMAT_NPY;
    else if (ends_with_nocase(path, ".pb"))
        *format = RT_FORMAT_PB;
    else
        return sd_errorf(err, SD_EUSAGE, "'%s' is not a tensor file: expected .npy or .pb", path);
    return SD_OK;
}

/* The size is known before reading so a huge or growing file cannot make us allocate without
 * bound; the whole file is then parsed from memory. */
static SdStatus read_whole_file(const char *path, uint8_t **out, size_t *out_len, SdError *err)
{
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sd_errorf(err, SD_EIO, "cannot open '%s': %s", path, strerror(errno));
    SdStatus st = SD_OK;
    uint8_t *buf = NULL;
    struct stat info;
    if (fstat(fileno(f), &info) != 0) {
        st = sd_errorf(err, SD_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(info.st_mode)) {
        st = sd_errorf(err, SD_EIO, "cannot read '%s': not a regular file", path);
        goto done;
    }
    if (info.st_size < 0 || (uint64_t)info.st_size > RT_MAX_FILE_BYTES ||
        (uint64_t)info.st_size > SIZE_MAX) {
        st = sd_errorf(err, SD_EIO, "cannot read '%s': it is %jd bytes; tensor files are limited "
                       "to %" PRIu64 " GiB", path, (intmax_t)info.st_size, RT_MAX_FILE_BYTES >> 30);
        goto done;
    }
    size_t size = (size_t)info.st_size;
    buf = malloc(size ? size : 1);
    if (!buf) {
        st = sd_errorf(err, SD_ENOMEM, "cannot allocate %zu bytes to read '%s'", size, path);
        goto done;
    }
    size_t got = fread(buf, 1, size, f);
    if (got != size || ferror(f)) {
        st = ferror(f) ? sd_errorf(err, SD_EIO, "cannot read '%s': %s", path, strerror(errno))
                       : sd_errorf(err, SD_EIO, "cannot read '%s': it shrank from %zu to %zu bytes "
                                   "while being read", path, size, got);
        goto done;
    }
    if (fgetc(f) != EOF) {
        st = sd_errorf(err, SD_EIO, "cannot read '%s': it grew while being read", path);
        goto done;
    }
    *out = buf;
    *out_len = size;
    buf = NULL;
done:
    free(buf);
    fclose(f);
    return st;
}

SdStatus rt_tensor_read(const char *path, RtTensor *out, SdError *err)
{
    memset(out, 0, sizeof *out);
    RtFormat format = RT_FORMAT_NPY;
    SD_TRY(format_of(path, &format, err));
    uint8_t *buf;
    size_t n;
    SD_TRY(read_whole_file(path, &buf, &n, err));
    SdStatus st = format == RT_FORMAT_NPY ? rt_npy_read_buffer(buf, n, path, out, err)
                                          : rt_pb_read_buffer(buf, n, path, out, err);
    free(buf);
    return st;
}

SdStatus rt_tensor_write(const char *path, const RtTensor *t, SdError *err)
{
    RtFormat format = RT_FORMAT_NPY;
    SD_TRY(format_of(path, &format, err));
    SdStrbuf prefix = {0};
    SdStatus st = format == RT_FORMAT_NPY ? rt_npy_prefix(t, path, &prefix, err)
                                          : rt_pb_prefix(t, path, &prefix, err);
    if (st != SD_OK) {
        sd_strbuf_free(&prefix);
        return st;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        sd_strbuf_free(&prefix);
        return sd_errorf(err, SD_EIO, "cannot create '%s': %s", path, strerror(errno));
    }
    bool ok = fwrite(prefix.data, 1, prefix.len, f) == prefix.len &&
              (t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, f) == t->nbytes);
    int saved_errno = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved_errno = errno;
    }
    sd_strbuf_free(&prefix);
    if (!ok) {
        remove(path);
        return sd_errorf(err, SD_EIO, "cannot write '%s': %s", path, strerror(saved_errno));
    }
    return SD_OK;
}
