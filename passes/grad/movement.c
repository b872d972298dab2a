/* passes/grad/movement.c — placeholder until the gradient rules of the movement family land. */
#include "passes/grad/grad.h"

SdStatus grad_movement(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
