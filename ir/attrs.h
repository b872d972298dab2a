/* ir/attrs.h — typed attributes, one struct per op family (see ir/ops.def).
 * Frontends fill them from their own spellings; shape inference completes them (auto_pad becomes
 * explicit pads, negative axes become non-negative, compile-time inputs such as a Reshape's shape
 * are read into them), so passes and codegen after it read only resolved values. */
#ifndef SD_IR_ATTRS_H
#define SD_IR_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ops.h"
#include "support/dtype.h"

#define IR_MAX_RANK 8
#define IR_MAX_SPATIAL 3
#define IR_MAX_OUTPUTS 64

typedef enum IrAutoPad { IR_PAD_NOTSET, IR_PAD_SAME_UPPER, IR_PAD_SAME_LOWER, IR_PAD_VALID } IrAutoPad;

typedef struct IrUnaryAttrs {
    float alpha, beta;  /* LeakyRelu/Elu/Selu/Celu/HardSigmoid/ThresholdedRelu/Shrink(lambd, bias)/Clip(min, max) */
    float gamma;        /* Selu */
    SdDType to;         /* CAST: the output type */
    float ratio;        /* DROPOUT */
    bool training;      /* DROPOUT: drop at random (keep mask from hash(seed, counter input, index)) */
    int64_t seed;       /* DROPOUT in training: distinct per node, so two dropouts draw different masks */
    IrOp grad_of;       /* UNARY_GRAD: dx = dy * f'(x) for this forward op (its alpha/beta/gamma above) */
} IrUnaryAttrs;

#define IR_FUSED_MAX_STEPS 16

/* One step of a fused elementwise program: reg[n_inputs + k] = op(reg[a], reg[b]). Registers
 * 0..n_inputs-1 hold the node's inputs; the last step's register is the output. */
typedef struct IrFusedStep {
    IrOp op;            /* a unary or binary f32 elementwise op */
    int8_t a, b;        /* operand registers (b unused by unary ops) */
    float alpha, beta, gamma;
} IrFusedStep;

typedef struct IrBinaryAttrs {
    bool fmod; /* MOD: C fmod semantics (sign of the dividend) instead of Python's */
    int n_steps;                              /* FUSED_ELTWISE */
    IrFusedStep steps[IR_FUSED_MAX_STEPS];
} IrBinaryAttrs;

/* The smooth activation a CONV applies to its output after the actfold pass (x * sigmoid(x), and
 * x * clamp(x / 6 + 1/2, 0, 1)) */
typedef enum IrConvAct { IR_CONV_ACT_NONE = 0, IR_CONV_ACT_SILU, IR_CONV_ACT_HARD_SWISH } IrConvAct;

typedef struct IrConvAttrs {
    int nspatial;                         /* 1, 2 or 3 spatial dimensions */
    int64_t kernel[IR_MAX_SPATIAL];       /* 0 until known: taken from the weights by shape inference */
    int64_t strides[IR_MAX_SPATIAL];
    int64_t dilations[IR_MAX_SPATIAL];
    int64_t pads[2 * IR_MAX_SPATIAL];     /* begins [0, nspatial), ends [nspatial, 2*nspatial) */
    int64_t output_padding[IR_MAX_SPATIAL];
    int64_t output_shape[IR_MAX_SPATIAL]; /* CONV_TRANSPOSE when has_output_shape */
    bool has_output_shape;
    int64_t groups;
    IrAutoPad auto_pad;                   /* NOTSET after shape inference */
    /* CONV_GRAD_INPUT / CONV_GRAD_WEIGHT: the shape of the gradient they make (the forward conv's
     * x, or its w; nspatial + 2 dims). The other fields are the forward conv's, resolved. */
    int64_t grad_shape[2 + IR_MAX_SPATIAL];
    /* CONV after the actfold pass: the output clamped to [clip_min, clip_max] (Relu, Clip, Relu6
     * folded in); NaN stays NaN */
    bool has_clip;
    float clip_min, clip_max;
    /* ... and then a smooth activation folded in by actfold (never with a clamp) */
    IrConvAct act;
} IrConvAttrs;

typedef struct IrMatmulAttrs {
    float alpha, beta; /* GEMM */
    bool trans_a, trans_b;
    bool c_exact;      /* GEMM of opset < 7 without `broadcast`: C must already be [M, N] */
} IrMatmulAttrs;

typedef struct IrNormAttrs {
    int64_t axis;      /* LAYER_NORM: first normalized axis */
    float epsilon;
    float momentum;    /* BATCH_NORM running statistics */
    bool training;     /* BATCH_NORM with batch statistics; BATCH_NORM_GRAD of such a forward (else
                          the gradient of the per-channel affine map of inference) */
    bool var_biased;   /* training BATCH_NORM: output 3 is the biased batch variance (ONNX's running
                          variance update) instead of the unbiased one (PyTorch's) */
    float alpha, beta, bias; /* LRN */
    int64_t size;            /* LRN */
    bool per_activation;     /* BATCH_NORM of opset < 9 with spatial = 0: statistics per (C, D1, ...) */
    bool relu;               /* training BATCH_NORM: y (plus the residual, a 6th input, when given)
                                clamped at 0; BATCH_NORM_GRAD: a 6th input, that forward's y, passes dy
                                only where y > 0 (passes/fold_norm_relu.c) */
} IrNormAttrs;

typedef enum IrLossReduction { IR_REDUCTION_MEAN, IR_REDUCTION_SUM, IR_REDUCTION_NONE } IrLossReduction;

typedef struct IrSoftmaxAttrs {
    int64_t axis;          /* SOFTMAX_CROSS_ENTROPY and the NLL ops: the class axis is always 1 */
    bool flatten_trailing; /* opset < 13: normalize over all axes from `axis` on, as one */
    /* SOFTMAX_CROSS_ENTROPY(_GRAD), NEGATIVE_LOG_LIKELIHOOD(_GRAD) */
    IrLossReduction reduction; /* NONE only for the NLL ops: the loss keeps the target's shape */
    bool has_ignore_index;     /* class-index targets equal to ignore_index add nothing (nor count in a mean) */
    int64_t ignore_index;
} IrSoftmaxAttrs;

typedef struct IrPoolAttrs {
    int nspatial;
    int64_t kernel[IR_MAX_SPATIAL];
    int64_t strides[IR_MAX_SPATIAL];
    int64_t dilations[IR_MAX_SPATIAL];
    int64_t pads[2 * IR_MAX_SPATIAL];
    bool ceil_mode;
    bool count_include_pad;
    IrAutoPad auto_pad;
    int64_t p;             /* LP_POOL */
    int64_t storage_order; /* MAX_POOL indices: 0 row-major, 1 column-major */
} IrPoolAttrs;

typedef struct IrReduceAttrs {
    int n_axes;                /* 0 with !noop_with_empty_axes: reduce all axes */
    int64_t axes[IR_MAX_RANK]; /* sorted and non-negative after shape inference */
    bool keepdims;
    bool noop_with_empty_axes;
    bool select_last_index;    /* ARGMAX/ARGMIN */
} IrReduceAttrs;

typedef enum IrPadMode { IR_PADMODE_CONSTANT, IR_PADMODE_REFLECT, IR_PADMODE_EDGE, IR_PADMODE_WRAP } IrPadMode;

typedef struct IrMovementAttrs {
    int64_t axis;                     /* CONCAT, SPLIT, FLATTEN; SQUEEZE/UNSQUEEZE use axes */
    int n_axes;
    int64_t axes[IR_MAX_RANK];        /* SQUEEZE, UNSQUEEZE, SLICE, PAD (opset 18) */
    bool has_axes;
    int64_t perm[IR_MAX_RANK];        /* TRANSPOSE; n_perm == 0 means reverse */
    int n_perm;
    int64_t shape[IR_MAX_RANK];       /* RESHAPE target, EXPAND shape, TILE repeats */
    int n_shape;
    bool allowzero;                   /* RESHAPE */
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], steps[IR_MAX_RANK]; /* SLICE, per input dim once resolved */
    int64_t pads[2 * IR_MAX_RANK];    /* PAD: begins then ends, per input dim once resolved */
    IrPadMode pad_mode;
    double pad_value;
    int64_t split[IR_MAX_OUTPUTS];    /* SPLIT sizes per output */
    int n_split;
    int64_t blocksize;                /* DEPTH_TO_SPACE, SPACE_TO_DEPTH */
    bool crd;                         /* DEPTH_TO_SPACE mode CRD (default DCR) */
    bool resolved;                    /* shape inference has read every compile-time input */
} IrMovementAttrs;

typedef struct IrGatherAttrs {
    int64_t axis;
    bool elements; /* GATHER_GRAD: the gradient of GATHER_ELEMENTS (else of GATHER) */
} IrGatherAttrs;

typedef struct IrGenerateAttrs {
    int64_t start, end;  /* SHAPE: slice of the dims */
    bool has_end;
    SdDType value_dtype; /* CONSTANT_OF_SHAPE fill value */
    union {
        float f32;
        double f64;
        int64_t i64;
        int32_t i32;
        uint8_t bytes[8];
    } value;
} IrGenerateAttrs;

typedef enum IrResizeMode { IR_RESIZE_NEAREST, IR_RESIZE_LINEAR, IR_RESIZE_CUBIC } IrResizeMode;
typedef enum IrResizeCoord {
    IR_COORD_HALF_PIXEL,
    IR_COORD_HALF_PIXEL_SYMMETRIC,
    IR_COORD_PYTORCH_HALF_PIXEL,
    IR_COORD_ALIGN_CORNERS,
    IR_COORD_ASYMMETRIC,
    IR_COORD_TF_CROP_AND_RESIZE,
    IR_COORD_TF_HALF_PIXEL_FOR_NN, /* opsets 11-12 only: (x + 0.5) / scale */
} IrResizeCoord;
typedef enum IrResizeNearest {
    IR_NEAREST_ROUND_PREFER_FLOOR,
    IR_NEAREST_ROUND_PREFER_CEIL,
    IR_NEAREST_FLOOR,
    IR_NEAREST_CEIL,
    IR_NEAREST_SIMPLE, /* Resize-10 and Upsample: floor along an axis that grows, ceil along one that shrinks */
} IrResizeNearest;
typedef enum IrResizeAspect { IR_ASPECT_STRETCH, IR_ASPECT_NOT_LARGER, IR_ASPECT_NOT_SMALLER } IrResizeAspect;

typedef struct IrResizeAttrs {
    IrResizeMode mode;
    IrResizeCoord coord;
    IrResizeNearest nearest;
    IrResizeAspect aspect;
    float cubic_coeff_a;
    bool exclude_outside;
    bool antialias;
    float extrapolation_value;
    int n_axes;
    int64_t axes[IR_MAX_RANK];
    double scales[IR_MAX_RANK];  /* per input dim once resolved: the given scale, or size / input size */
    float roi[2 * IR_MAX_RANK];  /* TF_CROP_AND_RESIZE: starts then ends, per input dim once resolved */
    bool resolved;
} IrResizeAttrs;

#define IR_EINSUM_MAX_INPUTS 8
#define IR_EINSUM_MAX_LABELS 64

/* The equation as written; shape inference resolves it into label ids (ellipsis dims get labels of
 * their own, right-aligned across operands) so that later passes never parse it again. */
typedef struct IrEinsumAttrs {
    char equation[128];
    bool resolved;
    int n_labels;
    int64_t label_dims[IR_EINSUM_MAX_LABELS];               /* broadcast size of each label */
    int8_t in_labels[IR_EINSUM_MAX_INPUTS][IR_MAX_RANK];    /* label of each input axis */
    int8_t out_labels[IR_MAX_RANK];                         /* label of each output axis */
} IrEinsumAttrs;

/* In-place updates of persistent state (see ops.def). Hyperparameters are doubles, as PyTorch keeps
 * them: 1 - beta2 or beta2^step computed from a float 0.999 would be off by 1e-5 relative. */
typedef struct IrUpdateAttrs {
    double momentum;          /* SGD/LARS velocity decay; EMA_UPDATE: dst = momentum*dst + (1-momentum)*src */
    bool nesterov;
    double weight_decay;
    double beta1, beta2;      /* AdamW, LAMB */
    double epsilon;
    double trust_coefficient; /* LARS eta */
} IrUpdateAttrs;

/* Quantization (see ops.def). Q/DQ: axis and block_size describe the scale's granularity; the
 * convolutions keep their window in `conv` (completed by shape inference as for CONV). The fields
 * after `conv` belong to the ops passes/quantize.c makes, whose zero points and clamps are
 * compile-time constants. */
typedef struct IrQuantAttrs {
    int64_t axis;             /* Q/DQ: the quantized axis (non-negative after shape inference) */
    int64_t block_size;       /* Q/DQ: 0, or scales per block of this many along `axis` */
    SdDType out_dtype;        /* QUANTIZE_LINEAR without a zero point: y's type (UNDEFINED: u8);
                                 QCONV/QMATMUL: u8, i8 or f32 */
    IrConvAttrs conv;         /* QLINEAR_CONV, CONV_INTEGER, QCONV, CONV_BF16 */
    int64_t channels;         /* QCONV/CONV_BF16: output channels; QMATMUL/MATMUL_BF16: N */
    int64_t depth;            /* QMATMUL/MATMUL_BF16: K */
    int32_t x_zp, y_zp;       /* QCONV/QMATMUL: input and output zero points; QADD/QGLOBAL_AVG_POOL: y's */
    int32_t qmin, qmax;       /* u8/i8 outputs: clamp of the requantized value (a fused ReLU or Clip) */
    float lo, hi;             /* f32 outputs: clamp (a fused ReLU or Clip; -inf/+inf when none) */
    float a_scale, b_scale, y_scale; /* QADD (a, b, y), QGLOBAL_AVG_POOL (a = x, y); QCONV's residual:
                                        b_scale its scale over y's */
    int32_t a_zp, b_zp;       /* QADD, QGLOBAL_AVG_POOL (a = x); QCONV: the residual's zero point */
    /* QCONV with u8 output: a SiLU or HardSwish folded in. The sums requantize to the activation's
     * input (scale act_in_scale, zero point y_zp, clamped to [qmin, qmax]), and each such byte
     * becomes the activation's u8 value (act_out_scale, act_out_zp), by a table of 256 */
    IrConvAct act;
    float act_in_scale, act_out_scale;
    int32_t act_out_zp;
} IrQuantAttrs;

typedef union IrAttrs {
    IrUnaryAttrs unary;
    IrBinaryAttrs binary;
    IrConvAttrs conv;
    IrMatmulAttrs matmul;
    IrNormAttrs norm;
    IrSoftmaxAttrs softmax;
    IrPoolAttrs pool;
    IrReduceAttrs reduce;
    IrMovementAttrs movement;
    IrGatherAttrs gather;
    IrGenerateAttrs generate;
    IrResizeAttrs resize;
    IrEinsumAttrs einsum;
    IrUpdateAttrs update;
    IrQuantAttrs quant;
} IrAttrs;

#endif
