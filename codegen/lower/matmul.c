/* codegen/lower/matmul.c — MatMul and Gemm onto rt_matmul_* (one rt_gemm_f32 call per batch
 * slice; MatMul's trans_a/trans_b, from autodiff, go to the GEMM as they are). Batch dims are broadcast with zero strides and collapsed; a batch that only A carries,
 * contiguously, folds into M. Gemm (left when canonicalization is disabled) copies C, broadcast,
 * into the output and lets the GEMM add it with beta. */
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/gemm.h"
#include "runtime/kernels/matmul.h"

static IrShape batch_of(const IrShape *s, int matrix_rank)
{
    IrShape b = {.rank = s->rank > matrix_rank ? s->rank - matrix_rank : 0};
    for (int i = 0; i < b.rank; i++)
        b.dims[i] = s->dims[i];
    return b;
}

/* rt_matmul_f32 with the GEMM's packing workspace (none for OpenBLAS) */
static SdStatus add_matmul_f32(const IrNode *n, CgLowered *out, const RtMatmulParams *p, SdError *err)
{
    if (p->use_blas != RT_GEMM_OPENBLAS) {
        size_t ws = (size_t)rt_gemm_workspace_floats(p->M, p->N, p->K) * sizeof(float);
        if (ws > out->workspace_bytes)
            out->workspace_bytes = ws;
    }
    int bufs[4] = {0, 1, cg_out(n, 0), CG_BUF_WORKSPACE};
    SD_TRY(cg_lowered_add(out, "rt_matmul_f32", p, sizeof *p, 4, bufs, err));
    if (rt_matmul_by_columns(p))
        cg_lowered_split(out, "rt_matmul_f32_range", (p->N + RT_MATMUL_COLS - 1) / RT_MATMUL_COLS,
                         2.0 * (double)(p->M * p->N) * (double)p->K);
    return SD_OK;
}

/* A few rows against constant weights stored [K, N] (a classifier at batch 1, whose Gemm's
 * transposed weights constant folding laid out so): the weights packed transposed at compile time,
 * so that rt_matmul_rows_dot's dot products read each output's weights as one contiguous row. The
 * GEMM read [K, N] in slivers a few columns wide, K rows N floats apart, from memory: MobileNetV2's
 * 1280 -> 1000 classifier took 461 us of a batch-1 run on 1 thread, ONNX Runtime's 231. */
static bool pack_b_transposed(const IrNode *n, const CgLowerOptions *opt, RtMatmulParams *p)
{
    const IrValue *b = n->inputs[1];
    if (!opt->pack_weights || !rt_matmul_unbatched(p) || p->trans_b || !ir_value_is_constant(b) || b->dtype != SD_DT_F32 ||
        b->shape.rank != 2)
        return false;
    RtMatmulParams t = *p;
    t.trans_b = 1, t.ldb = t.K; /* B^T, as rt_matmul_rows_dot asks */
    if (!rt_matmul_rows_dot(&t))
        return false;
    *p = t;
    return true;
}

static SdStatus lower_gemm(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    const IrValue *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    const IrMatmulAttrs *at = &n->attrs.matmul;
    if (y->dtype != SD_DT_F32)
        return cg_unsupported_dtype(n, a, err);
    RtMatmulParams p = {0};
    for (int i = 0; i < RT_LOOP_RANK; i++)
        p.batch[i] = 1;
    p.M = y->shape.dims[0];
    p.N = y->shape.dims[1];
    p.K = a->shape.dims[at->trans_a ? 0 : 1];
    p.lda = a->shape.dims[1];
    p.ldb = b->shape.dims[1];
    p.ldc = p.N;
    p.trans_a = at->trans_a;
    p.trans_b = at->trans_b;
    p.alpha = at->alpha;
    p.use_blas = cg_gemm_provider(opt);
    if (n->n_inputs > 2 && n->inputs[2]) {
        int64_t cs[IR_MAX_RANK], ys[IR_MAX_RANK];
        cg_broadcast_strides(&n->inputs[2]->shape, &y->shape, cs);
        cg_contiguous_strides(&y->shape, ys);
        SD_TRY(cg_lower_strided_copy(out, n, 2, y->shape.dims, cs, 0, ys, 0, sizeof(float), 2, cg_out(n, 0), err));
        p.beta = at->beta;
    }
    return add_matmul_f32(n, out, &p, err);
}

SdStatus cg_lower_matmul(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    if (n->op == IR_OP_GEMM)
        return lower_gemm(n, opt, out, err);
    const IrValue *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    const IrShape *sa = &a->shape, *sb = &b->shape;
    const IrMatmulAttrs *at = &n->attrs.matmul;
    RtMatmulParams p = {0};
    if (at->trans_a) { /* stored [.., K, M] */
        p.M = sa->dims[sa->rank - 1];
        p.K = sa->dims[sa->rank - 2];
    } else {
        p.M = sa->rank == 1 ? 1 : sa->dims[sa->rank - 2];
        p.K = sa->dims[sa->rank - 1];
    }
    if (at->trans_b) /* stored [.., N, K] */
        p.N = sb->dims[sb->rank - 2];
    else
        p.N = sb->rank == 1 ? 1 : sb->dims[sb->rank - 1];
    p.lda = at->trans_a ? p.M : p.K;
    p.ldb = at->trans_b ? p.K : p.N;
    p.ldc = p.N;
    p.trans_a = at->trans_a;
    p.trans_b = at->trans_b;
    if ((at->trans_a || at->trans_b) && a->dtype != SD_DT_F32)
        return cg_unsupported_dtype(n, a, err);
    p.alpha = 1.0f;
    p.use_blas = cg_gemm_provider(opt);

    /* batch strides in matrices, then in elements */
    IrShape ba = batch_of(sa, 2), bb = batch_of(sb, 2);
    int out_matrix_rank = (sa->rank > 1) + (sb->rank > 1);
    IrShape by = batch_of(&y->shape, out_matrix_rank);
    int64_t dims[IR_MAX_RANK], strides[3][IR_MAX_RANK];
    cg_broadcast_strides(&ba, &by, strides[0]);
    cg_broadcast_strides(&bb, &by, strides[1]);
    cg_contiguous_strides(&by, strides[2]);
    for (int i = 0; i < by.rank; i++) {
        dims[i] = by.dims[i];
        strides[0][i] *= p.M * p.K;
        strides[1][i] *= p.K * p.N;
        strides[2][i] *= p.M * p.N;
    }
    char lb[200];
    if (!cg_collapse_dims(by.rank, dims, 3, strides))
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: the batch needs more than %d loop dimensions",
                         ir_node_label(n, lb, sizeof lb), RT_LOOP_RANK);
    /* [B, M, K] x [K, N]: B only steps through A and C, by whole matrices, so it is one taller product */
    int nonunit = 0, last = RT_LOOP_RANK - 1;
    bool b_fixed = true;
    for (int i = 0; i < RT_LOOP_RANK; i++) {
        if (dims[i] != 1)
            nonunit++, last = i;
        b_fixed = b_fixed && (dims[i] == 1 || strides[1][i] == 0);
    }
    if (nonunit == 1 && b_fixed && !at->trans_a && strides[0][last] == p.M * p.K && strides[2][last] == p.M * p.N) {
        p.M *= dims[last];
        dims[last] = 1;
    }
    memcpy(p.batch, dims, sizeof p.batch);
    memcpy(p.a_stride, strides[0], sizeof p.a_stride);
    memcpy(p.b_stride, strides[1], sizeof p.b_stride);
    memcpy(p.c_stride, strides[2], sizeof p.c_stride);
    int bufs[3] = {0, 1, cg_out(n, 0)};
    switch (a->dtype) {
    case SD_DT_F32:
        if (pack_b_transposed(n, opt, &p)) {
            out->packed_operand = 1;
            out->packed_bytes = (size_t)(p.K * p.N) * sizeof(float);
            out->pack = rt_matmul_pack_bt;
            SD_TRY(add_matmul_f32(n, out, &p, err));
            out->calls[0].bufs[1] = CG_BUF_PACKED;
            return SD_OK;
        }
        return add_matmul_f32(n, out, &p, err);
    case SD_DT_I64: return cg_lowered_add(out, "rt_matmul_i64", &p, sizeof p, 3, bufs, err);
    case SD_DT_I32: return cg_lowered_add(out, "rt_matmul_i32", &p, sizeof p, 3, bufs, err);
    default: return cg_unsupported_dtype(n, a, err);
    }
}
