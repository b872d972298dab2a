/* tests/codegen/update.c — the in-place update kernels (EMA, SGD, AdamW, LARS, LAMB, ASSIGN,
 * QUEUE_PUSH), each run both natively through the interpreter and through the JIT, stepped several
 * times: against torch.optim's own results (tests/golden/optimizers.py) and against the formulas
 * in double precision on odd sizes; shape inference errors for misused updates. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "codegen/codegen.h"
#include "passes/pass.h"
#include "support/mem.h"
#include "tests/common/optim_ref.h"

/* One update node on a parameter p, gradient g, moments s1/s2, learning rate and step count. In
 * the interpreter g, lr and step are constants whose data the test rewrites before every step; in
 * the JIT they are graph inputs and p, s1, s2 come back as graph outputs (copied after the update). */
typedef struct {
    IrOp op;
    IrUpdateAttrs attrs;
    int64_t n;
    bool jit;
    IrGraph *g;
    IrNode *node;
    IrValue *p, *grad, *s1, *s2, *lr, *step;
    SdModel *model;
    float *out_p, *out_s1, *out_s2; /* JIT: the latest outputs */
    RtTensor outs[3];
    int n_outs;
} Stepper;

static int n_inputs_of(IrOp op)
{
    switch (op) {
    case IR_OP_EMA_UPDATE: return 2;
    case IR_OP_SGD_UPDATE: case IR_OP_LARS_UPDATE: return 4;
    default: return 6;
    }
}

static IrValue *persistent(IrGraph *g, const char *name, IrRole role, SdDType dt, const IrShape *s, const void *init)
{
    SdError err = {0};
    size_t nb = (size_t)ir_shape_numel(s) * sd_dtype_size(dt);
    void *zeros = calloc(1, nb ? nb : 1);
    IrValue *v = ir_constant_new(g, name, dt, s, init ? init : zeros, &err);
    free(zeros);
    cr_assert_not_null(v, "%s", err.msg);
    v->role = role;
    return v;
}

static IrValue *operand(Stepper *st, const char *name, SdDType dt, const IrShape *s)
{
    if (!st->jit)
        return persistent(st->g, name, IR_ROLE_CONSTANT, dt, s, NULL);
    IrValue *v = ir_value_new(st->g, name, dt, s);
    v->role = IR_ROLE_INPUT;
    ir_graph_add_input(st->g, v);
    return v;
}

static SdStatus eval(void *ctx, const IrNode *n, void *const *outputs, SdError *err)
{
    (void)ctx;
    return cg_eval_node(n, NULL, outputs, err);
}

static void stepper_init(Stepper *st, IrOp op, IrUpdateAttrs attrs, const IrShape *shape, const float *p0, bool jit)
{
    memset(st, 0, sizeof *st);
    st->op = op, st->attrs = attrs, st->jit = jit, st->n = ir_shape_numel(shape);
    st->g = ir_graph_new("update");
    ir_graph_set_source(st->g, "test");
    IrShape scalar = ir_shape_make(0, NULL);
    st->p = persistent(st->g, "p", op == IR_OP_EMA_UPDATE ? IR_ROLE_STATE : IR_ROLE_PARAM, SD_DT_F32, shape, p0);
    st->grad = operand(st, "g", SD_DT_F32, shape);
    int n_in = n_inputs_of(op);
    IrValue *ins[6] = {st->p, st->grad};
    if (n_in >= 4) {
        st->s1 = persistent(st->g, "s1", IR_ROLE_STATE, SD_DT_F32, shape, NULL);
        ins[2] = st->s1;
        if (n_in == 6) {
            st->s2 = persistent(st->g, "s2", IR_ROLE_STATE, SD_DT_F32, shape, NULL);
            ins[3] = st->s2;
        }
        st->lr = operand(st, "lr", SD_DT_F32, &scalar);
        ins[n_in == 6 ? 4 : 3] = st->lr;
        if (n_in == 6)
            ins[5] = st->step = operand(st, "step", SD_DT_I64, &scalar);
    }
    st->node = ir_node_new(st->g, op, "update_under_test", ins, n_in, NULL, 0);
    st->node->attrs.update = attrs;
    SdError err = {0};
    if (!jit) {
        cr_assert_eq(pass_shape_node(st->g, st->node, NULL, &err), SD_OK, "%s", err.msg);
        return;
    }
    ir_graph_add_output(st->g, st->p);
    if (st->s1)
        ir_graph_add_output(st->g, st->s1);
    if (st->s2)
        ir_graph_add_output(st->g, st->s2);
    st->n_outs = ir_graph_num_outputs(st->g);
    PassOptions po = {.eval = eval, .verify = true};
    cr_assert_eq(pass_run_pipeline(st->g, "inference", &po, &err), SD_OK, "%s", err.msg);
    SdOptions so = sd_options_default();
    cr_assert_eq(sd_model_compile(st->g, &so, &st->model, &err), SD_OK, "%s", err.msg);
}

/* One step; returns the parameter after it. */
static const float *stepper_step(Stepper *st, const float *grad, float lr, int64_t t)
{
    SdError err = {0};
    if (!st->jit) {
        memcpy(st->grad->data, grad, (size_t)st->n * sizeof(float));
        if (st->lr)
            *(float *)st->lr->data = lr;
        if (st->step)
            *(int64_t *)st->step->data = t;
        cr_assert_eq(cg_eval_node(st->node, NULL, NULL, &err), SD_OK, "%s", err.msg);
        return st->p->data;
    }
    RtTensor in[3];
    int n_in = 0;
    IrValue *vals[3] = {st->grad, st->lr, st->step};
    const void *datas[3] = {grad, &lr, &t};
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        memset(&in[n_in], 0, sizeof in[n_in]);
        in[n_in].dtype = vals[i]->dtype;
        in[n_in].rank = vals[i]->shape.rank;
        memcpy(in[n_in].dims, vals[i]->shape.dims, sizeof(int64_t) * (size_t)vals[i]->shape.rank);
        in[n_in].data = (void *)datas[i];
        in[n_in].nbytes = ir_value_nbytes(vals[i]);
        n_in++;
    }
    for (int i = 0; i < st->n_outs; i++)
        rt_tensor_free(&st->outs[i]);
    cr_assert_eq(sd_model_run(st->model, in, n_in, st->outs, st->n_outs, &err), SD_OK, "%s", err.msg);
    return st->outs[0].data;
}

static void stepper_free(Stepper *st)
{
    for (int i = 0; i < st->n_outs; i++)
        rt_tensor_free(&st->outs[i]);
    if (st->model)
        sd_model_free(st->model); /* frees the graph too */
    else
        ir_graph_free(st->g);
}

static IrUpdateAttrs attrs_of(double momentum, bool nesterov, double wd, double b1, double b2, double eps, double eta)
{
    return (IrUpdateAttrs){.momentum = momentum, .nesterov = nesterov, .weight_decay = wd, .beta1 = b1, .beta2 = b2,
                           .epsilon = eps, .trust_coefficient = eta};
}

/* The cases of tests/golden/optimizers.py (kernel_goldens), with their hyperparameters. */
static const struct {
    const char *name;
    IrOp op;
    IrUpdateAttrs a;
} torch_cases[] = {
    {"sgd", IR_OP_SGD_UPDATE, {.momentum = 0}},
    {"sgd_momentum", IR_OP_SGD_UPDATE, {.momentum = 0.9, .weight_decay = 0.05}},
    {"sgd_nesterov", IR_OP_SGD_UPDATE, {.momentum = 0.8, .nesterov = true, .weight_decay = 0.05}},
    {"adamw", IR_OP_ADAMW_UPDATE, {.beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-8, .weight_decay = 0.05}},
    {"lars", IR_OP_LARS_UPDATE, {.momentum = 0.9, .weight_decay = 0.01, .trust_coefficient = 0.05}},
    {"lamb", IR_OP_LAMB_UPDATE, {.beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-6, .weight_decay = 0.05}},
};

Test(update, kernels_match_torch_optim_step_by_step)
{
    RtTensor init = golden("opt_init"), grads = golden("opt_grads"), lrs = golden("opt_lr");
    int64_t n = (int64_t)(init.nbytes / sizeof(float)), steps = grads.dims[0];
    IrShape shape = ir_shape_make(init.rank, init.dims);
    const float *p0 = init.data, *gs = grads.data, *lr = lrs.data;
    double *want = malloc((size_t)n * sizeof *want), *delta = malloc((size_t)n * sizeof *delta);
    float *got_delta = malloc((size_t)n * sizeof *got_delta);
    for (size_t c = 0; c < sizeof torch_cases / sizeof torch_cases[0]; c++) {
        char name[64];
        snprintf(name, sizeof name, "opt_%s", torch_cases[c].name);
        RtTensor gold = golden(name);
        for (int jit = 0; jit < 2; jit++) {
            Stepper st;
            stepper_init(&st, torch_cases[c].op, torch_cases[c].a, &shape, p0, jit);
            for (int64_t s = 0; s < steps; s++) {
                const float *p = stepper_step(&st, gs + s * n, lr[s], s + 1);
                const float *w = (const float *)gold.data + s * n;
                for (int64_t i = 0; i < n; i++) {
                    want[i] = w[i];
                    delta[i] = (double)w[i] - p0[i];
                    got_delta[i] = (float)((double)p[i] - p0[i]);
                }
                char what[128];
                snprintf(what, sizeof what, "%s (%s), step %lld", torch_cases[c].name, jit ? "jit" : "native",
                         (long long)s + 1);
                expect_close_scaled(p, want, n, 1e-6, what);
                /* the change itself, so that small steps are checked too */
                expect_close_scaled(got_delta, delta, n, 2e-4, what);
            }
            stepper_free(&st);
        }
        rt_tensor_free(&gold);
    }
    free(want), free(delta), free(got_delta);
    rt_tensor_free(&init), rt_tensor_free(&grads), rt_tensor_free(&lrs);
}

static void fill(float *x, int64_t n, uint64_t seed, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = lo + (hi - lo) * (float)((double)(seed >> 40) / (double)(1 << 24));
    }
}

/* Several steps of op on n elements against ref_update in double. */
static void check_against_reference(IrOp op, IrUpdateAttrs a, int64_t n, bool jit, bool zero_param)
{
    IrShape shape = n % 2 ? ir_shape_make(1, &n) : ir_shape_make(2, (int64_t[]){2, n / 2});
    float *p0 = malloc((size_t)n * sizeof *p0), *g = malloc((size_t)n * sizeof *g);
    double *p = malloc((size_t)n * sizeof *p), *gd = malloc((size_t)n * sizeof *gd);
    double *s1 = calloc((size_t)n, sizeof *s1), *s2 = calloc((size_t)n, sizeof *s2);
    fill(p0, n, (uint64_t)n * 7 + (uint64_t)op, -1.0f, 1.0f);
    if (zero_param)
        memset(p0, 0, (size_t)n * sizeof *p0);
    for (int64_t i = 0; i < n; i++)
        p[i] = p0[i];
    Stepper st;
    stepper_init(&st, op, a, &shape, p0, jit);
    for (int s = 0; s < 5; s++) {
        fill(g, n, (uint64_t)(s + 1) * 1000003u + (uint64_t)n, -2.0f, 2.0f);
        float lr = 0.05f * (float)(s + 1);
        for (int64_t i = 0; i < n; i++)
            gd[i] = g[i];
        ref_update(op, &a, p, gd, s1, s2, n, lr, s + 1);
        const float *got = stepper_step(&st, g, lr, s + 1);
        char what[160];
        snprintf(what, sizeof what, "%s n=%lld (%s%s) step %d", ir_op_name(op), (long long)n, jit ? "jit" : "native",
                 zero_param ? ", zero start" : "", s + 1);
        expect_close_scaled(got, p, n, 2e-6, what);
    }
    stepper_free(&st);
    free(p0), free(g), free(p), free(gd), free(s1), free(s2);
}

Test(update, kernels_match_double_formulas_on_odd_sizes)
{
    const struct {
        IrOp op;
        IrUpdateAttrs a;
    } cases[] = {
        {IR_OP_EMA_UPDATE, attrs_of(0.99, false, 0, 0, 0, 0, 0)},
        {IR_OP_EMA_UPDATE, attrs_of(0.5, false, 0, 0, 0, 0, 0)},
        {IR_OP_SGD_UPDATE, attrs_of(0, false, 0.1, 0, 0, 0, 0)},
        {IR_OP_SGD_UPDATE, attrs_of(0.9, false, 0, 0, 0, 0, 0)},
        {IR_OP_SGD_UPDATE, attrs_of(0.95, true, 1e-4, 0, 0, 0, 0)},
        {IR_OP_LARS_UPDATE, attrs_of(0.9, false, 1e-3, 0, 0, 0, 0.02)},
        {IR_OP_LARS_UPDATE, attrs_of(0.0, false, 0, 0, 0, 0, 1.0)},
        {IR_OP_ADAMW_UPDATE, attrs_of(0, false, 0.1, 0.8, 0.99, 1e-6, 0)},
        {IR_OP_ADAMW_UPDATE, attrs_of(0, false, 0, 0.0, 0.0, 0, 0)},
        {IR_OP_LAMB_UPDATE, attrs_of(0, false, 0.02, 0.9, 0.999, 1e-6, 0)},
        {IR_OP_LAMB_UPDATE, attrs_of(0, false, 0, 0.5, 0.9, 1e-3, 0)},
    };
    const int64_t sizes[] = {1, 7, 16, 37, 1029};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            check_against_reference(cases[c].op, cases[c].a, sizes[k], false, false);
    /* the JIT specializes the same kernels: one size that is not a multiple of the vector width */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        check_against_reference(cases[c].op, cases[c].a, 1029, true, false);
    /* zero weights: LARS and LAMB fall back to a trust ratio of 1 instead of dividing by zero */
    check_against_reference(IR_OP_LARS_UPDATE, cases[5].a, 37, false, true);
    check_against_reference(IR_OP_LAMB_UPDATE, cases[9].a, 37, true, true);
}

Test(update, adam_step_count_below_one_counts_as_one)
{
    int64_t n = 5;
    IrShape shape = ir_shape_make(1, &n);
    float p0[5] = {1, -2, 3, -4, 5}, g[5] = {0.5f, 0.25f, -1, 2, -3};
    IrUpdateAttrs a = attrs_of(0, false, 0.01, 0.9, 0.999, 1e-8, 0);
    Stepper st, ref;
    stepper_init(&st, IR_OP_ADAMW_UPDATE, a, &shape, p0, false);
    stepper_init(&ref, IR_OP_ADAMW_UPDATE, a, &shape, p0, false);
    const float *got = stepper_step(&st, g, 0.1f, -5); /* run-time data, never a division by zero */
    const float *want = stepper_step(&ref, g, 0.1f, 1);
    for (int i = 0; i < 5; i++) {
        cr_assert(isfinite(got[i]));
        cr_assert_eq(got[i], want[i], "element %d: %g vs %g", i, (double)got[i], (double)want[i]);
    }
    stepper_free(&st);
    stepper_free(&ref);
}

/* ASSIGN copies any element type; in the JIT, its source can be computed in the same step. */
Test(update, assign_copies_into_state)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("assign");
    ir_graph_set_source(g, "test");
    IrShape s = ir_shape_make(1, (int64_t[]){3});
    int64_t init[3] = {1, 2, 3}, add[3] = {10, 20, 30};
    IrValue *counter = persistent(g, "counter", IR_ROLE_STATE, SD_DT_I64, &s, init);
    IrValue *inc = ir_constant_new(g, "inc", SD_DT_I64, &s, add, &err);
    IrNode *sum = ir_node_new1(g, IR_OP_ADD, "sum", (IrValue *[]){counter, inc}, 2, SD_DT_I64);
    ir_node_new(g, IR_OP_ASSIGN, "store", (IrValue *[]){counter, sum->outputs[0]}, 2, NULL, 0);
    ir_graph_add_output(g, sum->outputs[0]);
    PassOptions po = {.eval = eval, .verify = true};
    cr_assert_eq(pass_run_pipeline(g, "inference", &po, &err), SD_OK, "%s", err.msg);
    SdOptions so = sd_options_default();
    SdModel *m;
    cr_assert_eq(sd_model_compile(g, &so, &m, &err), SD_OK, "%s", err.msg);
    for (int step = 1; step <= 3; step++) {
        RtTensor out[1];
        cr_assert_eq(sd_model_run(m, NULL, 0, out, 1, &err), SD_OK, "%s", err.msg);
        const int64_t *y = out[0].data;
        for (int i = 0; i < 3; i++)
            cr_assert_eq(y[i], init[i] + step * add[i], "step %d element %d: %lld", step, i, (long long)y[i]);
        rt_tensor_free(&out[0]);
    }
    sd_model_free(m);
}

/* Ring buffer [K=5, D=3], B=2 rows per push; the position starts at a hostile value. */
static void queue_case(bool jit, int64_t start)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("queue");
    ir_graph_set_source(g, "test");
    IrShape qs = ir_shape_make(2, (int64_t[]){5, 3}), is = ir_shape_make(2, (int64_t[]){2, 3});
    IrShape scalar = ir_shape_make(0, NULL);
    IrValue *queue = persistent(g, "queue", IR_ROLE_STATE, SD_DT_F32, &qs, NULL);
    IrValue *pos = persistent(g, "queue.position", IR_ROLE_STATE, SD_DT_I64, &scalar, &start);
    IrValue *items;
    if (jit) {
        items = ir_value_new(g, "items", SD_DT_F32, &is);
        items->role = IR_ROLE_INPUT;
        ir_graph_add_input(g, items);
    } else {
        items = persistent(g, "items", IR_ROLE_CONSTANT, SD_DT_F32, &is, NULL);
    }
    IrNode *n = ir_node_new(g, IR_OP_QUEUE_PUSH, "push", (IrValue *[]){queue, items, pos}, 3, NULL, 0);
    SdModel *m = NULL;
    if (jit) {
        ir_graph_add_output(g, queue);
        ir_graph_add_output(g, pos);
        PassOptions po = {.eval = eval, .verify = true};
        cr_assert_eq(pass_run_pipeline(g, "inference", &po, &err), SD_OK, "%s", err.msg);
        SdOptions so = sd_options_default();
        cr_assert_eq(sd_model_compile(g, &so, &m, &err), SD_OK, "%s", err.msg);
    } else {
        cr_assert_eq(pass_shape_node(g, n, NULL, &err), SD_OK, "%s", err.msg);
    }
    float want[5][3] = {{0}};
    int64_t p = ((start % 5) + 5) % 5;
    for (int push = 0; push < 4; push++) {
        float rows[2][3];
        for (int r = 0; r < 2; r++)
            for (int d = 0; d < 3; d++) {
                rows[r][d] = (float)(100 * (push + 1) + 10 * r + d);
                want[(p + r) % 5][d] = rows[r][d];
            }
        p = (p + 2) % 5;
        const float *q;
        int64_t got_pos;
        RtTensor out[2];
        if (jit) {
            RtTensor in = {.dtype = SD_DT_F32, .rank = 2, .dims = {2, 3}, .data = rows, .nbytes = sizeof rows};
            cr_assert_eq(sd_model_run(m, &in, 1, out, 2, &err), SD_OK, "%s", err.msg);
            q = out[0].data;
            got_pos = *(const int64_t *)out[1].data;
        } else {
            memcpy(items->data, rows, sizeof rows);
            cr_assert_eq(cg_eval_node(n, NULL, NULL, &err), SD_OK, "%s", err.msg);
            q = queue->data;
            got_pos = *(const int64_t *)pos->data;
        }
        cr_assert_eq(got_pos, p, "push %d (%s, start %lld): position %lld, expected %lld", push, jit ? "jit" : "native",
                     (long long)start, (long long)got_pos, (long long)p);
        for (int r = 0; r < 5; r++)
            for (int d = 0; d < 3; d++)
                cr_assert_eq(q[r * 3 + d], want[r][d], "push %d row %d col %d: %g, expected %g", push, r, d,
                             (double)q[r * 3 + d], (double)want[r][d]);
        if (jit)
            rt_tensor_free(&out[0]), rt_tensor_free(&out[1]);
    }
    if (m)
        sd_model_free(m);
    else
        ir_graph_free(g);
}

Test(update, queue_push_is_a_ring_buffer)
{
    queue_case(false, 0);
    queue_case(false, 4);
    queue_case(false, -7);
    queue_case(false, INT64_MIN);
    queue_case(true, 0);
    queue_case(true, 1000000000007LL);
}

/* Shape inference of one update node over fresh values; returns the message. */
static SdStatus shape_of(IrOp op, IrUpdateAttrs a, SdDType lr_dtype, int lr_rank, SdDType step_dtype, SdError *err)
{
    IrGraph *g = ir_graph_new("bad");
    ir_graph_set_source(g, "model.sd");
    IrShape s = ir_shape_make(2, (int64_t[]){3, 4}), lr_shape = ir_shape_make(lr_rank, (int64_t[]){2}),
            scalar = ir_shape_make(0, NULL);
    IrValue *p = persistent(g, "w", IR_ROLE_PARAM, SD_DT_F32, &s, NULL);
    IrValue *grad = ir_value_new(g, "w.grad", SD_DT_F32, &s);
    IrValue *m = persistent(g, "w.m", IR_ROLE_STATE, SD_DT_F32, &s, NULL);
    IrValue *v = persistent(g, "w.v", IR_ROLE_STATE, SD_DT_F32, &s, NULL);
    IrValue *lr = ir_value_new(g, "lr", lr_dtype, &lr_shape);
    IrValue *step = ir_value_new(g, "step", step_dtype, &scalar);
    IrValue *ins[6] = {p, grad, m, v, lr, step};
    int n_in = n_inputs_of(op);
    if (n_in == 4)
        ins[3] = lr;
    IrNode *n = ir_node_new(g, op, "Update_3", ins, n_in, NULL, 0);
    n->attrs.update = a;
    SdStatus st = pass_shape_node(g, n, NULL, err);
    ir_graph_free(g);
    return st;
}

Test(update, shape_errors_name_the_node_and_what_was_expected)
{
    SdError err = {0};
    IrUpdateAttrs sgd = attrs_of(0.9, false, 0, 0, 0, 0, 0), adam = attrs_of(0, false, 0, 0.9, 0.999, 1e-8, 0);
    cr_assert_eq(shape_of(IR_OP_SGD_UPDATE, sgd, SD_DT_F32, 0, SD_DT_I64, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(shape_of(IR_OP_ADAMW_UPDATE, adam, SD_DT_F32, 0, SD_DT_I64, &err), SD_OK, "%s", err.msg);

    cr_assert_neq(shape_of(IR_OP_SGD_UPDATE, sgd, SD_DT_F32, 1, SD_DT_I64, &err), SD_OK);
    cr_assert(strstr(err.msg, "model.sd: node 'Update_3' (sgd_update): 'lr' must be an f32 scalar"), "%s", err.msg);
    cr_assert_neq(shape_of(IR_OP_ADAMW_UPDATE, adam, SD_DT_F32, 0, SD_DT_F32, &err), SD_OK);
    cr_assert(strstr(err.msg, "step count must be an i64 scalar"), "%s", err.msg);
    cr_assert_eq(shape_of(IR_OP_SGD_UPDATE, attrs_of(1.5, false, 0, 0, 0, 0, 0), SD_DT_F32, 0, SD_DT_I64, &err),
                 SD_EUSAGE);
    cr_assert(strstr(err.msg, "momentum 1.5 is outside [0, 1)"), "%s", err.msg);
    cr_assert_eq(shape_of(IR_OP_ADAMW_UPDATE, attrs_of(0, false, 0, 0.9, 1.0, 1e-8, 0), SD_DT_F32, 0, SD_DT_I64, &err),
                 SD_EUSAGE);
    cr_assert(strstr(err.msg, "betas (0.9, 1)"), "%s", err.msg);
    cr_assert_eq(shape_of(IR_OP_LARS_UPDATE, sgd, SD_DT_F32, 0, SD_DT_I64, &err), SD_EUSAGE);
    cr_assert(strstr(err.msg, "trust coefficient > 0"), "%s", err.msg);

    /* the updated value must be persistent, and the queue's rows must fit */
    IrGraph *g = ir_graph_new("bad_queue");
    ir_graph_set_source(g, "model.sd");
    IrShape qs = ir_shape_make(2, (int64_t[]){4, 8}), is = ir_shape_make(2, (int64_t[]){6, 8}),
            scalar = ir_shape_make(0, NULL);
    IrValue *q = persistent(g, "queue", IR_ROLE_STATE, SD_DT_F32, &qs, NULL);
    IrValue *items = ir_value_new(g, "keys", SD_DT_F32, &is);
    IrValue *pos = persistent(g, "queue.pos", IR_ROLE_STATE, SD_DT_I64, &scalar, NULL);
    IrNode *n = ir_node_new(g, IR_OP_QUEUE_PUSH, "Enqueue", (IrValue *[]){q, items, pos}, 3, NULL, 0);
    cr_assert_eq(pass_shape_node(g, n, NULL, &err), SD_ESHAPE);
    cr_assert(strstr(err.msg, "node 'Enqueue' (queue_push): items [B, D] must fit the queue [K, D] with B <= K"), "%s",
              err.msg);
    IrNode *e = ir_node_new(g, IR_OP_EMA_UPDATE, "Ema", (IrValue *[]){items, items}, 2, NULL, 0);
    cr_assert_neq(pass_shape_node(g, e, NULL, &err), SD_OK);
    cr_assert(strstr(err.msg, "'keys' is not a parameter or state"), "%s", err.msg);
    ir_graph_free(g);
}
