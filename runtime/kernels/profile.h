/* runtime/kernels/profile.h — the clock that a model compiled with profiling (SdOptions.profile,
 * `seedc bench --profile`) reads around every node: its slot of two int64 in the scratch arena
 * holds the nanoseconds spent in the node and how often it ran. */
#ifndef SD_RT_PROFILE_H
#define SD_RT_PROFILE_H

#include <stdint.h>

/* end 0: slot[0] -= now; end 1: slot[0] += now, slot[1] += 1 (now: CLOCK_MONOTONIC, ns). */
void rt_profile_mark(int64_t *slot, int64_t end);

#endif
