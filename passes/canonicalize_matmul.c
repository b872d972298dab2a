/* passes/canonicalize_matmul.c — Gemm and Einsum onto MatMul, so that later passes (fusion,
 * autodiff) see one matrix product.
 *
 * Gemm(A, B, C) = alpha * op(A) op(B) + beta * C becomes Transpose (only for transA/transB),
 * MatMul, Mul by a scalar constant (only when alpha or beta != 1) and Add (only with C). alpha is
 * applied to a constant operand when there is one and beta to C, so that constant folding absorbs
 * them together with the Transpose of a constant B (the common Linear layer: transB = 1).
 *
 * Einsum of one operand that only permutes becomes Transpose. Einsum of two operands that already
 * is MatMul(A, B) ("bij,bjk->bik", "...ij,jk->...ik") becomes MatMul in place. Any other product
 * of two operands without diagonals and without labels summed within one operand becomes: a
 * Transpose of each operand to [batch, M-labels, K-labels] and [batch, K-labels, N-labels],
 * Reshapes to [batch, M, K] and
 * [batch, K, N], one batched MatMul (batch dims broadcast as MatMul does), a Reshape to the labels
 * and a Transpose to the output order; identity steps are left out. "bhid,bhjd->bhij" is thus a
 * transpose of the keys and one batched MatMul; "nc,kc->nk" with a constant right side folds to
 * a plain MatMul. A product without any contracted, M or N extent (Hadamard, "ij,ij->ij") is a Mul.
 * Everything else stays an Einsum, which codegen runs on its general kernel. */
#include <stdio.h>
#include <string.h>

#include "passes/canonicalize.h"

typedef struct {
    IrGraph *g;
    IrNode *n;      /* the node being replaced; its output keeps its name */
    SdError *err;
    IrNode *last;   /* the newest node created */
} Rewrite;

static SdStatus oom(Rewrite *r)
{
    char lb[200];
    return sd_errorf(r->err, SD_ENOMEM, "out of memory rewriting %s", ir_node_label(r->n, lb, sizeof lb));
}

/* A node `op` reading a (and b) into a new value of dtype/shape; its attributes are zeroed. */
static SdStatus emit(Rewrite *r, IrOp op, IrValue *a, IrValue *b, SdDType dt, const IrShape *s, const char *suffix,
                     IrValue **out)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s", r->n->outputs[0]->name, suffix);
    IrValue *v = ir_value_new(r->g, name, dt, s);
    if (!v)
        return oom(r);
    IrValue *ins[2] = {a, b};
    IrNode *m = ir_node_new(r->g, op, r->n->name, ins, b ? 2 : 1, &v, 1);
    if (!m)
        return oom(r);
    r->last = m;
    *out = v;
    return SD_OK;
}

static SdStatus transpose(Rewrite *r, IrValue *x, const int *perm, const char *suffix, IrValue **out)
{
    int rank = x->shape.rank;
    bool identity = true;
    IrShape s = {.rank = rank};
    for (int i = 0; i < rank; i++) {
        s.dims[i] = x->shape.dims[perm[i]];
        identity = identity && perm[i] == i;
    }
    *out = x;
    if (identity)
        return SD_OK;
    SD_TRY(emit(r, IR_OP_TRANSPOSE, x, NULL, x->dtype, &s, suffix, out));
    IrMovementAttrs *a = &r->last->attrs.movement;
    a->n_perm = rank;
    for (int i = 0; i < rank; i++)
        a->perm[i] = perm[i];
    a->resolved = true;
    return SD_OK;
}

static SdStatus reshape(Rewrite *r, IrValue *x, const IrShape *s, bool even_if_same, const char *suffix,
                        IrValue **out)
{
    *out = x;
    if (!even_if_same && ir_shape_equal(&x->shape, s))
        return SD_OK;
    SD_TRY(emit(r, IR_OP_RESHAPE, x, NULL, x->dtype, s, suffix, out));
    IrMovementAttrs *a = &r->last->attrs.movement;
    a->n_shape = s->rank;
    memcpy(a->shape, s->dims, sizeof s->dims);
    a->resolved = true;
    return SD_OK;
}

static SdStatus scale(Rewrite *r, IrValue *x, float factor, const char *suffix, IrValue **out)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s_factor", r->n->outputs[0]->name, suffix);
    IrShape scalar = {0};
    IrValue *f = ir_constant_new(r->g, name, SD_DT_F32, &scalar, &factor, r->err);
    if (!f)
        return r->err->status;
    return emit(r, IR_OP_MUL, x, f, x->dtype, &x->shape, suffix, out);
}

/* The newest node takes over the replaced node's output, and the replaced node goes. */
static SdStatus finish(Rewrite *r, IrValue *result)
{
    IrValue *y = r->n->outputs[0];
    if (!r->last || r->last->outputs[0] != result) /* nothing computed: the result is an operand */
        SD_TRY(reshape(r, result, &y->shape, true, "copy", &result));
    SD_ASSERT(ir_shape_equal(&result->shape, &y->shape) && result->dtype == y->dtype);
    ir_graph_set_insert_point(r->g, NULL);
    ir_node_remove(r->g, r->n);
    IrNode *f = r->last;
    result->producer = NULL;
    f->outputs[0] = y;
    y->producer = f;
    y->producer_slot = 0;
    return SD_OK;
}

SdStatus canonicalize_gemm(IrGraph *g, IrNode *n, SdError *err)
{
    const IrMatmulAttrs at = n->attrs.matmul;
    IrValue *a = n->inputs[0], *b = n->inputs[1], *c = n->n_inputs > 2 ? n->inputs[2] : NULL;
    IrValue *y = n->outputs[0];
    bool scaled = at.alpha != 1.0f || (c && at.beta != 1.0f);
    if (scaled && y->dtype != SD_DT_F32)
        return SD_OK; /* the scalar factors are f32; lowering reports the dtype */
    Rewrite r = {g, n, err, NULL};
    ir_graph_set_insert_point(g, n);
    static const int swap[2] = {1, 0};
    if (at.trans_a)
        SD_TRY(transpose(&r, a, swap, "a_t", &a));
    if (at.trans_b)
        SD_TRY(transpose(&r, b, swap, "b_t", &b));
    bool alpha_left = at.alpha != 1.0f;
    if (alpha_left && ir_value_is_constant(n->inputs[1])) {
        SD_TRY(scale(&r, b, at.alpha, "b_alpha", &b));
        alpha_left = false;
    } else if (alpha_left && ir_value_is_constant(n->inputs[0])) {
        SD_TRY(scale(&r, a, at.alpha, "a_alpha", &a));
        alpha_left = false;
    }
    IrValue *p;
    SD_TRY(emit(&r, IR_OP_MATMUL, a, b, y->dtype, &y->shape, "matmul", &p));
    r.last->attrs.matmul.alpha = 1.0f;
    if (alpha_left)
        SD_TRY(scale(&r, p, at.alpha, "alpha", &p));
    if (c) {
        if (at.beta != 1.0f)
            SD_TRY(scale(&r, c, at.beta, "c_beta", &c));
        SD_TRY(emit(&r, IR_OP_ADD, p, c, y->dtype, &y->shape, "add_c", &p));
    }
    return finish(&r, p);
}

/* --- Einsum --- */

static SdStatus einsum_permutation(Rewrite *r, const int *axis_of)
{
    const IrEinsumAttrs *a = &r->n->attrs.einsum;
    IrValue *x = r->n->inputs[0], *y = r->n->outputs[0];
    int perm[IR_MAX_RANK];
    for (int i = 0; i < y->shape.rank; i++)
        perm[i] = axis_of[a->out_labels[i]];
    ir_graph_set_insert_point(r->g, r->n);
    SD_TRY(transpose(r, x, perm, "transpose", &x));
    return finish(r, x);
}

/* Whether the two-operand equation is MatMul(A, B) as it stands: A's last label contracted with
 * B's second-last, the rest batch dims that line up from the right as MatMul broadcasts them,
 * and the output [batch, A's second-last, B's last]. ("bij,bjk->bik", "...ij,jk->...ik") */
static bool is_plain_matmul(const IrNode *n)
{
    const IrEinsumAttrs *a = &n->attrs.einsum;
    int ra = n->inputs[0]->shape.rank, rb = n->inputs[1]->shape.rank, ry = n->outputs[0]->shape.rank;
    if (ra < 2 || rb < 2)
        return false;
    const int8_t *la = a->in_labels[0], *lb = a->in_labels[1], *ly = a->out_labels;
    int batch = (ra > rb ? ra : rb) - 2;
    if (ry != batch + 2 || la[ra - 1] != lb[rb - 2] || ly[batch] != la[ra - 2] || ly[batch + 1] != lb[rb - 1])
        return false;
    for (int i = 0; i < batch; i++) {
        int ia = i - (batch - (ra - 2)), ib = i - (batch - (rb - 2));
        int l = ia >= 0 ? la[ia] : lb[ib];
        if ((ia >= 0 && la[ia] != l) || (ib >= 0 && lb[ib] != l) || ly[i] != l)
            return false;
    }
    for (int i = 0; i < ry; i++)
        if (ly[i] == la[ra - 1])
            return false; /* the contracted label is kept: not a product */
    for (int i = 1; i <= 2; i++)
        if (n->inputs[0]->shape.dims[ra - i] != a->label_dims[la[ra - i]] ||
            n->inputs[1]->shape.dims[rb - i] != a->label_dims[lb[rb - i]])
            return false; /* a matrix dim broadcast by "..." */
    return true;
}

SdStatus canonicalize_einsum(IrGraph *g, IrNode *n, SdError *err)
{
    const IrEinsumAttrs *a = &n->attrs.einsum;
    if (!a->resolved || n->n_inputs > 2)
        return SD_OK;
    IrValue *y = n->outputs[0];
    int out_pos[IR_EINSUM_MAX_LABELS], axis_of[2][IR_EINSUM_MAX_LABELS];
    for (int l = 0; l < IR_EINSUM_MAX_LABELS; l++)
        out_pos[l] = axis_of[0][l] = axis_of[1][l] = -1;
    for (int i = 0; i < y->shape.rank; i++)
        out_pos[a->out_labels[i]] = i;
    for (int t = 0; t < n->n_inputs; t++)
        for (int i = 0; i < n->inputs[t]->shape.rank; i++) {
            int l = a->in_labels[t][i];
            if (axis_of[t][l] >= 0)
                return SD_OK; /* a repeated label: a diagonal */
            axis_of[t][l] = i;
        }
    Rewrite r = {g, n, err, NULL};
    if (n->n_inputs == 2 && is_plain_matmul(n)) {
        n->op = IR_OP_MATMUL;
        memset(&n->attrs, 0, sizeof n->attrs);
        n->attrs.matmul.alpha = 1.0f;
        return SD_OK;
    }
    if (n->n_inputs == 1) {
        for (int l = 0; l < a->n_labels; l++)
            if (axis_of[0][l] >= 0 && out_pos[l] < 0)
                return SD_OK; /* a sum */
        return einsum_permutation(&r, axis_of[0]);
    }

    /* classify: batch (A, B, out), m (A, out), n (B, out), k (A, B) */
    IrValue *va = n->inputs[0], *vb = n->inputs[1];
    int batch[IR_MAX_RANK], ms[IR_MAX_RANK], ns[IR_MAX_RANK], ks[IR_MAX_RANK];
    int nb = 0, nm = 0, nn = 0, nk = 0;
    int64_t M = 1, N = 1, K = 1;
    for (int l = 0; l < a->n_labels; l++) {
        bool in_a = axis_of[0][l] >= 0, in_b = axis_of[1][l] >= 0, in_o = out_pos[l] >= 0;
        int64_t d = a->label_dims[l];
        if (!in_o && in_a != in_b)
            return SD_OK; /* summed within one operand */
        if ((in_a && !(in_b && in_o) && va->shape.dims[axis_of[0][l]] != d) ||
            (in_b && !(in_a && in_o) && vb->shape.dims[axis_of[1][l]] != d))
            return SD_OK; /* broadcast outside the batch dims */
        if (!in_o) {
            ks[nk++] = l;
            K *= d;
        }
    }
    for (int i = 0; i < y->shape.rank; i++) {
        int l = a->out_labels[i];
        bool in_a = axis_of[0][l] >= 0, in_b = axis_of[1][l] >= 0;
        if (in_a && in_b)
            batch[nb++] = l;
        else if (in_a)
            ms[nm++] = l, M *= a->label_dims[l];
        else
            ns[nn++] = l, N *= a->label_dims[l];
    }
    if (nb + 2 > IR_MAX_RANK)
        return SD_OK;
    bool hadamard = M == 1 && N == 1 && K == 1;

    ir_graph_set_insert_point(g, n);
    /* A -> [batch, m, k] -> [batch dims of A, M, K] */
    int perm[IR_MAX_RANK], len = 0;
    IrShape s = {0};
    for (int i = 0; i < nb; i++)
        perm[len++] = axis_of[0][batch[i]], s.dims[s.rank++] = va->shape.dims[axis_of[0][batch[i]]];
    for (int i = 0; i < nm; i++)
        perm[len++] = axis_of[0][ms[i]];
    for (int i = 0; i < nk; i++)
        perm[len++] = axis_of[0][ks[i]];
    if (!hadamard)
        s.dims[s.rank++] = M, s.dims[s.rank++] = K;
    SD_TRY(transpose(&r, va, perm, "a_t", &va));
    SD_TRY(reshape(&r, va, &s, false, "a_3d", &va));
    /* B -> [batch, k, n] -> [batch dims of B, K, N] */
    len = 0;
    s.rank = 0;
    for (int i = 0; i < nb; i++)
        perm[len++] = axis_of[1][batch[i]], s.dims[s.rank++] = vb->shape.dims[axis_of[1][batch[i]]];
    for (int i = 0; i < nk; i++)
        perm[len++] = axis_of[1][ks[i]];
    for (int i = 0; i < nn; i++)
        perm[len++] = axis_of[1][ns[i]];
    if (!hadamard)
        s.dims[s.rank++] = K, s.dims[s.rank++] = N;
    SD_TRY(transpose(&r, vb, perm, "b_t", &vb));
    SD_TRY(reshape(&r, vb, &s, false, "b_3d", &vb));
    /* the product over [batch, M, N], then the labels in [batch, m, n] order, then the output order */
    s.rank = 0;
    for (int i = 0; i < nb; i++)
        s.dims[s.rank++] = a->label_dims[batch[i]];
    if (!hadamard)
        s.dims[s.rank++] = M, s.dims[s.rank++] = N;
    IrValue *p;
    SD_TRY(emit(&r, hadamard ? IR_OP_MUL : IR_OP_MATMUL, va, vb, y->dtype, &s, hadamard ? "mul" : "matmul", &p));
    if (!hadamard)
        r.last->attrs.matmul.alpha = 1.0f;
    int order[IR_EINSUM_MAX_LABELS];
    s.rank = 0;
    for (int i = 0; i < nb; i++)
        order[batch[i]] = s.rank, s.dims[s.rank++] = a->label_dims[batch[i]];
    for (int i = 0; i < nm; i++)
        order[ms[i]] = s.rank, s.dims[s.rank++] = a->label_dims[ms[i]];
    for (int i = 0; i < nn; i++)
        order[ns[i]] = s.rank, s.dims[s.rank++] = a->label_dims[ns[i]];
    SD_TRY(reshape(&r, p, &s, false, "labels", &p));
    for (int i = 0; i < y->shape.rank; i++)
        perm[i] = order[a->out_labels[i]];
    SD_TRY(transpose(&r, p, perm, "transpose", &p));
    return finish(&r, p);
}
