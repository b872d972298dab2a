/* api/train_internal.h — the trainer's state, shared by its setup (train.c) and its loop,
 * checkpoints and exports (train_loop.c). */
#ifndef SD_API_TRAIN_INTERNAL_H
#define SD_API_TRAIN_INTERNAL_H

#include "api/recipe.h"
#include "api/report.h"
#include "api/seedc.h"
#include "api/train.h"
#include "runtime/checkpoint.h"
#include "runtime/data/augment.h"
#include "runtime/data/idx.h"
#include "runtime/data/loader.h"
#include "runtime/schedule.h"

typedef struct Trainer {
    SdTrainOptions opt;
    SdOptions sopt;
    DslProgram *prog;
    DslExperiment *e;
    char out_dir[512];
    RtDataset train, test;
    RtAugment aug;
    RtLoader *loader;
    SdModel *model;                 /* the compiled step */
    SdModel *eval_model;            /* the evaluated network in inference mode */
    const DslNetwork *eval_net;
    int n_views;
    bool has_labels;
    int labels_input, indices_input; /* step input positions, -1 when the method takes none */
    int n_metrics;
    char metric_names[RECIPE_MAX_METRICS][32];
    int lr_input;
    int64_t epochs, epoch, global_step;
    DslArgValue lets[DSL_MAX_ARGS]; /* the recipe's lets given on the command line */
    int n_lets;
    char lets_text[RT_CKPT_VALUE_MAX + 1]; /* the same, one NAME=VALUE a line: checkpoints keep it */
    bool bf16;                      /* the step computes bf16 products (--precision or the recipe's) */
    Report rep;
} Trainer;

SdStatus trainer_run(Trainer *t, const char *recipe_path, SdTrainResult *result, SdError *err);
SdStatus trainer_evaluate(Trainer *t, bool final, double *test_acc, double *knn, double *linear, SdError *err);
void trainer_configure_data(Trainer *t, RtAugment *aug, RtSchedule *sched, int64_t steps_per_epoch);
/* The recipe file, the experiment, the overridden lets and bf16 products: a checkpoint resumes
 * only under the same. */
uint64_t trainer_recipe_hash(const char *path, const char *experiment, const char *lets_text, bool bf16);
void trainer_free(Trainer *t);

#endif
