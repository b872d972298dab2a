/* runtime/kernels/pool.c — pooling kernels (see pool.h). The kind and the sizes come from the
 * params struct: once inlined with constant params the switch on the kind folds away and the
 * loops over the output width, innermost wherever windows lie inside the input, vectorize. Border
 * windows are clipped to the input one output at a time; padding never contributes a value
 * (average pooling may count it in the divisor). */
#include "runtime/kernels/pool.h"

#include <math.h>
#include <stdbool.h>

#include "runtime/kernels/window.h"

static inline float lp_term(float v, int p)
{
    switch (p) {
    case 1: return fabsf(v);
    case 2: return v * v;
    default: return powf(fabsf(v), (float)p);
    }
}

static inline float pool_init(int kind) { return kind == RT_POOL_MAX ? -INFINITY : 0.0f; }

static inline float pool_add(int kind, int p, float acc, float v)
{
    switch (kind) {
    case RT_POOL_MAX: return v > acc ? v : acc;
    case RT_POOL_AVG: return acc + v;
    default: return acc + lp_term(v, p);
    }
}

static inline float pool_finish(int kind, int p, float acc, int64_t count)
{
    switch (kind) {
    case RT_POOL_MAX: return acc;
    case RT_POOL_AVG: return count > 0 ? acc / (float)count : 0.0f;
    default: return p == 1 ? acc : (p == 2 ? sqrtf(acc) : powf(acc, 1.0f / (float)p));
    }
}

/* Window taps start, start+d, ... (k of them) that fall in the padded extent [-pb, n+pe). */
static int64_t padded_taps(int64_t start, int64_t k, int64_t d, int64_t n, int64_t pb, int64_t pe)
{
    int64_t count = 0;
    for (int64_t t = 0; t < k; t++) {
        int64_t i = start + t * d;
        count += i >= -pb && i < n + pe;
    }
    return count;
}

/* One output whose window may reach outside the input. */
static float pool_point(const RtPoolParams *p, const float *x, int64_t d0, int64_t h0, int64_t w0)
{
    const int kind = p->kind, P = p->p;
    const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
    float acc = pool_init(kind);
    int64_t count = 0;
    for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
        int64_t id = d0 + kd * p->dilation[0];
        if (id < 0 || id >= ID)
            continue;
        for (int64_t kh = 0; kh < p->kernel[1]; kh++) {
            int64_t ih = h0 + kh * p->dilation[1];
            if (ih < 0 || ih >= IH)
                continue;
            for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
                int64_t iw = w0 + kw * p->dilation[2];
                if (iw < 0 || iw >= IW)
                    continue;
                acc = pool_add(kind, P, acc, x[(id * IH + ih) * IW + iw]);
                count++;
            }
        }
    }
    if (kind == RT_POOL_AVG && p->count_include_pad)
        count = padded_taps(d0, p->kernel[0], p->dilation[0], ID, p->pad[0], p->pad_end[0]) *
                padded_taps(h0, p->kernel[1], p->dilation[1], IH, p->pad[1], p->pad_end[1]) *
                padded_taps(w0, p->kernel[2], p->dilation[2], IW, p->pad[2], p->pad_end[2]);
    return pool_finish(kind, P, acc, count);
}

static inline float max2(float a, float b) { return b > a ? b : a; }

/* acc[ow] combined with the taps of one kernel row, xr[ow*S + kw*D] for kw < KW, over the outputs
 * [lo, hi) whose windows lie inside the input horizontally. The output width is the innermost
 * loop, so it vectorizes; the common widths have their taps written out (the kernel bitcode is
 * built with loop unrolling off). */
static void pool_taps(int kind, int P, const float *restrict xr, float *restrict acc, int64_t lo, int64_t hi,
                      int64_t KW, int64_t S, int64_t D)
{
    if (kind == RT_POOL_MAX) {
        switch (KW) {
        case 2:
            for (int64_t ow = lo; ow < hi; ow++)
                acc[ow] = max2(acc[ow], max2(xr[ow * S], xr[ow * S + D]));
            return;
        case 3:
            for (int64_t ow = lo; ow < hi; ow++)
                acc[ow] = max2(acc[ow], max2(max2(xr[ow * S], xr[ow * S + D]), xr[ow * S + 2 * D]));
            return;
        default:
            for (int64_t kw = 0; kw < KW; kw++)
                for (int64_t ow = lo; ow < hi; ow++)
                    acc[ow] = max2(acc[ow], xr[ow * S + kw * D]);
            return;
        }
    }
    if (kind == RT_POOL_AVG) {
        switch (KW) {
        case 2:
            for (int64_t ow = lo; ow < hi; ow++)
                acc[ow] += xr[ow * S] + xr[ow * S + D];
            return;
        case 3:
            for (int64_t ow = lo; ow < hi; ow++)
                acc[ow] += xr[ow * S] + xr[ow * S + D] + xr[ow * S + 2 * D];
            return;
        default:
            for (int64_t kw = 0; kw < KW; kw++)
                for (int64_t ow = lo; ow < hi; ow++)
                    acc[ow] += xr[ow * S + kw * D];
            return;
        }
    }
    for (int64_t kw = 0; kw < KW; kw++)
        for (int64_t ow = lo; ow < hi; ow++)
            acc[ow] += lp_term(xr[ow * S + kw * D], P);
}

/* One plane. Every output row combines the kernel rows (kd, kh) that fall inside the input over
 * the columns whose windows lie inside it horizontally (vectorized), then finishes them; the few
 * border columns are computed one by one. */
static void pool_plane(const RtPoolParams *p, const float *restrict x, float *restrict y)
{
    const int kind = p->kind, P = p->p;
    const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->kernel[0], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t DD = p->dilation[0], DH = p->dilation[1];
    int64_t w_lo, w_hi;
    rt_inside_range(IW, OW, KW, p->stride[2], p->dilation[2], p->pad[2], &w_lo, &w_hi);
    for (int64_t od = 0; od < OD; od++)
        for (int64_t oh = 0; oh < OH; oh++) {
            const int64_t d0 = od * p->stride[0] - p->pad[0], h0 = oh * p->stride[1] - p->pad[1];
            float *yr = y + (od * OH + oh) * OW;
            for (int64_t ow = w_lo; ow < w_hi; ow++)
                yr[ow] = pool_init(kind);
            int64_t rows = 0;
            for (int64_t kd = 0; kd < KD; kd++) {
                int64_t id = d0 + kd * DD;
                if (id < 0 || id >= ID)
                    continue;
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = h0 + kh * DH;
                    if (ih < 0 || ih >= IH)
                        continue;
                    pool_taps(kind, P, x + (id * IH + ih) * IW - p->pad[2], yr, w_lo, w_hi, KW, p->stride[2],
                              p->dilation[2]);
                    rows++;
                }
            }
            if (kind != RT_POOL_MAX) {
                int64_t count = rows * KW;
                if (kind == RT_POOL_AVG && p->count_include_pad)
                    count = padded_taps(d0, KD, DD, ID, p->pad[0], p->pad_end[0]) *
                            padded_taps(h0, KH, DH, IH, p->pad[1], p->pad_end[1]) * KW;
                for (int64_t ow = w_lo; ow < w_hi; ow++)
                    yr[ow] = pool_finish(kind, P, yr[ow], count);
            }
            for (int64_t ow = 0; ow < w_lo; ow++)
                yr[ow] = pool_point(p, x, d0, h0, ow * p->stride[2] - p->pad[2]);
            for (int64_t ow = w_hi; ow < OW; ow++)
                yr[ow] = pool_point(p, x, d0, h0, ow * p->stride[2] - p->pad[2]);
        }
}

/* Planes [begin, end) */
static void pool_planes(const RtPoolParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0];
    float *y = bufs[1];
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2], out_vol = p->out[0] * p->out[1] * p->out[2];
    for (int64_t c = begin; c < end; c++)
        pool_plane(p, x + c * in_vol, y + c * out_vol);
}
RT_KERNEL(rt_pool_f32) { pool_planes(params_, bufs, 0, ((const RtPoolParams *)params_)->planes); }
RT_RANGE_KERNEL(rt_pool_f32_range) { pool_planes(params_, bufs, begin, end); }

/* Max pooling with indices into the flattened input (batch and channel included, padding not),
 * row-major or, with storage_order 1, column-major over the spatial dims. The first maximum in
 * window order wins. */
RT_KERNEL(rt_maxpool_indices_f32)
{
    const RtPoolParams *p = params_;
    const float *x = bufs[0];
    float *y = bufs[1];
    int64_t *idx = bufs[2];
    const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t in_vol = ID * IH * IW;
    for (int64_t c = 0; c < p->planes; c++) {
        const float *xp = x + c * in_vol;
        for (int64_t od = 0; od < OD; od++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    const int64_t d0 = od * p->stride[0] - p->pad[0], h0 = oh * p->stride[1] - p->pad[1];
                    const int64_t w0 = ow * p->stride[2] - p->pad[2];
                    float best = -INFINITY;
                    int64_t bd = 0, bh = 0, bw = 0;
                    bool found = false;
                    for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
                        int64_t id = d0 + kd * p->dilation[0];
                        if (id < 0 || id >= ID)
                            continue;
                        for (int64_t kh = 0; kh < p->kernel[1]; kh++) {
                            int64_t ih = h0 + kh * p->dilation[1];
                            if (ih < 0 || ih >= IH)
                                continue;
                            for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
                                int64_t iw = w0 + kw * p->dilation[2];
                                if (iw < 0 || iw >= IW)
                                    continue;
                                float v = xp[(id * IH + ih) * IW + iw];
                                if (!found || v > best) {
                                    best = v;
                                    bd = id, bh = ih, bw = iw;
                                    found = true;
                                }
                            }
                        }
                    }
                    int64_t o = c * OD * OH * OW + (od * OH + oh) * OW + ow;
                    y[o] = best;
                    idx[o] = c * in_vol + (p->storage_order ? bd + ID * (bh + IH * bw) : (bd * IH + bh) * IW + bw);
                }
    }
}

/* The int8 max pools, laid out like the float pools: each output row starts at the lowest value
 * and takes the input rows of its window one at a time, the outputs whose windows lie inside the
 * input horizontally in a loop over the width that vectorizes (a 3-wide kernel written out), the
 * border ones tap by tap. (One output at a time with a bounds check per tap was 15% of a quantized
 * ResNet-18's time.) */
#define MAXPOOL_INT(name, T, LOWEST)                                                                           \
    static void name##_row(const T *restrict xr, T *restrict yr, const RtPoolParams *p, int64_t lo, int64_t hi)  \
    {                                                                                                          \
        const int64_t IW = p->in[2], OW = p->out[2], S = p->stride[2], D = p->dilation[2], KW = p->kernel[2];  \
        const int64_t off = -p->pad[2];                                                                        \
        for (int64_t ow = 0; ow < OW; ow++) {                                                                  \
            if (ow == lo && hi > lo)                                                                           \
                ow = hi; /* the inside ones below */                                                           \
            if (ow >= OW)                                                                                      \
                break;                                                                                         \
            T best = yr[ow];                                                                                   \
            for (int64_t kw = 0; kw < KW; kw++) {                                                              \
                const int64_t iw = ow * S + off + kw * D;                                                      \
                if (iw >= 0 && iw < IW && xr[iw] > best)                                                       \
                    best = xr[iw];                                                                             \
            }                                                                                                  \
            yr[ow] = best;                                                                                     \
        }                                                                                                      \
        if (lo >= hi)                                                                                          \
            return;                                                                                            \
        const T *xi = xr + lo * S + off; /* the first inside window */                                         \
        T *yi = yr + lo;                                                                                       \
        const int64_t n = hi - lo;                                                                             \
        if (KW == 3) {                                                                                         \
            for (int64_t j = 0; j < n; j++) {                                                                  \
                T a = xi[j * S], b = xi[j * S + D], c = xi[j * S + 2 * D], m = yi[j];                          \
                m = a > m ? a : m;                                                                             \
                m = b > m ? b : m;                                                                             \
                yi[j] = c > m ? c : m;                                                                         \
            }                                                                                                  \
            return;                                                                                            \
        }                                                                                                      \
        for (int64_t kw = 0; kw < KW; kw++)                                                                    \
            for (int64_t j = 0; j < n; j++) {                                                                  \
                T v = xi[j * S + kw * D];                                                                      \
                yi[j] = v > yi[j] ? v : yi[j];                                                                 \
            }                                                                                                  \
    }                                                                                                          \
    RT_RANGE_KERNEL(name##_range) /* items: planes */                                                         \
    {                                                                                                          \
        const RtPoolParams *p = params_;                                                                       \
        const T *x = bufs[0];                                                                                  \
        T *y = bufs[1];                                                                                        \
        const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];                                             \
        const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];                                          \
        int64_t lo, hi;                                                                                        \
        rt_inside_range(IW, OW, p->kernel[2], p->stride[2], p->dilation[2], p->pad[2], &lo, &hi);              \
        for (int64_t c = begin; c < end; c++) {                                                                \
            const T *xp = x + c * ID * IH * IW;                                                                \
            T *yp = y + c * OD * OH * OW;                                                                      \
            for (int64_t od = 0; od < OD; od++)                                                                \
                for (int64_t oh = 0; oh < OH; oh++) {                                                          \
                    const int64_t d0 = od * p->stride[0] - p->pad[0], h0 = oh * p->stride[1] - p->pad[1];      \
                    T *yr = yp + (od * OH + oh) * OW;                                                          \
                    for (int64_t ow = 0; ow < OW; ow++)                                                        \
                        yr[ow] = LOWEST;                                                                       \
                    for (int64_t kd = 0; kd < p->kernel[0]; kd++) {                                            \
                        const int64_t id = d0 + kd * p->dilation[0];                                           \
                        if (id < 0 || id >= ID)                                                                \
                            continue;                                                                          \
                        for (int64_t kh = 0; kh < p->kernel[1]; kh++) {                                        \
                            const int64_t ih = h0 + kh * p->dilation[1];                                       \
                            if (ih >= 0 && ih < IH)                                                            \
                                name##_row(xp + (id * IH + ih) * IW, yr, p, lo, hi);                           \
                        }                                                                                      \
                    }                                                                                          \
                }                                                                                              \
        }                                                                                                      \
    }                                                                                                          \
    RT_KERNEL(name) { name##_range(params_, bufs, 0, ((const RtPoolParams *)params_)->planes); }

MAXPOOL_INT(rt_maxpool_u8, uint8_t, 0)
MAXPOOL_INT(rt_maxpool_i8, int8_t, -128)

/* Eight partial results side by side: the lanes vectorize, where one running float sum or max
 * would not (LLVM keeps the order of float reductions). Items: planes. */
RT_RANGE_KERNEL(rt_global_pool_f32_range)
{
    const RtGlobalPoolParams *p = params_;
    const float *x = bufs[0];
    float *y = bufs[1];
    const int kind = p->kind, P = p->p;
    const int64_t size = p->size;
    for (int64_t c = begin; c < end; c++) {
        const float *xp = x + c * size;
        float acc[8];
        for (int j = 0; j < 8; j++)
            acc[j] = pool_init(kind);
        int64_t i = 0;
        for (; i + 8 <= size; i += 8)
            for (int j = 0; j < 8; j++)
                acc[j] = pool_add(kind, P, acc[j], xp[i + j]);
        for (; i < size; i++)
            acc[0] = pool_add(kind, P, acc[0], xp[i]);
        float r = acc[0];
        for (int j = 1; j < 8; j++)
            r = kind == RT_POOL_MAX ? (acc[j] > r ? acc[j] : r) : r + acc[j];
        y[c] = pool_finish(kind, P, r, size);
    }
}
RT_KERNEL(rt_global_pool_f32)
{
    rt_global_pool_f32_range(params_, bufs, 0, ((const RtGlobalPoolParams *)params_)->planes);
}

/* --- gradients --- */

/* The first maximum (window order) of the window starting at (d0, h0, w0): its index in the
 * plane, -1 when no tap lies inside the input. */
static int64_t window_argmax(const RtPoolParams *p, const float *x, int64_t d0, int64_t h0, int64_t w0)
{
    const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
    float best = -INFINITY;
    int64_t at = -1;
    for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
        int64_t id = d0 + kd * p->dilation[0];
        if (id < 0 || id >= ID)
            continue;
        for (int64_t kh = 0; kh < p->kernel[1]; kh++) {
            int64_t ih = h0 + kh * p->dilation[1];
            if (ih < 0 || ih >= IH)
                continue;
            for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
                int64_t iw = w0 + kw * p->dilation[2];
                if (iw < 0 || iw >= IW)
                    continue;
                int64_t i = (id * IH + ih) * IW + iw;
                if (at < 0 || x[i] > best) {
                    best = x[i];
                    at = i;
                }
            }
        }
    }
    return at;
}

/* best[o], at[o] updated with the taps xr[o*S] (plane index base + o*S) for o in [lo, hi): a later
 * tap wins only when strictly greater, so the first maximum stays. Compare and select: vectorizes. */
static void argmax_taps(const float *restrict xr, float *restrict best, int32_t *restrict at, int64_t lo, int64_t hi,
                        int64_t S, int32_t base)
{
    for (int64_t o = lo; o < hi; o++) {
        float v = xr[o * S];
        bool more = v > best[o];
        best[o] = more ? v : best[o];
        at[o] = more ? base + (int32_t)(o * S) : at[o];
    }
}

/* Operands dy, x, dx, workspace (out[2] floats and out[2] int32). Per output row, the windows
 * that lie inside the input horizontally find their argmax together, tap by tap in window order
 * (argmax_taps); border windows one by one; then each dy is added at its argmax. Planes of 2^31
 * elements or more take the one-by-one path throughout. */
RT_KERNEL(rt_maxpool_grad_f32)
{
    const RtPoolParams *p = params_;
    const float *dy = bufs[0], *x = bufs[1];
    float *dx = bufs[2];
    float *best = bufs[3];
    const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->kernel[0], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t SW = p->stride[2], DW = p->dilation[2], PW = p->pad[2];
    const int64_t in_vol = ID * IH * IW, out_vol = OD * OH * OW;
    int32_t *at = (int32_t *)(best + OW);
    int64_t w_lo, w_hi;
    rt_inside_range(IW, OW, KW, SW, DW, PW, &w_lo, &w_hi);
    if (in_vol >= ((int64_t)1 << 31))
        w_lo = w_hi = 0;
    for (int64_t c = 0; c < p->planes; c++) {
        const float *xp = x + c * in_vol, *dyp = dy + c * out_vol;
        float *dxp = dx + c * in_vol;
        for (int64_t i = 0; i < in_vol; i++) /* plane by plane: still in cache for the scatter */
            dxp[i] = 0.0f;
        for (int64_t od = 0; od < OD; od++)
            for (int64_t oh = 0; oh < OH; oh++) {
                const int64_t d0 = od * p->stride[0] - p->pad[0], h0 = oh * p->stride[1] - p->pad[1];
                const float *dyr = dyp + (od * OH + oh) * OW;
                bool first = true;
                for (int64_t kd = 0; kd < KD && w_lo < w_hi; kd++) {
                    int64_t id = d0 + kd * p->dilation[0];
                    if (id < 0 || id >= ID)
                        continue;
                    for (int64_t kh = 0; kh < KH; kh++) {
                        int64_t ih = h0 + kh * p->dilation[1];
                        if (ih < 0 || ih >= IH)
                            continue;
                        const int64_t row = (id * IH + ih) * IW - PW;
                        if (first) { /* the window's first tap, whatever its value */
                            for (int64_t ow = w_lo; ow < w_hi; ow++) {
                                best[ow] = xp[row + ow * SW];
                                at[ow] = (int32_t)(row + ow * SW);
                            }
                            first = false;
                            argmax_taps(xp + row + DW, best, at, w_lo, w_hi, SW, (int32_t)(row + DW));
                            for (int64_t kw = 2; kw < KW; kw++)
                                argmax_taps(xp + row + kw * DW, best, at, w_lo, w_hi, SW, (int32_t)(row + kw * DW));
                            continue;
                        }
                        for (int64_t kw = 0; kw < KW; kw++)
                            argmax_taps(xp + row + kw * DW, best, at, w_lo, w_hi, SW, (int32_t)(row + kw * DW));
                    }
                }
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t i;
                    if (ow >= w_lo && ow < w_hi)
                        i = first ? -1 : at[ow];
                    else
                        i = window_argmax(p, xp, d0, h0, ow * SW - PW);
                    if (i >= 0)
                        dxp[i] += dyr[ow];
                }
            }
    }
}

/* The forward's divisor for the window starting at (d0, h0, w0) (pool_point's count). */
static int64_t avg_count(const RtPoolParams *p, int64_t d0, int64_t h0, int64_t w0)
{
    if (p->count_include_pad)
        return padded_taps(d0, p->kernel[0], p->dilation[0], p->in[0], p->pad[0], p->pad_end[0]) *
               padded_taps(h0, p->kernel[1], p->dilation[1], p->in[1], p->pad[1], p->pad_end[1]) *
               padded_taps(w0, p->kernel[2], p->dilation[2], p->in[2], p->pad[2], p->pad_end[2]);
    return padded_taps(d0, p->kernel[0], p->dilation[0], p->in[0], 0, 0) *
           padded_taps(h0, p->kernel[1], p->dilation[1], p->in[1], 0, 0) *
           padded_taps(w0, p->kernel[2], p->dilation[2], p->in[2], 0, 0);
}

/* dst[o*S] += src[o] * scale for o in [lo, hi). */
static void spread_tap(float *restrict dst, const float *restrict src, float scale, int64_t lo, int64_t hi, int64_t S)
{
    for (int64_t o = lo; o < hi; o++)
        dst[o * S] += src[o] * scale;
}

/* One plane: every dy row spreads over the kernel rows inside the input, the columns whose
 * windows lie inside horizontally in vectorized loops (one divisor for the row), the border
 * columns one by one. */
static void avgpool_grad_plane(const RtPoolParams *p, const float *restrict dy, float *restrict dx)
{
    const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
    const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
    const int64_t KD = p->kernel[0], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t DD = p->dilation[0], DH = p->dilation[1], DW = p->dilation[2], SW = p->stride[2];
    for (int64_t i = 0; i < ID * IH * IW; i++)
        dx[i] = 0.0f;
    int64_t w_lo, w_hi;
    rt_inside_range(IW, OW, KW, SW, DW, p->pad[2], &w_lo, &w_hi);
    for (int64_t od = 0; od < OD; od++)
        for (int64_t oh = 0; oh < OH; oh++) {
            const int64_t d0 = od * p->stride[0] - p->pad[0], h0 = oh * p->stride[1] - p->pad[1];
            const float *dyr = dy + (od * OH + oh) * OW;
            if (w_lo < w_hi) {
                int64_t count = avg_count(p, d0, h0, w_lo * SW - p->pad[2]);
                float scale = count > 0 ? 1.0f / (float)count : 0.0f;
                for (int64_t kd = 0; kd < KD; kd++) {
                    int64_t id = d0 + kd * DD;
                    if (id < 0 || id >= ID)
                        continue;
                    for (int64_t kh = 0; kh < KH; kh++) {
                        int64_t ih = h0 + kh * DH;
                        if (ih < 0 || ih >= IH)
                            continue;
                        float *row = dx + (id * IH + ih) * IW - p->pad[2];
                        for (int64_t kw = 0; kw < KW; kw++)
                            spread_tap(row + kw * DW, dyr, scale, w_lo, w_hi, SW);
                    }
                }
            }
            for (int64_t ow = 0; ow < OW; ow++) {
                if (ow == w_lo && w_lo < w_hi)
                    ow = w_hi;
                if (ow >= OW)
                    break;
                const int64_t w0 = ow * SW - p->pad[2];
                int64_t count = avg_count(p, d0, h0, w0);
                float v = count > 0 ? dyr[ow] / (float)count : 0.0f;
                for (int64_t kd = 0; kd < KD; kd++) {
                    int64_t id = d0 + kd * DD;
                    if (id < 0 || id >= ID)
                        continue;
                    for (int64_t kh = 0; kh < KH; kh++) {
                        int64_t ih = h0 + kh * DH;
                        if (ih < 0 || ih >= IH)
                            continue;
                        for (int64_t kw = 0; kw < KW; kw++) {
                            int64_t iw = w0 + kw * DW;
                            if (iw >= 0 && iw < IW)
                                dx[(id * IH + ih) * IW + iw] += v;
                        }
                    }
                }
            }
        }
}

RT_KERNEL(rt_avgpool_grad_f32)
{
    const RtPoolParams *p = params_;
    const float *dy = bufs[0];
    float *dx = bufs[2];
    const int64_t in_vol = p->in[0] * p->in[1] * p->in[2], out_vol = p->out[0] * p->out[1] * p->out[2];
    for (int64_t c = 0; c < p->planes; c++)
        avgpool_grad_plane(p, dy + c * out_vol, dx + c * in_vol);
}
