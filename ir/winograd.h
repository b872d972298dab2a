/* ir/winograd.h — which convolutions code generation computes by Winograd's F(2x2, 3x3): the
 * thresholds that code generation (codegen/lower/conv.c) and the bf16 rewrite (passes/quantize_bf16.c,
 * which leaves such convolutions in f32 for it) share, so that both decide alike. */
#ifndef SD_IR_WINOGRAD_H
#define SD_IR_WINOGRAD_H

#include <stdbool.h>
#include <stdint.h>

/* Channels in and out at least; input channels at most (bf16: the packed transforms of a chunk of
 * output channels must fit the bf16 GEMM's whole-A packing). */
#define IR_WINOGRAD_MIN_CHANNELS 16
#define IR_WINOGRAD_MAX_IN_CHANNELS 16384
/* Tiles of 2x2 outputs in all (batch included) at least: f32, and with bf16 products, where the
 * direct bf16 kernel with its weights packed once was as fast on fewer (7x7 layers at batch 8: 128
 * tiles, 2.8 ms direct against 3.9), unless both channel counts reach IR_WINOGRAD_BF16_WIDE: at
 * batch 1, 1 thread, ResNet-18's 256-channel 14x14 layers (49 tiles) took 1.17 ms direct, 0.82-0.86
 * in F(2x2), its 512-channel 7x7 ones (16 tiles) 1.34 against 1.00, while the Fashion-MNIST
 * teacher's 64 channels on 14x14 and 128 on 7x7 were 4-10% slower in F(2x2). */
#define IR_WINOGRAD_MIN_TILES 16
#define IR_WINOGRAD_BF16_MIN_TILES 64
#define IR_WINOGRAD_BF16_WIDE 256

/* Whether a 2-D convolution qualifies: one group, a 3x3 kernel at stride 1 and dilation 1 (the
 * rest of its description: kernel, strides, dilations as height then width), these channels, and
 * the tiles its batch of out_h x out_w outputs makes. */
static inline bool ir_winograd_conv(int64_t groups, const int64_t *kernel, const int64_t *strides,
                                    const int64_t *dilations, int64_t c_in, int64_t c_out, int64_t batch,
                                    int64_t out_h, int64_t out_w, bool bf16)
{
    for (int i = 0; i < 2; i++)
        if (kernel[i] != 3 || strides[i] != 1 || dilations[i] != 1)
            return false;
    const int64_t tiles = batch * ((out_h + 1) / 2) * ((out_w + 1) / 2);
    return groups == 1 && c_in >= IR_WINOGRAD_MIN_CHANNELS && c_in <= IR_WINOGRAD_MAX_IN_CHANNELS &&
           c_out >= IR_WINOGRAD_MIN_CHANNELS && tiles >= IR_WINOGRAD_MIN_TILES &&
           (!bf16 || tiles >= IR_WINOGRAD_BF16_MIN_TILES ||
            (c_in >= IR_WINOGRAD_BF16_WIDE && c_out >= IR_WINOGRAD_BF16_WIDE));
}

#endif
