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

#endif
