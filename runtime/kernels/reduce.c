/* runtime/kernels/reduce.c — reductions over the middle axis of [outer, red, inner] and
 * ArgMax/ArgMin. With inner == 1 a row is reduced in LANES independent float accumulators (they
 * vectorize without reassociating anything) over blocks of BLOCK elements, and the block results
 * add up in double. With inner > 1 each step combines an input row into a row of float partials,
 * unit stride, and every ROWS rows the partials add into a row of doubles; the columns go in tiles
 * of COLS so those rows stay in L1 however wide the tensor is. Max and min
 * propagate NaN, as NumPy does. Integer reductions accumulate in 64-bit two's complement. */
#include "runtime/kernels/reduce.h"

#include <math.h>
#include <stdbool.h>

#include "runtime/kernels/vmath.h"

#define LANES 16
#define BLOCK 2048
#define ROWS 32
#define COLS 1024 /* column tile of the strided paths */

/* ---------------------------------------------------------------- float */

static inline float map_f32(int map, float v)
{
    return map == RT_RMAP_ABS ? fabsf(v) : map == RT_RMAP_SQUARE ? v * v : v;
}

static inline float max_f32(float a, float v) { return (v > a || v != v) ? v : a; }
static inline float min_f32(float a, float v) { return (v < a || v != v) ? v : a; }
static inline double max_f64(double a, double v) { return (v > a || v != v) ? v : a; }
static inline double min_f64(double a, double v) { return (v < a || v != v) ? v : a; }

/* c is never RT_RC_LOG_SUM_EXP here: that sums exponentials */
static inline float comb_f32(int c, float a, float v)
{
    switch (c) {
    case RT_RC_PROD: return a * v;
    case RT_RC_MAX: return max_f32(a, v);
    case RT_RC_MIN: return min_f32(a, v);
    default: return a + v;
    }
}

static inline double comb_f64(int c, double a, double v)
{
    switch (c) {
    case RT_RC_PROD: return a * v;
    case RT_RC_MAX: return max_f64(a, v);
    case RT_RC_MIN: return min_f64(a, v);
    default: return a + v;
    }
}

static inline float ident_f32(int c)
{
    return c == RT_RC_PROD ? 1.0f : c == RT_RC_MAX ? -INFINITY : c == RT_RC_MIN ? INFINITY : 0.0f;
}

/* The element a combine step sees: mapped, or exp(x - shift) for log-sum-exp's sum. */
static inline float elem_f32(int map, int comb, float v, float shift)
{
    return comb == RT_RC_LOG_SUM_EXP ? rt_vexpf(v - shift) : map_f32(map, v);
}

static inline float finish_f32(int fin, double v, double count)
{
    switch (fin) {
    case RT_RFIN_MEAN: return (float)(v / count);
    case RT_RFIN_SQRT: return (float)sqrt(v);
    case RT_RFIN_LOG: return (float)log(v);
    default: return (float)v;
    }
}

/* Combines n contiguous elements. */
static double reduce_contig_f32(const float *restrict x, int64_t n, int map, int comb, float shift)
{
    const int c = comb == RT_RC_LOG_SUM_EXP ? RT_RC_SUM : comb;
    double total = ident_f32(c);
    for (int64_t b = 0; b < n; b += BLOCK) {
        const int64_t len = n - b < BLOCK ? n - b : BLOCK;
        const float *xb = x + b;
        float acc[LANES];
        for (int l = 0; l < LANES; l++)
            acc[l] = ident_f32(c);
        int64_t i = 0;
        for (; i + LANES <= len; i += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] = comb_f32(c, acc[l], elem_f32(map, comb, xb[i + l], shift));
        for (; i < len; i++)
            acc[0] = comb_f32(c, acc[0], elem_f32(map, comb, xb[i], shift));
        for (int w = LANES / 2; w > 0; w /= 2)
            for (int l = 0; l < w; l++)
                acc[l] = comb_f32(c, acc[l], acc[l + w]);
        total = comb_f64(c, total, acc[0]);
    }
    return total;
}

/* y[i] = max (or min) over r of x[r * inner + i], a tile of COLS columns at a time. */
static void extreme_rows_f32(const float *restrict x, int64_t red, int64_t inner, bool is_min, float *restrict y)
{
    for (int64_t i0 = 0; i0 < inner; i0 += COLS) {
        const int64_t width = inner - i0 < COLS ? inner - i0 : COLS;
        float *yt = y + i0;
        for (int64_t i = 0; i < width; i++)
            yt[i] = is_min ? INFINITY : -INFINITY;
        for (int64_t r = 0; r < red; r++) {
            const float *xr = x + r * inner + i0;
            for (int64_t i = 0; i < width; i++)
                yt[i] = is_min ? min_f32(yt[i], xr[i]) : max_f32(yt[i], xr[i]);
        }
    }
}

/* acc[i] = combination over r of x[r * inner + i] (sum of exp(x - shift[i]) for log-sum-exp), a
 * tile of COLS columns at a time so the partial rows stay in L1. */
static void reduce_rows_f32(const float *restrict x, int64_t red, int64_t inner, int map, int comb,
                            const float *restrict shift, float *restrict part, double *restrict acc)
{
    const int c = comb == RT_RC_LOG_SUM_EXP ? RT_RC_SUM : comb;
    for (int64_t i0 = 0; i0 < inner; i0 += COLS) {
        const int64_t width = inner - i0 < COLS ? inner - i0 : COLS;
        double *at = acc + i0;
        const float *st = shift + i0;
        for (int64_t i = 0; i < width; i++)
            at[i] = ident_f32(c);
        for (int64_t r0 = 0; r0 < red; r0 += ROWS) {
            const int64_t rows = red - r0 < ROWS ? red - r0 : ROWS;
            for (int64_t i = 0; i < width; i++)
                part[i] = ident_f32(c);
            for (int64_t r = 0; r < rows; r++) {
                const float *xr = x + (r0 + r) * inner + i0;
                if (comb == RT_RC_LOG_SUM_EXP)
                    for (int64_t i = 0; i < width; i++)
                        part[i] += rt_vexpf(xr[i] - st[i]);
                else
                    for (int64_t i = 0; i < width; i++)
                        part[i] = comb_f32(c, part[i], map_f32(map, xr[i]));
            }
            for (int64_t i = 0; i < width; i++)
                at[i] = comb_f64(c, at[i], part[i]);
        }
    }
}

RT_KERNEL(rt_reduce_f32)
{
    const RtReduceParams *p = params_;
    const float *src = (const float *)((const char *)bufs[0] + p->src_offset);
    float *dst = (float *)((char *)bufs[1] + p->dst_offset);
    const int64_t red = p->red, inner = p->inner;
    const int comb = p->combine;
    const bool extreme = comb == RT_RC_MAX || comb == RT_RC_MIN;
    for (int64_t o = 0; o < p->outer; o++) {
        const float *x = src + o * red * inner;
        float *y = dst + o * inner;
        if (inner == 1) {
            if (extreme) {
                y[0] = (float)reduce_contig_f32(x, red, RT_RMAP_NONE, comb, 0.0f);
            } else if (comb == RT_RC_LOG_SUM_EXP) {
                float m = (float)reduce_contig_f32(x, red, RT_RMAP_NONE, RT_RC_MAX, 0.0f);
                /* all -inf (or empty): -inf; any +inf: +inf; NaN: NaN */
                y[0] = isfinite(m) ? m + (float)log(reduce_contig_f32(x, red, RT_RMAP_NONE, comb, m)) : m;
            } else {
                y[0] = finish_f32(p->finish, reduce_contig_f32(x, red, p->map, comb, 0.0f), p->count);
            }
            continue;
        }
        if (extreme) {
            extreme_rows_f32(x, red, inner, comb == RT_RC_MIN, y);
            continue;
        }
        char *scratch = (char *)bufs[2] + p->scratch_offset;
        double *acc = (double *)scratch;
        float *part = (float *)(scratch + inner * 8);
        if (comb == RT_RC_LOG_SUM_EXP) {
            extreme_rows_f32(x, red, inner, false, y);
            reduce_rows_f32(x, red, inner, RT_RMAP_NONE, comb, y, part, acc);
            for (int64_t i = 0; i < inner; i++)
                y[i] = isfinite(y[i]) ? y[i] + (float)log(acc[i]) : y[i];
        } else {
            reduce_rows_f32(x, red, inner, p->map, comb, y, part, acc);
            for (int64_t i = 0; i < inner; i++)
                y[i] = finish_f32(p->finish, acc[i], p->count);
        }
    }
}

/* ---------------------------------------------------------------- integers */

static inline int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

static inline int64_t map_int(int map, int64_t v)
{
    return map == RT_RMAP_ABS ? (v < 0 ? (int64_t)(0 - (uint64_t)v) : v) : map == RT_RMAP_SQUARE ? wrap_mul(v, v) : v;
}

static inline int64_t comb_int(int c, int64_t a, int64_t v)
{
    switch (c) {
    case RT_RC_PROD: return wrap_mul(a, v);
    case RT_RC_MAX: return v > a ? v : a;
    case RT_RC_MIN: return v < a ? v : a;
    default: return wrap_add(a, v);
    }
}

static inline int64_t ident_int(int c, int64_t lo, int64_t hi)
{
    return c == RT_RC_PROD ? 1 : c == RT_RC_MAX ? lo : c == RT_RC_MIN ? hi : 0;
}

/* A double result as an integer of the output type: truncated, clamped, NaN as 0. */
static inline int64_t int_from_double(double v, int64_t lo, int64_t hi)
{
    if (!(v == v))
        return 0;
    if (v <= (double)lo)
        return lo;
    if (v >= (double)hi)
        return hi;
    return (int64_t)v;
}

static inline int64_t finish_int(int fin, int64_t v, double count, int64_t lo, int64_t hi)
{
    switch (fin) {
    case RT_RFIN_MEAN: return count > 0 ? int_from_double((double)v / count, lo, hi) : 0;
    case RT_RFIN_SQRT: return int_from_double(sqrt((double)v), lo, hi);
    case RT_RFIN_LOG: return int_from_double(log((double)v), lo, hi);
    default: return v; /* the store into the element type keeps the low bits */
    }
}

#define REDUCE_INT(name, T)                                                                        \
    RT_KERNEL(name)                                                                                \
    {                                                                                              \
        const RtReduceParams *p = params_;                                                         \
        const T *src = (const T *)((const char *)bufs[0] + p->src_offset);                         \
        T *dst = (T *)((char *)bufs[1] + p->dst_offset);                                           \
        const int64_t red = p->red, inner = p->inner, lo = p->lo, hi = p->hi;                      \
        const int c = p->combine, map = p->map;                                                    \
        for (int64_t o = 0; o < p->outer; o++) {                                                   \
            const T *x = src + o * red * inner;                                                    \
            T *y = dst + o * inner;                                                                \
            if (c == RT_RC_LOG_SUM_EXP) { /* rare on integers: plain double arithmetic */          \
                for (int64_t i = 0; i < inner; i++) {                                              \
                    double m = -INFINITY, s = 0;                                                   \
                    for (int64_t r = 0; r < red; r++)                                              \
                        m = (double)x[r * inner + i] > m ? (double)x[r * inner + i] : m;           \
                    for (int64_t r = 0; r < red; r++)                                              \
                        s += exp((double)x[r * inner + i] - m);                                    \
                    y[i] = (T)int_from_double(red ? m + log(s) : -INFINITY, lo, hi);               \
                }                                                                                  \
            } else if (inner == 1) {                                                               \
                int64_t a = ident_int(c, lo, hi);                                                  \
                for (int64_t r = 0; r < red; r++)                                                  \
                    a = comb_int(c, a, map_int(map, x[r]));                                        \
                y[0] = (T)finish_int(p->finish, a, p->count, lo, hi);                              \
            } else {                                                                               \
                int64_t *acc = (int64_t *)((char *)bufs[2] + p->scratch_offset);                   \
                for (int64_t i = 0; i < inner; i++)                                                \
                    acc[i] = ident_int(c, lo, hi);                                                 \
                for (int64_t r = 0; r < red; r++)                                                  \
                    for (int64_t i = 0; i < inner; i++)                                            \
                        acc[i] = comb_int(c, acc[i], map_int(map, x[r * inner + i]));              \
                for (int64_t i = 0; i < inner; i++)                                                \
                    y[i] = (T)finish_int(p->finish, acc[i], p->count, lo, hi);                     \
            }                                                                                      \
        }                                                                                          \
    }

REDUCE_INT(rt_reduce_i64, int64_t)
REDUCE_INT(rt_reduce_i32, int32_t)
REDUCE_INT(rt_reduce_u8, uint8_t)
REDUCE_INT(rt_reduce_i8, int8_t)

/* ---------------------------------------------------------------- arg max / arg min */

/* Whether v replaces best. NaN counts as the extreme (NumPy's argmax/argmin return the first
 * NaN); select_last takes the last of equal values. For integers v != v is false and folds away. */
#define ARG_BETTER(is_min, last, v, b)                                                          \
    ((is_min) ? ((last) ? ((v) <= (b) || (v) != (v)) : ((v) < (b) || ((v) != (v) && (b) == (b)))) \
              : ((last) ? ((v) >= (b) || (v) != (v)) : ((v) > (b) || ((v) != (v) && (b) == (b)))))

/* Between two lane winners: strictly better, or equal (both NaN included) at the preferred index. */
#define ARG_STRICT(is_min, v, b) (((is_min) ? (v) < (b) : (v) > (b)) || ((v) != (v) && (b) == (b)))
#define ARG_LANE_BETTER(is_min, last, v, vi, b, bi) \
    (ARG_STRICT(is_min, v, b) || (!ARG_STRICT(is_min, b, v) && ((last) ? (vi) > (bi) : (vi) < (bi))))

/* inner == 1: LANES independent running winners (they vectorize), merged at the end; inner > 1:
 * running winners per column, a tile of COLS columns at a time. */
#define ARGREDUCE(name, T)                                                                 \
    RT_KERNEL(name)                                                                        \
    {                                                                                      \
        const RtArgReduceParams *p = params_;                                              \
        const T *src = bufs[0];                                                            \
        int64_t *dst = bufs[1];                                                            \
        const int64_t red = p->red, inner = p->inner;                                      \
        const int is_min = p->is_min, last = p->select_last;                               \
        for (int64_t o = 0; o < p->outer; o++) {                                           \
            const T *x = src + o * red * inner;                                            \
            int64_t *y = dst + o * inner;                                                  \
            if (inner == 1) {                                                              \
                T b = x[0];                                                                \
                int64_t bi = 0, r = 1;                                                     \
                if (red >= 2 * LANES) {                                                    \
                    T lv[LANES];                                                           \
                    int64_t li[LANES];                                                     \
                    for (int l = 0; l < LANES; l++)                                        \
                        lv[l] = x[l], li[l] = l;                                           \
                    for (r = LANES; r + LANES <= red; r += LANES)                          \
                        for (int l = 0; l < LANES; l++) {                                  \
                            T v = x[r + l];                                                \
                            bool take = ARG_BETTER(is_min, last, v, lv[l]);                \
                            lv[l] = take ? v : lv[l];                                      \
                            li[l] = take ? r + l : li[l];                                  \
                        }                                                                  \
                    b = lv[0], bi = li[0];                                                 \
                    for (int l = 1; l < LANES; l++)                                        \
                        if (ARG_LANE_BETTER(is_min, last, lv[l], li[l], b, bi))            \
                            b = lv[l], bi = li[l];                                         \
                }                                                                          \
                for (; r < red; r++) {                                                     \
                    T v = x[r];                                                            \
                    if (ARG_BETTER(is_min, last, v, b)) {                                  \
                        b = v;                                                             \
                        bi = r;                                                            \
                    }                                                                      \
                }                                                                          \
                y[0] = bi;                                                                 \
                continue;                                                                  \
            }                                                                              \
            T *best = bufs[2];                                                             \
            for (int64_t i0 = 0; i0 < inner; i0 += COLS) {                                 \
                const int64_t width = inner - i0 < COLS ? inner - i0 : COLS;               \
                int64_t *yt = y + i0;                                                      \
                for (int64_t i = 0; i < width; i++) {                                      \
                    best[i] = x[i0 + i];                                                   \
                    yt[i] = 0;                                                             \
                }                                                                          \
                for (int64_t r = 1; r < red; r++) {                                        \
                    const T *xr = x + r * inner + i0;                                      \
                    for (int64_t i = 0; i < width; i++) {                                  \
                        T v = xr[i], b = best[i];                                          \
                        bool take = ARG_BETTER(is_min, last, v, b);                        \
                        best[i] = take ? v : b;                                            \
                        yt[i] = take ? r : yt[i];                                          \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

ARGREDUCE(rt_argreduce_f32, float)
ARGREDUCE(rt_argreduce_i64, int64_t)
ARGREDUCE(rt_argreduce_i32, int32_t)
ARGREDUCE(rt_argreduce_u8, uint8_t)
ARGREDUCE(rt_argreduce_i8, int8_t)
