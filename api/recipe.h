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

/* What a method builds into a step graph. */
typedef struct RecipeCtx {
    const DslExperiment *e;
    IrGraph *g;
    int64_t batch;
    int n_views;
    IrValue *views[RECIPE_MAX_VIEWS]; /* graph inputs 0..n_views-1, f32 [B, C, H, W] */
    IrValue *labels;                  /* graph input n_views, i64 [B] (NULL when unused) */
    IrValue *loss;                    /* set by the method: f32 scalar */
    int n_metrics;
    IrValue *metrics[RECIPE_MAX_METRICS];
    char metric_names[RECIPE_MAX_METRICS][32];
    int n_nodes;                      /* for unique node names */
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

/* ---- the methods (api/methods/<method>.c) ---- */
SdStatus method_supervised(RecipeCtx *c);

/* ---- graphs for the trainer ---- */
typedef struct RecipeStep {
    IrGraph *g;
    int n_views;
    bool labels;
    int n_metrics;
    char metric_names[RECIPE_MAX_METRICS][32];
} RecipeStep;

/* The step graph of experiment e at batch size `batch` (views and labels as inputs; outputs loss
 * then metrics), not yet through the training pipeline. */
SdStatus recipe_step_graph(const DslExperiment *e, int64_t batch, RecipeStep *out, SdError *err);
/* The optimizer configuration of e for the training pipeline (exclude points into e). */
PassTrainOptions recipe_train_options(const DslExperiment *e, char *exclude_buf, size_t size);
/* Network `net` alone in inference mode at `batch`, its parameters and state as PARAM/STATE values
 * named as in the step graph (so trained values copy over by name); outputs: the backbone features
 * (`features`) or its final output with the head (`!features`). */
SdStatus recipe_inference_graph(const DslExperiment *e, const DslNetwork *net, int64_t batch, bool features,
                                IrGraph **out, SdError *err);
/* The prefix of a network's values in every graph: "<name>/". */
void recipe_prefix(const DslNetwork *net, char *buf, size_t size);

#endif
