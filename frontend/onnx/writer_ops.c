/* frontend/onnx/writer_ops.c — one IR node back to ONNX 17 node(s): the op it came from with its
 * resolved attributes, or the definition of ops ONNX 17 lacks (GELU, SiLU, Mish). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/onnx/writer_internal.h"

static const char *unary_onnx(IrOp op)
{
    switch (op) {
    case IR_OP_IDENTITY: case IR_OP_DROPOUT: case IR_OP_STOP_GRADIENT: return "Identity";
    case IR_OP_RELU: return "Relu";
    case IR_OP_SIGMOID: return "Sigmoid";
    case IR_OP_HARD_SWISH: return "HardSwish";
    case IR_OP_TANH: return "Tanh";
    case IR_OP_ERF: return "Erf";
    case IR_OP_SOFTPLUS: return "Softplus";
    case IR_OP_SOFTSIGN: return "Softsign";
    case IR_OP_EXP: return "Exp";
    case IR_OP_LOG: return "Log";
    case IR_OP_SQRT: return "Sqrt";
    case IR_OP_RECIPROCAL: return "Reciprocal";
    case IR_OP_NEG: return "Neg";
    case IR_OP_ABS: return "Abs";
    case IR_OP_SIGN: return "Sign";
    case IR_OP_FLOOR: return "Floor";
    case IR_OP_CEIL: return "Ceil";
    case IR_OP_ROUND: return "Round";
    case IR_OP_SIN: return "Sin";
    case IR_OP_COS: return "Cos";
    case IR_OP_TAN: return "Tan";
    case IR_OP_ASIN: return "Asin";
    case IR_OP_ACOS: return "Acos";
    case IR_OP_ATAN: return "Atan";
    case IR_OP_SINH: return "Sinh";
    case IR_OP_COSH: return "Cosh";
    case IR_OP_ASINH: return "Asinh";
    case IR_OP_ACOSH: return "Acosh";
    case IR_OP_ATANH: return "Atanh";
    case IR_OP_NOT: return "Not";
    case IR_OP_IS_NAN: return "IsNaN";
    case IR_OP_ADD: return "Add";
    case IR_OP_SUB: return "Sub";
    case IR_OP_MUL: return "Mul";
    case IR_OP_DIV: return "Div";
    case IR_OP_POW: return "Pow";
    case IR_OP_MAX: return "Max";
    case IR_OP_MIN: return "Min";
    case IR_OP_PRELU: return "PRelu";
    case IR_OP_EQUAL: return "Equal";
    case IR_OP_LESS: return "Less";
    case IR_OP_LESS_EQUAL: return "LessOrEqual";
    case IR_OP_GREATER: return "Greater";
    case IR_OP_GREATER_EQUAL: return "GreaterOrEqual";
    case IR_OP_AND: return "And";
    case IR_OP_OR: return "Or";
    case IR_OP_XOR: return "Xor";
    case IR_OP_WHERE: return "Where";
    case IR_OP_MATMUL: return "MatMul";
    case IR_OP_GATHER: return "Gather";
    case IR_OP_GATHER_ELEMENTS: return "GatherElements";
    case IR_OP_CONCAT: return "Concat";
    case IR_OP_TRANSPOSE: return "Transpose";
    case IR_OP_SOFTMAX: return "Softmax";
    case IR_OP_LOG_SOFTMAX: return "LogSoftmax";
    case IR_OP_HARDMAX: return "Hardmax";
    case IR_OP_GLOBAL_AVG_POOL: return "GlobalAveragePool";
    case IR_OP_GLOBAL_MAX_POOL: return "GlobalMaxPool";
    case IR_OP_RANGE: return "Range";
    default: return NULL;
    }
}

static const char *reduce_onnx(IrOp op)
{
    switch (op) {
    case IR_OP_REDUCE_SUM: return "ReduceSum";
    case IR_OP_REDUCE_MEAN: return "ReduceMean";
    case IR_OP_REDUCE_MAX: return "ReduceMax";
    case IR_OP_REDUCE_MIN: return "ReduceMin";
    case IR_OP_REDUCE_PROD: return "ReduceProd";
    case IR_OP_REDUCE_L1: return "ReduceL1";
    case IR_OP_REDUCE_L2: return "ReduceL2";
    case IR_OP_REDUCE_LOG_SUM: return "ReduceLogSum";
    case IR_OP_REDUCE_LOG_SUM_EXP: return "ReduceLogSumExp";
    case IR_OP_REDUCE_SUM_SQUARE: return "ReduceSumSquare";
    case IR_OP_ARGMAX: return "ArgMax";
    case IR_OP_ARGMIN: return "ArgMin";
    default: return NULL;
    }
}

/* Ops ONNX 17 lacks, as their definitions: GELU, tanh-GELU, SiLU, Mish. */
static SdStatus composite(Writer *w, const IrNode *n, const char *x, const char *y)
{
    const char *name = n->name;
    if (n->op == IR_OP_SILU || n->op == IR_OP_MISH) {
        const char *t = onnxw_temp(w), *u = n->op == IR_OP_MISH ? onnxw_temp(w) : t;
        if (n->op == IR_OP_MISH) {
            onnxw_node(w, "Softplus", name, &x, 1, &t, 1);
            onnxw_node(w, "Tanh", name, &t, 1, &u, 1);
        } else {
            onnxw_node(w, "Sigmoid", name, &x, 1, &t, 1);
        }
        onnxw_node(w, "Mul", name, (const char *[]){x, u}, 2, &y, 1);
        return SD_OK;
    }
    /* 0.5 x (1 + erf(x / sqrt 2)) or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    const char *inner = onnxw_temp(w), *act = onnxw_temp(w), *one_plus = onnxw_temp(w), *half_x = onnxw_temp(w);
    if (n->op == IR_OP_GELU) {
        onnxw_node(w, "Div", name, (const char *[]){x, onnxw_const_scalar(w, 1.41421356237f)}, 2, &inner, 1);
        onnxw_node(w, "Erf", name, &inner, 1, &act, 1);
    } else {
        const char *cube = onnxw_temp(w), *scaled = onnxw_temp(w), *sum = onnxw_temp(w);
        onnxw_node(w, "Pow", name, (const char *[]){x, onnxw_const_scalar(w, 3.0f)}, 2, &cube, 1);
        onnxw_node(w, "Mul", name, (const char *[]){cube, onnxw_const_scalar(w, 0.044715f)}, 2, &scaled, 1);
        onnxw_node(w, "Add", name, (const char *[]){x, scaled}, 2, &sum, 1);
        onnxw_node(w, "Mul", name, (const char *[]){sum, onnxw_const_scalar(w, 0.79788456080f)}, 2, &inner, 1);
        onnxw_node(w, "Tanh", name, &inner, 1, &act, 1);
    }
    onnxw_node(w, "Add", name, (const char *[]){act, onnxw_const_scalar(w, 1.0f)}, 2, &one_plus, 1);
    onnxw_node(w, "Mul", name, (const char *[]){x, onnxw_const_scalar(w, 0.5f)}, 2, &half_x, 1);
    onnxw_node(w, "Mul", name, (const char *[]){half_x, one_plus}, 2, &y, 1);
    return SD_OK;
}

/* dilations only when some is not 1: AveragePool has no such attribute before opset 19 */
static void export_window(Writer *w, Onnx__NodeProto *o, int nspatial, const int64_t *kernel, const int64_t *strides,
                          const int64_t *pads, const int64_t *dilations)
{
    onnxw_attr_ints(w, o, "kernel_shape", kernel, nspatial);
    onnxw_attr_ints(w, o, "strides", strides, nspatial);
    onnxw_attr_ints(w, o, "pads", pads, 2 * nspatial);
    bool dilated = false;
    for (int i = 0; i < nspatial; i++)
        dilated |= dilations[i] != 1;
    if (dilated)
        onnxw_attr_ints(w, o, "dilations", dilations, nspatial);
}

SdStatus onnxw_export_node(Writer *w, const IrNode *n)
{
    const char *in[IR_MAX_OUTPUTS + 8], *out[IR_MAX_OUTPUTS];
    for (int i = 0; i < n->n_inputs; i++)
        in[i] = n->inputs[i] ? n->inputs[i]->name : "";
    for (int i = 0; i < n->n_outputs; i++)
        out[i] = n->outputs[i]->name;
    const IrAttrs *a = &n->attrs;
    const char *name = n->name;
    char lb[200];
    Onnx__NodeProto *o = NULL;
    switch (n->op) {
    case IR_OP_GELU: case IR_OP_GELU_TANH: case IR_OP_SILU: case IR_OP_MISH:
        return composite(w, n, in[0], out[0]);
    case IR_OP_LEAKY_RELU: case IR_OP_ELU: case IR_OP_CELU: case IR_OP_THRESHOLDED_RELU:
        o = onnxw_node(w, n->op == IR_OP_LEAKY_RELU ? "LeakyRelu" : n->op == IR_OP_ELU ? "Elu" : n->op == IR_OP_CELU ? "Celu" : "ThresholdedRelu",
                 name, in, 1, out, 1);
        onnxw_attr_f(w, o, "alpha", a->unary.alpha);
        return SD_OK;
    case IR_OP_HARD_SIGMOID:
        o = onnxw_node(w, "HardSigmoid", name, in, 1, out, 1);
        onnxw_attr_f(w, o, "alpha", a->unary.alpha), onnxw_attr_f(w, o, "beta", a->unary.beta);
        return SD_OK;
    case IR_OP_SELU:
        o = onnxw_node(w, "Selu", name, in, 1, out, 1);
        onnxw_attr_f(w, o, "alpha", a->unary.alpha), onnxw_attr_f(w, o, "gamma", a->unary.gamma);
        return SD_OK;
    case IR_OP_SHRINK:
        o = onnxw_node(w, "Shrink", name, in, 1, out, 1);
        onnxw_attr_f(w, o, "lambd", a->unary.alpha), onnxw_attr_f(w, o, "bias", a->unary.beta);
        return SD_OK;
    case IR_OP_CLIP: {
        const char *args[3] = {in[0], isinf(a->unary.alpha) ? "" : onnxw_const_scalar(w, a->unary.alpha),
                               isinf(a->unary.beta) ? "" : onnxw_const_scalar(w, a->unary.beta)};
        onnxw_node(w, "Clip", name, args, 3, out, 1);
        return SD_OK;
    }
    case IR_OP_CAST:
        o = onnxw_node(w, "Cast", name, in, 1, out, 1);
        onnxw_attr_i(w, o, "to", a->unary.to);
        return SD_OK;
    case IR_OP_IS_INF:
        o = onnxw_node(w, "IsInf", name, in, 1, out, 1);
        onnxw_attr_i(w, o, "detect_positive", a->unary.alpha != 0), onnxw_attr_i(w, o, "detect_negative", a->unary.beta != 0);
        return SD_OK;
    case IR_OP_MOD:
        o = onnxw_node(w, "Mod", name, in, 2, out, 1);
        onnxw_attr_i(w, o, "fmod", a->binary.fmod);
        return SD_OK;
    case IR_OP_CONV: case IR_OP_CONV_TRANSPOSE: {
        const IrConvAttrs *c = &a->conv;
        const bool residual = n->n_inputs > 3 && n->inputs[3]; /* folded by actfold: an Add after it */
        const bool act = c->act != IR_CONV_ACT_NONE; /* a SiLU or HardSwish folded in: after the clamp */
        const char *conv_out[1] = {c->has_clip || residual || act ? onnxw_temp(w) : out[0]};
        o = onnxw_node(w, n->op == IR_OP_CONV ? "Conv" : "ConvTranspose", name, in, n->n_inputs > 3 ? 3 : n->n_inputs,
                       conv_out, 1);
        export_window(w, o, c->nspatial, c->kernel, c->strides, c->pads, c->dilations);
        onnxw_attr_i(w, o, "group", c->groups);
        if (n->op == IR_OP_CONV_TRANSPOSE)
            onnxw_attr_ints(w, o, "output_padding", c->output_padding, c->nspatial);
        if (residual) {
            const char *sum[1] = {c->has_clip || act ? onnxw_temp(w) : out[0]}, *args[2] = {conv_out[0], in[3]};
            onnxw_node(w, "Add", name, args, 2, sum, 1);
            conv_out[0] = sum[0];
        }
        if (c->has_clip) {
            const char *args[3] = {conv_out[0], isinf(c->clip_min) ? "" : onnxw_const_scalar(w, c->clip_min),
                                   isinf(c->clip_max) ? "" : onnxw_const_scalar(w, c->clip_max)};
            const char *clipped[1] = {act ? onnxw_temp(w) : out[0]};
            onnxw_node(w, "Clip", name, args, 3, clipped, 1);
            conv_out[0] = clipped[0];
        }
        if (c->act == IR_CONV_ACT_HARD_SWISH) {
            onnxw_node(w, "HardSwish", name, conv_out, 1, out, 1);
        } else if (c->act == IR_CONV_ACT_SILU) {
            const char *sig[1] = {onnxw_temp(w)}, *args[2] = {conv_out[0], sig[0]};
            onnxw_node(w, "Sigmoid", name, conv_out, 1, sig, 1);
            onnxw_node(w, "Mul", name, args, 2, out, 1);
        }
        return SD_OK;
    }
    case IR_OP_MATMUL:
        if (a->matmul.trans_a || a->matmul.trans_b) { /* ONNX MatMul has no flags: transpose the operands */
            const char *ops[2] = {in[0], in[1]};
            for (int i = 0; i < 2; i++) {
                bool t = i == 0 ? a->matmul.trans_a : a->matmul.trans_b;
                int r = n->inputs[i]->shape.rank;
                if (!t || r < 2)
                    continue;
                int64_t perm[IR_MAX_RANK];
                for (int d = 0; d < r; d++)
                    perm[d] = d;
                perm[r - 2] = r - 1, perm[r - 1] = r - 2;
                const char *tmp = onnxw_temp(w);
                o = onnxw_node(w, "Transpose", name, &ops[i], 1, &tmp, 1);
                onnxw_attr_ints(w, o, "perm", perm, r);
                ops[i] = tmp;
            }
            onnxw_node(w, "MatMul", name, ops, 2, out, 1);
            return SD_OK;
        }
        break;
    case IR_OP_GEMM:
        o = onnxw_node(w, "Gemm", name, in, n->n_inputs, out, 1);
        onnxw_attr_f(w, o, "alpha", a->matmul.alpha), onnxw_attr_f(w, o, "beta", a->matmul.beta);
        onnxw_attr_i(w, o, "transA", a->matmul.trans_a), onnxw_attr_i(w, o, "transB", a->matmul.trans_b);
        return SD_OK;
    case IR_OP_BATCH_NORM:
        if (a->norm.training || n->n_outputs > 1)
            break;
        o = onnxw_node(w, "BatchNormalization", name, in, 5, out, 1);
        onnxw_attr_f(w, o, "epsilon", a->norm.epsilon), onnxw_attr_f(w, o, "momentum", a->norm.momentum ? a->norm.momentum : 0.9f);
        return SD_OK;
    case IR_OP_LAYER_NORM:
        o = onnxw_node(w, "LayerNormalization", name, in, n->n_inputs, out, n->n_outputs);
        onnxw_attr_i(w, o, "axis", a->norm.axis), onnxw_attr_f(w, o, "epsilon", a->norm.epsilon);
        return SD_OK;
    case IR_OP_INSTANCE_NORM:
        o = onnxw_node(w, "InstanceNormalization", name, in, 3, out, 1);
        onnxw_attr_f(w, o, "epsilon", a->norm.epsilon);
        return SD_OK;
    case IR_OP_LRN:
        o = onnxw_node(w, "LRN", name, in, 1, out, 1);
        onnxw_attr_i(w, o, "size", a->norm.size), onnxw_attr_f(w, o, "alpha", a->norm.alpha);
        onnxw_attr_f(w, o, "beta", a->norm.beta), onnxw_attr_f(w, o, "bias", a->norm.bias);
        return SD_OK;
    case IR_OP_SOFTMAX: case IR_OP_LOG_SOFTMAX: case IR_OP_HARDMAX:
        if (a->softmax.flatten_trailing && a->softmax.axis != n->inputs[0]->shape.rank - 1)
            break;
        o = onnxw_node(w, unary_onnx(n->op), name, in, 1, out, 1);
        onnxw_attr_i(w, o, "axis", a->softmax.axis);
        return SD_OK;
    case IR_OP_MAX_POOL: case IR_OP_AVG_POOL: case IR_OP_LP_POOL: {
        const IrPoolAttrs *p = &a->pool;
        bool dilated = false;
        for (int i = 0; i < p->nspatial; i++)
            dilated |= p->dilations[i] != 1;
        if (dilated && n->op != IR_OP_MAX_POOL)
            break; /* dilated average/Lp pooling needs opset 19 */
        o = onnxw_node(w, n->op == IR_OP_MAX_POOL ? "MaxPool" : n->op == IR_OP_AVG_POOL ? "AveragePool" : "LpPool", name, in, 1,
                 out, n->n_outputs);
        export_window(w, o, p->nspatial, p->kernel, p->strides, p->pads, p->dilations);
        if (n->op != IR_OP_LP_POOL)
            onnxw_attr_i(w, o, "ceil_mode", p->ceil_mode);
        if (n->op == IR_OP_AVG_POOL)
            onnxw_attr_i(w, o, "count_include_pad", p->count_include_pad);
        if (n->op == IR_OP_LP_POOL)
            onnxw_attr_i(w, o, "p", p->p);
        return SD_OK;
    }
    case IR_OP_RESHAPE: case IR_OP_FLATTEN: case IR_OP_SQUEEZE: case IR_OP_UNSQUEEZE: {
        /* with a symbolic batch, a kept leading dimension is written as 0 ("copy"), else the
         * target would pin the batch the graph was built at */
        const IrShape *so = &n->outputs[0]->shape, *si = &n->inputs[0]->shape;
        int64_t dims[IR_MAX_RANK];
        memcpy(dims, so->dims, (size_t)so->rank * sizeof *dims);
        if (w->symbolic_batch && so->rank > 0 && si->rank > 0 && si->dims[0] == so->dims[0])
            dims[0] = 0;
        onnxw_node(w, "Reshape", name, (const char *[]){in[0], onnxw_const_ints(w, dims, so->rank)}, 2, out, 1);
        return SD_OK;
    }
    case IR_OP_TRANSPOSE:
        o = onnxw_node(w, "Transpose", name, in, 1, out, 1);
        onnxw_attr_ints(w, o, "perm", a->movement.perm, a->movement.n_perm);
        return SD_OK;
    case IR_OP_CONCAT:
        o = onnxw_node(w, "Concat", name, in, n->n_inputs, out, 1);
        onnxw_attr_i(w, o, "axis", a->movement.axis);
        return SD_OK;
    case IR_OP_SPLIT:
        o = onnxw_node(w, "Split", name, (const char *[]){in[0], onnxw_const_ints(w, a->movement.split, a->movement.n_split)}, 2, out,
                 n->n_outputs);
        onnxw_attr_i(w, o, "axis", a->movement.axis);
        return SD_OK;
    case IR_OP_SLICE: {
        int r = n->inputs[0]->shape.rank;
        int64_t axes[IR_MAX_RANK], ends[IR_MAX_RANK];
        for (int i = 0; i < r; i++) {
            axes[i] = i;
            /* a negative step's end of -1 means "before index 0": ONNX needs it below -dim */
            ends[i] = a->movement.ends[i] < 0 ? INT64_MIN : a->movement.ends[i];
        }
        onnxw_node(w, "Slice", name,
             (const char *[]){in[0], onnxw_const_ints(w, a->movement.starts, r), onnxw_const_ints(w, ends, r), onnxw_const_ints(w, axes, r),
                              onnxw_const_ints(w, a->movement.steps, r)},
             5, out, 1);
        return SD_OK;
    }
    case IR_OP_EXPAND: case IR_OP_TILE:
        onnxw_node(w, n->op == IR_OP_EXPAND ? "Expand" : "Tile", name,
             (const char *[]){in[0], onnxw_const_ints(w, a->movement.shape, a->movement.n_shape)}, 2, out, 1);
        return SD_OK;
    case IR_OP_DEPTH_TO_SPACE: case IR_OP_SPACE_TO_DEPTH:
        o = onnxw_node(w, n->op == IR_OP_DEPTH_TO_SPACE ? "DepthToSpace" : "SpaceToDepth", name, in, 1, out, 1);
        onnxw_attr_i(w, o, "blocksize", a->movement.blocksize);
        if (n->op == IR_OP_DEPTH_TO_SPACE)
            onnxw_attr_s(w, o, "mode", a->movement.crd ? "CRD" : "DCR");
        return SD_OK;
    case IR_OP_PAD: {
        int r = n->inputs[0]->shape.rank;
        static const char *modes[] = {"constant", "reflect", "edge", "wrap"};
        if (a->movement.pad_mode == IR_PADMODE_WRAP)
            break; /* ONNX 19 */
        const char *value = n->inputs[0]->dtype == SD_DT_F32 ? onnxw_const_scalar(w, (float)a->movement.pad_value) : "";
        o = onnxw_node(w, "Pad", name, (const char *[]){in[0], onnxw_const_ints(w, a->movement.pads, 2 * r), value}, 3, out, 1);
        onnxw_attr_s(w, o, "mode", modes[a->movement.pad_mode]);
        return SD_OK;
    }
    case IR_OP_CONSTANT_OF_SHAPE: {
        o = onnxw_node(w, "ConstantOfShape", name, (const char *[]){onnxw_const_ints(w, n->outputs[0]->shape.dims, n->outputs[0]->shape.rank)},
                 1, out, 1);
        Onnx__AttributeProto *v = onnxw_attr(w, o, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
        if (v) {
            v->t = onnxw_zalloc(w, sizeof(Onnx__TensorProto));
            if (v->t) {
                onnx__tensor_proto__init(v->t);
                v->t->has_data_type = 1;
                v->t->data_type = a->generate.value_dtype;
                v->t->dims = onnxw_zalloc(w, sizeof(int64_t));
                if (v->t->dims)
                    v->t->dims[0] = 1, v->t->n_dims = 1;
                v->t->has_raw_data = 1;
                v->t->raw_data.len = sd_dtype_size(a->generate.value_dtype);
                v->t->raw_data.data = onnxw_zalloc(w, 8);
                if (v->t->raw_data.data)
                    memcpy(v->t->raw_data.data, a->generate.value.bytes, v->t->raw_data.len);
            }
        }
        return SD_OK;
    }
    case IR_OP_EINSUM:
        o = onnxw_node(w, "Einsum", name, in, n->n_inputs, out, 1);
        onnxw_attr_s(w, o, "equation", a->einsum.equation);
        return SD_OK;
    case IR_OP_GATHER: case IR_OP_GATHER_ELEMENTS:
        o = onnxw_node(w, unary_onnx(n->op), name, in, 2, out, 1);
        onnxw_attr_i(w, o, "axis", a->gather.axis);
        return SD_OK;
    default:
        break;
    }
    const char *r = reduce_onnx(n->op);
    if (r) {
        bool arg = n->op == IR_OP_ARGMAX || n->op == IR_OP_ARGMIN;
        if (n->op == IR_OP_REDUCE_SUM) {
            o = onnxw_node(w, r, name, (const char *[]){in[0], onnxw_const_ints(w, a->reduce.axes, a->reduce.n_axes)}, 2, out, 1);
        } else {
            o = onnxw_node(w, r, name, in, 1, out, 1);
            if (arg)
                onnxw_attr_i(w, o, "axis", a->reduce.axes[0]), onnxw_attr_i(w, o, "select_last_index", a->reduce.select_last_index);
            else
                onnxw_attr_ints(w, o, "axes", a->reduce.axes, a->reduce.n_axes);
        }
        onnxw_attr_i(w, o, "keepdims", a->reduce.keepdims);
        return SD_OK;
    }
    const char *u = unary_onnx(n->op);
    if (u && ir_op_info(n->op)->max_outputs > 0) {
        onnxw_node(w, u, name, in, n->n_inputs, out, 1);
        return SD_OK;
    }
    return sd_errorf(w->err, SD_EUNSUPPORTED, "%s: %s cannot be exported to ONNX %d", ir_graph_source(w->g),
                     ir_node_label(n, lb, sizeof lb), WRITER_OPSET);
}

