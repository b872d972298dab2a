/* runtime/tensor_io.h — tensor files for the inputs and outputs of compiled models.
 * Reads and writes NumPy .npy and ONNX TensorProto .pb files, chosen by extension, with libc only
 * (this ships in the runtime library of embedded targets). Every size a file states is checked. */
#ifndef SD_RUNTIME_TENSOR_IO_H
#define SD_RUNTIME_TENSOR_IO_H

#include <stddef.h>
#include <stdint.h>

#include "support/dtype.h"
#include "support/status.h"
#include "support/strbuf.h"

#define RT_MAX_RANK 8
/* Larger files are refused before anything is allocated. */
#define RT_MAX_FILE_BYTES ((uint64_t)16 << 30)

typedef struct RtTensor {
    char *name;        /* from the .pb name field; NULL for .npy or when absent */
    SdDType dtype;     /* support/dtype.h codes (ONNX TensorProto.DataType numbering) */
    int rank;
    int64_t dims[RT_MAX_RANK];
    void *data;        /* 64-byte aligned (sd_aligned_alloc), little-endian, C order */
    size_t nbytes;
} RtTensor;

/* By extension: .npy or .pb. On failure *out is zeroed and err names the file. */
SdStatus rt_tensor_read(const char *path, RtTensor *out, SdError *err);
/* .npy is written as format 1.0; .pb as dims, data_type, name (when set), raw_data.
 * A failed write removes the partial file. */
SdStatus rt_tensor_write(const char *path, const RtTensor *t, SdError *err);

/* Parse a whole file held in memory; `what` is the file name used in error messages. */
SdStatus rt_npy_read_buffer(const uint8_t *buf, size_t n, const char *what, RtTensor *out,
                            SdError *err);
SdStatus rt_pb_read_buffer(const uint8_t *buf, size_t n, const char *what, RtTensor *out,
                           SdError *err);

/* The bytes that precede t->data in each format: a file is this prefix followed by the data,
 * so writers stream large tensors without copying them. Appends to out. */
SdStatus rt_npy_prefix(const RtTensor *t, const char *what, SdStrbuf *out, SdError *err);
SdStatus rt_pb_prefix(const RtTensor *t, const char *what, SdStrbuf *out, SdError *err);

/* A tensor with zeroed, aligned data for dtype and shape (dims may be NULL when rank is 0).
 * Checks the dtype, the rank, the dims and the byte size; on failure *t is zeroed. */
SdStatus rt_tensor_alloc(RtTensor *t, SdDType dtype, int rank, const int64_t *dims, SdError *err);
/* Frees data and name and zeroes the struct; accepts NULL and zeroed structs. */
void rt_tensor_free(RtTensor *t);
/* Checks that a tensor is consistent before it is written: a supported dtype, rank 0..RT_MAX_RANK,
 * dims >= 0, nbytes == numel * element size, data set when nbytes > 0. */
SdStatus rt_tensor_check(const RtTensor *t, const char *what, SdError *err);

/* "[2, 3]" ("[]" for a scalar) into buf, cut to cap bytes; returns buf. For messages. */
const char *rt_shape_format(const int64_t *dims, int rank, char *buf, size_t cap);

#endif
