/* codegen/lower/conv_internal.h — what the convolution's forward lowering (conv.c, conv_winograd.c)
 * and its gradients' (conv_grad.c) share: the kernel params from the IR attributes, and the plans that
 * size blocks of rows, images side by side, channel chunks and workspaces. */
#ifndef SD_CG_LOWER_CONV_INTERNAL_H
#define SD_CG_LOWER_CONV_INTERNAL_H

#include <stdbool.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/conv.h"

/* Work items below this leave a thread idle: a batch-1 layer is split by output channels too. */
#define CG_CONV_MIN_ITEMS 8

/* Params of the forward conv between x and y (shapes), as the kernels take them. */
RtConvParams cg_conv_forward_params(const IrConvAttrs *a, const IrShape *x, const IrShape *y,
                                    const CgLowerOptions *opt);
bool cg_conv_is_pointwise(const RtConvParams *p);
/* Workspace bytes of a column block of col_floats followed by an M x N x K GEMM's. */
size_t cg_conv_gemm_workspace_bytes(const RtConvParams *p, int64_t col_floats, int64_t M, int64_t N, int64_t K);
/* Rows per block when one row of the column matrix block is row_floats long; at least 1. */
int64_t cg_conv_block_rows(int64_t rows, int64_t row_floats);
/* Whole images per im2col block for a convolution's output pixels (forward, weight gradient). */
int64_t cg_conv_images_per_block(const RtConvParams *p, int64_t k);
/* Output-channel chunks that bring `base` items up to CG_CONV_MIN_ITEMS where the channels allow
 * and there are threads to share them (none on one thread); then whole slivers where the chunk's
 * GEMM computes C^T. */
void cg_conv_split_channels(RtConvParams *p, int64_t cout_g, int64_t base, int threads);
void cg_conv_sliver_chunks(RtConvParams *p, int64_t cout_g, int64_t cols, int64_t k);
/* (conv_split.c) The fewest chunks that give each thread an item where `base` items are fewer than
 * the threads (Winograd's); else cg_conv_split_channels's. */
void cg_conv_split_for_threads(RtConvParams *p, int64_t cout_g, int64_t base, int threads);
/* (conv_split.c) Where base items of im2col or the direct kernel (blocks of `cols` columns, the last
 * of every n_blocks `last`; K = k) are fewer than 4 a thread: the channel chunks that share them
 * out most evenly. And a 1x1 convolution's chunks (pixels columns, cin_g channels in), likewise. */
void cg_conv_balanced_chunks(RtConvParams *p, int64_t cout_g, int64_t base, int64_t n_blocks, int64_t cols,
                             int64_t last, int64_t k, int threads);
void cg_conv_pointwise_chunks(RtConvParams *p, int64_t cout_g, int64_t pixels, int64_t cin_g, int threads);
/* Whether rt_conv_direct_f32 takes it (then its planes, images and rows per block), its items. */
bool cg_conv_direct_plan(RtConvParams *p, const CgLowerOptions *opt, int64_t cout_g);
int64_t cg_conv_direct_items(const RtConvParams *p);
/* Whether Winograd's kernel takes it (then its blocks of tile rows), its output-channel chunks, and
 * its call over operands bufs (the workspace appended). */
bool cg_conv_winograd_plan(RtConvParams *p, const CgLowerOptions *opt);
void cg_conv_winograd_chunks(RtConvParams *p, int threads);
/* The weights (operand w_operand, flipped for an input gradient) transformed and packed on every
 * call into the node's shared scratch, both calls split over the threads. */
SdStatus cg_conv_add_winograd_weights(CgLowered *out, const RtConvParams *p, int w_operand, bool flipped,
                                      SdError *err);
SdStatus cg_conv_add_winograd(CgLowered *out, const RtConvParams *p, int nb, const int *bufs, double flops,
                              SdError *err);
/* A forward convolution n through Winograd's kernel where it qualifies (true, *st its status),
 * constant weights transformed and packed at compile time (unless told not to pack), others on
 * every call into scratch the threads share; false: another kernel is to take it. */
bool cg_conv_lower_winograd(const IrNode *n, const CgLowerOptions *opt, RtConvParams *p, int nb, int *bufs,
                            double flops, CgLowered *out, SdStatus *st, SdError *err);
/* A transposed convolution's images side by side and workspace, its items. */
void cg_conv_transpose_images(RtConvParams *t, int64_t m, int64_t cin_g, CgLowered *out);
int64_t cg_conv_transpose_items(const RtConvParams *t);
/* rt_conv_gemm_f32's plan (items before the chunks, blocks of rows, columns of one GEMM) and its
 * workspace. */
int64_t cg_conv_im2col_plan(RtConvParams *p, int64_t cout_g, int64_t k, int64_t *n_blocks, int64_t *cols,
                            int threads);
size_t cg_conv_im2col_workspace_bytes(const RtConvParams *p, int64_t chunk, int64_t cols, int64_t k);

/* CONV_GRAD_INPUT and CONV_GRAD_WEIGHT (conv_grad.c). */
SdStatus cg_lower_conv_grad_input(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err);
SdStatus cg_lower_conv_grad_weight(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err);

#endif
