/* frontend/onnx/attrs.c — typed attribute access for translators. A wrong attribute type or an
 * out-of-range list is a malformed model: the message names the node and the attribute. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frontend/onnx/import.h"

SdStatus onnx_node_error(OnnxCtx *c, SdStatus st, const char *fmt, ...)
{
    char msg[SD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = c->node->name && c->node->name[0] ? c->node->name : "";
    if (name[0])
        return sd_errorf(c->err, st, "%s: node '%s' (%s): %s", c->file->path, name, c->node->op_type, msg);
    return sd_errorf(c->err, st, "%s: node producing '%s' (%s): %s", c->file->path,
                     c->node->n_output ? c->node->output[0] : "?", c->node->op_type, msg);
}

const Onnx__AttributeProto *onnx_attr(const OnnxCtx *c, const char *name)
{
    for (size_t i = 0; i < c->node->n_attribute; i++) {
        const Onnx__AttributeProto *a = c->node->attribute[i];
        if (a && a->name && strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

static SdStatus wrong_type(OnnxCtx *c, const char *name, const char *want)
{
    return onnx_node_error(c, SD_EBADMODEL, "attribute '%s' must be %s", name, want);
}

/* ref_attr_name only appears inside function bodies, which seedc does not import. */
static SdStatus check_not_ref(OnnxCtx *c, const Onnx__AttributeProto *a)
{
    if (a->ref_attr_name && a->ref_attr_name[0])
        return onnx_node_error(c, SD_EUNSUPPORTED, "attribute '%s' refers to a function attribute", a->name);
    return SD_OK;
}

SdStatus onnx_attr_int(OnnxCtx *c, const char *name, int64_t dflt, int64_t *out)
{
    const Onnx__AttributeProto *a = onnx_attr(c, name);
    *out = dflt;
    if (!a)
        return SD_OK;
    SD_TRY(check_not_ref(c, a));
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        return wrong_type(c, name, "an integer");
    *out = a->i;
    return SD_OK;
}

SdStatus onnx_attr_float(OnnxCtx *c, const char *name, float dflt, float *out)
{
    const Onnx__AttributeProto *a = onnx_attr(c, name);
    *out = dflt;
    if (!a)
        return SD_OK;
    SD_TRY(check_not_ref(c, a));
    if (a->has_type && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) {
        *out = (float)a->i; /* some exporters write integral floats as ints */
        return SD_OK;
    }
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
        return wrong_type(c, name, "a float");
    *out = a->f;
    return SD_OK;
}

SdStatus onnx_attr_ints(OnnxCtx *c, const char *name, int64_t *out, int max, int *count)
{
    const Onnx__AttributeProto *a = onnx_attr(c, name);
    *count = -1;
    if (!a)
        return SD_OK;
    SD_TRY(check_not_ref(c, a));
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
        return wrong_type(c, name, "a list of integers");
    if (a->n_ints > (size_t)max)
        return onnx_node_error(c, SD_EBADMODEL, "attribute '%s' has %zu values; at most %d are expected", name,
                               a->n_ints, max);
    memcpy(out, a->ints, a->n_ints * sizeof *out);
    *count = (int)a->n_ints;
    return SD_OK;
}

SdStatus onnx_attr_floats(OnnxCtx *c, const char *name, float *out, int max, int *count)
{
    const Onnx__AttributeProto *a = onnx_attr(c, name);
    *count = -1;
    if (!a)
        return SD_OK;
    SD_TRY(check_not_ref(c, a));
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
        return wrong_type(c, name, "a list of floats");
    if (a->n_floats > (size_t)max)
        return onnx_node_error(c, SD_EBADMODEL, "attribute '%s' has %zu values; at most %d are expected", name,
                               a->n_floats, max);
    memcpy(out, a->floats, a->n_floats * sizeof *out);
    *count = (int)a->n_floats;
    return SD_OK;
}

SdStatus onnx_attr_string(OnnxCtx *c, const char *name, const char *dflt, char *out, size_t size)
{
    const Onnx__AttributeProto *a = onnx_attr(c, name);
    snprintf(out, size, "%s", dflt);
    if (!a)
        return SD_OK;
    SD_TRY(check_not_ref(c, a));
    if ((a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) || !a->has_s)
        return wrong_type(c, name, "a string");
    if (a->s.len >= size)
        return onnx_node_error(c, SD_EBADMODEL, "attribute '%s' is longer than %zu bytes", name, size - 1);
    memcpy(out, a->s.data, a->s.len);
    out[a->s.len] = 0;
    return SD_OK;
}

SdStatus onnx_expect_arity(OnnxCtx *c, int min_in, int max_in, int min_out, int max_out)
{
    if (c->n_in < min_in || c->n_in > max_in)
        return onnx_node_error(c, SD_EBADMODEL, "has %d inputs; %d to %d are expected", c->n_in, min_in, max_in);
    for (int i = 0; i < min_in; i++)
        if (!c->in[i])
            return onnx_node_error(c, SD_EBADMODEL, "required input %d is empty", i);
    if (c->n_out < min_out || c->n_out > max_out)
        return onnx_node_error(c, SD_EBADMODEL, "has %d outputs; %d to %d are expected", c->n_out, min_out, max_out);
    return SD_OK;
}

IrNode *onnx_emit(OnnxCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, IrValue *const *outputs, int n_outputs)
{
    const char *name = c->node->name && c->node->name[0] ? c->node->name : c->node->output[0];
    IrNode *n = ir_node_new(c->g, op, name, inputs, n_inputs, outputs, n_outputs);
    if (!n)
        onnx_node_error(c, SD_ENOMEM, "out of memory");
    return n;
}

IrNode *onnx_emit_same(OnnxCtx *c, IrOp op) { return onnx_emit(c, op, c->in, c->n_in, c->out, c->n_out); }

IrValue *onnx_temp(OnnxCtx *c, const char *suffix, SdDType dt)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s", c->node->n_output ? c->node->output[0] : "t", suffix);
    IrValue *v = ir_value_new(c->g, name, dt, NULL);
    if (!v)
        onnx_node_error(c, SD_ENOMEM, "out of memory");
    return v;
}

IrValue *onnx_const_ints(OnnxCtx *c, const char *suffix, const int64_t *v, int n)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s", c->node->n_output ? c->node->output[0] : "t", suffix);
    IrShape s = ir_shape_make(1, (int64_t[]){n});
    return ir_constant_new(c->g, name, SD_DT_I64, &s, v, c->err);
}

IrValue *onnx_const_scalar_f32(OnnxCtx *c, const char *suffix, float v)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s", c->node->n_output ? c->node->output[0] : "t", suffix);
    IrShape s = ir_shape_make(0, NULL);
    return ir_constant_new(c->g, name, SD_DT_F32, &s, &v, c->err);
}
