/* passes/pass.h — graph-to-graph rewrites and the pass manager that runs them in a named pipeline.
 * A pass is `SdStatus pass_NAME(IrGraph *, const PassOptions *, SdError *)`, one per file. Passes
 * know only the IR; anything that must execute an op (constant folding) goes through the `eval`
 * hook, which the driver connects to codegen's interpreter. */
#ifndef SD_PASSES_PASS_H
#define SD_PASSES_PASS_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/graph.h"

/* Computes node n whose inputs are all constants; outputs[i] holds ir_value_nbytes(output i). */
typedef SdStatus (*PassEvalFn)(void *ctx, const IrNode *n, void *const *outputs, SdError *err);

/* The optimizer that pass_optimizer compiles into a training step. Hyperparameters are doubles as
 * in PyTorch (the kernels round them to f32 where torch.optim does). */
typedef enum PassOptimizer { PASS_OPTIM_SGD, PASS_OPTIM_ADAMW, PASS_OPTIM_LARS, PASS_OPTIM_LAMB } PassOptimizer;

typedef struct PassTrainOptions {
    PassOptimizer optimizer;
    double momentum;          /* SGD and LARS; 0: plain SGD */
    bool nesterov;            /* SGD, needs momentum > 0 */
    double weight_decay;      /* added to the gradient (SGD, LARS) or decoupled (AdamW, LAMB) */
    double beta1, beta2;      /* AdamW, LAMB */
    double epsilon;           /* AdamW, LAMB */
    double trust_coefficient; /* LARS eta */
    double clip_grad_norm;    /* largest global L2 norm of all gradients; 0: no clipping */
    /* Excluded parameters get no weight decay and no LARS/LAMB adaptation (LARS: momentum SGD, LAMB:
     * Adam). By default those of rank <= 1 (biases, normalization scales and shifts), unless
     * decay_all; also every parameter whose name contains one of the comma-separated `exclude`. */
    bool decay_all;
    const char *exclude;
    /* Tests: each updated parameter's gradient (before clipping) also becomes a graph output, after
     * the existing outputs, in the order of the parameters among the graph's values. */
    bool grad_outputs;
} PassTrainOptions;

/* PyTorch's defaults for each optimizer (torch.optim 1.13; LARS as in the Barlow Twins and VICReg
 * code, LAMB as in NVIDIA's apex): SGD momentum 0, wd 0; AdamW betas (0.9, 0.999), eps 1e-8, wd 0.01;
 * LARS momentum 0.9, eta 0.001, wd 0; LAMB betas (0.9, 0.999), eps 1e-6, wd 0.01. No clipping. */
PassTrainOptions pass_train_defaults(PassOptimizer optimizer);

/* Post-training quantization and low precision (quantize.c). */
typedef enum PassPrecision { PASS_PRECISION_FP32, PASS_PRECISION_INT8, PASS_PRECISION_BF16 } PassPrecision;

/* The calibrated range of one value of the float graph (after dce), by name. */
typedef struct PassQuantRange {
    const char *name;
    float lo, hi;
} PassQuantRange;

/* One float value the int8 pass replaced by a quantized one (u8: real = (q - zp) * scale), or by
 * the f32 output of a quantized op (zp 0, scale 0); for reports. */
typedef struct PassQuantRecord {
    char name[160];    /* the float value */
    char node[160];    /* the node that computes it now (the quantized op's name) */
    char op[32];       /* its op */
    char qname[200];   /* the value holding the result */
    float lo, hi;      /* the range used */
    float scale;
    int32_t zp;
} PassQuantRecord;

typedef struct PassQuantOptions {
    PassPrecision precision;
    bool per_tensor;            /* int8 weights: one scale per tensor (default: per output channel) */
    bool symmetric;             /* int8 activations: zero point 128, scale max|x| / 127 (default: asymmetric) */
    const char *keep_fp32;      /* comma-separated node names that stay in f32; "first"/"last": the first/last conv or matmul */
    const PassQuantRange *ranges; /* int8: the calibration */
    int n_ranges;
    PassQuantRecord *records;   /* out (may be NULL): what was quantized, up to max_records */
    int max_records, n_records;
} PassQuantOptions;

typedef struct PassOptions {
    PassEvalFn eval;         /* NULL: no constant folding */
    void *eval_ctx;
    size_t fold_max_bytes;   /* largest tensor folding may create; 0 means 64 MiB */
    const char *disabled;    /* comma-separated pass names to skip (never "shape") */
    bool verify;             /* run ir_verify after every pass */
    const char *stop_after;  /* stop after this pass; NULL runs the whole pipeline */
    /* called after each pass that ran, e.g. to print the IR */
    void (*after_pass)(void *ctx, const char *pass, const IrGraph *g);
    void *after_ctx;
    const PassTrainOptions *train; /* the training pipeline's optimizer; NULL: plain SGD */
    PassQuantOptions *quant;       /* NULL or precision FP32: the quantize pass does nothing */
} PassOptions;

typedef SdStatus (*PassFn)(IrGraph *g, const PassOptions *opt, SdError *err);

SdStatus pass_shape(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_canonicalize(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_fold(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_dce(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_fold_batchnorm(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_fold_activation(IrGraph *g, const PassOptions *opt, SdError *err);
/* actfold's int8 part: QADD(qconv(x), r) into the QCONV as its residual (passes/fold_qresidual.c) */
SdStatus pass_fold_qresidual(IrGraph *g, const PassOptions *opt, bool *changed, SdError *err);
/* training: a ReLU after a training BatchNorm, and its gradient, folded into the BatchNorm and its
 * gradient (passes/fold_norm_relu.c) */
SdStatus pass_fold_norm_relu(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_fuse_eltwise(IrGraph *g, const PassOptions *opt, SdError *err);
SdStatus pass_memplan(IrGraph *g, const PassOptions *opt, SdError *err);
/* int8: convolutions and matrix products with constant weights become QCONV/QMATMUL (weights
 * symmetric int8, per channel unless per_tensor; activations u8 from the calibrated ranges;
 * ReLU/Clip and a Gemm's bias folded into the requantization), residual Adds QADD, pools on u8,
 * DequantizeLinear where f32 is needed; ONNX QDQ pairs around them are used as they are. bf16:
 * non-depthwise convolutions and matrix products with constant weights become CONV_BF16 and
 * MATMUL_BF16. Nodes named in keep_fp32 stay. Runs after dce, before fuse. */
SdStatus pass_quantize(IrGraph *g, const PassOptions *opt, SdError *err);

/* Runs a pipeline by name: "inference" = shape, canonicalize, fold, bnfold, dce, quantize, fuse, memplan;
 * "training" = shape, canonicalize, fold, autodiff, optimizer, canonicalize, fold, dce, fuse,
 * memplan, where graph output 0 is the loss (an f32 scalar) that autodiff differentiates. */
SdStatus pass_run_pipeline(IrGraph *g, const char *pipeline, const PassOptions *opt, SdError *err);

/* An analysis (passes/per_sample.c): whether inference graph g computes each of its n samples
 * (the leading dimension of every input, output and temporary) on its own, by ops known to, so
 * that running it at a smaller batch on slices of the inputs gives the same outputs. */
bool pass_per_sample(const IrGraph *g, int64_t n);
/* The passes of a pipeline in order, NULL-terminated; NULL for an unknown pipeline. */
const char *const *pass_pipeline_names(const char *pipeline);
bool pass_is_known(const char *name);

/* Shape inference for one new node whose inputs already have shapes (passes that add nodes). */
SdStatus pass_shape_node(IrGraph *g, IrNode *n, const PassOptions *opt, SdError *err);

/* Reverse-mode differentiation (autodiff.c): appends the backward graph of `loss` (an f32 scalar)
 * and points every parameter's `grad` at its gradient. Gradients of a value read twice are summed;
 * STOP_GRADIENT cuts a path (and becomes an IDENTITY once autodiff ran, for canonicalize to remove);
 * integer values carry none. */
SdStatus pass_autodiff(IrGraph *g, IrValue *loss, const PassOptions *opt, SdError *err);

/* Optimizer lowering (optimizer.c): for every float parameter with a gradient (IrValue.grad, set by
 * autodiff or by hand), zero-initialized optimizer state (role STATE: "<param>.momentum_buffer",
 * "<param>.exp_avg", "<param>.exp_avg_sq", one i64 "optimizer.step") and an in-place update node
 * right after the last read of the parameter and its gradient's producer (at the end with
 * clipping), configured by opt->train. The learning rate is the graph input "lr" (an
 * f32 scalar, added when absent) so that schedules never recompile. With clip_grad_norm, every
 * gradient is first scaled by min(1, max_norm / (global L2 norm + 1e-6)) (torch's
 * clip_grad_norm_). Parameters whose gradient is a structural zero (the loss does not reach them:
 * torch leaves their .grad None) are not updated. */
SdStatus pass_optimizer(IrGraph *g, const PassOptions *opt, SdError *err);

/* Folds one node whose inputs are constants (fold.c): its outputs become constants and the node
 * is removed. Returns SD_OK without change when folding is off or the result would be too big. */
SdStatus pass_fold_node(IrGraph *g, IrNode *n, const PassOptions *opt, bool *folded, SdError *err);

/* By value id (calloc'd, caller frees; NULL when out of memory): 1 for every value whose contents
 * some shape depends on, directly (a static input in ops.def) or through the nodes that make it. */
unsigned char *pass_static_values(const IrGraph *g);
/* True when `name` is in opt->disabled. */
bool pass_disabled(const PassOptions *opt, const char *name);

/* A value known before compiling, for pass_bind_static_inputs. */
typedef struct PassBinding {
    SdDType dtype;
    int rank;
    const int64_t *dims;
    const void *data;
} PassBinding;

/* For inputs [0, n) of g, with bindings[i] the value of input i: every input that a shape depends
 * on becomes a constant holding that value and leaves the input list; bound[i] says which did.
 * Run before shape inference. */
SdStatus pass_bind_static_inputs(IrGraph *g, const PassBinding *bindings, int n, bool *bound, SdError *err);

#endif
