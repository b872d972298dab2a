/* tests/passes/fd.h — finite-difference checks of gradient rules, for the grad_<family>.c tests
 * (other families may copy the pattern).
 *
 * fd_check builds a forward graph with the test's builder, on inputs that are parameters (f32,
 * differentiated) or fixed constants (targets, indices), and takes as loss sum(w * y) with fixed
 * random weights w shaped like the builder's output y (so every output element matters and no
 * gradient is accidentally symmetric). It runs the training pipeline's first half (shape,
 * canonicalize, fold), pass_autodiff, then canonicalize, fold, dce and memplan, and compiles the
 * result with the JIT: outputs are the loss and every parameter's gradient. The parameters are
 * then turned into run-time inputs of that same compiled step, so the loss can be evaluated at
 * x +- h e_j without recompiling: central differences, taken in double from the f32 losses with
 * h = step * (|x_j| + 1), against the analytic gradient with a relative tolerance: kernels are f32,
 * so the difference carries about eps_f32 |loss| / h ~ 1e-5 of rounding and h^2 f''' / 6 of
 * truncation; rtol 3e-3 with h ~1e-2 catches a rule that is off by a fraction of a percent.
 * Inputs must keep away from kinks (ReLU at 0, ties of Max) by more than h.
 *
 * fd_eval compiles a graph through the inference pipeline and returns its first output, for the
 * tight checks of gradient kernels against double-precision formulas in the tests. */
#ifndef SD_TESTS_PASSES_FD_H
#define SD_TESTS_PASSES_FD_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "codegen/codegen.h"
#include "passes/pass.h"

#define FD_MAX_INPUTS 8

typedef struct FdInput {
    SdDType dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
    const void *data; /* owned by the test */
    bool fixed;       /* a constant (not differentiated); i64/i32 inputs always are */
} FdInput;

/* Builds the forward graph on `in` (one value per FdInput) and returns the f32 output to check. */
typedef IrValue *(*FdBuildFn)(IrGraph *g, IrValue *const *in, void *ctx);

typedef struct FdOptions {
    double rtol, atol;   /* defaults 3e-3 and 3e-4 (atol scaled by the largest gradient) */
    double step;         /* h = step * (|x| + 1); default 1e-2 */
    const char *disable; /* passes to skip (canonicalize, fold, dce, bnrelu, memplan) */
    const char *gemm;    /* "openblas" (default) or "builtin" */
    bool unweighted;     /* the loss is y itself (a scalar) */
} FdOptions;

/* --- data and graph building --- */

/* Deterministic values in [lo, hi). */
static inline float *fd_rand(uint32_t seed, int64_t n, float lo, float hi)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    cr_assert_not_null(x);
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 12345;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = lo + (hi - lo) * (float)((double)(s >> 40) / 16777216.0);
    }
    return x;
}

static inline int64_t fd_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

static inline FdInput fd_f32(int rank, const int64_t *dims, const float *data)
{
    FdInput in = {.dtype = SD_DT_F32, .rank = rank, .data = data};
    memcpy(in.dims, dims, sizeof(int64_t) * (size_t)rank);
    return in;
}

static inline FdInput fd_fixed(SdDType dt, int rank, const int64_t *dims, const void *data)
{
    FdInput in = {.dtype = dt, .rank = rank, .data = data, .fixed = true};
    memcpy(in.dims, dims, sizeof(int64_t) * (size_t)rank);
    return in;
}

/* A node of `op` with one output; attributes from `attrs` (may be NULL). */
static inline IrValue *fd_op(IrGraph *g, IrOp op, IrValue *const *ins, int n, const IrAttrs *attrs)
{
    IrNode *node = ir_node_new1(g, op, ir_op_name(op), ins, n, SD_DT_F32);
    cr_assert_not_null(node);
    if (attrs)
        node->attrs = *attrs;
    return node->outputs[0];
}

static inline IrValue *fd_ints(IrGraph *g, const int64_t *v, int n)
{
    SdError err = {0};
    IrShape s = ir_shape_make(1, (int64_t[]){n});
    IrValue *c = ir_constant_new(g, "ints", SD_DT_I64, &s, v, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

static inline IrValue *fd_scalar(IrGraph *g, float v)
{
    SdError err = {0};
    IrShape s = {0};
    IrValue *c = ir_constant_new(g, "scalar", SD_DT_F32, &s, &v, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

static inline IrValue *fd_const(IrGraph *g, int rank, const int64_t *dims, const float *data)
{
    SdError err = {0};
    IrShape s = ir_shape_make(rank, dims);
    IrValue *c = ir_constant_new(g, "const", SD_DT_F32, &s, data, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

/* --- pipelines --- */

static SdStatus fd_eval_hook(void *ctx, const IrNode *n, void *const *outputs, SdError *err)
{
    (void)ctx;
    return cg_eval_node(n, NULL, outputs, err);
}

static inline SdStatus fd_run_pass(IrGraph *g, const char *name, SdStatus (*fn)(IrGraph *, const PassOptions *, SdError *),
                                   const PassOptions *po, SdError *err)
{
    if (pass_disabled(po, name))
        return SD_OK;
    SdStatus st = fn(g, po, err);
    if (st == SD_OK)
        st = ir_verify(g, true, err);
    if (st != SD_OK)
        sd_error_prefix(err, "after pass '%s'", name);
    return st;
}

/* Runs the training pipeline around pass_autodiff on g (loss already a graph output) and adds the
 * gradient of every parameter as a graph output, in value order. */
static inline SdStatus fd_train_pipeline(IrGraph *g, IrValue *loss, const char *disable, SdError *err)
{
    PassOptions po = {.eval = fd_eval_hook, .disabled = disable, .verify = true};
    SD_TRY(fd_run_pass(g, "canonicalize", pass_canonicalize, &po, err));
    SD_TRY(fd_run_pass(g, "fold", pass_fold, &po, err));
    SD_TRY(pass_autodiff(g, loss, &po, err));
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->role == IR_ROLE_PARAM && v->grad)
            ir_graph_add_output(g, v->grad);
    }
    SD_TRY(ir_verify(g, true, err));
    SD_TRY(fd_run_pass(g, "canonicalize", pass_canonicalize, &po, err));
    SD_TRY(fd_run_pass(g, "fold", pass_fold, &po, err));
    SD_TRY(fd_run_pass(g, "dce", pass_dce, &po, err));
    SD_TRY(fd_run_pass(g, "bnrelu", pass_fold_norm_relu, &po, err));
    return fd_run_pass(g, "memplan", pass_memplan, &po, err);
}

static inline IrValue *fd_input_value(IrGraph *g, const FdInput *in, int i, bool param)
{
    SdError err = {0};
    char name[32];
    snprintf(name, sizeof name, "x%d", i);
    IrShape s = ir_shape_make(in->rank, in->dims);
    IrValue *v = ir_constant_new(g, name, in->dtype, &s, in->data, &err);
    cr_assert_not_null(v, "%s", err.msg);
    if (param)
        v->role = IR_ROLE_PARAM;
    return v;
}

/* --- the check --- */

typedef struct FdStep {
    SdModel *model;
    int n_param, which[FD_MAX_INPUTS]; /* which[k]: the FdInput of run-time input k */
} FdStep;

/* Builds loss = sum(w * y) (or y), differentiates it and compiles: inputs are the parameters,
 * outputs the loss and their gradients. */
static inline FdStep fd_compile_step(const char *what, const FdInput *in, int n_in, FdBuildFn build, void *ctx,
                                     const FdOptions *o)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new(what);
    ir_graph_set_source(g, what);
    IrValue *vals[FD_MAX_INPUTS] = {0}; /* builders may test in[i] past n_in */
    bool param[FD_MAX_INPUTS];
    cr_assert_leq(n_in, FD_MAX_INPUTS);
    for (int i = 0; i < n_in; i++) {
        param[i] = !in[i].fixed && in[i].dtype == SD_DT_F32;
        vals[i] = fd_input_value(g, &in[i], i, param[i]);
    }
    IrValue *y = build(g, vals, ctx);
    cr_assert_not_null(y, "%s: the builder gave no output", what);
    PassOptions po = {.eval = fd_eval_hook, .disabled = o->disable, .verify = true};
    cr_assert_eq(pass_shape(g, &po, &err), SD_OK, "%s: shape: %s", what, err.msg);
    IrValue *loss = y;
    if (!o->unweighted) {
        int64_t ny = ir_value_numel(y);
        float *w = fd_rand(977u + (uint32_t)ny, ny, -1.0f, 1.0f);
        IrValue *wv = fd_const(g, y->shape.rank, y->shape.dims, w);
        free(w);
        IrNode *mul = ir_node_new1(g, IR_OP_MUL, "fd_weigh", (IrValue *[]){y, wv}, 2, SD_DT_F32);
        cr_assert_eq(pass_shape_node(g, mul, &po, &err), SD_OK, "%s: %s", what, err.msg);
        IrNode *sum = ir_node_new1(g, IR_OP_REDUCE_SUM, "fd_loss", (IrValue *[]){mul->outputs[0]}, 1, SD_DT_F32);
        cr_assert_eq(pass_shape_node(g, sum, &po, &err), SD_OK, "%s: %s", what, err.msg);
        loss = sum->outputs[0];
    }
    cr_assert_eq(ir_value_numel(loss), 1, "%s: the loss must be a scalar", what);
    ir_graph_add_output(g, loss);
    SdStatus st = fd_train_pipeline(g, loss, o->disable, &err);
    cr_assert_eq(st, SD_OK, "%s: %s", what, err.msg);
    /* parameters become run-time inputs: one compiled step serves every evaluation */
    FdStep step = {0};
    for (int i = 0; i < n_in; i++) {
        if (!param[i])
            continue;
        cr_assert_not_null(vals[i]->grad, "%s: input %d got no gradient", what, i);
        vals[i]->role = IR_ROLE_INPUT;
        ir_graph_add_input(g, vals[i]);
        step.which[step.n_param++] = i;
    }
    cr_assert_eq(ir_graph_num_outputs(g), 1 + step.n_param, "%s: outputs", what);
    SdOptions so = sd_options_default();
    so.verify = true;
    if (o->gemm)
        so.gemm = o->gemm;
    st = sd_model_compile(g, &so, &step.model, &err);
    cr_assert_eq(st, SD_OK, "%s: compile: %s", what, err.msg);
    return step;
}

/* The analytic gradients at the inputs' values: grads[k] (malloc'd) for the k-th differentiated
 * input; returns their count. */
static inline int fd_gradients(const char *what, const FdInput *in, int n_in, FdBuildFn build, void *ctx,
                               const FdOptions *opt, float **grads, float *loss)
{
    FdOptions o = opt ? *opt : (FdOptions){0};
    FdStep step = fd_compile_step(what, in, n_in, build, ctx, &o);
    void *ins[FD_MAX_INPUTS], *outs[FD_MAX_INPUTS + 1];
    float l;
    outs[0] = loss ? loss : &l;
    for (int k = 0; k < step.n_param; k++) {
        const FdInput *x = &in[step.which[k]];
        int64_t ne = fd_numel(x->rank, x->dims);
        ins[k] = (void *)x->data;
        grads[k] = malloc((size_t)(ne ? ne : 1) * sizeof(float));
        outs[1 + k] = grads[k];
    }
    sd_model_run_raw(step.model, ins, outs);
    sd_model_free(step.model);
    return step.n_param;
}

static inline void fd_check(const char *what, const FdInput *in, int n_in, FdBuildFn build, void *ctx,
                            const FdOptions *opt)
{
    FdOptions o = opt ? *opt : (FdOptions){0};
    if (o.rtol == 0) o.rtol = 3e-3;
    if (o.atol == 0) o.atol = 3e-4;
    if (o.step == 0) o.step = 1e-2;
    FdStep step = fd_compile_step(what, in, n_in, build, ctx, &o);
    int n_param = step.n_param;
    float *x[FD_MAX_INPUTS], *grad[FD_MAX_INPUTS], *scratch[FD_MAX_INPUTS];
    void *ins[FD_MAX_INPUTS], *outs[FD_MAX_INPUTS + 1], *pert[FD_MAX_INPUTS + 1];
    float loss_value, lp, lm;
    outs[0] = &loss_value;
    for (int k = 0; k < n_param; k++) {
        const FdInput *v = &in[step.which[k]];
        size_t bytes = (size_t)(fd_numel(v->rank, v->dims) ? fd_numel(v->rank, v->dims) : 1) * sizeof(float);
        x[k] = malloc(bytes), grad[k] = malloc(bytes), scratch[k] = malloc(bytes);
        memcpy(x[k], v->data, (size_t)fd_numel(v->rank, v->dims) * sizeof(float));
        ins[k] = x[k];
        outs[1 + k] = grad[k];
        pert[1 + k] = scratch[k]; /* gradients of the perturbed runs, discarded */
    }
    sd_model_run_raw(step.model, ins, outs);
    cr_assert(isfinite(loss_value), "%s: the loss is %g", what, (double)loss_value);
    for (int k = 0; k < n_param; k++) {
        const FdInput *v = &in[step.which[k]];
        int64_t ne = fd_numel(v->rank, v->dims);
        double gmax = 0;
        for (int64_t j = 0; j < ne; j++)
            gmax = fmax(gmax, fabs(grad[k][j]));
        for (int64_t j = 0; j < ne; j++) {
            float x0 = x[k][j];
            double h = o.step * (fabs(x0) + 1.0);
            x[k][j] = (float)(x0 + h);
            double hp = (double)x[k][j] - x0; /* the steps actually taken in f32 */
            pert[0] = &lp;
            sd_model_run_raw(step.model, ins, pert);
            x[k][j] = (float)(x0 - h);
            double hm = x0 - (double)x[k][j];
            pert[0] = &lm;
            sd_model_run_raw(step.model, ins, pert);
            x[k][j] = x0;
            double fd = ((double)lp - (double)lm) / (hp + hm);
            double tol = o.atol * fmax(1.0, gmax) + o.rtol * fabs(fd);
            cr_assert(fabs(grad[k][j] - fd) <= tol,
                      "%s: d loss / d input %d [%lld] is %.7g, finite differences give %.7g (tolerance %.2g)", what,
                      step.which[k], (long long)j, (double)grad[k][j], fd, tol);
        }
    }
    for (int k = 0; k < n_param; k++)
        free(x[k]), free(grad[k]), free(scratch[k]);
    sd_model_free(step.model);
}

/* Runs fd_check under the default pipeline, and with canonicalization and folding off on the
 * builtin GEMM loops (no OpenBLAS). */
static inline void fd_check_all(const char *what, const FdInput *in, int n_in, FdBuildFn build, void *ctx,
                                const FdOptions *opt)
{
    FdOptions o = opt ? *opt : (FdOptions){0};
    char name[160];
    o.disable = NULL;
    fd_check(what, in, n_in, build, ctx, &o);
    snprintf(name, sizeof name, "%s (canonicalize, fold off; builtin gemm)", what);
    o.disable = "canonicalize,fold";
    o.gemm = "builtin";
    fd_check(name, in, n_in, build, ctx, &o);
}

/* --- single graphs for the kernel checks --- */

/* Compiles the graph and runs it on `inputs` (one pointer per graph input); returns output 0 as a
 * malloc'd float array of *numel elements. A graph that went through shape inference already
 * (autodiff needs that) continues with canonicalize, fold, dce and memplan: shape inference does
 * not run twice. */
static inline float *fd_eval(IrGraph *g, bool shaped, void *const *inputs, int64_t *numel)
{
    SdError err = {0};
    SdOptions so = sd_options_default();
    so.verify = true;
    SdStatus st;
    if (shaped) {
        PassOptions po = {.eval = fd_eval_hook, .verify = true};
        st = fd_run_pass(g, "canonicalize", pass_canonicalize, &po, &err);
        if (st == SD_OK)
            st = fd_run_pass(g, "fold", pass_fold, &po, &err);
        if (st == SD_OK)
            st = fd_run_pass(g, "dce", pass_dce, &po, &err);
        if (st == SD_OK)
            st = fd_run_pass(g, "memplan", pass_memplan, &po, &err);
    } else {
        st = sd_optimize(g, &so, NULL, NULL, NULL, &err);
    }
    cr_assert_eq(st, SD_OK, "%s", err.msg);
    SdModel *m = NULL;
    st = sd_model_compile(g, &so, &m, &err);
    cr_assert_eq(st, SD_OK, "%s", err.msg);
    int64_t ne = ir_value_numel(ir_graph_output(g, 0));
    float *y = malloc((size_t)(ne ? ne : 1) * sizeof *y);
    void *outs[1] = {y};
    sd_model_run_raw(m, inputs, outs);
    sd_model_free(m);
    *numel = ne;
    return y;
}

static inline IrValue *fd_graph_input(IrGraph *g, const char *name, SdDType dt, int rank, const int64_t *dims)
{
    IrShape s = ir_shape_make(rank, dims);
    IrValue *v = ir_value_new(g, name, dt, &s);
    cr_assert_not_null(v);
    v->role = IR_ROLE_INPUT;
    ir_graph_add_input(g, v);
    return v;
}

/* |got - want| <= atol + rtol |want| elementwise */
static inline void fd_expect_close(const float *got, const double *want, int64_t n, double rtol, double atol,
                                   const char *what)
{
    for (int64_t i = 0; i < n; i++)
        cr_assert(fabs((double)got[i] - want[i]) <= atol + rtol * fabs(want[i]),
                  "%s: element %lld is %.9g, expected %.9g", what, (long long)i, (double)got[i], want[i]);
}

#endif
