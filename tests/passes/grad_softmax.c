/* tests/passes/grad_softmax.c — Softmax/LogSoftmax gradients (any axis, opset < 13 flattening),
 * softmax cross-entropy with class-index and soft targets (ignore_index, sum/mean/none, [N, C, d]
 * layouts), negative log-likelihood with weights, by finite differences; the loss kernels and the
 * softmax gradient kernel against double-precision formulas on larger sizes; large logits stay
 * finite. */
#include "fd.h"

typedef struct {
    IrOp op;
    int64_t axis;
    bool flatten;
} SmCase;

static IrValue *build_softmax(IrGraph *g, IrValue *const *in, void *ctx)
{
    const SmCase *s = ctx;
    IrAttrs a = {0};
    a.softmax.axis = s->axis, a.softmax.flatten_trailing = s->flatten;
    IrValue *y = fd_op(g, s->op, in, 1, &a);
    /* a nonlinearity after it: sum(w * y) alone has a degenerate gradient for log-softmax rows */
    IrValue *y2 = fd_op(g, IR_OP_MUL, (IrValue *[]){y, y}, 2, NULL);
    return fd_op(g, IR_OP_ADD, (IrValue *[]){y, y2}, 2, NULL);
}

Test(grad_softmax, softmax_and_log_softmax_along_any_axis)
{
    int64_t dims[3] = {2, 5, 3};
    float *x = fd_rand(1, 30, -2, 2);
    FdInput in = fd_f32(3, dims, x);
    const SmCase cases[] = {
        {IR_OP_SOFTMAX, -1, false}, {IR_OP_SOFTMAX, 1, false}, {IR_OP_SOFTMAX, 1, true},
        {IR_OP_LOG_SOFTMAX, 2, false}, {IR_OP_LOG_SOFTMAX, 0, false}, {IR_OP_LOG_SOFTMAX, 1, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "%s axis %lld%s", ir_op_name(cases[k].op), (long long)cases[k].axis,
                 cases[k].flatten ? " flattened" : "");
        fd_check_all(what, &in, 1, build_softmax, (void *)&cases[k], NULL);
    }
    free(x);
}

typedef struct {
    IrOp op;
    IrLossReduction reduction;
    bool has_ignore;
    int64_t ignore_index;
    bool log_softmax_first; /* NLL of a LogSoftmax: the ONNX SoftmaxCrossEntropyLoss import */
} LossCase;

/* in[0] input, in[1] target, in[2] weights (NLL) */
static IrValue *build_loss(IrGraph *g, IrValue *const *in, void *ctx)
{
    const LossCase *l = ctx;
    IrAttrs a = {0};
    a.softmax.reduction = l->reduction;
    a.softmax.has_ignore_index = l->has_ignore;
    a.softmax.ignore_index = l->ignore_index;
    IrValue *x = in[0];
    if (l->log_softmax_first) {
        IrAttrs s = {0};
        s.softmax.axis = 1;
        x = fd_op(g, IR_OP_LOG_SOFTMAX, &x, 1, &s);
    }
    int n = l->op == IR_OP_NEGATIVE_LOG_LIKELIHOOD && in[2] ? 3 : 2;
    return fd_op(g, l->op, (IrValue *[]){x, in[1], in[2]}, n, &a);
}

/* f32 probabilities [N, C, d...] (rows sum to 1 along axis 1) */
static float *soft_targets(uint32_t seed, int64_t n, int64_t c, int64_t inner)
{
    float *t = fd_rand(seed, n * c * inner, 0.05f, 1.0f);
    for (int64_t o = 0; o < n; o++)
        for (int64_t i = 0; i < inner; i++) {
            double s = 0;
            for (int64_t k = 0; k < c; k++)
                s += t[(o * c + k) * inner + i];
            for (int64_t k = 0; k < c; k++)
                t[(o * c + k) * inner + i] /= (float)s;
        }
    return t;
}

Test(grad_softmax, cross_entropy_with_class_indices)
{
    int64_t d2[2] = {4, 5}, d3[3] = {3, 4, 2}, t2[1] = {4}, t3[2] = {3, 2};
    float *x2 = fd_rand(2, 20, -3, 3), *x3 = fd_rand(3, 24, -3, 3);
    int64_t lab2[4] = {0, 4, 2, 2}, lab3[6] = {1, 3, 0, -100, 2, 2};
    const LossCase cases[] = {
        {IR_OP_SOFTMAX_CROSS_ENTROPY, IR_REDUCTION_MEAN, false, 0, false},
        {IR_OP_SOFTMAX_CROSS_ENTROPY, IR_REDUCTION_SUM, false, 0, false},
        {IR_OP_SOFTMAX_CROSS_ENTROPY, IR_REDUCTION_NONE, false, 0, false},
        {IR_OP_SOFTMAX_CROSS_ENTROPY, IR_REDUCTION_MEAN, true, -100, false},
        {IR_OP_NEGATIVE_LOG_LIKELIHOOD, IR_REDUCTION_MEAN, true, -100, true},
        {IR_OP_NEGATIVE_LOG_LIKELIHOOD, IR_REDUCTION_NONE, true, 2, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "%s hard case %zu", ir_op_name(cases[k].op), k);
        if (!cases[k].has_ignore) { /* -100 would be clamped: only with ignore_index */
            FdInput in[3] = {fd_f32(2, d2, x2), fd_fixed(SD_DT_I64, 1, t2, lab2)};
            fd_check_all(what, in, 2, build_loss, (void *)&cases[k], NULL);
        } else {
            FdInput in[3] = {fd_f32(3, d3, x3), fd_fixed(SD_DT_I64, 2, t3, lab3)};
            fd_check_all(what, in, 2, build_loss, (void *)&cases[k], NULL);
        }
    }
    /* NLL with class weights, i32 labels */
    float w[4] = {0.5f, 2.0f, 1.0f, 0.25f};
    int32_t lab32[6] = {1, 3, 0, 3, 2, 2};
    LossCase nll = {IR_OP_NEGATIVE_LOG_LIKELIHOOD, IR_REDUCTION_MEAN, false, 0, true};
    FdInput in[3] = {fd_f32(3, d3, x3), fd_fixed(SD_DT_I32, 2, t3, lab32), fd_fixed(SD_DT_F32, 1, (int64_t[]){4}, w)};
    fd_check_all("nll weighted", in, 3, build_loss, &nll, NULL);
    free(x2), free(x3);
}

Test(grad_softmax, cross_entropy_with_soft_targets)
{
    /* both the logits and the targets (a peer network's output) get gradients */
    int64_t d2[2] = {4, 6}, d3[3] = {2, 3, 4};
    float *x2 = fd_rand(5, 24, -3, 3), *t2 = soft_targets(6, 4, 6, 1);
    float *x3 = fd_rand(7, 24, -3, 3), *t3 = soft_targets(8, 2, 3, 4);
    for (int r = 0; r < 3; r++) {
        LossCase l = {IR_OP_SOFTMAX_CROSS_ENTROPY, (IrLossReduction)r, false, 0, false};
        char what[64];
        snprintf(what, sizeof what, "soft cross-entropy reduction %d", r);
        FdInput in[2] = {fd_f32(2, d2, x2), fd_f32(2, d2, t2)};
        fd_check_all(what, in, 2, build_loss, &l, NULL);
        FdInput in3[2] = {fd_f32(3, d3, x3), fd_f32(3, d3, t3)};
        fd_check_all(what, in3, 2, build_loss, &l, NULL);
    }
    free(x2), free(t2), free(x3), free(t3);
}

/* --- kernels against double precision --- */

static double ref_loss(const float *x, const void *target, bool soft, bool i32, const float *w, int64_t N, int64_t C,
                       int64_t D, bool from_logits, IrLossReduction red, int64_t ignore, bool has_ignore, double *per,
                       double *denom)
{
    double total = 0, den = 0;
    for (int64_t o = 0; o < N; o++)
        for (int64_t i = 0; i < D; i++) {
            double m = -INFINITY, s = 0;
            for (int64_t c = 0; c < C; c++)
                m = fmax(m, x[(o * C + c) * D + i]);
            for (int64_t c = 0; c < C; c++)
                s += exp(x[(o * C + c) * D + i] - m);
            double lse = from_logits ? m + log(s) : 0, l = 0;
            if (soft) {
                for (int64_t c = 0; c < C; c++)
                    l += ((const float *)target)[(o * C + c) * D + i] * (w ? w[c] : 1) * (lse - x[(o * C + c) * D + i]);
                den += 1;
            } else {
                int64_t t = i32 ? ((const int32_t *)target)[o * D + i] : ((const int64_t *)target)[o * D + i];
                if (!(has_ignore && t == ignore)) {
                    l = (w ? w[t] : 1) * (lse - x[(o * C + t) * D + i]);
                    den += w ? w[t] : 1;
                }
            }
            if (per)
                per[o * D + i] = l;
            total += l;
        }
    *denom = den;
    return red == IR_REDUCTION_MEAN ? total / den : total;
}

Test(grad_softmax, loss_kernels_match_double_precision)
{
    /* N = 8, C = 1000 (a vector tail), D = 1; and N = 3, C = 7, D = 5 */
    const int64_t shapes[2][3] = {{8, 1000, 1}, {3, 7, 5}};
    for (int sh = 0; sh < 2; sh++)
        for (int soft = 0; soft < 2; soft++) {
            int64_t N = shapes[sh][0], C = shapes[sh][1], D = shapes[sh][2], nx = N * C * D;
            float *x = fd_rand(11 + (uint32_t)sh, nx, -8, 8);
            x[0] = 80.0f; /* large logits: the max is subtracted first */
            int64_t *lab = malloc((size_t)(N * D) * sizeof *lab);
            for (int64_t i = 0; i < N * D; i++)
                lab[i] = (i * 37 + 3) % C;
            lab[1] = -1; /* ignored */
            float *t = soft ? soft_targets(12, N, C, D) : NULL;
            float *dl = fd_rand(13, N * D, -1, 1);
            for (int r = 0; r < 3; r++) {
                IrLossReduction red = (IrLossReduction)r;
                /* forward */
                IrGraph *g = ir_graph_new("loss");
                ir_graph_set_source(g, "loss");
                int64_t dx[3] = {N, C, D}, dt[2] = {N, D};
                IrValue *xv = fd_graph_input(g, "x", SD_DT_F32, D > 1 ? 3 : 2, dx);
                IrValue *tv = soft ? fd_graph_input(g, "t", SD_DT_F32, D > 1 ? 3 : 2, dx)
                                   : fd_graph_input(g, "t", SD_DT_I64, D > 1 ? 2 : 1, dt);
                IrAttrs a = {0};
                a.softmax.reduction = red, a.softmax.has_ignore_index = true, a.softmax.ignore_index = -1;
                IrValue *loss = fd_op(g, IR_OP_SOFTMAX_CROSS_ENTROPY, (IrValue *[]){xv, tv}, 2, &a);
                ir_graph_add_output(g, loss);
                int64_t nl;
                float *got = fd_eval(g, false, (void *[]){x, soft ? (void *)t : (void *)lab}, &nl);
                double per[8 * 5], den;
                double want = ref_loss(x, soft ? (void *)t : (void *)lab, soft, false, NULL, N, C, D, true, red, -1, true,
                                       per, &den);
                if (red == IR_REDUCTION_NONE)
                    fd_expect_close(got, per, N * D, 1e-5, 1e-5, "per-position loss");
                else
                    fd_expect_close(got, &want, 1, 1e-5, 1e-6, "loss");
                free(got);
                /* gradient: (softmax * mass - t) * scale */
                g = ir_graph_new("loss_grad");
                ir_graph_set_source(g, "loss_grad");
                int64_t one = 1;
                IrValue *dv = red == IR_REDUCTION_NONE ? fd_graph_input(g, "dl", SD_DT_F32, D > 1 ? 2 : 1, dt)
                                                       : fd_graph_input(g, "dl", SD_DT_F32, 0, &one);
                xv = fd_graph_input(g, "x", SD_DT_F32, D > 1 ? 3 : 2, dx);
                tv = soft ? fd_graph_input(g, "t", SD_DT_F32, D > 1 ? 3 : 2, dx)
                          : fd_graph_input(g, "t", SD_DT_I64, D > 1 ? 2 : 1, dt);
                IrValue *gx = fd_op(g, IR_OP_SOFTMAX_CROSS_ENTROPY_GRAD, (IrValue *[]){dv, xv, tv}, 3, &a);
                ir_graph_add_output(g, gx);
                got = fd_eval(g, false, (void *[]){dl, x, soft ? (void *)t : (void *)lab}, &nl);
                double *wg = malloc((size_t)nx * sizeof *wg);
                for (int64_t o = 0; o < N; o++)
                    for (int64_t i = 0; i < D; i++) {
                        double m = -INFINITY, s = 0;
                        for (int64_t c = 0; c < C; c++)
                            m = fmax(m, x[(o * C + c) * D + i]);
                        for (int64_t c = 0; c < C; c++)
                            s += exp(x[(o * C + c) * D + i] - m);
                        double scale = red == IR_REDUCTION_NONE ? dl[o * D + i] : red == IR_REDUCTION_SUM ? dl[0] : dl[0] / den;
                        bool ignored = !soft && lab[o * D + i] == -1;
                        for (int64_t c = 0; c < C; c++) {
                            double p = exp(x[(o * C + c) * D + i] - m) / s;
                            double tc = soft ? t[(o * C + c) * D + i] : (c == lab[o * D + i]);
                            wg[(o * C + c) * D + i] = ignored ? 0 : scale * (p - tc); /* soft rows sum to 1 */
                        }
                    }
                fd_expect_close(got, wg, nx, 1e-5, 2e-7, "cross-entropy gradient");
                free(got), free(wg);
            }
            free(x), free(lab), free(t), free(dl);
        }
}

Test(grad_softmax, softmax_gradient_kernel_matches_double_precision)
{
    /* rows of 1000 (vector tails), and a strided axis (inner 7) */
    const int64_t shapes[2][3] = {{5, 1000, 1}, {3, 11, 7}};
    for (int sh = 0; sh < 2; sh++)
        for (int log_sm = 0; log_sm < 2; log_sm++) {
            int64_t O = shapes[sh][0], n = shapes[sh][1], I = shapes[sh][2], nx = O * n * I;
            int64_t dims[3] = {O, n, I};
            float *dy = fd_rand(21, nx, -1, 1), *y = fd_rand(22, nx, 0.01f, 1);
            if (log_sm)
                for (int64_t k = 0; k < nx; k++)
                    y[k] = logf(y[k]);
            IrGraph *g = ir_graph_new("sm_grad");
            ir_graph_set_source(g, "sm_grad");
            IrValue *dv = fd_graph_input(g, "dy", SD_DT_F32, 3, dims), *yv = fd_graph_input(g, "y", SD_DT_F32, 3, dims);
            IrAttrs a = {0};
            a.softmax.axis = 1;
            IrValue *dx = fd_op(g, log_sm ? IR_OP_LOG_SOFTMAX_GRAD : IR_OP_SOFTMAX_GRAD, (IrValue *[]){dv, yv}, 2, &a);
            ir_graph_add_output(g, dx);
            int64_t ng;
            float *got = fd_eval(g, false, (void *[]){dy, y}, &ng);
            double *want = malloc((size_t)nx * sizeof *want);
            for (int64_t o = 0; o < O; o++)
                for (int64_t i = 0; i < I; i++) {
                    double s = 0;
                    for (int64_t j = 0; j < n; j++) {
                        int64_t k = (o * n + j) * I + i;
                        s += log_sm ? dy[k] : (double)dy[k] * y[k];
                    }
                    for (int64_t j = 0; j < n; j++) {
                        int64_t k = (o * n + j) * I + i;
                        want[k] = log_sm ? dy[k] - exp(y[k]) * s : y[k] * (dy[k] - s);
                    }
                }
            fd_expect_close(got, want, nx, 2e-5, 2e-5, log_sm ? "log-softmax gradient" : "softmax gradient");
            free(dy), free(y), free(got), free(want);
        }
}

/* --- messages --- */

#include "tests/common/onnx_builder.h"

Test(grad_softmax, loss_errors_name_the_node)
{
    /* an unknown reduction, at import */
    TbModel *m = tb_model_new(13);
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){3, 4});
    tb_input(m, "t", SD_DT_I64, 1, (int64_t[]){3});
    tb_node(m, "SoftmaxCrossEntropyLoss", "sce_7", (const char *[]){"x", "t", NULL}, (const char *[]){"loss", NULL});
    tb_attr_string(m, "reduction", "avg");
    tb_output(m, "loss", SD_DT_F32);
    const char *path = tb_path("sce.onnx");
    tb_save(m, path);
    tb_model_free(m);
    SdError err = {0};
    IrGraph *g = NULL;
    SdOptions so = sd_options_default();
    cr_assert_neq(sd_load_graph(path, &so, &g, NULL, &err), SD_OK);
    cr_assert(strstr(err.msg, "sce_7") && strstr(err.msg, "'avg'"), "%s", err.msg);

    /* targets that do not fit the logits, at shape inference */
    g = ir_graph_new("bad_targets");
    ir_graph_set_source(g, "model.onnx");
    IrValue *x = fd_graph_input(g, "logits", SD_DT_F32, 2, (int64_t[]){3, 4});
    IrValue *t = fd_graph_input(g, "labels", SD_DT_I64, 1, (int64_t[]){4});
    IrNode *n = ir_node_new1(g, IR_OP_SOFTMAX_CROSS_ENTROPY, "ce", (IrValue *[]){x, t}, 2, SD_DT_F32);
    ir_graph_add_output(g, n->outputs[0]);
    PassOptions po = {.verify = true};
    cr_assert_eq(pass_shape(g, &po, &err), SD_ESHAPE);
    cr_assert(strstr(err.msg, "node 'ce' (softmax_cross_entropy)") && strstr(err.msg, "'labels') has shape [4], expected [3] (class indices)"),
              "%s", err.msg);
    ir_graph_free(g);
}
