/* tests/passes/grad_blocks.c — the blocks SSL and distillation recipes are made of, checked
 * whole by finite differences: L2 normalization of features, scaled dot-product attention as ViT
 * blocks use it (multi-head, through MatMul, Reshape, Transpose and Softmax), an MLP with GELU and
 * a residual, cross-entropy on class indices, knowledge distillation on a frozen teacher's
 * softened outputs, and mutual learning between two networks that both train. */
#include "fd.h"

static IrValue *op2(IrGraph *g, IrOp op, IrValue *a, IrValue *b) { return fd_op(g, op, (IrValue *[]){a, b}, 2, NULL); }

static IrValue *reshape(IrGraph *g, IrValue *x, int rank, const int64_t *dims)
{
    return op2(g, IR_OP_RESHAPE, x, fd_ints(g, dims, rank));
}

static IrValue *transpose(IrGraph *g, IrValue *x, int rank, const int64_t *perm)
{
    IrAttrs a = {0};
    a.movement.n_perm = rank;
    memcpy(a.movement.perm, perm, sizeof(int64_t) * (size_t)rank);
    return fd_op(g, IR_OP_TRANSPOSE, &x, 1, &a);
}

/* x / sqrt(sum(x^2, -1) + eps) */
static IrValue *l2_normalize(IrGraph *g, IrValue *x)
{
    IrAttrs r = {0};
    r.reduce.keepdims = true;
    IrValue *sq = op2(g, IR_OP_MUL, x, x);
    IrValue *ss = fd_op(g, IR_OP_REDUCE_SUM, (IrValue *[]){sq, fd_ints(g, (int64_t[]){-1}, 1)}, 2, &r);
    IrValue *n = fd_op(g, IR_OP_SQRT, (IrValue *[]){op2(g, IR_OP_ADD, ss, fd_scalar(g, 1e-6f))}, 1, NULL);
    return op2(g, IR_OP_DIV, x, n);
}

static IrValue *build_l2norm(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    return l2_normalize(g, in[0]);
}

Test(grad_blocks, l2_normalization)
{
    int64_t dims[2] = {4, 8};
    float *x = fd_rand(1, 32, -2, 2);
    FdInput in = fd_f32(2, dims, x);
    fd_check_all("l2 normalization", &in, 1, build_l2norm, NULL, NULL);
    free(x);
}

enum { B = 2, T = 5, D = 8, H = 2, DH = 4 };

/* softmax(q k^T / sqrt(dh)) v over heads, then the output projection: in = x, wq, wk, wv, wo */
static IrValue *build_attention(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    IrValue *x = in[0];
    IrValue *heads[3];
    for (int i = 0; i < 3; i++) { /* [B, T, D] -> [B, T, H, DH] -> [B, H, T, DH] */
        IrValue *p = op2(g, IR_OP_MATMUL, x, in[1 + i]);
        p = reshape(g, p, 4, (int64_t[]){B, T, H, DH});
        heads[i] = transpose(g, p, 4, (int64_t[]){0, 2, 1, 3});
    }
    IrValue *kt = transpose(g, heads[1], 4, (int64_t[]){0, 1, 3, 2});
    IrValue *s = op2(g, IR_OP_MATMUL, heads[0], kt);
    s = op2(g, IR_OP_MUL, s, fd_scalar(g, 0.5f)); /* 1 / sqrt(DH) */
    IrAttrs sm = {0};
    sm.softmax.axis = -1;
    IrValue *att = fd_op(g, IR_OP_SOFTMAX, &s, 1, &sm);
    IrValue *o = op2(g, IR_OP_MATMUL, att, heads[2]);
    o = transpose(g, o, 4, (int64_t[]){0, 2, 1, 3});
    o = reshape(g, o, 3, (int64_t[]){B, T, D});
    return op2(g, IR_OP_MATMUL, o, in[4]);
}

Test(grad_blocks, scaled_dot_product_attention)
{
    int64_t dx[3] = {B, T, D}, dw[2] = {D, D};
    float *x = fd_rand(2, B * T * D, -1, 1), *w[4];
    FdInput in[5] = {fd_f32(3, dx, x)};
    for (int i = 0; i < 4; i++) {
        w[i] = fd_rand(3 + (uint32_t)i, D * D, -0.5f, 0.5f);
        in[1 + i] = fd_f32(2, dw, w[i]);
    }
    fd_check_all("attention", in, 5, build_attention, NULL, NULL);
    free(x);
    for (int i = 0; i < 4; i++)
        free(w[i]);
}

/* x + fc2(gelu(fc1(x))): in = x [N, D], w1 [D, 16], b1 [16], w2 [16, D], b2 [D] */
static IrValue *mlp(IrGraph *g, IrValue *const *in, IrOp act)
{
    IrValue *h = op2(g, IR_OP_ADD, op2(g, IR_OP_MATMUL, in[0], in[1]), in[2]);
    h = fd_op(g, act, &h, 1, NULL);
    IrValue *o = op2(g, IR_OP_ADD, op2(g, IR_OP_MATMUL, h, in[3]), in[4]);
    return op2(g, IR_OP_ADD, in[0], o);
}

static IrValue *build_mlp(IrGraph *g, IrValue *const *in, void *ctx)
{
    return mlp(g, in, *(const IrOp *)ctx);
}

static void mlp_inputs(FdInput *in, float **data)
{
    int64_t dx[2] = {6, D}, d1[2] = {D, 16}, db1[1] = {16}, d2[2] = {16, D}, db2[1] = {D};
    data[0] = fd_rand(10, 6 * D, -1, 1), data[1] = fd_rand(11, D * 16, -0.5f, 0.5f), data[2] = fd_rand(12, 16, -0.2f, 0.2f);
    data[3] = fd_rand(13, 16 * D, -0.5f, 0.5f), data[4] = fd_rand(14, D, -0.2f, 0.2f);
    in[0] = fd_f32(2, dx, data[0]), in[1] = fd_f32(2, d1, data[1]), in[2] = fd_f32(1, db1, data[2]);
    in[3] = fd_f32(2, d2, data[3]), in[4] = fd_f32(1, db2, data[4]);
}

Test(grad_blocks, mlp_with_gelu_and_residual)
{
    FdInput in[5];
    float *data[5];
    mlp_inputs(in, data);
    const IrOp acts[2] = {IR_OP_GELU, IR_OP_GELU_TANH};
    fd_check_all("mlp gelu", in, 5, build_mlp, (void *)&acts[0], NULL);
    fd_check_all("mlp gelu tanh", in, 5, build_mlp, (void *)&acts[1], NULL);
    for (int i = 0; i < 5; i++)
        free(data[i]);
}

/* mean cross-entropy of the MLP's outputs (D = 8 classes) against class indices (in[5]) */
static IrValue *build_classifier(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    IrValue *logits = mlp(g, in, IR_OP_GELU);
    return op2(g, IR_OP_SOFTMAX_CROSS_ENTROPY, logits, in[5]);
}

Test(grad_blocks, cross_entropy_on_class_indices)
{
    FdInput in[6];
    float *data[5];
    mlp_inputs(in, data);
    int64_t labels[6] = {0, 7, 3, 3, 5, 1}, dl[1] = {6};
    in[5] = fd_fixed(SD_DT_I64, 1, dl, labels);
    FdOptions o = {.unweighted = true};
    fd_check_all("classifier", in, 6, build_classifier, NULL, &o);
    for (int i = 0; i < 5; i++)
        free(data[i]);
}

/* SimCLRv2-style distillation: T^2 * CE(student / T, softmax(teacher / T)), the teacher frozen
 * behind StopGradient: in = student x, w1, b1, w2, b2, teacher logits (fixed) */
static IrValue *build_distill(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    const float temp = 2.0f;
    IrValue *s = op2(g, IR_OP_MUL, mlp(g, in, IR_OP_GELU), fd_scalar(g, 1 / temp));
    IrValue *t = op2(g, IR_OP_MUL, in[5], fd_scalar(g, 1 / temp));
    IrAttrs sm = {0};
    sm.softmax.axis = 1;
    IrValue *p = fd_op(g, IR_OP_SOFTMAX, &t, 1, &sm);
    p = fd_op(g, IR_OP_STOP_GRADIENT, &p, 1, NULL);
    IrValue *ce = op2(g, IR_OP_SOFTMAX_CROSS_ENTROPY, s, p);
    return op2(g, IR_OP_MUL, ce, fd_scalar(g, temp * temp));
}

Test(grad_blocks, distillation_on_soft_targets)
{
    FdInput in[6];
    float *data[5];
    mlp_inputs(in, data);
    int64_t dt[2] = {6, D};
    float *teacher = fd_rand(20, 6 * D, -3, 3);
    in[5] = fd_fixed(SD_DT_F32, 2, dt, teacher);
    FdOptions o = {.unweighted = true};
    fd_check_all("distillation", in, 6, build_distill, NULL, &o);
    for (int i = 0; i < 5; i++)
        free(data[i]);
    free(teacher);
}

/* Deep mutual learning: CE(a, softmax(b)) + CE(b, softmax(a)), both logits trained, no
 * StopGradient: the soft targets' gradients flow too. in = a [N, C], b [N, C] */
static IrValue *build_mutual(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    IrAttrs sm = {0};
    sm.softmax.axis = -1;
    IrValue *pa = fd_op(g, IR_OP_SOFTMAX, &in[0], 1, &sm), *pb = fd_op(g, IR_OP_SOFTMAX, &in[1], 1, &sm);
    IrValue *l1 = op2(g, IR_OP_SOFTMAX_CROSS_ENTROPY, in[0], pb);
    IrValue *l2 = op2(g, IR_OP_SOFTMAX_CROSS_ENTROPY, in[1], pa);
    return op2(g, IR_OP_ADD, l1, l2);
}

Test(grad_blocks, mutual_learning_trains_both_sides)
{
    int64_t d[2] = {5, 7};
    float *a = fd_rand(30, 35, -3, 3), *b = fd_rand(31, 35, -3, 3);
    FdInput in[2] = {fd_f32(2, d, a), fd_f32(2, d, b)};
    FdOptions o = {.unweighted = true};
    fd_check_all("mutual learning", in, 2, build_mutual, NULL, &o);
    free(a), free(b);
}

/* an InfoNCE-style contrastive loss: L2-normalized features, similarities / tau, cross-entropy
 * against the diagonal (MoCo/SimCLR positives) */
static IrValue *build_infonce(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    IrValue *za = l2_normalize(g, in[0]), *zb = l2_normalize(g, in[1]);
    IrValue *zbt = transpose(g, zb, 2, (int64_t[]){1, 0});
    IrValue *sim = op2(g, IR_OP_MUL, op2(g, IR_OP_MATMUL, za, zbt), fd_scalar(g, 1 / 0.2f));
    return op2(g, IR_OP_SOFTMAX_CROSS_ENTROPY, sim, in[2]);
}

Test(grad_blocks, contrastive_loss)
{
    int64_t d[2] = {4, 6}, dl[1] = {4};
    float *a = fd_rand(40, 24, -1, 1), *b = fd_rand(41, 24, -1, 1);
    int64_t labels[4] = {0, 1, 2, 3};
    FdInput in[3] = {fd_f32(2, d, a), fd_f32(2, d, b), fd_fixed(SD_DT_I64, 1, dl, labels)};
    FdOptions o = {.unweighted = true};
    fd_check_all("infonce", in, 3, build_infonce, NULL, &o);
    free(a), free(b);
}
