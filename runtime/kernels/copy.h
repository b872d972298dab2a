/* runtime/kernels/copy.h — the strided copy behind every data-movement op (reshape, transpose,
 * slice, concat, split, expand, tile, depth/space rearrangements) plus fills and padded copies.
 * Codegen turns each op into one or more copies with constant strides. */
#ifndef SD_RT_COPY_H
#define SD_RT_COPY_H

#include "runtime/kernels/kernel.h"

typedef struct RtCopyParams {
    int64_t dims[RT_LOOP_RANK];        /* iteration space, outermost first */
    int64_t src_strides[RT_LOOP_RANK]; /* elements; may be 0 (broadcast) or negative (reversed slice) */
    int64_t dst_strides[RT_LOOP_RANK];
    int64_t src_offset, dst_offset;    /* elements */
    int32_t elem_size;                 /* 1, 2, 4 or 8 bytes */
} RtCopyParams;

typedef struct RtFillParams {
    int64_t n;                         /* elements */
    int32_t elem_size;
    uint8_t value[8];                  /* one element's bytes */
} RtFillParams;

typedef struct RtPadParams {
    int32_t rank;                      /* dims padded at the front to RT_LOOP_RANK with 1 */
    int32_t mode;                      /* 1 reflect, 2 edge, 3 wrap (constant mode uses fill + copy) */
    int32_t elem_size;
    int64_t in_dims[RT_LOOP_RANK];
    int64_t out_dims[RT_LOOP_RANK];
    int64_t pad_begin[RT_LOOP_RANK];   /* may be negative (cropping) */
} RtPadParams;

RT_KERNEL_DECL(rt_copy_strided)        /* src -> dst */
RT_RANGE_KERNEL_DECL(rt_copy_strided_range)
RT_KERNEL_DECL(rt_fill)                /* -> dst */
RT_KERNEL_DECL(rt_pad_index)           /* src -> dst, non-constant pad modes */

#endif
