/* runtime/kernels/resize.c — table-driven resampling (see resize.h). */
#include "runtime/kernels/resize.h"

#include <stdbool.h>
#include <string.h>

#define TABLE(p, off, T) ((const T *)((const char *)(p) + (off)))

#define NEAREST_LOOP(T)                                                                      \
    do {                                                                                     \
        const T *src = bufs[0];                                                              \
        T *dst = bufs[1];                                                                    \
        T fill;                                                                              \
        memcpy(&fill, p->fill, sizeof fill);                                                 \
        for (int64_t o = 0; o < p->outer; o++) {                                             \
            const T *x = src + o * p->in_block;                                              \
            T *y = dst + o * p->out_block;                                                   \
            int64_t c[RT_RESIZE_MAX_RANK] = {0};                                             \
            for (int64_t row = 0; row < rows; row++) {                                       \
                int64_t base = 0;                                                            \
                bool outside = false;                                                        \
                for (int d = 0; d < r - 1; d++) {                                            \
                    int64_t v = TABLE(p, p->table[d], int64_t)[c[d]];                        \
                    outside |= v < 0;                                                        \
                    base += v;                                                               \
                }                                                                            \
                T *yr = y + row * last_n;                                                    \
                if (outside) {                                                               \
                    for (int64_t j = 0; j < last_n; j++)                                     \
                        yr[j] = fill;                                                        \
                } else if (p->extrapolate) {                                                 \
                    for (int64_t j = 0; j < last_n; j++)                                     \
                        yr[j] = last[j] < 0 ? fill : x[base + last[j]];                      \
                } else {                                                                     \
                    for (int64_t j = 0; j < last_n; j++)                                     \
                        yr[j] = x[base + last[j]];                                           \
                }                                                                            \
                for (int d = r - 2; d >= 0; d--) {                                           \
                    if (++c[d] < p->out_dims[d])                                             \
                        break;                                                               \
                    c[d] = 0;                                                                \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    } while (0)

RT_KERNEL(rt_resize_nearest)
{
    const RtResizeNearestParams *p = params_;
    const int r = p->rank;
    const int64_t last_n = p->out_dims[r - 1];
    const int64_t rows = last_n ? p->out_block / last_n : 0;
    const int64_t *last = TABLE(p, p->table[r - 1], int64_t);
    switch (p->elem_size) {
    case 1: NEAREST_LOOP(uint8_t); break;
    case 2: NEAREST_LOOP(uint16_t); break;
    case 4: NEAREST_LOOP(uint32_t); break;
    default: NEAREST_LOOP(uint64_t); break;
    }
}

/* One output row of `inner` values blended from `taps` input rows; ix and w step by `stride` from
 * one tap to the next. */
static void blend_row(const float *restrict x, float *restrict y, int64_t inner, int64_t taps,
                      const int32_t *restrict ix, const float *restrict w, int64_t stride, float bias)
{
    if (taps == 2) { /* linear: one pass over the row */
        const float *x0 = x + ix[0] * inner, *x1 = x + ix[stride] * inner;
        const float w0 = w[0], w1 = w[stride];
        for (int64_t i = 0; i < inner; i++)
            y[i] = bias + w0 * x0[i] + w1 * x1[i];
        return;
    }
    if (taps == 4) { /* cubic */
        const float *x0 = x + ix[0] * inner, *x1 = x + ix[stride] * inner;
        const float *x2 = x + ix[2 * stride] * inner, *x3 = x + ix[3 * stride] * inner;
        const float w0 = w[0], w1 = w[stride], w2 = w[2 * stride], w3 = w[3 * stride];
        for (int64_t i = 0; i < inner; i++)
            y[i] = bias + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i];
        return;
    }
    for (int64_t i = 0; i < inner; i++)
        y[i] = bias;
    for (int64_t t = 0; t < taps; t++) {
        const float *xt = x + ix[t * stride] * inner;
        const float wt = w[t * stride];
        for (int64_t i = 0; i < inner; i++)
            y[i] += wt * xt[i];
    }
}

/* A row of out_n values, each blended from `taps` scattered elements of x: one pass per tap, so
 * each pass is a unit-stride loop with one gather (vectorizable). */
static void blend_gather(const float *restrict x, float *restrict y, int64_t out_n, int64_t taps,
                         const int32_t *restrict ix, const float *restrict w, const float *restrict bias)
{
    for (int64_t j = 0; j < out_n; j++)
        y[j] = bias[j];
    for (int64_t t = 0; t < taps; t++) {
        const int32_t *it = ix + t * out_n;
        const float *wt = w + t * out_n;
        for (int64_t j = 0; j < out_n; j++)
            y[j] += wt[j] * x[it[j]];
    }
}

RT_KERNEL(rt_resize_axis_f32)
{
    const RtResizeAxisParams *p = params_;
    const float *src = (const float *)((const char *)bufs[0] + p->src_offset);
    float *dst = (float *)((char *)bufs[1] + p->dst_offset);
    const int32_t *ix = TABLE(p, p->index_table, int32_t);
    const float *w = TABLE(p, p->weight_table, float);
    const float *bias = TABLE(p, p->bias_table, float);
    const int64_t in_n = p->in_n, out_n = p->out_n, inner = p->inner, taps = p->taps;
    for (int64_t o = 0; o < p->outer; o++) {
        const float *x = src + o * in_n * inner;
        float *y = dst + o * out_n * inner;
        if (inner == 1)
            blend_gather(x, y, out_n, taps, ix, w, bias);
        else
            for (int64_t j = 0; j < out_n; j++)
                blend_row(x, y + j * inner, inner, taps, ix + j, w + j, out_n, bias[j]);
    }
}

RT_KERNEL(rt_resize_2d_f32)
{
    const RtResize2dParams *p = params_;
    const RtResizeTaps *h = &p->h, *w = &p->w;
    const float *src = bufs[0];
    float *dst = bufs[1], *tmp = bufs[2];
    const int32_t *hix = TABLE(p, h->index_table, int32_t), *wix = TABLE(p, w->index_table, int32_t);
    const float *hw = TABLE(p, h->weight_table, float), *ww = TABLE(p, w->weight_table, float);
    const float *hb = TABLE(p, h->bias_table, float), *wb = TABLE(p, w->bias_table, float);
    const int64_t in_h = h->in_n, out_h = h->out_n, in_w = w->in_n, out_w = w->out_n;
    for (int64_t o = 0; o < p->outer; o++) {
        const float *x = src + o * in_h * in_w;
        float *y = dst + o * out_h * out_w;
        if (p->w_first) { /* gather every input row once, then blend whole rows */
            for (int64_t i = 0; i < in_h; i++)
                blend_gather(x + i * in_w, tmp + i * out_w, out_w, w->taps, wix, ww, wb);
            for (int64_t j = 0; j < out_h; j++)
                blend_row(tmp, y + j * out_w, out_w, h->taps, hix + j, hw + j, out_h, hb[j]);
        } else { /* blend input rows into one row, then gather along it */
            for (int64_t j = 0; j < out_h; j++) {
                blend_row(x, tmp, in_w, h->taps, hix + j, hw + j, out_h, hb[j]);
                blend_gather(tmp, y + j * out_w, out_w, w->taps, wix, ww, wb);
            }
        }
    }
}
