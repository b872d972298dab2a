/* tests/runtime/data_loader.c — the batch loader: the same batches, bit for bit, with 0, 1, 2 and
 * 4 workers and any buffering depth; a stop and a resume at a batch boundary continue the same
 * stream; every epoch visits every image once; progress, shutdown while busy, bad configurations;
 * the evaluation iterator. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/checkpoint.h"
#include "runtime/data/loader.h"

#define N_IMAGES 103

static RtDataset synthetic(void)
{
    RtDataset d = {.n = N_IMAGES, .channels = 1, .height = 28, .width = 28, .n_classes = 10};
    d.images = malloc(N_IMAGES * 784);
    d.labels = malloc(N_IMAGES);
    RtRng rng = rt_rng_stream(5, RT_RNG_USER, 0, 0, 0);
    for (int i = 0; i < N_IMAGES * 784; i++)
        d.images[i] = (uint8_t)rt_rng_below(&rng, 256);
    for (int i = 0; i < N_IMAGES; i++)
        d.labels[i] = (uint8_t)((i * 3) % 10);
    return d;
}

static void free_synthetic(RtDataset *d)
{
    free(d->images);
    free(d->labels);
}

/* 2 global views 28x28 and 3 local 12x12, every operation on with p < 1. */
static RtAugment multicrop(void)
{
    RtAugment a = {.n_specs = 2, .mean = {0.2860f}, .std = {0.3530f}};
    RtViewSpec g = rt_view_spec_default(28, 28);
    g.copies = 2;
    g.scale[0] = 0.2f;
    g.flip_p = 0.5f;
    g.jitter_p = 0.8f;
    g.brightness = 0.4f;
    g.contrast = 0.4f;
    g.blur_p = 0.5f;
    g.blur_kernel = 3;
    g.solarize_p = 0.2f;
    a.specs[0] = g;
    g.copies = 3;
    g.height = g.width = 12;
    g.scale[0] = 0.05f;
    g.scale[1] = 0.3f;
    a.specs[1] = g;
    return a;
}

/* One number per batch over everything in it: position, views, labels, indices. */
static uint64_t batch_hash(const RtBatch *b)
{
    uint64_t h = rt_hash64(&b->epoch, sizeof b->epoch, (uint64_t)b->batch);
    h = rt_hash64(&b->n, sizeof b->n, h);
    for (int v = 0; v < b->n_views; v++)
        h = rt_hash64(b->views[v], sizeof(float) * b->n * b->channels * b->height[v] * b->width[v],
                      h);
    h = rt_hash64(b->labels, sizeof(int64_t) * b->n, h);
    return rt_hash64(b->indices, sizeof(int64_t) * b->n, h);
}

static RtLoaderConfig config(const RtDataset *d, const RtAugment *a, int workers)
{
    return (RtLoaderConfig){.data = d, .aug = a, .batch_size = 16, .drop_last = true,
                            .shuffle = true, .seed = 1234, .workers = workers, .depth = 3};
}

static void run(const RtLoaderConfig *cfg, int batches, uint64_t *hashes)
{
    RtLoader *l;
    SdError err = {0};
    cr_assert_eq(rt_loader_new(cfg, &l, &err), SD_OK, "%s", err.msg);
    for (int i = 0; i < batches; i++)
        hashes[i] = batch_hash(rt_loader_next(l));
    rt_loader_free(l);
}

Test(loader, same_batches_whatever_the_workers_and_depth)
{
    RtDataset d = synthetic();
    RtAugment a = multicrop();
    enum { BATCHES = 20 }; /* 6 batches per epoch: crosses three epoch boundaries */
    uint64_t want[BATCHES], got[BATCHES];
    RtLoaderConfig cfg = config(&d, &a, 0);
    run(&cfg, BATCHES, want);
    for (int i = 1; i < BATCHES; i++)
        cr_assert_neq(want[i], want[i - 1]);
    const int workers[] = {1, 2, 4, 4, 2};
    const int depths[] = {2, 3, 2, 5, 16};
    for (int k = 0; k < 5; k++) {
        cfg = config(&d, &a, workers[k]);
        cfg.depth = depths[k];
        run(&cfg, BATCHES, got);
        for (int i = 0; i < BATCHES; i++)
            cr_assert_eq(got[i], want[i], "batch %d differs with %d workers, depth %d", i,
                         workers[k], depths[k]);
    }
    cfg = config(&d, &a, 2);
    cfg.seed = 1235;
    run(&cfg, BATCHES, got);
    for (int i = 0; i < BATCHES; i++)
        cr_assert_neq(got[i], want[i], "batch %d does not depend on the seed", i);
    free_synthetic(&d);
}

Test(loader, resumes_exactly_at_a_batch_boundary)
{
    RtDataset d = synthetic();
    RtAugment a = multicrop();
    enum { BATCHES = 20 };
    uint64_t want[BATCHES], got[BATCHES];
    RtLoaderConfig cfg = config(&d, &a, 2);
    run(&cfg, BATCHES, want);

    /* stop after 9 batches, save the position, resume with another worker count */
    RtLoader *l;
    SdError err = {0};
    cfg = config(&d, &a, 2);
    cr_assert_eq(rt_loader_new(&cfg, &l, &err), SD_OK, "%s", err.msg);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(batch_hash(rt_loader_next(l)), want[i]);
    RtLoaderProgress p;
    rt_loader_progress(l, &p);
    cr_assert_eq(p.epoch, 1);
    cr_assert_eq(p.batch, 3);
    rt_loader_free(l);
    cfg = config(&d, &a, 4);
    cfg.start_epoch = p.epoch;
    cfg.start_batch = p.batch;
    run(&cfg, BATCHES - 9, got);
    for (int i = 0; i < BATCHES - 9; i++)
        cr_assert_eq(got[i], want[9 + i], "resumed batch %d differs", i);

    /* batch == batches_per_epoch is the start of the next epoch */
    cfg = config(&d, &a, 0);
    cfg.start_epoch = 1;
    cfg.start_batch = 6;
    run(&cfg, 4, got);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(got[i], want[12 + i]);
    free_synthetic(&d);
}

Test(loader, every_epoch_visits_every_image_once)
{
    RtDataset d = synthetic();
    RtAugment a = multicrop();
    RtLoaderConfig cfg = config(&d, &a, 2);
    cfg.drop_last = false;
    RtLoader *l;
    SdError err = {0};
    cr_assert_eq(rt_loader_new(&cfg, &l, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_loader_batches_per_epoch(l), 7);
    int64_t first_order[N_IMAGES];
    for (int epoch = 0; epoch < 3; epoch++) {
        int seen[N_IMAGES] = {0}, at = 0;
        bool same_order = true;
        for (int b = 0; b < 7; b++) {
            const RtBatch *batch = rt_loader_next(l);
            cr_assert_eq(batch->epoch, epoch);
            cr_assert_eq(batch->batch, b);
            cr_assert_eq(batch->n, b < 6 ? 16 : N_IMAGES - 96);
            for (int i = 0; i < batch->n; i++, at++) {
                int64_t index = batch->indices[i];
                cr_assert(index >= 0 && index < N_IMAGES);
                seen[index]++;
                cr_assert_eq(batch->labels[i], d.labels[index]);
                if (epoch == 0)
                    first_order[at] = index;
                else
                    same_order = same_order && first_order[at] == index;
            }
        }
        for (int i = 0; i < N_IMAGES; i++)
            cr_assert_eq(seen[i], 1, "epoch %d saw image %d %d times", epoch, i, seen[i]);
        if (epoch)
            cr_assert(!same_order, "epoch %d has the order of epoch 0", epoch);
    }
    rt_loader_free(l);

    cfg.shuffle = false;
    cr_assert_eq(rt_loader_new(&cfg, &l, &err), SD_OK, "%s", err.msg);
    for (int b = 0; b < 8; b++) {
        const RtBatch *batch = rt_loader_next(l);
        for (int i = 0; i < batch->n; i++)
            cr_assert_eq(batch->indices[i], (b % 7) * 16 + i);
    }
    rt_loader_free(l);
    free_synthetic(&d);
}

Test(loader, batches_hold_views_of_their_sizes)
{
    RtDataset d = synthetic();
    RtAugment a = multicrop();
    RtLoaderConfig cfg = config(&d, &a, 1);
    RtLoader *l;
    SdError err = {0};
    cr_assert_eq(rt_loader_new(&cfg, &l, &err), SD_OK, "%s", err.msg);
    const RtBatch *b = rt_loader_next(l);
    cr_assert_eq(b->n_views, 5);
    cr_assert_eq(b->channels, 1);
    const int sides[5] = {28, 28, 12, 12, 12};
    float lo = -0.2860f / 0.3530f - 1e-5f, hi = (1 - 0.2860f) / 0.3530f + 1e-5f;
    for (int v = 0; v < 5; v++) {
        cr_assert(b->height[v] == sides[v] && b->width[v] == sides[v]);
        cr_assert_eq((uintptr_t)b->views[v] % 64, 0);
        for (int i = 0; i < b->n * sides[v] * sides[v]; i++)
            cr_assert(b->views[v][i] >= lo && b->views[v][i] <= hi, "view %d value %g", v,
                      (double)b->views[v][i]);
    }
    cr_assert(memcmp(b->views[0], b->views[1], 784 * sizeof(float)) != 0);
    rt_loader_free(l);
    free_synthetic(&d);
}

Test(loader, progress_counts_what_was_delivered)
{
    RtDataset d = synthetic();
    RtAugment a = multicrop();
    RtLoaderConfig cfg = config(&d, &a, 2);
    cfg.start_epoch = 2;
    cfg.start_batch = 4;
    RtLoader *l;
    SdError err = {0};
    cr_assert_eq(rt_loader_new(&cfg, &l, &err), SD_OK, "%s", err.msg);
    RtLoaderProgress p;
    rt_loader_progress(l, &p);
    cr_assert(p.epoch == 2 && p.batch == 4 && p.batches_delivered == 0);
    cr_assert_eq(p.batches_per_epoch, 6);
    cr_assert_eq(p.images_per_epoch, 96);
    for (int i = 0; i < 3; i++)
        rt_loader_next(l);
    rt_loader_progress(l, &p);
    cr_assert_eq(p.epoch, 3);
    cr_assert_eq(p.batch, 1);
    cr_assert_float_eq(p.epoch_fraction, 1.0 / 6.0, 1e-12);
    cr_assert_eq(p.batches_delivered, 3);
    cr_assert_eq(p.images_delivered, 48);
    cr_assert(p.batches_ready >= 0 && p.batches_ready <= 2);
    cr_assert(p.wait_seconds >= 0);
    rt_loader_free(l);
    free_synthetic(&d);
}

Test(loader, shuts_down_cleanly_while_busy)
{
    RtDataset d = synthetic();
    RtAugment a = multicrop();
    for (int k = 0; k < 40; k++) {
        RtLoaderConfig cfg = config(&d, &a, 1 + k % 4);
        cfg.batch_size = 100;
        cfg.depth = 2 + k % 3;
        RtLoader *l;
        SdError err = {0};
        cr_assert_eq(rt_loader_new(&cfg, &l, &err), SD_OK, "%s", err.msg);
        for (int i = 0; i < k % 3; i++)
            rt_loader_next(l);
        rt_loader_free(l);
    }
    rt_loader_free(NULL);
    free_synthetic(&d);
}

Test(loader, bad_configurations_are_refused)
{
    RtDataset d = synthetic();
    RtAugment a = multicrop();
    RtLoader *l;
    SdError err = {0};
    RtLoaderConfig cfg = config(&d, &a, 1);
    cfg.batch_size = 200;
    cr_assert_neq(rt_loader_new(&cfg, &l, &err), SD_OK);
    cr_assert_null(l);
    cr_assert(strstr(err.msg, "no full batch of 200"), "%s", err.msg);
    cfg = config(&d, &a, 1);
    cfg.workers = 1000;
    cr_assert_neq(rt_loader_new(&cfg, &l, &err), SD_OK);
    cr_assert(strstr(err.msg, "1000 workers"), "%s", err.msg);
    cfg = config(&d, &a, 1);
    cfg.depth = 1;
    cr_assert_neq(rt_loader_new(&cfg, &l, &err), SD_OK);
    cr_assert(strstr(err.msg, "depth 1"), "%s", err.msg);
    cfg = config(&d, &a, 1);
    cfg.start_batch = -1;
    cr_assert_neq(rt_loader_new(&cfg, &l, &err), SD_OK);
    cr_assert(strstr(err.msg, "start position"), "%s", err.msg);
    RtAugment bad = a;
    bad.specs[0].ratio[0] = 2.0f;
    cfg = config(&d, &bad, 1);
    cr_assert_neq(rt_loader_new(&cfg, &l, &err), SD_OK);
    cr_assert(strstr(err.msg, "crop ratio"), "%s", err.msg);
    RtDataset empty = {0};
    cfg = config(&empty, &a, 1);
    cr_assert_neq(rt_loader_new(&cfg, &l, &err), SD_OK);
    cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
    free_synthetic(&d);
}

Test(loader, evaluation_iterator_visits_in_order_normalized)
{
    RtDataset d = synthetic();
    RtEvalIter *it;
    SdError err = {0};
    const float mean[1] = {0.5f}, std[1] = {0.25f};
    cr_assert_eq(rt_eval_iter_new(&d, 16, mean, std, &it, &err), SD_OK, "%s", err.msg);
    for (int pass = 0; pass < 2; pass++) {
        int64_t at = 0;
        int batches = 0;
        const RtBatch *b;
        while ((b = rt_eval_iter_next(it)) != NULL) {
            cr_assert_eq(b->n_views, 1);
            cr_assert_eq(b->n, batches < 6 ? 16 : 7);
            for (int i = 0; i < b->n; i++, at++) {
                cr_assert_eq(b->indices[i], at);
                cr_assert_eq(b->labels[i], d.labels[at]);
                for (int p = 0; p < 784; p += 97) {
                    float want = ((float)d.images[at * 784 + p] / 255.0f - 0.5f) / 0.25f;
                    cr_assert_float_eq(b->views[0][i * 784 + p], want, 1e-6f);
                }
            }
            batches++;
        }
        cr_assert_eq(batches, 7);
        cr_assert_eq(at, N_IMAGES);
        rt_eval_iter_rewind(it);
    }
    rt_eval_iter_free(it);
    const float zero[1] = {0.0f};
    cr_assert_neq(rt_eval_iter_new(&d, 16, mean, zero, &it, &err), SD_OK);
    cr_assert(strstr(err.msg, "std"), "%s", err.msg);
    free_synthetic(&d);
}
