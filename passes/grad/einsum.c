/* passes/grad/einsum.c — the gradient of an Einsum (what canonicalization left as one, or any
 * Einsum when it did not run) is an Einsum: for operand i, the other operands and dy contract to
 * the labels of operand i. With every label spelled as a letter (ellipsis dims included):
 *   "ij,jk->ik": dA = "jk,ik->ij"(B, dy), dB = "ij,ik->jk"(A, dy)
 * Labels that operand i alone carries (summed away inside it) do not occur on the other side: the
 * gradient is constant along them and is expanded afterwards. Dims of size 1 broadcast against a
 * larger label size are left out of the contraction (summed) and put back as 1; operands that
 * broadcast that way are reshaped without those dims first. An operand that repeats a label (a
 * diagonal, "ii->i") is not differentiable here. The new Einsums go through canonicalization like
 * any other, so the usual ones end as MatMuls. */
#include <string.h>

#include "passes/grad/grad.h"

static char letter(int l) { return (char)(l < 26 ? 'a' + l : 'A' + (l - 26)); }

static SdStatus unsupported(GradCtx *c, const IrNode *n, const char *why)
{
    char lb[200];
    return sd_errorf(c->err, SD_EUNSUPPORTED, "%s: %s: its gradient is not supported (%s)", ir_graph_source(c->g),
                     ir_node_label(n, lb, sizeof lb), why);
}

/* Appends operand v with labels `labels` to the equation, leaving out (and reshaping away) the
 * dims of size 1 that broadcast against a larger label. */
static SdStatus add_operand(GradCtx *c, const IrEinsumAttrs *a, IrValue *v, const int8_t *labels, char *eq,
                            IrValue **ops, int *n_ops, bool *present)
{
    IrShape kept = {0};
    size_t len = strlen(eq);
    if (*n_ops)
        eq[len++] = ',';
    for (int t = 0; t < v->shape.rank; t++) {
        int l = labels[t];
        if (v->shape.dims[t] != a->label_dims[l])
            continue; /* a broadcast 1 */
        kept.dims[kept.rank++] = v->shape.dims[t];
        eq[len++] = letter(l);
        present[l] = true;
    }
    eq[len] = 0;
    IrValue *w = v;
    if (kept.rank != v->shape.rank)
        GRAD_TRY(w = grad_reshape(c, v, &kept));
    ops[(*n_ops)++] = w;
    return SD_OK;
}

static SdStatus operand_grad(GradCtx *c, IrNode *n, IrValue *g, int i, IrValue **dx)
{
    const IrEinsumAttrs *a = &n->attrs.einsum;
    IrValue *x = n->inputs[i];
    IrAttrs ga = {0};
    char *eq = ga.einsum.equation;
    IrValue *ops[IR_EINSUM_MAX_INPUTS];
    int n_ops = 0;
    bool present[IR_EINSUM_MAX_LABELS] = {0};
    for (int j = 0; j < n->n_inputs; j++)
        if (j != i)
            SD_TRY(add_operand(c, a, n->inputs[j], a->in_labels[j], eq, ops, &n_ops, present));
    SD_TRY(add_operand(c, a, g, a->out_labels, eq, ops, &n_ops, present));
    /* the result: operand i's labels that the other side has, at full size */
    size_t len = strlen(eq);
    eq[len++] = '-', eq[len++] = '>';
    IrShape keep = x->shape;
    for (int t = 0; t < x->shape.rank; t++) {
        int l = a->in_labels[i][t];
        if (x->shape.dims[t] == a->label_dims[l] && present[l])
            eq[len++] = letter(l);
        else
            keep.dims[t] = 1;
    }
    eq[len] = 0;
    IrValue *r = grad_op_with(c, IR_OP_EINSUM, ops, n_ops, &ga);
    GRAD_TRY(r);
    GRAD_TRY(r = grad_reshape(c, r, &keep));
    GRAD_TRY(dx[i] = grad_expand(c, r, &x->shape));
    return SD_OK;
}

SdStatus grad_einsum(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    const IrEinsumAttrs *a = &n->attrs.einsum;
    if (n->outputs[0]->dtype != SD_DT_F32 || !a->resolved)
        return grad_unsupported(c, n);
    if (a->n_labels > 52)
        return unsupported(c, n, "more than 52 labels");
    for (int i = 0; i < n->n_inputs; i++) {
        if (!grad_needed(c, n->inputs[i]))
            continue;
        unsigned long long seen = 0;
        for (int t = 0; t < n->inputs[i]->shape.rank; t++) {
            unsigned long long bit = 1ULL << a->in_labels[i][t];
            if (seen & bit)
                return unsupported(c, n, "an operand repeats a label");
            seen |= bit;
        }
        SD_TRY(operand_grad(c, n, dy[0], i, dx));
    }
    return SD_OK;
}
