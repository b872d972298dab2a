/* runtime/kernels/eltwise.h — elementwise kernels: unary maps, broadcasting binary ops, comparisons,
 * logic, select (where) and casts. Shapes arrive collapsed to RT_LOOP_RANK dims with per-operand
 * element strides (0 along a broadcast dim); the output is contiguous. */
#ifndef SD_RT_ELTWISE_H
#define SD_RT_ELTWISE_H

#include "runtime/kernels/kernel.h"

typedef enum RtUnaryOp {
    RT_U_IDENTITY, RT_U_RELU, RT_U_LEAKY_RELU, RT_U_SIGMOID, RT_U_HARD_SIGMOID, RT_U_HARD_SWISH,
    RT_U_SILU, RT_U_MISH, RT_U_TANH, RT_U_ERF, RT_U_GELU, RT_U_GELU_TANH, RT_U_SOFTPLUS,
    RT_U_SOFTSIGN, RT_U_ELU, RT_U_SELU, RT_U_CELU, RT_U_THRESHOLDED_RELU, RT_U_SHRINK, RT_U_CLIP,
    RT_U_EXP, RT_U_LOG, RT_U_SQRT, RT_U_RECIPROCAL, RT_U_NEG, RT_U_ABS, RT_U_SIGN, RT_U_FLOOR,
    RT_U_CEIL, RT_U_ROUND, RT_U_SIN, RT_U_COS, RT_U_TAN, RT_U_ASIN, RT_U_ACOS, RT_U_ATAN,
    RT_U_SINH, RT_U_COSH, RT_U_ASINH, RT_U_ACOSH, RT_U_ATANH,
} RtUnaryOp;

typedef struct RtUnaryParams {
    int64_t n;
    int32_t op; /* RtUnaryOp */
    float alpha, beta, gamma;
} RtUnaryParams;

/* dx = dy * f'(x) for the forward op `op` (an RtUnaryOp, with the forward's alpha/beta/gamma).
 * Operands dy, x, y, dx: y is the forward output where has_y (sigmoid, tanh, exp, sqrt, reciprocal
 * use it), else codegen passes x there again and the kernel does not read it. */
typedef struct RtUnaryGradParams {
    int64_t n;
    int32_t op; /* RtUnaryOp of the forward op */
    int32_t has_y;
    float alpha, beta, gamma;
} RtUnaryGradParams;

/* Dropout in training mode: y = x * keep / (1 - ratio), keep drawn from a counter-based hash of
 * (seed, counter, element index), so the mask depends on nothing else (not on threads or on call
 * order) and the backward pass draws it again instead of storing it. Operands x, counter (i64
 * scalar; x again where has_counter is 0, then the counter is 0), y, mask (bool; y again where
 * has_mask is 0, then nothing is written there). */
typedef struct RtDropoutParams {
    int64_t n;
    uint64_t seed;
    uint64_t threshold; /* keep where the 32-bit draw is >= threshold = ratio * 2^32 */
    float scale;        /* 1 / (1 - ratio); 0 when ratio >= 1 */
    int32_t has_counter, has_mask;
} RtDropoutParams;

typedef enum RtBinaryOp {
    RT_B_ADD, RT_B_SUB, RT_B_MUL, RT_B_DIV, RT_B_POW, RT_B_MAX, RT_B_MIN, RT_B_MOD, RT_B_FMOD,
    RT_B_PRELU,
    /* comparisons: bool output */
    RT_B_EQUAL, RT_B_LESS, RT_B_LESS_EQUAL, RT_B_GREATER, RT_B_GREATER_EQUAL,
    /* logic on bool */
    RT_B_AND, RT_B_OR, RT_B_XOR,
} RtBinaryOp;

typedef struct RtBroadcastParams {
    int32_t op;                            /* RtBinaryOp; unused by rt_where */
    int32_t dtype;                         /* SdDType of the operands (the compared type, for comparisons) */
    int64_t dims[RT_LOOP_RANK];            /* output dims, outermost first */
    int64_t strides[3][RT_LOOP_RANK];      /* per operand, in elements; 0 where broadcast */
} RtBroadcastParams;

typedef struct RtCastParams {
    int64_t n;
    int32_t from, to;                      /* SdDType */
} RtCastParams;

typedef struct RtPredicateParams {
    int64_t n;
    int32_t op;                            /* 0: not (bool), 1: isnan, 2: isinf */
    int32_t detect_positive, detect_negative;
} RtPredicateParams;

/* A fused chain of f32 elementwise ops (FUSED_ELTWISE): registers 0..7 are the inputs (broadcast
 * by their strides), register 8 + k the result of step k; the output is the last step's. */
#define RT_FUSED_MAX_INPUTS 8
#define RT_FUSED_MAX_STEPS 16

typedef struct RtFusedStep {
    int32_t binary; /* 0: unary_f32(op, reg[a]), 1: binary_f32(op, reg[a], reg[b]) */
    int32_t op;     /* RtUnaryOp or RtBinaryOp */
    int32_t a, b;
    float alpha, beta, gamma;
} RtFusedStep;

typedef struct RtFusedParams {
    int32_t n_inputs, n_steps;
    int64_t dims[RT_LOOP_RANK];
    int64_t strides[RT_FUSED_MAX_INPUTS][RT_LOOP_RANK];
    RtFusedStep steps[RT_FUSED_MAX_STEPS];
} RtFusedParams;

RT_KERNEL_DECL(rt_fused_f32)      /* inputs..., y */
RT_RANGE_KERNEL_DECL(rt_fused_f32_range)
RT_KERNEL_DECL(rt_unary_f32)      /* x f32 -> y f32 */
RT_RANGE_KERNEL_DECL(rt_unary_f32_range)
RT_KERNEL_DECL(rt_unary_i64)      /* x i64 -> y i64: identity, relu, neg, abs, sign */
RT_KERNEL_DECL(rt_unary_i32)
RT_KERNEL_DECL(rt_predicate)      /* not / isnan / isinf -> bool */
RT_KERNEL_DECL(rt_binary_f32)     /* a, b f32 -> y f32 */
RT_RANGE_KERNEL_DECL(rt_binary_f32_range)
RT_KERNEL_DECL(rt_binary_i64)
RT_KERNEL_DECL(rt_binary_i32)
RT_KERNEL_DECL(rt_compare)        /* a, b of params->dtype -> y bool */
RT_KERNEL_DECL(rt_logic)          /* a, b bool -> y bool */
RT_KERNEL_DECL(rt_where)          /* cond bool, a, b of params->dtype -> y */
RT_KERNEL_DECL(rt_cast)           /* x -> y */
RT_KERNEL_DECL(rt_unary_grad_f32) /* dy, x, y, dx */
RT_RANGE_KERNEL_DECL(rt_unary_grad_f32_range) /* elements [begin, end) */
RT_KERNEL_DECL(rt_dropout_f32)    /* x, counter, y, mask */

/* The keep decision of Dropout for element i (shared with tests that check masks). */
static inline uint64_t rt_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline uint64_t rt_dropout_key(uint64_t seed, uint64_t counter)
{
    return rt_mix64(seed ^ rt_mix64(counter + 0x9e3779b97f4a7c15ULL));
}
static inline int rt_dropout_keep(uint64_t key, int64_t i, uint64_t threshold)
{
    return (rt_mix64(key + (uint64_t)i * 0x9e3779b97f4a7c15ULL) >> 32) >= threshold;
}

#endif
