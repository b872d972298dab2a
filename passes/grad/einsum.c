/* passes/grad/einsum.c — placeholder until the gradient rules of the einsum family land. */
#include "passes/grad/grad.h"

SdStatus grad_einsum(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
