/* api/methods/supervised.c — plain supervised training (issue 4's sanity check): the student's
 * logits against the labels with softmax cross-entropy, optionally label-smoothed; metric: the
 * training batch accuracy. */
#include "api/recipe.h"

SdStatus method_supervised(RecipeCtx *c)
{
    const DslNetwork *student = dsl_experiment_role(c->e, DSL_ROLE_STUDENT);
    if (!student)
        return sd_errorf(c->err, SD_EUSAGE, "%s: a supervised experiment needs a student network", c->e->name);
    char prefix[DSL_NAME_MAX + 2];
    recipe_prefix(student, prefix, sizeof prefix);
    IrValue *features, *logits;
    SD_TRY(recipe_network(c, student, c->views[0], prefix, &features, &logits));
    if (!logits->has_shape || logits->shape.rank != 2)
        return sd_errorf(c->err, SD_ESHAPE, "%s: the student must output logits [batch, classes]", c->e->name);
    IrValue *target = c->labels;
    double eps = c->e->method.label_smoothing;
    if (eps > 0) { /* (1 - eps) one_hot + eps / C */
        int64_t classes = logits->shape.dims[1], range[256];
        if (classes > 256)
            return sd_errorf(c->err, SD_EUNSUPPORTED, "label smoothing with more than 256 classes");
        for (int64_t i = 0; i < classes; i++)
            range[i] = i;
        IrValue *cls = recipe_ints(c, range, (int)classes);
        IrValue *col = recipe_op(c, IR_OP_RESHAPE, (IrValue *[]){c->labels, recipe_ints(c, (int64_t[]){-1, 1}, 2)}, 2);
        IrNode *eq = col && cls ? recipe_node(c, IR_OP_EQUAL, (IrValue *[]){col, cls}, 2, SD_DT_BOOL) : NULL;
        IrNode *onehot = eq ? recipe_node(c, IR_OP_CAST, &eq->outputs[0], 1, SD_DT_F32) : NULL;
        if (!onehot)
            return c->err->status ? c->err->status : SD_ENOMEM;
        onehot->attrs.unary.to = SD_DT_F32;
        IrValue *scaled = recipe_op(c, IR_OP_MUL, (IrValue *[]){onehot->outputs[0], recipe_scalar(c, (float)(1 - eps))}, 2);
        target = recipe_op(c, IR_OP_ADD, (IrValue *[]){scaled, recipe_scalar(c, (float)(eps / (double)classes))}, 2);
    }
    c->loss = recipe_cross_entropy(c, logits, target);
    if (!c->loss)
        return c->err->status ? c->err->status : SD_ENOMEM;
    return recipe_metric(c, "train_acc", recipe_accuracy(c, logits, c->labels));
}
