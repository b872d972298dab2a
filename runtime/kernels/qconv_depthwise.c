/* runtime/kernels/qconv_depthwise.c — the int8 depthwise convolution (rt_qconv_depthwise_u8, see
 * qgemm.h): one input channel per group, so no GEMM: each plane is padded with x's zero point and
 * summed tap by tap, 16 outputs at a time with VNNI (vpermb gathers each output's taps into a
 * lane) or exactly in f32 otherwise. Built twice, like qgemm.c. */
#include "runtime/kernels/qgemm_internal.h"

/* y[ow] += sum over kw of w[kw] * xr[ow*S + kw*D]: one kernel row's taps over an output row, the
 * common widths written out (the kernel bitcode keeps loops rolled). Values are small integers in
 * f32: products of u8 and i8, at most 49 of them per output, are exact below 2^24. */
static void dw_row(const float *restrict xr, const float *restrict w, float *restrict y, int64_t n, int64_t KW,
                   int64_t S, int64_t D)
{
    switch (KW) {
    case 3: {
        const float w0 = w[0], w1 = w[1], w2 = w[2];
        for (int64_t ow = 0; ow < n; ow++)
            y[ow] += w0 * xr[ow * S] + w1 * xr[ow * S + D] + w2 * xr[ow * S + 2 * D];
        return;
    }
    case 5: {
        const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
        for (int64_t ow = 0; ow < n; ow++)
            y[ow] += w0 * xr[ow * S] + w1 * xr[ow * S + D] + w2 * xr[ow * S + 2 * D] + w3 * xr[ow * S + 3 * D] +
                     w4 * xr[ow * S + 4 * D];
        return;
    }
    default:
        for (int64_t kw = 0; kw < KW; kw++) {
            const float wk = w[kw];
            for (int64_t ow = 0; ow < n; ow++)
                y[ow] += wk * xr[ow * S + kw * D];
        }
    }
}

#if QG_SIMD
/* 16 requantized lanes of int32 sums (bias included) into y, the first n of them. */
QG_INLINE void requant16(__m512i v, int64_t n, float mult, const RtQDepthwiseParams *p, void *y)
{
    requant16_masked(v, (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1), mult, p->out_kind, p->y_zp, p->qmin, p->qmax,
                     p->lo, p->hi, y);
}

/* One plane from its u8 padded copy (64 bytes of slack after it): for 16 outputs of a row and
 * one kernel row, vpermb gathers each output's (up to) 4 taps into a 32-bit lane and vpdpbusd
 * multiplies them by the row's weights; a second quad for kernels wider than 4. */
static void dw_plane_vnni(const RtQDepthwiseParams *p, const uint8_t *pad, const int8_t *w, int32_t bias, float mult,
                          uint8_t *y)
{
    const int64_t PW = p->padded[1], OH = p->out[0], OW = p->out[1], KH = p->kernel[0], KW = p->kernel[1];
    const int64_t S0 = p->stride[0], S1 = p->stride[1], D0 = p->dilation[0], D1 = p->dilation[1];
    const size_t es = out_size(p->out_kind);
    uint8_t idx[2][64];
    int32_t wq[8][2];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 4; j++) {
            idx[0][4 * i + j] = (uint8_t)(i * S1 + (j < KW ? j : 0) * D1);
            idx[1][4 * i + j] = (uint8_t)(i * S1 + (j + 4 < KW ? j + 4 : 0) * D1);
        }
    for (int64_t kh = 0; kh < KH; kh++)
        for (int q = 0; q < 2; q++) {
            uint32_t v = 0;
            for (int j = 0; j < 4; j++)
                if (4 * q + j < KW)
                    v |= (uint32_t)(uint8_t)w[kh * KW + 4 * q + j] << (8 * j);
            wq[kh][q] = (int32_t)v;
        }
    const __m512i i0 = _mm512_loadu_si512(idx[0]), i1 = _mm512_loadu_si512(idx[1]);
    for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow += 16) {
            __m512i acc = _mm512_set1_epi32(bias);
            for (int64_t kh = 0; kh < KH; kh++) {
                const uint8_t *r = pad + (oh * S0 + kh * D0) * PW + ow * S1;
                __m512i src = _mm512_loadu_si512(r);
                acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(i0, src), _mm512_set1_epi32(wq[kh][0]));
                if (KW > 4)
                    acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(i1, src), _mm512_set1_epi32(wq[kh][1]));
            }
            requant16(acc, OW - ow, mult, p, y + (oh * OW + ow) * es);
        }
}

/* The padded copy of a plane, 64 bytes of a row at a time: a masked load over a vector of the zero
 * point and one 64-byte store (rows and chunks in order, a store's tail past the row overwritten
 * by the next row; the buffer has 64 bytes of slack). Byte loops cost more than the convolution
 * itself on 14x14 and 7x7 planes. */
static void pad_plane_vector(const RtQDepthwiseParams *p, const uint8_t *xp, uint8_t *pu, uint8_t z8)
{
    const int64_t PH = p->padded[0], PW = p->padded[1], IH = p->in[0], IW = p->in[1];
    const int64_t lo = min64(p->pad[1], PW), hi = min64(p->pad[1] + IW, PW);
    const __m512i zv = _mm512_set1_epi8((char)z8);
    for (int64_t ph = 0; ph < PH; ph++) {
        const int64_t ih = ph - p->pad[0];
        for (int64_t q0 = 0; q0 < PW; q0 += 64) {
            /* lanes q0 + j for q0 + j in [lo, hi) hold x[ih][q0 + j - pad]: the load starts early */
            const int64_t a = lo > q0 ? lo - q0 : 0, b = hi - q0 < 64 ? hi - q0 : 64;
            __m512i row = zv;
            if (ih >= 0 && ih < IH && a < b) {
                const __mmask64 m = (__mmask64)((b >= 64 ? ~0ull : (1ull << b) - 1) & ~((1ull << a) - 1));
                row = _mm512_mask_loadu_epi8(zv, m, (const void *)((uintptr_t)(xp + ih * IW + q0) - (uintptr_t)p->pad[1]));
            }
            _mm512_storeu_si512(pu + ph * PW + q0, row);
        }
    }
    _mm512_storeu_si512(pu + PH * PW, zv);
}
#endif

/* Each plane: copied into a padded plane (x_zp around it), then with VNNI 16 outputs at a time
 * (above), or summed row by row in f32 (exact) and the int32 sums plus bias requantized. */
static void dw_planes(const RtQDepthwiseParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const uint8_t *x = bufs[0];
    const int8_t *w = bufs[1];
    const int32_t *bias = bufs[2];
    const float *mult = bufs[3];
    uint8_t *y = bufs[4];
    float *pad = bufs[5];
    const int64_t PH = p->padded[0], PW = p->padded[1], IH = p->in[0], IW = p->in[1], OH = p->out[0], OW = p->out[1];
    const int64_t KH = p->kernel[0], KW = p->kernel[1], S0 = p->stride[0], S1 = p->stride[1];
    const int64_t D0 = p->dilation[0], D1 = p->dilation[1];
    float *acc = (float *)(((uintptr_t)(pad + PH * PW) + 63) & ~(uintptr_t)63);
    int32_t *sums = (int32_t *)(acc + ((OW + 15) & ~(int64_t)15));
    const float zp = (float)p->x_zp;
    const size_t es = out_size(p->out_kind);
#if QG_SIMD
    const bool vnni = KW <= 8 && KH <= 8 && 15 * S1 + (KW - 1) * D1 < 64;
#else
    const bool vnni = false;
#endif
    float wf[64];
    for (int64_t plane = begin; plane < end; plane++) {
        int64_t c = plane % p->channels;
        const uint8_t *xp = x + plane * IH * IW;
        const int8_t *wc = w + c * KH * KW;
        if (vnni) {
#if QG_SIMD
            uint8_t *pu = (uint8_t *)pad, z8 = (uint8_t)p->x_zp;
            pad_plane_vector(p, xp, pu, z8);
            dw_plane_vnni(p, pu, wc, bias[c], mult[c], y + plane * OH * OW * es);
#endif
            continue;
        }
        for (int64_t ph = 0; ph < PH; ph++) {
            float *r = pad + ph * PW;
            int64_t ih = ph - p->pad[0];
            if (ih < 0 || ih >= IH) {
                for (int64_t q = 0; q < PW; q++)
                    r[q] = zp;
                continue;
            }
            int64_t lo = min64(p->pad[1], PW), hi = min64(p->pad[1] + IW, PW);
            const uint8_t *xr = xp + ih * IW - p->pad[1];
            for (int64_t q = 0; q < lo; q++)
                r[q] = zp;
            for (int64_t q = lo; q < hi; q++)
                r[q] = (float)xr[q];
            for (int64_t q = hi; q < PW; q++)
                r[q] = zp;
        }
        for (int64_t i = 0; i < KH * KW && i < 64; i++)
            wf[i] = (float)wc[i];
        for (int64_t oh = 0; oh < OH; oh++) {
            for (int64_t ow = 0; ow < OW; ow++)
                acc[ow] = 0.0f;
            for (int64_t kh = 0; kh < KH; kh++)
                dw_row(pad + (oh * S0 + kh * D0) * PW, wf + kh * KW, acc, OW, KW, S1, D1);
            for (int64_t ow = 0; ow < OW; ow++)
                sums[ow] = (int32_t)acc[ow];
            requant_row(sums, OW, bias[c], mult[c], p->out_kind, p->y_zp, p->qmin, p->qmax, p->lo, p->hi,
                        y + (plane * OH * OW + oh * OW) * es);
        }
    }
}

RT_RANGE_KERNEL(QG(rt_qconv_depthwise_u8_range)) { dw_planes(params_, bufs, begin, end); }

RT_KERNEL(QG(rt_qconv_depthwise_u8))
{
    const RtQDepthwiseParams *p = params_;
    dw_planes(p, bufs, 0, p->batch * p->channels);
}
