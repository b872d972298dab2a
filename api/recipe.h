/* api/recipe.h — from a DSL experiment to the graphs seedc compiles: one training step (every
 * network of the recipe, the method's loss and metrics, then autodiff and the optimizer), and
 * inference graphs of one network for evaluation and export. Each method is one file under
 * api/methods/ that builds its loss from the networks with the helpers below. */
#ifndef SD_API_RECIPE_H
#define SD_API_RECIPE_H

#include "frontend/dsl/dsl.h"
#include "ir/graph.h"
#include "passes/pass.h"

#define RECIPE_MAX_VIEWS 16
#define RECIPE_MAX_METRICS 8
#define RECIPE_MAX_UPDATES 1024

/* An in-place update a method asks for (recipe_update); made after the loss and the metrics. */
typedef struct RecipeUpdate {
    IrOp op;
    IrValue *inputs[3];
    int n_inputs;
    double momentum;
} RecipeUpdate;

/* What a method builds into a step graph. */
typedef struct RecipeCtx {
    const DslExperiment *e;
    IrGraph *g;
    int64_t batch;
    int64_t n_data;                   /* training images (memory banks indexed by sample); 0: unknown */
    int n_views;
    IrValue *views[RECIPE_MAX_VIEWS]; /* graph inputs 0..n_views-1, f32 [B, C, H, W] */
    IrValue *labels;                  /* next graph input, i64 [B] (NULL when unused) */
    IrValue *indices;                 /* next graph input, i64 [B]: each image's index in the data set
                                       * (NULL when unused) */
    IrValue *loss;                    /* set by the method: f32 scalar */
    int n_metrics;
    IrValue *metrics[RECIPE_MAX_METRICS];
    char metric_names[RECIPE_MAX_METRICS][32];
    int n_nodes;                      /* for unique node names */
    int n_updates;
    RecipeUpdate *updates;            /* [RECIPE_MAX_UPDATES] */
    SdError *err;
} RecipeCtx;

typedef SdStatus (*RecipeMethodFn)(RecipeCtx *c);

/* ---- helpers for methods (recipe.c) ---- */
/* Network `net` on `input`: training mode for students and peers, frozen (inference, gradient
 * stopped) for teachers. *features: backbone output, *embedding: after the projection head. */
SdStatus recipe_network(RecipeCtx *c, const DslNetwork *net, IrValue *input, const char *prefix, IrValue **features,
                        IrValue **embedding);
/* One new node (attributes set by the caller before the pipeline infers shapes); NULL on error. */
IrNode *recipe_node(RecipeCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, SdDType dtype);
IrValue *recipe_op(RecipeCtx *c, IrOp op, IrValue *const *inputs, int n_inputs);
IrValue *recipe_scalar(RecipeCtx *c, float v);
IrValue *recipe_ints(RecipeCtx *c, const int64_t *v, int n);
/* x / max(||x||_2 over axis 1, eps): the L2 normalization of embeddings. */
IrValue *recipe_l2_normalize(RecipeCtx *c, IrValue *x);
/* Mean softmax cross-entropy of logits [B, C] against class indices i64 [B] or soft targets [B, C]. */
IrValue *recipe_cross_entropy(RecipeCtx *c, IrValue *logits, IrValue *target);
/* Fraction of rows whose argmax equals the label. */
IrValue *recipe_accuracy(RecipeCtx *c, IrValue *logits, IrValue *labels);
SdStatus recipe_metric(RecipeCtx *c, const char *name, IrValue *v);
/* A persistent STATE value, zero- (or data-) initialized. */
IrValue *recipe_state(RecipeCtx *c, const char *name, SdDType dt, const IrShape *s, const void *data);
/* An in-place update of persistent state (ASSIGN, EMA_UPDATE with `momentum`, QUEUE_PUSH), made at
 * the very end of the step, after the loss, the metrics and (autodiff keeps it so) the backward
 * pass: every read of the old contents comes first, as the verifier requires. */
SdStatus recipe_update(RecipeCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, double momentum);

/* ---- the methods (api/methods/<method>.c) ---- */
SdStatus method_supervised(RecipeCtx *c);
SdStatus method_moco_v2(RecipeCtx *c);
SdStatus method_simclr(RecipeCtx *c);
SdStatus method_seed(RecipeCtx *c);
SdStatus method_dogo(RecipeCtx *c);
SdStatus method_crd(RecipeCtx *c);
SdStatus method_simclrv2(RecipeCtx *c);
/* SimCLRv2 fine-tuning and distillation: the fine-tuned network is the pretrained one with its
 * projection head cut after layer `finetune_from` and a classifier on top; `out` receives the
 * network as it is built (a copy of *net, or *net itself for the other methods and networks). */
void method_simclrv2_network(const DslExperiment *e, const DslNetwork *net, DslNetwork *out);

/* ---- graphs for the trainer ---- */
typedef struct RecipeStep {
    IrGraph *g;
    int n_views;
    bool labels;
    bool indices;
    int labels_input, indices_input; /* their graph input positions, -1 when absent */
    int n_metrics;
    char metric_names[RECIPE_MAX_METRICS][32];
} RecipeStep;

/* The step graph of experiment e at batch size `batch` (inputs: the views, then the labels and the
 * sample indices when the method takes them; outputs: the loss, then the metrics), not yet through
 * the training pipeline. `n_data` is the number of training images (memory banks; 0 if unknown). */
SdStatus recipe_step_graph(const DslExperiment *e, int64_t batch, int64_t n_data, RecipeStep *out, SdError *err);
/* Whether the evaluated network ends in a classifier (test accuracy from its output) rather than
 * an embedding: supervised training, SimCLRv2 fine-tuning and distillation. */
bool recipe_classifier(const DslExperiment *e);
/* The optimizer configuration of e for the training pipeline (exclude points into e). */
PassTrainOptions recipe_train_options(const DslExperiment *e, char *exclude_buf, size_t size);
/* Network `net` alone in inference mode at `batch`, its parameters and state as PARAM/STATE values
 * named as in the step graph (so trained values copy over by name); outputs: the backbone features
 * (`features`) or its final output with the head (`!features`). */
SdStatus recipe_inference_graph(const DslExperiment *e, const DslNetwork *net, int64_t batch, bool features,
                                IrGraph **out, SdError *err);
/* The prefix of a network's values in every graph: "<name>/". */
void recipe_prefix(const DslNetwork *net, char *buf, size_t size);
/* The prefix of the key (momentum) encoder that follows `of`: a declared momentum network's
 * "<name>/", else "<of>_key/" (the methods make one when the recipe declares none). */
void recipe_momentum_prefix(const DslExperiment *e, const DslNetwork *of, char *buf, size_t size);

#endif
