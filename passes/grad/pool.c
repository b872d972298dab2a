/* passes/grad/pool.c — placeholder until the gradient rules of the pool family land. */
#include "passes/grad/grad.h"

SdStatus grad_pool(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
