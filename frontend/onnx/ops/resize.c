/* frontend/onnx/ops/resize.c — Resize (opsets 10-19+) and Upsample (1-9). Every form becomes one
 * RESIZE node reading [X, roi, scales, sizes] (absent ones NULL); scales that older opsets carried
 * as attributes become a constant input. Resize-10 and Upsample map coordinates asymmetrically
 * (x_in = x_out / scale) and pick nearest pixels the "simple" way (floor when an axis grows, ceil
 * when it shrinks, as ONNX Runtime does); Resize 11+ says everything with attributes. */
#include <stdio.h>
#include <string.h>

#include "frontend/onnx/import.h"

static SdStatus parse_mode(OnnxCtx *c, IrResizeMode *mode)
{
    char s[16];
    SD_TRY(onnx_attr_string(c, "mode", "nearest", s, sizeof s));
    if (strcmp(s, "nearest") == 0)
        *mode = IR_RESIZE_NEAREST;
    else if (strcmp(s, "linear") == 0 || strcmp(s, "bilinear") == 0 || strcmp(s, "trilinear") == 0)
        *mode = IR_RESIZE_LINEAR;
    else if (strcmp(s, "cubic") == 0 && strcmp(c->node->op_type, "Resize") == 0 && c->opset >= 11)
        *mode = IR_RESIZE_CUBIC;
    else
        return onnx_node_error(c, SD_EBADMODEL, "mode '%s'; nearest, linear%s is expected", s,
                               c->opset >= 11 ? " or cubic" : "");
    return SD_OK;
}

static IrValue *const_floats(OnnxCtx *c, const char *suffix, const float *v, int n)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s", c->node->n_output ? c->node->output[0] : "t", suffix);
    IrShape s = ir_shape_make(1, (int64_t[]){n});
    return ir_constant_new(c->g, name, SD_DT_F32, &s, v, c->err);
}

/* Upsample, and Resize-10: [X, scales] or scales as an attribute. */
static SdStatus import_simple(OnnxCtx *c, bool resize)
{
    IrResizeMode mode;
    SD_TRY(parse_mode(c, &mode));
    IrValue *scales = NULL;
    if (resize || c->opset >= 9) {
        SD_TRY(onnx_expect_arity(c, 2, 2, 1, 1));
        scales = c->in[1];
    } else {
        SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
        float v[IR_MAX_RANK];
        int n;
        if (c->opset >= 7) {
            SD_TRY(onnx_attr_floats(c, "scales", v, IR_MAX_RANK, &n));
            if (n < 0)
                return onnx_node_error(c, SD_EBADMODEL, "attribute 'scales' is missing");
        } else { /* Upsample-1: 4-D only, two attributes */
            float h, w;
            SD_TRY(onnx_attr_float(c, "height_scale", 0.0f, &h));
            SD_TRY(onnx_attr_float(c, "width_scale", 0.0f, &w));
            if (!onnx_attr(c, "height_scale") || !onnx_attr(c, "width_scale"))
                return onnx_node_error(c, SD_EBADMODEL, "attributes 'height_scale' and 'width_scale' are required");
            n = 4;
            v[0] = v[1] = 1.0f, v[2] = h, v[3] = w;
        }
        if (!(scales = const_floats(c, "scales", v, n)))
            return c->err->status;
    }
    IrValue *ins[3] = {c->in[0], NULL, scales};
    IrNode *node = onnx_emit(c, IR_OP_RESIZE, ins, 3, c->out, 1);
    if (!node)
        return c->err->status;
    IrResizeAttrs *a = &node->attrs.resize;
    a->mode = mode;
    a->coord = IR_COORD_ASYMMETRIC;
    a->nearest = IR_NEAREST_SIMPLE;
    a->cubic_coeff_a = -0.75f;
    return SD_OK;
}

typedef struct {
    const char *name;
    int value;
} Spelling;

static SdStatus parse_enum(OnnxCtx *c, const char *attr, const char *dflt, const Spelling *table, int n, int *out)
{
    char s[32];
    SD_TRY(onnx_attr_string(c, attr, dflt, s, sizeof s));
    for (int i = 0; i < n; i++)
        if (strcmp(s, table[i].name) == 0) {
            *out = table[i].value;
            return SD_OK;
        }
    return onnx_node_error(c, SD_EBADMODEL, "%s '%s' is not one ONNX defines", attr, s);
}

static const Spelling coords[] = {
    {"half_pixel", IR_COORD_HALF_PIXEL},
    {"half_pixel_symmetric", IR_COORD_HALF_PIXEL_SYMMETRIC},
    {"pytorch_half_pixel", IR_COORD_PYTORCH_HALF_PIXEL},
    {"align_corners", IR_COORD_ALIGN_CORNERS},
    {"asymmetric", IR_COORD_ASYMMETRIC},
    {"tf_crop_and_resize", IR_COORD_TF_CROP_AND_RESIZE},
    {"tf_half_pixel_for_nn", IR_COORD_TF_HALF_PIXEL_FOR_NN},
};
static const Spelling nearest_modes[] = {
    {"round_prefer_floor", IR_NEAREST_ROUND_PREFER_FLOOR},
    {"round_prefer_ceil", IR_NEAREST_ROUND_PREFER_CEIL},
    {"floor", IR_NEAREST_FLOOR},
    {"ceil", IR_NEAREST_CEIL},
};
static const Spelling aspects[] = {
    {"stretch", IR_ASPECT_STRETCH},
    {"not_larger", IR_ASPECT_NOT_LARGER},
    {"not_smaller", IR_ASPECT_NOT_SMALLER},
};

SdStatus onnx_import_resize(OnnxCtx *c)
{
    bool resize = strcmp(c->node->op_type, "Resize") == 0;
    if (!resize || c->opset < 11)
        return import_simple(c, resize);

    SD_TRY(onnx_expect_arity(c, 1, 4, 1, 1));
    IrResizeMode mode;
    int coord = 0, nearest = 0, aspect = 0;
    float cubic_a, extrapolation;
    int64_t exclude, antialias;
    SD_TRY(parse_mode(c, &mode));
    SD_TRY(parse_enum(c, "coordinate_transformation_mode", "half_pixel", coords, sizeof coords / sizeof coords[0], &coord));
    SD_TRY(parse_enum(c, "nearest_mode", "round_prefer_floor", nearest_modes,
                      sizeof nearest_modes / sizeof nearest_modes[0], &nearest));
    SD_TRY(parse_enum(c, "keep_aspect_ratio_policy", "stretch", aspects, sizeof aspects / sizeof aspects[0], &aspect));
    SD_TRY(onnx_attr_float(c, "cubic_coeff_a", -0.75f, &cubic_a));
    SD_TRY(onnx_attr_float(c, "extrapolation_value", 0.0f, &extrapolation));
    SD_TRY(onnx_attr_int(c, "exclude_outside", 0, &exclude));
    SD_TRY(onnx_attr_int(c, "antialias", 0, &antialias));
    int64_t axes[IR_MAX_RANK];
    int n_axes;
    SD_TRY(onnx_attr_ints(c, "axes", axes, IR_MAX_RANK, &n_axes));

    IrNode *n = onnx_emit_same(c, IR_OP_RESIZE);
    if (!n)
        return c->err->status;
    IrResizeAttrs *a = &n->attrs.resize;
    a->mode = mode;
    a->coord = (IrResizeCoord)coord;
    a->nearest = (IrResizeNearest)nearest;
    a->aspect = (IrResizeAspect)aspect;
    a->cubic_coeff_a = cubic_a;
    a->extrapolation_value = extrapolation;
    a->exclude_outside = exclude != 0;
    a->antialias = antialias != 0;
    if (n_axes > 0) {
        a->n_axes = n_axes;
        memcpy(a->axes, axes, (size_t)n_axes * sizeof axes[0]);
    }
    return SD_OK;
}
