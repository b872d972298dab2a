/* passes/quantize_internal.h — what the files of the quantization pass share (quantize.c drives;
 * quantize_helpers.c, quantize_int8.c and quantize_bf16.c): its state, and the helpers and
 * per-op rewrites each file gives the others. Internal to the pass. */
#ifndef SD_PASSES_QUANTIZE_INTERNAL_H
#define SD_PASSES_QUANTIZE_INTERNAL_H

#include "passes/pass.h"

typedef struct {
    float scale;
    int32_t zp;
} QParams;

typedef struct {
    IrGraph *g;
    const PassOptions *opt;
    PassQuantOptions *q;
    SdError *err;
    IrNode *first, *last;      /* first and last conv/matmul (keep_fp32 "first"/"last") */
    IrNode *current;           /* the node being rewritten: new nodes go where it is */
    IrValue **quantized;       /* by f32 value id: its u8 form (made here or found) */
    QParams *params;           /* by f32 value id */
    int cap;
    bool calibrated;           /* ranges available: Q may be inserted from them */
} QCtx;

/* How the result z of a quantized op leaves it: u8 with params (from a QuantizeLinear reading z
 * alone, or from z's range), or f32. */
typedef struct {
    bool u8;
    QParams p;
    IrNode *q_node;   /* the QuantizeLinear it replaces, or NULL */
    float lo, hi;     /* the range, for records */
} OutPlan;

/* quantize_helpers.c */
bool pass_quant_grow(QCtx *c, int id);
bool pass_quant_kept(const QCtx *c, const IrNode *n);
const PassQuantRange *pass_quant_range_of(const QCtx *c, const IrValue *v);
QParams pass_quant_params_from_range(const QCtx *c, float lo, float hi);
IrNode *pass_quant_single_consumer(const IrGraph *g, const IrValue *v);
bool pass_quant_const_f32(const IrValue *v);
bool pass_quant_is_u8_dq(const IrNode *n, IrValue **q, QParams *p);
IrValue *pass_quant_constant(QCtx *c, const char *base, const char *suffix, SdDType dt, const IrShape *s,
                             const void *data);
IrValue *pass_quant_quantized(QCtx *c, IrValue *v, QParams *p);
IrNode *pass_quant_fusable_activation(const QCtx *c, IrValue *v, float *lo, float *hi);
/* A SiLU (one node, or v * Sigmoid(v) as PyTorch exports it) or a HardSwish that alone reads v: the
 * node whose output is the activation (*sigmoid the Sigmoid it replaces too, or NULL), *kind which;
 * NULL if there is none. */
IrNode *pass_quant_table_activation(const QCtx *c, IrValue *v, IrConvAct *kind, IrNode **sigmoid);
/* A Mul of a tensor x [N, C, ...] by f32 scales s [N, C, 1...] (a squeeze-and-excitation gate). */
bool pass_quant_channel_scale(const IrNode *m, IrValue **x, IrValue **s);
OutPlan pass_quant_plan_output(const QCtx *c, IrValue *z, bool can_f32);
void pass_quant_bounds(QParams p, float lo, float hi, int32_t *qmin, int32_t *qmax);
SdStatus pass_quant_emit_result(QCtx *c, IrOp op, const char *name, IrValue *const *in, int n_in, const IrAttrs *at,
                                IrValue *z, const OutPlan *o, IrNode *const *dead, int n_dead);
SdStatus pass_quant_weights(QCtx *c, const float *w, int64_t rows, int64_t per_row, int64_t row_stride,
                            int64_t col_stride, bool per_tensor, int8_t *wq, float *scales);
int32_t pass_quant_clamp_i32(double v);
IrValue *pass_quant_packed(QCtx *c, IrValue *w, const IrQuantAttrs *a);
IrNode *pass_quant_bias_add(const QCtx *c, IrValue *y, int64_t cols, IrValue **bias);

/* quantize_int8.c: Conv, MatMul, Add, u8 pass-through ops, ONNX QLinearConv/QLinearMatMul */
SdStatus pass_quant_conv(QCtx *c, IrNode *n);
SdStatus pass_quant_matmul(QCtx *c, IrNode *n);
SdStatus pass_quant_add(QCtx *c, IrNode *n);
SdStatus pass_quant_passthrough(QCtx *c, IrNode *n);
SdStatus pass_quant_scale_channels(QCtx *c, IrNode *n);
SdStatus pass_quant_qlinear(QCtx *c, IrNode *n);

/* quantize_bf16.c */
SdStatus pass_quant_bf16_conv(QCtx *c, IrNode *n);
SdStatus pass_quant_bf16_matmul(QCtx *c, IrNode *n);

#endif
