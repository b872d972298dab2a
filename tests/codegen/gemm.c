/* tests/codegen/gemm.c — the builtin GEMM (runtime/kernels/gemm.c) against a double-precision
 * reference: every remainder of the micro-tile in M and N, K around the blocking sizes, blocks of
 * rows beyond RT_GEMM_MC, both transposes, alpha and beta (and beta = 0 over NaNs). Compiled by
 * the JIT (many Gemm nodes in one graph, canonicalization off so that the transposes reach the
 * kernel; a Conv whose im2col blocks make ldc > N) and called natively (strides larger than the
 * rows, canaries around C and after the workspace), natively also with the narrow tiles that
 * targets without AVX-512 get. */
#include <float.h>

#include "runtime/kernels/gemm.h"
#include "support/mem.h"
#include "tests/codegen/gemm_ref.h"
#include "tests/codegen/matnorm_harness.h"

/* --- through the JIT: many Gemm nodes in one graph --- */

static const int64_t jit_m[] = {1, 2, 5, 7, 8, 9, 15, 17, 24, 31, 250};
static const int64_t jit_n[] = {1, 3, 16, 17, 33, 47, 48, 49, 63, 97, 113};
static const int64_t jit_k[] = {1, 17, 256, 300, 7};
#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void check_jit(int ta, int tb)
{
    int n_cases = LEN(jit_m) * LEN(jit_n);
    GCase *cs = calloc((size_t)n_cases, sizeof *cs);
    float **a = calloc((size_t)n_cases, sizeof *a), **b = calloc((size_t)n_cases, sizeof *b);
    float **c0 = calloc((size_t)n_cases, sizeof *c0), **y = calloc((size_t)n_cases, sizeof *y);
    void **ins = calloc((size_t)(2 * n_cases), sizeof *ins);
    TRng rng = {(uint64_t)(17 + 2 * ta + tb)};
    IrGraph *g = tgraph();
    int n = 0;
    for (int im = 0; im < LEN(jit_m); im++)
        for (int in = 0; in < LEN(jit_n); in++, n++) {
            static const float alphas[] = {1.0f, 0.5f, -2.0f}, betas[] = {0.0f, 1.0f, 0.25f};
            GCase *c = &cs[n];
            *c = (GCase){jit_m[im], jit_n[in], jit_k[(im + 2 * in) % LEN(jit_k)], ta, tb, alphas[(im + in) % 3],
                         betas[(2 * im + in) % 3]};
            int64_t da[2] = {ta ? c->K : c->M, ta ? c->M : c->K}, db[2] = {tb ? c->N : c->K, tb ? c->K : c->N};
            int64_t dc[2] = {c->M, c->N};
            a[n] = trand(&rng, c->M * c->K);
            b[n] = trand(&rng, c->K * c->N);
            c0[n] = trand(&rng, c->M * c->N);
            y[n] = calloc((size_t)(c->M * c->N), sizeof(float));
            char name[32];
            snprintf(name, sizeof name, "a%d", n);
            IrValue *vi[3] = {tinput(g, name, SD_DT_F32, 2, da), NULL, NULL};
            snprintf(name, sizeof name, "b%d", n);
            vi[1] = tinput(g, name, SD_DT_F32, 2, db);
            int n_in = 2;
            if (c->beta != 0.0f) {
                snprintf(name, sizeof name, "c%d", n);
                vi[n_in++] = tconst(g, name, 2, dc, c0[n]);
            }
            snprintf(name, sizeof name, "gemm%d", n);
            IrNode *node = tnode(g, IR_OP_GEMM, name, vi, n_in, 1);
            node->attrs.matmul = (IrMatmulAttrs){.alpha = c->alpha, .beta = c->beta, .trans_a = ta, .trans_b = tb};
            ir_graph_add_output(g, node->outputs[0]);
            ins[2 * n] = a[n], ins[2 * n + 1] = b[n];
        }
    SdModel *m = tcompile_ok(g, (TConfig){"builtin", "canonicalize"});
    sd_model_run_raw(m, ins, (void *const *)y);
    for (int i = 0; i < n_cases; i++) {
        const GCase *c = &cs[i];
        double *want = malloc((size_t)(c->M * c->N) * sizeof *want), *scale = malloc((size_t)(c->M * c->N) * sizeof *scale);
        gemm_reference(c, a[i], ta ? c->M : c->K, b[i], tb ? c->K : c->N, c0[i], c->N, false, want, scale);
        gemm_expect_close(y[i], c->N, want, scale, c, c->K, "jit");
        free(want), free(scale);
        free(a[i]), free(b[i]), free(c0[i]), free(y[i]);
    }
    sd_model_free(m);
    free(cs), free(a), free(b), free(c0), free(y), free(ins);
}

Test(gemm_builtin, jit_every_edge_tile_no_transpose) { check_jit(0, 0); }
Test(gemm_builtin, jit_every_edge_tile_transposed_a) { check_jit(1, 0); }
Test(gemm_builtin, jit_every_edge_tile_transposed_b) { check_jit(0, 1); }
Test(gemm_builtin, jit_every_edge_tile_both_transposed) { check_jit(1, 1); }

/* Sizes around the blocking: K over two blocks (balanced), M over RT_GEMM_MC, full and partial
 * micro-tiles, each alone in a graph so that the workspace is exactly this product's. */
Test(gemm_builtin, jit_blocking_boundaries)
{
    const GCase cases[] = {
        {RT_GEMM_MC + RT_GEMM_MR + 3, 2 * RT_GEMM_NR + 5, 2 * RT_GEMM_KC + 1, 0, 0, 1.0f, 0.0f},
        {RT_GEMM_MC, RT_GEMM_NR, RT_GEMM_KC, 1, 1, 1.0f, 0.0f},
        {2 * RT_GEMM_MC + 1, 33, RT_GEMM_KC + 1, 0, 1, -1.0f, 0.0f},
        {64, 784, 288, 0, 0, 1.0f, 0.0f},
        {40, 49, 1000, 1, 0, 1.0f, 0.0f},
        /* narrow N: computed as C^T, in blocks of rt_gemm_t_block(N) rows of C */
        {rt_gemm_t_block(49) + 20, 49, 40, 0, 0, 1.0f, 0.0f},
        {2 * rt_gemm_t_block(17) + 5, 17, 70, 1, 1, 0.5f, 0.0f},
        {100, 33, 300, 1, 0, 1.0f, 0.0f},
        {96, 7, 20, 0, 1, 1.0f, 0.0f},
    };
    for (int ci = 0; ci < LEN(cases); ci++) {
        const GCase *c = &cases[ci];
        TRng rng = {(uint64_t)(100 + ci)};
        float *a = trand(&rng, c->M * c->K), *b = trand(&rng, c->K * c->N);
        float *y = calloc((size_t)(c->M * c->N), sizeof *y);
        int64_t da[2] = {c->ta ? c->K : c->M, c->ta ? c->M : c->K}, db[2] = {c->tb ? c->N : c->K, c->tb ? c->K : c->N};
        IrGraph *g = tgraph();
        IrValue *vi[2] = {tinput(g, "a", SD_DT_F32, 2, da), tinput(g, "b", SD_DT_F32, 2, db)};
        IrNode *node = tnode(g, IR_OP_GEMM, "gemm", vi, 2, 1);
        node->attrs.matmul = (IrMatmulAttrs){.alpha = c->alpha, .trans_a = c->ta, .trans_b = c->tb};
        ir_graph_add_output(g, node->outputs[0]);
        SdModel *m = tcompile_ok(g, (TConfig){"builtin", "canonicalize"});
        void *ins[2] = {a, b}, *outs[1] = {y};
        sd_model_run_raw(m, ins, outs);
        double *want = malloc((size_t)(c->M * c->N) * sizeof *want), *scale = malloc((size_t)(c->M * c->N) * sizeof *scale);
        gemm_reference(c, a, c->ta ? c->M : c->K, b, c->tb ? c->K : c->N, NULL, c->N, false, want, scale);
        gemm_expect_close(y, c->N, want, scale, c, c->K, "jit blocking");
        sd_model_free(m);
        free(a), free(b), free(y), free(want), free(scale);
    }
}

/* A 3x3 convolution big enough that im2col works in blocks of rows: each block's GEMM writes an
 * N-column slice of rows that are longer (ldc > N), with a partial micro-tile in M and N. */
Test(gemm_builtin, jit_conv_blocks_write_strided_rows)
{
    const int64_t cin = 64, hw = 64, cout = 20;
    int64_t xd[4] = {1, cin, hw, hw}, wd[4] = {cout, cin, 3, 3};
    TRng rng = {7};
    float *x = trand(&rng, cin * hw * hw), *w = trand(&rng, cout * cin * 9);
    float *y = calloc((size_t)(cout * hw * hw), sizeof *y);
    IrGraph *g = tgraph();
    IrValue *vi[2] = {tinput(g, "x", SD_DT_F32, 4, xd), tconst(g, "w", 4, wd, w)};
    IrNode *node = tnode(g, IR_OP_CONV, "conv", vi, 2, 1);
    IrConvAttrs *at = &node->attrs.conv;
    at->nspatial = 2;
    at->groups = 1;
    for (int i = 0; i < 2; i++)
        at->strides[i] = at->dilations[i] = 1, at->pads[i] = at->pads[2 + i] = 1;
    ir_graph_add_output(g, node->outputs[0]);
    SdModel *m = tcompile_ok(g, (TConfig){"builtin", NULL});
    void *ins[1] = {x}, *outs[1] = {y};
    sd_model_run_raw(m, ins, outs);
    double worst = 0;
    for (int64_t oc = 0; oc < cout; oc++)
        for (int64_t oh = 0; oh < hw; oh++)
            for (int64_t ow = 0; ow < hw; ow++) {
                double s = 0, s_abs = 0;
                for (int64_t ic = 0; ic < cin; ic++)
                    for (int kh = 0; kh < 3; kh++)
                        for (int kw = 0; kw < 3; kw++) {
                            int64_t ih = oh - 1 + kh, iw = ow - 1 + kw;
                            if (ih < 0 || ih >= hw || iw < 0 || iw >= hw)
                                continue;
                            double p = (double)x[(ic * hw + ih) * hw + iw] * w[((oc * cin + ic) * 3 + kh) * 3 + kw];
                            s += p, s_abs += fabs(p);
                        }
                double e = fabs(y[(oc * hw + oh) * hw + ow] - s) / (1e-6 + gemm_tol_rel(cin * 9) * s_abs);
                worst = e > worst ? e : worst;
            }
    cr_expect(worst <= 1.0, "conv through the builtin GEMM: worst error %.3g of the tolerance", worst);
    sd_model_free(m);
    free(x), free(w), free(y);
}

/* --- native: strides, canaries, degenerate products --- */

#define CANARY 12345.0f

static void check_native_with(int provider, GCase c, int64_t pad_a, int64_t pad_b, int64_t pad_c, int nan_c)
{
    int64_t lda = (c.ta ? c.M : c.K) + pad_a, ldb = (c.tb ? c.K : c.N) + pad_b, ldc = c.N + pad_c;
    int64_t ra = c.ta ? c.K : c.M, rb = c.tb ? c.N : c.K;
    TRng rng = {(uint64_t)(c.M * 131 + c.N * 7 + c.K)};
    float *a = trand(&rng, ra * lda + 1), *b = trand(&rng, rb * ldb + 1);
    float *cm = trand(&rng, c.M * ldc + 16), *c0 = malloc((size_t)(c.M * ldc + 16) * sizeof *c0);
    for (int64_t i = 0; i < c.M; i++)
        for (int64_t j = c.N; j < ldc; j++)
            cm[i * ldc + j] = CANARY;
    for (int64_t j = c.M * ldc; j < c.M * ldc + 16; j++)
        cm[j] = CANARY;
    if (nan_c)
        for (int64_t i = 0; i < c.M; i++)
            for (int64_t j = 0; j < c.N; j++)
                cm[i * ldc + j] = NAN;
    memcpy(c0, cm, (size_t)(c.M * ldc + 16) * sizeof *c0);
    int64_t wn = rt_gemm_workspace_floats(c.M, c.N, c.K);
    float *work = sd_aligned_alloc((size_t)(wn + 64) * sizeof(float));
    cr_assert_not_null(work);
    for (int64_t i = wn; i < wn + 64; i++)
        work[i] = CANARY;
    rt_gemm_f32(c.ta, c.tb, c.M, c.N, c.K, c.alpha, a, lda, b, ldb, c.beta, cm, ldc, provider, work);
    double *want = calloc((size_t)(c.M * c.N + 1), sizeof *want), *scale = calloc((size_t)(c.M * c.N + 1), sizeof *scale);
    gemm_reference(&c, a, lda, b, ldb, c0, ldc, false, want, scale);
    gemm_expect_close(cm, ldc, want, scale, &c, c.K,
                      provider == RT_GEMM_BUILTIN_NARROW ? "native, narrow tiles" : "native");
    for (int64_t i = 0; i < c.M; i++)
        for (int64_t j = c.N; j < ldc; j++)
            cr_assert(cm[i * ldc + j] == CANARY, "native %lldx%lldx%lld: C[%lld][%lld] beyond N was written",
                      (long long)c.M, (long long)c.N, (long long)c.K, (long long)i, (long long)j);
    for (int64_t j = c.M * ldc; j < c.M * ldc + 16; j++)
        cr_assert(cm[j] == CANARY, "native: written after the end of C");
    for (int64_t i = wn; i < wn + 64; i++)
        cr_assert(work[i] == CANARY, "native %lldx%lldx%lld: written %lld floats past the workspace",
                  (long long)c.M, (long long)c.N, (long long)c.K, (long long)(i - wn));
    free(a), free(b), free(cm), free(c0), free(want), free(scale);
    sd_aligned_free(work);
}

/* both tile families: 8 x 48 for AVX-512, 6 x 16 for narrower vectors */
static void check_native(GCase c, int64_t pad_a, int64_t pad_b, int64_t pad_c, int nan_c)
{
    check_native_with(RT_GEMM_BUILTIN, c, pad_a, pad_b, pad_c, nan_c);
    check_native_with(RT_GEMM_BUILTIN_NARROW, c, pad_a, pad_b, pad_c, nan_c);
}

Test(gemm_builtin, native_strides_and_every_remainder)
{
    static const int64_t ms[] = {1, 3, 8, 13, 23, 245}, ns[] = {1, 15, 16, 31, 48, 50, 111}, ks[] = {1, 16, 33, 260};
    int n = 0;
    for (int im = 0; im < LEN(ms); im++)
        for (int in = 0; in < LEN(ns); in++)
            for (int t = 0; t < 4; t++, n++) {
                GCase c = {ms[im], ns[in], ks[(im + in + t) % LEN(ks)], t & 1, t >> 1, n % 3 ? 1.0f : 0.75f,
                           n % 4 == 0 ? 0.0f : n % 4 == 1 ? 1.0f : -0.5f};
                check_native(c, n % 5, (n + 2) % 7, n % 3 ? 9 : 0, 0);
            }
}

Test(gemm_builtin, native_degenerate_and_narrow_products)
{
    /* beta = 0 overwrites NaNs; K = 0 and alpha = 0 only scale C */
    check_native((GCase){9, 50, 20, 0, 0, 1.0f, 0.0f}, 0, 0, 3, 1);
    check_native((GCase){9, 50, 20, 1, 1, 1.0f, 0.0f}, 2, 1, 0, 1);
    check_native((GCase){5, 7, 0, 0, 0, 1.0f, 0.5f}, 0, 0, 2, 0);
    check_native((GCase){5, 7, 0, 0, 0, 1.0f, 0.0f}, 0, 0, 2, 1);
    check_native((GCase){6, 70, 30, 0, 1, 0.0f, 2.0f}, 0, 0, 1, 0);
    /* narrow N, computed transposed: strides, beta, several blocks */
    for (int t = 0; t < 4; t++) {
        check_native((GCase){rt_gemm_t_block(49) + 37, 49, 33, t & 1, t >> 1, 1.0f, t == 2 ? 0.5f : 0.0f}, 3, 1, 5, t == 1);
        check_native((GCase){250, 9, 64, t & 1, t >> 1, -1.0f, t == 3 ? 1.0f : 0.0f}, 0, 2, 0, 0);
    }
    /* nothing to do, nothing touched */
    float c = CANARY;
    rt_gemm_f32(0, 0, 0, 5, 5, 1.0f, NULL, 5, NULL, 5, 0.0f, &c, 5, RT_GEMM_BUILTIN, NULL);
    rt_gemm_f32(0, 0, 5, 0, 5, 1.0f, NULL, 5, NULL, 5, 0.0f, &c, 5, RT_GEMM_BUILTIN, NULL);
    cr_expect(c == CANARY);
}

/* Callers that cut N or K into blocks (convolutions and their weight gradients) size the workspace
 * for the largest block; every smaller block, computed transposed or not, must fit in it. */
Test(gemm_builtin, native_workspace_covers_narrower_blocks)
{
    static const int64_t mk[][2] = {{256, 4608}, {1000, 700}, {40, 4608}, {20, 64}, {300, 33}, {64, 6000}};
    for (int c = 0; c < LEN(mk); c++) {
        const int64_t M = mk[c][0], K = mk[c][1], n_max = 100;
        int64_t wn = rt_gemm_workspace_floats(M, n_max, K);
        float *work = sd_aligned_alloc((size_t)(wn + 64) * sizeof(float));
        TRng rng = {(uint64_t)c};
        float *a = trand(&rng, M * K), *b = trand(&rng, K * n_max), *y = trand(&rng, M * n_max);
        for (int64_t n = 1; n <= n_max; n += n < 24 ? 1 : 19) {
            for (int64_t i = wn; i < wn + 64; i++)
                work[i] = CANARY;
            rt_gemm_f32(0, 0, M, n, K, 1.0f, a, K, b, n, 0.0f, y, n, n % 2 ? RT_GEMM_BUILTIN : RT_GEMM_BUILTIN_NARROW,
                        work);
            for (int64_t i = wn; i < wn + 64; i++)
                cr_assert(work[i] == CANARY, "M=%lld K=%lld: N=%lld wrote past the workspace sized for N=%lld",
                          (long long)M, (long long)K, (long long)n, (long long)n_max);
        }
        /* and for any shorter K (the blocks of a weight gradient's sum over pixels) */
        for (int64_t k = 1; k <= K; k += k < 300 ? 37 : 613) {
            for (int64_t i = wn; i < wn + 64; i++)
                work[i] = CANARY;
            rt_gemm_f32(0, 0, M, n_max, k, 1.0f, a, k, b, n_max, 0.0f, y, n_max,
                        k % 2 ? RT_GEMM_BUILTIN : RT_GEMM_BUILTIN_NARROW, work);
            for (int64_t i = wn; i < wn + 64; i++)
                cr_assert(work[i] == CANARY, "M=%lld N=%lld: K=%lld wrote past the workspace sized for K=%lld",
                          (long long)M, (long long)n_max, (long long)k, (long long)K);
        }
        free(a), free(b), free(y);
        sd_aligned_free(work);
    }
}
