/* passes/grad/binary.c — placeholder until the gradient rules of the binary family land. */
#include "passes/grad/grad.h"

SdStatus grad_binary(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    (void)dy, (void)dx;
    return grad_unsupported(c, n);
}
