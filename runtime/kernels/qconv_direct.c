/* runtime/kernels/qconv_direct.c — the int8 convolution without im2col (rt_qconv_direct_u8, see
 * qgemm.h), the integer twin of conv_direct.c. im2col copied every input byte once per tap, in
 * rows of 7 to 56 bytes (a fifth of a quantized ResNet-18's time went to memcpy and memset calls);
 * here the input of a block of images is copied once into planes of 4 channels interleaved, one
 * per block of 4 input channels and stride phase, padded with x's zero point. A pixel's 4 bytes at
 * one tap are then one 32-bit lane of vpdpbusd, and the GEMM row of tap (block, ky, kx) is the
 * plane shifted by the tap's offset. Built twice, like qgemm.c. */
#include "runtime/kernels/qgemm_internal.h"

/* Whether some tap of a kernel (size k, dilation d, stride s) reads stride phase `phase`. */
static inline bool phase_read(int64_t k, int64_t d, int64_t s, int64_t phase)
{
    for (int64_t t = 0; t < k; t++)
        if (t * d % s == phase)
            return true;
    return false;
}

/* dst[q] = the 4 bytes c[j][start + q * s] (j = 0..3, channels cs apart) for q < n. */
static void interleave4(const uint8_t *restrict c, int64_t cs, int64_t start, int64_t s, int64_t n, int64_t limit,
                        uint32_t *restrict dst)
{
    int64_t q = 0;
#if QG_SIMD
    /* 16 pixels at a time while the loads stay inside the row (start + 16 s <= limit) */
    if (s == 1)
        for (; q + 16 <= n && start + q + 16 <= limit; q += 16) {
            const uint8_t *r = c + start + q;
            __m128i a = _mm_loadu_si128((const void *)r), b = _mm_loadu_si128((const void *)(r + cs));
            __m128i e = _mm_loadu_si128((const void *)(r + 2 * cs)), f = _mm_loadu_si128((const void *)(r + 3 * cs));
            __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
            __m128i ef0 = _mm_unpacklo_epi8(e, f), ef1 = _mm_unpackhi_epi8(e, f);
            _mm_storeu_si128((void *)(dst + q), _mm_unpacklo_epi16(ab0, ef0));
            _mm_storeu_si128((void *)(dst + q + 4), _mm_unpackhi_epi16(ab0, ef0));
            _mm_storeu_si128((void *)(dst + q + 8), _mm_unpacklo_epi16(ab1, ef1));
            _mm_storeu_si128((void *)(dst + q + 12), _mm_unpackhi_epi16(ab1, ef1));
        }
    else if (s == 2)
        for (; q + 16 <= n && start + 2 * q + 32 <= limit; q += 16) {
            const uint8_t *r = c + start + 2 * q;
            const __m256i lo = _mm256_set1_epi16(0xff);
            __m128i a = _mm256_cvtepi16_epi8(_mm256_and_si256(_mm256_loadu_si256((const void *)r), lo));
            __m128i b = _mm256_cvtepi16_epi8(_mm256_and_si256(_mm256_loadu_si256((const void *)(r + cs)), lo));
            __m128i e = _mm256_cvtepi16_epi8(_mm256_and_si256(_mm256_loadu_si256((const void *)(r + 2 * cs)), lo));
            __m128i f = _mm256_cvtepi16_epi8(_mm256_and_si256(_mm256_loadu_si256((const void *)(r + 3 * cs)), lo));
            __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
            __m128i ef0 = _mm_unpacklo_epi8(e, f), ef1 = _mm_unpackhi_epi8(e, f);
            _mm_storeu_si128((void *)(dst + q), _mm_unpacklo_epi16(ab0, ef0));
            _mm_storeu_si128((void *)(dst + q + 4), _mm_unpackhi_epi16(ab0, ef0));
            _mm_storeu_si128((void *)(dst + q + 8), _mm_unpacklo_epi16(ab1, ef1));
            _mm_storeu_si128((void *)(dst + q + 12), _mm_unpackhi_epi16(ab1, ef1));
        }
#else
    (void)limit;
#endif
    for (; q < n; q++) {
        const int64_t at = start + q * s;
        dst[q] = (uint32_t)c[at] | (uint32_t)c[cs + at] << 8 | (uint32_t)c[2 * cs + at] << 16 |
                 (uint32_t)c[3 * cs + at] << 24;
    }
}

/* The planes of images [n0, n0 + ni) (x: image n0): plane (c4, py, px) at planes + its index *
 * ps pixels, plane pixel (i * HQ + qy, qx) holding input pixel (qy * SH + py - PH, qx * SW + px - PW)
 * of channels 4 c4 .. 4 c4 + 3, x's zero point outside the input and after the images. */
static void fill_planes(const RtQConvParams *p, const uint8_t *x, int64_t ni, uint32_t *planes, int64_t ps)
{
    const int64_t IH = p->in[1], IW = p->in[2], SH = p->stride[1], SW = p->stride[2];
    const int64_t PH = p->pad[1], PW = p->pad[2], HQ = p->plane[0], WQ = p->plane[1], plane = IH * IW;
    const uint8_t zp = (uint8_t)p->x_zp;
    for (int64_t c4 = 0; c4 < p->c_in / 4; c4++)
        for (int64_t py = 0; py < SH; py++)
            for (int64_t px = 0; px < SW; px++) {
                if (!phase_read(p->kernel[1], p->dilation[1], SH, py) ||
                    !phase_read(p->kernel[2], p->dilation[2], SW, px))
                    continue; /* never read */
                uint32_t *pl = planes + ((c4 * SH + py) * SW + px) * ps;
                memset(pl, zp, (size_t)ps * 4); /* one call: the padding, then the inside over it */
                const int64_t shift = px - PW;
                int64_t lo = shift < 0 ? (-shift + SW - 1) / SW : 0;
                int64_t hi = IW - 1 - shift >= 0 ? (IW - 1 - shift) / SW + 1 : 0;
                hi = min64(hi, WQ);
                if (lo >= hi)
                    continue;
                for (int64_t i = 0; i < ni; i++) {
                    const uint8_t *xc = x + (i * p->c_in + 4 * c4) * plane;
                    for (int64_t qy = 0; qy < HQ; qy++) {
                        const int64_t iy = qy * SH + py - PH;
                        if (iy < 0 || iy >= IH)
                            continue;
                        interleave4(xc + iy * IW, plane, lo * SW + shift, SW, hi - lo, IW,
                                    pl + (i * HQ + qy) * WQ + lo);
                    }
                }
            }
}

/* Where the GEMM row of each packed k4 (c4, ky, kx) starts, in pixels from the first plane. */
static void tap_offsets(const RtQConvParams *p, int64_t ps, int32_t *offs)
{
    const int64_t KH = p->kernel[1], KW = p->kernel[2], SH = p->stride[1], SW = p->stride[2];
    const int64_t DH = p->dilation[1], DW = p->dilation[2];
    for (int64_t c4 = 0, k4 = 0; c4 < p->c_in / 4; c4++)
        for (int64_t ky = 0; ky < KH; ky++)
            for (int64_t kx = 0; kx < KW; kx++, k4++) {
                const int64_t plane = (c4 * SH + ky * DH % SH) * SW + kx * DW % SW;
                offs[k4] = (int32_t)(plane * ps + ky * DH / SH * p->plane[1] + kx * DW / SW);
            }
}

/* acc[r][q] = sum over k4 of dot4(plane pixel q at row k4's offset, w[k4][r]): RT_QG_MR channels x
 * RT_QG_NR pixels, base the tile's first pixel. */
#if QG_SIMD
QG_INLINE void tile_rows(const uint32_t *restrict base, const int32_t *restrict offs, int64_t k4n,
                         const int8_t *restrict b, int32_t *restrict acc)
{
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
            c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int64_t k = 0; k < k4n; k++) {
        const uint32_t *ak = base + offs[k];
        const int8_t *bk = b + k * RT_QG_MR * 4;
        __m512i a0 = _mm512_loadu_si512(ak), a1 = _mm512_loadu_si512(ak + 16), w;
#define QG_ROW(r, x0, x1)                          \
    w = _mm512_set1_epi32(load_i32(bk + 4 * (r))); \
    x0 = _mm512_dpbusd_epi32(x0, a0, w);           \
    x1 = _mm512_dpbusd_epi32(x1, a1, w);
        QG_ROW(0, c00, c01) QG_ROW(1, c10, c11) QG_ROW(2, c20, c21) QG_ROW(3, c30, c31)
        QG_ROW(4, c40, c41) QG_ROW(5, c50, c51) QG_ROW(6, c60, c61) QG_ROW(7, c70, c71)
#undef QG_ROW
    }
    __m512i *o = (__m512i *)acc;
    _mm512_storeu_si512(o + 0, c00), _mm512_storeu_si512(o + 1, c01), _mm512_storeu_si512(o + 2, c10);
    _mm512_storeu_si512(o + 3, c11), _mm512_storeu_si512(o + 4, c20), _mm512_storeu_si512(o + 5, c21);
    _mm512_storeu_si512(o + 6, c30), _mm512_storeu_si512(o + 7, c31), _mm512_storeu_si512(o + 8, c40);
    _mm512_storeu_si512(o + 9, c41), _mm512_storeu_si512(o + 10, c50), _mm512_storeu_si512(o + 11, c51);
    _mm512_storeu_si512(o + 12, c60), _mm512_storeu_si512(o + 13, c61), _mm512_storeu_si512(o + 14, c70);
    _mm512_storeu_si512(o + 15, c71);
}
#else
static void tile_rows(const uint32_t *restrict base, const int32_t *restrict offs, int64_t k4n,
                      const int8_t *restrict b, int32_t *restrict acc)
{
    for (int i = 0; i < RT_QG_MR * RT_QG_NR; i++)
        acc[i] = 0;
    for (int64_t k = 0; k < k4n; k++) {
        const uint8_t *ak = (const uint8_t *)(base + offs[k]);
        const int8_t *bk = b + k * RT_QG_MR * 4;
        for (int r = 0; r < RT_QG_MR; r++) {
            int32_t *c = acc + r * RT_QG_NR;
            for (int q = 0; q < RT_QG_NR; q++)
                for (int j = 0; j < 4; j++)
                    c[q] += ak[4 * q + j] * bk[4 * r + j];
        }
    }
}
#endif

/* The tile's sums of channels [oc0, oc0 + rows) for GEMM columns [t, t + RT_QG_NR) (column n:
 * plane row n / WQ, column n % WQ) into y, the columns that are output pixels of images n0.. */
static void store_tile(const RtQConvParams *p, const int32_t *acc, int64_t t, int64_t cols, int64_t oc0, int64_t rows,
                       const int32_t *bias, const float *mult, uint8_t *y)
{
    const int64_t HQ = p->plane[0], WQ = p->plane[1], OH = p->out[1], OW = p->out[2], P = OH * OW;
    const size_t es = out_size(p->out_kind);
    const int64_t end = min64(t + RT_QG_NR, cols);
    for (int64_t R = t / WQ; R * WQ < end; R++) {
        const int64_t i = R / HQ, oy = R % HQ;
        const int64_t a = R * WQ > t ? R * WQ : t, b = min64(R * WQ + OW, end);
        if (oy >= OH || a >= b)
            continue; /* a row between two images, or the columns past a row's pixels */
        for (int64_t r = 0; r < rows; r++) {
            uint8_t *row = y + ((i * p->c_out + oc0 + r) * P + oy * OW) * (int64_t)es;
#if QG_SIMD
            /* lane l of the tile is pixel (t + l - R * WQ) of the row: masked stores at the lanes
             * [a - t, b - t), the address of lane 0 computed as an integer (it may lie before row) */
            const uint32_t m = (uint32_t)(((uint64_t)1 << (b - t)) - ((uint64_t)1 << (a - t)));
            const uintptr_t lane0 = (uintptr_t)row + (uintptr_t)((t - R * WQ) * (int64_t)es);
            for (int h = 0; h < 2; h++) {
                const __mmask16 mh = (__mmask16)(m >> (16 * h));
                if (!mh)
                    continue;
                __m512i v = _mm512_add_epi32(_mm512_loadu_si512(acc + r * RT_QG_NR + 16 * h),
                                             _mm512_set1_epi32(bias[oc0 + r]));
                requant16_masked(v, mh, mult[oc0 + r], p->out_kind, p->y_zp, p->qmin, p->qmax, p->lo, p->hi,
                                 (void *)(lane0 + (uintptr_t)(16 * h * (int64_t)es)));
            }
#else
            requant_row(acc + r * RT_QG_NR + (a - t), b - a, bias[oc0 + r], mult[oc0 + r], p->out_kind, p->y_zp,
                        p->qmin, p->qmax, p->lo, p->hi, row + (a - R * WQ) * (int64_t)es);
#endif
        }
    }
}

/* Items [begin, end) of (block of images, chunk of channel panels), chunk fastest: a task's items
 * of one block share its planes. */
static void qconv_direct_items(const RtQConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const uint8_t *x = bufs[0];
    const int8_t *w = bufs[1];
    const int32_t *bias = bufs[2];
    const float *mult = bufs[3];
    uint8_t *y = bufs[4];
    uint32_t *planes = bufs[5];
    if (p->stride[1] <= 0 || p->stride[2] <= 0 || p->plane[0] <= 0 || p->plane[1] <= 0 || p->c_split <= 0)
        return;
    const int64_t ipb = p->images_per_block, nib = ceil_div(p->batch, ipb), ps = rt_qconv_direct_plane_pixels(p);
    const int64_t panels = p->cp / RT_QG_MR, k4n = p->kp / 4, OH = p->out[1];
    const size_t es = out_size(p->out_kind);
    int32_t *offs = (int32_t *)(planes + rt_qconv_direct_planes(p) * ps);
    int32_t *acc = (int32_t *)(((uintptr_t)(offs + k4n) + 63) & ~(uintptr_t)63);
    tap_offsets(p, ps, offs);
    int64_t have = -1;
    for (int64_t item = begin; item < end; item++) {
        const int64_t cs = item % p->c_split, b = item / p->c_split;
        if (b >= nib)
            break;
        const int64_t n0 = b * ipb, ni = min64(ipb, p->batch - n0);
        if (b != have) {
            fill_planes(p, x + n0 * p->c_in * p->in[1] * p->in[2], ni, planes, ps);
            have = b;
        }
        /* the columns up to the last image's last output row */
        const int64_t cols = ((ni - 1) * p->plane[0] + OH) * p->plane[1];
        uint8_t *yb = y + n0 * p->c_out * OH * p->out[2] * (int64_t)es;
        for (int64_t pan = cs * panels / p->c_split; pan < (cs + 1) * panels / p->c_split; pan++) {
            const int64_t oc0 = pan * RT_QG_MR;
            if (oc0 >= p->c_out)
                break;
            const int64_t rows = min64(RT_QG_MR, p->c_out - oc0);
            const int8_t *wp = w + pan * RT_QG_MR * p->kp;
            for (int64_t t = 0; t < cols; t += RT_QG_NR) {
                tile_rows(planes + t, offs, k4n, wp, acc);
                store_tile(p, acc, t, cols, oc0, rows, bias, mult, yb);
            }
        }
    }
}

RT_RANGE_KERNEL(QG(rt_qconv_direct_u8_range)) { qconv_direct_items(params_, bufs, begin, end); }

RT_KERNEL(QG(rt_qconv_direct_u8))
{
    const RtQConvParams *p = params_;
    qconv_direct_items(p, bufs, 0, rt_qconv_direct_items(p));
}
