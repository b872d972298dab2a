/* bench/fma_peak.c — the machine's FP32 peak on one thread: a loop of independent fused
 * multiply-adds (12 accumulators, enough to cover the FMA latency on two pipes), 512-bit where
 * the CPU has AVX-512, else 256-bit. The yardstick for "percent of peak" in bench/RESULTS.md
 * (with `seedc bench --profile` giving each layer's time).
 *
 *     ./build/bench/fma_peak
 */
#include <stdio.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define STEPS 50000000L
#define BODY(FMA, acc) \
    acc[0] = FMA(x, y, acc[0]), acc[1] = FMA(x, y, acc[1]), acc[2] = FMA(x, y, acc[2]), acc[3] = FMA(x, y, acc[3]), \
    acc[4] = FMA(x, y, acc[4]), acc[5] = FMA(x, y, acc[5]), acc[6] = FMA(x, y, acc[6]), acc[7] = FMA(x, y, acc[7]), \
    acc[8] = FMA(x, y, acc[8]), acc[9] = FMA(x, y, acc[9]), acc[10] = FMA(x, y, acc[10]), acc[11] = FMA(x, y, acc[11])

/* GFLOP/s of one timed loop; *sink keeps the sums alive */
__attribute__((target("avx512f"))) static double run512(float *sink)
{
    __m512 acc[12], x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++)
        acc[i] = _mm512_setzero_ps();
    double t = now_s();
    for (long n = 0; n < STEPS; n++)
        BODY(_mm512_fmadd_ps, acc);
    t = now_s() - t;
    for (int i = 1; i < 12; i++)
        acc[0] = _mm512_add_ps(acc[0], acc[i]);
    *sink += _mm512_reduce_add_ps(acc[0]);
    return (double)STEPS * 12 * 32 / t / 1e9;
}

__attribute__((target("avx2,fma"))) static double run256(float *sink)
{
    __m256 acc[12], x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++)
        acc[i] = _mm256_setzero_ps();
    double t = now_s();
    for (long n = 0; n < STEPS; n++)
        BODY(_mm256_fmadd_ps, acc);
    t = now_s() - t;
    float v[8];
    for (int i = 1; i < 12; i++)
        acc[0] = _mm256_add_ps(acc[0], acc[i]);
    _mm256_storeu_ps(v, acc[0]);
    for (int i = 0; i < 8; i++)
        *sink += v[i];
    return (double)STEPS * 12 * 16 / t / 1e9;
}

int main(void)
{
    __builtin_cpu_init();
    const int wide = __builtin_cpu_supports("avx512f");
    if (!wide && !__builtin_cpu_supports("fma")) {
        printf("fma_peak: this CPU has no FMA instructions\n");
        return 1;
    }
    float sink = 0;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) { /* the best of five: noise only ever slows a run down */
        double g = wide ? run512(&sink) : run256(&sink);
        best = g > best ? g : best;
    }
    printf("fp32 peak, 1 thread: %.1f GFLOP/s (%d-bit FMA, best of 5; checksum %g)\n", best, wide ? 512 : 256,
           (double)sink);
    return 0;
}
#else
int main(void)
{
    printf("fma_peak: x86-64 only\n");
    (void)now_s;
    return 1;
}
#endif
