/* frontend/dsl/dsl.h — the seedc DSL (.sd files): models and experiments. Grammar and examples
 * are in docs/dsl.md.
 *
 * A model is a small program: layers and blocks with parameters, loops, conditionals and integer
 * arithmetic. Instantiating it runs that program once and lowers every layer into IR nodes of a
 * graph the caller owns, under a name prefix, from an input value the caller made:
 *
 *     DslProgram *p;
 *     if (dsl_load_file("examples/models/resnet18.sd", &p, &err) != SD_OK)
 *         puts(err.msg);                       // "resnet18.sd:12:9: conv: unknown argument ..."
 *     const DslModel *m;
 *     dsl_program_select_model(p, NULL, &m, &err);            // the file's only model
 *     IrValue *x = ir_value_new(g, "image", SD_DT_F32, &shape); ir_graph_add_input(g, x);
 *     DslInstanceOptions o = dsl_instance_options_default();
 *     IrValue *out[DSL_MAX_OUTPUTS]; int n;
 *     dsl_model_instantiate(m, g, "student.", x, &o, out, &n, &err);
 *
 * Parameters become IR_ROLE_PARAM values with initialized data, BatchNorm running statistics
 * IR_ROLE_STATE values; in training mode BatchNorm uses batch statistics and EMA_UPDATE nodes
 * update the running ones. An experiment (data, networks, method, optimizer, schedule,
 * evaluation, exports) is validated into the plain struct DslExperiment for the training driver.
 * Only ir/ is used; shapes are computed while lowering, so every error names the .sd line. */
#ifndef SD_FRONTEND_DSL_H
#define SD_FRONTEND_DSL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"

#define DSL_MAX_OUTPUTS 8
#define DSL_MAX_ARGS 16
#define DSL_MAX_LIST 16
#define DSL_NAME_MAX 64
#define DSL_PATH_MAX 512

typedef struct DslProgram DslProgram;
typedef struct DslModel DslModel;

/* A place in a .sd file, 1-based. `file` lives as long as the program. */
typedef struct DslLoc {
    const char *file;
    int line, col;
} DslLoc;

/* ---- loading ---- */

/* Reads, parses and checks a file and what it imports (paths relative to the importing file). */
SdStatus dsl_load_file(const char *path, DslProgram **out, SdError *err);
/* The same for text in memory; `name` is used in messages and imports resolve from its folder. */
SdStatus dsl_load_string(const char *name, const char *text, DslProgram **out, SdError *err);
void dsl_program_free(DslProgram *p);
const char *dsl_program_path(const DslProgram *p);

/* Models declared in the loaded file itself (imports not counted), in order. */
int dsl_program_num_models(const DslProgram *p);
const DslModel *dsl_program_model(const DslProgram *p, int i);
/* Any model by name, imported ones included; NULL when absent. */
const DslModel *dsl_program_find_model(const DslProgram *p, const char *name);
/* `name` NULL: the file's only model (an error lists them when there are several); otherwise the
 * named one (an error suggests the closest name). */
SdStatus dsl_program_select_model(const DslProgram *p, const char *name, const DslModel **out, SdError *err);
const char *dsl_model_name(const DslModel *m);
DslLoc dsl_model_loc(const DslModel *m);

/* ---- values given to a model's parameters (`resnet10(widths = [16, 32, 64, 128])`) ---- */
typedef enum DslValueKind {
    DSL_VAL_INT,
    DSL_VAL_FLOAT,
    DSL_VAL_BOOL,
    DSL_VAL_STRING,
    DSL_VAL_INTS,   /* a list of integers */
    DSL_VAL_FLOATS, /* a list of numbers */
} DslValueKind;

typedef struct DslArgValue {
    char name[DSL_NAME_MAX];
    DslValueKind kind;
    int64_t i;
    double f;
    bool b;
    char s[DSL_PATH_MAX];
    int n;
    int64_t ints[DSL_MAX_LIST];
    double floats[DSL_MAX_LIST];
} DslArgValue;

/* Parses "name=value" (value: 3, 0.5, true, "text", [1, 2]) as a command line gives it. */
SdStatus dsl_arg_parse(const char *text, DslArgValue *out, SdError *err);
/* "widths=[16, 32, 64, 128]" */
void dsl_arg_format(const DslArgValue *a, char *buf, size_t size);
/* dsl_load_file with overridden `let`s: each `let NAME = ...` named in `lets` takes the given value
 * (`seedc train --let widths=[8,16,32,64]`); naming a let the program lacks is an error. */
SdStatus dsl_load_file_lets(const char *path, const DslArgValue *lets, int n_lets, DslProgram **out,
                            SdError *err);

/* ---- instantiation ---- */

/* Imports the ONNX model at `path` (resolved relative to the .sd file) into g: its value and node
 * names prefixed with `prefix`, its single input fed from `input`; returns in *out the value of
 * the output named `output` (the first output when NULL), with its shape known. Initializers
 * become IR_ROLE_PARAM values when `trainable`, IR_ROLE_CONSTANT otherwise. The DSL declares this
 * hook; the driver wires it to frontend/onnx. */
typedef SdStatus (*DslOnnxImportFn)(void *ctx, const char *path, IrGraph *g, const char *prefix, IrValue *input,
                                    const char *output, bool trainable, IrValue **out, SdError *err);

#define DSL_INFO_MAX_KINDS 32

/* What an instantiation built, for summaries (`seedc check`). */
typedef struct DslInstanceInfo {
    int64_t n_params;        /* trainable elements */
    int n_param_tensors;
    int64_t n_state;         /* BatchNorm running statistics and other persistent elements */
    int n_state_tensors;
    int n_layers;            /* layer calls (conv, bn, relu, ...) */
    int n_kinds;
    struct {
        char kind[24];
        int count;
    } layers[DSL_INFO_MAX_KINDS]; /* by kind, in order of first use */
    int n_outputs;
    char output_names[DSL_MAX_OUTPUTS][DSL_NAME_MAX];
} DslInstanceInfo;

typedef struct DslInstanceOptions {
    bool training;            /* BatchNorm on batch statistics + EMA_UPDATE of the running ones, dropout on */
    uint64_t seed;            /* parameter initialization; each tensor's values depend on it and its name only */
    bool params_as_constants; /* inference deployment: parameters and state become IR_ROLE_CONSTANT */
    const DslArgValue *args;  /* values for the model's parameters, overriding their defaults */
    int n_args;
    DslOnnxImportFn onnx_import; /* NULL: a model that calls onnx() fails with a clear message */
    void *onnx_ctx;
    DslInstanceInfo *info;    /* optional: filled on success */
} DslInstanceOptions;

DslInstanceOptions dsl_instance_options_default(void); /* inference, seed 0 */

/* The model's declared input: its name and its shape WITHOUT the batch dimension, evaluated with
 * the model's parameters (defaults, or `args`). */
SdStatus dsl_model_input(const DslModel *m, const DslArgValue *args, int n_args, char *name, size_t name_size,
                         IrShape *shape, SdError *err);

/* Lowers model m into g. `input` must have a shape: [batch, declared dims...]. Value and node
 * names start with `prefix` (may be "" or NULL); parameter initialization ignores the prefix, so
 * two instances with one seed start equal (a momentum encoder). `outputs` has room for
 * DSL_MAX_OUTPUTS; *n_outputs receives how many the model returns (named in opt->info). The
 * graph's input and output lists are not touched. On failure the graph may hold a partial model. */
SdStatus dsl_model_instantiate(const DslModel *m, IrGraph *g, const char *prefix, IrValue *input,
                               const DslInstanceOptions *opt, IrValue **outputs, int *n_outputs, SdError *err);

/* Turns every PARAM and STATE value of g into a CONSTANT (inference-only graphs). */
void dsl_graph_freeze(IrGraph *g);

/* ---- experiments ---- */

typedef enum DslMethodKind {
    DSL_METHOD_SUPERVISED,
    DSL_METHOD_MOCO_V2,
    DSL_METHOD_SIMCLR,
    DSL_METHOD_SEED,
    DSL_METHOD_DOGO,
    DSL_METHOD_CRD,
    DSL_METHOD_SIMCLRV2,
} DslMethodKind;

typedef enum DslRole {
    DSL_ROLE_STUDENT,  /* trained */
    DSL_ROLE_TEACHER,  /* frozen, inference mode, no gradient */
    DSL_ROLE_MOMENTUM, /* an EMA copy of another network (MoCo key encoder) */
    DSL_ROLE_PEER,     /* trained alongside the student (DoGo) */
} DslRole;

/* A projection head after the backbone's features: Linear layers of sizes dims[0..n), each but
 * the last followed by [BatchNorm] + ReLU (MoCo-v2 / SimCLR / SEED heads). */
typedef struct DslHead {
    int n_dims; /* 0: no head */
    int64_t dims[DSL_MAX_LIST];
    bool bn;       /* BatchNorm after each hidden Linear */
    bool last_bn;  /* BatchNorm after the last Linear (SimCLRv2) */
} DslHead;

typedef struct DslNetwork {
    char name[DSL_NAME_MAX];
    DslLoc loc;
    DslRole role;
    const DslModel *model;         /* backbone written in the DSL, or NULL */
    int n_args;
    DslArgValue args[DSL_MAX_ARGS]; /* its parameters */
    char onnx[DSL_PATH_MAX];       /* or: backbone from ONNX (resolved relative to the recipe) */
    char onnx_output[DSL_NAME_MAX];
    char checkpoint[DSL_PATH_MAX]; /* start from a seedc checkpoint (teachers, fine-tuning); relative to
                                    * the working directory, as out_dir */
    DslHead head;
    bool frozen;                   /* teacher: no gradient, inference mode */
    char momentum_of[DSL_NAME_MAX]; /* DSL_ROLE_MOMENTUM: the network it follows */
    double ema;                    /* its momentum: key = ema * key + (1 - ema) * query (default: the
                                    * method's momentum) */
} DslNetwork;

typedef struct DslAugment {
    struct { bool on; int64_t size; double scale[2], ratio[2]; } crop;  /* random resized crop */
    struct { bool on; double p; } flip;                                 /* horizontal */
    struct { bool on; double brightness, contrast, p; } jitter;
    struct { bool on; double sigma[2]; int64_t kernel; double p; } blur; /* gaussian */
    struct { bool on; double threshold, p; } solarize;
} DslAugment;

typedef struct DslData {
    char dataset[32];          /* "fashion-mnist" or "mnist" */
    char path[DSL_PATH_MAX];   /* "" : /usr/share/datasets/<dataset> */
    int n_norm;
    double mean[4], std[4];    /* per channel, after scaling pixels to [0, 1] */
    int64_t views;             /* augmented views of each image: 1 supervised, 2 contrastive */
    DslAugment augment;
    struct { int64_t count, size; double scale[2]; } local_views; /* multi-crop small views */
    double label_fraction;     /* labels used (semi-supervised fine-tuning), 1 = all */
    int64_t workers;           /* augmentation threads, 0: automatic */
} DslData;

typedef struct DslMethod {
    DslMethodKind kind;
    DslLoc loc;
    double temperature;          /* moco_v2 0.2, simclr 0.5, dogo 0.2, crd 0.07, simclrv2 distillation 1 */
    double temperature_student;  /* seed 0.2 */
    double temperature_teacher;  /* seed 0.01 (the paper's code: 1e-4) */
    int64_t queue;               /* moco_v2, seed, dogo: queue length; crd: negatives drawn from the bank */
    double momentum;             /* moco_v2 key encoder EMA 0.99; crd memory bank update 0.5 */
    int64_t dim;                 /* embedding size (of the projection heads) */
    double kl_weight;            /* dogo: weight of the mutual KL term */
    double ssl_weight;           /* dogo: weight of each peer's own SSL loss */
    double crd_weight;           /* crd: weight of the contrastive distillation loss */
    double label_smoothing;      /* supervised */
    char stage[16];              /* simclrv2: "pretrain", "finetune" or "distill" */
    int64_t finetune_from;       /* simclrv2: fine-tune from this projection-head layer (1) */
} DslMethod;

typedef enum DslOptimizerKind { DSL_OPT_SGD, DSL_OPT_LARS, DSL_OPT_ADAMW, DSL_OPT_LAMB } DslOptimizerKind;

#define DSL_MAX_EXCLUDE 8

typedef struct DslOptimizer {
    DslOptimizerKind kind;
    DslLoc loc;
    double lr;                   /* peak learning rate */
    int64_t lr_base_batch;       /* >0: lr is for this batch size and scales linearly with the real one */
    double momentum;             /* sgd, lars */
    bool nesterov;               /* sgd */
    double weight_decay;
    double beta1, beta2, eps;    /* adamw, lamb */
    double trust_coefficient;    /* lars */
    int n_exclude;               /* parameters without weight decay (nor LARS adaptation): */
    char exclude[DSL_MAX_EXCLUDE][DSL_NAME_MAX]; /* "bias", "norm" or a name pattern with '*' */
    double clip_grad_norm;       /* 0: no clipping */
} DslOptimizer;

typedef enum DslScheduleKind { DSL_SCHED_CONSTANT, DSL_SCHED_COSINE, DSL_SCHED_STEP } DslScheduleKind;

typedef struct DslSchedule {
    DslScheduleKind kind;
    double warmup_epochs;        /* linear warmup from warmup_start * lr */
    double warmup_start;
    double min_lr;               /* cosine: final learning rate */
    int n_milestones;
    int64_t milestones[DSL_MAX_LIST]; /* step: epochs where lr *= gamma */
    double gamma;
} DslSchedule;

typedef struct DslEvaluation {
    char network[DSL_NAME_MAX];  /* whose backbone features ("" : the student) */
    bool accuracy;               /* top-1 of the network's own classifier on the test set (supervised) */
    bool knn;
    int64_t knn_k;
    double knn_temperature;
    bool linear;
    int64_t linear_epochs, linear_batch;
    double linear_lr, linear_weight_decay;
    int64_t every;               /* kNN monitor every N epochs, 0: at the end only */
} DslEvaluation;

typedef struct DslCheckpoint {
    int64_t every_steps;         /* 0: none between epochs */
    bool every_epoch;
    int64_t keep;                /* checkpoints kept, 0: all */
} DslCheckpoint;

typedef enum DslExportKind { DSL_EXPORT_ONNX, DSL_EXPORT_EXE, DSL_EXPORT_BUNDLE } DslExportKind;

typedef struct DslExport {
    DslExportKind kind;
    DslLoc loc;
    char network[DSL_NAME_MAX];  /* "" : the student */
    char path[DSL_PATH_MAX];     /* relative to the output folder */
    bool with_head;              /* include the projection head */
    char target[32];             /* exe/bundle: "native", "x86-64-v3", "aarch64-linux-gnu" */
    char gemm[16];               /* exe/bundle: "openblas" or "builtin" */
} DslExport;

#define DSL_MAX_NETWORKS 8
#define DSL_MAX_EXPORTS 8

typedef struct DslExperiment {
    char name[DSL_NAME_MAX];
    DslLoc loc;
    const DslProgram *program;   /* the models referenced; must outlive the experiment */
    int64_t epochs, batch_size, seed, threads;
    int64_t steps_per_epoch;     /* 0: the whole training set each epoch */
    int precision;               /* 0: fp32; 1: bf16 products in the step's convolutions and GEMMs */
    char out_dir[DSL_PATH_MAX];  /* checkpoints, CSV log, plot ("" : runs/<name>) */
    DslData data;
    DslMethod method;
    int n_networks;
    DslNetwork networks[DSL_MAX_NETWORKS];
    DslOptimizer optimizer;
    DslSchedule schedule;
    DslEvaluation eval;
    DslCheckpoint checkpoint;
    int n_exports;
    DslExport exports[DSL_MAX_EXPORTS];
} DslExperiment;

int dsl_program_num_experiments(const DslProgram *p);
const char *dsl_program_experiment_name(const DslProgram *p, int i);
/* Validates experiment `name` (NULL: the file's only one) into a newly allocated struct: unknown
 * keys and wrong types are errors with file:line:col and a suggestion; defaults fill the rest. */
SdStatus dsl_experiment_load(const DslProgram *p, const char *name, DslExperiment **out, SdError *err);
void dsl_experiment_free(DslExperiment *e);
/* The network named `name`, or NULL. */
const DslNetwork *dsl_experiment_network(const DslExperiment *e, const char *name);
/* The first network with `role`, or NULL. */
const DslNetwork *dsl_experiment_role(const DslExperiment *e, DslRole role);
const char *dsl_method_name(DslMethodKind k);
const char *dsl_role_name(DslRole r);
const char *dsl_optimizer_name(DslOptimizerKind k);
const char *dsl_schedule_name(DslScheduleKind k);
const char *dsl_export_name(DslExportKind k);
/* A readable multi-line summary (what `seedc check` prints). */
void dsl_experiment_describe(const DslExperiment *e, SdStrbuf *out);

/* Builds network `net` of experiment `e` into g: its backbone (a DSL model instantiated with the
 * network's arguments, or ONNX through opt->onnx_import) and its projection head. *features is
 * the backbone output, *embedding the head's (== *features without a head). opt->args is
 * ignored (the network's own are used); the head's parameters are named PREFIX "head.". */
SdStatus dsl_network_instantiate(const DslExperiment *e, const DslNetwork *net, IrGraph *g, const char *prefix,
                                 IrValue *input, const DslInstanceOptions *opt, IrValue **features,
                                 IrValue **embedding, SdError *err);

#endif
