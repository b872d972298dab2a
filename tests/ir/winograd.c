/* tests/ir/winograd.c — which convolutions Winograd's kernels take (ir/winograd.h), the rule that
 * code generation and the bf16 rewrite share: f32 from 16 tiles of 2x2 outputs, bf16 from 64, or
 * from 16 where both channel counts are wide. */
#include <criterion/criterion.h>

#include "ir/winograd.h"

static bool takes(int64_t c_in, int64_t c_out, int64_t batch, int64_t hw, bool bf16)
{
    static const int64_t k3[2] = {3, 3}, one[2] = {1, 1};
    return ir_winograd_conv(1, k3, one, one, c_in, c_out, batch, hw, hw, bf16);
}

Test(ir_winograd, tiles_and_channels)
{
    /* ResNet-18 at batch 1: 56x56 to 7x7 (784 to 16 tiles) */
    cr_expect(takes(64, 64, 1, 56, false) && takes(64, 64, 1, 56, true));
    cr_expect(takes(512, 512, 1, 7, false) && takes(512, 512, 1, 7, true));
    cr_expect(takes(256, 256, 1, 14, true));
    /* the Fashion-MNIST teacher at batch 1: 64 channels on 14x14 (49 tiles), 128 on 7x7 (16) */
    cr_expect(takes(64, 64, 1, 14, false) && !takes(64, 64, 1, 14, true));
    cr_expect(takes(128, 128, 1, 7, false) && !takes(128, 128, 1, 7, true));
    cr_expect(takes(128, 128, 4, 7, true), "64 tiles");
    /* wide on one side only */
    cr_expect(!takes(128, 256, 1, 7, true) && !takes(256, 128, 1, 7, true));
    /* under 16 tiles (4x4 outputs at batch 1), under 16 channels, other kernels and strides */
    cr_expect(!takes(512, 512, 1, 4, false) && !takes(512, 512, 1, 4, true));
    cr_expect(!takes(8, 64, 1, 56, false) && !takes(64, 8, 1, 56, false));
    static const int64_t k3[2] = {3, 3}, k5[2] = {5, 5}, one[2] = {1, 1}, two[2] = {2, 2};
    cr_expect(!ir_winograd_conv(1, k5, one, one, 64, 64, 1, 56, 56, false));
    cr_expect(!ir_winograd_conv(1, k3, two, one, 64, 64, 1, 56, 56, false));
    cr_expect(!ir_winograd_conv(1, k3, one, two, 64, 64, 1, 56, 56, false));
    cr_expect(!ir_winograd_conv(2, k3, one, one, 64, 64, 1, 56, 56, false));
}
