/* frontend/onnx/wire_check.c — a bounded walk over ModelProto's wire format, and the counting
 * allocator for protobuf-c. The walk must see every byte range as protobuf-c will: it parses
 * tags and lengths by the same rules (and is stricter where protobuf-c is lax), descends exactly
 * into the fields protobuf-c unpacks as sub-messages, and skips everything else as opaque. */
#include "frontend/onnx/wire_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema: which fields are sub-messages (onnx.proto, ONNX 1.12 plus the fields newer ONNX
 * added; a vendored newer onnx.proto makes protobuf-c descend into those). Scalar, string, bytes
 * and packed fields are listed only so that messages can name them. */

typedef enum MsgKind {
    MSG_NONE, /* not a sub-message: skipped as opaque bytes */
    MSG_MODEL, MSG_GRAPH, MSG_NODE, MSG_ATTRIBUTE, MSG_TENSOR, MSG_TENSOR_SEGMENT,
    MSG_SPARSE_TENSOR, MSG_VALUE_INFO, MSG_TYPE, MSG_TYPE_TENSOR, MSG_TYPE_SEQUENCE, MSG_TYPE_MAP,
    MSG_TYPE_OPTIONAL, MSG_TYPE_SPARSE_TENSOR, MSG_SHAPE, MSG_DIMENSION, MSG_OPSET_ID,
    MSG_STRING_ENTRY, MSG_TENSOR_ANNOTATION, MSG_TRAINING_INFO, MSG_FUNCTION,
    MSG_COUNT
} MsgKind;

typedef struct FieldInfo {
    uint32_t number;
    const char *name;
    MsgKind child; /* MSG_NONE (0, the default) for fields that are not sub-messages */
} FieldInfo;

static const FieldInfo model_fields[] = {
    {1, "ir_version", 0}, {2, "producer_name", 0}, {3, "producer_version", 0}, {4, "domain", 0},
    {5, "model_version", 0}, {6, "doc_string", 0}, {7, "graph", MSG_GRAPH},
    {8, "opset_import", MSG_OPSET_ID}, {14, "metadata_props", MSG_STRING_ENTRY},
    {20, "training_info", MSG_TRAINING_INFO}, {25, "functions", MSG_FUNCTION},
};
static const FieldInfo graph_fields[] = {
    {1, "node", MSG_NODE}, {2, "name", 0}, {5, "initializer", MSG_TENSOR}, {10, "doc_string", 0},
    {11, "input", MSG_VALUE_INFO}, {12, "output", MSG_VALUE_INFO},
    {13, "value_info", MSG_VALUE_INFO}, {14, "quantization_annotation", MSG_TENSOR_ANNOTATION},
    {15, "sparse_initializer", MSG_SPARSE_TENSOR}, {16, "metadata_props", MSG_STRING_ENTRY},
};
static const FieldInfo node_fields[] = {
    {1, "input", 0}, {2, "output", 0}, {3, "name", 0}, {4, "op_type", 0},
    {5, "attribute", MSG_ATTRIBUTE}, {6, "doc_string", 0}, {7, "domain", 0}, {8, "overload", 0},
    {9, "metadata_props", MSG_STRING_ENTRY},
};
static const FieldInfo attribute_fields[] = {
    {1, "name", 0}, {2, "f", 0}, {3, "i", 0}, {4, "s", 0}, {5, "t", MSG_TENSOR},
    {6, "g", MSG_GRAPH}, {7, "floats", 0}, {8, "ints", 0}, {9, "strings", 0},
    {10, "tensors", MSG_TENSOR}, {11, "graphs", MSG_GRAPH}, {13, "doc_string", 0},
    {14, "tp", MSG_TYPE}, {15, "type_protos", MSG_TYPE}, {20, "type", 0}, {21, "ref_attr_name", 0},
    {22, "sparse_tensor", MSG_SPARSE_TENSOR}, {23, "sparse_tensors", MSG_SPARSE_TENSOR},
};
static const FieldInfo tensor_fields[] = {
    {1, "dims", 0}, {2, "data_type", 0}, {3, "segment", MSG_TENSOR_SEGMENT}, {4, "float_data", 0},
    {5, "int32_data", 0}, {6, "string_data", 0}, {7, "int64_data", 0}, {8, "name", 0},
    {9, "raw_data", 0}, {10, "double_data", 0}, {11, "uint64_data", 0}, {12, "doc_string", 0},
    {13, "external_data", MSG_STRING_ENTRY}, {14, "data_location", 0},
    {16, "metadata_props", MSG_STRING_ENTRY},
};
static const FieldInfo segment_fields[] = {{1, "begin", 0}, {2, "end", 0}};
static const FieldInfo sparse_tensor_fields[] = {
    {1, "values", MSG_TENSOR}, {2, "indices", MSG_TENSOR}, {3, "dims", 0},
};
static const FieldInfo value_info_fields[] = {
    {1, "name", 0}, {2, "type", MSG_TYPE}, {3, "doc_string", 0},
    {9, "metadata_props", MSG_STRING_ENTRY},
};
static const FieldInfo type_fields[] = {
    {1, "tensor_type", MSG_TYPE_TENSOR}, {4, "sequence_type", MSG_TYPE_SEQUENCE},
    {5, "map_type", MSG_TYPE_MAP}, {6, "denotation", 0},
    {8, "sparse_tensor_type", MSG_TYPE_SPARSE_TENSOR}, {9, "optional_type", MSG_TYPE_OPTIONAL},
};
static const FieldInfo type_tensor_fields[] = {{1, "elem_type", 0}, {2, "shape", MSG_SHAPE}};
static const FieldInfo type_sequence_fields[] = {{1, "elem_type", MSG_TYPE}};
static const FieldInfo type_map_fields[] = {{1, "key_type", 0}, {2, "value_type", MSG_TYPE}};
static const FieldInfo type_optional_fields[] = {{1, "elem_type", MSG_TYPE}};
static const FieldInfo shape_fields[] = {{1, "dim", MSG_DIMENSION}};
static const FieldInfo dimension_fields[] = {
    {1, "dim_value", 0}, {2, "dim_param", 0}, {3, "denotation", 0},
};
static const FieldInfo opset_id_fields[] = {{1, "domain", 0}, {2, "version", 0}};
static const FieldInfo string_entry_fields[] = {{1, "key", 0}, {2, "value", 0}};
static const FieldInfo tensor_annotation_fields[] = {
    {1, "tensor_name", 0}, {2, "quant_parameter_tensor_names", MSG_STRING_ENTRY},
};
static const FieldInfo training_info_fields[] = {
    {1, "initialization", MSG_GRAPH}, {2, "algorithm", MSG_GRAPH},
    {3, "initialization_binding", MSG_STRING_ENTRY}, {4, "update_binding", MSG_STRING_ENTRY},
};
/* Not the numbers a first guess gives: 4-6 are the string lists input/output/attribute. */
static const FieldInfo function_fields[] = {
    {1, "name", 0}, {4, "input", 0}, {5, "output", 0}, {6, "attribute", 0},
    {7, "node", MSG_NODE}, {8, "doc_string", 0}, {9, "opset_import", MSG_OPSET_ID},
    {10, "domain", 0}, {11, "attribute_proto", MSG_ATTRIBUTE}, {12, "value_info", MSG_VALUE_INFO},
    {13, "overload", 0}, {14, "metadata_props", MSG_STRING_ENTRY},
};

typedef struct MsgInfo {
    const char *name;
    const FieldInfo *fields;
    size_t n_fields;
} MsgInfo;

#define MSG(label, table) {label, table, sizeof table / sizeof table[0]}
static const MsgInfo messages[MSG_COUNT] = {
    [MSG_MODEL] = MSG("ModelProto", model_fields),
    [MSG_GRAPH] = MSG("GraphProto", graph_fields),
    [MSG_NODE] = MSG("NodeProto", node_fields),
    [MSG_ATTRIBUTE] = MSG("AttributeProto", attribute_fields),
    [MSG_TENSOR] = MSG("TensorProto", tensor_fields),
    [MSG_TENSOR_SEGMENT] = MSG("TensorProto.Segment", segment_fields),
    [MSG_SPARSE_TENSOR] = MSG("SparseTensorProto", sparse_tensor_fields),
    [MSG_VALUE_INFO] = MSG("ValueInfoProto", value_info_fields),
    [MSG_TYPE] = MSG("TypeProto", type_fields),
    [MSG_TYPE_TENSOR] = MSG("TypeProto.Tensor", type_tensor_fields),
    [MSG_TYPE_SEQUENCE] = MSG("TypeProto.Sequence", type_sequence_fields),
    [MSG_TYPE_MAP] = MSG("TypeProto.Map", type_map_fields),
    [MSG_TYPE_OPTIONAL] = MSG("TypeProto.Optional", type_optional_fields),
    [MSG_TYPE_SPARSE_TENSOR] = MSG("TypeProto.SparseTensor", type_tensor_fields),
    [MSG_SHAPE] = MSG("TensorShapeProto", shape_fields),
    [MSG_DIMENSION] = MSG("TensorShapeProto.Dimension", dimension_fields),
    [MSG_OPSET_ID] = MSG("OperatorSetIdProto", opset_id_fields),
    [MSG_STRING_ENTRY] = MSG("StringStringEntryProto", string_entry_fields),
    [MSG_TENSOR_ANNOTATION] = MSG("TensorAnnotation", tensor_annotation_fields),
    [MSG_TRAINING_INFO] = MSG("TrainingInfoProto", training_info_fields),
    [MSG_FUNCTION] = MSG("FunctionProto", function_fields),
};
#undef MSG

static const FieldInfo *find_field(MsgKind kind, uint32_t number)
{
    const MsgInfo *m = &messages[kind];
    for (size_t i = 0; i < m->n_fields; i++)
        if (m->fields[i].number == number)
            return &m->fields[i];
    return NULL;
}

/* ---- the walk ---- */

enum {
    WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LENGTH = 2, WIRE_GROUP_START = 3, WIRE_GROUP_END = 4,
    WIRE_FIXED32 = 5,
};
/* protobuf's own limits: field numbers are 29 bits and a length-delimited field is under 2 GiB.
 * The length limit also keeps protobuf-c's 32-bit `prefix + length` sum from wrapping. */
#define MAX_FIELD_NUMBER ((1u << 29) - 1)
#define MAX_FIELD_LENGTH ((uint64_t)INT32_MAX)

typedef enum VarintResult {
    VARINT_OK, VARINT_TRUNCATED, VARINT_TOO_LONG, VARINT_OVERFLOW
} VarintResult;

/* Reads the varint at *pos, not reading at or past `end`. */
static VarintResult read_varint(const uint8_t *buf, size_t end, size_t *pos, uint64_t *out)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pos + i >= end)
            return VARINT_TRUNCATED;
        uint8_t byte = buf[*pos + i];
        /* The 10th byte holds bit 63 only; more means an 11th byte or bits past 64. */
        if (i == 9 && byte > 1)
            return (byte & 0x80) ? VARINT_TOO_LONG : VARINT_OVERFLOW;
        value |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *pos += i + 1;
            *out = value;
            return VARINT_OK;
        }
    }
    return VARINT_TOO_LONG; /* not reached: i == 9 returns above */
}

/* One message being walked: its kind, where it ends, and the field that opened it. */
typedef struct WireFrame {
    MsgKind kind;
    size_t end;
    const char *field_name;
} WireFrame;

typedef struct WireWalk {
    const char *path;
    SdError *err;
    WireFrame frames[ONNX_WIRE_MAX_DEPTH + 1];
    int depth;
} WireWalk;

/* "field 7 (ModelProto.graph)", or "field 99 (unknown to GraphProto)". */
static const char *describe_field(char *out, size_t cap, MsgKind kind, uint32_t number)
{
    const FieldInfo *f = find_field(kind, number);
    if (f)
        snprintf(out, cap, "field %u (%s.%s)", number, messages[kind].name, f->name);
    else
        snprintf(out, cap, "field %u (unknown to %s)", number, messages[kind].name);
    return out;
}

/* Where the current message ends: the file at the top level, else its enclosing message. */
static const char *scope_name(const WireWalk *w, char *out, size_t cap)
{
    if (w->depth == 0)
        snprintf(out, cap, "the file");
    else
        snprintf(out, cap, "the enclosing %s", messages[w->frames[w->depth].kind].name);
    return out;
}

static SdStatus varint_error(const WireWalk *w, size_t at, const char *what, VarintResult r)
{
    char scope[96];
    switch (r) {
    case VARINT_TRUNCATED:
        return sd_errorf(w->err, SD_EBADMODEL, "%s: truncated at byte %zu: %s runs past the end of %s",
                         w->path, at, what, scope_name(w, scope, sizeof scope));
    case VARINT_TOO_LONG:
        return sd_errorf(w->err, SD_EBADMODEL, "%s: malformed varint at byte %zu: %s is longer than 10 bytes",
                         w->path, at, what);
    case VARINT_OVERFLOW:
        return sd_errorf(w->err, SD_EBADMODEL, "%s: malformed varint at byte %zu: %s overflows 64 bits",
                         w->path, at, what);
    case VARINT_OK:
        break;
    }
    return sd_errorf(w->err, SD_EINTERNAL, "%s: wire check reported a varint error without one", w->path);
}

/* The chain of fields from ModelProto to the one that went too deep; the first few are enough
 * to recognise the repeating pattern. */
static SdStatus depth_error(const WireWalk *w, size_t at, int max_depth, const char *next_field)
{
    enum { SHOWN = 8 };
    char chain[256];
    size_t len = 0;
    for (int i = 1; i <= w->depth + 1 && i <= SHOWN && len < sizeof chain; i++) {
        const char *name = i <= w->depth ? w->frames[i].field_name : next_field;
        len += (size_t)snprintf(chain + len, sizeof chain - len, "%s%s", i > 1 ? " → " : "", name);
    }
    if (w->depth + 1 > SHOWN && len < sizeof chain)
        snprintf(chain + len, sizeof chain - len, " ...");
    return sd_errorf(w->err, SD_EBADMODEL, "%s: nesting deeper than %d levels at byte %zu (%s)",
                     w->path, max_depth, at, chain);
}

SdStatus onnx_wire_check(const uint8_t *buf, size_t n, const char *path, int max_depth, SdError *err)
{
    if (!path)
        path = "<model>";
    if (max_depth < 1 || max_depth > ONNX_WIRE_MAX_DEPTH)
        return sd_errorf(err, SD_EUSAGE, "%s: wire check depth limit %d is outside 1..%d", path,
                         max_depth, ONNX_WIRE_MAX_DEPTH);
    if (!buf && n > 0)
        return sd_errorf(err, SD_EUSAGE, "%s: wire check given no buffer for %zu bytes", path, n);

    /* Explicit stack, so the walk's own C stack use does not grow with the file's nesting. */
    WireWalk w = {.path = path, .err = err, .depth = 0};
    w.frames[0] = (WireFrame){MSG_MODEL, n, "model"};
    size_t pos = 0;
    char what[160];

    for (;;) {
        const WireFrame *top = &w.frames[w.depth];
        if (pos == top->end) {
            if (w.depth == 0)
                return SD_OK;
            w.depth--; /* a sub-message ends exactly where its parent's next field starts */
            continue;
        }

        size_t tag_at = pos;
        uint64_t tag;
        VarintResult r = read_varint(buf, top->end, &pos, &tag);
        if (r != VARINT_OK) {
            snprintf(what, sizeof what, "a field tag in %s", messages[top->kind].name);
            return varint_error(&w, tag_at, what, r);
        }
        /* protobuf-c reads a tag in at most 5 bytes; field 0 does not exist. */
        if (pos - tag_at > 5)
            return sd_errorf(err, SD_EBADMODEL, "%s: malformed field tag at byte %zu in %s: it takes "
                             "%zu bytes; a tag takes at most 5", path, tag_at, messages[top->kind].name,
                             pos - tag_at);
        if ((tag >> 3) == 0 || (tag >> 3) > MAX_FIELD_NUMBER)
            return sd_errorf(err, SD_EBADMODEL, "%s: malformed field tag at byte %zu in %s: "
                             "field number %llu is outside 1..%u", path, tag_at,
                             messages[top->kind].name, (unsigned long long)(tag >> 3), MAX_FIELD_NUMBER);
        uint32_t number = (uint32_t)(tag >> 3);
        unsigned wire_type = (unsigned)(tag & 7);
        const FieldInfo *field = find_field(top->kind, number);
        describe_field(what, sizeof what, top->kind, number);

        if (field && field->child != MSG_NONE && wire_type != WIRE_LENGTH)
            return sd_errorf(err, SD_EBADMODEL, "%s: %s at byte %zu has wire type %u; a sub-message "
                             "needs wire type 2 (length-delimited)", path, what, tag_at, wire_type);

        size_t remain = top->end - pos, need = 0;
        uint64_t value;
        switch (wire_type) {
        case WIRE_VARINT:
            r = read_varint(buf, top->end, &pos, &value);
            if (r != VARINT_OK)
                return varint_error(&w, tag_at, what, r);
            continue;
        case WIRE_FIXED64: need = 8; break;
        case WIRE_FIXED32: need = 4; break;
        case WIRE_LENGTH: {
            size_t length_at = pos;
            char length_what[200];
            snprintf(length_what, sizeof length_what, "the length of %s", what);
            r = read_varint(buf, top->end, &pos, &value);
            if (r != VARINT_OK)
                return varint_error(&w, tag_at, length_what, r);
            remain = top->end - pos;
            /* protobuf-c reads at most 5 length bytes as 32 bits; anything else it reads differently. */
            if (pos - length_at > 5 || value > MAX_FIELD_LENGTH)
                return sd_errorf(err, SD_EBADMODEL, "%s: %s at byte %zu declares %llu bytes in a "
                                 "%zu-byte prefix; protobuf allows under 2 GiB in at most 5", path,
                                 what, tag_at, (unsigned long long)value, pos - length_at);
            if (value > remain) {
                char scope[96];
                return sd_errorf(err, SD_EBADMODEL, "%s: truncated at byte %zu: %s declares %llu bytes, "
                                 "%zu remain%s%s", path, tag_at, what, (unsigned long long)value, remain,
                                 w.depth ? " in " : "", w.depth ? scope_name(&w, scope, sizeof scope) : "");
            }
            if (!field || field->child == MSG_NONE) {
                pos += (size_t)value; /* strings, bytes, packed scalars, unknown fields: opaque */
                continue;
            }
            if (w.depth == max_depth)
                return depth_error(&w, tag_at, max_depth, field->name);
            w.depth++;
            w.frames[w.depth] = (WireFrame){field->child, pos + (size_t)value, field->name};
            continue;
        }
        case WIRE_GROUP_START:
        case WIRE_GROUP_END:
            return sd_errorf(err, SD_EBADMODEL, "%s: %s at byte %zu uses wire type %u (group %s), "
                             "which ONNX never uses", path, what, tag_at, wire_type,
                             wire_type == WIRE_GROUP_START ? "start" : "end");
        default:
            return sd_errorf(err, SD_EBADMODEL, "%s: %s at byte %zu has invalid wire type %u",
                             path, what, tag_at, wire_type);
        }
        if (need > remain)
            return sd_errorf(err, SD_EBADMODEL, "%s: truncated at byte %zu: %s needs %zu bytes, %zu remain",
                             path, tag_at, what, need, remain);
        pos += need;
    }
}

/* ---- the counting allocator ---- */

/* protobuf-c frees without a size, so each block starts with a header holding it; 16 bytes keep
 * the caller's part as aligned as malloc's own blocks. */
#define BLOCK_HEADER 16
_Static_assert(BLOCK_HEADER >= sizeof(size_t) && BLOCK_HEADER % _Alignof(max_align_t) == 0,
               "the block header must hold a size and keep malloc's alignment");

static void *counting_alloc(void *allocator_data, size_t size)
{
    OnnxCountingAllocator *a = allocator_data;
    size_t total;
    if (__builtin_add_overflow(size, (size_t)BLOCK_HEADER, &total) || total > a->cap - a->used) {
        a->refused = true;
        return NULL;
    }
    unsigned char *block = malloc(total);
    if (!block)
        return NULL;
    memcpy(block, &total, sizeof total);
    a->used += total;
    return block + BLOCK_HEADER;
}

static void counting_free(void *allocator_data, void *pointer)
{
    if (!pointer)
        return;
    OnnxCountingAllocator *a = allocator_data;
    unsigned char *block = (unsigned char *)pointer - BLOCK_HEADER;
    size_t total;
    memcpy(&total, block, sizeof total);
    SD_ASSERT(total >= BLOCK_HEADER && total <= a->used);
    a->used -= total;
    free(block);
}

void onnx_counting_allocator_init(OnnxCountingAllocator *a, size_t cap)
{
    *a = (OnnxCountingAllocator){
        .base = {.alloc = counting_alloc, .free = counting_free, .allocator_data = a},
        .used = 0,
        .cap = cap,
        .refused = false,
    };
}
