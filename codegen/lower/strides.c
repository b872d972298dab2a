/* codegen/lower/strides.c — shape arithmetic shared by the lowerings: contiguous strides,
 * broadcasting, and collapsing loop nests to the fixed depth the kernels take. */
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/loops.h"

void cg_contiguous_strides(const IrShape *s, int64_t *strides)
{
    int64_t st = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        strides[i] = st;
        st *= s->dims[i];
    }
}

void cg_broadcast_strides(const IrShape *in, const IrShape *out, int64_t *strides)
{
    int64_t own[IR_MAX_RANK];
    cg_contiguous_strides(in, own);
    int off = out->rank - in->rank;
    for (int i = 0; i < out->rank; i++) {
        int k = i - off;
        strides[i] = (k < 0 || in->dims[k] == 1) ? 0 : own[k];
    }
}

bool cg_collapse_dims(int rank, int64_t *dims, int n_ops, int64_t (*strides)[IR_MAX_RANK])
{
    int64_t d[IR_MAX_RANK];
    int64_t s[CG_COLLAPSE_MAX_OPS][IR_MAX_RANK];
    int r = 0;
    SD_ASSERT(n_ops <= CG_COLLAPSE_MAX_OPS);
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 1)
            continue;
        bool merge = r > 0;
        for (int k = 0; k < n_ops && merge; k++)
            merge = s[k][r - 1] == strides[k][i] * dims[i];
        if (merge) {
            d[r - 1] *= dims[i];
            for (int k = 0; k < n_ops; k++)
                s[k][r - 1] = strides[k][i];
        } else {
            d[r] = dims[i];
            for (int k = 0; k < n_ops; k++)
                s[k][r] = strides[k][i];
            r++;
        }
    }
    if (r > RT_LOOP_RANK)
        return false;
    int pad = RT_LOOP_RANK - r;
    for (int i = 0; i < RT_LOOP_RANK; i++) {
        dims[i] = i < pad ? 1 : d[i - pad];
        for (int k = 0; k < n_ops; k++)
            strides[k][i] = i < pad ? 0 : s[k][i - pad];
    }
    return true;
}

void cg_split_inner_dim(int64_t *dims, int n_ops, int64_t (*strides)[IR_MAX_RANK], int64_t min_items)
{
    const int64_t outer = rt_outer_extent(dims), n = dims[RT_LOOP_RANK - 1];
    if (dims[0] != 1 || outer >= min_items)
        return;
    const int64_t want = (min_items + outer - 1) / outer;
    for (int64_t f = want; f <= 8 * want && n / f >= 1024; f++) {
        const int64_t row = n / f;
        if (n % f || row % 16)
            continue;
        for (int i = 0; i < RT_LOOP_RANK - 2; i++)
            dims[i] = dims[i + 1];
        dims[RT_LOOP_RANK - 2] = f, dims[RT_LOOP_RANK - 1] = row;
        for (int k = 0; k < n_ops; k++) {
            for (int i = 0; i < RT_LOOP_RANK - 2; i++)
                strides[k][i] = strides[k][i + 1];
            strides[k][RT_LOOP_RANK - 2] = strides[k][RT_LOOP_RANK - 1] * row;
        }
        return;
    }
}
