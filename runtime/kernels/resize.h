/* runtime/kernels/resize.h — Resize. Codegen maps every output coordinate to its source pixels at
 * compile time (ONNX's coordinate transforms and interpolation weights computed in double) and
 * appends the tables to the parameter struct, so the kernels only gather and blend. Nearest is one
 * gather over all dims for any element type; linear and cubic (with antialias) are separable: one
 * call per resized axis, through the workspace, each blending `taps` source rows per output row
 * (unit stride along the dims inside the axis). */
#ifndef SD_RT_RESIZE_H
#define SD_RT_RESIZE_H

#include "runtime/kernels/kernel.h"

#define RT_RESIZE_MAX_RANK 8

typedef struct RtResizeNearestParams {
    int64_t outer;                      /* leading dims copied one to one */
    int64_t in_block, out_block;        /* elements per outer step */
    int64_t out_dims[RT_RESIZE_MAX_RANK];
    int64_t table[RT_RESIZE_MAX_RANK];  /* byte offset, from these params, of int64[out_dims[d]] source
                                           offsets in elements (-1: outside the crop, write fill) */
    int32_t rank;                       /* dims after the outer block, 1 .. RT_RESIZE_MAX_RANK */
    int32_t elem_size;                  /* 1, 2, 4 or 8 */
    int32_t extrapolate;                /* some table entry is -1 */
    uint8_t fill[8];                    /* the extrapolation value as one element */
} RtResizeNearestParams;

typedef struct RtResizeAxisParams {
    int64_t outer, in_n, out_n, inner;  /* [outer, in_n, inner] -> [outer, out_n, inner] */
    int64_t taps;
    int64_t src_offset, dst_offset;     /* bytes into bufs[0] and bufs[1] */
    int64_t index_table;                /* byte offsets from these params: int32[taps][out_n] rows, */
    int64_t weight_table;               /* float[taps][out_n] weights, */
    int64_t bias_table;                 /* float[out_n] added (the extrapolation value where outside) */
} RtResizeAxisParams;

/* One axis' taps, as in RtResizeAxisParams. */
typedef struct RtResizeTaps {
    int64_t in_n, out_n, taps;
    int64_t index_table, weight_table, bias_table; /* byte offsets from the params holding this */
} RtResizeTaps;

/* The last two dims at once ([outer, in_h, in_w] -> [outer, out_h, out_w]) without an intermediate
 * tensor. Gathers along a row cost several times a unit-stride blend, so codegen picks the order
 * with fewer: blend input rows into one scratch row per output row and gather along it, or
 * (w_first, when the height grows) gather each input row once into a scratch plane of
 * in_h x out_w and blend output rows from it. */
typedef struct RtResize2dParams {
    int64_t outer;
    int64_t w_first;
    RtResizeTaps h, w;
} RtResize2dParams;

RT_KERNEL_DECL(rt_resize_nearest)  /* x -> y */
RT_KERNEL_DECL(rt_resize_axis_f32) /* x -> y (either may be the workspace) */
RT_KERNEL_DECL(rt_resize_2d_f32)   /* x -> y, workspace: in_w floats, or in_h * out_w with w_first */

#endif
