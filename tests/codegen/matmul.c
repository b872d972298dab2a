/* tests/codegen/matmul.c — MatMul and Gemm against naive double-precision products: odd and
 * degenerate sizes, 1-D operands, broadcast batches, both GEMM paths (OpenBLAS and builtin), and
 * Gemm with and without canonicalization (which must rewrite it onto MatMul and fold the
 * transposed constant weight away without changing the results). */
#include "codegen/lower/lower.h"
#include "tests/codegen/matnorm_harness.h"

/* NumPy matmul in double; also sum |a*b| per output element, for the tolerance. */
static void ref_matmul(const float *a, int ra, const int64_t *da, const float *b, int rb, const int64_t *db,
                       const IrShape *y, double *want, double *scale)
{
    int64_t M = ra == 1 ? 1 : da[ra - 2], K = da[ra - 1], N = rb == 1 ? 1 : db[rb - 1];
    int bra = ra > 2 ? ra - 2 : 0, brb = rb > 2 ? rb - 2 : 0;
    int bry = bra > brb ? bra : brb;
    int64_t nbatch = 1, ydims[IR_MAX_RANK];
    for (int i = 0; i < bry; i++)
        nbatch *= ydims[i] = y->dims[i];
    for (int64_t t = 0; t < nbatch; t++) {
        int64_t idx[IR_MAX_RANK], rest = t, oa = 0, ob = 0, sa = 1, sb = 1;
        for (int i = bry - 1; i >= 0; i--) {
            idx[i] = rest % ydims[i];
            rest /= ydims[i];
        }
        for (int i = bra - 1; i >= 0; i--) {
            int64_t d = da[i];
            oa += (d == 1 ? 0 : idx[i + bry - bra]) * sa;
            sa *= d;
        }
        for (int i = brb - 1; i >= 0; i--) {
            int64_t d = db[i];
            ob += (d == 1 ? 0 : idx[i + bry - brb]) * sb;
            sb *= d;
        }
        const float *A = a + oa * M * K, *B = b + ob * K * N;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0, s_abs = 0;
                for (int64_t k = 0; k < K; k++) {
                    double p = (double)A[i * K + k] * B[k * N + j];
                    s += p;
                    s_abs += fabs(p);
                }
                want[(t * M + i) * N + j] = s;
                scale[(t * M + i) * N + j] = s_abs;
            }
    }
}

/* Compiles y = MatMul(a, b) under cfg and checks it against the reference. */
static void check_matmul(int ra, const int64_t *da, int rb, const int64_t *db, TConfig cfg, bool b_const)
{
    TRng rng = {(uint64_t)(ra * 131 + rb * 17 + da[0] * 7 + db[0])};
    int64_t na = tnumel(ra, da), nb = tnumel(rb, db);
    float *a = trand(&rng, na), *b = trand(&rng, nb);
    IrGraph *g = tgraph();
    IrValue *ins[2] = {tinput(g, "a", SD_DT_F32, ra, da),
                       b_const ? tconst(g, "b", rb, db, b) : tinput(g, "b", SD_DT_F32, rb, db)};
    IrNode *n = tnode(g, IR_OP_MATMUL, "mm", ins, 2, 1);
    n->attrs.matmul.alpha = 1.0f;
    ir_graph_add_output(g, n->outputs[0]);
    SdModel *m = tcompile_ok(g, cfg);
    SdTensorInfo yi = sd_model_output(m, 0);
    IrShape ys = ir_shape_make(yi.rank, yi.dims);
    int64_t ny = tnumel(yi.rank, yi.dims);
    float *y = calloc((size_t)ny + 1, sizeof *y);
    double *want = calloc((size_t)ny + 1, sizeof *want), *scale = calloc((size_t)ny + 1, sizeof *scale);
    void *in_bufs[2] = {a, b}, *out_bufs[1] = {y};
    sd_model_run_raw(m, in_bufs, out_bufs);
    ref_matmul(a, ra, da, b, rb, db, &ys, want, scale);
    char what[160], s1[64], s2[64];
    IrShape sa = ir_shape_make(ra, da), sb = ir_shape_make(rb, db);
    snprintf(what, sizeof what, "%s x %s (gemm=%s%s)", ir_shape_str(&sa, s1, sizeof s1),
             ir_shape_str(&sb, s2, sizeof s2), cfg.gemm, b_const ? ", constant B" : "");
    tclose(y, want, scale, ny, 1e-6, 2e-6, what);
    sd_model_free(m);
    free(a), free(b), free(y), free(want), free(scale);
}

static void check_2d(int64_t M, int64_t K, int64_t N)
{
    for (int c = 0; c < 2; c++)
        check_matmul(2, (int64_t[]){M, K}, 2, (int64_t[]){K, N}, tconfigs[c], false);
}

Test(matmul, odd_and_degenerate_sizes)
{
    check_2d(1, 1, 1);
    check_2d(1, 7, 1);
    check_2d(5, 1, 3);
    check_2d(1, 9, 6);
    check_2d(9, 17, 1);
    check_2d(7, 13, 5);
    check_2d(33, 64, 40);
    check_2d(1, 1000, 512);
    check_2d(3, 50, 250); /* a few rows: shared out over the threads by blocks of columns */
}

/* Bytes of B^T that code generation packs at compile time for y = MatMul(x [M, K], B [K, N]) with
 * constant B on the builtin path (0: none) */
static size_t packed_b_bytes(int64_t M, int64_t K, int64_t N)
{
    SdError err = {0};
    float *b = calloc((size_t)(K * N), sizeof *b);
    IrGraph *g = tgraph();
    IrValue *ins[2] = {tinput(g, "a", SD_DT_F32, 2, (int64_t[]){M, K}), tconst(g, "b", 2, (int64_t[]){K, N}, b)};
    IrNode *n = tnode(g, IR_OP_MATMUL, "mm", ins, 2, 1);
    n->attrs.matmul.alpha = 1.0f;
    ir_graph_add_output(g, n->outputs[0]);
    SdOptions o = sd_options_default();
    o.gemm = "builtin";
    cr_assert_eq(sd_optimize(g, &o, NULL, NULL, NULL, &err), SD_OK, "%s", err.msg);
    CgLowerOptions lo = {.gemm = CG_GEMM_BUILTIN, .pack_weights = true, .threads = 2};
    size_t bytes = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        IrNode *node = ir_graph_node(g, i);
        if (node->op != IR_OP_MATMUL)
            continue;
        CgLowered low;
        cr_assert_eq(cg_lower_node(node, &lo, &low, &err), SD_OK, "%s", err.msg);
        bytes = low.packed_bytes;
        cg_lowered_free(&low);
    }
    ir_graph_free(g);
    free(b);
    return bytes;
}

/* A few rows against constant weights stored [K, N]: on the builtin path the weights are packed
 * transposed at compile time for dot products along K (by blocks of columns past 96); five rows
 * go through the GEMM. */
Test(matmul, few_rows_against_constant_weights)
{
    static const int64_t mkn[][3] = {{1, 70, 300}, {3, 33, 97}, {4, 1280, 200}, {1, 5, 7}, {5, 40, 130}};
    for (size_t i = 0; i < sizeof mkn / sizeof mkn[0]; i++) {
        const int64_t M = mkn[i][0], K = mkn[i][1], N = mkn[i][2];
        cr_expect_eq(packed_b_bytes(M, K, N), M <= 4 ? (size_t)(K * N) * sizeof(float) : 0, "%lld x %lld x %lld",
                     (long long)M, (long long)K, (long long)N);
        for (int c = 0; c < 2; c++)
            check_matmul(2, (int64_t[]){M, K}, 2, (int64_t[]){K, N}, tconfigs[c], true);
    }
}

Test(matmul, one_dimensional_operands)
{
    for (int c = 0; c < 2; c++) {
        TConfig cfg = tconfigs[c];
        check_matmul(1, (int64_t[]){4}, 1, (int64_t[]){4}, cfg, false);          /* -> [] */
        check_matmul(1, (int64_t[]){4}, 2, (int64_t[]){4, 3}, cfg, false);       /* -> [3] */
        check_matmul(2, (int64_t[]){5, 4}, 1, (int64_t[]){4}, cfg, false);       /* -> [5] */
        check_matmul(1, (int64_t[]){4}, 3, (int64_t[]){2, 4, 3}, cfg, false);    /* -> [2, 3] */
        check_matmul(3, (int64_t[]){2, 3, 4}, 1, (int64_t[]){4}, cfg, false);    /* -> [2, 3] */
        check_matmul(1, (int64_t[]){37}, 1, (int64_t[]){37}, cfg, false);
    }
}

Test(matmul, batches_broadcast)
{
    for (int c = 0; c < 2; c++) {
        TConfig cfg = tconfigs[c];
        check_matmul(4, (int64_t[]){2, 1, 3, 4}, 3, (int64_t[]){5, 4, 6}, cfg, false);
        check_matmul(3, (int64_t[]){3, 5, 7}, 2, (int64_t[]){7, 4}, cfg, false);    /* folds into M */
        check_matmul(3, (int64_t[]){3, 5, 7}, 2, (int64_t[]){7, 4}, cfg, true);
        check_matmul(2, (int64_t[]){5, 7}, 3, (int64_t[]){3, 7, 4}, cfg, false);    /* only B batched */
        check_matmul(4, (int64_t[]){2, 3, 5, 7}, 4, (int64_t[]){2, 3, 7, 1}, cfg, false);
        check_matmul(4, (int64_t[]){3, 1, 3, 4}, 4, (int64_t[]){1, 2, 4, 2}, cfg, false);
        check_matmul(3, (int64_t[]){6, 1, 33}, 3, (int64_t[]){6, 33, 1}, cfg, false); /* dot products */
    }
}

Test(matmul, integers_are_exact)
{
    int64_t a[6] = {1, -2, 3, 4, 5, -6}, b[6] = {7, 8, 9, 10, -11, 12};
    int32_t a32[6], b32[6];
    for (int i = 0; i < 6; i++)
        a32[i] = (int32_t)a[i], b32[i] = (int32_t)b[i];
    int64_t want[4] = {1 * 7 - 2 * 9 + 3 * -11, 1 * 8 - 2 * 10 + 3 * 12, 4 * 7 + 5 * 9 - 6 * -11,
                       4 * 8 + 5 * 10 - 6 * 12};
    for (int t = 0; t < 2; t++) {
        SdDType dt = t ? SD_DT_I32 : SD_DT_I64;
        IrGraph *g = tgraph();
        IrValue *ins[2] = {tinput(g, "a", dt, 2, (int64_t[]){2, 3}), tinput(g, "b", dt, 2, (int64_t[]){3, 2})};
        IrNode *n = tnode(g, IR_OP_MATMUL, "mm", ins, 2, 1);
        ir_graph_add_output(g, n->outputs[0]);
        SdModel *m = tcompile_ok(g, tconfigs[0]);
        int64_t y[4];
        int32_t y32[4];
        void *in_bufs[2] = {t ? (void *)a32 : (void *)a, t ? (void *)b32 : (void *)b};
        void *out_bufs[1] = {t ? (void *)y32 : (void *)y};
        sd_model_run_raw(m, in_bufs, out_bufs);
        for (int i = 0; i < 4; i++)
            cr_expect_eq(t ? y32[i] : y[i], want[i], "%s element %d", sd_dtype_name(dt), i);
        sd_model_free(m);
    }
}

Test(matmul, mismatched_k_names_node_and_shapes)
{
    IrGraph *g = tgraph();
    IrValue *ins[2] = {tinput(g, "a", SD_DT_F32, 2, (int64_t[]){3, 4}), tinput(g, "b", SD_DT_F32, 2, (int64_t[]){5, 2})};
    IrNode *n = tnode(g, IR_OP_MATMUL, "proj", ins, 2, 1);
    ir_graph_add_output(g, n->outputs[0]);
    SdError err = {0};
    SdModel *m;
    cr_assert_neq(tcompile(g, tconfigs[0], &m, &err), SD_OK);
    cr_assert(strstr(err.msg, "'proj'") && strstr(err.msg, "[3,4]") && strstr(err.msg, "[5,2]"), "message: %s", err.msg);
}

/* --- Gemm --- */

typedef struct {
    bool trans_a, trans_b;
    float alpha, beta;
    int c_rank;          /* -1: no C */
    int64_t c_dims[2];
    bool b_const;
} GemmCase;

/* Y for every config, compared to the reference and to the first config's Y */
static void check_gemm(int64_t M, int64_t K, int64_t N, GemmCase gc)
{
    TRng rng = {(uint64_t)(M * 1000 + K * 10 + N)};
    int64_t da[2] = {gc.trans_a ? K : M, gc.trans_a ? M : K}, db[2] = {gc.trans_b ? N : K, gc.trans_b ? K : N};
    float *a = trand(&rng, M * K), *b = trand(&rng, K * N);
    int64_t nc = gc.c_rank >= 0 ? tnumel(gc.c_rank, gc.c_dims) : 0;
    float *cv = trand(&rng, nc);
    double *want = calloc((size_t)(M * N), sizeof *want), *scale = calloc((size_t)(M * N), sizeof *scale);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0, s_abs = 0;
            for (int64_t k = 0; k < K; k++) {
                double x = gc.trans_a ? a[k * M + i] : a[i * K + k], w = gc.trans_b ? b[j * K + k] : b[k * N + j];
                s += x * w;
                s_abs += fabs(x * w);
            }
            double c = 0;
            if (gc.c_rank >= 0) {
                int64_t ci = 0;
                if (gc.c_rank == 2)
                    ci = (gc.c_dims[0] == 1 ? 0 : i) * gc.c_dims[1] + (gc.c_dims[1] == 1 ? 0 : j);
                else if (gc.c_rank == 1)
                    ci = gc.c_dims[0] == 1 ? 0 : j;
                c = cv[ci];
            }
            want[i * N + j] = gc.alpha * s + gc.beta * c;
            scale[i * N + j] = fabs(gc.alpha) * s_abs + fabs(gc.beta * c);
        }
    float *first = NULL;
    for (int cfg = 0; cfg < N_TCONFIGS; cfg++) {
        IrGraph *g = tgraph();
        IrValue *ins[3] = {tinput(g, "a", SD_DT_F32, 2, da),
                           gc.b_const ? tconst(g, "w", 2, db, b) : tinput(g, "w", SD_DT_F32, 2, db), NULL};
        int n_in = 2;
        if (gc.c_rank >= 0)
            ins[n_in++] = tconst(g, "c", gc.c_rank, gc.c_dims, cv);
        IrNode *n = tnode(g, IR_OP_GEMM, "fc", ins, n_in, 1);
        n->attrs.matmul = (IrMatmulAttrs){.alpha = gc.alpha, .beta = gc.beta, .trans_a = gc.trans_a, .trans_b = gc.trans_b};
        ir_graph_add_output(g, n->outputs[0]);
        SdModel *m = tcompile_ok(g, tconfigs[cfg]);
        float *y = calloc((size_t)(M * N), sizeof *y);
        void *in_bufs[2] = {a, b}, *out_bufs[1] = {y};
        sd_model_run_raw(m, in_bufs, out_bufs);
        char what[200];
        snprintf(what, sizeof what, "gemm %lldx%lldx%lld%s%s alpha=%g beta=%g C rank %d (gemm=%s, disable=%s)",
                 (long long)M, (long long)K, (long long)N, gc.trans_a ? " transA" : "", gc.trans_b ? " transB" : "",
                 gc.alpha, gc.beta, gc.c_rank, tconfigs[cfg].gemm, tconfigs[cfg].disable ? tconfigs[cfg].disable : "-");
        tclose(y, want, scale, M * N, 1e-6, 2e-6, what);
        if (!first) {
            first = y;
        } else {
            double *f = calloc((size_t)(M * N), sizeof *f);
            for (int64_t i = 0; i < M * N; i++)
                f[i] = first[i];
            tclose(y, f, scale, M * N, 1e-6, 2e-6, what); /* canonicalized vs not: the same up to rounding */
            free(f);
            free(y);
        }
        sd_model_free(m);
    }
    free(first), free(a), free(b), free(cv), free(want), free(scale);
}

Test(gemm, attributes_and_bias_shapes_with_and_without_canonicalization)
{
    check_gemm(3, 4, 5, (GemmCase){.alpha = 1, .beta = 1, .c_rank = -1});
    check_gemm(3, 4, 5, (GemmCase){.alpha = 0.25f, .beta = 0.35f, .trans_a = 1, .trans_b = 1, .c_rank = 2, .c_dims = {1, 5}});
    check_gemm(3, 4, 5, (GemmCase){.alpha = 1, .beta = 1, .trans_b = 1, .c_rank = 1, .c_dims = {5}, .b_const = 1});
    check_gemm(3, 4, 5, (GemmCase){.alpha = 2, .beta = 1, .trans_b = 1, .c_rank = 1, .c_dims = {5}, .b_const = 1});
    check_gemm(3, 4, 5, (GemmCase){.alpha = 1, .beta = -0.5f, .trans_a = 1, .c_rank = 2, .c_dims = {3, 1}});
    check_gemm(3, 4, 5, (GemmCase){.alpha = 1, .beta = 1, .c_rank = 2, .c_dims = {3, 5}});
    check_gemm(3, 4, 5, (GemmCase){.alpha = 1, .beta = 1, .c_rank = 0});
    check_gemm(3, 4, 5, (GemmCase){.alpha = 0.5f, .beta = 1, .c_rank = 1, .c_dims = {1}});
    check_gemm(1, 1, 1, (GemmCase){.alpha = 1, .beta = 1, .trans_a = 1, .trans_b = 1, .c_rank = 1, .c_dims = {1}});
    /* a classifier at batch 1 and 2: weights stored transposed, dot products along K by blocks of columns */
    check_gemm(1, 70, 300, (GemmCase){.alpha = 1, .beta = 1, .trans_b = 1, .c_rank = 1, .c_dims = {300}, .b_const = 1});
    check_gemm(2, 33, 197, (GemmCase){.alpha = 0.5f, .beta = 2, .trans_b = 1, .c_rank = 2, .c_dims = {2, 197}});
    check_gemm(1, 1000, 512, (GemmCase){.alpha = 1, .beta = 1, .trans_b = 1, .c_rank = 1, .c_dims = {512}, .b_const = 1});
    check_gemm(7, 13, 1, (GemmCase){.alpha = 1, .beta = 1, .trans_a = 1, .c_rank = 2, .c_dims = {7, 1}});
}

static int count_ops(const IrGraph *g, IrOp op)
{
    int k = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++)
        k += ir_graph_node(g, i)->op == op;
    return k;
}

Test(gemm, canonicalizes_linear_layer_to_matmul_and_add)
{
    TRng rng = {3};
    float *w = trand(&rng, 8 * 10), *bias = trand(&rng, 8);
    IrGraph *g = tgraph();
    IrValue *ins[3] = {tinput(g, "x", SD_DT_F32, 2, (int64_t[]){4, 10}), tconst(g, "w", 2, (int64_t[]){8, 10}, w),
                       tconst(g, "bias", 1, (int64_t[]){8}, bias)};
    IrNode *n = tnode(g, IR_OP_GEMM, "fc", ins, 3, 1);
    n->attrs.matmul = (IrMatmulAttrs){.alpha = 1, .beta = 1, .trans_b = true};
    IrValue *y = n->outputs[0];
    ir_graph_add_output(g, y);
    SdOptions o = sd_options_default();
    o.verify = true;
    SdError err = {0};
    cr_assert_eq(sd_optimize(g, &o, NULL, NULL, NULL, &err), SD_OK, "%s", err.msg);
    cr_expect_eq(count_ops(g, IR_OP_GEMM), 0);
    cr_expect_eq(count_ops(g, IR_OP_TRANSPOSE), 0, "the transposed weight is folded to a constant");
    cr_expect_eq(count_ops(g, IR_OP_MUL), 0, "alpha = beta = 1 needs no Mul");
    cr_expect_eq(count_ops(g, IR_OP_MATMUL), 1);
    cr_expect_eq(count_ops(g, IR_OP_ADD), 1);
    cr_expect_str_eq(ir_graph_output(g, 0)->name, "fc_0", "the output keeps its name");
    ir_graph_free(g);
    free(w), free(bias);
}

Test(gemm, bias_that_does_not_broadcast_is_an_error)
{
    IrGraph *g = tgraph();
    IrValue *ins[3] = {tinput(g, "a", SD_DT_F32, 2, (int64_t[]){3, 4}), tinput(g, "b", SD_DT_F32, 2, (int64_t[]){4, 5}),
                       tinput(g, "c", SD_DT_F32, 1, (int64_t[]){3})};
    IrNode *n = tnode(g, IR_OP_GEMM, "fc", ins, 3, 1);
    n->attrs.matmul = (IrMatmulAttrs){.alpha = 1, .beta = 1};
    ir_graph_add_output(g, n->outputs[0]);
    SdError err = {0};
    SdModel *m;
    cr_assert_neq(tcompile(g, tconfigs[0], &m, &err), SD_OK);
    cr_assert(strstr(err.msg, "'fc'") && strstr(err.msg, "[3]") && strstr(err.msg, "[3,5]"), "message: %s", err.msg);
}
