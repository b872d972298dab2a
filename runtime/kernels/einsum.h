/* runtime/kernels/einsum.h — the general Einsum, for the equations canonicalization does not map
 * onto MatMul/Transpose (diagonals, sums over labels of one operand, three or more operands).
 * Every label is a loop: the output labels first, then the summed ones; each input reads with its
 * own stride per label (0 where it lacks the label or broadcasts it; repeated labels add up their
 * strides, which walks the diagonal). Sums are kept in double. Simple, not fast. */
#ifndef SD_RT_EINSUM_H
#define SD_RT_EINSUM_H

#include "runtime/kernels/kernel.h"

#define RT_EINSUM_MAX_INPUTS 7
#define RT_EINSUM_MAX_LABELS 16

typedef struct RtEinsumParams {
    int32_t n_inputs;
    int32_t n_out;                       /* output labels: dims[0, n_out), in output order */
    int32_t n_labels;                    /* summed labels: dims[n_out, n_labels) */
    int64_t dims[RT_EINSUM_MAX_LABELS];
    int64_t strides[RT_EINSUM_MAX_INPUTS][RT_EINSUM_MAX_LABELS]; /* elements */
} RtEinsumParams;

RT_KERNEL_DECL(rt_einsum_f32)            /* inputs 0..n_inputs-1 -> output n_inputs */

#endif
