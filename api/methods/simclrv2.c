/* api/methods/simclrv2.c — the SimCLRv2 pipeline (Chen et al. 2020, "Big Self-Supervised Models
 * are Strong Semi-Supervised Learners"), one stage per experiment (method.stage):
 *   pretrain:  SimCLR's NT-Xent on the student with a deep projection head (simclr.c);
 *   finetune:  on the labelled fraction of the data (data.label_fraction, drawn by the trainer),
 *              from layer `finetune_from` of the projection head: the head is cut after its
 *              finetune_from-th Linear (with its BatchNorm and ReLU) and a classifier Linear(classes)
 *              is added in its place (head.<position>), cross-entropy on the labels;
 *   distill:   the fine-tuned network is the frozen teacher (declared as in finetune, with the
 *              fine-tuned checkpoint), the student learns from all images without labels:
 *              loss = T^2 * CE(student / T, softmax(teacher / T)) (Hinton's soft targets).
 * Stages hand weights over through `checkpoint = ...` on the networks: the trainer loads them by
 * name before training (api/train.c). Fine-tuning and distillation report the test accuracy of the
 * resulting classifier. */
#include <string.h>

#include "api/methods/ssl.h"

#define SIMCLRV2_CLASSES 10 /* Fashion-MNIST and MNIST */

SdStatus simclr_build(RecipeCtx *c, double tau); /* simclr.c */

static bool stage(const DslExperiment *e, const char *s)
{
    return e->method.kind == DSL_METHOD_SIMCLRV2 && strcmp(e->method.stage, s) == 0;
}

void method_simclrv2_network(const DslExperiment *e, const DslNetwork *net, DslNetwork *out)
{
    *out = *net;
    bool cut = (stage(e, "finetune") && net->role == DSL_ROLE_STUDENT) ||
               (stage(e, "distill") && net->role == DSL_ROLE_TEACHER);
    if (!cut || net->head.n_dims == 0)
        return;
    int keep = (int)e->method.finetune_from;
    if (keep < 0)
        keep = 0;
    if (keep > net->head.n_dims - 1)
        keep = net->head.n_dims - 1;
    out->head.n_dims = keep + 1;
    out->head.dims[keep] = SIMCLRV2_CLASSES;
    out->head.last_bn = false;
}

IrValue *ssl_distill(RecipeCtx *c, IrValue *student_logits, IrValue *teacher_logits, double temperature)
{
    IrValue *target = ssl_softmax(c, ssl_div(c, ssl_stop(c, teacher_logits), temperature), false);
    IrValue *ce = recipe_cross_entropy(c, ssl_div(c, student_logits, temperature), target);
    return ssl_scale(c, ce, temperature * temperature);
}

static SdStatus need_logits(RecipeCtx *c, const DslNetwork *net, const IrValue *logits)
{
    if (logits->has_shape && logits->shape.rank == 2 && logits->shape.dims[1] == SIMCLRV2_CLASSES)
        return SD_OK;
    return ssl_error(c, SD_ESHAPE, "network '%s' must end in %d class logits (a projection head to cut, or a model "
                     "with classes = %d)", net->name, SIMCLRV2_CLASSES, SIMCLRV2_CLASSES);
}

SdStatus method_simclrv2(RecipeCtx *c)
{
    const DslExperiment *e = c->e;
    const DslNetwork *student = dsl_experiment_role(e, DSL_ROLE_STUDENT);
    if (!student)
        return ssl_error(c, SD_EUSAGE, "SimCLRv2 needs a student network");
    if (stage(e, "pretrain"))
        return simclr_build(c, e->method.temperature);
    IrValue *features, *logits;
    SD_TRY(ssl_network(c, student, c->views[0], &features, &logits)); /* the cut head, in recipe_network */
    SD_TRY(need_logits(c, student, logits));
    if (stage(e, "finetune")) {
        if (!c->labels)
            return ssl_error(c, SD_EINTERNAL, "fine-tuning without labels");
        c->loss = recipe_cross_entropy(c, logits, c->labels);
        if (!c->loss)
            return ssl_status(c);
        return recipe_metric(c, "train_acc", recipe_accuracy(c, logits, c->labels));
    }
    if (!stage(e, "distill"))
        return ssl_error(c, SD_EUSAGE, "unknown stage '%s' (pretrain, finetune or distill)", e->method.stage);
    const DslNetwork *teacher = dsl_experiment_role(e, DSL_ROLE_TEACHER);
    if (!teacher)
        return ssl_error(c, SD_EUSAGE, "distillation needs the fine-tuned network as the teacher");
    IrValue *tf, *tlogits;
    SD_TRY(ssl_network(c, teacher, c->views[0], &tf, &tlogits));
    SD_TRY(need_logits(c, teacher, tlogits));
    c->loss = ssl_distill(c, logits, tlogits, e->method.temperature);
    if (!c->loss)
        return ssl_status(c);
    /* how often the student's top class is the teacher's */
    IrNode *arg = recipe_node(c, IR_OP_ARGMAX, &tlogits, 1, SD_DT_I64);
    if (!arg)
        return ssl_status(c);
    arg->attrs.reduce = (IrReduceAttrs){.n_axes = 1, .axes = {1}};
    return recipe_metric(c, "agreement", recipe_accuracy(c, logits, arg->outputs[0]));
}
