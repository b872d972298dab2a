/* tests/codegen/pool.c — pooling against a naive double-precision reference, for shapes the ONNX
 * node tests miss: odd sizes, stride 2 with padding, ceil_mode (with a last window that would
 * start in the trailing padding), count_include_pad with clipped windows, dilation, Lp norms,
 * 1-D and 3-D, auto_pad, MaxPool's indices in both storage orders, 8-bit MaxPool, global pools
 * with sizes that are not a multiple of the vector lanes; and errors that name the node. */
#include "tests/codegen/window_harness.h"

typedef struct PoolCase {
    const char *name;
    IrOp op;
    int ns;
    int64_t batch, ch;
    int64_t in[3];
    int64_t kernel[3], strides[3], dilations[3];
    int64_t pads[6];          /* begins then ends: what the reference uses */
    IrAutoPad auto_pad;       /* given to the node instead of the pads when set */
    bool ceil_mode, count_include_pad;
    int64_t p;
    bool indices;
    int64_t storage_order;
} PoolCase;

typedef struct {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} Win3;

static Win3 win3(const PoolCase *c)
{
    Win3 t;
    harness_pad3(c->ns, c->in, 1, t.in), harness_pad3(c->ns, c->kernel, 1, t.k);
    harness_pad3(c->ns, c->strides, 1, t.s), harness_pad3(c->ns, c->dilations, 1, t.d);
    harness_pad3(c->ns, c->pads, 0, t.pb), harness_pad3(c->ns, c->pads + c->ns, 0, t.pe);
    for (int i = 0; i < 3; i++) {
        int64_t span = t.in[i] + t.pb[i] + t.pe[i] - ((t.k[i] - 1) * t.d[i] + 1);
        if (c->ceil_mode) {
            t.out[i] = (span + t.s[i] - 1) / t.s[i] + 1;
            if ((t.out[i] - 1) * t.s[i] >= t.in[i] + t.pb[i])
                t.out[i]--;
        } else {
            t.out[i] = span / t.s[i] + 1;
        }
    }
    return t;
}

/* y and (for max) the flat index of the first maximum, row-major or column-major. */
static void ref_pool(const PoolCase *c, const Win3 *t, const float *x, double *y, int64_t *idx)
{
    int64_t in_vol = t->in[0] * t->in[1] * t->in[2], out_vol = t->out[0] * t->out[1] * t->out[2];
    for (int64_t pl = 0; pl < c->batch * c->ch; pl++)
        for (int64_t o = 0; o < out_vol; o++) {
            int64_t oo[3] = {o / (t->out[1] * t->out[2]), o / t->out[2] % t->out[1], o % t->out[2]};
            double acc = c->op == IR_OP_MAX_POOL ? -INFINITY : 0.0;
            int64_t valid = 0, padded = 1, best = -1;
            for (int i = 0; i < 3; i++) {
                int64_t n = 0;
                for (int64_t k = 0; k < t->k[i]; k++) {
                    int64_t pos = oo[i] * t->s[i] - t->pb[i] + k * t->d[i];
                    n += pos >= -t->pb[i] && pos < t->in[i] + t->pe[i];
                }
                padded *= n;
            }
            for (int64_t kd = 0; kd < t->k[0]; kd++)
                for (int64_t kh = 0; kh < t->k[1]; kh++)
                    for (int64_t kw = 0; kw < t->k[2]; kw++) {
                        int64_t id = oo[0] * t->s[0] - t->pb[0] + kd * t->d[0];
                        int64_t ih = oo[1] * t->s[1] - t->pb[1] + kh * t->d[1];
                        int64_t iw = oo[2] * t->s[2] - t->pb[2] + kw * t->d[2];
                        if (id < 0 || id >= t->in[0] || ih < 0 || ih >= t->in[1] || iw < 0 || iw >= t->in[2])
                            continue;
                        double v = x[pl * in_vol + (id * t->in[1] + ih) * t->in[2] + iw];
                        valid++;
                        if (c->op == IR_OP_MAX_POOL) {
                            if (v > acc) {
                                acc = v;
                                best = c->storage_order ? id + t->in[0] * (ih + t->in[1] * iw)
                                                        : (id * t->in[1] + ih) * t->in[2] + iw;
                            }
                        } else if (c->op == IR_OP_AVG_POOL) {
                            acc += v;
                        } else {
                            acc += pow(fabs(v), (double)c->p);
                        }
                    }
            if (c->op == IR_OP_AVG_POOL)
                acc /= (double)(c->count_include_pad ? padded : valid);
            else if (c->op == IR_OP_LP_POOL)
                acc = pow(acc, 1.0 / (double)c->p);
            y[pl * out_vol + o] = acc;
            if (idx)
                idx[pl * out_vol + o] = pl * in_vol + best;
        }
}

/* With x_data (f32), the input is a constant and constant folding computes the node natively. */
static IrGraph *pool_graph(const PoolCase *c, SdDType dt, IrValue **y, int n_out, const float *x_data)
{
    IrGraph *g = ir_graph_new("pool_test");
    ir_graph_set_source(g, "pool_test");
    int64_t xd[5] = {c->batch, c->ch};
    for (int i = 0; i < c->ns; i++)
        xd[2 + i] = c->in[i];
    IrValue *x = x_data ? harness_const_f32(g, "x", 2 + c->ns, xd, x_data) : harness_input(g, "x", dt, 2 + c->ns, xd);
    y[0] = ir_value_new(g, "y", SD_DT_UNDEFINED, NULL);
    y[1] = ir_value_new(g, "indices", SD_DT_UNDEFINED, NULL);
    IrNode *n = ir_node_new(g, c->op, c->name, &x, 1, y, n_out);
    cr_assert_not_null(n);
    IrPoolAttrs *a = &n->attrs.pool;
    a->nspatial = c->ns;
    a->auto_pad = c->auto_pad;
    a->ceil_mode = c->ceil_mode;
    a->count_include_pad = c->count_include_pad;
    a->p = c->p;
    a->storage_order = c->storage_order;
    for (int i = 0; i < c->ns; i++) {
        a->kernel[i] = c->kernel[i];
        a->strides[i] = c->strides[i];
        a->dilations[i] = c->dilations[i];
        if (c->auto_pad == IR_PAD_NOTSET)
            a->pads[i] = c->pads[i], a->pads[c->ns + i] = c->pads[c->ns + i];
    }
    for (int i = 0; i < n_out; i++)
        ir_graph_add_output(g, y[i]);
    return g;
}

static void check_pool_mode(const PoolCase *c, bool folded)
{
    Win3 t = win3(c);
    int rank = 2 + c->ns;
    int64_t xd[5] = {c->batch, c->ch};
    for (int i = 0; i < c->ns; i++)
        xd[2 + i] = c->in[i];
    int64_t yn = c->batch * c->ch * t.out[0] * t.out[1] * t.out[2];
    double *want = malloc((size_t)yn * sizeof *want);
    int64_t *want_idx = malloc((size_t)yn * sizeof *want_idx);
    RtTensor x = {0}, y[2] = {{0}};
    SdError err = {0};
    cr_assert_eq(rt_tensor_alloc(&x, SD_DT_F32, rank, xd, &err), SD_OK);
    harness_fill(x.data, harness_numel(rank, xd), 7);
    ref_pool(c, &t, x.data, want, want_idx);

    IrValue *yv[2];
    int n_out = c->indices ? 2 : 1;
    SdStatus st = harness_run(pool_graph(c, SD_DT_F32, yv, n_out, folded ? x.data : NULL), "openblas", &x,
                              folded ? 0 : 1, y, n_out, &err);
    cr_assert_eq(st, SD_OK, "%s: %s", c->name, err.msg);
    for (int i = 0; i < c->ns; i++)
        cr_assert_eq(y[0].dims[2 + i], t.out[3 - c->ns + i], "%s: spatial dim %d is %lld, expected %lld", c->name, i,
                     (long long)y[0].dims[2 + i], (long long)t.out[3 - c->ns + i]);
    double e = harness_max_error(y[0].data, want, yn);
    cr_expect(e < 2e-6, "%s: max relative error %g", c->name, e);
    if (c->indices) {
        cr_assert_eq(y[1].dtype, SD_DT_I64);
        const int64_t *got = y[1].data;
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < yn; i++)
            if (got[i] != want_idx[i] && bad++ == 0)
                first = i;
        cr_expect(bad == 0, "%s: %lld wrong indices, the first at %lld: %lld instead of %lld", c->name,
                  (long long)bad, (long long)first, first >= 0 ? (long long)got[first] : 0LL,
                  first >= 0 ? (long long)want_idx[first] : 0LL);
    }
    rt_tensor_free(&x);
    for (int i = 0; i < n_out; i++)
        rt_tensor_free(&y[i]);
    free(want), free(want_idx);
}

static void check_pool(const PoolCase *c) { check_pool_mode(c, false); }

#define MAX IR_OP_MAX_POOL
#define AVG IR_OP_AVG_POOL
#define LP IR_OP_LP_POOL

static const PoolCase cases[] = {
    {"max_3x3_s2_p1_odd", MAX, 2, 2, 5, {17, 19}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .p = 0},
    {"max_2x2_s2_ceil_odd", MAX, 2, 1, 3, {17, 19}, {2, 2}, {2, 2}, {1, 1}, {0}, .ceil_mode = true},
    {"max_1x1_s2_ceil_reduce", MAX, 2, 1, 2, {5, 6}, {1, 1}, {2, 2}, {1, 1}, {0}, .ceil_mode = true},
    {"max_dilation2_pads", MAX, 2, 1, 4, {13, 16}, {3, 3}, {1, 2}, {2, 2}, {2, 1, 2, 3}, .p = 0},
    {"max_big_3x3_s2", MAX, 2, 1, 8, {112, 112}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .p = 0},
    {"avg_3x3_s2_p1_exclude", AVG, 2, 2, 3, {17, 19}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .p = 0},
    {"avg_3x3_s2_p1_include", AVG, 2, 2, 3, {17, 19}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .count_include_pad = true},
    /* ceil_mode: the last window runs past the trailing padding; with the padding counted, only
     * positions inside the padded input count */
    {"avg_ceil_past_pad_include", AVG, 2, 1, 2, {6, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .ceil_mode = true,
     .count_include_pad = true},
    {"avg_ceil_past_pad_exclude", AVG, 2, 1, 2, {6, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .ceil_mode = true},
    /* the window after the last would start in the trailing padding: dropped */
    {"avg_ceil_starts_in_pad", AVG, 2, 1, 1, {5, 5}, {2, 2}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .ceil_mode = true,
     .count_include_pad = true},
    {"avg_dilation2_include", AVG, 2, 1, 3, {11, 12}, {3, 2}, {2, 1}, {2, 3}, {2, 1, 1, 2}, .count_include_pad = true},
    {"avg_5x5_s3", AVG, 2, 1, 2, {32, 29}, {5, 5}, {3, 3}, {1, 1}, {0}, .p = 0},
    {"lp2_s2_p1", LP, 2, 1, 3, {15, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .p = 2},
    {"lp3_dilated", LP, 2, 1, 2, {12, 13}, {2, 3}, {1, 2}, {2, 1}, {0, 1, 1, 0}, .p = 3},
    {"lp1", LP, 2, 1, 2, {8, 9}, {2, 2}, {2, 2}, {1, 1}, {0}, .p = 1},
    {"max_1d", MAX, 1, 2, 3, {31}, {4}, {3}, {1}, {2, 1}, .p = 0},
    {"avg_1d_ceil", AVG, 1, 1, 3, {30}, {4}, {3}, {1}, {1, 1}, .ceil_mode = true},
    {"max_3d_ceil", MAX, 3, 1, 2, {7, 9, 8}, {3, 2, 3}, {2, 2, 2}, {1, 1, 1}, {1, 0, 1, 1, 1, 0}, .ceil_mode = true},
    {"avg_3d_include", AVG, 3, 1, 2, {6, 7, 5}, {2, 3, 3}, {2, 1, 2}, {1, 2, 1}, {1, 1, 1, 0, 2, 1},
     .count_include_pad = true},
    {"max_same_upper_s2", MAX, 2, 1, 3, {17, 20}, {3, 3}, {2, 2}, {1, 1}, {1, 0, 1, 1}, .auto_pad = IR_PAD_SAME_UPPER},
    {"avg_same_lower_s2", AVG, 2, 1, 3, {17, 20}, {4, 3}, {2, 2}, {1, 1}, {2, 1, 1, 0}, .auto_pad = IR_PAD_SAME_LOWER},
    {"max_valid", MAX, 2, 1, 2, {10, 11}, {3, 2}, {3, 2}, {1, 1}, {0}, .auto_pad = IR_PAD_VALID},
};

static const PoolCase index_cases[] = {
    {"idx_rowmajor_pads", MAX, 2, 2, 3, {9, 11}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .indices = true},
    {"idx_colmajor_pads", MAX, 2, 2, 3, {9, 11}, {3, 3}, {2, 2}, {1, 1}, {1, 0, 0, 1}, .indices = true,
     .storage_order = 1},
    {"idx_colmajor_dilated_ceil", MAX, 2, 1, 2, {10, 7}, {2, 2}, {2, 2}, {2, 1}, {0}, .ceil_mode = true,
     .indices = true, .storage_order = 1},
    {"idx_3d", MAX, 3, 1, 2, {4, 5, 6}, {2, 2, 2}, {2, 2, 2}, {1, 1, 1}, {0, 1, 0, 1, 0, 1}, .indices = true},
    {"idx_3d_colmajor", MAX, 3, 1, 2, {4, 5, 6}, {2, 2, 3}, {1, 2, 2}, {1, 1, 1}, {0}, .indices = true,
     .storage_order = 1},
};

Test(pool, windows_match_reference)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_pool(&cases[i]);
}

Test(pool, max_indices_match_reference)
{
    for (size_t i = 0; i < sizeof index_cases / sizeof index_cases[0]; i++)
        check_pool(&index_cases[i]);
}

/* The same kernels run natively when constant folding computes a node. */
Test(pool, folded_matches_reference)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_pool_mode(&cases[i], true);
    for (size_t i = 0; i < sizeof index_cases / sizeof index_cases[0]; i++)
        check_pool_mode(&index_cases[i], true);
}

static void check_global(IrOp op, int rank, const int64_t *dims, int64_t p, bool folded)
{
    RtTensor xt = {0}, yt = {0};
    SdError err = {0};
    cr_assert_eq(rt_tensor_alloc(&xt, SD_DT_F32, rank, dims, &err), SD_OK);
    int64_t planes = dims[0] * dims[1], size = harness_numel(rank, dims) / planes;
    harness_fill(xt.data, planes * size, 11);
    IrGraph *g = ir_graph_new("pool_test");
    IrValue *x = folded ? harness_const_f32(g, "x", rank, dims, xt.data) : harness_input(g, "x", SD_DT_F32, rank, dims);
    IrValue *y = ir_value_new(g, "y", SD_DT_UNDEFINED, NULL);
    IrNode *n = ir_node_new(g, op, "global", &x, 1, &y, 1);
    n->attrs.pool.p = p;
    ir_graph_add_output(g, y);
    cr_assert_eq(harness_run(g, "builtin", &xt, folded ? 0 : 1, &yt, 1, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(yt.rank, rank);
    for (int i = 2; i < rank; i++)
        cr_assert_eq(yt.dims[i], 1);
    double *want = malloc((size_t)planes * sizeof *want);
    const float *xs = xt.data;
    for (int64_t c = 0; c < planes; c++) {
        double acc = op == IR_OP_GLOBAL_MAX_POOL ? -INFINITY : 0.0;
        for (int64_t i = 0; i < size; i++) {
            double v = xs[c * size + i];
            if (op == IR_OP_GLOBAL_MAX_POOL)
                acc = v > acc ? v : acc;
            else if (op == IR_OP_GLOBAL_AVG_POOL)
                acc += v;
            else
                acc += pow(fabs(v), (double)p);
        }
        want[c] = op == IR_OP_GLOBAL_AVG_POOL ? acc / (double)size
                  : op == IR_OP_GLOBAL_LP_POOL ? pow(acc, 1.0 / (double)p) : acc;
    }
    double e = harness_max_error(yt.data, want, planes);
    cr_expect(e < 1e-5, "%s over %lld: max relative error %g", ir_op_name(op), (long long)size, e);
    rt_tensor_free(&xt);
    rt_tensor_free(&yt);
    free(want);
}

Test(pool, global_pools_match_reference)
{
    static const IrOp ops[] = {IR_OP_GLOBAL_AVG_POOL, IR_OP_GLOBAL_MAX_POOL, IR_OP_GLOBAL_LP_POOL};
    for (size_t i = 0; i < 3; i++)
        for (int folded = 0; folded < 2; folded++) {
            check_global(ops[i], 4, (int64_t[]){2, 3, 7, 9}, 2, folded);
            check_global(ops[i], 4, (int64_t[]){1, 4, 33, 31}, 3, folded);
            check_global(ops[i], 5, (int64_t[]){1, 2, 3, 5, 4}, 2, folded);
            check_global(ops[i], 3, (int64_t[]){2, 5, 7}, 1, folded);
            check_global(ops[i], 4, (int64_t[]){1, 32, 64, 64}, 2, folded); /* planes split over threads */
        }
}

/* the 8-bit max pools: a 3-wide kernel (written out in the kernel), wide rows (vectorized, some
 * long enough for the unrolled vector loop), a 2x2 dilated kernel, uneven padding, windows that
 * reach past the input on both sides, planes split over the threads */
Test(pool, max_u8_and_i8)
{
    const PoolCase cases[] = {
        {"max_u8", MAX, 2, 1, 2, {9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .p = 0},
        {"wide", MAX, 2, 2, 3, {6, 70}, {3, 3}, {1, 2}, {1, 1}, {1, 0, 0, 1}, .p = 0},
        {"dilated", MAX, 2, 1, 2, {11, 37}, {2, 2}, {1, 1}, {2, 3}, {0, 2, 1, 1}, .p = 0},
        {"tall_kernel", MAX, 2, 1, 1, {8, 5}, {4, 5}, {3, 1}, {1, 1}, {2, 3, 1, 2}, .p = 0},
        /* stride 2 rows long enough for the unrolled vector loop (512 outputs) and its remainders */
        {"long_rows", MAX, 2, 1, 2, {4, 1101}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .p = 0},
        /* enough planes to share over the threads (ResNet's stem pool, smaller) */
        {"planes_split", MAX, 2, 4, 16, {56, 56}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .p = 0},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int s = 0; s < 2; s++) {
            const PoolCase c = cases[ci];
            Win3 t = win3(&c);
            SdDType dt = s ? SD_DT_I8 : SD_DT_U8;
            const int64_t xn = c.batch * c.ch * c.in[0] * c.in[1];
            int64_t xd[4] = {c.batch, c.ch, c.in[0], c.in[1]}, yn = c.batch * c.ch * t.out[1] * t.out[2];
            RtTensor x = {0}, y = {0};
            SdError err = {0};
            cr_assert_eq(rt_tensor_alloc(&x, dt, 4, xd, &err), SD_OK);
            float *f = malloc((size_t)xn * sizeof *f);
            double *want = malloc((size_t)yn * sizeof *want);
            harness_fill(f, xn, 5 + (int)ci);
            for (int64_t i = 0; i < xn; i++) {
                if (s)
                    ((int8_t *)x.data)[i] = (int8_t)(f[i] * 127.0f);
                else
                    ((uint8_t *)x.data)[i] = (uint8_t)((f[i] + 1.0f) * 127.0f);
                f[i] = s ? (float)((int8_t *)x.data)[i] : (float)((uint8_t *)x.data)[i];
            }
            ref_pool(&c, &t, f, want, NULL);
            IrValue *yv[2];
            cr_assert_eq(harness_run(pool_graph(&c, dt, yv, 1, NULL), "openblas", &x, 1, &y, 1, &err), SD_OK, "%s",
                         err.msg);
            cr_assert_eq(y.dtype, dt);
            cr_assert_eq(y.nbytes, (size_t)yn);
            for (int64_t i = 0; i < yn; i++) {
                double got = s ? ((int8_t *)y.data)[i] : ((uint8_t *)y.data)[i];
                cr_expect(got == want[i], "%s %s: element %lld is %g, expected %g", c.name, sd_dtype_name(dt),
                          (long long)i, got, want[i]);
            }
            rt_tensor_free(&x);
            rt_tensor_free(&y);
            free(f), free(want);
        }
}

static void expect_pool_error(const PoolCase *c, int x_rank, const char *what)
{
    IrGraph *g = ir_graph_new("pool_test");
    ir_graph_set_source(g, "bad.onnx");
    int64_t xd[5] = {c->batch, c->ch, c->in[0], c->in[1], c->in[2]};
    IrValue *x = harness_input(g, "x", SD_DT_F32, x_rank, xd);
    IrValue *y = ir_value_new(g, "y", SD_DT_UNDEFINED, NULL);
    IrNode *n = ir_node_new(g, c->op, c->name, &x, 1, &y, 1);
    n->attrs.pool.nspatial = c->ns;
    memcpy(n->attrs.pool.kernel, c->kernel, sizeof c->kernel);
    memcpy(n->attrs.pool.pads, c->pads, sizeof c->pads);
    memcpy(n->attrs.pool.dilations, c->dilations, sizeof c->dilations);
    ir_graph_add_output(g, y);
    RtTensor xt = {0}, yt = {0};
    SdError err = {0};
    cr_assert_eq(rt_tensor_alloc(&xt, SD_DT_F32, x_rank, xd, &err), SD_OK);
    SdStatus st = harness_run(g, "openblas", &xt, 1, &yt, 1, &err);
    rt_tensor_free(&xt);
    char label[128];
    snprintf(label, sizeof label, "node '%s' (%s)", c->name, ir_op_name(c->op));
    cr_expect_neq(st, SD_OK, "%s compiled", c->name);
    cr_expect(strstr(err.msg, "bad.onnx") && strstr(err.msg, label), "message does not name the node: %s", err.msg);
    cr_expect(strstr(err.msg, what), "message does not say '%s': %s", what, err.msg);
}

Test(pool, errors_name_the_node)
{
    expect_pool_error(&(PoolCase){"pool_big_kernel", MAX, 2, 1, 2, {4, 4}, {3, 6}, .pads = {0, 1, 0, 0}}, 4,
                      "padded input");
    expect_pool_error(&(PoolCase){"pool_dilated_too_wide", AVG, 2, 1, 2, {9, 5}, {2, 3}, .dilations = {1, 3}}, 4,
                      "padded input");
    expect_pool_error(&(PoolCase){"pool_kernel_rank", MAX, 3, 1, 2, {4, 4}, {2, 2, 2}, .p = 0}, 4,
                      "kernel_shape has 3 values");
    expect_pool_error(&(PoolCase){"pool_negative_pad", AVG, 2, 1, 2, {6, 6}, {2, 2}, .pads = {0, -1, 0, 0}}, 4,
                      "must not be negative");
}
