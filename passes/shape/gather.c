/* passes/shape/gather.c — Gather: data[:axis] + indices + data[axis+1:]; GatherElements: the
 * indices' shape; GatherGrad: the data's shape. */
#include "passes/shape/shape.h"

/* GATHER_GRAD (dy, indices, data): data only lends its shape; dy must be what the forward
 * Gather (GatherElements with `elements`) of data at these indices outputs. */
static SdStatus shape_gather_grad(ShapeCtx *c, IrNode *n)
{
    const IrValue *dy = n->inputs[0], *idx = n->inputs[1], *x = n->inputs[2];
    SD_TRY(shape_expect_dtype(c, n, 0, SD_DT_F32));
    if (idx->dtype != SD_DT_I64 && idx->dtype != SD_DT_I32)
        return shape_error(c, n, SD_EDTYPE, "indices '%s' are %s; i64 or i32 is expected", idx->name,
                           sd_dtype_name(idx->dtype));
    int r = x->shape.rank;
    if (r < 1)
        return shape_error(c, n, SD_ESHAPE, "data '%s' must have rank 1 or more", x->name);
    int64_t axis;
    SD_TRY(shape_axis(c, n, n->attrs.gather.axis, r, &axis));
    n->attrs.gather.axis = axis;
    IrShape want = {0};
    if (n->attrs.gather.elements) {
        want = idx->shape;
        bool ok = idx->shape.rank == r;
        for (int i = 0; i < r && ok; i++)
            ok = i == axis || idx->shape.dims[i] <= x->shape.dims[i];
        if (!ok)
            return shape_error(c, n, SD_ESHAPE, "indices do not fit data '%s'", x->name);
    } else {
        if (r - 1 + idx->shape.rank > IR_MAX_RANK)
            return shape_error(c, n, SD_EUNSUPPORTED, "the gradient would have rank above %d", IR_MAX_RANK);
        for (int i = 0; i < axis; i++)
            want.dims[want.rank++] = x->shape.dims[i];
        for (int i = 0; i < idx->shape.rank; i++)
            want.dims[want.rank++] = idx->shape.dims[i];
        for (int i = (int)axis + 1; i < r; i++)
            want.dims[want.rank++] = x->shape.dims[i];
    }
    if (!ir_shape_equal(&dy->shape, &want)) {
        char sa[128], sb[128];
        return shape_error(c, n, SD_ESHAPE, "dy '%s' has shape %s; the gather's output shape %s is expected", dy->name,
                           ir_shape_str(&dy->shape, sa, sizeof sa), ir_shape_str(&want, sb, sizeof sb));
    }
    shape_set(n, 0, SD_DT_F32, &x->shape);
    return SD_OK;
}

SdStatus shape_gather(ShapeCtx *c, IrNode *n)
{
    if (n->op == IR_OP_GATHER_GRAD)
        return shape_gather_grad(c, n);
    const IrValue *x = n->inputs[0], *idx = n->inputs[1];
    if (idx->dtype != SD_DT_I64 && idx->dtype != SD_DT_I32)
        return shape_error(c, n, SD_EDTYPE, "indices '%s' are %s; i64 or i32 is expected", idx->name,
                           sd_dtype_name(idx->dtype));
    int r = x->shape.rank;
    if (r < 1)
        return shape_error(c, n, SD_ESHAPE, "data '%s' must have rank 1 or more", x->name);
    int64_t axis;
    SD_TRY(shape_axis(c, n, n->attrs.gather.axis, r, &axis));
    n->attrs.gather.axis = axis;
    IrShape s = {0};
    if (n->op == IR_OP_GATHER_ELEMENTS) {
        if (idx->shape.rank != r)
            return shape_error(c, n, SD_ESHAPE, "indices must have the data's rank %d", r);
        for (int i = 0; i < r; i++) /* the kernel reads data at the indices' coordinates off the axis */
            if (i != axis && idx->shape.dims[i] > x->shape.dims[i])
                return shape_error(c, n, SD_ESHAPE, "indices dimension %d is %lld, larger than the data's %lld", i,
                                   (long long)idx->shape.dims[i], (long long)x->shape.dims[i]);
        s = idx->shape;
    } else {
        if (r - 1 + idx->shape.rank > IR_MAX_RANK)
            return shape_error(c, n, SD_EUNSUPPORTED, "the output would have rank above %d", IR_MAX_RANK);
        for (int i = 0; i < axis; i++)
            s.dims[s.rank++] = x->shape.dims[i];
        for (int i = 0; i < idx->shape.rank; i++)
            s.dims[s.rank++] = idx->shape.dims[i];
        for (int i = (int)axis + 1; i < r; i++)
            s.dims[s.rank++] = x->shape.dims[i];
    }
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}
