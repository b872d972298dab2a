/* passes/shape/resize.c — Resize. The compile-time inputs (roi, scales or sizes) are read into
 * per-input-dim attributes and dropped: afterwards scales[d] is the scale the coordinate mapping
 * uses along dim d (1 off the resized axes) and roi[d], roi[rank + d] its crop window. Output sizes
 * follow ONNX's reference: floor(in * scale) from scales, the sizes themselves from sizes, and with
 * a keep_aspect_ratio_policy one common scale and round(in * scale) along the given axes. */
#include <math.h>
#include <string.h>

#include "passes/shape/shape.h"

static bool given(const IrNode *n, int i) { return shape_has_input(n, i) && ir_value_numel(n->inputs[i]) > 0; }

static SdStatus resolve(ShapeCtx *c, IrNode *n, IrShape *out)
{
    const IrValue *x = n->inputs[0];
    IrResizeAttrs *a = &n->attrs.resize;
    const int r = x->shape.rank;
    int axes[IR_MAX_RANK];
    unsigned seen = 0;
    int n_axes = a->n_axes ? a->n_axes : r;
    for (int i = 0; i < n_axes; i++) {
        int64_t ax = i;
        if (a->n_axes)
            SD_TRY(shape_axis(c, n, a->axes[i], r, &ax));
        if (seen & (1u << ax))
            return shape_error(c, n, SD_EBADMODEL, "axis %lld is listed twice", (long long)a->axes[i]);
        seen |= 1u << ax;
        axes[i] = (int)ax;
        a->axes[i] = ax;
    }

    *out = x->shape;
    for (int d = 0; d < r; d++) {
        a->scales[d] = 1.0;
        a->roi[d] = 0.0f, a->roi[r + d] = 1.0f;
    }
    if (a->coord == IR_COORD_TF_CROP_AND_RESIZE) {
        if (!given(n, 1))
            return shape_error(c, n, SD_EBADMODEL, "coordinate_transformation_mode tf_crop_and_resize needs a roi input");
        float roi[2 * IR_MAX_RANK];
        int count;
        SD_TRY(shape_const_floats(c, n, 1, roi, 2 * IR_MAX_RANK, &count));
        if (count != 2 * n_axes)
            return shape_error(c, n, SD_EBADMODEL, "roi has %d values; 2 x %d (starts, then ends) are expected", count,
                               n_axes);
        for (int i = 0; i < n_axes; i++)
            a->roi[axes[i]] = roi[i], a->roi[r + axes[i]] = roi[n_axes + i];
    }

    bool has_scales = given(n, 2), has_sizes = given(n, 3);
    if (has_scales == has_sizes)
        return shape_error(c, n, SD_EBADMODEL, "%s", has_scales ? "both scales and sizes are given; one is expected"
                                                                : "neither scales nor sizes is given");
    if (has_scales) {
        float scales[IR_MAX_RANK];
        int count;
        SD_TRY(shape_const_floats(c, n, 2, scales, IR_MAX_RANK, &count));
        if (count != n_axes)
            return shape_error(c, n, SD_EBADMODEL, "scales has %d values; %d are expected", count, n_axes);
        for (int i = 0; i < n_axes; i++) {
            if (!(scales[i] > 0) || !isfinite(scales[i]))
                return shape_error(c, n, SD_EBADMODEL, "scale %d is %g; a positive number is expected", i, scales[i]);
            int d = axes[i];
            a->scales[d] = scales[i];
            double size = floor(a->scales[d] * (double)x->shape.dims[d]);
            if (size > (double)((int64_t)1 << 40))
                return shape_error(c, n, SD_ESHAPE, "scale %g makes dimension %d too large", scales[i], d);
            out->dims[d] = (int64_t)size;
        }
        return SD_OK;
    }
    int64_t sizes[IR_MAX_RANK];
    int count;
    SD_TRY(shape_const_ints(c, n, 3, sizes, IR_MAX_RANK, &count));
    if (count != n_axes)
        return shape_error(c, n, SD_EBADMODEL, "sizes has %d values; %d are expected", count, n_axes);
    for (int i = 0; i < n_axes; i++) {
        int d = axes[i];
        if (sizes[i] < 0)
            return shape_error(c, n, SD_EBADMODEL, "size %d is %lld", i, (long long)sizes[i]);
        if (x->shape.dims[d] == 0 && sizes[i] != 0)
            return shape_error(c, n, SD_ESHAPE, "dimension %d is empty and cannot be resized to %lld", d,
                               (long long)sizes[i]);
        out->dims[d] = sizes[i];
        a->scales[d] = x->shape.dims[d] ? (double)sizes[i] / (double)x->shape.dims[d] : 1.0;
    }
    if (a->aspect != IR_ASPECT_STRETCH) {
        double s = a->scales[axes[0]];
        for (int i = 1; i < n_axes; i++) {
            double si = a->scales[axes[i]];
            s = a->aspect == IR_ASPECT_NOT_LARGER ? (si < s ? si : s) : (si > s ? si : s);
        }
        for (int i = 0; i < n_axes; i++) {
            int d = axes[i];
            a->scales[d] = s;
            out->dims[d] = (int64_t)(s * (double)x->shape.dims[d] + 0.5);
        }
    }
    return SD_OK; /* a size of 0 gives a scale of 0: the output is empty and nothing maps coordinates */
}

SdStatus shape_resize(ShapeCtx *c, IrNode *n)
{
    const IrValue *x = n->inputs[0];
    IrResizeAttrs *a = &n->attrs.resize;
    SD_TRY(shape_expect_rank(c, n, 0, 1, IR_MAX_RANK));
    if (a->mode != IR_RESIZE_NEAREST && x->dtype != SD_DT_F32)
        return shape_error(c, n, SD_EDTYPE, "input '%s' is %s; %s resizing takes f32 (nearest takes any type)",
                           x->name, sd_dtype_name(x->dtype), a->mode == IR_RESIZE_LINEAR ? "linear" : "cubic");
    if (a->antialias && a->mode == IR_RESIZE_NEAREST)
        return shape_error(c, n, SD_EBADMODEL, "antialias is defined for linear and cubic modes, not nearest");
    IrShape s;
    SD_TRY(resolve(c, n, &s));
    a->n_axes = 0; /* scales and roi now cover every dim */
    a->resolved = true;
    ir_node_truncate_inputs(n, 1);
    shape_set(n, 0, x->dtype, &s);
    return SD_OK;
}
