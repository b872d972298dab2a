/* runtime/data/loader.h — batches of augmented views, made on worker threads while a step runs.
 *
 *   RtLoaderConfig cfg = {.data = &train, .aug = &aug, .batch_size = 256, .drop_last = true,
 *                         .shuffle = true, .seed = 42, .workers = 2, .depth = 3};
 *   RtLoader *loader;
 *   if (rt_loader_new(&cfg, &loader, &err) != SD_OK) ...
 *   for (int64_t step = 0; step < steps; step++) {
 *       const RtBatch *b = rt_loader_next(loader);   // b->views[v]: f32 [b->n, C, H_v, W_v]
 *       train_step(b->views, b->labels);             // the workers fill the next batches meanwhile
 *   }
 *   rt_loader_free(loader);                          // stops and joins the workers
 *
 * The loader is an endless stream of positions (epoch, batch): epoch e visits the data set in the
 * order of a permutation drawn from (seed, e), batch b holds its images b*N .. b*N+N-1. Every
 * view of every sample has its own random stream, derived from (seed, epoch, sample index, view)
 * (runtime/data/rng.h), so the batches are the same, bit for bit, whatever the number of workers
 * and however the work was split. To resume from a checkpoint, save rt_loader_progress's
 * (epoch, batch) — the position of the next batch — and pass it back as start_epoch and
 * start_batch: the stream goes on exactly where it stopped.
 *
 * `depth` batch buffers circulate: the caller holds one (valid until its next call to
 * rt_loader_next), the workers fill the others ahead (2: double buffering, 3: triple). */
#ifndef SD_RUNTIME_DATA_LOADER_H
#define SD_RUNTIME_DATA_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/data/augment.h"
#include "runtime/data/idx.h"
#include "support/status.h"

#define RT_LOADER_MAX_WORKERS 64
#define RT_LOADER_MAX_DEPTH 16

typedef struct RtLoaderConfig {
    const RtDataset *data;  /* borrowed: must outlive the loader */
    const RtAugment *aug;   /* copied */
    int batch_size;
    bool drop_last;         /* true: an epoch is floor(n / N) full batches; false: the last is short */
    bool shuffle;           /* false: data set order in every epoch */
    uint64_t seed;
    int workers;            /* threads that make batches; 0: made by the caller in rt_loader_next */
    int depth;              /* batch buffers, 2 to RT_LOADER_MAX_DEPTH; 0 means 3 */
    int64_t start_epoch;    /* the position of the first batch (resume) */
    int64_t start_batch;    /* may be batches_per_epoch: the start of the next epoch */
} RtLoaderConfig;

/* A batch of n images, each with n_views views; the caller may modify its buffers in place. */
typedef struct RtBatch {
    int64_t epoch, batch;   /* position */
    int n;
    int n_views;
    int channels;
    int height[RT_AUG_MAX_VIEWS], width[RT_AUG_MAX_VIEWS];
    float *views[RT_AUG_MAX_VIEWS]; /* view v: f32 [n, channels, height[v], width[v]], 64-aligned */
    int64_t *labels;        /* [n] */
    int64_t *indices;       /* [n] each image's index in the data set */
} RtBatch;

typedef struct RtLoaderProgress {
    int64_t epoch, batch;        /* the next batch rt_loader_next returns: save this to resume */
    int64_t batches_per_epoch;
    int64_t images_per_epoch;
    double epoch_fraction;       /* batch / batches_per_epoch */
    int64_t batches_delivered;   /* by rt_loader_next since rt_loader_new */
    int64_t images_delivered;
    int batches_ready;           /* made ahead and waiting */
    double wait_seconds;         /* time the caller spent waiting in rt_loader_next */
} RtLoaderProgress;

typedef struct RtLoader RtLoader;

/* Checks the configuration (sizes, augmentation, an epoch of at least one batch), allocates the
 * buffers and starts the workers. */
SdStatus rt_loader_new(const RtLoaderConfig *cfg, RtLoader **out, SdError *err);
/* The next batch (waits for it when the workers are behind). The batch returned before goes back
 * to the workers. Never fails once the loader exists. */
const RtBatch *rt_loader_next(RtLoader *l);
void rt_loader_progress(RtLoader *l, RtLoaderProgress *p);
int64_t rt_loader_batches_per_epoch(const RtLoader *l);
/* Stops the workers (they finish the images in hand), joins them and frees everything; NULL ok. */
void rt_loader_free(RtLoader *l);

/* Evaluation: every image once, in data set order, not augmented, normalized: views[0] is
 * f32 [n, C, H, W]; the last batch is short. For kNN monitors and linear probes. */
typedef struct RtEvalIter RtEvalIter;
SdStatus rt_eval_iter_new(const RtDataset *data, int batch_size, const float *mean,
                          const float *std, RtEvalIter **out, SdError *err);
/* NULL after the last batch; the batch is valid until the next call. */
const RtBatch *rt_eval_iter_next(RtEvalIter *it);
void rt_eval_iter_rewind(RtEvalIter *it);
void rt_eval_iter_free(RtEvalIter *it);

#endif
