/* runtime/kernels/gather.c — Gather and GatherElements. The element and index widths are
 * constants after inlining, so each call site keeps one of the typed loops. */
#include "runtime/kernels/gather.h"

#include "runtime/kernels/loops.h"

/* Negative indices count from the end; anything still outside [0, n) is clamped (n >= 1). */
static inline int64_t clamp_index(int64_t i, int64_t n)
{
    i = i < 0 ? i + n : i;
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

static inline int64_t load_index(const void *idx, int index_size, int64_t k)
{
    return index_size == 4 ? (int64_t)((const int32_t *)idx)[k] : ((const int64_t *)idx)[k];
}

#define GATHER_LOOP(T)                                                                   \
    do {                                                                                 \
        const T *x = bufs[0];                                                            \
        T *y = bufs[2];                                                                  \
        for (int64_t o = 0; o < p->outer; o++)                                           \
            for (int64_t k = 0; k < p->count; k++) {                                     \
                T *dst = y + (o * p->count + k) * inner;                                 \
                if (n == 0) { /* nothing to read: zeros */                               \
                    for (int64_t t = 0; t < inner; t++)                                  \
                        dst[t] = 0;                                                      \
                    continue;                                                            \
                }                                                                        \
                const T *src = x + (o * n + clamp_index(load_index(bufs[1], isz, k), n)) * inner; \
                for (int64_t t = 0; t < inner; t++)                                      \
                    dst[t] = src[t];                                                     \
            }                                                                            \
    } while (0)

RT_KERNEL(rt_gather)
{
    const RtGatherParams *p = params_;
    const int64_t n = p->axis_n, inner = p->inner;
    const int isz = p->index_size;
    switch (p->elem_size) {
    case 1: GATHER_LOOP(uint8_t); break;
    case 2: GATHER_LOOP(uint16_t); break;
    case 4: GATHER_LOOP(uint32_t); break;
    default: GATHER_LOOP(uint64_t); break;
    }
}

#define GATHER_ELEMENTS_LOOP(T)                                                                  \
    do {                                                                                         \
        const T *x = bufs[0];                                                                    \
        T *y = bufs[2];                                                                          \
        int64_t o = 0;                                                                           \
        RT_NEST6(d)                                                                              \
        {                                                                                        \
            int64_t i = n ? clamp_index(load_index(bufs[1], isz, o), n) : 0;                     \
            y[o] = n ? x[RT_OFF6(ds) + i * p->axis_stride] : 0;                                  \
            o++;                                                                                 \
        }                                                                                        \
    } while (0)

RT_KERNEL(rt_gather_elements)
{
    const RtGatherElementsParams *p = params_;
    const int64_t *d = p->dims, *ds = p->data_strides, n = p->axis_n;
    const int isz = p->index_size;
    switch (p->elem_size) {
    case 1: GATHER_ELEMENTS_LOOP(uint8_t); break;
    case 2: GATHER_ELEMENTS_LOOP(uint16_t); break;
    case 4: GATHER_ELEMENTS_LOOP(uint32_t); break;
    default: GATHER_ELEMENTS_LOOP(uint64_t); break;
    }
}

RT_KERNEL(rt_gather_grad_f32)
{
    const RtGatherParams *p = params_;
    const int64_t n = p->axis_n, inner = p->inner;
    const float *dy = bufs[0];
    float *dx = bufs[2];
    for (int64_t k = 0; k < p->outer * n * inner; k++)
        dx[k] = 0.0f;
    if (n == 0)
        return;
    for (int64_t o = 0; o < p->outer; o++)
        for (int64_t k = 0; k < p->count; k++) {
            const float *src = dy + (o * p->count + k) * inner;
            float *dst = dx + (o * n + clamp_index(load_index(bufs[1], p->index_size, k), n)) * inner;
            for (int64_t t = 0; t < inner; t++)
                dst[t] += src[t];
        }
}

RT_KERNEL(rt_gather_elements_grad_f32)
{
    const RtGatherElementsParams *p = params_;
    const int64_t *d = p->dims, *ds = p->data_strides, n = p->axis_n;
    const float *dy = bufs[0];
    float *dx = bufs[2];
    for (int64_t k = 0; k < p->data_numel; k++)
        dx[k] = 0.0f;
    if (n == 0)
        return;
    int64_t o = 0;
    RT_NEST6(d)
    {
        int64_t i = clamp_index(load_index(bufs[1], p->index_size, o), n);
        dx[RT_OFF6(ds) + i * p->axis_stride] += dy[o];
        o++;
    }
}
