/* api/methods/ssl.c — the pieces the self-supervised and distillation methods share: graph
 * builders over recipe_op, queues, deterministic initial values and the momentum (key) encoder. */
#include "api/methods/ssl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/mem.h"
#include "support/hash.h"

SdStatus ssl_status(RecipeCtx *c) { return c->err->status != SD_OK ? c->err->status : SD_ENOMEM; }

SdStatus ssl_error(RecipeCtx *c, SdStatus st, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const DslMethod *m = &c->e->method;
    return sd_errorf(c->err, st, "%s:%d:%d: method %s: %s", m->loc.file ? m->loc.file : c->e->name, m->loc.line,
                     m->loc.col, dsl_method_name(m->kind), msg);
}

/* ---- graph pieces ---- */

IrValue *ssl_binary(RecipeCtx *c, IrOp op, IrValue *a, IrValue *b) { return recipe_op(c, op, (IrValue *[]){a, b}, 2); }

IrValue *ssl_scale(RecipeCtx *c, IrValue *x, double s)
{
    return x ? ssl_binary(c, IR_OP_MUL, x, recipe_scalar(c, (float)s)) : NULL;
}

IrValue *ssl_div(RecipeCtx *c, IrValue *x, double t)
{
    return x ? ssl_binary(c, IR_OP_DIV, x, recipe_scalar(c, (float)t)) : NULL;
}

IrValue *ssl_stop(RecipeCtx *c, IrValue *x) { return recipe_op(c, IR_OP_STOP_GRADIENT, &x, 1); }

IrValue *ssl_reduce(RecipeCtx *c, IrOp op, IrValue *x, int axis, bool keepdims)
{
    if (!x)
        return NULL;
    IrNode *n = recipe_node(c, op, &x, 1, SD_DT_F32);
    if (!n)
        return NULL;
    n->attrs.reduce = (IrReduceAttrs){.n_axes = axis >= 0 ? 1 : 0, .axes = {axis >= 0 ? axis : 0}, .keepdims = keepdims};
    return n->outputs[0];
}

IrValue *ssl_rowdot(RecipeCtx *c, IrValue *a, IrValue *b)
{
    return ssl_reduce(c, IR_OP_REDUCE_SUM, ssl_binary(c, IR_OP_MUL, a, b), 1, true);
}

static IrValue *transpose2(RecipeCtx *c, IrValue *x)
{
    if (!x)
        return NULL;
    IrNode *n = recipe_node(c, IR_OP_TRANSPOSE, &x, 1, SD_DT_F32);
    if (!n)
        return NULL;
    n->attrs.movement.n_perm = 2;
    n->attrs.movement.perm[0] = 1, n->attrs.movement.perm[1] = 0;
    return n->outputs[0];
}

IrValue *ssl_matmul_nt(RecipeCtx *c, IrValue *a, IrValue *b) { return ssl_binary(c, IR_OP_MATMUL, a, transpose2(c, b)); }

IrValue *ssl_linear(RecipeCtx *c, IrValue *x, IrValue *w, IrValue *b)
{
    IrValue *y = ssl_matmul_nt(c, x, w);
    return b ? ssl_binary(c, IR_OP_ADD, y, b) : y;
}

IrValue *ssl_concat(RecipeCtx *c, IrValue *const *xs, int n, int64_t axis)
{
    for (int i = 0; i < n; i++)
        if (!xs[i])
            return NULL;
    IrNode *node = recipe_node(c, IR_OP_CONCAT, xs, n, xs[0]->dtype);
    if (!node)
        return NULL;
    node->attrs.movement.axis = axis;
    return node->outputs[0];
}

IrValue *ssl_softmax(RecipeCtx *c, IrValue *x, bool log)
{
    if (!x)
        return NULL;
    IrNode *n = recipe_node(c, log ? IR_OP_LOG_SOFTMAX : IR_OP_SOFTMAX, &x, 1, SD_DT_F32);
    if (!n)
        return NULL;
    n->attrs.softmax.axis = 1;
    return n->outputs[0];
}

IrValue *ssl_const_i64(RecipeCtx *c, const char *name, const int64_t *v, int rank, const int64_t *dims)
{
    IrShape s = ir_shape_make(rank, dims);
    return ir_constant_new(c->g, name, SD_DT_I64, &s, v, c->err);
}

IrValue *ssl_zero_labels(RecipeCtx *c, int64_t n)
{
    int64_t *zeros = calloc((size_t)(n > 0 ? n : 1), sizeof *zeros);
    if (!zeros) {
        sd_errorf(c->err, SD_ENOMEM, "out of memory");
        return NULL;
    }
    IrValue *v = ssl_const_i64(c, "loss/positive", zeros, 1, &n);
    free(zeros);
    return v;
}

/* ---- deterministic values ---- */

uint64_t ssl_stream(uint64_t seed, const char *name, uint64_t counter)
{
    return sd_mix64(sd_mix64(seed ^ sd_hash_str(name)) ^ sd_mix64(counter));
}

static double uniform01(uint64_t seed, const char *name, uint64_t counter) /* (0, 1) */
{
    return ((double)(ssl_stream(seed, name, counter) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

void ssl_fill_normal(float *x, int64_t n, uint64_t seed, const char *name)
{
    for (int64_t i = 0; i < n; i++) {
        double u1 = uniform01(seed, name, 2 * (uint64_t)i), u2 = uniform01(seed, name, 2 * (uint64_t)i + 1);
        x[i] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

void ssl_fill_uniform(float *x, int64_t n, double lo, double hi, uint64_t seed, const char *name)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * uniform01(seed, name, (uint64_t)i));
}

IrValue *ssl_queue(RecipeCtx *c, const char *name, int64_t k, int64_t d, IrValue **position)
{
    float *q = malloc((size_t)(k * d > 0 ? k * d : 1) * sizeof *q);
    if (!q) {
        sd_errorf(c->err, SD_ENOMEM, "out of memory for queue '%s'", name);
        return NULL;
    }
    ssl_fill_normal(q, k * d, (uint64_t)c->e->seed, name);
    for (int64_t i = 0; i < k; i++) { /* unit rows, as F.normalize(randn) */
        double ss = 0;
        for (int64_t j = 0; j < d; j++)
            ss += (double)q[i * d + j] * q[i * d + j];
        double inv = 1.0 / fmax(sqrt(ss), 1e-12);
        for (int64_t j = 0; j < d; j++)
            q[i * d + j] = (float)(q[i * d + j] * inv);
    }
    IrShape s = ir_shape_make(2, (int64_t[]){k, d}), scalar = ir_shape_make(0, NULL);
    IrValue *v = recipe_state(c, name, SD_DT_F32, &s, q);
    free(q);
    char pname[128];
    snprintf(pname, sizeof pname, "%s.ptr", name);
    *position = v ? recipe_state(c, pname, SD_DT_I64, &scalar, NULL) : NULL;
    return *position ? v : NULL;
}

IrValue *ssl_param_uniform(RecipeCtx *c, const char *name, int rank, const int64_t *dims, int64_t fan_in)
{
    IrShape s = ir_shape_make(rank, dims);
    int64_t n = ir_shape_numel(&s);
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (!x) {
        sd_errorf(c->err, SD_ENOMEM, "out of memory for '%s'", name);
        return NULL;
    }
    double bound = 1.0 / sqrt((double)(fan_in > 0 ? fan_in : 1));
    ssl_fill_uniform(x, n, -bound, bound, (uint64_t)c->e->seed, name);
    IrValue *v = recipe_state(c, name, SD_DT_F32, &s, x);
    free(x);
    if (v)
        v->role = IR_ROLE_PARAM;
    return v;
}

/* ---- encoders ---- */

SdStatus ssl_network(RecipeCtx *c, const DslNetwork *net, IrValue *input, IrValue **features, IrValue **embedding)
{
    char prefix[DSL_NAME_MAX + 2];
    recipe_prefix(net, prefix, sizeof prefix);
    return recipe_network(c, net, input, prefix, features, embedding);
}

double ssl_key_momentum(const DslExperiment *e, const DslNetwork *of, double dflt)
{
    for (int i = 0; i < e->n_networks; i++)
        if (e->networks[i].role == DSL_ROLE_MOMENTUM && strcmp(e->networks[i].momentum_of, of->name) == 0 &&
            e->networks[i].ema >= 0)
            return e->networks[i].ema;
    return dflt;
}

SdStatus ssl_momentum_encoder(RecipeCtx *c, const DslNetwork *of, double m, IrValue *input, IrValue **embedding)
{
    char kprefix[DSL_NAME_MAX + 8], qprefix[DSL_NAME_MAX + 2];
    recipe_momentum_prefix(c->e, of, kprefix, sizeof kprefix);
    recipe_prefix(of, qprefix, sizeof qprefix);
    IrGraph *g = c->g;
    int first_node = ir_graph_num_nodes(g), first_value = ir_graph_num_values(g);
    /* the same network again: the same initial values (initialization ignores the prefix), BatchNorm
     * on batch statistics with its own running statistics. One device, so no shuffle-BN: MoCo
     * shuffles the key batch across GPUs so that BN statistics cannot leak which key is the
     * positive; on one device the key encoder's BN sees the whole batch, as in MoCo's
     * single-GPU ports. */
    IrValue *features, *emb;
    SD_TRY(recipe_network(c, of, input, kprefix, &features, &emb));
    if (ir_graph_num_nodes(g) == first_node)
        return ssl_error(c, SD_EINTERNAL, "the key encoder of '%s' has no nodes", of->name);
    IrNode *anchor = ir_graph_node(g, first_node);
    int n_values = ir_graph_num_values(g), max_id = 0;
    for (int i = 0; i < n_values; i++)
        if (ir_graph_value(g, i)->id > max_id)
            max_id = ir_graph_value(g, i)->id;
    IrValue **fresh = calloc((size_t)max_id + 1, sizeof *fresh);
    if (!fresh)
        return sd_errorf(c->err, SD_ENOMEM, "out of memory");
    SdStatus st = SD_OK;
    size_t kp = strlen(kprefix);
    /* k' = m k + (1 - m) stop_gradient(q), before the key forward */
    ir_graph_set_insert_point(g, anchor);
    for (int i = first_value; i < n_values && st == SD_OK; i++) {
        IrValue *k = ir_graph_value(g, i);
        if (k->role != IR_ROLE_PARAM)
            continue;
        char qname[512];
        snprintf(qname, sizeof qname, "%s%s", qprefix, strncmp(k->name, kprefix, kp) == 0 ? k->name + kp : k->name);
        IrValue *q = ir_graph_find_value(g, qname);
        if (!q || q->role != IR_ROLE_PARAM || q->nbytes != k->nbytes) {
            st = ssl_error(c, SD_EINTERNAL, "key encoder tensor '%s' has no query counterpart '%s'", k->name, qname);
            break;
        }
        k->role = IR_ROLE_STATE; /* followed, not trained */
        IrValue *kn = ssl_binary(c, IR_OP_ADD, ssl_scale(c, k, m), ssl_scale(c, ssl_stop(c, q), 1.0 - m));
        if (!kn) {
            st = ssl_status(c);
            break;
        }
        fresh[k->id] = kn;
        st = recipe_update(c, IR_OP_ASSIGN, (IrValue *[]){k, kn}, 2, 0);
    }
    ir_graph_set_insert_point(g, NULL);
    /* the key forward reads k' */
    bool after = false;
    for (int j = 0; j < ir_graph_num_nodes(g) && st == SD_OK; j++) {
        IrNode *n = ir_graph_node(g, j);
        after = after || n == anchor;
        if (!after)
            continue;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] && n->inputs[i]->id <= max_id && fresh[n->inputs[i]->id])
                ir_node_set_input(n, i, fresh[n->inputs[i]->id]);
    }
    free(fresh);
    SD_TRY(st);
    *embedding = ssl_stop(c, emb);
    return *embedding ? SD_OK : ssl_status(c);
}
