/* runtime/kernels/update.c — moving averages, optimizer steps and the queue push, in place.
 * Element math is f32 with every hyperparameter rounded to f32 once, as torch.optim does when it
 * multiplies a float tensor by a Python number; what PyTorch computes in Python doubles (bias
 * corrections, 1 - lr * weight_decay, trust ratios from the norms) is computed here in double.
 * LARS and LAMB need the norms of the whole parameter before they can step: one pass sums the
 * squares (in lanes of double partial sums, so the loop vectorizes without reassociation), a second
 * one applies the step. */
#include "runtime/kernels/update.h"

#include <math.h>
#include <string.h>

#define LANES 8

RT_KERNEL(rt_ema_update_f32)
{
    const RtUpdateParams *p = params_;
    float *restrict dst = bufs[0];
    const float *restrict src = bufs[1];
    const float keep = (float)p->momentum, take = (float)(1.0 - p->momentum);
    for (int64_t i = 0; i < p->n; i++)
        dst[i] = dst[i] * keep + src[i] * take;
}

static void sgd_plain(float *restrict w, const float *restrict g, int64_t n, float lr, float wd)
{
    for (int64_t i = 0; i < n; i++) {
        float d = wd != 0.0f ? g[i] + wd * w[i] : g[i];
        w[i] = w[i] - lr * d;
    }
}

static void sgd_momentum(float *restrict w, const float *restrict g, float *restrict vel, int64_t n, float lr,
                         float mom, float wd, int nesterov)
{
    for (int64_t i = 0; i < n; i++) {
        float d = wd != 0.0f ? g[i] + wd * w[i] : g[i];
        float b = vel[i] * mom + d;
        vel[i] = b;
        w[i] = w[i] - lr * (nesterov ? d + mom * b : b);
    }
}

RT_KERNEL(rt_sgd_update_f32)
{
    const RtUpdateParams *p = params_;
    float *w = bufs[0], *vel = bufs[2];
    const float *g = bufs[1];
    const float lr = *(const float *)bufs[3];
    const float wd = (float)p->weight_decay, mom = (float)p->momentum;
    if (p->momentum == 0.0)
        sgd_plain(w, g, p->n, lr, wd);
    else
        sgd_momentum(w, g, vel, p->n, lr, mom, wd, p->nesterov);
}

/* Bias corrections of Adam for step t (clamped to 1: the count is run-time data). */
typedef struct {
    float step_size;      /* lr / (1 - beta1^t) */
    float bc2_sqrt;       /* sqrt(1 - beta2^t) */
    float decay;          /* 1 - lr * weight_decay */
    float b1, one_b1, b2, one_b2, eps;
} AdamScalars;

static AdamScalars adam_scalars(const RtUpdateParams *p, float lr, int64_t t)
{
    if (t < 1)
        t = 1;
    double bc1 = 1.0 - pow(p->beta1, (double)t), bc2 = 1.0 - pow(p->beta2, (double)t);
    AdamScalars s;
    s.step_size = (float)((double)lr / (bc1 > 0.0 ? bc1 : 1.0));
    s.bc2_sqrt = (float)sqrt(bc2 > 0.0 ? bc2 : 1.0);
    s.decay = (float)(1.0 - (double)lr * p->weight_decay);
    s.b1 = (float)p->beta1, s.one_b1 = (float)(1.0 - p->beta1);
    s.b2 = (float)p->beta2, s.one_b2 = (float)(1.0 - p->beta2);
    s.eps = (float)p->epsilon;
    return s;
}

static void adamw_loop(float *restrict w, const float *restrict g, float *restrict m, float *restrict v, int64_t n,
                       AdamScalars s)
{
    for (int64_t i = 0; i < n; i++) {
        float wi = w[i] * s.decay;
        float mi = m[i] * s.b1 + g[i] * s.one_b1;
        float vi = v[i] * s.b2 + g[i] * g[i] * s.one_b2;
        m[i] = mi, v[i] = vi;
        float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;
        w[i] = wi - s.step_size * (mi / denom);
    }
}

RT_KERNEL(rt_adamw_update_f32)
{
    const RtUpdateParams *p = params_;
    const float lr = *(const float *)bufs[4];
    const int64_t t = *(const int64_t *)bufs[5];
    adamw_loop(bufs[0], bufs[1], bufs[2], bufs[3], p->n, adam_scalars(p, lr, t));
}

/* sum of w^2 and of (g + wd*w)^2 */
static void lars_norms(const float *restrict w, const float *restrict g, int64_t n, float wd, double *w2, double *d2)
{
    double aw[LANES] = {0}, ad[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float d = g[i + j] + wd * w[i + j];
            aw[j] += (double)w[i + j] * w[i + j];
            ad[j] += (double)d * d;
        }
    double sw = 0.0, sd = 0.0;
    for (; i < n; i++) {
        float d = g[i] + wd * w[i];
        sw += (double)w[i] * w[i];
        sd += (double)d * d;
    }
    for (int j = 0; j < LANES; j++)
        sw += aw[j], sd += ad[j];
    *w2 = sw, *d2 = sd;
}

/* eta * ||w|| / ||d||, or 1 when either norm is 0 (fresh zero weights, a zero gradient) */
static float trust_ratio(double eta, double w2, double d2)
{
    if (!(w2 > 0.0) || !(d2 > 0.0))
        return 1.0f;
    return (float)(eta * sqrt(w2) / sqrt(d2));
}

static void lars_step(float *restrict w, const float *restrict g, float *restrict vel, int64_t n, float lr, float mom,
                      float wd, float q)
{
    for (int64_t i = 0; i < n; i++) {
        float d = (g[i] + wd * w[i]) * q;
        float b = vel[i] * mom + d;
        vel[i] = b;
        w[i] = w[i] - lr * b;
    }
}

RT_KERNEL(rt_lars_update_f32)
{
    const RtUpdateParams *p = params_;
    float *w = bufs[0], *vel = bufs[2];
    const float *g = bufs[1];
    const float lr = *(const float *)bufs[3];
    const float wd = (float)p->weight_decay;
    double w2, d2;
    lars_norms(w, g, p->n, wd, &w2, &d2);
    lars_step(w, g, vel, p->n, lr, (float)p->momentum, wd, trust_ratio(p->trust_coefficient, w2, d2));
}

/* Updates the moments and sums w^2 and u^2 for the LAMB direction u = m^/(sqrt(v^)+eps) + wd*w. */
static void lamb_moments(const float *restrict w, const float *restrict g, float *restrict m, float *restrict v,
                         int64_t n, AdamScalars s, float inv_bc1, float wd, double *w2, double *u2)
{
    double aw[LANES] = {0}, au[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            int64_t k = i + j;
            float mi = m[k] * s.b1 + g[k] * s.one_b1;
            float vi = v[k] * s.b2 + g[k] * g[k] * s.one_b2;
            m[k] = mi, v[k] = vi;
            float u = (mi * inv_bc1) / (sqrtf(vi) / s.bc2_sqrt + s.eps) + wd * w[k];
            aw[j] += (double)w[k] * w[k];
            au[j] += (double)u * u;
        }
    double sw = 0.0, su = 0.0;
    for (; i < n; i++) {
        float mi = m[i] * s.b1 + g[i] * s.one_b1;
        float vi = v[i] * s.b2 + g[i] * g[i] * s.one_b2;
        m[i] = mi, v[i] = vi;
        float u = (mi * inv_bc1) / (sqrtf(vi) / s.bc2_sqrt + s.eps) + wd * w[i];
        sw += (double)w[i] * w[i];
        su += (double)u * u;
    }
    for (int j = 0; j < LANES; j++)
        sw += aw[j], su += au[j];
    *w2 = sw, *u2 = su;
}

static void lamb_step(float *restrict w, const float *restrict m, const float *restrict v, int64_t n, AdamScalars s,
                      float inv_bc1, float wd, float scale)
{
    for (int64_t i = 0; i < n; i++) {
        float u = (m[i] * inv_bc1) / (sqrtf(v[i]) / s.bc2_sqrt + s.eps) + wd * w[i];
        w[i] = w[i] - scale * u;
    }
}

RT_KERNEL(rt_lamb_update_f32)
{
    const RtUpdateParams *p = params_;
    float *w = bufs[0], *m = bufs[2], *v = bufs[3];
    const float *g = bufs[1];
    const float lr = *(const float *)bufs[4];
    int64_t t = *(const int64_t *)bufs[5];
    AdamScalars s = adam_scalars(p, lr, t);
    if (t < 1)
        t = 1;
    double bc1 = 1.0 - pow(p->beta1, (double)t);
    float inv_bc1 = (float)(1.0 / (bc1 > 0.0 ? bc1 : 1.0));
    const float wd = (float)p->weight_decay;
    double w2, u2;
    lamb_moments(w, g, m, v, p->n, s, inv_bc1, wd, &w2, &u2);
    float trust = trust_ratio(1.0, w2, u2);
    lamb_step(w, m, v, p->n, s, inv_bc1, wd, lr * trust);
}

RT_KERNEL(rt_queue_push)
{
    const RtUpdateParams *p = params_;
    unsigned char *queue = bufs[0];
    const unsigned char *items = bufs[1];
    int64_t *position = bufs[2];
    const int64_t k = p->queue_rows, b = p->item_rows;
    if (k <= 0 || b > k)
        return;
    int64_t pos = *position % k; /* run-time data: any value lands in [0, K) */
    if (pos < 0)
        pos += k;
    for (int64_t r = 0; r < b; r++) {
        int64_t row = pos + r < k ? pos + r : pos + r - k;
        memcpy(queue + row * p->row_bytes, items + r * p->row_bytes, (size_t)p->row_bytes);
    }
    *position = pos + b < k ? pos + b : pos + b - k;
}
