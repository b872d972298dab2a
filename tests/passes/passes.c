/* tests/passes/passes.c — shape inference messages, dead-code elimination, constant folding and
 * the memory plan's one promise: values alive at the same time never share bytes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "codegen/codegen.h"
#include "passes/pass.h"

static SdStatus eval(void *ctx, const IrNode *n, void *const *outputs, SdError *err)
{
    (void)ctx;
    return cg_eval_node(n, NULL, outputs, err);
}

static const PassOptions fold_opts = {.eval = eval, .verify = true};

Test(passes, shape_errors_name_the_node_and_the_shapes)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("bad_add");
    ir_graph_set_source(g, "model.onnx");
    IrShape a = ir_shape_make(2, (int64_t[]){2, 3}), b = ir_shape_make(2, (int64_t[]){4, 3});
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &a), *y = ir_value_new(g, "y", SD_DT_F32, &b);
    ir_graph_add_input(g, x);
    ir_graph_add_input(g, y);
    IrNode *n = ir_node_new1(g, IR_OP_ADD, "Add_7", (IrValue *[]){x, y}, 2, SD_DT_F32);
    ir_graph_add_output(g, n->outputs[0]);
    cr_assert_eq(pass_shape(g, &fold_opts, &err), SD_ESHAPE);
    cr_assert(strstr(err.msg, "model.onnx: node 'Add_7' (add): shapes [2,3] and [4,3] do not broadcast"),
              "%s", err.msg);
    ir_graph_free(g);
}

Test(passes, folds_shape_computations_and_removes_dead_nodes)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("fold");
    IrShape s = ir_shape_make(4, (int64_t[]){2, 3, 4, 5});
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &s);
    ir_graph_add_input(g, x);
    /* reshape(x, shape(x)[0:1] ++ [-1]) : the Shape -> Slice -> Concat chain must fold away */
    IrNode *shp = ir_node_new1(g, IR_OP_SHAPE, "shape", (IrValue *[]){x}, 1, SD_DT_I64);
    shp->attrs.generate.end = 1, shp->attrs.generate.has_end = true;
    IrShape one = ir_shape_make(1, (int64_t[]){1});
    IrValue *minus1 = ir_constant_new(g, "minus1", SD_DT_I64, &one, (int64_t[]){-1}, &err);
    IrNode *cat = ir_node_new1(g, IR_OP_CONCAT, "cat", (IrValue *[]){shp->outputs[0], minus1}, 2, SD_DT_I64);
    cat->attrs.movement.axis = 0;
    IrNode *rs = ir_node_new1(g, IR_OP_RESHAPE, "rs", (IrValue *[]){x, cat->outputs[0]}, 2, SD_DT_F32);
    /* a dead branch */
    ir_node_new1(g, IR_OP_EXP, "dead", (IrValue *[]){x}, 1, SD_DT_F32);
    ir_graph_add_output(g, rs->outputs[0]);
    cr_assert_eq(pass_run_pipeline(g, "inference", &fold_opts, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(ir_graph_num_nodes(g), 1, "only the reshape is left");
    IrNode *only = ir_graph_node(g, 0);
    cr_assert_eq(only->op, IR_OP_RESHAPE);
    cr_assert_eq(only->outputs[0]->shape.rank, 2);
    cr_assert_eq(only->outputs[0]->shape.dims[0], 2);
    cr_assert_eq(only->outputs[0]->shape.dims[1], 60);
    ir_graph_free(g);
}

/* A random DAG of elementwise ops; after planning, any two temporaries whose lives overlap must
 * occupy disjoint byte ranges, and the arena must hold them all. The one allowed sharing is an
 * elementwise op writing over an input it is the last reader of (lives that only touch). */
Test(passes, memory_plan_never_overlaps_live_values)
{
    srand(11);
    for (int round = 0; round < 30; round++) {
        SdError err = {0};
        IrGraph *g = ir_graph_new("plan");
        IrValue *vals[64];
        int nv = 0;
        IrShape s = ir_shape_make(1, (int64_t[]){1 + rand() % 100});
        vals[nv++] = ir_value_new(g, "x", SD_DT_F32, &s);
        ir_graph_add_input(g, vals[0]);
        for (int k = 0; k < 40; k++) {
            IrValue *a = vals[rand() % nv], *b = vals[rand() % nv];
            IrNode *n = ir_node_new1(g, rand() % 2 ? IR_OP_ADD : IR_OP_MUL, NULL, (IrValue *[]){a, b}, 2, SD_DT_F32);
            vals[nv++] = n->outputs[0];
        }
        ir_graph_add_output(g, vals[nv - 1]);
        PassOptions po = {.verify = true};
        cr_assert_eq(pass_run_pipeline(g, "inference", &po, &err), SD_OK, "%s", err.msg);
        int n_nodes = ir_graph_num_nodes(g);
        for (int i = 0; i < ir_graph_num_values(g); i++) {
            IrValue *u = ir_graph_value(g, i);
            if (u->arena_offset < 0)
                continue;
            cr_assert_leq((size_t)u->arena_offset + ir_value_nbytes(u), ir_graph_arena_bytes(g));
            for (int j = 0; j < ir_graph_num_values(g); j++) {
                IrValue *w = ir_graph_value(g, j);
                if (w == u || w->arena_offset < 0)
                    continue;
                /* live ranges by node position */
                int u0 = -1, u1 = -1, w0 = -1, w1 = -1;
                for (int k = 0; k < n_nodes; k++) {
                    IrNode *n = ir_graph_node(g, k);
                    for (int q = 0; q < n->n_inputs; q++) {
                        if (n->inputs[q] == u) u1 = k;
                        if (n->inputs[q] == w) w1 = k;
                    }
                    if (n->outputs[0] == u) u0 = k;
                    if (n->outputs[0] == w) w0 = k;
                }
                if (u1 < u0) u1 = u0;
                if (w1 < w0) w1 = w0;
                bool live_together = u0 <= w1 && w0 <= u1 && u1 != w0 && w1 != u0;
                bool disjoint = u->arena_offset + (int64_t)ir_value_nbytes(u) <= w->arena_offset ||
                                w->arena_offset + (int64_t)ir_value_nbytes(w) <= u->arena_offset;
                cr_assert(!live_together || disjoint, "round %d: %s and %s overlap", round, u->name, w->name);
            }
        }
        ir_graph_free(g);
    }
}

/* Binding compiles in only the inputs whose contents a shape depends on: an input read by Shape
 * (its shape, not its contents) stays a run-time input. */
Test(passes, binds_only_inputs_whose_contents_shapes_need)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("bind");
    IrShape xs = ir_shape_make(2, (int64_t[]){2, 3}), ss = ir_shape_make(1, (int64_t[]){2});
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &xs), *shape = ir_value_new(g, "target", SD_DT_I64, &ss);
    ir_graph_add_input(g, x);
    ir_graph_add_input(g, shape);
    IrNode *shp = ir_node_new1(g, IR_OP_SHAPE, "shape_of_x", (IrValue *[]){x}, 1, SD_DT_I64);
    IrNode *exp = ir_node_new1(g, IR_OP_EXPAND, "expand", (IrValue *[]){x, shp->outputs[0]}, 2, SD_DT_F32);
    IrNode *rs = ir_node_new1(g, IR_OP_RESHAPE, "reshape", (IrValue *[]){exp->outputs[0], shape}, 2, SD_DT_F32);
    ir_graph_add_output(g, rs->outputs[0]);
    float xd[6] = {0};
    int64_t sd[2] = {3, 2};
    PassBinding b[2] = {{SD_DT_F32, 2, xs.dims, xd}, {SD_DT_I64, 1, ss.dims, sd}};
    bool bound[2];
    cr_assert_eq(pass_bind_static_inputs(g, b, 2, bound, &err), SD_OK, "%s", err.msg);
    cr_assert(!bound[0], "x only feeds Shape and data ops: it must stay an input");
    cr_assert(bound[1], "the Reshape target is needed at compile time");
    cr_assert_eq(ir_graph_num_inputs(g), 1);
    cr_assert_eq(ir_graph_input(g, 0), x);
    ir_graph_free(g);
}
