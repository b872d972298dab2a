/* api/methods/crd.c — CRD, contrastive representation distillation (Tian et al. 2020), as
 * RepDistiller's crd/ code computes it, without labels (self-supervised distillation):
 *   e_s = normalize(student head(x))                  (the student's "embed": head = [dim])
 *   e_t = normalize(W_t teacher(x) + b_t)             (a trained linear embed on the frozen teacher's
 *                                                      features, PARAM crd/embed_t.*)
 *   memory banks M_s, M_t [N_data, dim] (STATE, initialized U(-1/sqrt(dim/3), 1/sqrt(dim/3)))
 *   the student's embedding is contrasted with the teacher bank and the teacher's with the
 *   student bank: x = exp(e . m / tau) / Z over the positive row m = M[index] and K negative rows,
 *   NCE loss -(log(x0 / (x0 + K Pn + eps)) + sum_j log(K Pn / (xj + K Pn + eps))) / B, Pn = 1/N;
 *   Z = mean(x) * N from the first batch, then fixed (STATE crd/z_*, -1 until set)
 *   loss = crd_weight (L_student + L_teacher)
 *   then M[index] <- normalize(momentum M[index] + (1 - momentum) e), for both banks.
 * Two deliberate differences from RepDistiller, for speed on a CPU:
 *   - the K negatives (method.queue) are shared by the whole batch: one [K, dim] gather per bank
 *     and a GEMM, instead of K per sample ([B, K + 1, dim]: 0.5 GB at B = 256, K = 4096);
 *     they are still uniform draws from the bank, so the estimator is the same in expectation;
 *   - they are drawn deterministically from the step counter (STATE crd/step): index j of step t is
 *     (a_j + t b_j) mod N with fixed random a_j, b_j, so a step is a pure function of the state and
 *     the batch (resumable bit for bit), as RepDistiller's AliasMethod draws are not.
 * The bank update is a scatter: M + GatherGrad(new rows - old rows) at the batch's sample indices
 * (the step's `indices` input; a batch holds distinct images), then ASSIGN. */
#include <math.h>
#include <stdlib.h>

#include "api/methods/ssl.h"

#define CRD_EPS 1e-7

IrValue *ssl_crd_scores(RecipeCtx *c, IrValue *e, IrValue *pos, IrValue *neg, double tau)
{
    IrValue *dots = ssl_concat(c, (IrValue *[]){ssl_rowdot(c, e, pos), ssl_matmul_nt(c, e, neg)}, 2, 1);
    return dots ? recipe_op(c, IR_OP_EXP, (IrValue *[]){ssl_div(c, dots, tau)}, 1) : NULL;
}

IrValue *ssl_crd_nce(RecipeCtx *c, IrValue *scores, IrValue *z, int64_t b, int64_t k, int64_t n_data)
{
    if (!scores || !z)
        return NULL;
    double kpn = (double)k / (double)n_data;
    IrValue *x = ssl_binary(c, IR_OP_DIV, scores, z); /* [B, 1 + K] */
    /* log D: the positive column x0 / (x0 + K Pn + eps), every negative K Pn / (xj + K Pn + eps);
     * numerator = x * [1, 0, ...] + [0, K Pn, ...] */
    float *row = malloc((size_t)(1 + k) * sizeof *row);
    if (!row) {
        sd_errorf(c->err, SD_ENOMEM, "out of memory");
        return NULL;
    }
    IrShape s = ir_shape_make(2, (int64_t[]){1, 1 + k});
    for (int64_t j = 0; j <= k; j++)
        row[j] = j == 0 ? 0.0f : (float)kpn;
    IrValue *base = ir_constant_new(c->g, "loss/crd_kpn", SD_DT_F32, &s, row, c->err);
    for (int64_t j = 0; j <= k; j++)
        row[j] = j == 0 ? 1.0f : 0.0f;
    IrValue *first = ir_constant_new(c->g, "loss/crd_first", SD_DT_F32, &s, row, c->err);
    free(row);
    IrValue *denom = ssl_binary(c, IR_OP_ADD, x, recipe_scalar(c, (float)(kpn + CRD_EPS)));
    IrValue *numer = ssl_binary(c, IR_OP_ADD, ssl_binary(c, IR_OP_MUL, x, first), base);
    IrValue *logd = recipe_op(c, IR_OP_LOG, (IrValue *[]){ssl_binary(c, IR_OP_DIV, numer, denom)}, 1);
    return ssl_scale(c, ssl_reduce(c, IR_OP_REDUCE_SUM, logd, -1, false), -1.0 / (double)b);
}

/* Z: the stored constant, or mean(x) * N on the first step (detached), stored back. */
static IrValue *normalizer(RecipeCtx *c, const char *name, IrValue *scores)
{
    IrShape scalar = ir_shape_make(0, NULL);
    float unset = -1;
    IrValue *zs = recipe_state(c, name, SD_DT_F32, &scalar, &unset);
    IrValue *fresh = ssl_stop(c, ssl_scale(c, ssl_reduce(c, IR_OP_REDUCE_MEAN, scores, -1, false), (double)c->n_data));
    IrNode *set = zs ? recipe_node(c, IR_OP_GREATER, (IrValue *[]){zs, recipe_scalar(c, 0)}, 2, SD_DT_BOOL) : NULL;
    IrValue *z = set && fresh ? recipe_op(c, IR_OP_WHERE, (IrValue *[]){set->outputs[0], zs, fresh}, 3) : NULL;
    if (!z || recipe_update(c, IR_OP_ASSIGN, (IrValue *[]){zs, z}, 2, 0) != SD_OK)
        return NULL;
    return z;
}

/* A bank [N, D] and its K negative rows of this step. */
static IrValue *bank(RecipeCtx *c, const char *name, int64_t dim)
{
    int64_t n = c->n_data * dim;
    float *data = malloc((size_t)n * sizeof *data);
    if (!data) {
        sd_errorf(c->err, SD_ENOMEM, "out of memory for the memory bank '%s'", name);
        return NULL;
    }
    double stdv = 1.0 / sqrt((double)dim / 3.0);
    ssl_fill_uniform(data, n, -stdv, stdv, (uint64_t)c->e->seed, name);
    IrShape s = ir_shape_make(2, (int64_t[]){c->n_data, dim});
    IrValue *v = recipe_state(c, name, SD_DT_F32, &s, data);
    free(data);
    return v;
}

static IrValue *gather_rows(RecipeCtx *c, IrValue *data, IrValue *idx)
{
    IrNode *n = data && idx ? recipe_node(c, IR_OP_GATHER, (IrValue *[]){data, idx}, 2, SD_DT_F32) : NULL;
    if (!n)
        return NULL;
    n->attrs.gather.axis = 0;
    return n->outputs[0];
}

/* M[idx] <- normalize(m M[idx] + (1 - m) e) as M + scatter(new - old), at the end of the step. */
static SdStatus bank_update(RecipeCtx *c, IrValue *m, IrValue *old, IrValue *e, double momentum)
{
    IrValue *mixed = ssl_binary(c, IR_OP_ADD, ssl_scale(c, old, momentum), ssl_scale(c, ssl_stop(c, e), 1.0 - momentum));
    IrValue *delta = ssl_binary(c, IR_OP_SUB, recipe_l2_normalize(c, mixed), old);
    IrNode *scatter = delta ? recipe_node(c, IR_OP_GATHER_GRAD, (IrValue *[]){delta, c->indices, m}, 3, SD_DT_F32) : NULL;
    if (!scatter)
        return ssl_status(c);
    scatter->attrs.gather.axis = 0;
    IrValue *next = ssl_binary(c, IR_OP_ADD, m, scatter->outputs[0]);
    return recipe_update(c, IR_OP_ASSIGN, (IrValue *[]){m, next}, 2, 0);
}

SdStatus method_crd(RecipeCtx *c)
{
    const DslMethod *m = &c->e->method;
    const DslNetwork *student = dsl_experiment_role(c->e, DSL_ROLE_STUDENT);
    const DslNetwork *teacher = dsl_experiment_role(c->e, DSL_ROLE_TEACHER);
    if (!student || !teacher || !c->indices)
        return ssl_error(c, SD_EUSAGE, "CRD needs a student, a teacher and the batch's sample indices");
    if (c->n_data < 1)
        return ssl_error(c, SD_EUSAGE, "CRD's memory banks need the number of training images");
    int64_t k = m->queue, dim = m->dim;
    if (k < 1) /* drawn with replacement, as RepDistiller's AliasMethod: K may exceed N */
        return ssl_error(c, SD_EUSAGE, "queue = %lld: CRD needs at least one negative", (long long)k);
    IrValue *sf, *se, *tf, *te;
    SD_TRY(ssl_network(c, student, c->views[0], &sf, &se));
    SD_TRY(ssl_network(c, teacher, c->views[0], &tf, &te));
    if (!se->has_shape || se->shape.rank != 2 || se->shape.dims[1] != dim)
        return ssl_error(c, SD_ESHAPE, "the student's embedding must be [batch, %lld] (give it head = [%lld])",
                         (long long)dim, (long long)dim);
    if (!tf->has_shape || tf->shape.rank != 2)
        return ssl_error(c, SD_ESHAPE, "the teacher's output must be features [batch, n]");
    int64_t tdim = tf->shape.dims[1];
    IrValue *w = ssl_param_uniform(c, "crd/embed_t.weight", 2, (int64_t[]){dim, tdim}, tdim);
    IrValue *bias = ssl_param_uniform(c, "crd/embed_t.bias", 1, &dim, tdim);
    IrValue *es = recipe_l2_normalize(c, se);
    IrValue *et = recipe_l2_normalize(c, ssl_linear(c, tf, w, bias));
    IrValue *ms = bank(c, "crd/memory_student", dim), *mt = bank(c, "crd/memory_teacher", dim);
    /* negatives of this step: (a + t b) mod N */
    IrShape scalar = ir_shape_make(0, NULL);
    IrValue *step = recipe_state(c, "crd/step", SD_DT_I64, &scalar, NULL);
    int64_t *a = malloc((size_t)k * sizeof *a), *bb = malloc((size_t)k * sizeof *bb);
    if (!a || !bb) {
        free(a), free(bb);
        return sd_errorf(c->err, SD_ENOMEM, "out of memory");
    }
    for (int64_t j = 0; j < k; j++) {
        a[j] = (int64_t)(ssl_stream((uint64_t)c->e->seed, "crd/negatives.a", (uint64_t)j) % (uint64_t)c->n_data);
        bb[j] = 1 + (int64_t)(ssl_stream((uint64_t)c->e->seed, "crd/negatives.b", (uint64_t)j) %
                              (uint64_t)(c->n_data > 1 ? c->n_data - 1 : 1));
    }
    IrValue *av = ssl_const_i64(c, "crd/negatives.a", a, 1, &k), *bv = ssl_const_i64(c, "crd/negatives.b", bb, 1, &k);
    free(a), free(bb);
    IrValue *one = ssl_const_i64(c, "crd/one", (int64_t[]){1}, 0, NULL);
    IrValue *nv = ssl_const_i64(c, "crd/n_data", &c->n_data, 0, NULL);
    IrNode *tb = step && bv ? recipe_node(c, IR_OP_MUL, (IrValue *[]){step, bv}, 2, SD_DT_I64) : NULL;
    IrNode *sum = tb && av ? recipe_node(c, IR_OP_ADD, (IrValue *[]){tb->outputs[0], av}, 2, SD_DT_I64) : NULL;
    IrNode *neg = sum && nv ? recipe_node(c, IR_OP_MOD, (IrValue *[]){sum->outputs[0], nv}, 2, SD_DT_I64) : NULL;
    IrNode *next = step && one ? recipe_node(c, IR_OP_ADD, (IrValue *[]){step, one}, 2, SD_DT_I64) : NULL;
    if (!neg || !next)
        return ssl_status(c);
    IrValue *pos_s = gather_rows(c, ms, c->indices), *pos_t = gather_rows(c, mt, c->indices);
    IrValue *neg_s = gather_rows(c, ms, neg->outputs[0]), *neg_t = gather_rows(c, mt, neg->outputs[0]);
    if (!neg_s || !neg_t)
        return ssl_status(c);
    /* the student against the teacher bank, the teacher against the student bank */
    IrValue *xs = ssl_crd_scores(c, es, pos_t, neg_t, m->temperature);
    IrValue *xt = ssl_crd_scores(c, et, pos_s, neg_s, m->temperature);
    IrValue *zs = normalizer(c, "crd/z_student", xs), *zt = normalizer(c, "crd/z_teacher", xt);
    IrValue *l_s = ssl_crd_nce(c, xs, zs, c->batch, k, c->n_data);
    IrValue *l_t = ssl_crd_nce(c, xt, zt, c->batch, k, c->n_data);
    c->loss = ssl_scale(c, ssl_binary(c, IR_OP_ADD, l_s, l_t), m->crd_weight);
    if (!c->loss)
        return ssl_status(c);
    SD_TRY(recipe_metric(c, "nce_student", l_s));
    SD_TRY(recipe_metric(c, "nce_teacher", l_t));
    SD_TRY(bank_update(c, ms, pos_s, es, m->momentum));
    SD_TRY(bank_update(c, mt, pos_t, et, m->momentum));
    return recipe_update(c, IR_OP_ASSIGN, (IrValue *[]){step, next->outputs[0]}, 2, 0);
}
