/* tests/passes/grad_conv.c — gradients of Conv and ConvTranspose (x, w and bias) against
 * finite differences (tests/passes/gradfam.h): 1-D, 2-D and 3-D, strides, dilations, asymmetric
 * pads, groups, depthwise with and without a channel multiplier, 1x1, im2col in blocks, Winograd's
 * F(2x2, 3x3); and the
 * shape errors of the gradient ops. */
#include "tests/passes/gradfam.h"

typedef struct ConvSpec {
    int ns;
    int64_t groups;
    int64_t strides[3], dilations[3], pads[6]; /* pads: begins then ends */
    bool transpose;
    int64_t output_padding[3];
} ConvSpec;

static IrNode *build_conv(IrGraph *g, IrValue *const *ins, const void *ctx)
{
    const ConvSpec *s = ctx;
    IrNode *n = gf_node(g, s->transpose ? IR_OP_CONV_TRANSPOSE : IR_OP_CONV, ins, ins[2] ? 3 : 2, 1);
    IrConvAttrs *a = &n->attrs.conv;
    a->nspatial = s->ns;
    a->groups = s->groups;
    for (int i = 0; i < s->ns; i++) {
        a->strides[i] = s->strides[i] ? s->strides[i] : 1;
        a->dilations[i] = s->dilations[i] ? s->dilations[i] : 1;
        a->pads[i] = s->pads[i];
        a->pads[s->ns + i] = s->pads[s->ns + i];
        a->output_padding[i] = s->output_padding[i];
    }
    return n;
}

/* Dims padded at the front to 3. */
static void dims3(const int64_t *d, int ns, int64_t fill, int64_t *out)
{
    for (int i = 0; i < 3; i++)
        out[i] = i < 3 - ns ? fill : d[i - (3 - ns)];
}

typedef struct {
    int64_t in[3], out[3], k[3], s[3], d[3], p[3];
} Win;

static Win window(const ConvSpec *s, const int64_t *in_sp, const int64_t *out_sp, const int64_t *k_sp)
{
    Win w;
    int64_t st[3], dl[3];
    for (int i = 0; i < 3; i++)
        st[i] = i < s->ns ? (s->strides[i] ? s->strides[i] : 1) : 1, dl[i] = i < s->ns ? (s->dilations[i] ? s->dilations[i] : 1) : 1;
    dims3(in_sp, s->ns, 1, w.in);
    dims3(out_sp, s->ns, 1, w.out);
    dims3(k_sp, s->ns, 1, w.k);
    dims3(st, s->ns, 1, w.s);
    dims3(dl, s->ns, 1, w.d);
    dims3(s->pads, s->ns, 0, w.p);
    return w;
}

/* Conv: y[n, oc, o] = b[oc] + sum x[n, g*cin_g + ic, o*s - p + k*d] w[oc, ic, k]; ConvTranspose
 * scatters the same products the other way. */
static void ref_conv(const double *const *in, const GfTensor *t, const int64_t *ydims, int yrank, double *y,
                     const void *ctx)
{
    const ConvSpec *s = ctx;
    (void)yrank;
    const double *x = in[0], *w = in[1], *b = in[2];
    int64_t batch = t[0].dims[0], cx = t[0].dims[1], cy = ydims[1], G = s->groups;
    /* in the conv orientation: "input" a (cin channels), "output" z (cout channels) */
    const int64_t *a_sp = s->transpose ? ydims + 2 : t[0].dims + 2, *z_sp = s->transpose ? t[0].dims + 2 : ydims + 2;
    int64_t cin = s->transpose ? cy : cx, cout = s->transpose ? cx : cy;
    Win v = window(s, a_sp, z_sp, t[1].dims + 2);
    int64_t cin_g = cin / G, cout_g = cout / G;
    int64_t a_vol = v.in[0] * v.in[1] * v.in[2], z_vol = v.out[0] * v.out[1] * v.out[2], kvol = v.k[0] * v.k[1] * v.k[2];
    int64_t ny = gf_numel(yrank, ydims);
    for (int64_t i = 0; i < ny; i++)
        y[i] = b ? b[(i / gf_numel(yrank - 2, ydims + 2)) % cy] : 0.0;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t oc = 0; oc < cout; oc++) {
            int64_t g = oc / cout_g;
            for (int64_t o = 0; o < z_vol; o++) {
                int64_t od = o / (v.out[1] * v.out[2]), oh = o / v.out[2] % v.out[1], ow = o % v.out[2];
                for (int64_t ic = 0; ic < cin_g; ic++)
                    for (int64_t kk = 0; kk < kvol; kk++) {
                        int64_t kd = kk / (v.k[1] * v.k[2]), kh = kk / v.k[2] % v.k[1], kw = kk % v.k[2];
                        int64_t id = od * v.s[0] - v.p[0] + kd * v.d[0];
                        int64_t ih = oh * v.s[1] - v.p[1] + kh * v.d[1];
                        int64_t iw = ow * v.s[2] - v.p[2] + kw * v.d[2];
                        if (id < 0 || id >= v.in[0] || ih < 0 || ih >= v.in[1] || iw < 0 || iw >= v.in[2])
                            continue;
                        int64_t ai = (n * cin + g * cin_g + ic) * a_vol + (id * v.in[1] + ih) * v.in[2] + iw;
                        int64_t zi = (n * cout + oc) * z_vol + o;
                        if (!s->transpose) {
                            y[zi] += x[ai] * w[(oc * cin_g + ic) * kvol + kk];
                        } else { /* weights [x channels = cout, cin_g, k] */
                            y[ai] += x[zi] * w[(oc * cin_g + ic) * kvol + kk];
                        }
                    }
            }
        }
}

/* A case: x [batch, cin, in...], w [cout, cin/groups, k...], optional bias. */
static GfCase conv_case(const char *name, const ConvSpec *s, int64_t batch, int64_t cin, int64_t cout,
                        const int64_t *in, const int64_t *k, bool bias, uint32_t seed)
{
    GfCase c = {.name = name, .n_in = 3, .build = build_conv, .ref = ref_conv, .rule = grad_conv, .ctx = s};
    int64_t xd[5] = {batch, cin}, wd[5], bd[1] = {s->transpose ? cout : cout};
    for (int i = 0; i < s->ns; i++)
        xd[2 + i] = in[i];
    if (s->transpose) {
        wd[0] = cin, wd[1] = cout / s->groups;
    } else {
        wd[0] = cout, wd[1] = cin / s->groups;
    }
    for (int i = 0; i < s->ns; i++)
        wd[2 + i] = k[i];
    int r = s->ns + 2;
    c.in[0] = gf_tensor(r, xd, gf_rand(gf_numel(r, xd), seed, -1, 1), true);
    c.in[1] = gf_tensor(r, wd, gf_rand(gf_numel(r, wd), seed + 1, -1, 1), true);
    c.in[2] = gf_tensor(1, bd, bias ? gf_rand(cout, seed + 2, -1, 1) : NULL, bias);
    return c;
}

static void run_conv(const char *name, ConvSpec s, int64_t batch, int64_t cin, int64_t cout, const int64_t *in,
                     const int64_t *k, bool bias, bool fold)
{
    GfCase c = conv_case(name, &s, batch, cin, cout, in, k, bias, 11);
    gf_check(&c, true, fold);
    gf_free_case(&c);
}

Test(grad_conv, conv2d_plain_strided_dilated_asymmetric)
{
    run_conv("3x3 pad 1", (ConvSpec){.ns = 2, .groups = 1, .pads = {1, 1, 1, 1}}, 2, 3, 4, (int64_t[]){5, 6},
             (int64_t[]){3, 3}, true, true);
    run_conv("stride 2, asymmetric pads", (ConvSpec){.ns = 2, .groups = 1, .strides = {2, 2}, .pads = {1, 0, 0, 2}},
             2, 2, 3, (int64_t[]){6, 7}, (int64_t[]){3, 2}, true, false);
    run_conv("dilation 2", (ConvSpec){.ns = 2, .groups = 1, .dilations = {2, 2}, .pads = {2, 1, 2, 1}}, 1, 2, 3,
             (int64_t[]){6, 5}, (int64_t[]){3, 3}, false, false);
    run_conv("stride 3 leaves a remainder", (ConvSpec){.ns = 2, .groups = 1, .strides = {3, 2}, .pads = {0, 1, 0, 0}},
             1, 2, 2, (int64_t[]){8, 7}, (int64_t[]){2, 3}, true, false);
}

Test(grad_conv, grouped_and_depthwise)
{
    run_conv("groups 2, stride 2, pad 1", (ConvSpec){.ns = 2, .groups = 2, .strides = {2, 2}, .pads = {1, 1, 1, 1}},
             2, 4, 6, (int64_t[]){6, 5}, (int64_t[]){3, 3}, true, true);
    run_conv("depthwise 3x3", (ConvSpec){.ns = 2, .groups = 3, .pads = {1, 1, 1, 1}}, 2, 3, 3, (int64_t[]){5, 6},
             (int64_t[]){3, 3}, true, true);
    run_conv("depthwise x2, stride 2, dilation 2, asymmetric",
             (ConvSpec){.ns = 2, .groups = 3, .strides = {2, 2}, .dilations = {2, 1}, .pads = {2, 0, 1, 2}}, 2, 3, 6,
             (int64_t[]){7, 6}, (int64_t[]){3, 3}, true, false);
    run_conv("depthwise width stride 3, width dilation 2",
             (ConvSpec){.ns = 2, .groups = 2, .strides = {1, 3}, .dilations = {1, 2}, .pads = {1, 3, 0, 2}}, 2, 2, 4,
             (int64_t[]){4, 13}, (int64_t[]){2, 3}, true, true);
    run_conv("depthwise 9x9 (more taps than the lane accumulators hold)",
             (ConvSpec){.ns = 2, .groups = 2, .pads = {4, 4, 4, 4}}, 1, 2, 2, (int64_t[]){9, 10}, (int64_t[]){9, 9}, false,
             false);
    run_conv("depthwise 1x17 (wider than the flipped stride-1 row)", (ConvSpec){.ns = 2, .groups = 2, .pads = {0, 8, 0, 8}},
             1, 2, 2, (int64_t[]){2, 20}, (int64_t[]){1, 17}, false, false);
    run_conv("one input channel, many outputs", (ConvSpec){.ns = 2, .groups = 1, .pads = {0, 1, 0, 1}}, 2, 1, 4,
             (int64_t[]){4, 5}, (int64_t[]){2, 3}, false, false);
    /* work enough to share out over the threads: planes of dx and channels of dw (each thread its
     * own phase-split rows for the width stride) */
    run_conv("depthwise x2, stride 2, split over threads",
             (ConvSpec){.ns = 2, .groups = 8, .strides = {2, 2}, .pads = {1, 1, 1, 1}}, 2, 8, 16, (int64_t[]){20, 22},
             (int64_t[]){3, 3}, true, false);
}

Test(grad_conv, one_and_three_spatial_dims)
{
    run_conv("1-D stride 2, pads 1/2", (ConvSpec){.ns = 1, .groups = 1, .strides = {2}, .pads = {1, 2}}, 2, 2, 3,
             (int64_t[]){9}, (int64_t[]){3}, true, true);
    run_conv("1-D depthwise dilated", (ConvSpec){.ns = 1, .groups = 2, .dilations = {3}, .pads = {3, 3}}, 1, 2, 4,
             (int64_t[]){8}, (int64_t[]){3}, false, false);
    run_conv("3-D", (ConvSpec){.ns = 3, .groups = 1, .strides = {1, 2, 1}, .pads = {1, 0, 1, 0, 1, 1}}, 1, 2, 2,
             (int64_t[]){4, 4, 3}, (int64_t[]){2, 3, 2}, true, false);
    run_conv("3-D depthwise", (ConvSpec){.ns = 3, .groups = 2, .strides = {2, 1, 1}, .pads = {1, 1, 0, 0, 1, 1}}, 1,
             2, 2, (int64_t[]){4, 3, 3}, (int64_t[]){3, 2, 2}, true, false);
}

Test(grad_conv, pointwise)
{
    run_conv("1x1", (ConvSpec){.ns = 2, .groups = 1}, 2, 4, 3, (int64_t[]){3, 4}, (int64_t[]){1, 1}, true, true);
    run_conv("1x1 grouped", (ConvSpec){.ns = 2, .groups = 2}, 1, 4, 6, (int64_t[]){3, 3}, (int64_t[]){1, 1}, false,
             false);
    run_conv("1x1 stride 2", (ConvSpec){.ns = 2, .groups = 1, .strides = {2, 2}}, 1, 3, 2, (int64_t[]){5, 5},
             (int64_t[]){1, 1}, true, false);
}

/* Images large enough for the direct kernels: the input gradient (stride 1, groups 1) is a
 * convolution of dy with the flipped weights (asymmetric pads and dilation change its padding),
 * the weight gradient runs over shifted windows of x, several images in slices summed apart. */
Test(grad_conv, direct_gradients)
{
    run_conv("3 images in slices, 16x16", (ConvSpec){.ns = 2, .groups = 1, .pads = {1, 1, 1, 1}}, 3, 3, 4,
             (int64_t[]){16, 16}, (int64_t[]){3, 3}, true, false);
    run_conv("groups 2, stride 2, 3 images", (ConvSpec){.ns = 2, .groups = 2, .strides = {2, 2}, .pads = {1, 1, 1, 1}},
             3, 4, 6, (int64_t[]){30, 32}, (int64_t[]){3, 3}, false, false);
    run_conv("3x3 pad 1, 12x12", (ConvSpec){.ns = 2, .groups = 1, .pads = {1, 1, 1, 1}}, 2, 3, 5, (int64_t[]){12, 12},
             (int64_t[]){3, 3}, true, false);
    run_conv("3x2 asymmetric pads, 13x16", (ConvSpec){.ns = 2, .groups = 1, .pads = {1, 0, 2, 1}}, 1, 4, 3,
             (int64_t[]){13, 16}, (int64_t[]){3, 2}, false, false);
    run_conv("dilation 2, 14x15", (ConvSpec){.ns = 2, .groups = 1, .dilations = {2, 2}, .pads = {2, 2, 2, 2}}, 2, 2, 3,
             (int64_t[]){14, 15}, (int64_t[]){3, 3}, false, false);
}

/* Images of at most 16 pixels (4x4 layers): the first input gradient (stride 1, groups 1) is the
 * convolution of dy with the flipped weights through im2col, which gathers a whole image through a
 * table of positions; the weight gradients' im2col too. */
Test(grad_conv, small_image_gradients)
{
    run_conv("4x4, 3x3 pad 1", (ConvSpec){.ns = 2, .groups = 1, .pads = {1, 1, 1, 1}}, 3, 3, 4, (int64_t[]){4, 4},
             (int64_t[]){3, 3}, true, false);
    run_conv("4x3, dilation 2, asymmetric pads", (ConvSpec){.ns = 2, .groups = 1, .dilations = {2, 2}, .pads = {2, 1, 1, 2}},
             2, 2, 3, (int64_t[]){4, 3}, (int64_t[]){3, 3}, false, false);
}

/* 3x3, stride 1, 32 channels or more: the forward convolution and the input gradient (the
 * convolution of dy with the flipped weights) through Winograd's kernel, the weights transformed on
 * every call; odd widths (a last tile half outside) and two images. */
Test(grad_conv, winograd_gradients)
{
    ConvSpec s = {.ns = 2, .groups = 1, .pads = {1, 1, 1, 1}};
    GfCase c = conv_case("winograd 32 -> 40, 8x9", &s, 2, 32, 40, (int64_t[]){8, 9}, (int64_t[]){3, 3}, true, 7);
    c.sample = 97;
    gf_check(&c, true, false);
    gf_free_case(&c);
}

/* Small images in a batch of 16 or more: the tiles of 16 images in the vector lanes, forward, input
 * gradient and weight gradient (the last of 17 images alone in its 16 lanes); odd sizes. */
Test(grad_conv, winograd_lanes_gradients)
{
    ConvSpec s = {.ns = 2, .groups = 1, .pads = {1, 1, 1, 1}};
    GfCase c = conv_case("winograd lanes 16 -> 24, 5x4", &s, 17, 16, 24, (int64_t[]){5, 4}, (int64_t[]){3, 3}, true, 9);
    c.sample = 211;
    gf_check(&c, true, false);
    gf_free_case(&c);
}

/* The column matrix of this case exceeds one block (2 MiB), so im2col runs in several blocks. */
Test(grad_conv, im2col_in_blocks)
{
    ConvSpec s = {.ns = 2, .groups = 1, .pads = {1, 1, 1, 1}};
    GfCase c = conv_case("blocks", &s, 1, 16, 4, (int64_t[]){64, 64}, (int64_t[]){3, 3}, true, 5);
    c.sample = 331;
    gf_check(&c, true, false);
    gf_free_case(&c);
}

Test(grad_conv, conv_transpose)
{
    run_conv("transpose stride 2, pad 1, output_padding 1, groups 2",
             (ConvSpec){.ns = 2, .groups = 2, .strides = {2, 2}, .pads = {1, 1, 1, 0}, .transpose = true,
                        .output_padding = {1, 0}},
             2, 4, 6, (int64_t[]){3, 4}, (int64_t[]){3, 3}, true, true);
    run_conv("transpose 1-D dilated", (ConvSpec){.ns = 1, .groups = 1, .dilations = {2}, .pads = {1, 0}, .transpose = true},
             1, 3, 2, (int64_t[]){5}, (int64_t[]){3}, false, false);
}

/* A CONV_GRAD_INPUT whose gradient shape does not fit dy names the node and the shapes. */
Test(grad_conv, grad_op_shape_errors)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("bad");
    ir_graph_set_source(g, "test");
    IrShape dys = ir_shape_make(4, (int64_t[]){1, 4, 3, 3}), ws = ir_shape_make(4, (int64_t[]){4, 2, 3, 3});
    IrValue *dy = ir_value_new(g, "dy", SD_DT_F32, &dys), *w = ir_value_new(g, "w", SD_DT_F32, &ws);
    ir_graph_add_input(g, dy);
    ir_graph_add_input(g, w);
    IrNode *n = ir_node_new1(g, IR_OP_CONV_GRAD_INPUT, "dx_7", (IrValue *[]){dy, w}, 2, SD_DT_F32);
    IrConvAttrs *a = &n->attrs.conv;
    a->nspatial = 2, a->groups = 1;
    int64_t shape[4] = {1, 2, 6, 6}; /* a 3x3 window over 6x6 gives 4x4, not dy's 3x3 */
    memcpy(a->grad_shape, shape, sizeof shape);
    ir_graph_add_output(g, n->outputs[0]);
    PassOptions popt = {0};
    cr_assert_eq(pass_shape(g, &popt, &err), SD_ESHAPE);
    cr_assert(strstr(err.msg, "node 'dx_7' (conv_grad_input)") && strstr(err.msg, "size 4 along spatial axis 0"),
              "%s", err.msg);
    /* padding 1 makes it 6x6 -> 6x6 with stride 1: still not 3x3; stride 2 gives 3x3 */
    a->pads[0] = a->pads[1] = a->pads[2] = a->pads[3] = 1;
    a->strides[0] = a->strides[1] = 2;
    cr_assert_eq(pass_shape(g, &popt, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(n->outputs[0]->shape.dims[3], 6);
    ir_graph_free(g);
}
