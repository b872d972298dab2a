/* runtime/kernels/conv_depthwise_lanes.c — depthwise convolutions on small planes with 16 channels
 * side by side in each vector's lanes (rt_conv_depthwise_lanes_items). Channel by channel, a 7x7 or
 * 14x14 plane is a few vectors wide, so most of the time went into each channel's copies, borders
 * and remainders, and stride 2 made every tap a strided read: EfficientNet-B0's 5x5 stride-2 layer
 * on 56x56 planes took 4 times as long as ONNX Runtime's (channels blocked by 16, NCHWc). Here a
 * band of input rows of 16 channels is transposed in registers (conv_lanes.h) into a zero-padded
 * tile whose every position is one vector, each tap of each output is one multiply-add of whole
 * vectors whatever the stride, and the outputs go back through the same transpose. */
#include "runtime/kernels/conv.h"
#include "runtime/kernels/conv_internal.h"
#include "runtime/kernels/conv_lanes.h"

#include <string.h>

#include "runtime/kernels/gemm_internal.h"

#define DWL_TILE_FLOATS RT_DW_LANES_TILE_FLOATS
#define DWL_OUT_FLOATS RT_DW_LANES_OUT_FLOATS
#define DWL_MAX_TAPS RT_DW_LANES_MAX_TAPS
#define DWL_COLS 8 /* outputs of a row computed together (their accumulators in registers) */

/* Columns of the tile: the windows' and the input's, whichever reach further */
static inline int64_t dwl_tile_cols(const RtConvParams *p)
{
    const int64_t need = (p->out[2] - 1) * p->stride[2] + (p->kernel[2] - 1) * p->dilation[2] + 1;
    const int64_t inside = p->pad[2] + p->in[2];
    return need > inside ? need : inside;
}
/* Input rows the windows of `rows` output rows span */
static inline int64_t dwl_tile_rows(const RtConvParams *p, int64_t rows)
{
    return (rows - 1) * p->stride[1] + (p->kernel[1] - 1) * p->dilation[1] + 1;
}
/* Floats of a band's tile: its rows, and slack for the last row's block of DWL_COLS outputs */
static inline int64_t dwl_tile_floats(const RtConvParams *p, int64_t rows)
{
    return (dwl_tile_rows(p, rows) * dwl_tile_cols(p) + DWL_COLS * p->stride[2]) * 16;
}

int64_t rt_conv_depthwise_lanes_rows(const RtConvParams *p)
{
    if (p->groups != p->c_in || p->c_out != p->c_in || p->in[0] != 1 || p->out[0] != 1 || p->kernel[0] != 1 ||
        p->out[1] <= 0 || p->out[2] <= 0 || p->kernel[1] * p->kernel[2] > DWL_MAX_TAPS)
        return 0;
    /* larger planes: the row loops of conv_depthwise.c were faster (their reads are whole rows, and
     * the transposes cost as much as 3x3 taps: 3x3 on 56x56 and 112x112 planes took 1.1-1.4x as long
     * here), except at stride 2, whose strided reads cost the row loops most (5x5 windows; 3x3 ones
     * on 56x56 planes, MobileNetV2's 144 channels: 0.100 -> 0.087 ms in the model) */
    const int64_t plane = p->in[1] * p->in[2];
    const bool strided = p->stride[1] > 1 || p->stride[2] > 1;
    if (plane > RT_DW_LANES_MAX_PLANE || (plane > RT_DW_LANES_SMALL_PLANE && !strided))
        return 0;
    int64_t rows = DWL_OUT_FLOATS / 16 / p->out[2];
    rows = rows > p->out[1] ? p->out[1] : rows;
    while (rows > 0 && dwl_tile_floats(p, rows) > DWL_TILE_FLOATS)
        rows--;
    if (rows <= 0)
        return 0;
    /* bands of equal height */
    const int64_t bands = (p->out[1] + rows - 1) / rows;
    return (p->out[1] + bands - 1) / bands;
}

/* One row's block of DWL_COLS outputs from ow0: KH_ x KW_ taps, their loops unrolled by UNROLL_
 * where the window is a constant here (then the taps of neighbouring outputs that read the same
 * position share one load). Columns past the row's end are computed from the next row's data (or
 * the slack) and dropped. */
#define DWL_BLOCK(KH_, KW_, UNROLL_KH, UNROLL_KW)                                                   \
    do {                                                                                            \
        v16f acc[DWL_COLS];                                                                         \
        RT_UNROLL                                                                                   \
        for (int j = 0; j < DWL_COLS; j++)                                                          \
            acc[j] = b;                                                                             \
        UNROLL_KH                                                                                   \
        for (int64_t kh = 0; kh < (KH_); kh++)                                                      \
            UNROLL_KW                                                                               \
            for (int64_t kw = 0; kw < (KW_); kw++) {                                                \
                const v16f w = VLOAD(wt + (kh * (KW_) + kw) * 16);                                  \
                const float *t = T + ((r * SH + kh * DH) * WP + ow0 * SW + kw * DW) * 16;           \
                RT_UNROLL                                                                           \
                for (int j = 0; j < DWL_COLS; j++)                                                  \
                    acc[j] = VFMA(w, VLOAD(t + j * SW * 16), acc[j]);                               \
            }                                                                                       \
        RT_UNROLL                                                                                   \
        for (int j = 0; j < DWL_COLS; j++)                                                          \
            if (ow0 + j < OW)                                                                       \
                VSTORE(O + (r * OW + ow0 + j) * 16, acc[j]);                                        \
    } while (0)

/* O[(r * OW + ow) * 16 + l] = bias + the taps of output (oh0 + r, ow) of lane l, from the band's
 * tile T (row t holds input row oh0 * SH - PH + t, column j input column j - PW) */
static void dwl_band_sums(const RtConvParams *p, const float *restrict T, const float *restrict wt, const float *bias,
                          int64_t rows, float *restrict O)
{
    const int64_t OW = p->out[2], KH = p->kernel[1], KW = p->kernel[2];
    const int64_t SH = p->stride[1], SW = p->stride[2], DH = p->dilation[1], DW = p->dilation[2];
    const int64_t WP = dwl_tile_cols(p);
    const v16f b = VLOAD(bias);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t ow0 = 0; ow0 < OW; ow0 += DWL_COLS) {
            if (KH == 3 && KW == 3)
                DWL_BLOCK(3, 3, RT_UNROLL, RT_UNROLL);
            else if (KH == 5 && KW == 5)
                DWL_BLOCK(5, 5, , RT_UNROLL);
            else
                DWL_BLOCK(KH, KW, , );
        }
}

/* Zero what the input does not cover in a tile of tr rows from input row top: the rows outside it
 * (those inside are [ih_lo, ih_hi)), the columns left and right of it, and the slack. Only those:
 * zeroing whole tiles of 64 KB took longer than the taps. */
static void dwl_zero_padding(const RtConvParams *p, float *restrict T, int64_t top, int64_t tr, int64_t ih_lo,
                             int64_t ih_hi)
{
    const int64_t WP = dwl_tile_cols(p), PW = p->pad[2], IW = p->in[2];
    const size_t row = (size_t)(WP * 16) * sizeof(float);
    for (int64_t t = 0; t < tr; t++) {
        float *r = T + t * WP * 16;
        if (top + t < ih_lo || top + t >= ih_hi) {
            memset(r, 0, row);
            continue;
        }
        memset(r, 0, (size_t)(PW * 16) * sizeof(float));
        memset(r + (PW + IW) * 16, 0, (size_t)((WP - PW - IW) * 16) * sizeof(float));
    }
    memset(T + tr * WP * 16, 0, (size_t)(DWL_COLS * p->stride[2] * 16) * sizeof(float));
}

void rt_conv_depthwise_lanes_items(const RtConvParams *p, void *const *bufs, int64_t begin, int64_t end)
{
    const int64_t rows = rt_conv_depthwise_lanes_rows(p);
    const float *x = bufs[0], *w = bufs[1];
    const float *bias = p->has_bias ? bufs[2] : NULL, *res = conv_residual(p, bufs);
    float *y = conv_y(p, bufs);
    const int64_t C = p->c_out, IH = p->in[1], IW = p->in[2], OH = p->out[1], OW = p->out[2];
    const int64_t SH = p->stride[1], PH = p->pad[1], PW = p->pad[2];
    const int64_t in_vol = IH * IW, out_vol = OH * OW, kvol = p->kernel[1] * p->kernel[2];
    const int64_t WP = dwl_tile_cols(p);
    /* the workspace, not the stack: 100 KB would not fit the small stacks of embedded targets */
    float *T = bufs[3 + p->has_bias + p->has_residual];
    float *O = T + DWL_TILE_FLOATS, *wt = O + DWL_OUT_FLOATS, *bv = wt + DWL_MAX_TAPS * 16;
    const int64_t blocks = (C + 15) / 16;
    for (int64_t it = begin; it < end; it++) {
        /* the block: up to 16 channels of one image */
        const int64_t n = it / blocks, c0 = it % blocks * 16, lanes = C - c0 < 16 ? C - c0 : 16;
        for (int64_t t = 0; t < kvol; t++)
            for (int64_t l = 0; l < 16; l++)
                wt[t * 16 + l] = l < lanes ? w[(c0 + l) * kvol + t] : 0.0f;
        for (int64_t l = 0; l < 16; l++)
            bv[l] = l < lanes && bias ? bias[c0 + l] : 0.0f;
        const float *xb = x + (n * C + c0) * in_vol;
        float *yb = y + (n * C + c0) * out_vol;
        const float *rb = res ? res + (n * C + c0) * out_vol : NULL;
        for (int64_t oh0 = 0; oh0 < OH; oh0 += rows) {
            const int64_t nr = OH - oh0 < rows ? OH - oh0 : rows;
            /* the tile: the input rows inside it, zero around them */
            const int64_t top = oh0 * SH - PH, tr = dwl_tile_rows(p, nr);
            const int64_t ih_lo = top < 0 ? 0 : top, ih_hi = top + tr < IH ? top + tr : IH;
            dwl_zero_padding(p, T, top, tr, ih_lo, ih_hi);
            if (ih_hi > ih_lo)
                lanes_in(xb + ih_lo * IW, in_vol, lanes, (ih_hi - ih_lo) * IW, IW, ih_lo - top, PW, WP, T);
            dwl_band_sums(p, T, wt, bv, nr, O);
            lanes_out(p, O, OW, 16, lanes, out_vol, nr * OW, OW, NULL, rb ? rb + oh0 * OW : NULL, yb + oh0 * OW);
        }
    }
}
