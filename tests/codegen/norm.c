/* tests/codegen/norm.c — BatchNorm (inference, also per activation), LayerNorm (any axis,
 * broadcast scale/bias, optional bias, Mean/InvStdDev outputs), InstanceNorm and LRN (odd and
 * even windows) on odd shapes, against double-precision references written here. */
#include "runtime/threadpool.h"
#include "tests/codegen/matnorm_harness.h"

static const TConfig base = {"openblas", NULL};
static const TConfig passes_off = {"builtin", "canonicalize,fold,dce,memplan"};

static double *dalloc(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(double)); }

static void check_batch_norm(int rank, const int64_t *dims, bool per_activation, TConfig cfg)
{
    TRng rng = {(uint64_t)(rank * 11 + dims[1] + per_activation)};
    int64_t n = tnumel(rank, dims), C = dims[1], inner = tnumel(rank - 2, dims + 2);
    int64_t pc = per_activation ? C * inner : C;
    float *x = trand(&rng, n), *vec[4];
    for (int i = 0; i < 4; i++)
        vec[i] = trand(&rng, pc);
    for (int64_t c = 0; c < pc; c++)
        vec[3][c] = fabsf(vec[3][c]) + 0.1f; /* variance */
    IrGraph *g = tgraph();
    IrValue *ins[5] = {tinput(g, "x", SD_DT_F32, rank, dims)};
    static const char *names[4] = {"scale", "bias", "mean", "var"};
    for (int i = 0; i < 4; i++)
        ins[1 + i] = per_activation ? tconst(g, names[i], rank - 1, dims + 1, vec[i])
                                    : tconst(g, names[i], 1, &C, vec[i]);
    IrNode *node = tnode(g, IR_OP_BATCH_NORM, "bn", ins, 5, 1);
    node->attrs.norm = (IrNormAttrs){.epsilon = 1e-3f, .momentum = 0.9f, .per_activation = per_activation};
    ir_graph_add_output(g, node->outputs[0]);
    SdModel *m = tcompile_ok(g, cfg);
    float *y = calloc((size_t)n, sizeof *y);
    double *want = dalloc(n);
    void *in_bufs[1] = {x}, *out_bufs[1] = {y};
    sd_model_run_raw(m, in_bufs, out_bufs);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = per_activation ? i % (C * inner) : (i / inner) % C;
        want[i] = ((double)x[i] - vec[2][c]) / sqrt((double)vec[3][c] + 1e-3) * vec[0][c] + vec[1][c];
    }
    tclose(y, want, NULL, n, 1e-5, 1e-5, per_activation ? "batch norm per activation" : "batch norm");
    sd_model_free(m);
    free(x), free(y), free(want);
    for (int i = 0; i < 4; i++)
        free(vec[i]);
}

Test(norm, batch_norm_odd_shapes)
{
    for (int k = 0; k < 2; k++) {
        TConfig cfg = k ? passes_off : base;
        check_batch_norm(4, (int64_t[]){3, 5, 7, 3}, false, cfg);
        check_batch_norm(2, (int64_t[]){4, 6}, false, cfg);
        check_batch_norm(3, (int64_t[]){2, 3, 37}, false, cfg);
        check_batch_norm(5, (int64_t[]){1, 2, 3, 1, 5}, false, cfg);
        check_batch_norm(4, (int64_t[]){2, 3, 2, 5}, true, cfg);
    }
}

/* Scale/B of rank s_rank with dims s_dims (broadcast to the normalized tail); B absent if !bias. */
static void check_layer_norm(int rank, const int64_t *dims, int64_t axis, int s_rank, const int64_t *s_dims, bool bias,
                             int n_out, TConfig cfg)
{
    TRng rng = {(uint64_t)(rank * 5 + axis + 100 * bias + n_out)};
    int64_t ax = axis < 0 ? axis + rank : axis;
    int64_t n = tnumel(rank, dims), outer = tnumel((int)ax, dims), inner = n / outer;
    int64_t ns = tnumel(s_rank, s_dims);
    float *x = trand(&rng, n), *scale = trand(&rng, ns), *b = trand(&rng, ns);
    for (int64_t i = 0; i < n; i++)
        x[i] = x[i] * 3.0f + 1.5f; /* a mean away from 0 */
    IrGraph *g = tgraph();
    IrValue *ins[3] = {tinput(g, "x", SD_DT_F32, rank, dims), tconst(g, "scale", s_rank, s_dims, scale),
                       bias ? tconst(g, "b", s_rank, s_dims, b) : NULL};
    IrNode *node = tnode(g, IR_OP_LAYER_NORM, "ln", ins, bias ? 3 : 2, n_out);
    node->attrs.norm = (IrNormAttrs){.axis = axis, .epsilon = 1e-5f};
    for (int i = 0; i < n_out; i++)
        ir_graph_add_output(g, node->outputs[i]);
    SdModel *m = tcompile_ok(g, cfg);
    float *y = calloc((size_t)n, sizeof *y), *mean = calloc((size_t)outer, sizeof *mean),
          *inv = calloc((size_t)outer, sizeof *inv);
    double *want = dalloc(n), *want_mean = dalloc(outer), *want_inv = dalloc(outer);
    void *in_bufs[1] = {x}, *out_bufs[3] = {y, mean, inv};
    sd_model_run_raw(m, in_bufs, out_bufs);
    /* the scale's element for tail position t: right-aligned broadcast */
    int64_t tail_rank = rank - ax;
    for (int64_t r = 0; r < outer; r++) {
        double s = 0, ss = 0;
        for (int64_t t = 0; t < inner; t++)
            s += x[r * inner + t];
        double mu = s / (double)inner;
        for (int64_t t = 0; t < inner; t++)
            ss += (x[r * inner + t] - mu) * (x[r * inner + t] - mu);
        double is = 1.0 / sqrt(ss / (double)inner + 1e-5);
        want_mean[r] = mu;
        want_inv[r] = is;
        for (int64_t t = 0; t < inner; t++) {
            int64_t rest = t, si = 0, stride = 1;
            for (int d = (int)tail_rank - 1; d >= 0; d--) {
                int64_t dim = dims[ax + d], idx = rest % dim;
                rest /= dim;
                int sd = d - (int)(tail_rank - s_rank);
                if (sd >= 0) {
                    si += (s_dims[sd] == 1 ? 0 : idx) * stride;
                    stride *= s_dims[sd];
                }
            }
            want[r * inner + t] = (x[r * inner + t] - mu) * is * scale[si] + (bias ? b[si] : 0.0);
        }
    }
    char what[64];
    snprintf(what, sizeof what, "layer norm rank %d axis %lld", rank, (long long)axis);
    tclose(y, want, NULL, n, 2e-5, 2e-5, what);
    if (n_out > 1)
        tclose(mean, want_mean, NULL, outer, 1e-5, 1e-5, "layer norm mean");
    if (n_out > 2)
        tclose(inv, want_inv, NULL, outer, 1e-5, 1e-5, "layer norm inv std");
    sd_model_free(m);
    free(x), free(scale), free(b), free(y), free(mean), free(inv), free(want), free(want_mean), free(want_inv);
}

Test(norm, layer_norm_axes_broadcast_scale_and_statistics)
{
    for (int k = 0; k < 2; k++) {
        TConfig cfg = k ? passes_off : base;
        check_layer_norm(3, (int64_t[]){3, 7, 13}, -1, 1, (int64_t[]){13}, true, 3, cfg);
        check_layer_norm(3, (int64_t[]){3, 7, 13}, 1, 2, (int64_t[]){7, 13}, true, 1, cfg);
        check_layer_norm(3, (int64_t[]){3, 7, 13}, 1, 1, (int64_t[]){13}, true, 3, cfg);    /* broadcast over 7 */
        check_layer_norm(3, (int64_t[]){3, 7, 13}, 1, 2, (int64_t[]){7, 1}, false, 2, cfg); /* broadcast, no B */
        check_layer_norm(3, (int64_t[]){3, 7, 13}, 0, 3, (int64_t[]){3, 7, 13}, false, 3, cfg);
        check_layer_norm(2, (int64_t[]){197, 77}, -1, 1, (int64_t[]){77}, true, 1, cfg);
        /* rows shared out over threads, reading one expanded copy of a broadcast scale and bias */
        check_layer_norm(3, (int64_t[]){301, 7, 13}, 1, 1, (int64_t[]){13}, true, 3, cfg);
        check_layer_norm(1, (int64_t[]){1}, 0, 1, (int64_t[]){1}, true, 3, cfg);
    }
}

static void check_instance_norm(int rank, const int64_t *dims, TConfig cfg)
{
    TRng rng = {(uint64_t)(rank * 3 + dims[1])};
    int64_t n = tnumel(rank, dims), C = dims[1], inner = tnumel(rank - 2, dims + 2);
    float *x = trand(&rng, n), *scale = trand(&rng, C), *b = trand(&rng, C);
    IrGraph *g = tgraph();
    IrValue *ins[3] = {tinput(g, "x", SD_DT_F32, rank, dims), tconst(g, "scale", 1, &C, scale), tconst(g, "b", 1, &C, b)};
    IrNode *node = tnode(g, IR_OP_INSTANCE_NORM, "in", ins, 3, 1);
    node->attrs.norm = (IrNormAttrs){.epsilon = 1e-2f};
    ir_graph_add_output(g, node->outputs[0]);
    SdModel *m = tcompile_ok(g, cfg);
    float *y = calloc((size_t)n, sizeof *y);
    double *want = dalloc(n);
    void *in_bufs[1] = {x}, *out_bufs[1] = {y};
    sd_model_run_raw(m, in_bufs, out_bufs);
    for (int64_t blk = 0; blk < n / inner; blk++) {
        const float *xb = x + blk * inner;
        double s = 0, ss = 0;
        for (int64_t i = 0; i < inner; i++)
            s += xb[i];
        double mu = s / (double)inner;
        for (int64_t i = 0; i < inner; i++)
            ss += (xb[i] - mu) * (xb[i] - mu);
        double is = 1.0 / sqrt(ss / (double)inner + 1e-2);
        for (int64_t i = 0; i < inner; i++)
            want[blk * inner + i] = (xb[i] - mu) * is * scale[blk % C] + b[blk % C];
    }
    tclose(y, want, NULL, n, 2e-5, 2e-5, "instance norm");
    sd_model_free(m);
    free(x), free(scale), free(b), free(y), free(want);
}

Test(norm, instance_norm_odd_shapes)
{
    for (int k = 0; k < 2; k++) {
        TConfig cfg = k ? passes_off : base;
        check_instance_norm(4, (int64_t[]){2, 3, 5, 7}, cfg);
        check_instance_norm(3, (int64_t[]){3, 1, 41}, cfg);
        check_instance_norm(5, (int64_t[]){1, 4, 3, 2, 3}, cfg);
    }
}

static void check_lrn(int rank, const int64_t *dims, int64_t size, TConfig cfg)
{
    TRng rng = {(uint64_t)(rank + size * 7)};
    int64_t n = tnumel(rank, dims), C = dims[1], inner = tnumel(rank - 2, dims + 2);
    float *x = trand(&rng, n);
    IrGraph *g = tgraph();
    IrValue *ins[1] = {tinput(g, "x", SD_DT_F32, rank, dims)};
    IrNode *node = tnode(g, IR_OP_LRN, "lrn", ins, 1, 1);
    node->attrs.norm = (IrNormAttrs){.size = size, .alpha = 0.5f, .beta = 0.75f, .bias = 1.5f};
    ir_graph_add_output(g, node->outputs[0]);
    SdModel *m = tcompile_ok(g, cfg);
    float *y = calloc((size_t)n, sizeof *y);
    double *want = dalloc(n);
    void *in_bufs[1] = {x}, *out_bufs[1] = {y};
    sd_model_run_raw(m, in_bufs, out_bufs);
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo; /* floor and ceil of (size - 1) / 2 */
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / inner) % C, base_i = i - c * inner;
        double sq = 0;
        for (int64_t cc = c - lo; cc <= c + hi; cc++)
            if (cc >= 0 && cc < C)
                sq += (double)x[base_i + cc * inner] * x[base_i + cc * inner];
        want[i] = x[i] / pow(1.5 + 0.5 / (double)size * sq, 0.75);
    }
    char what[32];
    snprintf(what, sizeof what, "lrn size %lld", (long long)size);
    tclose(y, want, NULL, n, 1e-6, 1e-5, what);
    sd_model_free(m);
    free(x), free(y), free(want);
}

Test(norm, lrn_odd_and_even_windows)
{
    for (int k = 0; k < 2; k++) {
        TConfig cfg = k ? passes_off : base;
        check_lrn(4, (int64_t[]){2, 7, 3, 5}, 3, cfg);
        check_lrn(4, (int64_t[]){2, 7, 3, 5}, 4, cfg);
        check_lrn(3, (int64_t[]){1, 5, 9}, 1, cfg);
        check_lrn(4, (int64_t[]){1, 3, 2, 2}, 9, cfg); /* window wider than the channels */
    }
}

Test(norm, batch_norm_with_wrong_vector_size_names_it)
{
    IrGraph *g = tgraph();
    float v[4] = {1, 1, 1, 1};
    IrValue *ins[5] = {tinput(g, "x", SD_DT_F32, 4, (int64_t[]){1, 3, 2, 2}), tconst(g, "gamma", 1, (int64_t[]){4}, v),
                       tconst(g, "beta", 1, (int64_t[]){3}, v), tconst(g, "mean", 1, (int64_t[]){3}, v),
                       tconst(g, "var", 1, (int64_t[]){3}, v)};
    IrNode *node = tnode(g, IR_OP_BATCH_NORM, "bn1", ins, 5, 1);
    node->attrs.norm.epsilon = 1e-5f;
    ir_graph_add_output(g, node->outputs[0]);
    SdError err = {0};
    SdModel *m;
    cr_assert_neq(tcompile(g, base, &m, &err), SD_OK);
    cr_assert(strstr(err.msg, "'bn1'") && strstr(err.msg, "'gamma'") && strstr(err.msg, "[3]"), "message: %s", err.msg);
}

Test(norm, layer_norm_scale_that_does_not_broadcast_names_it)
{
    IrGraph *g = tgraph();
    float v[5] = {1, 1, 1, 1, 1};
    IrValue *ins[2] = {tinput(g, "x", SD_DT_F32, 2, (int64_t[]){3, 4}), tconst(g, "gamma", 1, (int64_t[]){5}, v)};
    IrNode *node = tnode(g, IR_OP_LAYER_NORM, "ln1", ins, 2, 1);
    node->attrs.norm = (IrNormAttrs){.axis = -1, .epsilon = 1e-5f};
    ir_graph_add_output(g, node->outputs[0]);
    SdError err = {0};
    SdModel *m;
    cr_assert_neq(tcompile(g, base, &m, &err), SD_OK);
    cr_assert(strstr(err.msg, "'ln1'") && strstr(err.msg, "'gamma'") && strstr(err.msg, "[4]"), "message: %s", err.msg);
}

Test(norm, layer_norm_statistics_outputs_that_nothing_reads)
{
    TRng rng = {9};
    float *x = trand(&rng, 2 * 5), *scale = trand(&rng, 5);
    for (int k = 0; k < 2; k++) {
        IrGraph *g = tgraph();
        IrValue *ins[2] = {tinput(g, "x", SD_DT_F32, 2, (int64_t[]){2, 5}), tconst(g, "scale", 1, (int64_t[]){5}, scale)};
        IrNode *node = tnode(g, IR_OP_LAYER_NORM, "ln", ins, 2, 3);
        node->attrs.norm = (IrNormAttrs){.axis = 1, .epsilon = 1e-5f};
        ir_graph_add_output(g, node->outputs[0]);
        SdModel *m = tcompile_ok(g, k ? passes_off : base);
        float y[10];
        void *in_bufs[1] = {x}, *out_bufs[1] = {y};
        sd_model_run_raw(m, in_bufs, out_bufs);
        for (int r = 0; r < 2; r++) {
            double mu = 0, var = 0;
            for (int i = 0; i < 5; i++)
                mu += x[r * 5 + i] / 5.0;
            for (int i = 0; i < 5; i++)
                var += (x[r * 5 + i] - mu) * (x[r * 5 + i] - mu) / 5.0;
            for (int i = 0; i < 5; i++)
                cr_expect(fabs(y[r * 5 + i] - (x[r * 5 + i] - mu) / sqrt(var + 1e-5) * scale[i]) < 1e-5);
        }
        sd_model_free(m);
    }
    free(x), free(scale);
}

/* Training BatchNorm, its gradient and a ReLU gradient split over threads (by channels, by
 * elements) give the bits of one thread: a channel's sums never depend on the split. [N, C, H, W]
 * and the per-activation [N, C] form (channels in blocks). */
static void train_bn_outputs(const int64_t *dims, int rank, int threads, float **outs)
{
    IrGraph *g = tgraph();
    const int64_t C = dims[1];
    TRng rng = {7};
    float *scale = trand(&rng, C), *bias = trand(&rng, C);
    IrValue *x = tinput(g, "x", SD_DT_F32, rank, dims), *dy = tinput(g, "dy", SD_DT_F32, rank, dims);
    IrValue *ins[5] = {x, tconst(g, "scale", 1, &C, scale), tconst(g, "bias", 1, &C, bias), NULL, NULL};
    ins[3] = tconst(g, "rm", 1, &C, bias), ins[4] = tconst(g, "rv", 1, &C, scale);
    IrNode *bn = tnode(g, IR_OP_BATCH_NORM, "bn", ins, 5, 4);
    bn->attrs.norm = (IrNormAttrs){.epsilon = 1e-5f, .momentum = 0.9f, .training = true};
    IrNode *relu = tnode(g, IR_OP_RELU, "relu", (IrValue *[]){bn->outputs[0]}, 1, 1);
    IrNode *rg = tnode(g, IR_OP_UNARY_GRAD, "relu_grad", (IrValue *[]){dy, bn->outputs[0]}, 2, 1);
    rg->attrs.unary.grad_of = IR_OP_RELU;
    IrNode *bg = tnode(g, IR_OP_BATCH_NORM_GRAD, "bn_grad",
                       (IrValue *[]){rg->outputs[0], x, ins[1], bn->outputs[1], bn->outputs[2]}, 5, 3);
    bg->attrs.norm = (IrNormAttrs){.epsilon = 1e-5f, .training = true};
    IrValue *outputs[7] = {relu->outputs[0], bn->outputs[1], bn->outputs[2], bn->outputs[3], bg->outputs[0],
                           bg->outputs[1], bg->outputs[2]};
    for (int i = 0; i < 7; i++)
        ir_graph_add_output(g, outputs[i]);
    const int64_t n = tnumel(rank, dims);
    float *xv = trand(&rng, n), *dyv = trand(&rng, n);
    SdOptions o = sd_options_default();
    o.threads = threads;
    o.gemm = "builtin";
    SdError err = {0};
    SdModel *m = NULL;
    cr_assert_eq(sd_optimize(g, &o, NULL, NULL, NULL, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_model_compile(g, &o, &m, &err), SD_OK, "%s", err.msg);
    const int64_t sizes[7] = {n, C, C, C, n, C, C};
    for (int i = 0; i < 7; i++)
        outs[i] = calloc((size_t)sizes[i], sizeof(float));
    sd_model_run_raw(m, (void *[]){xv, dyv}, (void *const *)outs);
    sd_model_free(m);
    free(scale), free(bias), free(xv), free(dyv);
}

Test(norm, training_batch_norm_split_over_threads_gives_the_same_bits)
{
    static const int64_t shapes[2][4] = {{16, 24, 12, 12}, {4096, 80, 0, 0}};
    for (int s = 0; s < 2; s++) {
        const int rank = shapes[s][2] ? 4 : 2;
        const int64_t n = tnumel(rank, shapes[s]), C = shapes[s][1];
        float *one[7], *two[7];
        train_bn_outputs(shapes[s], rank, 1, one);
        train_bn_outputs(shapes[s], rank, 2, two);
        const int64_t sizes[7] = {n, C, C, C, n, C, C};
        for (int i = 0; i < 7; i++) {
            cr_assert(memcmp(one[i], two[i], (size_t)sizes[i] * sizeof(float)) == 0,
                      "rank %d: output %d differs between 1 and 2 threads", rank, i);
            free(one[i]), free(two[i]);
        }
    }
    rt_set_num_threads(0);
}
