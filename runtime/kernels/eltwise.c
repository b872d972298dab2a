/* runtime/kernels/eltwise.c — elementwise kernels. Each applies a scalar function chosen by a
 * constant op code: after inlining into a call site the switch folds away and the loop vectorizes
 * (exp, erf and the normal CDF are vmath.h's, which vectorize; libm's calls keep a loop scalar: a
 * ViT's GELU and its gradient were 35% of its training step).
 * The same holds for the derivatives (rt_unary_grad_f32) and training Dropout's hash.
 * Integer division and float->int casts are guarded: tensor data is user input and must not trap. */
#include "runtime/kernels/eltwise.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "runtime/kernels/half.h"
#include "runtime/kernels/loops.h"
#include "runtime/kernels/vmath.h"
#include "support/dtype.h"

/* Elements computed into a block on the stack before they are stored (range kernels below). */
#define ELTWISE_BLOCK 256

static inline float unary_f32(int op, float x, float a, float b, float g)
{
    switch ((RtUnaryOp)op) {
    case RT_U_IDENTITY: return x;
    case RT_U_RELU: return x > 0.0f ? x : 0.0f;
    case RT_U_LEAKY_RELU: return x >= 0.0f ? x : a * x;
    case RT_U_SIGMOID: return rt_vsigmoidf(x);
    case RT_U_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, a * x + b));
    case RT_U_HARD_SWISH: return x * fmaxf(0.0f, fminf(1.0f, x * (1.0f / 6.0f) + 0.5f));
    case RT_U_SILU: return x * rt_vsigmoidf(x);
    case RT_U_MISH: return x * tanhf(x > 20.0f ? x : log1pf(expf(x)));
    case RT_U_TANH: return tanhf(x);
    case RT_U_ERF: return rt_verff(x);
    case RT_U_GELU: return x * rt_vphif(x);
    case RT_U_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case RT_U_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x));
    case RT_U_SOFTSIGN: return x / (1.0f + fabsf(x));
    case RT_U_ELU: return x >= 0.0f ? x : a * (rt_vexpf(x) - 1.0f);
    case RT_U_SELU: return g * (x > 0.0f ? x : a * (rt_vexpf(x) - 1.0f));
    case RT_U_CELU: return fmaxf(0.0f, x) + fminf(0.0f, a * (rt_vexpf(x / a) - 1.0f));
    case RT_U_THRESHOLDED_RELU: return x > a ? x : 0.0f;
    case RT_U_SHRINK: return x < -a ? x + b : (x > a ? x - b : 0.0f);
    case RT_U_CLIP: return x < a ? a : (x > b ? b : x);
    case RT_U_EXP: return rt_vexpf(x);
    case RT_U_LOG: return logf(x);
    case RT_U_SQRT: return sqrtf(x);
    case RT_U_RECIPROCAL: return 1.0f / x;
    case RT_U_NEG: return -x;
    case RT_U_ABS: return fabsf(x);
    case RT_U_SIGN: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);
    case RT_U_FLOOR: return floorf(x);
    case RT_U_CEIL: return ceilf(x);
    case RT_U_ROUND: return rintf(x);
    case RT_U_SIN: return sinf(x);
    case RT_U_COS: return cosf(x);
    case RT_U_TAN: return tanf(x);
    case RT_U_ASIN: return asinf(x);
    case RT_U_ACOS: return acosf(x);
    case RT_U_ATAN: return atanf(x);
    case RT_U_SINH: return sinhf(x);
    case RT_U_COSH: return coshf(x);
    case RT_U_ASINH: return asinhf(x);
    case RT_U_ACOSH: return acoshf(x);
    case RT_U_ATANH: return atanhf(x);
    }
    return x;
}

/* items: elements */
RT_RANGE_KERNEL(rt_unary_f32_range)
{
    const RtUnaryParams *p = params_;
    const float *x = bufs[0];
    float *y = bufs[1];
    const int op = p->op;
    const float a = p->alpha, b = p->beta, g = p->gamma;
    for (int64_t i0 = begin; i0 < end; i0 += ELTWISE_BLOCK) { /* a block on the stack: as in rt_fused_f32_range */
        const int64_t n = end - i0 < ELTWISE_BLOCK ? end - i0 : ELTWISE_BLOCK;
        float t[ELTWISE_BLOCK];
        for (int64_t i = 0; i < n; i++)
            t[i] = unary_f32(op, x[i0 + i], a, b, g);
        memcpy(y + i0, t, (size_t)n * sizeof(float));
    }
}
/* The whole tensor in one call: the range kernel over all of it (a plain loop ran scalar where
 * y is x's memory, as in the range kernels: EfficientNet-B0's squeeze-excitation products, 0.69 ms
 * on one thread where ONNX Runtime took 0.30) */
RT_KERNEL(rt_unary_f32) { rt_unary_f32_range(params_, bufs, 0, ((const RtUnaryParams *)params_)->n); }

#define UNARY_INT(name, T)                                                         \
    RT_KERNEL(name)                                                                \
    {                                                                              \
        const RtUnaryParams *p = params_;                                          \
        const T *x = bufs[0];                                                      \
        T *y = bufs[1];                                                            \
        for (int64_t i = 0; i < p->n; i++) {                                       \
            T v = x[i];                                                            \
            switch ((RtUnaryOp)p->op) {                                            \
            case RT_U_RELU: v = v > 0 ? v : 0; break;                              \
            case RT_U_NEG: v = (T)(0 - (uint64_t)v); break;                        \
            case RT_U_ABS: v = v < 0 ? (T)(0 - (uint64_t)v) : v; break;            \
            case RT_U_SIGN: v = (T)((v > 0) - (v < 0)); break;                     \
            case RT_U_CLIP: v = (float)v < p->alpha ? (T)p->alpha : ((float)v > p->beta ? (T)p->beta : v); break; \
            default: break;                                                        \
            }                                                                      \
            y[i] = v;                                                              \
        }                                                                          \
    }
UNARY_INT(rt_unary_i64, int64_t)
UNARY_INT(rt_unary_i32, int32_t)

RT_KERNEL(rt_predicate)
{
    const RtPredicateParams *p = params_;
    bool *y = bufs[1];
    if (p->op == 0) {
        const bool *x = bufs[0];
        for (int64_t i = 0; i < p->n; i++)
            y[i] = !x[i];
        return;
    }
    const float *x = bufs[0];
    for (int64_t i = 0; i < p->n; i++) {
        float v = x[i];
        if (p->op == 1)
            y[i] = isnan(v);
        else
            y[i] = isinf(v) && ((v > 0 && p->detect_positive) || (v < 0 && p->detect_negative));
    }
}

static inline float binary_f32(int op, float a, float b)
{
    switch ((RtBinaryOp)op) {
    case RT_B_ADD: return a + b;
    case RT_B_SUB: return a - b;
    case RT_B_MUL: return a * b;
    case RT_B_DIV: return a / b;
    case RT_B_POW: return powf(a, b);
    case RT_B_MAX: return (a != a || b != b) ? a + b : (a > b ? a : b);
    case RT_B_MIN: return (a != a || b != b) ? a + b : (a < b ? a : b);
    case RT_B_FMOD: return fmodf(a, b);
    case RT_B_MOD: {
        float r = fmodf(a, b);
        return (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) ? r + b : r;
    }
    case RT_B_PRELU: return a >= 0.0f ? a : a * b;
    default: return 0.0f;
    }
}

/* items: the outer index over dims[0..4] (rt_outer_extent) */
RT_RANGE_KERNEL(rt_binary_f32_range)
{
    const RtBroadcastParams *p = params_;
    const float *a = bufs[0], *b = bufs[1];
    float *y = bufs[2];
    const int op = p->op;
    const int64_t *d = p->dims, *sa = p->strides[0], *sb = p->strides[1];
    for (int64_t outer = begin; outer < end; outer++) {
        int64_t i[5];
        rt_outer_index(d, outer, i);
        const float *pa = a + rt_outer_offset(i, sa), *pb = b + rt_outer_offset(i, sb);
        float *py = y + outer * d[5];
        for (int64_t k0 = 0; k0 < d[5]; k0 += ELTWISE_BLOCK) { /* a block on the stack: as in rt_fused_f32_range */
            const int64_t n = d[5] - k0 < ELTWISE_BLOCK ? d[5] - k0 : ELTWISE_BLOCK;
            float t[ELTWISE_BLOCK];
            for (int64_t k = 0; k < n; k++)
                t[k] = binary_f32(op, pa[(k0 + k) * sa[5]], pb[(k0 + k) * sb[5]]);
            memcpy(py + k0, t, (size_t)n * sizeof(float));
        }
    }
}
/* The whole tensor in one call (as rt_unary_f32) */
RT_KERNEL(rt_binary_f32)
{
    rt_binary_f32_range(params_, bufs, 0, rt_outer_extent(((const RtBroadcastParams *)params_)->dims));
}

/* Fused chains: written as straight-line steps guarded by the constant step count (no loop to
 * unroll), so after inlining only the program's own operations remain and the loop vectorizes. */
#define FUSED_LOAD(i)                                                                          \
    if ((i) < p->n_inputs)                                                                     \
        r[i] = row[i][k * p->strides[i][RT_LOOP_RANK - 1]];
#define FUSED_STEP(k)                                                                          \
    if ((k) < p->n_steps) {                                                                    \
        const RtFusedStep *s = &p->steps[k];                                                   \
        r[RT_FUSED_MAX_INPUTS + (k)] = s->binary ? binary_f32(s->op, r[s->a], r[s->b])         \
                                                 : unary_f32(s->op, r[s->a], s->alpha, s->beta, s->gamma); \
    }

/* Element k of a row, the inputs' row starts in row[] (every index below is a constant once the
 * params are: no loops, so the registers stay registers). */
static inline float fused_element(const RtFusedParams *p, const float *const *row, int64_t k)
{
    float r[RT_FUSED_MAX_INPUTS + RT_FUSED_MAX_STEPS] = {0};
    FUSED_LOAD(0) FUSED_LOAD(1) FUSED_LOAD(2) FUSED_LOAD(3) FUSED_LOAD(4) FUSED_LOAD(5) FUSED_LOAD(6) FUSED_LOAD(7)
    FUSED_STEP(0) FUSED_STEP(1) FUSED_STEP(2) FUSED_STEP(3) FUSED_STEP(4) FUSED_STEP(5) FUSED_STEP(6) FUSED_STEP(7)
    FUSED_STEP(8) FUSED_STEP(9) FUSED_STEP(10) FUSED_STEP(11) FUSED_STEP(12) FUSED_STEP(13) FUSED_STEP(14)
    FUSED_STEP(15)
    return r[RT_FUSED_MAX_INPUTS + p->n_steps - 1];
}

/* items: the outer index over dims[0..4] */
RT_RANGE_KERNEL(rt_fused_f32_range)
{
    const RtFusedParams *p = params_;
    const float *in[RT_FUSED_MAX_INPUTS] = {0};
    for (int i = 0; i < p->n_inputs; i++)
        in[i] = bufs[i];
    float *y = bufs[p->n_inputs];
    const int64_t *d = p->dims;
    for (int64_t outer = begin; outer < end; outer++) {
        int64_t idx[5];
        const float *row[RT_FUSED_MAX_INPUTS] = {0};
        rt_outer_index(d, outer, idx);
        for (int i = 0; i < p->n_inputs; i++)
            row[i] = in[i] + rt_outer_offset(idx, p->strides[i]);
        float *py = y + outer * d[5];
        /* through a block on the stack: y may be an input's memory (the planner reuses it in
         * place), and a loop storing where it loads kept LLVM's vectorized loop behind its overlap
         * check, so it ran scalar (EfficientNet-B0's SiLUs: 25 of 31 ms at batch 1) */
        for (int64_t k0 = 0; k0 < d[5]; k0 += ELTWISE_BLOCK) {
            const int64_t n = d[5] - k0 < ELTWISE_BLOCK ? d[5] - k0 : ELTWISE_BLOCK;
            float t[ELTWISE_BLOCK];
            for (int64_t k = 0; k < n; k++)
                t[k] = fused_element(p, row, k0 + k);
            memcpy(py + k0, t, (size_t)n * sizeof(float));
        }
    }
}

RT_KERNEL(rt_fused_f32)
{
    const RtFusedParams *p = params_;
    rt_fused_f32_range(params_, bufs, 0, rt_outer_extent(p->dims));
}

/* Integer ops: Python's floor-mod for MOD, C's for FMOD; division by zero gives 0 and the one
 * overflowing division (MIN / -1) wraps, rather than trapping the process. */
#define BINARY_INT(name, T, TMIN)                                                  \
    static inline T name##_op(int op, T a, T b)                                    \
    {                                                                              \
        switch ((RtBinaryOp)op) {                                                  \
        case RT_B_ADD: return (T)((uint64_t)a + (uint64_t)b);                      \
        case RT_B_SUB: return (T)((uint64_t)a - (uint64_t)b);                      \
        case RT_B_MUL: return (T)((uint64_t)a * (uint64_t)b);                      \
        case RT_B_DIV:                                                             \
            if (b == 0) return 0;                                                  \
            if (a == TMIN && b == -1) return a;                                    \
            return a / b;                                                          \
        case RT_B_MAX: return a > b ? a : b;                                       \
        case RT_B_MIN: return a < b ? a : b;                                       \
        case RT_B_FMOD:                                                            \
            if (b == 0 || (a == TMIN && b == -1)) return 0;                        \
            return a % b;                                                          \
        case RT_B_MOD: {                                                           \
            if (b == 0 || (a == TMIN && b == -1)) return 0;                        \
            T r = a % b;                                                           \
            return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;                   \
        }                                                                          \
        case RT_B_POW: {                                                           \
            if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);    \
            uint64_t r = 1, base = (uint64_t)a;                                    \
            for (T e = b; e > 0; e >>= 1) {                                        \
                if (e & 1) r *= base;                                              \
                base *= base;                                                      \
            }                                                                      \
            return (T)r;                                                           \
        }                                                                          \
        case RT_B_PRELU: return a >= 0 ? a : (T)((uint64_t)a * (uint64_t)b);      \
        default: return 0;                                                         \
        }                                                                          \
    }                                                                              \
    RT_KERNEL(name)                                                                \
    {                                                                              \
        const RtBroadcastParams *p = params_;                                      \
        const T *a = bufs[0], *b = bufs[1];                                        \
        T *y = bufs[2];                                                            \
        const int64_t *d = p->dims, *sa = p->strides[0], *sb = p->strides[1];      \
        int64_t o = 0;                                                             \
        RT_NEST6(d) { y[o++] = name##_op(p->op, a[RT_OFF6(sa)], b[RT_OFF6(sb)]); } \
    }
BINARY_INT(rt_binary_i64, int64_t, INT64_MIN)
BINARY_INT(rt_binary_i32, int32_t, INT32_MIN)

#define COMPARE_LOOP(T)                                                            \
    do {                                                                           \
        const T *a = bufs[0], *b = bufs[1];                                        \
        RT_NEST6(d)                                                                \
        {                                                                          \
            T x = a[RT_OFF6(sa)], z = b[RT_OFF6(sb)];                              \
            bool r;                                                                \
            switch ((RtBinaryOp)p->op) {                                           \
            case RT_B_EQUAL: r = x == z; break;                                    \
            case RT_B_LESS: r = x < z; break;                                      \
            case RT_B_LESS_EQUAL: r = x <= z; break;                               \
            case RT_B_GREATER: r = x > z; break;                                   \
            default: r = x >= z; break;                                            \
            }                                                                      \
            y[o++] = r;                                                            \
        }                                                                          \
    } while (0)

RT_KERNEL(rt_compare)
{
    const RtBroadcastParams *p = params_;
    const int64_t *d = p->dims, *sa = p->strides[0], *sb = p->strides[1];
    bool *y = bufs[2];
    int64_t o = 0;
    switch ((SdDType)p->dtype) {
    case SD_DT_F32: COMPARE_LOOP(float); break;
    case SD_DT_I64: COMPARE_LOOP(int64_t); break;
    case SD_DT_I32: COMPARE_LOOP(int32_t); break;
    case SD_DT_I8: COMPARE_LOOP(int8_t); break;
    case SD_DT_U8: COMPARE_LOOP(uint8_t); break;
    case SD_DT_BOOL: COMPARE_LOOP(bool); break;
    default: break;
    }
}

RT_KERNEL(rt_logic)
{
    const RtBroadcastParams *p = params_;
    const int64_t *d = p->dims, *sa = p->strides[0], *sb = p->strides[1];
    const bool *a = bufs[0], *b = bufs[1];
    bool *y = bufs[2];
    int64_t o = 0;
    RT_NEST6(d)
    {
        bool x = a[RT_OFF6(sa)], z = b[RT_OFF6(sb)];
        y[o++] = p->op == RT_B_AND ? (x && z) : p->op == RT_B_OR ? (x || z) : (x != z);
    }
}

#define WHERE_LOOP(T)                                                              \
    do {                                                                           \
        const T *a = bufs[1], *b = bufs[2];                                        \
        T *y = bufs[3];                                                            \
        RT_NEST6(d) { y[o++] = c[RT_OFF6(sc)] ? a[RT_OFF6(sa)] : b[RT_OFF6(sb)]; } \
    } while (0)

RT_KERNEL(rt_where)
{
    const RtBroadcastParams *p = params_;
    const int64_t *d = p->dims, *sc = p->strides[0], *sa = p->strides[1], *sb = p->strides[2];
    const bool *c = bufs[0];
    int64_t o = 0;
    switch (sd_dtype_size((SdDType)p->dtype)) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    default: WHERE_LOOP(uint64_t); break;
    }
}

/* Every supported type goes through double (exact for all of them but the largest i64), except
 * i64 -> i64-like paths, which stay integral. */
static inline double load_as_double(int dt, const void *x, int64_t i)
{
    switch ((SdDType)dt) {
    case SD_DT_F32: return ((const float *)x)[i];
    case SD_DT_I64: return (double)((const int64_t *)x)[i];
    case SD_DT_I32: return ((const int32_t *)x)[i];
    case SD_DT_I8: return ((const int8_t *)x)[i];
    case SD_DT_U8: return ((const uint8_t *)x)[i];
    case SD_DT_BOOL: return ((const bool *)x)[i];
    case SD_DT_F16: return rt_half_to_float(((const uint16_t *)x)[i]);
    case SD_DT_BF16: return rt_bf16_to_float(((const uint16_t *)x)[i]);
    default: return 0;
    }
}

static inline int64_t load_as_i64(int dt, const void *x, int64_t i)
{
    switch ((SdDType)dt) {
    case SD_DT_I64: return ((const int64_t *)x)[i];
    case SD_DT_I32: return ((const int32_t *)x)[i];
    case SD_DT_I8: return ((const int8_t *)x)[i];
    case SD_DT_U8: return ((const uint8_t *)x)[i];
    case SD_DT_BOOL: return ((const bool *)x)[i];
    default: return 0;
    }
}

/* Saturating float -> integer: out-of-range and NaN are undefined in C, so clamp first. */
static inline int64_t sat_i64(double v, double lo, double hi)
{
    if (v != v)
        return 0;
    if (v <= lo)
        return (int64_t)lo;
    if (v >= hi)
        return (int64_t)hi;
    return (int64_t)v;
}

RT_KERNEL(rt_cast)
{
    const RtCastParams *p = params_;
    const void *x = bufs[0];
    void *y = bufs[1];
    bool int_src = p->from == SD_DT_I64 || p->from == SD_DT_I32 || p->from == SD_DT_I8 ||
                   p->from == SD_DT_U8 || p->from == SD_DT_BOOL;
    for (int64_t i = 0; i < p->n; i++) {
        if (int_src && p->to != SD_DT_F32 && p->to != SD_DT_F16 && p->to != SD_DT_BF16) {
            int64_t v = load_as_i64(p->from, x, i);
            switch ((SdDType)p->to) {
            case SD_DT_I64: ((int64_t *)y)[i] = v; break;
            case SD_DT_I32: ((int32_t *)y)[i] = (int32_t)(uint32_t)v; break;
            case SD_DT_I8: ((int8_t *)y)[i] = (int8_t)(uint8_t)v; break;
            case SD_DT_U8: ((uint8_t *)y)[i] = (uint8_t)v; break;
            case SD_DT_BOOL: ((bool *)y)[i] = v != 0; break;
            default: break;
            }
            continue;
        }
        double v = load_as_double(p->from, x, i);
        switch ((SdDType)p->to) {
        case SD_DT_F32: ((float *)y)[i] = (float)v; break;
        case SD_DT_F16: ((uint16_t *)y)[i] = rt_float_to_half((float)v); break;
        case SD_DT_BF16: ((uint16_t *)y)[i] = rt_float_to_bf16((float)v); break;
        case SD_DT_I64: ((int64_t *)y)[i] = sat_i64(v, -9223372036854775808.0, 9223372036854774784.0); break;
        case SD_DT_I32: ((int32_t *)y)[i] = (int32_t)sat_i64(v, -2147483648.0, 2147483647.0); break;
        case SD_DT_I8: ((int8_t *)y)[i] = (int8_t)sat_i64(v, -128.0, 127.0); break;
        case SD_DT_U8: ((uint8_t *)y)[i] = (uint8_t)sat_i64(v, 0.0, 255.0); break;
        case SD_DT_BOOL: ((bool *)y)[i] = v != 0.0; break;
        default: break;
        }
    }
}

/* f'(x) for the forward op; y is f(x) where the caller has it (only read by the ops that say so). */
static inline float unary_derivative(int op, float x, float y, float a, float b, float g)
{
    switch ((RtUnaryOp)op) {
    case RT_U_IDENTITY: return 1.0f;
    case RT_U_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case RT_U_LEAKY_RELU: return x >= 0.0f ? 1.0f : a;
    case RT_U_SIGMOID: return y * (1.0f - y);
    case RT_U_HARD_SIGMOID: {
        float t = a * x + b;
        return t > 0.0f && t < 1.0f ? a : 0.0f;
    }
    case RT_U_HARD_SWISH: return x < -3.0f ? 0.0f : (x > 3.0f ? 1.0f : x * (1.0f / 3.0f) + 0.5f);
    case RT_U_SILU: {
        float s = 1.0f / (1.0f + rt_vexpf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    case RT_U_MISH: {
        float sp = x > 20.0f ? x : log1pf(expf(x)), t = tanhf(sp), s = 1.0f / (1.0f + expf(-x));
        return t + x * s * (1.0f - t * t);
    }
    case RT_U_TANH: return 1.0f - y * y;
    case RT_U_ERF: return 1.12837916709551257f * rt_vexpf(-x * x);
    case RT_U_GELU: /* Phi(x) + x phi(x) */
        return rt_vphif(x) + x * 0.39894228040143268f * rt_vexpf(-0.5f * x * x);
    case RT_U_GELU_TANH: {
        const float k = 0.79788456080286536f, c = 0.044715f;
        float t = tanhf(k * (x + c * x * x * x));
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * c * x * x);
    }
    case RT_U_SOFTPLUS: return x > 20.0f ? 1.0f : 1.0f / (1.0f + rt_vexpf(-x));
    case RT_U_SOFTSIGN: {
        float d = 1.0f + fabsf(x);
        return 1.0f / (d * d);
    }
    case RT_U_ELU: return x >= 0.0f ? 1.0f : a * rt_vexpf(x);
    case RT_U_SELU: return g * (x > 0.0f ? 1.0f : a * rt_vexpf(x));
    case RT_U_CELU: return x > 0.0f ? 1.0f : rt_vexpf(x / a);
    case RT_U_THRESHOLDED_RELU: return x > a ? 1.0f : 0.0f;
    case RT_U_SHRINK: return x < -a || x > a ? 1.0f : 0.0f;
    case RT_U_CLIP: return x >= a && x <= b ? 1.0f : 0.0f; /* the bounds pass the gradient, as in PyTorch */
    case RT_U_EXP: return y;
    case RT_U_LOG: return 1.0f / x;
    case RT_U_SQRT: return 0.5f / y;
    case RT_U_RECIPROCAL: return -y * y;
    case RT_U_NEG: return -1.0f;
    case RT_U_ABS: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    case RT_U_SIGN: case RT_U_FLOOR: case RT_U_CEIL: case RT_U_ROUND: return 0.0f;
    case RT_U_SIN: return cosf(x);
    case RT_U_COS: return -sinf(x);
    case RT_U_TAN: {
        float c = cosf(x);
        return 1.0f / (c * c);
    }
    case RT_U_ASIN: return 1.0f / sqrtf(1.0f - x * x);
    case RT_U_ACOS: return -1.0f / sqrtf(1.0f - x * x);
    case RT_U_ATAN: return 1.0f / (1.0f + x * x);
    case RT_U_SINH: return coshf(x);
    case RT_U_COSH: return sinhf(x);
    case RT_U_ASINH: return 1.0f / sqrtf(x * x + 1.0f);
    case RT_U_ACOSH: return 1.0f / sqrtf(x * x - 1.0f);
    case RT_U_ATANH: return 1.0f / (1.0f - x * x);
    }
    return 0.0f;
}

/* elements [begin, end) */
static void unary_grad_loop(const RtUnaryGradParams *p, int64_t begin, int64_t end, const float *restrict dy,
                            const float *restrict x, const float *restrict y, float *restrict dx)
{
    const int op = p->op;
    const float a = p->alpha, b = p->beta, g = p->gamma;
    if (p->has_y)
        for (int64_t i = begin; i < end; i++)
            dx[i] = dy[i] * unary_derivative(op, x[i], y[i], a, b, g);
    else
        for (int64_t i = begin; i < end; i++)
            dx[i] = dy[i] * unary_derivative(op, x[i], 0.0f, a, b, g);
}

RT_KERNEL(rt_unary_grad_f32)
{
    const RtUnaryGradParams *p = params_;
    unary_grad_loop(p, 0, p->n, bufs[0], bufs[1], bufs[2], bufs[3]);
}

RT_RANGE_KERNEL(rt_unary_grad_f32_range) { unary_grad_loop(params_, begin, end, bufs[0], bufs[1], bufs[2], bufs[3]); }

static void dropout_loop(const RtDropoutParams *p, uint64_t key, const float *restrict x, float *restrict y,
                         bool *restrict mask)
{
    const uint64_t t = p->threshold;
    const float scale = p->scale;
    if (p->has_mask)
        for (int64_t i = 0; i < p->n; i++) {
            bool keep = rt_dropout_keep(key, i, t);
            y[i] = keep ? x[i] * scale : 0.0f;
            mask[i] = keep;
        }
    else
        for (int64_t i = 0; i < p->n; i++)
            y[i] = rt_dropout_keep(key, i, t) ? x[i] * scale : 0.0f;
}

RT_KERNEL(rt_dropout_f32)
{
    const RtDropoutParams *p = params_;
    uint64_t counter = p->has_counter ? (uint64_t)*(const int64_t *)bufs[1] : 0;
    dropout_loop(p, rt_dropout_key(p->seed, counter), bufs[0], bufs[2], bufs[3]);
}
