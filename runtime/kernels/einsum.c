/* runtime/kernels/einsum.c — the general Einsum as one loop per label (see einsum.h). Label
 * indices come from the flat output and sum positions by division, so any number of labels shares
 * one loop nest; dims are positive whenever a loop runs, so no division is by zero. */
#include "runtime/kernels/einsum.h"

RT_KERNEL(rt_einsum_f32)
{
    const RtEinsumParams *p = params_;
    int ni = p->n_inputs;
    float *y = bufs[ni];
    int64_t n_out = 1, n_sum = 1;
    for (int l = 0; l < p->n_out; l++)
        n_out *= p->dims[l];
    for (int l = p->n_out; l < p->n_labels; l++)
        n_sum *= p->dims[l];
    for (int64_t o = 0; o < n_out; o++) {
        int64_t base[RT_EINSUM_MAX_INPUTS] = {0};
        int64_t rest = o;
        for (int l = p->n_out - 1; l >= 0; l--) {
            int64_t i = rest % p->dims[l];
            rest /= p->dims[l];
            for (int t = 0; t < ni; t++)
                base[t] += i * p->strides[t][l];
        }
        double acc = 0.0;
        for (int64_t s = 0; s < n_sum; s++) {
            int64_t off[RT_EINSUM_MAX_INPUTS];
            for (int t = 0; t < ni; t++)
                off[t] = base[t];
            rest = s;
            for (int l = p->n_labels - 1; l >= p->n_out; l--) {
                int64_t i = rest % p->dims[l];
                rest /= p->dims[l];
                for (int t = 0; t < ni; t++)
                    off[t] += i * p->strides[t][l];
            }
            double prod = 1.0;
            for (int t = 0; t < ni; t++)
                prod *= ((const float *)bufs[t])[off[t]];
            acc += prod;
        }
        y[o] = (float)acc;
    }
}
