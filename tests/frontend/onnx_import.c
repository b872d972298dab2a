/* tests/frontend/onnx_import.c — the ONNX importer on models built in the test: initializer
 * encodings, symbolic dimensions, Constant/Identity, opset handling, and malformed models, each of
 * which must end in an error that names what is wrong, never a crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "frontend/onnx/onnx.h"
#include "tests/common/onnx_builder.h"

static IrGraph *import_model(TbModel *m, int64_t batch, SdError *err)
{
    size_t len;
    uint8_t *buf = tb_pack(m, &len);
    IrGraph *g = NULL;
    OnnxImportOptions opt = {.batch = batch};
    onnx_import_buffer(buf, len, tb_path("model.onnx"), &opt, &g, NULL, err);
    free(buf);
    return g;
}

static TbModel *relu_model(void)
{
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){-1, 4});
    tb_node(m, "Relu", "relu0", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    return m;
}

Test(onnx_import, binds_the_symbolic_batch_dimension)
{
    SdError err = {0};
    TbModel *m = relu_model();
    IrGraph *g = import_model(m, 5, &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(ir_graph_num_inputs(g), 1);
    IrValue *x = ir_graph_input(g, 0);
    cr_assert_eq(x->shape.rank, 2);
    cr_assert_eq(x->shape.dims[0], 5);
    cr_assert_eq(x->shape.dims[1], 4);
    cr_assert_eq(ir_graph_num_nodes(g), 1);
    cr_assert_eq(ir_graph_node(g, 0)->op, IR_OP_RELU);
    ir_graph_free(g);
    tb_model_free(m);
}

Test(onnx_import, asks_for_other_symbolic_dimensions_by_name)
{
    SdError err = {0};
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){2, -1});
    tb_node(m, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    IrGraph *g = import_model(m, 1, &err);
    cr_assert_null(g);
    cr_assert(strstr(err.msg, "input 'x' dimension 1 is symbolic ('N')") && strstr(err.msg, "--dim N="),
              "message was: %s", err.msg);
    size_t len;
    uint8_t *buf = tb_pack(m, &len);
    OnnxImportOptions opt = {.batch = 1, .dims = "N=7"};
    cr_assert_eq(onnx_import_buffer(buf, len, "m.onnx", &opt, &g, NULL, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(ir_graph_input(g, 0)->shape.dims[1], 7);
    free(buf);
    ir_graph_free(g);
    tb_model_free(m);
}

/* y = x + w, with w stored three ways: raw_data, float_data, external file. */
static void check_add_initializer(int mode)
{
    SdError err = {0};
    float w[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    TbModel *m = tb_model_new(13);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){4});
    if (mode == 2) {
        FILE *f = fopen(tb_path("weights.bin"), "wb");
        float pad = 9.0f;
        fwrite(&pad, 4, 1, f); /* offset 4 */
        fwrite(w, 4, 4, f);
        fclose(f);
        tb_init_external(m, "w", 1, (int64_t[]){4}, "weights.bin", 4, 16);
    } else {
        tb_init_f32(m, "w", 1, (int64_t[]){4}, w, mode);
    }
    tb_node(m, "Add", "add", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    tb_save(m, tb_path("add.onnx"));
    SdModel *model;
    SdOptions opt = sd_options_default();
    cr_assert_eq(sd_model_load(tb_path("add.onnx"), &opt, &model, &err), SD_OK, "mode %d: %s", mode, err.msg);
    RtTensor in = {0}, out = {0};
    cr_assert_eq(rt_tensor_alloc(&in, SD_DT_F32, 1, (int64_t[]){4}, &err), SD_OK);
    for (int i = 0; i < 4; i++)
        ((float *)in.data)[i] = (float)i;
    cr_assert_eq(sd_model_run(model, &in, 1, &out, 1, &err), SD_OK, "%s", err.msg);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(((float *)out.data)[i], (float)i + w[i], "mode %d element %d", mode, i);
    rt_tensor_free(&in);
    rt_tensor_free(&out);
    sd_model_free(model);
    tb_model_free(m);
}

Test(onnx_import, reads_initializers_as_raw_typed_and_external_data)
{
    check_add_initializer(0);
    check_add_initializer(1);
    check_add_initializer(2);
}

Test(onnx_import, rejects_external_data_outside_the_model_folder_or_too_short)
{
    SdError err = {0};
    TbModel *m = tb_model_new(13);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){4});
    tb_init_external(m, "w", 1, (int64_t[]){4}, "../etc/passwd", 0, 16);
    tb_node(m, "Add", "add", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    cr_assert_null(import_model(m, 1, &err));
    cr_assert(strstr(err.msg, "tensor 'w'") && strstr(err.msg, "leaves the model's folder"), "message was: %s", err.msg);
    tb_model_free(m);

    FILE *f = fopen(tb_path("short.bin"), "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    m = tb_model_new(13);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){4});
    tb_init_external(m, "w", 1, (int64_t[]){4}, "short.bin", 0, -1);
    tb_node(m, "Add", "add", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    cr_assert_null(import_model(m, 1, &err));
    cr_assert(strstr(err.msg, "tensor 'w'") && strstr(err.msg, "fewer than 16 bytes"), "message was: %s", err.msg);
    tb_model_free(m);
}

Test(onnx_import, keeps_initializers_listed_as_inputs_as_constants)
{
    SdError err = {0};
    float w[2] = {1, 2};
    TbModel *m = tb_model_new(9);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){2});
    tb_input_from_init(m, "w", SD_DT_F32, 1, (int64_t[]){2});
    tb_init_f32(m, "w", 1, (int64_t[]){2}, w, 0);
    tb_node(m, "Identity", "id", (const char *[]){"w", NULL}, (const char *[]){"w2", NULL});
    tb_node(m, "Mul", "mul", (const char *[]){"x", "w2", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    IrGraph *g = import_model(m, 1, &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(ir_graph_num_inputs(g), 1, "the initializer must not stay a graph input");
    cr_assert(ir_value_is_constant(ir_graph_find_value(g, "w")));
    ir_graph_free(g);
    tb_model_free(m);
}

Test(onnx_import, turns_constant_nodes_into_constants)
{
    SdError err = {0};
    TbModel *m = tb_model_new(13);
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){2, 3});
    tb_node(m, "Constant", "shape", NULL, (const char *[]){"s", NULL});
    tb_attr_ints(m, "value_ints", (int64_t[]){3, 2}, 2);
    tb_node(m, "Reshape", "reshape", (const char *[]){"x", "s", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    IrGraph *g = import_model(m, 1, &err);
    cr_assert_not_null(g, "%s", err.msg);
    IrValue *s = ir_graph_find_value(g, "s");
    cr_assert(s && ir_value_is_constant(s) && s->dtype == SD_DT_I64 && ir_value_numel(s) == 2);
    ir_graph_free(g);
    tb_model_free(m);
}

Test(onnx_import, names_the_node_of_an_unsupported_operator)
{
    SdError err = {0};
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){3});
    tb_node(m, "FancyOp", "fancy_3", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    cr_assert_null(import_model(m, 1, &err));
    cr_assert_eq(err.status, SD_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "node 'fancy_3' (FancyOp)") && strstr(err.msg, "operator FancyOp (opset 17) is not supported"),
              "message was: %s", err.msg);
    tb_model_free(m);
}

Test(onnx_import, rejects_inconsistent_graphs)
{
    SdError err = {0};
    /* reads a value nobody defines */
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){3});
    tb_node(m, "Add", "add", (const char *[]){"x", "ghost", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    cr_assert_null(import_model(m, 1, &err));
    cr_assert(strstr(err.msg, "reads 'ghost', which no node, input or initializer defines"), "message was: %s", err.msg);
    tb_model_free(m);
    /* a value defined twice */
    m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){3});
    tb_node(m, "Relu", "a", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    tb_node(m, "Relu", "b", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    tb_output(m, "y", SD_DT_F32);
    cr_assert_null(import_model(m, 1, &err));
    cr_assert(strstr(err.msg, "value 'y' is defined twice"), "message was: %s", err.msg);
    tb_model_free(m);
    /* an output nobody computes */
    m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){3});
    tb_output(m, "nothing", SD_DT_F32);
    cr_assert_null(import_model(m, 1, &err));
    cr_assert(strstr(err.msg, "graph output 'nothing'"), "message was: %s", err.msg);
    tb_model_free(m);
    /* a cycle */
    m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){3});
    tb_node(m, "Add", "a", (const char *[]){"x", "c", NULL}, (const char *[]){"b", NULL});
    tb_node(m, "Relu", "r", (const char *[]){"b", NULL}, (const char *[]){"c", NULL});
    tb_output(m, "c", SD_DT_F32);
    cr_assert_null(import_model(m, 1, &err));
    cr_assert(strstr(err.msg, "cycle"), "message was: %s", err.msg);
    tb_model_free(m);
}

Test(onnx_import, accepts_nodes_out_of_topological_order)
{
    SdError err = {0};
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 1, (int64_t[]){3});
    tb_node(m, "Relu", "second", (const char *[]){"t", NULL}, (const char *[]){"y", NULL});
    tb_node(m, "Neg", "first", (const char *[]){"x", NULL}, (const char *[]){"t", NULL});
    tb_output(m, "y", SD_DT_F32);
    IrGraph *g = import_model(m, 1, &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(ir_graph_node(g, 0)->op, IR_OP_NEG);
    cr_assert_eq(ir_verify(g, false, &err), SD_OK, "%s", err.msg);
    ir_graph_free(g);
    tb_model_free(m);
}

Test(onnx_import, rejects_empty_and_graphless_files)
{
    SdError err = {0};
    IrGraph *g;
    OnnxImportOptions opt = {0};
    cr_assert_neq(onnx_import_buffer((const uint8_t *)"", 0, "empty.onnx", &opt, &g, NULL, &err), SD_OK);
    cr_assert(strstr(err.msg, "empty.onnx") && strstr(err.msg, "no graph"), "message was: %s", err.msg);
    cr_assert_neq(onnx_import_file("/nonexistent/model.onnx", &opt, &g, NULL, &err), SD_OK);
    cr_assert_eq(err.status, SD_EIO);
    cr_assert(strstr(err.msg, "cannot open '/nonexistent/model.onnx'"), "message was: %s", err.msg);
}

/* Truncations at every offset, every single-bit flip and random bytes: each either imports or
 * fails with a message naming the file. Run the full import (not just the wire check). */
Test(onnx_import, survives_truncated_flipped_and_random_files)
{
    TbModel *m = tb_model_new(13);
    float w[6] = {1, 2, 3, 4, 5, 6};
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){-1, 3});
    tb_init_f32(m, "w", 2, (int64_t[]){3, 2}, w, 1);
    tb_init_i64(m, "shape", 1, (int64_t[]){2}, (int64_t[]){2, 1});
    tb_node(m, "MatMul", "mm", (const char *[]){"x", "w", NULL}, (const char *[]){"h", NULL});
    tb_node(m, "Reshape", "rs", (const char *[]){"h", "shape", NULL}, (const char *[]){"y", NULL});
    tb_attr_int(m, "allowzero", 0);
    tb_output(m, "y", SD_DT_F32);
    size_t len;
    uint8_t *good = tb_pack(m, &len);
    uint8_t *buf = malloc(len);
    OnnxImportOptions opt = {.batch = 1};
    SdError err;
    IrGraph *g;
    for (size_t cut = 0; cut < len; cut++) {
        memset(&err, 0, sizeof err);
        if (onnx_import_buffer(good, cut, "cut.onnx", &opt, &g, NULL, &err) == SD_OK)
            ir_graph_free(g);
        else
            cr_assert(strstr(err.msg, "cut.onnx") || err.status == SD_ENOMEM, "cut %zu: %s", cut, err.msg);
    }
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(buf, good, len);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memset(&err, 0, sizeof err);
        if (onnx_import_buffer(buf, len, "flip.onnx", &opt, &g, NULL, &err) == SD_OK)
            ir_graph_free(g);
        else
            cr_assert(err.msg[0], "bit %zu: empty message", bit);
    }
    srand(7);
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand() % 400);
        for (size_t i = 0; i < n; i++)
            buf[i % len] = (uint8_t)rand();
        memset(&err, 0, sizeof err);
        if (onnx_import_buffer(buf, n < len ? n : len, "random.onnx", &opt, &g, NULL, &err) == SD_OK)
            ir_graph_free(g);
    }
    free(buf);
    free(good);
    tb_model_free(m);
}

/* graph -> node -> attribute -> graph ... 3000 levels: protobuf-c alone overflows its stack. */
Test(onnx_import, rejects_deeply_nested_subgraphs)
{
    /* Built inside out: g(k) = GraphProto{ node: NodeProto{ attribute: AttributeProto{ g: g(k-1) } } } */
    size_t cap = 1 << 20, len = 0;
    uint8_t *inner = calloc(cap, 1), *outer = calloc(cap, 1);
    for (int level = 0; level < 3000; level++) {
        uint8_t *o = outer;
        size_t k = 0;
        /* AttributeProto: name=1 "a", g=6 <inner> */
        uint8_t attr[16];
        size_t a = 0;
        attr[a++] = 0x0a, attr[a++] = 1, attr[a++] = 'a';
        attr[a++] = 0x32;
        size_t v = len;
        do { attr[a++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>= 7; } while (v);
        size_t attr_len = a + len;
        /* NodeProto: attribute=5 <attr> */
        uint8_t node_hdr[16];
        size_t nh = 0;
        node_hdr[nh++] = 0x2a;
        v = attr_len;
        do { node_hdr[nh++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>= 7; } while (v);
        size_t node_len = nh + attr_len;
        /* GraphProto: node=1 <node> */
        o[k++] = 0x0a;
        v = node_len;
        do { o[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>= 7; } while (v);
        memcpy(o + k, node_hdr, nh), k += nh;
        memcpy(o + k, attr, a), k += a;
        memcpy(o + k, inner, len), k += len;
        cr_assert(k < cap);
        memcpy(inner, o, k);
        len = k;
    }
    /* ModelProto: graph=7 <inner> */
    uint8_t *model = calloc(cap, 1);
    size_t k = 0;
    model[k++] = 0x3a;
    size_t v = len;
    do { model[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>= 7; } while (v);
    memcpy(model + k, inner, len);
    k += len;
    SdError err = {0};
    IrGraph *g;
    OnnxImportOptions opt = {0};
    cr_assert_eq(onnx_import_buffer(model, k, "deep.onnx", &opt, &g, NULL, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "deep.onnx") && strstr(err.msg, "nesting deeper than"), "message was: %s", err.msg);
    free(inner), free(outer), free(model);
}
