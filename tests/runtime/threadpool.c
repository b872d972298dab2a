/* tests/runtime/threadpool.c — every task runs exactly once, whatever the thread count, the caller
 * takes a prefix of the tasks and the workers the rest, nested calls run serially, and many small
 * jobs in a row finish. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>

#include "runtime/threadpool.h"

typedef struct {
    atomic_int counts[1000];
    atomic_long nested_total;
} Work;

static void count_task(void *ctx, int64_t t, int32_t thread)
{
    Work *w = ctx;
    cr_assert(thread >= 0 && thread < rt_num_threads());
    atomic_fetch_add(&w->counts[t], 1);
}

static void nested_inner(void *ctx, int64_t t, int32_t thread)
{
    (void)thread;
    atomic_fetch_add(&((Work *)ctx)->nested_total, t);
}

static void nested_outer(void *ctx, int64_t t, int32_t thread)
{
    (void)t, (void)thread;
    rt_parallel_for(10, 0, nested_inner, ctx);
}

Test(threadpool, runs_every_task_once)
{
    for (int threads = 1; threads <= 4; threads++) {
        rt_set_num_threads(threads);
        for (int n = 0; n <= 1000; n += 37) {
            static Work w;
            for (int i = 0; i < 1000; i++)
                atomic_store(&w.counts[i], 0);
            rt_parallel_for(n, 0, count_task, &w);
            for (int i = 0; i < 1000; i++)
                cr_assert_eq(atomic_load(&w.counts[i]), i < n ? 1 : 0, "threads %d, n %d, task %d", threads, n, i);
        }
    }
    rt_set_num_threads(0);
}

typedef struct {
    atomic_int by[64]; /* the thread that ran each task, + 1 */
} Owners;

static void owner_task(void *ctx, int64_t t, int32_t thread)
{
    atomic_store(&((Owners *)ctx)->by[t], thread + 1);
    usleep(200); /* long enough for a worker to join */
}

/* The caller runs a prefix of a job's tasks and the workers the rest (so consecutive nodes with
 * items laid out alike find their inputs in their own core's cache), however many threads and
 * whoever joins in time; and every task runs once. */
Test(threadpool, caller_takes_a_prefix_workers_the_rest)
{
    for (int threads = 2; threads <= 4; threads++) {
        rt_set_num_threads(threads);
        for (int rep = 0; rep < 20; rep++) {
            static Owners o;
            const int n = 8 + rep % 5;
            for (int i = 0; i < 64; i++)
                atomic_store(&o.by[i], 0);
            rt_parallel_for(n, 0, owner_task, &o);
            int caller = 0;
            while (caller < n && atomic_load(&o.by[caller]) == 1)
                caller++;
            cr_assert_geq(caller, 1, "the caller starts with task 0");
            for (int i = caller; i < n; i++)
                cr_assert_gt(atomic_load(&o.by[i]), 1, "threads %d, n %d: task %d after the caller's prefix ran on %d",
                             threads, n, i, atomic_load(&o.by[i]) - 1);
        }
    }
    rt_set_num_threads(0);
}

Test(threadpool, nested_calls_and_many_small_jobs)
{
    rt_set_num_threads(2);
    static Work w;
    atomic_store(&w.nested_total, 0);
    rt_parallel_for(8, 0, nested_outer, &w);
    cr_assert_eq(atomic_load(&w.nested_total), 8 * 45);
    for (int rep = 0; rep < 20000; rep++) {
        atomic_store(&w.counts[0], 0);
        atomic_store(&w.counts[1], 0);
        rt_parallel_for(2, 0, count_task, &w);
        cr_assert_eq(atomic_load(&w.counts[0]) + atomic_load(&w.counts[1]), 2);
    }
}

/* The spin before an idle worker sleeps: 0 is the default, below 0 none, at most a minute; jobs
 * run as before whether the workers are spinning or asleep when they are posted. */
Test(threadpool, spin_setting_and_sleeping_workers)
{
    rt_set_num_threads(2);
    rt_set_spin_us(0);
    cr_expect_eq(rt_spin_us(), 500);
    rt_set_spin_us(-5);
    cr_expect_eq(rt_spin_us(), 0);
    rt_set_spin_us(1LL << 40);
    cr_expect_eq(rt_spin_us(), 60 * 1000000LL);
    static Work w;
    for (int spin = 0; spin < 2; spin++) {
        rt_set_spin_us(spin ? 100000 : -1);
        for (int rep = 0; rep < 50; rep++) {
            usleep(rep % 5 * 200); /* the workers asleep (spin -1) or still spinning */
            for (int i = 0; i < 64; i++)
                atomic_store(&w.counts[i], 0);
            rt_parallel_for(64, 0, count_task, &w);
            for (int i = 0; i < 64; i++)
                cr_assert_eq(atomic_load(&w.counts[i]), 1, "spin %d, rep %d, task %d", spin, rep, i);
        }
    }
    rt_set_spin_us(0);
    rt_set_num_threads(0);
}

/* Tasks that take 10 ms on a worker and 0.2 ms on the caller: the caller spends most of every job
 * waiting, as when a worker loses its core to another process; within a few jobs (two windows of
 * 10 ms in a row) the pool runs jobs on the caller alone. (The caller's 3 ms of tasks give the
 * spinning worker time to join each job, so without the guard no job runs on the caller alone but
 * for the few the worker leaves to the caller when the scheduler put it on the caller's core.) */
typedef struct {
    atomic_int on_worker;
} Slow;

static void slow_on_workers(void *ctx, int64_t t, int32_t thread)
{
    (void)t;
    if (thread != 0)
        atomic_fetch_add(&((Slow *)ctx)->on_worker, 1);
    usleep(thread != 0 ? 10000 : 200);
}

Test(threadpool, slow_workers_send_jobs_to_the_caller)
{
    rt_set_num_threads(2);
    rt_set_spin_us(100000); /* the worker awake for every job */
    Slow s;
    int serial_jobs = 0, jobs = 0, joined = 0;
    const int64_t spells = rt_parallel_serial_spells();
    /* more than 5 where the scheduler put the worker on the caller's core for a while before the
     * spell began */
    for (; jobs < 100 && (serial_jobs < 5 || rt_parallel_serial_spells() == spells); jobs++) {
        atomic_store(&s.on_worker, 0);
        rt_parallel_for(16, 0, slow_on_workers, &s);
        joined += atomic_load(&s.on_worker) > 0;
        serial_jobs = atomic_load(&s.on_worker) == 0 ? serial_jobs + 1 : 0;
    }
    cr_assert_geq(serial_jobs, 5, "jobs kept going to the slow worker");
    /* on a loaded machine (the other tests beside this one) the worker may seldom get a core in time
     * to join a job at all: then the caller runs them alone without the guard */
    cr_assert(rt_parallel_serial_spells() > spells || joined < jobs / 2,
              "the spell is counted (seedc bench reports it): the worker joined %d of %d jobs", joined, jobs);
    rt_set_spin_us(0);
    rt_set_num_threads(0);
}

#if defined(__linux__)
#include <sched.h>

/* A caller and its worker confined to one core, the worker asleep between jobs: it wakes on the
 * caller's core each time and leaves the job to the caller (threadpool.c's on_caller_cpu); every
 * task still runs once. */
Test(threadpool, one_core_shared_with_the_caller)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0); /* before the worker starts: it inherits it */
    rt_set_num_threads(2);
    rt_set_spin_us(-1); /* asleep between jobs */
    static Work w;
    for (int job = 0; job < 40; job++) {
        for (int i = 0; i < 64; i++)
            atomic_store(&w.counts[i], 0);
        rt_parallel_for(64, 0, count_task, &w);
        for (int i = 0; i < 64; i++)
            cr_assert_eq(atomic_load(&w.counts[i]), 1, "job %d: task %d ran %d times", job, i,
                         atomic_load(&w.counts[i]));
        usleep(1000);
    }
    rt_set_spin_us(0);
    rt_set_num_threads(0);
}
#endif
