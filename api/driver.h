/* api/driver.h — the steps sd_model_load chains, for tools that stop in between
 * (`seedc ir --after PASS`, `seedc info`): load a graph by file type, run the pipeline with
 * constant folding wired to codegen's interpreter, compile a finished graph. */
#ifndef SD_API_DRIVER_H
#define SD_API_DRIVER_H

#include "api/seedc.h"
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
/* Runs the inference pipeline; `after` (may be NULL) sees the graph after each pass. */
SdStatus sd_optimize(IrGraph *g, const SdOptions *opt, const char *stop_after,
                     void (*after)(void *ctx, const char *pass, const IrGraph *g), void *after_ctx, SdError *err);
/* Runs the training pipeline (output 0 is the loss) with the optimizer `train`. */
SdStatus sd_optimize_training(IrGraph *g, const SdOptions *opt, const PassTrainOptions *train, SdError *err);
/* Compiles an optimized graph; the model keeps the graph. */
SdStatus sd_model_compile(IrGraph *g, const SdOptions *opt, SdModel **out, SdError *err);

#endif
