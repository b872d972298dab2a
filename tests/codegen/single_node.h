/* tests/codegen/single_node.h — build a graph around one IR node, compile it and run it, for the
 * op-family tests in this folder. Tensors are float/int buffers the test owns; every operand can be
 * a run-time input (compiled by the JIT) or a constant (then shape inference folds the node through
 * the interpreter, which runs the natively compiled kernels), so one case checks both paths. */
#ifndef SD_TESTS_CODEGEN_SINGLE_NODE_H
#define SD_TESTS_CODEGEN_SINGLE_NODE_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "api/seedc.h"
#include "ir/graph.h"
#include "support/mem.h"

#define SN_MAX_OPERANDS 4

typedef struct SnOperand {
    SdDType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
    const void *data;   /* NULL: an absent optional input */
    bool constant;      /* a compile-time constant instead of a graph input */
} SnOperand;

/* One node `op` over the operands; `setup` fills its attributes. The output is allocated into *out
 * (rt_tensor_free it). On failure the status is returned and err says why. */
static inline SdStatus sn_run(IrOp op, const SnOperand *ops, int n_ops, SdDType out_dtype,
                              void (*setup)(IrNode *n, void *ctx), void *ctx, bool fold, RtTensor *out,
                              SdError *err)
{
    memset(out, 0, sizeof *out);
    IrGraph *g = ir_graph_new("single_node");
    ir_graph_set_source(g, "test");
    IrValue *ins[SN_MAX_OPERANDS] = {0};
    RtTensor run_inputs[SN_MAX_OPERANDS];
    int n_run = 0;
    for (int i = 0; i < n_ops; i++) {
        if (!ops[i].data)
            continue;
        IrShape s = ir_shape_make(ops[i].rank, ops[i].dims);
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        if (ops[i].constant || fold) {
            ins[i] = ir_constant_new(g, name, ops[i].dtype, &s, ops[i].data, err);
            cr_assert_not_null(ins[i], "%s", err->msg);
        } else {
            ins[i] = ir_value_new(g, name, ops[i].dtype, &s);
            ir_graph_add_input(g, ins[i]);
            RtTensor *t = &run_inputs[n_run++];
            memset(t, 0, sizeof *t);
            t->dtype = ops[i].dtype;
            t->rank = ops[i].rank;
            memcpy(t->dims, ops[i].dims, sizeof t->dims);
            t->nbytes = (size_t)ir_shape_numel(&s) * sd_dtype_size(ops[i].dtype);
            t->data = (void *)ops[i].data;
        }
    }
    IrNode *n = ir_node_new1(g, op, "node_under_test", ins, n_ops, out_dtype);
    cr_assert_not_null(n);
    if (setup)
        setup(n, ctx);
    ir_graph_add_output(g, n->outputs[0]);
    SdOptions opt = sd_options_default();
    opt.verify = true;
    opt.threads = 2; /* the plans for threads (channel chunks, blocks a thread) whatever the machine's cores */
    SdStatus st = sd_optimize(g, &opt, NULL, NULL, NULL, err);
    SdModel *m = NULL;
    if (st == SD_OK)
        st = sd_model_compile(g, &opt, &m, err);
    if (st != SD_OK) {
        ir_graph_free(g);
        return st;
    }
    st = sd_model_run(m, run_inputs, n_run, out, 1, err);
    sd_model_free(m);
    return st;
}

/* Deterministic values in [lo, hi). */
static inline void sn_fill(float *x, int64_t n, uint32_t seed, float lo, float hi)
{
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = lo + (hi - lo) * (float)(s >> 8) * (1.0f / 16777216.0f);
    }
}

static inline int64_t sn_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

/* Asserts |got - want| <= atol + rtol |want| elementwise (NaN matches NaN, inf matches inf). */
static inline void sn_expect_close(const float *got, const double *want, int64_t n, double rtol, double atol,
                                   const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        bool ok = (isnan(g) && isnan(w)) || g == w || fabs(g - w) <= atol + rtol * fabs(w);
        cr_assert(ok, "%s: element %lld is %.9g, expected %.9g", what, (long long)i, g, w);
    }
}

#endif
