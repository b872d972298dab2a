/* passes/shape/norm.c — normalizations keep their input's shape. BatchNorm and InstanceNorm take
 * per-channel vectors ([C], or [C, D1, ...] for old per-activation BatchNorm); LayerNorm's scale
 * and bias broadcast one way to the normalized dims, and its axis becomes non-negative here.
 * BatchNorm in training mode adds the batch statistics as outputs; the gradients BATCH_NORM_GRAD
 * and LAYER_NORM_GRAD take the statistics their forward made. */
#include <stdio.h>

#include "passes/shape/shape.h"

/* Input i must have exactly the dims want[0, rank). */
static SdStatus expect_shape(ShapeCtx *c, const IrNode *n, int i, const char *what, const IrShape *want)
{
    const IrValue *v = n->inputs[i];
    if (!ir_shape_equal(&v->shape, want)) {
        char s1[128], s2[128];
        return shape_error(c, n, SD_ESHAPE, "%s ('%s') has shape %s; %s is expected", what, v->name,
                           ir_shape_str(&v->shape, s1, sizeof s1), ir_shape_str(want, s2, sizeof s2));
    }
    return SD_OK;
}

/* The shape of BatchNorm's per-channel vectors: [C], or [C, D1, ...] per activation. */
static IrShape channel_shape(const IrNode *n, const IrShape *x)
{
    return n->attrs.norm.per_activation ? ir_shape_make(x->rank - 1, &x->dims[1]) : ir_shape_make(1, &x->dims[1]);
}

/* Outputs: y, and in training the batch mean, inverse std and unbiased variance (ops.def). */
static SdStatus shape_batch_norm(ShapeCtx *c, IrNode *n)
{
    static const char *const names[] = {"X", "scale", "B", "mean", "var"};
    SD_TRY(shape_expect_rank(c, n, 0, 2, IR_MAX_RANK));
    const IrShape *x = &n->inputs[0]->shape;
    IrShape want = channel_shape(n, x);
    for (int i = 1; i < 5; i++) {
        SD_TRY(shape_same_dtype(c, n, 0, i));
        SD_TRY(expect_shape(c, n, i, names[i], &want));
    }
    if (n->n_outputs > 1 && !n->attrs.norm.training)
        return shape_error(c, n, SD_EBADMODEL, "%d outputs; in inference mode BatchNorm has only y", n->n_outputs);
    if (n->n_outputs > 1)
        SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    if (n->n_inputs > 5 && n->inputs[5]) { /* a residual folded in (passes/fold_norm_relu.c) */
        if (!n->attrs.norm.training)
            return shape_error(c, n, SD_EBADMODEL, "a residual input needs training mode");
        SD_TRY(shape_same_dtype(c, n, 0, 5));
        SD_TRY(expect_shape(c, n, 5, "the residual", x));
    }
    shape_set(n, 0, n->inputs[0]->dtype, x);
    for (int i = 1; i < n->n_outputs; i++)
        shape_set(n, i, SD_DT_F32, &want);
    return SD_OK;
}

/* Operand i must have exactly the shape of operand j. */
static SdStatus expect_like(ShapeCtx *c, const IrNode *n, int i, int j)
{
    char what[64];
    snprintf(what, sizeof what, "input %d", i);
    SD_TRY(shape_same_dtype(c, n, i, j));
    return expect_shape(c, n, i, what, &n->inputs[j]->shape);
}

/* (dy, x, scale, mean, invstd) -> (dx, dscale, dbias) */
static SdStatus shape_batch_norm_grad(ShapeCtx *c, IrNode *n)
{
    static const char *const names[] = {"dy", "X", "scale", "mean", "invstd"};
    SD_TRY(shape_expect_dtype(c, n, 1, SD_DT_F32));
    SD_TRY(shape_expect_rank(c, n, 1, 2, IR_MAX_RANK));
    SD_TRY(expect_like(c, n, 0, 1));
    const IrShape *x = &n->inputs[1]->shape;
    IrShape want = channel_shape(n, x);
    for (int i = 2; i < 5; i++) {
        SD_TRY(shape_same_dtype(c, n, 1, i));
        SD_TRY(expect_shape(c, n, i, names[i], &want));
    }
    if (n->n_inputs > 5 && n->inputs[5])
        SD_TRY(expect_like(c, n, 5, 1)); /* the forward's clamped output (attrs.norm.relu) */
    if ((n->n_inputs > 5 && n->inputs[5]) != n->attrs.norm.relu)
        return shape_error(c, n, SD_EBADMODEL, "a folded ReLU needs its forward's output as input 5, and only it");
    shape_set(n, 0, SD_DT_F32, x);
    for (int i = 1; i < n->n_outputs; i++)
        shape_set(n, i, SD_DT_F32, &want);
    return SD_OK;
}

/* v broadcasts one way to dims [axis, rank) of x. */
static SdStatus expect_broadcast_to(ShapeCtx *c, const IrNode *n, int i, const char *what, const IrShape *x,
                                    int64_t axis)
{
    const IrShape *s = &n->inputs[i]->shape;
    int tail = x->rank - (int)axis;
    bool ok = s->rank <= tail;
    for (int d = 0; ok && d < s->rank; d++) {
        int64_t want = x->dims[x->rank - s->rank + d];
        ok = s->dims[d] == want || s->dims[d] == 1;
    }
    if (!ok) {
        char s1[128], s2[128];
        IrShape t = ir_shape_make(tail, &x->dims[axis]);
        return shape_error(c, n, SD_ESHAPE, "%s ('%s') has shape %s, which does not broadcast to the normalized dims %s",
                           what, n->inputs[i]->name, ir_shape_str(s, s1, sizeof s1), ir_shape_str(&t, s2, sizeof s2));
    }
    return SD_OK;
}

static SdStatus shape_layer_norm(ShapeCtx *c, IrNode *n)
{
    if (!shape_has_input(n, 1))
        return shape_error(c, n, SD_EBADMODEL, "the Scale input is required");
    SD_TRY(shape_expect_rank(c, n, 0, 1, IR_MAX_RANK));
    const IrShape *x = &n->inputs[0]->shape;
    IrNormAttrs *a = &n->attrs.norm;
    SD_TRY(shape_axis(c, n, a->axis, x->rank, &a->axis));
    for (int i = 1; i < 3; i++) {
        if (!shape_has_input(n, i))
            continue;
        SD_TRY(shape_same_dtype(c, n, 0, i));
        SD_TRY(expect_broadcast_to(c, n, i, i == 1 ? "Scale" : "B", x, a->axis));
    }
    shape_set(n, 0, n->inputs[0]->dtype, x);
    IrShape stats = *x;
    for (int d = (int)a->axis; d < x->rank; d++)
        stats.dims[d] = 1;
    for (int i = 1; i < n->n_outputs; i++)
        shape_set(n, i, SD_DT_F32, &stats);
    return SD_OK;
}

/* (dy, x, scale, mean, invstd) -> (dx, dscale, dbias); dscale and dbias have the normalized dims
 * x[axis:], mean and invstd the shape of the forward's statistics outputs. */
static SdStatus shape_layer_norm_grad(ShapeCtx *c, IrNode *n)
{
    SD_TRY(shape_expect_dtype(c, n, 1, SD_DT_F32));
    SD_TRY(shape_expect_rank(c, n, 1, 1, IR_MAX_RANK));
    SD_TRY(expect_like(c, n, 0, 1));
    const IrShape *x = &n->inputs[1]->shape;
    IrNormAttrs *a = &n->attrs.norm;
    SD_TRY(shape_axis(c, n, a->axis, x->rank, &a->axis));
    SD_TRY(shape_same_dtype(c, n, 1, 2));
    SD_TRY(expect_broadcast_to(c, n, 2, "Scale", x, a->axis));
    IrShape stats = *x;
    for (int d = (int)a->axis; d < x->rank; d++)
        stats.dims[d] = 1;
    SD_TRY(expect_shape(c, n, 3, "mean", &stats));
    SD_TRY(expect_shape(c, n, 4, "invstd", &stats));
    shape_set(n, 0, SD_DT_F32, x);
    IrShape tail = ir_shape_make(x->rank - (int)a->axis, &x->dims[a->axis]);
    for (int i = 1; i < n->n_outputs; i++)
        shape_set(n, i, SD_DT_F32, &tail);
    return SD_OK;
}

static SdStatus shape_instance_norm(ShapeCtx *c, IrNode *n)
{
    SD_TRY(shape_expect_rank(c, n, 0, 2, IR_MAX_RANK));
    const IrShape *x = &n->inputs[0]->shape;
    IrShape want = ir_shape_make(1, &x->dims[1]);
    for (int i = 1; i < 3; i++) {
        SD_TRY(shape_same_dtype(c, n, 0, i));
        SD_TRY(expect_shape(c, n, i, i == 1 ? "scale" : "B", &want));
    }
    shape_set(n, 0, n->inputs[0]->dtype, x);
    return SD_OK;
}

SdStatus shape_norm(ShapeCtx *c, IrNode *n)
{
    switch (n->op) {
    case IR_OP_BATCH_NORM: return shape_batch_norm(c, n);
    case IR_OP_LAYER_NORM: return shape_layer_norm(c, n);
    case IR_OP_INSTANCE_NORM: return shape_instance_norm(c, n);
    case IR_OP_BATCH_NORM_GRAD: return shape_batch_norm_grad(c, n);
    case IR_OP_LAYER_NORM_GRAD: return shape_layer_norm_grad(c, n);
    default:
        SD_TRY(shape_expect_rank(c, n, 0, 2, IR_MAX_RANK));
        if (n->attrs.norm.size < 1)
            return shape_error(c, n, SD_EBADMODEL, "the window size is %lld; it must be positive",
                               (long long)n->attrs.norm.size);
        shape_set(n, 0, n->inputs[0]->dtype, &n->inputs[0]->shape);
        return SD_OK;
    }
}
