/* passes/grad/reduce.c — placeholder until the gradient rules of the reduce family land. */
#include "passes/grad/grad.h"

SdStatus grad_reduce(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
