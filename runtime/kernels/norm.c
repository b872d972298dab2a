/* runtime/kernels/norm.c — BatchNorm (inference), LayerNorm, InstanceNorm and LRN in f32.
 * Statistics take two passes (mean, then the mean of squared deviations) as the ONNX reference
 * does, summed in lanes of partial sums so that the loops vectorize without reassociation. */
#include "runtime/kernels/norm.h"

#include <math.h>

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

RT_KERNEL(rt_layer_norm_f32)
{
    const RtNormParams *p = params_;
    const float *x = bufs[0], *scale = (const float *)bufs[1] + p->scale_offset;
    const float *bias = p->has_bias ? (const float *)bufs[2] + p->bias_offset : 0;
    float *y = bufs[3], *mean_out = bufs[4], *inv_out = bufs[5];
    int64_t n = p->inner;
    float inv_n = n > 0 ? 1.0f / (float)n : 0.0f;
    for (int64_t r = 0; r < p->outer; r++) {
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
