/* runtime/npy.c — NumPy .npy files, format versions 1.0, 2.0 and 3.0 (numpy/lib/format.py).
 * The header is a Python dict literal; only the subset NumPy writes is accepted:
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }   + spaces + '\n'
 * Data follows the header: C order, in the byte order descr names. */
#include "runtime/tensor_io.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "support/mem.h"

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* The element codes seedc reads and writes; the byte order character comes before them. */
static const struct {
    const char *code;
    SdDType dtype;
} npy_codes[] = {
    {"f4", SD_DT_F32}, {"i8", SD_DT_I64}, {"i4", SD_DT_I32}, {"i1", SD_DT_I8},
    {"u1", SD_DT_U8},  {"b1", SD_DT_BOOL}, {"f2", SD_DT_F16},
};

/* Valid NumPy codes seedc does not handle, so the message can say what the file holds. */
static const struct {
    const char *code;
    const char *name;
} npy_other_codes[] = {
    {"f8", "float64"}, {"f12", "float96"}, {"f16", "float128"}, {"i2", "int16"},
    {"u2", "uint16"},  {"u4", "uint32"},   {"u8", "uint64"},    {"c8", "complex64"},
    {"c16", "complex128"}, {"c32", "complex256"}, {"O", "object"},
};

/* Families named by their first letter, whatever their size ('<U5', '|S3', '<M8[ns]', ...). */
static const char *npy_family_name(char kind)
{
    switch (kind) {
    case 'U': return "str";
    case 'S': return "bytes";
    case 'V': return "void";
    case 'M': return "datetime64";
    case 'm': return "timedelta64";
    case 'O': return "object";
    default: return NULL;
    }
}

static bool host_is_big_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 0;
}

typedef struct NpyHeader {
    char descr[32];
    bool fortran_order;
    bool structured; /* descr was a list: a record dtype */
    int rank;        /* may exceed RT_MAX_RANK; only the first RT_MAX_RANK dims are kept */
    int64_t dims[RT_MAX_RANK];
} NpyHeader;

typedef struct Cursor {
    const char *p, *end;
} Cursor;

static void skip_space(Cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool eat(Cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool eat_word(Cursor *c, const char *word)
{
    skip_space(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* The parse functions return NULL, or what went wrong for the message. */
static const char *parse_string(Cursor *c, char *out, size_t cap)
{
    skip_space(c);
    if (c->p == c->end || (*c->p != '\'' && *c->p != '"'))
        return "expected a quoted string";
    char quote = *c->p++;
    size_t len = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\')
            return "escapes in strings are not supported";
        if (*c->p < 0x20 || *c->p > 0x7e)
            return "non-printable character in a string";
        if (len + 1 >= cap)
            return "string too long";
        out[len++] = *c->p++;
    }
    if (c->p == c->end)
        return "unterminated string";
    c->p++;
    out[len] = 0;
    return NULL;
}

static const char *parse_shape(Cursor *c, NpyHeader *h)
{
    if (!eat(c, '('))
        return "expected a tuple for 'shape'";
    h->rank = 0;
    if (eat(c, ')'))
        return NULL;
    for (;;) {
        skip_space(c);
        if (c->p < c->end && *c->p == '-')
            return "negative dimension in 'shape'";
        if (c->p == c->end || *c->p < '0' || *c->p > '9')
            return "expected an integer in 'shape'";
        int64_t dim = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            int digit = *c->p++ - '0';
            if (dim > (INT64_MAX - digit) / 10)
                return "dimension in 'shape' does not fit in 64 bits";
            dim = dim * 10 + digit;
        }
        if (c->p < c->end && *c->p == 'L') /* Python 2 long literals, in old files */
            c->p++;
        if (h->rank < RT_MAX_RANK)
            h->dims[h->rank] = dim;
        if (h->rank == INT32_MAX / 2)
            return "too many dimensions in 'shape'";
        h->rank++;
        if (eat(c, ',')) {
            if (eat(c, ')'))
                return NULL;
        } else if (eat(c, ')')) {
            return NULL;
        } else {
            return "expected ',' or ')' in 'shape'";
        }
    }
}

static const char *parse_value(Cursor *c, const char *key, NpyHeader *h)
{
    if (strcmp(key, "descr") == 0) {
        skip_space(c);
        if (c->p < c->end && *c->p == '[') {
            /* A valid but unsupported record dtype: stop here, the caller reports it. */
            h->structured = true;
            c->p = c->end;
            return NULL;
        }
        return parse_string(c, h->descr, sizeof h->descr);
    }
    if (strcmp(key, "fortran_order") == 0) {
        if (eat_word(c, "True"))
            h->fortran_order = true;
        else if (eat_word(c, "False"))
            h->fortran_order = false;
        else
            return "expected True or False for 'fortran_order'";
        return NULL;
    }
    if (strcmp(key, "shape") == 0)
        return parse_shape(c, h);
    return "unknown key (expected 'descr', 'fortran_order' and 'shape')";
}

static const char *parse_header(Cursor *c, NpyHeader *h)
{
    bool seen[3] = {false, false, false};
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    if (!eat(c, '{'))
        return "expected '{'";
    while (!eat(c, '}')) {
        char key[32];
        const char *problem = parse_string(c, key, sizeof key);
        if (problem)
            return problem;
        if (!eat(c, ':'))
            return "expected ':' after a key";
        for (int i = 0; i < 3; i++) {
            if (strcmp(key, keys[i]) == 0) {
                if (seen[i])
                    return "duplicate key";
                seen[i] = true;
            }
        }
        problem = parse_value(c, key, h);
        if (problem || h->structured)
            return problem;
        if (!eat(c, ',')) {
            if (eat(c, '}'))
                break;
            return "expected ',' or '}' after a value";
        }
    }
    for (int i = 0; i < 3; i++)
        if (!seen[i])
            return i == 0 ? "missing key 'descr'" : i == 1 ? "missing key 'fortran_order'"
                                                           : "missing key 'shape'";
    skip_space(c);
    if (c->p != c->end)
        return "unexpected text after the dict";
    return NULL;
}

/* Maps descr to a dtype and says whether the data needs a byte swap. */
static SdStatus npy_dtype(const char *descr, const char *what, SdDType *dtype, bool *swap,
                          SdError *err)
{
    char order = descr[0];
    const char *code = descr;
    if (order == '<' || order == '>' || order == '|' || order == '=')
        code++;
    else
        order = '='; /* NumPy reads a bare code in native order */
    bool big = order == '>' || (order != '<' && host_is_big_endian());
    for (size_t i = 0; i < sizeof npy_codes / sizeof npy_codes[0]; i++) {
        if (strcmp(code, npy_codes[i].code) == 0) {
            *dtype = npy_codes[i].dtype;
            *swap = big && sd_dtype_size(*dtype) > 1;
            return SD_OK;
        }
    }
    for (size_t i = 0; i < sizeof npy_other_codes / sizeof npy_other_codes[0]; i++)
        if (strcmp(code, npy_other_codes[i].code) == 0)
            return sd_errorf(err, SD_EUNSUPPORTED,
                             "unsupported dtype %s in %s; seedc reads float32, float16, int64, "
                             "int32, int8, uint8 and bool", npy_other_codes[i].name, what);
    if (npy_family_name(code[0]))
        return sd_errorf(err, SD_EUNSUPPORTED, "unsupported dtype %s ('%s') in %s",
                         npy_family_name(code[0]), descr, what);
    return sd_errorf(err, SD_EBADMODEL, "%s: '%s' in the .npy header is not a NumPy dtype", what,
                     descr);
}

static void byteswap(uint8_t *data, size_t nbytes, size_t esize)
{
    for (size_t at = 0; at + esize <= nbytes; at += esize)
        for (size_t i = 0; i < esize / 2; i++) {
            uint8_t tmp = data[at + i];
            data[at + i] = data[at + esize - 1 - i];
            data[at + esize - 1 - i] = tmp;
        }
}

SdStatus rt_npy_read_buffer(const uint8_t *buf, size_t n, const char *what, RtTensor *out,
                            SdError *err)
{
    memset(out, 0, sizeof *out);
    if (n > 0 && memcmp(buf, npy_magic, n < sizeof npy_magic ? n : sizeof npy_magic) != 0)
        return sd_errorf(err, SD_EBADMODEL, "%s is not a .npy file: it does not start with "
                         "\\x93NUMPY", what);
    if (n < 10)
        return sd_errorf(err, SD_EBADMODEL, "%s is truncated: %zu bytes is shorter than the "
                         "10-byte .npy preamble", what, n);
    int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s has .npy format version %d.%d; seedc reads "
                         "1.0, 2.0 and 3.0", what, major, minor);
    /* 1.0 has a 16-bit header length; 2.0 and 3.0 a 32-bit one (3.0 only allows UTF-8 text). */
    size_t start = major == 1 ? 10 : 12;
    if (n < start)
        return sd_errorf(err, SD_EBADMODEL, "%s is truncated: %zu bytes is shorter than the "
                         "%zu-byte .npy preamble", what, n, start);
    size_t header_len = (size_t)buf[8] | (size_t)buf[9] << 8;
    if (major > 1)
        header_len |= (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    if (header_len > n - start)
        return sd_errorf(err, SD_EBADMODEL, "%s is truncated: the .npy header is %zu bytes but "
                         "only %zu bytes follow the preamble", what, header_len, n - start);

    NpyHeader h = {0};
    Cursor c = {(const char *)buf + start, (const char *)buf + start + header_len};
    const char *problem = parse_header(&c, &h);
    if (problem)
        return sd_errorf(err, SD_EBADMODEL, "%s: malformed .npy header: %s (at header byte %zu)",
                         what, problem, (size_t)(c.p - (const char *)buf - start));
    if (h.structured)
        return sd_errorf(err, SD_EUNSUPPORTED, "unsupported structured (record) dtype in %s", what);
    SdDType dtype = SD_DT_UNDEFINED;
    bool swap = false;
    SD_TRY(npy_dtype(h.descr, what, &dtype, &swap, err));
    if (h.rank > RT_MAX_RANK)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s holds an array of rank %d; seedc supports up to "
                         "%d dimensions", what, h.rank, RT_MAX_RANK);
    if (h.fortran_order)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s holds a Fortran-order array; seedc reads C "
                         "order only (save it with np.ascontiguousarray)", what);

    char shape[256];
    rt_shape_format(h.dims, h.rank, shape, sizeof shape);
    int64_t numel, want;
    if (!sd_numel_checked(h.dims, h.rank, &numel) ||
        !sd_mul_i64(numel, (int64_t)sd_dtype_size(dtype), &want))
        return sd_errorf(err, SD_EBADMODEL, "%s: shape %s has too many elements", what, shape);
    size_t have = n - start - header_len;
    if ((uint64_t)want != have)
        return sd_errorf(err, SD_EBADMODEL, "%s: shape %s (%s) needs %" PRId64 " bytes of data "
                         "but the file holds %zu", what, shape, sd_dtype_name(dtype), want, have);

    if (rt_tensor_alloc(out, dtype, h.rank, h.dims, err) != SD_OK)
        return sd_error_prefix(err, "%s", what);
    if (have > 0)
        memcpy(out->data, buf + start + header_len, have);
    if (swap)
        byteswap(out->data, out->nbytes, sd_dtype_size(dtype));
    return SD_OK;
}

SdStatus rt_npy_prefix(const RtTensor *t, const char *what, SdStrbuf *out, SdError *err)
{
    SD_TRY(rt_tensor_check(t, what, err));
    const char *code = NULL;
    for (size_t i = 0; i < sizeof npy_codes / sizeof npy_codes[0]; i++)
        if (npy_codes[i].dtype == t->dtype)
            code = npy_codes[i].code;
    if (!code)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: NumPy has no %s dtype; write the tensor as .pb",
                         what, sd_dtype_name(t->dtype));

    /* The same text NumPy writes, so files compare byte for byte. */
    char dict[512];
    size_t len = (size_t)snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, "
                                  "'shape': (", sd_dtype_size(t->dtype) == 1 ? '|' : '<', code);
    for (int i = 0; i < t->rank; i++)
        len += (size_t)snprintf(dict + len, sizeof dict - len, "%s%" PRId64, i ? ", " : "",
                                t->dims[i]);
    len += (size_t)snprintf(dict + len, sizeof dict - len, "%s), }", t->rank == 1 ? "," : "");
    SD_ASSERT(len < sizeof dict);

    /* Format 1.0: magic, version, 16-bit length, then the header padded with spaces and ended by
     * '\n' so the data starts at a multiple of 64 bytes. */
    size_t pad = (64 - (10 + len + 1) % 64) % 64;
    size_t header_len = len + pad + 1;
    uint8_t preamble[10];
    memcpy(preamble, npy_magic, sizeof npy_magic);
    preamble[6] = 1;
    preamble[7] = 0;
    preamble[8] = (uint8_t)(header_len & 0xff);
    preamble[9] = (uint8_t)(header_len >> 8);
    sd_strbuf_append(out, (const char *)preamble, sizeof preamble);
    sd_strbuf_append(out, dict, len);
    for (size_t i = 0; i < pad; i++)
        sd_strbuf_append(out, " ", 1);
    sd_strbuf_append(out, "\n", 1);
    if (out->failed)
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory while writing the .npy header", what);
    return SD_OK;
}
