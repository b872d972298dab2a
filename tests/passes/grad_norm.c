/* tests/passes/grad_norm.c — gradients of BatchNorm (training and inference, per channel and per
 * activation), LayerNorm (axes, broadcast scale and bias), InstanceNorm and LRN against finite
 * differences (tests/passes/gradfam.h); the training BatchNorm's statistics outputs against a
 * double-precision reference (the unbiased variance PyTorch's running_var takes). */
#include "tests/passes/gradfam.h"

typedef struct NormSpec {
    IrOp op;
    bool training, per_activation;
    int64_t axis;   /* LayerNorm */
    float epsilon;
    int64_t size;   /* LRN */
    float alpha, beta, bias;
    int n_out;      /* outputs the forward node has (0: 1) */
} NormSpec;

static IrNode *build_norm(IrGraph *g, IrValue *const *ins, const void *ctx)
{
    const NormSpec *s = ctx;
    int n_in = s->op == IR_OP_BATCH_NORM ? 5 : s->op == IR_OP_LRN ? 1 : 3;
    if (s->op == IR_OP_LAYER_NORM && !ins[2])
        n_in = 2;
    IrNode *n = gf_node(g, s->op, ins, n_in, s->n_out ? s->n_out : 1);
    IrNormAttrs *a = &n->attrs.norm;
    a->training = s->training;
    a->per_activation = s->per_activation;
    a->axis = s->axis;
    a->epsilon = s->epsilon;
    a->size = s->size;
    a->alpha = s->alpha, a->beta = s->beta, a->bias = s->bias;
    return n;
}

/* BatchNorm: blocks (outer, channels, inner); statistics over (outer, inner) in training. */
static void ref_batch_norm(const double *const *in, const GfTensor *t, const NormSpec *s, double *y, double *mean_out,
                           double *var_out)
{
    const GfTensor *x = &t[0];
    int64_t outer = x->dims[0], channels = x->dims[1], inner = gf_numel(x->rank - 2, x->dims + 2);
    if (s->per_activation)
        channels *= inner, inner = 1;
    for (int64_t c = 0; c < channels; c++) {
        double mean = in[3][c], var = in[4][c];
        if (s->training) {
            double sum = 0, sq = 0, m = (double)(outer * inner);
            for (int64_t n = 0; n < outer; n++)
                for (int64_t i = 0; i < inner; i++)
                    sum += in[0][(n * channels + c) * inner + i];
            mean = sum / m;
            for (int64_t n = 0; n < outer; n++)
                for (int64_t i = 0; i < inner; i++) {
                    double d = in[0][(n * channels + c) * inner + i] - mean;
                    sq += d * d;
                }
            var = sq / m;
            if (mean_out)
                mean_out[c] = mean, var_out[c] = sq / (m - 1);
        }
        double r = 1 / sqrt(var + s->epsilon);
        for (int64_t n = 0; n < outer; n++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t o = (n * channels + c) * inner + i;
                y[o] = (in[0][o] - mean) * r * in[1][c] + in[2][c];
            }
    }
}

/* LayerNorm over dims [axis, rank) with scale and bias broadcast to them; InstanceNorm over the
 * spatial dims with per-channel scale and bias. */
static void ref_rows(const double *const *in, const GfTensor *t, const NormSpec *s, double *y)
{
    const GfTensor *x = &t[0];
    bool inst = s->op == IR_OP_INSTANCE_NORM;
    int axis = inst ? 2 : (int)(s->axis < 0 ? s->axis + x->rank : s->axis);
    int64_t outer = gf_numel(axis, x->dims), inner = gf_numel(x->rank - axis, x->dims + axis);
    for (int64_t r = 0; r < outer; r++) {
        const double *xr = in[0] + r * inner;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < inner; i++)
            mean += xr[i];
        mean /= (double)inner;
        for (int64_t i = 0; i < inner; i++)
            var += (xr[i] - mean) * (xr[i] - mean);
        var /= (double)inner;
        double rs = 1 / sqrt(var + s->epsilon);
        for (int64_t i = 0; i < inner; i++) {
            double sc, b = 0;
            if (inst) {
                int64_t c = r % x->dims[1];
                sc = in[1][c], b = in[2][c];
            } else { /* broadcast: index of element i in the (right-aligned) scale and bias */
                int64_t si = 0, bi = 0, rem = i, sstride = 1, bstride = 1;
                for (int d = x->rank - 1; d >= axis; d--) {
                    int64_t pos = rem % x->dims[d];
                    rem /= x->dims[d];
                    int sd = t[1].rank - (x->rank - d), bd = t[2].rank - (x->rank - d);
                    if (sd >= 0) {
                        si += (t[1].dims[sd] == 1 ? 0 : pos) * sstride;
                        sstride *= t[1].dims[sd];
                    }
                    if (t[2].data && bd >= 0) {
                        bi += (t[2].dims[bd] == 1 ? 0 : pos) * bstride;
                        bstride *= t[2].dims[bd];
                    }
                }
                sc = in[1][si];
                b = t[2].data ? in[2][bi] : 0;
            }
            y[r * inner + i] = (xr[i] - mean) * rs * sc + b;
        }
    }
}

static void ref_lrn(const double *const *in, const GfTensor *t, const NormSpec *s, double *y)
{
    const GfTensor *x = &t[0];
    int64_t N = x->dims[0], C = x->dims[1], inner = gf_numel(x->rank - 2, x->dims + 2);
    int64_t lo = (s->size - 1) / 2, hi = s->size - 1 - lo;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < inner; i++) {
                double sq = 0;
                for (int64_t cc = c - lo; cc <= c + hi; cc++)
                    if (cc >= 0 && cc < C)
                        sq += in[0][(n * C + cc) * inner + i] * in[0][(n * C + cc) * inner + i];
                int64_t o = (n * C + c) * inner + i;
                y[o] = in[0][o] / pow(s->bias + s->alpha / (double)s->size * sq, s->beta);
            }
}

static void ref_norm(const double *const *in, const GfTensor *t, const int64_t *ydims, int yrank, double *y,
                     const void *ctx)
{
    (void)ydims, (void)yrank;
    const NormSpec *s = ctx;
    switch (s->op) {
    case IR_OP_BATCH_NORM: ref_batch_norm(in, t, s, y, NULL, NULL); break;
    case IR_OP_LRN: ref_lrn(in, t, s, y); break;
    default: ref_rows(in, t, s, y); break;
    }
}

static GfCase norm_case(const char *name, const NormSpec *s, int rank, const int64_t *xdims)
{
    GfCase c = {.name = name, .n_in = 1, .build = build_norm, .ref = ref_norm, .rule = grad_norm, .ctx = s};
    c.in[0] = gf_tensor(rank, xdims, gf_rand(gf_numel(rank, xdims), 21, -1, 1), true);
    if (s->op == IR_OP_BATCH_NORM || s->op == IR_OP_INSTANCE_NORM) {
        int crank = s->per_activation ? rank - 1 : 1;
        int64_t cn = gf_numel(crank, xdims + 1);
        c.n_in = s->op == IR_OP_BATCH_NORM ? 5 : 3;
        c.in[1] = gf_tensor(crank, xdims + 1, gf_rand(cn, 22, 0.5f, 1.5f), true);
        c.in[2] = gf_tensor(crank, xdims + 1, gf_rand(cn, 23, -1, 1), true);
        if (s->op == IR_OP_BATCH_NORM) {
            /* the running statistics: read in inference, differentiated there too (when parameters) */
            c.in[3] = gf_tensor(crank, xdims + 1, gf_rand(cn, 24, -0.5f, 0.5f), !s->training);
            c.in[4] = gf_tensor(crank, xdims + 1, gf_rand(cn, 25, 0.5f, 1.5f), !s->training);
        }
    }
    return c;
}

static void run_norm(const char *name, NormSpec s, int rank, const int64_t *xdims, bool fold)
{
    GfCase c = norm_case(name, &s, rank, xdims);
    gf_check(&c, false, fold);
    gf_free_case(&c);
}

Test(grad_norm, batch_norm_training)
{
    run_norm("train NCHW", (NormSpec){.op = IR_OP_BATCH_NORM, .training = true, .epsilon = 1e-5f}, 4,
             (int64_t[]){3, 2, 3, 4}, true);
    run_norm("train NCHW, forward with all statistics outputs",
             (NormSpec){.op = IR_OP_BATCH_NORM, .training = true, .epsilon = 1e-3f, .n_out = 4}, 4,
             (int64_t[]){2, 3, 2, 5}, false);
    run_norm("train [N, C]", (NormSpec){.op = IR_OP_BATCH_NORM, .training = true, .epsilon = 1e-5f}, 2,
             (int64_t[]){6, 5}, true);
    run_norm("train [N, C] with more channels than a block", (NormSpec){.op = IR_OP_BATCH_NORM, .training = true,
                                                                     .epsilon = 1e-5f},
             2, (int64_t[]){5, 70}, false);
    run_norm("train NCL", (NormSpec){.op = IR_OP_BATCH_NORM, .training = true, .epsilon = 1e-5f}, 3,
             (int64_t[]){4, 3, 5}, false);
    run_norm("train per activation", (NormSpec){.op = IR_OP_BATCH_NORM, .training = true, .per_activation = true,
                                                .epsilon = 1e-5f},
             3, (int64_t[]){5, 2, 3}, false);
}

Test(grad_norm, batch_norm_inference)
{
    run_norm("inference NCHW (x, scale, B, mean, var)", (NormSpec){.op = IR_OP_BATCH_NORM, .epsilon = 1e-5f}, 4,
             (int64_t[]){2, 3, 3, 2}, true);
    run_norm("inference [N, C]", (NormSpec){.op = IR_OP_BATCH_NORM, .epsilon = 1e-2f}, 2, (int64_t[]){4, 6}, false);
    run_norm("inference per activation", (NormSpec){.op = IR_OP_BATCH_NORM, .per_activation = true, .epsilon = 1e-5f},
             3, (int64_t[]){2, 3, 2}, false);
}

static void run_layer_norm(const char *name, int64_t axis, int rank, const int64_t *xdims, int srank,
                           const int64_t *sdims, int brank, const int64_t *bdims, int n_out, bool fold)
{
    NormSpec s = {.op = IR_OP_LAYER_NORM, .axis = axis, .epsilon = 1e-5f, .n_out = n_out};
    GfCase c = {.name = name, .n_in = 3, .build = build_norm, .ref = ref_norm, .rule = grad_norm, .ctx = &s};
    c.in[0] = gf_tensor(rank, xdims, gf_rand(gf_numel(rank, xdims), 31, -1, 1), true);
    c.in[1] = gf_tensor(srank, sdims, gf_rand(gf_numel(srank, sdims), 32, 0.5f, 1.5f), true);
    c.in[2] = gf_tensor(brank, brank ? bdims : sdims, brank ? gf_rand(gf_numel(brank, bdims), 33, -1, 1) : NULL, brank > 0);
    gf_check(&c, false, fold);
    gf_free_case(&c);
}

Test(grad_norm, layer_norm)
{
    run_layer_norm("last axis", -1, 3, (int64_t[]){2, 3, 8}, 1, (int64_t[]){8}, 1, (int64_t[]){8}, 1, true);
    run_layer_norm("axis 1 of 3, with statistics outputs", 1, 3, (int64_t[]){3, 4, 5}, 2, (int64_t[]){4, 5}, 2,
                   (int64_t[]){4, 5}, 3, false);
    run_layer_norm("broadcast scale [1, 5], bias [4, 1]", 1, 3, (int64_t[]){2, 4, 5}, 2, (int64_t[]){1, 5}, 2,
                   (int64_t[]){4, 1}, 1, false);
    run_layer_norm("no bias, axis 0", 0, 2, (int64_t[]){3, 4}, 2, (int64_t[]){3, 4}, 0, NULL, 1, false);
    run_layer_norm("long rows", -1, 2, (int64_t[]){3, 40}, 1, (int64_t[]){40}, 1, (int64_t[]){40}, 1, false);
}

Test(grad_norm, instance_norm_and_lrn)
{
    run_norm("instance norm NCHW", (NormSpec){.op = IR_OP_INSTANCE_NORM, .epsilon = 1e-5f}, 4,
             (int64_t[]){2, 3, 3, 4}, true);
    run_norm("instance norm NCL", (NormSpec){.op = IR_OP_INSTANCE_NORM, .epsilon = 1e-3f}, 3,
             (int64_t[]){2, 2, 6}, false);
    run_norm("LRN size 3", (NormSpec){.op = IR_OP_LRN, .size = 3, .alpha = 0.5f, .beta = 0.75f, .bias = 1.0f}, 4,
             (int64_t[]){2, 5, 2, 3}, true);
    run_norm("LRN size 4 (asymmetric window)", (NormSpec){.op = IR_OP_LRN, .size = 4, .alpha = 0.3f, .beta = 0.6f,
                                                          .bias = 2.0f},
             3, (int64_t[]){1, 6, 4}, false);
}

/* The training forward's outputs: y, batch mean, inverse std and UNBIASED variance. */
Test(grad_norm, batch_norm_training_statistics)
{
    NormSpec s = {.op = IR_OP_BATCH_NORM, .training = true, .epsilon = 1e-5f, .n_out = 4};
    int64_t xd[4] = {4, 3, 2, 5};
    GfCase c = norm_case("stats", &s, 4, xd);
    IrGraph *g = ir_graph_new("stats");
    ir_graph_set_source(g, "test");
    IrValue *ins[GF_MAX_IN];
    IrNode *n = gf_forward(g, &c, false, ins);
    for (int i = 0; i < 4; i++)
        ir_graph_add_output(g, n->outputs[i]);
    SdModel *m = gf_compile(g, "openblas");
    void *in_p[5], *out_p[4];
    for (int i = 0; i < 5; i++)
        in_p[i] = c.in[i].data;
    float y[120], stats[3][3];
    out_p[0] = y;
    for (int i = 0; i < 3; i++)
        out_p[1 + i] = stats[i];
    sd_model_run_raw(m, in_p, out_p);
    sd_model_free(m);
    double *din[5], yref[120], mean[3], var[3];
    for (int i = 0; i < 5; i++) {
        int64_t ne = gf_numel(c.in[i].rank, c.in[i].dims);
        din[i] = malloc((size_t)ne * sizeof(double));
        for (int64_t e = 0; e < ne; e++)
            din[i][e] = c.in[i].data[e];
    }
    ref_batch_norm((const double *const *)din, c.in, &s, yref, mean, var);
    for (int i = 0; i < 120; i++)
        cr_assert(fabs(y[i] - yref[i]) < 1e-5 * (1 + fabs(yref[i])), "y[%d] %g vs %g", i, y[i], yref[i]);
    for (int k = 0; k < 3; k++) {
        double biased = var[k] * 39 / 40;
        cr_assert(fabs(stats[0][k] - mean[k]) < 1e-6, "mean[%d] %g vs %g", k, stats[0][k], mean[k]);
        cr_assert(fabs(stats[1][k] - 1 / sqrt(biased + 1e-5)) < 1e-5, "invstd[%d]", k);
        cr_assert(fabs(stats[2][k] - var[k]) < 1e-6 * (1 + var[k]), "unbiased var[%d] %g vs %g", k, stats[2][k], var[k]);
    }
    for (int i = 0; i < 5; i++)
        free(din[i]);
    gf_free_case(&c);
}

Test(grad_norm, gradient_through_statistics_outputs_is_refused)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("bn");
    ir_graph_set_source(g, "test");
    IrShape xs = ir_shape_make(2, (int64_t[]){4, 3}), cs = ir_shape_make(1, (int64_t[]){3});
    IrValue *ins[5];
    for (int i = 0; i < 5; i++) {
        ins[i] = ir_value_new(g, i ? "c" : "x", SD_DT_F32, i ? &cs : &xs);
        ir_graph_add_input(g, ins[i]);
    }
    IrNode *n = gf_node(g, IR_OP_BATCH_NORM, ins, 5, 3);
    n->attrs.norm.training = true;
    PassOptions popt = {0};
    cr_assert_eq(pass_shape(g, &popt, &err), SD_OK, "%s", err.msg);
    unsigned char needs[64] = {0};
    needs[ins[0]->id] = 1;
    GradCtx gc = {.g = g, .opt = &popt, .err = &err, .needs = needs, .max_id = 63};
    IrValue *dy[3] = {NULL, n->outputs[1], NULL}, *dx[8] = {0};
    cr_assert_eq(grad_norm(&gc, n, dy, dx), SD_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "(batch_norm): a gradient through BatchNorm's batch statistics outputs is not supported"),
              "%s", err.msg);
    ir_graph_free(g);
}
