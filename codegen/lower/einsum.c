/* codegen/lower/einsum.c — an Einsum that canonicalization left in place (or every Einsum, when
 * it is disabled) runs on the general rt_einsum_f32: one loop per label, output labels first. */
#include "codegen/lower/lower.h"
#include "runtime/kernels/einsum.h"

SdStatus cg_lower_einsum(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrEinsumAttrs *a = &n->attrs.einsum;
    char lb[200];
    SD_ASSERT(a->resolved);
    /* a pure permutation of one operand ("ij->ji") is a strided copy, for every dtype */
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    if (n->n_inputs == 1 && x->shape.rank == y->shape.rank) {
        int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK], src[IR_MAX_RANK];
        cg_contiguous_strides(&x->shape, xs);
        cg_contiguous_strides(&y->shape, ys);
        bool perm = true;
        unsigned seen = 0;
        for (int i = 0; i < y->shape.rank && perm; i++) {
            int found = -1;
            for (int j = 0; j < x->shape.rank; j++)
                if (a->in_labels[0][j] == a->out_labels[i] && !(seen & (1u << j)))
                    found = j;
            perm = found >= 0;
            if (perm) {
                seen |= 1u << found;
                src[i] = xs[found];
            }
        }
        if (perm)
            return cg_lower_strided_copy(out, n, y->shape.rank, y->shape.dims, src, 0, ys, 0, sd_dtype_size(x->dtype),
                                         0, cg_out(n, 0), err);
    }
    if (n->inputs[0]->dtype != SD_DT_F32)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: equation '%s' on %s operands is not supported (f32 only)",
                         ir_node_label(n, lb, sizeof lb), a->equation, sd_dtype_name(n->inputs[0]->dtype));
    if (n->n_inputs > RT_EINSUM_MAX_INPUTS || a->n_labels > RT_EINSUM_MAX_LABELS)
        return sd_errorf(err, SD_EUNSUPPORTED,
                         "%s: equation '%s' has %d operands and %d labels; the general Einsum takes at most %d "
                         "and %d (canonicalization maps only products of two operands onto MatMul)",
                         ir_node_label(n, lb, sizeof lb), a->equation, n->n_inputs, a->n_labels,
                         RT_EINSUM_MAX_INPUTS, RT_EINSUM_MAX_LABELS);
    RtEinsumParams p = {0};
    p.n_inputs = n->n_inputs;
    p.n_out = n->outputs[0]->shape.rank;
    /* loop position of every label: output labels in output order, then the summed ones */
    int pos[IR_EINSUM_MAX_LABELS];
    bool in_output[IR_EINSUM_MAX_LABELS] = {0};
    for (int i = 0; i < p.n_out; i++) {
        pos[a->out_labels[i]] = i;
        in_output[a->out_labels[i]] = true;
    }
    int k = p.n_out;
    for (int l = 0; l < a->n_labels; l++)
        if (!in_output[l])
            pos[l] = k++;
    p.n_labels = k;
    for (int l = 0; l < a->n_labels; l++)
        p.dims[pos[l]] = a->label_dims[l];
    for (int t = 0; t < n->n_inputs; t++) {
        const IrShape *s = &n->inputs[t]->shape;
        int64_t st[IR_MAX_RANK];
        cg_contiguous_strides(s, st);
        for (int i = 0; i < s->rank; i++) {
            int l = a->in_labels[t][i];
            if (s->dims[i] == a->label_dims[l]) /* else a broadcast 1: stride 0 */
                p.strides[t][pos[l]] += st[i];
        }
    }
    int bufs[RT_EINSUM_MAX_INPUTS + 1];
    for (int t = 0; t < n->n_inputs; t++)
        bufs[t] = t;
    bufs[n->n_inputs] = cg_out(n, 0);
    return cg_lowered_add(out, "rt_einsum_f32", &p, sizeof p, n->n_inputs + 1, bufs, err);
}
