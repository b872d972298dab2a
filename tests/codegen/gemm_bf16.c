/* tests/codegen/gemm_bf16.c — the GEMM with bf16 products (runtime/kernels/gemm_bf16.c,
 * RT_GEMM_BF16): against a double-precision reference over operands rounded to bf16, natively (the
 * portable build: every remainder, both transposes, beta over NaNs, the C^T product, the row-offset
 * variants, canaries after C and the workspace) and through the JIT with --precision bf16 (the
 * AVX512-BF16 build where the machine has it): Gemm nodes, and convolutions with their input and
 * weight gradients by every path (direct, im2col, 1x1, narrow images, groups) against the f32
 * kernels run on pre-rounded operands. */
#include <float.h>

#include "runtime/kernels/gemm.h"
#include "support/mem.h"
#include "tests/codegen/gemm_ref.h"
#include "tests/codegen/matnorm_harness.h"

static float *rounded_copy(const float *x, int64_t n)
{
    float *r = malloc((size_t)n * sizeof *r);
    for (int64_t i = 0; i < n; i++)
        r[i] = round_bf16(x[i]);
    return r;
}

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define CANARY 12345.0f

/* --- native (the portable build) --- */

static void check_native(GCase c, int64_t pad_a, int64_t pad_b, int64_t pad_c, int nan_c)
{
    const int64_t lda = (c.ta ? c.M : c.K) + pad_a, ldb = (c.tb ? c.K : c.N) + pad_b, ldc = c.N + pad_c;
    TRng rng = {(uint64_t)(c.M * 131 + c.N * 7 + c.K)};
    float *a = trand(&rng, (c.ta ? c.K : c.M) * lda + 1), *b = trand(&rng, (c.tb ? c.N : c.K) * ldb + 1);
    float *cm = trand(&rng, c.M * ldc + 16), *c0 = malloc((size_t)(c.M * ldc + 16) * sizeof *c0);
    for (int64_t i = 0; i < c.M; i++)
        for (int64_t j = 0; j < ldc; j++)
            cm[i * ldc + j] = j >= c.N ? CANARY : nan_c ? NAN : cm[i * ldc + j];
    for (int64_t j = c.M * ldc; j < c.M * ldc + 16; j++)
        cm[j] = CANARY;
    memcpy(c0, cm, (size_t)(c.M * ldc + 16) * sizeof *c0);
    const int64_t wn = rt_gemm_workspace_floats(c.M, c.N, c.K);
    float *work = sd_aligned_alloc((size_t)(wn + 64) * sizeof(float));
    cr_assert_not_null(work);
    for (int64_t i = wn; i < wn + 64; i++)
        work[i] = CANARY;
    rt_gemm_f32(c.ta, c.tb, c.M, c.N, c.K, c.alpha, a, lda, b, ldb, c.beta, cm, ldc, RT_GEMM_BF16, work);
    double *want = calloc((size_t)(c.M * c.N + 1), sizeof *want), *scale = calloc((size_t)(c.M * c.N + 1), sizeof *scale);
    gemm_reference(&c, a, lda, b, ldb, c0, ldc, true, want, scale);
    gemm_expect_close(cm, ldc, want, scale, &c, 2 * c.K, "native bf16");
    for (int64_t i = 0; i < c.M; i++)
        for (int64_t j = c.N; j < ldc; j++)
            cr_assert(cm[i * ldc + j] == CANARY, "native bf16: C[%lld][%lld] beyond N was written", (long long)i,
                      (long long)j);
    for (int64_t j = c.M * ldc; j < c.M * ldc + 16; j++)
        cr_assert(cm[j] == CANARY, "native bf16: written after the end of C");
    for (int64_t i = wn; i < wn + 64; i++)
        cr_assert(work[i] == CANARY, "native bf16 %lldx%lldx%lld: written %lld floats past the workspace",
                  (long long)c.M, (long long)c.N, (long long)c.K, (long long)(i - wn));
    free(a), free(b), free(cm), free(c0), free(want), free(scale);
    sd_aligned_free(work);
}

Test(gemm_bf16, native_every_remainder_transpose_and_beta)
{
    static const int64_t ms[] = {1, 3, 8, 13, 245}, ns[] = {1, 15, 16, 31, 48, 50, 52, 99, 111};
    static const int64_t ks[] = {1, 2, 17, 33, 260, 513};
    int n = 0;
    for (int im = 0; im < LEN(ms); im++)
        for (int in = 0; in < LEN(ns); in++)
            for (int t = 0; t < 4; t++, n++) {
                GCase c = {ms[im], ns[in], ks[(im + in + t) % LEN(ks)], t & 1, t >> 1, n % 3 ? 1.0f : 0.5f,
                           n % 4 == 0 ? 0.0f : n % 4 == 1 ? 1.0f : -0.5f};
                check_native(c, n % 5, (n + 2) % 7, n % 3 ? 9 : 0, n % 4 == 0 && n % 3 == 0);
            }
    /* narrow N: computed as C^T in blocks of rows of C */
    for (int t = 0; t < 4; t++) {
        check_native((GCase){rt_gemm_t_block(49) + 37, 49, 33, t & 1, t >> 1, 1.0f, t == 2 ? 0.5f : 0.0f}, 3, 1, 5, t == 1);
        check_native((GCase){250, 9, 64, t & 1, t >> 1, -2.0f, t == 3 ? 1.0f : 0.0f}, 0, 2, 0, 0);
    }
}

/* Rows of B at offsets (the direct convolution's shifted windows) and columns of op(B) at offsets
 * (its weight gradient), against the same products from dense copies. */
Test(gemm_bf16, native_rows_at_offsets)
{
    static const int64_t mnk[][3] = {{13, 50, 27}, {64, 97, 9}, {250, 48, 300}, {5, 17, 1}};
    for (int ci = 0; ci < LEN(mnk); ci++) {
        const int64_t M = mnk[ci][0], N = mnk[ci][1], K = mnk[ci][2], pool = (K + N) * 3 + 64;
        TRng rng = {(uint64_t)(40 + ci)};
        float *a = trand(&rng, M * K), *src = trand(&rng, pool), *y = calloc((size_t)(M * N), sizeof(float));
        int32_t *rows = malloc((size_t)(K > N ? K : N) * sizeof *rows);
        const int64_t wn = rt_gemm_workspace_floats(M, N, K);
        float *work = sd_aligned_alloc((size_t)wn * sizeof(float));
        /* B[k][j] = src[rows[k] + j], overlapping windows */
        for (int64_t k = 0; k < K; k++)
            rows[k] = (int32_t)((k * 5 + 3) % (pool - N));
        float *b = malloc((size_t)(K * N) * sizeof *b);
        for (int64_t k = 0; k < K; k++)
            memcpy(b + k * N, src + rows[k], (size_t)N * sizeof(float));
        rt_gemm_f32_rows(M, N, K, a, K, NULL, 0, 0, src, rows, 0.0f, y, N, RT_GEMM_BF16, work);
        GCase c = {M, N, K, 0, 0, 1.0f, 0.0f};
        double *want = malloc((size_t)(M * N) * sizeof *want), *scale = malloc((size_t)(M * N) * sizeof *scale);
        gemm_reference(&c, a, K, b, N, NULL, N, true, want, scale);
        gemm_expect_close(y, N, want, scale, &c, 2 * c.K, "bf16 rows");
        /* op(B)[k][j] = src[rows[j] + k], accumulated onto C (beta 1) */
        for (int64_t j = 0; j < N; j++)
            rows[j] = (int32_t)((j * 7 + 1) % (pool - K));
        float *bt = malloc((size_t)(N * K) * sizeof *bt), *c0 = trand(&rng, M * N);
        for (int64_t j = 0; j < N; j++)
            memcpy(bt + j * K, src + rows[j], (size_t)K * sizeof(float));
        memcpy(y, c0, (size_t)(M * N) * sizeof(float));
        rt_gemm_f32_bt_rows(M, N, K, a, K, src, rows, 1.0f, y, N, RT_GEMM_BF16, work);
        c = (GCase){M, N, K, 0, 1, 1.0f, 1.0f};
        gemm_reference(&c, a, K, bt, K, c0, N, true, want, scale);
        gemm_expect_close(y, N, want, scale, &c, 2 * c.K, "bf16 bt_rows");
        free(a), free(src), free(y), free(rows), free(b), free(bt), free(c0), free(want), free(scale);
        sd_aligned_free(work);
    }
}

/* --- through the JIT with --precision bf16 --- */

static SdModel *compile_bf16(IrGraph *g, const char *disable)
{
    SdError err = {0};
    SdOptions o = sd_options_default();
    o.gemm = "builtin";
    o.precision = "bf16";
    o.disable = disable;
    o.verify = true;
    SdModel *m = NULL;
    SdStatus st = sd_optimize(g, &o, NULL, NULL, NULL, &err);
    if (st == SD_OK)
        st = sd_model_compile(g, &o, &m, &err);
    cr_assert_eq(st, SD_OK, "compile with bf16 products failed: %s", err.msg);
    return m;
}

Test(gemm_bf16, jit_gemm_nodes_every_path)
{
    const GCase cases[] = {
        {1, 1, 1, 0, 0, 1.0f, 0.0f},
        {7, 33, 17, 1, 0, 0.5f, 0.0f},
        {9, 113, 300, 0, 1, -2.0f, 1.0f},
        {24, 97, 7, 1, 1, 1.0f, 0.25f},
        {RT_GEMM_MC + RT_GEMM_MR + 3, 2 * RT_GEMM_NR + 5, 2 * RT_GEMM_KC + 1, 0, 0, 1.0f, 0.0f},
        {2 * RT_GEMM_MC + 1, 33, RT_GEMM_KC + 1, 0, 1, -1.0f, 0.0f},
        {rt_gemm_t_block(49) + 20, 49, 40, 0, 0, 1.0f, 0.0f},
        {2 * rt_gemm_t_block(17) + 5, 17, 70, 1, 1, 0.5f, 0.0f},
        {64, 784, 288, 0, 0, 1.0f, 0.0f},
        /* the last 2, 3 and 4 columns through the thin kernels */
        {24, 98, 70, 0, 0, 1.0f, 0.0f},
        {24, 99, 40, 1, 0, 1.0f, 0.5f},
        {40, 100, 64, 0, 1, 2.0f, 0.0f},
    };
    IrGraph *g = tgraph();
    float *a[LEN(cases)], *b[LEN(cases)], *c0[LEN(cases)], *y[LEN(cases)];
    void *ins[2 * LEN(cases)];
    for (int n = 0; n < LEN(cases); n++) {
        const GCase *c = &cases[n];
        TRng rng = {(uint64_t)(300 + n)};
        int64_t da[2] = {c->ta ? c->K : c->M, c->ta ? c->M : c->K}, db[2] = {c->tb ? c->N : c->K, c->tb ? c->K : c->N};
        int64_t dc[2] = {c->M, c->N};
        a[n] = trand(&rng, c->M * c->K), b[n] = trand(&rng, c->K * c->N), c0[n] = trand(&rng, c->M * c->N);
        y[n] = calloc((size_t)(c->M * c->N), sizeof(float));
        char name[32];
        snprintf(name, sizeof name, "a%d", n);
        IrValue *vi[3] = {tinput(g, name, SD_DT_F32, 2, da), NULL, NULL};
        snprintf(name, sizeof name, "b%d", n);
        vi[1] = tinput(g, name, SD_DT_F32, 2, db);
        if (c->beta != 0.0f) {
            snprintf(name, sizeof name, "c%d", n);
            vi[2] = tconst(g, name, 2, dc, c0[n]);
        }
        snprintf(name, sizeof name, "gemm%d", n);
        IrNode *node = tnode(g, IR_OP_GEMM, name, vi, c->beta != 0.0f ? 3 : 2, 1);
        node->attrs.matmul = (IrMatmulAttrs){.alpha = c->alpha, .beta = c->beta, .trans_a = c->ta, .trans_b = c->tb};
        ir_graph_add_output(g, node->outputs[0]);
        ins[2 * n] = a[n], ins[2 * n + 1] = b[n];
    }
    SdModel *m = compile_bf16(g, "canonicalize");
    sd_model_run_raw(m, ins, (void *const *)y);
    for (int n = 0; n < LEN(cases); n++) {
        const GCase *c = &cases[n];
        double *want = malloc((size_t)(c->M * c->N) * sizeof *want), *scale = malloc((size_t)(c->M * c->N) * sizeof *scale);
        gemm_reference(c, a[n], c->ta ? c->M : c->K, b[n], c->tb ? c->K : c->N, c0[n], c->N, true, want, scale);
        gemm_expect_close(y[n], c->N, want, scale, c, 2 * c->K, "jit bf16");
        free(want), free(scale), free(a[n]), free(b[n]), free(c0[n]), free(y[n]);
    }
    sd_model_free(m);
}

/* The rounding is there to see: 1 + 2^-10 is 1 in bf16, so its product with 1 is exactly 1. */
Test(gemm_bf16, jit_operands_are_rounded)
{
    IrGraph *g = tgraph();
    int64_t da[2] = {16, 32}, db[2] = {32, 48};
    IrValue *vi[2] = {tinput(g, "a", SD_DT_F32, 2, da), tinput(g, "b", SD_DT_F32, 2, db)};
    IrNode *node = tnode(g, IR_OP_GEMM, "gemm", vi, 2, 1);
    node->attrs.matmul = (IrMatmulAttrs){.alpha = 1.0f};
    ir_graph_add_output(g, node->outputs[0]);
    float *a = calloc(16 * 32, sizeof *a), *b = calloc(32 * 48, sizeof *b), *y = calloc(16 * 48, sizeof *y);
    for (int i = 0; i < 16; i++)
        a[i * 32 + i] = 1.0f + 0x1p-10f;
    for (int j = 0; j < 48; j++)
        b[(j % 16) * 48 + j] = 1.0f;
    SdModel *m = compile_bf16(g, "canonicalize");
    void *ins[2] = {a, b}, *outs[1] = {y};
    sd_model_run_raw(m, ins, outs);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 48; j++)
            cr_assert(y[i * 48 + j] == (j % 16 == i ? 1.0f : 0.0f), "C[%d][%d] is %.9g", i, j, y[i * 48 + j]);
    sd_model_free(m);
    free(a), free(b), free(y);
}

/* --- convolutions and their gradients --- */

typedef struct {
    const char *name;
    int64_t batch, cin, cout, hw, k, stride, pad, groups;
} ConvBf16Case;

/* y = Conv(x, w), dx = CONV_GRAD_INPUT(dy, w), dw = CONV_GRAD_WEIGHT(x, dy), all inputs of the graph */
static IrGraph *conv_grads_graph(const ConvBf16Case *c, int64_t *ydims)
{
    IrGraph *g = tgraph();
    const int64_t o = (c->hw + 2 * c->pad - c->k) / c->stride + 1;
    int64_t xd[4] = {c->batch, c->cin, c->hw, c->hw}, wd[4] = {c->cout, c->cin / c->groups, c->k, c->k};
    int64_t yd[4] = {c->batch, c->cout, o, o};
    memcpy(ydims, yd, sizeof yd);
    IrValue *x = tinput(g, "x", SD_DT_F32, 4, xd), *w = tinput(g, "w", SD_DT_F32, 4, wd);
    IrValue *dy = tinput(g, "dy", SD_DT_F32, 4, yd);
    IrConvAttrs at = {.nspatial = 2, .groups = c->groups};
    for (int i = 0; i < 2; i++)
        at.strides[i] = c->stride, at.dilations[i] = 1, at.pads[i] = at.pads[2 + i] = c->pad;
    IrNode *conv = tnode(g, IR_OP_CONV, "conv", (IrValue *[]){x, w}, 2, 1);
    conv->attrs.conv = at;
    IrNode *gi = tnode(g, IR_OP_CONV_GRAD_INPUT, "grad_input", (IrValue *[]){dy, w}, 2, 1);
    gi->attrs.conv = at;
    memcpy(gi->attrs.conv.grad_shape, xd, sizeof xd);
    IrNode *gw = tnode(g, IR_OP_CONV_GRAD_WEIGHT, "grad_weight", (IrValue *[]){x, dy}, 2, 1);
    gw->attrs.conv = at;
    memcpy(gw->attrs.conv.grad_shape, wd, sizeof wd);
    ir_graph_add_output(g, conv->outputs[0]);
    ir_graph_add_output(g, gi->outputs[0]);
    ir_graph_add_output(g, gw->outputs[0]);
    return g;
}

static void run_conv_grads(const ConvBf16Case *c, bool bf16, const float *x, const float *w, const float *dy,
                           float **outs)
{
    int64_t yd[4];
    IrGraph *g = conv_grads_graph(c, yd);
    SdModel *m;
    if (bf16) {
        m = compile_bf16(g, NULL);
    } else {
        m = tcompile_ok(g, (TConfig){"builtin", NULL});
    }
    void *ins[3] = {(void *)x, (void *)w, (void *)dy};
    sd_model_run_raw(m, ins, (void *const *)outs);
    sd_model_free(m);
}

/* |got - want| against the size of what was summed: the f32 result on |x~|, |w~|, |dy~| */
static void expect_conv_close(const float *got, const float *want, const float *mag, int64_t n, const char *what,
                              const char *name, bool *differs, const float *f32)
{
    for (int64_t i = 0; i < n; i++) {
        cr_assert(fabsf(got[i] - want[i]) <= 1e-6f + 3e-5f * mag[i], "%s %s: element %lld is %.9g, expected %.9g",
                  name, what, (long long)i, got[i], want[i]);
        *differs |= got[i] != f32[i];
    }
}

Test(gemm_bf16, jit_conv_and_gradients_every_path)
{
    static const ConvBf16Case cases[] = {
        {"3x3 direct", 2, 16, 24, 28, 3, 1, 1, 1},
        {"3x3 stride 2", 3, 8, 32, 14, 3, 2, 1, 1},
        {"1x1", 2, 32, 48, 9, 1, 1, 0, 1},
        {"3x3 on 7x7 (C^T)", 4, 64, 64, 7, 3, 1, 1, 1},
        {"grouped 5x5", 2, 12, 18, 11, 5, 1, 2, 3},
        {"stem 3 channels", 2, 3, 16, 20, 3, 1, 1, 1},
    };
    for (int ci = 0; ci < LEN(cases); ci++) {
        const ConvBf16Case *c = &cases[ci];
        const int64_t o = (c->hw + 2 * c->pad - c->k) / c->stride + 1;
        const int64_t nx = c->batch * c->cin * c->hw * c->hw, nw = c->cout * (c->cin / c->groups) * c->k * c->k;
        const int64_t ny = c->batch * c->cout * o * o, sizes[3] = {ny, nx, nw};
        TRng rng = {(uint64_t)(500 + ci)};
        float *x = trand(&rng, nx), *w = trand(&rng, nw), *dy = trand(&rng, ny);
        float *xr = rounded_copy(x, nx), *wr = rounded_copy(w, nw), *dyr = rounded_copy(dy, ny);
        float *ax = malloc((size_t)nx * sizeof *ax), *aw = malloc((size_t)nw * sizeof *aw),
              *ady = malloc((size_t)ny * sizeof *ady);
        for (int64_t i = 0; i < nx; i++)
            ax[i] = fabsf(xr[i]);
        for (int64_t i = 0; i < nw; i++)
            aw[i] = fabsf(wr[i]);
        for (int64_t i = 0; i < ny; i++)
            ady[i] = fabsf(dyr[i]);
        float *got[3], *want[3], *mag[3], *plain[3];
        for (int k = 0; k < 3; k++) {
            got[k] = malloc((size_t)sizes[k] * sizeof(float)), want[k] = malloc((size_t)sizes[k] * sizeof(float));
            mag[k] = malloc((size_t)sizes[k] * sizeof(float)), plain[k] = malloc((size_t)sizes[k] * sizeof(float));
        }
        run_conv_grads(c, true, x, w, dy, got);
        run_conv_grads(c, false, xr, wr, dyr, want);
        run_conv_grads(c, false, ax, aw, ady, mag);
        run_conv_grads(c, false, x, w, dy, plain);
        bool differs = false;
        static const char *what[3] = {"conv", "grad_input", "grad_weight"};
        for (int k = 0; k < 3; k++)
            expect_conv_close(got[k], want[k], mag[k], sizes[k], what[k], c->name, &differs, plain[k]);
        cr_assert(differs, "%s: bf16 products gave exactly the f32 results", c->name);
        for (int k = 0; k < 3; k++)
            free(got[k]), free(want[k]), free(mag[k]), free(plain[k]);
        free(x), free(w), free(dy), free(xr), free(wr), free(dyr), free(ax), free(aw), free(ady);
    }
}
