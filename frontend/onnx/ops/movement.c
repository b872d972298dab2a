/* frontend/onnx/ops/movement.c — data movement. Attributes that older opsets carried and newer
 * ones take as inputs (Reshape's shape, Slice's starts/ends/axes, Squeeze/Unsqueeze axes, Split
 * sizes, Pad's pads and value) become constant inputs here, so shape inference reads one form. */
#include <string.h>

#include "frontend/onnx/import.h"

/* Emits `op` reading in[0] plus the given constant/extra inputs. */
static IrNode *emit_with(OnnxCtx *c, IrOp op, IrValue *const *extra, int n_extra)
{
    IrValue *ins[6] = {c->in[0]};
    for (int i = 0; i < n_extra; i++)
        ins[1 + i] = extra[i];
    return onnx_emit(c, op, ins, 1 + n_extra, c->out, c->n_out);
}

/* An int-list attribute as a constant input; absent stays absent (NULL). */
static SdStatus attr_as_input(OnnxCtx *c, const char *attr, IrValue **out)
{
    int64_t v[2 * IR_MAX_RANK];
    int n;
    *out = NULL;
    SD_TRY(onnx_attr_ints(c, attr, v, 2 * IR_MAX_RANK, &n));
    if (n >= 0 && !(*out = onnx_const_ints(c, attr, v, n)))
        return c->err->status;
    return SD_OK;
}

static SdStatus import_reshape(OnnxCtx *c)
{
    IrNode *n;
    if (c->opset < 5) {
        SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
        IrValue *shape;
        SD_TRY(attr_as_input(c, "shape", &shape));
        if (!shape)
            return onnx_node_error(c, SD_EBADMODEL, "attribute 'shape' is missing");
        n = emit_with(c, IR_OP_RESHAPE, &shape, 1);
    } else {
        SD_TRY(onnx_expect_arity(c, 2, 2, 1, 1));
        n = onnx_emit_same(c, IR_OP_RESHAPE);
    }
    if (!n)
        return c->err->status;
    int64_t allowzero;
    SD_TRY(onnx_attr_int(c, "allowzero", 0, &allowzero));
    n->attrs.movement.allowzero = allowzero != 0;
    return SD_OK;
}

static SdStatus import_squeeze(OnnxCtx *c, IrOp op)
{
    IrNode *n;
    if (c->opset < 13) {
        SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
        IrValue *axes;
        SD_TRY(attr_as_input(c, "axes", &axes));
        if (!axes && op == IR_OP_UNSQUEEZE)
            return onnx_node_error(c, SD_EBADMODEL, "attribute 'axes' is missing");
        n = axes ? emit_with(c, op, &axes, 1) : emit_with(c, op, NULL, 0);
    } else {
        SD_TRY(onnx_expect_arity(c, op == IR_OP_UNSQUEEZE ? 2 : 1, 2, 1, 1));
        n = onnx_emit_same(c, op);
    }
    return n ? SD_OK : c->err->status;
}

static SdStatus import_split(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 1, 2, 1, IR_MAX_OUTPUTS));
    int64_t axis;
    SD_TRY(onnx_attr_int(c, "axis", 0, &axis));
    IrValue *split = c->n_in > 1 ? c->in[1] : NULL;
    if (c->opset < 13 && !split)
        SD_TRY(attr_as_input(c, "split", &split));
    if (c->opset >= 18 && !split) {
        int64_t parts;
        SD_TRY(onnx_attr_int(c, "num_outputs", c->n_out, &parts));
        if (parts != c->n_out)
            return onnx_node_error(c, SD_EBADMODEL, "num_outputs is %lld but the node has %d outputs", (long long)parts,
                                   c->n_out);
    }
    IrNode *n = split ? emit_with(c, IR_OP_SPLIT, &split, 1) : emit_with(c, IR_OP_SPLIT, NULL, 0);
    if (!n)
        return c->err->status;
    n->attrs.movement.axis = axis;
    return SD_OK;
}

static SdStatus import_slice(OnnxCtx *c)
{
    if (c->opset >= 10) {
        SD_TRY(onnx_expect_arity(c, 3, 5, 1, 1));
        return onnx_emit_same(c, IR_OP_SLICE) ? SD_OK : c->err->status;
    }
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
    IrValue *starts, *ends, *axes;
    SD_TRY(attr_as_input(c, "starts", &starts));
    SD_TRY(attr_as_input(c, "ends", &ends));
    SD_TRY(attr_as_input(c, "axes", &axes));
    if (!starts || !ends)
        return onnx_node_error(c, SD_EBADMODEL, "attributes 'starts' and 'ends' are required");
    IrValue *extra[3] = {starts, ends, axes};
    return emit_with(c, IR_OP_SLICE, extra, axes ? 3 : 2) ? SD_OK : c->err->status;
}

static SdStatus import_pad(OnnxCtx *c)
{
    char mode[16];
    SD_TRY(onnx_attr_string(c, "mode", "constant", mode, sizeof mode));
    IrPadMode pm;
    if (strcmp(mode, "constant") == 0)
        pm = IR_PADMODE_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        pm = IR_PADMODE_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        pm = IR_PADMODE_EDGE;
    else if (strcmp(mode, "wrap") == 0)
        pm = IR_PADMODE_WRAP;
    else
        return onnx_node_error(c, SD_EBADMODEL, "mode '%s'; constant, reflect, edge or wrap is expected", mode);
    IrNode *n;
    if (c->opset < 11) {
        SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
        IrValue *pads;
        SD_TRY(attr_as_input(c, c->opset < 2 ? "paddings" : "pads", &pads));
        if (!pads)
            return onnx_node_error(c, SD_EBADMODEL, "attribute 'pads' is missing");
        float value;
        SD_TRY(onnx_attr_float(c, "value", 0.0f, &value));
        IrValue *v = onnx_const_scalar_f32(c, "value", value);
        if (!v)
            return c->err->status;
        n = emit_with(c, IR_OP_PAD, (IrValue *[]){pads, v}, 2);
    } else {
        SD_TRY(onnx_expect_arity(c, 2, 4, 1, 1));
        n = onnx_emit_same(c, IR_OP_PAD);
    }
    if (!n)
        return c->err->status;
    n->attrs.movement.pad_mode = pm;
    return SD_OK;
}

static SdStatus import_transpose(OnnxCtx *c)
{
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
    int64_t perm[IR_MAX_RANK];
    int n_perm;
    SD_TRY(onnx_attr_ints(c, "perm", perm, IR_MAX_RANK, &n_perm));
    IrNode *n = onnx_emit_same(c, IR_OP_TRANSPOSE);
    if (!n)
        return c->err->status;
    n->attrs.movement.n_perm = n_perm > 0 ? n_perm : 0;
    memcpy(n->attrs.movement.perm, perm, sizeof perm);
    return SD_OK;
}

static SdStatus import_depth_space(OnnxCtx *c, IrOp op)
{
    SD_TRY(onnx_expect_arity(c, 1, 1, 1, 1));
    int64_t b;
    char mode[8];
    SD_TRY(onnx_attr_int(c, "blocksize", 0, &b));
    SD_TRY(onnx_attr_string(c, "mode", "DCR", mode, sizeof mode));
    if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0)
        return onnx_node_error(c, SD_EBADMODEL, "mode '%s'; DCR or CRD is expected", mode);
    IrNode *n = onnx_emit_same(c, op);
    if (!n)
        return c->err->status;
    n->attrs.movement.blocksize = b;
    n->attrs.movement.crd = strcmp(mode, "CRD") == 0;
    return SD_OK;
}

SdStatus onnx_import_movement(OnnxCtx *c)
{
    const char *t = c->node->op_type;
    IrNode *n;
    if (strcmp(t, "Reshape") == 0)
        return import_reshape(c);
    if (strcmp(t, "Squeeze") == 0)
        return import_squeeze(c, IR_OP_SQUEEZE);
    if (strcmp(t, "Unsqueeze") == 0)
        return import_squeeze(c, IR_OP_UNSQUEEZE);
    if (strcmp(t, "Split") == 0)
        return import_split(c);
    if (strcmp(t, "Slice") == 0)
        return import_slice(c);
    if (strcmp(t, "Pad") == 0)
        return import_pad(c);
    if (strcmp(t, "Transpose") == 0)
        return import_transpose(c);
    if (strcmp(t, "DepthToSpace") == 0)
        return import_depth_space(c, IR_OP_DEPTH_TO_SPACE);
    if (strcmp(t, "SpaceToDepth") == 0)
        return import_depth_space(c, IR_OP_SPACE_TO_DEPTH);
    if (strcmp(t, "Flatten") == 0 || strcmp(t, "Concat") == 0) {
        bool flatten = t[0] == 'F';
        SD_TRY(onnx_expect_arity(c, 1, flatten ? 1 : IR_MAX_OUTPUTS, 1, 1));
        int64_t axis;
        SD_TRY(onnx_attr_int(c, "axis", flatten || c->opset < 4 ? 1 : 0, &axis));
        if (!flatten && c->opset >= 4 && !onnx_attr(c, "axis"))
            return onnx_node_error(c, SD_EBADMODEL, "attribute 'axis' is required");
        if (!(n = onnx_emit_same(c, flatten ? IR_OP_FLATTEN : IR_OP_CONCAT)))
            return c->err->status;
        n->attrs.movement.axis = axis;
        return SD_OK;
    }
    if (strcmp(t, "Expand") == 0 || strcmp(t, "Tile") == 0) {
        SD_TRY(onnx_expect_arity(c, 2, 2, 1, 1));
        return onnx_emit_same(c, t[0] == 'E' ? IR_OP_EXPAND : IR_OP_TILE) ? SD_OK : c->err->status;
    }
    return onnx_node_error(c, SD_EINTERNAL, "no movement translation for %s", t);
}
