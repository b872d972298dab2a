/* tests/codegen/conv_harness.h — what the convolution tests share: a case's shapes, the one-node
 * graph that computes it, and the kernel and parameters code generation plans for it. */
#ifndef SD_TESTS_CODEGEN_CONV_HARNESS_H
#define SD_TESTS_CODEGEN_CONV_HARNESS_H

#include "tests/codegen/window_harness.h"

#include "codegen/lower/lower.h"
#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_internal.h"

typedef struct ConvCase {
    const char *name;
    int ns;                     /* spatial dims */
    int64_t batch, cin, cout, groups;
    int64_t in[3];              /* ns values */
    int64_t kernel[3], strides[3], dilations[3];
    int64_t pads[6];            /* begins then ends: what the reference uses */
    IrAutoPad auto_pad;         /* given to the node instead of the pads when set */
    bool bias;
    bool transpose;
    int64_t output_padding[3];
    bool kernel_attr;           /* give kernel_shape (else it comes from the weights) */
} ConvCase;

/* Padded to 3 dims at the front. */
typedef struct {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3], op[3];
} Dims3;

static inline Dims3 dims3(const ConvCase *c)
{
    Dims3 t;
    harness_pad3(c->ns, c->in, 1, t.in), harness_pad3(c->ns, c->kernel, 1, t.k);
    harness_pad3(c->ns, c->strides, 1, t.s), harness_pad3(c->ns, c->dilations, 1, t.d);
    harness_pad3(c->ns, c->pads, 0, t.pb), harness_pad3(c->ns, c->pads + c->ns, 0, t.pe);
    harness_pad3(c->ns, c->output_padding, 0, t.op);
    for (int i = 0; i < 3; i++) {
        int64_t extent = (t.k[i] - 1) * t.d[i] + 1;
        t.out[i] = c->transpose ? t.s[i] * (t.in[i] - 1) + t.op[i] + extent - t.pb[i] - t.pe[i]
                                : (t.in[i] + t.pb[i] + t.pe[i] - extent) / t.s[i] + 1;
    }
    return t;
}

/* Builds the one-node graph of case c; w and b are the weights and bias data. With x_data, the
 * input is a constant too, so constant folding computes the node with the native kernels. */
static inline IrGraph *conv_graph(const ConvCase *c, const float *w, const float *b, const float *x_data)
{
    IrGraph *g = ir_graph_new("conv_test");
    ir_graph_set_source(g, "conv_test");
    int rank = 2 + c->ns;
    int64_t xd[5] = {c->batch, c->cin}, wd[5];
    wd[0] = c->transpose ? c->cin : c->cout;
    wd[1] = c->transpose ? c->cout / c->groups : c->cin / c->groups;
    for (int i = 0; i < c->ns; i++)
        xd[2 + i] = c->in[i], wd[2 + i] = c->kernel[i];
    IrValue *ins[3];
    ins[0] = x_data ? harness_const_f32(g, "x", rank, xd, x_data) : harness_input(g, "x", SD_DT_F32, rank, xd);
    ins[1] = harness_const_f32(g, "w", rank, wd, w);
    if (c->bias)
        ins[2] = harness_const_f32(g, "b", 1, (int64_t[]){c->cout}, b);
    IrValue *y = ir_value_new(g, "y", SD_DT_UNDEFINED, NULL);
    IrNode *n = ir_node_new(g, c->transpose ? IR_OP_CONV_TRANSPOSE : IR_OP_CONV, c->name, ins, c->bias ? 3 : 2, &y, 1);
    cr_assert_not_null(n);
    IrConvAttrs *a = &n->attrs.conv;
    a->nspatial = c->ns;
    a->groups = c->groups;
    a->auto_pad = c->auto_pad;
    for (int i = 0; i < c->ns; i++) {
        a->kernel[i] = c->kernel_attr ? c->kernel[i] : 0;
        a->strides[i] = c->strides[i];
        a->dilations[i] = c->dilations[i];
        a->output_padding[i] = c->output_padding[i];
        if (c->auto_pad == IR_PAD_NOTSET)
            a->pads[i] = c->pads[i], a->pads[c->ns + i] = c->pads[c->ns + i];
    }
    ir_graph_add_output(g, y);
    return g;
}

/* lower_case's choices to leave out: Winograd's kernels (true), F(4x4, 3x3) only; PLAN_BF16 adds
 * one: products in bf16 (as --precision bf16 leaves Winograd's convolutions) */
enum { PLAN_NO_WINOGRAD = 1, PLAN_NO_WINOGRAD4 = 2, PLAN_BF16 = 4 };

/* The kernel the lowering picks for case c's convolution (shapes inferred first) on `threads`
 * threads, and its parameters (params may be NULL); `without`: PLAN_* bits */
static inline const char *lower_case(const ConvCase *c, int without, int threads, char *buf, size_t n,
                                     RtConvParams *params)
{
    int64_t kvol = 1; /* over the case's spatial dims only: a 1-D case's kernel[1] is 0 */
    for (int i = 0; i < c->ns; i++)
        kvol *= c->kernel[i];
    float *w = calloc((size_t)(c->cout * c->cin * kvol), sizeof *w), *b = calloc((size_t)c->cout, sizeof *b);
    IrGraph *g = conv_graph(c, w, b, NULL);
    SdOptions opt = sd_options_default();
    opt.gemm = "builtin";
    SdError err = {0};
    cr_assert_eq(sd_optimize(g, &opt, NULL, NULL, NULL, &err), SD_OK, "%s", err.msg);
    CgLowerOptions lo = {.gemm = CG_GEMM_BUILTIN, .pack_weights = true, .no_winograd = without & PLAN_NO_WINOGRAD,
                          .no_winograd4 = (without & PLAN_NO_WINOGRAD4) != 0,
                          .bf16_products = (without & PLAN_BF16) != 0, .threads = threads};
    buf[0] = 0;
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        IrNode *node = ir_graph_node(g, i);
        if (node->op != IR_OP_CONV)
            continue;
        CgLowered low;
        cr_assert_eq(cg_lower_node(node, &lo, &low, &err), SD_OK, "%s", err.msg);
        snprintf(buf, n, "%s", low.calls[0].kernel);
        if (params)
            *params = *(const RtConvParams *)low.calls[0].params;
        cg_lowered_free(&low);
    }
    ir_graph_free(g);
    free(w), free(b);
    return buf;
}

/* ... on 2 threads; *lanes: whether a Winograd kernel puts images in the vector lanes (may be NULL) */
static inline const char *lowered_kernel_lanes(const ConvCase *c, int without, char *buf, size_t n, bool *lanes)
{
    RtConvParams p;
    lower_case(c, without, 2, buf, n, &p);
    if (lanes)
        *lanes = strncmp(buf, "rt_conv_winograd", 16) == 0 && rt_conv_winograd_lanes(&p);
    return buf;
}

static inline const char *lowered_kernel(const ConvCase *c, int without, char *buf, size_t n)
{
    return lowered_kernel_lanes(c, without, buf, n, NULL);
}

#endif
