/* runtime/kernels/kernel.h — the one calling convention every kernel shares.
 * A kernel is `void rt_NAME(const void *params, void *const *bufs)`: `params` points at its family's
 * parameter struct and `bufs` at its operands (inputs, then outputs, then workspace). Codegen calls
 * kernels with params that are constant globals, so once LLVM inlines a kernel every shape in it is a
 * constant and its loops specialize; the same C also runs natively (constant folding, AOT, tests). */
#ifndef SD_RT_KERNEL_H
#define SD_RT_KERNEL_H

#include <stddef.h>
#include <stdint.h>

typedef void (*RtKernelFn)(const void *params, void *const *bufs);
/* A kernel that can be split: the same work restricted to items [begin, end) of its parallel
 * extent (lowering says what an item is). Codegen runs slices of it on the thread pool. */
typedef void (*RtRangeKernelFn)(const void *params, void *const *bufs, int64_t begin, int64_t end);

/* Rank of the loop nests of broadcasting kernels: shapes are collapsed to at most this many dims. */
#define RT_LOOP_RANK 6

#define RT_KERNEL(name) void name(const void *params_, void *const *bufs)
#define RT_RANGE_KERNEL(name) void name(const void *params_, void *const *bufs, int64_t begin, int64_t end)

/* Kernel loops are compiled with -fno-unroll-loops, so LLVM does not unroll them even once their
 * trip counts are constants (unrolling everything made compile times explode). A short loop whose
 * full unrolling pays (a 3-tap window) asks for it explicitly. */
#ifdef __clang__
#define RT_UNROLL _Pragma("clang loop unroll(full)")
#else
#define RT_UNROLL
#endif

/* Kernels must stay external functions so they land in the bitcode; codegen internalizes them. */
#define RT_KERNEL_DECL(name) void name(const void *params, void *const *bufs);
#define RT_RANGE_KERNEL_DECL(name) void name(const void *params, void *const *bufs, int64_t begin, int64_t end);

#endif
