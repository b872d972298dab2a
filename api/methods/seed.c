/* api/methods/seed.c — SEED, self-supervised distillation (Fang et al. 2021), as the official
 * code computes it. One augmented view goes to the student and to the frozen teacher (inference
 * mode, no gradient: an ONNX model such as teacher_embed.onnx, whose output is already the
 * normalized embedding, or a DSL network with its own head, from a checkpoint):
 *   s = normalize(student head(x)), t = normalize(teacher(x)), Q the queue of K teacher embeddings
 *   student logits [s.t, s Q^T] / tau_s, teacher logits [t.t, t Q^T] / tau_t
 *   loss = -mean_b sum p_T log_softmax(student logits), p_T = softmax(teacher logits)
 * then t is pushed into the queue (K a multiple of the batch). tau_t = 1e-4 (the official value)
 * makes p_T nearly one-hot; the softmax subtracts the row maximum first, so it stays finite. */
#include "api/methods/ssl.h"

IrValue *ssl_seed_loss(RecipeCtx *c, IrValue *s, IrValue *t, IrValue *queue, double tau_s, double tau_t,
                       IrValue **student_logits)
{
    if (!s || !t || !queue)
        return NULL;
    IrValue *ls = ssl_concat(c, (IrValue *[]){ssl_rowdot(c, s, t), ssl_matmul_nt(c, s, queue)}, 2, 1);
    IrValue *lt = ssl_concat(c, (IrValue *[]){ssl_rowdot(c, t, t), ssl_matmul_nt(c, t, queue)}, 2, 1);
    ls = ssl_div(c, ls, tau_s);
    IrValue *pt = ssl_softmax(c, ssl_div(c, lt, tau_t), false);
    if (student_logits)
        *student_logits = ls;
    return recipe_cross_entropy(c, ls, pt);
}

SdStatus method_seed(RecipeCtx *c)
{
    const DslMethod *m = &c->e->method;
    const DslNetwork *student = dsl_experiment_role(c->e, DSL_ROLE_STUDENT);
    const DslNetwork *teacher = dsl_experiment_role(c->e, DSL_ROLE_TEACHER);
    if (!student || !teacher)
        return ssl_error(c, SD_EUSAGE, "SEED needs a student and a teacher");
    IrValue *sf, *se, *tf, *te;
    SD_TRY(ssl_network(c, student, c->views[0], &sf, &se));
    SD_TRY(ssl_network(c, teacher, c->views[0], &tf, &te)); /* frozen: constants, gradient stopped */
    if (!se->has_shape || se->shape.rank != 2 || se->shape.dims[1] != m->dim)
        return ssl_error(c, SD_ESHAPE, "the student's embedding must be [batch, %lld] (give it head = [..., %lld])",
                         (long long)m->dim, (long long)m->dim);
    if (te->has_shape && (te->shape.rank != 2 || te->shape.dims[1] != m->dim))
        return ssl_error(c, SD_ESHAPE, "the teacher's output '%s' has %lld features but dim is %lld (SEED compares "
                         "student and teacher embeddings: use the teacher's embedding output, e.g. teacher_embed.onnx)",
                         te->name, (long long)(te->shape.rank == 2 ? te->shape.dims[1] : -1), (long long)m->dim);
    IrValue *s = recipe_l2_normalize(c, se);
    IrValue *t = ssl_stop(c, recipe_l2_normalize(c, te));
    IrValue *ptr, *queue = ssl_queue(c, "seed/queue", m->queue, m->dim, &ptr);
    IrValue *logits;
    c->loss = ssl_seed_loss(c, s, t, queue, m->temperature_student, m->temperature_teacher, &logits);
    if (!c->loss)
        return ssl_status(c);
    /* how often the student ranks the teacher's own embedding first */
    SD_TRY(recipe_metric(c, "acc1", recipe_accuracy(c, logits, ssl_zero_labels(c, c->batch))));
    return recipe_update(c, IR_OP_QUEUE_PUSH, (IrValue *[]){queue, t, ptr}, 3, 0);
}
