/* frontend/onnx/tensor.c — TensorProto to IR constant. Data comes as raw_data, as typed fields
 * (float_data, int64_data, int32_data for the small types) or from an external file next to the
 * model; every size is checked against the dims before anything is allocated or copied. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx/import.h"
#include "support/mem.h"

#define MAX_TENSOR_BYTES ((int64_t)16 << 30)

static SdStatus bad(OnnxFile *f, const char *name, SdStatus st, const char *what)
{
    return sd_errorf(f->err, st, "%s: tensor '%s': %s", f->path, name, what);
}

/* External data must stay inside the model's folder: a model must not read arbitrary files. */
static SdStatus read_external(OnnxFile *f, const Onnx__TensorProto *t, const char *name, void *dst, size_t nbytes)
{
    const char *location = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = t->external_data[i];
        if (!kv || !kv->key || !kv->value)
            continue;
        char *end;
        if (strcmp(kv->key, "location") == 0) {
            location = kv->value;
        } else if (strcmp(kv->key, "offset") == 0 || strcmp(kv->key, "length") == 0) {
            errno = 0;
            long long v = strtoll(kv->value, &end, 10);
            if (errno || *end || v < 0)
                return sd_errorf(f->err, SD_EBADMODEL, "%s: tensor '%s': external data %s '%s' is not a byte count",
                                 f->path, name, kv->key, kv->value);
            *(strcmp(kv->key, "offset") == 0 ? &offset : &length) = v;
        }
    }
    if (!location || !location[0])
        return bad(f, name, SD_EBADMODEL, "external data without a location");
    if (location[0] == '/' || strstr(location, ".."))
        return sd_errorf(f->err, SD_EBADMODEL, "%s: tensor '%s': external data location '%s' leaves the model's folder",
                         f->path, name, location);
    if (length >= 0 && (size_t)length != nbytes)
        return sd_errorf(f->err, SD_EBADMODEL, "%s: tensor '%s': external data length %lld, but its shape needs %zu bytes",
                         f->path, name, (long long)length, nbytes);
    size_t plen = strlen(f->dir) + strlen(location) + 2;
    char *full = malloc(plen);
    if (!full)
        return bad(f, name, SD_ENOMEM, "out of memory");
    snprintf(full, plen, "%s/%s", f->dir, location);
    FILE *fp = fopen(full, "rb");
    if (!fp) {
        sd_errorf(f->err, SD_EIO, "%s: tensor '%s': cannot open external data '%s': %s", f->path, name, full,
                  strerror(errno));
        free(full);
        return SD_EIO;
    }
    SdStatus st = SD_OK;
    if (fseeko(fp, (off_t)offset, SEEK_SET) != 0 || fread(dst, 1, nbytes, fp) != nbytes)
        st = sd_errorf(f->err, SD_EBADMODEL, "%s: tensor '%s': external data '%s' has fewer than %zu bytes at offset %lld",
                       f->path, name, full, nbytes, (long long)offset);
    fclose(fp);
    free(full);
    return st;
}

static SdStatus from_typed_fields(OnnxFile *f, const Onnx__TensorProto *t, const char *name, SdDType dt,
                                  int64_t numel, void *dst)
{
    size_t have;
    char msg[200];
    switch (dt) {
    case SD_DT_F32: have = t->n_float_data; break;
    case SD_DT_I64: have = t->n_int64_data; break;
    default: have = t->n_int32_data; break;
    }
    if (have != (size_t)numel) {
        snprintf(msg, sizeof msg, "holds %zu values, but its shape needs %lld", have, (long long)numel);
        return bad(f, name, SD_EBADMODEL, msg);
    }
    for (int64_t i = 0; i < numel; i++) {
        switch (dt) {
        case SD_DT_F32: ((float *)dst)[i] = t->float_data[i]; break;
        case SD_DT_I64: ((int64_t *)dst)[i] = t->int64_data[i]; break;
        case SD_DT_I32: ((int32_t *)dst)[i] = t->int32_data[i]; break;
        case SD_DT_F16: case SD_DT_BF16: ((uint16_t *)dst)[i] = (uint16_t)t->int32_data[i]; break;
        default: ((uint8_t *)dst)[i] = (uint8_t)t->int32_data[i]; break;
        }
    }
    if (dt == SD_DT_BOOL)
        for (int64_t i = 0; i < numel; i++)
            ((uint8_t *)dst)[i] = ((uint8_t *)dst)[i] != 0;
    return SD_OK;
}

SdStatus onnx_tensor_to_value(OnnxFile *f, const Onnx__TensorProto *t, const char *name, IrValue **out)
{
    *out = NULL;
    char msg[256];
    if (!t->has_data_type || !sd_dtype_supported(t->data_type)) {
        snprintf(msg, sizeof msg, "element type %s is not supported (seedc supports f32, f16, bf16, i64, i32, i8, u8, bool)",
                 t->has_data_type ? sd_dtype_name(t->data_type) : "(missing)");
        return bad(f, name, SD_EUNSUPPORTED, msg);
    }
    if (t->segment)
        return bad(f, name, SD_EUNSUPPORTED, "segmented tensors are not supported");
    if (t->n_dims > IR_MAX_RANK) {
        snprintf(msg, sizeof msg, "has rank %zu; at most %d is supported", t->n_dims, IR_MAX_RANK);
        return bad(f, name, SD_EUNSUPPORTED, msg);
    }
    SdDType dt = (SdDType)t->data_type;
    int64_t numel;
    if (!sd_numel_checked(t->dims, (int)t->n_dims, &numel))
        return bad(f, name, SD_EBADMODEL, "has negative or overflowing dimensions");
    int64_t nbytes = numel * (int64_t)sd_dtype_size(dt);
    if (numel > MAX_TENSOR_BYTES || nbytes > MAX_TENSOR_BYTES)
        return bad(f, name, SD_EBADMODEL, "is larger than 16 GiB");
    IrShape s = ir_shape_make((int)t->n_dims, t->dims);
    void *data = sd_aligned_alloc((size_t)nbytes);
    if (!data)
        return bad(f, name, SD_ENOMEM, "out of memory for its data");
    SdStatus st = SD_OK;
    bool external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (external) {
        st = read_external(f, t, name, data, (size_t)nbytes);
    } else if (t->has_raw_data) {
        if (t->raw_data.len != (size_t)nbytes) {
            snprintf(msg, sizeof msg, "raw_data has %zu bytes, but shape and type need %lld", t->raw_data.len,
                     (long long)nbytes);
            st = bad(f, name, SD_EBADMODEL, msg);
        } else if (nbytes) {
            memcpy(data, t->raw_data.data, (size_t)nbytes);
        }
    } else {
        st = from_typed_fields(f, t, name, dt, numel, data);
    }
    if (st == SD_OK && dt == SD_DT_BOOL)
        for (int64_t i = 0; i < numel; i++)
            ((uint8_t *)data)[i] = ((uint8_t *)data)[i] != 0;
    IrValue *v = st == SD_OK ? ir_value_new(f->g, name, dt, &s) : NULL;
    if (st == SD_OK && !v)
        st = bad(f, name, SD_ENOMEM, "out of memory");
    if (st != SD_OK) {
        sd_aligned_free(data);
        return st;
    }
    ir_value_adopt_data(v, data, (size_t)nbytes);
    *out = v;
    return SD_OK;
}
