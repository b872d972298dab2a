/* runtime/threadpool.c — a fixed pool of workers fed one job at a time. A job is (fn, ctx, n); tasks
 * are claimed through one atomic word, the caller's from the front and the workers' from the back
 * (claim), so uneven tasks balance themselves. Workers wait for the
 * next job by spinning on a generation counter for a while (rt_set_spin_us), then on a condition
 * variable: back-to-back kernels never pay a wake-up, an idle pool costs no CPU. A sleeping worker
 * takes a few hundred microseconds to run again on a virtual machine (a 0.1 ms model run after a
 * 100 ms pause took 0.77 ms), so a caller that runs small models at intervals may keep the workers
 * spinning longer, at the price of a busy core while it waits. A worker takes part in a job
 * only if it joins it while it is open, and the caller, once every task is done, closes the job and
 * waits only for workers that joined: a worker that is asleep or descheduled (other processes on
 * the cores) never holds the caller up. Measured: ResNet-18 on 2 threads beside a busy process took
 * 80 ms a run when the caller waited for every worker, about what 1 thread takes now. */
#include "runtime/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define RT_MAX_THREADS 256
/* about what 20000 pause instructions took here, the spin before the time was settable */
#define RT_SPIN_US_DEFAULT 500

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t generation; /* bumped for every job */
    atomic_uint_fast64_t claims;     /* tasks claimed: from the front in the low 32 bits (the caller),
                                        from the back in the high 32 (the workers) */
    atomic_int_fast64_t done_tasks;
    atomic_int active_workers;       /* workers that may take part in the current job */
    atomic_uint_fast64_t job;        /* the current job: its generation << 32 | JOB_CLOSED | workers
                                        in it; a job ends only when every worker that joined has left
                                        it, so none can wander into the next job's counters */
    RtTaskFn fn;
    void *ctx;
    int64_t n_tasks;
    int n_workers;                   /* started so far */
    int wanted;                      /* threads to use, caller included; 0 = all cores */
    atomic_llong spin_ns;            /* how long an idle worker spins before it sleeps */
    atomic_int caller_cpu;           /* the CPU the caller posted the current job from */
    uint64_t start_generation[RT_MAX_THREADS]; /* the job before a worker's first one */
} Pool;

#define JOB_CLOSED ((uint64_t)1 << 31)
#define JOB_JOINED (JOB_CLOSED - 1)

/* The contention guard: a worker that joined a job and then lost its core (another process on it)
 * holds the caller up for a scheduler time slice, so on a busy machine 2 threads ran MobileNetV2 at
 * twice the time 1 took (7.2 against 3.6 ms). Every GUARD_WINDOW_NS of parallel jobs, if the
 * caller spent over a quarter of it waiting for workers' tasks (3-7% on an idle machine, about 40%
 * with a busy process on the other core) twice in a row, jobs run on the caller alone for
 * GUARD_SERIAL_NS, then the pool tries again. Twice: a worker woken late once (a 2.5 ms wait among
 * 80 jobs of EfficientNet-B0, its run started after an idle pause) had filled a window alone and sent a
 * whole burst of batch-1 runs to one thread. Read and written under run_lock but for serial_until. */
#define GUARD_WINDOW_NS 10000000LL
#define GUARD_SERIAL_NS 250000000LL
static struct {
    long long job_ns, wait_ns;
    int strikes; /* windows in a row with too much waiting */
    atomic_llong serial_until;
    atomic_llong spells; /* times serial_until was set */
} guard;

static Pool pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
                    .spin_ns = RT_SPIN_US_DEFAULT * 1000LL};
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static _Thread_local bool in_task;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Waiting on other threads: spin, then let the scheduler run them (they may share our core). */
static inline void backoff(int *spins)
{
    if (++*spins < 2000)
        cpu_relax();
    else
        sched_yield();
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Joins job `gen` if it is still open. */
static bool join(uint64_t gen)
{
    uint64_t s = atomic_load_explicit(&pool.job, memory_order_acquire);
    while (s >> 32 == (gen & 0xffffffffu) && !(s & JOB_CLOSED))
        if (atomic_compare_exchange_weak_explicit(&pool.job, &s, s + 1, memory_order_acq_rel, memory_order_acquire))
            return true;
    return false;
}

/* The next task for the caller (the first unclaimed from the front) or a worker (from the back), -1
 * when none is left. Tasks are consecutive items (codegen cuts them so), so on 2 threads the caller
 * computes a prefix of every node's items and the worker the rest: a node whose items are laid out as
 * its producer's (an SE block's channel scale after its depthwise convolution) finds most of its input
 * in its own core's cache. Claimed in turn from one counter, the two had swapped halves at random:
 * EfficientNet-B0's channel scales took twice as long on 2 threads as on 1 (0.65 against 0.32 ms a
 * run), 0.17 ms now, and its convolutions 8.1 -> 6.7 ms (batch 1, per-node times). */
static int64_t claim(bool front)
{
    uint64_t s = atomic_load_explicit(&pool.claims, memory_order_acquire);
    for (;;) {
        const int64_t f = (int64_t)(s & 0xffffffffu), b = (int64_t)(s >> 32);
        if (f + b >= pool.n_tasks)
            return -1;
        const uint64_t next = s + (front ? 1 : (uint64_t)1 << 32);
        if (atomic_compare_exchange_weak_explicit(&pool.claims, &s, next, memory_order_acq_rel, memory_order_acquire))
            return front ? f : pool.n_tasks - 1 - b;
    }
}

static void run_tasks(int32_t thread)
{
    in_task = true;
    for (int64_t t; (t = claim(thread == 0)) >= 0;) {
        pool.fn(pool.ctx, t, thread);
        atomic_fetch_add_explicit(&pool.done_tasks, 1, memory_order_release);
    }
    in_task = false;
}

/* Whether this thread runs on the core the caller posted the current job from. A worker woken from
 * its sleep can be placed there (the waker's core) rather than on its own idle one; spinning or
 * taking a task there, it and the caller took turns on one core: MobileNetV2 at batch 1, run 3 at a
 * time 50 ms apart, took 6.5-8.8 ms in a fifth of its runs against 2.1 (a join in 40 was on the
 * caller's core). It yields instead until the scheduler moves one of them. */
static bool on_caller_cpu(void)
{
#if defined(__linux__)
    return sched_getcpu() == atomic_load_explicit(&pool.caller_cpu, memory_order_relaxed);
#else
    return false;
#endif
}

static void *worker(void *arg)
{
    int index = (int)(intptr_t)arg;
    /* not the current generation: the job that started this worker may already be posted */
    uint64_t seen = pool.start_generation[index];
    for (;;) {
        uint64_t g;
        bool check = false; /* whether to look at the core before joining (on_caller_cpu) */
        const long long spin_ns = atomic_load_explicit(&pool.spin_ns, memory_order_relaxed);
        const long long until = spin_ns > 0 ? now_ns() + spin_ns : 0;
        for (int spins = 1; (g = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen; spins++) {
            if (spins % 64 == 0) { /* the clock read every ~1.5 us of pauses */
                if (now_ns() >= until)
                    break;
                if (on_caller_cpu()) {
                    sched_yield();
                    check = true;
                }
            }
            cpu_relax();
        }
        if (g == seen) {
            pthread_mutex_lock(&pool.lock);
            while ((g = atomic_load(&pool.generation)) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
            check = true;
        }
        seen = g;
        if (check && on_caller_cpu()) { /* the caller's core: leave the job to it (on_caller_cpu) */
            sched_yield();
            continue;
        }
        if (index < atomic_load(&pool.active_workers) && join(g)) {
            run_tasks((int32_t)index + 1);
            atomic_fetch_sub_explicit(&pool.job, 1, memory_order_release);
        }
    }
    return NULL;
}

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > RT_MAX_THREADS ? RT_MAX_THREADS : (int)n;
}

void rt_set_num_threads(int n) { pool.wanted = n < 0 ? 0 : n > RT_MAX_THREADS ? RT_MAX_THREADS : n; }

int rt_num_threads(void) { return pool.wanted ? pool.wanted : cores(); }

void rt_set_spin_us(int64_t us)
{
    const int64_t most = 60 * 1000000LL; /* a minute */
    us = us == 0 ? RT_SPIN_US_DEFAULT : us < 0 ? 0 : us > most ? most : us;
    atomic_store_explicit(&pool.spin_ns, (long long)us * 1000, memory_order_relaxed);
}

bool rt_in_task(void) { return in_task; }

int64_t rt_parallel_serial_spells(void) { return atomic_load_explicit(&guard.spells, memory_order_relaxed); }

int64_t rt_spin_us(void) { return atomic_load_explicit(&pool.spin_ns, memory_order_relaxed) / 1000; }

void rt_parallel_for(int64_t n_tasks, int32_t max_threads, RtTaskFn fn, void *ctx)
{
    int threads = rt_num_threads();
    if (max_threads > 0 && threads > max_threads)
        threads = max_threads;
    if (n_tasks <= 0)
        return;
    if (n_tasks == 1 || threads == 1 || in_task || n_tasks > (int64_t)INT32_MAX ||
        now_ns() < atomic_load_explicit(&guard.serial_until, memory_order_relaxed)) {
        for (int64_t t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&run_lock);
    int helpers = threads - 1;
    if (helpers > n_tasks - 1)
        helpers = (int)(n_tasks - 1);
    while (pool.n_workers < helpers) { /* start workers on first need; a failure just means fewer */
        pthread_t t;
        pool.start_generation[pool.n_workers] = atomic_load(&pool.generation);
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)pool.n_workers) != 0)
            break;
        pthread_detach(t);
        pool.n_workers++;
    }
    if (helpers > pool.n_workers)
        helpers = pool.n_workers;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n_tasks;
    atomic_store(&pool.claims, 0);
    atomic_store(&pool.done_tasks, 0);
    atomic_store(&pool.active_workers, helpers);
#if defined(__linux__)
    atomic_store_explicit(&pool.caller_cpu, sched_getcpu(), memory_order_relaxed);
#endif
    uint64_t gen = atomic_load(&pool.generation) + 1;
    atomic_store_explicit(&pool.job, (gen & 0xffffffffu) << 32, memory_order_release); /* open, nobody in */
    pthread_mutex_lock(&pool.lock);
    atomic_store_explicit(&pool.generation, gen, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    const long long t0 = now_ns();
    run_tasks(0);
    const long long t1 = now_ns();
    int spins = 0;
    while (atomic_load_explicit(&pool.done_tasks, memory_order_acquire) < n_tasks) /* claimed tasks finish */
        backoff(&spins);
    const long long t2 = now_ns();
    guard.job_ns += t2 - t0, guard.wait_ns += t2 - t1;
    if (guard.job_ns >= GUARD_WINDOW_NS) {
        guard.strikes = guard.wait_ns * 4 > guard.job_ns ? guard.strikes + 1 : 0;
        if (guard.strikes >= 2) {
            atomic_store_explicit(&guard.serial_until, t2 + GUARD_SERIAL_NS, memory_order_relaxed);
            atomic_fetch_add_explicit(&guard.spells, 1, memory_order_relaxed);
            guard.strikes = 0;
        }
        guard.job_ns = guard.wait_ns = 0;
    }
    atomic_fetch_or_explicit(&pool.job, JOB_CLOSED, memory_order_acq_rel);
    while (atomic_load_explicit(&pool.job, memory_order_acquire) & JOB_JOINED) /* joined workers leave */
        backoff(&spins);
    pthread_mutex_unlock(&run_lock);
}
