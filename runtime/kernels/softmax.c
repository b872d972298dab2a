/* runtime/kernels/softmax.c — softmax family. Contiguous rows (inner == 1) reduce in LANES
 * independent float accumulators, so the max, exp and sum loops vectorize (rt_vexpf is inlinable
 * where libm's expf is not); the sums of exponentials are in double. Strided rows
 * (inner > 1) keep one max and one sum per column in the workspace. */
#include "runtime/kernels/softmax.h"

#include <math.h>
#include <stdbool.h>

#include "runtime/kernels/vmath.h"

#define LANES 16

static inline float max_nan(float a, float v) { return (v > a || v != v) ? v : a; }

static float row_max(const float *restrict x, int64_t n)
{
    float acc[LANES];
    for (int l = 0; l < LANES; l++)
        acc[l] = -INFINITY;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] = max_nan(acc[l], x[i + l]);
    for (; i < n; i++)
        acc[0] = max_nan(acc[0], x[i]);
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] = max_nan(acc[l], acc[l + w]);
    return acc[0];
}

/* Sum of exp(x - m) in double lanes (log-softmax takes the log of a sum that is often barely
 * above 1, where float lanes would lose digits); stores the exponentials in y when `store`. */
static double row_exp_sum(const float *restrict x, int64_t n, float m, float *restrict y, bool store)
{
    double acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = rt_vexpf(x[i + l] - m);
            if (store)
                y[i + l] = e;
            acc[l] += e;
        }
    for (; i < n; i++) {
        float e = rt_vexpf(x[i] - m);
        if (store)
            y[i] = e;
        acc[0] += e;
    }
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    return acc[0];
}

static void softmax_row(int op, const float *restrict x, float *restrict y, int64_t n)
{
    float m = row_max(x, n);
    if (op == RT_HARDMAX) {
        int64_t first = n;
        for (int64_t i = n - 1; i >= 0; i--)
            first = x[i] == m ? i : first;
        for (int64_t i = 0; i < n; i++)
            y[i] = i == first ? 1.0f : 0.0f;
    } else if (op == RT_LOG_SOFTMAX) {
        float log_sum = (float)log(row_exp_sum(x, n, m, y, false));
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - m) - log_sum;
    } else {
        float r = (float)(1.0 / row_exp_sum(x, n, m, y, true));
        for (int64_t i = 0; i < n; i++)
            y[i] *= r;
    }
}

/* One [n, inner] slab, normalized down the columns. */
static void softmax_cols(int op, const float *restrict x, float *restrict y, int64_t n, int64_t inner,
                         float *restrict m, double *restrict s, float *restrict f, int64_t *restrict first)
{
    for (int64_t i = 0; i < inner; i++)
        m[i] = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < inner; i++)
            m[i] = max_nan(m[i], x[j * inner + i]);
    if (op == RT_HARDMAX) {
        for (int64_t i = 0; i < inner; i++)
            first[i] = n;
        for (int64_t j = n - 1; j >= 0; j--)
            for (int64_t i = 0; i < inner; i++)
                first[i] = x[j * inner + i] == m[i] ? j : first[i];
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < inner; i++)
                y[j * inner + i] = first[i] == j ? 1.0f : 0.0f;
        return;
    }
    for (int64_t i = 0; i < inner; i++)
        s[i] = 0.0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < inner; i++) {
            float e = rt_vexpf(x[j * inner + i] - m[i]);
            if (op == RT_SOFTMAX)
                y[j * inner + i] = e;
            s[i] += e;
        }
    /* f: the log of the sum (log-softmax) or its reciprocal (softmax) */
    for (int64_t i = 0; i < inner; i++)
        f[i] = op == RT_LOG_SOFTMAX ? (float)log(s[i]) : (float)(1.0 / s[i]);
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < inner; i++)
            y[j * inner + i] = op == RT_LOG_SOFTMAX ? (x[j * inner + i] - m[i]) - f[i] : y[j * inner + i] * f[i];
}

RT_KERNEL(rt_softmax_f32)
{
    const RtSoftmaxParams *p = params_;
    const float *x = bufs[0];
    float *y = bufs[1];
    const int64_t n = p->n, inner = p->inner, slab = n * inner;
    for (int64_t o = 0; o < p->outer; o++) {
        if (inner == 1) {
            softmax_row(p->op, x + o * slab, y + o * slab, n);
        } else {
            /* workspace: inner i64 (Hardmax's first index) or f64 sums, inner f32 maxima, inner f32 */
            int64_t *first = bufs[2];
            double *s = bufs[2];
            float *m = (float *)(first + inner), *f = m + inner;
            softmax_cols(p->op, x + o * slab, y + o * slab, n, inner, m, s, f, first);
        }
    }
}
