/* tests/passes/grad_pool.c — gradients of MaxPool, AveragePool and the global pools against
 * finite differences (tests/passes/gradfam.h): strides, asymmetric pads, dilations, ceil_mode,
 * count_include_pad, 1-D to 3-D; max pools on distinct values (so a finite step never changes
 * the argmax) and, separately, PyTorch's tie-break: the first maximum in window order. */
#include "tests/passes/gradfam.h"

typedef struct PoolSpec {
    IrOp op;
    int ns;
    int64_t kernel[3], strides[3], dilations[3], pads[6];
    bool ceil_mode, count_include_pad;
    bool indices; /* MaxPool with its second output */
} PoolSpec;

static IrNode *build_pool(IrGraph *g, IrValue *const *ins, const void *ctx)
{
    const PoolSpec *s = ctx;
    IrNode *n = gf_node(g, s->op, ins, 1, s->indices ? 2 : 1);
    IrPoolAttrs *a = &n->attrs.pool;
    a->nspatial = s->ns;
    for (int i = 0; i < s->ns; i++) {
        a->kernel[i] = s->kernel[i];
        a->strides[i] = s->strides[i] ? s->strides[i] : 1;
        a->dilations[i] = s->dilations[i] ? s->dilations[i] : 1;
        a->pads[i] = s->pads[i];
        a->pads[s->ns + i] = s->pads[s->ns + i];
    }
    a->ceil_mode = s->ceil_mode;
    a->count_include_pad = s->count_include_pad;
    return n;
}

/* Max or average over each window (sizes from ydims), ONNX semantics. */
static void ref_pool(const double *const *in, const GfTensor *t, const int64_t *ydims, int yrank, double *y,
                     const void *ctx)
{
    const PoolSpec *s = ctx;
    int ns = s->ns;
    int64_t planes = t[0].dims[0] * t[0].dims[1];
    int64_t in_vol = gf_numel(ns, t[0].dims + 2), out_vol = gf_numel(yrank - 2, ydims + 2);
    if (s->op == IR_OP_GLOBAL_AVG_POOL || s->op == IR_OP_GLOBAL_MAX_POOL) {
        for (int64_t p = 0; p < planes; p++) {
            double acc = s->op == IR_OP_GLOBAL_MAX_POOL ? -INFINITY : 0;
            for (int64_t i = 0; i < in_vol; i++) {
                double v = in[0][p * in_vol + i];
                acc = s->op == IR_OP_GLOBAL_MAX_POOL ? fmax(acc, v) : acc + v;
            }
            y[p] = s->op == IR_OP_GLOBAL_MAX_POOL ? acc : acc / (double)in_vol;
        }
        return;
    }
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o = 0; o < out_vol; o++) {
            int64_t pos[3], rem = o;
            for (int i = ns - 1; i >= 0; i--)
                pos[i] = rem % ydims[2 + i], rem /= ydims[2 + i];
            int64_t kvol = gf_numel(ns, s->kernel), valid = 0, padded = 1;
            for (int i = 0; i < ns; i++) { /* taps inside the padded extent, per dim */
                int64_t cnt = 0, st = s->strides[i] ? s->strides[i] : 1, d = s->dilations[i] ? s->dilations[i] : 1;
                for (int64_t k = 0; k < s->kernel[i]; k++) {
                    int64_t at = pos[i] * st - s->pads[i] + k * d;
                    cnt += at >= -s->pads[i] && at < t[0].dims[2 + i] + s->pads[ns + i];
                }
                padded *= cnt;
            }
            double acc = s->op == IR_OP_MAX_POOL ? -INFINITY : 0;
            for (int64_t kk = 0; kk < kvol; kk++) {
                int64_t r = kk, idx = 0;
                bool inside = true;
                int64_t at[3];
                for (int i = ns - 1; i >= 0; i--) {
                    int64_t k = r % s->kernel[i];
                    r /= s->kernel[i];
                    int64_t st = s->strides[i] ? s->strides[i] : 1, d = s->dilations[i] ? s->dilations[i] : 1;
                    at[i] = pos[i] * st - s->pads[i] + k * d;
                    inside = inside && at[i] >= 0 && at[i] < t[0].dims[2 + i];
                }
                if (!inside)
                    continue;
                for (int i = 0; i < ns; i++)
                    idx = idx * t[0].dims[2 + i] + at[i];
                double v = in[0][p * in_vol + idx];
                acc = s->op == IR_OP_MAX_POOL ? fmax(acc, v) : acc + v;
                valid++;
            }
            y[p * out_vol + o] = s->op == IR_OP_MAX_POOL ? acc : acc / (double)(s->count_include_pad ? padded : valid);
        }
}

static void run_pool(const char *name, PoolSpec s, const int64_t *xdims, bool fold)
{
    int r = s.ns + 2;
    bool max = s.op == IR_OP_MAX_POOL || s.op == IR_OP_GLOBAL_MAX_POOL;
    int64_t n = gf_numel(r, xdims);
    GfCase c = {.name = name, .n_in = 1, .build = build_pool, .ref = ref_pool, .rule = grad_pool, .ctx = &s};
    c.in[0] = gf_tensor(r, xdims, max ? gf_distinct(n, 3, 0.05f) : gf_rand(n, 3, -1, 1), true);
    c.h_rel = max ? 4e-3 : 1e-2;
    gf_check(&c, false, fold);
    gf_free_case(&c);
}

Test(grad_pool, max_pool)
{
    run_pool("max 3x3 stride 2 pad 1", (PoolSpec){.op = IR_OP_MAX_POOL, .ns = 2, .kernel = {3, 3}, .strides = {2, 2}, .pads = {1, 1, 1, 1}},
             (int64_t[]){2, 2, 7, 6}, true);
    run_pool("max ceil_mode, asymmetric pads, dilation 2",
             (PoolSpec){.op = IR_OP_MAX_POOL, .ns = 2, .kernel = {2, 3}, .strides = {2, 2}, .dilations = {2, 1}, .pads = {1, 0, 0, 1}, .ceil_mode = true},
             (int64_t[]){1, 3, 8, 7}, false);
    run_pool("max with indices", (PoolSpec){.op = IR_OP_MAX_POOL, .ns = 2, .kernel = {2, 2}, .strides = {2, 2}, .pads = {0}, .indices = true},
             (int64_t[]){1, 2, 5, 4}, false);
    run_pool("max 1-D overlapping", (PoolSpec){.op = IR_OP_MAX_POOL, .ns = 1, .kernel = {3}, .strides = {1}, .pads = {1, 1}}, (int64_t[]){2, 2, 9}, false);
    run_pool("max 3-D", (PoolSpec){.op = IR_OP_MAX_POOL, .ns = 3, .kernel = {2, 2, 2}, .strides = {2, 1, 2}, .pads = {0, 1, 0, 1, 0, 1}},
             (int64_t[]){1, 2, 4, 3, 5}, false);
}

Test(grad_pool, average_pool)
{
    run_pool("avg 3x3 stride 2 pad 1 excluding pad", (PoolSpec){.op = IR_OP_AVG_POOL, .ns = 2, .kernel = {3, 3}, .strides = {2, 2}, .pads = {1, 1, 1, 1}},
             (int64_t[]){2, 2, 7, 6}, true);
    run_pool("avg including pad, asymmetric",
             (PoolSpec){.op = IR_OP_AVG_POOL, .ns = 2, .kernel = {3, 2}, .strides = {1, 2}, .pads = {2, 0, 0, 1}, .count_include_pad = true},
             (int64_t[]){1, 2, 5, 6}, false);
    run_pool("avg ceil_mode including pad (windows past the end pad)",
             (PoolSpec){.op = IR_OP_AVG_POOL, .ns = 2, .kernel = {3, 3}, .strides = {2, 2}, .pads = {1, 1, 1, 1}, .ceil_mode = true, .count_include_pad = true},
             (int64_t[]){1, 2, 6, 8}, true);
    run_pool("avg ceil_mode excluding pad", (PoolSpec){.op = IR_OP_AVG_POOL, .ns = 2, .kernel = {2, 2}, .strides = {2, 2}, .pads = {0}, .ceil_mode = true},
             (int64_t[]){1, 1, 5, 7}, false);
    run_pool("avg dilation 2", (PoolSpec){.op = IR_OP_AVG_POOL, .ns = 2, .kernel = {2, 2}, .strides = {1, 1}, .dilations = {2, 2}, .pads = {1, 1, 1, 1}},
             (int64_t[]){1, 2, 5, 5}, false);
    run_pool("avg 1-D", (PoolSpec){.op = IR_OP_AVG_POOL, .ns = 1, .kernel = {4}, .strides = {3}, .pads = {1, 2}, .count_include_pad = true},
             (int64_t[]){2, 3, 10}, false);
    run_pool("avg 3-D", (PoolSpec){.op = IR_OP_AVG_POOL, .ns = 3, .kernel = {2, 3, 2}, .strides = {1, 2, 2}, .pads = {1, 1, 0, 0, 1, 1}},
             (int64_t[]){1, 2, 3, 6, 5}, false);
}

Test(grad_pool, global_pools)
{
    run_pool("global avg", (PoolSpec){.op = IR_OP_GLOBAL_AVG_POOL, .ns = 2}, (int64_t[]){2, 3, 4, 5}, true);
    run_pool("global avg 1-D", (PoolSpec){.op = IR_OP_GLOBAL_AVG_POOL, .ns = 1}, (int64_t[]){2, 2, 7}, false);
    run_pool("global max", (PoolSpec){.op = IR_OP_GLOBAL_MAX_POOL, .ns = 2}, (int64_t[]){2, 3, 4, 5}, true);
    run_pool("global max 3-D", (PoolSpec){.op = IR_OP_GLOBAL_MAX_POOL, .ns = 3}, (int64_t[]){1, 2, 3, 2, 4}, false);
}

/* The gradient of a max pool over x through the rule, dy = 1 everywhere. */
static void max_grad_of(IrOp op, const int64_t *xdims, int rank, const float *x, const PoolSpec *s, float *dx)
{
    GfCase c = {.name = "ties", .n_in = 1, .build = build_pool, .rule = grad_pool, .ctx = s};
    int64_t n = gf_numel(rank, xdims);
    float *copy = malloc((size_t)n * sizeof(float));
    memcpy(copy, x, (size_t)n * sizeof(float));
    c.in[0] = gf_tensor(rank, xdims, copy, true);
    (void)op;
    int yrank;
    int64_t ydims[IR_MAX_RANK];
    SdModel *m = gf_forward_model(&c, &yrank, ydims);
    sd_model_free(m);
    int64_t ny = gf_numel(yrank, ydims);
    float *ones = malloc((size_t)ny * sizeof(float));
    for (int64_t i = 0; i < ny; i++)
        ones[i] = 1.0f;
    float *grads[GF_MAX_IN];
    gf_analytic(&c, ones, ydims, yrank, "openblas", false, grads);
    memcpy(dx, grads[0], (size_t)n * sizeof(float));
    free(grads[0]), free(ones);
    gf_free_case(&c);
}

Test(grad_pool, ties_go_to_the_first_maximum)
{
    /* one plane 2x4, 2x2 windows stride 2: left window all 1, right window max 3 twice */
    const float x[8] = {1, 1, 3, 0, 1, 1, 2, 3};
    PoolSpec s = {.op = IR_OP_MAX_POOL, .ns = 2, .kernel = {2, 2}, .strides = {2, 2}};
    float dx[8];
    max_grad_of(IR_OP_MAX_POOL, (int64_t[]){1, 1, 2, 4}, 4, x, &s, dx);
    const float want[8] = {1, 0, 1, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        cr_expect_eq(dx[i], want[i], "max pool element %d: %g, expected %g", i, dx[i], want[i]);
    /* overlapping windows (3 wide, stride 1) over equal values: each window picks its own first one */
    const float x1[5] = {5, 5, 5, 0, 0};
    PoolSpec s1 = {.op = IR_OP_MAX_POOL, .ns = 1, .kernel = {3}, .strides = {1}};
    float dx1[5];
    max_grad_of(IR_OP_MAX_POOL, (int64_t[]){1, 1, 5}, 3, x1, &s1, dx1);
    const float want1[5] = {1, 1, 1, 0, 0};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(dx1[i], want1[i], "1-D max pool element %d: %g, expected %g", i, dx1[i], want1[i]);
    /* global max: the first of equal maxima */
    PoolSpec sg = {.op = IR_OP_GLOBAL_MAX_POOL, .ns = 2};
    float dxg[8];
    max_grad_of(IR_OP_GLOBAL_MAX_POOL, (int64_t[]){1, 1, 2, 4}, 4, (const float[]){0, 3, 1, 3, 3, 2, 0, 1}, &sg, dxg);
    const float wantg[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        cr_expect_eq(dxg[i], wantg[i], "global max pool element %d: %g, expected %g", i, dxg[i], wantg[i]);
}

Test(grad_pool, lp_pool_says_it_has_no_gradient)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("lp");
    ir_graph_set_source(g, "test");
    IrShape xs = ir_shape_make(4, (int64_t[]){1, 1, 4, 4});
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &xs);
    ir_graph_add_input(g, x);
    IrNode *n = ir_node_new1(g, IR_OP_LP_POOL, "LpPool_3", &x, 1, SD_DT_F32);
    n->attrs.pool = (IrPoolAttrs){.nspatial = 2, .kernel = {2, 2}, .p = 2};
    PassOptions popt = {0};
    cr_assert_eq(pass_shape(g, &popt, &err), SD_OK, "%s", err.msg);
    unsigned char needs[64] = {0};
    needs[x->id] = 1;
    GradCtx gc = {.g = g, .opt = &popt, .err = &err, .needs = needs, .max_id = 63};
    IrValue *dy[1] = {n->outputs[0]}, *dx[8] = {0};
    cr_assert_eq(grad_pool(&gc, n, dy, dx), SD_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "node 'LpPool_3' (lp_pool) is not differentiable"), "%s", err.msg);
    ir_graph_free(g);
}
