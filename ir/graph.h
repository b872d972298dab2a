/* ir/graph.h — the graph IR: values (tensors) and nodes (ops) in SSA form.
 * A graph owns everything it holds; frontends build it with ir_value_new/ir_node_new, passes
 * rewrite it, codegen reads it. Nodes are kept in a topological order. Nothing here knows ONNX,
 * LLVM or files. */
#ifndef SD_IR_GRAPH_H
#define SD_IR_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/attrs.h"
#include "ir/ops.h"
#include "support/dtype.h"
#include "support/status.h"
#include "support/strbuf.h"

typedef struct IrShape {
    int rank;
    int64_t dims[IR_MAX_RANK];
} IrShape;

typedef enum IrRole {
    IR_ROLE_TEMP,     /* produced by a node, lives in the scratch arena */
    IR_ROLE_INPUT,    /* fed by the caller */
    IR_ROLE_CONSTANT, /* initializer data, never written */
    IR_ROLE_PARAM,    /* trainable and persistent */
    IR_ROLE_STATE,    /* persistent, not trained: BN running statistics, moments, queues */
} IrRole;

typedef struct IrNode IrNode;

typedef struct IrValue {
    int id;              /* stable for the life of the value */
    char *name;          /* unique in its graph */
    SdDType dtype;
    IrShape shape;
    bool has_shape;      /* false until shape inference gives it one */
    IrRole role;
    IrNode *producer;    /* NULL for inputs, constants, parameters and state */
    int producer_slot;
    void *data;          /* CONSTANT/PARAM/STATE contents, 64-byte aligned, owned */
    size_t nbytes;
    int n_uses;          /* node inputs that read it; graph outputs are not counted */
    int64_t arena_offset; /* memory planning: byte offset of a TEMP in the scratch arena, -1 unplanned */
    struct IrValue *grad; /* autodiff: for a PARAM, the value holding its gradient */
} IrValue;

struct IrNode {
    int id;
    char *name;          /* the frontend's name, for messages; unique is not required */
    IrOp op;
    int n_inputs, n_outputs;
    IrValue **inputs;    /* an entry is NULL where an optional input is absent */
    IrValue **outputs;
    IrAttrs attrs;
    bool removed;        /* detached by ir_node_remove; gone after ir_graph_compact */
};

typedef struct IrGraph IrGraph; /* opaque */

IrGraph *ir_graph_new(const char *name);
void ir_graph_free(IrGraph *g);
const char *ir_graph_name(const IrGraph *g);
/* Where the graph came from ("model.onnx"), for messages. */
void ir_graph_set_source(IrGraph *g, const char *source);
const char *ir_graph_source(const IrGraph *g);

/* --- values --- */
/* A temporary value; `name` may be NULL or already taken (a unique name is derived from it).
 * `shape` may be NULL when unknown. NULL only when memory runs out. */
IrValue *ir_value_new(IrGraph *g, const char *name, SdDType dtype, const IrShape *shape);
/* A constant that copies `nbytes` of data, which must equal the shape's size. */
IrValue *ir_constant_new(IrGraph *g, const char *name, SdDType dtype, const IrShape *shape,
                         const void *data, SdError *err);
/* Makes v a constant holding `data`, which must come from sd_aligned_alloc; the graph owns it. */
void ir_value_adopt_data(IrValue *v, void *data, size_t nbytes);
IrValue *ir_graph_find_value(const IrGraph *g, const char *name);
int ir_graph_num_values(const IrGraph *g);
IrValue *ir_graph_value(const IrGraph *g, int i);
size_t ir_value_nbytes(const IrValue *v); /* numel * element size; 0 without a shape */
int64_t ir_value_numel(const IrValue *v);
bool ir_value_is_constant(const IrValue *v); /* CONSTANT role with data */

/* Memory planning result: bytes of scratch arena that the planned offsets need. */
size_t ir_graph_arena_bytes(const IrGraph *g);
void ir_graph_set_arena_bytes(IrGraph *g, size_t n);

/* --- graph inputs and outputs, in order --- */
void ir_graph_add_input(IrGraph *g, IrValue *v);
/* Drops input i from the list (the value stays; give it a role). */
void ir_graph_remove_input(IrGraph *g, int i);
void ir_graph_add_output(IrGraph *g, IrValue *v);
int ir_graph_num_inputs(const IrGraph *g);
IrValue *ir_graph_input(const IrGraph *g, int i);
int ir_graph_num_outputs(const IrGraph *g);
IrValue *ir_graph_output(const IrGraph *g, int i);
void ir_graph_set_output(IrGraph *g, int i, IrValue *v);
bool ir_value_is_graph_output(const IrGraph *g, const IrValue *v);

/* --- nodes --- */
/* A node reading `inputs` (entries may be NULL) and writing `outputs`, which must be values
 * without a producer. Inserted at the insertion point (the end unless set). */
IrNode *ir_node_new(IrGraph *g, IrOp op, const char *name, IrValue *const *inputs, int n_inputs,
                    IrValue *const *outputs, int n_outputs);
/* Convenience: one new output value of `dtype`, shape unknown, named after the node. */
IrNode *ir_node_new1(IrGraph *g, IrOp op, const char *name, IrValue *const *inputs, int n_inputs,
                     SdDType dtype);
int ir_graph_num_nodes(const IrGraph *g);
IrNode *ir_graph_node(const IrGraph *g, int i);
void ir_node_set_input(IrNode *n, int i, IrValue *v);
/* Drops inputs [keep, n_inputs): shape inference uses it once compile-time inputs are read. */
void ir_node_truncate_inputs(IrNode *n, int keep);
/* Detaches the node: its inputs lose a use, its outputs lose their producer. */
void ir_node_remove(IrGraph *g, IrNode *n);
/* Every read of `old` (node inputs and graph outputs) reads `new_value` instead. */
void ir_graph_replace_uses(IrGraph *g, IrValue *old, IrValue *new_value);
/* New nodes go before `anchor` (NULL: at the end). */
void ir_graph_set_insert_point(IrGraph *g, IrNode *anchor);
/* Frees removed nodes and values that nothing produces, reads or lists. Pointers to freed
 * objects become invalid; indices are renumbered. */
void ir_graph_compact(IrGraph *g);
/* Restores a topological order; SD_EBADMODEL naming a node on a cycle or reading an undefined value. */
SdStatus ir_graph_toposort(IrGraph *g, SdError *err);

/* --- shapes --- */
IrShape ir_shape_make(int rank, const int64_t *dims);
int64_t ir_shape_numel(const IrShape *s);
bool ir_shape_equal(const IrShape *a, const IrShape *b);
/* "[1,3,224,224]" into buf; returns buf. */
char *ir_shape_str(const IrShape *s, char *buf, size_t n);
/* "f32[1,3,224,224]" or "f32[?]" */
char *ir_value_type_str(const IrValue *v, char *buf, size_t n);

/* --- checking and drawing (verify.c, print.c, dot.c) --- */
/* Checks SSA form, arity, order and constant sizes. With `shapes`, every value must have one. */
SdStatus ir_verify(const IrGraph *g, bool shapes, SdError *err);
void ir_print(const IrGraph *g, SdStrbuf *out);
void ir_print_node(const IrGraph *g, const IrNode *n, SdStrbuf *out);
void ir_attrs_format(const IrNode *n, SdStrbuf *out);
void ir_write_dot(const IrGraph *g, SdStrbuf *out);
/* "node 'Conv_0' (conv)" for messages. */
const char *ir_node_label(const IrNode *n, char *buf, size_t size);

#endif
