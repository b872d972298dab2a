/* tests/codegen/conv.c — Conv and ConvTranspose against a naive double-precision reference, for
 * shapes the ONNX node tests miss (odd sizes, stride 2 with padding, dilation, groups, depthwise
 * with and without a multiplier, 1x1 fast path, 1-D and 3-D, auto_pad, blocks of im2col), each
 * with the OpenBLAS and the builtin GEMM; and errors for bad operands that name the node. */
#include "tests/codegen/conv_harness.h"

static void ref_conv(const ConvCase *c, const Dims3 *t, const float *x, const float *w, const float *b, double *y)
{
    int64_t cin_g = c->cin / c->groups, cout_g = c->cout / c->groups;
    int64_t in_vol = t->in[0] * t->in[1] * t->in[2], out_vol = t->out[0] * t->out[1] * t->out[2];
    int64_t kvol = t->k[0] * t->k[1] * t->k[2];
    for (int64_t n = 0; n < c->batch; n++)
        for (int64_t oc = 0; oc < c->cout; oc++) {
            int64_t g = oc / cout_g;
            for (int64_t o = 0; o < out_vol; o++) {
                int64_t od = o / (t->out[1] * t->out[2]), oh = o / t->out[2] % t->out[1], ow = o % t->out[2];
                double acc = b ? b[oc] : 0.0;
                for (int64_t ic = 0; ic < cin_g; ic++)
                    for (int64_t kk = 0; kk < kvol; kk++) {
                        int64_t kd = kk / (t->k[1] * t->k[2]), kh = kk / t->k[2] % t->k[1], kw = kk % t->k[2];
                        int64_t id = od * t->s[0] - t->pb[0] + kd * t->d[0];
                        int64_t ih = oh * t->s[1] - t->pb[1] + kh * t->d[1];
                        int64_t iw = ow * t->s[2] - t->pb[2] + kw * t->d[2];
                        if (id < 0 || id >= t->in[0] || ih < 0 || ih >= t->in[1] || iw < 0 || iw >= t->in[2])
                            continue;
                        double xv = x[(n * c->cin + g * cin_g + ic) * in_vol + (id * t->in[1] + ih) * t->in[2] + iw];
                        acc += xv * w[(oc * cin_g + ic) * kvol + kk];
                    }
                y[(n * c->cout + oc) * out_vol + o] = acc;
            }
        }
}

static void ref_conv_transpose(const ConvCase *c, const Dims3 *t, const float *x, const float *w, const float *b,
                               double *y)
{
    int64_t cin_g = c->cin / c->groups, cout_g = c->cout / c->groups;
    int64_t in_vol = t->in[0] * t->in[1] * t->in[2], out_vol = t->out[0] * t->out[1] * t->out[2];
    int64_t kvol = t->k[0] * t->k[1] * t->k[2];
    for (int64_t n = 0; n < c->batch; n++)
        for (int64_t oc = 0; oc < c->cout; oc++)
            for (int64_t o = 0; o < out_vol; o++)
                y[(n * c->cout + oc) * out_vol + o] = b ? b[oc] : 0.0;
    for (int64_t n = 0; n < c->batch; n++)
        for (int64_t ic = 0; ic < c->cin; ic++) {
            int64_t g = ic / cin_g;
            for (int64_t i = 0; i < in_vol; i++) {
                int64_t id = i / (t->in[1] * t->in[2]), ih = i / t->in[2] % t->in[1], iw = i % t->in[2];
                double xv = x[(n * c->cin + ic) * in_vol + i];
                for (int64_t ocg = 0; ocg < cout_g; ocg++)
                    for (int64_t kk = 0; kk < kvol; kk++) {
                        int64_t kd = kk / (t->k[1] * t->k[2]), kh = kk / t->k[2] % t->k[1], kw = kk % t->k[2];
                        int64_t od = id * t->s[0] - t->pb[0] + kd * t->d[0];
                        int64_t oh = ih * t->s[1] - t->pb[1] + kh * t->d[1];
                        int64_t ow = iw * t->s[2] - t->pb[2] + kw * t->d[2];
                        if (od < 0 || od >= t->out[0] || oh < 0 || oh >= t->out[1] || ow < 0 || ow >= t->out[2])
                            continue;
                        int64_t oc = g * cout_g + ocg;
                        y[(n * c->cout + oc) * out_vol + (od * t->out[1] + oh) * t->out[2] + ow] +=
                            xv * w[(ic * cout_g + ocg) * kvol + kk];
                    }
            }
        }
}

static void check_conv_mode(const ConvCase *c, const char *gemm, bool folded)
{
    Dims3 t = dims3(c);
    int rank = 2 + c->ns;
    int64_t xd[5] = {c->batch, c->cin};
    for (int i = 0; i < c->ns; i++)
        xd[2 + i] = c->in[i];
    int64_t kvol = t.k[0] * t.k[1] * t.k[2];
    int64_t wn = c->transpose ? c->cin * (c->cout / c->groups) * kvol : c->cout * (c->cin / c->groups) * kvol;
    int64_t yn = c->batch * c->cout * t.out[0] * t.out[1] * t.out[2];
    float *w = malloc((size_t)wn * sizeof *w), *b = malloc((size_t)c->cout * sizeof *b);
    double *want = malloc((size_t)yn * sizeof *want);
    RtTensor x = {0}, y = {0};
    SdError err = {0};
    cr_assert_eq(rt_tensor_alloc(&x, SD_DT_F32, rank, xd, &err), SD_OK);
    harness_fill(x.data, harness_numel(rank, xd), 1);
    harness_fill(w, wn, 2);
    harness_fill(b, c->cout, 3);
    if (c->transpose)
        ref_conv_transpose(c, &t, x.data, w, c->bias ? b : NULL, want);
    else
        ref_conv(c, &t, x.data, w, c->bias ? b : NULL, want);

    IrGraph *g = conv_graph(c, w, b, folded ? x.data : NULL);
    SdStatus st = harness_run(g, gemm, &x, folded ? 0 : 1, &y, 1, &err);
    cr_assert_eq(st, SD_OK, "%s (%s): %s", c->name, gemm, err.msg);
    cr_assert_eq(y.rank, rank, "%s: rank %d", c->name, y.rank);
    cr_assert_eq(y.dims[1], c->cout, "%s: channels %lld", c->name, (long long)y.dims[1]);
    for (int i = 0; i < c->ns; i++)
        cr_assert_eq(y.dims[2 + i], t.out[3 - c->ns + i], "%s: spatial dim %d is %lld, expected %lld", c->name, i,
                     (long long)y.dims[2 + i], (long long)t.out[3 - c->ns + i]);
    double e = harness_max_error(y.data, want, yn);
    /* F(4x4, 3x3)'s transforms scale by up to 8 and 1/24: about ten times the rounding of a direct
     * sum (simulated in double against float for 64 channels: 3.5e-5 to 6e-5 at most, F(2x2, 3x3)
     * 4e-6), so its bound is four times the direct one */
    char kernel[64];
    const bool f4 = strncmp(gemm, "builtin", 7) == 0 && !strstr(gemm, "winograd") && !strstr(gemm, "prepack") &&
                    !c->transpose &&
                    strcmp(lower_case(c, 0, 2, kernel, sizeof kernel, NULL), "rt_conv_winograd4_f32") == 0;
    cr_expect(e < (f4 ? 4 : 1) * (2e-7 * (double)(kvol * (c->cin / c->groups) + 8) + 1e-6),
              "%s (%s): max relative error %g", c->name, gemm, e);
    rt_tensor_free(&x);
    rt_tensor_free(&y);
    free(w), free(b), free(want);
}

static void check_conv(const ConvCase *c, const char *gemm) { check_conv_mode(c, gemm, false); }

static const ConvCase cases[] = {
    {"odd_3x3_pad1", 2, 2, 3, 8, 1, {17, 19}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"stride2_asym_pads", 2, 1, 5, 7, 1, {17, 19}, {3, 3}, {2, 2}, {1, 1}, {1, 0, 2, 1}, .bias = true,
     .kernel_attr = true},
    {"dilation2", 2, 1, 4, 6, 1, {15, 18}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, .auto_pad = IR_PAD_NOTSET},
    {"dilation2_stride2_rect", 2, 1, 3, 5, 1, {21, 16}, {3, 5}, {2, 1}, {2, 3}, {1, 3, 2, 0}, .bias = true},
    {"groups4", 2, 2, 8, 12, 4, {11, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"groups2_stride2", 2, 1, 6, 4, 2, {10, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .auto_pad = IR_PAD_NOTSET},
    {"depthwise3x3_s2", 2, 1, 32, 32, 32, {17, 19}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"depthwise5x5_s2", 2, 1, 32, 32, 32, {17, 19}, {5, 5}, {2, 2}, {1, 1}, {2, 2, 2, 2}, .bias = true},
    {"depthwise3x3_s1", 2, 2, 16, 16, 16, {14, 15}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .auto_pad = IR_PAD_NOTSET},
    {"depthwise_multiplier2", 2, 1, 8, 16, 8, {9, 12}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"depthwise_dilated_big_pad", 2, 1, 4, 4, 4, {6, 7}, {3, 3}, {1, 2}, {2, 2}, {3, 3, 3, 4}, .auto_pad = IR_PAD_NOTSET},
    /* strided planes too large for the banded copies and the lanes (over 3136 floats): the row
     * loops with their checked borders; one of 1440 floats in the lanes */
    {"depthwise_large_plane_s2", 2, 1, 4, 4, 4, {62, 58}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"depthwise_lanes_3x3_s2_large", 2, 1, 4, 4, 4, {40, 36}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* planes in several bands of rows (the last one shorter), strided ones in one band (rows
     * whose copies end in overlapping vectors), and rows too wide for any band */
    {"depthwise_bands", 2, 1, 3, 3, 3, {151, 130}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"depthwise_band_s2_dilated", 2, 1, 2, 2, 2, {31, 33}, {3, 3}, {2, 2}, {2, 2}, {2, 2, 2, 2}, .bias = true},
    {"depthwise_band_s2_wide_rows", 2, 1, 2, 2, 2, {8, 100}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"depthwise_row_too_wide_for_bands", 2, 1, 2, 2, 2, {3, 4200}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* strided bands, which only a channel multiplier takes now (the lanes kernel the others) */
    {"depthwise_multiplier2_s2_band", 2, 1, 8, 16, 8, {17, 19}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* 16 channels in the lanes (conv_depthwise_lanes.c): a last block of 8, two images; bands of
     * rows (30x30 outputs); a 5x5 window at stride 2 on a plane larger than the small ones, in
     * bands bounded by the tile */
    {"depthwise_lanes_partial_block", 2, 2, 40, 40, 40, {9, 11}, {5, 5}, {1, 1}, {1, 1}, {2, 2, 2, 2}, .bias = true},
    {"depthwise_lanes_bands", 2, 1, 20, 20, 20, {30, 30}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"depthwise_lanes_5x5_s2_large", 2, 1, 20, 20, 20, {56, 50}, {5, 5}, {2, 2}, {1, 1}, {2, 2, 2, 2}, .auto_pad = IR_PAD_NOTSET},
    {"single_input_channel", 2, 1, 1, 8, 1, {13, 11}, {5, 5}, {1, 1}, {1, 1}, {2, 2, 2, 2}, .bias = true},
    {"pointwise", 2, 2, 16, 24, 1, {9, 11}, {1, 1}, {1, 1}, {1, 1}, {0}, .bias = true},
    {"pointwise_groups2", 2, 1, 16, 8, 2, {7, 5}, {1, 1}, {1, 1}, {1, 1}, {0}, .auto_pad = IR_PAD_NOTSET},
    /* one chunk of one block on 2 threads: two blocks of columns (208 + 192) instead */
    {"pointwise_column_blocks", 2, 1, 16, 24, 1, {20, 20}, {1, 1}, {1, 1}, {1, 1}, {0}, .bias = true},
    {"pointwise_stride2", 2, 1, 8, 16, 1, {13, 11}, {1, 1}, {2, 2}, {1, 1}, {0}, .bias = true},
    {"same_upper_s2", 2, 1, 3, 4, 1, {17, 19}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .auto_pad = IR_PAD_SAME_UPPER, .bias = true},
    {"same_lower_s2_even_kernel", 2, 1, 3, 4, 1, {16, 15}, {4, 4}, {2, 2}, {1, 1}, {1, 2, 1, 1},
     .auto_pad = IR_PAD_SAME_LOWER},
    {"same_upper_s1_even_kernel", 2, 1, 2, 3, 1, {8, 9}, {2, 2}, {1, 1}, {1, 1}, {0, 0, 1, 1}, .auto_pad = IR_PAD_SAME_UPPER},
    {"valid", 2, 1, 3, 4, 1, {10, 11}, {3, 4}, {2, 3}, {1, 1}, {0}, .auto_pad = IR_PAD_VALID},
    {"conv1d_pad_stride", 1, 2, 4, 6, 1, {31}, {5}, {2}, {1}, {2, 1}, .bias = true},
    {"conv1d_depthwise", 1, 1, 6, 6, 6, {20}, {3}, {1}, {2}, {2, 2}, .auto_pad = IR_PAD_NOTSET},
    {"conv3d", 3, 1, 3, 4, 1, {5, 7, 6}, {3, 3, 2}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1, 1, 1, 0}, .bias = true},
    {"conv3d_groups_depthwise", 3, 1, 4, 8, 4, {4, 5, 6}, {2, 3, 3}, {1, 1, 2}, {1, 1, 1}, {0, 1, 1, 1, 1, 1}, .auto_pad = IR_PAD_NOTSET},
    /* K = 576 and OW = 56: several im2col blocks per image */
    {"blocks_64x56x56", 2, 1, 64, 32, 1, {56, 56}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"resnet_stem", 2, 1, 3, 16, 1, {64, 64}, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}, .auto_pad = IR_PAD_NOTSET},
    /* weights packed at compile time (builtin GEMM): channel chunks of a batch-1 layer, the last one
     * short of a whole tile, over three blocks of K; */
    {"packed_chunks_k_blocks", 2, 1, 64, 203, 1, {20, 20}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* more channels than one block of A rows (240), an edge tile of 3 rows; */
    {"packed_row_blocks", 2, 8, 16, 267, 1, {6, 8}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .auto_pad = IR_PAD_NOTSET},
    /* small images side by side in one GEMM: a last, smaller block of images; groups */
    {"images_side_by_side", 2, 30, 24, 40, 1, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"images_groups2_stride2", 2, 11, 8, 12, 2, {9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1},
     .auto_pad = IR_PAD_NOTSET},
    /* images of at most 16 output pixels: im2col through a table of input positions (stride 2 from
     * 7x7; 4x4 with dilation 2, its taps mostly padding) */
    {"small_images_s2", 2, 5, 16, 24, 1, {7, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"small_images_dilated", 2, 9, 8, 16, 1, {4, 4}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, .auto_pad = IR_PAD_NOTSET},
    /* the direct kernel: stride 2 on an even width (input planes split into even and odd columns),
     * images side by side with a last, smaller block (planes by kernel column: narrow images), padding
     * at the end only (planes by column phase), 1-D */
    {"direct_s2_even_images", 2, 7, 6, 20, 1, {20, 20}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"direct_images_last_block", 2, 7, 5, 9, 1, {12, 12}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"direct_3x3_s2_pad_end_only", 2, 3, 4, 8, 1, {29, 44}, {3, 3}, {2, 2}, {1, 1}, {0, 0, 1, 1},
     .auto_pad = IR_PAD_NOTSET},
    {"direct_conv1d", 1, 2, 3, 5, 1, {300}, {5}, {1}, {1}, {2, 2}, .bias = true},
    /* batch 1 in several blocks of rows, each filling only the rows of the planes it reads: stride 2
     * on an even width (split columns), dilation 2 */
    {"direct_s2_row_blocks", 2, 1, 3, 64, 1, {96, 96}, {7, 7}, {2, 2}, {1, 1}, {3, 3, 3, 3}, .bias = true},
    {"direct_dilated_row_blocks", 2, 1, 8, 64, 1, {60, 40}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2},
     .auto_pad = IR_PAD_NOTSET},
    /* batch 1, channels too few for chunks: on more than one thread, blocks of rows share it out
     * (7 rows of 28: a block's planes overlap the next one's) */
    {"direct_few_channels_row_blocks", 2, 1, 12, 32, 1, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* batch 1, stride 2, 14x14 outputs: planes of 15x15 */
    {"direct_s2_batch1_planes_15", 2, 1, 16, 64, 1, {28, 28}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* ... at batch 8: planes by kernel column (15x14), as wide as the outputs, so an image's rows go
     * into y as one run; and 7x7 outputs of images side by side */
    {"direct_s2_col_taps_planes_15x14", 2, 8, 16, 32, 1, {28, 28}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"direct_s2_rows_of_7", 2, 6, 12, 20, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .auto_pad = IR_PAD_NOTSET},
    /* batch 1, few channels: a block of rows for each thread (direct), of tile rows (Winograd) */
    {"direct_s2_rows_per_thread", 2, 1, 16, 32, 1, {28, 28}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"winograd_blocks_per_thread", 2, 1, 16, 16, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* ... and with 32 channels, two chunks of 16 */
    {"winograd_chunks_of_16", 2, 1, 32, 32, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* a 1x1 conv split into chunks */
    {"packed_pointwise_chunks", 2, 1, 40, 100, 1, {12, 12}, {1, 1}, {1, 1}, {1, 1}, {0}, .bias = true},
    /* a 1x1 conv over more columns than one block before its epilogue (and a last, shorter block) */
    {"pointwise_column_blocks", 2, 2, 8, 96, 1, {24, 25}, {1, 1}, {1, 1}, {1, 1}, {0}, .bias = true},
    /* batch 1, 7x7 outputs: C^T against weights packed transposed, in chunks of whole slivers, the
     * last one narrower than a vector; groups; stride 2; 1x1 */
    {"packed_t_7x7_chunks", 2, 1, 40, 200, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"packed_t_groups2", 2, 1, 32, 192, 2, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .auto_pad = IR_PAD_NOTSET},
    {"packed_t_stride2", 2, 1, 24, 64, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"packed_t_pointwise", 2, 1, 64, 100, 1, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0}, .bias = true},
    /* 4x4 outputs, a GEMM one vector wide: C^T too (80 channels: a sliver and two vectors) */
    {"packed_t_4x4_one_vector", 2, 1, 24, 80, 1, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* ... in two chunks of 64 channels, each a sliver and a vector (packed from its chunk's start) */
    {"packed_t_chunks_of_64", 2, 1, 32, 128, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* Winograd F(2x2, 3x3) (weights packed at compile time, 3x3 stride 1, enough tiles and
     * channels): odd sizes (a last tile half outside), blocks of tile rows across images with a
     * shorter last block; unpadded, in channel chunks (the last one 8 channels); padding of 2 on
     * one side and none on another */
    {"winograd_odd_images_blocks", 2, 3, 32, 48, 1, {13, 15}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"winograd_unpadded_chunks", 2, 1, 40, 200, 1, {30, 26}, {3, 3}, {1, 1}, {1, 1}, {0}, .bias = true},
    {"winograd_asym_pads", 2, 4, 32, 32, 1, {9, 10}, {3, 3}, {1, 1}, {1, 1}, {2, 1, 0, 2}, .auto_pad = IR_PAD_NOTSET},
    /* rows of 16 tiles or more stored straight into y: an even width (its last vector recomputed to
     * end at the row's end), an odd one (the rest through the row buffers) */
    {"winograd_wide_even", 2, 1, 32, 32, 1, {20, 40}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"winograd_wide_odd", 2, 1, 32, 40, 1, {12, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* small images, the tiles of 16 images in the vector lanes (with F(2x2, 3x3); F(4x4, 3x3), which
     * their constant weights take by default, in blocks of 16 images): 7x7 (a second block of 2
     * images, planes of 49 pixels: 3 whole transposes and one pixel alone); 5x4 unpadded from 7x6
     * (odd sizes, one block of 20 images in 32 lanes); 4x4 with asymmetric pads and channel chunks */
    {"winograd_lanes_7x7", 2, 18, 32, 40, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"winograd_lanes_odd_unpadded", 2, 20, 16, 24, 1, {7, 6}, {3, 3}, {1, 1}, {1, 1}, {0}, .bias = true},
    {"winograd_lanes_4x4_chunks", 2, 33, 24, 200, 1, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {2, 1, 0, 1},
     .auto_pad = IR_PAD_NOTSET},
    /* wider images with few channels (their transforms in the budget of WINOGRAD_LANES_MAX_V) */
    {"winograd_lanes_12x11_few_channels", 2, 16, 16, 32, 1, {12, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1},
     .bias = true},
    /* F(4x4, 3x3) in lanes: 16 tiles an image, three blocks of 16 images, the last one of 8 */
    {"winograd_lanes_14x14_blocks", 2, 40, 16, 24, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* F(4x4, 3x3) (outputs 8 wide and high or more, not in lanes, 48 tiles of 4x4 or more, and 64
     * output channels or 224 tiles): rows of 3 and 7 inputs (their transforms in scalars and in
     * 4-lane vectors) under wide padding, a row of 70 outputs (64 stored straight into y, 6 through
     * the buffer) in channel chunks, blocks of 11 tile rows across 3 images (the last one of 8) */
    {"winograd4_rows_of_3_pads_4", 2, 6, 16, 64, 1, {10, 3}, {3, 3}, {1, 1}, {1, 1}, {1, 4, 1, 4}, .bias = true,
     .auto_pad = IR_PAD_NOTSET},
    {"winograd4_rows_of_7_pads_2", 2, 6, 24, 64, 1, {12, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 2, 1, 2},
     .auto_pad = IR_PAD_NOTSET},
    {"winograd4_rows_of_70_chunks", 2, 1, 16, 200, 1, {10, 70}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    {"winograd4_blocks_across_images", 2, 3, 32, 64, 1, {40, 40}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
    /* in lanes with F(4x4, 3x3) only (F(2x2)'s transforms of 16 images too large): 28x28 outputs of
     * 17 images, a second block of one */
    {"winograd4_lanes_28x28", 2, 17, 24, 16, 1, {28, 28}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true},
};
/* the cases above that take Winograd's kernel where it is allowed (and one below that does not: 9 tiles) */
static const char *const winograd_cases[] = {"winograd_odd_images_blocks", "winograd_unpadded_chunks",
                                             "winograd_asym_pads", "winograd_wide_even", "winograd_wide_odd",
                                             "winograd_lanes_7x7", "winograd_lanes_odd_unpadded",
                                             "winograd_lanes_4x4_chunks", "winograd_lanes_12x11_few_channels",
                                             "winograd_lanes_14x14_blocks",
                                             "winograd4_rows_of_3_pads_4", "winograd4_rows_of_7_pads_2",
                                             "winograd4_rows_of_70_chunks", "winograd4_blocks_across_images",
                                             "winograd4_lanes_28x28"};

static const ConvCase transpose_cases[] = {
    {"t_stride2_outpad1", 2, 1, 4, 6, 1, {5, 7}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true, .transpose = true,
     .output_padding = {1, 1}},
    {"t_groups2_dilation", 2, 2, 4, 6, 2, {6, 5}, {3, 2}, {2, 3}, {2, 1}, {0, 1, 2, 0}, .transpose = true,
     .output_padding = {1, 0}},
    {"t_1d", 1, 1, 3, 2, 1, {9}, {4}, {3}, {1}, {1, 2}, .bias = true, .transpose = true, .output_padding = {2}},
    {"t_3d", 3, 1, 2, 3, 1, {3, 4, 3}, {2, 3, 3}, {2, 1, 2}, {1, 1, 1}, {0, 1, 1, 0, 0, 1}, .transpose = true,
     .output_padding = {1, 0, 1}},
    {"t_big_blocks", 2, 1, 32, 32, 1, {40, 40}, {4, 4}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true,
     .transpose = true},
};

Test(conv, matches_reference_openblas)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv(&cases[i], "openblas");
}

/* Where shapes allow, a 2-D convolution goes through Winograd's kernel (3x3, stride 1) or
 * rt_conv_direct_f32 (weights packed at compile time, or as they are without prepack: a training
 * step's); without them, through im2col. */
Test(conv, matches_reference_builtin)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_conv(&cases[i], "builtin");
        check_conv(&cases[i], "builtin:prepack");
        check_conv(&cases[i], "builtin:direct-conv");
        check_conv(&cases[i], "builtin:winograd"); /* the direct kernel with packed weights */
        check_conv(&cases[i], "builtin:winograd4"); /* F(2x2, 3x3) where F(4x4, 3x3) would be */
    }
}

Test(conv, winograd_where_planned)
{
    char k[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < sizeof winograd_cases / sizeof winograd_cases[0]; j++)
            if (strcmp(cases[i].name, winograd_cases[j]) == 0) {
                /* constant weights in lanes take F(4x4, 3x3) too */
                const bool in_lanes = strncmp(cases[i].name, "winograd_lanes", 14) == 0;
                const bool in_lanes4 = in_lanes || strncmp(cases[i].name, "winograd4_lanes", 15) == 0;
                const bool f4 = strncmp(cases[i].name, "winograd4_", 10) == 0 || in_lanes;
                bool lanes = false;
                cr_expect_str_eq(lowered_kernel_lanes(&cases[i], 0, k, sizeof k, &lanes),
                                 f4 ? "rt_conv_winograd4_f32" : "rt_conv_winograd_f32", "%s", cases[i].name);
                cr_expect_eq(lanes, in_lanes4, "%s: images in the lanes %d", cases[i].name, lanes);
                cr_expect_str_eq(lowered_kernel_lanes(&cases[i], PLAN_NO_WINOGRAD4, k, sizeof k, &lanes),
                                 "rt_conv_winograd_f32", "%s", cases[i].name);
                cr_expect_eq(lanes, in_lanes, "%s: images in the lanes %d", cases[i].name, lanes);
                lowered_kernel(&cases[i], PLAN_NO_WINOGRAD, k, sizeof k);
                cr_expect(strncmp(k, "rt_conv_winograd", 16) != 0, "%s: %s", cases[i].name, k);
            }
    /* 2x2 outputs in lanes: one 4x4 tile of F(4x4, 3x3) would take 36 products for 4 outputs, F(2x2)'s
     * one tile 16 */
    const ConvCase out_2x2 = {"out_2x2", 2, 16, 32, 32, 1, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, .bias = false};
    bool lanes = false;
    cr_expect_str_eq(lowered_kernel_lanes(&out_2x2, 0, k, sizeof k, &lanes), "rt_conv_winograd_f32");
    cr_expect(lanes, "2x2 outputs: images in the lanes");
    const ConvCase few_tiles = {"few_tiles", 2, 1, 64, 64, 1, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = false};
    cr_expect(strncmp(lowered_kernel(&few_tiles, 0, k, sizeof k), "rt_conv_winograd", 16) != 0, "%s", k);
}

/* SEEDC_PERF=1 links the JIT's code through another layer (RTDyld, position-independent code, a
 * jitdump file for perf): the same results. */
Test(conv, jit_under_perf_matches_reference)
{
    char dir[] = "/tmp/seedc-perf-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    setenv("JITDUMPDIR", dir, 1);
    setenv("SEEDC_PERF", "1", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i += 4)
        check_conv(&cases[i], "builtin");
    char rm[64];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    cr_expect_eq(system(rm), 0);
}

Test(conv, transpose_matches_reference)
{
    for (size_t i = 0; i < sizeof transpose_cases / sizeof transpose_cases[0]; i++) {
        check_conv(&transpose_cases[i], "openblas");
        check_conv(&transpose_cases[i], "builtin");
    }
}

/* The same kernels run natively when constant folding computes a node (and, in the sanitizer
 * build, instrumented). */
Test(conv, folded_matches_reference)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv_mode(&cases[i], i % 2 ? "builtin" : "openblas", true);
    for (size_t i = 0; i < sizeof transpose_cases / sizeof transpose_cases[0]; i++)
        check_conv_mode(&transpose_cases[i], "openblas", true);
}

/* Expects shape inference of the one-node graph of c (weights of shape wd) to fail naming the
 * node and saying `what`. */
static void expect_error(const ConvCase *c, int w_rank, const int64_t *wd, const char *what)
{
    int rank = 2 + c->ns;
    IrGraph *g = ir_graph_new("conv_test");
    ir_graph_set_source(g, "bad.onnx");
    int64_t xd[5] = {c->batch, c->cin};
    for (int i = 0; i < c->ns; i++)
        xd[2 + i] = c->in[i];
    int64_t wn = harness_numel(w_rank, wd);
    float *w = calloc((size_t)wn, sizeof *w);
    IrValue *ins[3] = {harness_input(g, "x", SD_DT_F32, rank, xd), harness_const_f32(g, "w", w_rank, wd, w)};
    if (c->bias) {
        float b[64] = {0};
        ins[2] = harness_const_f32(g, "b", 1, (int64_t[]){c->cout}, b);
    }
    free(w);
    IrValue *y = ir_value_new(g, "y", SD_DT_UNDEFINED, NULL);
    IrNode *n = ir_node_new(g, c->transpose ? IR_OP_CONV_TRANSPOSE : IR_OP_CONV, c->name, ins, c->bias ? 3 : 2, &y, 1);
    n->attrs.conv.nspatial = c->ns;
    n->attrs.conv.groups = c->groups;
    memcpy(n->attrs.conv.pads, c->pads, sizeof c->pads);
    memcpy(n->attrs.conv.dilations, c->dilations, sizeof c->dilations);
    ir_graph_add_output(g, y);
    RtTensor x = {0}, out = {0};
    SdError err = {0};
    cr_assert_eq(rt_tensor_alloc(&x, SD_DT_F32, rank, xd, &err), SD_OK);
    SdStatus st = harness_run(g, "openblas", &x, 1, &out, 1, &err);
    rt_tensor_free(&x);
    char label[128];
    snprintf(label, sizeof label, "node '%s' (%s)", c->name, c->transpose ? "conv_transpose" : "conv");
    cr_expect_neq(st, SD_OK, "%s compiled", c->name);
    cr_expect(strstr(err.msg, "bad.onnx") && strstr(err.msg, label), "message does not name the node: %s", err.msg);
    cr_expect(strstr(err.msg, what), "message does not say '%s': %s", what, err.msg);
}

Test(conv, errors_name_the_node)
{
    /* 4 channels in 2 groups need weights with 2 input channels, not 3 */
    expect_error(&(ConvCase){"conv_bad_groups", 2, 1, 4, 6, 2, {8, 8}, .dilations = {1, 1}}, 4,
                 (int64_t[]){6, 3, 3, 3}, "input channels per group");
    /* weights for 3 channels on a 4-channel input */
    expect_error(&(ConvCase){"conv_bad_channels", 2, 1, 4, 6, 1, {8, 8}, .dilations = {1, 1}}, 4,
                 (int64_t[]){6, 3, 3, 3}, "4 are expected");
    /* a 7x7 kernel over a 4x4 input padded by 1 */
    expect_error(&(ConvCase){"conv_big_kernel", 2, 1, 2, 3, 1, {4, 4}, .dilations = {1, 1}, .pads = {1, 1, 1, 1}},
                 4, (int64_t[]){3, 2, 7, 7}, "padded input");
    /* a dilated 3x3 (extent 7) over 5 wide, unpadded */
    expect_error(&(ConvCase){"conv_dilated_too_wide", 2, 1, 2, 3, 1, {9, 5}, .dilations = {1, 3}}, 4,
                 (int64_t[]){3, 2, 3, 3}, "padded input");
    /* a bias of the wrong size */
    expect_error(&(ConvCase){"conv_bad_bias", 2, 1, 2, 5, 1, {6, 6}, .dilations = {1, 1}, .bias = true}, 4,
                 (int64_t[]){3, 2, 3, 3}, "bias 'b'");
    /* groups that do not divide the channels */
    expect_error(&(ConvCase){"conv_bad_group_count", 2, 1, 6, 4, 4, {6, 6}, .dilations = {1, 1}}, 4,
                 (int64_t[]){4, 1, 3, 3}, "group = 4");
    /* ConvTranspose weights must have the input's channels first */
    expect_error(&(ConvCase){"convt_bad_channels", 2, 1, 4, 2, 1, {6, 6}, .dilations = {1, 1}, .transpose = true},
                 4, (int64_t[]){3, 2, 3, 3}, "input channels");
    /* a 3-D weight on a 2-D image */
    expect_error(&(ConvCase){"conv_bad_rank", 2, 1, 2, 3, 1, {6, 6}, .dilations = {1, 1}}, 3,
                 (int64_t[]){3, 2, 3}, "rank 4 is expected");
}
