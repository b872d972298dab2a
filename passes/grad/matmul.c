/* passes/grad/matmul.c — gradients of matrix products, as MatMuls that read their operands
 * transposed in place (trans_a/trans_b: the GEMM's own flags, no Transpose copies). For
 * y = op(a) op(b) with op(a) = A [.., M, K] and op(b) = B [.., K, N]:
 *   dA = dy B^T, dB = A^T dy, and for a stored transposed (da = dA^T = B dy^T) likewise;
 * batch dims that broadcasting stretched are summed (grad_unbroadcast). A 1-D operand is viewed
 * as a [1, K] row or [K, 1] column (and dy with that unit dim), then reshaped back. When b is one
 * matrix shared by a batch of a ([B.., M, K] x [K, N], a Linear layer), dB is one GEMM over the
 * batch folded into M instead of a batch of products summed afterwards.
 * Gemm (when canonicalization did not rewrite it): alpha scales dA and dB, beta scales dC. */
#include "passes/grad/grad.h"

static IrValue *matmul(GradCtx *c, IrValue *a, IrValue *b, bool ta, bool tb)
{
    if (!a || !b)
        return NULL;
    IrAttrs at = {0};
    at.matmul.alpha = 1.0f;
    at.matmul.trans_a = ta;
    at.matmul.trans_b = tb;
    return grad_op_with(c, IR_OP_MATMUL, (IrValue *[]){a, b}, 2, &at);
}

static IrValue *scale(GradCtx *c, IrValue *g, float s)
{
    return g && s != 1.0f ? grad_op(c, IR_OP_MUL, (IrValue *[]){g, grad_const(c, s)}, 2) : g;
}

/* dA for stored a (trans ta) given b (trans tb); all operands at least 2-D. */
static IrValue *grad_a(GradCtx *c, IrValue *g, IrValue *b, bool ta, bool tb)
{
    return ta ? matmul(c, b, g, tb, true) : matmul(c, g, b, false, !tb);
}

static IrValue *grad_b(GradCtx *c, IrValue *g, IrValue *a, IrValue *b, bool ta, bool tb)
{
    int ra = a->shape.rank;
    if (b->shape.rank == 2 && ra > 2 && !ta) { /* fold a's batch into M: one [K, rows] x [rows, N] */
        int64_t k = a->shape.dims[ra - 1], rows = ir_value_numel(a) / (k ? k : 1);
        IrShape a2 = ir_shape_make(2, (int64_t[]){rows, k});
        IrShape g2 = ir_shape_make(2, (int64_t[]){rows, g->shape.dims[g->shape.rank - 1]});
        if (ir_value_numel(g) == g2.dims[0] * g2.dims[1] && rows > 0) {
            IrValue *af = grad_reshape(c, a, &a2), *gf = grad_reshape(c, g, &g2);
            return tb ? matmul(c, gf, af, true, false) : matmul(c, af, gf, true, false);
        }
    }
    return tb ? matmul(c, g, a, true, ta) : matmul(c, a, g, !ta, false);
}

static SdStatus matmul_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue **dx)
{
    IrValue *a = n->inputs[0], *b = n->inputs[1];
    bool ta = n->attrs.matmul.trans_a, tb = n->attrs.matmul.trans_b;
    int ra = a->shape.rank, rb = b->shape.rank;
    /* 1-D operands as matrices; dy gets the unit dims the output dropped: [batch, M|1, N|1] */
    int nb = g->shape.rank - (ra > 1) - (rb > 1), k = nb;
    IrShape ga = {.rank = nb + 2};
    for (int i = 0; i < nb; i++)
        ga.dims[i] = g->shape.dims[i];
    ga.dims[nb] = ra > 1 ? g->shape.dims[k++] : 1;
    ga.dims[nb + 1] = rb > 1 ? g->shape.dims[k++] : 1;
    IrValue *a2 = a, *b2 = b;
    if (ra == 1)
        GRAD_TRY(a2 = grad_reshape(c, a, &(IrShape){.rank = 2, .dims = {1, a->shape.dims[0]}}));
    if (rb == 1)
        GRAD_TRY(b2 = grad_reshape(c, b, &(IrShape){.rank = 2, .dims = {b->shape.dims[0], 1}}));
    IrValue *g2 = grad_reshape(c, g, &ga);
    GRAD_TRY(g2);
    if (grad_needed(c, a)) {
        IrValue *d = grad_a(c, g2, b2, ta, tb);
        GRAD_TRY(d = grad_unbroadcast(c, d, &a2->shape));
        GRAD_TRY(dx[0] = grad_reshape(c, d, &a->shape));
    }
    if (grad_needed(c, b)) {
        IrValue *d = grad_b(c, g2, a2, b2, ta, tb);
        GRAD_TRY(d = grad_unbroadcast(c, d, &b2->shape));
        GRAD_TRY(dx[1] = grad_reshape(c, d, &b->shape));
    }
    return SD_OK;
}

static SdStatus gemm_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue **dx)
{
    const IrMatmulAttrs *at = &n->attrs.matmul;
    IrValue *a = n->inputs[0], *b = n->inputs[1];
    if (grad_needed(c, a))
        GRAD_TRY(dx[0] = scale(c, grad_a(c, g, b, at->trans_a, at->trans_b), at->alpha));
    if (grad_needed(c, b))
        GRAD_TRY(dx[1] = scale(c, grad_b(c, g, a, b, at->trans_a, at->trans_b), at->alpha));
    if (n->n_inputs > 2 && grad_needed(c, n->inputs[2]))
        GRAD_TRY(dx[2] = grad_unbroadcast(c, scale(c, g, at->beta), &n->inputs[2]->shape));
    return SD_OK;
}

SdStatus grad_matmul(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    if (n->outputs[0]->dtype != SD_DT_F32)
        return grad_unsupported(c, n);
    return n->op == IR_OP_GEMM ? gemm_grad(c, n, dy[0], dx) : matmul_grad(c, n, dy[0], dx);
}
