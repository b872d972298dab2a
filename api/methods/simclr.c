/* api/methods/simclr.c — SimCLR (Chen et al. 2020): the two views of the batch go through the
 * encoder and projection head together (one forward over 2N images, so BatchNorm sees all of
 * them, as SimCLR's single-device code), z = normalize(head), and NT-Xent: for each of the 2N
 * rows, cross-entropy of its similarities z_i . z_j / tau (j != i) against its other view.
 * The optimizer (LARS or SGD) and its exclusions come from the recipe. Metric: how often the
 * other view is the most similar row. */
#include <stdlib.h>

#include "api/methods/ssl.h"

IrValue *ssl_nt_xent(RecipeCtx *c, IrValue *z, int64_t n, double tau, IrValue **logits, IrValue **labels)
{
    if (!z)
        return NULL;
    int64_t m = 2 * n;
    /* the diagonal (each row with itself) is pushed out of the softmax */
    float *mask = calloc((size_t)(m * m), sizeof *mask);
    int64_t *target = malloc((size_t)m * sizeof *target);
    if (!mask || !target) {
        free(mask), free(target);
        sd_errorf(c->err, SD_ENOMEM, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < m; i++) {
        mask[i * m + i] = -1e9f;
        target[i] = i < n ? i + n : i - n;
    }
    IrShape ms = ir_shape_make(2, (int64_t[]){m, m});
    IrValue *mv = ir_constant_new(c->g, "loss/self_mask", SD_DT_F32, &ms, mask, c->err);
    IrValue *tv = ssl_const_i64(c, "loss/other_view", target, 1, &m);
    free(mask), free(target);
    IrValue *l = ssl_binary(c, IR_OP_ADD, ssl_div(c, ssl_matmul_nt(c, z, z), tau), mv);
    if (logits)
        *logits = l;
    if (labels)
        *labels = tv;
    return recipe_cross_entropy(c, l, tv);
}

/* SimCLR's loss on the student (simclrv2.c's pretraining uses it too). */
SdStatus simclr_build(RecipeCtx *c, double tau);

SdStatus simclr_build(RecipeCtx *c, double tau)
{
    const DslMethod *m = &c->e->method;
    const DslNetwork *student = dsl_experiment_role(c->e, DSL_ROLE_STUDENT);
    if (!student || c->n_views < 2)
        return ssl_error(c, SD_EUSAGE, "SimCLR needs a student network and two views");
    IrNode *cat = recipe_node(c, IR_OP_CONCAT, (IrValue *[]){c->views[0], c->views[1]}, 2, SD_DT_F32);
    if (!cat)
        return ssl_status(c);
    cat->attrs.movement.axis = 0;
    IrValue *both = cat->outputs[0];
    IrShape s = c->views[0]->shape;
    s.dims[0] *= 2;
    both->shape = s, both->has_shape = true; /* the DSL lowering needs its input's shape */
    IrValue *features, *emb;
    SD_TRY(ssl_network(c, student, both, &features, &emb));
    if (!emb->has_shape || emb->shape.rank != 2 || emb->shape.dims[1] != m->dim)
        return ssl_error(c, SD_ESHAPE, "the student's embedding must be [batch, %lld] (give it head = [..., %lld])",
                         (long long)m->dim, (long long)m->dim);
    IrValue *z = recipe_l2_normalize(c, emb), *logits, *labels;
    c->loss = ssl_nt_xent(c, z, c->batch, tau, &logits, &labels);
    if (!c->loss)
        return ssl_status(c);
    return recipe_metric(c, "acc1", recipe_accuracy(c, logits, labels));
}

SdStatus method_simclr(RecipeCtx *c) { return simclr_build(c, c->e->method.temperature); }
