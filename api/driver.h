/* api/driver.h — the steps sd_model_load chains, for tools that stop in between
 * (`seedc ir --after PASS`, `seedc info`): load a graph by file type, run the pipeline with
 * constant folding wired to codegen's interpreter, compile a finished graph. */
#ifndef SD_API_DRIVER_H
#define SD_API_DRIVER_H

#include "api/seedc.h"
#include "frontend/onnx/onnx.h"
#include "ir/graph.h"
#include "passes/pass.h"

/* Loads .onnx files, and .sd files (a DSL model, opt->model choosing one, instantiated in
 * inference mode with its parameters as constants, seed 0); info may be NULL. */
SdStatus sd_load_graph(const char *path, const SdOptions *opt, IrGraph **out, OnnxModelInfo *info, SdError *err);
/* Runs the inference pipeline; `after` (may be NULL) sees the graph after each pass. */
SdStatus sd_optimize(IrGraph *g, const SdOptions *opt, const char *stop_after,
                     void (*after)(void *ctx, const char *pass, const IrGraph *g), void *after_ctx, SdError *err);
/* Runs the training pipeline (output 0 is the loss) with the optimizer `train`. */
SdStatus sd_optimize_training(IrGraph *g, const SdOptions *opt, const PassTrainOptions *train, SdError *err);
/* Compiles an optimized graph; the model keeps the graph. */
SdStatus sd_model_compile(IrGraph *g, const SdOptions *opt, SdModel **out, SdError *err);

#endif
