/* api/eval.h — how good a backbone's features are: the kNN monitor (weighted voting over
 * L2-normalized features, as InstDisc/MoCo/SEED report it) and the linear probe (multinomial
 * logistic regression on frozen features). Feature extraction runs a compiled model over a data
 * set without augmentation. */
#ifndef SD_API_EVAL_H
#define SD_API_EVAL_H

#include <stdint.h>

#include "api/seedc.h"
#include "runtime/data/idx.h"

typedef struct SdFeatures {
    float *data;   /* [n, dim], row-major */
    int64_t *labels;
    int64_t n, dim;
} SdFeatures;

void sd_features_free(SdFeatures *f);

/* Runs `m` (input [B, C, H, W] f32, output `output_index` of shape [B, D...], flattened to D) over
 * every image of `data`, normalized by mean/std per channel, in batches of the model's batch size
 * (a last short batch is padded). */
SdStatus sd_extract_features(SdModel *m, int output_index, const RtDataset *data, const float *mean,
                             const float *std, SdFeatures *out, SdError *err);

/* Top-1 accuracy (0..1) of k-nearest-neighbour voting: features L2-normalized, cosine similarity,
 * each of the k nearest training samples votes for its class with weight exp(sim / temperature). */
SdStatus sd_knn_accuracy(const SdFeatures *train, const SdFeatures *test, int n_classes, int k, double temperature,
                         double *accuracy, SdError *err);

typedef struct SdProbeOptions {
    double l2;          /* weight decay on the weights (default 1e-4, scaled by the sample count) */
    int max_iterations; /* L-BFGS iterations (default 300) */
    bool standardize;   /* features to zero mean, unit variance per dimension (default true) */
} SdProbeOptions;

SdProbeOptions sd_probe_options_default(void);
/* Fits softmax regression on `train` (full batch, L-BFGS in double) and returns the top-1
 * accuracy on `test`. */
SdStatus sd_linear_probe(const SdFeatures *train, const SdFeatures *test, int n_classes, const SdProbeOptions *opt,
                         double *accuracy, SdError *err);

#endif
