/* passes/manager.c — named pipelines, --disable, verification after each pass, and the hook that
 * lets `seedc ir --after PASS` print the graph. */
#include <string.h>

#include "passes/pass.h"
#include "support/names.h"

typedef struct {
    const char *name;
    PassFn fn;
} PassEntry;

/* The training pipeline's convention: graph output 0 is the loss, an f32 scalar (metrics follow). */
static SdStatus autodiff_output0(IrGraph *g, const PassOptions *opt, SdError *err)
{
    if (ir_graph_num_outputs(g) < 1)
        return sd_errorf(err, SD_EUSAGE, "%s: a training graph needs the loss as output 0; it has no outputs",
                         ir_graph_source(g));
    IrValue *loss = ir_graph_output(g, 0);
    if (loss->dtype != SD_DT_F32 || !loss->has_shape || ir_value_numel(loss) != 1) {
        char tb[128];
        return sd_errorf(err, SD_EUSAGE, "%s: graph output 0 ('%s') is the loss and must be an f32 scalar; it is %s",
                         ir_graph_source(g), loss->name, ir_value_type_str(loss, tb, sizeof tb));
    }
    return pass_autodiff(g, loss, opt, err);
}

static const PassEntry passes[] = {
    {"shape", pass_shape},
    {"canonicalize", pass_canonicalize},
    {"fold", pass_fold},
    {"bnfold", pass_fold_batchnorm},
    {"actfold", pass_fold_activation},
    {"bnrelu", pass_fold_norm_relu},
    {"autodiff", autodiff_output0},
    {"optimizer", pass_optimizer},
    {"dce", pass_dce},
    {"quantize", pass_quantize},
    {"fuse", pass_fuse_eltwise},
    {"memplan", pass_memplan},
};

static const char *const inference_pipeline[] = {"shape", "canonicalize", "fold", "bnfold", "dce", "quantize", "actfold", "fuse", "memplan", NULL};
static const char *const training_pipeline[] = {"shape", "canonicalize", "fold", "autodiff", "optimizer",
                                                "canonicalize", "fold", "dce", "bnrelu", "quantize", "fuse",
                                                "memplan", NULL};

const char *const *pass_pipeline_names(const char *pipeline)
{
    if (!pipeline || strcmp(pipeline, "inference") == 0)
        return inference_pipeline;
    if (strcmp(pipeline, "training") == 0)
        return training_pipeline;
    return NULL;
}

static const PassEntry *find_pass(const char *name)
{
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++)
        if (strcmp(passes[i].name, name) == 0)
            return &passes[i];
    return NULL;
}

bool pass_is_known(const char *name) { return find_pass(name) != NULL; }

bool pass_disabled(const PassOptions *opt, const char *name) { return opt && sd_name_listed(opt->disabled, name); }

SdStatus pass_run_pipeline(IrGraph *g, const char *pipeline, const PassOptions *opt, SdError *err)
{
    static const PassOptions defaults = {0};
    if (!opt)
        opt = &defaults;
    const char *const *names = pass_pipeline_names(pipeline);
    if (!names)
        return sd_errorf(err, SD_EUSAGE, "unknown pipeline '%s' (known: inference, training)", pipeline);
    for (int i = 0; names[i]; i++) {
        const PassEntry *p = find_pass(names[i]);
        SD_ASSERT(p);
        /* shape inference is not optional: everything after it needs shapes */
        if (strcmp(p->name, "shape") != 0 && sd_name_listed(opt->disabled, p->name)) {
            if (opt->stop_after && strcmp(opt->stop_after, p->name) == 0)
                break;
            continue;
        }
        SD_TRY(p->fn(g, opt, err));
        if (opt->verify) {
            SdStatus st = ir_verify(g, true, err);
            if (st != SD_OK)
                return sd_error_prefix(err, "after pass '%s'", p->name);
        }
        if (opt->after_pass)
            opt->after_pass(opt->after_ctx, p->name, g);
        if (opt->stop_after && strcmp(opt->stop_after, p->name) == 0)
            break;
    }
    return SD_OK;
}
