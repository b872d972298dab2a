/* tests/codegen/resize.c — Resize against naive double references: bilinear x2 of an odd-size
 * image, trilinear align_corners over the last three dims, nearest on integer data with axes,
 * identity cubic, and the messages for inconsistent inputs. JIT and constant folding both. */
#include "single_node.h"

typedef struct {
    IrResizeMode mode;
    IrResizeCoord coord;
    IrResizeNearest nearest;
    bool antialias;
    float extrapolation;
    int n_axes;
    int64_t axes[IR_MAX_RANK];
} ResizeSetup;

static void setup_resize(IrNode *n, void *ctx)
{
    const ResizeSetup *s = ctx;
    IrResizeAttrs *a = &n->attrs.resize;
    a->mode = s->mode;
    a->coord = s->coord;
    a->nearest = s->nearest;
    a->antialias = s->antialias;
    a->cubic_coeff_a = -0.75f;
    a->extrapolation_value = s->extrapolation;
    a->n_axes = s->n_axes;
    memcpy(a->axes, s->axes, sizeof a->axes);
}

/* Linear taps of output coordinate x along one dim (edge-clamped). */
static void linear_taps(IrResizeCoord coord, int64_t x, int64_t in, int64_t out, double scale, int64_t *i0, int64_t *i1,
                        double *frac)
{
    double xo = coord == IR_COORD_ALIGN_CORNERS ? (out == 1 ? 0 : (double)x * (double)(in - 1) / (double)(out - 1))
                                                : ((double)x + 0.5) / scale - 0.5;
    xo = xo < 0 ? 0 : xo > (double)(in - 1) ? (double)(in - 1) : xo;
    *i0 = (int64_t)floor(xo);
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *frac = xo - (double)*i0;
}

/* Multilinear reference over the last `k` dims of [outer, in...]. */
static void linear_reference(IrResizeCoord coord, const float *x, int64_t outer, int k, const int64_t *in,
                             const int64_t *out, double *y)
{
    int64_t in_n = sn_numel(k, in), out_n = sn_numel(k, out);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t p = 0; p < out_n; p++) {
            int64_t c[3], rem = p;
            for (int d = k - 1; d >= 0; d--)
                c[d] = rem % out[d], rem /= out[d];
            int64_t lo[3], hi[3];
            double f[3];
            for (int d = 0; d < k; d++)
                linear_taps(coord, c[d], in[d], out[d], (double)out[d] / (double)in[d], &lo[d], &hi[d], &f[d]);
            double acc = 0;
            for (int corner = 0; corner < (1 << k); corner++) {
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < k; d++) {
                    bool up = corner >> d & 1;
                    w *= up ? f[d] : 1 - f[d];
                    off = off * in[d] + (up ? hi[d] : lo[d]);
                }
                acc += w * x[o * in_n + off];
            }
            y[o * out_n + p] = acc;
        }
}

Test(resize, bilinear_x2_of_an_odd_size_image)
{
    float x[1 * 2 * 7 * 9];
    sn_fill(x, 126, 21, -1, 1);
    const float scales[4] = {1, 1, 2, 2};
    double want[2 * 14 * 18];
    linear_reference(IR_COORD_HALF_PIXEL, x, 2, 2, (int64_t[]){7, 9}, (int64_t[]){14, 18}, want);
    ResizeSetup s = {.mode = IR_RESIZE_LINEAR, .coord = IR_COORD_HALF_PIXEL};
    for (int fold = 0; fold < 2; fold++) {
        SnOperand ops[3] = {{SD_DT_F32, 4, {1, 2, 7, 9}, x, false}, {0}, {SD_DT_F32, 1, {4}, scales, true}};
        RtTensor y;
        SdError err = {0};
        cr_assert_eq(sn_run(IR_OP_RESIZE, ops, 3, SD_DT_F32, setup_resize, &s, fold, &y, &err), SD_OK, "%s", err.msg);
        cr_assert(y.rank == 4 && y.dims[0] == 1 && y.dims[1] == 2 && y.dims[2] == 14 && y.dims[3] == 18);
        sn_expect_close(y.data, want, 2 * 14 * 18, 1e-5, 1e-6, fold ? "bilinear x2 (folded)" : "bilinear x2 (jit)");
        rt_tensor_free(&y);
    }
}

Test(resize, trilinear_align_corners_with_sizes)
{
    float x[2 * 3 * 4 * 5];
    sn_fill(x, 120, 4, -3, 3);
    const int64_t sizes[5] = {1, 2, 5, 7, 9};
    double want[2 * 5 * 7 * 9];
    linear_reference(IR_COORD_ALIGN_CORNERS, x, 2, 3, (int64_t[]){3, 4, 5}, (int64_t[]){5, 7, 9}, want);
    ResizeSetup s = {.mode = IR_RESIZE_LINEAR, .coord = IR_COORD_ALIGN_CORNERS};
    for (int fold = 0; fold < 2; fold++) {
        SnOperand ops[4] = {{SD_DT_F32, 5, {1, 2, 3, 4, 5}, x, false}, {0}, {0}, {SD_DT_I64, 1, {5}, sizes, true}};
        RtTensor y;
        SdError err = {0};
        cr_assert_eq(sn_run(IR_OP_RESIZE, ops, 4, SD_DT_F32, setup_resize, &s, fold, &y, &err), SD_OK, "%s", err.msg);
        cr_assert(y.rank == 5 && y.dims[2] == 5 && y.dims[3] == 7 && y.dims[4] == 9);
        sn_expect_close(y.data, want, 2 * 5 * 7 * 9, 1e-5, 1e-6, fold ? "trilinear (folded)" : "trilinear (jit)");
        rt_tensor_free(&y);
    }
}

Test(resize, nearest_on_integers_with_axes)
{
    /* [2, 3, 4] u8 and i64, axes (2, 1) with scales (0.5, 1.5): asymmetric floor */
    uint8_t x8[24];
    int64_t x64[24];
    for (int i = 0; i < 24; i++)
        x8[i] = (uint8_t)(i * 11), x64[i] = (int64_t)i * 1000003 - 7;
    const float scales[2] = {0.5f, 1.5f};
    ResizeSetup s = {.mode = IR_RESIZE_NEAREST, .coord = IR_COORD_ASYMMETRIC, .nearest = IR_NEAREST_FLOOR,
                     .n_axes = 2, .axes = {2, -2}};
    for (int wide = 0; wide < 2; wide++)
        for (int fold = 0; fold < 2; fold++) {
            SnOperand ops[3] = {{wide ? SD_DT_I64 : SD_DT_U8, 3, {2, 3, 4}, wide ? (void *)x64 : (void *)x8, false},
                                {0},
                                {SD_DT_F32, 1, {2}, scales, true}};
            RtTensor y;
            SdError err = {0};
            cr_assert_eq(sn_run(IR_OP_RESIZE, ops, 3, ops[0].dtype, setup_resize, &s, fold, &y, &err), SD_OK, "%s",
                         err.msg);
            cr_assert(y.rank == 3 && y.dims[0] == 2 && y.dims[1] == 4 && y.dims[2] == 2, "shape [%lld,%lld,%lld]",
                      (long long)y.dims[0], (long long)y.dims[1], (long long)y.dims[2]);
            for (int64_t a = 0; a < 2; a++)
                for (int64_t b = 0; b < 4; b++)
                    for (int64_t c = 0; c < 2; c++) {
                        int64_t sb = (int64_t)floor((double)b / 1.5), sc = (int64_t)floor((double)c / 0.5);
                        int64_t src = (a * 3 + sb) * 4 + sc, o = (a * 4 + b) * 2 + c;
                        int64_t got = wide ? ((int64_t *)y.data)[o] : ((uint8_t *)y.data)[o];
                        int64_t want = wide ? x64[src] : x8[src];
                        cr_assert_eq(got, want, "%s (%s) element %lld", wide ? "i64" : "u8", fold ? "folded" : "jit",
                                     (long long)o);
                    }
            rt_tensor_free(&y);
        }
}

Test(resize, crop_and_resize_extrapolates_integers)
{
    const int32_t x[4] = {10, 20, 30, 40};
    const float roi[4] = {0, 0.5f, 1, 1.5f}; /* starts, then ends: x_in = x_out + 1.5 along dim 1 */
    const int64_t sizes[2] = {1, 4};
    ResizeSetup s = {.mode = IR_RESIZE_NEAREST, .coord = IR_COORD_TF_CROP_AND_RESIZE, .extrapolation = -7.9f};
    for (int fold = 0; fold < 2; fold++) {
        SnOperand ops[4] = {{SD_DT_I32, 2, {1, 4}, x, false}, {SD_DT_F32, 1, {4}, roi, true}, {0},
                            {SD_DT_I64, 1, {2}, sizes, true}};
        RtTensor y;
        SdError err = {0};
        cr_assert_eq(sn_run(IR_OP_RESIZE, ops, 4, SD_DT_I32, setup_resize, &s, fold, &y, &err), SD_OK, "%s", err.msg);
        const int32_t want[4] = {20, 30, -7, -7};
        for (int i = 0; i < 4; i++)
            cr_assert_eq(((int32_t *)y.data)[i], want[i], "element %d (%s): %d", i, fold ? "folded" : "jit",
                         ((int32_t *)y.data)[i]);
        rt_tensor_free(&y);
    }
}

Test(resize, cubic_at_scale_one_is_a_copy)
{
    float x[3 * 5];
    sn_fill(x, 15, 8, -1, 1);
    const float scales[2] = {1, 1};
    ResizeSetup s = {.mode = IR_RESIZE_CUBIC, .coord = IR_COORD_HALF_PIXEL};
    SnOperand ops[3] = {{SD_DT_F32, 2, {3, 5}, x, false}, {0}, {SD_DT_F32, 1, {2}, scales, true}};
    RtTensor y;
    SdError err = {0};
    cr_assert_eq(sn_run(IR_OP_RESIZE, ops, 3, SD_DT_F32, setup_resize, &s, false, &y, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(memcmp(y.data, x, sizeof x), 0);
    rt_tensor_free(&y);
}

Test(resize, inconsistent_inputs_are_reported_with_the_node)
{
    float x[4] = {0};
    const float scales[2] = {2, 2};
    const int64_t sizes[2] = {4, 4};
    RtTensor y;
    SdError err = {0};
    ResizeSetup lin = {.mode = IR_RESIZE_LINEAR};
    SnOperand both[4] = {{SD_DT_F32, 2, {2, 2}, x, false}, {0}, {SD_DT_F32, 1, {2}, scales, true},
                         {SD_DT_I64, 1, {2}, sizes, true}};
    cr_assert_eq(sn_run(IR_OP_RESIZE, both, 4, SD_DT_F32, setup_resize, &lin, false, &y, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "node_under_test") && strstr(err.msg, "both scales and sizes"), "message was: %s", err.msg);
    SnOperand short_scales[3] = {{SD_DT_F32, 3, {1, 2, 2}, x, false}, {0}, {SD_DT_F32, 1, {2}, scales, true}};
    cr_assert_eq(sn_run(IR_OP_RESIZE, short_scales, 3, SD_DT_F32, setup_resize, &lin, false, &y, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "scales has 2 values; 3 are expected"), "message was: %s", err.msg);
    int64_t xi[4] = {0};
    SnOperand ints[3] = {{SD_DT_I64, 2, {2, 2}, xi, false}, {0}, {SD_DT_F32, 1, {2}, scales, true}};
    cr_assert_eq(sn_run(IR_OP_RESIZE, ints, 3, SD_DT_I64, setup_resize, &lin, false, &y, &err), SD_EDTYPE);
    cr_assert(strstr(err.msg, "linear resizing takes f32"), "message was: %s", err.msg);
    ResizeSetup aa = {.mode = IR_RESIZE_NEAREST, .antialias = true};
    SnOperand ok[3] = {{SD_DT_F32, 2, {2, 2}, x, false}, {0}, {SD_DT_F32, 1, {2}, scales, true}};
    cr_assert_eq(sn_run(IR_OP_RESIZE, ok, 3, SD_DT_F32, setup_resize, &aa, false, &y, &err), SD_EBADMODEL);
    cr_assert(strstr(err.msg, "antialias"), "message was: %s", err.msg);
}
