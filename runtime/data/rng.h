/* runtime/data/rng.h — the random numbers of the data pipeline: small, seedable, reproducible.
 * Every random draw of the pipeline comes from a stream named by a key, never from a shared
 * generator, so what a sample gets does not depend on which thread made it or in which order:
 *   rt_rng_stream(seed, RT_RNG_VIEW, epoch, sample, view)   the augmentation of one view
 *   rt_rng_stream(seed, RT_RNG_SHUFFLE, epoch, 0, 0)        the order of one epoch
 * The generator is xoshiro256** (Blackman and Vigna), seeded through SplitMix64 from the key. */
#ifndef SD_RUNTIME_DATA_RNG_H
#define SD_RUNTIME_DATA_RNG_H

#include <stdint.h>

typedef struct RtRng {
    uint64_t s[4];
} RtRng;

/* What a stream is for: part of the key, so two purposes never share numbers. */
enum { RT_RNG_SHUFFLE = 1, RT_RNG_VIEW = 2, RT_RNG_USER = 3 };

static inline uint64_t rt_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rt_rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rt_rng_next(RtRng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rt_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rt_rng_rotl(s[3], 45);
    return result;
}

/* The stream for a key. Each key word is mixed in turn, so (1, 2) and (2, 1) differ. */
static inline RtRng rt_rng_stream(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b,
                                  uint64_t c)
{
    uint64_t words[5] = {seed, purpose, a, b, c};
    uint64_t h = 0x5eedc0de5eedc0deull;
    for (int i = 0; i < 5; i++) {
        uint64_t x = h ^ words[i];
        h = rt_splitmix64(&x);
    }
    RtRng r;
    for (int i = 0; i < 4; i++)
        r.s[i] = rt_splitmix64(&h);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double rt_rng_uniform(RtRng *r) { return (double)(rt_rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform in [lo, hi) (lo when hi <= lo). */
static inline double rt_rng_range(RtRng *r, double lo, double hi)
{
    double u = rt_rng_uniform(r);
    return hi > lo ? lo + (hi - lo) * u : lo;
}

/* true with probability p (p <= 0 never draws true, p >= 1 always). */
static inline int rt_rng_bernoulli(RtRng *r, double p) { return rt_rng_uniform(r) < p; }

/* Uniform integer in [0, n), unbiased (Lemire's multiply and reject); 0 when n == 0. */
static inline uint64_t rt_rng_below(RtRng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    unsigned __int128 m = (unsigned __int128)rt_rng_next(r) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)rt_rng_next(r) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

#endif
