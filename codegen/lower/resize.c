/* codegen/lower/resize.c — Resize onto table-driven kernels. For every resized dim the source
 * coordinate of each output coordinate is computed here, in double, exactly as ONNX's reference
 * does (including its use of scale * input size as the "output width" of align_corners and
 * tf_crop_and_resize), then turned into taps: source indices (clamped: the edge repeats) and
 * weights. Nearest becomes one gather (rt_resize_nearest); linear and cubic over the last two dims
 * (images) one fused call (rt_resize_2d_f32), otherwise one blending pass per resized dim
 * (rt_resize_axis_f32), the most shrinking dims first so later passes touch less. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/lower/lower.h"
#include "runtime/kernels/half.h"
#include "runtime/kernels/resize.h"
#include "support/mem.h"

typedef struct {
    int64_t taps;
    int64_t *idx;   /* [out][taps], clamped into [0, in) */
    double *w;      /* [out][taps] */
    bool *outside;  /* [out]: tf_crop_and_resize maps it outside the input: extrapolate */
} Taps;

static void taps_free(Taps *t)
{
    free(t->idx), free(t->w), free(t->outside);
    memset(t, 0, sizeof *t);
}

/* The input coordinate of output coordinate x along a dim of in -> out with `scale`. */
static double source_coord(const IrResizeAttrs *a, int64_t x, int64_t in, int64_t out, double scale, double roi0,
                           double roi1, bool *outside)
{
    double width = scale * (double)in; /* ONNX's reference: not the integer output size */
    double xo;
    *outside = false;
    switch (a->coord) {
    case IR_COORD_ALIGN_CORNERS: xo = out == 1 ? 0.0 : (double)x * (double)(in - 1) / (width - 1.0); break;
    case IR_COORD_ASYMMETRIC: xo = (double)x / scale; break;
    case IR_COORD_TF_CROP_AND_RESIZE:
        xo = out == 1 ? (roi1 - roi0) * (double)(in - 1) / 2.0
                      : (double)x * (roi1 - roi0) * (double)(in - 1) / (width - 1.0);
        xo += roi0 * (double)(in - 1);
        *outside = xo < 0.0 || xo > (double)(in - 1);
        break;
    case IR_COORD_PYTORCH_HALF_PIXEL: xo = out == 1 ? -0.5 : ((double)x + 0.5) / scale - 0.5; break;
    case IR_COORD_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)out / width, center = (double)in / 2.0;
        xo = center * (1.0 - adjustment) + ((double)x + 0.5) / scale - 0.5;
        break;
    }
    case IR_COORD_TF_HALF_PIXEL_FOR_NN: xo = ((double)x + 0.5) / scale; break;
    default: xo = ((double)x + 0.5) / scale - 0.5; break; /* half_pixel */
    }
    /* far outside is the same as just outside (the edge repeats), and keeps integers in range */
    if (!(xo >= -4.0))
        xo = -4.0;
    if (xo > (double)in + 4.0)
        xo = (double)in + 4.0;
    return xo;
}

static int64_t clamp_index(int64_t i, int64_t in) { return i < 0 ? 0 : i >= in ? in - 1 : i; }

static int64_t nearest_index(const IrResizeAttrs *a, double xo, double scale)
{
    double fl = floor(xo), ratio = xo - fl;
    if (ratio == 0.0)
        return (int64_t)fl;
    switch (a->nearest) {
    case IR_NEAREST_ROUND_PREFER_CEIL: return (int64_t)fl + (ratio >= 0.5);
    case IR_NEAREST_FLOOR: return (int64_t)fl;
    case IR_NEAREST_CEIL: return (int64_t)fl + 1;
    case IR_NEAREST_SIMPLE: return (int64_t)fl + (scale < 1.0);
    default: return (int64_t)fl + (ratio > 0.5); /* round_prefer_floor */
    }
}

static double cubic_kernel(double x, double A)
{
    x = fabs(x);
    if (x <= 1.0)
        return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    return 0.0;
}

/* Taps of every output coordinate along one dim. */
static SdStatus axis_taps(const IrNode *n, int64_t in, int64_t out, double scale, double roi0, double roi1, Taps *t,
                          SdError *err)
{
    const IrResizeAttrs *a = &n->attrs.resize;
    double s = scale < 1.0 && a->antialias ? scale : 1.0; /* antialias widens the kernel when shrinking */
    int64_t start;
    switch (a->mode) {
    case IR_RESIZE_NEAREST: start = 1; break;
    case IR_RESIZE_LINEAR: start = (int64_t)floor(-1.0 / s) + 1; break;
    default: start = (int64_t)floor(-2.0 / s) + 1; break;
    }
    t->taps = a->mode == IR_RESIZE_NEAREST ? 1 : 2 - 2 * start;
    if (t->taps > 4096) {
        char lb[200];
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: antialiasing a scale of %g needs %lld taps per pixel (at most 4096)",
                         ir_node_label(n, lb, sizeof lb), scale, (long long)t->taps);
    }
    size_t cells = (size_t)out * (size_t)t->taps;
    t->idx = malloc(cells * sizeof *t->idx + 1);
    t->w = malloc(cells * sizeof *t->w + 1);
    t->outside = calloc((size_t)out + 1, 1);
    if (!t->idx || !t->w || !t->outside) {
        taps_free(t);
        char lb[200];
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory for resize tables", ir_node_label(n, lb, sizeof lb));
    }
    const double A = a->cubic_coeff_a;
    for (int64_t x = 0; x < out; x++) {
        int64_t *ix = t->idx + x * t->taps;
        double *w = t->w + x * t->taps;
        double xo = source_coord(a, x, in, out, scale, roi0, roi1, &t->outside[x]);
        if (a->mode == IR_RESIZE_NEAREST) {
            ix[0] = clamp_index(nearest_index(a, xo, scale), in);
            w[0] = 1.0;
            continue;
        }
        /* ONNX's reference convention: the base pixel is the one left of xo, and a whole xo sits at
         * ratio 1 from the pixel before it; taps run from base + start on */
        double fl = floor(xo);
        double ratio = xo == fl ? 1.0 : xo - fl;
        int64_t base = (int64_t)fl - (xo == fl);
        double sum = 0.0;
        for (int64_t k = 0; k < t->taps; k++) {
            double d = (double)(start + k) - ratio; /* tap position minus xo */
            if (a->mode == IR_RESIZE_LINEAR)
                w[k] = fmax(0.0, 1.0 - fabs(d * s));
            else
                w[k] = cubic_kernel(d * s, A);
            ix[k] = base + start + k;
            if (a->exclude_outside && (ix[k] < 0 || ix[k] >= in))
                w[k] = 0.0;
            sum += w[k];
        }
        for (int64_t k = 0; k < t->taps; k++) {
            if (sum != 0.0)
                w[k] /= sum;
            ix[k] = clamp_index(ix[k], in);
        }
    }
    return SD_OK;
}

/* Whether the taps copy the dim unchanged. */
static bool is_identity(const Taps *t, int64_t in, int64_t out)
{
    if (in != out)
        return false;
    for (int64_t x = 0; x < out; x++) {
        if (t->outside[x])
            return false;
        double on = 0.0;
        for (int64_t k = 0; k < t->taps; k++) {
            double w = t->w[x * t->taps + k];
            if (t->idx[x * t->taps + k] == x)
                on += w;
            else if (w != 0.0)
                return false;
        }
        if (fabs(on - 1.0) > 1e-12)
            return false;
    }
    return true;
}

/* Parameter structs carry their tables after the head: reserves `bytes`, 8-byte aligned, and
 * returns their offset. */
static size_t blob_reserve(size_t *size, size_t bytes)
{
    size_t at = (*size + 7) & ~(size_t)7;
    *size = at + bytes;
    return at;
}

/* The extrapolation value as one element of dt (integers truncate and saturate, NaN is 0). */
static void fill_value(SdDType dt, float v, uint8_t *out)
{
    double d = v != v ? 0.0 : (double)v;
    double lo = dt == SD_DT_I8 ? -128.0 : dt == SD_DT_I32 ? -2147483648.0 : -9.2e18;
    double hi = dt == SD_DT_U8 ? 255.0 : dt == SD_DT_I8 ? 127.0 : dt == SD_DT_I32 ? 2147483647.0 : 9.2e18;
    int64_t i = dt == SD_DT_U8 && d < 0 ? 0 : (int64_t)(d < lo ? lo : d > hi ? hi : d);
    switch (dt) {
    case SD_DT_F32: memcpy(out, &v, 4); break;
    case SD_DT_F16: { uint16_t h = rt_float_to_half(v); memcpy(out, &h, 2); break; }
    case SD_DT_BF16: { uint16_t h = rt_float_to_bf16(v); memcpy(out, &h, 2); break; }
    case SD_DT_BOOL: out[0] = v != 0.0f; break;
    case SD_DT_U8: case SD_DT_I8: out[0] = (uint8_t)(i & 0xff); break;
    case SD_DT_I32: { int32_t w = (int32_t)i; memcpy(out, &w, 4); break; }
    default: memcpy(out, &i, 8); break;
    }
}

static SdStatus lower_nearest(const IrNode *n, Taps *taps, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrResizeAttrs *a = &n->attrs.resize;
    const int r = x->shape.rank;
    int lead = 0;
    while (lead < r && is_identity(&taps[lead], x->shape.dims[lead], y->shape.dims[lead]))
        lead++;
    size_t esize = sd_dtype_size(x->dtype);
    if (lead == r)
        return cg_lower_flat_copy(out, ir_value_numel(y), esize, 0, cg_out(n, 0), err);

    RtResizeNearestParams head = {.outer = 1, .in_block = 1, .out_block = 1, .rank = r - lead,
                                  .elem_size = (int32_t)esize};
    for (int d = 0; d < lead; d++)
        head.outer *= x->shape.dims[d];
    int64_t in_strides[IR_MAX_RANK];
    int64_t st = 1;
    for (int d = r - 1; d >= lead; d--) {
        in_strides[d] = st;
        st *= x->shape.dims[d];
        head.out_block *= y->shape.dims[d];
    }
    head.in_block = st;
    size_t size = sizeof head;
    for (int d = lead; d < r; d++) {
        head.out_dims[d - lead] = y->shape.dims[d];
        head.table[d - lead] = (int64_t)blob_reserve(&size, (size_t)y->shape.dims[d] * sizeof(int64_t));
    }
    fill_value(x->dtype, a->extrapolation_value, head.fill);
    unsigned char *buf = calloc(1, size);
    if (!buf) {
        char lb[200];
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory for resize tables", ir_node_label(n, lb, sizeof lb));
    }
    for (int d = lead; d < r; d++) {
        int64_t *tab = (int64_t *)(buf + head.table[d - lead]);
        for (int64_t j = 0; j < y->shape.dims[d]; j++) {
            bool outside = taps[d].outside[j];
            tab[j] = outside ? -1 : taps[d].idx[j] * in_strides[d];
            head.extrapolate |= outside;
        }
    }
    memcpy(buf, &head, sizeof head);
    int bufs[2] = {0, cg_out(n, 0)};
    SdStatus st2 = cg_lowered_add(out, "rt_resize_nearest", buf, size, 2, bufs, err);
    free(buf);
    return st2;
}

/* Reserves a tap-major table block for one axis in a parameter blob being sized. */
static void taps_reserve(size_t *size, RtResizeTaps *head, const Taps *t, int64_t in_n, int64_t out_n)
{
    size_t cells = (size_t)out_n * (size_t)t->taps;
    head->in_n = in_n, head->out_n = out_n, head->taps = t->taps;
    head->index_table = (int64_t)blob_reserve(size, cells * sizeof(int32_t));
    head->weight_table = (int64_t)blob_reserve(size, cells * sizeof(float));
    head->bias_table = (int64_t)blob_reserve(size, (size_t)out_n * sizeof(float));
}

/* Fills it: [taps][out_n] indices and weights, and the bias (the extrapolation value outside). */
static void taps_fill(unsigned char *buf, const RtResizeTaps *head, const Taps *t, float extrapolation)
{
    int32_t *ix = (int32_t *)(buf + head->index_table);
    float *w = (float *)(buf + head->weight_table), *bias = (float *)(buf + head->bias_table);
    for (int64_t j = 0; j < head->out_n; j++) {
        bool outside = t->outside[j];
        bias[j] = outside ? extrapolation : 0.0f;
        for (int64_t q = 0; q < t->taps; q++) {
            ix[q * head->out_n + j] = (int32_t)t->idx[j * t->taps + q];
            w[q * head->out_n + j] = outside ? 0.0f : (float)t->w[j * t->taps + q];
        }
    }
}

/* Both of the last two dims resized, nothing else: one fused call. */
static SdStatus lower_2d(const IrNode *n, const Taps *taps, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const int r = x->shape.rank;
    RtResize2dParams head = {.outer = 1};
    for (int d = 0; d < r - 2; d++)
        head.outer *= x->shape.dims[d];
    size_t size = sizeof head;
    taps_reserve(&size, &head.h, &taps[r - 2], x->shape.dims[r - 2], y->shape.dims[r - 2]);
    taps_reserve(&size, &head.w, &taps[r - 1], x->shape.dims[r - 1], y->shape.dims[r - 1]);
    unsigned char *buf = calloc(1, size);
    if (!buf) {
        char lb[200];
        return sd_errorf(err, SD_ENOMEM, "%s: out of memory for resize tables", ir_node_label(n, lb, sizeof lb));
    }
    taps_fill(buf, &head.h, &taps[r - 2], n->attrs.resize.extrapolation_value);
    taps_fill(buf, &head.w, &taps[r - 1], n->attrs.resize.extrapolation_value);
    memcpy(buf, &head, sizeof head);
    /* a gathered element costs about GATHER_COST blended ones */
    const double GATHER_COST = 8.0;
    double in_h = (double)head.h.in_n, out_h = (double)head.h.out_n, in_w = (double)head.w.in_n;
    double out_w = (double)head.w.out_n, th = (double)head.h.taps, tw = (double)head.w.taps;
    double h_first = out_h * out_w * tw * GATHER_COST + out_h * in_w * th;
    double w_first = in_h * out_w * tw * GATHER_COST + out_h * out_w * th;
    size_t plane = (size_t)head.h.in_n * (size_t)head.w.out_n * sizeof(float);
    head.w_first = w_first < h_first && plane <= ((size_t)8 << 20);
    memcpy(buf, &head, sizeof head);
    out->workspace_bytes = sd_align_up(head.w_first ? plane : (size_t)head.w.in_n * sizeof(float));
    int bufs[3] = {0, cg_out(n, 0), CG_BUF_WORKSPACE};
    SdStatus st = cg_lowered_add(out, "rt_resize_2d_f32", buf, size, 3, bufs, err);
    free(buf);
    return st;
}

static SdStatus lower_separable(const IrNode *n, Taps *taps, CgLowered *out, SdError *err)
{
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const int r = x->shape.rank;
    char lb[200];
    int order[IR_MAX_RANK], n_pass = 0;
    for (int d = r - 1; d >= 0; d--)
        if (!is_identity(&taps[d], x->shape.dims[d], y->shape.dims[d]))
            order[n_pass++] = d;
    if (n_pass == 0)
        return cg_lower_flat_copy(out, ir_value_numel(y), 4, 0, cg_out(n, 0), err);
    if (n_pass == 2 && order[0] + order[1] == 2 * r - 3 && x->shape.dims[r - 1] <= INT32_MAX &&
        x->shape.dims[r - 2] <= INT32_MAX)
        return lower_2d(n, taps, out, err); /* images: no intermediate tensor */
    /* most shrinking first (stable: inner dims first among equals) */
    for (int i = 1; i < n_pass; i++)
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            double ra = (double)y->shape.dims[a] / (double)x->shape.dims[a];
            double rb = (double)y->shape.dims[b] / (double)x->shape.dims[b];
            if (rb < ra)
                order[j - 1] = b, order[j] = a;
        }

    /* intermediates ping-pong between workspace regions A (passes 0, 2, ...) and B (1, 3, ...) */
    int64_t cur[IR_MAX_RANK];
    memcpy(cur, x->shape.dims, sizeof cur);
    size_t region[2] = {0, 0};
    for (int k = 0; k < n_pass - 1; k++) {
        cur[order[k]] = y->shape.dims[order[k]];
        int64_t numel = 1;
        for (int d = 0; d < r; d++)
            numel *= cur[d];
        size_t bytes = sd_align_up((size_t)numel * 4);
        if (bytes > region[k % 2])
            region[k % 2] = bytes;
    }
    out->workspace_bytes = region[0] + region[1];

    memcpy(cur, x->shape.dims, sizeof cur);
    for (int k = 0; k < n_pass; k++) {
        int d = order[k];
        const Taps *t = &taps[d];
        RtResizeAxisParams head = {.outer = 1, .inner = 1, .in_n = cur[d], .out_n = y->shape.dims[d], .taps = t->taps};
        if (head.in_n > INT32_MAX)
            return sd_errorf(err, SD_EUNSUPPORTED, "%s: dimension %d is too large to resize", ir_node_label(n, lb, sizeof lb), d);
        for (int i = 0; i < r; i++)
            if (i != d)
                *(i < d ? &head.outer : &head.inner) *= cur[i];
        cur[d] = y->shape.dims[d];
        size_t size = sizeof head;
        RtResizeTaps tab;
        taps_reserve(&size, &tab, t, head.in_n, head.out_n);
        head.index_table = tab.index_table, head.weight_table = tab.weight_table, head.bias_table = tab.bias_table;
        bool first = k == 0, last = k == n_pass - 1;
        head.src_offset = first ? 0 : (int64_t)((k - 1) % 2 ? region[0] : 0);
        head.dst_offset = last ? 0 : (int64_t)(k % 2 ? region[0] : 0);
        unsigned char *buf = calloc(1, size);
        if (!buf)
            return sd_errorf(err, SD_ENOMEM, "%s: out of memory for resize tables", ir_node_label(n, lb, sizeof lb));
        taps_fill(buf, &tab, t, n->attrs.resize.extrapolation_value);
        memcpy(buf, &head, sizeof head);
        int bufs[2] = {first ? 0 : CG_BUF_WORKSPACE, last ? cg_out(n, 0) : CG_BUF_WORKSPACE};
        SdStatus st = cg_lowered_add(out, "rt_resize_axis_f32", buf, size, 2, bufs, err);
        free(buf);
        SD_TRY(st);
    }
    return SD_OK;
}

SdStatus cg_lower_resize(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt;
    const IrValue *x = n->inputs[0], *y = n->outputs[0];
    const IrResizeAttrs *a = &n->attrs.resize;
    char lb[200];
    if (!a->resolved)
        return sd_errorf(err, SD_EINTERNAL, "%s: scales are not resolved", ir_node_label(n, lb, sizeof lb));
    if (a->mode != IR_RESIZE_NEAREST && x->dtype != SD_DT_F32)
        return cg_unsupported_dtype(n, x, err);
    if (sd_dtype_size(x->dtype) == 0)
        return cg_unsupported_dtype(n, x, err);
    if (ir_value_numel(y) == 0)
        return SD_OK;
    const int r = x->shape.rank;
    if (r > RT_RESIZE_MAX_RANK)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s: rank %d is above %d", ir_node_label(n, lb, sizeof lb), r,
                         RT_RESIZE_MAX_RANK);
    Taps taps[IR_MAX_RANK] = {0};
    SdStatus st = SD_OK;
    for (int d = 0; d < r && st == SD_OK; d++)
        st = axis_taps(n, x->shape.dims[d], y->shape.dims[d], a->scales[d], a->roi[d], a->roi[r + d], &taps[d], err);
    if (st == SD_OK)
        st = a->mode == IR_RESIZE_NEAREST ? lower_nearest(n, taps, out, err) : lower_separable(n, taps, out, err);
    for (int d = 0; d < r; d++)
        taps_free(&taps[d]);
    return st;
}
