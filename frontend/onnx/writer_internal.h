/* frontend/onnx/writer_internal.h — shared by the ONNX writer's driver (writer.c) and its per-op
 * mapping (writer_ops.c). Everything allocated for the message is kept in one list. */
#ifndef SD_FRONTEND_ONNX_WRITER_INTERNAL_H
#define SD_FRONTEND_ONNX_WRITER_INTERNAL_H

#include <stdbool.h>

#include "frontend/onnx/writer.h"
#include "onnx.pb-c.h"

#define WRITER_OPSET 17

typedef struct Writer Writer;
struct Writer {
    void **blocks;
    size_t n, cap;
    Onnx__GraphProto *graph;
    size_t cap_nodes, cap_inits;
    int n_temps;
    bool failed;
    const IrGraph *g;
    bool symbolic_batch;
    SdError *err;
};

void *onnxw_zalloc(Writer *w, size_t n);
char *onnxw_str(Writer *w, const char *s);
Onnx__NodeProto *onnxw_node(Writer *w, const char *op, const char *name, const char *const *in, int n_in,
                            const char *const *out, int n_out);
Onnx__AttributeProto *onnxw_attr(Writer *w, Onnx__NodeProto *n, const char *name,
                                 Onnx__AttributeProto__AttributeType type);
void onnxw_attr_i(Writer *w, Onnx__NodeProto *n, const char *name, int64_t v);
void onnxw_attr_f(Writer *w, Onnx__NodeProto *n, const char *name, float v);
void onnxw_attr_ints(Writer *w, Onnx__NodeProto *n, const char *name, const int64_t *v, int count);
void onnxw_attr_s(Writer *w, Onnx__NodeProto *n, const char *name, const char *s);
/* A new initializer holding a 1-D i64 tensor or an f32 scalar; returns its name. */
const char *onnxw_const_ints(Writer *w, const int64_t *v, int n);
const char *onnxw_const_scalar(Writer *w, float v);
const char *onnxw_temp(Writer *w);
SdStatus onnxw_export_node(Writer *w, const IrNode *n);

#endif
