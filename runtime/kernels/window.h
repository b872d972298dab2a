/* runtime/kernels/window.h — index arithmetic that the sliding-window kernels (conv, pool) share:
 * floor/ceil division that is right for negative numerators, and the ranges of outputs whose
 * windows lie inside the input, which the kernels run without bounds checks. Inline only. */
#ifndef SD_RT_WINDOW_H
#define SD_RT_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

/* 0 for a non-positive divisor: kernels must never trap, whatever their params say. */
static inline int64_t rt_floor_div(int64_t a, int64_t b)
{
    if (b <= 0)
        return 0;
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static inline int64_t rt_ceil_div(int64_t a, int64_t b) { return -rt_floor_div(-a, b); }

static inline int64_t rt_clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* [*lo, *hi): the outputs o in [0, n_out) whose whole window o*s - pad + k*d (k < kernel) lies in
 * [0, n_in). Empty (lo == hi) when there is none. */
static inline void rt_inside_range(int64_t n_in, int64_t n_out, int64_t kernel, int64_t s, int64_t d, int64_t pad,
                                   int64_t *lo, int64_t *hi)
{
    int64_t l = rt_clamp64(rt_ceil_div(pad, s), 0, n_out);
    *lo = l;
    *hi = rt_clamp64(rt_floor_div(n_in - 1 + pad - (kernel - 1) * d, s) + 1, l, n_out);
}

/* Whether some tap of a kernel (size k, dilation d) reads stride phase `phase` of a stride-s
 * dimension (a 1x1 stride-2 convolution reads one phase of four): the direct convolutions' planes. */
static inline bool rt_phase_read(int64_t k, int64_t d, int64_t s, int64_t phase)
{
    for (int64_t t = 0; t < k; t++)
        if (t * d % s == phase)
            return true;
    return false;
}

/* [*lo, *hi): the positions i in [0, n_src) with i*s - pad + off in [0, n_dst): one kernel tap's
 * valid outputs (im2col) or valid inputs (col2im). */
static inline void rt_tap_range(int64_t n_src, int64_t n_dst, int64_t s, int64_t pad, int64_t off, int64_t *lo,
                                int64_t *hi)
{
    int64_t l = rt_clamp64(rt_ceil_div(pad - off, s), 0, n_src);
    *lo = l;
    *hi = rt_clamp64(rt_floor_div(n_dst - 1 + pad - off, s) + 1, l, n_src);
}

#endif
