/* frontend/onnx/writer.h — IR graph to ONNX, for exporting trained students (`seedc export`).
 * The graph must be an inference graph after shape inference (attributes resolved); constants,
 * parameters and state become initializers holding their current data. Written at opset 17 with a
 * symbolic batch dimension named "batch" when asked. */
#ifndef SD_FRONTEND_ONNX_WRITER_H
#define SD_FRONTEND_ONNX_WRITER_H

#include <stdbool.h>

#include "ir/graph.h"

typedef struct OnnxExportOptions {
    bool symbolic_batch;   /* leading input/output dimension written as "batch" */
    const char *producer;  /* producer_name (default "seedc") */
} OnnxExportOptions;

SdStatus onnx_export_file(const IrGraph *g, const char *path, const OnnxExportOptions *opt, SdError *err);

#endif
