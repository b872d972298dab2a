/* tests/passes/grad_unary.c — gradients of the unary family by finite differences, the
 * UNARY_GRAD kernel against double-precision derivatives, StopGradient, fan-out, and Dropout in
 * training mode (deterministic masks, the same mask in the backward pass). */
#include "fd.h"

typedef struct {
    IrOp op;
    float alpha, beta, gamma;
} UnaryCase;

static IrValue *build_unary(IrGraph *g, IrValue *const *in, void *ctx)
{
    const UnaryCase *u = ctx;
    IrAttrs a = {0};
    a.unary.alpha = u->alpha, a.unary.beta = u->beta, a.unary.gamma = u->gamma;
    return fd_op(g, u->op, in, 1, &a);
}

/* f'(x) in double, as the rules intend it */
static double derivative(const UnaryCase *u, double x)
{
    double a = u->alpha, b = u->beta, g = u->gamma;
    switch (u->op) {
    case IR_OP_RELU: return x > 0;
    case IR_OP_LEAKY_RELU: return x >= 0 ? 1 : a;
    case IR_OP_SIGMOID: { double s = 1 / (1 + exp(-x)); return s * (1 - s); }
    case IR_OP_HARD_SIGMOID: { double t = a * x + b; return t > 0 && t < 1 ? a : 0; }
    case IR_OP_HARD_SWISH: return x < -3 ? 0 : x > 3 ? 1 : (2 * x + 3) / 6;
    case IR_OP_SILU: { double s = 1 / (1 + exp(-x)); return s * (1 + x * (1 - s)); }
    case IR_OP_MISH: {
        double sp = log1p(exp(x)), t = tanh(sp), s = 1 / (1 + exp(-x));
        return t + x * s * (1 - t * t);
    }
    case IR_OP_TANH: { double t = tanh(x); return 1 - t * t; }
    case IR_OP_ERF: return 2 / sqrt(M_PI) * exp(-x * x);
    case IR_OP_GELU: return 0.5 * (1 + erf(x / sqrt(2))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
    case IR_OP_GELU_TANH: {
        double k = sqrt(2 / M_PI), c = 0.044715, t = tanh(k * (x + c * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * c * x * x);
    }
    case IR_OP_SOFTPLUS: return 1 / (1 + exp(-x));
    case IR_OP_SOFTSIGN: return 1 / ((1 + fabs(x)) * (1 + fabs(x)));
    case IR_OP_ELU: return x >= 0 ? 1 : a * exp(x);
    case IR_OP_SELU: return g * (x > 0 ? 1 : a * exp(x));
    case IR_OP_CELU: return x > 0 ? 1 : exp(x / a);
    case IR_OP_THRESHOLDED_RELU: return x > a;
    case IR_OP_SHRINK: return x < -a || x > a;
    case IR_OP_CLIP: return x >= a && x <= b;
    case IR_OP_EXP: return exp(x);
    case IR_OP_LOG: return 1 / x;
    case IR_OP_SQRT: return 0.5 / sqrt(x);
    case IR_OP_RECIPROCAL: return -1 / (x * x);
    case IR_OP_NEG: return -1;
    case IR_OP_ABS: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case IR_OP_SIN: return cos(x);
    case IR_OP_COS: return -sin(x);
    case IR_OP_TAN: return 1 / (cos(x) * cos(x));
    case IR_OP_ASIN: return 1 / sqrt(1 - x * x);
    case IR_OP_ACOS: return -1 / sqrt(1 - x * x);
    case IR_OP_ATAN: return 1 / (1 + x * x);
    case IR_OP_SINH: return cosh(x);
    case IR_OP_COSH: return sinh(x);
    case IR_OP_ASINH: return 1 / sqrt(x * x + 1);
    case IR_OP_ACOSH: return 1 / sqrt(x * x - 1);
    case IR_OP_ATANH: return 1 / (1 - x * x);
    default: return 0;
    }
}

/* Values in [lo, hi) kept `gap` away from the kinks of the op. */
static float *inputs_for(const UnaryCase *u, int64_t n, uint32_t seed)
{
    float lo = -3.0f, hi = 3.0f;
    switch (u->op) {
    case IR_OP_LOG: case IR_OP_SQRT: lo = 0.5f, hi = 3.0f; break;
    case IR_OP_ASIN: case IR_OP_ACOS: case IR_OP_ATANH: lo = -0.8f, hi = 0.8f; break;
    case IR_OP_ACOSH: lo = 1.2f, hi = 3.0f; break;
    case IR_OP_TAN: lo = -1.0f, hi = 1.0f; break;
    case IR_OP_RECIPROCAL: lo = 0.5f, hi = 2.0f; break;
    default: break;
    }
    float *x = fd_rand(seed, n, lo, hi);
    /* kinks: 0 for most, +-3 for HardSwish, the bounds for Clip/Shrink/ThresholdedRelu, HardSigmoid's ends */
    float kinks[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int nk = 1;
    if (u->op == IR_OP_HARD_SWISH) kinks[0] = -3, kinks[1] = 3, nk = 2;
    if (u->op == IR_OP_CLIP) kinks[0] = u->alpha, kinks[1] = u->beta, nk = 2;
    if (u->op == IR_OP_SHRINK) kinks[0] = -u->alpha, kinks[1] = u->alpha, nk = 2;
    if (u->op == IR_OP_THRESHOLDED_RELU) kinks[0] = u->alpha;
    if (u->op == IR_OP_HARD_SIGMOID) kinks[0] = -u->beta / u->alpha, kinks[1] = (1 - u->beta) / u->alpha, nk = 2;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < nk; k++)
            if (fabsf(x[i] - kinks[k]) < 0.1f)
                x[i] = kinks[k] + (x[i] < kinks[k] ? -0.1f : 0.1f);
    return x;
}

#define U(o, a, b, g) {.op = o, .alpha = a, .beta = b, .gamma = g}
static const UnaryCase unary_cases[] = {
    U(IR_OP_RELU, 0, 0, 0), U(IR_OP_LEAKY_RELU, 0.1f, 0, 0), U(IR_OP_SIGMOID, 0, 0, 0),
    U(IR_OP_HARD_SIGMOID, 0.2f, 0.5f, 0), U(IR_OP_HARD_SWISH, 0, 0, 0), U(IR_OP_SILU, 0, 0, 0),
    U(IR_OP_MISH, 0, 0, 0), U(IR_OP_TANH, 0, 0, 0), U(IR_OP_ERF, 0, 0, 0), U(IR_OP_GELU, 0, 0, 0),
    U(IR_OP_GELU_TANH, 0, 0, 0), U(IR_OP_SOFTPLUS, 0, 0, 0), U(IR_OP_SOFTSIGN, 0, 0, 0),
    U(IR_OP_ELU, 1.0f, 0, 0), U(IR_OP_SELU, 1.67326f, 0, 1.0507f), U(IR_OP_CELU, 0.7f, 0, 0),
    U(IR_OP_THRESHOLDED_RELU, 0.5f, 0, 0), U(IR_OP_SHRINK, 0.5f, 0.2f, 0), U(IR_OP_CLIP, -1.0f, 1.5f, 0),
    U(IR_OP_EXP, 0, 0, 0), U(IR_OP_LOG, 0, 0, 0), U(IR_OP_SQRT, 0, 0, 0), U(IR_OP_RECIPROCAL, 0, 0, 0),
    U(IR_OP_NEG, 0, 0, 0), U(IR_OP_ABS, 0, 0, 0), U(IR_OP_SIN, 0, 0, 0), U(IR_OP_COS, 0, 0, 0),
    U(IR_OP_TAN, 0, 0, 0), U(IR_OP_ASIN, 0, 0, 0), U(IR_OP_ACOS, 0, 0, 0), U(IR_OP_ATAN, 0, 0, 0),
    U(IR_OP_SINH, 0, 0, 0), U(IR_OP_COSH, 0, 0, 0), U(IR_OP_ASINH, 0, 0, 0), U(IR_OP_ACOSH, 0, 0, 0),
    U(IR_OP_ATANH, 0, 0, 0),
};
#undef U
#define N_UNARY ((int)(sizeof unary_cases / sizeof unary_cases[0]))

Test(grad_unary, every_activation_matches_finite_differences)
{
    for (int k = 0; k < N_UNARY; k++) {
        const UnaryCase *u = &unary_cases[k];
        int64_t dims[2] = {3, 5};
        float *x = inputs_for(u, 15, 100u + (uint32_t)k);
        FdInput in = fd_f32(2, dims, x);
        fd_check(ir_op_name(u->op), &in, 1, build_unary, (void *)u, NULL);
        free(x);
    }
}

/* dy -> UNARY_GRAD(dy, x[, y]) as autodiff builds it, against f'(x) dy in double (tight). */
Test(grad_unary, derivative_kernel_matches_double_precision)
{
    const int64_t n = 1000; /* odd sizes and a vector tail */
    for (int k = 0; k < N_UNARY; k++) {
        const UnaryCase *u = &unary_cases[k];
        if (u->op == IR_OP_NEG)
            continue; /* its gradient is a Neg */
        float *x = inputs_for(u, n, 7u + (uint32_t)k), *dy = fd_rand(31u + (uint32_t)k, n, -2.0f, 2.0f);
        /* loss = sum(dy * f(x)) differentiated: the gradient of x is exactly UNARY_GRAD(dy, x) */
        IrGraph *g = ir_graph_new("kernel");
        ir_graph_set_source(g, "kernel");
        SdError err = {0};
        IrShape s = ir_shape_make(1, &n);
        IrValue *xv = ir_constant_new(g, "x", SD_DT_F32, &s, x, &err);
        xv->role = IR_ROLE_PARAM;
        IrValue *dyv = ir_constant_new(g, "dy", SD_DT_F32, &s, dy, &err);
        IrValue *y = build_unary(g, &xv, (void *)u);
        IrValue *m = fd_op(g, IR_OP_MUL, (IrValue *[]){y, dyv}, 2, NULL);
        IrValue *loss = fd_op(g, IR_OP_REDUCE_SUM, &m, 1, NULL);
        ir_graph_add_output(g, loss);
        PassOptions po = {.eval = fd_eval_hook, .verify = true};
        cr_assert_eq(pass_shape(g, &po, &err), SD_OK, "%s", err.msg);
        cr_assert_eq(pass_autodiff(g, loss, &po, &err), SD_OK, "%s", err.msg);
        ir_graph_set_output(g, 0, xv->grad);
        xv->role = IR_ROLE_INPUT;
        ir_graph_add_input(g, xv);
        int64_t got_n;
        float *got = fd_eval(g, true, (void *[]){x}, &got_n);
        cr_assert_eq(got_n, n);
        double *want = malloc((size_t)n * sizeof *want);
        for (int64_t i = 0; i < n; i++)
            want[i] = dy[i] * derivative(u, x[i]);
        fd_expect_close(got, want, n, 2e-5, 1e-6, ir_op_name(u->op));
        free(x), free(dy), free(got), free(want);
    }
}

static IrValue *build_fanout(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    /* x feeds three paths: tanh(x) * x + stop_gradient(x)^2 (the last contributes nothing) */
    IrValue *t = fd_op(g, IR_OP_TANH, in, 1, NULL);
    IrValue *p = fd_op(g, IR_OP_MUL, (IrValue *[]){t, in[0]}, 2, NULL);
    IrValue *s = fd_op(g, IR_OP_STOP_GRADIENT, in, 1, NULL);
    IrValue *q = fd_op(g, IR_OP_MUL, (IrValue *[]){s, s}, 2, NULL);
    return fd_op(g, IR_OP_ADD, (IrValue *[]){p, q}, 2, NULL);
}

Test(grad_unary, fan_out_adds_and_stop_gradient_cuts)
{
    int64_t dims[1] = {9};
    float *x = fd_rand(5, 9, -2, 2);
    FdInput in = fd_f32(1, dims, x);
    /* finite differences see the StopGradient path (it is an identity in the forward pass): the
     * analytic gradient must differ from them by exactly that path, 2 x w */
    SdError err = {0};
    IrGraph *g = ir_graph_new("stop");
    IrValue *xv = fd_input_value(g, &in, 0, true);
    IrValue *y = build_fanout(g, &xv, NULL);
    IrValue *loss = fd_op(g, IR_OP_REDUCE_SUM, &y, 1, NULL);
    ir_graph_add_output(g, loss);
    PassOptions po = {.eval = fd_eval_hook, .verify = true};
    cr_assert_eq(pass_shape(g, &po, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(pass_autodiff(g, loss, &po, &err), SD_OK, "%s", err.msg);
    for (int k = 0; k < ir_graph_num_nodes(g); k++)
        cr_assert_neq(ir_graph_node(g, k)->removed ? IR_OP_COUNT : ir_graph_node(g, k)->op, IR_OP_STOP_GRADIENT,
                      "autodiff retires StopGradient once it ran");
    ir_graph_set_output(g, 0, xv->grad);
    xv->role = IR_ROLE_INPUT;
    ir_graph_add_input(g, xv);
    int64_t n;
    float *got = fd_eval(g, true, (void *[]){x}, &n);
    double want[9];
    for (int i = 0; i < 9; i++) {
        double t = tanh(x[i]);
        want[i] = t + x[i] * (1 - t * t); /* d(tanh(x) x)/dx; the x^2 path is cut */
    }
    fd_expect_close(got, want, 9, 1e-5, 1e-6, "tanh(x) x + stop(x)^2");
    free(got), free(x);
}

static IrValue *build_chain(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    /* reuse: y = gelu(x) * sigmoid(x) + exp(-x) * x, and a Cast f32 -> f32 and an Identity */
    IrValue *a = fd_op(g, IR_OP_GELU, in, 1, NULL);
    IrValue *b = fd_op(g, IR_OP_SIGMOID, in, 1, NULL);
    IrValue *p = fd_op(g, IR_OP_MUL, (IrValue *[]){a, b}, 2, NULL);
    IrValue *nx = fd_op(g, IR_OP_NEG, in, 1, NULL);
    IrValue *e = fd_op(g, IR_OP_EXP, &nx, 1, NULL);
    IrAttrs cast = {0};
    cast.unary.to = SD_DT_F32;
    IrValue *xc = fd_op(g, IR_OP_CAST, in, 1, &cast);
    IrValue *xi = fd_op(g, IR_OP_IDENTITY, &xc, 1, NULL);
    IrValue *q = fd_op(g, IR_OP_MUL, (IrValue *[]){e, xi}, 2, NULL);
    return fd_op(g, IR_OP_ADD, (IrValue *[]){p, q}, 2, NULL);
}

Test(grad_unary, chains_with_reuse)
{
    int64_t dims[2] = {4, 6};
    float *x = fd_rand(9, 24, -2, 2);
    FdInput in = fd_f32(2, dims, x);
    fd_check_all("chain", &in, 1, build_chain, NULL, NULL);
    free(x);
}

/* --- Dropout in training mode --- */

typedef struct {
    float ratio;
    int64_t seed;
    bool mask;
} DropCase;

static IrValue *build_dropout(IrGraph *g, IrValue *const *in, void *ctx)
{
    const DropCase *d = ctx;
    SdError err = {0};
    IrShape s = {0};
    bool on = true;
    IrValue *mode = ir_constant_new(g, "training", SD_DT_BOOL, &s, &on, &err);
    IrValue *ratio = fd_scalar(g, d->ratio);
    IrValue *outs[2] = {ir_value_new(g, "y", SD_DT_F32, NULL), ir_value_new(g, "mask", SD_DT_BOOL, NULL)};
    IrNode *n = ir_node_new(g, IR_OP_DROPOUT, "drop", (IrValue *[]){in[0], ratio, mode, in[1]}, 4, outs,
                            d->mask ? 2 : 1);
    n->attrs.unary.seed = d->seed;
    /* tanh after the dropout: the gradient must go through the same mask */
    return fd_op(g, IR_OP_TANH, &outs[0], 1, NULL);
}

static float *run_dropout(const float *x, int64_t n, int64_t counter, const DropCase *d)
{
    int64_t one = 1;
    IrGraph *g = ir_graph_new("dropout");
    ir_graph_set_source(g, "dropout");
    IrValue *xv = fd_graph_input(g, "x", SD_DT_F32, 1, &n);
    IrValue *cv = fd_graph_input(g, "counter", SD_DT_I64, 0, &one);
    IrValue *y = build_dropout(g, (IrValue *[]){xv, cv}, (void *)d);
    ir_graph_add_output(g, y->producer->inputs[0]); /* the dropout's own output */
    int64_t got_n;
    float *got = fd_eval(g, false, (void *[]){(void *)x, &counter}, &got_n);
    cr_assert_eq(got_n, n);
    return got;
}

Test(grad_unary, training_dropout_masks_and_scales_deterministically)
{
    int64_t n = 4099;
    float *x = fd_rand(3, n, 0.5f, 1.5f); /* nonzero: dropped elements read as exact zeros */
    DropCase d = {0.3f, 1234, false};
    float *a = run_dropout(x, n, 41, &d), *again = run_dropout(x, n, 41, &d), *b = run_dropout(x, n, 42, &d);
    int64_t kept = 0, differ = 0;
    for (int64_t i = 0; i < n; i++) {
        cr_assert(a[i] == 0.0f || fabsf(a[i] - x[i] / 0.7f) <= 1e-6f * fabsf(a[i]), "element %lld", (long long)i);
        cr_assert_eq(a[i], again[i], "the same (seed, counter) draws the same mask");
        kept += a[i] != 0.0f;
        differ += (a[i] != 0.0f) != (b[i] != 0.0f);
    }
    /* about 70% kept: 4099 draws, within 5 standard deviations */
    cr_assert(fabs((double)kept / (double)n - 0.7) < 5 * sqrt(0.21 / (double)n), "kept %lld of %lld", (long long)kept,
              (long long)n);
    cr_assert_gt(differ, n / 4, "the next counter draws another mask (%lld of %lld differ)", (long long)differ,
                 (long long)n);
    /* ratio 0 keeps everything exactly */
    DropCase none = {0.0f, 5, false};
    float *c = run_dropout(x, n, 3, &none);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(c[i], x[i]);
    free(a), free(again), free(b), free(c), free(x);
}

Test(grad_unary, training_dropout_gradient_uses_the_same_mask)
{
    int64_t dims[1] = {40}, one = 1;
    float *x = fd_rand(8, 40, 0.5f, 1.5f);
    int64_t counter = 7;
    for (int with_mask = 0; with_mask < 2; with_mask++) {
        DropCase d = {0.5f, 99, with_mask};
        FdInput in[2] = {fd_f32(1, dims, x), fd_fixed(SD_DT_I64, 0, &one, &counter)};
        fd_check_all(with_mask ? "dropout with mask output" : "dropout", in, 2, build_dropout, &d, NULL);
    }
    free(x);
}
