/* runtime/kernels/loops.h — the fixed-depth loop nest that broadcasting and copying kernels share.
 * With constant dims after inlining, the unit-trip loops vanish and the innermost one vectorizes. */
#ifndef SD_RT_LOOPS_H
#define SD_RT_LOOPS_H

#include "runtime/kernels/kernel.h"

#define RT_NEST6(d)                                  \
    for (int64_t i0 = 0; i0 < (d)[0]; i0++)          \
        for (int64_t i1 = 0; i1 < (d)[1]; i1++)      \
            for (int64_t i2 = 0; i2 < (d)[2]; i2++)  \
                for (int64_t i3 = 0; i3 < (d)[3]; i3++) \
                    for (int64_t i4 = 0; i4 < (d)[4]; i4++) \
                        for (int64_t i5 = 0; i5 < (d)[5]; i5++)

#define RT_OFF6(s) (i0 * (s)[0] + i1 * (s)[1] + i2 * (s)[2] + i3 * (s)[3] + i4 * (s)[4] + i5 * (s)[5])


/* Splitting a nest: the parallel items are the outer index over d[0..4] (the innermost dim stays
 * a unit-stride loop). rt_outer_index decomposes an item into (i0..i4). */
static inline int64_t rt_outer_extent(const int64_t *d) { return d[0] * d[1] * d[2] * d[3] * d[4]; }

static inline void rt_outer_index(const int64_t *d, int64_t outer, int64_t *i)
{
    i[4] = outer % d[4], outer /= d[4];
    i[3] = outer % d[3], outer /= d[3];
    i[2] = outer % d[2], outer /= d[2];
    i[1] = outer % d[1];
    i[0] = outer / d[1];
}

static inline int64_t rt_outer_offset(const int64_t *i, const int64_t *s)
{
    return i[0] * s[0] + i[1] * s[1] + i[2] * s[2] + i[3] * s[3] + i[4] * s[4];
}

#endif
