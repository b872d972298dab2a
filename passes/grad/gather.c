/* passes/grad/gather.c — placeholder until the gradient rules of the gather family land. */
#include "passes/grad/grad.h"

SdStatus grad_gather(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
