/* runtime/data/loader.c — the batch loader and the evaluation iterator (loader.h).
 *
 * Positions are numbered globally: g = epoch * batches_per_epoch + batch. Each of the `depth`
 * slots holds one batch and moves FREE -> FILLING (a position is assigned, its sample indices and
 * labels are written) -> READY (every sample made) -> HELD (the caller has it) -> FREE. Positions
 * are assigned in order, so one permutation (of the epoch being assigned) is enough. Workers claim
 * chunks of samples of the oldest slot still filling, under one lock, and make them outside it;
 * what a sample gets depends only on its random stream, never on the chunking. */
#include "runtime/data/loader.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/mem.h"

#define CHUNK_SAMPLES 8

typedef enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD } SlotState;

typedef struct Slot {
    SlotState state;
    int64_t position;
    int claimed, done; /* samples handed to workers, samples finished */
    RtBatch batch;
} Slot;

struct RtLoader {
    const RtDataset *data;
    RtAugment aug;
    const RtViewSpec *view_spec[RT_AUG_MAX_VIEWS];
    int n_views, batch_size, channels, height, width;
    bool drop_last, shuffle;
    uint64_t seed;
    int64_t batches_per_epoch;
    int64_t *perm;     /* order of perm_epoch */
    int64_t perm_epoch;
    size_t scratch_floats;

    pthread_mutex_t lock;
    pthread_cond_t work_cv;  /* a slot became free, or stop */
    pthread_cond_t ready_cv; /* a slot became ready */
    Slot slots[RT_LOADER_MAX_DEPTH];
    int depth;
    int64_t next_assign, next_deliver;
    Slot *held;
    bool stopping;
    pthread_t threads[RT_LOADER_MAX_WORKERS];
    int n_threads;
    float *caller_scratch;

    int64_t batches_delivered, images_delivered;
    double wait_seconds;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The permutation of epoch e: Fisher-Yates with the epoch's own stream. */
static void make_permutation(RtLoader *l, int64_t epoch)
{
    int64_t n = l->data->n;
    for (int64_t i = 0; i < n; i++)
        l->perm[i] = i;
    if (l->shuffle) {
        RtRng rng = rt_rng_stream(l->seed, RT_RNG_SHUFFLE, (uint64_t)epoch, 0, 0);
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)rt_rng_below(&rng, (uint64_t)i + 1);
            int64_t t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    l->perm_epoch = epoch;
}

/* Under the lock: give a free slot the next position. */
static void assign_slot(RtLoader *l, Slot *s)
{
    int64_t g = l->next_assign++;
    int64_t epoch = g / l->batches_per_epoch, batch = g % l->batches_per_epoch;
    if (epoch != l->perm_epoch)
        make_permutation(l, epoch);
    int64_t first = batch * l->batch_size;
    int64_t n = l->data->n - first < l->batch_size ? l->data->n - first : l->batch_size;
    s->state = SLOT_FILLING;
    s->position = g;
    s->claimed = s->done = 0;
    s->batch.epoch = epoch;
    s->batch.batch = batch;
    s->batch.n = (int)n;
    for (int64_t i = 0; i < n; i++) {
        int64_t index = l->perm[first + i];
        s->batch.indices[i] = index;
        s->batch.labels[i] = l->data->labels[index];
    }
}

static void make_samples(const RtLoader *l, const RtBatch *b, int begin, int end, float *scratch)
{
    size_t image = (size_t)l->channels * l->height * l->width;
    for (int i = begin; i < end; i++) {
        int64_t index = b->indices[i];
        /* the image as f32 once, then every view from it (what rt_aug_view_u8 does per view) */
        rt_aug_u8_to_f32(l->data->images + (size_t)index * image, image, scratch);
        for (int v = 0; v < l->n_views; v++) {
            const RtViewSpec *spec = l->view_spec[v];
            size_t view = (size_t)l->channels * spec->height * spec->width;
            RtRng rng = rt_rng_stream(l->seed, RT_RNG_VIEW, (uint64_t)b->epoch, (uint64_t)index,
                                      (uint64_t)v);
            rt_aug_view_f32(spec, l->aug.mean, l->aug.std, &rng, scratch, l->channels, l->height,
                            l->width, b->views[v] + (size_t)i * view, scratch + image);
        }
    }
}

/* Under the lock: the oldest slot with samples left to claim, else a newly assigned free slot. */
static Slot *find_work(RtLoader *l)
{
    Slot *best = NULL;
    for (int i = 0; i < l->depth; i++) {
        Slot *s = &l->slots[i];
        if (s->state == SLOT_FILLING && s->claimed < s->batch.n &&
            (!best || s->position < best->position))
            best = s;
    }
    if (best)
        return best;
    for (int i = 0; i < l->depth; i++)
        if (l->slots[i].state == SLOT_FREE) {
            assign_slot(l, &l->slots[i]);
            return &l->slots[i];
        }
    return NULL;
}

/* Under the lock, returns with it held: claims and makes one chunk of s. */
static void work_on(RtLoader *l, Slot *s, float *scratch)
{
    int begin = s->claimed;
    int end = begin + CHUNK_SAMPLES < s->batch.n ? begin + CHUNK_SAMPLES : s->batch.n;
    s->claimed = end;
    pthread_mutex_unlock(&l->lock);
    make_samples(l, &s->batch, begin, end, scratch);
    pthread_mutex_lock(&l->lock);
    s->done += end - begin;
    if (s->done == s->batch.n) {
        s->state = SLOT_READY;
        pthread_cond_broadcast(&l->ready_cv);
    }
}

typedef struct WorkerArg {
    RtLoader *loader;
    float *scratch;
} WorkerArg;

static void *worker_main(void *arg_)
{
    WorkerArg *arg = arg_;
    RtLoader *l = arg->loader;
    float *scratch = arg->scratch;
    free(arg);
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        Slot *s = find_work(l);
        if (s)
            work_on(l, s, scratch);
        else
            pthread_cond_wait(&l->work_cv, &l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    sd_aligned_free(scratch);
    return NULL;
}

int64_t rt_loader_batches_per_epoch(const RtLoader *l) { return l->batches_per_epoch; }

static void loader_release(RtLoader *l)
{
    for (int i = 0; i < RT_LOADER_MAX_DEPTH; i++) {
        RtBatch *b = &l->slots[i].batch;
        for (int v = 0; v < RT_AUG_MAX_VIEWS; v++)
            sd_aligned_free(b->views[v]);
        free(b->labels);
        free(b->indices);
    }
    free(l->perm);
    sd_aligned_free(l->caller_scratch);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    free(l);
}

SdStatus rt_loader_new(const RtLoaderConfig *cfg, RtLoader **out, SdError *err)
{
    *out = NULL;
    const RtDataset *d = cfg->data;
    if (!d || !d->images || !d->labels || d->n < 1)
        return sd_errorf(err, SD_EUSAGE, "loader: the data set is empty");
    if (!cfg->aug)
        return sd_errorf(err, SD_EUSAGE, "loader: no augmentation given");
    SD_TRY(rt_augment_check(cfg->aug, d->channels, err));
    if (d->height < 1 || d->width < 1)
        return sd_errorf(err, SD_EUSAGE, "loader: data set images are %dx%d", d->height, d->width);
    if (cfg->batch_size < 1 || cfg->batch_size > (1 << 20))
        return sd_errorf(err, SD_EUSAGE, "loader: batch size %d; expected 1 to %d",
                         cfg->batch_size, 1 << 20);
    if (cfg->workers < 0 || cfg->workers > RT_LOADER_MAX_WORKERS)
        return sd_errorf(err, SD_EUSAGE, "loader: %d workers; expected 0 to %d", cfg->workers,
                         RT_LOADER_MAX_WORKERS);
    int depth = cfg->depth ? cfg->depth : 3;
    if (depth < 2 || depth > RT_LOADER_MAX_DEPTH)
        return sd_errorf(err, SD_EUSAGE, "loader: depth %d; expected 2 to %d batch buffers", depth,
                         RT_LOADER_MAX_DEPTH);
    int64_t bpe = cfg->drop_last ? d->n / cfg->batch_size
                                 : (d->n + cfg->batch_size - 1) / cfg->batch_size;
    if (bpe < 1)
        return sd_errorf(err, SD_EUSAGE, "loader: %" PRId64 " images make no full batch of %d "
                         "(drop_last is set)", d->n, cfg->batch_size);
    if (cfg->start_epoch < 0 || cfg->start_batch < 0 || cfg->start_epoch > INT64_MAX / 4 / bpe ||
        cfg->start_batch > INT64_MAX / 4)
        return sd_errorf(err, SD_EUSAGE, "loader: start position (epoch %" PRId64 ", batch %"
                         PRId64 ") is out of range", cfg->start_epoch, cfg->start_batch);

    RtLoader *l = calloc(1, sizeof *l);
    if (!l)
        return sd_errorf(err, SD_ENOMEM, "loader: out of memory");
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    l->data = d;
    l->aug = *cfg->aug;
    l->n_views = rt_augment_n_views(&l->aug);
    l->batch_size = cfg->batch_size;
    l->channels = d->channels;
    l->height = d->height;
    l->width = d->width;
    l->drop_last = cfg->drop_last;
    l->shuffle = cfg->shuffle;
    l->seed = cfg->seed;
    l->batches_per_epoch = bpe;
    l->depth = depth;
    l->perm_epoch = -1;
    l->next_assign = l->next_deliver = cfg->start_epoch * bpe + cfg->start_batch;
    for (int v = 0; v < l->n_views; v++) {
        l->view_spec[v] = rt_augment_view_spec(&l->aug, v);
        size_t s = rt_aug_scratch_floats(l->view_spec[v], l->channels, l->height, l->width);
        if (s > l->scratch_floats)
            l->scratch_floats = s;
    }
    bool ok = (l->perm = malloc((size_t)d->n * sizeof *l->perm)) != NULL;
    for (int i = 0; i < depth && ok; i++) {
        RtBatch *b = &l->slots[i].batch;
        b->n_views = l->n_views;
        b->channels = l->channels;
        for (int v = 0; v < l->n_views && ok; v++) {
            b->height[v] = l->view_spec[v]->height;
            b->width[v] = l->view_spec[v]->width;
            size_t floats = (size_t)cfg->batch_size * l->channels * b->height[v] * b->width[v];
            ok = (b->views[v] = sd_aligned_alloc(floats * sizeof(float))) != NULL;
        }
        ok = ok && (b->labels = malloc((size_t)cfg->batch_size * sizeof(int64_t))) != NULL;
        ok = ok && (b->indices = malloc((size_t)cfg->batch_size * sizeof(int64_t))) != NULL;
    }
    ok = ok && (l->caller_scratch = sd_aligned_alloc(l->scratch_floats * sizeof(float))) != NULL;
    if (!ok) {
        loader_release(l);
        return sd_errorf(err, SD_ENOMEM, "loader: cannot allocate %d batch buffers of %d images",
                         depth, cfg->batch_size);
    }
    for (int i = 0; i < cfg->workers; i++) {
        WorkerArg *arg = malloc(sizeof *arg);
        float *scratch = sd_aligned_alloc(l->scratch_floats * sizeof(float));
        if (arg && scratch)
            *arg = (WorkerArg){.loader = l, .scratch = scratch};
        if (!arg || !scratch || pthread_create(&l->threads[i], NULL, worker_main, arg) != 0) {
            free(arg);
            sd_aligned_free(scratch);
            rt_loader_free(l);
            return sd_errorf(err, SD_ENOMEM, "loader: cannot start worker %d of %d", i + 1,
                             cfg->workers);
        }
        l->n_threads++;
    }
    *out = l;
    return SD_OK;
}

const RtBatch *rt_loader_next(RtLoader *l)
{
    double t0 = now_seconds();
    pthread_mutex_lock(&l->lock);
    if (l->held) {
        l->held->state = SLOT_FREE;
        l->held = NULL;
        pthread_cond_broadcast(&l->work_cv);
    }
    Slot *s = NULL;
    for (;;) {
        for (int i = 0; i < l->depth && !s; i++)
            if (l->slots[i].state == SLOT_READY && l->slots[i].position == l->next_deliver)
                s = &l->slots[i];
        if (s)
            break;
        if (l->n_threads == 0) { /* no workers: make the batches here */
            Slot *w = find_work(l);
            SD_ASSERT(w);
            work_on(l, w, l->caller_scratch);
        } else {
            pthread_cond_wait(&l->ready_cv, &l->lock);
        }
    }
    s->state = SLOT_HELD;
    l->held = s;
    l->next_deliver++;
    l->batches_delivered++;
    l->images_delivered += s->batch.n;
    l->wait_seconds += now_seconds() - t0;
    pthread_mutex_unlock(&l->lock);
    return &s->batch;
}

void rt_loader_progress(RtLoader *l, RtLoaderProgress *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_lock(&l->lock);
    p->epoch = l->next_deliver / l->batches_per_epoch;
    p->batch = l->next_deliver % l->batches_per_epoch;
    p->batches_per_epoch = l->batches_per_epoch;
    p->images_per_epoch = l->drop_last ? l->batches_per_epoch * l->batch_size : l->data->n;
    p->epoch_fraction = (double)p->batch / (double)l->batches_per_epoch;
    p->batches_delivered = l->batches_delivered;
    p->images_delivered = l->images_delivered;
    for (int i = 0; i < l->depth; i++)
        p->batches_ready += l->slots[i].state == SLOT_READY;
    p->wait_seconds = l->wait_seconds;
    pthread_mutex_unlock(&l->lock);
}

void rt_loader_free(RtLoader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->lock);
    for (int i = 0; i < l->n_threads; i++)
        pthread_join(l->threads[i], NULL);
    loader_release(l);
}

struct RtEvalIter {
    const RtDataset *data;
    int batch_size;
    float mean[RT_AUG_MAX_CHANNELS], std[RT_AUG_MAX_CHANNELS];
    int64_t next;
    RtBatch batch;
};

SdStatus rt_eval_iter_new(const RtDataset *data, int batch_size, const float *mean,
                          const float *std, RtEvalIter **out, SdError *err)
{
    *out = NULL;
    if (!data || !data->images || !data->labels || data->n < 1)
        return sd_errorf(err, SD_EUSAGE, "evaluation: the data set is empty");
    if (data->channels < 1 || data->channels > RT_AUG_MAX_CHANNELS)
        return sd_errorf(err, SD_EUNSUPPORTED, "evaluation: images with %d channels",
                         data->channels);
    if (batch_size < 1 || batch_size > (1 << 20))
        return sd_errorf(err, SD_EUSAGE, "evaluation: batch size %d; expected 1 to %d", batch_size,
                         1 << 20);
    for (int c = 0; c < data->channels; c++)
        if (!(std[c] != 0.0f))
            return sd_errorf(err, SD_EUSAGE, "evaluation: std of channel %d is %g", c,
                             (double)std[c]);
    RtEvalIter *it = calloc(1, sizeof *it);
    if (!it)
        return sd_errorf(err, SD_ENOMEM, "evaluation: out of memory");
    it->data = data;
    it->batch_size = batch_size;
    memcpy(it->mean, mean, (size_t)data->channels * sizeof(float));
    memcpy(it->std, std, (size_t)data->channels * sizeof(float));
    RtBatch *b = &it->batch;
    b->n_views = 1;
    b->channels = data->channels;
    b->height[0] = data->height;
    b->width[0] = data->width;
    size_t floats = (size_t)batch_size * data->channels * data->height * data->width;
    b->views[0] = sd_aligned_alloc(floats * sizeof(float));
    b->labels = malloc((size_t)batch_size * sizeof(int64_t));
    b->indices = malloc((size_t)batch_size * sizeof(int64_t));
    if (!b->views[0] || !b->labels || !b->indices) {
        rt_eval_iter_free(it);
        return sd_errorf(err, SD_ENOMEM, "evaluation: cannot allocate a batch of %d images",
                         batch_size);
    }
    *out = it;
    return SD_OK;
}

const RtBatch *rt_eval_iter_next(RtEvalIter *it)
{
    const RtDataset *d = it->data;
    if (it->next >= d->n)
        return NULL;
    RtBatch *b = &it->batch;
    int64_t left = d->n - it->next;
    b->n = (int)(left < it->batch_size ? left : it->batch_size);
    b->batch = it->next / it->batch_size;
    size_t image = (size_t)d->channels * d->height * d->width;
    for (int i = 0; i < b->n; i++) {
        int64_t index = it->next + i;
        b->indices[i] = index;
        b->labels[i] = d->labels[index];
        float *dst = b->views[0] + (size_t)i * image;
        rt_aug_u8_to_f32(d->images + (size_t)index * image, image, dst);
        rt_aug_normalize(dst, d->channels, d->height, d->width, it->mean, it->std);
    }
    it->next += b->n;
    return b;
}

void rt_eval_iter_rewind(RtEvalIter *it) { it->next = 0; }

void rt_eval_iter_free(RtEvalIter *it)
{
    if (!it)
        return;
    sd_aligned_free(it->batch.views[0]);
    free(it->batch.labels);
    free(it->batch.indices);
    free(it);
}
