/* runtime/kernels/conv_depthwise.c — depthwise convolutions (one input channel per group, at most
 * 2 spatial dims; conv.h): small planes (and strided ones up to 56x56) with 16 channels in the vector
 * lanes (conv_depthwise_lanes.c); otherwise bands of output rows computed from zero-padded copies of
 * their input rows, or, for strided large planes and rows too wide for a band, direct loops over
 * output rows. */
#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_internal.h"
#include "runtime/kernels/gemm_internal.h"

#include <stdbool.h>

#include "runtime/kernels/window.h"

/* One output whose window may reach into the padding; taps outside the input are skipped. */
static float dw_point(const float *x, const float *w, float b, int64_t ih0, int64_t iw0, int64_t IH, int64_t IW,
                      int64_t KH, int64_t KW, int64_t DH, int64_t DW)
{
    float acc = b;
    for (int64_t kh = 0; kh < KH; kh++) {
        int64_t ih = ih0 + kh * DH;
        if (ih < 0 || ih >= IH)
            continue;
        for (int64_t kw = 0; kw < KW; kw++) {
            int64_t iw = iw0 + kw * DW;
            if (iw >= 0 && iw < IW)
                acc += w[kh * KW + kw] * x[ih * IW + iw];
        }
    }
    return acc;
}

/* One channel. Every output row runs the kernel rows that fall inside the input over the columns
 * whose windows lie inside it horizontally (vectorized); the few border columns are checked. */
static void dw_plane(const RtConvParams *p, const float *restrict x, const float *restrict w, float b,
                     float *restrict y)
{
    const int64_t IH = p->in[1], IW = p->in[2], OH = p->out[1], OW = p->out[2];
    const int64_t KH = p->kernel[1], KW = p->kernel[2];
    const int64_t SH = p->stride[1], SW = p->stride[2];
    const int64_t DH = p->dilation[1], DW = p->dilation[2];
    const int64_t PH = p->pad[1], PW = p->pad[2];
    int64_t ow_lo, ow_hi;
    rt_inside_range(IW, OW, KW, SW, DW, PW, &ow_lo, &ow_hi);
    for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t ih0 = oh * SH - PH;
        float *yr = y + oh * OW;
        if (KH == 3 && KW == 3 && ih0 >= 0 && ih0 + 2 * DH < IH) {
            /* all three kernel rows inside: the nine taps in one pass, y written once (a pass per
             * kernel row read and wrote y three times: MobileNetV2's depthwise layers, measured) */
            const float *x0 = x + ih0 * IW - PW, *x1 = x0 + DH * IW, *x2 = x1 + DH * IW;
            const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7],
                        w8 = w[8];
            for (int64_t ow = ow_lo; ow < ow_hi; ow++) {
                const int64_t c = ow * SW;
                yr[ow] = b + w0 * x0[c] + w1 * x0[c + DW] + w2 * x0[c + 2 * DW] + w3 * x1[c] + w4 * x1[c + DW] +
                         w5 * x1[c + 2 * DW] + w6 * x2[c] + w7 * x2[c + DW] + w8 * x2[c + 2 * DW];
            }
        } else {
            for (int64_t ow = ow_lo; ow < ow_hi; ow++)
                yr[ow] = b;
            for (int64_t kh = 0; kh < KH; kh++) {
                int64_t ih = ih0 + kh * DH;
                if (ih >= 0 && ih < IH)
                    dw_taps(x + ih * IW - PW, w + kh * KW, yr, ow_lo, ow_hi, KW, SW, DW);
            }
        }
        for (int64_t ow = 0; ow < ow_lo; ow++)
            yr[ow] = dw_point(x, w, b, ih0, ow * SW - PW, IH, IW, KH, KW, DH, DW);
        for (int64_t ow = ow_hi; ow < OW; ow++)
            yr[ow] = dw_point(x, w, b, ih0, ow * SW - PW, IH, IW, KH, KW, DH, DW);
    }
}

/* Planes in bands of output rows, without borders: a band's input rows are copied, zero-padded and
 * split by stride phase, into planes whose rows are dw_band_cols apart, and each vector of 16
 * outputs sums its taps, one shifted window of one plane each, in a register, as a flat run over the
 * band's rows (the columns past the output's width computed and dropped); then the rows are copied
 * out with the residual and clamp. The row loops above spend most of their time in border and
 * remainder code, and a pass per tap over the outputs (this path's first version, for small planes
 * only) read and wrote them 9 times: at batch 4 on 1 thread, 960 channels at 7x7 0.26-0.30 -> 0.12
 * ms, 144 at 56x56 0.80 -> 0.46-0.52, 32 at 112x112 0.71 -> 0.39-0.43. */
#define DW_BAND_FLOATS 4096 /* the phase planes of a band */
#define DW_ACC_FLOATS 4096  /* its outputs */
#define DW_STRIDED_BAND_IN 1024
#define DW_ROWS 4 /* output rows summed together (6 and 8 were no faster) */
static inline int64_t dw_band_cols(const RtConvParams *p)
{
    return p->out[2] + (p->kernel[2] - 1) * p->dilation[2] / p->stride[2];
}
/* plane rows a band of `rows` output rows needs, one of them slack for the last vector's reads */
static inline int64_t dw_band_plane_rows(const RtConvParams *p, int64_t rows)
{
    return rows + (p->kernel[1] - 1) * p->dilation[1] / p->stride[1] + 1;
}
static inline int64_t dw_band_plane_floats(const RtConvParams *p, int64_t rows)
{
    return dw_band_plane_rows(p, rows) * dw_band_cols(p) + 16;
}
/* Output rows a band takes (all of them when they fit), 0 when not even one fits the buffers. */
static int64_t dw_band_rows(const RtConvParams *p)
{
    if (p->stride[1] <= 0 || p->stride[2] <= 0 || p->out[1] <= 0)
        return 0;
    /* strided, larger planes: the row loops were as fast or faster (MobileNetV2's 112x112 and 56x56
     * planes at stride 2, in the model; the copy into phase planes reads every input twice). Smaller
     * strided planes come here only with a channel multiplier: without one, the lanes kernel takes
     * them (twice as fast). */
    if ((p->stride[1] > 1 || p->stride[2] > 1) && p->in[1] * p->in[2] > DW_STRIDED_BAND_IN)
        return 0;
    const int64_t phases = p->stride[1] * p->stride[2], q = dw_band_cols(p);
    int64_t rows = (DW_ACC_FLOATS - 16) / q;
    rows = rows > p->out[1] ? p->out[1] : rows;
    while (rows > 0 && phases * dw_band_plane_floats(p, rows) > DW_BAND_FLOATS)
        rows--;
    /* bands of equal height: the last one not much shorter than the others */
    if (rows > 0)
        rows = (p->out[1] + (p->out[1] + rows - 1) / rows - 1) / ((p->out[1] + rows - 1) / rows);
    return rows;
}

/* dst[c] = src[c * s] for c in [lo, hi), where src has `avail` floats from its start (s = 2: even
 * lanes of pairs of vectors while they stay inside). `spill`: src may be read 32 floats past
 * avail and dst written up to 15 floats past hi (a staged input plane; the caller zeroes what
 * lies past hi afterwards), so every copy is whole vectors. */
static inline void dw_copy_cols(const float *restrict src, int64_t s, int64_t lo, int64_t hi, int64_t avail,
                                bool spill, float *restrict dst)
{
    int64_t c = lo;
#ifdef HAVE_SHUFFLE
#define DW_EVEN_LANES(at, from) /* dst[at..at+16) = src[from + 2 i] */                                  \
    VSTORE(dst + (at), __builtin_shufflevector(VLOAD(src + (from)), VLOAD(src + (from) + 16), 0, 2, 4, 6, 8, \
                                               10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30))
    if (s == 2) {
        for (; c < hi && (spill || (c + 16 <= hi && 2 * c + 32 <= avail)); c += 16)
            DW_EVEN_LANES(c, 2 * c);
        /* the last 16 again, overlapping: from one float earlier (odd lanes) where the pairs would
         * read past the row (a scalar tail took 40% of a 56x56 layer at stride 2) */
        const int64_t t = hi - 16;
        if (c < hi && t > lo) {
            if (2 * t + 32 <= avail) {
                DW_EVEN_LANES(t, 2 * t);
            } else {
                const v16f a = VLOAD(src + 2 * t - 1), b = VLOAD(src + 2 * t + 15);
                VSTORE(dst + t, __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
            }
            c = hi;
        }
    }
#undef DW_EVEN_LANES
#else
    (void)avail;
    (void)spill;
#endif
    if (s == 1) {
        for (; c < hi; c++)
            dst[c] = src[c];
        return;
    }
    RT_NOVEC /* a short tail: LLVM's gathers for it cost more than the vectors above */
    for (; c < hi; c++)
        dst[c] = src[c * s];
}

/* acc[j] = b + the taps of a KH_ x KW_ window, 16 outputs at a time; UNROLL_: RT_UNROLL where the
 * window's size is a constant here (the kernels' loops unroll only where they are told to).
 * DW_ROWS output rows at once, their vectors Q apart, so that the rows of taps they share are loaded
 * once: a 3x3 window at stride 1 loads 18 vectors for 36 products rather than 36 (the loads, most
 * across two cache lines, bound this loop; 144 channels on 56x56, 1 thread, inputs in cache: 0.205
 * -> 0.155 ms). A row's last vector may reach into the next row: a flat sum is the same wherever
 * it is computed. */
#define DW_TAP_SUM(KH_, KW_, UNROLL_, at, sum)                                                                \
    do {                                                                                                      \
        UNROLL_                                                                                               \
        for (int64_t ky = 0; ky < (KH_); ky++)                                                                \
            UNROLL_                                                                                           \
            for (int64_t kx = 0; kx < (KW_); kx++) {                                                          \
                const float *src =                                                                            \
                    planes + ((ky * DH % SH) * SW + kx * DW % SW) * ps + ky * DH / SH * Q + kx * DW / SW;     \
                sum = VFMA(VSPLAT(w[ky * (KW_) + kx]), VLOAD(src + (at)), sum);                               \
            }                                                                                                 \
    } while (0)
/* rows from r_ in groups of R_ while whole groups fit below rows */
#define DW_ROW_GROUPS(KH_, KW_, UNROLL_, R_, r_)                                                               \
    for (; r_ + (R_) <= rows; r_ += (R_))                                                                      \
        for (int64_t j = r_ * Q; j < (r_ + 1) * Q; j += 16) {                                                  \
            v16f s[R_];                                                                                        \
            RT_UNROLL                                                                                          \
            for (int i = 0; i < (R_); i++)                                                                     \
                s[i] = VSPLAT(b);                                                                              \
            RT_UNROLL                                                                                          \
            for (int i = 0; i < (R_); i++)                                                                     \
                DW_TAP_SUM(KH_, KW_, UNROLL_, j + i * Q, s[i]);                                                \
            RT_UNROLL                                                                                          \
            for (int i = 0; i < (R_); i++)                                                                     \
                VSTORE(acc + j + i * Q, s[i]);                                                                 \
        }
#define DW_BAND_SUMS(KH_, KW_, UNROLL_)                                                                        \
    do {                                                                                                       \
        int64_t r = 0;                                                                                         \
        DW_ROW_GROUPS(KH_, KW_, UNROLL_, DW_ROWS, r)                                                           \
        DW_ROW_GROUPS(KH_, KW_, UNROLL_, 1, r)                                                                 \
    } while (0)

static void dw_band(const RtConvParams *p, int64_t oh0, int64_t oh1, const float *restrict x, bool staged,
                    const float *restrict w, float b, const float *restrict res, float *restrict y,
                    float *restrict planes, float *restrict acc)
{
    const int64_t IH = p->in[1], IW = p->in[2], OW = p->out[2];
    const int64_t KH = p->kernel[1], KW = p->kernel[2], SH = p->stride[1], SW = p->stride[2];
    const int64_t DH = p->dilation[1], DW = p->dilation[2], PH = p->pad[1], PW = p->pad[2];
    const int64_t Q = dw_band_cols(p), rows = oh1 - oh0, ps = dw_band_plane_floats(p, rows);
    const int64_t R = dw_band_plane_rows(p, rows);
    /* plane row r of phase (py, px) holds input row (oh0 + r) * SH + py - PH: the rows inside the
     * input are copied in its order (the hardware prefetchers follow that; a phase at a time, every
     * other row, ran 2x slower at stride 2), then the others are zeroed (after: a staged input's
     * copies spill into the next rows and the plane's 16 floats of slack) */
    int64_t ih_lo = oh0 * SH - PH, ih_hi = (oh0 + R) * SH - PH;
    ih_lo = ih_lo < 0 ? 0 : ih_lo;
    ih_hi = ih_hi > IH ? IH : ih_hi;
    for (int64_t ih = ih_lo; ih < ih_hi; ih++) {
        const int64_t py = (ih + PH) % SH, r = (ih + PH) / SH - oh0;
        if (!staged)
            for (int64_t c = 0; c < IW; c += 16) /* a few rows ahead: a plane's rows come from memory */
                __builtin_prefetch(x + (ih + 4) * IW + c);
        for (int64_t px = 0; px < SW; px++) { /* plane columns c hold input columns c * SW + px - PW */
            int64_t lo = PW - px > 0 ? (PW - px + SW - 1) / SW : 0, hi = (IW - 1 + PW - px) / SW + 1;
            hi = IW - 1 + PW - px < 0 ? 0 : hi > Q ? Q : hi;
            lo = lo > hi ? hi : lo;
            float *dst = planes + (py * SW + px) * ps + r * Q;
            dw_copy_cols(x + ih * IW + px - PW, SW, lo, hi, IW - (px - PW), staged, dst);
            for (int64_t c = 0; c < lo; c++)
                dst[c] = 0.0f;
            for (int64_t c = hi; c < Q; c++)
                dst[c] = 0.0f;
        }
    }
    for (int64_t py = 0; py < SH; py++)
        for (int64_t px = 0; px < SW; px++) {
            float *plane = planes + (py * SW + px) * ps;
            for (int64_t r = 0; r < R; r++) {
                const int64_t ih = (oh0 + r) * SH + py - PH;
                if (ih < 0 || ih >= IH)
                    memset(plane + r * Q, 0, (size_t)Q * sizeof(float));
            }
            memset(plane + R * Q, 0, (size_t)(ps - R * Q) * sizeof(float));
        }
    /* the taps' loops unrolled (twice as fast) for the usual windows; the size is a constant at
     * every call site, so the test folds */
    if (KH == 3 && KW == 3)
        DW_BAND_SUMS(3, 3, RT_UNROLL);
    else if (KH == 5 && KW == 5)
        DW_BAND_SUMS(5, 5, RT_UNROLL);
    else
        DW_BAND_SUMS(KH, KW, );
    for (int64_t r = 0; r < rows; r++) {
        const float *a = acc + r * Q, *rr = res ? res + (oh0 + r) * OW : NULL;
        float *yr = y + (oh0 + r) * OW;
        for (int64_t ow = 0; ow < OW; ow++) {
            const float v = a[ow] + (rr ? rr[ow] : 0.0f);
            yr[ow] = p->has_clip ? clip_value(v, p->clip_min, p->clip_max) : v;
        }
    }
    act_rows(p, y + oh0 * OW, 1, rows * OW, rows * OW);
}

/* Items [begin, end) of (image, output channel), or of (image, block of 16) for the lanes kernel
 * (rt_conv_depthwise_items). */
static void conv_depthwise_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    if (p->groups <= 0 || p->c_out <= 0)
        return;
    if (rt_conv_depthwise_lanes_rows(p) > 0) {
        rt_conv_depthwise_lanes_items(p, bufs, begin, end);
        return;
    }
    const int64_t mult = p->c_out / p->groups;
    const int64_t in_vol = p->in[1] * p->in[2], out_vol = p->out[1] * p->out[2];
    const int64_t kvol = p->kernel[1] * p->kernel[2];
    const int64_t band = dw_band_rows(p);
    /* strided planes (at most DW_STRIDED_BAND_IN floats) are staged with slack, so that their
     * copies into phase planes are whole vectors (rows of 7 or 14: scalar tails otherwise) */
    const bool staged = band > 0 && p->stride[2] == 2;
    float planes[DW_BAND_FLOATS], acc[DW_ACC_FLOATS], xin[DW_STRIDED_BAND_IN + 64];
    for (int64_t it = begin; it < end; it++) {
        int64_t n = it / p->c_out, oc = it % p->c_out, ic = mult > 0 ? oc / mult : 0;
        float *yc = y + (n * p->c_out + oc) * out_vol;
        if (band > 0) {
            const float *xc = x + (n * p->c_in + ic) * in_vol;
            if (staged) {
                memcpy(xin, xc, (size_t)in_vol * sizeof(float));
                memset(xin + in_vol, 0, 64 * sizeof(float));
                xc = xin;
            }
            for (int64_t oh0 = 0; oh0 < p->out[1]; oh0 += band)
                dw_band(p, oh0, oh0 + band < p->out[1] ? oh0 + band : p->out[1], xc, staged, w + oc * kvol,
                        bias ? bias[oc] : 0.0f, res ? res + (n * p->c_out + oc) * out_vol : NULL, yc, planes, acc);
            continue;
        }
        dw_plane(p, x + (n * p->c_in + ic) * in_vol, w + oc * kvol, bias ? bias[oc] : 0.0f, yc);
        /* y never shares memory with its inputs (the planner only reuses elementwise inputs) */
        finish_rows(p, yc, 1, out_vol, out_vol, NULL, res ? res + (n * p->c_out + oc) * out_vol : NULL);
    }
}

RT_KERNEL(rt_conv_depthwise_f32)
{
    const RtConvParams *p = params_;
    conv_depthwise_items(p, bufs, 0, rt_conv_depthwise_items(p));
}
RT_RANGE_KERNEL(rt_conv_depthwise_f32_range) { conv_depthwise_items(params_, bufs, begin, end); }
