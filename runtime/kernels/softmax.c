/* runtime/kernels/softmax.c — softmax family. Contiguous rows (inner == 1) reduce in LANES
 * independent float accumulators, so the max, exp and sum loops vectorize (rt_vexpf is inlinable
 * where libm's expf is not); the sums of exponentials are in double. Strided rows
 * (inner > 1) keep one max and one sum per column in the workspace. The gradients follow the
 * same layout; the losses walk each position's classes (stride inner) and recompute the
 * log-sum-exp instead of keeping anything from the forward pass. */
#include "runtime/kernels/softmax.h"

#include <math.h>
#include <stdbool.h>

#include "runtime/kernels/vmath.h"

#define LANES 16
#define DLANES 8
#define TILE_BYTES (512 * 1024) /* a column tile of the input, revisited by three passes */

static inline float max_nan(float a, float v) { return (v > a || v != v) ? v : a; }

/* Lane arrays: each fills one vector register once vectorized; four of them in flight hide the
 * latency of the max/add chains. */
typedef struct { float v[LANES]; } LanesF32;
typedef struct { double v[DLANES]; } LanesF64;

static inline void lanes_max(LanesF32 *a, const float *restrict x)
{
    for (int l = 0; l < LANES; l++)
        a->v[l] = max_nan(a->v[l], x[l]);
}

static inline void lanes_add(LanesF64 *a, const float *restrict x)
{
    for (int l = 0; l < DLANES; l++)
        a->v[l] += x[l];
}

static float row_max(const float *restrict x, int64_t n)
{
    LanesF32 a[4];
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < LANES; l++)
            a[k].v[l] = -INFINITY;
    int64_t i = 0;
    for (; i + 4 * LANES <= n; i += 4 * LANES) {
        lanes_max(&a[0], x + i);
        lanes_max(&a[1], x + i + LANES);
        lanes_max(&a[2], x + i + 2 * LANES);
        lanes_max(&a[3], x + i + 3 * LANES);
    }
    for (; i < n; i++)
        a[0].v[0] = max_nan(a[0].v[0], x[i]);
    float m = -INFINITY;
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < LANES; l++)
            m = max_nan(m, a[k].v[l]);
    return m;
}

/* y = exp(x - m): one 16-wide float loop (the exponential is most of the work). */
static void row_exp(const float *restrict x, int64_t n, float m, float *restrict y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = rt_vexpf(x[i] - m);
}

/* Sum in DLANES double lanes: log-softmax takes the log of a sum that is often barely above 1,
 * where float partial sums would lose the digits that matter. */
static double row_sum_f64(const float *restrict y, int64_t n)
{
    LanesF64 a[4] = {0};
    int64_t i = 0;
    for (; i + 4 * DLANES <= n; i += 4 * DLANES) {
        lanes_add(&a[0], y + i);
        lanes_add(&a[1], y + i + DLANES);
        lanes_add(&a[2], y + i + 2 * DLANES);
        lanes_add(&a[3], y + i + 3 * DLANES);
    }
    for (; i < n; i++)
        a[0].v[0] += y[i];
    double sum = 0;
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < DLANES; l++)
            sum += a[k].v[l];
    return sum;
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
        return;
    }
    row_exp(x, n, m, y); /* log-softmax too: y is scratch until the last loop */
    double sum = row_sum_f64(y, n);
    if (op == RT_LOG_SOFTMAX) {
        float log_sum = (float)log(sum);
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - m) - log_sum;
    } else {
        float r = (float)(1.0 / sum);
        for (int64_t i = 0; i < n; i++)
            y[i] *= r;
    }
}

/* Columns [0, width) of an [n, inner] slab (rows `inner` apart), normalized down the columns. */
static void softmax_tile(int op, const float *restrict x, float *restrict y, int64_t n, int64_t inner, int64_t width,
                         float *restrict m, double *restrict s, float *restrict f, int64_t *restrict first)
{
    for (int64_t i = 0; i < width; i++)
        m[i] = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < width; i++)
            m[i] = max_nan(m[i], x[j * inner + i]);
    if (op == RT_HARDMAX) {
        for (int64_t i = 0; i < width; i++)
            first[i] = n;
        for (int64_t j = n - 1; j >= 0; j--)
            for (int64_t i = 0; i < width; i++)
                first[i] = x[j * inner + i] == m[i] ? j : first[i];
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < width; i++)
                y[j * inner + i] = first[i] == j ? 1.0f : 0.0f;
        return;
    }
    /* the exponentials go to y (scratch for log-softmax), then add up in double: one loop doing both
     * would run the exponential at the width of doubles */
    for (int64_t i = 0; i < width; i++)
        s[i] = 0.0;
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < width; i++)
            y[j * inner + i] = rt_vexpf(x[j * inner + i] - m[i]);
        for (int64_t i = 0; i < width; i++)
            s[i] += y[j * inner + i];
    }
    /* f: the log of the sum (log-softmax) or its reciprocal (softmax) */
    for (int64_t i = 0; i < width; i++)
        f[i] = op == RT_LOG_SOFTMAX ? (float)log(s[i]) : (float)(1.0 / s[i]);
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < width; i++)
            y[j * inner + i] = op == RT_LOG_SOFTMAX ? (x[j * inner + i] - m[i]) - f[i] : y[j * inner + i] * f[i];
}

/* One [n, inner] slab, a tile of columns at a time: the three passes over a tile stay in cache. */
static void softmax_cols(int op, const float *restrict x, float *restrict y, int64_t n, int64_t inner,
                         float *restrict m, double *restrict s, float *restrict f, int64_t *restrict first)
{
    int64_t tile = (TILE_BYTES / 4 / (n ? n : 1)) & ~(int64_t)15;
    tile = tile < 16 ? 16 : tile > inner ? inner : tile;
    for (int64_t i0 = 0; i0 < inner; i0 += tile) {
        int64_t width = inner - i0 < tile ? inner - i0 : tile;
        softmax_tile(op, x + i0, y + i0, n, inner, width, m, s, f, first);
    }
}

/* Slabs [o0, o1) of outer (the workspace: this thread's own) */
static void softmax_slabs(const RtSoftmaxParams *p, void *const *bufs, int64_t o0, int64_t o1)
{
    const float *x = bufs[0];
    float *y = bufs[1];
    const int64_t n = p->n, inner = p->inner, slab = n * inner;
    for (int64_t o = o0; o < o1; o++) {
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

RT_KERNEL(rt_softmax_f32)
{
    const RtSoftmaxParams *p = params_;
    softmax_slabs(p, bufs, 0, p->outer);
}

RT_RANGE_KERNEL(rt_softmax_f32_range) { softmax_slabs(params_, bufs, begin, end); }

/* --- gradients --- */

/* sum a[i] * b[i] (b NULL: sum a[i]) in DLANES double lanes, so the loop vectorizes. */
static double row_dot_f64(const float *restrict a, const float *restrict b, int64_t n)
{
    double acc[DLANES] = {0};
    int64_t i = 0;
    if (b) {
        for (; i + DLANES <= n; i += DLANES)
            for (int l = 0; l < DLANES; l++)
                acc[l] += (double)a[i + l] * b[i + l];
    } else {
        for (; i + DLANES <= n; i += DLANES)
            for (int l = 0; l < DLANES; l++)
                acc[l] += a[i + l];
    }
    double s = 0;
    for (; i < n; i++)
        s += b ? (double)a[i] * b[i] : a[i];
    for (int l = 0; l < DLANES; l++)
        s += acc[l];
    return s;
}

static void softmax_grad_row(int op, const float *restrict dy, const float *restrict y, float *restrict dx, int64_t n)
{
    if (op == RT_LOG_SOFTMAX) {
        float s = (float)row_dot_f64(dy, NULL, n);
        for (int64_t i = 0; i < n; i++)
            dx[i] = dy[i] - rt_vexpf(y[i]) * s;
    } else {
        float s = (float)row_dot_f64(dy, y, n);
        for (int64_t i = 0; i < n; i++)
            dx[i] = y[i] * (dy[i] - s);
    }
}

/* An [n, inner] slab normalized down the columns: one double sum per column in s. */
static void softmax_grad_cols(int op, const float *restrict dy, const float *restrict y, float *restrict dx, int64_t n,
                              int64_t inner, double *restrict s)
{
    for (int64_t i = 0; i < inner; i++)
        s[i] = 0.0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < inner; i++)
            s[i] += op == RT_LOG_SOFTMAX ? (double)dy[j * inner + i] : (double)dy[j * inner + i] * y[j * inner + i];
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t k = j * inner + i;
            dx[k] = op == RT_LOG_SOFTMAX ? dy[k] - rt_vexpf(y[k]) * (float)s[i] : y[k] * (dy[k] - (float)s[i]);
        }
}

static void softmax_grad_slabs(const RtSoftmaxParams *p, void *const *bufs, int64_t o0, int64_t o1)
{
    const float *dy = bufs[0], *y = bufs[1];
    float *dx = bufs[2];
    const int64_t n = p->n, inner = p->inner, slab = n * inner;
    for (int64_t o = o0; o < o1; o++) {
        if (inner == 1)
            softmax_grad_row(p->op, dy + o * slab, y + o * slab, dx + o * slab, n);
        else
            softmax_grad_cols(p->op, dy + o * slab, y + o * slab, dx + o * slab, n, inner, bufs[3]);
    }
}

RT_KERNEL(rt_softmax_grad_f32)
{
    const RtSoftmaxParams *p = params_;
    softmax_grad_slabs(p, bufs, 0, p->outer);
}

RT_RANGE_KERNEL(rt_softmax_grad_f32_range) { softmax_grad_slabs(params_, bufs, begin, end); }

/* --- losses --- */

static inline int64_t loss_target(const RtLossParams *p, const void *target, int64_t pos, bool *ignored)
{
    int64_t t = p->index_size == 4 ? (int64_t)((const int32_t *)target)[pos] : ((const int64_t *)target)[pos];
    *ignored = p->has_ignore && t == p->ignore_index;
    return t < 0 ? 0 : t >= p->classes ? p->classes - 1 : t;
}

/* log-sum-exp down one position's classes (stride inner): the max subtracted, the exponentials
 * in float (rt_vexpf vectorizes), their sum in double lanes */
static double position_lse(const float *restrict z, int64_t classes, int64_t inner)
{
    float m = -INFINITY;
    if (inner == 1)
        m = row_max(z, classes);
    else
        for (int64_t c = 0; c < classes; c++)
            m = max_nan(m, z[c * inner]);
    double acc[DLANES] = {0};
    int64_t c = 0;
    if (inner == 1)
        for (; c + DLANES <= classes; c += DLANES)
            for (int l = 0; l < DLANES; l++)
                acc[l] += rt_vexpf(z[c + l] - m);
    for (; c < classes; c++)
        acc[0] += rt_vexpf(z[c * inner] - m);
    double s = 0;
    for (int l = 0; l < DLANES; l++)
        s += acc[l];
    return m + log(s);
}

/* The mean's denominator: summed weights of the counted positions, or the number of positions. */
static double loss_denominator(const RtLossParams *p, const void *target, const float *w)
{
    int64_t positions = p->outer * p->inner;
    if (p->soft)
        return (double)positions;
    double d = 0;
    for (int64_t q = 0; q < positions; q++) {
        bool ignored;
        int64_t t = loss_target(p, target, q, &ignored);
        d += ignored ? 0.0 : p->has_weights ? (double)w[t] : 1.0;
    }
    return d;
}

/* The loss at position (o, i): x points at its class 0 (classes `inner` apart). */
static double position_loss(const RtLossParams *p, const float *restrict x, const void *target, const float *w,
                            int64_t o, int64_t i)
{
    const int64_t C = p->classes, inner = p->inner;
    double lse = p->from_logits ? position_lse(x, C, inner) : 0.0;
    if (p->soft) {
        const float *t = (const float *)target + o * C * inner + i;
        double s = 0;
        for (int64_t c = 0; c < C; c++)
            s += (double)t[c * inner] * (p->has_weights ? w[c] : 1.0f) * (lse - x[c * inner]);
        return s;
    }
    bool ignored;
    int64_t t = loss_target(p, target, o * inner + i, &ignored);
    if (ignored)
        return 0.0;
    return (p->has_weights ? (double)w[t] : 1.0) * (lse - x[t * inner]);
}

RT_KERNEL(rt_loss_f32)
{
    const RtLossParams *p = params_;
    const float *x = bufs[0], *w = bufs[2];
    float *loss = bufs[3];
    const int64_t C = p->classes, inner = p->inner;
    double total = 0;
    for (int64_t o = 0; o < p->outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double l = position_loss(p, x + o * C * inner + i, bufs[1], w, o, i);
            if (p->reduction == 2)
                loss[o * inner + i] = (float)l;
            total += l;
        }
    if (p->reduction == 1)
        loss[0] = (float)total;
    else if (p->reduction == 0)
        loss[0] = (float)(total / loss_denominator(p, bufs[1], w));
}

/* d loss / d input at one position, scaled by s (the incoming gradient of that position's loss). */
static void position_grad(const RtLossParams *p, const float *restrict x, const void *target, const float *w,
                          int64_t o, int64_t i, double s, float *restrict dx)
{
    const int64_t C = p->classes, inner = p->inner;
    double lse = p->from_logits ? position_lse(x, C, inner) : 0.0;
    if (p->soft) {
        const float *t = (const float *)target + o * C * inner + i;
        double mass = 0; /* sum of the weighted targets: the softmax term's factor */
        for (int64_t c = 0; c < C; c++)
            mass += (double)t[c * inner] * (p->has_weights ? w[c] : 1.0f);
        for (int64_t c = 0; c < C; c++) {
            double wt = (double)t[c * inner] * (p->has_weights ? w[c] : 1.0f);
            double g = p->from_logits ? rt_vexpf((float)(x[c * inner] - lse)) * mass - wt : -wt;
            dx[c * inner] = (float)(s * g);
        }
        return;
    }
    bool ignored;
    int64_t t = loss_target(p, target, o * inner + i, &ignored);
    double wt = ignored ? 0.0 : p->has_weights ? (double)w[t] : 1.0;
    for (int64_t c = 0; c < C; c++) {
        double g = p->from_logits ? wt * rt_vexpf((float)(x[c * inner] - lse)) : 0.0;
        dx[c * inner] = (float)(s * (c == t ? g - wt : g));
    }
}

RT_KERNEL(rt_loss_grad_f32)
{
    const RtLossParams *p = params_;
    const float *dloss = bufs[0], *x = bufs[1], *w = bufs[3];
    float *dx = bufs[4];
    const int64_t C = p->classes, inner = p->inner;
    double scale = dloss[0];
    if (p->reduction == 0)
        scale /= loss_denominator(p, bufs[2], w);
    for (int64_t o = 0; o < p->outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double s = p->reduction == 2 ? (double)dloss[o * inner + i] : scale;
            position_grad(p, x + o * C * inner + i, bufs[2], w, o, i, s, dx + o * C * inner + i);
        }
}
