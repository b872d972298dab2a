/* tests/codegen/reduce.c — reductions and ArgMax/ArgMin against a naive double-precision
 * reference: every op over contiguous, strided and split axis sets, odd shapes, big all-axes
 * reductions (accuracy), empty sets, integers, ties and NaN for the arg reductions, and the
 * messages for bad axes. Each case runs through the JIT and through constant folding. */
#include "single_node.h"

typedef struct {
    int n_axes;
    int64_t axes[IR_MAX_RANK];
    bool keepdims, noop, last;
} ReduceSetup;

static void setup_reduce(IrNode *n, void *ctx)
{
    const ReduceSetup *s = ctx;
    IrReduceAttrs *a = &n->attrs.reduce;
    a->n_axes = s->n_axes;
    memcpy(a->axes, s->axes, sizeof a->axes);
    a->keepdims = s->keepdims;
    a->noop_with_empty_axes = s->noop;
    a->select_last_index = s->last;
}

/* Naive reference: out[i] over the input elements whose kept coordinates give i. */
static void reference(IrOp op, const float *x, int rank, const int64_t *dims, unsigned mask, double *out)
{
    int64_t n = sn_numel(rank, dims), n_out = 1;
    for (int d = 0; d < rank; d++)
        if (!(mask & (1u << d)))
            n_out *= dims[d];
    double *acc = calloc((size_t)n_out + 1, sizeof *acc), *mx = calloc((size_t)n_out + 1, sizeof *mx);
    int64_t *cnt = calloc((size_t)n_out + 1, sizeof *cnt);
    for (int64_t o = 0; o < n_out; o++) {
        mx[o] = -INFINITY;
        acc[o] = op == IR_OP_REDUCE_PROD ? 1 : op == IR_OP_REDUCE_MAX ? -INFINITY : op == IR_OP_REDUCE_MIN ? INFINITY : 0;
    }
    for (int pass = 0; pass < 2; pass++) { /* log-sum-exp needs the max first */
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i, o = 0, stride = 1;
            for (int d = rank - 1; d >= 0; d--) {
                int64_t c = rem % dims[d];
                rem /= dims[d];
                if (!(mask & (1u << d))) {
                    o += c * stride;
                    stride *= dims[d];
                }
            }
            double v = x[i];
            if (pass == 0) {
                mx[o] = v > mx[o] ? v : mx[o];
                cnt[o]++;
                continue;
            }
            switch (op) {
            case IR_OP_REDUCE_PROD: acc[o] *= v; break;
            case IR_OP_REDUCE_MAX: acc[o] = v > acc[o] ? v : acc[o]; break;
            case IR_OP_REDUCE_MIN: acc[o] = v < acc[o] ? v : acc[o]; break;
            case IR_OP_REDUCE_L1: acc[o] += fabs(v); break;
            case IR_OP_REDUCE_L2: case IR_OP_REDUCE_SUM_SQUARE: acc[o] += v * v; break;
            case IR_OP_REDUCE_LOG_SUM_EXP: acc[o] += exp(v - mx[o]); break;
            default: acc[o] += v; break;
            }
        }
    }
    for (int64_t o = 0; o < n_out; o++) {
        switch (op) {
        case IR_OP_REDUCE_MEAN: out[o] = acc[o] / (double)cnt[o]; break;
        case IR_OP_REDUCE_L2: out[o] = sqrt(acc[o]); break;
        case IR_OP_REDUCE_LOG_SUM: out[o] = log(acc[o]); break;
        case IR_OP_REDUCE_LOG_SUM_EXP: out[o] = cnt[o] ? mx[o] + log(acc[o]) : -INFINITY; break;
        default: out[o] = acc[o]; break;
        }
    }
    free(acc), free(mx), free(cnt);
}

static void check_reduce(IrOp op, int rank, const int64_t *dims, unsigned mask, bool keepdims, float lo, float hi,
                         double rtol, const char *what)
{
    int64_t n = sn_numel(rank, dims);
    float *x = malloc((size_t)n * sizeof *x + 4);
    sn_fill(x, n, (uint32_t)(n + mask), lo, hi);
    double *want = malloc((size_t)n * sizeof *want + 8);
    reference(op, x, rank, dims, mask, want);
    ReduceSetup s = {.keepdims = keepdims};
    for (int d = 0; d < rank; d++)
        if (mask & (1u << d))
            s.axes[s.n_axes++] = d - (d % 2 ? rank : 0); /* odd axes spelled negative */
    for (int fold = 0; fold < 2; fold++) {
        SnOperand in = {SD_DT_F32, rank, {0}, x, false};
        memcpy(in.dims, dims, (size_t)rank * sizeof dims[0]);
        RtTensor y;
        SdError err = {0};
        SdStatus st = sn_run(op, &in, 1, SD_DT_F32, setup_reduce, &s, fold, &y, &err);
        cr_assert_eq(st, SD_OK, "%s: %s", what, err.msg);
        int out_rank = 0;
        for (int d = 0; d < rank; d++)
            if (!(mask & (1u << d)) || keepdims)
                cr_assert_eq(y.dims[out_rank++], mask & (1u << d) ? 1 : dims[d], "%s: output dim %d", what, d);
        cr_assert_eq(y.rank, out_rank, "%s: output rank", what);
        char label[160];
        snprintf(label, sizeof label, "%s (%s)", what, fold ? "folded" : "jit");
        sn_expect_close(y.data, want, sn_numel(y.rank, y.dims), rtol, 1e-6, label);
        rt_tensor_free(&y);
    }
    free(x), free(want);
}

static const IrOp all_reductions[] = {
    IR_OP_REDUCE_SUM, IR_OP_REDUCE_MEAN, IR_OP_REDUCE_MAX, IR_OP_REDUCE_MIN, IR_OP_REDUCE_PROD,
    IR_OP_REDUCE_L1, IR_OP_REDUCE_L2, IR_OP_REDUCE_LOG_SUM, IR_OP_REDUCE_LOG_SUM_EXP, IR_OP_REDUCE_SUM_SQUARE,
};

Test(reduce, every_op_over_contiguous_strided_and_split_axes)
{
    const int64_t dims[4] = {3, 5, 7, 4};
    const unsigned masks[] = {0x2, 0x8, 0x1, 0x6, 0x5, 0x9, 0xa, 0xf, 0xd};
    for (size_t k = 0; k < sizeof all_reductions / sizeof all_reductions[0]; k++) {
        IrOp op = all_reductions[k];
        /* products stay near 1; logs see positive sums */
        float lo = op == IR_OP_REDUCE_PROD ? 0.8f : op == IR_OP_REDUCE_LOG_SUM ? 0.1f : -2.0f;
        float hi = op == IR_OP_REDUCE_PROD ? 1.2f : 2.0f;
        for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++) {
            char what[96];
            snprintf(what, sizeof what, "%s axes mask 0x%x", ir_op_name(op), masks[m]);
            check_reduce(op, 4, dims, masks[m], m % 2 == 0, lo, hi, 2e-6, what);
        }
    }
}

Test(reduce, odd_shapes_and_unit_dims)
{
    const int64_t a[5] = {1, 13, 1, 17, 3}, b[3] = {37, 1, 1}, c[1] = {1};
    check_reduce(IR_OP_REDUCE_SUM, 5, a, 0x0a, true, -1, 1, 2e-6, "sum [1,13,1,17,3] axes 1,3");
    check_reduce(IR_OP_REDUCE_MAX, 5, a, 0x05, false, -1, 1, 0, "max [1,13,1,17,3] axes 0,2 (unit dims only)");
    check_reduce(IR_OP_REDUCE_L1, 5, a, 0x05, true, -1, 1, 0, "l1 over unit dims is abs");
    check_reduce(IR_OP_REDUCE_LOG_SUM_EXP, 3, b, 0x1, true, -50, 50, 2e-6, "lse [37,1,1] axis 0");
    check_reduce(IR_OP_REDUCE_MEAN, 1, c, 0x1, false, -1, 1, 0, "mean of one element");
}

Test(reduce, big_reductions_keep_float_accuracy)
{
    /* a naive float loop drifts by about 1e-3 here; lanes + double blocks stay near 1e-7 */
    const int64_t flat[1] = {1 << 22};
    check_reduce(IR_OP_REDUCE_SUM, 1, flat, 0x1, false, 0.0f, 0.2f, 1e-6, "sum of 4M positives");
    check_reduce(IR_OP_REDUCE_MEAN, 1, flat, 0x1, true, 0.9f, 1.1f, 1e-6, "mean of 4M");
    check_reduce(IR_OP_REDUCE_LOG_SUM_EXP, 1, flat, 0x1, true, -3.0f, 3.0f, 1e-6, "log-sum-exp of 4M");
    const int64_t tall[2] = {300007, 5};
    check_reduce(IR_OP_REDUCE_SUM, 2, tall, 0x1, false, 0.0f, 0.2f, 1e-6, "sum down 300007 rows of 5");
    check_reduce(IR_OP_REDUCE_L2, 2, tall, 0x1, false, -1.0f, 1.0f, 1e-6, "l2 down 300007 rows of 5");
    const int64_t all4[4] = {8, 16, 96, 97};
    check_reduce(IR_OP_REDUCE_MEAN, 4, all4, 0xf, false, 0.0f, 1.0f, 1e-6, "mean of every axis, 1.2M elements");
}

Test(reduce, empty_sets_give_the_identity)
{
    static const struct {
        IrOp op;
        float want;
    } cases[] = {
        {IR_OP_REDUCE_SUM, 0.0f}, {IR_OP_REDUCE_PROD, 1.0f}, {IR_OP_REDUCE_MAX, -INFINITY},
        {IR_OP_REDUCE_MIN, INFINITY}, {IR_OP_REDUCE_L2, 0.0f}, {IR_OP_REDUCE_LOG_SUM_EXP, -INFINITY},
        {IR_OP_REDUCE_LOG_SUM, -INFINITY}, {IR_OP_REDUCE_MEAN, NAN},
    };
    float dummy = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ReduceSetup s = {.n_axes = 2, .axes = {1, 0}, .keepdims = true};
        SnOperand in = {SD_DT_F32, 3, {2, 0, 4}, &dummy, false};
        RtTensor y;
        SdError err = {0};
        cr_assert_eq(sn_run(cases[k].op, &in, 1, SD_DT_F32, setup_reduce, &s, false, &y, &err), SD_OK, "%s", err.msg);
        cr_assert_eq(y.rank, 3);
        cr_assert_eq(y.dims[2], 4);
        for (int i = 0; i < 4; i++) {
            float v = ((float *)y.data)[i];
            cr_assert(v == cases[k].want || (isnan(v) && isnan(cases[k].want)), "%s: %g, expected %g",
                      ir_op_name(cases[k].op), v, cases[k].want);
        }
        rt_tensor_free(&y);
    }
}

Test(reduce, noop_with_empty_axes_copies)
{
    float x[6] = {-1, 2, -3, 4, -5, 6};
    ReduceSetup s = {.noop = true, .keepdims = true};
    SnOperand in = {SD_DT_F32, 2, {2, 3}, x, false};
    RtTensor y;
    SdError err = {0};
    cr_assert_eq(sn_run(IR_OP_REDUCE_L1, &in, 1, SD_DT_F32, setup_reduce, &s, false, &y, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(y.rank, 2);
    cr_assert_eq(memcmp(y.data, x, sizeof x), 0);
    rt_tensor_free(&y);
}

Test(reduce, integers)
{
    int64_t x64[12] = {5, -3, 7, 2, 9, -8, 1, 4, -6, 3, 3, 10};
    int32_t x32[12];
    for (int i = 0; i < 12; i++)
        x32[i] = (int32_t)x64[i];
    static const struct {
        IrOp op;
        int64_t want_rows[3]; /* over axis 1 of [3, 4] */
    } cases[] = {
        {IR_OP_REDUCE_SUM, {11, 6, 10}}, {IR_OP_REDUCE_MAX, {7, 9, 10}}, {IR_OP_REDUCE_MIN, {-3, -8, -6}},
        {IR_OP_REDUCE_PROD, {-210, -288, -540}}, {IR_OP_REDUCE_MEAN, {2, 1, 2}}, {IR_OP_REDUCE_L1, {17, 22, 22}},
        {IR_OP_REDUCE_SUM_SQUARE, {87, 162, 154}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int wide = 0; wide < 2; wide++) {
            ReduceSetup s = {.n_axes = 1, .axes = {1}};
            SnOperand in = {wide ? SD_DT_I64 : SD_DT_I32, 2, {3, 4}, wide ? (void *)x64 : (void *)x32, false};
            RtTensor y;
            SdError err = {0};
            cr_assert_eq(sn_run(cases[k].op, &in, 1, in.dtype, setup_reduce, &s, false, &y, &err), SD_OK, "%s",
                         err.msg);
            for (int i = 0; i < 3; i++) {
                int64_t got = wide ? ((int64_t *)y.data)[i] : ((int32_t *)y.data)[i];
                cr_assert_eq(got, cases[k].want_rows[i], "%s %s row %d: %lld", ir_op_name(cases[k].op),
                             wide ? "i64" : "i32", i, (long long)got);
            }
            rt_tensor_free(&y);
        }
    }
    /* down the columns (inner > 1) */
    ReduceSetup s = {.n_axes = 1, .axes = {0}};
    SnOperand in = {SD_DT_I64, 2, {3, 4}, x64, false};
    RtTensor y;
    SdError err = {0};
    cr_assert_eq(sn_run(IR_OP_REDUCE_SUM, &in, 1, SD_DT_I64, setup_reduce, &s, false, &y, &err), SD_OK, "%s", err.msg);
    int64_t want[4] = {8, -8, 11, 16};
    cr_assert_eq(memcmp(y.data, want, sizeof want), 0);
    rt_tensor_free(&y);
}

static void check_arg(IrOp op, const float *x, int rank, const int64_t *dims, int axis, bool last, const int64_t *want,
                      const char *what)
{
    for (int fold = 0; fold < 2; fold++) {
        ReduceSetup s = {.n_axes = 1, .axes = {axis}, .keepdims = true, .last = last};
        SnOperand in = {SD_DT_F32, rank, {0}, x, false};
        memcpy(in.dims, dims, (size_t)rank * sizeof dims[0]);
        RtTensor y;
        SdError err = {0};
        cr_assert_eq(sn_run(op, &in, 1, SD_DT_I64, setup_reduce, &s, fold, &y, &err), SD_OK, "%s", err.msg);
        cr_assert_eq(y.dtype, SD_DT_I64);
        int64_t n = sn_numel(y.rank, y.dims);
        for (int64_t i = 0; i < n; i++)
            cr_assert_eq(((int64_t *)y.data)[i], want[i], "%s (%s) element %lld: %lld, expected %lld", what,
                         fold ? "folded" : "jit", (long long)i, (long long)((int64_t *)y.data)[i], (long long)want[i]);
        rt_tensor_free(&y);
    }
}

Test(reduce, argmax_argmin_ties_last_index_and_nan)
{
    /* [2, 3, 2]: reducing axis 1 has inner 2 (strided), axis 2 is contiguous */
    const float x[12] = {1, 5, 3, 5, 3, 2, /**/ 0, NAN, -1, 4, 0, NAN};
    const int64_t dims[3] = {2, 3, 2};
    check_arg(IR_OP_ARGMAX, x, 3, dims, 1, false, (int64_t[]){1, 0, 0, 0}, "argmax axis 1 first");
    check_arg(IR_OP_ARGMAX, x, 3, dims, 1, true, (int64_t[]){2, 1, 2, 2}, "argmax axis 1 last");
    check_arg(IR_OP_ARGMIN, x, 3, dims, 1, false, (int64_t[]){0, 2, 1, 0}, "argmin axis 1 first");
    check_arg(IR_OP_ARGMIN, x, 3, dims, -2, true, (int64_t[]){0, 2, 1, 2}, "argmin axis -2 last");
    check_arg(IR_OP_ARGMAX, x, 3, dims, 2, false, (int64_t[]){1, 1, 0, 1, 1, 1}, "argmax axis 2 first");
    check_arg(IR_OP_ARGMIN, x, 3, dims, 2, true, (int64_t[]){0, 0, 1, 1, 0, 1}, "argmin axis 2 last");
    /* a long odd row */
    float big[1001];
    sn_fill(big, 1001, 7, -1, 1);
    big[613] = 3, big[999] = -3;
    check_arg(IR_OP_ARGMAX, big, 1, (int64_t[]){1001}, 0, false, (int64_t[]){613}, "argmax of 1001");
    check_arg(IR_OP_ARGMIN, big, 1, (int64_t[]){1001}, 0, false, (int64_t[]){999}, "argmin of 1001");
}

Test(reduce, bad_axes_are_reported_with_the_node)
{
    float x[6] = {0};
    SnOperand in = {SD_DT_F32, 2, {2, 3}, x, false};
    RtTensor y;
    SdError err = {0};
    ReduceSetup s = {.n_axes = 1, .axes = {2}};
    cr_assert_eq(sn_run(IR_OP_REDUCE_SUM, &in, 1, SD_DT_F32, setup_reduce, &s, false, &y, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "node_under_test") && strstr(err.msg, "axis 2"), "message was: %s", err.msg);
    ReduceSetup twice = {.n_axes = 2, .axes = {1, -1}};
    cr_assert_eq(sn_run(IR_OP_REDUCE_MAX, &in, 1, SD_DT_F32, setup_reduce, &twice, false, &y, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "listed twice"), "message was: %s", err.msg);
    ReduceSetup arg = {.n_axes = 1, .axes = {0}};
    SnOperand empty = {SD_DT_F32, 2, {0, 3}, x, false};
    cr_assert_eq(sn_run(IR_OP_ARGMAX, &empty, 1, SD_DT_I64, setup_reduce, &arg, false, &y, &err), SD_ESHAPE);
    cr_assert(strstr(err.msg, "empty"), "message was: %s", err.msg);
}
