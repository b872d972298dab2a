/* runtime/kernels/qconv_direct.c — the int8 and bf16 convolutions without im2col
 * (rt_qconv_direct_u8, rt_conv_bf16_direct, see qgemm.h), the twins of conv_direct.c. im2col copied
 * every input value once per tap, in rows of 7 to 56 (a fifth of a quantized ResNet-18's time went
 * to memcpy and memset calls); here the input of a block of images is copied once into planes of
 * 4 u8 (or 2 bf16) channels interleaved, one per block of channels and stride phase, padded with
 * x's zero point (or 0). A pixel's 4 bytes at one tap are then one 32-bit lane of vpdpbusd (2
 * bf16s, of vdpbf16ps), and the GEMM row of tap (block, ky, kx) is the plane shifted by the tap's
 * offset. Built twice, like qgemm.c. */
#include "runtime/kernels/qgemm_internal.h"
#include "runtime/kernels/window.h"

/* The planes of images [n0, n0 + ni) (x: image n0): plane (cb, py, px) at planes + its index *
 * ps pixels, plane pixel (i * HQ + qy, qx) holding input pixel (qy * SH + py - PH, qx * SW + px - PW)
 * of the channels of block cb, the padding value outside the input and after the images. */
QG_INLINE void fill_planes(const RtQConvParams *p, const void *x, int64_t ni, uint32_t *planes, int64_t ps, bool bf16)
{
    const int64_t IH = p->in[1], IW = p->in[2], SH = p->stride[1], SW = p->stride[2], L = bf16 ? 2 : 4;
    const int64_t PH = p->pad[1], PW = p->pad[2], HQ = p->plane[0], WQ = p->plane[1], plane = IH * IW;
    const uint8_t pad = bf16 ? 0 : (uint8_t)p->x_zp;
    for (int64_t cb = 0; cb < p->c_in / L; cb++)
        for (int64_t py = 0; py < SH; py++)
            for (int64_t px = 0; px < SW; px++) {
                if (!rt_phase_read(p->kernel[1], p->dilation[1], SH, py) ||
                    !rt_phase_read(p->kernel[2], p->dilation[2], SW, px))
                    continue; /* never read */
                uint32_t *pl = planes + ((cb * SH + py) * SW + px) * ps;
                const int64_t shift = px - PW;
                int64_t lo, hi; /* the columns that hold input columns */
                rt_tap_range(WQ, IW, SW, 0, shift, &lo, &hi);
                /* one call: the padding, then the inside over it; only the slack after the images
                 * where the inside is all (a 1x1 convolution's planes) */
                const bool inside = lo == 0 && hi == WQ && py - PH >= 0 && (HQ - 1) * SH + py - PH < IH;
                const int64_t from = inside ? ni * HQ * WQ : 0;
                memset(pl + from, pad, (size_t)(ps - from) * 4);
                if (lo >= hi)
                    continue;
                for (int64_t i = 0; i < ni; i++)
                    for (int64_t qy = 0; qy < HQ; qy++) {
                        const int64_t iy = qy * SH + py - PH;
                        if (iy < 0 || iy >= IH)
                            continue;
                        const int64_t at = (i * p->c_in + L * cb) * plane + iy * IW;
                        uint32_t *dst = pl + (i * HQ + qy) * WQ + lo;
                        if (bf16)
                            interleave2_bf16((const float *)x + at, plane, lo * SW + shift, SW, hi - lo, IW, dst);
                        else
                            interleave4((const uint8_t *)x + at, plane, lo * SW + shift, SW, hi - lo, IW, dst);
                    }
            }
}

/* Where the GEMM row of each packed lane of k (block cb, ky, kx) starts, in pixels from the first
 * plane. */
static void tap_offsets(const RtQConvParams *p, int64_t ps, int32_t *offs)
{
    const int64_t KH = p->kernel[1], KW = p->kernel[2], SH = p->stride[1], SW = p->stride[2];
    const int64_t DH = p->dilation[1], DW = p->dilation[2];
    for (int64_t cb = 0, k = 0; cb < p->c_in / p->lane_channels; cb++)
        for (int64_t ky = 0; ky < KH; ky++)
            for (int64_t kx = 0; kx < KW; kx++, k++) {
                const int64_t plane = (cb * SH + ky * DH % SH) * SW + kx * DW % SW;
                offs[k] = (int32_t)(plane * ps + ky * DH / SH * p->plane[1] + kx * DW / SW);
            }
}

/* The tile's sums of channels [oc0, oc0 + rows) for GEMM columns [t, t + RT_QG_NR) (column n:
 * plane row n / WQ, column n % WQ) into y, the columns that are output pixels of images n0..:
 * requantized (int8), or plus the bias and clamped (bf16); with the residual res (u8 or f32, y's
 * layout) when given. */
QG_INLINE void store_tile(const RtQConvParams *p, const void *acc, int64_t t, int64_t cols, int64_t oc0, int64_t rows,
                          const int32_t *bias, const float *fbias, const float *mult, const void *res, uint8_t *y,
                          bool bf16)
{
    const int64_t HQ = p->plane[0], WQ = p->plane[1], OH = p->out[1], OW = p->out[2], P = OH * OW;
    const int64_t es = (int64_t)out_size(p->out_kind);
    const int64_t end = min64(t + RT_QG_NR, cols);
    /* the columns go to y in runs of V from every U: a plane row's pixels, or where no column is
     * dropped in a row, an image's */
    const bool whole = WQ == OW;
    const int64_t U = whole ? HQ * WQ : WQ, V = whole ? OH * OW : OW;
    for (int64_t R = t / U; R * U < end; R++) {
        const int64_t i = whole ? R : R / HQ, oy = whole ? 0 : R % HQ;
        const int64_t a = R * U > t ? R * U : t, b = min64(R * U + V, end);
        if (oy >= OH || a >= b)
            continue; /* a row between two images, or the columns past a row's pixels */
        for (int64_t r = 0; r < rows; r++) {
            const int64_t at = (i * p->c_out + oc0 + r) * P + oy * OW;
            uint8_t *row = y + at * es;
#if QG_SIMD
            /* lane l of the tile is pixel (t + l - R * U) of the run: masked stores at the lanes
             * [a - t, b - t), the address of lane 0 computed as an integer (it may lie before row) */
            const uint32_t m = (uint32_t)(((uint64_t)1 << (b - t)) - ((uint64_t)1 << (a - t)));
            const uintptr_t lane0 = (uintptr_t)row + (uintptr_t)((t - R * U) * es);
            const int64_t rs = bf16 ? 4 : 1;
            const uintptr_t res0 = res ? (uintptr_t)res + (uintptr_t)((at + t - R * U) * rs) : 0;
            if (!bf16 && p->out_kind != RT_QOUT_F32) {
                requant32_store((const int32_t *)acc + r * RT_QG_NR, bias[oc0 + r], mult[oc0 + r],
                                res ? (const uint8_t *)res0 : NULL, p->r_zp, p->r_mult, m, p->y_zp, p->qmin, p->qmax,
                                QG_LUT(p), (void *)lane0);
                continue;
            }
            for (int h = 0; h < 2; h++) {
                const __mmask16 mh = (__mmask16)(m >> (16 * h));
                void *dst = (void *)(lane0 + (uintptr_t)(16 * h * es));
                if (!mh)
                    continue;
                if (bf16) {
                    __m512 v = _mm512_add_ps(_mm512_loadu_ps((const float *)acc + r * RT_QG_NR + 16 * h),
                                             _mm512_set1_ps(fbias ? fbias[oc0 + r] : 0.0f));
                    if (res) /* the residual's lanes where y's are */
                        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mh, (const void *)(res0 + (uintptr_t)(64 * h))));
                    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(p->lo)), _mm512_set1_ps(p->hi));
                    _mm512_mask_storeu_ps(dst, mh, v);
                    continue;
                }
                __m512i v = _mm512_add_epi32(_mm512_loadu_si512((const int32_t *)acc + r * RT_QG_NR + 16 * h),
                                             _mm512_set1_epi32(bias[oc0 + r]));
                _mm512_mask_storeu_ps(dst, mh, requant16_f32(v, mult[oc0 + r], p->lo, p->hi));
            }
#else
            if (bf16) {
                const float *sr = (const float *)acc + r * RT_QG_NR + (a - t), fb = fbias ? fbias[oc0 + r] : 0.0f;
                float *o = (float *)row + (a - R * U);
                const float *rr = res ? (const float *)res + at + (a - R * U) : NULL;
                for (int64_t q = 0; q < b - a; q++)
                    o[q] = fminf(fmaxf(sr[q] + fb + (rr ? rr[q] : 0.0f), p->lo), p->hi);
                continue;
            }
            requant_conv_row(p, (const int32_t *)acc + r * RT_QG_NR + (a - t), b - a, bias[oc0 + r], mult[oc0 + r],
                             res ? (const uint8_t *)res + at + (a - R * U) : NULL, row + (a - R * U) * es);
#endif
        }
    }
}

/* Items [begin, end) of (block of images, chunk of channel panels), chunk fastest: a task's items
 * of one block share its planes. Operands int8: x, w, bias, mult, [residual], y, workspace; bf16:
 * x, w, [bias], [residual], y, workspace. */
QG_INLINE void direct_items(const RtQConvParams *p, void *const *bufs, int64_t begin, int64_t end, bool bf16)
{
    const void *x = bufs[0];
    const int8_t *w = bufs[1];
    const int32_t *bias = bf16 ? NULL : bufs[2];
    const float *fbias = bf16 && p->has_bias ? bufs[2] : NULL, *mult = bf16 ? NULL : bufs[3];
    const void *res = !p->has_residual ? NULL : bf16 ? bufs[2 + p->has_bias] : bufs[4];
    const int nb = bf16 ? 2 + p->has_bias + p->has_residual : 4 + p->has_residual;
    uint8_t *y = bufs[nb];
    uint32_t *planes = bufs[nb + 1];
    if (p->stride[1] <= 0 || p->stride[2] <= 0 || p->plane[0] <= 0 || p->plane[1] <= 0 || p->c_split <= 0 ||
        p->lane_channels != (bf16 ? 2 : 4))
        return;
    const int64_t ipb = p->images_per_block, nib = ceil_div(p->batch, ipb), ps = rt_qconv_direct_plane_pixels(p);
    const int64_t panels = p->cp / RT_QG_MR, kl = p->kp / p->lane_channels, OH = p->out[1];
    const int64_t es = (int64_t)out_size(p->out_kind), xs = bf16 ? 4 : 1;
    int32_t *offs = (int32_t *)(planes + rt_qconv_direct_planes(p) * ps);
    void *acc = (void *)(((uintptr_t)(offs + kl) + 63) & ~(uintptr_t)63);
    tap_offsets(p, ps, offs);
    int64_t have = -1;
    for (int64_t item = begin; item < end; item++) {
        const int64_t cs = item % p->c_split, b = item / p->c_split;
        if (b >= nib)
            break;
        const int64_t n0 = b * ipb, ni = min64(ipb, p->batch - n0);
        if (b != have) {
            fill_planes(p, (const uint8_t *)x + n0 * p->c_in * p->in[1] * p->in[2] * xs, ni, planes, ps, bf16);
            have = b;
        }
        /* the columns up to the last image's last output row */
        const int64_t cols = ((ni - 1) * p->plane[0] + OH) * p->plane[1];
        uint8_t *yb = y + n0 * p->c_out * OH * p->out[2] * es;
        const void *rb = res ? (const uint8_t *)res + n0 * p->c_out * OH * p->out[2] * (bf16 ? 4 : 1) : NULL;
        /* planes larger than L2 (one big image) in blocks of columns that every panel sweeps */
        const int64_t cb = p->cols_per_block > 0 ? p->cols_per_block : cols;
        for (int64_t c0 = 0; c0 < cols; c0 += cb)
            for (int64_t pan = cs * panels / p->c_split; pan < (cs + 1) * panels / p->c_split; pan++) {
                const int64_t oc0 = pan * RT_QG_MR;
                if (oc0 >= p->c_out)
                    break;
                const int64_t rows = min64(RT_QG_MR, p->c_out - oc0);
                const int8_t *wp = w + pan * RT_QG_MR * p->kp * (bf16 ? 2 : 1);
                for (int64_t t = c0; t < c0 + cb && t < cols; t += RT_QG_NR) {
                    if (bf16)
                        tile_bf16(planes + t, 0, offs, (const uint32_t *)wp, kl, acc);
                    else
                        tile_u8((const uint8_t *)(planes + t), 0, offs, wp, kl, acc);
                    store_tile(p, acc, t, cols, oc0, rows, bias, fbias, mult, rb, yb, bf16);
                }
            }
    }
}

RT_RANGE_KERNEL(QG(rt_qconv_direct_u8_range)) { direct_items(params_, bufs, begin, end, false); }

RT_KERNEL(QG(rt_qconv_direct_u8))
{
    const RtQConvParams *p = params_;
    direct_items(p, bufs, 0, rt_qconv_direct_items(p), false);
}

RT_RANGE_KERNEL(QG(rt_conv_bf16_direct_range)) { direct_items(params_, bufs, begin, end, true); }

RT_KERNEL(QG(rt_conv_bf16_direct))
{
    const RtQConvParams *p = params_;
    direct_items(p, bufs, 0, rt_qconv_direct_items(p), true);
}
