/* runtime/kernels/gather.h — Gather and GatherElements with run-time indices. Elements move as
 * unsigned integers of their size, so one kernel serves every dtype; indices are i64 or i32.
 * Compiled code cannot report an error, so an index outside [-n, n) is clamped into [0, n)
 * (after negative indices wrap once): a bad index reads a valid element instead of crashing. */
#ifndef SD_RT_GATHER_H
#define SD_RT_GATHER_H

#include "runtime/kernels/kernel.h"

/* data [outer, axis_n, inner], indices [count] -> y [outer, count, inner] */
typedef struct RtGatherParams {
    int64_t outer, axis_n, count, inner;
    int32_t elem_size;  /* 1, 2, 4 or 8 bytes */
    int32_t index_size; /* 4 or 8 bytes */
} RtGatherParams;

/* y[c] = data[c with the axis coordinate replaced by indices[c]], over the indices' shape
 * collapsed to RT_LOOP_RANK dims; indices and y are contiguous in that order. */
typedef struct RtGatherElementsParams {
    int64_t dims[RT_LOOP_RANK];
    int64_t data_strides[RT_LOOP_RANK]; /* 0 along the gathered axis */
    int64_t axis_stride, axis_n;
    int64_t data_numel;                 /* the gradient zeroes this many */
    int32_t elem_size, index_size;
} RtGatherElementsParams;

RT_KERNEL_DECL(rt_gather)          /* data, indices -> y */
RT_KERNEL_DECL(rt_gather_elements) /* data, indices -> y */

/* Their gradients (f32): dx = 0, then dy added at every position the forward read from (indices
 * wrapped and clamped the same way), in order, so repeated indices sum deterministically.
 * Same parameter structs; elem_size is unused. */
RT_KERNEL_DECL(rt_gather_grad_f32)          /* dy, indices -> dx */
RT_KERNEL_DECL(rt_gather_elements_grad_f32) /* dy, indices -> dx */

#endif
