/* frontend/onnx/onnx.h — ONNX models into the IR.
 * onnx_import_file reads a ModelProto (protobuf-c, guarded against deep nesting and huge
 * allocations), resolves every operator by the model's opset, binds symbolic dimensions
 * (the leading one to --batch) and returns a graph ready for shape inference. */
#ifndef SD_FRONTEND_ONNX_H
#define SD_FRONTEND_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"

typedef struct OnnxImportOptions {
    int64_t batch;     /* value of a symbolic or unknown leading input dimension; 0 means 1 */
    const char *dims;  /* "name=value,..." for other symbolic dimensions */
} OnnxImportOptions;

#define ONNX_INFO_MAX_OPS 160

typedef struct OnnxModelInfo {
    int64_t ir_version;
    int64_t opset;               /* of the default domain */
    char producer[96];
    char graph_name[96];
    int n_nodes;
    int n_op_types;
    struct {
        char op_type[48];
        int count;
    } ops[ONNX_INFO_MAX_OPS];    /* in order of first appearance */
    int64_t n_initializers;
    int64_t n_parameters;        /* elements in all initializers */
    size_t parameter_bytes;
} OnnxModelInfo;

/* info may be NULL. On failure *out is NULL and err says what is wrong and where. */
SdStatus onnx_import_file(const char *path, const OnnxImportOptions *opt, IrGraph **out, OnnxModelInfo *info,
                          SdError *err);
/* `path` names the buffer in messages and locates external data files (its folder). */
SdStatus onnx_import_buffer(const uint8_t *buf, size_t n, const char *path, const OnnxImportOptions *opt,
                            IrGraph **out, OnnxModelInfo *info, SdError *err);

/* Imports the model at `path` into an existing graph g (a teacher inside a training recipe): its
 * names prefixed with `prefix`, its one input fed by `input`, its initializers PARAMs when
 * `trainable` (else constants); *out is the output named `output` (NULL: the first). Nothing is
 * added to g's own input and output lists. */
SdStatus onnx_import_into(const char *path, IrGraph *g, const char *prefix, IrValue *input, const char *output,
                          bool trainable, IrValue **out, SdError *err);

#endif
