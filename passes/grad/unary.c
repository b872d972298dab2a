/* passes/grad/unary.c — placeholder until the gradient rules of the unary family land. */
#include "passes/grad/grad.h"

SdStatus grad_unary(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
