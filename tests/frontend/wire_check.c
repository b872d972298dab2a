/* tests/frontend/wire_check.c — the wire walk that runs before protobuf-c: it lets real models
 * through, rejects deep nesting and malformed wire data with a message that says where, and
 * never crashes on hostile bytes; the counting allocator makes unpack fail cleanly past its cap.
 * Models are written byte by byte with a tiny protobuf writer, so each test shows its bytes. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx/wire_check.h"
#include "onnx.pb-c.h"

/* ---- a tiny protobuf writer ---- */

typedef struct Pb {
    uint8_t *data;
    size_t len, cap;
} Pb;

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LENGTH = 2, WT_FIXED32 = 5 };

static void pb_raw(Pb *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        cr_assert_not_null(b->data);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void pb_byte(Pb *b, uint8_t v) { pb_raw(b, &v, 1); }

static void pb_varint(Pb *b, uint64_t v)
{
    while (v >= 0x80) {
        pb_byte(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    pb_byte(b, (uint8_t)v);
}

static void pb_tag(Pb *b, uint32_t field, unsigned wire_type) { pb_varint(b, (uint64_t)field << 3 | wire_type); }

static void pb_int(Pb *b, uint32_t field, uint64_t v)
{
    pb_tag(b, field, WT_VARINT);
    pb_varint(b, v);
}

static void pb_fixed32(Pb *b, uint32_t field, uint32_t v)
{
    pb_tag(b, field, WT_FIXED32);
    pb_raw(b, &v, 4); /* little-endian host */
}

static void pb_fixed64(Pb *b, uint32_t field, uint64_t v)
{
    pb_tag(b, field, WT_FIXED64);
    pb_raw(b, &v, 8);
}

static void pb_bytes(Pb *b, uint32_t field, const void *p, size_t n)
{
    pb_tag(b, field, WT_LENGTH);
    pb_varint(b, n);
    pb_raw(b, p, n);
}

static void pb_str(Pb *b, uint32_t field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Appends `sub` as field `field` and frees it: models are built from the inside out. */
static void pb_msg(Pb *b, uint32_t field, Pb *sub)
{
    pb_bytes(b, field, sub->data, sub->len);
    free(sub->data);
    *sub = (Pb){0};
}

/* ---- models ---- */

/* A small model touching most message kinds, with strings that are malformed as messages and
 * unknown fields of every wire type: the walk must treat all of those as opaque. */
static Pb small_model(void)
{
    Pb dim_n = {0}, dim_4 = {0}, shape = {0}, tensor_type = {0}, type = {0};
    pb_str(&dim_n, 2, "N");
    pb_int(&dim_4, 1, 4);
    pb_msg(&shape, 1, &dim_n);
    pb_msg(&shape, 1, &dim_4);
    pb_int(&tensor_type, 1, 1);
    pb_msg(&tensor_type, 2, &shape);
    pb_msg(&type, 1, &tensor_type);
    Pb input = {0}, output = {0};
    pb_str(&input, 1, "x");
    pb_bytes(&input, 2, type.data, type.len);
    pb_str(&output, 1, "y");
    pb_msg(&output, 2, &type);

    Pb attr = {0}, node = {0};
    pb_str(&attr, 1, "alpha");
    pb_fixed32(&attr, 2, 0x3dcccccd); /* 0.1f */
    pb_int(&attr, 20, 1);
    pb_str(&node, 1, "x");
    pb_str(&node, 2, "y");
    pb_str(&node, 4, "LeakyRelu");
    pb_msg(&node, 5, &attr);

    const float weights[4] = {1, 2, 3, 4};
    Pb raw_init = {0}, packed_init = {0};
    pb_int(&raw_init, 1, 4);
    pb_int(&raw_init, 2, 1);
    pb_str(&raw_init, 8, "w_raw");
    pb_bytes(&raw_init, 9, weights, sizeof weights);
    pb_int(&packed_init, 1, 4);
    pb_int(&packed_init, 2, 1);
    pb_str(&packed_init, 8, "w_packed");
    pb_bytes(&packed_init, 4, weights, sizeof weights); /* float_data, packed */

    Pb graph = {0};
    pb_msg(&graph, 1, &node);
    pb_str(&graph, 2, "main");
    pb_msg(&graph, 5, &raw_init);
    pb_msg(&graph, 5, &packed_init);
    pb_msg(&graph, 11, &input);
    pb_msg(&graph, 12, &output);
    pb_bytes(&graph, 99, "\x0b\x0c\xff", 3); /* unknown to GraphProto: a group if it were parsed */

    /* FunctionProto.output (5) is a string: "\x0b" would be a group start as a sub-message. */
    Pb fn_node = {0}, fn_opset = {0}, function = {0};
    pb_str(&fn_node, 4, "Relu");
    pb_int(&fn_opset, 2, 17);
    pb_str(&function, 1, "f");
    pb_str(&function, 4, "a");
    pb_bytes(&function, 5, "\x0b\xff", 2);
    pb_msg(&function, 7, &fn_node);
    pb_msg(&function, 9, &fn_opset);

    Pb opset = {0}, meta = {0}, model = {0};
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 17);
    pb_str(&meta, 1, "key");
    pb_str(&meta, 2, "value");
    pb_int(&model, 1, 8);
    pb_str(&model, 2, "seedc-test");
    pb_bytes(&model, 6, "\x0b\xff\xff", 3); /* doc_string */
    pb_msg(&model, 7, &graph);
    pb_msg(&model, 8, &opset);
    pb_msg(&model, 14, &meta);
    pb_msg(&model, 25, &function);
    pb_int(&model, 100, 12345);
    pb_fixed64(&model, 101, 0x0123456789abcdefull);
    pb_fixed32(&model, 102, 7);
    pb_bytes(&model, 103, "\x0f\xff\xff\xff", 4); /* wire type 7 inside, if it were parsed */
    return model;
}

/* graph → node → attribute → g → node → ... `levels` subgraphs deep, with nothing else in it:
 * about 10 bytes a level, so 3000 levels is the ~30 KB file that overflows protobuf-c's stack.
 * The innermost graph sits at depth 1 + 3 * levels. */
static Pb nested_graph_model(int levels)
{
    Pb graph = {0};
    pb_str(&graph, 2, "leaf");
    for (int level = 0; level < levels; level++) {
        Pb attr = {0}, node = {0}, outer = {0};
        pb_msg(&attr, 6, &graph);
        pb_msg(&node, 5, &attr);
        pb_msg(&outer, 1, &node);
        graph = outer;
    }
    Pb model = {0};
    pb_int(&model, 1, 8);
    pb_msg(&model, 7, &graph);
    return model;
}

/* A graph input of type sequence<sequence<...>>: the innermost TypeProto sits at depth
 * 3 + 2 * levels (graph 1, input 2, type 3, then Sequence and TypeProto per level). */
static Pb nested_sequence_model(int levels)
{
    Pb type = {0};
    for (int level = 0; level < levels; level++) {
        Pb sequence = {0}, outer = {0};
        pb_msg(&sequence, 1, &type);
        pb_msg(&outer, 4, &sequence);
        type = outer;
    }
    Pb value_info = {0}, graph = {0}, model = {0};
    pb_str(&value_info, 1, "x");
    pb_msg(&value_info, 2, &type);
    pb_msg(&graph, 11, &value_info);
    pb_msg(&model, 7, &graph);
    return model;
}

static SdStatus check(const Pb *b, int max_depth, SdError *err)
{
    return onnx_wire_check(b->data, b->len, "model.onnx", max_depth, err);
}

/* How deep protobuf-c nested the messages it unpacked, read back through its descriptors. */
static int unpacked_depth(const ProtobufCMessage *m)
{
    int deepest = 0;
    const char *base = (const char *)m;
    for (unsigned f = 0; f < m->descriptor->n_fields; f++) {
        const ProtobufCFieldDescriptor *fd = &m->descriptor->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t count = 1;
        ProtobufCMessage *const *items = (ProtobufCMessage *const *)(base + fd->offset);
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *)(base + fd->quantifier_offset);
            items = *(ProtobufCMessage *const *const *)(base + fd->offset);
        } else if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                   *(const uint32_t *)(base + fd->quantifier_offset) != fd->id) {
            continue;
        }
        for (size_t i = 0; i < count; i++) {
            int depth = items[i] ? 1 + unpacked_depth(items[i]) : 0;
            deepest = depth > deepest ? depth : deepest;
        }
    }
    return deepest;
}

/* Checks an exactly-sized heap copy (so ASan sees any read past the end); when the walk accepts
 * it, protobuf-c must unpack it without crashing and nest no deeper than the walk allowed. */
static SdStatus check_then_unpack(const uint8_t *bytes, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    cr_assert_not_null(copy);
    if (n)
        memcpy(copy, bytes, n);
    SdError err = {0};
    SdStatus st = onnx_wire_check(copy, n, "fuzz.onnx", 64, &err);
    cr_assert(st == SD_OK || st == SD_EBADMODEL, "status %d", st);
    if (st == SD_EBADMODEL)
        cr_assert(strncmp(err.msg, "fuzz.onnx: ", 11) == 0, "message was: %s", err.msg);
    if (st == SD_OK) {
        Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, copy);
        cr_assert(!m || unpacked_depth(&m->base) <= 64);
        onnx__model_proto__free_unpacked(m, NULL);
    }
    free(copy);
    return st;
}

static uint64_t xorshift(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* ---- the walk ---- */

Test(onnx_wire_check, accepts_a_small_model_that_protobuf_c_reads_back)
{
    Pb model = small_model();
    SdError err = {0};
    cr_assert_eq(check(&model, 64, &err), SD_OK, "message was: %s", err.msg);

    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, model.len, model.data);
    cr_assert_not_null(m);
    cr_assert_not_null(m->graph);
    cr_assert_eq(m->graph->n_node, 1);
    cr_assert_str_eq(m->graph->node[0]->op_type, "LeakyRelu");
    cr_assert_eq(m->graph->node[0]->attribute[0]->f, 0.1f);
    cr_assert_eq(m->graph->n_initializer, 2);
    cr_assert_eq(m->graph->initializer[1]->n_float_data, 4);
    cr_assert_eq(m->graph->input[0]->type->tensor_type->shape->n_dim, 2);
    cr_assert_eq(m->n_functions, 1);
    cr_assert_eq(m->functions[0]->n_node, 1);
    cr_assert_eq(m->base.n_unknown_fields, 4);
    onnx__model_proto__free_unpacked(m, NULL);
    free(model.data);
}

Test(onnx_wire_check, accepts_an_empty_model_and_checks_its_arguments)
{
    SdError err = {0};
    cr_assert_eq(onnx_wire_check(NULL, 0, "empty.onnx", 64, &err), SD_OK);
    cr_assert_eq(onnx_wire_check((const uint8_t *)"", 0, "empty.onnx", 1, &err), SD_OK);
    cr_assert_eq(onnx_wire_check(NULL, 0, "m.onnx", 0, &err), SD_EUSAGE);
    cr_assert_eq(onnx_wire_check(NULL, 0, "m.onnx", ONNX_WIRE_MAX_DEPTH + 1, &err), SD_EUSAGE);
    cr_assert_eq(onnx_wire_check(NULL, 5, "m.onnx", 64, &err), SD_EUSAGE);
    cr_assert_eq(onnx_wire_check(NULL, 0, "m.onnx", ONNX_WIRE_MAX_DEPTH, &err), SD_OK);
}

Test(onnx_wire_check, depth_limit_is_exact_for_nested_subgraphs)
{
    Pb model = nested_graph_model(21); /* innermost graph at depth 64 */
    SdError err = {0};
    cr_assert_eq(check(&model, 64, &err), SD_OK, "message was: %s", err.msg);
    cr_assert_eq(check(&model, 63, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "nesting deeper than 63 levels"), "message was: %s", err.msg);

    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, model.len, model.data);
    cr_assert_not_null(m);
    const Onnx__GraphProto *g = m->graph;
    for (int level = 0; level < 21; level++)
        g = g->node[0]->attribute[0]->g;
    cr_assert_str_eq(g->name, "leaf");
    onnx__model_proto__free_unpacked(m, NULL);
    free(model.data);
}

Test(onnx_wire_check, rejects_subgraphs_nested_100_and_3000_deep)
{
    const int levels[] = {100, 3000};
    for (size_t i = 0; i < 2; i++) {
        Pb model = nested_graph_model(levels[i]);
        /* Unpacking the 3000-level file without this check overflows protobuf-c's stack, so
         * only the check runs here. */
        SdError err = {0};
        cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
        const char *expect = "model.onnx: nesting deeper than 64 levels at byte ";
        cr_assert(strncmp(err.msg, expect, strlen(expect)) == 0,
                  "message was: %s", err.msg);
        cr_assert(strstr(err.msg, "(graph → node → attribute → g → node → attribute → g → node ...)"),
                  "message was: %s", err.msg);
        cr_assert(levels[i] != 3000 || model.len < 40000, "the crafted file is %zu bytes", model.len);
        free(model.data);
    }
}

Test(onnx_wire_check, rejects_deep_type_nesting)
{
    SdError err = {0};
    Pb model = nested_sequence_model(30); /* innermost TypeProto at depth 63 */
    cr_assert_eq(check(&model, 63, &err), SD_OK, "message was: %s", err.msg);
    cr_assert_eq(check(&model, 62, &err), SD_EBADMODEL);
    free(model.data);

    model = nested_sequence_model(5000);
    cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "(graph → input → type → sequence_type → elem_type → sequence_type"),
              "message was: %s", err.msg);
    free(model.data);
    model = (Pb){0};

    /* map<_, optional<map<_, optional<...>>>>: TypeProto.Map.value_type, TypeProto.Optional.elem_type */
    Pb type = {0};
    for (int level = 0; level < 1000; level++) {
        Pb wrapper = {0}, outer = {0};
        if (level % 2)
            pb_int(&wrapper, 1, 7); /* Map.key_type */
        pb_msg(&wrapper, level % 2 ? 2 : 1, &type);
        pb_msg(&outer, level % 2 ? 5 : 9, &wrapper);
        type = outer;
    }
    Pb attr = {0}, node = {0}, graph = {0};
    pb_msg(&attr, 14, &type); /* AttributeProto.tp */
    pb_msg(&node, 5, &attr);
    pb_msg(&graph, 1, &node);
    pb_msg(&model, 7, &graph);
    cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "(graph → node → attribute → tp → map_type → value_type → optional_type"),
              "message was: %s", err.msg);
    free(model.data);
}

Test(onnx_wire_check, skips_unknown_fields_without_descending)
{
    /* The 3000-level file as the bytes of an unknown GraphProto field: protobuf-c keeps it as
     * opaque bytes too, so it is harmless there and both accept it. */
    Pb deep = nested_graph_model(3000), graph = {0}, model = {0};
    pb_str(&graph, 2, "g");
    pb_msg(&graph, 1000, &deep);
    pb_msg(&model, 7, &graph);
    SdError err = {0};
    cr_assert_eq(check(&model, 8, &err), SD_OK, "message was: %s", err.msg);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, model.len, model.data);
    cr_assert_not_null(m);
    cr_assert_eq(m->graph->base.n_unknown_fields, 1);
    onnx__model_proto__free_unpacked(m, NULL);
    free(model.data);
}

Test(onnx_wire_check, names_the_field_that_declares_more_bytes_than_remain)
{
    Pb model = {0};
    pb_tag(&model, 7, WT_LENGTH);
    pb_varint(&model, 5000);
    for (int k = 0; k < 120; k++)
        pb_byte(&model, 0);
    SdError err = {0};
    cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
    cr_assert_str_eq(err.msg, "model.onnx: truncated at byte 0: field 7 (ModelProto.graph) declares "
                              "5000 bytes, 120 remain");
    free(model.data);

    /* A node that fits in the file but not in its graph: 3a 02 | 0a 32 | 60 zeros. */
    Pb graph = {0};
    model = (Pb){0};
    pb_tag(&graph, 1, WT_LENGTH);
    pb_varint(&graph, 50);
    pb_msg(&model, 7, &graph);
    for (int k = 0; k < 60; k++)
        pb_byte(&model, 0);
    cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
    cr_assert_str_eq(err.msg, "model.onnx: truncated at byte 2: field 1 (GraphProto.node) declares "
                              "50 bytes, 0 remain in the enclosing GraphProto");
    free(model.data);
}

Test(onnx_wire_check, rejects_groups_and_invalid_wire_types)
{
    static const struct { unsigned wire_type; const char *expect; } cases[] = {
        {3, "field 1 (ModelProto.ir_version) at byte 0 uses wire type 3 (group start)"},
        {4, "field 1 (ModelProto.ir_version) at byte 0 uses wire type 4 (group end)"},
        {6, "field 1 (ModelProto.ir_version) at byte 0 has invalid wire type 6"},
        {7, "field 1 (ModelProto.ir_version) at byte 0 has invalid wire type 7"},
    };
    SdError err = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Pb model = {0};
        pb_tag(&model, 1, cases[i].wire_type);
        pb_byte(&model, 0);
        cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
        cr_assert(strstr(err.msg, cases[i].expect), "message was: %s", err.msg);
        free(model.data);
    }
    /* A group start deep inside: the tensor's segment. */
    Pb segment = {0}, tensor = {0}, graph = {0}, model = {0};
    pb_tag(&segment, 1, 3);
    pb_msg(&tensor, 3, &segment);
    pb_msg(&graph, 5, &tensor);
    pb_msg(&model, 7, &graph);
    cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "field 1 (TensorProto.Segment.begin) at byte 6 uses wire type 3"),
              "message was: %s", err.msg);
    free(model.data);
}

Test(onnx_wire_check, rejects_malformed_varints_and_tags)
{
    SdError err = {0};
    Pb model = {0};
    pb_tag(&model, 1, WT_VARINT); /* an 11-byte varint */
    for (int k = 0; k < 10; k++)
        pb_byte(&model, 0x80);
    pb_byte(&model, 0);
    cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
    cr_assert_str_eq(err.msg, "model.onnx: malformed varint at byte 0: field 1 (ModelProto.ir_version) "
                              "is longer than 10 bytes");
    free(model.data);

    model = (Pb){0};
    pb_int(&model, 1, UINT64_MAX); /* 10 bytes, the longest valid varint */
    cr_assert_eq(check(&model, 64, &err), SD_OK, "message was: %s", err.msg);
    model.data[model.len - 1] = 0x02; /* bit 64 */
    cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "overflows 64 bits"), "message was: %s", err.msg);
    model.len -= 1; /* a varint cut off by the end of the file */
    cr_assert_eq(check(&model, 64, &err), SD_EBADMODEL);
    cr_assert_str_eq(err.msg, "model.onnx: truncated at byte 0: field 1 (ModelProto.ir_version) runs past "
                              "the end of the file");
    free(model.data);

    static const struct { uint8_t bytes[8]; size_t n; const char *expect; } cases[] = {
        {{0x00, 0x00}, 2, "field number 0 is outside 1.."},
        {{0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00}, 7, "it takes 6 bytes; a tag takes at most 5"},
        {{0xf8, 0xff, 0xff, 0xff, 0x7f, 0x00}, 6, "field number 4294967295 is outside 1..536870911"},
        {{0x3a, 0x05}, 2, "field 7 (ModelProto.graph) declares 5 bytes, 0 remain"},
        {{0x38, 0x01}, 2, "field 7 (ModelProto.graph) at byte 0 has wire type 0; a sub-message needs"},
        {{0x12, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x41}, 8, "declares 1 bytes in a 6-byte prefix"},
        {{0x12, 0x80, 0x80, 0x80, 0x80, 0x08}, 6, "declares 2147483648 bytes in a 5-byte prefix"},
        {{0x12, 0x80}, 2, "the length of field 2 (ModelProto.producer_name) runs past the end"},
        {{0xb5, 0x06, 0x01, 0x02}, 4, "field 102 (unknown to ModelProto) needs 4 bytes, 2 remain"},
        {{0x09, 0x01}, 2, "field 1 (ModelProto.ir_version) needs 8 bytes, 1 remain"},
        {{0x80}, 1, "a field tag in ModelProto runs past the end of the file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(onnx_wire_check(cases[i].bytes, cases[i].n, "m.onnx", 64, &err), SD_EBADMODEL,
                     "case %zu", i);
        cr_assert(strstr(err.msg, cases[i].expect), "case %zu: message was: %s", i, err.msg);
    }
}

Test(onnx_wire_check, every_prefix_of_a_valid_model_is_accepted_or_rejected)
{
    Pb model = small_model();
    size_t accepted = 0;
    for (size_t n = 0; n <= model.len; n++)
        accepted += check_then_unpack(model.data, n) == SD_OK;
    cr_assert(accepted >= 2 && accepted < model.len / 2, "%zu of %zu prefixes accepted", accepted, model.len);
    cr_assert_eq(check_then_unpack(model.data, model.len), SD_OK);
    free(model.data);
}

Test(onnx_wire_check, survives_bit_flips_of_a_valid_model)
{
    Pb model = small_model();
    for (size_t bit = 0; bit < model.len * 8; bit++) {
        model.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        check_then_unpack(model.data, model.len);
        model.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    free(model.data);
}

Test(onnx_wire_check, survives_random_bytes)
{
    uint64_t state = 0x9e3779b97f4a7c15ull;
    uint8_t bytes[512];
    Pb model = small_model();
    for (int round = 0; round < 4000; round++) {
        size_t n = xorshift(&state) % sizeof bytes;
        for (size_t k = 0; k < n; k++)
            bytes[k] = (uint8_t)xorshift(&state);
        check_then_unpack(bytes, n);
        /* Random bytes mostly fail at the first tag; overwriting a few bytes of a valid model
         * reaches deeper. */
        uint8_t *mutated = malloc(model.len);
        cr_assert_not_null(mutated);
        memcpy(mutated, model.data, model.len);
        for (int k = 0; k < 3; k++)
            mutated[xorshift(&state) % model.len] = (uint8_t)xorshift(&state);
        check_then_unpack(mutated, model.len);
        free(mutated);
    }
    free(model.data);
}

/* ---- the counting allocator ---- */

Test(onnx_counting_allocator, counts_live_bytes_and_refuses_past_cap)
{
    OnnxCountingAllocator a;
    onnx_counting_allocator_init(&a, 1000);
    void *p = a.base.alloc(a.base.allocator_data, 1);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 16, 0);
    size_t header = a.used - 1;
    cr_assert(header >= sizeof(size_t) && header % 16 == 0, "header %zu", header);

    void *rest = a.base.alloc(a.base.allocator_data, a.cap - a.used - header);
    cr_assert_not_null(rest);
    cr_assert_eq(a.used, a.cap);
    cr_assert_not(a.refused);
    cr_assert_null(a.base.alloc(a.base.allocator_data, 0));
    cr_assert(a.refused);
    cr_assert_null(a.base.alloc(a.base.allocator_data, SIZE_MAX)); /* no overflow past the cap */

    a.base.free(a.base.allocator_data, rest);
    a.base.free(a.base.allocator_data, NULL);
    cr_assert_eq(a.used, 1 + header);
    a.base.free(a.base.allocator_data, p);
    cr_assert_eq(a.used, 0);
}

Test(onnx_counting_allocator, makes_unpack_return_null_past_cap)
{
    /* A model packed by protoc-c's own code. */
    char *inputs[] = {"x"}, *outputs[] = {"y"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = "Relu";
    node.n_input = 1;
    node.input = inputs;
    node.n_output = 1;
    node.output = outputs;
    Onnx__NodeProto *nodes[] = {&node, &node, &node};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "main";
    graph.n_node = 3;
    graph.node = nodes;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1;
    model.ir_version = 8;
    model.producer_name = "seedc-test";
    model.graph = &graph;
    size_t len = onnx__model_proto__get_packed_size(&model);
    uint8_t *bytes = malloc(len);
    cr_assert_not_null(bytes);
    cr_assert_eq(onnx__model_proto__pack(&model, bytes), len);
    SdError err = {0};
    cr_assert_eq(onnx_wire_check(bytes, len, "packed.onnx", 64, &err), SD_OK, "message was: %s", err.msg);

    OnnxCountingAllocator a;
    onnx_counting_allocator_init(&a, 64);
    cr_assert_null(onnx__model_proto__unpack(&a.base, len, bytes));
    cr_assert(a.refused);
    cr_assert_eq(a.used, 0);

    /* Every cap below what unpacking needs fails cleanly (nothing leaks, ASan watching); the
     * first cap that suffices gives the whole model. */
    size_t cap = 0;
    Onnx__ModelProto *m = NULL;
    for (; cap < 100000 && !m; cap += 8) {
        onnx_counting_allocator_init(&a, cap);
        m = onnx__model_proto__unpack(&a.base, len, bytes);
        cr_assert(m || (a.refused && a.used == 0), "cap %zu: used %zu", cap, a.used);
    }
    cr_assert_not_null(m);
    cr_assert_not(a.refused);
    cr_assert(a.used > 0 && a.used <= a.cap);
    cr_assert_eq(m->graph->n_node, 3);
    cr_assert_str_eq(m->graph->node[2]->op_type, "Relu");
    onnx__model_proto__free_unpacked(m, &a.base);
    cr_assert_eq(a.used, 0);
    free(bytes);
}
