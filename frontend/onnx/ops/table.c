/* frontend/onnx/ops/table.c — ONNX op types of the default domain and the family that translates
 * each. Opset differences are resolved inside the family translators. */
#include <string.h>

#include "frontend/onnx/import.h"

typedef struct {
    const char *op_type;
    OnnxImportFn fn;
} OpEntry;

static const OpEntry ops[] = {
    /* unary */
    {"Identity", onnx_import_unary}, {"Cast", onnx_import_unary}, {"CastLike", onnx_import_unary},
    {"Relu", onnx_import_unary}, {"LeakyRelu", onnx_import_unary}, {"Sigmoid", onnx_import_unary},
    {"HardSigmoid", onnx_import_unary}, {"HardSwish", onnx_import_unary}, {"Tanh", onnx_import_unary},
    {"Erf", onnx_import_unary}, {"Gelu", onnx_import_unary}, {"Softplus", onnx_import_unary},
    {"Softsign", onnx_import_unary}, {"Elu", onnx_import_unary}, {"Selu", onnx_import_unary},
    {"Celu", onnx_import_unary}, {"ThresholdedRelu", onnx_import_unary}, {"Shrink", onnx_import_unary},
    {"Clip", onnx_import_unary}, {"Exp", onnx_import_unary}, {"Log", onnx_import_unary},
    {"Sqrt", onnx_import_unary}, {"Reciprocal", onnx_import_unary}, {"Neg", onnx_import_unary},
    {"Abs", onnx_import_unary}, {"Sign", onnx_import_unary}, {"Floor", onnx_import_unary},
    {"Ceil", onnx_import_unary}, {"Round", onnx_import_unary}, {"Sin", onnx_import_unary},
    {"Cos", onnx_import_unary}, {"Tan", onnx_import_unary}, {"Asin", onnx_import_unary},
    {"Acos", onnx_import_unary}, {"Atan", onnx_import_unary}, {"Sinh", onnx_import_unary},
    {"Cosh", onnx_import_unary}, {"Asinh", onnx_import_unary}, {"Acosh", onnx_import_unary},
    {"Atanh", onnx_import_unary}, {"Not", onnx_import_unary}, {"IsNaN", onnx_import_unary},
    {"IsInf", onnx_import_unary}, {"Dropout", onnx_import_unary}, {"Mish", onnx_import_unary},
    {"Swish", onnx_import_unary},
    /* binary, variadic and select */
    {"Add", onnx_import_binary}, {"Sub", onnx_import_binary}, {"Mul", onnx_import_binary},
    {"Div", onnx_import_binary}, {"Pow", onnx_import_binary}, {"Max", onnx_import_binary},
    {"Min", onnx_import_binary}, {"Sum", onnx_import_binary}, {"Mean", onnx_import_binary},
    {"Mod", onnx_import_binary}, {"PRelu", onnx_import_binary}, {"Equal", onnx_import_binary},
    {"Less", onnx_import_binary}, {"LessOrEqual", onnx_import_binary}, {"Greater", onnx_import_binary},
    {"GreaterOrEqual", onnx_import_binary}, {"And", onnx_import_binary}, {"Or", onnx_import_binary},
    {"Xor", onnx_import_binary}, {"Where", onnx_import_binary},
    /* convolution */
    {"Conv", onnx_import_conv}, {"ConvTranspose", onnx_import_conv},
    /* matrix products */
    {"MatMul", onnx_import_matmul}, {"Gemm", onnx_import_matmul},
    /* normalization */
    {"BatchNormalization", onnx_import_norm}, {"LayerNormalization", onnx_import_norm},
    {"InstanceNormalization", onnx_import_norm}, {"LRN", onnx_import_norm},
    /* softmax */
    {"Softmax", onnx_import_softmax}, {"LogSoftmax", onnx_import_softmax}, {"Hardmax", onnx_import_softmax},
    {"SoftmaxCrossEntropyLoss", onnx_import_softmax}, {"NegativeLogLikelihoodLoss", onnx_import_softmax},
    /* pooling */
    {"MaxPool", onnx_import_pool}, {"AveragePool", onnx_import_pool}, {"LpPool", onnx_import_pool},
    {"GlobalAveragePool", onnx_import_pool}, {"GlobalMaxPool", onnx_import_pool},
    {"GlobalLpPool", onnx_import_pool},
    /* reductions */
    {"ReduceSum", onnx_import_reduce}, {"ReduceMean", onnx_import_reduce}, {"ReduceMax", onnx_import_reduce},
    {"ReduceMin", onnx_import_reduce}, {"ReduceProd", onnx_import_reduce}, {"ReduceL1", onnx_import_reduce},
    {"ReduceL2", onnx_import_reduce}, {"ReduceLogSum", onnx_import_reduce},
    {"ReduceLogSumExp", onnx_import_reduce}, {"ReduceSumSquare", onnx_import_reduce},
    {"ArgMax", onnx_import_reduce}, {"ArgMin", onnx_import_reduce},
    /* data movement */
    {"Reshape", onnx_import_movement}, {"Flatten", onnx_import_movement}, {"Squeeze", onnx_import_movement},
    {"Unsqueeze", onnx_import_movement}, {"Transpose", onnx_import_movement}, {"Concat", onnx_import_movement},
    {"Split", onnx_import_movement}, {"Slice", onnx_import_movement}, {"Expand", onnx_import_movement},
    {"Tile", onnx_import_movement}, {"DepthToSpace", onnx_import_movement},
    {"SpaceToDepth", onnx_import_movement}, {"Pad", onnx_import_movement},
    /* indexing */
    {"Gather", onnx_import_gather}, {"GatherElements", onnx_import_gather},
    /* generators */
    {"Shape", onnx_import_generate}, {"Size", onnx_import_generate},
    {"ConstantOfShape", onnx_import_generate}, {"Range", onnx_import_generate},
    /* resampling */
    {"Resize", onnx_import_resize}, {"Upsample", onnx_import_resize},
    /* Einstein summation */
    {"Einsum", onnx_import_einsum},
    /* quantization */
    {"QuantizeLinear", onnx_import_quant}, {"DequantizeLinear", onnx_import_quant},
    {"DynamicQuantizeLinear", onnx_import_quant}, {"QLinearConv", onnx_import_quant},
    {"QLinearMatMul", onnx_import_quant}, {"ConvInteger", onnx_import_quant},
    {"MatMulInteger", onnx_import_quant},
};

OnnxImportFn onnx_find_op(const char *op_type)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].op_type, op_type) == 0)
            return ops[i].fn;
    return NULL;
}

const char *const *onnx_op_names(void)
{
    static const char *names[sizeof ops / sizeof ops[0] + 2];
    if (!names[0]) {
        size_t k = 0;
        names[k++] = "Constant";
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            names[k++] = ops[i].op_type;
        names[k] = NULL;
    }
    return names;
}
