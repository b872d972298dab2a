/* passes/grad/norm.c — placeholder until the gradient rules of the norm family land. */
#include "passes/grad/grad.h"

SdStatus grad_norm(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
