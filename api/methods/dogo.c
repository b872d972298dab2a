/* api/methods/dogo.c — DoGo, "Distill on the Go" (Bhat et al. 2021): two peers (the student and
 * the network with role peer) train together in one step. Each peer's own self-supervised loss is
 * MoCo-v2 here (the paper uses SimCLR; MoCo is what every other student of this project trains
 * with, and its queue gives both peers the same candidates): peer P has its query encoder, its
 * EMA key encoder (m = 0.99, or a declared momentum network's ema) and its queue of keys, and
 * logits_P = [q.k, q queue^T] / tau against column 0.
 * Both peers push their keys of the same images at the same positions, so column j of both
 * logit matrices is the same instance, and the mutual term aligns the peers' softmaxes over those
 * similarity scores:
 *   loss = ssl_weight (L_student + L_peer) + kl_weight (KL(p_peer || p_student) + KL(p_student || p_peer))
 * where each KL's target side is detached (a peer learns from the other, never through it).
 * Metrics: each peer's InfoNCE loss and the KL term. */
#include <stdio.h>

#include "api/methods/ssl.h"

IrValue *ssl_mutual_kl(RecipeCtx *c, IrValue *logits, IrValue *other)
{
    if (!logits || !other)
        return NULL;
    IrValue *target = ssl_stop(c, other);
    IrValue *p = ssl_softmax(c, target, false), *logp = ssl_softmax(c, target, true);
    /* KL = CE(logits, p) - H(p); H(p) = -mean_b sum p log p carries no gradient */
    IrValue *neg_entropy = ssl_reduce(c, IR_OP_REDUCE_SUM, ssl_binary(c, IR_OP_MUL, p, logp), 1, false);
    neg_entropy = ssl_reduce(c, IR_OP_REDUCE_MEAN, neg_entropy, -1, false);
    return ssl_binary(c, IR_OP_ADD, recipe_cross_entropy(c, logits, p), neg_entropy);
}

typedef struct Peer {
    const DslNetwork *net;
    IrValue *q, *k, *queue, *ptr, *logits, *loss;
} Peer;

static SdStatus peer_forward(RecipeCtx *c, Peer *p)
{
    const DslMethod *m = &c->e->method;
    IrValue *features, *emb, *kemb;
    SD_TRY(ssl_network(c, p->net, c->views[0], &features, &emb));
    if (!emb->has_shape || emb->shape.rank != 2 || emb->shape.dims[1] != m->dim)
        return ssl_error(c, SD_ESHAPE, "network '%s' must embed into [batch, %lld] (give it head = [..., %lld])",
                         p->net->name, (long long)m->dim, (long long)m->dim);
    p->q = recipe_l2_normalize(c, emb);
    SD_TRY(ssl_momentum_encoder(c, p->net, ssl_key_momentum(c->e, p->net, 0.99), c->views[1], &kemb));
    p->k = ssl_stop(c, recipe_l2_normalize(c, kemb));
    char name[DSL_NAME_MAX + 16];
    snprintf(name, sizeof name, "dogo/%s.queue", p->net->name);
    p->queue = ssl_queue(c, name, m->queue, m->dim, &p->ptr);
    p->loss = ssl_infonce(c, p->q, p->k, p->queue, m->temperature, &p->logits);
    return p->loss ? SD_OK : ssl_status(c);
}

SdStatus method_dogo(RecipeCtx *c)
{
    const DslMethod *m = &c->e->method;
    Peer a = {.net = dsl_experiment_role(c->e, DSL_ROLE_STUDENT)}, b = {.net = dsl_experiment_role(c->e, DSL_ROLE_PEER)};
    if (!a.net || !b.net || c->n_views < 2)
        return ssl_error(c, SD_EUSAGE, "DoGo needs a student, a peer and two views");
    SD_TRY(peer_forward(c, &a));
    SD_TRY(peer_forward(c, &b));
    IrValue *kl = ssl_binary(c, IR_OP_ADD, ssl_mutual_kl(c, a.logits, b.logits), ssl_mutual_kl(c, b.logits, a.logits));
    IrValue *ssl = ssl_binary(c, IR_OP_ADD, a.loss, b.loss);
    c->loss = ssl_binary(c, IR_OP_ADD, ssl_scale(c, ssl, m->ssl_weight), ssl_scale(c, kl, m->kl_weight));
    if (!c->loss)
        return ssl_status(c);
    SD_TRY(recipe_metric(c, "ssl_student", a.loss));
    SD_TRY(recipe_metric(c, "ssl_peer", b.loss));
    SD_TRY(recipe_metric(c, "kl", kl));
    SD_TRY(recipe_update(c, IR_OP_QUEUE_PUSH, (IrValue *[]){a.queue, a.k, a.ptr}, 3, 0));
    return recipe_update(c, IR_OP_QUEUE_PUSH, (IrValue *[]){b.queue, b.k, b.ptr}, 3, 0);
}
