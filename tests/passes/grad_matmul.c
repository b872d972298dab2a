/* tests/passes/grad_matmul.c — gradients of MatMul (batch broadcasting, 1-D operands, the Linear
 * layer's folded weight gradient, operands read transposed), Gemm (with canonicalization off it
 * survives to autodiff) and Einsum (what canonicalization leaves, and with it off every equation),
 * by finite differences; a diagonal Einsum is refused with a message. */
#include "fd.h"

typedef struct {
    int ra, rb;
    int64_t da[4], db[4];
    bool ta, tb;
} MmCase;

static IrValue *build_matmul(IrGraph *g, IrValue *const *in, void *ctx)
{
    const MmCase *m = ctx;
    IrAttrs a = {0};
    a.matmul.alpha = 1.0f;
    a.matmul.trans_a = m->ta, a.matmul.trans_b = m->tb;
    IrValue *y = fd_op(g, IR_OP_MATMUL, in, 2, &a);
    return fd_op(g, IR_OP_SIN, &y, 1, NULL);
}

Test(grad_matmul, matmul_shapes)
{
    const MmCase cases[] = {
        {2, 2, {3, 4}, {4, 5}, false, false},
        {4, 3, {2, 1, 3, 4}, {3, 4, 5}, false, false},  /* batch dims broadcast both ways */
        {3, 2, {2, 3, 4}, {4, 5}, false, false},        /* Linear: the weight gradient is one GEMM */
        {2, 3, {3, 4}, {2, 4, 5}, false, false},        /* a shared by a batch of b */
        {1, 2, {4}, {4, 5}, false, false},
        {3, 1, {2, 3, 4}, {4}, false, false},
        {1, 1, {4}, {4}, false, false},
        {1, 3, {4}, {2, 4, 3}, false, false},
        {2, 2, {4, 3}, {5, 4}, true, true}, /* read transposed, as autodiff emits them */
        {3, 3, {2, 4, 3}, {2, 4, 5}, true, false},
        {3, 2, {2, 3, 4}, {5, 4}, false, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const MmCase *m = &cases[k];
        int64_t na = fd_numel(m->ra, m->da), nb = fd_numel(m->rb, m->db);
        float *a = fd_rand(40 + (uint32_t)k, na, -1, 1), *b = fd_rand(60 + (uint32_t)k, nb, -1, 1);
        FdInput in[2] = {fd_f32(m->ra, m->da, a), fd_f32(m->rb, m->db, b)};
        char what[48];
        snprintf(what, sizeof what, "matmul case %zu", k);
        fd_check_all(what, in, 2, build_matmul, (void *)m, NULL);
        free(a), free(b);
    }
}

typedef struct {
    bool ta, tb;
    float alpha, beta;
    int rc;
    int64_t dc[2];
} GemmCase;

static IrValue *build_gemm(IrGraph *g, IrValue *const *in, void *ctx)
{
    const GemmCase *m = ctx;
    IrAttrs a = {0};
    a.matmul.alpha = m->alpha, a.matmul.beta = m->beta;
    a.matmul.trans_a = m->ta, a.matmul.trans_b = m->tb;
    IrValue *y = fd_op(g, IR_OP_GEMM, in, m->rc >= 0 ? 3 : 2, &a);
    return fd_op(g, IR_OP_TANH, &y, 1, NULL);
}

Test(grad_matmul, gemm)
{
    /* M = 3, K = 4, N = 5 */
    const GemmCase cases[] = {
        {false, false, 1.0f, 1.0f, 2, {3, 5}},
        {true, false, 0.5f, 2.0f, 1, {5, 0}},
        {false, true, 1.5f, 0.5f, 2, {1, 5}},
        {true, true, 1.0f, 1.0f, -1, {0, 0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const GemmCase *m = &cases[k];
        int64_t da[2] = {m->ta ? 4 : 3, m->ta ? 3 : 4}, db[2] = {m->tb ? 5 : 4, m->tb ? 4 : 5};
        float *a = fd_rand(1 + (uint32_t)k, 12, -1, 1), *b = fd_rand(2 + (uint32_t)k, 20, -1, 1);
        float *cc = fd_rand(3 + (uint32_t)k, 15, -1, 1);
        FdInput in[3] = {fd_f32(2, da, a), fd_f32(2, db, b), fd_f32(m->rc >= 0 ? m->rc : 0, m->dc, cc)};
        char what[48];
        snprintf(what, sizeof what, "gemm case %zu", k);
        fd_check_all(what, in, m->rc >= 0 ? 3 : 2, build_gemm, (void *)m, NULL);
        free(a), free(b), free(cc);
    }
}

typedef struct {
    const char *eq;
    int n;
    int rank[3];
    int64_t dims[3][4];
} EinCase;

static IrValue *build_einsum(IrGraph *g, IrValue *const *in, void *ctx)
{
    const EinCase *e = ctx;
    IrAttrs a = {0};
    snprintf(a.einsum.equation, sizeof a.einsum.equation, "%s", e->eq);
    IrValue *y = fd_op(g, IR_OP_EINSUM, in, e->n, &a);
    return fd_op(g, IR_OP_SIN, &y, 1, NULL);
}

Test(grad_matmul, einsum_equations)
{
    const EinCase cases[] = {
        {"ij,jk->ik", 2, {2, 2, 0}, {{3, 4}, {4, 5}, {0}}},
        {"bhid,bhjd->bhij", 2, {4, 4, 0}, {{2, 2, 3, 4}, {2, 2, 5, 4}, {0}}},
        {"ij->i", 1, {2, 0, 0}, {{3, 4}, {0}, {0}}},
        {"ij->ji", 1, {2, 0, 0}, {{3, 4}, {0}, {0}}},
        {"i,i->", 2, {1, 1, 0}, {{6}, {6}, {0}}},
        {"ij,j->ij", 2, {2, 1, 0}, {{3, 4}, {4}, {0}}},
        {"...ij,...jk->...ik", 2, {4, 3, 0}, {{2, 1, 3, 4}, {3, 4, 2}, {0}}}, /* ellipsis broadcasting */
        {"ij,jk,kl->il", 3, {2, 2, 2}, {{2, 3}, {3, 4}, {4, 2}}},
        {"ijk,ik->j", 2, {3, 2, 0}, {{2, 3, 4}, {2, 4}, {0}}},
        {"bi,bj->bij", 2, {2, 2, 0}, {{3, 2}, {3, 4}, {0}}}, /* outer product per batch */
        {"ij,kj->", 2, {2, 2, 0}, {{2, 3}, {4, 3}, {0}}},    /* sums a label only one side has after contraction */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const EinCase *e = &cases[k];
        FdInput in[3];
        float *data[3];
        for (int i = 0; i < e->n; i++) {
            data[i] = fd_rand(90 + (uint32_t)(k * 3 + i), fd_numel(e->rank[i], e->dims[i]), -1, 1);
            in[i] = fd_f32(e->rank[i], e->dims[i], data[i]);
        }
        fd_check_all(e->eq, in, e->n, build_einsum, (void *)e, NULL);
        for (int i = 0; i < e->n; i++)
            free(data[i]);
    }
}

Test(grad_matmul, einsum_diagonal_is_refused)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("diag");
    ir_graph_set_source(g, "diag.onnx");
    float x[9] = {0};
    FdInput in = fd_f32(2, (int64_t[]){3, 3}, x);
    IrValue *xv = fd_input_value(g, &in, 0, true);
    EinCase e = {"ii->i", 1, {2, 0, 0}, {{3, 3}, {0}, {0}}};
    IrValue *y = build_einsum(g, &xv, &e);
    IrValue *loss = fd_op(g, IR_OP_REDUCE_SUM, &y, 1, NULL);
    PassOptions po = {.eval = fd_eval_hook, .verify = true};
    cr_assert_eq(pass_shape(g, &po, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(pass_autodiff(g, loss, &po, &err), SD_EUNSUPPORTED);
    cr_assert(strstr(err.msg, "diag.onnx") && strstr(err.msg, "einsum") && strstr(err.msg, "repeats a label"), "%s",
              err.msg);
    ir_graph_free(g);
}
