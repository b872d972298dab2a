/* tests/ir/graph.c — the graph IR: building, the verifier's invariants, topological sorting,
 * compaction, and the text and DOT forms. */
#include <criterion/criterion.h>
#include <string.h>

#include "ir/graph.h"

static IrShape shape2(int64_t a, int64_t b) { return ir_shape_make(2, (int64_t[]){a, b}); }

Test(ir_graph, builds_verifies_and_prints)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("tiny");
    IrShape s = shape2(2, 3);
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &s);
    ir_graph_add_input(g, x);
    float w[6] = {1, 2, 3, 4, 5, 6};
    IrValue *c = ir_constant_new(g, "w", SD_DT_F32, &s, w, &err);
    cr_assert_not_null(c);
    IrNode *add = ir_node_new1(g, IR_OP_ADD, "add0", (IrValue *[]){x, c}, 2, SD_DT_F32);
    IrNode *relu = ir_node_new1(g, IR_OP_RELU, "relu0", (IrValue *[]){add->outputs[0]}, 1, SD_DT_F32);
    ir_graph_add_output(g, relu->outputs[0]);
    cr_assert_eq(ir_verify(g, false, &err), SD_OK, "%s", err.msg);
    cr_assert_neq(ir_verify(g, true, &err), SD_OK, "shapes are not inferred yet");
    cr_assert(strstr(err.msg, "has no shape"), "%s", err.msg);
    cr_assert_eq(c->n_uses, 1);
    cr_assert_eq(add->outputs[0]->n_uses, 1);

    SdStrbuf text = {0};
    ir_print(g, &text);
    cr_assert(strstr(sd_strbuf_str(&text), "graph \"tiny\""));
    cr_assert(strstr(sd_strbuf_str(&text), "= add(%x, %w)"), "%s", sd_strbuf_str(&text));
    cr_assert(strstr(sd_strbuf_str(&text), "output %relu0"), "%s", sd_strbuf_str(&text));
    sd_strbuf_free(&text);
    SdStrbuf dot = {0};
    ir_write_dot(g, &dot);
    cr_assert(strstr(sd_strbuf_str(&dot), "digraph \"tiny\""));
    cr_assert(strstr(sd_strbuf_str(&dot), "-> out0"));
    sd_strbuf_free(&dot);
    ir_graph_free(g);
}

Test(ir_graph, verifier_catches_broken_invariants)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("broken");
    IrShape s = shape2(1, 1);
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &s);
    ir_graph_add_input(g, x);
    IrValue *t = ir_value_new(g, "t", SD_DT_F32, &s);
    /* reads t before the node that makes it */
    IrNode *a = ir_node_new1(g, IR_OP_RELU, "a", (IrValue *[]){t}, 1, SD_DT_F32);
    ir_node_new(g, IR_OP_NEG, "b", (IrValue *[]){x}, 1, (IrValue *[]){t}, 1);
    ir_graph_add_output(g, a->outputs[0]);
    cr_assert_neq(ir_verify(g, false, &err), SD_OK);
    cr_assert(strstr(err.msg, "reads 't' before it is produced"), "%s", err.msg);
    cr_assert_eq(ir_graph_toposort(g, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(ir_verify(g, false, &err), SD_OK, "%s", err.msg);
    /* wrong arity */
    IrNode *bad = ir_node_new1(g, IR_OP_ADD, "bad", (IrValue *[]){x}, 1, SD_DT_F32);
    cr_assert_neq(ir_verify(g, false, &err), SD_OK);
    cr_assert(strstr(err.msg, "node 'bad' (add) has 1 inputs"), "%s", err.msg);
    ir_node_remove(g, bad);
    cr_assert_neq(ir_verify(g, false, &err), SD_OK, "removed nodes must be compacted away");
    ir_graph_compact(g);
    cr_assert_eq(ir_verify(g, false, &err), SD_OK, "%s", err.msg);
    cr_assert_null(ir_graph_find_value(g, "bad"), "the dead output value is gone after compaction");
    ir_graph_free(g);
}

Test(ir_graph, toposort_detects_cycles_and_replace_uses_rewires)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("cycle");
    IrShape s = shape2(1, 1);
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &s);
    ir_graph_add_input(g, x);
    IrValue *p = ir_value_new(g, "p", SD_DT_F32, &s), *q = ir_value_new(g, "q", SD_DT_F32, &s);
    ir_node_new(g, IR_OP_ADD, "a", (IrValue *[]){x, q}, 2, (IrValue *[]){p}, 1);
    ir_node_new(g, IR_OP_RELU, "b", (IrValue *[]){p}, 1, (IrValue *[]){q}, 1);
    ir_graph_add_output(g, q);
    cr_assert_eq(ir_graph_toposort(g, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "cycle"), "%s", err.msg);
    ir_graph_free(g);

    g = ir_graph_new("rewire");
    x = ir_value_new(g, "x", SD_DT_F32, &s);
    ir_graph_add_input(g, x);
    IrNode *id = ir_node_new1(g, IR_OP_IDENTITY, "id", (IrValue *[]){x}, 1, SD_DT_F32);
    IrNode *r = ir_node_new1(g, IR_OP_RELU, "r", (IrValue *[]){id->outputs[0]}, 1, SD_DT_F32);
    ir_graph_add_output(g, r->outputs[0]);
    ir_graph_replace_uses(g, id->outputs[0], x);
    cr_assert_eq(r->inputs[0], x);
    cr_assert_eq(x->n_uses, 2);
    ir_node_remove(g, id);
    ir_graph_compact(g);
    cr_assert_eq(ir_graph_num_nodes(g), 1);
    cr_assert_eq(x->n_uses, 1);
    cr_assert_eq(ir_verify(g, false, &err), SD_OK, "%s", err.msg);
    ir_graph_free(g);
}

Test(ir_graph, names_stay_unique_and_constants_check_sizes)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("names");
    IrShape s = shape2(2, 2);
    IrValue *a = ir_value_new(g, "v", SD_DT_F32, &s);
    IrValue *b = ir_value_new(g, "v", SD_DT_F32, &s);
    cr_assert_str_eq(a->name, "v");
    cr_assert_str_neq(b->name, "v");
    cr_assert_eq(ir_graph_find_value(g, b->name), b);
    for (int i = 0; i < 500; i++)
        cr_assert_not_null(ir_value_new(g, "many", SD_DT_I64, NULL));
    cr_assert_eq(ir_graph_find_value(g, "v"), a, "the name table survives growth");
    IrShape huge = ir_shape_make(2, (int64_t[]){INT64_MAX / 2, 4});
    cr_assert_null(ir_constant_new(g, "huge", SD_DT_F32, &huge, NULL, &err));
    cr_assert(strstr(err.msg, "huge"), "%s", err.msg);
    char buf[64];
    cr_assert_str_eq(ir_value_type_str(a, buf, sizeof buf), "f32[2,2]");
    ir_graph_free(g);
}
