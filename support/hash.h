/* support/hash.h — the 64-bit mixers behind seedc's deterministic values: a parameter's initial
 * values and a method's random constants are drawn from streams seeded by the recipe's seed mixed
 * with a hash of the value's name, so they do not depend on the order values are created in. */
#ifndef SD_SUPPORT_HASH_H
#define SD_SUPPORT_HASH_H

#include <stdint.h>

/* SplitMix64's finalizer: a bijective mix of all 64 bits. */
static inline uint64_t sd_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* FNV-1a over a C string. */
static inline uint64_t sd_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

#endif
