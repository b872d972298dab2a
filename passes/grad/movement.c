/* passes/grad/movement.c — gradients of data movement, written with movement ops:
 *   Reshape/Flatten/Squeeze/Unsqueeze  dy reshaped back
 *   Transpose                          dy transposed by the inverse permutation
 *   Concat                             dy split at the inputs' sizes
 *   Split                              the outputs' gradients concatenated (zeros where none flows)
 *   Slice                              dy put back at the positions read, zeros elsewhere: steps of
 *                                      size k > 1 interleave k - 1 zeros (Reshape, Pad, Reshape),
 *                                      negative steps first reverse dy, then a crop and a Pad
 *   Pad (constant mode)                the interior of dy (a Slice), with zeros where pads cropped
 *   Expand                             dy summed over the broadcast dims
 *   Tile                               dy summed over the repeats, one axis at a time
 *   DepthToSpace/SpaceToDepth          the inverse rearrangement (Reshape, Transpose, Reshape) */
#include <string.h>

#include "passes/grad/grad.h"

static IrValue *transpose(GradCtx *c, IrValue *g, const int64_t *perm, int rank)
{
    if (!g)
        return NULL;
    IrAttrs a = {0};
    a.movement.n_perm = rank;
    memcpy(a.movement.perm, perm, sizeof(int64_t) * (size_t)rank);
    return grad_op_with(c, IR_OP_TRANSPOSE, &g, 1, &a);
}

static IrValue *reshape_dims(GradCtx *c, IrValue *g, int rank, const int64_t *dims)
{
    IrShape s = ir_shape_make(rank, dims);
    return g ? grad_reshape(c, g, &s) : NULL;
}

/* Slice of g with one start/end/step per dim. */
static IrValue *slice(GradCtx *c, IrValue *g, const int64_t *starts, const int64_t *ends, const int64_t *steps)
{
    if (!g)
        return NULL;
    int r = g->shape.rank;
    int64_t axes[IR_MAX_RANK];
    for (int i = 0; i < r; i++)
        axes[i] = i;
    IrValue *ins[5] = {g, grad_ints(c, starts, r), grad_ints(c, ends, r), grad_ints(c, axes, r), grad_ints(c, steps, r)};
    for (int i = 1; i < 5; i++)
        if (!ins[i])
            return NULL;
    return grad_op(c, IR_OP_SLICE, ins, 5);
}

/* Zero padding: begins[i], ends[i] >= 0. */
static IrValue *zero_pad(GradCtx *c, IrValue *g, const int64_t *begins, const int64_t *ends)
{
    if (!g)
        return NULL;
    int r = g->shape.rank;
    int64_t pads[2 * IR_MAX_RANK];
    bool any = false;
    for (int i = 0; i < r; i++) {
        pads[i] = begins[i], pads[r + i] = ends[i];
        any |= begins[i] != 0 || ends[i] != 0;
    }
    if (!any)
        return g;
    IrValue *p = grad_ints(c, pads, 2 * r);
    return p ? grad_op(c, IR_OP_PAD, (IrValue *[]){g, p}, 2) : NULL;
}

static SdStatus slice_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue **dx)
{
    const IrMovementAttrs *a = &n->attrs.movement;
    IrValue *x = n->inputs[0];
    int r = x->shape.rank;
    const int64_t *d = x->shape.dims, *m = g->shape.dims;
    if (ir_value_numel(g) == 0) {
        GRAD_TRY(dx[0] = grad_or_zero(c, NULL, x));
        return SD_OK;
    }
    /* reverse the axes read backwards: then every axis reads ascending from first[i], step k[i] */
    int64_t first[IR_MAX_RANK], k[IR_MAX_RANK], fs[IR_MAX_RANK], fe[IR_MAX_RANK], fstep[IR_MAX_RANK];
    bool flip = false;
    for (int i = 0; i < r; i++) {
        int64_t step = a->steps[i];
        k[i] = step < 0 ? -step : step;
        first[i] = step < 0 ? a->starts[i] + (m[i] - 1) * step : a->starts[i];
        fs[i] = step < 0 ? m[i] - 1 : 0;
        fe[i] = step < 0 ? INT64_MIN : m[i];
        fstep[i] = step < 0 ? -1 : 1;
        flip |= step < 0;
    }
    if (flip)
        GRAD_TRY(g = slice(c, g, fs, fe, fstep));
    /* strided axes: element j moves to j * k, with k - 1 zeros after it */
    for (int i = 0; i < r; i++) {
        if (k[i] == 1)
            continue;
        if (r == IR_MAX_RANK) {
            char lb[200];
            return sd_errorf(c->err, SD_EUNSUPPORTED, "%s: %s: the gradient of a strided slice of rank %d is not supported",
                             ir_graph_source(c->g), ir_node_label(n, lb, sizeof lb), r);
        }
        int64_t dims[IR_MAX_RANK + 1], zb[IR_MAX_RANK + 1] = {0}, ze[IR_MAX_RANK + 1] = {0};
        for (int j = 0, o = 0; j < r; j++) {
            dims[o++] = g->shape.dims[j];
            if (j == i)
                dims[o++] = 1, ze[i + 1] = k[i] - 1;
        }
        GRAD_TRY(g = reshape_dims(c, g, r + 1, dims));
        GRAD_TRY(g = zero_pad(c, g, zb, ze));
        int64_t wide[IR_MAX_RANK];
        memcpy(wide, g->shape.dims, sizeof(int64_t) * (size_t)(i + 1));
        wide[i] *= k[i];
        memcpy(wide + i + 1, g->shape.dims + i + 2, sizeof(int64_t) * (size_t)(r - i - 1));
        GRAD_TRY(g = reshape_dims(c, g, r, wide));
    }
    /* crop the trailing zeros that run past the end, then pad to the input's extent */
    int64_t cs[IR_MAX_RANK], ce[IR_MAX_RANK], cstep[IR_MAX_RANK], pb[IR_MAX_RANK], pe[IR_MAX_RANK];
    bool crop = false;
    for (int i = 0; i < r; i++) {
        int64_t len = g->shape.dims[i], room = d[i] - first[i];
        cs[i] = 0, cstep[i] = 1;
        ce[i] = len < room ? len : room;
        crop |= ce[i] != len;
        pb[i] = first[i];
        pe[i] = d[i] - first[i] - ce[i];
    }
    if (crop)
        GRAD_TRY(g = slice(c, g, cs, ce, cstep));
    GRAD_TRY(dx[0] = zero_pad(c, g, pb, pe));
    return SD_OK;
}

static SdStatus pad_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue **dx)
{
    const IrMovementAttrs *a = &n->attrs.movement;
    IrValue *x = n->inputs[0];
    int r = x->shape.rank;
    if (a->pad_mode != IR_PADMODE_CONSTANT) {
        char lb[200];
        return sd_errorf(c->err, SD_EUNSUPPORTED, "%s: %s: only constant padding is differentiable in seedc (yet)",
                         ir_graph_source(c->g), ir_node_label(n, lb, sizeof lb));
    }
    /* a positive pad is cut off dy; a negative one cropped x, whose gradient is zero there */
    int64_t s[IR_MAX_RANK], e[IR_MAX_RANK], step[IR_MAX_RANK], zb[IR_MAX_RANK], ze[IR_MAX_RANK];
    bool cut = false;
    for (int i = 0; i < r; i++) {
        int64_t b = a->pads[i], en = a->pads[r + i];
        zb[i] = b < 0 ? -b : 0;
        ze[i] = en < 0 ? -en : 0;
        s[i] = b > 0 ? b : 0;
        e[i] = s[i] + x->shape.dims[i] - zb[i] - ze[i];
        if (e[i] < s[i])
            e[i] = s[i];
        step[i] = 1;
        cut |= s[i] != 0 || e[i] != g->shape.dims[i];
    }
    if (cut)
        GRAD_TRY(g = slice(c, g, s, e, step));
    GRAD_TRY(dx[0] = zero_pad(c, g, zb, ze));
    if (!ir_shape_equal(&dx[0]->shape, &x->shape)) /* every element of x cropped away */
        GRAD_TRY(dx[0] = grad_or_zero(c, NULL, x));
    return SD_OK;
}

static SdStatus concat_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue **dx)
{
    IrAttrs a = {0};
    int64_t axis = n->attrs.movement.axis;
    a.movement.axis = axis;
    a.movement.n_split = n->n_inputs;
    for (int i = 0; i < n->n_inputs; i++)
        a.movement.split[i] = n->inputs[i]->shape.dims[axis];
    if (n->n_inputs == 1) {
        dx[0] = g;
        return SD_OK;
    }
    IrNode *s = grad_node_with(c, IR_OP_SPLIT, &g, 1, n->n_inputs, &a);
    GRAD_TRY(s);
    for (int i = 0; i < n->n_inputs; i++)
        dx[i] = s->outputs[i];
    return SD_OK;
}

static SdStatus split_grad(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    IrValue *parts[IR_MAX_OUTPUTS];
    for (int i = 0; i < n->n_outputs; i++)
        GRAD_TRY(parts[i] = grad_or_zero(c, dy[i], n->outputs[i]));
    IrAttrs a = {0};
    a.movement.axis = n->attrs.movement.axis;
    GRAD_TRY(dx[0] = grad_op_with(c, IR_OP_CONCAT, parts, n->n_outputs, &a));
    return SD_OK;
}

/* Tile: for each repeated axis i, view dy as [before, repeats, dim_i * after] and sum the repeats. */
static SdStatus tile_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue **dx)
{
    const IrValue *x = n->inputs[0];
    int r = x->shape.rank;
    IrShape cur = g->shape;
    for (int i = 0; i < r; i++) {
        int64_t rep = n->attrs.movement.shape[i];
        if (rep == 1)
            continue;
        if (rep == 0 || ir_value_numel(g) == 0)
            break; /* an empty output: the gradient is zero */
        int64_t before = 1, after = 1;
        for (int j = 0; j < i; j++)
            before *= cur.dims[j];
        for (int j = i + 1; j < r; j++)
            after *= cur.dims[j];
        GRAD_TRY(g = reshape_dims(c, g, 3, (int64_t[]){before, rep, x->shape.dims[i] * after}));
        GRAD_TRY(g = grad_reduce_sum(c, g, (int64_t[]){1}, 1, false));
        cur.dims[i] = x->shape.dims[i];
        GRAD_TRY(g = grad_reshape(c, g, &cur));
    }
    if (!ir_shape_equal(&g->shape, &x->shape))
        GRAD_TRY(g = grad_or_zero(c, NULL, x));
    dx[0] = g;
    return SD_OK;
}

/* The forward rearrangements as ONNX defines them, on [N, C, H, W] with block b:
 *   DepthToSpace DCR: [N, b, b, C', H, W]  perm 0,3,4,1,5,2 -> [N, C', H, b, W, b]
 *   DepthToSpace CRD: [N, C', b, b, H, W]  perm 0,1,4,2,5,3 -> [N, C', H, b, W, b]
 *   SpaceToDepth:     [N, C, H', b, W', b] perm 0,3,5,1,2,4 -> [N, b, b, C, H', W']
 * so the gradient views dy as the permuted 6-D tensor and applies the inverse permutation. */
static SdStatus depth_space_grad(GradCtx *c, IrNode *n, IrValue *g, IrValue **dx)
{
    const IrValue *x = n->inputs[0];
    int64_t b = n->attrs.movement.blocksize;
    const int64_t *xd = x->shape.dims;
    int64_t view[6], inv[6];
    if (n->op == IR_OP_DEPTH_TO_SPACE) {
        int64_t cc = xd[1] / (b * b);
        memcpy(view, (int64_t[]){xd[0], cc, xd[2], b, xd[3], b}, sizeof view);
        if (n->attrs.movement.crd)
            memcpy(inv, (int64_t[]){0, 1, 3, 5, 2, 4}, sizeof inv);
        else
            memcpy(inv, (int64_t[]){0, 3, 5, 1, 2, 4}, sizeof inv);
    } else {
        memcpy(view, (int64_t[]){xd[0], b, b, xd[1], xd[2] / b, xd[3] / b}, sizeof view);
        memcpy(inv, (int64_t[]){0, 3, 4, 1, 5, 2}, sizeof inv);
    }
    GRAD_TRY(g = reshape_dims(c, g, 6, view));
    GRAD_TRY(g = transpose(c, g, inv, 6));
    GRAD_TRY(dx[0] = grad_reshape(c, g, &x->shape));
    return SD_OK;
}

SdStatus grad_movement(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    IrValue *x = n->inputs[0], *g = dy[0];
    if (n->op != IR_OP_SPLIT && !g)
        return SD_OK;
    switch (n->op) {
    case IR_OP_RESHAPE: case IR_OP_FLATTEN: case IR_OP_SQUEEZE: case IR_OP_UNSQUEEZE:
        GRAD_TRY(dx[0] = grad_reshape(c, g, &x->shape));
        return SD_OK;
    case IR_OP_TRANSPOSE: {
        const IrMovementAttrs *a = &n->attrs.movement;
        int64_t inv[IR_MAX_RANK];
        for (int i = 0; i < a->n_perm; i++)
            inv[a->perm[i]] = i;
        GRAD_TRY(dx[0] = transpose(c, g, inv, a->n_perm));
        return SD_OK;
    }
    case IR_OP_CONCAT: return concat_grad(c, n, g, dx);
    case IR_OP_SPLIT: return split_grad(c, n, dy, dx);
    case IR_OP_SLICE: return slice_grad(c, n, g, dx);
    case IR_OP_PAD: return pad_grad(c, n, g, dx);
    case IR_OP_EXPAND:
        GRAD_TRY(dx[0] = grad_unbroadcast(c, g, &x->shape));
        return SD_OK;
    case IR_OP_TILE: return tile_grad(c, n, g, dx);
    case IR_OP_DEPTH_TO_SPACE: case IR_OP_SPACE_TO_DEPTH: return depth_space_grad(c, n, g, dx);
    default: return grad_unsupported(c, n);
    }
}
