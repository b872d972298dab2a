/* frontend/dsl/recipe.c — what is done with a validated experiment: a readable summary of it
 * (`seedc check`) and its networks built into a graph (backbone, then projection head). */
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/lower.h"

static void pair(SdStrbuf *b, const double *v) { sd_strbuf_printf(b, "[%g, %g]", v[0], v[1]); }

void dsl_experiment_describe(const DslExperiment *e, SdStrbuf *b)
{
    const DslMethod *m = &e->method;
    const DslData *d = &e->data;
    sd_strbuf_printf(b, "experiment %s (%s:%d:%d)\n", e->name, e->loc.file, e->loc.line, e->loc.col);
    sd_strbuf_printf(b, "  training   %lld epochs, batch %lld, seed %lld, output in %s\n", (long long)e->epochs,
                     (long long)e->batch_size, (long long)e->seed, e->out_dir);
    sd_strbuf_printf(b, "  method     %s", dsl_method_name(m->kind));
    switch (m->kind) {
    case DSL_METHOD_SUPERVISED: sd_strbuf_printf(b, " (cross entropy, label smoothing %g)", m->label_smoothing); break;
    case DSL_METHOD_MOCO_V2:
        sd_strbuf_printf(b, " (temperature %g, queue %lld, key momentum %g, dim %lld)", m->temperature, (long long)m->queue,
                         m->momentum, (long long)m->dim);
        break;
    case DSL_METHOD_SIMCLR: sd_strbuf_printf(b, " (temperature %g, dim %lld)", m->temperature, (long long)m->dim); break;
    case DSL_METHOD_SEED:
        sd_strbuf_printf(b, " (student temperature %g, teacher temperature %g, queue %lld, dim %lld)", m->temperature_student,
                         m->temperature_teacher, (long long)m->queue, (long long)m->dim);
        break;
    case DSL_METHOD_DOGO:
        sd_strbuf_printf(b, " (temperature %g, queue %lld, KL weight %g, SSL weight %g)", m->temperature, (long long)m->queue,
                         m->kl_weight, m->ssl_weight);
        break;
    case DSL_METHOD_CRD:
        sd_strbuf_printf(b, " (temperature %g, negatives %lld, bank momentum %g, weight %g)", m->temperature,
                         (long long)m->queue, m->momentum, m->crd_weight);
        break;
    case DSL_METHOD_SIMCLRV2: sd_strbuf_printf(b, " (stage %s, temperature %g)", m->stage, m->temperature); break;
    }
    sd_strbuf_printf(b, "\n  data       %s, %lld view%s, normalized with mean", d->dataset, (long long)d->views,
                     d->views == 1 ? "" : "s");
    for (int i = 0; i < d->n_norm; i++)
        sd_strbuf_printf(b, " %g", d->mean[i]);
    sd_strbuf_printf(b, " std");
    for (int i = 0; i < d->n_norm; i++)
        sd_strbuf_printf(b, " %g", d->std[i]);
    if (d->label_fraction < 1)
        sd_strbuf_printf(b, ", %g of the labels", d->label_fraction);
    sd_strbuf_printf(b, "\n  augment   ");
    const DslAugment *a = &d->augment;
    if (a->crop.on) {
        sd_strbuf_printf(b, " crop %lld scale ", (long long)a->crop.size);
        pair(b, a->crop.scale);
        sd_strbuf_printf(b, " ratio ");
        pair(b, a->crop.ratio);
        sd_strbuf_printf(b, ";");
    }
    if (a->flip.on)
        sd_strbuf_printf(b, " flip p %g;", a->flip.p);
    if (a->jitter.on)
        sd_strbuf_printf(b, " jitter brightness %g contrast %g p %g;", a->jitter.brightness, a->jitter.contrast, a->jitter.p);
    if (a->blur.on) {
        sd_strbuf_printf(b, " blur sigma ");
        pair(b, a->blur.sigma);
        sd_strbuf_printf(b, " p %g;", a->blur.p);
    }
    if (a->solarize.on)
        sd_strbuf_printf(b, " solarize threshold %g p %g;", a->solarize.threshold, a->solarize.p);
    if (!a->crop.on && !a->flip.on && !a->jitter.on && !a->blur.on && !a->solarize.on)
        sd_strbuf_printf(b, " none");
    if (d->local_views.count)
        sd_strbuf_printf(b, " plus %lld local views of %lld", (long long)d->local_views.count,
                         (long long)d->local_views.size);
    sd_strbuf_printf(b, "\n");
    for (int i = 0; i < e->n_networks; i++) {
        const DslNetwork *n = &e->networks[i];
        sd_strbuf_printf(b, "  network    %s (%s%s): ", n->name, dsl_role_name(n->role), n->frozen ? ", frozen" : "");
        if (n->model) {
            sd_strbuf_printf(b, "%s(", dsl_model_name(n->model));
            for (int k = 0; k < n->n_args; k++) {
                char buf[256];
                dsl_arg_format(&n->args[k], buf, sizeof buf);
                sd_strbuf_printf(b, "%s%s", k ? ", " : "", buf);
            }
            sd_strbuf_printf(b, ")");
        } else if (n->onnx[0]) {
            sd_strbuf_printf(b, "onnx %s%s%s", n->onnx, n->onnx_output[0] ? " output " : "", n->onnx_output);
        } else if (n->role == DSL_ROLE_MOMENTUM) {
            sd_strbuf_printf(b, "EMA of %s, momentum %g", n->momentum_of, n->ema);
        }
        if (n->checkpoint[0])
            sd_strbuf_printf(b, " from checkpoint %s", n->checkpoint);
        if (n->head.n_dims) {
            sd_strbuf_printf(b, ", head");
            for (int k = 0; k < n->head.n_dims; k++)
                sd_strbuf_printf(b, "%s%lld", k ? "-" : " ", (long long)n->head.dims[k]);
            sd_strbuf_printf(b, "%s", n->head.bn ? " with batch norm" : "");
        }
        sd_strbuf_printf(b, "\n");
    }
    const DslOptimizer *o = &e->optimizer;
    sd_strbuf_printf(b, "  optimizer  %s lr %g", dsl_optimizer_name(o->kind), o->lr);
    if (o->kind == DSL_OPT_SGD || o->kind == DSL_OPT_LARS)
        sd_strbuf_printf(b, " momentum %g%s", o->momentum, o->nesterov ? " (nesterov)" : "");
    if (o->kind == DSL_OPT_ADAMW || o->kind == DSL_OPT_LAMB)
        sd_strbuf_printf(b, " betas %g %g", o->beta1, o->beta2);
    sd_strbuf_printf(b, " weight decay %g (not on:", o->weight_decay);
    for (int i = 0; i < o->n_exclude; i++)
        sd_strbuf_printf(b, " %s", o->exclude[i]);
    sd_strbuf_printf(b, ")");
    if (o->clip_grad_norm > 0)
        sd_strbuf_printf(b, " clip %g", o->clip_grad_norm);
    sd_strbuf_printf(b, "\n  schedule   %s", dsl_schedule_name(e->schedule.kind));
    for (int i = 0; i < e->schedule.n_milestones; i++)
        sd_strbuf_printf(b, "%s%lld", i ? ", " : " at epochs ", (long long)e->schedule.milestones[i]);
    if (e->schedule.n_milestones)
        sd_strbuf_printf(b, " (x%g)", e->schedule.gamma);
    if (e->schedule.warmup_epochs > 0)
        sd_strbuf_printf(b, ", %g warmup epochs", e->schedule.warmup_epochs);
    sd_strbuf_printf(b, "\n  eval      ");
    if (e->eval.knn)
        sd_strbuf_printf(b, " knn k %lld temperature %g;", (long long)e->eval.knn_k, e->eval.knn_temperature);
    if (e->eval.linear)
        sd_strbuf_printf(b, " linear probe %lld epochs;", (long long)e->eval.linear_epochs);
    if (e->eval.accuracy && e->method.kind == DSL_METHOD_SUPERVISED)
        sd_strbuf_printf(b, " test accuracy;");
    if (!e->eval.knn && !e->eval.linear && !(e->eval.accuracy && e->method.kind == DSL_METHOD_SUPERVISED))
        sd_strbuf_printf(b, " none");
    sd_strbuf_printf(b, "\n");
    for (int i = 0; i < e->n_exports; i++)
        sd_strbuf_printf(b, "  export     %s %s (%s)\n", dsl_export_name(e->exports[i].kind), e->exports[i].path,
                         e->exports[i].network[0] ? e->exports[i].network : "student");
}

SdStatus dsl_network_instantiate(const DslExperiment *e, const DslNetwork *net, IrGraph *g, const char *prefix,
                                 IrValue *input, const DslInstanceOptions *opt, IrValue **features,
                                 IrValue **embedding, SdError *err)
{
    DslInstanceOptions o = opt ? *opt : dsl_instance_options_default();
    o.args = net->args;
    o.n_args = net->n_args;
    IrValue *outs[DSL_MAX_OUTPUTS] = {0};
    int n = 0;
    (void)e;
    if (net->model) {
        SD_TRY(dsl_model_instantiate(net->model, g, prefix, input, &o, outs, &n, err));
    } else if (net->onnx[0]) {
        if (!o.onnx_import)
            return dsl_error(err, SD_EUNSUPPORTED, net->loc, "network '%s' comes from ONNX, and no import hook is given",
                             net->name);
        SD_TRY(o.onnx_import(o.onnx_ctx, net->onnx, g, prefix ? prefix : "", input,
                             net->onnx_output[0] ? net->onnx_output : NULL, !net->frozen, &outs[0], err));
        n = 1;
    } else {
        return dsl_error(err, SD_EUSAGE, net->loc, "network '%s' has no model of its own (%s)", net->name,
                         net->role == DSL_ROLE_MOMENTUM ? "it copies the network it follows" : "it starts from a checkpoint");
    }
    *features = *embedding = outs[0];
    if (!net->head.n_dims)
        return SD_OK;
    IrValue *f = outs[0];
    if (!f || !f->has_shape || f->shape.rank != 2)
        return dsl_error(err, SD_ESHAPE, net->loc, "network '%s': a head needs [batch, features] from the backbone%s",
                         net->name, net->model ? " (give the model classes = 0)" : "");
    DslArena arena = {0};
    DslEval E;
    dsl_eval_init(&E, e->program, &arena, err);
    E.g = g;
    E.prefix = prefix ? prefix : "";
    E.opt = &o;
    snprintf(E.scope, sizeof E.scope, "head");
    SdStatus st = dsl_lower_mlp(&E, net->loc, f, net->head.dims, net->head.n_dims, net->head.bn, net->head.last_bn,
                                "relu", true, embedding);
    if (st == SD_OK && o.info) {
        o.info->n_params += E.info.n_params;
        o.info->n_param_tensors += E.info.n_param_tensors;
        o.info->n_state += E.info.n_state;
        o.info->n_state_tensors += E.info.n_state_tensors;
        o.info->n_layers += E.info.n_layers;
    }
    dsl_arena_free(&arena);
    return st;
}
