/* passes/shape/matmul.c — MatMul with NumPy semantics (a 1-D operand gets a unit dim prepended or
 * appended, then dropped from the result; batch dims broadcast; trans_a/trans_b, which only
 * autodiff sets, read an operand's last two dims swapped) and Gemm (2-D operands with
 * transA/transB, C broadcast one way to [M, N]). */
#include "passes/shape/shape.h"

static SdStatus shape_gemm(ShapeCtx *c, IrNode *n)
{
    const IrMatmulAttrs *a = &n->attrs.matmul;
    SD_TRY(shape_expect_rank(c, n, 0, 2, 2));
    SD_TRY(shape_expect_rank(c, n, 1, 2, 2));
    SD_TRY(shape_same_dtype(c, n, 0, 1));
    const IrShape *sa = &n->inputs[0]->shape, *sb = &n->inputs[1]->shape;
    int64_t m = sa->dims[a->trans_a ? 1 : 0], ka = sa->dims[a->trans_a ? 0 : 1];
    int64_t kb = sb->dims[a->trans_b ? 1 : 0], nn = sb->dims[a->trans_b ? 0 : 1];
    char s1[128], s2[128];
    if (ka != kb)
        return shape_error(c, n, SD_ESHAPE, "A%s %s and B%s %s do not agree on K (%lld vs %lld)",
                           a->trans_a ? " (transposed)" : "", ir_shape_str(sa, s1, sizeof s1),
                           a->trans_b ? " (transposed)" : "", ir_shape_str(sb, s2, sizeof s2), (long long)ka,
                           (long long)kb);
    IrShape y = ir_shape_make(2, (int64_t[]){m, nn});
    if (shape_has_input(n, 2)) {
        SD_TRY(shape_same_dtype(c, n, 0, 2));
        const IrShape *sc = &n->inputs[2]->shape;
        bool ok = sc->rank <= 2;
        for (int i = 0; ok && i < sc->rank; i++) {
            int64_t want = y.dims[2 - sc->rank + i];
            ok = sc->dims[i] == want || (!a->c_exact && sc->dims[i] == 1);
        }
        if (ok && a->c_exact)
            ok = sc->rank == 2;
        if (!ok && a->c_exact)
            return shape_error(c, n, SD_ESHAPE, "C has shape %s; without broadcast=1 (opset < 7) it must equal the output shape %s",
                               ir_shape_str(sc, s1, sizeof s1), ir_shape_str(&y, s2, sizeof s2));
        if (!ok)
            return shape_error(c, n, SD_ESHAPE, "C has shape %s, which does not broadcast to the output shape %s",
                               ir_shape_str(sc, s1, sizeof s1), ir_shape_str(&y, s2, sizeof s2));
    }
    shape_set(n, 0, n->inputs[0]->dtype, &y);
    return SD_OK;
}

SdStatus shape_matmul(ShapeCtx *c, IrNode *n)
{
    if (n->op == IR_OP_GEMM)
        return shape_gemm(c, n);
    SD_TRY(shape_expect_rank(c, n, 0, 1, IR_MAX_RANK));
    SD_TRY(shape_expect_rank(c, n, 1, 1, IR_MAX_RANK));
    SD_TRY(shape_same_dtype(c, n, 0, 1));
    const IrMatmulAttrs *at = &n->attrs.matmul;
    /* trans_a/trans_b (set by autodiff, never by importers): the operand's last two dims swapped */
    IrShape ta = n->inputs[0]->shape, tb = n->inputs[1]->shape;
    if ((at->trans_a && ta.rank < 2) || (at->trans_b && tb.rank < 2))
        return shape_error(c, n, SD_EBADMODEL, "a transposed operand must have rank 2 or more");
    if (at->trans_a) {
        int64_t t = ta.dims[ta.rank - 1];
        ta.dims[ta.rank - 1] = ta.dims[ta.rank - 2], ta.dims[ta.rank - 2] = t;
    }
    if (at->trans_b) {
        int64_t t = tb.dims[tb.rank - 1];
        tb.dims[tb.rank - 1] = tb.dims[tb.rank - 2], tb.dims[tb.rank - 2] = t;
    }
    const IrShape *sa = &ta, *sb = &tb;
    int64_t k_a = sa->dims[sa->rank - 1];
    int64_t k_b = sb->rank == 1 ? sb->dims[0] : sb->dims[sb->rank - 2];
    char s1[128], s2[128];
    if (k_a != k_b)
        return shape_error(c, n, SD_ESHAPE, "shapes %s and %s cannot be multiplied (K is %lld vs %lld)",
                           ir_shape_str(sa, s1, sizeof s1), ir_shape_str(sb, s2, sizeof s2), (long long)k_a,
                           (long long)k_b);
    IrShape ba = {.rank = sa->rank > 2 ? sa->rank - 2 : 0}, bb = {.rank = sb->rank > 2 ? sb->rank - 2 : 0}, y;
    for (int i = 0; i < ba.rank; i++)
        ba.dims[i] = sa->dims[i];
    for (int i = 0; i < bb.rank; i++)
        bb.dims[i] = sb->dims[i];
    SD_TRY(shape_broadcast(c, n, &ba, &bb, &y));
    if (sa->rank > 1)
        y.dims[y.rank++] = sa->dims[sa->rank - 2];
    if (sb->rank > 1)
        y.dims[y.rank++] = sb->dims[sb->rank - 1];
    shape_set(n, 0, n->inputs[0]->dtype, &y);
    return SD_OK;
}
