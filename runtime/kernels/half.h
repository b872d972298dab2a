/* runtime/kernels/half.h — IEEE half and bfloat16 conversions in plain C (no _Float16), so the
 * same code builds for every target and into bitcode. Round to nearest even. */
#ifndef SD_RT_HALF_H
#define SD_RT_HALF_H

#include <stdint.h>
#include <string.h>

static inline float rt_bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t rt_float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static inline float rt_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f)
        return rt_bits_to_float(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0)
            return rt_bits_to_float(sign);
        float f = (float)man * (1.0f / 16777216.0f); /* man * 2^-24 */
        return sign ? -f : f;
    }
    return rt_bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t rt_float_to_half(float f)
{
    uint32_t u = rt_float_to_bits(f);
    uint32_t sign = (u >> 16) & 0x8000;
    uint32_t exp = (u >> 23) & 0xff;
    uint32_t man = u & 0x7fffff;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half_man = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half_man & 1)))
            half_man++;
        return (uint16_t)(sign | half_man);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++;
    return (uint16_t)half;
}

static inline float rt_bf16_to_float(uint16_t b) { return rt_bits_to_float((uint32_t)b << 16); }

static inline uint16_t rt_float_to_bf16(float f)
{
    uint32_t u = rt_float_to_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

#endif
