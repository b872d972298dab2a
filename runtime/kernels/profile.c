/* runtime/kernels/profile.c — see profile.h. In the kernel bitcode like every kernel, so that the
 * generated code (JIT or AOT) calls it without a symbol of the host. */
#include "runtime/kernels/profile.h"

#include <time.h>

void rt_profile_mark(int64_t *slot, int64_t end)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const int64_t now = (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
    if (end) {
        slot[0] += now;
        slot[1] += 1;
    } else {
        slot[0] -= now;
    }
}
