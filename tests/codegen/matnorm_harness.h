/* tests/codegen/matnorm_harness.h — small graphs built by hand in the IR, compiled through the
 * inference pipeline (with a chosen GEMM path and disabled passes) and run on the test's own
 * buffers; deterministic random data; for the matmul, norm and einsum tests. */
#ifndef SD_TESTS_MATNORM_HARNESS_H
#define SD_TESTS_MATNORM_HARNESS_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "ir/graph.h"

typedef struct {
    uint64_t state;
} TRng;

/* uniform in [-1, 1) */
static inline float trng_f32(TRng *r)
{
    r->state = r->state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(r->state >> 40) / (double)(1 << 24) * 2.0 - 1.0);
}

static inline float *trand(TRng *r, int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    cr_assert_not_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = trng_f32(r);
    return p;
}

static inline int64_t tnumel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

static inline IrGraph *tgraph(void)
{
    IrGraph *g = ir_graph_new("test");
    cr_assert_not_null(g);
    ir_graph_set_source(g, "test");
    return g;
}

static inline IrValue *tinput(IrGraph *g, const char *name, SdDType dt, int rank, const int64_t *dims)
{
    IrShape s = ir_shape_make(rank, dims);
    IrValue *v = ir_value_new(g, name, dt, &s);
    cr_assert_not_null(v);
    v->role = IR_ROLE_INPUT;
    ir_graph_add_input(g, v);
    return v;
}

static inline IrValue *tconst(IrGraph *g, const char *name, int rank, const int64_t *dims, const float *data)
{
    SdError err = {0};
    IrShape s = ir_shape_make(rank, dims);
    IrValue *v = ir_constant_new(g, name, SD_DT_F32, &s, data, &err);
    cr_assert_not_null(v, "%s", err.msg);
    return v;
}

/* A node with n_out fresh outputs (shapes unknown until inference); returns it. */
static inline IrNode *tnode(IrGraph *g, IrOp op, const char *name, IrValue *const *ins, int n_in, int n_out)
{
    IrValue *outs[4];
    for (int i = 0; i < n_out; i++) {
        char vn[64];
        snprintf(vn, sizeof vn, "%s_%d", name, i);
        outs[i] = ir_value_new(g, vn, SD_DT_UNDEFINED, NULL);
        cr_assert_not_null(outs[i]);
    }
    IrNode *n = ir_node_new(g, op, name, ins, n_in, outs, n_out);
    cr_assert_not_null(n);
    return n;
}

typedef struct {
    const char *gemm;    /* "openblas" or "builtin" */
    const char *disable; /* passes to skip, or NULL */
} TConfig;

/* Optimizes and compiles g (the model then owns it); on failure frees g and returns the status. */
static inline SdStatus tcompile(IrGraph *g, TConfig cfg, SdModel **m, SdError *err)
{
    SdOptions o = sd_options_default();
    o.gemm = cfg.gemm;
    o.disable = cfg.disable;
    o.verify = true;
    *m = NULL;
    SdStatus st = sd_optimize(g, &o, NULL, NULL, NULL, err);
    if (st == SD_OK)
        st = sd_model_compile(g, &o, m, err);
    if (st != SD_OK)
        ir_graph_free(g);
    return st;
}

static inline SdModel *tcompile_ok(IrGraph *g, TConfig cfg)
{
    SdError err = {0};
    SdModel *m;
    SdStatus st = tcompile(g, cfg, &m, &err);
    cr_assert_eq(st, SD_OK, "compile (gemm=%s, disable=%s) failed: %s", cfg.gemm, cfg.disable ? cfg.disable : "-",
                 err.msg);
    return m;
}

/* max over i of |got - want| / (atol + rtol * scale[i]) must stay <= 1; scale NULL means |want| */
static inline void tclose(const float *got, const double *want, const double *scale, int64_t n, double atol,
                          double rtol, const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double s = scale ? scale[i] : fabs(want[i]);
        double tol = atol + rtol * s;
        cr_assert(fabs((double)got[i] - want[i]) <= tol, "%s: element %lld is %.9g, expected %.9g (tolerance %.3g)",
                  what, (long long)i, (double)got[i], want[i], tol);
    }
}

static const TConfig tconfigs[] = {
    {"openblas", NULL},
    {"builtin", NULL},
    {"openblas", "canonicalize"},
    {"builtin", "canonicalize,fold,dce,memplan"},
};
#define N_TCONFIGS ((int)(sizeof tconfigs / sizeof tconfigs[0]))

#endif
