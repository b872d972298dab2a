/* codegen/lower/movement.c — data movement as strided copies. Every op here reads its resolved
 * attributes (shape inference filled them) and becomes one or more rt_copy_strided calls; constant
 * pads add a fill, other pad modes use rt_pad_index. */
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/copy.h"
#include "runtime/kernels/loops.h"

SdStatus cg_lower_strided_copy(CgLowered *out, const IrNode *n, int rank, const int64_t *dims,
                               const int64_t *src_strides, int64_t src_offset, const int64_t *dst_strides,
                               int64_t dst_offset, size_t elem_size, int src, int dst, SdError *err)
{
    int64_t d[IR_MAX_RANK];
    int64_t s[2][IR_MAX_RANK];
    SD_ASSERT(rank <= IR_MAX_RANK);
    for (int i = 0; i < rank; i++) {
        d[i] = dims[i];
        s[0][i] = src_strides[i];
        s[1][i] = dst_strides[i];
        if (d[i] == 0)
            return SD_OK; /* nothing to move */
    }
    if (!cg_collapse_dims(rank, d, 2, s)) {
        /* Too many dims even after merging: peel the outermost one into separate copies. */
        char lb[200];
        int first = 0;
        while (dims[first] == 1)
            first++;
        if (dims[first] > 4096)
            return sd_errorf(err, SD_EUNSUPPORTED, "%s: the copy needs more than %d loop dimensions",
                             ir_node_label(n, lb, sizeof lb), RT_LOOP_RANK);
        for (int64_t i = 0; i < dims[first]; i++)
            SD_TRY(cg_lower_strided_copy(out, n, rank - first - 1, dims + first + 1, src_strides + first + 1,
                                         src_offset + i * src_strides[first], dst_strides + first + 1,
                                         dst_offset + i * dst_strides[first], elem_size, src, dst, err));
        return SD_OK;
    }
    RtCopyParams p = {0};
    memcpy(p.dims, d, sizeof p.dims);
    memcpy(p.src_strides, s[0], sizeof p.src_strides);
    memcpy(p.dst_strides, s[1], sizeof p.dst_strides);
    p.src_offset = src_offset;
    p.dst_offset = dst_offset;
    p.elem_size = (int32_t)elem_size;
    int bufs[2] = {src, dst};
    SD_TRY(cg_lowered_add(out, "rt_copy_strided", &p, sizeof p, 2, bufs, err));
    int64_t items = rt_outer_extent(p.dims);
    cg_lowered_split(out, "rt_copy_strided_range", items, (double)(items * p.dims[RT_LOOP_RANK - 1]));
    return SD_OK;
}

static SdStatus lower_transpose(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrMovementAttrs *a = &n->attrs.movement;
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK], src[IR_MAX_RANK];
    cg_contiguous_strides(&x->shape, xs);
    cg_contiguous_strides(&y->shape, ys);
    for (int i = 0; i < y->shape.rank; i++)
        src[i] = xs[a->n_perm ? a->perm[i] : y->shape.rank - 1 - i];
    return cg_lower_strided_copy(out, n, y->shape.rank, y->shape.dims, src, 0, ys, 0,
                                 sd_dtype_size(x->dtype), 0, cg_out(n, 0), err);
}

static SdStatus lower_concat(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *y = n->outputs[0];
    int64_t ys[IR_MAX_RANK];
    cg_contiguous_strides(&y->shape, ys);
    int64_t axis = n->attrs.movement.axis, offset = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const IrValue *x = n->inputs[k];
        int64_t xs[IR_MAX_RANK];
        cg_contiguous_strides(&x->shape, xs);
        SD_TRY(cg_lower_strided_copy(out, n, x->shape.rank, x->shape.dims, xs, 0, ys, offset * ys[axis],
                                     sd_dtype_size(x->dtype), k, cg_out(n, 0), err));
        offset += x->shape.dims[axis];
    }
    return SD_OK;
}

static SdStatus lower_split(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0];
    int64_t xs[IR_MAX_RANK];
    cg_contiguous_strides(&x->shape, xs);
    int64_t axis = n->attrs.movement.axis, offset = 0;
    for (int k = 0; k < n->n_outputs; k++) {
        const IrValue *y = n->outputs[k];
        int64_t ys[IR_MAX_RANK];
        cg_contiguous_strides(&y->shape, ys);
        SD_TRY(cg_lower_strided_copy(out, n, y->shape.rank, y->shape.dims, xs, offset * xs[axis], ys, 0,
                                     sd_dtype_size(x->dtype), 0, cg_out(n, k), err));
        offset += y->shape.dims[axis];
    }
    return SD_OK;
}

static SdStatus lower_slice(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrMovementAttrs *a = &n->attrs.movement;
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK], src[IR_MAX_RANK], offset = 0;
    cg_contiguous_strides(&x->shape, xs);
    cg_contiguous_strides(&y->shape, ys);
    for (int i = 0; i < x->shape.rank; i++) {
        src[i] = xs[i] * a->steps[i];
        offset += a->starts[i] * xs[i];
    }
    return cg_lower_strided_copy(out, n, y->shape.rank, y->shape.dims, src, offset, ys, 0,
                                 sd_dtype_size(x->dtype), 0, cg_out(n, 0), err);
}

static SdStatus lower_expand(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    int64_t ys[IR_MAX_RANK], src[IR_MAX_RANK];
    cg_contiguous_strides(&y->shape, ys);
    cg_broadcast_strides(&x->shape, &y->shape, src);
    return cg_lower_strided_copy(out, n, y->shape.rank, y->shape.dims, src, 0, ys, 0,
                                 sd_dtype_size(x->dtype), 0, cg_out(n, 0), err);
}

/* Tile as a copy over (repeat, dim) pairs: repeat index strides through the output only. */
static SdStatus lower_tile(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    int r = x->shape.rank;
    char lb[200];
    if (2 * r > IR_MAX_RANK) {
        /* Tile each axis in turn would need temporaries; wide ranks do not occur in vision models. */
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: Tile of a rank-%d tensor is not supported (at most %d)",
                         ir_node_label(n, lb, sizeof lb), r, IR_MAX_RANK / 2);
    }
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK], dims[IR_MAX_RANK], src[IR_MAX_RANK], dst[IR_MAX_RANK];
    cg_contiguous_strides(&x->shape, xs);
    cg_contiguous_strides(&y->shape, ys);
    for (int i = 0; i < r; i++) {
        dims[2 * i] = n->attrs.movement.shape[i];
        dims[2 * i + 1] = x->shape.dims[i];
        src[2 * i] = 0;
        src[2 * i + 1] = xs[i];
        dst[2 * i] = x->shape.dims[i] * ys[i];
        dst[2 * i + 1] = ys[i];
    }
    return cg_lower_strided_copy(out, n, 2 * r, dims, src, 0, dst, 0, sd_dtype_size(x->dtype), 0,
                                 cg_out(n, 0), err);
}

/* DEPTH_TO_SPACE / SPACE_TO_DEPTH as one rank-6 copy over [N, C', H, b, W, b]. */
static SdStatus lower_depth_space(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0];
    const IrMovementAttrs *a = &n->attrs.movement;
    int64_t b = a->blocksize;
    bool d2s = n->op == IR_OP_DEPTH_TO_SPACE;
    /* the space-side (big spatial) and depth-side (many channel) shapes */
    const IrShape *sp = d2s ? &n->outputs[0]->shape : &x->shape;
    int64_t N = sp->dims[0], C = sp->dims[1], H = sp->dims[2] / b, W = sp->dims[3] / b;
    int64_t dims[6] = {N, C, H, b, W, b};
    int64_t space[6] = {C * H * b * W * b, H * b * W * b, b * W * b, W * b, b, 1};
    int64_t depth[6];
    depth[0] = C * b * b * H * W;
    depth[2] = W;
    depth[4] = 1;
    if (a->crd) { /* channel index c*b*b + b1*b + b2 */
        depth[1] = b * b * H * W, depth[3] = b * H * W, depth[5] = H * W;
    } else {      /* DCR: (b1*b + b2)*C + c */
        depth[1] = H * W, depth[3] = b * C * H * W, depth[5] = C * H * W;
    }
    if (d2s)
        return cg_lower_strided_copy(out, n, 6, dims, depth, 0, space, 0, sd_dtype_size(x->dtype), 0,
                                     cg_out(n, 0), err);
    return cg_lower_strided_copy(out, n, 6, dims, space, 0, depth, 0, sd_dtype_size(x->dtype), 0,
                                 cg_out(n, 0), err);
}

static SdStatus lower_pad(const IrNode *n, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrMovementAttrs *a = &n->attrs.movement;
    int r = x->shape.rank;
    size_t es = sd_dtype_size(x->dtype);
    char lb[200];
    if (a->pad_mode != IR_PADMODE_CONSTANT) {
        if (r > RT_LOOP_RANK)
            return sd_errorf(err, SD_EUNSUPPORTED, "%s: padding a rank-%d tensor is not supported",
                             ir_node_label(n, lb, sizeof lb), r);
        if (ir_value_numel(x) == 0)
            return sd_errorf(err, SD_EUNSUPPORTED, "%s: reflect/edge/wrap padding of an empty tensor",
                             ir_node_label(n, lb, sizeof lb));
        RtPadParams p = {.rank = r, .elem_size = (int32_t)es,
                         .mode = a->pad_mode == IR_PADMODE_REFLECT ? 1 : a->pad_mode == IR_PADMODE_EDGE ? 2 : 3};
        int off = RT_LOOP_RANK - r;
        for (int i = 0; i < RT_LOOP_RANK; i++) {
            p.in_dims[i] = i < off ? 1 : x->shape.dims[i - off];
            p.out_dims[i] = i < off ? 1 : y->shape.dims[i - off];
            p.pad_begin[i] = i < off ? 0 : a->pads[i - off];
        }
        int bufs[2] = {0, cg_out(n, 0)};
        return cg_lowered_add(out, "rt_pad_index", &p, sizeof p, 2, bufs, err);
    }
    /* constant: fill, then copy the part of the input that survives (negative pads crop) */
    RtFillParams f = {.n = ir_value_numel(y), .elem_size = (int32_t)es};
    if (x->dtype == SD_DT_F32) {
        float v = (float)a->pad_value;
        memcpy(f.value, &v, 4);
    } else if (x->dtype == SD_DT_I64) {
        int64_t v = (int64_t)a->pad_value;
        memcpy(f.value, &v, 8);
    } else if (x->dtype == SD_DT_I32) {
        int32_t v = (int32_t)a->pad_value;
        memcpy(f.value, &v, 4);
    } else if (es == 1) {
        f.value[0] = (uint8_t)(int)a->pad_value;
    } else if (a->pad_value != 0) {
        return cg_unsupported_dtype(n, x, err);
    }
    int fb[1] = {cg_out(n, 0)};
    SD_TRY(cg_lowered_add(out, "rt_fill", &f, sizeof f, 1, fb, err));
    int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK], dims[IR_MAX_RANK], src_off = 0, dst_off = 0;
    cg_contiguous_strides(&x->shape, xs);
    cg_contiguous_strides(&y->shape, ys);
    for (int i = 0; i < r; i++) {
        int64_t begin = a->pads[i], end = a->pads[r + i];
        int64_t lo = begin < 0 ? -begin : 0, hi = end < 0 ? -end : 0;
        dims[i] = x->shape.dims[i] - lo - hi;
        if (dims[i] <= 0)
            return SD_OK;
        src_off += lo * xs[i];
        dst_off += (begin > 0 ? begin : 0) * ys[i];
    }
    return cg_lower_strided_copy(out, n, r, dims, xs, src_off, ys, dst_off, es, 0, cg_out(n, 0), err);
}

SdStatus cg_lower_movement(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrValue *x = n->inputs[0];
    switch (n->op) {
    case IR_OP_RESHAPE: case IR_OP_FLATTEN: case IR_OP_SQUEEZE: case IR_OP_UNSQUEEZE:
        return cg_lower_flat_copy(out, ir_value_numel(x), sd_dtype_size(x->dtype), 0, cg_out(n, 0), err);
    case IR_OP_TRANSPOSE: return lower_transpose(n, out, err);
    case IR_OP_CONCAT: return lower_concat(n, out, err);
    case IR_OP_SPLIT: return lower_split(n, out, err);
    case IR_OP_SLICE: return lower_slice(n, out, err);
    case IR_OP_EXPAND: return lower_expand(n, out, err);
    case IR_OP_TILE: return lower_tile(n, out, err);
    case IR_OP_DEPTH_TO_SPACE: case IR_OP_SPACE_TO_DEPTH: return lower_depth_space(n, out, err);
    case IR_OP_PAD: return lower_pad(n, out, err);
    default: break;
    }
    char lb[200];
    return sd_errorf(err, SD_EINTERNAL, "%s is not a movement op", ir_node_label(n, lb, sizeof lb));
}
