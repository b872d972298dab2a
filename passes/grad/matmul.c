/* passes/grad/matmul.c — placeholder until the gradient rules of the matmul family land. */
#include "passes/grad/grad.h"

SdStatus grad_matmul(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
