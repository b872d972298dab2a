/* runtime/tensor_pb.c — ONNX TensorProto (.pb) files through a small protobuf wire-format reader
 * and writer: the runtime library may not depend on protobuf-c. Field numbers are onnx.proto's.
 * A file is read in two passes: the first checks every field and counts the values, so the data
 * size is compared with the shape before anything is allocated; the second copies the values. */
#include "runtime/tensor_io.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/mem.h"

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_SGROUP = 3, WIRE_EGROUP = 4,
       WIRE_I32 = 5 };

enum {
    F_DIMS = 1,
    F_DATA_TYPE = 2,
    F_SEGMENT = 3,
    F_FLOAT_DATA = 4,
    F_INT32_DATA = 5,
    F_STRING_DATA = 6,
    F_INT64_DATA = 7,
    F_NAME = 8,
    F_RAW_DATA = 9,
    F_DOUBLE_DATA = 10,
    F_UINT64_DATA = 11,
    F_EXTERNAL_DATA = 13,
    F_DATA_LOCATION = 14,
    F_COUNTED = 12, /* Pb.counts is indexed by field number below this */
};

static const char *field_name(int field)
{
    switch (field) {
    case F_DIMS: return "dims";
    case F_DATA_TYPE: return "data_type";
    case F_FLOAT_DATA: return "float_data";
    case F_INT32_DATA: return "int32_data";
    case F_STRING_DATA: return "string_data";
    case F_INT64_DATA: return "int64_data";
    case F_NAME: return "name";
    case F_RAW_DATA: return "raw_data";
    case F_DOUBLE_DATA: return "double_data";
    case F_UINT64_DATA: return "uint64_data";
    case F_DATA_LOCATION: return "data_location";
    default: return "unknown field";
    }
}

typedef struct PbSpan {
    const uint8_t *p, *end;
} PbSpan;

typedef struct Pb {
    const uint8_t *base; /* start of the file, for offsets in messages */
    const char *what;
    SdError *err;
    /* what a pass learns */
    int rank;
    int64_t dims[RT_MAX_RANK];
    uint64_t data_type;
    PbSpan name, raw;
    bool has_name, has_raw;
    uint64_t counts[F_COUNTED]; /* values seen in each repeated data field */
    /* second pass: the values of fill_field go to fill_data */
    int fill_field;
    SdDType fill_dtype;
    uint8_t *fill_data;
    uint64_t fill_index, fill_count;
} Pb;

__attribute__((format(printf, 3, 4)))
static SdStatus pb_bad(const Pb *pb, const uint8_t *at, const char *fmt, ...)
{
    char problem[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    return sd_errorf(pb->err, SD_EBADMODEL, "%s: malformed TensorProto at byte %zu: %s", pb->what,
                     (size_t)(at - pb->base), problem);
}

static SdStatus pb_bad_wire(const Pb *pb, const uint8_t *at, int field, int wire, int expected)
{
    return pb_bad(pb, at, "%s (field %d) has wire type %d; expected %d", field_name(field), field,
                  wire, expected);
}

static SdStatus pb_varint(const Pb *pb, PbSpan *in, uint64_t *out)
{
    const uint8_t *start = in->p;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (in->p == in->end)
            return pb_bad(pb, start, "a varint runs past the end of the data");
        uint8_t b = *in->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i == 9 && b > 1)
                return pb_bad(pb, start, "a varint overflows 64 bits");
            *out = v;
            return SD_OK;
        }
    }
    return pb_bad(pb, start, "a varint is longer than 10 bytes");
}

static SdStatus pb_fixed(const Pb *pb, PbSpan *in, int width, uint64_t *out)
{
    if (in->end - in->p < width)
        return pb_bad(pb, in->p, "a %d-byte value runs past the end of the data", width);
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v |= (uint64_t)in->p[i] << (8 * i);
    in->p += width;
    *out = v;
    return SD_OK;
}

static SdStatus pb_len(const Pb *pb, PbSpan *in, int field, PbSpan *bytes)
{
    const uint8_t *start = in->p;
    uint64_t len = 0;
    SD_TRY(pb_varint(pb, in, &len));
    size_t left = (size_t)(in->end - in->p);
    if (len > left)
        return pb_bad(pb, start, "%s (field %d) of %" PRIu64 " bytes runs past the end of the "
                      "data (%zu bytes left)", field_name(field), field, len, left);
    bytes->p = in->p;
    bytes->end = in->p + len;
    in->p = bytes->end;
    return SD_OK;
}

static SdStatus pb_tag(const Pb *pb, PbSpan *in, int *field, int *wire)
{
    const uint8_t *start = in->p;
    uint64_t tag = 0;
    SD_TRY(pb_varint(pb, in, &tag));
    if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return pb_bad(pb, start, "invalid field number %" PRIu64, tag >> 3);
    *field = (int)(tag >> 3);
    *wire = (int)(tag & 7);
    return SD_OK;
}

/* Unknown fields are skipped, groups included; group nesting is bounded so a hostile file cannot
 * exhaust the stack. */
static SdStatus pb_skip(const Pb *pb, PbSpan *in, const uint8_t *tag_at, int field, int wire,
                        int depth)
{
    uint64_t ignored = 0;
    PbSpan span = {NULL, NULL};
    switch (wire) {
    case WIRE_VARINT: return pb_varint(pb, in, &ignored);
    case WIRE_I64: return pb_fixed(pb, in, 8, &ignored);
    case WIRE_I32: return pb_fixed(pb, in, 4, &ignored);
    case WIRE_LEN: return pb_len(pb, in, field, &span);
    case WIRE_SGROUP:
        if (depth >= 32)
            return pb_bad(pb, tag_at, "groups are nested more than 32 deep");
        for (;;) {
            if (in->p == in->end)
                return pb_bad(pb, tag_at, "the group of field %d has no end", field);
            const uint8_t *at = in->p;
            int inner_field = 0, inner_wire = 0;
            SD_TRY(pb_tag(pb, in, &inner_field, &inner_wire));
            if (inner_wire == WIRE_EGROUP) {
                if (inner_field != field)
                    return pb_bad(pb, at, "the group of field %d ends with the tag of field %d",
                                  field, inner_field);
                return SD_OK;
            }
            SD_TRY(pb_skip(pb, in, at, inner_field, inner_wire, depth + 1));
        }
    case WIRE_EGROUP:
        return pb_bad(pb, tag_at, "an end-group tag (field %d) outside any group", field);
    default:
        return pb_bad(pb, tag_at, "invalid wire type %d (field %d)", wire, field);
    }
}

static void store_le(uint8_t *dst, uint64_t v, size_t width)
{
    for (size_t i = 0; i < width; i++)
        dst[i] = (uint8_t)(v >> (8 * i));
}

/* int32_data carries int32, int8, uint8, bool, and the bit patterns of f16 and bf16. Like any
 * protobuf reader, an int32 keeps the low 32 bits of the varint; each dtype then checks its
 * range. */
static SdStatus pb_store_int32(Pb *pb, const uint8_t *at, uint64_t v, uint8_t *dst)
{
    uint32_t bits = (uint32_t)v;
    int64_t x = bits <= INT32_MAX ? (int64_t)bits : (int64_t)bits - ((int64_t)1 << 32);
    int64_t lo = INT32_MIN, hi = INT32_MAX;
    switch (pb->fill_dtype) {
    case SD_DT_I8: lo = INT8_MIN; hi = INT8_MAX; break;
    case SD_DT_U8: lo = 0; hi = UINT8_MAX; break;
    case SD_DT_BOOL: lo = 0; hi = 1; break;
    case SD_DT_F16: case SD_DT_BF16: lo = 0; hi = UINT16_MAX; break;
    default: break;
    }
    if (x < lo || x > hi)
        return pb_bad(pb, at, "int32_data value %" PRId64 " does not fit %s", x,
                      sd_dtype_name(pb->fill_dtype));
    store_le(dst, (uint64_t)x, sd_dtype_size(pb->fill_dtype));
    return SD_OK;
}

static SdStatus pb_value(Pb *pb, const uint8_t *at, int field, uint64_t v)
{
    if (field == F_DIMS) {
        if (v > INT64_MAX)
            return pb_bad(pb, at, "negative dimension %" PRId64, -(int64_t)(~v) - 1);
        if (pb->rank == RT_MAX_RANK)
            return sd_errorf(pb->err, SD_EUNSUPPORTED, "%s: the tensor has more than %d dims; "
                             "seedc supports up to %d", pb->what, RT_MAX_RANK, RT_MAX_RANK);
        pb->dims[pb->rank++] = (int64_t)v;
        return SD_OK;
    }
    if (field == pb->fill_field) {
        if (pb->fill_index >= pb->fill_count)
            return sd_errorf(pb->err, SD_EINTERNAL, "%s: %s grew between two passes", pb->what,
                             field_name(field));
        uint8_t *dst = pb->fill_data + pb->fill_index * sd_dtype_size(pb->fill_dtype);
        if (field == F_INT32_DATA)
            SD_TRY(pb_store_int32(pb, at, v, dst));
        else
            store_le(dst, v, sd_dtype_size(pb->fill_dtype)); /* float bits, or an int64 */
        pb->fill_index++;
    }
    pb->counts[field]++;
    return SD_OK;
}

static SdStatus pb_scalar(Pb *pb, PbSpan *in, int field, int width)
{
    const uint8_t *at = in->p;
    uint64_t v = 0;
    SD_TRY(width ? pb_fixed(pb, in, width, &v) : pb_varint(pb, in, &v));
    return pb_value(pb, at, field, v);
}

/* A repeated scalar comes one value per tag, or packed: many values in one length-delimited
 * field. Readers must accept both whatever the [packed] option says, and even a mix. */
static SdStatus pb_repeated(Pb *pb, PbSpan *in, const uint8_t *tag_at, int field, int wire,
                            int value_wire)
{
    int width = value_wire == WIRE_I32 ? 4 : value_wire == WIRE_I64 ? 8 : 0;
    if (wire == value_wire)
        return pb_scalar(pb, in, field, width);
    if (wire != WIRE_LEN)
        return pb_bad_wire(pb, tag_at, field, wire, value_wire);
    PbSpan values = {NULL, NULL};
    SD_TRY(pb_len(pb, in, field, &values));
    size_t len = (size_t)(values.end - values.p);
    if (width == 0) {
        while (values.p < values.end)
            SD_TRY(pb_scalar(pb, &values, field, width));
        return SD_OK;
    }
    if (len % (size_t)width)
        return pb_bad(pb, tag_at, "packed %s is %zu bytes, not a multiple of %d",
                      field_name(field), len, width);
    uint64_t count = len / (size_t)width;
    if (field == pb->fill_field) {
        /* Packed float_data is already little-endian float32: copy it as it is. */
        if (count > pb->fill_count - pb->fill_index)
            return sd_errorf(pb->err, SD_EINTERNAL, "%s: %s grew between two passes", pb->what,
                             field_name(field));
        memcpy(pb->fill_data + pb->fill_index * (uint64_t)width, values.p, len);
        pb->fill_index += count;
    }
    pb->counts[field] += count;
    return SD_OK;
}

static SdStatus pb_walk(Pb *pb, PbSpan in)
{
    while (in.p < in.end) {
        const uint8_t *at = in.p;
        int field = 0, wire = 0;
        SD_TRY(pb_tag(pb, &in, &field, &wire));
        uint64_t v = 0;
        PbSpan bytes = {NULL, NULL};
        switch (field) {
        case F_DIMS: case F_INT32_DATA: case F_INT64_DATA: case F_UINT64_DATA:
            SD_TRY(pb_repeated(pb, &in, at, field, wire, WIRE_VARINT));
            break;
        case F_FLOAT_DATA:
            SD_TRY(pb_repeated(pb, &in, at, field, wire, WIRE_I32));
            break;
        case F_DOUBLE_DATA:
            SD_TRY(pb_repeated(pb, &in, at, field, wire, WIRE_I64));
            break;
        case F_DATA_TYPE: case F_DATA_LOCATION:
            if (wire != WIRE_VARINT)
                return pb_bad_wire(pb, at, field, wire, WIRE_VARINT);
            SD_TRY(pb_varint(pb, &in, &v));
            if (field == F_DATA_TYPE)
                pb->data_type = v;
            else if (v == 1)
                return sd_errorf(pb->err, SD_EUNSUPPORTED, "%s: the tensor's data is in an "
                                 "external file (data_location EXTERNAL); seedc reads only data "
                                 "held in the .pb itself", pb->what);
            else if (v != 0)
                return pb_bad(pb, at, "invalid data_location %" PRIu64, v);
            break;
        case F_NAME: case F_RAW_DATA: case F_STRING_DATA:
            if (wire != WIRE_LEN)
                return pb_bad_wire(pb, at, field, wire, WIRE_LEN);
            SD_TRY(pb_len(pb, &in, field, &bytes));
            if (field == F_NAME) {
                pb->name = bytes;
                pb->has_name = true;
            } else if (field == F_RAW_DATA) {
                pb->raw = bytes;
                pb->has_raw = true;
            } else {
                pb->counts[field]++;
            }
            break;
        case F_SEGMENT:
            return sd_errorf(pb->err, SD_EUNSUPPORTED, "%s: the tensor is one segment of a larger "
                             "tensor (field segment); seedc reads whole tensors only", pb->what);
        case F_EXTERNAL_DATA:
            return sd_errorf(pb->err, SD_EUNSUPPORTED, "%s: the tensor's data is in an external "
                             "file (field external_data); seedc reads only data held in the .pb "
                             "itself", pb->what);
        default: /* doc_string, metadata_props, and fields newer than this reader */
            SD_TRY(pb_skip(pb, &in, at, field, wire, 0));
        }
    }
    return SD_OK;
}

/* "tensor 'w'" for messages; a hostile name is cut short and its odd bytes replaced. */
static const char *tensor_label(const Pb *pb, char *buf, size_t cap)
{
    size_t name_len = (size_t)(pb->name.end - pb->name.p);
    if (!pb->has_name || name_len == 0) {
        snprintf(buf, cap, "the tensor");
        return buf;
    }
    enum { SHOWN = 48 };
    char shown[SHOWN + 1];
    size_t n = name_len < SHOWN ? name_len : SHOWN;
    for (size_t i = 0; i < n; i++)
        shown[i] = (pb->name.p[i] >= 0x20 && pb->name.p[i] < 0x7f) ? (char)pb->name.p[i] : '?';
    shown[n] = 0;
    snprintf(buf, cap, "tensor '%s%s'", shown, name_len > SHOWN ? "..." : "");
    return buf;
}

/* The checks between the passes: a supported dtype, and exactly the data the shape needs in
 * exactly one place (raw_data or the typed field of the dtype). */
static SdStatus pb_check(const Pb *pb, SdDType *dtype, int *typed, int64_t *numel)
{
    const char *what = pb->what;
    char label[96], shape[256];
    tensor_label(pb, label, sizeof label);
    if (pb->data_type == 0)
        return sd_errorf(pb->err, SD_EBADMODEL, "%s: %s has no data_type", what, label);
    if (pb->data_type > INT32_MAX || strcmp(sd_dtype_name((int)pb->data_type), "undefined") == 0)
        return sd_errorf(pb->err, SD_EBADMODEL, "%s: %s has invalid data_type %" PRIu64, what,
                         label, pb->data_type);
    if (!sd_dtype_supported((int)pb->data_type))
        return sd_errorf(pb->err, SD_EUNSUPPORTED, "unsupported data type %s for %s in %s",
                         sd_dtype_name((int)pb->data_type), label, what);
    *dtype = (SdDType)pb->data_type;
    const char *dtype_name = sd_dtype_name(*dtype);
    *typed = *dtype == SD_DT_F32 ? F_FLOAT_DATA : *dtype == SD_DT_I64 ? F_INT64_DATA : F_INT32_DATA;

    rt_shape_format(pb->dims, pb->rank, shape, sizeof shape);
    int64_t want;
    if (!sd_numel_checked(pb->dims, pb->rank, numel) ||
        !sd_mul_i64(*numel, (int64_t)sd_dtype_size(*dtype), &want))
        return sd_errorf(pb->err, SD_EBADMODEL, "%s: %s has shape %s, which has too many elements",
                         what, label, shape);

    static const int data_fields[] = {F_FLOAT_DATA,  F_INT32_DATA,  F_STRING_DATA,
                                      F_INT64_DATA, F_DOUBLE_DATA, F_UINT64_DATA};
    for (size_t i = 0; i < sizeof data_fields / sizeof data_fields[0]; i++) {
        int f = data_fields[i];
        if (f != *typed && pb->counts[f] > 0)
            return sd_errorf(pb->err, SD_EBADMODEL, "%s: %s is %s but holds %" PRIu64 " values in "
                             "%s; %s values belong in %s or raw_data", what, label, dtype_name,
                             pb->counts[f], field_name(f), dtype_name, field_name(*typed));
    }
    uint64_t have_values = pb->counts[*typed];
    if (pb->has_raw && have_values > 0)
        return sd_errorf(pb->err, SD_EBADMODEL, "%s: %s has both raw_data and %s", what, label,
                         field_name(*typed));
    size_t raw_len = (size_t)(pb->raw.end - pb->raw.p);
    if (pb->has_raw && (uint64_t)want != raw_len)
        return sd_errorf(pb->err, SD_EBADMODEL, "%s: %s of shape %s (%s) needs %" PRId64 " bytes "
                         "but raw_data holds %zu", what, label, shape, dtype_name, want, raw_len);
    if (!pb->has_raw && have_values == 0 && *numel > 0)
        return sd_errorf(pb->err, SD_EBADMODEL, "%s: %s of shape %s (%s) needs %" PRId64 " values "
                         "but has no data (0 values in raw_data or %s)", what, label, shape,
                         dtype_name, *numel, field_name(*typed));
    if (!pb->has_raw && have_values != (uint64_t)*numel)
        return sd_errorf(pb->err, SD_EBADMODEL, "%s: %s of shape %s needs %" PRId64 " values but "
                         "%s holds %" PRIu64, what, label, shape, *numel, field_name(*typed),
                         have_values);
    if (pb->has_name && memchr(pb->name.p, 0, (size_t)(pb->name.end - pb->name.p)))
        return sd_errorf(pb->err, SD_EBADMODEL, "%s: the tensor name contains a NUL byte", what);
    return SD_OK;
}

SdStatus rt_pb_read_buffer(const uint8_t *buf, size_t n, const char *what, RtTensor *out,
                           SdError *err)
{
    memset(out, 0, sizeof *out);
    PbSpan all = {buf, n ? buf + n : buf};
    Pb pb = {.base = buf, .what = what, .err = err};
    SD_TRY(pb_walk(&pb, all));
    SdDType dtype = SD_DT_UNDEFINED;
    int typed = 0;
    int64_t numel = 0;
    SD_TRY(pb_check(&pb, &dtype, &typed, &numel));

    if (rt_tensor_alloc(out, dtype, pb.rank, pb.dims, err) != SD_OK)
        return sd_error_prefix(err, "%s", what);
    if (pb.has_name) {
        size_t len = (size_t)(pb.name.end - pb.name.p);
        out->name = malloc(len + 1);
        if (!out->name) {
            rt_tensor_free(out);
            return sd_errorf(err, SD_ENOMEM, "%s: cannot allocate the tensor name", what);
        }
        if (len)
            memcpy(out->name, pb.name.p, len);
        out->name[len] = 0;
    }
    if (pb.has_raw) {
        if (out->nbytes)
            memcpy(out->data, pb.raw.p, out->nbytes);
        return SD_OK;
    }
    if (numel == 0)
        return SD_OK;
    Pb fill = {.base = buf, .what = what, .err = err, .fill_field = typed, .fill_dtype = dtype,
               .fill_data = out->data, .fill_count = (uint64_t)numel};
    SdStatus st = pb_walk(&fill, all);
    if (st == SD_OK && fill.fill_index != (uint64_t)numel)
        st = sd_errorf(err, SD_EINTERNAL, "%s: %s shrank between two passes", what,
                       field_name(typed));
    if (st != SD_OK)
        rt_tensor_free(out);
    return st;
}

static void put_varint(SdStrbuf *out, uint64_t v)
{
    char bytes[10];
    size_t n = 0;
    do {
        bytes[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    sd_strbuf_append(out, bytes, n);
}

static void put_tag(SdStrbuf *out, int field, int wire)
{
    put_varint(out, (uint64_t)field << 3 | (uint64_t)wire);
}

SdStatus rt_pb_prefix(const RtTensor *t, const char *what, SdStrbuf *out, SdError *err)
{
    SD_TRY(rt_tensor_check(t, what, err));
    /* Field order as onnx serializes it; raw_data last so the data can follow the prefix. */
    for (int i = 0; i < t->rank; i++) {
        put_tag(out, F_DIMS, WIRE_VARINT);
        put_varint(out, (uint64_t)t->dims[i]);
    }
    put_tag(out, F_DATA_TYPE, WIRE_VARINT);
    put_varint(out, (uint64_t)t->dtype);
    if (t->name) {
        size_t len = strlen(t->name);
        put_tag(out, F_NAME, WIRE_LEN);
        put_varint(out, len);
        sd_strbuf_append(out, t->name, len);
    }
    put_tag(out, F_RAW_DATA, WIRE_LEN);
    put_varint(out, t->nbytes);
    if (out->failed)
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory while writing the TensorProto", what);
    return SD_OK;
}
