/* passes/canonicalize.h — per-family rewrites that pass_canonicalize (canonicalize.c) dispatches
 * to (internal to passes/). They run after shape inference, so every value they create gets its
 * dtype and shape here, and a rewritten node's output keeps its name (it may be a graph output). */
#ifndef SD_PASSES_CANONICALIZE_H
#define SD_PASSES_CANONICALIZE_H

#include "passes/pass.h"

/* canonicalize_matmul.c: Gemm -> [Transpose] MatMul [Mul] [Add]; Einsum of one or two operands ->
 * Transpose/Reshape around one MatMul (or Mul). Nodes that do not fit stay as they are. */
SdStatus canonicalize_gemm(IrGraph *g, IrNode *n, SdError *err);
SdStatus canonicalize_einsum(IrGraph *g, IrNode *n, SdError *err);

#endif
