/* frontend/onnx/import.h — what the importer and the per-family operator translators share
 * (internal to frontend/onnx). A translator gets one ONNX node with its inputs resolved to IR
 * values and its outputs created, and emits the IR node(s) that compute them. */
#ifndef SD_FRONTEND_ONNX_IMPORT_H
#define SD_FRONTEND_ONNX_IMPORT_H

#include "frontend/onnx/onnx.h"
#include "onnx.pb-c.h"

typedef struct OnnxFile {
    IrGraph *g;
    /* importing into an existing graph (onnx_import_into): every ONNX name gets this prefix, the
     * model's input is `input_value`, initializers are PARAMs when `trainable` */
    const char *prefix;
    const char *input_name;
    IrValue *input_value;
    bool trainable;
    ProtobufCAllocator *alloc; /* the one that unpacked the model: initializer bytes are freed early */
    const char *path;  /* for messages */
    char *dir;         /* folder of the model, for external data */
    SdError *err;
} OnnxFile;

typedef struct OnnxCtx {
    OnnxFile *file;
    IrGraph *g;
    int64_t opset;                 /* version of the default domain */
    const Onnx__NodeProto *node;
    IrValue **in;                  /* NULL where an optional input is absent */
    int n_in;
    IrValue **out;
    int n_out;
    SdError *err;
} OnnxCtx;

typedef SdStatus (*OnnxImportFn)(OnnxCtx *c);

/* family translators (frontend/onnx/ops/<family>.c) */
#define ONNX_FAMILY(f) SdStatus onnx_import_##f(OnnxCtx *c);
ONNX_FAMILY(unary)
ONNX_FAMILY(binary)
ONNX_FAMILY(conv)
ONNX_FAMILY(matmul)
ONNX_FAMILY(norm)
ONNX_FAMILY(softmax)
ONNX_FAMILY(pool)
ONNX_FAMILY(reduce)
ONNX_FAMILY(movement)
ONNX_FAMILY(gather)
ONNX_FAMILY(generate)
ONNX_FAMILY(resize)
ONNX_FAMILY(einsum)
ONNX_FAMILY(quant)
#undef ONNX_FAMILY

/* ops/table.c: the translator for an op type of the default domain, NULL when unknown. */
OnnxImportFn onnx_find_op(const char *op_type);
/* Every op type seedc imports, NULL-terminated (for docs and `seedc --help`). */
const char *const *onnx_op_names(void);

/* --- helpers for translators (attrs.c) --- */
SdStatus onnx_node_error(OnnxCtx *c, SdStatus st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const Onnx__AttributeProto *onnx_attr(const OnnxCtx *c, const char *name);
SdStatus onnx_attr_int(OnnxCtx *c, const char *name, int64_t dflt, int64_t *out);
SdStatus onnx_attr_float(OnnxCtx *c, const char *name, float dflt, float *out);
/* *count = -1 when the attribute is absent. */
SdStatus onnx_attr_ints(OnnxCtx *c, const char *name, int64_t *out, int max, int *count);
SdStatus onnx_attr_floats(OnnxCtx *c, const char *name, float *out, int max, int *count);
SdStatus onnx_attr_string(OnnxCtx *c, const char *name, const char *dflt, char *out, size_t size);
/* Fails unless the node has min..max inputs and min_out..max_out outputs. */
SdStatus onnx_expect_arity(OnnxCtx *c, int min_in, int max_in, int min_out, int max_out);
/* An IR node reading `inputs` and writing `outputs`; NULL (and err set) when memory runs out. */
IrNode *onnx_emit(OnnxCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, IrValue *const *outputs,
                  int n_outputs);
/* The node's own op writing its own outputs from its inputs (the common case). */
IrNode *onnx_emit_same(OnnxCtx *c, IrOp op);
/* A temporary named after the node: "<node>/<suffix>". */
IrValue *onnx_temp(OnnxCtx *c, const char *suffix, SdDType dt);
/* A 1-D i64 constant: attributes of old opsets become the inputs of newer ones. */
IrValue *onnx_const_ints(OnnxCtx *c, const char *suffix, const int64_t *v, int n);
IrValue *onnx_const_scalar_f32(OnnxCtx *c, const char *suffix, float v);

/* The graph value an ONNX name denotes (NULL when none) and the graph name for an ONNX name. */
IrValue *onnx_lookup(const OnnxFile *f, const char *onnx_name);
const char *onnx_graph_name(const OnnxFile *f, const char *onnx_name, char *buf, size_t size);

/* --- tensors (tensor.c) --- */
/* Copies a TensorProto's data into a new constant named `name`. */
SdStatus onnx_tensor_to_value(OnnxFile *f, const Onnx__TensorProto *t, const char *name, IrValue **out);

#endif
