/* passes/quantize_helpers.c — what the int8 and bf16 rewrites of passes/quantize.c build on: value
 * parameters from calibrated ranges, u8 forms of f32 values, how a quantized result leaves its op,
 * symmetric int8 weights, packed weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/quantize_internal.h"
#include "support/mem.h"
#include "support/names.h"

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                     */
/* ------------------------------------------------------------------------------------------ */

bool pass_quant_grow(QCtx *c, int id)
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

bool pass_quant_kept(const QCtx *c, const IrNode *n)
{
    const char *k = c->q->keep_fp32;
    return sd_name_listed(k, n->name) || (n->n_outputs && sd_name_listed(k, n->outputs[0]->name)) || (n == c->first && sd_name_listed(k, "first")) ||
           (n == c->last && sd_name_listed(k, "last"));
}

const PassQuantRange *pass_quant_range_of(const QCtx *c, const IrValue *v)
{
    for (int i = 0; i < c->q->n_ranges; i++)
        if (strcmp(c->q->ranges[i].name, v->name) == 0)
            return &c->q->ranges[i];
    return NULL;
}

QParams pass_quant_params_from_range(const QCtx *c, float lo, float hi)
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

/* The readers of v among the live nodes, up to max (the count of all of them returned) */
static int readers(const IrGraph *g, const IrValue *v, IrNode **r, int max)
{
    int k = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        IrNode *n = ir_graph_node(g, i);
        bool reads = false;
        for (int j = 0; j < n->n_inputs && !n->removed; j++)
            reads = reads || n->inputs[j] == v;
        if (reads && k++ < max)
            r[k - 1] = n;
    }
    return k;
}

/* The single node reading v (NULL when v is read by none, by several, or is a graph output). */
IrNode *pass_quant_single_consumer(const IrGraph *g, const IrValue *v)
{
    IrNode *r;
    return v->n_uses == 1 && !ir_value_is_graph_output(g, v) && readers(g, v, &r, 1) == 1 ? r : NULL;
}

bool pass_quant_const_f32(const IrValue *v) { return v && ir_value_is_constant(v) && v->dtype == SD_DT_F32; }

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
bool pass_quant_is_u8_dq(const IrNode *n, IrValue **q, QParams *p)
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

IrValue *pass_quant_constant(QCtx *c, const char *base, const char *suffix, SdDType dt, const IrShape *s,
                             const void *data)
{
    char name[300];
    snprintf(name, sizeof name, "%s/%s", base, suffix);
    return ir_constant_new(c->g, name, dt, s, data, c->err);
}

static IrValue *scalar_f32(QCtx *c, const char *base, const char *suffix, float v)
{
    IrShape s = {0};
    return pass_quant_constant(c, base, suffix, SD_DT_F32, &s, &v);
}

static IrValue *scalar_u8(QCtx *c, const char *base, const char *suffix, int32_t v)
{
    IrShape s = {0};
    uint8_t b = (uint8_t)v;
    return pass_quant_constant(c, base, suffix, SD_DT_U8, &s, &b);
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
IrValue *pass_quant_quantized(QCtx *c, IrValue *v, QParams *p)
{
    if (!pass_quant_grow(c, v->id))
        return NULL;
    if (c->quantized[v->id]) {
        *p = c->params[v->id];
        return c->quantized[v->id];
    }
    IrValue *q;
    if (pass_quant_is_u8_dq(v->producer, &q, p)) {
        c->quantized[v->id] = q, c->params[v->id] = *p;
        return q;
    }
    const PassQuantRange *r = c->calibrated ? pass_quant_range_of(c, v) : NULL;
    if (!r || v->dtype != SD_DT_F32)
        return NULL;
    *p = pass_quant_params_from_range(c, r->lo, r->hi);
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
    const IrConvAct act = by->op == IR_OP_QCONV ? by->attrs.quant.act : IR_CONV_ACT_NONE; /* with its table */
    snprintf(r->op, sizeof r->op, "%s%s", ir_op_name(by->op),
             act == IR_CONV_ACT_SILU ? "+silu" : act == IR_CONV_ACT_HARD_SWISH ? "+hswish" : "");
    snprintf(r->qname, sizeof r->qname, "%s", q->name);
    r->lo = lo, r->hi = hi, r->scale = p.scale, r->zp = p.zp;
}

bool pass_quant_channel_scale(const IrNode *m, IrValue **x, IrValue **s)
{
    if (m->op != IR_OP_MUL || m->n_inputs != 2)
        return false;
    for (int k = 0; k < 2; k++) {
        IrValue *a = m->inputs[k], *b = m->inputs[1 - k];
        if (a->dtype != SD_DT_F32 || b->dtype != SD_DT_F32 || !a->has_shape || !b->has_shape || a->shape.rank < 3 ||
            b->shape.rank != a->shape.rank || ir_value_is_constant(a))
            continue;
        bool ok = b->shape.dims[0] == a->shape.dims[0] && b->shape.dims[1] == a->shape.dims[1];
        for (int i = 2; i < b->shape.rank && ok; i++)
            ok = b->shape.dims[i] == 1;
        if (ok) {
            *x = a, *s = b;
            return true;
        }
    }
    return false;
}

/* Could node m take a u8 operand (so a producer should write u8 rather than f32)? */
static bool takes_u8(const QCtx *c, const IrNode *m)
{
    if (!m || m->removed || pass_quant_kept(c, m))
        return false;
    switch (m->op) {
    case IR_OP_CONV: return pass_quant_const_f32(m->inputs[1]);
    case IR_OP_MATMUL: return pass_quant_const_f32(m->inputs[1]);
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
        IrValue *x, *s; /* a channel scale takes u8 for its tensor, not for its scales */
        const bool scales_v = !n->removed && !pass_quant_kept(c, n) && pass_quant_channel_scale(n, &x, &s) &&
                              x == v && x != s;
        for (int k = 0; k < n->n_inputs && !n->removed; k++)
            if (n->inputs[k] == v && (takes_u8(c, n) || scales_v))
                return true;
    }
    return false;
}

/* A ReLU or Clip reading only v: folded into the producer. *z becomes its output, [lo, hi] its bounds. */
IrNode *pass_quant_fusable_activation(const QCtx *c, IrValue *v, float *lo, float *hi)
{
    IrNode *r = pass_quant_single_consumer(c->g, v);
    if (!r || pass_quant_kept(c, r) || r->outputs[0]->dtype != SD_DT_F32)
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

IrNode *pass_quant_table_activation(const QCtx *c, IrValue *v, IrConvAct *kind, IrNode **sigmoid)
{
    *sigmoid = NULL;
    IrNode *r[3];
    const int n = ir_value_is_graph_output(c->g, v) ? 0 : readers(c->g, v, r, 3);
    for (int i = 0; i < n && i < 3; i++)
        if (pass_quant_kept(c, r[i]) || r[i]->outputs[0]->dtype != SD_DT_F32)
            return NULL;
    if (n == 1 && (r[0]->op == IR_OP_SILU || r[0]->op == IR_OP_HARD_SWISH)) {
        *kind = r[0]->op == IR_OP_SILU ? IR_CONV_ACT_SILU : IR_CONV_ACT_HARD_SWISH;
        return r[0];
    }
    if (n != 2)
        return NULL;
    IrNode *s = r[0]->op == IR_OP_SIGMOID ? r[0] : r[1], *m = s == r[0] ? r[1] : r[0];
    const IrValue *sv = s->outputs[0];
    if (s->op != IR_OP_SIGMOID || m->op != IR_OP_MUL || m->n_inputs != 2 || pass_quant_single_consumer(c->g, sv) != m ||
        !((m->inputs[0] == v && m->inputs[1] == sv) || (m->inputs[1] == v && m->inputs[0] == sv)))
        return NULL;
    *kind = IR_CONV_ACT_SILU, *sigmoid = s;
    return m;
}

OutPlan pass_quant_plan_output(const QCtx *c, IrValue *z, bool can_f32)
{
    OutPlan o = {0};
    IrNode *q = pass_quant_single_consumer(c->g, z);
    QParams p;
    if (is_u8_q(q, &p)) {
        o.u8 = true, o.p = p, o.q_node = q;
        o.lo = (0 - p.zp) * p.scale, o.hi = (255 - p.zp) * p.scale;
        return o;
    }
    const PassQuantRange *r = c->calibrated ? pass_quant_range_of(c, z) : NULL;
    if (r && (any_reader_takes_u8(c, z) || !can_f32)) {
        o.u8 = true;
        o.p = pass_quant_params_from_range(c, r->lo, r->hi);
        o.lo = r->lo, o.hi = r->hi;
    }
    return o;
}

/* Clamp bounds of a u8 output for the real interval [lo, hi]. */
void pass_quant_bounds(QParams p, float lo, float hi, int32_t *qmin, int32_t *qmax)
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
SdStatus pass_quant_emit_result(QCtx *c, IrOp op, const char *name, IrValue *const *in, int n_in, const IrAttrs *at,
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
    if (!pass_quant_grow(c, z->id))
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
SdStatus pass_quant_weights(QCtx *c, const float *w, int64_t rows, int64_t per_row, int64_t row_stride,
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

int32_t pass_quant_clamp_i32(double v)
{
    return v > 2147483647.0 ? 2147483647 : v < -2147483647.0 ? -2147483647 : (int32_t)v;
}

/* PACK_WEIGHTS of a constant, folded to a constant right away. */
IrValue *pass_quant_packed(QCtx *c, IrValue *w, const IrQuantAttrs *a)
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

/* The Add of a constant [N] (or [1, N]) bias reading only y: its constant and node. */
IrNode *pass_quant_bias_add(const QCtx *c, IrValue *y, int64_t cols, IrValue **bias)
{
    IrNode *a = pass_quant_single_consumer(c->g, y);
    if (!a || a->op != IR_OP_ADD || pass_quant_kept(c, a))
        return NULL;
    IrValue *o = a->inputs[0] == y ? a->inputs[1] : a->inputs[0];
    if (!pass_quant_const_f32(o) || ir_value_numel(o) != cols || o->shape.dims[o->shape.rank - 1] != cols ||
        !ir_shape_equal(&a->outputs[0]->shape, &y->shape))
        return NULL;
    *bias = o;
    return a;
}
