/* tests/codegen/quant.c — the int8 kernels against naive references: QCONV (packed and
 * depthwise, odd channel counts and input depths, pixel tails, strides, dilations, groups, 1-D),
 * QMATMUL (one row, odd K and N, several column blocks), QADD, QGLOBAL_AVG_POOL, each run twice:
 * folded at compile time through the natively built portable kernels, and through the JIT (on a
 * host with AVX512-VNNI/BF16, the "_avx512" builds). The references sum in int64 and requantize
 * with the same f32 arithmetic the kernels specify, so results must be identical. Then
 * QuantizeLinear's rounding and saturation, and the messages for malformed quantized nodes.
 * (CONV_BF16 and MATMUL_BF16: quant_bf16.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "ir/graph.h"
#include "support/mem.h"
#include "tests/codegen/quant_harness.h"

/* ------------------------------------------------------------------------------------------ */
/* QCONV                                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    int ns;
    int64_t batch, c_in, c_out, groups;
    int64_t in[3], kernel[3], stride[3], dilation[3], pads[6];
    int32_t x_zp, y_zp, qmin, qmax;
    float lo, hi;
    SdDType out;
    bool residual; /* a u8 residual of y's shape, (r - r_zp) * r_mult added before rounding */
    int32_t r_zp;
    float r_mult;
} ConvCase;

static int64_t conv_out(const ConvCase *k, int i)
{
    return (k->in[i] + k->pads[i] + k->pads[k->ns + i] - (k->kernel[i] - 1) * k->dilation[i] - 1) / k->stride[i] + 1;
}

/* y = requant(bias + sum x * w [+ the residual r]), out-of-bounds x reading x_zp, in int64. */
static void conv_reference(const ConvCase *k, const uint8_t *x, const int8_t *w, const int32_t *bias, const float *mult,
                           const uint8_t *r, void *y)
{
    int ns = k->ns;
    int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, ker[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, pd[3] = {0};
    for (int i = 0; i < ns; i++) {
        int j = 3 - ns + i;
        in[j] = k->in[i], out[j] = conv_out(k, i), ker[j] = k->kernel[i], st[j] = k->stride[i], dl[j] = k->dilation[i];
        pd[j] = k->pads[i];
    }
    int64_t cin_g = k->c_in / k->groups, cout_g = k->c_out / k->groups, kvol = ker[0] * ker[1] * ker[2];
    int64_t idx = 0;
    for (int64_t n = 0; n < k->batch; n++)
        for (int64_t oc = 0; oc < k->c_out; oc++)
            for (int64_t a = 0; a < out[0]; a++)
                for (int64_t b = 0; b < out[1]; b++)
                    for (int64_t c = 0; c < out[2]; c++, idx++) {
                        int64_t acc = bias[oc], g = oc / cout_g;
                        for (int64_t ic = 0; ic < cin_g; ic++)
                            for (int64_t p = 0; p < ker[0]; p++)
                                for (int64_t q = 0; q < ker[1]; q++)
                                    for (int64_t r = 0; r < ker[2]; r++) {
                                        int64_t i0 = a * st[0] + p * dl[0] - pd[0], i1 = b * st[1] + q * dl[1] - pd[1],
                                                i2 = c * st[2] + r * dl[2] - pd[2];
                                        bool inside = i0 >= 0 && i0 < in[0] && i1 >= 0 && i1 < in[1] && i2 >= 0 && i2 < in[2];
                                        int64_t xv = inside ? x[(((n * k->c_in + g * cin_g + ic) * in[0] + i0) * in[1] + i1) * in[2] + i2]
                                                            : k->x_zp;
                                        acc += xv * w[((oc * cin_g + ic) * kvol) + (p * ker[1] + q) * ker[2] + r];
                                    }
                        float v = (float)(int32_t)acc * mult[oc];
                        if (r)
                            v = v + (float)(r[idx] - k->r_zp) * k->r_mult;
                        if (k->out == SD_DT_F32) {
                            ((float *)y)[idx] = fminf(fmaxf(v, k->lo), k->hi);
                        } else {
                            float qv = fminf(fmaxf(rintf(v) + (float)k->y_zp, (float)k->qmin), (float)k->qmax);
                            if (k->out == SD_DT_I8)
                                ((int8_t *)y)[idx] = (int8_t)qv;
                            else
                                ((uint8_t *)y)[idx] = (uint8_t)qv;
                        }
                    }
}

static void check_conv(const ConvCase *k, bool depthwise_raw)
{
    int ns = k->ns;
    int64_t xdims[5] = {k->batch, k->c_in}, wdims[5] = {k->c_out, k->c_in / k->groups}, ydims[5] = {k->batch, k->c_out};
    int64_t xn = k->batch * k->c_in, wn = k->c_out * (k->c_in / k->groups), yn = k->batch * k->c_out;
    for (int i = 0; i < ns; i++) {
        xdims[2 + i] = k->in[i], wdims[2 + i] = k->kernel[i], ydims[2 + i] = conv_out(k, i);
        xn *= k->in[i], wn *= k->kernel[i], yn *= conv_out(k, i);
    }
    uint8_t *x = malloc((size_t)xn);
    int8_t *w = malloc((size_t)wn);
    int32_t *bias = malloc((size_t)k->c_out * 4);
    float *mult = malloc((size_t)k->c_out * 4);
    size_t es = k->out == SD_DT_F32 ? 4 : 1;
    void *want = malloc((size_t)yn * es);
    uint8_t *res = k->residual ? malloc((size_t)yn) : NULL;
    uint32_t s = 12345;
    for (int64_t i = 0; i < xn; i++)
        x[i] = (uint8_t)(lcg(&s) & 0xff);
    for (int64_t i = 0; res && i < yn; i++)
        res[i] = (uint8_t)(lcg(&s) & 0xff);
    for (int64_t i = 0; i < wn; i++)
        w[i] = (int8_t)((int)(lcg(&s) % 255) - 127);
    for (int64_t c = 0; c < k->c_out; c++) {
        bias[c] = (int32_t)(lcg(&s) % 200001) - 100000;
        mult[c] = (float)(lcg(&s) % 1000 + 1) * 1e-6f;
    }
    conv_reference(k, x, w, bias, mult, res, want);
    /* folded natively; JIT; JIT with every convolution through im2col (the direct kernel's twin) */
    for (int jit = 0; jit < 3; jit++) {
        IrGraph *g = ir_graph_new("qconv");
        ir_graph_set_source(g, "test");
        RtTensor xt;
        IrValue *xv = activation(g, jit, SD_DT_U8, ns + 2, xdims, x, &xt);
        IrValue *wv = cst(g, "w", SD_DT_I8, ns + 2, wdims, w);
        if (!depthwise_raw)
            wv = pack(g, wv, SD_DT_I8, k->groups, 0);
        IrValue *in[5] = {xv, wv, cst(g, "bias", SD_DT_I32, 1, &k->c_out, bias), cst(g, "mult", SD_DT_F32, 1, &k->c_out, mult),
                          res ? cst(g, "r", SD_DT_U8, ns + 2, ydims, res) : NULL};
        IrNode *n = ir_node_new1(g, IR_OP_QCONV, "qconv", in, res ? 5 : 4, k->out);
        IrQuantAttrs *a = &n->attrs.quant;
        a->conv.nspatial = ns, a->conv.groups = k->groups;
        memcpy(a->conv.kernel, k->kernel, sizeof k->kernel);
        memcpy(a->conv.strides, k->stride, sizeof k->stride);
        memcpy(a->conv.dilations, k->dilation, sizeof k->dilation);
        memcpy(a->conv.pads, k->pads, sizeof k->pads);
        a->channels = k->c_out, a->x_zp = k->x_zp, a->y_zp = k->y_zp, a->qmin = k->qmin, a->qmax = k->qmax;
        a->lo = k->lo, a->hi = k->hi, a->out_dtype = k->out, a->b_zp = k->r_zp, a->b_scale = k->r_mult;
        ir_graph_add_output(g, n->outputs[0]);
        RtTensor y;
        compile_run_disabled(g, jit ? &xt : NULL, &y, jit == 2 ? "direct-conv" : NULL);
        cr_assert_eq(y.nbytes, (size_t)yn * es);
        static const char *const what[3] = {"folded", "jit", "jit im2col"};
        for (int64_t i = 0; i < yn; i++) {
            if (k->out == SD_DT_F32)
                cr_assert_eq(((float *)y.data)[i], ((float *)want)[i], "%s: element %lld is %g, expected %g",
                             what[jit], (long long)i, ((float *)y.data)[i], ((float *)want)[i]);
            else
                cr_assert_eq(((uint8_t *)y.data)[i], ((uint8_t *)want)[i], "%s: element %lld is %d, expected %d",
                             what[jit], (long long)i, ((uint8_t *)y.data)[i], ((uint8_t *)want)[i]);
        }
        rt_tensor_free(&y);
    }
    free(x), free(w), free(bias), free(mult), free(want), free(res);
}

Test(quant_kernels, qconv_3x3_odd_channels_and_pixel_tails)
{
    /* K = 5*9 = 45 (not a multiple of 4), 13 output channels (a partial panel), 9x11 pixels (tails) */
    ConvCase k = {.ns = 2, .batch = 2, .c_in = 5, .c_out = 13, .groups = 1, .in = {9, 11}, .kernel = {3, 3},
                  .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 37, .y_zp = 20, .qmin = 20,
                  .qmax = 250, .out = SD_DT_U8};
    check_conv(&k, false);
    k.out = SD_DT_F32, k.lo = 0.0f, k.hi = INFINITY; /* a fused ReLU on a dequantized output */
    check_conv(&k, false);
}

Test(quant_kernels, qconv_pointwise_strided_dilated_grouped_1d)
{
    ConvCase pw = {.ns = 2, .batch = 1, .c_in = 37, .c_out = 20, .groups = 1, .in = {7, 7}, .kernel = {1, 1},
                   .stride = {1, 1}, .dilation = {1, 1}, .x_zp = 128, .y_zp = 128, .qmin = 0, .qmax = 255, .out = SD_DT_U8};
    check_conv(&pw, false);
    /* batch 1, 40x40: blocks of rows split for the threads */
    ConvCase rows = {.ns = 2, .batch = 1, .c_in = 12, .c_out = 40, .groups = 1, .in = {40, 40}, .kernel = {1, 1},
                     .stride = {1, 1}, .dilation = {1, 1}, .x_zp = 7, .y_zp = 3, .qmin = 0, .qmax = 255, .out = SD_DT_U8};
    check_conv(&rows, false);
    /* batch 1, 12x12: 2 blocks of pixels, each packed once into shared scratch for its 3 chunks of
     * channels */
    ConvCase shared = {.ns = 2, .batch = 1, .c_in = 12, .c_out = 40, .groups = 1, .in = {12, 12}, .kernel = {1, 1},
                       .stride = {1, 1}, .dilation = {1, 1}, .x_zp = 9, .y_zp = 5, .qmin = 0, .qmax = 255, .out = SD_DT_U8};
    check_conv(&shared, false);
    ConvCase st = {.ns = 2, .batch = 1, .c_in = 6, .c_out = 10, .groups = 2, .in = {13, 12}, .kernel = {3, 2},
                   .stride = {2, 3}, .dilation = {2, 1}, .pads = {2, 0, 1, 1}, .x_zp = 5, .y_zp = 0, .qmin = -128,
                   .qmax = 127, .out = SD_DT_I8};
    check_conv(&st, false);
    ConvCase one = {.ns = 1, .batch = 3, .c_in = 4, .c_out = 17, .groups = 1, .in = {40}, .kernel = {5}, .stride = {1},
                    .dilation = {1}, .pads = {2, 2}, .x_zp = 0, .y_zp = 0, .qmin = 0, .qmax = 255, .out = SD_DT_U8};
    check_conv(&one, false);
}

Test(quant_kernels, qconv_deep_input_over_several_pixel_blocks)
{
    /* K = 2304: a block of packed columns holds only a few output rows, so there are many blocks */
    ConvCase k = {.ns = 2, .batch = 1, .c_in = 256, .c_out = 24, .groups = 1, .in = {30, 30}, .kernel = {3, 3},
                  .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 3, .y_zp = 10, .qmin = 0,
                  .qmax = 255, .out = SD_DT_U8};
    check_conv(&k, false);
}

Test(quant_kernels, qconv_direct_strides_dilations_and_image_blocks)
{
    /* input channels in blocks of 4: rt_qconv_direct_u8 (planes of 4 channels interleaved) */
    ConvCase small = {.ns = 2, .batch = 5, .c_in = 8, .c_out = 20, .groups = 1, .in = {7, 7}, .kernel = {3, 3},
                      .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 200, .y_zp = 3, .qmin = 0,
                      .qmax = 255, .out = SD_DT_U8};
    check_conv(&small, false);
    /* stride 2 over rows wide enough for 16 pixels at a time, odd width, i8 out */
    ConvCase s2 = {.ns = 2, .batch = 2, .c_in = 12, .c_out = 16, .groups = 1, .in = {21, 41}, .kernel = {3, 3},
                   .stride = {2, 2}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 17, .y_zp = 0, .qmin = -128,
                   .qmax = 127, .out = SD_DT_I8};
    check_conv(&s2, false);
    /* a ResNet downsampling 1x1 stride 2 into f32 with a clip */
    ConvCase ds = {.ns = 2, .batch = 3, .c_in = 16, .c_out = 9, .groups = 1, .in = {14, 14}, .kernel = {1, 1},
                   .stride = {2, 2}, .dilation = {1, 1}, .x_zp = 64, .out = SD_DT_F32, .lo = -1.0f, .hi = 6.0f};
    check_conv(&ds, false);
    /* dilation, a 3x2 kernel, mixed strides and uneven padding */
    ConvCase dl = {.ns = 2, .batch = 2, .c_in = 4, .c_out = 11, .groups = 1, .in = {19, 37}, .kernel = {3, 2},
                   .stride = {1, 2}, .dilation = {2, 3}, .pads = {2, 0, 1, 3}, .x_zp = 1, .y_zp = 128, .qmin = 0,
                   .qmax = 255, .out = SD_DT_U8};
    check_conv(&dl, false);
    /* 64 channels of 30x30: planes of a few images at a time, the last block partial */
    ConvCase blocks = {.ns = 2, .batch = 5, .c_in = 64, .c_out = 16, .groups = 1, .in = {30, 30}, .kernel = {3, 3},
                       .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 9, .y_zp = 1, .qmin = 0,
                       .qmax = 255, .out = SD_DT_U8};
    check_conv(&blocks, false);
}

/* A folded residual Add (actfold's QADD): the direct kernel, im2col (the third run of check_conv),
 * both with pixel tails and partial panels; 1x1 and 3x3; u8 and i8 out. */
Test(quant_kernels, qconv_residual)
{
    ConvCase k = {.ns = 2, .batch = 2, .c_in = 8, .c_out = 21, .groups = 1, .in = {9, 11}, .kernel = {3, 3},
                  .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 37, .y_zp = 20, .qmin = 20,
                  .qmax = 250, .out = SD_DT_U8, .residual = true, .r_zp = 100, .r_mult = 0.37f};
    check_conv(&k, false);
    ConvCase pw = {.ns = 2, .batch = 1, .c_in = 36, .c_out = 40, .groups = 1, .in = {7, 7}, .kernel = {1, 1},
                   .stride = {1, 1}, .dilation = {1, 1}, .x_zp = 128, .y_zp = 0, .qmin = 0, .qmax = 255,
                   .out = SD_DT_U8, .residual = true, .r_zp = 0, .r_mult = 1.7f};
    check_conv(&pw, false);
    ConvCase s2 = {.ns = 2, .batch = 3, .c_in = 12, .c_out = 16, .groups = 1, .in = {21, 19}, .kernel = {3, 3},
                   .stride = {2, 2}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 17, .y_zp = 5, .qmin = -128,
                   .qmax = 127, .out = SD_DT_I8, .residual = true, .r_zp = 255, .r_mult = 0.05f};
    check_conv(&s2, false);
}

Test(quant_kernels, qconv_depthwise)
{
    ConvCase k = {.ns = 2, .batch = 2, .c_in = 10, .c_out = 10, .groups = 10, .in = {13, 9}, .kernel = {3, 3},
                  .stride = {2, 2}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 90, .y_zp = 7, .qmin = 7,
                  .qmax = 200, .out = SD_DT_U8};
    check_conv(&k, true);
    ConvCase f = {.ns = 2, .batch = 1, .c_in = 24, .c_out = 24, .groups = 24, .in = {11, 17}, .kernel = {5, 5},
                  .stride = {1, 1}, .dilation = {1, 2}, .pads = {2, 4, 2, 4}, .x_zp = 0, .out = SD_DT_F32,
                  .lo = -INFINITY, .hi = 3.0f};
    check_conv(&f, true);
    /* padded rows wider than one 64-byte vector (72: two chunks), padding on the right only */
    ConvCase wide = {.ns = 2, .batch = 1, .c_in = 3, .c_out = 3, .groups = 3, .in = {5, 70}, .kernel = {3, 3},
                     .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 0, 1, 2}, .x_zp = 17, .y_zp = 3, .qmin = 0,
                     .qmax = 255, .out = SD_DT_U8};
    check_conv(&wide, true);
    /* the last input column read by no output: the padded row narrower than the input's */
    ConvCase cut = {.ns = 2, .batch = 2, .c_in = 4, .c_out = 4, .groups = 4, .in = {9, 18}, .kernel = {3, 3},
                    .stride = {2, 2}, .dilation = {1, 1}, .pads = {0, 0, 0, 0}, .x_zp = 200, .y_zp = 0, .qmin = 0,
                    .qmax = 255, .out = SD_DT_U8};
    check_conv(&cut, true);
    /* MobileNetV2's 7x7 planes, an odd channel count, the largest products (x_zp 0) */
    ConvCase small = {.ns = 2, .batch = 2, .c_in = 35, .c_out = 35, .groups = 35, .in = {7, 7}, .kernel = {3, 3},
                      .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 0, .y_zp = 128, .qmin = 0,
                      .qmax = 255, .out = SD_DT_U8};
    check_conv(&small, true);
    /* 5x5 stride 2, asymmetric pads, i8 out, the zero point at the top of the range */
    ConvCase s2_5x5 = {.ns = 2, .batch = 1, .c_in = 18, .c_out = 18, .groups = 18, .in = {14, 13}, .kernel = {5, 5},
                       .stride = {2, 2}, .dilation = {1, 1}, .pads = {2, 2, 1, 2}, .x_zp = 255, .y_zp = -5,
                       .qmin = -128, .qmax = 127, .out = SD_DT_I8};
    check_conv(&s2_5x5, true);
    /* a larger plane (40x36) */
    ConvCase large = {.ns = 2, .batch = 1, .c_in = 5, .c_out = 5, .groups = 5, .in = {40, 36}, .kernel = {3, 3},
                      .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 33, .y_zp = 9, .qmin = 0,
                      .qmax = 255, .out = SD_DT_U8};
    check_conv(&large, true);
    /* rows of 4 and 3 outputs: four rows to a vector, the last vector's rows partly past the plane;
     * f32 out */
    ConvCase narrow = {.ns = 2, .batch = 2, .c_in = 6, .c_out = 6, .groups = 6, .in = {6, 4}, .kernel = {3, 3},
                       .stride = {1, 1}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 40, .out = SD_DT_F32,
                       .lo = -2.0f, .hi = INFINITY};
    check_conv(&narrow, true);
    ConvCase narrow_s2 = {.ns = 2, .batch = 1, .c_in = 7, .c_out = 7, .groups = 7, .in = {9, 5}, .kernel = {3, 3},
                          .stride = {1, 2}, .dilation = {1, 1}, .pads = {1, 1, 1, 1}, .x_zp = 3, .y_zp = 60,
                          .qmin = 0, .qmax = 255, .out = SD_DT_U8};
    check_conv(&narrow_s2, true);
}

/* ------------------------------------------------------------------------------------------ */
/* QMATMUL                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void check_matmul(int rank, const int64_t *adims, int64_t n, SdDType out)
{
    int64_t k = adims[rank - 1], m = 1;
    for (int i = 0; i < rank - 1; i++)
        m *= adims[i];
    uint8_t *a = malloc((size_t)(m * k));
    int8_t *b = malloc((size_t)(k * n));
    int32_t *bias = malloc((size_t)n * 4);
    float *mult = malloc((size_t)n * 4);
    size_t es = out == SD_DT_F32 ? 4 : 1;
    uint8_t *want = malloc((size_t)(m * n) * es);
    uint32_t s = 777;
    for (int64_t i = 0; i < m * k; i++)
        a[i] = (uint8_t)(lcg(&s) & 0xff);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = (int8_t)((int)(lcg(&s) % 255) - 127);
    for (int64_t j = 0; j < n; j++)
        bias[j] = (int32_t)(lcg(&s) % 20001) - 10000, mult[j] = (float)(lcg(&s) % 500 + 1) * 1e-6f;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t acc = bias[j];
            for (int64_t q = 0; q < k; q++)
                acc += (int64_t)a[i * k + q] * b[q * n + j];
            float v = (float)(int32_t)acc * mult[j];
            if (out == SD_DT_F32)
                ((float *)want)[i * n + j] = v;
            else
                want[i * n + j] = (uint8_t)fminf(fmaxf(rintf(v) + 3.0f, 0.0f), 255.0f);
        }
    for (int jit = 0; jit < 2; jit++) {
        IrGraph *g = ir_graph_new("qmatmul");
        ir_graph_set_source(g, "test");
        RtTensor xt;
        IrValue *xv = activation(g, jit, SD_DT_U8, rank, adims, a, &xt);
        int64_t bd[2] = {k, n};
        IrValue *in[4] = {xv, pack(g, cst(g, "b", SD_DT_I8, 2, bd, b), SD_DT_I8, 1, k), cst(g, "bias", SD_DT_I32, 1, &n, bias),
                          cst(g, "mult", SD_DT_F32, 1, &n, mult)};
        IrNode *node = ir_node_new1(g, IR_OP_QMATMUL, "qmatmul", in, 4, out);
        IrQuantAttrs *qa = &node->attrs.quant;
        qa->channels = n, qa->depth = k, qa->y_zp = 3, qa->qmin = 0, qa->qmax = 255, qa->lo = -INFINITY, qa->hi = INFINITY;
        qa->out_dtype = out;
        ir_graph_add_output(g, node->outputs[0]);
        RtTensor y;
        compile_run_disabled(g, jit ? &xt : NULL, &y, jit == 2 ? "direct-conv" : NULL);
        cr_assert_eq(y.rank, rank);
        cr_assert_eq(y.dims[rank - 1], n);
        cr_assert(memcmp(y.data, want, (size_t)(m * n) * es) == 0, "%s: QMATMUL [%lld, %lld] x [%lld, %lld] differs",
                  jit ? "jit" : "folded", (long long)m, (long long)k, (long long)k, (long long)n);
        rt_tensor_free(&y);
    }
    free(a), free(b), free(bias), free(mult), free(want);
}

Test(quant_kernels, qmatmul_rows_columns_and_depths)
{
    check_matmul(2, (int64_t[]){1, 37}, 21, SD_DT_F32);      /* one row, K % 4 = 1, N % 16 = 5 */
    check_matmul(2, (int64_t[]){7, 130}, 300, SD_DT_U8);     /* row tail, several column blocks */
    check_matmul(3, (int64_t[]){2, 5, 64}, 64, SD_DT_F32);   /* leading dims as rows */
    check_matmul(2, (int64_t[]){9, 3}, 16, SD_DT_U8);        /* K shorter than one quad */
}

/* ------------------------------------------------------------------------------------------ */
/* QADD and QGLOBAL_AVG_POOL                                                                   */
/* ------------------------------------------------------------------------------------------ */

Test(quant_kernels, qadd_rescales_broadcasts_and_clamps)
{
    int64_t ad[4] = {2, 3, 4, 5}, bd[4] = {1, 3, 1, 1};
    uint8_t a[120], b[3];
    uint32_t s = 99;
    for (int i = 0; i < 120; i++)
        a[i] = (uint8_t)lcg(&s);
    for (int i = 0; i < 3; i++)
        b[i] = (uint8_t)lcg(&s);
    for (int jit = 0; jit < 2; jit++) {
        IrGraph *g = ir_graph_new("qadd");
        ir_graph_set_source(g, "test");
        RtTensor xt;
        IrValue *in[2] = {activation(g, jit, SD_DT_U8, 4, ad, a, &xt), cst(g, "b", SD_DT_U8, 4, bd, b)};
        IrNode *n = ir_node_new1(g, IR_OP_QADD, "qadd", in, 2, SD_DT_U8);
        n->attrs.quant = (IrQuantAttrs){.a_scale = 0.05f, .a_zp = 100, .b_scale = 0.2f, .b_zp = 10, .y_scale = 0.1f,
                                        .y_zp = 60, .qmin = 60, .qmax = 255};
        ir_graph_add_output(g, n->outputs[0]);
        RtTensor y;
        compile_run_disabled(g, jit ? &xt : NULL, &y, jit == 2 ? "direct-conv" : NULL);
        for (int i = 0; i < 120; i++) {
            int c = (i / 20) % 3;
            float v = rintf((float)(a[i] - 100) * (0.05f / 0.1f) + (float)(b[c] - 10) * (0.2f / 0.1f)) + 60.0f;
            uint8_t want = (uint8_t)fminf(fmaxf(v, 60.0f), 255.0f);
            cr_assert_eq(((uint8_t *)y.data)[i], want, "element %d is %d, expected %d (ReLU at y_zp 60)", i,
                         ((uint8_t *)y.data)[i], want);
        }
        rt_tensor_free(&y);
    }
}

Test(quant_kernels, qglobal_avg_pool_rescales_the_mean)
{
    int64_t xd[4] = {2, 3, 7, 7};
    uint8_t x[294];
    uint32_t s = 5;
    for (int i = 0; i < 294; i++)
        x[i] = (uint8_t)lcg(&s);
    for (int jit = 0; jit < 2; jit++) {
        IrGraph *g = ir_graph_new("qgap");
        ir_graph_set_source(g, "test");
        RtTensor xt;
        IrValue *in = activation(g, jit, SD_DT_U8, 4, xd, x, &xt);
        IrNode *n = ir_node_new1(g, IR_OP_QGLOBAL_AVG_POOL, "gap", &in, 1, SD_DT_U8);
        n->attrs.quant = (IrQuantAttrs){.a_scale = 0.02f, .a_zp = 30, .y_scale = 0.01f, .y_zp = 5, .qmin = 0, .qmax = 255};
        ir_graph_add_output(g, n->outputs[0]);
        RtTensor y;
        compile_run_disabled(g, jit ? &xt : NULL, &y, jit == 2 ? "direct-conv" : NULL);
        cr_assert_eq(y.dims[2], 1);
        for (int c = 0; c < 6; c++) {
            int32_t sum = 0;
            for (int i = 0; i < 49; i++)
                sum += x[c * 49 + i];
            float v = rintf((float)(sum - 30 * 49) * (0.02f / (49.0f * 0.01f))) + 5.0f;
            uint8_t want = (uint8_t)fminf(fmaxf(v, 0.0f), 255.0f);
            cr_assert_eq(((uint8_t *)y.data)[c], want, "plane %d is %d, expected %d", c, ((uint8_t *)y.data)[c], want);
        }
        rt_tensor_free(&y);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* QuantizeLinear and errors                                                                   */
/* ------------------------------------------------------------------------------------------ */

Test(quant_kernels, quantize_rounds_half_to_even_and_saturates)
{
    const float xs[10] = {0.25f, 0.75f, 1.25f, -0.25f, -0.75f, 100.0f, -100.0f, 0.1f, NAN, 63.75f};
    const int64_t d = 10;
    const float scale = 0.5f;
    const uint8_t zp = 128;
    /* x / 0.5 = 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0, -1.5 -> -2; +-200 saturate; NaN -> the lower bound */
    const uint8_t want[10] = {128, 130, 130, 128, 126, 255, 0, 128, 0, 255};
    for (int jit = 0; jit < 2; jit++) {
        IrGraph *g = ir_graph_new("q");
        ir_graph_set_source(g, "test");
        RtTensor xt;
        IrValue *in[3] = {activation(g, jit, SD_DT_F32, 1, &d, xs, &xt), cst(g, "s", SD_DT_F32, 0, NULL, &scale),
                          cst(g, "z", SD_DT_U8, 0, NULL, &zp)};
        IrNode *n = ir_node_new1(g, IR_OP_QUANTIZE_LINEAR, "q", in, 3, SD_DT_U8);
        n->attrs.quant.axis = 1;
        ir_graph_add_output(g, n->outputs[0]);
        RtTensor y;
        compile_run_disabled(g, jit ? &xt : NULL, &y, jit == 2 ? "direct-conv" : NULL);
        for (int i = 0; i < 10; i++)
            cr_assert_eq(((uint8_t *)y.data)[i], want[i], "%s: element %d (%g) is %d, expected %d", jit ? "jit" : "folded",
                         i, xs[i], ((uint8_t *)y.data)[i], want[i]);
        rt_tensor_free(&y);
    }
}

static const char *shape_error_of(IrGraph *g)
{
    static SdError err;
    memset(&err, 0, sizeof err);
    SdOptions opt = sd_options_default();
    SdStatus st = sd_optimize(g, &opt, "shape", NULL, NULL, &err);
    cr_assert_neq(st, SD_OK, "shape inference accepted the node");
    return err.msg;
}

Test(quant_kernels, malformed_nodes_are_named_in_errors)
{
    const float scale[2] = {0.1f, 0.2f};
    const int64_t xd[2] = {3, 4}, two = 2;
    float x[12] = {0};
    IrGraph *g = ir_graph_new("bad");
    ir_graph_set_source(g, "bad.onnx");
    IrValue *in[2] = {cst(g, "x", SD_DT_F32, 2, xd, x), cst(g, "two_scales", SD_DT_F32, 1, &two, scale)};
    IrNode *n = ir_node_new1(g, IR_OP_QUANTIZE_LINEAR, "Quantize_7", in, 2, SD_DT_U8);
    n->attrs.quant.axis = 1; /* 4 elements along axis 1, 2 scales */
    ir_graph_add_output(g, n->outputs[0]);
    const char *msg = shape_error_of(g);
    cr_assert(strstr(msg, "bad.onnx") && strstr(msg, "Quantize_7") && strstr(msg, "two_scales") && strstr(msg, "[4]"),
              "message was: %s", msg);
    ir_graph_free(g);

    /* packed weights of the wrong size for the conv they feed */
    g = ir_graph_new("bad");
    ir_graph_set_source(g, "bad.onnx");
    const int64_t x4[4] = {1, 8, 5, 5}, wd[2] = {16, 8}, c = 16;
    uint8_t xb[200] = {0};
    int8_t wb[128] = {0};
    int32_t bias[16] = {0};
    float mult[16] = {0};
    IrValue *qin[4] = {cst(g, "x", SD_DT_U8, 4, x4, xb), cst(g, "w_packed", SD_DT_I8, 2, wd, wb),
                       cst(g, "bias", SD_DT_I32, 1, &c, bias), cst(g, "mult", SD_DT_F32, 1, &c, mult)};
    n = ir_node_new1(g, IR_OP_QCONV, "Conv_3", qin, 4, SD_DT_U8);
    n->attrs.quant.conv = (IrConvAttrs){.nspatial = 2, .kernel = {3, 3}, .groups = 1};
    n->attrs.quant.channels = 16, n->attrs.quant.out_dtype = SD_DT_U8;
    ir_graph_add_output(g, n->outputs[0]);
    msg = shape_error_of(g);
    cr_assert(strstr(msg, "Conv_3") && strstr(msg, "w_packed") && strstr(msg, "[16,72]"), "message was: %s", msg);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------------------------------ */
/* QLinearConv with constant weights: rewritten onto the packed kernel                         */
/* ------------------------------------------------------------------------------------------ */

/* QLinearConv 3x3 (pad 1) on x [2, 5, 9, 8] u8 with i8 weights per channel; `constant`: every
 * operand but x is a compile-time constant (so the quantize pass makes it a QCONV). */
static void qlinear_conv(bool constant, RtTensor *y, bool *rewritten)
{
    static uint8_t x[2 * 5 * 9 * 8], xz = 120, yz = 100;
    static int8_t w[7 * 5 * 9], wz[7];
    static float xs = 0.02f, ws[7], ys = 0.5f;
    static int32_t bias[7];
    uint32_t s = 42;
    for (size_t i = 0; i < sizeof x; i++)
        x[i] = (uint8_t)lcg(&s);
    for (size_t i = 0; i < sizeof w; i++)
        w[i] = (int8_t)((int)(lcg(&s) % 200) - 100);
    for (int c = 0; c < 7; c++)
        ws[c] = (float)(lcg(&s) % 100 + 10) * 1e-4f, bias[c] = (int32_t)(lcg(&s) % 10000) - 5000;
    const int64_t xd[4] = {2, 5, 9, 8}, wd[4] = {7, 5, 3, 3}, seven = 7;
    IrGraph *g = ir_graph_new("qlinear_conv");
    ir_graph_set_source(g, "test");
    struct { const char *name; SdDType dt; int rank; const int64_t *dims; const void *data; } ops[9] = {
        {"x", SD_DT_U8, 4, xd, x}, {"xs", SD_DT_F32, 0, NULL, &xs}, {"xz", SD_DT_U8, 0, NULL, &xz},
        {"w", SD_DT_I8, 4, wd, w}, {"ws", SD_DT_F32, 1, &seven, ws}, {"wz", SD_DT_I8, 1, &seven, wz},
        {"ys", SD_DT_F32, 0, NULL, &ys}, {"yz", SD_DT_U8, 0, NULL, &yz}, {"b", SD_DT_I32, 1, &seven, bias}};
    IrValue *in[9];
    RtTensor inputs[9];
    int n_in = 0;
    for (int i = 0; i < 9; i++) {
        if (constant && i > 0) {
            in[i] = cst(g, ops[i].name, ops[i].dt, ops[i].rank, ops[i].dims, ops[i].data);
            continue;
        }
        in[i] = activation(g, true, ops[i].dt, ops[i].rank, ops[i].dims, ops[i].data, &inputs[n_in++]);
    }
    IrNode *n = ir_node_new1(g, IR_OP_QLINEAR_CONV, "qlc", in, 9, SD_DT_U8);
    n->attrs.quant.conv = (IrConvAttrs){.nspatial = 2, .pads = {1, 1, 1, 1}, .groups = 1};
    ir_graph_add_output(g, n->outputs[0]);
    SdError err = {0};
    SdOptions opt = sd_options_default();
    cr_assert_eq(sd_optimize(g, &opt, NULL, NULL, NULL, &err), SD_OK, "%s", err.msg);
    *rewritten = false;
    for (int i = 0; i < ir_graph_num_nodes(g); i++)
        *rewritten |= ir_graph_node(g, i)->op == IR_OP_QCONV;
    SdModel *m = NULL;
    cr_assert_eq(sd_model_compile(g, &opt, &m, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(sd_model_run(m, inputs, n_in, y, 1, &err), SD_OK, "%s", err.msg);
    sd_model_free(m);
}

Test(quant_kernels, qlinear_conv_with_constant_weights_runs_packed)
{
    RtTensor ref, fast;
    bool generic_rewritten, rewritten;
    qlinear_conv(false, &ref, &generic_rewritten);
    qlinear_conv(true, &fast, &rewritten);
    cr_assert(!generic_rewritten && rewritten, "the constant QLinearConv should become a QCONV, the other not");
    cr_assert_eq(ref.nbytes, fast.nbytes);
    int differ = 0;
    for (size_t i = 0; i < ref.nbytes; i++) {
        int d = abs((int)((uint8_t *)ref.data)[i] - (int)((uint8_t *)fast.data)[i]);
        cr_assert(d <= 1, "element %zu: reference %d, packed %d", i, ((uint8_t *)ref.data)[i], ((uint8_t *)fast.data)[i]);
        differ += d != 0; /* only a product exactly on a rounding tie may round the other way in f32 */
    }
    cr_assert(differ <= 2, "%d elements differ", differ);
    rt_tensor_free(&ref);
    rt_tensor_free(&fast);
}
