/* passes/shape/generate.c — Shape and Size become constants right here (they depend only on a
 * shape, which is known); ConstantOfShape and Range get their output sizes from constant inputs. */
#include <math.h>
#include <string.h>

#include "passes/shape/shape.h"
#include "support/mem.h"

static SdStatus replace_with_ints(ShapeCtx *c, IrNode *n, const int64_t *vals, int count, bool scalar)
{
    IrShape s = scalar ? ir_shape_make(0, NULL) : ir_shape_make(1, (int64_t[]){count});
    int64_t *data = sd_aligned_alloc((size_t)(count ? count : 1) * sizeof *data);
    if (!data)
        return shape_error(c, n, SD_ENOMEM, "out of memory");
    memcpy(data, vals, (size_t)count * sizeof *data);
    IrValue *out = n->outputs[0];
    shape_set(n, 0, SD_DT_I64, &s);
    ir_node_remove(c->g, n);
    out->role = IR_ROLE_TEMP;
    ir_value_adopt_data(out, data, (size_t)count * sizeof *data);
    return SD_OK;
}

static SdStatus range_size(ShapeCtx *c, IrNode *n, int64_t *count)
{
    for (int i = 0; i < 3; i++) {
        if (!ir_value_is_constant(n->inputs[i]))
            return shape_error(c, n, SD_EUNSUPPORTED, "Range needs compile-time start, limit and delta ('%s' is computed at run time)",
                               n->inputs[i]->name);
        if (ir_value_numel(n->inputs[i]) != 1)
            return shape_error(c, n, SD_EBADMODEL, "Range input '%s' must be a scalar", n->inputs[i]->name);
    }
    SD_TRY(shape_same_dtype(c, n, 0, 1));
    SD_TRY(shape_same_dtype(c, n, 0, 2));
    double v[3];
    for (int i = 0; i < 3; i++) {
        const IrValue *x = n->inputs[i];
        switch (x->dtype) {
        case SD_DT_F32: v[i] = *(const float *)x->data; break;
        case SD_DT_I64: v[i] = (double)*(const int64_t *)x->data; break;
        case SD_DT_I32: v[i] = *(const int32_t *)x->data; break;
        default: return shape_error(c, n, SD_EUNSUPPORTED, "Range of %s is not supported", sd_dtype_name(x->dtype));
        }
    }
    if (v[2] == 0)
        return shape_error(c, n, SD_EBADMODEL, "Range delta is zero");
    double len = ceil((v[1] - v[0]) / v[2]);
    if (!(len < 1e12))
        return shape_error(c, n, SD_ESHAPE, "Range would have %g elements", len);
    *count = len > 0 ? (int64_t)len : 0;
    return SD_OK;
}

SdStatus shape_generate(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    switch (n->op) {
    case IR_OP_SHAPE: {
        int r = x->shape.rank;
        IrGenerateAttrs *a = &n->attrs.generate;
        int64_t start = a->start < 0 ? a->start + r : a->start;
        int64_t end = a->has_end ? (a->end < 0 ? a->end + r : a->end) : r;
        start = start < 0 ? 0 : start > r ? r : start;
        end = end < 0 ? 0 : end > r ? r : end;
        int count = end > start ? (int)(end - start) : 0;
        return replace_with_ints(c, n, x->shape.dims + start, count, false);
    }
    case IR_OP_SIZE: {
        int64_t numel = ir_shape_numel(&x->shape);
        return replace_with_ints(c, n, &numel, 1, true);
    }
    case IR_OP_CONSTANT_OF_SHAPE: {
        int64_t dims[IR_MAX_RANK];
        int count;
        if (x->shape.rank != 1)
            return shape_error(c, n, SD_ESHAPE, "the shape input must be 1-D");
        SD_TRY(shape_const_ints(c, n, 0, dims, IR_MAX_RANK, &count));
        IrShape s = ir_shape_make(count, dims);
        SD_TRY(shape_check_size(c, n, &s));
        SdDType dt = n->attrs.generate.value_dtype ? n->attrs.generate.value_dtype : SD_DT_F32;
        if (sd_dtype_size(dt) == 0)
            return shape_error(c, n, SD_EUNSUPPORTED, "fill value of type %s is not supported", sd_dtype_name(dt));
        n->attrs.generate.value_dtype = dt;
        shape_set(n, 0, dt, &s);
        ir_node_truncate_inputs(n, 1);
        return SD_OK;
    }
    case IR_OP_RANGE: {
        int64_t count;
        SD_TRY(range_size(c, n, &count));
        IrShape s = ir_shape_make(1, &count);
        shape_set(n, 0, x->dtype, &s);
        return SD_OK;
    }
    default:
        return shape_error(c, n, SD_EINTERNAL, "not a generator op");
    }
}
