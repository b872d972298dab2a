/* api/driver.h — the steps sd_model_load chains, for tools that stop in between
 * (`seedc ir --after PASS`, `seedc info`): load a graph by file type, run the pipeline with
 * constant folding wired to codegen's interpreter, compile a finished graph. */
#ifndef SD_API_DRIVER_H
#define SD_API_DRIVER_H

#include "api/seedc.h"
#include "codegen/lower/lower.h"
#include "frontend/onnx/onnx.h"
#include "ir/graph.h"
#include "passes/pass.h"

/* Loads .onnx files, seedc checkpoints (sd_checkpoint_graph), and .sd files (a DSL model, opt->model choosing one, instantiated in
 * inference mode with its parameters as constants, seed 0); info may be NULL. */
SdStatus sd_load_graph(const char *path, const SdOptions *opt, IrGraph **out, OnnxModelInfo *info, SdError *err);
/* What a checkpoint's model is (sd_checkpoint_graph). */
typedef struct SdCheckpointInfo {
    char recipe[1024], experiment[64], network[64], dataset[32];
    bool features;          /* the output is the backbone's features (else the head's / classifier's) */
    int n_norm;             /* the recipe's input normalization per channel */
    float mean[4], std[4];
    int64_t epoch, step;
} SdCheckpointInfo;

/* Whether `path` starts like a seedc checkpoint. */
bool sd_is_checkpoint_file(const char *path);
/* A training checkpoint as an inference graph: the network opt->model (NULL: the recipe's
 * evaluated network, else its student) rebuilt from the recipe the checkpoint names, with the
 * trained values as constants; its output is the backbone's features, or with opt->head the
 * network's final output (classifiers always give their logits). info may be NULL. */
SdStatus sd_checkpoint_graph(const char *path, const SdOptions *opt, IrGraph **out, SdCheckpointInfo *info,
                             SdError *err);
/* Code generation's lowering options from opt: the GEMM (--gemm), im2col only (--disable
 * direct-conv), and bf16 products in every f32 GEMM left when opt->precision is "bf16" (all of
 * them in a training step; in inference, what the bf16 rewrite left in f32, such as products of
 * two activations). */
CgLowerOptions sd_lower_options(const SdOptions *opt);
/* Runs the inference pipeline; `after` (may be NULL) sees the graph after each pass. */
SdStatus sd_optimize(IrGraph *g, const SdOptions *opt, const char *stop_after,
                     void (*after)(void *ctx, const char *pass, const IrGraph *g), void *after_ctx, SdError *err);
/* Runs the training pipeline (output 0 is the loss) with the optimizer `train`. */
SdStatus sd_optimize_training(IrGraph *g, const SdOptions *opt, const PassTrainOptions *train, SdError *err);
/* opt->precision as given: whether it asks for bf16 ("bf16"), and whether it is one of NULL, "",
 * "fp32", "f32" and "bf16" (else an SD_EUSAGE error naming it). */
bool sd_wants_bf16(const SdOptions *opt);
SdStatus sd_check_precision(const char *precision, SdError *err);
/* Low precision (api/quantize.c). The calibration: the float model (inference pipeline up to dce)
 * run on the samples opt->calib names, with the range of every f32 value by opt->calib_method. */
typedef struct SdCalibration {
    PassQuantRange *ranges;
    int n_ranges;
    int n_samples;
} SdCalibration;
SdStatus sd_calibrate(const char *path, const SdOptions *opt, SdCalibration *out, SdError *err);
void sd_calibration_free(SdCalibration *c);
/* The samples opt->calib names for a model input of `info`'s type (its leading dim taken as the
 * batch: each sample of batch 1, or of info's batch when that is fixed above 1), at most `max`
 * images; rt_tensor_free each and free the array. */
SdStatus sd_calibration_samples(const char *calib, const SdTensorInfo *info, int max, RtTensor **out, int *n,
                                SdError *err);
/* The quantize pass's options for opt (precision, per-tensor, keep list), calibrating with `path`
 * when opt->quantize asks for int8; *cal keeps the ranges alive (free it after the pipeline). */
SdStatus sd_quant_options(const char *path, const SdOptions *opt, PassQuantOptions *q, SdCalibration *cal,
                          SdError *err);
/* A model of `path` that outputs, after its own outputs, every f32 value (and with q, every u8
 * value) nodes make and its input: the pipeline up to dce, or with q up to quantize. n_original
 * (may be NULL): how many outputs the model itself has. */
SdStatus sd_compile_probed(const char *path, const SdOptions *opt, PassQuantOptions *q, SdModel **out, int *n_original,
                           SdError *err);
/* sd_optimize with given quantization options (records filled), for `seedc quantize-report`. */
SdStatus sd_optimize_with(IrGraph *g, const SdOptions *opt, PassQuantOptions *q, const char *stop_after,
                          SdError *err);

/* Compiles an optimized graph; the model keeps the graph. */
SdStatus sd_model_compile(IrGraph *g, const SdOptions *opt, SdModel **out, SdError *err);

#endif
