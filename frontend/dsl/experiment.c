/* frontend/dsl/experiment.c — an `experiment` block validated into DslExperiment. Each section has
 * a table of keys (name, type, where it goes, allowed range); an unknown key or section is an
 * error that suggests the closest known one, a wrong type or a value out of range names the key
 * and what it takes. Values are DSL expressions (`queue = 16 * 256`, `let`s in sight); a bare
 * name stands for itself where a choice is expected (`role = teacher`). After the sections are
 * read, the whole is checked: roles, references between networks, what each method needs.
 * The tables are applied by experiment_apply.c; the sections are in experiment_sections.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/experiment_internal.h"

/* -- the experiment -- */

static const char *const precision_names[] = {"fp32", "bf16", NULL};
#define T DslExperiment
static const Key experiment_keys[] = {
    NUM("epochs", K_INT, T, epochs, 1, 1e6), NUM("batch_size", K_INT, T, batch_size, 1, 1 << 20),
    NUM("seed", K_INT, T, seed, 0, 9e18), NUM("threads", K_INT, T, threads, 0, 1024),
    NUM("steps_per_epoch", K_INT, T, steps_per_epoch, 0, 1e12), STR("out_dir", K_STR, T, out_dir),
    ENUM("precision", T, precision, precision_names), {0},
};
#undef T

static const Sub experiment_subs[] = {
    {"data", dsl_exp_sec_data}, {"network", dsl_exp_sec_network}, {"method", dsl_exp_sec_method},
    {"optimizer", dsl_exp_sec_optimizer}, {"schedule", dsl_exp_sec_schedule}, {"eval", dsl_exp_sec_eval},
    {"checkpoint", dsl_exp_sec_checkpoint}, {"export", dsl_exp_sec_export}, {0},
};

static SdStatus need_network(X *x, DslLoc loc, const char *what, const char *name)
{
    if (!name[0] || dsl_experiment_network(x->e, name))
        return SD_OK;
    const char *cands[DSL_MAX_NETWORKS];
    for (int i = 0; i < x->e->n_networks; i++)
        cands[i] = x->e->networks[i].name;
    char dym[128];
    return dsl_error(x->err, SD_EBADMODEL, loc, "%s names network '%s', which this experiment does not declare%s", what,
                     name, dsl_did_you_mean(name, cands, x->e->n_networks, dym, sizeof dym));
}

static const DslSection *find_section(const DslSection *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (s->entries[i].section && strcmp(s->entries[i].key, key) == 0)
            return s->entries[i].section;
    return NULL;
}

/* Whether the method section gives `key` itself. */
static bool method_sets(const DslSection *s, const char *key)
{
    const DslSection *m = find_section(s, "method");
    for (int i = 0; m && i < m->n; i++)
        if (strcmp(m->entries[i].key, key) == 0)
            return true;
    return false;
}

static int count_role(const DslExperiment *e, DslRole r)
{
    int n = 0;
    for (int i = 0; i < e->n_networks; i++)
        n += e->networks[i].role == r;
    return n;
}

/* What holds only for the whole: the method's networks, views, queue sizes, references. */
static SdStatus check_experiment(X *x, const DslSection *s)
{
    DslExperiment *e = x->e;
    static const char *const required[] = {"data", "method", NULL};
    for (int i = 0; required[i]; i++)
        if (!find_section(s, required[i]))
            return dsl_error(x->err, SD_EBADMODEL, e->loc, "experiment '%s' needs a '%s { ... }' section", e->name,
                             required[i]);
    if (e->n_networks == 0)
        return dsl_error(x->err, SD_EBADMODEL, e->loc, "experiment '%s' declares no network ('network student { model = ... }')",
                         e->name);
    const DslMethod *m = &e->method;
    const char *mname = dsl_method_name(m->kind);
    if (count_role(e, DSL_ROLE_STUDENT) != 1)
        return dsl_error(x->err, SD_EBADMODEL, e->loc, "experiment '%s' has %d student networks; exactly one is trained as the student",
                         e->name, count_role(e, DSL_ROLE_STUDENT));
    bool distill = m->kind == DSL_METHOD_SEED || m->kind == DSL_METHOD_CRD ||
                   (m->kind == DSL_METHOD_SIMCLRV2 && strcmp(m->stage, "distill") == 0);
    if (distill && count_role(e, DSL_ROLE_TEACHER) != 1)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s distills from one teacher; declare 'network teacher { ... }'",
                         mname);
    if (!distill && m->kind != DSL_METHOD_SIMCLRV2 && count_role(e, DSL_ROLE_TEACHER))
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s uses no teacher", mname);
    if (m->kind == DSL_METHOD_DOGO && count_role(e, DSL_ROLE_PEER) != 1)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method dogo trains two peers: declare the second as 'role = peer'");
    if (m->kind != DSL_METHOD_DOGO && count_role(e, DSL_ROLE_PEER))
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "only method dogo trains peers");
    if (count_role(e, DSL_ROLE_MOMENTUM) && m->kind != DSL_METHOD_MOCO_V2 && m->kind != DSL_METHOD_DOGO)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s uses no momentum encoder", mname);
    for (int i = 0; i < e->n_networks; i++) {
        DslNetwork *n = &e->networks[i];
        if (n->role == DSL_ROLE_MOMENTUM && n->ema < 0)
            n->ema = m->kind == DSL_METHOD_MOCO_V2 ? m->momentum : 0.99;
        else if (n->role == DSL_ROLE_MOMENTUM && m->kind == DSL_METHOD_MOCO_V2 && n->ema != m->momentum &&
                 method_sets(s, "momentum"))
            return dsl_error(x->err, SD_EBADMODEL, n->loc, "network '%s' has ema %g but method moco_v2 has momentum %g: give one",
                             n->name, n->ema, m->momentum);
        SD_TRY(need_network(x, n->loc, "'of'", n->momentum_of));
        if (n->role == DSL_ROLE_MOMENTUM && strcmp(n->momentum_of, n->name) == 0)
            return dsl_error(x->err, SD_EBADMODEL, n->loc, "a momentum network cannot follow itself");
        if (n->role == DSL_ROLE_MOMENTUM) {
            const DslNetwork *of = dsl_experiment_network(e, n->momentum_of);
            if (of->role == DSL_ROLE_MOMENTUM || of->role == DSL_ROLE_TEACHER)
                return dsl_error(x->err, SD_EBADMODEL, n->loc, "a momentum network follows a trained network, not a %s",
                                 dsl_role_name(of->role));
        }
        if (n->role != DSL_ROLE_TEACHER && n->frozen)
            return dsl_error(x->err, SD_EBADMODEL, n->loc, "only a teacher is frozen");
        bool needs_head = m->kind != DSL_METHOD_SUPERVISED && n->role != DSL_ROLE_MOMENTUM &&
                          !(n->role == DSL_ROLE_TEACHER && n->onnx[0]);
        if (n->head.n_dims && m->kind != DSL_METHOD_SUPERVISED && n->head.dims[n->head.n_dims - 1] != m->dim &&
            n->role != DSL_ROLE_TEACHER)
            return dsl_error(x->err, SD_EBADMODEL, n->loc, "network '%s': the head ends at %lld but the method's dim is %lld",
                             n->name, (long long)n->head.dims[n->head.n_dims - 1], (long long)m->dim);
        (void)needs_head;
    }
    /* views: contrastive methods compare two views of each image */
    bool two_views = m->kind == DSL_METHOD_MOCO_V2 || m->kind == DSL_METHOD_SIMCLR || m->kind == DSL_METHOD_DOGO ||
                     (m->kind == DSL_METHOD_SIMCLRV2 && strcmp(m->stage, "pretrain") == 0);
    if (!e->data.views)
        e->data.views = two_views ? 2 : 1;
    else if (two_views && e->data.views < 2)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s compares two views of each image: views must be at least 2",
                         mname);
    bool queued = m->kind == DSL_METHOD_MOCO_V2 || m->kind == DSL_METHOD_SEED || m->kind == DSL_METHOD_DOGO;
    if (queued && m->queue % e->batch_size)
        return dsl_error(x->err, SD_EBADMODEL, m->loc, "method %s: the queue (%lld) must be a multiple of the batch size (%lld)",
                         mname, (long long)m->queue, (long long)e->batch_size);
    if (m->kind == DSL_METHOD_SIMCLRV2 && strcmp(m->stage, "finetune") == 0 && e->data.label_fraction >= 1)
        return dsl_error(x->err, SD_EBADMODEL, m->loc,
                         "simclrv2 finetune trains on a fraction of the labels: set data { label_fraction = 0.01 }");
    if (e->schedule.warmup_epochs > (double)e->epochs)
        return dsl_error(x->err, SD_EBADMODEL, e->loc, "the warmup (%g epochs) is longer than the training (%lld epochs)",
                         e->schedule.warmup_epochs, (long long)e->epochs);
    if (e->schedule.n_milestones && e->schedule.milestones[e->schedule.n_milestones - 1] >= e->epochs)
        return dsl_error(x->err, SD_EBADMODEL, e->loc, "schedule step: every milestone must come before the last epoch (%lld)",
                         (long long)e->epochs);
    for (int i = 0; i < e->n_exports; i++)
        SD_TRY(need_network(x, e->exports[i].loc, "the export", e->exports[i].network));
    SD_TRY(need_network(x, e->loc, "eval", e->eval.network));
    return SD_OK;
}

SdStatus dsl_experiment_load(const DslProgram *p, const char *name, DslExperiment **out, SdError *err)
{
    *out = NULL;
    const DslDecl *d = NULL;
    int n = 0, n_root = 0;
    const char *cands[64];
    for (int i = 0; i < p->n_decls; i++) {
        const DslDecl *k = p->decls[i];
        if (k->kind != D_EXPERIMENT)
            continue;
        if (n < 64)
            cands[n++] = k->name;
        if (name ? strcmp(k->name, name) == 0 : k->in_root)
            d = k;
        n_root += k->in_root;
    }
    if (!name && n_root > 1)
        return sd_errorf(err, SD_EUSAGE, "%s declares %d experiments: name one", p->path, n_root);
    if (!d) {
        char dym[128];
        if (name)
            return sd_errorf(err, SD_EUSAGE, "%s: no experiment '%s'%s", p->path, name,
                             dsl_did_you_mean(name, cands, n, dym, sizeof dym));
        return sd_errorf(err, SD_EUSAGE, "%s declares no experiment", p->path);
    }
    DslExperiment *e = calloc(1, sizeof *e);
    if (!e)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    X x = {.p = p, .e = e, .err = err};
    dsl_eval_init(&x.E, p, &x.arena, err);
    const char *slash = strrchr(d->loc.file, '/');
    if (slash)
        snprintf(x.dir, sizeof x.dir, "%.*s", (int)(slash - d->loc.file), d->loc.file);
    snprintf(e->name, sizeof e->name, "%s", d->name);
    e->loc = d->loc;
    e->program = p;
    e->batch_size = 256;
    e->data.label_fraction = 1;
    e->eval = (DslEvaluation){.knn = true, .accuracy = true, .knn_k = 200, .knn_temperature = 0.1, .linear_epochs = 10,
                              .linear_lr = 0.1, .linear_batch = 256, .every = 1};
    e->checkpoint.every_epoch = true;
    e->schedule = (DslSchedule){.kind = DSL_SCHED_CONSTANT, .gamma = 0.1};
    e->optimizer = (DslOptimizer){.kind = DSL_OPT_SGD, .lr = 0.1, .momentum = 0.9, .n_exclude = 2,
                                  .exclude = {"bias", "norm"}};
    bool has_epochs = false;
    for (int i = 0; i < d->section->n; i++)
        has_epochs = has_epochs || strcmp(d->section->entries[i].key, "epochs") == 0;
    SdStatus st = dsl_exp_apply(&x, d->section, experiment_keys, experiment_subs, e);
    if (st == SD_OK && !has_epochs)
        st = dsl_error(err, SD_EBADMODEL, e->loc, "experiment '%s' needs 'epochs = N'", e->name);
    if (st == SD_OK)
        st = check_experiment(&x, d->section);
    if (st == SD_OK && !e->out_dir[0])
        snprintf(e->out_dir, sizeof e->out_dir, "runs/%s", e->name);
    dsl_arena_free(&x.arena);
    if (st != SD_OK) {
        free(e);
        return st;
    }
    *out = e;
    return SD_OK;
}

void dsl_experiment_free(DslExperiment *e) { free(e); }

int dsl_program_num_experiments(const DslProgram *p)
{
    int n = 0;
    for (int i = 0; i < p->n_decls; i++)
        n += p->decls[i]->kind == D_EXPERIMENT && p->decls[i]->in_root;
    return n;
}

const char *dsl_program_experiment_name(const DslProgram *p, int i)
{
    for (int k = 0; k < p->n_decls; k++)
        if (p->decls[k]->kind == D_EXPERIMENT && p->decls[k]->in_root && i-- == 0)
            return p->decls[k]->name;
    return NULL;
}

const DslNetwork *dsl_experiment_network(const DslExperiment *e, const char *name)
{
    for (int i = 0; i < e->n_networks; i++)
        if (strcmp(e->networks[i].name, name) == 0)
            return &e->networks[i];
    return NULL;
}

const DslNetwork *dsl_experiment_role(const DslExperiment *e, DslRole role)
{
    for (int i = 0; i < e->n_networks; i++)
        if (e->networks[i].role == role)
            return &e->networks[i];
    return NULL;
}
