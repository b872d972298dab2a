/* passes/shape/window.h — the sliding-window arithmetic that Conv and the pools share (defined in
 * passes/shape/conv.c): defaults for strides and dilations, auto_pad resolved into explicit pads,
 * the output sizes, and the checks that name the node when a window does not fit. */
#ifndef SD_PASSES_SHAPE_WINDOW_H
#define SD_PASSES_SHAPE_WINDOW_H

#include "passes/shape/shape.h"

typedef struct ShapeWindow {
    int nspatial;
    const int64_t *in;      /* input spatial sizes */
    const int64_t *kernel;  /* >= 1 each (checked) */
    int64_t *strides;       /* 0 becomes 1 */
    int64_t *dilations;     /* 0 becomes 1 */
    int64_t *pads;          /* begins then ends; rewritten from auto_pad */
    IrAutoPad *auto_pad;    /* becomes NOTSET */
    bool *ceil_mode;        /* pools; NULL for Conv. VALID clears it (its size is the floor one) */
} ShapeWindow;

/* Fills out[0..nspatial) with the output spatial sizes. */
SdStatus shape_window(ShapeCtx *c, const IrNode *n, ShapeWindow *w, int64_t *out);

#endif
