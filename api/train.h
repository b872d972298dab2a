/* api/train.h — `seedc train`: one experiment of a DSL recipe, run to the end. The step is one
 * compiled function (networks, loss, backward, optimizer); the host loop feeds batches from the
 * data pipeline's worker threads, sets the learning rate from the schedule, shows progress, logs
 * metrics to CSV with an SVG plot, checkpoints atomically, resumes exactly, evaluates and exports. */
#ifndef SD_API_TRAIN_H
#define SD_API_TRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "support/status.h"

typedef struct SdTrainOptions {
    const char *experiment;   /* NULL: the recipe's only experiment */
    const char *out_dir;      /* NULL: the recipe's (runs/<name>) */
    int64_t epochs;           /* 0: the recipe's */
    int64_t steps_per_epoch;  /* 0: the recipe's (whole training set) */
    int64_t train_images;     /* 0: all; else the first N training images (quick runs) */
    int threads;              /* 0: the recipe's, else all cores */
    const char *gemm;         /* NULL: builtin */
    const char *precision;    /* NULL: the recipe's; "fp32", or "bf16": the step's convolutions and
                                 matrix products multiply bf16-rounded operands, sums in f32 */
    const char *disable;      /* passes (and code generation choices) to turn off, as SdOptions.disable */
    const char *const *lets;  /* "NAME=VALUE" each: values for the recipe's `let`s (seedc train --let) */
    int n_lets;
    bool resume;              /* continue from the newest checkpoint in out_dir */
    bool no_eval;             /* skip evaluations (tests) */
    bool no_export;
    FILE *out;                /* progress and summary (stdout when NULL) */
    bool profile;             /* time every node of the step; after training, print the per-op times
                                 and the profile_top slowest nodes (0: all) per step, the first
                                 step of the run left out (sd_model_profile_print) */
    int profile_top;
    bool tty;                 /* redraw one progress line instead of printing lines */
} SdTrainOptions;

typedef struct SdTrainResult {
    int64_t epochs, steps;
    double final_loss;        /* mean loss of the last epoch */
    double test_accuracy;     /* supervised: the classifier on the test set; else -1 */
    double knn_accuracy;      /* -1 when not evaluated */
    double linear_accuracy;   /* -1 when not evaluated */
    double seconds, images_per_second; /* of this run: after a resume, only its own steps */
    int64_t resumed_step;     /* the step a resumed run started from; 0: from the start */
    char out_dir[512];
} SdTrainResult;

SdStatus sd_train(const char *recipe_path, const SdTrainOptions *opt, SdTrainResult *result, SdError *err);

#endif
