/* passes/grad/conv.c — placeholder until the gradient rules of the conv family land. */
#include "passes/grad/grad.h"

SdStatus grad_conv(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
