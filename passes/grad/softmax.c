/* passes/grad/softmax.c — placeholder until the gradient rules of the softmax family land. */
#include "passes/grad/grad.h"

SdStatus grad_softmax(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
