/* api/methods/moco.c — MoCo-v2 (He et al. 2020, Chen et al. 2020), in the order of PyTorch's
 * moco/builder.py, step by step:
 *   q = normalize(head(encoder_q(view 0)))                 (trained)
 *   k' = m k + (1 - m) q for every key-encoder parameter   (the momentum update comes first)
 *   k = normalize(head(encoder_k'(view 1)))                (no gradient; BN in train mode)
 *   logits = [q.k, q queue^T] / tau, loss = cross-entropy against column 0
 *   after the backward pass and the optimizer: key encoder <- k', queue <- k (ring buffer).
 * The queue starts as K random unit vectors drawn from the recipe's seed. Metric: the fraction of
 * rows whose positive wins (MoCo's acc@1). */
#include "api/methods/ssl.h"

IrValue *ssl_infonce(RecipeCtx *c, IrValue *q, IrValue *k, IrValue *queue, double tau, IrValue **logits)
{
    if (!q || !k || !queue)
        return NULL;
    IrValue *pos = ssl_rowdot(c, q, k);           /* [B, 1] */
    IrValue *neg = ssl_matmul_nt(c, q, queue);    /* [B, K] */
    IrValue *l = ssl_div(c, ssl_concat(c, (IrValue *[]){pos, neg}, 2, 1), tau);
    if (logits)
        *logits = l;
    int64_t b = q->has_shape ? q->shape.dims[0] : c->batch;
    return recipe_cross_entropy(c, l, ssl_zero_labels(c, b));
}

SdStatus method_moco_v2(RecipeCtx *c)
{
    const DslMethod *m = &c->e->method;
    const DslNetwork *student = dsl_experiment_role(c->e, DSL_ROLE_STUDENT);
    if (!student || c->n_views < 2)
        return ssl_error(c, SD_EUSAGE, "MoCo needs a student network and two views");
    IrValue *features, *emb, *kemb;
    SD_TRY(ssl_network(c, student, c->views[0], &features, &emb));
    if (!emb->has_shape || emb->shape.rank != 2 || emb->shape.dims[1] != m->dim)
        return ssl_error(c, SD_ESHAPE, "the student's embedding must be [batch, %lld] (give it head = [..., %lld])",
                         (long long)m->dim, (long long)m->dim);
    IrValue *q = recipe_l2_normalize(c, emb);
    SD_TRY(ssl_momentum_encoder(c, student, ssl_key_momentum(c->e, student, m->momentum), c->views[1], &kemb));
    IrValue *k = ssl_stop(c, recipe_l2_normalize(c, kemb));
    IrValue *ptr, *queue = ssl_queue(c, "moco/queue", m->queue, m->dim, &ptr);
    IrValue *logits;
    c->loss = ssl_infonce(c, q, k, queue, m->temperature, &logits);
    if (!c->loss)
        return ssl_status(c);
    SD_TRY(recipe_metric(c, "acc1", recipe_accuracy(c, logits, ssl_zero_labels(c, c->batch))));
    return recipe_update(c, IR_OP_QUEUE_PUSH, (IrValue *[]){queue, k, ptr}, 3, 0);
}
