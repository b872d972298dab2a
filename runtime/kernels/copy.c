/* runtime/kernels/copy.c — strided copies, fills and index-mapped pads. Elements are moved as
 * unsigned integers of their size, so one kernel serves every dtype. */
#include "runtime/kernels/copy.h"

#include <string.h>

#include "runtime/kernels/loops.h"

#define COPY_LOOP(T)                                                                   \
    do {                                                                               \
        const T *src = (const T *)bufs[0] + p->src_offset;                             \
        T *dst = (T *)bufs[1] + p->dst_offset;                                         \
        RT_NEST6(d) { dst[RT_OFF6(ds)] = src[RT_OFF6(ss)]; }                           \
    } while (0)

RT_KERNEL(rt_copy_strided)
{
    const RtCopyParams *p = params_;
    const int64_t *d = p->dims, *ss = p->src_strides, *ds = p->dst_strides;
    switch (p->elem_size) {
    case 1: COPY_LOOP(uint8_t); break;
    case 2: COPY_LOOP(uint16_t); break;
    case 4: COPY_LOOP(uint32_t); break;
    default: COPY_LOOP(uint64_t); break;
    }
}

#define COPY_RANGE(T)                                                                  \
    do {                                                                               \
        const T *src = (const T *)bufs[0] + p->src_offset;                             \
        T *dst = (T *)bufs[1] + p->dst_offset;                                         \
        for (int64_t outer = begin; outer < end; outer++) {                            \
            int64_t i[5];                                                              \
            rt_outer_index(d, outer, i);                                               \
            const T *ps = src + rt_outer_offset(i, ss);                                \
            T *pd = dst + rt_outer_offset(i, ds);                                      \
            for (int64_t k = 0; k < d[5]; k++)                                         \
                pd[k * ds[5]] = ps[k * ss[5]];                                         \
        }                                                                              \
    } while (0)

/* items: the outer index over dims[0..4] */
RT_RANGE_KERNEL(rt_copy_strided_range)
{
    const RtCopyParams *p = params_;
    const int64_t *d = p->dims, *ss = p->src_strides, *ds = p->dst_strides;
    switch (p->elem_size) {
    case 1: COPY_RANGE(uint8_t); break;
    case 2: COPY_RANGE(uint16_t); break;
    case 4: COPY_RANGE(uint32_t); break;
    default: COPY_RANGE(uint64_t); break;
    }
}

#define FILL_LOOP(T)                                  \
    do {                                              \
        T v;                                          \
        memcpy(&v, p->value, sizeof v);               \
        T *dst = bufs[0];                             \
        for (int64_t i = 0; i < p->n; i++)            \
            dst[i] = v;                               \
    } while (0)

RT_KERNEL(rt_fill)
{
    const RtFillParams *p = params_;
    switch (p->elem_size) {
    case 1: FILL_LOOP(uint8_t); break;
    case 2: FILL_LOOP(uint16_t); break;
    case 4: FILL_LOOP(uint32_t); break;
    default: FILL_LOOP(uint64_t); break;
    }
}

/* Maps an output coordinate to the input coordinate it reads under a pad mode. */
static inline int64_t pad_source(int mode, int64_t o, int64_t begin, int64_t n)
{
    int64_t i = o - begin;
    if (n == 1)
        return 0;
    switch (mode) {
    case 1: { /* reflect, without repeating the edge */
        int64_t period = 2 * (n - 1);
        i %= period;
        if (i < 0)
            i += period;
        return i < n ? i : period - i;
    }
    case 3: /* wrap */
        i %= n;
        return i < 0 ? i + n : i;
    default: /* edge */
        return i < 0 ? 0 : (i >= n ? n - 1 : i);
    }
}

#define PAD_LOOP(T)                                                                     \
    do {                                                                                \
        const T *src = bufs[0];                                                         \
        T *dst = bufs[1];                                                               \
        int64_t o = 0;                                                                  \
        RT_NEST6(od)                                                                    \
        {                                                                               \
            int64_t c[RT_LOOP_RANK] = {i0, i1, i2, i3, i4, i5}, off = 0;                \
            for (int k = 0; k < RT_LOOP_RANK; k++)                                      \
                off = off * id[k] + pad_source(p->mode, c[k], p->pad_begin[k], id[k]);  \
            dst[o++] = src[off];                                                        \
        }                                                                               \
    } while (0)

RT_KERNEL(rt_pad_index)
{
    const RtPadParams *p = params_;
    const int64_t *od = p->out_dims, *id = p->in_dims;
    switch (p->elem_size) {
    case 1: PAD_LOOP(uint8_t); break;
    case 2: PAD_LOOP(uint16_t); break;
    case 4: PAD_LOOP(uint32_t); break;
    default: PAD_LOOP(uint64_t); break;
    }
}
