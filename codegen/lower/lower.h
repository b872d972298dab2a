/* codegen/lower/lower.h — IR nodes to kernel calls.
 * Lowering a node yields one or more calls `kernel(params, bufs)` (runtime/kernels/kernel.h) with a
 * filled parameter struct and the node operands each call reads and writes. The JIT emits those
 * calls with constant params; the interpreter (constant folding) runs the same kernels natively, so
 * both paths compute with one definition of every op. One file per op family. */
#ifndef SD_CG_LOWER_H
#define SD_CG_LOWER_H

#include <stdbool.h>

#include "ir/graph.h"
#include "runtime/kernels/kernel.h"

#define CG_MAX_CALL_BUFS 9
/* Operand index of the node's scratch workspace (size: CgLowered.workspace_bytes). */
#define CG_BUF_WORKSPACE (-1)
/* Operand index of the node's packed weights (CgLowered.packed_*), in the constants blob. */
#define CG_BUF_PACKED (-2)
/* Operand index of scratch that all calls and threads of the node share (size:
 * CgLowered.shared_bytes): one call writes it, the next read it. */
#define CG_BUF_SHARED (-3)

/* CG_GEMM_BUILTIN_NARROW: the builtin GEMM with tiles for targets without 512-bit vectors; cg_emit
 * picks it for CG_GEMM_BUILTIN on such targets. */
typedef enum CgGemm { CG_GEMM_OPENBLAS, CG_GEMM_BUILTIN, CG_GEMM_BUILTIN_NARROW } CgGemm;

typedef struct CgLowerOptions {
    CgGemm gemm;
    /* constant weights may be packed at compile time (CgLowered.packed_*): only code generation,
     * which lays out the constants, sets it; the interpreter (constant folding) does not */
    bool pack_weights;
    bool no_direct_conv; /* im2col for every convolution (`--disable direct-conv`) */
    bool no_winograd;    /* no Winograd F(2x2, 3x3) for 3x3 convolutions (`--disable winograd`) */
    bool no_winograd4;   /* F(2x2, 3x3) where F(4x4, 3x3) would serve (`--disable winograd4`) */
    bool no_winograd_at; /* bf16 Winograd products on few tiles not transposed (`--disable winograd-at`) */
    /* every f32 convolution and matrix product through the builtin GEMM computes its products in
     * bf16 (RT_GEMM_BF16): training with --precision bf16, where the weights change every step */
    bool bf16_products;
    /* threads the code will run on (code generation sets it): with more than one, a batch-1 layer
     * too small to share out by its channels is cut into finer blocks of rows */
    int threads;
} CgLowerOptions;

typedef struct CgCall {
    const char *kernel;      /* symbol of the kernel, e.g. "rt_copy_strided" */
    void *params;            /* owned copy of the parameter struct */
    size_t params_size;
    int n_bufs;
    int bufs[CG_MAX_CALL_BUFS]; /* node operand indices: inputs 0.., outputs n_inputs..; CG_BUF_WORKSPACE */
    /* Splitting over threads (optional): the same work as `kernel` restricted to items
     * [begin, end) of `extent`, by RtRangeKernelFn `range_kernel`. `cost` estimates the work (about
     * one per element touched or flop) so small calls stay on one thread. */
    const char *range_kernel;
    int64_t extent;
    double cost;
    /* Runs of this many consecutive items share setup work (a convolution's channel chunks share
     * the block's im2col): tasks are cut into whole runs where the threads allow. 0 or 1: none. */
    int64_t grain;
} CgCall;

typedef struct CgLowered {
    CgCall *calls;
    int n_calls, cap_calls;
    size_t workspace_bytes;
    size_t shared_bytes; /* CG_BUF_SHARED */
    /* Packed weights: operand packed_operand (a constant) becomes, at compile time,
     * pack(calls[0].params, its data, dst) of packed_bytes, which calls read as CG_BUF_PACKED. The
     * constant itself is laid out only if some call still reads it. packed_bytes 0: none. pack
     * returns false when it runs out of memory. */
    int packed_operand;
    size_t packed_bytes;
    bool (*pack)(const void *params, const void *src, void *dst);
} CgLowered;

/* How many tasks a split call of `extent` items (runs of `grain` sharing setup) is cut into for
 * `threads` threads: about 4 a thread, whole runs, every thread busy. Code generation cuts them so
 * (items [t * extent / tasks, (t + 1) * extent / tasks) each), and lowering plans by it. */
static inline int64_t cg_split_tasks(int64_t extent, int64_t grain, int threads)
{
    int64_t t = (int64_t)threads * 4;
    if (grain > 1) {
        const int64_t runs = extent / grain;
        t = runs < t ? runs : t;
        t = t < threads ? threads : t;
    }
    return extent < t ? extent : t;
}

/* RT_GEMM_* for the GEMM-shaped kernels' use_blas: OpenBLAS, the builtin GEMM with tiles for the
 * target's vectors, or its bf16 products */
int32_t cg_gemm_provider(const CgLowerOptions *opt);

SdStatus cg_lower_node(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err);
void cg_lowered_free(CgLowered *l);
SdStatus cg_lowered_add(CgLowered *l, const char *kernel, const void *params, size_t params_size,
                        int n_bufs, const int *bufs, SdError *err);
/* Marks the call just added as splittable (see CgCall). */
void cg_lowered_split(CgLowered *l, const char *range_kernel, int64_t extent, double cost);
/* Its items come in runs of `grain` that share setup (CgCall.grain). */
void cg_lowered_grain(CgLowered *l, int64_t grain);
/* Operand index of output i. */
static inline int cg_out(const IrNode *n, int i) { return n->n_inputs + i; }

/* Per-family entry points, one file each, dispatched by cg_lower_node. */
#define CG_FAMILY(f) SdStatus cg_lower_##f(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err);
CG_FAMILY(unary)
CG_FAMILY(binary)
CG_FAMILY(conv)
CG_FAMILY(matmul)
CG_FAMILY(norm)
CG_FAMILY(softmax)
CG_FAMILY(pool)
CG_FAMILY(reduce)
CG_FAMILY(movement)
CG_FAMILY(gather)
CG_FAMILY(generate)
CG_FAMILY(resize)
CG_FAMILY(einsum)
CG_FAMILY(update)
CG_FAMILY(quant)
#undef CG_FAMILY

/* --- shared helpers (strides.c) --- */
void cg_contiguous_strides(const IrShape *s, int64_t *strides);
/* Drops unit dims and merges dims that are contiguous for every operand, then pads at the front
 * with unit dims to RT_LOOP_RANK. dims/strides are rank-long on entry and RT_LOOP_RANK-long on exit.
 * False when the result still needs more than RT_LOOP_RANK dims. */
#define CG_COLLAPSE_MAX_OPS 8
bool cg_collapse_dims(int rank, int64_t *dims, int n_ops, int64_t (*strides)[IR_MAX_RANK]);
/* After cg_collapse_dims: where the outer items (rt_outer_extent) are fewer than min_items and a
 * front dim is free, the innermost dim is cut in two, rows of whole vectors at least 1024 long,
 * so that the threads have rows to share (one contiguous tensor collapses to a single row). */
void cg_split_inner_dim(int64_t *dims, int n_ops, int64_t (*strides)[IR_MAX_RANK], int64_t min_items);
/* Strides of `in` broadcast against the output shape `out` (right-aligned, 0 on broadcast dims). */
void cg_broadcast_strides(const IrShape *in, const IrShape *out, int64_t *strides);
/* A flat copy of n elements between two operands (unary.c). */
SdStatus cg_lower_flat_copy(CgLowered *out, int64_t n, size_t elem_size, int src, int dst, SdError *err);
/* A strided copy over `rank` dims (collapsed here; movement.c). */
SdStatus cg_lower_strided_copy(CgLowered *out, const IrNode *n, int rank, const int64_t *dims,
                               const int64_t *src_strides, int64_t src_offset, const int64_t *dst_strides,
                               int64_t dst_offset, size_t elem_size, int src, int dst, SdError *err);
/* The RtUnaryOp of an f32 unary IR op (unary.c); false when it has none. */
bool cg_unary_code(IrOp op, int *code);
/* The RtBinaryOp of an f32 arithmetic IR op (binary.c); false for comparisons, logic and others. */
bool cg_binary_arith_code(IrOp op, bool fmod, int *code);
/* SD_EUNSUPPORTED naming the node and its dtype. */
SdStatus cg_unsupported_dtype(const IrNode *n, const IrValue *v, SdError *err);

/* A direct convolution's plane size in one dimension (codegen/lower/conv.c). */
int64_t cg_direct_plane_dim(int64_t in, int64_t out, int64_t kernel, int64_t s, int64_t d, int64_t pad);

#endif
