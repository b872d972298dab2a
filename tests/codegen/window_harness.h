/* tests/codegen/window_harness.h — what the conv and pool tests share: one-node graphs built in
 * memory, compiled and run through the public API with a chosen GEMM, and deterministic data.
 * Everything is static inline so each test file uses what it needs. */
#ifndef SD_TESTS_WINDOW_HARNESS_H
#define SD_TESTS_WINDOW_HARNESS_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "support/mem.h"

/* dst[3] = a case's ns values of src at the back, `fill` before them: its spatial dims padded at
 * the front to 3, as the kernels see them (sizes, kernel, strides and dilations fill with 1,
 * paddings with 0). */
static inline void harness_pad3(int ns, const int64_t *src, int64_t fill, int64_t *dst)
{
    for (int i = 0; i < 3; i++)
        dst[i] = i >= 3 - ns ? src[i - (3 - ns)] : fill;
}

/* Deterministic values in [-1, 1). */
static inline void harness_fill(float *v, int64_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static inline int64_t harness_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

static inline IrValue *harness_input(IrGraph *g, const char *name, SdDType dt, int rank, const int64_t *dims)
{
    IrShape s = ir_shape_make(rank, dims);
    IrValue *v = ir_value_new(g, name, dt, &s);
    cr_assert_not_null(v);
    ir_graph_add_input(g, v);
    return v;
}

static inline IrValue *harness_const_f32(IrGraph *g, const char *name, int rank, const int64_t *dims, const float *data)
{
    IrShape s = ir_shape_make(rank, dims);
    SdError err = {0};
    IrValue *v = ir_constant_new(g, name, SD_DT_F32, &s, data, &err);
    cr_assert_not_null(v, "%s", err.msg);
    return v;
}

/* Optimizes, compiles and runs g (which this frees) under opt on the inputs; outputs are allocated. */
static inline SdStatus harness_run_with(IrGraph *g, const SdOptions *opt, const RtTensor *inputs, int n_in,
                                        RtTensor *outputs, int n_out, SdError *err)
{
    SdStatus st = sd_optimize(g, opt, NULL, NULL, NULL, err);
    SdModel *m = NULL;
    if (st == SD_OK)
        st = sd_model_compile(g, opt, &m, err);
    if (st != SD_OK) {
        ir_graph_free(g);
        return st;
    }
    st = sd_model_run(m, inputs, n_in, outputs, n_out, err);
    sd_model_free(m);
    return st;
}

/* ... with gemm "builtin" or "openblas", optionally followed by ":" and what to --disable
 * ("builtin:prepack"), the IR verified after every pass. */
static inline SdStatus harness_run(IrGraph *g, const char *gemm, const RtTensor *inputs, int n_in, RtTensor *outputs,
                                   int n_out, SdError *err)
{
    SdOptions opt = sd_options_default();
    char provider[32];
    const char *colon = strchr(gemm, ':');
    snprintf(provider, sizeof provider, "%.*s", colon ? (int)(colon - gemm) : (int)strlen(gemm), gemm);
    opt.gemm = provider;
    opt.disable = colon ? colon + 1 : NULL;
    opt.verify = true;
    return harness_run_with(g, &opt, inputs, n_in, outputs, n_out, err);
}

/* Largest |got - want| relative to max(1, |want|). */
static inline double harness_max_error(const float *got, const double *want, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double scale = fabs(want[i]) > 1.0 ? fabs(want[i]) : 1.0;
        double e = fabs((double)got[i] - want[i]) / scale;
        if (!(e <= worst)) /* NaN counts as the worst */
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

#endif
