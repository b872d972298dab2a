/* passes/quantize_bf16.c — the bf16 rewrites of passes/quantize.c: non-depthwise Conv and MatMul
 * with constant weights -> CONV_BF16 / MATMUL_BF16, a ReLU/Clip and a MatMul's bias folded in;
 * the 3x3 stride-1 convolutions Winograd's kernel takes stay f32 Convs, whose products code
 * generation computes in bf16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/winograd.h"
#include "passes/quantize_internal.h"
#include "support/mem.h"
#include "support/names.h"

/* ------------------------------------------------------------------------------------------ */
/* bf16                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Whether code generation computes convolution n by Winograd's F(2x2, 3x3) or F(4x4, 3x3) (which
 * codegen/lower/conv.c picks from the same sizes as in f32) with bf16 products (2-D,
 * the rule of ir/winograd.h, `winograd` not disabled): then it stays an f32 Conv, which code
 * generation lowers so, its weights' transforms packed as bf16 pairs. */
static bool winograd_bf16(const QCtx *c, const IrNode *n)
{
    const IrConvAttrs *a = &n->attrs.conv;
    const IrShape *w = &n->inputs[1]->shape, *y = &n->outputs[0]->shape;
    return !sd_name_listed(c->opt->disabled, "winograd") && a->nspatial == 2 && w->rank == 4 && y->rank == 4 &&
           ir_winograd_conv(a->groups, w->dims + 2, a->strides, a->dilations, w->dims[1], w->dims[0], y->dims[0],
                            y->dims[2], y->dims[3], true);
}

SdStatus pass_quant_bf16_conv(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *b = n->n_inputs > 2 ? n->inputs[2] : NULL, *y = n->outputs[0];
    const IrConvAttrs *ca = &n->attrs.conv;
    if (x->dtype != SD_DT_F32 || !pass_quant_const_f32(w) || (b && !pass_quant_const_f32(b)) || winograd_bf16(c, n))
        return SD_OK;
    const int64_t c_out = w->shape.dims[0];
    if (w->shape.dims[1] == 1 && ca->groups > 1)
        return SD_OK; /* depthwise: f32 */
    float lo = -INFINITY, hi = INFINITY;
    IrValue *z = y;
    IrNode *act = pass_quant_fusable_activation(c, y, &lo, &hi);
    if (act)
        z = act->outputs[0];
    IrQuantAttrs pa = {.out_dtype = SD_DT_BF16};
    pa.conv.groups = ca->groups;
    IrValue *wv = pass_quant_packed(c, w, &pa);
    if (!wv)
        return c->err->status;
    IrAttrs at = {.quant = {.conv = *ca, .channels = c_out, .lo = lo, .hi = hi, .out_dtype = SD_DT_F32}};
    IrValue *in[3] = {x, wv, b};
    IrNode *dead[2] = {act, n};
    OutPlan o = {0};
    return pass_quant_emit_result(c, IR_OP_CONV_BF16, n->name, in, b ? 3 : 2, &at, z, &o, dead, 2);
}

SdStatus pass_quant_bf16_matmul(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    if (x->dtype != SD_DT_F32 || !pass_quant_const_f32(w) || w->shape.rank != 2 || x->shape.rank < 2)
        return SD_OK;
    const int64_t K = w->shape.dims[0], N = w->shape.dims[1];
    IrValue *b = NULL, *z = y;
    IrNode *add = pass_quant_bias_add(c, y, N, &b);
    if (add)
        z = add->outputs[0];
    float lo = -INFINITY, hi = INFINITY;
    IrNode *act = pass_quant_fusable_activation(c, z, &lo, &hi);
    if (act)
        z = act->outputs[0];
    IrValue *bias = NULL;
    if (b) { /* as a flat [N] */
        IrShape s = ir_shape_make(1, &N);
        if (!(bias = pass_quant_constant(c, b->name, "flat", SD_DT_F32, &s, b->data)))
            return c->err->status;
    }
    IrQuantAttrs pa = {.out_dtype = SD_DT_BF16, .depth = K};
    IrValue *wv = pass_quant_packed(c, w, &pa);
    if (!wv)
        return c->err->status;
    IrAttrs at = {.quant = {.channels = N, .depth = K, .lo = lo, .hi = hi, .out_dtype = SD_DT_F32}};
    IrValue *in[3] = {x, wv, bias};
    IrNode *dead[3] = {act, add, n};
    OutPlan o = {0};
    return pass_quant_emit_result(c, IR_OP_MATMUL_BF16, n->name, in, bias ? 3 : 2, &at, z, &o, dead, 3);
}
