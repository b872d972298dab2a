/* passes/shape/movement.c — data movement. Compile-time inputs (a Reshape's shape, a Slice's
 * starts/ends/axes/steps, Pad's pads and value, Tile's repeats, Expand's shape, Split's sizes,
 * Squeeze/Unsqueeze axes) are read into the attributes, per input dimension, and dropped. */
#include <string.h>

#include "passes/shape/shape.h"
#include "support/mem.h"

static SdStatus ints_input(ShapeCtx *c, IrNode *n, int i, int64_t *out, int max, int *count)
{
    if (n->inputs[i]->shape.rank > 1)
        return shape_error(c, n, SD_ESHAPE, "input %d ('%s') must be 1-D", i, n->inputs[i]->name);
    return shape_const_ints(c, n, i, out, max, count);
}

static SdStatus shape_reshape(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    int count;
    int64_t want[IR_MAX_RANK];
    SD_TRY(ints_input(c, n, 1, want, IR_MAX_RANK, &count));
    IrShape s = {.rank = count};
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < count; i++) {
        int64_t d = want[i];
        if (d == 0 && !a->allowzero) {
            if (i >= x->shape.rank)
                return shape_error(c, n, SD_ESHAPE, "target dimension %d is 0 (copy) but the input has rank %d", i,
                                   x->shape.rank);
            d = x->shape.dims[i];
        }
        if (d == -1) {
            if (infer >= 0)
                return shape_error(c, n, SD_EBADMODEL, "target shape has more than one -1");
            infer = i;
            continue;
        }
        if (d < 0)
            return shape_error(c, n, SD_EBADMODEL, "target dimension %d is %lld", i, (long long)d);
        s.dims[i] = d;
        known *= d;
    }
    int64_t numel = ir_shape_numel(&x->shape);
    char sa[128], sb[128];
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return shape_error(c, n, SD_ESHAPE, "cannot reshape %s (%lld elements) to %s",
                               ir_shape_str(&x->shape, sa, sizeof sa), (long long)numel,
                               ir_shape_str(&(IrShape){.rank = count, .dims = {0}}, sb, sizeof sb));
        s.dims[infer] = numel / known;
    } else if (known != numel) {
        return shape_error(c, n, SD_ESHAPE, "cannot reshape %s (%lld elements) to %s (%lld elements)",
                           ir_shape_str(&x->shape, sa, sizeof sa), (long long)numel, ir_shape_str(&s, sb, sizeof sb),
                           (long long)known);
    }
    a->n_shape = count;
    memcpy(a->shape, s.dims, sizeof s.dims);
    a->resolved = true;
    ir_node_truncate_inputs(n, 1);
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_flatten(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    int r = x->shape.rank;
    int64_t axis = n->attrs.movement.axis;
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis > r)
        return shape_error(c, n, SD_EBADMODEL, "axis %lld is out of range for rank %d",
                           (long long)n->attrs.movement.axis, r);
    n->attrs.movement.axis = axis;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < r; i++)
        *(i < axis ? &outer : &inner) *= x->shape.dims[i];
    IrShape s = ir_shape_make(2, (int64_t[]){outer, inner});
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

/* Axes from input 1 when present (opset 13+), else from the attributes the importer set. */
static SdStatus read_axes(ShapeCtx *c, IrNode *n, int rank, bool *given)
{
    IrMovementAttrs *a = &n->attrs.movement;
    if (shape_has_input(n, 1)) {
        SD_TRY(ints_input(c, n, 1, a->axes, IR_MAX_RANK, &a->n_axes));
        a->has_axes = true;
    }
    *given = a->has_axes;
    unsigned seen = 0;
    for (int i = 0; i < a->n_axes; i++) {
        SD_TRY(shape_axis(c, n, a->axes[i], rank, &a->axes[i]));
        if (seen & (1u << a->axes[i]))
            return shape_error(c, n, SD_EBADMODEL, "axis %lld is listed twice", (long long)a->axes[i]);
        seen |= 1u << a->axes[i];
    }
    ir_node_truncate_inputs(n, 1);
    return SD_OK;
}

static SdStatus shape_squeeze(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    bool given;
    SD_TRY(read_axes(c, n, x->shape.rank, &given));
    unsigned drop = 0;
    for (int i = 0; i < a->n_axes; i++) {
        if (x->shape.dims[a->axes[i]] != 1)
            return shape_error(c, n, SD_ESHAPE, "cannot squeeze axis %lld of size %lld", (long long)a->axes[i],
                               (long long)x->shape.dims[a->axes[i]]);
        drop |= 1u << a->axes[i];
    }
    IrShape s = {0};
    for (int i = 0; i < x->shape.rank; i++)
        if (given ? !(drop & (1u << i)) : x->shape.dims[i] != 1)
            s.dims[s.rank++] = x->shape.dims[i];
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_unsqueeze(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    if (shape_has_input(n, 1)) {
        SD_TRY(ints_input(c, n, 1, a->axes, IR_MAX_RANK, &a->n_axes));
        a->has_axes = true;
        ir_node_truncate_inputs(n, 1);
    }
    int r = x->shape.rank + a->n_axes;
    if (r > IR_MAX_RANK)
        return shape_error(c, n, SD_EUNSUPPORTED, "the output would have rank %d (at most %d)", r, IR_MAX_RANK);
    unsigned add = 0;
    for (int i = 0; i < a->n_axes; i++) {
        SD_TRY(shape_axis(c, n, a->axes[i], r, &a->axes[i]));
        if (add & (1u << a->axes[i]))
            return shape_error(c, n, SD_EBADMODEL, "axis %lld is listed twice", (long long)a->axes[i]);
        add |= 1u << a->axes[i];
    }
    IrShape s = {.rank = r};
    for (int i = 0, k = 0; i < r; i++)
        s.dims[i] = (add & (1u << i)) ? 1 : x->shape.dims[k++];
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_transpose(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    int r = x->shape.rank;
    if (a->n_perm == 0) {
        a->n_perm = r;
        for (int i = 0; i < r; i++)
            a->perm[i] = r - 1 - i;
    }
    if (a->n_perm != r)
        return shape_error(c, n, SD_EBADMODEL, "perm has %d entries for an input of rank %d", a->n_perm, r);
    unsigned seen = 0;
    IrShape s = {.rank = r};
    for (int i = 0; i < r; i++) {
        int64_t p = a->perm[i];
        if (p < 0 || p >= r || (seen & (1u << p)))
            return shape_error(c, n, SD_EBADMODEL, "perm is not a permutation of 0..%d", r - 1);
        seen |= 1u << p;
        s.dims[i] = x->shape.dims[p];
    }
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_concat(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    int r = x->shape.rank;
    int64_t axis;
    SD_TRY(shape_axis(c, n, n->attrs.movement.axis, r, &axis));
    n->attrs.movement.axis = axis;
    IrShape s = x->shape;
    s.dims[axis] = 0;
    char sa[128], sb[128];
    for (int k = 0; k < n->n_inputs; k++) {
        const IrValue *v = n->inputs[k];
        if (!v)
            return shape_error(c, n, SD_EBADMODEL, "input %d is missing", k);
        SD_TRY(shape_same_dtype(c, n, 0, k));
        bool ok = v->shape.rank == r;
        for (int i = 0; i < r && ok; i++)
            ok = i == axis || v->shape.dims[i] == x->shape.dims[i];
        if (!ok)
            return shape_error(c, n, SD_ESHAPE, "input '%s' %s does not fit input '%s' %s along axis %lld", v->name,
                               ir_shape_str(&v->shape, sa, sizeof sa), x->name, ir_shape_str(&x->shape, sb, sizeof sb),
                               (long long)axis);
        s.dims[axis] += v->shape.dims[axis];
    }
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_split(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    int64_t axis;
    SD_TRY(shape_axis(c, n, a->axis, x->shape.rank, &axis));
    a->axis = axis;
    int64_t dim = x->shape.dims[axis];
    if (shape_has_input(n, 1)) {
        SD_TRY(ints_input(c, n, 1, a->split, IR_MAX_OUTPUTS, &a->n_split));
        ir_node_truncate_inputs(n, 1);
    }
    ir_node_truncate_inputs(n, 1);
    if (a->n_split == 0) { /* equal parts; the last smaller when uneven (opset 18) */
        int64_t parts = n->n_outputs, each = (dim + parts - 1) / parts;
        for (int i = 0; i < parts; i++) {
            int64_t left = dim - each * i;
            a->split[i] = left < each ? (left > 0 ? left : 0) : each;
        }
        a->n_split = n->n_outputs;
    }
    if (a->n_split != n->n_outputs)
        return shape_error(c, n, SD_EBADMODEL, "split has %d sizes for %d outputs", a->n_split, n->n_outputs);
    int64_t sum = 0;
    for (int i = 0; i < a->n_split; i++) {
        if (a->split[i] < 0)
            return shape_error(c, n, SD_EBADMODEL, "split size %d is negative", i);
        sum += a->split[i];
    }
    if (sum != dim)
        return shape_error(c, n, SD_ESHAPE, "split sizes add up to %lld but axis %lld has %lld", (long long)sum,
                           (long long)axis, (long long)dim);
    for (int i = 0; i < n->n_outputs; i++) {
        IrShape s = x->shape;
        s.dims[axis] = a->split[i];
        shape_set(n, i, x->dtype, &s);
    }
    return SD_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static SdStatus shape_slice(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    int r = x->shape.rank;
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int ns, ne, na, nst;
    SD_TRY(ints_input(c, n, 1, starts, IR_MAX_RANK, &ns));
    SD_TRY(ints_input(c, n, 2, ends, IR_MAX_RANK, &ne));
    if (ns != ne)
        return shape_error(c, n, SD_EBADMODEL, "starts has %d values and ends %d", ns, ne);
    na = ns;
    for (int i = 0; i < na; i++)
        axes[i] = i;
    if (shape_has_input(n, 3))
        SD_TRY(ints_input(c, n, 3, axes, IR_MAX_RANK, &na));
    nst = ns;
    for (int i = 0; i < nst; i++)
        steps[i] = 1;
    if (shape_has_input(n, 4))
        SD_TRY(ints_input(c, n, 4, steps, IR_MAX_RANK, &nst));
    if (na != ns || nst != ns)
        return shape_error(c, n, SD_EBADMODEL, "starts, ends, axes and steps must have the same length");
    for (int d = 0; d < r; d++) {
        a->starts[d] = 0, a->ends[d] = x->shape.dims[d], a->steps[d] = 1;
    }
    unsigned seen = 0;
    for (int i = 0; i < ns; i++) {
        int64_t ax;
        SD_TRY(shape_axis(c, n, axes[i], r, &ax));
        if (seen & (1u << ax))
            return shape_error(c, n, SD_EBADMODEL, "axis %lld is sliced twice", (long long)ax);
        seen |= 1u << ax;
        int64_t dim = x->shape.dims[ax], st = steps[i];
        if (st == 0)
            return shape_error(c, n, SD_EBADMODEL, "step is zero on axis %lld", (long long)ax);
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (st > 0) {
            s = clamp64(s, 0, dim);
            e = clamp64(e, 0, dim);
        } else {
            s = clamp64(s, 0, dim - 1);
            e = clamp64(e, -1, dim - 1);
        }
        /* ends given as INT64_MIN/MAX must not overflow above: they were clamped first */
        a->starts[ax] = s, a->ends[ax] = e, a->steps[ax] = st;
    }
    IrShape out = {.rank = r};
    for (int d = 0; d < r; d++) {
        int64_t s = a->starts[d], e = a->ends[d], st = a->steps[d];
        int64_t len = st > 0 ? (e - s + st - 1) / st : (s - e + (-st) - 1) / (-st);
        out.dims[d] = len > 0 ? len : 0;
        if (out.dims[d] == 0)
            a->starts[d] = 0;
    }
    a->n_axes = r;
    a->resolved = true;
    ir_node_truncate_inputs(n, 1);
    shape_set(n, 0, x->dtype, &out);
    return SD_OK;
}

static SdStatus shape_expand(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    int count;
    int64_t want[IR_MAX_RANK];
    SD_TRY(ints_input(c, n, 1, want, IR_MAX_RANK, &count));
    IrShape target = ir_shape_make(count, want), s;
    SD_TRY(shape_broadcast(c, n, &x->shape, &target, &s));
    a->n_shape = s.rank;
    memcpy(a->shape, s.dims, sizeof s.dims);
    a->resolved = true;
    ir_node_truncate_inputs(n, 1);
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_tile(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    int count;
    SD_TRY(ints_input(c, n, 1, a->shape, IR_MAX_RANK, &count));
    if (count != x->shape.rank)
        return shape_error(c, n, SD_EBADMODEL, "repeats has %d values for an input of rank %d", count, x->shape.rank);
    IrShape s = x->shape;
    for (int i = 0; i < count; i++) {
        if (a->shape[i] < 0)
            return shape_error(c, n, SD_EBADMODEL, "repeat %d is negative", i);
        if (!sd_mul_i64(s.dims[i], a->shape[i], &s.dims[i]))
            return shape_error(c, n, SD_ESHAPE, "tiled dimension %d overflows", i);
    }
    a->n_shape = count;
    a->resolved = true;
    ir_node_truncate_inputs(n, 1);
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_depth_space(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    int64_t b = n->attrs.movement.blocksize;
    SD_TRY(shape_expect_rank(c, n, 0, 4, 4));
    if (b < 1)
        return shape_error(c, n, SD_EBADMODEL, "blocksize %lld must be positive", (long long)b);
    IrShape s = x->shape;
    if (n->op == IR_OP_DEPTH_TO_SPACE) {
        if (s.dims[1] % (b * b))
            return shape_error(c, n, SD_ESHAPE, "channels %lld are not a multiple of blocksize^2 = %lld",
                               (long long)s.dims[1], (long long)(b * b));
        s.dims[1] /= b * b, s.dims[2] *= b, s.dims[3] *= b;
    } else {
        if (s.dims[2] % b || s.dims[3] % b)
            return shape_error(c, n, SD_ESHAPE, "height and width must be multiples of blocksize %lld", (long long)b);
        s.dims[1] *= b * b, s.dims[2] /= b, s.dims[3] /= b;
    }
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

static SdStatus shape_pad(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrMovementAttrs *a = &n->attrs.movement;
    int r = x->shape.rank;
    int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
    int np, na = r;
    SD_TRY(ints_input(c, n, 1, pads, 2 * IR_MAX_RANK, &np));
    for (int i = 0; i < r; i++)
        axes[i] = i;
    if (shape_has_input(n, 3))
        SD_TRY(ints_input(c, n, 3, axes, IR_MAX_RANK, &na));
    if (np != 2 * na)
        return shape_error(c, n, SD_EBADMODEL, "pads has %d values; %d are expected (2 per padded axis)", np, 2 * na);
    if (shape_has_input(n, 2)) {
        const IrValue *v = n->inputs[2];
        if (!ir_value_is_constant(v))
            return shape_error(c, n, SD_EUNSUPPORTED, "the pad value must be known at compile time");
        if (ir_value_numel(v) > 1)
            return shape_error(c, n, SD_EBADMODEL, "the pad value must be a scalar");
        if (ir_value_numel(v) == 1) {
            switch (v->dtype) {
            case SD_DT_F32: a->pad_value = *(const float *)v->data; break;
            case SD_DT_I64: a->pad_value = (double)*(const int64_t *)v->data; break;
            case SD_DT_I32: a->pad_value = *(const int32_t *)v->data; break;
            case SD_DT_BOOL: case SD_DT_U8: a->pad_value = *(const uint8_t *)v->data; break;
            case SD_DT_I8: a->pad_value = *(const int8_t *)v->data; break;
            default: return shape_error(c, n, SD_EUNSUPPORTED, "pad value of type %s", sd_dtype_name(v->dtype));
            }
        }
    }
    memset(a->pads, 0, sizeof a->pads);
    for (int i = 0; i < na; i++) {
        int64_t ax;
        SD_TRY(shape_axis(c, n, axes[i], r, &ax));
        a->pads[ax] = pads[i];
        a->pads[r + ax] = pads[na + i];
    }
    IrShape s = x->shape;
    for (int i = 0; i < r; i++) {
        s.dims[i] += a->pads[i] + a->pads[r + i];
        if (s.dims[i] < 0)
            return shape_error(c, n, SD_ESHAPE, "padding makes dimension %d negative", i);
        if (a->pad_mode == IR_PADMODE_REFLECT && (a->pads[i] >= x->shape.dims[i] || a->pads[r + i] >= x->shape.dims[i]) &&
            x->shape.dims[i] > 1)
            return shape_error(c, n, SD_EBADMODEL, "reflect padding of %lld on axis %d of size %lld",
                               (long long)(a->pads[i] > a->pads[r + i] ? a->pads[i] : a->pads[r + i]), i,
                               (long long)x->shape.dims[i]);
    }
    a->n_axes = r;
    a->resolved = true;
    ir_node_truncate_inputs(n, 1);
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}

SdStatus shape_movement(ShapeCtx *c, IrNode *n)
{
    /* inferred before, its compile-time inputs read into the attributes and dropped (an ONNX model
     * imported into a training step is shaped at once, and the pipeline's shape pass meets it
     * again): its output keeps the shape it was given */
    if (n->attrs.movement.resolved && n->n_inputs == 1 && n->n_outputs == 1 && n->outputs[0]->has_shape)
        return SD_OK;
    switch (n->op) {
    case IR_OP_RESHAPE: return shape_reshape(c, n);
    case IR_OP_FLATTEN: return shape_flatten(c, n);
    case IR_OP_SQUEEZE: return shape_squeeze(c, n);
    case IR_OP_UNSQUEEZE: return shape_unsqueeze(c, n);
    case IR_OP_TRANSPOSE: return shape_transpose(c, n);
    case IR_OP_CONCAT: return shape_concat(c, n);
    case IR_OP_SPLIT: return shape_split(c, n);
    case IR_OP_SLICE: return shape_slice(c, n);
    case IR_OP_EXPAND: return shape_expand(c, n);
    case IR_OP_TILE: return shape_tile(c, n);
    case IR_OP_DEPTH_TO_SPACE: case IR_OP_SPACE_TO_DEPTH: return shape_depth_space(c, n);
    case IR_OP_PAD: return shape_pad(c, n);
    default: return shape_error(c, n, SD_EINTERNAL, "not a movement op");
    }
}
