/* runtime/kernels/quant.c — see quant.h. The ONNX conv and matmul kernels here follow the
 * reference arithmetic (int32 sums of zero-point-shifted operands, then the sum times
 * x_scale * w_scale / y_scale, computed in f32 as NumPy does and applied in double); they serve
 * models whose scales arrive at run time. passes/quantize.c moves the constant cases onto qgemm.c. */
#include "runtime/kernels/quant.h"

#include <math.h>
#include <stdbool.h>

#include "runtime/kernels/half.h"
#include "runtime/kernels/loops.h"
#include "support/dtype.h"

static inline int32_t q_min(int32_t dt) { return dt == SD_DT_I8 ? -128 : 0; }
static inline int32_t q_max(int32_t dt) { return dt == SD_DT_I8 ? 127 : 255; }

static inline int32_t load_q(const void *p, int32_t dt, int64_t i)
{
    return dt == SD_DT_I8 ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

/* The saturated, rounded value v (already shifted by the zero point) stored as dt. */
static inline void store_q(void *p, int32_t dt, int64_t i, float v)
{
    v = fminf(fmaxf(v, (float)q_min(dt)), (float)q_max(dt));
    if (dt == SD_DT_I8)
        ((int8_t *)p)[i] = (int8_t)v;
    else
        ((uint8_t *)p)[i] = (uint8_t)v;
}

static inline void store_qd(void *p, int32_t dt, int64_t i, double v)
{
    v = fmin(fmax(v, (double)q_min(dt)), (double)q_max(dt));
    if (dt == SD_DT_I8)
        ((int8_t *)p)[i] = (int8_t)v;
    else
        ((uint8_t *)p)[i] = (uint8_t)v;
}

static inline int64_t scale_index(const RtQuantizeParams *p, int64_t o, int64_t a, int64_t i)
{
    switch (p->mode) {
    case 1: return a;
    case 2: return (o * p->n_blocks + a / p->block) * p->inner + i;
    default: return 0;
    }
}

/* Elements [begin, end) of x in its flat order: runs of one (outer, axis) row each, so that the
 * scale's index is worked out per run and the loops over a row vectorize. */
#define QL_RUNS(...)                                                                                 \
    if (p->inner > 0)                                                                                \
        for (int64_t e = begin, row = begin / p->inner, i0 = begin % p->inner; e < end; row++, i0 = 0) { \
            const int64_t o = row / p->axis, a = row % p->axis;                                      \
            const int64_t n = p->inner - i0 < end - e ? p->inner - i0 : end - e;                     \
            for (int64_t k = 0; k < n; k++) {                                                        \
                const int64_t i = i0 + k, at = e + k;                                                \
                __VA_ARGS__                                                                          \
            }                                                                                        \
            e += n;                                                                                  \
        }

/* items: elements (the threads share a whole tensor quantized with one scale: a network's
 * activations between f32 and int8 layers, EfficientNet-B0's 66 of them 0.36 ms on one thread) */
RT_RANGE_KERNEL(rt_quantize_linear_range)
{
    const RtQuantizeParams *p = params_;
    const float *x = bufs[0], *scale = bufs[1];
    const void *zp = p->has_zp ? bufs[2] : NULL;
    void *y = bufs[p->has_zp ? 3 : 2];
    QL_RUNS({
        const int64_t s = scale_index(p, o, a, i);
        const float z = zp ? (float)load_q(zp, p->y_dtype, s) : 0.0f;
        store_q(y, p->y_dtype, at, rintf(x[at] / scale[s]) + z);
    })
}
RT_KERNEL(rt_quantize_linear)
{
    const RtQuantizeParams *p = params_;
    rt_quantize_linear_range(params_, bufs, 0, p->outer * p->axis * p->inner);
}

/* items: elements */
RT_RANGE_KERNEL(rt_dequantize_linear_range)
{
    const RtQuantizeParams *p = params_;
    const void *x = bufs[0];
    const float *scale = bufs[1];
    const void *zp = p->has_zp ? bufs[2] : NULL;
    float *y = bufs[p->has_zp ? 3 : 2];
    QL_RUNS({
        const int64_t s = scale_index(p, o, a, i);
        float v, z = 0.0f;
        if (p->x_dtype == SD_DT_I32) {
            v = (float)((const int32_t *)x)[at];
            if (zp)
                z = (float)((const int32_t *)zp)[s];
        } else {
            v = (float)load_q(x, p->x_dtype, at);
            if (zp)
                z = (float)load_q(zp, p->x_dtype, s);
        }
        y[at] = (v - z) * scale[s];
    })
}
RT_KERNEL(rt_dequantize_linear)
{
    const RtQuantizeParams *p = params_;
    rt_dequantize_linear_range(params_, bufs, 0, p->outer * p->axis * p->inner);
}

/* ONNX's DynamicQuantizeLinear: the range [min(0, min x), max(0, max x)] onto [0, 255]. An all-zero
 * input has scale 0: its output and zero point are 0. */
RT_KERNEL(rt_dynamic_quantize_linear)
{
    const RtDynQuantParams *p = params_;
    const float *x = bufs[0];
    uint8_t *y = bufs[1], *zp_out = bufs[3];
    float *scale_out = bufs[2];
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < p->n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    float scale = (hi - lo) / 255.0f;
    *scale_out = scale;
    if (!(scale > 0.0f)) {
        *zp_out = 0;
        for (int64_t i = 0; i < p->n; i++)
            y[i] = 0;
        return;
    }
    float zp = rintf(fminf(fmaxf(0.0f - lo / scale, 0.0f), 255.0f));
    *zp_out = (uint8_t)zp;
    for (int64_t i = 0; i < p->n; i++)
        store_q(y, SD_DT_U8, i, rintf(x[i] / scale) + zp);
}

/* --- the scale and zero-point table --- */

typedef struct {
    int32_t y_zp;
    float y_scale;
    int32_t *x_zp, *w_zp;
    float *x_scale, *w_scale;
} QTable;

static QTable table_view(const RtQTableParams *t, void *base)
{
    QTable q;
    int32_t *head = base;
    q.x_zp = head + 4;
    q.w_zp = q.x_zp + t->n_x;
    q.x_scale = (float *)(q.w_zp + t->n_w);
    q.w_scale = q.x_scale + t->n_x;
    q.y_zp = head[0];
    memcpy(&q.y_scale, &head[1], sizeof q.y_scale);
    return q;
}

static inline float load_scale(const void *p, int32_t dt, int64_t i)
{
    return dt == SD_DT_F16 ? rt_half_to_float(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* bufs: x_scale, x_zp, w_scale, w_zp, y_scale, y_zp, table. A side with one value fills its whole
 * row of the table with it. */
RT_KERNEL(rt_qlinear_prep)
{
    const RtQTableParams *p = params_;
    int32_t *head = bufs[6];
    QTable q = table_view(p, head);
    for (int64_t i = 0; i < p->n_x; i++) {
        q.x_zp[i] = p->has_x_zp ? load_q(bufs[1], p->x_dtype, p->many[1] ? i : 0) : 0;
        q.x_scale[i] = p->has_scales ? load_scale(bufs[0], p->scale_dtype, p->many[0] ? i : 0) : 1.0f;
    }
    for (int64_t i = 0; i < p->n_w; i++) {
        q.w_zp[i] = p->has_w_zp ? load_q(bufs[3], p->w_dtype, p->many[3] ? i : 0) : 0;
        q.w_scale[i] = p->has_scales ? load_scale(bufs[2], p->scale_dtype, p->many[2] ? i : 0) : 1.0f;
    }
    head[0] = p->has_scales ? load_q(bufs[5], p->y_dtype, 0) : 0;
    float ys = p->has_scales ? load_scale(bufs[4], p->scale_dtype, 0) : 1.0f;
    memcpy(&head[1], &ys, sizeof ys);
    head[2] = head[3] = 0;
}

/* The output element from its int32 sum: requantized (QLinear*) or the sum itself (*Integer). */
static inline void emit(const RtQTableParams *t, const QTable *q, void *y, int64_t idx, int64_t xi, int64_t wi,
                        int32_t acc)
{
    if (!t->has_scales) {
        ((int32_t *)y)[idx] = acc;
        return;
    }
    float mult = q->x_scale[xi] * q->w_scale[wi] / q->y_scale;
    store_qd(y, t->y_dtype, idx, rint((double)acc * (double)mult) + (double)q->y_zp);
}

RT_KERNEL(rt_qlinear_conv)
{
    const RtQLinearConvParams *p = params_;
    const void *x = bufs[0], *w = bufs[1];
    const int32_t *bias = p->has_bias ? bufs[2] : NULL;
    void *y = bufs[3];
    QTable q = table_view(&p->t, bufs[4]);
    const int64_t cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    const int64_t in_plane = p->in[0] * p->in[1] * p->in[2], out_plane = p->out[0] * p->out[1] * p->out[2];
    const int64_t kvol = p->kernel[0] * p->kernel[1] * p->kernel[2];
    const int32_t xzp = q.x_zp[0];
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t oc = 0; oc < p->c_out; oc++) {
            int64_t g = oc / cout_g, wi = p->t.n_w > 1 ? oc : 0;
            int32_t wzp = q.w_zp[wi];
            for (int64_t od = 0; od < p->out[0]; od++)
                for (int64_t oh = 0; oh < p->out[1]; oh++)
                    for (int64_t ow = 0; ow < p->out[2]; ow++) {
                        int64_t acc = bias ? bias[oc] : 0;
                        for (int64_t ic = 0; ic < cin_g; ic++) {
                            int64_t xc = (n * p->c_in + g * cin_g + ic) * in_plane;
                            int64_t wc = (oc * cin_g + ic) * kvol;
                            for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
                                int64_t id = od * p->stride[0] + kd * p->dilation[0] - p->pad[0];
                                if (id < 0 || id >= p->in[0])
                                    continue;
                                for (int64_t kh = 0; kh < p->kernel[1]; kh++) {
                                    int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad[1];
                                    if (ih < 0 || ih >= p->in[1])
                                        continue;
                                    for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
                                        int64_t iw = ow * p->stride[2] + kw * p->dilation[2] - p->pad[2];
                                        if (iw < 0 || iw >= p->in[2])
                                            continue;
                                        int32_t xv = load_q(x, p->t.x_dtype, xc + (id * p->in[1] + ih) * p->in[2] + iw);
                                        int32_t wv = load_q(w, p->t.w_dtype, wc + (kd * p->kernel[1] + kh) * p->kernel[2] + kw);
                                        acc += (int64_t)(xv - xzp) * (wv - wzp);
                                    }
                                }
                            }
                        }
                        int64_t idx = (n * p->c_out + oc) * out_plane + (od * p->out[1] + oh) * p->out[2] + ow;
                        emit(&p->t, &q, y, idx, 0, wi, (int32_t)(uint32_t)acc);
                    }
        }
}

RT_KERNEL(rt_qlinear_matmul)
{
    const RtQLinearMatmulParams *p = params_;
    const void *a = bufs[0], *b = bufs[1];
    void *y = bufs[2];
    QTable q = table_view(&p->t, bufs[3]);
    int64_t out = 0;
    RT_NEST6(p->batch)
    {
        int64_t ao = RT_OFF6(p->a_stride), bo = RT_OFF6(p->b_stride);
        for (int64_t m = 0; m < p->m; m++)
            for (int64_t j = 0; j < p->n; j++) {
                int64_t xi = p->t.n_x > 1 ? m : 0, wi = p->t.n_w > 1 ? j : 0;
                int64_t acc = 0;
                for (int64_t k = 0; k < p->k; k++)
                    acc += (int64_t)(load_q(a, p->t.x_dtype, ao + m * p->k + k) - q.x_zp[xi]) *
                           (load_q(b, p->t.w_dtype, bo + k * p->n + j) - q.w_zp[wi]);
                emit(&p->t, &q, y, out + m * p->n + j, xi, wi, (int32_t)(uint32_t)acc);
            }
        out += p->m * p->n;
    }
}

/* --- int8 elementwise --- */

static void qadd_rows(const RtQAddParams *p, const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t begin, int64_t end)
{
    const int64_t n = p->dims[5], sa = p->strides[0][5], sb = p->strides[1][5];
    const bool sgn = p->y_dtype == SD_DT_I8;
    const float qmin = (float)p->qmin, qmax = (float)p->qmax;
    for (int64_t item = begin; item < end; item++) {
        int64_t i[5];
        rt_outer_index(p->dims, item, i);
        const uint8_t *ra = a + rt_outer_offset(i, p->strides[0]), *rb = b + rt_outer_offset(i, p->strides[1]);
        uint8_t *ry = y + item * n;
        for (int64_t j = 0; j < n; j++) {
            int32_t va = sgn ? (int8_t)ra[j * sa] : ra[j * sa], vb = sgn ? (int8_t)rb[j * sb] : rb[j * sb];
            float v = rintf((float)(va - p->a_zp) * p->a_mult + (float)(vb - p->b_zp) * p->b_mult) + (float)p->y_zp;
            v = fminf(fmaxf(v, qmin), qmax);
            ry[j] = sgn ? (uint8_t)(int8_t)v : (uint8_t)v;
        }
    }
}

RT_RANGE_KERNEL(rt_qadd_range) { qadd_rows(params_, bufs[0], bufs[1], bufs[2], begin, end); }

RT_KERNEL(rt_qadd)
{
    const RtQAddParams *p = params_;
    qadd_rows(p, bufs[0], bufs[1], bufs[2], 0, rt_outer_extent(p->dims));
}

static void qgap_planes(const RtQPlanesParams *p, const uint8_t *x, uint8_t *y, int64_t begin, int64_t end)
{
    const bool sgn = p->dtype == SD_DT_I8;
    for (int64_t c = begin; c < end; c++) {
        const uint8_t *r = x + c * p->size;
        int32_t sum = 0;
        if (sgn)
            for (int64_t i = 0; i < p->size; i++)
                sum += (int8_t)r[i];
        else
            for (int64_t i = 0; i < p->size; i++)
                sum += r[i];
        float v = rintf((float)(sum - p->x_zp * (int32_t)p->size) * p->mult) + (float)p->y_zp;
        v = fminf(fmaxf(v, (float)p->qmin), (float)p->qmax);
        y[c] = sgn ? (uint8_t)(int8_t)v : (uint8_t)v;
    }
}

RT_RANGE_KERNEL(rt_qglobal_avg_pool_range) { qgap_planes(params_, bufs[0], bufs[1], begin, end); }

/* Channels [begin, end) of QSCALE_CHANNELS: in float, as QADD rescales (a plane's multiplier once) */
static void qscale_planes(const RtQPlanesParams *p, const uint8_t *x, const float *s, uint8_t *y, int64_t begin,
                          int64_t end)
{
    const float qmin = (float)(p->qmin - p->y_zp), qmax = (float)(p->qmax - p->y_zp), zp = (float)p->y_zp;
    for (int64_t c = begin; c < end; c++) {
        const float m = s[c] * p->mult;
        const uint8_t *restrict r = x + c * p->size;
        uint8_t *restrict o = y + c * p->size;
        if (p->dtype == SD_DT_I8)
            for (int64_t i = 0; i < p->size; i++)
                o[i] = (uint8_t)(int8_t)(fminf(fmaxf(rintf((float)((int8_t)r[i] - p->x_zp) * m), qmin), qmax) + zp);
        else
            for (int64_t i = 0; i < p->size; i++)
                o[i] = (uint8_t)(fminf(fmaxf(rintf((float)(r[i] - p->x_zp) * m), qmin), qmax) + zp);
    }
}

RT_RANGE_KERNEL(rt_qscale_channels_range) { qscale_planes(params_, bufs[0], bufs[1], bufs[2], begin, end); }

RT_KERNEL(rt_qscale_channels)
{
    const RtQPlanesParams *p = params_;
    qscale_planes(p, bufs[0], bufs[1], bufs[2], 0, p->planes);
}

RT_KERNEL(rt_qglobal_avg_pool)
{
    const RtQPlanesParams *p = params_;
    qgap_planes(p, bufs[0], bufs[1], 0, p->planes);
}
