/* runtime/threadpool.h — the pool that splits a kernel's work over the cores.
 * rt_parallel_for(n, fn, ctx) runs fn(ctx, task, thread) for task 0..n-1 on the pool's threads and
 * the caller (thread is 0 for the caller, 1.. for workers: an index for per-thread scratch), and
 * returns when all are done. Workers spin briefly between calls (compiled models call it once per
 * node, often for microseconds of work) and then sleep. A call from inside a task runs serially;
 * so do calls for a while after the caller spent much of its time waiting on workers (other
 * processes taking their cores: threadpool.c's contention guard). */
#ifndef SD_RT_THREADPOOL_H
#define SD_RT_THREADPOOL_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*RtTaskFn)(void *ctx, int64_t task, int32_t thread);

/* max_threads caps the threads used (compiled code sizes per-thread scratch for a count); 0: the
 * pool's setting. */
void rt_parallel_for(int64_t n_tasks, int32_t max_threads, RtTaskFn fn, void *ctx);
/* Threads to use, the caller included; 0 means all cores. Takes effect at the next call. */
void rt_set_num_threads(int n);
int rt_num_threads(void);
/* How long, in microseconds, an idle worker spins before it sleeps: 0 the default (500), below 0
 * none (it sleeps at once), at most a minute. Takes effect from each worker's next wait. */
void rt_set_spin_us(int64_t us);
int64_t rt_spin_us(void);
/* Whether the calling thread is running one of a parallel call's tasks. */
bool rt_in_task(void);
/* How many times since the process started the contention guard has sent every job to the caller
 * alone for a while (threadpool.c): a timing taken meanwhile is not one of the threads asked for. */
int64_t rt_parallel_serial_spells(void);

#endif
