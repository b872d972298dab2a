/* runtime/kernels/norm.c — BatchNorm (inference and training), LayerNorm, InstanceNorm and LRN in
 * f32, and the BatchNorm and LayerNorm gradients.
 * Statistics take two passes (mean, then the mean of squared deviations) as the ONNX reference
 * does, summed in lanes of partial sums so that the loops vectorize without reassociation. */
#include "runtime/kernels/norm.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define LANES 16

static float sum_f32(const float *restrict x, int64_t n)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += x[i + j];
    float s = 0.0f;
    for (; i < n; i++)
        s += x[i];
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    return s;
}

static float sum_sq_dev_f32(const float *restrict x, int64_t n, float mean)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float d = x[i + j] - mean;
            acc[j] += d * d;
        }
    float s = 0.0f;
    for (; i < n; i++) {
        float d = x[i] - mean;
        s += d * d;
    }
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    return s;
}

/* y = x * s + t */
static void affine_f32(const float *restrict x, float *restrict y, int64_t n, float s, float t)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * s + t;
}

/* the same plus r[i] when r is given, clamped at 0 as the ReLU kernel clamps (NaN -> 0) when clamp */
static void affine_add_clamp_f32(const float *restrict x, const float *restrict r, float *restrict y, int64_t n,
                                 float s, float t, bool clamp)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = r ? x[i] * s + t + r[i] : x[i] * s + t;
        y[i] = clamp && !(v > 0.0f) ? 0.0f : v;
    }
}

RT_KERNEL(rt_batch_norm_f32)
{
    const RtNormParams *p = params_;
    const float *x = bufs[0], *scale = bufs[1], *bias = bufs[2], *mean = bufs[3], *var = bufs[4];
    float *y = bufs[5], *ws = bufs[6];
    float *s = ws, *t = ws + p->channels;
    for (int64_t c = 0; c < p->channels; c++) {
        s[c] = scale[c] / sqrtf(var[c] + p->epsilon);
        t[c] = bias[c] - mean[c] * s[c];
    }
    if (p->inner == 1) { /* per-activation or [N, C]: vectorize along the channels */
        for (int64_t n = 0; n < p->outer; n++) {
            const float *xr = x + n * p->channels;
            float *yr = y + n * p->channels;
            for (int64_t c = 0; c < p->channels; c++)
                yr[c] = xr[c] * s[c] + t[c];
        }
        return;
    }
    for (int64_t n = 0; n < p->outer; n++)
        for (int64_t c = 0; c < p->channels; c++) {
            int64_t o = (n * p->channels + c) * p->inner;
            affine_f32(x + o, y + o, p->inner, s[c], t[c]);
        }
}

static void layer_norm_row(const float *restrict x, const float *restrict scale, const float *restrict bias,
                           float *restrict y, int64_t n, float mean, float inv_std)
{
    if (bias)
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - mean) * inv_std * scale[i] + bias[i];
    else
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - mean) * inv_std * scale[i];
}

/* Rows [r0, r1): each on its own, so threads can share them out. */
static void layer_norm_rows(const RtNormParams *p, void *const *bufs, int64_t r0, int64_t r1)
{
    const float *x = bufs[0], *scale = (const float *)bufs[1] + p->scale_offset;
    const float *bias = p->has_bias ? (const float *)bufs[2] + p->bias_offset : 0;
    float *y = bufs[3], *mean_out = bufs[4], *inv_out = bufs[5];
    int64_t n = p->inner;
    float inv_n = n > 0 ? 1.0f / (float)n : 0.0f;
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = x + r * n;
        float mean = sum_f32(xr, n) * inv_n;
        float var = sum_sq_dev_f32(xr, n, mean) * inv_n;
        float inv_std = 1.0f / sqrtf(var + p->epsilon);
        layer_norm_row(xr, scale, bias, y + r * n, n, mean, inv_std);
        if (p->has_mean)
            mean_out[r] = mean;
        if (p->has_inv_std)
            inv_out[r] = inv_std;
    }
}

RT_KERNEL(rt_layer_norm_f32)
{
    const RtNormParams *p = params_;
    layer_norm_rows(p, bufs, 0, p->outer);
}

RT_RANGE_KERNEL(rt_layer_norm_f32_range) { layer_norm_rows(params_, bufs, begin, end); }

RT_KERNEL(rt_instance_norm_f32)
{
    const RtNormParams *p = params_;
    const float *x = bufs[0], *scale = bufs[1], *bias = bufs[2];
    float *y = bufs[3];
    int64_t n = p->inner;
    float inv_n = n > 0 ? 1.0f / (float)n : 0.0f;
    for (int64_t b = 0; b < p->outer; b++)
        for (int64_t c = 0; c < p->channels; c++) {
            int64_t o = (b * p->channels + c) * n;
            float mean = sum_f32(x + o, n) * inv_n;
            float var = sum_sq_dev_f32(x + o, n, mean) * inv_n;
            float s = scale[c] / sqrtf(var + p->epsilon);
            affine_f32(x + o, y + o, n, s, bias[c] - mean * s);
        }
}

RT_KERNEL(rt_lrn_f32)
{
    const RtNormParams *p = params_;
    const float *x = bufs[0];
    float *y = bufs[1], *sq = bufs[2];
    int64_t C = p->channels, n = p->inner;
    float k = p->alpha / (float)p->size;
    for (int64_t b = 0; b < p->outer; b++)
        for (int64_t c = 0; c < C; c++) {
            int64_t lo = c - p->size_lo < 0 ? 0 : c - p->size_lo;
            int64_t hi = c + p->size_hi > C - 1 ? C - 1 : c + p->size_hi;
            for (int64_t i = 0; i < n; i++)
                sq[i] = 0.0f;
            for (int64_t cc = lo; cc <= hi; cc++) {
                const float *xc = x + (b * C + cc) * n;
                for (int64_t i = 0; i < n; i++)
                    sq[i] += xc[i] * xc[i];
            }
            const float *xr = x + (b * C + c) * n;
            float *yr = y + (b * C + c) * n;
            for (int64_t i = 0; i < n; i++)
                yr[i] = xr[i] / powf(p->bias + k * sq[i], p->beta);
        }
}

/* --- training BatchNorm and the gradients --- */

/* Channels per block where the statistics run along the channels ([N, C] inputs). */
#define CBLOCK 64

/* Planes of at most this many values are summed in the images' memory order, a vector of sums per
 * channel: one channel's planes alone, 16 to 64 values 4 to 16 KB apart, made a cache miss each
 * (training ResNet's 4x4 and 7x7 BatchNorms at batch 256: 0.7-1.3 ms each, forward and gradient). */
#define SMALL_INNER 64

/* acc[j] += s[i + j] over the n values at s, in lanes */
static inline void add_lanes(float *restrict acc, const float *restrict s, int64_t n)
{
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += s[i + j];
    for (int j = 0; i + j < n; j++)
        acc[j] += s[i + j];
}

/* acc[j] += (s[i + j] - mean)^2 over the n values at s, in lanes */
static inline void add_sq_dev_lanes(float *restrict acc, const float *restrict s, int64_t n, float mean)
{
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            const float d = s[i + j] - mean;
            acc[j] += d * d;
        }
    for (int j = 0; i + j < n; j++) {
        const float d = s[i + j] - mean;
        acc[j] += d * d;
    }
}

static inline double sum_lanes(const float *acc)
{
    double s = 0.0;
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    return s;
}

/* Per channel c in [c_begin, c_end) of (outer, channels, inner) blocks: mean, 1/sqrt(var + eps)
 * and the variance (unbiased unless p->var_biased) of its outer * inner values, into mean[],
 * inv_std[] and var[]. Row sums in float lanes, the sum of rows in double. A channel's numbers do
 * not depend on the range it is computed in (threads split by channels give the same bits). */
static void batch_stats(const RtNormParams *p, const float *restrict x, int64_t c_begin, int64_t c_end,
                        float *restrict mean, float *restrict inv_std, float *restrict var)
{
    const int64_t C = p->channels, inner = p->inner, M = p->outer * inner;
    const double inv_m = M > 0 ? 1.0 / (double)M : 0.0;
    const double unbias = M > 1 && !p->var_biased ? (double)M / (double)(M - 1) : 1.0;
    if (inner == 1) { /* [N, C] or per activation: blocks of channels, vectorized along them */
        for (int64_t c0 = c_begin; c0 < c_end; c0 += CBLOCK) {
            const int64_t nc = c_end - c0 < CBLOCK ? c_end - c0 : CBLOCK;
            double s[CBLOCK] = {0}, q[CBLOCK] = {0};
            for (int64_t n = 0; n < p->outer; n++)
                for (int64_t c = 0; c < nc; c++)
                    s[c] += x[n * C + c0 + c];
            for (int64_t c = 0; c < nc; c++)
                mean[c0 + c] = (float)(s[c] * inv_m);
            for (int64_t n = 0; n < p->outer; n++)
                for (int64_t c = 0; c < nc; c++) {
                    double d = x[n * C + c0 + c] - mean[c0 + c];
                    q[c] += d * d;
                }
            for (int64_t c = 0; c < nc; c++) {
                double v = q[c] * inv_m;
                inv_std[c0 + c] = (float)(1.0 / sqrt(v + p->epsilon));
                var[c0 + c] = (float)(v * unbias);
            }
        }
        return;
    }
    if (inner <= SMALL_INNER) { /* blocks of channels, the images in memory order */
        for (int64_t c0 = c_begin; c0 < c_end; c0 += CBLOCK) {
            const int64_t nc = c_end - c0 < CBLOCK ? c_end - c0 : CBLOCK;
            float acc[CBLOCK][LANES];
            memset(acc, 0, sizeof acc);
            for (int64_t n = 0; n < p->outer; n++)
                for (int64_t c = 0; c < nc; c++)
                    add_lanes(acc[c], x + (n * C + c0 + c) * inner, inner);
            for (int64_t c = 0; c < nc; c++)
                mean[c0 + c] = (float)(sum_lanes(acc[c]) * inv_m);
            memset(acc, 0, sizeof acc);
            for (int64_t n = 0; n < p->outer; n++)
                for (int64_t c = 0; c < nc; c++)
                    add_sq_dev_lanes(acc[c], x + (n * C + c0 + c) * inner, inner, mean[c0 + c]);
            for (int64_t c = 0; c < nc; c++) {
                double v = sum_lanes(acc[c]) * inv_m;
                inv_std[c0 + c] = (float)(1.0 / sqrt(v + p->epsilon));
                var[c0 + c] = (float)(v * unbias);
            }
        }
        return;
    }
    for (int64_t c = c_begin; c < c_end; c++) {
        double s = 0.0, q = 0.0;
        for (int64_t n = 0; n < p->outer; n++)
            s += sum_f32(x + (n * C + c) * inner, inner);
        float m = (float)(s * inv_m);
        for (int64_t n = 0; n < p->outer; n++)
            q += sum_sq_dev_f32(x + (n * C + c) * inner, inner, m);
        double v = q * inv_m;
        mean[c] = m;
        inv_std[c] = (float)(1.0 / sqrt(v + p->epsilon));
        var[c] = (float)(v * unbias);
    }
}

/* Channels [c0, c1): the workspace's slots of those channels only (a thread's own workspace). */
static void batch_norm_train(const RtNormParams *p, void *const *bufs, int64_t c0, int64_t c1)
{
    const float *x = bufs[0], *scale = bufs[1], *bias = bufs[2];
    float *y = bufs[3], *ws = bufs[7];
    const int64_t C = p->channels;
    float *mean = ws, *inv_std = ws + C, *var = ws + 2 * C;
    batch_stats(p, x, c0, c1, mean, inv_std, var);
    if (p->has_mean)
        for (int64_t c = c0; c < c1; c++)
            ((float *)bufs[4])[c] = mean[c];
    if (p->has_inv_std)
        for (int64_t c = c0; c < c1; c++)
            ((float *)bufs[5])[c] = inv_std[c];
    if (p->has_var)
        for (int64_t c = c0; c < c1; c++)
            ((float *)bufs[6])[c] = var[c];
    /* y = x * s + t, with s and t over the statistics' storage (no longer needed) */
    float *s = inv_std, *t = var;
    for (int64_t c = c0; c < c1; c++) {
        s[c] = scale[c] * inv_std[c];
        t[c] = bias[c] - mean[c] * s[c];
    }
    const float *r = p->has_residual ? bufs[8] : NULL;
    if (p->inner == 1) {
        for (int64_t n = 0; n < p->outer; n++)
            for (int64_t c = c0; c < c1; c++) {
                const float v = r ? x[n * C + c] * s[c] + t[c] + r[n * C + c] : x[n * C + c] * s[c] + t[c];
                y[n * C + c] = p->relu && !(v > 0.0f) ? 0.0f : v; /* as the ReLU kernel: NaN -> 0 */
            }
        return;
    }
    for (int64_t n = 0; n < p->outer; n++)
        for (int64_t c = c0; c < c1; c++) {
            int64_t o = (n * C + c) * p->inner;
            if (p->relu || r)
                affine_add_clamp_f32(x + o, r ? r + o : NULL, y + o, p->inner, s[c], t[c], p->relu);
            else
                affine_f32(x + o, y + o, p->inner, s[c], t[c]);
        }
}

RT_KERNEL(rt_batch_norm_train_f32)
{
    const RtNormParams *p = params_;
    batch_norm_train(p, bufs, 0, p->channels);
}

RT_RANGE_KERNEL(rt_batch_norm_train_f32_range) { batch_norm_train(params_, bufs, begin, end); }

/* dy, or with a folded ReLU (y given) dy times its derivative [y > 0], as the ReLU gradient kernel
 * computes it */
static inline float masked(const float *restrict dy, const float *restrict y, int64_t i)
{
    return y ? dy[i] * (y[i] > 0.0f ? 1.0f : 0.0f) : dy[i];
}

/* a[j] += dy, b[j] += dy * (x - mean) over the n values of one plane, in lanes (dy masked by y when
 * given), summed in local lanes first: the version the step was measured with (a single loop over
 * n straight into a and b measured no faster through this machine's noise). */
static inline void grad_lanes(const float *restrict dy, const float *restrict y, const float *restrict x, int64_t n,
                              float mean, float *restrict a, float *restrict b)
{
    float la[LANES] = {0}, lb[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            const float g = masked(dy, y, i + j);
            la[j] += g;
            lb[j] += g * (x[i + j] - mean);
        }
    for (int j = 0; i + j < n; j++) {
        const float g = masked(dy, y, i + j);
        la[j] += g;
        lb[j] += g * (x[i + j] - mean);
    }
    for (int j = 0; j < LANES; j++)
        a[j] += la[j], b[j] += lb[j];
}

/* sum(dy) and sum(dy * (x - mean)) over n elements (dy masked by y when given): grad_lanes' lanes,
 * then their sum */
static void grad_sums(const float *restrict dy, const float *restrict y, const float *restrict x, int64_t n,
                      float mean, float *sum_dy, float *sum_dy_dev)
{
    float a[LANES] = {0}, b[LANES] = {0};
    grad_lanes(dy, y, x, n, mean, a, b);
    float sa = 0.0f, sb = 0.0f;
    for (int j = 0; j < LANES; j++)
        sa += a[j], sb += b[j];
    *sum_dy = sa;
    *sum_dy_dev = sb;
}

/* dx = k_dy * dy + k_dev * (x - mean) + k0 (dy masked by y when given) */
static void grad_affine(const float *restrict dy, const float *restrict y, const float *restrict x, float *restrict dx,
                        int64_t n, float k_dy, float k_dev, float mean, float k0)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] = k_dy * masked(dy, y, i) + k_dev * (x[i] - mean) + k0;
}

/* Per channel, with M = outer * inner values, xhat = (x - mean) * inv_std:
 *   dbias = sum(dy), dscale = sum(dy * xhat);
 *   training:  dx = scale * inv_std * (dy - dbias / M - xhat * dscale / M)
 *   inference: dx = scale * inv_std * dy (mean and inv_std are constants of the map) */
static void batch_norm_grad(const RtNormParams *p, void *const *bufs, int64_t c_begin, int64_t c_end)
{
    const float *dy = bufs[0], *x = bufs[1], *scale = bufs[2], *mean = bufs[3], *inv_std = bufs[4];
    const float *y = p->relu ? bufs[8] : NULL;
    float *dx = bufs[5], *dscale = bufs[6], *dbias = bufs[7];
    const int64_t C = p->channels, inner = p->inner, M = p->outer * inner;
    const float inv_m = M > 0 ? 1.0f / (float)M : 0.0f;
    if (inner == 1) { /* blocks of channels, vectorized along them, sums in double */
        for (int64_t c0 = c_begin; c0 < c_end; c0 += CBLOCK) {
            const int64_t nc = c_end - c0 < CBLOCK ? c_end - c0 : CBLOCK;
            double sd[CBLOCK] = {0}, sdd[CBLOCK] = {0};
            for (int64_t n = 0; n < p->outer; n++)
                for (int64_t c = 0; c < nc; c++) {
                    float g = masked(dy, y, n * C + c0 + c);
                    sd[c] += g;
                    sdd[c] += g * (x[n * C + c0 + c] - mean[c0 + c]);
                }
            float k[CBLOCK], k_dev[CBLOCK], k0[CBLOCK];
            for (int64_t c = 0; c < nc; c++) {
                const float r = inv_std[c0 + c];
                k[c] = scale[c0 + c] * r;
                k_dev[c] = p->training ? (float)(-k[c] * r * r * sdd[c]) * inv_m : 0.0f;
                k0[c] = p->training ? (float)(-k[c] * sd[c]) * inv_m : 0.0f;
                dbias[c0 + c] = (float)sd[c];
                dscale[c0 + c] = (float)(sdd[c] * r);
            }
            for (int64_t n = 0; n < p->outer; n++)
                for (int64_t c = 0; c < nc; c++)
                    dx[n * C + c0 + c] =
                        k[c] * masked(dy, y, n * C + c0 + c) + k_dev[c] * (x[n * C + c0 + c] - mean[c0 + c]) + k0[c];
        }
        return;
    }
    /* blocks of channels, the images in memory order, for planes of one vector: with a ReLU mask,
     * 4x4 planes went 0.96-1.25 -> 0.61-0.68 ms but 7x7 ones 1.03-1.14 -> 1.19-1.43 (in blocks of 4
     * to 64 channels); and the sums' order must not depend on the mask (the fold keeps the bits) */
    if (inner <= LANES) {
        for (int64_t c0 = c_begin; c0 < c_end; c0 += CBLOCK) {
            const int64_t nc = c_end - c0 < CBLOCK ? c_end - c0 : CBLOCK;
            float a[CBLOCK][LANES], b[CBLOCK][LANES], k[CBLOCK], k_dev[CBLOCK], k0[CBLOCK];
            memset(a, 0, sizeof a);
            memset(b, 0, sizeof b);
            for (int64_t n = 0; n < p->outer; n++)
                for (int64_t c = 0; c < nc; c++) {
                    const int64_t o = (n * C + c0 + c) * inner;
                    grad_lanes(dy + o, y ? y + o : NULL, x + o, inner, mean[c0 + c], a[c], b[c]);
                }
            for (int64_t c = 0; c < nc; c++) {
                const double sd = sum_lanes(a[c]), sdd = sum_lanes(b[c]);
                const float r = inv_std[c0 + c];
                k[c] = scale[c0 + c] * r;
                dbias[c0 + c] = (float)sd;
                dscale[c0 + c] = (float)(sdd * r);
                k_dev[c] = p->training ? (float)(-k[c] * r * r * sdd) * inv_m : 0.0f;
                k0[c] = p->training ? (float)(-k[c] * sd) * inv_m : 0.0f;
            }
            for (int64_t n = 0; n < p->outer; n++)
                for (int64_t c = 0; c < nc; c++) {
                    const int64_t o = (n * C + c0 + c) * inner;
                    grad_affine(dy + o, y ? y + o : NULL, x + o, dx + o, inner, k[c], k_dev[c], mean[c0 + c], k0[c]);
                }
        }
        return;
    }
    for (int64_t c = c_begin; c < c_end; c++) {
        double sd = 0.0, sdd = 0.0;
        for (int64_t n = 0; n < p->outer; n++) {
            float a, b;
            const int64_t o = (n * C + c) * inner;
            grad_sums(dy + o, y ? y + o : NULL, x + o, inner, mean[c], &a, &b);
            sd += a, sdd += b;
        }
        const float r = inv_std[c], k = scale[c] * r;
        dbias[c] = (float)sd;
        dscale[c] = (float)(sdd * r);
        float k_dev = p->training ? (float)(-k * r * r * sdd) * inv_m : 0.0f;
        float k0 = p->training ? (float)(-k * sd) * inv_m : 0.0f;
        for (int64_t n = 0; n < p->outer; n++) {
            int64_t o = (n * C + c) * inner;
            grad_affine(dy + o, y ? y + o : NULL, x + o, dx + o, inner, k, k_dev, mean[c], k0);
        }
    }
}

RT_KERNEL(rt_batch_norm_grad_f32)
{
    const RtNormParams *p = params_;
    batch_norm_grad(p, bufs, 0, p->channels);
}

RT_RANGE_KERNEL(rt_batch_norm_grad_f32_range) { batch_norm_grad(params_, bufs, begin, end); }

static void layer_norm_grad_row(const float *restrict dy, const float *restrict x, const float *restrict scale,
                                float *restrict dx, float *restrict dscale, float *restrict dbias, int64_t n, float mu,
                                float rs, float mg, float mgx)
{
    for (int64_t i = 0; i < n; i++) {
        float xhat = (x[i] - mu) * rs;
        dx[i] = rs * (dy[i] * scale[i] - mg - xhat * mgx);
        dscale[i] += dy[i] * xhat;
        dbias[i] += dy[i];
    }
}

/* Per row, with g = dy * scale and xhat = (x - mean) * inv_std:
 *   dx = inv_std * (g - mean(g) - xhat * mean(g * xhat)); dscale += dy * xhat; dbias += dy. */
RT_KERNEL(rt_layer_norm_grad_f32)
{
    const RtNormParams *p = params_;
    const float *dy = bufs[0], *x = bufs[1], *scale = (const float *)bufs[2] + p->scale_offset;
    const float *mean = bufs[3], *inv_std = bufs[4];
    float *dx = bufs[5], *dscale = bufs[6], *dbias = bufs[7];
    const int64_t n = p->inner;
    const float inv_n = n > 0 ? 1.0f / (float)n : 0.0f;
    for (int64_t i = 0; i < n; i++)
        dscale[i] = dbias[i] = 0.0f;
    for (int64_t r = 0; r < p->outer; r++) {
        const float *dyr = dy + r * n, *xr = x + r * n;
        float *dxr = dx + r * n;
        const float mu = mean[r], rs = inv_std[r];
        float a[LANES] = {0}, b[LANES] = {0};
        int64_t i = 0;
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) {
                float g = dyr[i + j] * scale[i + j];
                a[j] += g;
                b[j] += g * (xr[i + j] - mu);
            }
        float sg = 0.0f, sgx = 0.0f;
        for (; i < n; i++) {
            float g = dyr[i] * scale[i];
            sg += g;
            sgx += g * (xr[i] - mu);
        }
        for (int j = 0; j < LANES; j++)
            sg += a[j], sgx += b[j];
        const float mg = sg * inv_n, mgx = sgx * rs * inv_n; /* mean(g), mean(g * xhat) */
        layer_norm_grad_row(dyr, xr, scale, dxr, dscale, dbias, n, mu, rs, mg, mgx);
    }
}
