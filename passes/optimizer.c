/* passes/optimizer.c — optimizer lowering: after autodiff, every trainable parameter gets its
 * optimizer state and an in-place update node, placed right after the last node that reads the
 * parameter (forward or backward) and the one that produces its gradient: every read sees the old
 * value, and the gradient's memory is free for the rest of the backward pass. With gradient
 * clipping the updates wait for the global norm, at the end. The step is a pure function of
 * (state, batch, lr).
 *
 * What each optimizer becomes (PyTorch's semantics; the kernels in runtime/kernels/update.c):
 *   SGD    SGD_UPDATE(p, g, momentum_buffer, lr)        (momentum 0: no buffer, g stands in for it)
 *   LARS   LARS_UPDATE(p, g, momentum_buffer, lr)       excluded params: SGD_UPDATE with momentum, no decay
 *   AdamW  ADAMW_UPDATE(p, g, exp_avg, exp_avg_sq, lr, t)
 *   LAMB   LAMB_UPDATE(p, g, exp_avg, exp_avg_sq, lr, t) excluded params: ADAMW_UPDATE without decay
 * AdamW and LAMB share one i64 state "optimizer.step": t = step + 1 feeds the updates and
 * ASSIGN(step, t) stores it last, so the host never counts steps and a checkpoint holds the count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"
#include "support/mem.h"

PassTrainOptions pass_train_defaults(PassOptimizer optimizer)
{
    PassTrainOptions t = {.optimizer = optimizer, .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-8,
                          .trust_coefficient = 0.001};
    switch (optimizer) {
    case PASS_OPTIM_SGD: break;
    case PASS_OPTIM_ADAMW: t.weight_decay = 0.01; break;
    case PASS_OPTIM_LARS: t.momentum = 0.9; break;
    case PASS_OPTIM_LAMB: t.weight_decay = 0.01, t.epsilon = 1e-6; break;
    }
    return t;
}

typedef struct {
    IrGraph *g;
    const PassOptions *opt;
    const PassTrainOptions *t;
    SdError *err;
} Ctx;

static SdStatus oom(Ctx *c) { return sd_errorf(c->err, SD_ENOMEM, "out of memory lowering the optimizer"); }

static SdStatus check_options(const IrGraph *g, const PassTrainOptions *t, SdError *err)
{
    const char *src = ir_graph_source(g);
    if (t->optimizer < PASS_OPTIM_SGD || t->optimizer > PASS_OPTIM_LAMB)
        return sd_errorf(err, SD_EUSAGE, "%s: unknown optimizer %d", src, (int)t->optimizer);
    if (!(t->momentum >= 0.0 && t->momentum < 1.0))
        return sd_errorf(err, SD_EUSAGE, "%s: momentum %g is outside [0, 1)", src, t->momentum);
    if (t->nesterov && (t->optimizer != PASS_OPTIM_SGD || t->momentum == 0.0))
        return sd_errorf(err, SD_EUSAGE, "%s: Nesterov momentum needs SGD with a momentum > 0", src);
    if (!(t->weight_decay >= 0.0))
        return sd_errorf(err, SD_EUSAGE, "%s: weight decay %g is negative", src, t->weight_decay);
    if (!(t->clip_grad_norm >= 0.0))
        return sd_errorf(err, SD_EUSAGE, "%s: gradient clipping norm %g is negative (0 turns it off)", src,
                         t->clip_grad_norm);
    if ((t->optimizer == PASS_OPTIM_ADAMW || t->optimizer == PASS_OPTIM_LAMB) &&
        (!(t->beta1 >= 0.0 && t->beta1 < 1.0) || !(t->beta2 >= 0.0 && t->beta2 < 1.0) || !(t->epsilon >= 0.0)))
        return sd_errorf(err, SD_EUSAGE, "%s: betas (%g, %g) and epsilon %g: betas in [0, 1) and epsilon >= 0 are expected",
                         src, t->beta1, t->beta2, t->epsilon);
    if (t->optimizer == PASS_OPTIM_LARS && !(t->trust_coefficient > 0.0))
        return sd_errorf(err, SD_EUSAGE, "%s: LARS trust coefficient %g must be > 0", src, t->trust_coefficient);
    return SD_OK;
}

/* A substring of `name` listed in the comma-separated `list`. */
static bool name_listed(const char *list, const char *name)
{
    if (!list)
        return false;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            for (const char *s = name; *s; s++)
                if (strncmp(s, p, len) == 0)
                    return true;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

static bool excluded(const PassTrainOptions *t, const IrValue *p)
{
    return (!t->decay_all && p->shape.rank <= 1) || name_listed(t->exclude, p->name);
}

/* A gradient that is zero by construction: autodiff's fill for a parameter the loss does not reach. */
static bool structural_zero(const IrValue *g)
{
    if (g->producer && g->producer->op == IR_OP_CONSTANT_OF_SHAPE) {
        const IrGenerateAttrs *a = &g->producer->attrs.generate;
        return a->value_dtype == SD_DT_F32 && a->value.f32 == 0.0f;
    }
    if (!ir_value_is_constant(g) || g->dtype != SD_DT_F32)
        return false;
    const float *x = g->data;
    for (int64_t i = 0; i < ir_value_numel(g); i++)
        if (x[i] != 0.0f)
            return false;
    return true;
}

/* A node with n_outputs fresh outputs, attributes from `attrs` (may be NULL), shapes inferred. */
static IrNode *node(Ctx *c, IrOp op, const char *name, IrValue *const *inputs, int n_inputs, int n_outputs,
                    const IrAttrs *attrs)
{
    IrValue *outs[1] = {NULL};
    if (n_outputs && !(outs[0] = ir_value_new(c->g, name, SD_DT_F32, NULL))) {
        oom(c);
        return NULL;
    }
    IrNode *n = ir_node_new(c->g, op, name, inputs, n_inputs, outs, n_outputs);
    if (!n) {
        oom(c);
        return NULL;
    }
    if (attrs)
        n->attrs = *attrs;
    return pass_shape_node(c->g, n, c->opt, c->err) == SD_OK ? n : NULL;
}

static IrValue *op1(Ctx *c, IrOp op, const char *name, IrValue *const *inputs, int n_inputs)
{
    IrNode *n = node(c, op, name, inputs, n_inputs, 1, NULL);
    return n ? n->outputs[0] : NULL;
}

static IrValue *scalar_f32(Ctx *c, const char *name, float v)
{
    IrShape s = ir_shape_make(0, NULL);
    return ir_constant_new(c->g, name, SD_DT_F32, &s, &v, c->err);
}

/* Persistent state shaped like `like`, zero-initialized. */
static IrValue *zero_state(Ctx *c, const char *name, SdDType dtype, const IrShape *shape)
{
    IrValue *v = ir_value_new(c->g, name, dtype, shape);
    void *data = v ? sd_aligned_calloc(ir_value_nbytes(v) ? ir_value_nbytes(v) : 1) : NULL;
    if (!data) {
        oom(c);
        return NULL;
    }
    ir_value_adopt_data(v, data, ir_value_nbytes(v));
    v->role = IR_ROLE_STATE;
    return v;
}

static IrValue *state_for(Ctx *c, const IrValue *p, const char *suffix)
{
    size_t n = strlen(p->name) + strlen(suffix) + 2;
    char *name = malloc(n);
    if (!name) {
        oom(c);
        return NULL;
    }
    snprintf(name, n, "%s.%s", p->name, suffix);
    IrValue *v = zero_state(c, name, p->dtype, &p->shape);
    free(name);
    return v;
}

/* The graph input "lr", added (f32 scalar) when absent. */
static SdStatus learning_rate(Ctx *c, IrValue **out)
{
    IrValue *lr = ir_graph_find_value(c->g, "lr");
    const char *src = ir_graph_source(c->g);
    if (!lr) {
        IrShape s = ir_shape_make(0, NULL);
        if (!(lr = ir_value_new(c->g, "lr", SD_DT_F32, &s)))
            return oom(c);
        lr->role = IR_ROLE_INPUT;
        ir_graph_add_input(c->g, lr);
    }
    bool is_input = false;
    for (int i = 0; i < ir_graph_num_inputs(c->g); i++)
        is_input |= ir_graph_input(c->g, i) == lr;
    if (!is_input || lr->dtype != SD_DT_F32 || !lr->has_shape || ir_value_numel(lr) != 1) {
        char tb[128];
        return sd_errorf(c->err, SD_EUSAGE, "%s: 'lr' must be a graph input holding the learning rate, an f32 scalar; "
                         "it is %s%s", src, is_input ? "an input " : "a value ", ir_value_type_str(lr, tb, sizeof tb));
    }
    *out = lr;
    return SD_OK;
}

/* Scales every gradient by min(1, max_norm / (||all gradients||_2 + 1e-6)). */
static SdStatus clip_gradients(Ctx *c, IrValue **grads, int n)
{
    IrValue *sum = NULL;
    for (int i = 0; i < n; i++) {
        IrAttrs a = {0};
        a.reduce.keepdims = false; /* no axes: every axis */
        IrNode *sq = node(c, IR_OP_REDUCE_SUM_SQUARE, "clip.sum_sq", &grads[i], 1, 1, &a);
        if (!sq)
            return c->err->status;
        sum = sum ? op1(c, IR_OP_ADD, "clip.sum_sq", (IrValue *[]){sum, sq->outputs[0]}, 2) : sq->outputs[0];
        if (!sum)
            return c->err->status;
    }
    IrValue *norm = op1(c, IR_OP_SQRT, "clip.norm", &sum, 1);
    IrValue *tiny = norm ? scalar_f32(c, "clip.eps", 1e-6f) : NULL;
    IrValue *den = tiny ? op1(c, IR_OP_ADD, "clip.den", (IrValue *[]){norm, tiny}, 2) : NULL;
    IrValue *max_norm = den ? scalar_f32(c, "clip.max_norm", (float)c->t->clip_grad_norm) : NULL;
    IrValue *coef = max_norm ? op1(c, IR_OP_DIV, "clip.coef", (IrValue *[]){max_norm, den}, 2) : NULL;
    IrValue *one = coef ? scalar_f32(c, "clip.one", 1.0f) : NULL;
    IrValue *scale = one ? op1(c, IR_OP_MIN, "clip.scale", (IrValue *[]){coef, one}, 2) : NULL;
    if (!scale)
        return c->err->status ? c->err->status : oom(c);
    for (int i = 0; i < n; i++)
        if (!(grads[i] = op1(c, IR_OP_MUL, "clip.grad", (IrValue *[]){grads[i], scale}, 2)))
            return c->err->status;
    return SD_OK;
}

static SdStatus update(Ctx *c, IrOp op, const char *what, IrValue *p, IrValue *const *inputs, int n_inputs,
                       const IrUpdateAttrs *ua)
{
    size_t len = strlen(p->name) + strlen(what) + 2;
    char *name = malloc(len);
    if (!name)
        return oom(c);
    snprintf(name, len, "%s.%s", p->name, what);
    IrAttrs a = {.update = *ua};
    IrNode *n = node(c, op, name, inputs, n_inputs, 0, &a);
    free(name);
    return n ? SD_OK : c->err->status;
}

/* The update of one parameter p with gradient g. */
static SdStatus lower_param(Ctx *c, IrValue *p, IrValue *g, IrValue *lr, IrValue *step)
{
    const PassTrainOptions *t = c->t;
    bool ex = excluded(t, p);
    IrUpdateAttrs a = {.momentum = t->momentum, .nesterov = t->nesterov, .weight_decay = ex ? 0.0 : t->weight_decay,
                       .beta1 = t->beta1, .beta2 = t->beta2, .epsilon = t->epsilon,
                       .trust_coefficient = t->trust_coefficient};
    switch (t->optimizer) {
    case PASS_OPTIM_SGD:
    case PASS_OPTIM_LARS: {
        IrValue *buf = t->momentum != 0.0 ? state_for(c, p, "momentum_buffer") : g;
        if (!buf)
            return c->err->status;
        bool lars = t->optimizer == PASS_OPTIM_LARS && !ex;
        return update(c, lars ? IR_OP_LARS_UPDATE : IR_OP_SGD_UPDATE, lars ? "lars" : "sgd", p,
                      (IrValue *[]){p, g, buf, lr}, 4, &a);
    }
    case PASS_OPTIM_ADAMW:
    case PASS_OPTIM_LAMB: {
        IrValue *m = state_for(c, p, "exp_avg");
        IrValue *v = m ? state_for(c, p, "exp_avg_sq") : NULL;
        if (!v)
            return c->err->status;
        bool lamb = t->optimizer == PASS_OPTIM_LAMB && !ex;
        return update(c, lamb ? IR_OP_LAMB_UPDATE : IR_OP_ADAMW_UPDATE, lamb ? "lamb" : "adamw", p,
                      (IrValue *[]){p, g, m, v, lr, step}, 6, &a);
    }
    }
    return sd_errorf(c->err, SD_EINTERNAL, "unknown optimizer");
}

/* Where each update goes: right after the last node that reads the parameter or produces its
 * gradient (anchors[i] is the node to insert before, NULL for the end), so that every gradient's
 * memory is free as soon as it has been applied instead of living until the end of the step, as
 * torch's .grad buffers do. */
static SdStatus place_updates(Ctx *c, IrValue *const *params, IrValue *const *grads, int n, IrNode **anchors)
{
    int max_id = 0, n_nodes = ir_graph_num_nodes(c->g);
    for (int i = 0; i < ir_graph_num_values(c->g); i++)
        if (ir_graph_value(c->g, i)->id > max_id)
            max_id = ir_graph_value(c->g, i)->id;
    /* by value id: index of the last node reading it, of the node producing it */
    int *read = malloc(((size_t)max_id + 1) * sizeof *read), *made = malloc(((size_t)max_id + 1) * sizeof *made);
    if (!read || !made) {
        free(read), free(made);
        return oom(c);
    }
    for (int i = 0; i <= max_id; i++)
        read[i] = made[i] = -1;
    for (int k = 0; k < n_nodes; k++) {
        const IrNode *nd = ir_graph_node(c->g, k);
        for (int i = 0; i < nd->n_inputs; i++)
            if (nd->inputs[i])
                read[nd->inputs[i]->id] = k;
        for (int i = 0; i < nd->n_outputs; i++)
            made[nd->outputs[i]->id] = k;
    }
    for (int i = 0; i < n; i++) {
        int pos = read[params[i]->id] > made[grads[i]->id] ? read[params[i]->id] : made[grads[i]->id];
        anchors[i] = pos + 1 < n_nodes ? ir_graph_node(c->g, pos + 1) : NULL;
    }
    free(read), free(made);
    return SD_OK;
}

SdStatus pass_optimizer(IrGraph *g, const PassOptions *opt, SdError *err)
{
    PassTrainOptions defaults = pass_train_defaults(PASS_OPTIM_SGD);
    Ctx c = {.g = g, .opt = opt, .t = opt && opt->train ? opt->train : &defaults, .err = err};
    SD_TRY(check_options(g, c.t, err));
    IrValue *lr = NULL;
    SD_TRY(learning_rate(&c, &lr));
    int n_values = ir_graph_num_values(g), n = 0;
    IrValue **params = malloc((size_t)(n_values ? n_values : 1) * sizeof *params);
    IrValue **grads = malloc((size_t)(n_values ? n_values : 1) * sizeof *grads);
    if (!params || !grads) {
        free(params), free(grads);
        return oom(&c);
    }
    for (int i = 0; i < n_values; i++) {
        IrValue *p = ir_graph_value(g, i);
        if (p->role != IR_ROLE_PARAM || !p->grad)
            continue;
        if (structural_zero(p->grad)) {
            p->grad = NULL; /* nothing reads it any more: DCE takes it */
            continue;
        }
        if (p->dtype != SD_DT_F32 || p->grad->dtype != SD_DT_F32 || !ir_shape_equal(&p->shape, &p->grad->shape)) {
            char a[128], b[128];
            free(params), free(grads);
            return sd_errorf(err, SD_EINTERNAL, "%s: parameter '%s' %s has gradient '%s' %s", ir_graph_source(g),
                             p->name, ir_value_type_str(p, a, sizeof a), p->grad->name,
                             ir_value_type_str(p->grad, b, sizeof b));
        }
        params[n] = p, grads[n] = p->grad, n++;
    }
    if (c.t->grad_outputs)
        for (int i = 0; i < n; i++)
            ir_graph_add_output(g, grads[i]);
    IrNode **anchors = calloc((size_t)(n ? n : 1), sizeof *anchors);
    SdStatus st = anchors ? SD_OK : oom(&c);
    /* clipping needs every gradient first: then all updates go at the end */
    if (st == SD_OK && n > 0 && c.t->clip_grad_norm > 0.0) {
        ir_graph_set_insert_point(g, NULL);
        st = clip_gradients(&c, grads, n);
    } else if (st == SD_OK) {
        st = place_updates(&c, params, grads, n, anchors);
    }
    IrValue *step = NULL, *next = NULL;
    bool counts = c.t->optimizer == PASS_OPTIM_ADAMW || c.t->optimizer == PASS_OPTIM_LAMB;
    if (st == SD_OK && n > 0 && counts) { /* t = step + 1 first, so that every update can read it */
        IrShape s = ir_shape_make(0, NULL);
        int64_t one = 1;
        IrValue *inc = NULL;
        ir_graph_set_insert_point(g, ir_graph_num_nodes(g) ? ir_graph_node(g, 0) : NULL);
        if (!(step = zero_state(&c, "optimizer.step", SD_DT_I64, &s)) ||
            !(inc = ir_constant_new(g, "optimizer.one", SD_DT_I64, &s, &one, err)) ||
            !(next = op1(&c, IR_OP_ADD, "optimizer.next_step", (IrValue *[]){step, inc}, 2)))
            st = err->status ? err->status : SD_ENOMEM;
    }
    for (int i = 0; i < n && st == SD_OK; i++) {
        ir_graph_set_insert_point(g, anchors[i]);
        st = lower_param(&c, params[i], grads[i], lr, next);
    }
    ir_graph_set_insert_point(g, NULL);
    if (st == SD_OK && next) { /* the count is stored last, after every read */
        if (!node(&c, IR_OP_ASSIGN, "optimizer.step", (IrValue *[]){step, next}, 2, 0, NULL))
            st = err->status;
    }
    free(params), free(grads), free(anchors);
    return st;
}
