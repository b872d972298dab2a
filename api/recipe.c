/* api/recipe.c — graphs from a DSL experiment: the training step (networks, the method's loss and
 * metrics as outputs) and single-network inference graphs. Networks are instantiated by the DSL;
 * ONNX networks (teachers) are imported into the same graph and get their shapes at once, since
 * the DSL lowering of a head needs them. */
#include "api/recipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "frontend/onnx/onnx.h"
#include "support/mem.h"

void recipe_prefix(const DslNetwork *net, char *buf, size_t size) { snprintf(buf, size, "%s/", net->name); }

void recipe_momentum_prefix(const DslExperiment *e, const DslNetwork *of, char *buf, size_t size)
{
    for (int i = 0; i < e->n_networks; i++)
        if (e->networks[i].role == DSL_ROLE_MOMENTUM && strcmp(e->networks[i].momentum_of, of->name) == 0) {
            snprintf(buf, size, "%s/", e->networks[i].name);
            return;
        }
    snprintf(buf, size, "%s_key/", of->name);
}

static SdStatus eval_node(void *ctx, const IrNode *n, void *const *outputs, SdError *err)
{
    (void)ctx;
    return cg_eval_node(n, NULL, outputs, err);
}

/* The DSL's ONNX hook: import, then infer the new nodes' shapes (folding the shape computations
 * PyTorch exports), so the output has a known shape. */
static SdStatus onnx_hook(void *ctx, const char *path, IrGraph *g, const char *prefix, IrValue *input,
                          const char *output, bool trainable, IrValue **out, SdError *err)
{
    (void)ctx;
    int first = ir_graph_num_nodes(g);
    SD_TRY(onnx_import_into(path, g, prefix, input, output, trainable, out, err));
    PassOptions po = {.eval = eval_node};
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *n = ir_graph_node(g, k);
        bool fresh = false;
        for (int i = 0; i < n->n_outputs; i++)
            fresh |= !n->outputs[i]->has_shape;
        if (n->removed || (k < first && !fresh))
            continue;
        SD_TRY(pass_shape_node(g, n, &po, err));
        bool folded;
        if (!n->removed)
            SD_TRY(pass_fold_node(g, n, &po, &folded, err));
    }
    return SD_OK;
}

SdStatus recipe_network(RecipeCtx *c, const DslNetwork *net, IrValue *input, const char *prefix, IrValue **features,
                        IrValue **embedding)
{
    DslInstanceOptions o = dsl_instance_options_default();
    bool frozen = net->frozen || net->role == DSL_ROLE_TEACHER;
    o.training = !frozen;
    o.params_as_constants = frozen;
    o.seed = (uint64_t)c->e->seed;
    o.onnx_import = onnx_hook;
    DslNetwork built;
    method_simclrv2_network(c->e, net, &built);
    SD_TRY(dsl_network_instantiate(c->e, &built, c->g, prefix, input, &o, features, embedding, c->err));
    if (frozen) { /* a teacher contributes targets, never gradients */
        IrValue *f = *features, *emb = *embedding;
        *features = recipe_op(c, IR_OP_STOP_GRADIENT, &f, 1);
        *embedding = emb == f ? *features : emb == NULL ? NULL : recipe_op(c, IR_OP_STOP_GRADIENT, &emb, 1);
        if (!*features || !*embedding)
            return c->err->status ? c->err->status : SD_ENOMEM;
        /* the methods read the shapes the networks were built with */
        (*features)->shape = f->shape, (*features)->has_shape = f->has_shape;
        (*features)->dtype = f->dtype;
        (*embedding)->shape = emb->shape, (*embedding)->has_shape = emb->has_shape;
        (*embedding)->dtype = emb->dtype;
    }
    return SD_OK;
}

IrNode *recipe_node(RecipeCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, SdDType dtype)
{
    char name[48];
    snprintf(name, sizeof name, "loss/%s.%d", ir_op_name(op), c->n_nodes++);
    IrNode *n = ir_node_new1(c->g, op, name, inputs, n_inputs, dtype);
    if (!n)
        sd_errorf(c->err, SD_ENOMEM, "out of memory building the training step");
    return n;
}

IrValue *recipe_op(RecipeCtx *c, IrOp op, IrValue *const *inputs, int n_inputs)
{
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i])
            return NULL;
    IrNode *n = recipe_node(c, op, inputs, n_inputs, SD_DT_F32);
    return n ? n->outputs[0] : NULL;
}

IrValue *recipe_scalar(RecipeCtx *c, float v)
{
    IrShape s = ir_shape_make(0, NULL);
    return ir_constant_new(c->g, "loss/scalar", SD_DT_F32, &s, &v, c->err);
}

IrValue *recipe_ints(RecipeCtx *c, const int64_t *v, int n)
{
    IrShape s = ir_shape_make(1, (int64_t[]){n});
    return ir_constant_new(c->g, "loss/ints", SD_DT_I64, &s, v, c->err);
}

IrValue *recipe_state(RecipeCtx *c, const char *name, SdDType dt, const IrShape *s, const void *data)
{
    size_t nbytes = (size_t)ir_shape_numel(s) * sd_dtype_size(dt);
    void *copy = sd_aligned_calloc(nbytes);
    IrValue *v = copy ? ir_value_new(c->g, name, dt, s) : NULL;
    if (!v) {
        sd_aligned_free(copy);
        sd_errorf(c->err, SD_ENOMEM, "out of memory for state '%s'", name);
        return NULL;
    }
    if (data)
        memcpy(copy, data, nbytes);
    ir_value_adopt_data(v, copy, nbytes);
    v->role = IR_ROLE_STATE;
    return v;
}

IrValue *recipe_l2_normalize(RecipeCtx *c, IrValue *x)
{
    if (!x)
        return NULL;
    IrNode *norm = recipe_node(c, IR_OP_REDUCE_L2, &x, 1, SD_DT_F32);
    if (!norm)
        return NULL;
    norm->attrs.reduce = (IrReduceAttrs){.n_axes = 1, .axes = {1}, .keepdims = true};
    IrValue *eps = recipe_scalar(c, 1e-12f); /* F.normalize's eps */
    IrValue *safe = recipe_op(c, IR_OP_MAX, (IrValue *[]){norm->outputs[0], eps}, 2);
    return recipe_op(c, IR_OP_DIV, (IrValue *[]){x, safe}, 2);
}

IrValue *recipe_cross_entropy(RecipeCtx *c, IrValue *logits, IrValue *target)
{
    if (!logits || !target)
        return NULL;
    IrNode *n = recipe_node(c, IR_OP_SOFTMAX_CROSS_ENTROPY, (IrValue *[]){logits, target}, 2, SD_DT_F32);
    if (!n)
        return NULL;
    n->attrs.softmax = (IrSoftmaxAttrs){.axis = 1, .reduction = IR_REDUCTION_MEAN};
    return n->outputs[0];
}

IrValue *recipe_accuracy(RecipeCtx *c, IrValue *logits, IrValue *labels)
{
    if (!logits || !labels)
        return NULL;
    IrNode *arg = recipe_node(c, IR_OP_ARGMAX, &logits, 1, SD_DT_I64);
    if (!arg)
        return NULL;
    arg->attrs.reduce = (IrReduceAttrs){.n_axes = 1, .axes = {1}};
    IrNode *eq = recipe_node(c, IR_OP_EQUAL, (IrValue *[]){arg->outputs[0], labels}, 2, SD_DT_BOOL);
    IrNode *f = eq ? recipe_node(c, IR_OP_CAST, &eq->outputs[0], 1, SD_DT_F32) : NULL;
    if (!f)
        return NULL;
    f->attrs.unary.to = SD_DT_F32;
    IrNode *mean = recipe_node(c, IR_OP_REDUCE_MEAN, &f->outputs[0], 1, SD_DT_F32);
    return mean ? mean->outputs[0] : NULL;
}

SdStatus recipe_update(RecipeCtx *c, IrOp op, IrValue *const *inputs, int n_inputs, double momentum)
{
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i])
            return c->err->status ? c->err->status : SD_ENOMEM;
    if (c->n_updates == RECIPE_MAX_UPDATES || n_inputs > 3)
        return sd_errorf(c->err, SD_EINTERNAL, "%s: too many state updates in one step", c->e->name);
    RecipeUpdate *u = &c->updates[c->n_updates++];
    u->op = op;
    u->n_inputs = n_inputs;
    u->momentum = momentum;
    for (int i = 0; i < n_inputs; i++)
        u->inputs[i] = inputs[i];
    return SD_OK;
}

/* The updates the method asked for, in order, at the end of the graph. */
static SdStatus make_updates(RecipeCtx *c)
{
    for (int i = 0; i < c->n_updates; i++) {
        const RecipeUpdate *u = &c->updates[i];
        char name[64];
        snprintf(name, sizeof name, "update/%s.%d", ir_op_name(u->op), i);
        IrNode *n = ir_node_new(c->g, u->op, name, u->inputs, u->n_inputs, NULL, 0);
        if (!n)
            return sd_errorf(c->err, SD_ENOMEM, "out of memory building the training step");
        n->attrs.update.momentum = u->momentum;
    }
    return SD_OK;
}

bool recipe_classifier(const DslExperiment *e)
{
    return e->method.kind == DSL_METHOD_SUPERVISED ||
           (e->method.kind == DSL_METHOD_SIMCLRV2 && strcmp(e->method.stage, "pretrain") != 0);
}

SdStatus recipe_metric(RecipeCtx *c, const char *name, IrValue *v)
{
    if (!v)
        return c->err->status ? c->err->status : SD_ENOMEM;
    if (c->n_metrics == RECIPE_MAX_METRICS)
        return sd_errorf(c->err, SD_EINTERNAL, "too many metrics");
    snprintf(c->metric_names[c->n_metrics], sizeof c->metric_names[0], "%s", name);
    c->metrics[c->n_metrics++] = v;
    return SD_OK;
}

/* Each method: its builder, the views it compares and whether it reads labels or sample indices
 * (SimCLRv2 reads labels when it fine-tunes: see labels_needed). */
static const struct {
    DslMethodKind kind;
    RecipeMethodFn fn;
    int views;
    bool labels, indices;
} methods[] = {
    {DSL_METHOD_SUPERVISED, method_supervised, 1, true, false},
    {DSL_METHOD_MOCO_V2, method_moco_v2, 2, false, false},
    {DSL_METHOD_SIMCLR, method_simclr, 2, false, false},
    {DSL_METHOD_SEED, method_seed, 1, false, false},
    {DSL_METHOD_DOGO, method_dogo, 2, false, false},
    {DSL_METHOD_CRD, method_crd, 1, false, true},
    {DSL_METHOD_SIMCLRV2, method_simclrv2, 1, false, false},
};

static bool labels_needed(const DslExperiment *e, int m)
{
    return methods[m].labels || (e->method.kind == DSL_METHOD_SIMCLRV2 && strcmp(e->method.stage, "finetune") == 0);
}

static IrValue *index_input(RecipeCtx *c, const char *name, int64_t batch)
{
    IrShape s = ir_shape_make(1, &batch);
    IrValue *v = ir_value_new(c->g, name, SD_DT_I64, &s);
    if (!v)
        sd_errorf(c->err, SD_ENOMEM, "out of memory");
    else
        ir_graph_add_input(c->g, v);
    return v;
}

SdStatus recipe_step_graph(const DslExperiment *e, int64_t batch, int64_t n_data, RecipeStep *out, SdError *err)
{
    memset(out, 0, sizeof *out);
    out->labels_input = out->indices_input = -1;
    int m = -1;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (methods[i].kind == e->method.kind)
            m = (int)i;
    if (m < 0)
        return sd_errorf(err, SD_EUNSUPPORTED, "%s:%d:%d: method %s cannot be trained yet", e->loc.file, e->loc.line,
                         e->loc.col, dsl_method_name(e->method.kind));
    RecipeCtx c = {.e = e, .batch = batch, .n_data = n_data, .err = err};
    c.updates = calloc(RECIPE_MAX_UPDATES, sizeof *c.updates);
    c.g = c.updates ? ir_graph_new(e->name) : NULL;
    if (!c.g) {
        free(c.updates);
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    }
    ir_graph_set_source(c.g, e->loc.file);
    int64_t views = e->data.views > 0 ? e->data.views : methods[m].views;
    const DslAugment *aug = &e->data.augment;
    int64_t size = aug->crop.on && aug->crop.size > 0 ? aug->crop.size : 28;
    SdStatus st = SD_OK;
    for (int v = 0; v < views && v < RECIPE_MAX_VIEWS && st == SD_OK; v++) {
        char name[32];
        snprintf(name, sizeof name, "view%d", v);
        IrShape s = ir_shape_make(4, (int64_t[]){batch, 1, size, size});
        if (!(c.views[c.n_views++] = ir_value_new(c.g, name, SD_DT_F32, &s)))
            st = sd_errorf(err, SD_ENOMEM, "out of memory");
        else
            ir_graph_add_input(c.g, c.views[v]);
    }
    if (st == SD_OK && labels_needed(e, m)) {
        out->labels_input = ir_graph_num_inputs(c.g);
        if (!(c.labels = index_input(&c, "labels", batch)))
            st = err->status;
    }
    if (st == SD_OK && methods[m].indices) {
        out->indices_input = ir_graph_num_inputs(c.g);
        if (!(c.indices = index_input(&c, "indices", batch)))
            st = err->status;
    }
    if (st == SD_OK)
        st = methods[m].fn(&c);
    if (st == SD_OK && !c.loss)
        st = sd_errorf(err, SD_EINTERNAL, "method %s built no loss", dsl_method_name(e->method.kind));
    if (st == SD_OK) {
        ir_graph_add_output(c.g, c.loss);
        for (int i = 0; i < c.n_metrics; i++)
            ir_graph_add_output(c.g, c.metrics[i]);
        st = make_updates(&c);
    }
    free(c.updates);
    if (st != SD_OK) {
        ir_graph_free(c.g);
        return st;
    }
    out->g = c.g;
    out->n_views = c.n_views;
    out->labels = c.labels != NULL;
    out->indices = c.indices != NULL;
    out->n_metrics = c.n_metrics;
    memcpy(out->metric_names, c.metric_names, sizeof out->metric_names);
    return SD_OK;
}

PassTrainOptions recipe_train_options(const DslExperiment *e, char *exclude_buf, size_t size)
{
    static const PassOptimizer kinds[] = {[DSL_OPT_SGD] = PASS_OPTIM_SGD, [DSL_OPT_LARS] = PASS_OPTIM_LARS,
                                          [DSL_OPT_ADAMW] = PASS_OPTIM_ADAMW, [DSL_OPT_LAMB] = PASS_OPTIM_LAMB};
    const DslOptimizer *o = &e->optimizer;
    PassTrainOptions t = pass_train_defaults(kinds[o->kind]);
    t.momentum = o->momentum;
    t.nesterov = o->nesterov;
    t.weight_decay = o->weight_decay;
    if (o->kind == DSL_OPT_ADAMW || o->kind == DSL_OPT_LAMB)
        t.beta1 = o->beta1, t.beta2 = o->beta2, t.epsilon = o->eps;
    if (o->kind == DSL_OPT_LARS)
        t.trust_coefficient = o->trust_coefficient;
    t.clip_grad_norm = o->clip_grad_norm;
    /* "bias" and "norm" are the rank <= 1 rule; other patterns match by substring */
    exclude_buf[0] = 0;
    bool by_rank = false;
    for (int i = 0; i < o->n_exclude; i++) {
        const char *x = o->exclude[i];
        if (strcmp(x, "bias") == 0 || strcmp(x, "norm") == 0) {
            by_rank = true;
            continue;
        }
        size_t used = strlen(exclude_buf);
        snprintf(exclude_buf + used, size - used, "%s", used ? "," : "");
        used = strlen(exclude_buf);
        for (const char *p = x; *p && used + 1 < size; p++)
            if (*p != '*')
                exclude_buf[used++] = *p, exclude_buf[used] = 0;
    }
    t.decay_all = !by_rank && o->n_exclude > 0;
    t.exclude = exclude_buf[0] ? exclude_buf : NULL;
    return t;
}

SdStatus recipe_inference_graph(const DslExperiment *e, const DslNetwork *net, int64_t batch, bool features,
                                IrGraph **out, SdError *err)
{
    *out = NULL;
    RecipeCtx c = {.e = e, .batch = batch, .err = err};
    c.g = ir_graph_new(net->name);
    if (!c.g)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    const DslAugment *aug = &e->data.augment;
    int64_t size = aug->crop.on && aug->crop.size > 0 ? aug->crop.size : 28;
    IrShape s = ir_shape_make(4, (int64_t[]){batch, 1, size, size});
    IrValue *image = ir_value_new(c.g, "image", SD_DT_F32, &s);
    SdStatus st = image ? SD_OK : sd_errorf(err, SD_ENOMEM, "out of memory");
    if (st == SD_OK) {
        ir_graph_add_input(c.g, image);
        DslInstanceOptions o = dsl_instance_options_default();
        o.seed = (uint64_t)e->seed;
        o.onnx_import = onnx_hook;
        char prefix[DSL_NAME_MAX + 2];
        recipe_prefix(net, prefix, sizeof prefix);
        IrValue *f = NULL, *emb = NULL;
        DslNetwork built;
        method_simclrv2_network(e, net, &built);
        st = dsl_network_instantiate(e, &built, c.g, prefix, image, &o, &f, &emb, err);
        if (st == SD_OK)
            ir_graph_add_output(c.g, features ? f : emb);
    }
    if (st != SD_OK) {
        ir_graph_free(c.g);
        return st;
    }
    *out = c.g;
    return SD_OK;
}
