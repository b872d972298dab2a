/* runtime/kernels/generate.c — Range: y[i] = start + i * delta, computed per element rather than
 * accumulated, so long float ranges do not drift. */
#include "runtime/kernels/generate.h"

#include "support/dtype.h"

RT_KERNEL(rt_range)
{
    const RtRangeParams *p = params_;
    switch ((SdDType)p->dtype) {
    case SD_DT_F32: {
        float s = *(const float *)bufs[0], d = *(const float *)bufs[2];
        float *y = bufs[3];
        for (int64_t i = 0; i < p->n; i++)
            y[i] = s + (float)i * d;
        break;
    }
    case SD_DT_I32: {
        int32_t s = *(const int32_t *)bufs[0], d = *(const int32_t *)bufs[2];
        int32_t *y = bufs[3];
        for (int64_t i = 0; i < p->n; i++)
            y[i] = (int32_t)((uint32_t)s + (uint32_t)i * (uint32_t)d);
        break;
    }
    default: {
        int64_t s = *(const int64_t *)bufs[0], d = *(const int64_t *)bufs[2];
        int64_t *y = bufs[3];
        for (int64_t i = 0; i < p->n; i++)
            y[i] = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
        break;
    }
    }
}
