/* frontend/dsl/lower.h — lowering DSL layers to IR, shared by lower.c (helpers), layers.c
 * (convolution, normalization, linear, activations, pooling), tensors.c (tensor functions and
 * operators) and composite.c (ViT pieces, attention, heads, ONNX). Every node and tensor is named
 * after the current scope (E->scope: while a layer is lowered, the layer's own path) under the
 * instance prefix; shapes are computed here, so misfits are reported at the DSL call. */
#ifndef SD_DSL_LOWER_H
#define SD_DSL_LOWER_H

#include "frontend/dsl/eval.h"

/* The builtin tables of each file (dsl_builtin_find looks through all). */
extern const DslBuiltin dsl_layer_builtins[];
extern const DslBuiltin dsl_tensor_builtins[];
extern const DslBuiltin dsl_composite_builtins[];

static inline IrShape dsl_shape_of(int rank, const int64_t *dims) { return ir_shape_make(rank, dims); }
static inline const char *dsl_shape_text(const IrShape *s, char *buf, size_t n) { return ir_shape_str(s, buf, n); }
static inline SdStatus dsl_tensor_out(IrValue *y, DslValue *out)
{
    *out = (DslValue){.kind = V_TENSOR, .u.t = y};
    return SD_OK;
}

/* prefix (when with_prefix) + scope [+ "." + suffix] */
void dsl_full_name(const DslEval *E, const char *suffix, bool with_prefix, char *buf, size_t n);
/* One node with one output of shape `s` (the first input's type), named scope[.suffix]. */
SdStatus dsl_emit(DslEval *E, DslLoc loc, IrOp op, const char *suffix, IrValue *const *in, int n_in,
                  const IrShape *s, const IrAttrs *attrs, IrValue **out);
SdStatus dsl_constant(DslEval *E, DslLoc loc, const char *suffix, SdDType dt, const IrShape *s, const void *data,
                      IrValue **out);
SdStatus dsl_scalar_f32(DslEval *E, DslLoc loc, const char *suffix, float v, IrValue **out);
SdStatus dsl_ints_const(DslEval *E, DslLoc loc, const char *suffix, const int64_t *v, int n, IrValue **out);
/* A PARAM or STATE value named scope[.suffix], initialized from the seed and that name (no prefix);
 * sizes checked against DSL_MAX_TENSOR_ELEMS and DSL_MAX_MODEL_ELEMS first. */
SdStatus dsl_new_tensor(DslEval *E, DslLoc loc, const char *suffix, const IrShape *s, IrRole role, DslInit init,
                        double std, IrValue **out);
/* Counts one layer of `kind` in E->info. */
void dsl_count_layer(DslEval *E, const char *kind);

/* argument readers beyond eval.h's */
SdStatus dsl_need_rank(DslEval *E, DslCall *c, const IrValue *x, int lo, int hi, const char *what);
SdStatus dsl_init_arg(DslEval *E, DslCall *c, int i, DslInit def, DslInit *out);
SdStatus dsl_axis_arg(DslEval *E, DslCall *c, int i, int64_t def, int rank, int64_t *out);
SdStatus dsl_list_ints(DslEval *E, DslCall *c, int i, int64_t *out, int max, int *n);
/* NumPy broadcasting of two shapes; false when they do not broadcast. */
bool dsl_broadcast(const IrShape *a, const IrShape *b, IrShape *out);

/* lowerings that composite layers reuse */
typedef struct DslConvSpec {
    int64_t out, kernel[2], stride[2], pads[4], dilation[2], groups;
    bool bias;
    DslInit init;
    double std;
} DslConvSpec;
SdStatus dsl_lower_conv(DslEval *E, DslCall *c, IrValue *x, const DslConvSpec *cs, IrValue **y);
SdStatus dsl_lower_bn(DslEval *E, DslLoc loc, IrValue *x, double eps, double momentum, bool affine, IrValue **y);
SdStatus dsl_lower_linear(DslEval *E, DslLoc loc, IrValue *x, int64_t out_features, bool bias, DslInit init,
                          double std, IrValue **y);
SdStatus dsl_lower_act(DslEval *E, DslLoc loc, const char *kind, IrValue *x, IrValue **y);
SdStatus dsl_lower_reshape(DslEval *E, DslLoc loc, IrValue *x, const int64_t *want, int n, IrValue **y);
SdStatus dsl_lower_transpose(DslEval *E, DslLoc loc, IrValue *x, const int64_t *perm, int n, IrValue **y);
SdStatus dsl_lower_matmul(DslEval *E, DslLoc loc, IrValue *a, IrValue *b, IrValue **y);
SdStatus dsl_lower_split(DslEval *E, DslLoc loc, IrValue *x, int64_t axis, const int64_t *sizes, int n,
                         IrValue **outs);
/* Linear layers of sizes dims[0..n) in the current scope, positions 0, 1, ... as nn.Sequential:
 * Linear, [BatchNorm], act between them; [BatchNorm] after the last when last_bn. */
SdStatus dsl_lower_mlp(DslEval *E, DslLoc loc, IrValue *x, const int64_t *dims, int n, bool bn, bool last_bn,
                       const char *act, bool bias, IrValue **y);

/* a (op) b with NumPy broadcasting; either may be a number (op: T_PLUS, T_MINUS, T_STAR, T_SLASH). */
SdStatus dsl_tensor_binary(DslEval *E, DslLoc loc, DslTok op, const DslValue *a, const DslValue *b, DslValue *out);
SdStatus dsl_tensor_neg(DslEval *E, DslLoc loc, const DslValue *a, DslValue *out);

#endif
