/* passes/quantize_bf16.c — the bf16 rewrites of passes/quantize.c: non-depthwise Conv and MatMul
 * with constant weights -> CONV_BF16 / MATMUL_BF16, a ReLU/Clip and a MatMul's bias folded in. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/quantize_internal.h"
#include "support/mem.h"

/* ------------------------------------------------------------------------------------------ */
/* bf16                                                                                        */
/* ------------------------------------------------------------------------------------------ */

SdStatus pass_quant_bf16_conv(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *b = n->n_inputs > 2 ? n->inputs[2] : NULL, *y = n->outputs[0];
    const IrConvAttrs *ca = &n->attrs.conv;
    if (x->dtype != SD_DT_F32 || !pass_quant_const_f32(w) || (b && !pass_quant_const_f32(b)))
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
