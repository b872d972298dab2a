/* frontend/onnx/ops/window.h — reading the sliding-window attributes that Conv, ConvTranspose and
 * the pools share (ops/conv.c defines them; ops/pool.c uses them too). */
#ifndef SD_FRONTEND_ONNX_OPS_WINDOW_H
#define SD_FRONTEND_ONNX_OPS_WINDOW_H

#include "frontend/onnx/import.h"

/* auto_pad: NOTSET (also the empty string), SAME_UPPER, SAME_LOWER or VALID. */
SdStatus onnx_window_auto_pad(OnnxCtx *c, IrAutoPad *out);
/* An int-list attribute with per_dim values per spatial dimension (1, or 2 for pads) into out.
 * Absent or empty leaves out alone. *nspatial (0 while unknown) is set from the length, or the
 * length is checked against it. */
SdStatus onnx_window_ints(OnnxCtx *c, const char *name, int per_dim, int64_t *out, int *nspatial);

#endif
