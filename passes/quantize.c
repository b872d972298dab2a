/* passes/quantize.c — post-training int8 quantization, bf16, and ONNX QDQ models onto the packed
 * kernels (runtime/kernels/qgemm.h).
 *
 * int8. Every value is f32 or u8 with a (scale, zero point): real = (q - zp) * scale. The pass walks
 * the nodes in order and keeps the graph correct after each step: an op it quantizes reads u8
 * operands and its result goes back to f32 through a DequantizeLinear (DQ) that later quantized
 * ops look through, reading the u8 value directly; the DQs nobody reads die at the end. So a
 * chain of quantized ops stays in u8, and a float op anywhere (or a node the user keeps in f32)
 * just reads the DQ. Where an op needs the u8 form of an f32 value, a QuantizeLinear with the
 * value's calibrated range is inserted (once per value).
 *   Conv (constant weights) -> QCONV: weights symmetric int8 in [-127, 127], one scale per
 *     output channel (or per tensor); bias int32 at scale x_scale * w_scale, minus x_zp times the
 *     channel's weight sum, so the kernel sums raw u8 activations; a ReLU or Clip reading the conv
 *     alone is folded into the requantization (its output's range gives the scale, its bounds the
 *     clamp). One input channel per group: direct int8 loops; otherwise packed weights
 *     (PACK_WEIGHTS, folded here).
 *   MatMul (constant [K, N] weights) -> QMATMUL, per column scales, the Add of a constant bias (a
 *     Gemm after canonicalization) and a ReLU/Clip folded in.
 *   Add of two tensors -> QADD (both rescaled to the output's scale, ReLU folded).
 *   MaxPool, GlobalAveragePool, Reshape/Flatten of a u8 value stay in u8.
 * An op whose result feeds no op that could take u8 writes f32 directly (the kernel scales instead
 * of requantizing). Nodes without calibrated ranges stay f32.
 * ONNX QDQ models need no calibration: a value made by a DQ of u8 is used as u8 with the DQ's
 * scale and zero point, and an op whose result goes only into a QuantizeLinear takes that Q's
 * scale and zero point (the fold pass has already turned DQs of constant weights into f32).
 *
 * bf16: non-depthwise Conv and MatMul with constant weights become CONV_BF16 / MATMUL_BF16 with a
 * ReLU/Clip (and a MatMul's bias) folded in; depthwise convs stay f32 (they are memory-bound). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"
#include "support/mem.h"

typedef struct {
    float scale;
    int32_t zp;
} QParams;

typedef struct {
    IrGraph *g;
    const PassOptions *opt;
    PassQuantOptions *q;
    SdError *err;
    IrNode *first, *last;      /* first and last conv/matmul (keep_fp32 "first"/"last") */
    IrNode *current;           /* the node being rewritten: new nodes go where it is */
    IrValue **quantized;       /* by f32 value id: its u8 form (made here or found) */
    QParams *params;           /* by f32 value id */
    int cap;
    bool calibrated;           /* ranges available: Q may be inserted from them */
} QCtx;

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static bool grow(QCtx *c, int id)
{
    if (id < c->cap)
        return true;
    int cap = c->cap ? c->cap : 256;
    while (cap <= id)
        cap *= 2;
    IrValue **qv = realloc(c->quantized, (size_t)cap * sizeof *qv);
    if (qv)
        c->quantized = qv;
    QParams *qp = qv ? realloc(c->params, (size_t)cap * sizeof *qp) : NULL;
    if (!qv || !qp)
        return false;
    c->params = qp;
    for (int i = c->cap; i < cap; i++)
        c->quantized[i] = NULL;
    c->cap = cap;
    return true;
}

static bool listed(const char *list, const char *name)
{
    if (!list || !name)
        return false;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

static bool kept(const QCtx *c, const IrNode *n)
{
    const char *k = c->q->keep_fp32;
    return listed(k, n->name) || (n->n_outputs && listed(k, n->outputs[0]->name)) || (n == c->first && listed(k, "first")) ||
           (n == c->last && listed(k, "last"));
}

static const PassQuantRange *range_of(const QCtx *c, const IrValue *v)
{
    for (int i = 0; i < c->q->n_ranges; i++)
        if (strcmp(c->q->ranges[i].name, v->name) == 0)
            return &c->q->ranges[i];
    return NULL;
}

static QParams params_from_range(const QCtx *c, float lo, float hi)
{
    QParams p;
    if (c->q->symmetric) {
        float m = fmaxf(fabsf(lo), fabsf(hi));
        p.scale = m > 0 ? m / 127.0f : 1.0f;
        p.zp = 128;
        return p;
    }
    lo = fminf(lo, 0.0f), hi = fmaxf(hi, 0.0f);
    if (!(hi - lo > 0.0f) || !isfinite(hi - lo))
        return (QParams){1.0f, 0};
    p.scale = (hi - lo) / 255.0f;
    float z = rintf(-lo / p.scale);
    p.zp = (int32_t)fminf(fmaxf(z, 0.0f), 255.0f);
    return p;
}

/* The single node reading v (NULL when v is read by none, by several, or is a graph output). */
static IrNode *single_consumer(const IrGraph *g, const IrValue *v)
{
    if (v->n_uses != 1 || ir_value_is_graph_output(g, v))
        return NULL;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        IrNode *n = ir_graph_node(g, i);
        if (n->removed)
            continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == v)
                return n;
    }
    return NULL;
}

static bool const_f32(const IrValue *v) { return v && ir_value_is_constant(v) && v->dtype == SD_DT_F32; }

/* A scalar constant of a per-tensor quantization parameter. */
static bool scalar_const(const IrValue *v, SdDType dt, double *out)
{
    if (!v || !ir_value_is_constant(v) || v->dtype != dt || ir_value_numel(v) != 1)
        return false;
    switch (dt) {
    case SD_DT_F32: *out = ((const float *)v->data)[0]; return true;
    case SD_DT_U8: *out = ((const uint8_t *)v->data)[0]; return true;
    case SD_DT_I8: *out = ((const int8_t *)v->data)[0]; return true;
    default: return false;
    }
}

/* A DequantizeLinear of u8 with one constant scale and zero point: its input and parameters. */
static bool is_u8_dq(const IrNode *n, IrValue **q, QParams *p)
{
    double s, z = 0;
    if (!n || n->op != IR_OP_DEQUANTIZE_LINEAR || n->inputs[0]->dtype != SD_DT_U8 ||
        !scalar_const(n->inputs[1], SD_DT_F32, &s) || !(s > 0))
        return false;
    if (n->n_inputs > 2 && n->inputs[2] && !scalar_const(n->inputs[2], SD_DT_U8, &z))
        return false;
    *q = n->inputs[0];
    *p = (QParams){(float)s, (int32_t)z};
    return true;
}

/* A QuantizeLinear to u8 with one constant scale and zero point. */
static bool is_u8_q(const IrNode *n, QParams *p)
{
    double s, z = 0;
    if (!n || n->op != IR_OP_QUANTIZE_LINEAR || n->outputs[0]->dtype != SD_DT_U8 ||
        !scalar_const(n->inputs[1], SD_DT_F32, &s) || !(s > 0))
        return false;
    if (n->n_inputs > 2 && n->inputs[2] && !scalar_const(n->inputs[2], SD_DT_U8, &z))
        return false;
    *p = (QParams){(float)s, (int32_t)z};
    return true;
}

static IrValue *constant(QCtx *c, const char *base, const char *suffix, SdDType dt, const IrShape *s, const void *data)
{
    char name[300];
    snprintf(name, sizeof name, "%s/%s", base, suffix);
    return ir_constant_new(c->g, name, dt, s, data, c->err);
}

static IrValue *scalar_f32(QCtx *c, const char *base, const char *suffix, float v)
{
    IrShape s = {0};
    return constant(c, base, suffix, SD_DT_F32, &s, &v);
}

static IrValue *scalar_u8(QCtx *c, const char *base, const char *suffix, int32_t v)
{
    IrShape s = {0};
    uint8_t b = (uint8_t)v;
    return constant(c, base, suffix, SD_DT_U8, &s, &b);
}

/* A new node with one output of dtype, shapes inferred; NULL (err set) on failure. */
static IrNode *emit(QCtx *c, IrOp op, const char *name, IrValue *const *in, int n_in, SdDType dt, const IrAttrs *attrs)
{
    IrNode *n = ir_node_new1(c->g, op, name, in, n_in, dt);
    if (!n) {
        sd_errorf(c->err, SD_ENOMEM, "out of memory quantizing '%s'", name);
        return NULL;
    }
    if (attrs)
        n->attrs = *attrs;
    if (pass_shape_node(c->g, n, c->opt, c->err) != SD_OK)
        return NULL;
    return n;
}

/* The u8 form of f32 value v (NULL when there is none and none can be made). */
static IrValue *quantized(QCtx *c, IrValue *v, QParams *p)
{
    if (!grow(c, v->id))
        return NULL;
    if (c->quantized[v->id]) {
        *p = c->params[v->id];
        return c->quantized[v->id];
    }
    IrValue *q;
    if (is_u8_dq(v->producer, &q, p)) {
        c->quantized[v->id] = q, c->params[v->id] = *p;
        return q;
    }
    const PassQuantRange *r = c->calibrated ? range_of(c, v) : NULL;
    if (!r || v->dtype != SD_DT_F32)
        return NULL;
    *p = params_from_range(c, r->lo, r->hi);
    IrValue *in[3] = {v, scalar_f32(c, v->name, "scale", p->scale), scalar_u8(c, v->name, "zero_point", p->zp)};
    if (!in[1] || !in[2])
        return NULL;
    IrAttrs a = {.quant = {.out_dtype = SD_DT_U8}};
    char name[300];
    snprintf(name, sizeof name, "%s/quantize", v->name);
    IrNode *n = emit(c, IR_OP_QUANTIZE_LINEAR, name, in, 3, SD_DT_U8, &a);
    if (!n)
        return NULL;
    c->quantized[v->id] = n->outputs[0], c->params[v->id] = *p;
    return n->outputs[0];
}

static void record(QCtx *c, const IrValue *z, const IrNode *by, const IrValue *q, float lo, float hi, QParams p)
{
    PassQuantOptions *o = c->q;
    if (!o->records || o->n_records >= o->max_records)
        return;
    PassQuantRecord *r = &o->records[o->n_records++];
    snprintf(r->name, sizeof r->name, "%s", z->name);
    snprintf(r->node, sizeof r->node, "%s", by->name ? by->name : "");
    snprintf(r->op, sizeof r->op, "%s", ir_op_name(by->op));
    snprintf(r->qname, sizeof r->qname, "%s", q->name);
    r->lo = lo, r->hi = hi, r->scale = p.scale, r->zp = p.zp;
}

/* Could node m take a u8 operand (so a producer should write u8 rather than f32)? */
static bool takes_u8(const QCtx *c, const IrNode *m)
{
    if (!m || m->removed || kept(c, m))
        return false;
    switch (m->op) {
    case IR_OP_CONV: return const_f32(m->inputs[1]);
    case IR_OP_MATMUL: return const_f32(m->inputs[1]);
    case IR_OP_ADD: return !ir_value_is_constant(m->inputs[0]) && !ir_value_is_constant(m->inputs[1]);
    case IR_OP_MAX_POOL: case IR_OP_GLOBAL_AVG_POOL: case IR_OP_RESHAPE: case IR_OP_FLATTEN:
    case IR_OP_QUANTIZE_LINEAR:
        return true;
    default: return false;
    }
}

static bool any_reader_takes_u8(const QCtx *c, const IrValue *v)
{
    for (int i = 0; i < ir_graph_num_nodes(c->g); i++) {
        const IrNode *n = ir_graph_node(c->g, i);
        for (int k = 0; k < n->n_inputs && !n->removed; k++)
            if (n->inputs[k] == v && takes_u8(c, n))
                return true;
    }
    return false;
}

/* A ReLU or Clip reading only v: folded into the producer. *z becomes its output, [lo, hi] its bounds. */
static IrNode *fusable_activation(const QCtx *c, IrValue *v, float *lo, float *hi)
{
    IrNode *r = single_consumer(c->g, v);
    if (!r || kept(c, r) || r->outputs[0]->dtype != SD_DT_F32)
        return NULL;
    if (r->op == IR_OP_RELU) {
        *lo = fmaxf(*lo, 0.0f);
        return r;
    }
    if (r->op == IR_OP_CLIP && r->n_inputs == 1) { /* bounds resolved into attrs by shape inference */
        *lo = fmaxf(*lo, r->attrs.unary.alpha), *hi = fminf(*hi, r->attrs.unary.beta);
        return r;
    }
    return NULL;
}

/* How the result z of a quantized op leaves it: u8 with params (from a QuantizeLinear reading z
 * alone, or from z's range), or f32. */
typedef struct {
    bool u8;
    QParams p;
    IrNode *q_node;   /* the QuantizeLinear it replaces, or NULL */
    float lo, hi;     /* the range, for records */
} OutPlan;

static OutPlan plan_output(const QCtx *c, IrValue *z, bool can_f32)
{
    OutPlan o = {0};
    IrNode *q = single_consumer(c->g, z);
    QParams p;
    if (is_u8_q(q, &p)) {
        o.u8 = true, o.p = p, o.q_node = q;
        o.lo = (0 - p.zp) * p.scale, o.hi = (255 - p.zp) * p.scale;
        return o;
    }
    const PassQuantRange *r = c->calibrated ? range_of(c, z) : NULL;
    if (r && (any_reader_takes_u8(c, z) || !can_f32)) {
        o.u8 = true;
        o.p = params_from_range(c, r->lo, r->hi);
        o.lo = r->lo, o.hi = r->hi;
    }
    return o;
}

/* Clamp bounds of a u8 output for the real interval [lo, hi]. */
static void q_bounds(QParams p, float lo, float hi, int32_t *qmin, int32_t *qmax)
{
    float a = isfinite(lo) ? rintf(lo / p.scale) + (float)p.zp : 0.0f;
    float b = isfinite(hi) ? rintf(hi / p.scale) + (float)p.zp : 255.0f;
    *qmin = (int32_t)fminf(fmaxf(a, 0.0f), 255.0f);
    *qmax = (int32_t)fminf(fmaxf(b, 0.0f), 255.0f);
}

/* The quantized op `op` on `in` whose result replaces f32 value z, once the nodes it replaces
 * (dead) are gone: it writes z itself (an f32 result), or the u8 value the model's own
 * QuantizeLinear wrote, or a new u8 value that a DequantizeLinear turns back into z. Value names
 * (the graph's outputs among them) stay as they were. */
static SdStatus emit_result(QCtx *c, IrOp op, const char *name, IrValue *const *in, int n_in, const IrAttrs *at,
                            IrValue *z, const OutPlan *o, IrNode *const *dead, int n_dead)
{
    char nm[300];
    snprintf(nm, sizeof nm, "%s", name ? name : "");
    for (int i = 0; i < n_dead; i++)
        if (dead[i])
            ir_node_remove(c->g, dead[i]);
    /* removing the current node dropped the insertion point: new nodes go right after it */
    IrNode *anchor = NULL;
    for (int i = 0, found = 0; i < ir_graph_num_nodes(c->g) && !anchor; i++) {
        IrNode *m = ir_graph_node(c->g, i);
        if (m == c->current)
            found = 1;
        else if (found && !m->removed)
            anchor = m;
    }
    ir_graph_set_insert_point(c->g, anchor);
    IrValue *out = z;
    if (o->u8 && o->q_node) {
        out = o->q_node->outputs[0];
        ir_node_remove(c->g, o->q_node);
    } else if (o->u8) {
        char qn[300];
        snprintf(qn, sizeof qn, "%s/u8", z->name);
        if (!(out = ir_value_new(c->g, qn, SD_DT_U8, NULL)))
            return sd_errorf(c->err, SD_ENOMEM, "out of memory");
    }
    IrNode *n = ir_node_new(c->g, op, nm, in, n_in, &out, 1);
    if (!n)
        return sd_errorf(c->err, SD_ENOMEM, "out of memory quantizing '%s'", nm);
    n->attrs = *at;
    SD_TRY(pass_shape_node(c->g, n, c->opt, c->err));
    if (!o->u8) {
        record(c, z, n, out, 0, 0, (QParams){0, 0});
        return SD_OK;
    }
    if (!grow(c, z->id))
        return sd_errorf(c->err, SD_ENOMEM, "out of memory");
    c->quantized[z->id] = out, c->params[z->id] = o->p;
    record(c, z, n, out, o->lo, o->hi, o->p);
    if (o->q_node)
        return SD_OK; /* z had no other reader */
    IrValue *dq_in[3] = {out, scalar_f32(c, out->name, "scale", o->p.scale), scalar_u8(c, out->name, "zero_point", o->p.zp)};
    if (!dq_in[1] || !dq_in[2])
        return c->err->status;
    snprintf(nm, sizeof nm, "%s/dequantize", out->name);
    IrNode *dq = ir_node_new(c->g, IR_OP_DEQUANTIZE_LINEAR, nm, dq_in, 3, &z, 1);
    if (!dq)
        return sd_errorf(c->err, SD_ENOMEM, "out of memory quantizing '%s'", nm);
    return pass_shape_node(c->g, dq, c->opt, c->err);
}

/* Symmetric int8 weights: w viewed as [rows, per_row] for per-row scales (per_tensor: one). */
static SdStatus quantize_weights(QCtx *c, const float *w, int64_t rows, int64_t per_row, int64_t row_stride,
                                 int64_t col_stride, bool per_tensor, int8_t *wq, float *scales)
{
    float all = 0.0f;
    for (int64_t r = 0; r < rows; r++) {
        float m = 0.0f;
        for (int64_t k = 0; k < per_row; k++)
            m = fmaxf(m, fabsf(w[r * row_stride + k * col_stride]));
        scales[r] = m;
        all = fmaxf(all, m);
    }
    for (int64_t r = 0; r < rows; r++) {
        float m = per_tensor ? all : scales[r];
        scales[r] = m > 0.0f && isfinite(m) ? m / 127.0f : 1.0f;
        for (int64_t k = 0; k < per_row; k++) {
            float q = rintf(w[r * row_stride + k * col_stride] / scales[r]);
            wq[r * row_stride + k * col_stride] = (int8_t)fminf(fmaxf(q, -127.0f), 127.0f);
        }
    }
    (void)c;
    return SD_OK;
}

static int32_t clamp_i32(double v) { return v > 2147483647.0 ? 2147483647 : v < -2147483647.0 ? -2147483647 : (int32_t)v; }

/* PACK_WEIGHTS of a constant, folded to a constant right away. */
static IrValue *packed(QCtx *c, IrValue *w, const IrQuantAttrs *a)
{
    IrAttrs at = {.quant = *a};
    char name[300];
    snprintf(name, sizeof name, "%s/packed", w->name);
    IrNode *n = emit(c, IR_OP_PACK_WEIGHTS, name, &w, 1, a->out_dtype, &at);
    if (!n)
        return NULL;
    IrValue *out = n->outputs[0];
    bool folded;
    if (pass_fold_node(c->g, n, c->opt, &folded, c->err) != SD_OK)
        return NULL;
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* int8                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static SdStatus q_conv(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *b = n->n_inputs > 2 ? n->inputs[2] : NULL, *y = n->outputs[0];
    const IrConvAttrs *ca = &n->attrs.conv;
    if (x->dtype != SD_DT_F32 || !const_f32(w) || (b && !const_f32(b)))
        return SD_OK;
    const int64_t c_in = x->shape.dims[1], c_out = w->shape.dims[0], groups = ca->groups;
    const int64_t per = ir_value_numel(w) / c_out; /* inputs per group times kernel volume */
    bool depthwise = groups == c_in && groups == c_out && ca->nspatial <= 2 && per <= 49; /* exact in f32 */
    QParams xp;
    IrValue *qx = quantized(c, x, &xp);
    if (!qx)
        return c->err->status;
    float lo = -INFINITY, hi = INFINITY;
    IrValue *z = y;
    IrNode *act = fusable_activation(c, y, &lo, &hi);
    if (act)
        z = act->outputs[0];
    OutPlan o = plan_output(c, z, true);
    int8_t *wq = malloc((size_t)ir_value_numel(w));
    float *ws = malloc((size_t)c_out * sizeof *ws), *mult = malloc((size_t)c_out * sizeof *mult);
    int32_t *bias = malloc((size_t)c_out * sizeof *bias);
    SdStatus st = wq && ws && mult && bias ? SD_OK : sd_errorf(c->err, SD_ENOMEM, "out of memory");
    if (st == SD_OK)
        st = quantize_weights(c, w->data, c_out, per, per, 1, c->q->per_tensor, wq, ws);
    for (int64_t oc = 0; oc < c_out && st == SD_OK; oc++) {
        double acc_scale = (double)xp.scale * ws[oc], sum = 0;
        for (int64_t k = 0; k < per; k++)
            sum += wq[oc * per + k];
        double bq = b ? rint(((const float *)b->data)[oc] / acc_scale) : 0.0;
        bias[oc] = clamp_i32(bq - (double)xp.zp * sum);
        mult[oc] = (float)(o.u8 ? acc_scale / o.p.scale : acc_scale);
    }
    IrValue *wv = NULL, *bv = NULL, *mv = NULL;
    if (st == SD_OK) {
        IrShape cs = ir_shape_make(1, &c_out);
        wv = constant(c, w->name, "int8", SD_DT_I8, &w->shape, wq);
        bv = constant(c, w->name, "bias_int32", SD_DT_I32, &cs, bias);
        mv = constant(c, w->name, "multiplier", SD_DT_F32, &cs, mult);
        if (!wv || !bv || !mv)
            st = c->err->status;
    }
    free(wq), free(ws), free(mult), free(bias);
    SD_TRY(st);
    IrQuantAttrs qa = {.conv = *ca, .channels = c_out, .x_zp = xp.zp, .out_dtype = o.u8 ? SD_DT_U8 : SD_DT_F32,
                       .lo = lo, .hi = hi, .qmin = 0, .qmax = 255};
    if (o.u8)
        qa.y_zp = o.p.zp, q_bounds(o.p, lo, hi, &qa.qmin, &qa.qmax);
    if (!depthwise) {
        IrQuantAttrs pa = {.out_dtype = SD_DT_I8};
        pa.conv.groups = groups;
        if (!(wv = packed(c, wv, &pa)))
            return c->err->status;
    }
    IrValue *in[4] = {qx, wv, bv, mv};
    IrAttrs at = {.quant = qa};
    IrNode *dead[2] = {act, n};
    return emit_result(c, IR_OP_QCONV, n->name, in, 4, &at, z, &o, dead, 2);
}

/* The Add of a constant [N] (or [1, N]) bias reading only y: its constant and node. */
static IrNode *bias_add(const QCtx *c, IrValue *y, int64_t cols, IrValue **bias)
{
    IrNode *a = single_consumer(c->g, y);
    if (!a || a->op != IR_OP_ADD || kept(c, a))
        return NULL;
    IrValue *o = a->inputs[0] == y ? a->inputs[1] : a->inputs[0];
    if (!const_f32(o) || ir_value_numel(o) != cols || o->shape.dims[o->shape.rank - 1] != cols ||
        !ir_shape_equal(&a->outputs[0]->shape, &y->shape))
        return NULL;
    *bias = o;
    return a;
}

static SdStatus q_matmul(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    if (x->dtype != SD_DT_F32 || !const_f32(w) || w->shape.rank != 2 || x->shape.rank < 2)
        return SD_OK;
    const int64_t K = w->shape.dims[0], N = w->shape.dims[1];
    QParams xp;
    IrValue *qx = quantized(c, x, &xp);
    if (!qx)
        return c->err->status;
    IrValue *b = NULL, *z = y;
    IrNode *add = bias_add(c, y, N, &b);
    if (add)
        z = add->outputs[0];
    float lo = -INFINITY, hi = INFINITY;
    IrNode *act = fusable_activation(c, z, &lo, &hi);
    if (act)
        z = act->outputs[0];
    OutPlan o = plan_output(c, z, true);
    int8_t *wq = malloc((size_t)(K * N));
    float *ws = malloc((size_t)N * sizeof *ws), *mult = malloc((size_t)N * sizeof *mult);
    int32_t *bias = malloc((size_t)N * sizeof *bias);
    SdStatus st = wq && ws && mult && bias ? SD_OK : sd_errorf(c->err, SD_ENOMEM, "out of memory");
    if (st == SD_OK) /* per column: rows of the transposed view */
        st = quantize_weights(c, w->data, N, K, 1, N, c->q->per_tensor, wq, ws);
    for (int64_t j = 0; j < N && st == SD_OK; j++) {
        double acc_scale = (double)xp.scale * ws[j], sum = 0;
        for (int64_t k = 0; k < K; k++)
            sum += wq[k * N + j];
        double bq = b ? rint(((const float *)b->data)[j] / acc_scale) : 0.0;
        bias[j] = clamp_i32(bq - (double)xp.zp * sum);
        mult[j] = (float)(o.u8 ? acc_scale / o.p.scale : acc_scale);
    }
    IrValue *wv = NULL, *bv = NULL, *mv = NULL;
    if (st == SD_OK) {
        IrShape cs = ir_shape_make(1, &N);
        wv = constant(c, w->name, "int8", SD_DT_I8, &w->shape, wq);
        bv = constant(c, w->name, "bias_int32", SD_DT_I32, &cs, bias);
        mv = constant(c, w->name, "multiplier", SD_DT_F32, &cs, mult);
        if (!wv || !bv || !mv)
            st = c->err->status;
    }
    free(wq), free(ws), free(mult), free(bias);
    SD_TRY(st);
    IrQuantAttrs pa = {.out_dtype = SD_DT_I8, .depth = K};
    if (!(wv = packed(c, wv, &pa)))
        return c->err->status;
    IrQuantAttrs qa = {.channels = N, .depth = K, .x_zp = xp.zp, .out_dtype = o.u8 ? SD_DT_U8 : SD_DT_F32, .lo = lo,
                       .hi = hi, .qmin = 0, .qmax = 255};
    if (o.u8)
        qa.y_zp = o.p.zp, q_bounds(o.p, lo, hi, &qa.qmin, &qa.qmax);
    IrValue *in[4] = {qx, wv, bv, mv};
    IrAttrs at = {.quant = qa};
    IrNode *dead[3] = {act, add, n};
    return emit_result(c, IR_OP_QMATMUL, n->name, in, 4, &at, z, &o, dead, 3);
}

static SdStatus q_add(QCtx *c, IrNode *n)
{
    IrValue *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    if (a->dtype != SD_DT_F32 || ir_value_is_constant(a) || ir_value_is_constant(b))
        return SD_OK;
    float lo = -INFINITY, hi = INFINITY;
    IrValue *z = y;
    IrNode *act = fusable_activation(c, y, &lo, &hi);
    if (act)
        z = act->outputs[0];
    OutPlan o = plan_output(c, z, false);
    if (!o.u8)
        return SD_OK;
    QParams ap, bp;
    IrValue *qa = quantized(c, a, &ap), *qb = qa ? quantized(c, b, &bp) : NULL;
    if (!qa || !qb)
        return c->err->status;
    IrAttrs at = {.quant = {.a_scale = ap.scale, .a_zp = ap.zp, .b_scale = bp.scale, .b_zp = bp.zp,
                            .y_scale = o.p.scale, .y_zp = o.p.zp}};
    q_bounds(o.p, lo, hi, &at.quant.qmin, &at.quant.qmax);
    IrValue *in[2] = {qa, qb};
    IrNode *dead[2] = {act, n};
    return emit_result(c, IR_OP_QADD, n->name, in, 2, &at, z, &o, dead, 2);
}

/* MaxPool, GlobalAveragePool, Reshape, Flatten of a value that already is u8 (a DQ's output). */
static SdStatus q_passthrough(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *y = n->outputs[0], *qx;
    QParams xp;
    if (!grow(c, x->id))
        return sd_errorf(c->err, SD_ENOMEM, "out of memory");
    if (!c->quantized[x->id] && !is_u8_dq(x->producer, &qx, &xp))
        return SD_OK;
    if (n->op == IR_OP_MAX_POOL && n->n_outputs > 1)
        return SD_OK;
    if (!(qx = quantized(c, x, &xp)))
        return c->err->status;
    IrAttrs at = n->attrs;
    OutPlan o = {.u8 = true, .p = xp, .lo = (0 - xp.zp) * xp.scale, .hi = (255 - xp.zp) * xp.scale};
    IrOp op = n->op;
    if (op == IR_OP_GLOBAL_AVG_POOL) { /* the mean's own range, when known, resolves it better */
        op = IR_OP_QGLOBAL_AVG_POOL;
        const PassQuantRange *r = c->calibrated ? range_of(c, y) : NULL;
        if (r)
            o.p = params_from_range(c, r->lo, r->hi), o.lo = r->lo, o.hi = r->hi;
        memset(&at, 0, sizeof at);
        at.quant = (IrQuantAttrs){.a_scale = xp.scale, .a_zp = xp.zp, .y_scale = o.p.scale, .y_zp = o.p.zp,
                                  .qmin = 0, .qmax = 255};
    }
    IrValue *in[2] = {qx, NULL};
    int n_in = 1;
    if (op == IR_OP_RESHAPE) { /* the target shape again (shape inference dropped it): y's dims */
        IrShape s = ir_shape_make(1, (int64_t[]){y->shape.rank});
        if (!(in[1] = constant(c, y->name, "shape", SD_DT_I64, &s, y->shape.dims)))
            return c->err->status;
        at.movement.allowzero = true;
        n_in = 2;
    }
    return emit_result(c, op, n->name, in, n_in, &at, y, &o, &n, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* bf16                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static SdStatus bf16_conv(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *b = n->n_inputs > 2 ? n->inputs[2] : NULL, *y = n->outputs[0];
    const IrConvAttrs *ca = &n->attrs.conv;
    if (x->dtype != SD_DT_F32 || !const_f32(w) || (b && !const_f32(b)))
        return SD_OK;
    const int64_t c_out = w->shape.dims[0];
    if (w->shape.dims[1] == 1 && ca->groups > 1)
        return SD_OK; /* depthwise: f32 */
    float lo = -INFINITY, hi = INFINITY;
    IrValue *z = y;
    IrNode *act = fusable_activation(c, y, &lo, &hi);
    if (act)
        z = act->outputs[0];
    IrQuantAttrs pa = {.out_dtype = SD_DT_BF16};
    pa.conv.groups = ca->groups;
    IrValue *wv = packed(c, w, &pa);
    if (!wv)
        return c->err->status;
    IrAttrs at = {.quant = {.conv = *ca, .channels = c_out, .lo = lo, .hi = hi, .out_dtype = SD_DT_F32}};
    IrValue *in[3] = {x, wv, b};
    IrNode *dead[2] = {act, n};
    OutPlan o = {0};
    return emit_result(c, IR_OP_CONV_BF16, n->name, in, b ? 3 : 2, &at, z, &o, dead, 2);
}

static SdStatus bf16_matmul(QCtx *c, IrNode *n)
{
    IrValue *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    if (x->dtype != SD_DT_F32 || !const_f32(w) || w->shape.rank != 2 || x->shape.rank < 2)
        return SD_OK;
    const int64_t K = w->shape.dims[0], N = w->shape.dims[1];
    IrValue *b = NULL, *z = y;
    IrNode *add = bias_add(c, y, N, &b);
    if (add)
        z = add->outputs[0];
    float lo = -INFINITY, hi = INFINITY;
    IrNode *act = fusable_activation(c, z, &lo, &hi);
    if (act)
        z = act->outputs[0];
    IrValue *bias = NULL;
    if (b) { /* as a flat [N] */
        IrShape s = ir_shape_make(1, &N);
        if (!(bias = constant(c, b->name, "flat", SD_DT_F32, &s, b->data)))
            return c->err->status;
    }
    IrQuantAttrs pa = {.out_dtype = SD_DT_BF16, .depth = K};
    IrValue *wv = packed(c, w, &pa);
    if (!wv)
        return c->err->status;
    IrAttrs at = {.quant = {.channels = N, .depth = K, .lo = lo, .hi = hi, .out_dtype = SD_DT_F32}};
    IrValue *in[3] = {x, wv, bias};
    IrNode *dead[3] = {act, add, n};
    OutPlan o = {0};
    return emit_result(c, IR_OP_MATMUL_BF16, n->name, in, bias ? 3 : 2, &at, z, &o, dead, 3);
}

/* ------------------------------------------------------------------------------------------ */

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
static SdStatus q_qlinear(QCtx *c, IrNode *n)
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
        bias[r] = clamp_i32((b ? ((const int32_t *)b->data)[r] : 0) - xz * sum);
        mult[r] = (float)(float)(xs * ws[r] / ys);
    }
    bool depthwise = conv && n->attrs.quant.conv.groups == x->shape.dims[1] && w->shape.dims[0] == x->shape.dims[1] &&
                     w->shape.dims[1] == 1 && n->attrs.quant.conv.nspatial <= 2 && per <= 49;
    IrValue *wv = NULL, *bv = NULL, *mv = NULL;
    if (ok) {
        IrShape cs = ir_shape_make(1, &rows);
        wv = constant(c, w->name, "int8", SD_DT_I8, &w->shape, wq);
        bv = constant(c, w->name, "bias_int32", SD_DT_I32, &cs, bias);
        mv = constant(c, w->name, "multiplier", SD_DT_F32, &cs, mult);
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
    if (!depthwise && !(wv = packed(c, wv, &pa)))
        return c->err->status;
    IrValue *in[4] = {x, wv, bv, mv};
    IrAttrs at = {.quant = qa};
    OutPlan o = {0}; /* writes y itself: same type and meaning */
    return emit_result(c, conv ? IR_OP_QCONV : IR_OP_QMATMUL, n->name, in, 4, &at, y, &o, &n, 1);
}

static bool has_qdq(const IrGraph *g)
{
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        IrOp op = ir_graph_node(g, i)->op;
        if (op == IR_OP_DEQUANTIZE_LINEAR || op == IR_OP_QLINEAR_CONV || op == IR_OP_QLINEAR_MATMUL)
            return true;
    }
    return false;
}

SdStatus pass_quantize(IrGraph *g, const PassOptions *opt, SdError *err)
{
    PassQuantOptions none = {.precision = PASS_PRECISION_INT8};
    PassQuantOptions *q = opt ? opt->quant : NULL;
    if (!q || q->precision == PASS_PRECISION_FP32) {
        if (!has_qdq(g))
            return SD_OK;
        q = &none; /* a QDQ model: its own scales, no calibration */
    }
    QCtx c = {.g = g, .opt = opt, .q = q, .err = err, .calibrated = q->n_ranges > 0};
    int n_nodes = ir_graph_num_nodes(g);
    IrNode **nodes = malloc((size_t)(n_nodes ? n_nodes : 1) * sizeof *nodes);
    if (!nodes)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int i = 0; i < n_nodes; i++) {
        nodes[i] = ir_graph_node(g, i);
        if (nodes[i]->op == IR_OP_CONV || nodes[i]->op == IR_OP_MATMUL) {
            if (!c.first)
                c.first = nodes[i];
            c.last = nodes[i];
        }
    }
    SdStatus st = SD_OK;
    for (int i = 0; i < n_nodes && st == SD_OK; i++) {
        IrNode *n = nodes[i];
        if (n->removed || kept(&c, n))
            continue;
        ir_graph_set_insert_point(g, n);
        c.current = n;
        if (q->precision == PASS_PRECISION_BF16) {
            if (n->op == IR_OP_CONV)
                st = bf16_conv(&c, n);
            else if (n->op == IR_OP_MATMUL)
                st = bf16_matmul(&c, n);
            continue;
        }
        switch (n->op) {
        case IR_OP_CONV: st = q_conv(&c, n); break;
        case IR_OP_MATMUL: st = q_matmul(&c, n); break;
        case IR_OP_QLINEAR_CONV: case IR_OP_QLINEAR_MATMUL: st = q_qlinear(&c, n); break;
        case IR_OP_ADD: st = q_add(&c, n); break;
        case IR_OP_MAX_POOL: case IR_OP_GLOBAL_AVG_POOL: case IR_OP_RESHAPE: case IR_OP_FLATTEN:
            st = q_passthrough(&c, n);
            break;
        default: break;
        }
    }
    ir_graph_set_insert_point(g, NULL);
    free(nodes);
    free(c.quantized);
    free(c.params);
    if (st != SD_OK)
        return st;
    return pass_dce(g, opt, err);
}
