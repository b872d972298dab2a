/* tests/codegen/quant_bf16.c — CONV_BF16 and MATMUL_BF16 against sums in double of their operands
 * rounded to bf16: odd and even input channels (im2col and the direct kernel), strides, dilations,
 * uneven padding, 1x1, a folded clamp; each folded at compile time through the natively built
 * portable kernels and through the JIT (on a host with AVX512-BF16, the "_avx512" builds), the
 * convolutions also with im2col for every one. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "ir/graph.h"
#include "runtime/kernels/half.h"
#include "tests/codegen/quant_harness.h"

static double bf(float v) { return rt_bf16_to_float(rt_float_to_bf16(v)); }

typedef struct {
    int64_t batch, c_in, c_out, in[2], kernel[2], stride[2], dilation[2], pads[4];
    bool bias;
    float lo, hi;
} Bf16Case;

/* CONV_BF16 against sums in double of the operands rounded to bf16, within 1e-5 of their magnitude:
 * folded natively, JIT, and JIT with im2col for every convolution. */
static void check_conv_bf16(const Bf16Case *c)
{
    const int64_t KH = c->kernel[0], KW = c->kernel[1], IH = c->in[0], IW = c->in[1];
    const int64_t OH = (IH + c->pads[0] + c->pads[2] - (KH - 1) * c->dilation[0] - 1) / c->stride[0] + 1;
    const int64_t OW = (IW + c->pads[1] + c->pads[3] - (KW - 1) * c->dilation[1] - 1) / c->stride[1] + 1;
    const int64_t xn = c->batch * c->c_in * IH * IW, wn = c->c_out * c->c_in * KH * KW, yn = c->batch * c->c_out * OH * OW;
    const int64_t xd[4] = {c->batch, c->c_in, IH, IW}, wd[4] = {c->c_out, c->c_in, KH, KW};
    float *x = malloc((size_t)xn * 4), *w = malloc((size_t)wn * 4), *b = malloc((size_t)c->c_out * 4);
    double *want = malloc((size_t)yn * 8), *bound = malloc((size_t)yn * 8);
    uint32_t s = 3;
    for (int64_t i = 0; i < xn; i++)
        x[i] = (float)(lcg(&s) % 2001) / 1000.0f - 1.0f;
    for (int64_t i = 0; i < wn; i++)
        w[i] = (float)(lcg(&s) % 2001) / 1000.0f - 1.0f;
    for (int64_t i = 0; i < c->c_out; i++)
        b[i] = c->bias ? (float)(lcg(&s) % 201) / 100.0f - 1.0f : 0.0f;
    for (int64_t n = 0, i = 0; n < c->batch; n++)
        for (int64_t oc = 0; oc < c->c_out; oc++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++, i++) {
                    double acc = 0, mag = 0;
                    for (int64_t ic = 0; ic < c->c_in; ic++)
                        for (int64_t kh = 0; kh < KH; kh++)
                            for (int64_t kw = 0; kw < KW; kw++) {
                                int64_t ih = oh * c->stride[0] + kh * c->dilation[0] - c->pads[0];
                                int64_t iw = ow * c->stride[1] + kw * c->dilation[1] - c->pads[1];
                                if (ih < 0 || ih >= IH || iw < 0 || iw >= IW)
                                    continue;
                                double t = bf(x[((n * c->c_in + ic) * IH + ih) * IW + iw]) *
                                           bf(w[((oc * c->c_in + ic) * KH + kh) * KW + kw]);
                                acc += t, mag += fabs(t);
                            }
                    want[i] = fmin(fmax(acc + b[oc], c->lo), c->hi);
                    bound[i] = 1e-5 * (mag + 1.0);
                }
    static const char *const what[3] = {"folded", "jit", "jit im2col"};
    for (int jit = 0; jit < 3; jit++) {
        IrGraph *g = ir_graph_new("conv_bf16");
        ir_graph_set_source(g, "test");
        RtTensor xt;
        IrValue *in[3] = {activation(g, jit, SD_DT_F32, 4, xd, x, &xt),
                          pack(g, cst(g, "w", SD_DT_F32, 4, wd, w), SD_DT_BF16, 1, 0),
                          cst(g, "b", SD_DT_F32, 1, &c->c_out, b)};
        IrNode *n = ir_node_new1(g, IR_OP_CONV_BF16, "conv", in, c->bias ? 3 : 2, SD_DT_F32);
        IrQuantAttrs *a = &n->attrs.quant;
        a->conv = (IrConvAttrs){.nspatial = 2, .groups = 1};
        memcpy(a->conv.kernel, c->kernel, sizeof c->kernel);
        memcpy(a->conv.strides, c->stride, sizeof c->stride);
        memcpy(a->conv.dilations, c->dilation, sizeof c->dilation);
        memcpy(a->conv.pads, c->pads, sizeof c->pads);
        a->channels = c->c_out, a->lo = c->lo, a->hi = c->hi, a->out_dtype = SD_DT_F32;
        ir_graph_add_output(g, n->outputs[0]);
        RtTensor y;
        compile_run_disabled(g, jit ? &xt : NULL, &y, jit == 2 ? "direct-conv" : NULL);
        cr_assert_eq(y.nbytes, (size_t)yn * 4);
        for (int64_t i = 0; i < yn; i++)
            cr_assert(fabs(((float *)y.data)[i] - want[i]) <= bound[i], "%s: element %lld is %.7g, expected %.7g",
                      what[jit], (long long)i, ((float *)y.data)[i], want[i]);
        rt_tensor_free(&y);
    }
    free(x), free(w), free(b), free(want), free(bound);
}

Test(quant_kernels, conv_bf16_sums_rounded_operands_in_f32)
{
    /* odd input channels (im2col): stride 2, pad 1, ReLU6 folded */
    Bf16Case odd = {1, 7, 11, {10, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, true, 0.0f, 6.0f};
    check_conv_bf16(&odd);
    /* even ones (the direct kernel): several images, a partial channel panel, no bias */
    Bf16Case even = {3, 6, 13, {9, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, false, -INFINITY, INFINITY};
    check_conv_bf16(&even);
    /* strides, dilation, uneven padding; a 1x1 stride 2 */
    Bf16Case st = {2, 10, 16, {17, 23}, {3, 2}, {2, 3}, {2, 1}, {2, 0, 1, 2}, true, -1.0f, INFINITY};
    check_conv_bf16(&st);
    Bf16Case ds = {2, 8, 9, {14, 14}, {1, 1}, {2, 2}, {1, 1}, {0, 0, 0, 0}, true, -INFINITY, INFINITY};
    check_conv_bf16(&ds);
    /* plain 1x1: pairs of rows of x interleaved straight, an odd last channel the staged way */
    Bf16Case pw = {1, 7, 12, {23, 21}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, 0.0f, INFINITY};
    check_conv_bf16(&pw);
    /* 40 channels in 3 chunks over 2 blocks of pixels, each block packed once into shared scratch:
     * a 1x1 on 12x12, and a 3x3 on 9x20 (with im2col in the run that takes it for every one) */
    Bf16Case shared_pw = {1, 10, 40, {12, 12}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, -INFINITY, INFINITY};
    check_conv_bf16(&shared_pw);
    Bf16Case shared_3x3 = {1, 6, 40, {9, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, false, 0.0f, INFINITY};
    check_conv_bf16(&shared_3x3);
    /* 5 images of 7x7 outputs in blocks of 3 side by side (147 of 160 columns), the last block of 2:
     * im2col (odd input channels) and a plain 1x1 */
    Bf16Case images = {5, 5, 12, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, 0.0f, INFINITY};
    check_conv_bf16(&images);
    Bf16Case images_pw = {5, 8, 12, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, false, -INFINITY, INFINITY};
    check_conv_bf16(&images_pw);
}

/* [m, 71] x [71, 83]: k odd (the last pair half zero), a panel of 64 columns and one of 32 */
static void check_matmul_bf16(int64_t m)
{
    enum { K = 71, N = 83, MAX_M = 9 };
    const int64_t ad[2] = {m, K}, bd[2] = {K, N}, n = N;
    float a[MAX_M * K], b[K * N], bias[N];
    uint32_t s = 11;
    cr_assert(m <= MAX_M);
    for (int i = 0; i < m * K; i++)
        a[i] = (float)(lcg(&s) % 2001) / 500.0f - 2.0f;
    for (int i = 0; i < K * N; i++)
        b[i] = (float)(lcg(&s) % 2001) / 1000.0f - 1.0f;
    for (int i = 0; i < N; i++)
        bias[i] = (float)i * 0.01f;
    for (int jit = 0; jit < 2; jit++) {
        IrGraph *g = ir_graph_new("matmul_bf16");
        ir_graph_set_source(g, "test");
        RtTensor xt;
        IrValue *in[3] = {activation(g, jit, SD_DT_F32, 2, ad, a, &xt), pack(g, cst(g, "b", SD_DT_F32, 2, bd, b), SD_DT_BF16, 1, K),
                          cst(g, "bias", SD_DT_F32, 1, &n, bias)};
        IrNode *node = ir_node_new1(g, IR_OP_MATMUL_BF16, "mm", in, 3, SD_DT_F32);
        node->attrs.quant = (IrQuantAttrs){.channels = N, .depth = K, .lo = -INFINITY, .hi = INFINITY, .out_dtype = SD_DT_F32};
        ir_graph_add_output(g, node->outputs[0]);
        RtTensor y;
        compile_run_disabled(g, jit ? &xt : NULL, &y, NULL);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0, mag = 0;
                for (int k = 0; k < K; k++) {
                    double t = bf(a[i * K + k]) * bf(b[k * N + j]);
                    acc += t, mag += fabs(t);
                }
                double got = ((float *)y.data)[i * N + j];
                cr_assert(fabs(got - (acc + bias[j])) <= 1e-5 * (mag + 1), "%s, %lld rows: [%d, %d] is %.7g, expected %.7g",
                          jit ? "jit" : "folded", (long long)m, i, j, got, acc + bias[j]);
            }
        rt_tensor_free(&y);
    }
}

Test(quant_kernels, matmul_bf16_odd_sizes)
{
    check_matmul_bf16(3); /* rows one at a time */
    check_matmul_bf16(9); /* two tiles of 4 rows and one row */
}
