/* tests/codegen/quant_harness.h — a graph around one quantized or bf16 op for quant.c and
 * quant_bf16.c: constants, the activation as a graph input (JIT) or a constant (folded through the
 * natively built kernels), PACK_WEIGHTS, compile and run. */
#ifndef SD_TESTS_CODEGEN_QUANT_HARNESS_H
#define SD_TESTS_CODEGEN_QUANT_HARNESS_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "api/driver.h"
#include "ir/graph.h"

static inline uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static inline IrValue *cst(IrGraph *g, const char *name, SdDType dt, int rank, const int64_t *dims,
                           const void *data)
{
    SdError err = {0};
    IrShape s = ir_shape_make(rank, dims);
    IrValue *v = ir_constant_new(g, name, dt, &s, data, &err);
    cr_assert_not_null(v, "%s", err.msg);
    return v;
}

/* Compiles g (whose single output is the op's) and runs it on `x` when x is a graph input; disable:
 * as --disable's list (NULL: nothing). */
static inline void compile_run_disabled(IrGraph *g, const RtTensor *x, RtTensor *out, const char *disable)
{
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.verify = true;
    if (disable)
        opt.disable = disable;
    cr_assert_eq(sd_optimize(g, &opt, NULL, NULL, NULL, &err), SD_OK, "%s", err.msg);
    SdModel *m = NULL;
    cr_assert_eq(sd_model_compile(g, &opt, &m, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_model_run(m, x, x ? 1 : 0, out, 1, &err), SD_OK, "%s", err.msg);
    sd_model_free(m);
}

/* The activation operand: a graph input (JIT) or a constant (everything folds natively). */
static inline IrValue *activation(IrGraph *g, bool jit, SdDType dt, int rank, const int64_t *dims,
                                  const void *data, RtTensor *t)
{
    IrShape s = ir_shape_make(rank, dims);
    if (!jit)
        return cst(g, "x", dt, rank, dims, data);
    IrValue *v = ir_value_new(g, "x", dt, &s);
    ir_graph_add_input(g, v);
    memset(t, 0, sizeof *t);
    t->dtype = dt, t->rank = rank;
    if (rank > 0)
        memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    t->nbytes = (size_t)ir_shape_numel(&s) * sd_dtype_size(dt);
    t->data = (void *)data;
    return v;
}

static inline IrValue *pack(IrGraph *g, IrValue *w, SdDType to, int64_t groups, int64_t depth)
{
    IrNode *n = ir_node_new1(g, IR_OP_PACK_WEIGHTS, "pack", &w, 1, to);
    n->attrs.quant.out_dtype = to;
    n->attrs.quant.conv.groups = groups;
    n->attrs.quant.depth = depth;
    return n->outputs[0];
}

#endif
