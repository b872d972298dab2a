/* tests/passes/gradfam.h — gradient checks for the conv, pool and norm rules (the pattern of the
 * shared finite-difference harness, kept here so these tests stand alone). A case is one forward
 * node on small inputs and a loss L = sum(w * y) with fixed random w. The analytic gradient comes
 * from the family's rule (called directly: the loss's own gradient is w, so no other family's rule
 * is involved), compiled and run by the JIT (or folded through the interpreter). It is checked
 *   1. against central differences of a double-precision reference forward written in the test
 *      (tight: the f32 kernels must be as exact as f32 allows), and
 *   2. against central differences of the f32 JIT forward with h ~ 1e-2 (|x| + 1), in double
 *      (loose: the compiled forward and the rule agree). */
#ifndef SD_TESTS_PASSES_GRADFAM_H
#define SD_TESTS_PASSES_GRADFAM_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "api/seedc.h"
#include "codegen/codegen.h"
#include "ir/graph.h"
#include "passes/grad/grad.h"
#include "passes/pass.h"

#define GF_MAX_IN 5

typedef struct GfTensor {
    int rank;
    int64_t dims[IR_MAX_RANK];
    float *data;  /* NULL: an absent optional input */
    bool diff;    /* its gradient is checked */
} GfTensor;

/* Makes the forward node over ins (entries NULL where absent) and sets its attributes. */
typedef IrNode *(*GfBuild)(IrGraph *g, IrValue *const *ins, const void *ctx);
/* y (shape ydims) from double inputs in[i] shaped like the case's tensors. */
typedef void (*GfRef)(const double *const *in, const GfTensor *shapes, const int64_t *ydims, int yrank, double *y,
                      const void *ctx);
typedef SdStatus (*GfRule)(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx);

typedef struct GfCase {
    const char *name;
    int n_in;
    GfTensor in[GF_MAX_IN];
    GfBuild build;
    GfRef ref;
    GfRule rule;
    const void *ctx;
    int out;            /* the output the loss reads */
    double h_rel;       /* f32 finite differences: h = h_rel (|x| + 1); 0 means 1e-2 */
    double tol;         /* f32 finite differences: relative tolerance; 0 means 1e-2 */
    int64_t sample;     /* check every sample-th element only (big cases); 0 means all */
} GfCase;

static inline int64_t gf_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

/* Deterministic values in [lo, hi). */
static inline float *gf_rand(int64_t n, uint32_t seed, float lo, float hi)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    cr_assert_not_null(v);
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 7;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = lo + (hi - lo) * (float)((double)(s >> 40) / (double)(1 << 24));
    }
    return v;
}

/* Distinct values spaced by `step`, shuffled: no two within a finite-difference step (max pools). */
static inline float *gf_distinct(int64_t n, uint32_t seed, float step)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = ((float)i - (float)n / 2) * step;
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 3;
    for (int64_t i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t j = (int64_t)((s >> 33) % (uint64_t)(i + 1));
        float t = v[i];
        v[i] = v[j], v[j] = t;
    }
    return v;
}

static inline GfTensor gf_tensor(int rank, const int64_t *dims, float *data, bool diff)
{
    GfTensor t = {.rank = rank, .data = data, .diff = diff};
    memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
    return t;
}

static inline void gf_free_case(GfCase *c)
{
    for (int i = 0; i < c->n_in; i++)
        free(c->in[i].data);
}

/* A node with n_out fresh outputs; for the builders. */
static inline IrNode *gf_node(IrGraph *g, IrOp op, IrValue *const *ins, int n_in, int n_out)
{
    IrValue *outs[4];
    for (int i = 0; i < n_out; i++)
        cr_assert_not_null(outs[i] = ir_value_new(g, "y", SD_DT_UNDEFINED, NULL));
    IrNode *n = ir_node_new(g, op, "node_under_test", ins, n_in, outs, n_out);
    cr_assert_not_null(n);
    return n;
}

/* The case's inputs as graph inputs (or constants when fold), the forward node built on them. */
static inline IrNode *gf_forward(IrGraph *g, const GfCase *c, bool fold, IrValue **ins)
{
    SdError err = {0};
    for (int i = 0; i < c->n_in; i++) {
        ins[i] = NULL;
        if (!c->in[i].data)
            continue;
        IrShape s = ir_shape_make(c->in[i].rank, c->in[i].dims);
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        if (fold) {
            ins[i] = ir_constant_new(g, name, SD_DT_F32, &s, c->in[i].data, &err);
            cr_assert_not_null(ins[i], "%s", err.msg);
        } else {
            ins[i] = ir_value_new(g, name, SD_DT_F32, &s);
            ir_graph_add_input(g, ins[i]);
        }
    }
    return c->build(g, ins, c->ctx);
}

static inline SdModel *gf_compile(IrGraph *g, const char *gemm)
{
    SdError err = {0};
    SdOptions o = sd_options_default();
    o.gemm = gemm;
    o.verify = true;
    SdModel *m = NULL;
    SdStatus st = sd_optimize(g, &o, NULL, NULL, NULL, &err);
    if (st == SD_OK)
        st = sd_model_compile(g, &o, &m, &err);
    cr_assert_eq(st, SD_OK, "compile failed: %s", err.msg);
    return m;
}

static inline SdStatus gf_eval(void *ctx, const IrNode *n, void *const *outputs, SdError *err)
{
    return cg_eval_node(n, ctx, outputs, err);
}

/* The passes after shape inference (shape functions that read compile-time inputs drop them, so
 * shapes are inferred once: grad_node did that for the rule's nodes), then the JIT. */
static inline SdModel *gf_compile_grads(IrGraph *g, const char *gemm)
{
    SdError err = {0};
    CgLowerOptions lo = {.gemm = strcmp(gemm, "builtin") == 0 ? CG_GEMM_BUILTIN : CG_GEMM_OPENBLAS};
    PassOptions po = {.eval = gf_eval, .eval_ctx = &lo, .verify = true};
    SdStatus st = pass_canonicalize(g, &po, &err);
    if (st == SD_OK)
        st = pass_fold(g, &po, &err);
    if (st == SD_OK)
        st = pass_dce(g, &po, &err);
    if (st == SD_OK)
        st = pass_memplan(g, &po, &err);
    SdOptions o = sd_options_default();
    o.gemm = gemm;
    SdModel *m = NULL;
    if (st == SD_OK)
        st = sd_model_compile(g, &o, &m, &err);
    cr_assert_eq(st, SD_OK, "compile failed: %s", err.msg);
    return m;
}

/* The compiled forward (inputs in case order, absent ones skipped) and the loss output's shape. */
static inline SdModel *gf_forward_model(const GfCase *c, int *yrank, int64_t *ydims)
{
    IrGraph *g = ir_graph_new("gf_forward");
    ir_graph_set_source(g, "test");
    IrValue *ins[GF_MAX_IN];
    IrNode *n = gf_forward(g, c, false, ins);
    ir_graph_add_output(g, n->outputs[c->out]);
    SdModel *m = gf_compile(g, "openblas");
    SdTensorInfo info = sd_model_output(m, 0);
    *yrank = info.rank;
    memcpy(ydims, info.dims, sizeof(int64_t) * (size_t)info.rank);
    return m;
}

static inline double gf_loss(SdModel *m, const GfCase *c, const float *w, float *y, int64_t ny)
{
    void *ins[GF_MAX_IN];
    int k = 0;
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i].data)
            ins[k++] = c->in[i].data;
    void *outs[1] = {y};
    sd_model_run_raw(m, ins, outs);
    double l = 0;
    for (int64_t i = 0; i < ny; i++)
        l += (double)w[i] * y[i];
    return l;
}

/* The analytic gradients of every diff input (grads[i], NULL for the others) from the rule. */
static inline void gf_analytic(const GfCase *c, const float *w, const int64_t *ydims, int yrank, const char *gemm,
                               bool fold, float **grads)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("gf_grad");
    ir_graph_set_source(g, "test");
    IrValue *ins[GF_MAX_IN];
    IrNode *n = gf_forward(g, c, fold, ins);
    PassOptions popt = {.verify = true};
    cr_assert_eq(pass_shape(g, &popt, &err), SD_OK, "%s", err.msg);
    /* made after shape inference, whose clean-up frees values nothing reads */
    IrShape ys = ir_shape_make(yrank, ydims);
    IrValue *dy;
    if (fold) {
        dy = ir_constant_new(g, "dy", SD_DT_F32, &ys, w, &err);
        cr_assert_not_null(dy);
    } else {
        dy = ir_value_new(g, "dy", SD_DT_F32, &ys);
        ir_graph_add_input(g, dy);
    }
    int max_id = 0;
    for (int i = 0; i < ir_graph_num_values(g); i++)
        if (ir_graph_value(g, i)->id > max_id)
            max_id = ir_graph_value(g, i)->id;
    unsigned char *needs = calloc((size_t)max_id + 1, 1);
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i].diff)
            needs[ins[i]->id] = 1;
    GradCtx gc = {.g = g, .opt = &popt, .err = &err, .needs = needs, .max_id = max_id};
    IrValue *dys[IR_MAX_OUTPUTS] = {0}, *dx[IR_MAX_OUTPUTS + 8] = {0};
    dys[c->out] = dy;
    SdStatus st = c->rule(&gc, n, dys, dx);
    free(needs);
    cr_assert_eq(st, SD_OK, "%s: rule failed: %s", c->name, err.msg);
    int n_out = 0;
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i].diff) {
            cr_assert_not_null(dx[i], "%s: no gradient for input %d", c->name, i);
            cr_assert(ir_shape_equal(&dx[i]->shape, &ins[i]->shape), "%s: gradient %d has the wrong shape", c->name, i);
            ir_graph_add_output(g, dx[i]);
            n_out++;
        }
    SdModel *m = gf_compile_grads(g, gemm);
    RtTensor run_in[GF_MAX_IN + 1], outs[GF_MAX_IN];
    int k = 0;
    if (!fold) {
        for (int i = 0; i < c->n_in; i++)
            if (c->in[i].data) {
                RtTensor *t = &run_in[k++];
                memset(t, 0, sizeof *t);
                t->dtype = SD_DT_F32;
                t->rank = c->in[i].rank;
                memcpy(t->dims, c->in[i].dims, sizeof(int64_t) * (size_t)t->rank);
                t->nbytes = (size_t)gf_numel(t->rank, t->dims) * sizeof(float);
                t->data = c->in[i].data;
            }
        RtTensor *t = &run_in[k++];
        memset(t, 0, sizeof *t);
        t->dtype = SD_DT_F32;
        t->rank = yrank;
        memcpy(t->dims, ydims, sizeof(int64_t) * (size_t)yrank);
        t->nbytes = (size_t)gf_numel(yrank, ydims) * sizeof(float);
        t->data = (void *)w;
    }
    cr_assert_eq(sd_model_run(m, run_in, k, outs, n_out, &err), SD_OK, "%s", err.msg);
    sd_model_free(m);
    int j = 0;
    for (int i = 0; i < c->n_in; i++) {
        grads[i] = NULL;
        if (!c->in[i].diff)
            continue;
        int64_t ne = gf_numel(c->in[i].rank, c->in[i].dims);
        grads[i] = malloc((size_t)ne * sizeof(float));
        memcpy(grads[i], outs[j].data, (size_t)ne * sizeof(float));
        rt_tensor_free(&outs[j++]);
    }
}

/* Central differences of sum(w * ref(x)) in double, h = 1e-6 (|x| + 1): exact for the linear ops
 * up to rounding, O(h^2) for the others. */
static inline void gf_reference_grads(const GfCase *c, const float *w, const int64_t *ydims, int yrank, double **ref)
{
    double *in[GF_MAX_IN] = {0};
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i].data) {
            int64_t ne = gf_numel(c->in[i].rank, c->in[i].dims);
            in[i] = malloc((size_t)ne * sizeof(double));
            for (int64_t e = 0; e < ne; e++)
                in[i][e] = c->in[i].data[e];
        }
    int64_t ny = gf_numel(yrank, ydims);
    double *y = malloc((size_t)ny * sizeof(double));
    for (int i = 0; i < c->n_in; i++) {
        ref[i] = NULL;
        if (!c->in[i].diff)
            continue;
        int64_t ne = gf_numel(c->in[i].rank, c->in[i].dims);
        ref[i] = calloc((size_t)ne, sizeof(double));
        for (int64_t e = 0; e < ne; e += c->sample > 0 ? c->sample : 1) {
            double x0 = in[i][e], h = 1e-6 * (fabs(x0) + 1), l[2];
            for (int s = 0; s < 2; s++) {
                in[i][e] = s ? x0 - h : x0 + h;
                c->ref((const double *const *)in, c->in, ydims, yrank, y, c->ctx);
                l[s] = 0;
                for (int64_t k = 0; k < ny; k++)
                    l[s] += w[k] * y[k];
            }
            in[i][e] = x0;
            ref[i][e] = (l[0] - l[1]) / (2 * h);
        }
    }
    for (int i = 0; i < c->n_in; i++)
        free(in[i]);
    free(y);
}

/* |got - want| <= atol + rtol |want| with atol = rtol_abs * max(1, max |want|). */
static inline void gf_expect_close(const char *what, const GfCase *c, int input, const float *got,
                                   const double *want, int64_t n, double rtol, double rtol_abs)
{
    const char *name = c->name;
    int64_t step = c->sample > 0 ? c->sample : 1;
    double scale = 1;
    for (int64_t e = 0; e < n; e += step)
        scale = fmax(scale, fabs(want[e]));
    double worst = 0;
    int64_t at = 0;
    for (int64_t e = 0; e < n; e += step) {
        double err = fabs((double)got[e] - want[e]) / (rtol_abs * scale + rtol * fabs(want[e]));
        if (!(err <= worst))
            worst = isnan(err) ? INFINITY : err, at = e;
    }
    cr_assert(worst <= 1.0, "%s: %s, input %d: element %lld is %.9g, expected %.9g (error %.3g of the tolerance)",
              name, what, input, (long long)at, (double)got[at], want[at], worst);
}

/* Every check of one case. `fold` also computes the gradient with constant inputs (interpreter);
 * `builtin` also with the builtin GEMM. */
static inline void gf_check(GfCase *c, bool builtin, bool fold)
{
    int yrank;
    int64_t ydims[IR_MAX_RANK];
    SdModel *fwd = gf_forward_model(c, &yrank, ydims);
    int64_t ny = gf_numel(yrank, ydims);
    float *w = gf_rand(ny, 99, -1.0f, 1.0f), *y = malloc((size_t)ny * sizeof(float));
    float *grads[GF_MAX_IN];
    double *ref[GF_MAX_IN];
    gf_analytic(c, w, ydims, yrank, "openblas", false, grads);
    gf_reference_grads(c, w, ydims, yrank, ref);
    for (int i = 0; i < c->n_in; i++) {
        if (!c->in[i].diff)
            continue;
        int64_t ne = gf_numel(c->in[i].rank, c->in[i].dims);
        gf_expect_close("rule vs double reference", c, i, grads[i], ref[i], ne, 1e-4, 1e-5);
        /* f32 forward, central differences in double */
        double h_rel = c->h_rel > 0 ? c->h_rel : 1e-2, tol = c->tol > 0 ? c->tol : 1e-2;
        double *fd = calloc((size_t)ne, sizeof(double));
        for (int64_t e = 0; e < ne; e += c->sample > 0 ? c->sample : 1) {
            float x0 = c->in[i].data[e];
            float xp = x0 + (float)(h_rel * (fabs(x0) + 1)), xm = x0 - (float)(h_rel * (fabs(x0) + 1));
            c->in[i].data[e] = xp;
            double lp = gf_loss(fwd, c, w, y, ny);
            c->in[i].data[e] = xm;
            double lm = gf_loss(fwd, c, w, y, ny);
            c->in[i].data[e] = x0;
            fd[e] = (lp - lm) / ((double)xp - (double)xm);
        }
        gf_expect_close("rule vs f32 finite differences", c, i, grads[i], fd, ne, tol, tol);
        free(fd);
    }
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0 && !builtin) || (pass == 1 && !fold))
            continue;
        float *other[GF_MAX_IN];
        gf_analytic(c, w, ydims, yrank, pass == 0 ? "builtin" : "openblas", pass == 1, other);
        for (int i = 0; i < c->n_in; i++)
            if (c->in[i].diff) {
                gf_expect_close(pass == 0 ? "builtin GEMM vs double reference" : "folded vs double reference",
                                c, i, other[i], ref[i], gf_numel(c->in[i].rank, c->in[i].dims), 1e-4, 1e-5);
                free(other[i]);
            }
    }
    for (int i = 0; i < c->n_in; i++)
        free(grads[i]), free(ref[i]);
    free(w), free(y);
    sd_model_free(fwd);
}

#endif
