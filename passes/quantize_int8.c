/* passes/quantize_int8.c — the int8 rewrites of passes/quantize.c: Conv -> QCONV, MatMul -> QMATMUL,
 * Add -> QADD, pools and reshapes of u8 values kept in u8, and ONNX QLinearConv/QLinearMatMul. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/quantize_internal.h"
#include "support/mem.h"

/* ------------------------------------------------------------------------------------------ */
/* int8                                                                                        */

/* The constants of an int8 conv or matmul with `n_out` outputs of `per` weights each (weight k of
 * output j at w[j * out_stride + k * k_stride]): int8 weights, int32 biases with the input zero
 * point's share folded in, and per-output requantization multipliers. */
static SdStatus int8_weights(QCtx *c, IrValue *w, int64_t n_out, int64_t per, int64_t out_stride, int64_t k_stride,
                             QParams xp, const IrValue *b, const OutPlan *o, IrValue **wv, IrValue **bv, IrValue **mv)
{
    *wv = *bv = *mv = NULL;
    int8_t *wq = malloc((size_t)ir_value_numel(w));
    float *ws = malloc((size_t)n_out * sizeof *ws), *mult = malloc((size_t)n_out * sizeof *mult);
    int32_t *bias = malloc((size_t)n_out * sizeof *bias);
    SdStatus st = wq && ws && mult && bias ? SD_OK : sd_errorf(c->err, SD_ENOMEM, "out of memory");
    if (st == SD_OK)
        st = pass_quant_weights(c, w->data, n_out, per, out_stride, k_stride, c->q->per_tensor, wq, ws);
    for (int64_t j = 0; j < n_out && st == SD_OK; j++) {
        double acc_scale = (double)xp.scale * ws[j], sum = 0;
        for (int64_t k = 0; k < per; k++)
            sum += wq[j * out_stride + k * k_stride];
        double bq = b ? rint(((const float *)b->data)[j] / acc_scale) : 0.0;
        bias[j] = pass_quant_clamp_i32(bq - (double)xp.zp * sum);
        mult[j] = (float)(o->u8 ? acc_scale / o->p.scale : acc_scale);
    }
    if (st == SD_OK) {
        IrShape cs = ir_shape_make(1, &n_out);
        *wv = pass_quant_constant(c, w->name, "int8", SD_DT_I8, &w->shape, wq);
        *bv = pass_quant_constant(c, w->name, "bias_int32", SD_DT_I32, &cs, bias);
        *mv = pass_quant_constant(c, w->name, "multiplier", SD_DT_F32, &cs, mult);
        if (!*wv || !*bv || !*mv)
            st = c->err->status;
    }
    free(wq), free(ws), free(mult), free(bias);
    return st;
}

/* ------------------------------------------------------------------------------------------ */

SdStatus pass_quant_conv(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *b = n->n_inputs > 2 ? n->inputs[2] : NULL, *y = n->outputs[0];
    const IrConvAttrs *ca = &n->attrs.conv;
    if (x->dtype != SD_DT_F32 || !pass_quant_const_f32(w) || (b && !pass_quant_const_f32(b)))
        return SD_OK;
    const int64_t c_in = x->shape.dims[1], c_out = w->shape.dims[0], groups = ca->groups;
    const int64_t per = ir_value_numel(w) / c_out; /* inputs per group times kernel volume */
    bool depthwise = groups == c_in && groups == c_out && ca->nspatial <= 2 && per <= 49; /* exact in f32 */
    QParams xp;
    IrValue *qx = pass_quant_quantized(c, x, &xp);
    if (!qx)
        return c->err->status;
    float lo = -INFINITY, hi = INFINITY;
    IrValue *z = y;
    IrNode *act = pass_quant_fusable_activation(c, y, &lo, &hi);
    if (act)
        z = act->outputs[0];
    OutPlan o = pass_quant_plan_output(c, z, true);
    /* a SiLU or HardSwish whose result goes on in u8: the sums requantize to its input's u8 (y's
     * calibrated range) and a table maps those bytes to its output's, so that the network does not
     * leave u8 for it (EfficientNet-B0: 49 of them, each a dequantize, the activation and a
     * quantize in f32) */
    IrConvAct kind = IR_CONV_ACT_NONE;
    IrNode *sigmoid = NULL;
    IrNode *table = act || pass_disabled(c->opt, "qact") ? NULL : pass_quant_table_activation(c, y, &kind, &sigmoid);
    const PassQuantRange *yr = table ? pass_quant_range_of(c, y) : NULL;
    OutPlan to = table ? pass_quant_plan_output(c, table->outputs[0], true) : o;
    OutPlan yo = {.u8 = true};
    if (yr && to.u8) {
        yo.p = pass_quant_params_from_range(c, yr->lo, yr->hi);
        act = table, z = table->outputs[0], o = to;
    } else {
        kind = IR_CONV_ACT_NONE, sigmoid = NULL;
    }
    const OutPlan *req = kind != IR_CONV_ACT_NONE ? &yo : &o; /* what the sums requantize to */
    IrValue *wv, *bv, *mv;
    SD_TRY(int8_weights(c, w, c_out, per, per, 1, xp, b, req, &wv, &bv, &mv));
    IrQuantAttrs qa = {.conv = *ca, .channels = c_out, .x_zp = xp.zp, .out_dtype = o.u8 ? SD_DT_U8 : SD_DT_F32,
                       .lo = lo, .hi = hi, .qmin = 0, .qmax = 255};
    if (o.u8)
        qa.y_zp = req->p.zp, pass_quant_bounds(req->p, lo, hi, &qa.qmin, &qa.qmax);
    if (kind != IR_CONV_ACT_NONE)
        qa.act = kind, qa.act_in_scale = yo.p.scale, qa.act_out_scale = o.p.scale, qa.act_out_zp = o.p.zp;
    if (!depthwise) {
        IrQuantAttrs pa = {.out_dtype = SD_DT_I8};
        pa.conv.groups = groups;
        if (!(wv = pass_quant_packed(c, wv, &pa)))
            return c->err->status;
    }
    IrValue *in[4] = {qx, wv, bv, mv};
    IrAttrs at = {.quant = qa};
    IrNode *dead[3] = {act, sigmoid, n};
    return pass_quant_emit_result(c, IR_OP_QCONV, n->name, in, 4, &at, z, &o, dead, 3);
}


SdStatus pass_quant_matmul(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    if (x->dtype != SD_DT_F32 || !pass_quant_const_f32(w) || w->shape.rank != 2 || x->shape.rank < 2)
        return SD_OK;
    const int64_t K = w->shape.dims[0], N = w->shape.dims[1];
    QParams xp;
    IrValue *qx = pass_quant_quantized(c, x, &xp);
    if (!qx)
        return c->err->status;
    IrValue *b = NULL, *z = y;
    IrNode *add = pass_quant_bias_add(c, y, N, &b);
    if (add)
        z = add->outputs[0];
    float lo = -INFINITY, hi = INFINITY;
    IrNode *act = pass_quant_fusable_activation(c, z, &lo, &hi);
    if (act)
        z = act->outputs[0];
    OutPlan o = pass_quant_plan_output(c, z, true);
    IrValue *wv, *bv, *mv; /* per column: rows of the transposed view */
    SD_TRY(int8_weights(c, w, N, K, 1, N, xp, b, &o, &wv, &bv, &mv));
    IrQuantAttrs pa = {.out_dtype = SD_DT_I8, .depth = K};
    if (!(wv = pass_quant_packed(c, wv, &pa)))
        return c->err->status;
    IrQuantAttrs qa = {.channels = N, .depth = K, .x_zp = xp.zp, .out_dtype = o.u8 ? SD_DT_U8 : SD_DT_F32, .lo = lo,
                       .hi = hi, .qmin = 0, .qmax = 255};
    if (o.u8)
        qa.y_zp = o.p.zp, pass_quant_bounds(o.p, lo, hi, &qa.qmin, &qa.qmax);
    IrValue *in[4] = {qx, wv, bv, mv};
    IrAttrs at = {.quant = qa};
    IrNode *dead[3] = {act, add, n};
    return pass_quant_emit_result(c, IR_OP_QMATMUL, n->name, in, 4, &at, z, &o, dead, 3);
}

SdStatus pass_quant_add(QCtx *c, IrNode *n)
{
    IrValue *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    if (a->dtype != SD_DT_F32 || ir_value_is_constant(a) || ir_value_is_constant(b))
        return SD_OK;
    float lo = -INFINITY, hi = INFINITY;
    IrValue *z = y;
    IrNode *act = pass_quant_fusable_activation(c, y, &lo, &hi);
    if (act)
        z = act->outputs[0];
    OutPlan o = pass_quant_plan_output(c, z, false);
    if (!o.u8)
        return SD_OK;
    QParams ap, bp;
    IrValue *qa = pass_quant_quantized(c, a, &ap), *qb = qa ? pass_quant_quantized(c, b, &bp) : NULL;
    if (!qa || !qb)
        return c->err->status;
    IrAttrs at = {.quant = {.a_scale = ap.scale, .a_zp = ap.zp, .b_scale = bp.scale, .b_zp = bp.zp,
                            .y_scale = o.p.scale, .y_zp = o.p.zp}};
    pass_quant_bounds(o.p, lo, hi, &at.quant.qmin, &at.quant.qmax);
    IrValue *in[2] = {qa, qb};
    IrNode *dead[2] = {act, n};
    return pass_quant_emit_result(c, IR_OP_QADD, n->name, in, 2, &at, z, &o, dead, 2);
}

/* x * s per channel (pass_quant_channel_scale) whose result goes on in u8 -> QSCALE_CHANNELS, so a
 * squeeze-and-excitation block's gate does not take its input back to f32 and its product to u8
 * again (EfficientNet-B0's 16, MobileNetV3's 8) */
SdStatus pass_quant_scale_channels(QCtx *c, IrNode *n)
{
    IrValue *x, *s, *y = n->outputs[0];
    if (!pass_quant_channel_scale(n, &x, &s) || x == s)
        return SD_OK;
    OutPlan o = pass_quant_plan_output(c, y, false);
    if (!o.u8)
        return SD_OK;
    QParams xp;
    IrValue *qx = pass_quant_quantized(c, x, &xp);
    if (!qx)
        return c->err->status;
    IrAttrs at = {.quant = {.a_scale = xp.scale, .a_zp = xp.zp, .y_scale = o.p.scale, .y_zp = o.p.zp}};
    pass_quant_bounds(o.p, -INFINITY, INFINITY, &at.quant.qmin, &at.quant.qmax);
    IrValue *in[2] = {qx, s};
    IrNode *dead[1] = {n};
    return pass_quant_emit_result(c, IR_OP_QSCALE_CHANNELS, n->name, in, 2, &at, y, &o, dead, 1);
}

/* MaxPool, GlobalAveragePool, Reshape, Flatten of a value that already is u8 (a DQ's output). */
SdStatus pass_quant_passthrough(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *y = n->outputs[0], *qx;
    QParams xp;
    if (!pass_quant_grow(c, x->id))
        return sd_errorf(c->err, SD_ENOMEM, "out of memory");
    if (!c->quantized[x->id] && !pass_quant_is_u8_dq(x->producer, &qx, &xp))
        return SD_OK;
    if (n->op == IR_OP_MAX_POOL && n->n_outputs > 1)
        return SD_OK;
    if (!(qx = pass_quant_quantized(c, x, &xp)))
        return c->err->status;
    IrAttrs at = n->attrs;
    OutPlan o = {.u8 = true, .p = xp, .lo = (0 - xp.zp) * xp.scale, .hi = (255 - xp.zp) * xp.scale};
    IrOp op = n->op;
    if (op == IR_OP_GLOBAL_AVG_POOL) { /* the mean's own range, when known, resolves it better */
        op = IR_OP_QGLOBAL_AVG_POOL;
        const PassQuantRange *r = c->calibrated ? pass_quant_range_of(c, y) : NULL;
        if (r)
            o.p = pass_quant_params_from_range(c, r->lo, r->hi), o.lo = r->lo, o.hi = r->hi;
        memset(&at, 0, sizeof at);
        at.quant = (IrQuantAttrs){.a_scale = xp.scale, .a_zp = xp.zp, .y_scale = o.p.scale, .y_zp = o.p.zp,
                                  .qmin = 0, .qmax = 255};
    }
    IrValue *in[2] = {qx, NULL};
    int n_in = 1;
    if (op == IR_OP_RESHAPE) { /* the target shape again (shape inference dropped it): y's dims */
        IrShape s = ir_shape_make(1, (int64_t[]){y->shape.rank});
        if (!(in[1] = pass_quant_constant(c, y->name, "shape", SD_DT_I64, &s, y->shape.dims)))
            return c->err->status;
        at.movement.allowzero = true;
        n_in = 2;
    }
    return pass_quant_emit_result(c, op, n->name, in, n_in, &at, y, &o, &n, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* ONNX QLinearConv / QLinearMatMul with constant weights and parameters                        */
/* ------------------------------------------------------------------------------------------ */

/* Constant i32 values of a zero point (u8/i8, one or n of them) or f32 scales; false otherwise. */
static bool const_values(const IrValue *v, int64_t n, double *out)
{
    if (!v || !ir_value_is_constant(v))
        return false;
    int64_t k = ir_value_numel(v);
    if (k != 1 && k != n)
        return false;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = k == 1 ? 0 : i;
        switch (v->dtype) {
        case SD_DT_F32: out[i] = ((const float *)v->data)[j]; break;
        case SD_DT_U8: out[i] = ((const uint8_t *)v->data)[j]; break;
        case SD_DT_I8: out[i] = ((const int8_t *)v->data)[j]; break;
        default: return false;
        }
    }
    return true;
}

/* QLinearConv (x u8 and every parameter constant) -> QCONV, and QLinearMatMul with a constant 2-D
 * b and per-tensor a -> QMATMUL: weights minus their zero points as i8 (when they fit), the bias
 * corrected for x's zero point, multipliers x_scale * w_scale / y_scale. */
SdStatus pass_quant_qlinear(QCtx *c, IrNode *n)
{
    bool conv = n->op == IR_OP_QLINEAR_CONV;
    IrValue *x = n->inputs[0], *w = n->inputs[3], *y = n->outputs[0];
    IrValue *b = conv && n->n_inputs > 8 ? n->inputs[8] : NULL;
    if (x->dtype != SD_DT_U8 || !ir_value_is_constant(w) || (b && !ir_value_is_constant(b)) ||
        (!conv && (w->shape.rank != 2 || x->shape.rank < 2)))
        return SD_OK;
    const int64_t rows = conv ? w->shape.dims[0] : w->shape.dims[1]; /* per output channel / column */
    const int64_t per = ir_value_numel(w) / rows;
    double xs, xz, ys, yz;
    double *ws = malloc((size_t)rows * sizeof *ws), *wz = malloc((size_t)rows * sizeof *wz);
    int8_t *wq = malloc((size_t)ir_value_numel(w));
    int32_t *bias = malloc((size_t)rows * sizeof *bias);
    float *mult = malloc((size_t)rows * sizeof *mult);
    SdStatus st = SD_OK;
    bool ok = ws && wz && wq && bias && mult && const_values(n->inputs[1], 1, &xs) && const_values(n->inputs[2], 1, &xz) &&
              const_values(n->inputs[4], rows, ws) && const_values(n->inputs[5], rows, wz) &&
              const_values(n->inputs[6], 1, &ys) && const_values(n->inputs[7], 1, &yz) && ys > 0;
    for (int64_t r = 0; ok && r < rows; r++) {
        double sum = 0;
        for (int64_t k = 0; ok && k < per; k++) {
            int64_t i = conv ? r * per + k : k * rows + r;
            int32_t v = (w->dtype == SD_DT_I8 ? ((const int8_t *)w->data)[i] : ((const uint8_t *)w->data)[i]) - (int32_t)wz[r];
            ok = v >= -128 && v <= 127;
            wq[i] = (int8_t)v;
            sum += v;
        }
        bias[r] = pass_quant_clamp_i32((b ? ((const int32_t *)b->data)[r] : 0) - xz * sum);
        mult[r] = (float)(float)(xs * ws[r] / ys);
    }
    bool depthwise = conv && n->attrs.quant.conv.groups == x->shape.dims[1] && w->shape.dims[0] == x->shape.dims[1] &&
                     w->shape.dims[1] == 1 && n->attrs.quant.conv.nspatial <= 2 && per <= 49;
    IrValue *wv = NULL, *bv = NULL, *mv = NULL;
    if (ok) {
        IrShape cs = ir_shape_make(1, &rows);
        wv = pass_quant_constant(c, w->name, "int8", SD_DT_I8, &w->shape, wq);
        bv = pass_quant_constant(c, w->name, "bias_int32", SD_DT_I32, &cs, bias);
        mv = pass_quant_constant(c, w->name, "multiplier", SD_DT_F32, &cs, mult);
        if (!wv || !bv || !mv)
            st = c->err->status;
    }
    free(ws), free(wz), free(wq), free(bias), free(mult);
    if (!ok || st != SD_OK)
        return st;
    SdDType out = y->dtype;
    IrQuantAttrs qa = {.channels = rows, .x_zp = (int32_t)xz, .y_zp = (int32_t)yz, .out_dtype = out,
                       .qmin = out == SD_DT_I8 ? -128 : 0, .qmax = out == SD_DT_I8 ? 127 : 255, .lo = -INFINITY, .hi = INFINITY};
    IrQuantAttrs pa = {.out_dtype = SD_DT_I8};
    if (conv) {
        qa.conv = n->attrs.quant.conv;
        pa.conv.groups = qa.conv.groups;
    } else {
        qa.depth = pa.depth = per;
    }
    if (!depthwise && !(wv = pass_quant_packed(c, wv, &pa)))
        return c->err->status;
    IrValue *in[4] = {x, wv, bv, mv};
    IrAttrs at = {.quant = qa};
    OutPlan o = {0}; /* writes y itself: same type and meaning */
    return pass_quant_emit_result(c, conv ? IR_OP_QCONV : IR_OP_QMATMUL, n->name, in, 4, &at, y, &o, &n, 1);
}
