/* codegen/lower/gather.c — Gather onto rt_gather over [outer, axis_n, inner], GatherElements onto
 * rt_gather_elements over the indices' shape collapsed to RT_LOOP_RANK dims; GatherGrad onto the
 * matching scatter-add kernel over the same views. */
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/copy.h"
#include "runtime/kernels/gather.h"

/* GatherElements, or its gradient (x is then the data operand giving the shape, input 2). */
static SdStatus lower_gather_elements(const IrNode *n, const IrValue *x, CgLowered *out, SdError *err)
{
    const IrValue *idx = n->inputs[1];
    int r = idx->shape.rank;
    int64_t axis = n->attrs.gather.axis;
    int64_t dims[IR_MAX_RANK], strides[2][IR_MAX_RANK];
    cg_contiguous_strides(&x->shape, strides[0]);
    cg_contiguous_strides(&idx->shape, strides[1]);
    RtGatherElementsParams p = {.axis_stride = strides[0][axis], .axis_n = x->shape.dims[axis]};
    strides[0][axis] = 0;
    for (int i = 0; i < r; i++)
        dims[i] = idx->shape.dims[i];
    if (!cg_collapse_dims(r, dims, 2, strides)) {
        char lb[200];
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: the indices need more than %d loop dimensions",
                         ir_node_label(n, lb, sizeof lb), RT_LOOP_RANK);
    }
    memcpy(p.dims, dims, sizeof p.dims);
    memcpy(p.data_strides, strides[0], sizeof p.data_strides);
    p.elem_size = (int32_t)sd_dtype_size(x->dtype);
    p.index_size = (int32_t)sd_dtype_size(idx->dtype);
    p.data_numel = ir_value_numel(x);
    int bufs[3] = {0, 1, cg_out(n, 0)};
    bool grad = n->op == IR_OP_GATHER_GRAD;
    return cg_lowered_add(out, grad ? "rt_gather_elements_grad_f32" : "rt_gather_elements", &p, sizeof p, 3, bufs, err);
}

SdStatus cg_lower_gather(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    bool grad = n->op == IR_OP_GATHER_GRAD;
    const IrValue *x = n->inputs[grad ? 2 : 0], *idx = n->inputs[1];
    if (idx->dtype != SD_DT_I64 && idx->dtype != SD_DT_I32)
        return cg_unsupported_dtype(n, idx, err);
    if (sd_dtype_size(x->dtype) == 0 || (grad && n->inputs[0]->dtype != SD_DT_F32))
        return cg_unsupported_dtype(n, x, err);
    if (ir_value_numel(n->outputs[0]) == 0)
        return SD_OK;
    if (grad && ir_value_numel(n->inputs[0]) == 0) { /* nothing gathered: zeros */
        RtFillParams f = {.n = ir_value_numel(n->outputs[0]), .elem_size = 4};
        int fb[1] = {cg_out(n, 0)};
        return cg_lowered_add(out, "rt_fill", &f, sizeof f, 1, fb, err);
    }
    if (n->op == IR_OP_GATHER_ELEMENTS || (grad && n->attrs.gather.elements))
        return lower_gather_elements(n, x, out, err);
    int64_t axis = n->attrs.gather.axis;
    RtGatherParams p = {.outer = 1, .axis_n = x->shape.dims[axis], .count = ir_value_numel(idx), .inner = 1};
    for (int i = 0; i < x->shape.rank; i++)
        if (i != axis)
            *(i < axis ? &p.outer : &p.inner) *= x->shape.dims[i];
    p.elem_size = (int32_t)sd_dtype_size(x->dtype);
    p.index_size = (int32_t)sd_dtype_size(idx->dtype);
    int bufs[3] = {0, 1, cg_out(n, 0)};
    return cg_lowered_add(out, grad ? "rt_gather_grad_f32" : "rt_gather", &p, sizeof p, 3, bufs, err);
}
