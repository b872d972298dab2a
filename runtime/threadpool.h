/* runtime/threadpool.h — the pool that splits a kernel's work over the cores.
 * rt_parallel_for(n, fn, ctx) runs fn(ctx, 0..n-1) on the pool's threads and the caller, and
 * returns when all are done. Workers spin briefly between calls (compiled models call it once per
 * node, often for microseconds of work) and then sleep. A call from inside a task runs serially. */
#ifndef SD_RT_THREADPOOL_H
#define SD_RT_THREADPOOL_H

#include <stdint.h>

typedef void (*RtTaskFn)(void *ctx, int64_t task);

void rt_parallel_for(int64_t n_tasks, RtTaskFn fn, void *ctx);
/* Threads to use, the caller included; 0 means all cores. Takes effect at the next call. */
void rt_set_num_threads(int n);
int rt_num_threads(void);

#endif
