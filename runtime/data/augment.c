/* runtime/data/augment.c — the augmentation operations and the view pipeline (augment.h).
 * Where torchvision's arithmetic is visible in its results (the bilinear source index computed in
 * double and rounded to float, Python's round-half-to-even in the crop box), it is repeated here;
 * the rest differs from it only in float rounding. */
#include "runtime/data/augment.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

RtViewSpec rt_view_spec_default(int height, int width)
{
    return (RtViewSpec){
        .copies = 1,
        .height = height,
        .width = width,
        .scale = {0.08f, 1.0f},
        .ratio = {3.0f / 4.0f, 4.0f / 3.0f},
        .blur_kernel = 1,
        .blur_sigma = {0.1f, 2.0f},
        .solarize_threshold = 0.5f,
    };
}

static int prob_ok(float p) { return p >= 0.0f && p <= 1.0f; }

SdStatus rt_augment_check(const RtAugment *aug, int channels, SdError *err)
{
    if (channels < 1 || channels > RT_AUG_MAX_CHANNELS)
        return sd_errorf(err, SD_EUNSUPPORTED, "augmentation: images with %d channels; 1 to %d "
                         "are supported", channels, RT_AUG_MAX_CHANNELS);
    if (aug->n_specs < 1 || aug->n_specs > RT_AUG_MAX_SPECS)
        return sd_errorf(err, SD_EUSAGE, "augmentation: %d kinds of views; 1 to %d are supported",
                         aug->n_specs, RT_AUG_MAX_SPECS);
    for (int i = 0; i < channels; i++)
        if (!isfinite(aug->mean[i]) || !isfinite(aug->std[i]) || aug->std[i] == 0.0f)
            return sd_errorf(err, SD_EUSAGE, "augmentation: normalization of channel %d has mean "
                             "%g and std %g; both must be finite and std non-zero", i,
                             (double)aug->mean[i], (double)aug->std[i]);
    int views = 0;
    for (int s = 0; s < aug->n_specs; s++) {
        const RtViewSpec *v = &aug->specs[s];
        if (v->copies < 0 || v->copies > RT_AUG_MAX_VIEWS)
            return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: %d copies; 0 to %d", s,
                             v->copies, RT_AUG_MAX_VIEWS);
        views += v->copies;
        if (v->height < 1 || v->width < 1 || v->height > RT_AUG_MAX_SIDE ||
            v->width > RT_AUG_MAX_SIDE)
            return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: output size %dx%d; "
                             "sides must be 1 to %d", s, v->height, v->width, RT_AUG_MAX_SIDE);
        if (!(v->scale[0] > 0.0f && v->scale[0] <= v->scale[1] && v->scale[1] <= 1.0f))
            return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: crop scale (%g, %g); "
                             "expected 0 < lo <= hi <= 1", s, (double)v->scale[0],
                             (double)v->scale[1]);
        if (!(v->ratio[0] > 0.0f && v->ratio[0] <= v->ratio[1] && isfinite(v->ratio[1])))
            return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: crop ratio (%g, %g); "
                             "expected 0 < lo <= hi", s, (double)v->ratio[0], (double)v->ratio[1]);
        if (!prob_ok(v->flip_p) || !prob_ok(v->jitter_p) || !prob_ok(v->blur_p) ||
            !prob_ok(v->solarize_p))
            return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: probabilities (flip "
                             "%g, jitter %g, blur %g, solarize %g) must be in [0, 1]", s,
                             (double)v->flip_p, (double)v->jitter_p, (double)v->blur_p,
                             (double)v->solarize_p);
        if (!(v->brightness >= 0.0f && v->brightness <= 1e6f) ||
            !(v->contrast >= 0.0f && v->contrast <= 1e6f))
            return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: jitter strengths "
                             "(brightness %g, contrast %g) must be finite and >= 0", s,
                             (double)v->brightness, (double)v->contrast);
        if (v->blur_p > 0.0f) {
            if (v->blur_kernel < 1 || v->blur_kernel > RT_AUG_MAX_BLUR_KERNEL ||
                v->blur_kernel % 2 == 0)
                return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: blur kernel %d; "
                                 "expected an odd size from 1 to %d", s, v->blur_kernel,
                                 RT_AUG_MAX_BLUR_KERNEL);
            if (!(v->blur_sigma[0] > 0.0f && v->blur_sigma[0] <= v->blur_sigma[1] &&
                  isfinite(v->blur_sigma[1])))
                return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: blur sigma (%g, "
                                 "%g); expected 0 < lo <= hi", s, (double)v->blur_sigma[0],
                                 (double)v->blur_sigma[1]);
        }
        if (!isfinite(v->solarize_threshold))
            return sd_errorf(err, SD_EUSAGE, "augmentation: view kind %d: solarize threshold "
                             "is not finite", s);
    }
    if (views < 1 || views > RT_AUG_MAX_VIEWS)
        return sd_errorf(err, SD_EUSAGE, "augmentation: %d views per image; 1 to %d are "
                         "supported", views, RT_AUG_MAX_VIEWS);
    return SD_OK;
}

int rt_augment_n_views(const RtAugment *aug)
{
    int n = 0;
    for (int s = 0; s < aug->n_specs && s < RT_AUG_MAX_SPECS; s++)
        n += aug->specs[s].copies;
    return n;
}

const RtViewSpec *rt_augment_view_spec(const RtAugment *aug, int view)
{
    for (int s = 0; s < aug->n_specs && s < RT_AUG_MAX_SPECS; s++) {
        if (view < aug->specs[s].copies)
            return &aug->specs[s];
        view -= aug->specs[s].copies;
    }
    return NULL;
}

size_t rt_aug_scratch_floats(const RtViewSpec *spec, int c, int h, int w)
{
    return (size_t)c * (size_t)h * (size_t)w + (size_t)spec->height * (size_t)spec->width;
}

RtCropBox rt_aug_crop_box(RtRng *rng, int h, int w, const float scale[2], const float ratio[2])
{
    double area = (double)h * (double)w;
    double log_lo = log((double)ratio[0]), log_hi = log((double)ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target_area = area * rt_rng_range(rng, scale[0], scale[1]);
        double aspect = exp(rt_rng_range(rng, log_lo, log_hi));
        /* nearbyint rounds half to even, as Python's round does */
        double cw = nearbyint(sqrt(target_area * aspect));
        double ch = nearbyint(sqrt(target_area / aspect));
        if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
            RtCropBox b = {.height = (int)ch, .width = (int)cw};
            b.top = (int)rt_rng_below(rng, (uint64_t)(h - b.height + 1));
            b.left = (int)rt_rng_below(rng, (uint64_t)(w - b.width + 1));
            return b;
        }
    }
    RtCropBox b = {.height = h, .width = w};
    double in_ratio = (double)w / (double)h;
    if (in_ratio < ratio[0])
        b.height = (int)nearbyint(w / (double)ratio[0]);
    else if (in_ratio > ratio[1])
        b.width = (int)nearbyint(h * (double)ratio[1]);
    if (b.height < 1)
        b.height = 1;
    if (b.width < 1)
        b.width = 1;
    b.top = (h - b.height) / 2;
    b.left = (w - b.width) / 2;
    return b;
}

/* PyTorch's linear interpolation indices for align_corners=False: the source coordinate is
 * scale * (i + 0.5) - 0.5 computed in double from a float scale, then rounded to float. */
static void linear_taps(int in, int out, int *i0, int *i1, float *l1)
{
    float scale = (float)in / (float)out;
    for (int i = 0; i < out; i++) {
        float src = (float)((double)scale * (i + 0.5) - 0.5);
        if (src < 0.0f)
            src = 0.0f;
        int idx = (int)floorf(src);
        if (idx > in - 1)
            idx = in - 1;
        float lambda = src - (float)idx;
        lambda = lambda < 0.0f ? 0.0f : lambda > 1.0f ? 1.0f : lambda;
        i0[i] = idx;
        i1[i] = idx + (idx < in - 1 ? 1 : 0);
        l1[i] = lambda;
    }
}

static RtCropBox clamp_box(RtCropBox b, int h, int w)
{
    b.top = b.top < 0 ? 0 : b.top > h - 1 ? h - 1 : b.top;
    b.left = b.left < 0 ? 0 : b.left > w - 1 ? w - 1 : b.left;
    b.height = b.height < 1 ? 1 : b.height > h - b.top ? h - b.top : b.height;
    b.width = b.width < 1 ? 1 : b.width > w - b.left ? w - b.left : b.width;
    return b;
}

void rt_aug_resized_crop(const float *src, int c, int h, int w, RtCropBox box, float *dst,
                         int out_h, int out_w)
{
    if (c < 1 || h < 1 || w < 1 || out_h < 1 || out_w < 1 || out_h > RT_AUG_MAX_SIDE ||
        out_w > RT_AUG_MAX_SIDE)
        return;
    box = clamp_box(box, h, w);
    int x0[RT_AUG_MAX_SIDE], x1[RT_AUG_MAX_SIDE], y0[RT_AUG_MAX_SIDE], y1[RT_AUG_MAX_SIDE];
    float lx[RT_AUG_MAX_SIDE], ly[RT_AUG_MAX_SIDE];
    linear_taps(box.width, out_w, x0, x1, lx);
    linear_taps(box.height, out_h, y0, y1, ly);
    for (int ch = 0; ch < c; ch++) {
        const float *plane = src + (size_t)ch * h * w + (size_t)box.top * w + box.left;
        float *out = dst + (size_t)ch * out_h * out_w;
        for (int y = 0; y < out_h; y++) {
            const float *r0 = plane + (size_t)y0[y] * w, *r1 = plane + (size_t)y1[y] * w;
            float wy1 = ly[y], wy0 = 1.0f - wy1;
            float *o = out + (size_t)y * out_w;
            for (int x = 0; x < out_w; x++) {
                float wx1 = lx[x], wx0 = 1.0f - wx1;
                float top = r0[x0[x]] * wx0 + r0[x1[x]] * wx1;
                float bottom = r1[x0[x]] * wx0 + r1[x1[x]] * wx1;
                o[x] = top * wy0 + bottom * wy1;
            }
        }
    }
}

void rt_aug_hflip(float *img, int c, int h, int w)
{
    for (size_t r = 0; r < (size_t)c * h; r++) {
        float *row = img + r * w;
        for (int a = 0, b = w - 1; a < b; a++, b--) {
            float t = row[a];
            row[a] = row[b];
            row[b] = t;
        }
    }
}

static inline float clamp01(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }

/* torchvision's _blend: ratio * a + (1 - ratio) * b, clamped to [0, 1]. */
void rt_aug_brightness(float *img, size_t n, float factor)
{
    float other = (1.0f - factor) * 0.0f;
    for (size_t i = 0; i < n; i++)
        img[i] = clamp01(factor * img[i] + other);
}

void rt_aug_contrast(float *img, int c, int h, int w, float factor)
{
    size_t plane = (size_t)h * w;
    /* eight float partial sums (they vectorize), added in double */
    float part[8] = {0};
    size_t count = c == 3 ? plane : (size_t)c * plane, i = 0;
    if (c == 3) {
        for (; i + 8 <= plane; i += 8) /* rgb_to_grayscale's weights */
            for (int k = 0; k < 8; k++)
                part[k] += 0.2989f * img[i + k] + 0.587f * img[plane + i + k] +
                           0.114f * img[2 * plane + i + k];
        for (; i < plane; i++)
            part[0] += 0.2989f * img[i] + 0.587f * img[plane + i] + 0.114f * img[2 * plane + i];
    } else {
        for (; i + 8 <= count; i += 8)
            for (int k = 0; k < 8; k++)
                part[k] += img[i + k];
        for (; i < count; i++)
            part[0] += img[i];
    }
    double sum = 0.0;
    for (int k = 0; k < 8; k++)
        sum += part[k];
    float mean = count ? (float)(sum / (double)count) : 0.0f;
    float other = (1.0f - factor) * mean;
    for (size_t i = 0; i < (size_t)c * h * w; i++)
        img[i] = clamp01(factor * img[i] + other);
}

/* numpy's "reflect" (PyTorch's pad mode "reflect"): the edge pixel is not repeated. */
static int reflect_index(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

void rt_aug_gaussian_blur(float *img, int c, int h, int w, int kernel, float sigma, float *scratch)
{
    if (kernel <= 1 || kernel % 2 == 0 || kernel > RT_AUG_MAX_BLUR_KERNEL || !(sigma > 0.0f) ||
        h < 1 || w < 1 || h > RT_AUG_MAX_SIDE || w > RT_AUG_MAX_SIDE)
        return;
    int half = kernel / 2;
    float weights[RT_AUG_MAX_BLUR_KERNEL];
    float total = 0.0f;
    for (int k = 0; k < kernel; k++) {
        float x = (float)(k - half) / sigma;
        weights[k] = expf(-0.5f * x * x);
        total += weights[k];
    }
    for (int k = 0; k < kernel; k++)
        weights[k] /= total;
    float padded[RT_AUG_MAX_SIDE + RT_AUG_MAX_BLUR_KERNEL];
    int rows[RT_AUG_MAX_SIDE + RT_AUG_MAX_BLUR_KERNEL], cols[RT_AUG_MAX_SIDE + RT_AUG_MAX_BLUR_KERNEL];
    for (int j = 0; j < h + 2 * half; j++)
        rows[j] = reflect_index(j - half, h);
    for (int j = 0; j < w + 2 * half; j++)
        cols[j] = reflect_index(j - half, w);
    for (int ch = 0; ch < c; ch++) {
        float *plane = img + (size_t)ch * h * w;
        /* along rows, into scratch */
        for (int y = 0; y < h; y++) {
            const float *row = plane + (size_t)y * w;
            for (int j = 0; j < w + 2 * half; j++)
                padded[j] = row[cols[j]];
            float *o = scratch + (size_t)y * w;
            for (int x = 0; x < w; x++) {
                float acc = 0.0f;
                for (int k = 0; k < kernel; k++)
                    acc += weights[k] * padded[x + k];
                o[x] = acc;
            }
        }
        /* along columns, back into the image */
        for (int y = 0; y < h; y++) {
            float *o = plane + (size_t)y * w;
            for (int x = 0; x < w; x++)
                o[x] = 0.0f;
            for (int k = 0; k < kernel; k++) {
                const float *r = scratch + (size_t)rows[y + k] * w;
                float wk = weights[k];
                for (int x = 0; x < w; x++)
                    o[x] += wk * r[x];
            }
        }
    }
}

void rt_aug_solarize(float *img, size_t n, float threshold)
{
    for (size_t i = 0; i < n; i++)
        img[i] = img[i] >= threshold ? 1.0f - img[i] : img[i];
}

void rt_aug_normalize(float *img, int c, int h, int w, const float *mean, const float *std)
{
    size_t plane = (size_t)h * w;
    for (int ch = 0; ch < c; ch++) {
        float m = mean[ch], s = std[ch];
        float *p = img + (size_t)ch * plane;
        for (size_t i = 0; i < plane; i++)
            p[i] = (p[i] - m) / s;
    }
}

/* x / 255 for every byte, torchvision's ToTensor values, from a table (no division per pixel). */
static float u8_scale[256];
static pthread_once_t u8_scale_once = PTHREAD_ONCE_INIT;

static void u8_scale_init(void)
{
    for (int i = 0; i < 256; i++)
        u8_scale[i] = (float)i / 255.0f;
}

void rt_aug_u8_to_f32(const uint8_t *src, size_t n, float *dst)
{
    pthread_once(&u8_scale_once, u8_scale_init);
    for (size_t i = 0; i < n; i++)
        dst[i] = u8_scale[src[i]];
}

void rt_aug_view_f32(const RtViewSpec *spec, const float *mean, const float *std, RtRng *rng,
                     const float *src, int c, int h, int w, float *dst, float *scratch)
{
    int oh = spec->height, ow = spec->width;
    size_t n = (size_t)c * oh * ow;
    RtCropBox box = rt_aug_crop_box(rng, h, w, spec->scale, spec->ratio);
    rt_aug_resized_crop(src, c, h, w, box, dst, oh, ow);
    if (spec->flip_p > 0.0f && rt_rng_bernoulli(rng, spec->flip_p))
        rt_aug_hflip(dst, c, oh, ow);
    if (spec->jitter_p > 0.0f && (spec->brightness > 0.0f || spec->contrast > 0.0f) &&
        rt_rng_bernoulli(rng, spec->jitter_p)) {
        /* ColorJitter draws a random order of its transforms; on grayscale only these two act */
        int contrast_first = (int)rt_rng_below(rng, 2);
        float b = spec->brightness, k = spec->contrast;
        float bf = b > 0.0f ? (float)rt_rng_range(rng, fmaxf(0.0f, 1.0f - b), 1.0f + b) : 1.0f;
        float cf = k > 0.0f ? (float)rt_rng_range(rng, fmaxf(0.0f, 1.0f - k), 1.0f + k) : 1.0f;
        for (int step = 0; step < 2; step++) {
            if ((step == 0) == (contrast_first != 0)) {
                if (k > 0.0f)
                    rt_aug_contrast(dst, c, oh, ow, cf);
            } else if (b > 0.0f) {
                rt_aug_brightness(dst, n, bf);
            }
        }
    }
    if (spec->blur_p > 0.0f && rt_rng_bernoulli(rng, spec->blur_p)) {
        float sigma = (float)rt_rng_range(rng, spec->blur_sigma[0], spec->blur_sigma[1]);
        rt_aug_gaussian_blur(dst, c, oh, ow, spec->blur_kernel, sigma, scratch);
    }
    if (spec->solarize_p > 0.0f && rt_rng_bernoulli(rng, spec->solarize_p))
        rt_aug_solarize(dst, n, spec->solarize_threshold);
    rt_aug_normalize(dst, c, oh, ow, mean, std);
}

void rt_aug_view_u8(const RtViewSpec *spec, const float *mean, const float *std, RtRng *rng,
                    const uint8_t *src, int c, int h, int w, float *dst, float *scratch)
{
    size_t n = (size_t)c * h * w;
    rt_aug_u8_to_f32(src, n, scratch);
    rt_aug_view_f32(spec, mean, std, rng, scratch, c, h, w, dst, scratch + n);
}
