/* tests/codegen/einsum.c — Einsum: the equations of vision transformers and SSL losses become
 * MatMul/Transpose/Reshape (checked in the IR) and compute what a plain loop over all labels
 * computes, with canonicalization on and off; diagonals and three operands run on the general
 * kernel; bad equations fail with a message that quotes them. */
#include "tests/codegen/matnorm_harness.h"

#define MAXT 3

/* A reference for explicit letter-only equations: every assignment of every letter, in double. */
static void ref_einsum(const char *eq, int n_in, float *const *x, const int *ranks, int64_t (*dims)[IR_MAX_RANK],
                       double *y, int64_t ny)
{
    const char *terms[MAXT + 1];
    int len[MAXT + 1];
    const char *p = eq;
    for (int t = 0; t <= n_in; t++) {
        terms[t] = p;
        while (*p && *p != ',' && *p != '-')
            p++;
        len[t] = (int)(p - terms[t]);
        p += *p == ',' ? 1 : *p == '-' ? 2 : 0;
    }
    char letters[26];
    int64_t size[26];
    int nl = 0;
    for (int t = 0; t < n_in; t++)
        for (int i = 0; i < len[t]; i++) {
            int k = 0;
            while (k < nl && letters[k] != terms[t][i])
                k++;
            if (k == nl)
                letters[nl] = terms[t][i], size[nl++] = dims[t][i];
        }
    for (int64_t i = 0; i < ny; i++)
        y[i] = 0;
    int64_t idx[26] = {0};
    for (;;) {
        double prod = 1;
        for (int t = 0; t < n_in; t++) {
            int64_t off = 0;
            for (int i = 0; i < ranks[t]; i++)
                off = off * dims[t][i] + idx[strchr(letters, terms[t][i]) - letters];
            prod *= x[t][off];
        }
        int64_t off = 0;
        for (int i = 0; i < len[n_in]; i++) {
            int k = (int)(strchr(letters, terms[n_in][i]) - letters);
            off = off * size[k] + idx[k];
        }
        y[off] += prod;
        int k = nl - 1;
        while (k >= 0 && ++idx[k] == size[k])
            idx[k--] = 0;
        if (k < 0)
            break;
    }
}

static int count_ops(const IrGraph *g, IrOp op)
{
    int k = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++)
        k += ir_graph_node(g, i)->op == op;
    return k;
}

static IrGraph *einsum_graph(const char *eq, int n_in, const int *ranks, int64_t (*dims)[IR_MAX_RANK])
{
    IrGraph *g = tgraph();
    IrValue *ins[MAXT];
    for (int t = 0; t < n_in; t++) {
        char name[8];
        snprintf(name, sizeof name, "x%d", t);
        ins[t] = tinput(g, name, SD_DT_F32, ranks[t], dims[t]);
    }
    IrNode *n = tnode(g, IR_OP_EINSUM, "es", ins, n_in, 1);
    snprintf(n->attrs.einsum.equation, sizeof n->attrs.einsum.equation, "%s", eq);
    ir_graph_add_output(g, n->outputs[0]);
    return g;
}

/* Runs eq under every config against the reference; `matmuls`/`einsums` (-1: any) are the node
 * counts expected after the default pipeline. */
static void check_einsum(const char *eq, int n_in, const int *ranks, int64_t (*dims)[IR_MAX_RANK], int matmuls,
                         int einsums)
{
    TRng rng = {(uint64_t)strlen(eq) * 31 + (uint64_t)eq[0]};
    float *x[MAXT];
    for (int t = 0; t < n_in; t++)
        x[t] = trand(&rng, tnumel(ranks[t], dims[t]));

    IrGraph *g = einsum_graph(eq, n_in, ranks, dims);
    SdOptions o = sd_options_default();
    SdError err = {0};
    cr_assert_eq(sd_optimize(g, &o, NULL, NULL, NULL, &err), SD_OK, "%s: %s", eq, err.msg);
    if (matmuls >= 0)
        cr_expect_eq(count_ops(g, IR_OP_MATMUL), matmuls, "%s: MatMul nodes", eq);
    if (einsums >= 0)
        cr_expect_eq(count_ops(g, IR_OP_EINSUM), einsums, "%s: Einsum nodes left", eq);
    ir_graph_free(g);

    for (int cfg = 0; cfg < N_TCONFIGS; cfg++) {
        SdModel *m = tcompile_ok(einsum_graph(eq, n_in, ranks, dims), tconfigs[cfg]);
        SdTensorInfo yi = sd_model_output(m, 0);
        int64_t ny = tnumel(yi.rank, yi.dims);
        float *y = calloc((size_t)ny + 1, sizeof *y);
        double *want = calloc((size_t)ny + 1, sizeof *want);
        void *out_bufs[1] = {y};
        sd_model_run_raw(m, (void **)x, out_bufs);
        ref_einsum(eq, n_in, x, ranks, dims, want, ny);
        char what[128];
        snprintf(what, sizeof what, "%s (gemm=%s, disable=%s)", eq, tconfigs[cfg].gemm,
                 tconfigs[cfg].disable ? tconfigs[cfg].disable : "-");
        tclose(y, want, NULL, ny, 1e-5, 1e-5, what);
        sd_model_free(m);
        free(y), free(want);
    }
    for (int t = 0; t < n_in; t++)
        free(x[t]);
}

Test(einsum, transformer_and_ssl_equations_become_matmul)
{
    check_einsum("ij,jk->ik", 2, (int[]){2, 2}, (int64_t[][IR_MAX_RANK]){{3, 4}, {4, 5}}, 1, 0);
    check_einsum("bij,bjk->bik", 2, (int[]){3, 3}, (int64_t[][IR_MAX_RANK]){{2, 3, 4}, {2, 4, 5}}, 1, 0);
    check_einsum("bhid,bhjd->bhij", 2, (int[]){4, 4}, (int64_t[][IR_MAX_RANK]){{2, 3, 5, 8}, {2, 3, 7, 8}}, 1, 0);
    check_einsum("bhij,bhjd->bhid", 2, (int[]){4, 4}, (int64_t[][IR_MAX_RANK]){{2, 3, 5, 7}, {2, 3, 7, 8}}, 1, 0);
    check_einsum("nc,kc->nk", 2, (int[]){2, 2}, (int64_t[][IR_MAX_RANK]){{6, 16}, {9, 16}}, 1, 0);
    check_einsum("nc,nc->n", 2, (int[]){2, 2}, (int64_t[][IR_MAX_RANK]){{6, 33}, {6, 33}}, 1, 0);
    check_einsum("ij->ji", 1, (int[]){2}, (int64_t[][IR_MAX_RANK]){{3, 4}}, 0, 0);
    check_einsum("bik,kj->bij", 2, (int[]){3, 2}, (int64_t[][IR_MAX_RANK]){{2, 3, 4}, {4, 5}}, 1, 0);
    check_einsum("ijk,ikl->jl", 2, (int[]){3, 3}, (int64_t[][IR_MAX_RANK]){{2, 3, 4}, {2, 4, 5}}, 1, 0);
    check_einsum("i,j->ij", 2, (int[]){1, 1}, (int64_t[][IR_MAX_RANK]){{3}, {4}}, 1, 0);
    check_einsum("ij,ij->ij", 2, (int[]){2, 2}, (int64_t[][IR_MAX_RANK]){{3, 4}, {3, 4}}, 0, 0);
}

Test(einsum, other_equations_run_on_the_general_kernel)
{
    check_einsum("ii->i", 1, (int[]){2}, (int64_t[][IR_MAX_RANK]){{5, 5}}, 0, 1);
    check_einsum("ij->i", 1, (int[]){2}, (int64_t[][IR_MAX_RANK]){{3, 7}}, 0, 1);
    check_einsum("ij,jk,kl->il", 3, (int[]){2, 2, 2}, (int64_t[][IR_MAX_RANK]){{2, 3}, {3, 4}, {4, 5}}, 0, 1);
    check_einsum("bij,bjk->b", 2, (int[]){3, 3}, (int64_t[][IR_MAX_RANK]){{2, 3, 4}, {2, 4, 3}}, 0, 1);
}

Test(einsum, ellipsis_and_implicit_output_shapes)
{
    struct {
        const char *eq;
        int n_in;
        int ranks[2];
        int64_t dims[2][IR_MAX_RANK];
        int rank;
        int64_t want[IR_MAX_RANK];
    } cases[] = {
        {"...ii->...i", 1, {3}, {{3, 5, 5}}, 2, {3, 5}},
        {"...ij,...jk->...ik", 2, {4, 3}, {{2, 1, 3, 4}, {5, 4, 6}}, 4, {2, 5, 3, 6}},
        {"ij,jk", 2, {2, 2}, {{3, 4}, {4, 5}}, 2, {3, 5}},
        {"ba,ca", 2, {2, 2}, {{3, 4}, {5, 4}}, 2, {3, 5}},  /* implicit output sorted: b, c */
        {"i,i", 2, {1, 1}, {{5}, {5}}, 0, {0}},
        {" b i j , b j k -> b i k ", 2, {3, 3}, {{5, 2, 3}, {5, 3, 4}}, 3, {5, 2, 4}},
        {"...,...->...", 2, {2, 1}, {{3, 4}, {4}}, 2, {3, 4}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        IrGraph *g = einsum_graph(cases[k].eq, cases[k].n_in, cases[k].ranks, cases[k].dims);
        SdOptions o = sd_options_default();
        SdError err = {0};
        cr_assert_eq(sd_optimize(g, &o, "shape", NULL, NULL, &err), SD_OK, "%s: %s", cases[k].eq, err.msg);
        IrShape want = ir_shape_make(cases[k].rank, cases[k].want);
        char s1[64], s2[64];
        cr_expect(ir_shape_equal(&ir_graph_output(g, 0)->shape, &want), "%s: shape %s, expected %s", cases[k].eq,
                  ir_shape_str(&ir_graph_output(g, 0)->shape, s1, sizeof s1), ir_shape_str(&want, s2, sizeof s2));
        ir_graph_free(g);
    }
}

Test(einsum, bad_equations_are_quoted_in_the_error)
{
    struct {
        const char *eq;
        int n_in;
        const char *needle;
    } cases[] = {
        {"ij,jk->iz", 2, "'z'"},
        {"ij->i", 2, "1 input term for 2 inputs"},
        {"ijk,jk->ik", 2, "rank 2"},
        {"ij,kj->ik", 2, "label 'j'"},
        {"i..j,jk->ik", 2, "'...'"},
        {"ij,jk->ii", 2, "twice"},
        {"i1,jk->ik", 2, "'1'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        IrGraph *g = einsum_graph(cases[k].eq, cases[k].n_in, (int[]){2, 2}, (int64_t[][IR_MAX_RANK]){{3, 4}, {4, 6}});
        SdError err = {0};
        SdModel *m;
        cr_assert_neq(tcompile(g, tconfigs[0], &m, &err), SD_OK, "%s compiled", cases[k].eq);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "equation '%s'", cases[k].eq);
        cr_expect(strstr(err.msg, quoted) && strstr(err.msg, cases[k].needle) && strstr(err.msg, "'es'"),
                  "%s: message: %s", cases[k].eq, err.msg);
    }
}
