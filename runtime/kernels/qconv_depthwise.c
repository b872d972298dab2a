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
/* Which lanes hold which outputs in the VNNI path: R output rows side by side in groups of L lanes
 * (L = 4, 8 or 16, R = 16 / L), so that a 7x7 plane fills 14 of 16 lanes in each vector rather
 * than 7, and the gather indices, the same for every plane, built once per call. */
typedef struct DwLanes {
    __m512i idx[2]; /* the taps 0-3 and 4-7 of lane i's output: bytes of one 64-byte load */
    int64_t group, rows;
} DwLanes;

/* Picks the narrowest group that holds a row and whose R rows of taps fit in one 64-byte load;
 * false if not even one row of 16 outputs does (wide strides or dilations). */
static bool dw_lanes_plan(const RtQDepthwiseParams *p, DwLanes *l)
{
    const int64_t PW = p->padded[1], OW = p->out[1], KW = p->kernel[1];
    const int64_t S0 = p->stride[0], S1 = p->stride[1], D1 = p->dilation[1];
    if (KW > 8 || p->kernel[0] > 8)
        return false;
    for (int64_t L = 4; L <= 16; L *= 2) {
        const int64_t R = 16 / L, used = min64(OW, L);
        if (OW > L && L < 16)
            continue;
        if ((R - 1) * S0 * PW + (used - 1) * S1 + (KW - 1) * D1 >= 64)
            continue;
        uint8_t idx[2][64];
        for (int i = 0; i < 16; i++) {
            const int64_t g = i / L, o = i % L < used ? i % L : 0;
            for (int j = 0; j < 4; j++) {
                idx[0][4 * i + j] = (uint8_t)(g * S0 * PW + o * S1 + (j < KW ? j : 0) * D1);
                idx[1][4 * i + j] = (uint8_t)(g * S0 * PW + o * S1 + (j + 4 < KW ? j + 4 : 0) * D1);
            }
        }
        l->idx[0] = _mm512_loadu_si512(idx[0]), l->idx[1] = _mm512_loadu_si512(idx[1]);
        l->group = L, l->rows = R;
        return true;
    }
    return false;
}

/* The vector of sums for output rows oh.. and columns ow.. requantized into y, one masked store
 * per row it holds. */
QG_INLINE void dw_store(const RtQDepthwiseParams *p, const DwLanes *l, __m512i acc, float mult, int64_t oh, int64_t ow,
                        uint8_t *y)
{
    const int64_t OH = p->out[0], OW = p->out[1], L = l->group, R = l->rows, n = min64(L, OW - ow);
    const uint32_t row_mask = n >= 16 ? 0xffffu : (1u << n) - 1;
    const bool f32 = p->out_kind == RT_QOUT_F32;
    const __m512 f = f32 ? requant16_f32(acc, mult, p->lo, p->hi) : _mm512_setzero_ps();
    __m128i q = f32 ? _mm_setzero_si128() : requant16_bytes(acc, mult, p->y_zp, p->qmin, p->qmax);
    if (!f32 && p->has_lut)
        q = lut16(q, p->lut);
#pragma clang loop unroll(full)
    for (int64_t g = 0; g < 4; g++) { /* R <= 4, a constant count as for the taps */
        if (g >= R || oh + g >= OH)
            continue;
        /* lane 0 of row g's group, as an integer: it lies g * L lanes before the row */
        const uintptr_t lane0 = (uintptr_t)y + (uintptr_t)(((oh + g) * OW + ow) * (f32 ? 4 : 1)) -
                                (uintptr_t)(g * L * (f32 ? 4 : 1));
        const __mmask16 m = (__mmask16)(row_mask << (g * L));
        if (f32)
            _mm512_mask_storeu_ps((void *)lane0, m, f);
        else
            _mm_mask_storeu_epi8((void *)lane0, m, q);
    }
}

/* One plane from its u8 padded copy (64 bytes of slack after it): for each vector of outputs and
 * kernel row, vpermb gathers each output's (up to) 4 taps into a 32-bit lane and vpdpbusd
 * multiplies them by the row's weights; a second quad for kernels wider than 4. The R rows of a
 * vector are requantized together and stored one masked store each. */
static void dw_plane_vnni(const RtQDepthwiseParams *p, const DwLanes *l, const uint8_t *pad, const int8_t *w,
                          int64_t w_left, int32_t bias, float mult, uint8_t *y)
{
    const int64_t PW = p->padded[1], OH = p->out[0], OW = p->out[1], KH = p->kernel[0], KW = p->kernel[1];
    const int64_t S0 = p->stride[0], S1 = p->stride[1], D0 = p->dilation[0];
    const int64_t L = l->group, R = l->rows;
    __m512i wq[8][2];
    for (int64_t kh = 0; kh < KH; kh++)
        for (int q = 0; q < (KW > 4 ? 2 : 1); q++) {
            /* a row's taps 4q.. as one 32-bit load, the taps past the row masked off; byte by byte
             * only where the load would pass the end of the weights */
            const int64_t at = kh * KW + 4 * q, n = min64(KW - 4 * q, 4);
            uint32_t v = 0;
            if (at + 4 <= w_left)
                v = (uint32_t)load_i32(w + at) & (n >= 4 ? ~0u : (1u << (8 * n)) - 1);
            else
                for (int j = 0; j < n; j++)
                    v |= (uint32_t)(uint8_t)w[at + j] << (8 * j);
            wq[kh][q] = _mm512_set1_epi32((int32_t)v);
        }
    /* the vectors two at a time: each one's sums are a chain of dependent vpdpbusd, so two chains
     * keep the unit busy (a lone vector on the last pass is computed twice, stored once) */
    const int64_t nw = ceil_div(OW, L), nvec = ceil_div(OH, R) * nw;
    for (int64_t v = 0; v < nvec; v += 2) {
        const int64_t u = v + 1 < nvec ? v + 1 : v;
        const int64_t oh0 = v / nw * R, ow0 = v % nw * L, oh1 = u / nw * R, ow1 = u % nw * L;
        __m512i acc0 = _mm512_set1_epi32(bias), acc1 = acc0;
#pragma clang loop unroll(full)
        for (int64_t kh = 0; kh < 8; kh++) { /* KH <= 8 (dw_lanes_plan): a constant count unrolls */
            if (kh < KH) {
                const __m512i s0 = _mm512_loadu_si512(pad + (oh0 * S0 + kh * D0) * PW + ow0 * S1);
                const __m512i s1 = _mm512_loadu_si512(pad + (oh1 * S0 + kh * D0) * PW + ow1 * S1);
                acc0 = _mm512_dpbusd_epi32(acc0, _mm512_permutexvar_epi8(l->idx[0], s0), wq[kh][0]);
                acc1 = _mm512_dpbusd_epi32(acc1, _mm512_permutexvar_epi8(l->idx[0], s1), wq[kh][0]);
                if (KW > 4) {
                    acc0 = _mm512_dpbusd_epi32(acc0, _mm512_permutexvar_epi8(l->idx[1], s0), wq[kh][1]);
                    acc1 = _mm512_dpbusd_epi32(acc1, _mm512_permutexvar_epi8(l->idx[1], s1), wq[kh][1]);
                }
            }
        }
        dw_store(p, l, acc0, mult, oh0, ow0, y);
        if (u != v)
            dw_store(p, l, acc1, mult, oh1, ow1, y);
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
    DwLanes lanes;
    const bool vnni = dw_lanes_plan(p, &lanes);
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
            dw_plane_vnni(p, &lanes, pu, wc, (p->channels - c) * KH * KW, bias[c], mult[c], y + plane * OH * OW * es);
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
                        QG_LUT(p),
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
