/* bench/gemm_bench.c — seedc's builtin GEMM against OpenBLAS, through the JIT, one thread.
 *
 * Every case is a one-node graph (a Gemm with its transposes, compiled with canonicalization off
 * so the flags reach rt_gemm_f32; or a Conv, im2col included) compiled twice, once per provider,
 * with every operand a run-time input. The two models run interleaved, each case until both have
 * run --runs times (at least --min-time seconds each); the table shows the median GFLOP/s of each
 * and their ratio. Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other
 * processes on a shared machine do not count; --wall uses wall-clock time instead.
 *
 *     ./build/bench/gemm_bench [--runs N] [--min-time S] [--filter TEXT] [--wall] [--list]
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/driver.h"
#include "ir/graph.h"
#include "support/mem.h"

typedef enum { CASE_GEMM, CASE_CONV } CaseKind;

typedef struct {
    const char *name;
    CaseKind kind;
    /* GEMM: C[M,N] = op(A) op(B) */
    int64_t M, N, K;
    int ta, tb;
    /* Conv: x [batch, cin, hw, hw], w [cout, cin, k, k], stride, pad (square) */
    int64_t batch, cin, hw, cout, k, stride, pad;
} BenchCase;

#define GEMM(name, M, N, K, ta, tb) {name, CASE_GEMM, M, N, K, ta, tb, 0, 0, 0, 0, 0, 0, 0}
#define CONV(name, b, ci, hw, co, k, s, p) {name, CASE_CONV, 0, 0, 0, 0, 0, b, ci, hw, co, k, s, p}

static const BenchCase cases[] = {
    /* 3x3 convolutions by im2col: M = output channels, N = output pixels of an image, K = 9 C */
    GEMM("resnet50 3x3 s2", 64, 3136, 576, 0, 0),
    GEMM("resnet50 3x3 s3", 128, 784, 1152, 0, 0),
    GEMM("resnet50 3x3 s4", 256, 196, 2304, 0, 0),
    GEMM("resnet50 3x3 s5", 512, 49, 4608, 0, 0),
    GEMM("fmnist 3x3 c1", 32, 784, 9, 0, 0),
    GEMM("fmnist 3x3 c32", 32, 784, 288, 0, 0),
    GEMM("fmnist 3x3 c64 14x14", 64, 196, 576, 0, 0),
    GEMM("fmnist 3x3 b16", 32, 12544, 288, 0, 0),
    GEMM("fmnist 3x3 b64", 64, 50176, 288, 0, 0),
    /* pointwise convolutions (MobileNetV2, EfficientNet, ResNet bottlenecks) */
    GEMM("mbv2 expand 112", 96, 12544, 16, 0, 0),
    GEMM("mbv2 project 56", 24, 3136, 144, 0, 0),
    GEMM("mbv2 expand 56", 144, 3136, 24, 0, 0),
    GEMM("mbv2 expand 28", 192, 784, 32, 0, 0),
    GEMM("mbv2 expand 14", 384, 196, 64, 0, 0),
    GEMM("mbv2 project 14", 64, 196, 384, 0, 0),
    GEMM("mbv2 expand 7", 960, 49, 160, 0, 0),
    GEMM("mbv2 project 7", 160, 49, 960, 0, 0),
    GEMM("mbv2 last 1x1", 1280, 49, 320, 0, 0),
    GEMM("resnet50 1x1 s2", 256, 3136, 64, 0, 0),
    GEMM("resnet50 1x1 s5", 2048, 49, 512, 0, 0),
    /* Linear layers: M = batch */
    GEMM("linear b1", 1, 1000, 2048, 0, 0),
    GEMM("linear b8", 8, 1024, 1024, 0, 0),
    GEMM("linear b32", 32, 1000, 2048, 0, 0),
    GEMM("linear b64 256", 64, 128, 256, 0, 0),
    GEMM("linear b128", 128, 512, 4096, 0, 0),
    GEMM("linear b256", 256, 4096, 1024, 0, 0),
    GEMM("square 1024", 1024, 1024, 1024, 0, 0),
    /* transposed operands of backward passes */
    GEMM("dW conv 3x3 (B^T)", 64, 576, 3136, 0, 1),
    GEMM("dX conv 3x3 (A^T)", 576, 3136, 64, 1, 0),
    GEMM("dW linear (A^T)", 1024, 1024, 256, 1, 0),
    GEMM("dX linear (B^T)", 256, 1024, 1024, 0, 1),
    GEMM("A^T B^T", 128, 784, 1152, 1, 1),
    /* whole convolutions (im2col + GEMM) */
    CONV("conv resnet50 s2 b1", 1, 64, 56, 64, 3, 1, 1),
    CONV("conv resnet50 s5 b1", 1, 512, 7, 512, 3, 1, 1),
    CONV("conv resnet50 s3 b8", 8, 128, 28, 128, 3, 1, 1),
    CONV("conv fmnist 32 b64", 64, 32, 28, 32, 3, 1, 1),
    CONV("conv pointwise 112", 1, 16, 112, 96, 1, 1, 0),
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static int use_wall;

static double now(void)
{
    struct timespec t;
    clock_gettime(use_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static IrValue *input(IrGraph *g, const char *name, int rank, const int64_t *dims)
{
    IrShape s = ir_shape_make(rank, dims);
    IrValue *v = ir_value_new(g, name, SD_DT_F32, &s);
    v->role = IR_ROLE_INPUT;
    ir_graph_add_input(g, v);
    return v;
}

/* The case's graph; fills the input shapes (element counts) and returns the FLOPs. */
static IrGraph *build(const BenchCase *c, int64_t numel[3], double *flops)
{
    IrGraph *g = ir_graph_new("gemm_bench");
    ir_graph_set_source(g, "gemm_bench");
    IrValue *y = ir_value_new(g, "y", SD_DT_UNDEFINED, NULL);
    if (c->kind == CASE_GEMM) {
        int64_t ad[2] = {c->ta ? c->K : c->M, c->ta ? c->M : c->K};
        int64_t bd[2] = {c->tb ? c->N : c->K, c->tb ? c->K : c->N};
        IrValue *ins[2] = {input(g, "a", 2, ad), input(g, "b", 2, bd)};
        IrNode *n = ir_node_new(g, IR_OP_GEMM, "gemm", ins, 2, &y, 1);
        n->attrs.matmul.alpha = 1.0f;
        n->attrs.matmul.beta = 1.0f;
        n->attrs.matmul.trans_a = c->ta;
        n->attrs.matmul.trans_b = c->tb;
        numel[0] = c->M * c->K, numel[1] = c->K * c->N, numel[2] = c->M * c->N;
        *flops = 2.0 * (double)c->M * (double)c->N * (double)c->K;
    } else {
        int64_t xd[4] = {c->batch, c->cin, c->hw, c->hw}, wd[4] = {c->cout, c->cin, c->k, c->k};
        IrValue *ins[2] = {input(g, "x", 4, xd), input(g, "w", 4, wd)};
        IrNode *n = ir_node_new(g, IR_OP_CONV, "conv", ins, 2, &y, 1);
        IrConvAttrs *a = &n->attrs.conv;
        a->nspatial = 2;
        a->groups = 1;
        for (int i = 0; i < 2; i++) {
            a->strides[i] = c->stride;
            a->dilations[i] = 1;
            a->pads[i] = a->pads[2 + i] = c->pad;
        }
        int64_t o = (c->hw + 2 * c->pad - c->k) / c->stride + 1;
        numel[0] = c->batch * c->cin * c->hw * c->hw, numel[1] = c->cout * c->cin * c->k * c->k;
        numel[2] = c->batch * c->cout * o * o;
        *flops = 2.0 * (double)c->batch * (double)c->cout * (double)(o * o) * (double)(c->cin * c->k * c->k);
    }
    ir_graph_add_output(g, y);
    return g;
}

static SdModel *compile(const BenchCase *c, const char *gemm, double *compile_s)
{
    int64_t numel[3];
    double flops;
    IrGraph *g = build(c, numel, &flops);
    SdOptions o = sd_options_default();
    o.gemm = gemm;
    o.threads = 1;
    o.disable = "canonicalize";
    SdError err = {0};
    SdModel *m = NULL;
    SdStatus st = sd_optimize(g, &o, NULL, NULL, NULL, &err);
    if (st == SD_OK)
        st = sd_model_compile(g, &o, &m, &err);
    if (st != SD_OK) {
        fprintf(stderr, "gemm_bench: %s (%s): %s\n", c->name, gemm, err.msg);
        exit(1);
    }
    *compile_s = sd_model_compile_seconds(m);
    return m;
}

static float *random_floats(int64_t n, uint32_t seed)
{
    float *p = sd_aligned_alloc((size_t)n * sizeof(float));
    if (!p) {
        fprintf(stderr, "gemm_bench: out of memory\n");
        exit(1);
    }
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    int runs = 15;
    double min_time = 0.3;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-time") && i + 1 < argc)
            min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            filter = argv[++i];
        else if (!strcmp(argv[i], "--wall"))
            use_wall = 1;
        else if (!strcmp(argv[i], "--list")) {
            for (int c = 0; c < N_CASES; c++)
                puts(cases[c].name);
            return 0;
        } else {
            fprintf(stderr, "usage: gemm_bench [--runs N] [--min-time S] [--filter TEXT] [--wall] [--list]\n");
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;
    openblas_set_num_threads(1);
    printf("%-24s %6s %6s %5s %3s  %9s %9s %6s  %s\n", "case", "M", "N", "K", "T", "builtin", "openblas", "ratio",
           "compile ms (b/o)");
    double log_ratio = 0;
    int n_done = 0;
    for (int ci = 0; ci < N_CASES; ci++) {
        const BenchCase *c = &cases[ci];
        if (filter && !strstr(c->name, filter))
            continue;
        double cs[2];
        SdModel *m[2] = {compile(c, "builtin", &cs[0]), compile(c, "openblas", &cs[1])};
        int64_t numel[3];
        double flops;
        ir_graph_free(build(c, numel, &flops));
        float *a = random_floats(numel[0], 1), *b = random_floats(numel[1], 2);
        float *y[2] = {random_floats(numel[2], 3), random_floats(numel[2], 3)};
        /* beta = 1 on the Gemm cases: both start from the same C, so the outputs must agree */
        for (int p = 0; p < 2; p++) {
            void *ins[2] = {a, b}, *outs[1] = {y[p]};
            sd_model_run_raw(m[p], ins, outs);
        }
        double maxdiff = 0, maxval = 0;
        for (int64_t i = 0; i < numel[2]; i++) {
            double d = fabs((double)y[0][i] - (double)y[1][i]);
            maxdiff = d > maxdiff ? d : maxdiff;
            maxval = fabs((double)y[1][i]) > maxval ? fabs((double)y[1][i]) : maxval;
        }
        int cap = runs * 1000;
        double *t[2] = {malloc((size_t)cap * sizeof(double)), malloc((size_t)cap * sizeof(double))};
        double total[2] = {0, 0};
        int n = 0;
        while (n < cap && (n < runs || total[0] < min_time || total[1] < min_time)) {
            for (int p = 0; p < 2; p++) {
                void *ins[2] = {a, b}, *outs[1] = {y[p]};
                double t0 = now();
                sd_model_run_raw(m[p], ins, outs);
                t[p][n] = now() - t0;
                total[p] += t[p][n];
            }
            n++;
        }
        double g[2];
        for (int p = 0; p < 2; p++)
            g[p] = flops / median(t[p], n) / 1e9;
        const char *ts = c->kind == CASE_CONV ? "cv" : c->ta && c->tb ? "TT" : c->ta ? "T." : c->tb ? ".T" : "..";
        int64_t M = c->M, N = c->N, K = c->K;
        if (c->kind == CASE_CONV) {
            int64_t o = (c->hw + 2 * c->pad - c->k) / c->stride + 1;
            M = c->cout, N = c->batch * o * o, K = c->cin * c->k * c->k;
        }
        printf("%-24s %6lld %6lld %5lld %3s  %9.1f %9.1f %6.2f  %.0f/%.0f%s\n", c->name, (long long)M, (long long)N,
               (long long)K, ts, g[0], g[1], g[0] / g[1], 1e3 * cs[0], 1e3 * cs[1],
               maxdiff > 1e-4 * (maxval + 1) ? "  MISMATCH" : "");
        fflush(stdout);
        log_ratio += log(g[0] / g[1]);
        n_done++;
        free(t[0]), free(t[1]);
        sd_aligned_free(a), sd_aligned_free(b), sd_aligned_free(y[0]), sd_aligned_free(y[1]);
        sd_model_free(m[0]), sd_model_free(m[1]);
    }
    if (n_done)
        printf("geometric mean ratio builtin/openblas: %.3f over %d cases (%s time, medians)\n",
               exp(log_ratio / n_done), n_done, use_wall ? "wall" : "thread CPU");
    return 0;
}
