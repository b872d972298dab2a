/* runtime/data/augment.h — image augmentation for self-supervised training, in C.
 *
 * Images are f32 [C, H, W] with values in [0, 1] (u8 sources are divided by 255 first, as
 * torchvision's ToTensor does). Each operation follows torchvision 0.14 on float tensors, so a
 * recipe written for PyTorch means the same here:
 *   random resized crop   RandomResizedCrop(size, scale, ratio): 10 attempts, then a center crop;
 *                         bilinear resize with align_corners=False and no antialiasing
 *   horizontal flip       RandomHorizontalFlip(p)
 *   brightness, contrast  RandomApply([ColorJitter(brightness, contrast)], p): factors uniform in
 *                         [max(0, 1 - s), 1 + s], applied in a random order, results clamped to
 *                         [0, 1]; contrast blends with the mean of the grayscale image
 *   Gaussian blur         RandomApply([GaussianBlur(kernel, sigma=(lo, hi))], p): reflect padding
 *   solarize              RandomSolarize(threshold, p): x >= threshold becomes 1 - x
 *   normalize             Normalize(mean, std), last
 * in that order (the order of SimCLR, MoCo v2 and BYOL pipelines). A view is one pass of that
 * pipeline with its own parameters; an RtAugment lists kinds of views (for multi-crop: 2 global
 * views of 28x28 and k local views of 12x12) that every image gets.
 *
 * Randomness comes from an RtRng the caller passes (runtime/data/rng.h): the loader gives each
 * (seed, epoch, sample, view) its own stream, so a view is the same whoever computes it. */
#ifndef SD_RUNTIME_DATA_AUGMENT_H
#define SD_RUNTIME_DATA_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/data/rng.h"
#include "support/status.h"

#define RT_AUG_MAX_CHANNELS 4
#define RT_AUG_MAX_SPECS 8
#define RT_AUG_MAX_VIEWS 16
#define RT_AUG_MAX_SIDE 1024
#define RT_AUG_MAX_BLUR_KERNEL 255

/* A crop box in pixels of the source image. */
typedef struct RtCropBox {
    int top, left, height, width;
} RtCropBox;

/* One kind of view. Zeroed fields mean "off" (p = 0, strength 0); see rt_view_spec_default. */
typedef struct RtViewSpec {
    int copies;              /* views of this kind per image */
    int height, width;       /* output size */
    float scale[2];          /* crop area as a fraction of the image, 0 < lo <= hi <= 1 */
    float ratio[2];          /* crop aspect ratio (width / height), 0 < lo <= hi */
    float flip_p;
    float jitter_p;          /* probability of applying brightness and contrast jitter */
    float brightness;        /* strength s >= 0 (0: off) */
    float contrast;
    float blur_p;
    int blur_kernel;         /* odd, 1..RT_AUG_MAX_BLUR_KERNEL */
    float blur_sigma[2];     /* 0 < lo <= hi */
    float solarize_p;
    float solarize_threshold;
} RtViewSpec;

typedef struct RtAugment {
    int n_specs;
    RtViewSpec specs[RT_AUG_MAX_SPECS];
    float mean[RT_AUG_MAX_CHANNELS], std[RT_AUG_MAX_CHANNELS]; /* per channel, applied last */
} RtAugment;

/* A view of height x width with the crop of torchvision's defaults (scale 0.08..1, ratio
 * 3/4..4/3) and everything else off; callers then set what they want. */
RtViewSpec rt_view_spec_default(int height, int width);
/* Checks every field for images with `channels` channels; the message names the spec. */
SdStatus rt_augment_check(const RtAugment *aug, int channels, SdError *err);
/* Views per image (the sum of copies) and the spec of view v (views are numbered spec by spec). */
int rt_augment_n_views(const RtAugment *aug);
const RtViewSpec *rt_augment_view_spec(const RtAugment *aug, int view);
/* Floats of scratch rt_aug_view needs for a source of c x h x w and this spec. */
size_t rt_aug_scratch_floats(const RtViewSpec *spec, int c, int h, int w);

/* One view of a u8 image [c, h, w]: draws its parameters from rng and writes dst [c, spec->height,
 * spec->width], normalized with mean and std. scratch holds rt_aug_scratch_floats floats. */
void rt_aug_view_u8(const RtViewSpec *spec, const float *mean, const float *std, RtRng *rng,
                    const uint8_t *src, int c, int h, int w, float *dst, float *scratch);
/* The same from an f32 image in [0, 1]. */
void rt_aug_view_f32(const RtViewSpec *spec, const float *mean, const float *std, RtRng *rng,
                     const float *src, int c, int h, int w, float *dst, float *scratch);

/* The operations one by one, deterministic given their parameters (the tests compare them with
 * torchvision). */
RtCropBox rt_aug_crop_box(RtRng *rng, int h, int w, const float scale[2], const float ratio[2]);
/* Crops box out of src [c, h, w] and resizes it to dst [c, out_h, out_w]; the box must lie inside
 * the image (it is clamped to it otherwise). */
void rt_aug_resized_crop(const float *src, int c, int h, int w, RtCropBox box, float *dst,
                         int out_h, int out_w);
void rt_aug_hflip(float *img, int c, int h, int w);
void rt_aug_brightness(float *img, size_t n, float factor);
void rt_aug_contrast(float *img, int c, int h, int w, float factor);
/* scratch: h * w floats. Kernel sizes that are even or < 1 leave the image as it is. */
void rt_aug_gaussian_blur(float *img, int c, int h, int w, int kernel, float sigma, float *scratch);
void rt_aug_solarize(float *img, size_t n, float threshold);
void rt_aug_normalize(float *img, int c, int h, int w, const float *mean, const float *std);
void rt_aug_u8_to_f32(const uint8_t *src, size_t n, float *dst);

#endif
