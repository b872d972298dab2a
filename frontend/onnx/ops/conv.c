/* frontend/onnx/ops/conv.c — Conv and ConvTranspose (every opset: the attributes did not change
 * meaning, kernel_shape became optional in practice). Attributes are copied as given; absent
 * strides and dilations stay 0 and the kernel stays 0 until shape inference fills them from the
 * input's rank and the weights, and resolves auto_pad into explicit pads. Also the shared reading
 * of window attributes that pool.c uses. */
#include <string.h>

#include "frontend/onnx/import.h"
#include "frontend/onnx/ops/window.h"

SdStatus onnx_window_auto_pad(OnnxCtx *c, IrAutoPad *out)
{
    char s[16];
    SD_TRY(onnx_attr_string(c, "auto_pad", "NOTSET", s, sizeof s));
    if (strcmp(s, "NOTSET") == 0 || s[0] == 0)
        *out = IR_PAD_NOTSET;
    else if (strcmp(s, "SAME_UPPER") == 0)
        *out = IR_PAD_SAME_UPPER;
    else if (strcmp(s, "SAME_LOWER") == 0)
        *out = IR_PAD_SAME_LOWER;
    else if (strcmp(s, "VALID") == 0)
        *out = IR_PAD_VALID;
    else
        return onnx_node_error(c, SD_EBADMODEL, "auto_pad '%s'; NOTSET, SAME_UPPER, SAME_LOWER or VALID is expected", s);
    return SD_OK;
}

SdStatus onnx_window_ints(OnnxCtx *c, const char *name, int per_dim, int64_t *out, int *nspatial)
{
    int64_t v[2 * IR_MAX_SPATIAL];
    int n;
    SD_TRY(onnx_attr_ints(c, name, v, 2 * IR_MAX_SPATIAL, &n));
    if (n <= 0)
        return SD_OK; /* absent (or empty): the default */
    int s = n / per_dim;
    if (n % per_dim != 0 || s > IR_MAX_SPATIAL)
        return onnx_node_error(c, SD_EBADMODEL, "attribute '%s' has %d values; %s per spatial dimension (1 to %d of them) are expected",
                               name, n, per_dim == 1 ? "one" : "two", IR_MAX_SPATIAL);
    if (*nspatial && *nspatial != s)
        return onnx_node_error(c, SD_EBADMODEL, "attribute '%s' describes %d spatial dimensions, other attributes %d",
                               name, s, *nspatial);
    *nspatial = s;
    memcpy(out, v, (size_t)n * sizeof *out);
    return SD_OK;
}

/* ConvTranspose's output_shape: the spatial sizes, or (as some exporters write it) the whole shape. */
static SdStatus read_output_shape(OnnxCtx *c, IrConvAttrs *a)
{
    int64_t v[IR_MAX_SPATIAL + 2];
    int n;
    SD_TRY(onnx_attr_ints(c, "output_shape", v, IR_MAX_SPATIAL + 2, &n));
    if (n <= 0)
        return SD_OK;
    int skip = (n > IR_MAX_SPATIAL || (a->nspatial && n == a->nspatial + 2)) ? 2 : 0;
    int s = n - skip;
    if (s < 1 || (a->nspatial && a->nspatial != s))
        return onnx_node_error(c, SD_EBADMODEL, "attribute 'output_shape' has %d values for %d spatial dimensions", n,
                               a->nspatial);
    a->nspatial = s;
    memcpy(a->output_shape, v + skip, (size_t)s * sizeof *v);
    a->has_output_shape = true;
    return SD_OK;
}

SdStatus onnx_import_conv(OnnxCtx *c)
{
    bool transpose = strcmp(c->node->op_type, "ConvTranspose") == 0;
    SD_TRY(onnx_expect_arity(c, 2, 3, 1, 1));
    IrConvAttrs a = {0};
    SD_TRY(onnx_window_ints(c, "kernel_shape", 1, a.kernel, &a.nspatial));
    SD_TRY(onnx_window_ints(c, "strides", 1, a.strides, &a.nspatial));
    SD_TRY(onnx_window_ints(c, "dilations", 1, a.dilations, &a.nspatial));
    SD_TRY(onnx_window_ints(c, "pads", 2, a.pads, &a.nspatial));
    SD_TRY(onnx_attr_int(c, "group", 1, &a.groups));
    SD_TRY(onnx_window_auto_pad(c, &a.auto_pad));
    if (transpose) {
        SD_TRY(onnx_window_ints(c, "output_padding", 1, a.output_padding, &a.nspatial));
        SD_TRY(read_output_shape(c, &a));
    }
    if (a.groups < 1)
        return onnx_node_error(c, SD_EBADMODEL, "group is %lld; at least 1 is expected", (long long)a.groups);
    IrNode *n = onnx_emit_same(c, transpose ? IR_OP_CONV_TRANSPOSE : IR_OP_CONV);
    if (!n)
        return c->err->status;
    n->attrs.conv = a;
    return SD_OK;
}
