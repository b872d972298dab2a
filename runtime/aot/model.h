/* runtime/aot/model.h — how an ahead-of-time compiled model describes itself to the generic
 * `main` of `seedc compile --emit=exe` (runtime/aot/main.c). seedc writes one RtAotModel named
 * `seedc_model` next to the model's object; its field layout is part of the AOT contract. */
#ifndef SD_RT_AOT_MODEL_H
#define SD_RT_AOT_MODEL_H

#include <stdint.h>

#define RT_AOT_MAX_RANK 8

typedef struct RtAotTensor {
    const char *name;
    int32_t dtype; /* support/dtype.h codes */
    int32_t rank;
    int64_t dims[RT_AOT_MAX_RANK];
} RtAotTensor;

typedef void (*RtAotRunFn)(const void *weights, void *scratch, const void *const *inputs, void *const *outputs);

typedef struct RtAotModel {
    const char *name;
    int32_t n_inputs, n_outputs;
    const RtAotTensor *inputs, *outputs;
    uint64_t weights_bytes, scratch_bytes;
    const void *weights;   /* embedded weights, or NULL when they are in NAME.weights */
    RtAotRunFn run;
} RtAotModel;

extern const RtAotModel seedc_model;

#endif
