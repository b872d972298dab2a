/* api/eval.c — kNN monitor, linear probe and feature extraction. The similarity and logit
 * products go through OpenBLAS (rt_blas_sgemm) in blocks; selection, voting and the L-BFGS state
 * stay in double where they decide the answer. */
#include "api/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/blas.h"
#include "runtime/data/loader.h"
#include "support/mem.h"

void sd_features_free(SdFeatures *f)
{
    sd_aligned_free(f->data);
    free(f->labels);
    memset(f, 0, sizeof *f);
}

SdStatus sd_extract_features(SdModel *m, int output_index, const RtDataset *data, const float *mean,
                             const float *std, SdFeatures *out, SdError *err)
{
    memset(out, 0, sizeof *out);
    SdTensorInfo in = sd_model_input(m, 0), o = sd_model_output(m, output_index);
    if (sd_model_num_inputs(m) != 1 || in.rank != 4 || in.dtype != SD_DT_F32)
        return sd_errorf(err, SD_EUSAGE, "feature extraction needs a model with one f32 [B, C, H, W] input");
    if (in.dims[1] != data->channels || in.dims[2] != data->height || in.dims[3] != data->width)
        return sd_errorf(err, SD_ESHAPE, "the model takes [%lld, %lld, %lld] images but '%s' has [%d, %d, %d]",
                         (long long)in.dims[1], (long long)in.dims[2], (long long)in.dims[3], data->name,
                         data->channels, data->height, data->width);
    int64_t batch = in.dims[0], dim = 1;
    for (int i = 1; i < o.rank; i++)
        dim *= o.dims[i];
    if (o.dtype != SD_DT_F32 || o.dims[0] != batch)
        return sd_errorf(err, SD_ESHAPE, "output '%s' is not f32 [batch, ...]", o.name);
    size_t in_elems = (size_t)(batch * in.dims[1] * in.dims[2] * in.dims[3]);
    out->n = data->n, out->dim = dim;
    out->data = sd_aligned_alloc(sizeof(float) * (size_t)(data->n * dim));
    out->labels = malloc(sizeof(int64_t) * (size_t)(data->n ? data->n : 1));
    float *x = sd_aligned_calloc(sizeof(float) * in_elems);
    int no = sd_model_num_outputs(m);
    void **outs = calloc((size_t)no, sizeof *outs);
    SdStatus st = out->data && out->labels && x && outs ? SD_OK : sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int j = 0; j < no && st == SD_OK; j++) {
        SdTensorInfo t = sd_model_output(m, j);
        int64_t n = 1;
        for (int i = 0; i < t.rank; i++)
            n *= t.dims[i];
        if (!(outs[j] = sd_aligned_alloc((size_t)n * sd_dtype_size(t.dtype))))
            st = sd_errorf(err, SD_ENOMEM, "out of memory");
    }
    RtEvalIter *it = NULL;
    if (st == SD_OK)
        st = rt_eval_iter_new(data, (int)batch, mean, std, &it, err);
    int64_t done = 0;
    for (const RtBatch *b; st == SD_OK && (b = rt_eval_iter_next(it));) {
        memcpy(x, b->views[0], sizeof(float) * (size_t)b->n * (in_elems / (size_t)batch));
        sd_model_run_raw(m, (void *[]){x}, outs);
        memcpy(out->data + done * dim, outs[output_index], sizeof(float) * (size_t)(b->n * dim));
        for (int i = 0; i < b->n; i++)
            out->labels[done + i] = b->labels[i];
        done += b->n;
    }
    rt_eval_iter_free(it);
    for (int j = 0; j < no && outs; j++)
        sd_aligned_free(outs[j]);
    free(outs);
    sd_aligned_free(x);
    if (st != SD_OK)
        sd_features_free(out);
    return st;
}

static float *normalized_copy(const SdFeatures *f)
{
    float *c = sd_aligned_alloc(sizeof(float) * (size_t)(f->n * f->dim));
    if (!c)
        return NULL;
    for (int64_t i = 0; i < f->n; i++) {
        const float *row = f->data + i * f->dim;
        double s = 0;
        for (int64_t d = 0; d < f->dim; d++)
            s += (double)row[d] * row[d];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int64_t d = 0; d < f->dim; d++)
            c[i * f->dim + d] = row[d] * inv;
    }
    return c;
}

/* Keeps the k largest (sim, index) pairs in a min-heap. */
typedef struct {
    float sim;
    int64_t index;
} Pair;

static void heap_push(Pair *h, int *size, int k, float sim, int64_t index)
{
    if (*size == k) {
        if (sim <= h[0].sim)
            return;
        h[0] = (Pair){sim, index};
        for (int i = 0;;) { /* sift down */
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < k && h[l].sim < h[m].sim) m = l;
            if (r < k && h[r].sim < h[m].sim) m = r;
            if (m == i) break;
            Pair t = h[i]; h[i] = h[m]; h[m] = t;
            i = m;
        }
        return;
    }
    int i = (*size)++;
    h[i] = (Pair){sim, index};
    while (i > 0 && h[(i - 1) / 2].sim > h[i].sim) { /* sift up */
        Pair t = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

SdStatus sd_knn_accuracy(const SdFeatures *train, const SdFeatures *test, int n_classes, int k, double temperature,
                         double *accuracy, SdError *err)
{
    if (train->dim != test->dim || train->n < 1 || k < 1 || n_classes < 1 || temperature <= 0)
        return sd_errorf(err, SD_EUSAGE, "kNN: features of %lld and %lld dimensions, k %d, temperature %g",
                         (long long)train->dim, (long long)test->dim, k, temperature);
    if (k > train->n)
        k = (int)train->n;
    const int64_t block = 256, dim = train->dim;
    float *tr = normalized_copy(train), *te = normalized_copy(test);
    float *sims = sd_aligned_alloc(sizeof(float) * (size_t)(block * train->n));
    Pair *heap = malloc(sizeof(Pair) * (size_t)k);
    double *votes = malloc(sizeof(double) * (size_t)n_classes);
    SdStatus st = tr && te && sims && heap && votes ? SD_OK : sd_errorf(err, SD_ENOMEM, "out of memory for the kNN monitor");
    int64_t correct = 0;
    for (int64_t b0 = 0; b0 < test->n && st == SD_OK; b0 += block) {
        int64_t rows = test->n - b0 < block ? test->n - b0 : block;
        rt_blas_sgemm(0, 1, rows, train->n, dim, 1.0f, te + b0 * dim, dim, tr, dim, 0.0f, sims, train->n);
        for (int64_t r = 0; r < rows; r++) {
            int size = 0;
            const float *s = sims + r * train->n;
            for (int64_t j = 0; j < train->n; j++)
                heap_push(heap, &size, k, s[j], j);
            for (int c = 0; c < n_classes; c++)
                votes[c] = 0;
            for (int i = 0; i < size; i++) {
                int64_t label = train->labels[heap[i].index];
                if (label >= 0 && label < n_classes)
                    votes[label] += exp((double)heap[i].sim / temperature);
            }
            int best = 0;
            for (int c = 1; c < n_classes; c++)
                if (votes[c] > votes[best])
                    best = c;
            correct += best == test->labels[b0 + r];
        }
    }
    *accuracy = test->n ? (double)correct / (double)test->n : 0;
    sd_aligned_free(tr), sd_aligned_free(te), sd_aligned_free(sims);
    free(heap), free(votes);
    return st;
}
