/* api/seedc.h — seedc's C API: load a model, compile it to native code for this machine, run it.
 *
 *     SdOptions opt = sd_options_default();
 *     SdModel *m;
 *     if (sd_model_load("resnet18.onnx", &opt, &m, &err) != SD_OK) { puts(err.msg); ... }
 *     RtTensor out[1];
 *     sd_model_run(m, inputs, 1, out, 1, &err);   // outputs allocated by seedc, rt_tensor_free them
 *     sd_model_free(m);
 *
 * A model owns its compiled code, constants and scratch memory; sd_model_run on one model from
 * two threads at once needs two models (or the AOT bundle, whose caller owns the memory). */
#ifndef SD_API_SEEDC_H
#define SD_API_SEEDC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/tensor_io.h"
#include "support/status.h"

typedef struct SdOptions {
    int64_t batch;         /* binds the symbolic leading input dimension; 0 means 1 */
    const char *dims;      /* other symbolic dimensions: "name=N,name=N" */
    const char *disable;   /* passes to skip, comma-separated (see `seedc ir --help`) */
    const char *gemm;      /* "builtin" (default: seedc's packed GEMM) or "openblas" */
    int threads;           /* 0: all cores */
    int64_t spin_us;       /* idle worker threads spin this long before they sleep, process-wide (0:
                              500 us; below 0: not at all); set by sd_model_load and sd_model_compile */
    int opt_level;         /* LLVM optimization 0..3 (0 means 3) */
    int compile_threads;   /* LLVM compiles the model in parts on this many threads; 0: one per core for
                              models with 32 MB of weights or more (a part costs ~12 MB), else one */
    bool verify;           /* verify the IR after every pass */
    bool print_llvm;       /* dump the optimized LLVM module to stderr */
    const char *model;     /* .sd files: which model (NULL: the file's only one); checkpoints: which network */
    bool head;             /* checkpoints: the network's final output rather than its backbone features */
    /* low precision (api/quantize.c, passes/quantize.c) */
    const char *quantize;     /* "int8": post-training quantization calibrated on `calib` (NULL: none) */
    const char *calib;        /* a .npy/.pb input or a folder of them, or a data set: "fashion-mnist", "mnist" */
    const char *calib_method; /* "minmax" (default), "percentile" (99.99%) or "entropy" (KL divergence) */
    int calib_samples;        /* at most this many calibration samples (0: 64) */
    bool per_tensor;          /* int8 weights: one scale per tensor (default: per output channel) */
    bool symmetric;           /* int8 activations: symmetric around 0 (default: asymmetric) */
    const char *keep_fp32;    /* nodes that stay f32, comma-separated; "first"/"last": the first/last conv or matmul */
    const char *precision;    /* "fp32" (default) or "bf16": convolutions and matrix products in bf16
                                 (products of bf16-rounded operands, sums in f32; docs/capi.md) */
    bool profile;             /* time every node of the compiled graph (sd_model_profile) */
} SdOptions;

SdOptions sd_options_default(void);

typedef struct SdModel SdModel;

typedef struct SdTensorInfo {
    const char *name;
    SdDType dtype;
    int rank;
    int64_t dims[RT_MAX_RANK];
} SdTensorInfo;

SdStatus sd_model_load(const char *path, const SdOptions *opt, SdModel **out, SdError *err);
/* Like sd_model_load, with the input values known at compile time: inputs that shapes depend on
 * (a Reshape's target, Slice bounds, Pad amounts) are compiled in as constants. The model still
 * takes all n inputs in sd_model_run (the bound ones are checked to match nothing and skipped). */
SdStatus sd_model_load_for_inputs(const char *path, const SdOptions *opt, const RtTensor *inputs, int n,
                                  SdModel **out, SdError *err);
void sd_model_free(SdModel *m);

int sd_model_num_inputs(const SdModel *m);
int sd_model_num_outputs(const SdModel *m);
SdTensorInfo sd_model_input(const SdModel *m, int i);
SdTensorInfo sd_model_output(const SdModel *m, int i);
/* Bytes of compiled constants, scratch arena (planned temporaries + workspace) and compile time. */
size_t sd_model_constants_bytes(const SdModel *m);
size_t sd_model_scratch_bytes(const SdModel *m);
double sd_model_compile_seconds(const SdModel *m);
/* How many parts the JIT compiled the model as, each on a thread of its own (SdOptions.compile_threads
 * caps it; a small model is one part). */
int sd_model_compile_parts(const SdModel *m);
/* Slices the batch runs as (1: whole). A batch of 16 or more of a model that computes each sample
 * on its own (convolutions, pooling, elementwise ops, a classifier) is compiled at a few samples and
 * run on slices of the inputs, one slice per thread at a time; SdOptions.disable "slices" turns it
 * off. The outputs are those of the whole batch up to rounding (kernels may block a slice
 * differently). */
int64_t sd_model_slices(const SdModel *m);

/* Persistent values (parameters, BatchNorm statistics, optimizer moments, queues) live in the
 * model's state arena; they are listed here by name, with a pointer to their bytes. */
typedef struct SdStateInfo {
    const char *name;
    bool trainable;    /* a parameter (else state) */
    SdDType dtype;
    int rank;
    int64_t dims[RT_MAX_RANK];
    size_t nbytes;
    void *data;        /* inside the model's state arena */
} SdStateInfo;

int sd_model_num_state(const SdModel *m);
SdStateInfo sd_model_state(const SdModel *m, int i);
/* The entry named `name`, or -1. */
int sd_model_find_state(const SdModel *m, const char *name);

/* Checks every input against the model (count, dtype, shape) and fills `outputs` with newly
 * allocated tensors named after the graph outputs. */
SdStatus sd_model_run(SdModel *m, const RtTensor *inputs, int n_inputs, RtTensor *outputs, int n_outputs,
                      SdError *err);
/* Runs on caller buffers, in graph order, without checks: for benchmarks and bindings. */
void sd_model_run_raw(SdModel *m, void *const *inputs, void *const *outputs);

/* The time a model compiled with SdOptions.profile spent in each node of its compiled graph (after
 * the passes: a fused node covers what it fused) over the runs since it was compiled or the last
 * sd_model_profile_reset. The clock is read around each node's call on the calling thread, so a
 * node split over threads counts its wall time. */
typedef struct SdNodeTime {
    const char *name;  /* the node's name (for a node from ONNX, the ONNX node's) */
    const char *op;    /* seedc's op name, e.g. "conv", "qconv", "fused_eltwise" */
    double ms;         /* total milliseconds */
    int64_t runs;
} SdNodeTime;

/* Fills up to cap entries in graph order and returns the number of nodes; 0 when the model was
 * compiled without profiling. */
int sd_model_profile(const SdModel *m, SdNodeTime *out, int cap);
void sd_model_profile_reset(SdModel *m);
/* Prints the profile as ms per run: the total, per op (slowest first), then the `top` slowest
 * nodes (0: all). SD_ENOMEM when it cannot sort; nothing printed without a profile. */
SdStatus sd_model_profile_print(const SdModel *m, FILE *out, int top);

#endif
