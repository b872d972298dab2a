/* passes/grad/resize.c — placeholder until the gradient rules of the resize family land. */
#include "passes/grad/grad.h"

SdStatus grad_resize(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
