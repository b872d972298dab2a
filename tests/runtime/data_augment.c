/* tests/runtime/data_augment.c — each augmentation against torchvision 0.14 (goldens written by
 * tests/golden/augment.py), the crop-box distribution against torchvision's, and the view
 * pipeline's properties (deterministic per stream, probabilities 0 and 1 honored). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/data/augment.h"
#include "runtime/tensor_io.h"

/* tests/golden/data/NAME.npy, found from $SEEDC_SOURCE_DIR or from this file's path. */
static RtTensor golden(const char *name)
{
    char path[4096];
    const char *root = getenv("SEEDC_SOURCE_DIR");
    if (root && *root) {
        snprintf(path, sizeof path, "%s/tests/golden/data/%s.npy", root, name);
    } else {
        const char *self = __FILE__, *cut = strstr(self, "tests/runtime/");
        snprintf(path, sizeof path, "%.*stests/golden/data/%s.npy", cut ? (int)(cut - self) : 0,
                 self, name);
    }
    RtTensor t;
    SdError err = {0};
    cr_assert_eq(rt_tensor_read(path, &t, &err), SD_OK, "%s", err.msg);
    return t;
}

/* The u8 input as f32 / 255, with its shape. */
static float *input(const char *name, int *c, int *h, int *w)
{
    RtTensor t = golden(name);
    cr_assert_eq(t.dtype, SD_DT_U8);
    cr_assert_eq(t.rank, 3);
    *c = (int)t.dims[0];
    *h = (int)t.dims[1];
    *w = (int)t.dims[2];
    size_t n = t.nbytes;
    float *f = malloc(n * sizeof(float));
    rt_aug_u8_to_f32(t.data, n, f);
    rt_tensor_free(&t);
    return f;
}

static void expect_golden(const float *got, const char *name, int c, int h, int w, float tol)
{
    RtTensor t = golden(name);
    cr_assert_eq(t.dtype, SD_DT_F32, "%s", name);
    cr_assert(t.rank == 3 && t.dims[0] == c && t.dims[1] == h && t.dims[2] == w,
              "%s: golden shape differs", name);
    const float *want = t.data;
    float worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < (size_t)c * h * w; i++) {
        float d = fabsf(got[i] - want[i]);
        if (!(d <= worst)) {
            worst = d;
            at = i;
        }
    }
    cr_expect(worst <= tol, "%s: max |diff| %g at %zu (got %g, torchvision %g)", name,
              (double)worst, at, (double)got[at], (double)want[at]);
    rt_tensor_free(&t);
}

Test(augment, resized_crop_matches_torchvision)
{
    static const struct {
        const char *image;
        int top, left, height, width, out_h, out_w;
    } cases[] = {
        {"aug_gray", 3, 5, 17, 20, 28, 28}, {"aug_gray", 0, 0, 28, 28, 12, 12},
        {"aug_gray", 10, 4, 6, 9, 28, 28},  {"aug_gray", 2, 3, 20, 15, 16, 20},
        {"aug_gray", 27, 27, 1, 1, 5, 5},   {"aug_rgb", 1, 2, 15, 19, 28, 28},
        {"aug_rgb", 0, 0, 20, 24, 7, 9},
    };
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        int c, h, w;
        float *img = input(cases[k].image, &c, &h, &w);
        float *out = malloc(sizeof(float) * c * cases[k].out_h * cases[k].out_w);
        RtCropBox box = {cases[k].top, cases[k].left, cases[k].height, cases[k].width};
        rt_aug_resized_crop(img, c, h, w, box, out, cases[k].out_h, cases[k].out_w);
        char name[32];
        snprintf(name, sizeof name, "aug_crop%d", k);
        expect_golden(out, name, c, cases[k].out_h, cases[k].out_w, 2e-6f);
        free(out);
        free(img);
    }
}

Test(augment, flip_brightness_contrast_solarize_normalize_match_torchvision)
{
    int c, h, w, c3, h3, w3;
    float *gray = input("aug_gray", &c, &h, &w);
    float *rgb = input("aug_rgb", &c3, &h3, &w3);
    size_t n = (size_t)c * h * w, n3 = (size_t)c3 * h3 * w3;
    float *a = malloc(n * sizeof(float)), *b = malloc(n3 * sizeof(float));

    memcpy(a, gray, n * sizeof(float));
    rt_aug_hflip(a, c, h, w);
    expect_golden(a, "aug_hflip_gray", c, h, w, 0);
    memcpy(b, rgb, n3 * sizeof(float));
    rt_aug_hflip(b, c3, h3, w3);
    expect_golden(b, "aug_hflip_rgb", c3, h3, w3, 0);

    memcpy(a, gray, n * sizeof(float));
    rt_aug_brightness(a, n, 0.6f);
    expect_golden(a, "aug_brightness_gray_0p6", c, h, w, 1e-6f);
    memcpy(a, gray, n * sizeof(float));
    rt_aug_brightness(a, n, 1.4f); /* clamps at 1 */
    expect_golden(a, "aug_brightness_gray_1p4", c, h, w, 1e-6f);

    const float factors[2] = {0.5f, 1.6f};
    const char *gray_names[2] = {"aug_contrast_gray_0p5", "aug_contrast_gray_1p6"};
    const char *rgb_names[2] = {"aug_contrast_rgb_0p5", "aug_contrast_rgb_1p6"};
    for (int i = 0; i < 2; i++) {
        memcpy(a, gray, n * sizeof(float));
        rt_aug_contrast(a, c, h, w, factors[i]);
        expect_golden(a, gray_names[i], c, h, w, 2e-6f);
        memcpy(b, rgb, n3 * sizeof(float));
        rt_aug_contrast(b, c3, h3, w3, factors[i]);
        expect_golden(b, rgb_names[i], c3, h3, w3, 2e-6f);
    }

    memcpy(a, gray, n * sizeof(float));
    rt_aug_solarize(a, n, 0.5f);
    expect_golden(a, "aug_solarize_gray", c, h, w, 0);
    memcpy(b, rgb, n3 * sizeof(float));
    rt_aug_solarize(b, n3, 0.3f);
    expect_golden(b, "aug_solarize_rgb", c3, h3, w3, 0);

    memcpy(a, gray, n * sizeof(float));
    rt_aug_normalize(a, c, h, w, (const float[]){0.2860f}, (const float[]){0.3530f});
    expect_golden(a, "aug_normalize_gray", c, h, w, 1e-6f);
    memcpy(b, rgb, n3 * sizeof(float));
    rt_aug_normalize(b, c3, h3, w3, (const float[]){0.485f, 0.456f, 0.406f},
                     (const float[]){0.229f, 0.224f, 0.225f});
    expect_golden(b, "aug_normalize_rgb", c3, h3, w3, 1e-6f);
    free(a);
    free(b);
    free(gray);
    free(rgb);
}

Test(augment, gaussian_blur_matches_torchvision)
{
    static const struct {
        const char *image, *golden;
        int kernel;
        float sigma;
    } cases[] = {
        {"aug_gray", "aug_blur_k3s0p7", 3, 0.7f}, {"aug_gray", "aug_blur_k5s1p5", 5, 1.5f},
        {"aug_gray", "aug_blur_k9s2", 9, 2.0f},   {"aug_gray", "aug_blur_k23s3", 23, 3.0f},
        {"aug_rgb", "aug_blur_rgb_k5s1", 5, 1.0f},
    };
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        int c, h, w;
        float *img = input(cases[k].image, &c, &h, &w);
        float *scratch = malloc(sizeof(float) * h * w);
        rt_aug_gaussian_blur(img, c, h, w, cases[k].kernel, cases[k].sigma, scratch);
        expect_golden(img, cases[k].golden, c, h, w, 2e-6f);
        free(scratch);
        free(img);
    }
}

Test(augment, chain_in_pipeline_order_matches_torchvision)
{
    int c, h, w;
    float *img = input("aug_gray", &c, &h, &w);
    float out[28 * 28], scratch[28 * 28];
    rt_aug_resized_crop(img, c, h, w, (RtCropBox){4, 2, 18, 21}, out, 28, 28);
    rt_aug_hflip(out, 1, 28, 28);
    rt_aug_contrast(out, 1, 28, 28, 1.3f);
    rt_aug_brightness(out, 28 * 28, 0.8f);
    rt_aug_gaussian_blur(out, 1, 28, 28, 3, 1.1f, scratch);
    rt_aug_solarize(out, 28 * 28, 0.6f);
    rt_aug_normalize(out, 1, 28, 28, (const float[]){0.2860f}, (const float[]){0.3530f});
    expect_golden(out, "aug_chain", 1, 28, 28, 1e-5f);
    free(img);
}

Test(augment, crop_fallback_is_torchvisions_center_crop)
{
    RtTensor t = golden("aug_crop_fallback");
    cr_assert_eq(t.rank, 2);
    const float *row = t.data;
    for (int64_t r = 0; r < t.dims[0]; r++, row += t.dims[1]) {
        RtRng rng = rt_rng_stream(7, RT_RNG_USER, (uint64_t)r, 0, 0);
        RtCropBox b = rt_aug_crop_box(&rng, (int)row[0], (int)row[1], (const float[]){row[2], row[3]},
                                      (const float[]){row[4], row[5]});
        cr_expect(b.top == (int)row[6] && b.left == (int)row[7] && b.height == (int)row[8] &&
                      b.width == (int)row[9],
                  "image %gx%g scale (%g, %g) ratio (%g, %g): box (%d, %d, %d, %d); torchvision "
                  "(%g, %g, %g, %g)", row[0], row[1], row[2], row[3], row[4], row[5], b.top,
                  b.left, b.height, b.width, row[6], row[7], row[8], row[9]);
    }
    rt_tensor_free(&t);
}

Test(augment, crop_box_distribution_matches_torchvision)
{
    RtTensor t = golden("aug_crop_stats");
    const float *row = t.data;
    for (int64_t r = 0; r < t.dims[0]; r++, row += t.dims[1]) {
        int h = (int)row[0], w = (int)row[1];
        const float scale[2] = {row[2], row[3]}, ratio[2] = {row[4], row[5]};
        double sum[4] = {0};
        const int draws = 20000;
        for (int i = 0; i < draws; i++) {
            RtRng rng = rt_rng_stream(11, RT_RNG_USER, (uint64_t)r, (uint64_t)i, 0);
            RtCropBox b = rt_aug_crop_box(&rng, h, w, scale, ratio);
            cr_assert(b.top >= 0 && b.left >= 0 && b.height >= 1 && b.width >= 1 &&
                      b.top + b.height <= h && b.left + b.width <= w);
            sum[0] += b.top;
            sum[1] += b.left;
            sum[2] += b.height;
            sum[3] += b.width;
        }
        /* each mean has a standard error under 0.05 px; 0.3 px is about 5 of them */
        for (int k = 0; k < 4; k++)
            cr_expect(fabs(sum[k] / draws - row[6 + k]) < 0.3,
                      "setting %lld, box field %d: mean %.3f, torchvision %.3f", (long long)r, k,
                      sum[k] / draws, (double)row[6 + k]);
    }
    rt_tensor_free(&t);
}

static RtAugment ssl_augment(void)
{
    RtAugment a = {.n_specs = 2, .mean = {0.2860f}, .std = {0.3530f}};
    a.specs[0] = rt_view_spec_default(28, 28);
    a.specs[0].copies = 2;
    a.specs[0].scale[0] = 0.2f;
    a.specs[0].flip_p = 0.5f;
    a.specs[0].jitter_p = 0.8f;
    a.specs[0].brightness = 0.4f;
    a.specs[0].contrast = 0.4f;
    a.specs[0].blur_p = 0.5f;
    a.specs[0].blur_kernel = 3;
    a.specs[0].solarize_p = 0.2f;
    a.specs[1] = a.specs[0];
    a.specs[1].copies = 3;
    a.specs[1].height = a.specs[1].width = 12;
    a.specs[1].scale[0] = 0.05f;
    a.specs[1].scale[1] = 0.3f;
    return a;
}

Test(augment, views_are_a_function_of_their_stream)
{
    int c, h, w;
    float *img = input("aug_gray", &c, &h, &w);
    RtTensor t = golden("aug_gray");
    RtAugment a = ssl_augment();
    SdError err = {0};
    cr_assert_eq(rt_augment_check(&a, 1, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_augment_n_views(&a), 5);
    cr_assert_eq(rt_augment_view_spec(&a, 1), &a.specs[0]);
    cr_assert_eq(rt_augment_view_spec(&a, 2), &a.specs[1]);
    cr_assert_null(rt_augment_view_spec(&a, 5));
    size_t scratch_n = rt_aug_scratch_floats(&a.specs[0], c, h, w);
    float *scratch = malloc(scratch_n * sizeof(float));
    float v1[784], v2[784], v3[784];
    for (int s = 0; s < 50; s++) {
        RtRng r1 = rt_rng_stream(1, RT_RNG_VIEW, 0, (uint64_t)s, 0), r2 = r1;
        rt_aug_view_u8(&a.specs[0], a.mean, a.std, &r1, t.data, c, h, w, v1, scratch);
        rt_aug_view_f32(&a.specs[0], a.mean, a.std, &r2, img, c, h, w, v2, scratch);
        cr_assert(memcmp(v1, v2, sizeof v1) == 0, "u8 and f32 sources differ for stream %d", s);
        RtRng r3 = rt_rng_stream(1, RT_RNG_VIEW, 0, (uint64_t)s, 1);
        rt_aug_view_u8(&a.specs[0], a.mean, a.std, &r3, t.data, c, h, w, v3, scratch);
        cr_expect(memcmp(v1, v3, sizeof v1) != 0, "views 0 and 1 of sample %d are equal", s);
        /* normalized [0, 1] values stay within [(0 - m) / s, (1 - m) / s] */
        for (int i = 0; i < 784; i++)
            cr_assert(v1[i] >= -0.2860f / 0.3530f - 1e-5f && v1[i] <= 0.714f / 0.3530f + 1e-5f);
    }
    free(scratch);
    free(img);
    rt_tensor_free(&t);
}

Test(augment, probability_zero_and_one)
{
    int c, h, w;
    float *img = input("aug_gray", &c, &h, &w);
    float scratch[2 * 784], got[784], want[784];
    /* everything off, full-image crop: the view is the normalized image */
    RtViewSpec plain = rt_view_spec_default(28, 28);
    plain.scale[0] = plain.scale[1] = 1.0f;
    plain.ratio[0] = plain.ratio[1] = 1.0f;
    const float mean[1] = {0.5f}, std[1] = {0.25f};
    RtRng rng = rt_rng_stream(3, RT_RNG_USER, 0, 0, 0);
    rt_aug_view_f32(&plain, mean, std, &rng, img, c, h, w, got, scratch);
    memcpy(want, img, sizeof want);
    rt_aug_normalize(want, 1, 28, 28, mean, std);
    for (int i = 0; i < 784; i++)
        cr_assert_float_eq(got[i], want[i], 1e-6f, "pixel %d", i);
    /* flip and solarize with p = 1: exactly those operations */
    RtViewSpec always = plain;
    always.flip_p = 1.0f;
    always.solarize_p = 1.0f;
    always.solarize_threshold = 0.4f;
    rt_aug_view_f32(&always, mean, std, &rng, img, c, h, w, got, scratch);
    memcpy(want, img, sizeof want);
    rt_aug_hflip(want, 1, 28, 28);
    rt_aug_solarize(want, 784, 0.4f);
    rt_aug_normalize(want, 1, 28, 28, mean, std);
    for (int i = 0; i < 784; i++)
        cr_assert_float_eq(got[i], want[i], 1e-6f, "pixel %d", i);
    free(img);
}

Test(augment, check_names_the_bad_field)
{
    SdError err = {0};
    RtAugment a = ssl_augment();
    a.specs[1].scale[0] = 0.0f;
    cr_assert_neq(rt_augment_check(&a, 1, &err), SD_OK);
    cr_assert(strstr(err.msg, "view kind 1: crop scale"), "%s", err.msg);
    a = ssl_augment();
    a.specs[0].blur_kernel = 4;
    cr_assert_neq(rt_augment_check(&a, 1, &err), SD_OK);
    cr_assert(strstr(err.msg, "blur kernel 4"), "%s", err.msg);
    a = ssl_augment();
    a.std[0] = 0.0f;
    cr_assert_neq(rt_augment_check(&a, 1, &err), SD_OK);
    cr_assert(strstr(err.msg, "std"), "%s", err.msg);
    a = ssl_augment();
    a.specs[0].flip_p = 1.5f;
    cr_assert_neq(rt_augment_check(&a, 1, &err), SD_OK);
    cr_assert(strstr(err.msg, "probabilities"), "%s", err.msg);
    a = ssl_augment();
    a.specs[1].copies = 15;
    cr_assert_neq(rt_augment_check(&a, 1, &err), SD_OK);
    cr_assert(strstr(err.msg, "17 views"), "%s", err.msg);
    a = ssl_augment();
    cr_assert_neq(rt_augment_check(&a, 5, &err), SD_OK);
    cr_assert(strstr(err.msg, "5 channels"), "%s", err.msg);
}

Test(augment, degenerate_sizes_do_not_crash)
{
    /* a 1x1 image, a blur kernel wider than the image, a box outside the image */
    float one = 0.7f, out[64], scratch[64];
    rt_aug_resized_crop(&one, 1, 1, 1, (RtCropBox){0, 0, 1, 1}, out, 8, 8);
    for (int i = 0; i < 64; i++)
        cr_assert_float_eq(out[i], 0.7f, 1e-7f);
    rt_aug_gaussian_blur(out, 1, 8, 8, 31, 5.0f, scratch);
    for (int i = 0; i < 64; i++)
        cr_assert_float_eq(out[i], 0.7f, 1e-6f);
    float img[4 * 4] = {0};
    rt_aug_resized_crop(img, 1, 4, 4, (RtCropBox){-3, 9, 100, -2}, out, 3, 3);
    RtRng rng = rt_rng_stream(1, RT_RNG_USER, 0, 0, 0);
    RtCropBox b = rt_aug_crop_box(&rng, 1, 1, (const float[]){0.08f, 1.0f},
                                  (const float[]){0.75f, 1.3333f});
    cr_assert(b.top == 0 && b.left == 0 && b.height == 1 && b.width == 1);
}
