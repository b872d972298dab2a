/* passes/grad/gather.c — Gather and GatherElements: dx = GATHER_GRAD(dy, indices, data), a
 * scatter-add of dy into zeros shaped like the data (data is only read for its shape; repeated
 * indices add up). Indices are integers and get no gradient. */
#include "passes/grad/grad.h"

SdStatus grad_gather(GradCtx *c, IrNode *n, IrValue *const *dy, IrValue **dx)
{
    IrValue *x = n->inputs[0];
    if ((n->op != IR_OP_GATHER && n->op != IR_OP_GATHER_ELEMENTS) || x->dtype != SD_DT_F32)
        return grad_unsupported(c, n);
    IrAttrs a = {0};
    a.gather.axis = n->attrs.gather.axis;
    a.gather.elements = n->op == IR_OP_GATHER_ELEMENTS;
    GRAD_TRY(dx[0] = grad_op_with(c, IR_OP_GATHER_GRAD, (IrValue *[]){dy[0], n->inputs[1], x}, 3, &a));
    return SD_OK;
}
