/* api/checkpoint_graph.c — a training checkpoint as a model: the recipe it names rebuilds one of
 * its networks as an inference graph, and the checkpoint's blobs become that graph's constants.
 * This is what lets `seedc run/info/compile/export/eval` take a .ckpt wherever they take ONNX. */
#include <stdio.h>
#include <string.h>

#include "api/driver.h"
#include "api/recipe.h"
#include "runtime/checkpoint.h"

bool sd_is_checkpoint_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char magic[8];
    bool yes = fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, "SEEDCKPT", 8) == 0;
    fclose(f);
    return yes;
}

static const DslNetwork *pick_network(const DslExperiment *e, const char *name, const char *path, SdError *err)
{
    const DslNetwork *net = NULL;
    if (name && name[0])
        net = dsl_experiment_network(e, name);
    else if (e->eval.network[0])
        net = dsl_experiment_network(e, e->eval.network);
    else
        net = dsl_experiment_role(e, DSL_ROLE_STUDENT);
    if (net)
        return net;
    char names[512] = "";
    for (int i = 0; i < e->n_networks; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", e->networks[i].name);
    sd_errorf(err, SD_EUSAGE, "%s: experiment '%s' has no network %s%s%s (it has: %s)", path, e->name,
              name && name[0] ? "'" : "to pick by default", name && name[0] ? name : "", name && name[0] ? "'" : "",
              names);
    return NULL;
}

/* Every parameter and state value of g takes the checkpoint's blob of the same name. */
static SdStatus fill_from_checkpoint(IrGraph *g, const RtCheckpoint *ck, const char *path, SdError *err)
{
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->role != IR_ROLE_PARAM && v->role != IR_ROLE_STATE)
            continue;
        size_t size;
        const void *blob = rt_ckpt_find(ck, v->name, &size);
        if (!blob)
            return sd_errorf(err, SD_EUSAGE, "%s: no tensor '%s' in the checkpoint (was the recipe's network changed "
                             "after it was written?)", path, v->name);
        if (size != v->nbytes)
            return sd_errorf(err, SD_EUSAGE, "%s: tensor '%s' holds %zu bytes; the recipe's network now needs %zu "
                             "(was the recipe changed after the checkpoint was written?)", path, v->name, size,
                             v->nbytes);
        memcpy(v->data, blob, size);
        v->role = IR_ROLE_CONSTANT;
    }
    return SD_OK;
}

/* The recipe's lets the run was given (`seedc train --let`): keys let.0, let.1, ... = NAME=VALUE. */
static SdStatus checkpoint_lets(const RtCheckpoint *ck, const char *path, DslArgValue *lets, int *n, SdError *err)
{
    *n = 0;
    for (int i = 0; i < DSL_MAX_ARGS; i++) {
        char key[16];
        snprintf(key, sizeof key, "let.%d", i);
        const char *one = rt_ckpt_get(ck, key);
        if (!one)
            break;
        if (dsl_arg_parse(one, &lets[i], err) != SD_OK)
            return sd_errorf(err, SD_EUSAGE, "%s: the recipe's let '%s' it keeps does not read back", path, one);
        *n = i + 1;
    }
    return SD_OK;
}

SdStatus sd_checkpoint_graph(const char *path, const SdOptions *opt, IrGraph **out, SdCheckpointInfo *info,
                             SdError *err)
{
    *out = NULL;
    RtCheckpoint *ck;
    SD_TRY(rt_ckpt_read(path, &ck, err));
    const char *recipe = rt_ckpt_get(ck, "recipe"), *exp_name = rt_ckpt_get(ck, "experiment");
    DslProgram *prog = NULL;
    DslExperiment *e = NULL;
    IrGraph *g = NULL;
    SdStatus st = SD_OK;
    if (!recipe || !exp_name)
        st = sd_errorf(err, SD_EUSAGE, "%s: the checkpoint does not name its recipe and experiment (written by "
                       "an older seedc?)", path);
    DslArgValue lets[DSL_MAX_ARGS];
    int n_lets = 0;
    if (st == SD_OK)
        st = checkpoint_lets(ck, path, lets, &n_lets, err);
    if (st == SD_OK && (st = dsl_load_file_lets(recipe, lets, n_lets, &prog, err)) != SD_OK) {
        char why[SD_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        st = sd_errorf(err, st, "%s: reading the recipe it was trained with: %s", path, why);
    }
    if (st == SD_OK)
        st = dsl_experiment_load(prog, exp_name, &e, err);
    const DslNetwork *net = NULL;
    if (st == SD_OK && !(net = pick_network(e, opt ? opt->model : NULL, path, err)))
        st = SD_EUSAGE;
    bool classifier = st == SD_OK && e->method.kind == DSL_METHOD_SUPERVISED;
    bool features = !classifier && !(opt && opt->head);
    if (st == SD_OK)
        st = recipe_inference_graph(e, net, opt && opt->batch > 0 ? opt->batch : 1, features, &g, err);
    if (st == SD_OK)
        st = fill_from_checkpoint(g, ck, path, err);
    if (st == SD_OK) {
        ir_graph_set_source(g, path);
        if (info) {
            memset(info, 0, sizeof *info);
            snprintf(info->recipe, sizeof info->recipe, "%s", recipe);
            snprintf(info->experiment, sizeof info->experiment, "%s", exp_name);
            snprintf(info->network, sizeof info->network, "%s", net->name);
            info->features = features;
            info->n_norm = e->data.n_norm;
            for (int c = 0; c < e->data.n_norm && c < 4; c++) {
                info->mean[c] = (float)e->data.mean[c];
                info->std[c] = (float)e->data.std[c];
            }
            snprintf(info->dataset, sizeof info->dataset, "%s", e->data.dataset);
            rt_ckpt_get_i64(ck, "epoch", &info->epoch, NULL);
            rt_ckpt_get_i64(ck, "step", &info->step, NULL);
        }
    }
    dsl_experiment_free(e);
    dsl_program_free(prog);
    rt_ckpt_free(ck);
    if (st != SD_OK) {
        ir_graph_free(g);
        return st;
    }
    *out = g;
    return SD_OK;
}
