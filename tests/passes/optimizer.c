/* tests/passes/optimizer.c — the optimizer pass and the training pipeline: a linear model
 * pred = x @ W + b, loss = 0.5 * sum((pred - y)^2) / N, with its gradients built by hand (so this
 * does not wait for the autodiff rules), compiled into one step by the JIT and run for three steps
 * with a changing learning rate. The parameters after every step match torch.optim
 * (tests/golden/optimizers.py: SGD Nesterov, AdamW, LARS, LAMB, clipping) and the same formulas
 * in double precision; the pass creates the state it documents and refuses bad configurations. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "codegen/codegen.h"
#include "passes/pass.h"
#include "tests/common/optim_ref.h"

enum { N = 8, K = 5, M = 3 };

static SdStatus eval(void *ctx, const IrNode *n, void *const *outputs, SdError *err)
{
    (void)ctx;
    return cg_eval_node(n, NULL, outputs, err);
}

typedef struct {
    IrGraph *g;
    IrValue *w, *b, *frozen, *loss;
} Model;

static IrValue *f32_scalar(IrGraph *g, const char *name, float v)
{
    SdError err = {0};
    IrShape s = ir_shape_make(0, NULL);
    IrValue *c = ir_constant_new(g, name, SD_DT_F32, &s, &v, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

static IrValue *param(IrGraph *g, const char *name, int rank, const int64_t *dims, const float *data)
{
    SdError err = {0};
    IrShape s = ir_shape_make(rank, dims);
    IrValue *v = ir_constant_new(g, name, SD_DT_F32, &s, data, &err);
    cr_assert_not_null(v, "%s", err.msg);
    v->role = IR_ROLE_PARAM;
    return v;
}

static IrValue *op(IrGraph *g, IrOp o, const char *name, IrValue *a, IrValue *b)
{
    IrNode *n = ir_node_new1(g, o, name, (IrValue *[]){a, b}, b ? 2 : 1, SD_DT_F32);
    cr_assert_not_null(n);
    return n->outputs[0];
}

/* The forward pass, the hand-written backward pass and W->grad, b->grad. Outputs: loss, W, b
 * (parameters as outputs come back after the step's updates). */
static Model build_model(const float *w0, const float *b0)
{
    Model md = {0};
    IrGraph *g = md.g = ir_graph_new("linear");
    ir_graph_set_source(g, "linear.sd");
    IrShape xs = ir_shape_make(2, (int64_t[]){N, K}), ys = ir_shape_make(2, (int64_t[]){N, M});
    IrValue *x = ir_value_new(g, "x", SD_DT_F32, &xs), *y = ir_value_new(g, "y", SD_DT_F32, &ys);
    x->role = y->role = IR_ROLE_INPUT;
    ir_graph_add_input(g, x);
    ir_graph_add_input(g, y);
    md.w = param(g, "fc.weight", 2, (int64_t[]){K, M}, w0);
    md.b = param(g, "fc.bias", 1, (int64_t[]){M}, b0);
    md.frozen = param(g, "unused.weight", 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
    IrValue *pred = op(g, IR_OP_ADD, "pred", op(g, IR_OP_MATMUL, "mm", x, md.w), md.b);
    IrValue *r = op(g, IR_OP_SUB, "residual", pred, y);
    IrValue *ss = op(g, IR_OP_REDUCE_SUM_SQUARE, "sum_sq", r, NULL);
    md.loss = op(g, IR_OP_MUL, "loss", ss, f32_scalar(g, "half_mean", 0.5f / N));
    /* backward: dpred = r / N, dW = x^T dpred, db = sum over rows of dpred */
    IrValue *dpred = op(g, IR_OP_MUL, "dpred", r, f32_scalar(g, "inv_n", 1.0f / N));
    md.w->grad = op(g, IR_OP_MATMUL, "dW", op(g, IR_OP_TRANSPOSE, "xT", x, NULL), dpred);
    IrNode *db = ir_node_new1(g, IR_OP_REDUCE_SUM, "db", &dpred, 1, SD_DT_F32);
    db->attrs.reduce.n_axes = 1, db->attrs.reduce.axes[0] = 0, db->attrs.reduce.keepdims = false;
    md.b->grad = db->outputs[0];
    ir_graph_add_output(g, md.loss);
    ir_graph_add_output(g, md.w);
    ir_graph_add_output(g, md.b);
    return md;
}

static SdStatus run_training_pipeline(IrGraph *g, const PassTrainOptions *t, SdError *err)
{
    PassOptions po = {.eval = eval, .verify = true, .train = t, .disabled = "autodiff"};
    return pass_run_pipeline(g, "training", &po, err);
}

/* The double-precision step of the model: gradients at (w, b), optional clipping, then the
 * optimizer with b excluded (rank 1). s* are the optimizer states of w and b. */
static double ref_model_step(const PassTrainOptions *t, const float *x, const float *y, double *w, double *b,
                             double *sw1, double *sw2, double *sb1, double *sb2, double lr, int64_t step)
{
    double gw[K * M] = {0}, gb[M] = {0}, loss = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < M; j++) {
            double pred = b[j];
            for (int k = 0; k < K; k++)
                pred += (double)x[i * K + k] * w[k * M + j];
            double r = pred - y[i * M + j];
            loss += 0.5 * r * r / N;
            gb[j] += r / N;
            for (int k = 0; k < K; k++)
                gw[k * M + j] += x[i * K + k] * r / N;
        }
    if (t->clip_grad_norm > 0) {
        double sq = 0;
        for (int i = 0; i < K * M; i++)
            sq += gw[i] * gw[i];
        for (int j = 0; j < M; j++)
            sq += gb[j] * gb[j];
        double scale = fmin(1.0, t->clip_grad_norm / (sqrt(sq) + 1e-6));
        for (int i = 0; i < K * M; i++)
            gw[i] *= scale;
        for (int j = 0; j < M; j++)
            gb[j] *= scale;
    }
    IrUpdateAttrs a = {.momentum = t->momentum, .nesterov = t->nesterov, .weight_decay = t->weight_decay,
                       .beta1 = t->beta1, .beta2 = t->beta2, .epsilon = t->epsilon,
                       .trust_coefficient = t->trust_coefficient};
    IrUpdateAttrs ax = a;
    ax.weight_decay = 0;
    IrOp opw, opb;
    switch (t->optimizer) {
    case PASS_OPTIM_SGD: opw = opb = IR_OP_SGD_UPDATE; break;
    case PASS_OPTIM_LARS: opw = IR_OP_LARS_UPDATE, opb = IR_OP_SGD_UPDATE; break;
    case PASS_OPTIM_ADAMW: opw = opb = IR_OP_ADAMW_UPDATE; break;
    default: opw = IR_OP_LAMB_UPDATE, opb = IR_OP_ADAMW_UPDATE; break;
    }
    ref_update(opw, &a, w, gw, sw1, sw2, K * M, lr, step);
    ref_update(opb, &ax, b, gb, sb1, sb2, M, lr, step);
    return loss;
}

static PassTrainOptions case_options(const char *name)
{
    PassTrainOptions t;
    if (strcmp(name, "sgd") == 0) {
        t = pass_train_defaults(PASS_OPTIM_SGD);
        t.momentum = 0.9, t.nesterov = true, t.weight_decay = 0.05;
    } else if (strcmp(name, "adamw") == 0) {
        t = pass_train_defaults(PASS_OPTIM_ADAMW);
        t.beta2 = 0.99, t.weight_decay = 0.05;
    } else if (strcmp(name, "lars") == 0) {
        t = pass_train_defaults(PASS_OPTIM_LARS);
        t.weight_decay = 0.01, t.trust_coefficient = 0.1;
    } else if (strcmp(name, "lamb") == 0) {
        t = pass_train_defaults(PASS_OPTIM_LAMB);
        t.weight_decay = 0.05;
    } else {
        t = pass_train_defaults(PASS_OPTIM_SGD);
        t.momentum = 0.9, t.weight_decay = 0.05, t.clip_grad_norm = 0.5;
    }
    return t;
}

Test(optimizer, compiled_steps_match_torch_optim_and_the_formulas)
{
    RtTensor xs = golden("model_x"), ys = golden("model_y"), w0 = golden("model_w0"), b0 = golden("model_b0"),
             lrs = golden("model_lr");
    const char *cases[] = {"sgd", "adamw", "lars", "lamb", "sgd_clip"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[64];
        snprintf(name, sizeof name, "model_%s_w", cases[c]);
        RtTensor gw = golden(name);
        snprintf(name, sizeof name, "model_%s_b", cases[c]);
        RtTensor gb = golden(name);
        snprintf(name, sizeof name, "model_%s_loss", cases[c]);
        RtTensor gl = golden(name);
        PassTrainOptions t = case_options(cases[c]);
        Model md = build_model(w0.data, b0.data);
        SdError err = {0};
        cr_assert_eq(run_training_pipeline(md.g, &t, &err), SD_OK, "%s: %s", cases[c], err.msg);
        cr_assert_eq(ir_graph_num_inputs(md.g), 3);
        cr_assert_str_eq(ir_graph_input(md.g, 2)->name, "lr");
        SdOptions so = sd_options_default();
        SdModel *m;
        cr_assert_eq(sd_model_compile(md.g, &so, &m, &err), SD_OK, "%s: %s", cases[c], err.msg);

        double w[K * M], b[M], sw1[K * M] = {0}, sw2[K * M] = {0}, sb1[M] = {0}, sb2[M] = {0};
        for (int i = 0; i < K * M; i++)
            w[i] = ((const float *)w0.data)[i];
        for (int j = 0; j < M; j++)
            b[j] = ((const float *)b0.data)[j];
        for (int s = 0; s < 3; s++) {
            const float *x = (const float *)xs.data + s * N * K, *y = (const float *)ys.data + s * N * M;
            float lr = ((const float *)lrs.data)[s];
            RtTensor in[3] = {
                {.dtype = SD_DT_F32, .rank = 2, .dims = {N, K}, .data = (void *)x, .nbytes = sizeof(float) * N * K},
                {.dtype = SD_DT_F32, .rank = 2, .dims = {N, M}, .data = (void *)y, .nbytes = sizeof(float) * N * M},
                {.dtype = SD_DT_F32, .rank = 0, .data = &lr, .nbytes = sizeof lr},
            };
            RtTensor out[3];
            cr_assert_eq(sd_model_run(m, in, 3, out, 3, &err), SD_OK, "%s", err.msg);
            double loss = ref_model_step(&t, x, y, w, b, sw1, sw2, sb1, sb2, lr, s + 1);
            char what[96];
            double want_w[K * M], want_b[M], want_loss = ((const float *)gl.data)[s];
            for (int i = 0; i < K * M; i++)
                want_w[i] = ((const float *)gw.data)[s * K * M + i];
            for (int j = 0; j < M; j++)
                want_b[j] = ((const float *)gb.data)[s * M + j];
            snprintf(what, sizeof what, "%s step %d: loss vs torch", cases[c], s + 1);
            expect_close_scaled(out[0].data, &want_loss, 1, 1e-6, what);
            snprintf(what, sizeof what, "%s step %d: W vs torch", cases[c], s + 1);
            expect_close_scaled(out[1].data, want_w, K * M, 1e-6, what);
            snprintf(what, sizeof what, "%s step %d: b vs torch", cases[c], s + 1);
            expect_close_scaled(out[2].data, want_b, M, 1e-6, what);
            snprintf(what, sizeof what, "%s step %d: loss vs formula", cases[c], s + 1);
            expect_close_scaled(out[0].data, &loss, 1, 1e-6, what);
            snprintf(what, sizeof what, "%s step %d: W vs formula", cases[c], s + 1);
            expect_close_scaled(out[1].data, w, K * M, 2e-6, what);
            snprintf(what, sizeof what, "%s step %d: b vs formula", cases[c], s + 1);
            expect_close_scaled(out[2].data, b, M, 2e-6, what);
            for (int i = 0; i < 3; i++)
                rt_tensor_free(&out[i]);
        }
        sd_model_free(m);
        rt_tensor_free(&gw), rt_tensor_free(&gb), rt_tensor_free(&gl);
    }
    rt_tensor_free(&xs), rt_tensor_free(&ys), rt_tensor_free(&w0), rt_tensor_free(&b0), rt_tensor_free(&lrs);
}

/* The update node that writes v (NULL when none). */
static const IrNode *updater_of(const IrGraph *g, const IrValue *v)
{
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        const IrNode *n = ir_graph_node(g, k);
        if (ir_op_is_update(n->op) && n->inputs[0] == v)
            return n;
    }
    return NULL;
}

static void expect_zero_state(const IrGraph *g, const char *name, SdDType dt, int64_t numel)
{
    const IrValue *v = ir_graph_find_value(g, name);
    cr_assert_not_null(v, "state '%s' is missing", name);
    cr_assert_eq(v->role, IR_ROLE_STATE, "%s", name);
    cr_assert_eq(v->dtype, dt, "%s", name);
    cr_assert_eq(ir_value_numel(v), numel, "%s", name);
    for (size_t i = 0; i < v->nbytes; i++)
        cr_assert_eq(((const unsigned char *)v->data)[i], 0, "%s starts at zero", name);
}

Test(optimizer, lamb_creates_state_excludes_rank1_and_counts_steps_in_the_graph)
{
    float w0[K * M] = {0}, b0[M] = {0};
    Model md = build_model(w0, b0);
    PassTrainOptions t = pass_train_defaults(PASS_OPTIM_LAMB);
    SdError err = {0};
    cr_assert_eq(run_training_pipeline(md.g, &t, &err), SD_OK, "%s", err.msg);
    IrGraph *g = md.g;
    expect_zero_state(g, "fc.weight.exp_avg", SD_DT_F32, K * M);
    expect_zero_state(g, "fc.weight.exp_avg_sq", SD_DT_F32, K * M);
    expect_zero_state(g, "fc.bias.exp_avg", SD_DT_F32, M);
    expect_zero_state(g, "fc.bias.exp_avg_sq", SD_DT_F32, M);
    expect_zero_state(g, "optimizer.step", SD_DT_I64, 1);
    cr_assert_null(ir_graph_find_value(g, "unused.weight.exp_avg"), "a parameter without gradient has no state");
    const IrNode *uw = updater_of(g, md.w), *ub = updater_of(g, md.b);
    cr_assert(uw && uw->op == IR_OP_LAMB_UPDATE);
    cr_assert_eq(uw->attrs.update.weight_decay, 0.01);
    cr_assert(ub && ub->op == IR_OP_ADAMW_UPDATE, "rank 1: plain Adam");
    cr_assert_eq(ub->attrs.update.weight_decay, 0.0);
    cr_assert_null(updater_of(g, md.frozen), "no gradient, no update");
    /* t = step + 1 feeds the updates; ASSIGN(step, t) is the last node */
    const IrNode *last = ir_graph_node(g, ir_graph_num_nodes(g) - 1);
    cr_assert_eq(last->op, IR_OP_ASSIGN);
    cr_assert_str_eq(last->inputs[0]->name, "optimizer.step");
    cr_assert_eq(uw->inputs[5], last->inputs[1]);
    cr_assert_eq(ub->inputs[5], last->inputs[1]);
    const IrValue *lr = ir_graph_input(g, 2);
    cr_assert_str_eq(lr->name, "lr");
    cr_assert(lr->dtype == SD_DT_F32 && lr->shape.rank == 0);
    cr_assert_eq(uw->inputs[4], lr);
    ir_graph_free(g);

    /* names in the exclusion list are excluded too; decay_all includes rank 1 */
    md = build_model(w0, b0);
    t.exclude = "bn,weight";
    t.decay_all = true;
    cr_assert_eq(run_training_pipeline(md.g, &t, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(updater_of(md.g, md.w)->op, IR_OP_ADAMW_UPDATE);
    cr_assert_eq(updater_of(md.g, md.w)->attrs.update.weight_decay, 0.0);
    cr_assert_eq(updater_of(md.g, md.b)->op, IR_OP_LAMB_UPDATE);
    ir_graph_free(md.g);
}

/* Autodiff gives a parameter that the loss does not reach a zero fill (CONSTANT_OF_SHAPE 0, or a
 * constant once folded); torch leaves its .grad None and skips it, and so does the pass. */
Test(optimizer, parameters_with_structural_zero_gradients_are_not_updated)
{
    float w0[K * M] = {0}, b0[M] = {0};
    for (int folded = 0; folded < 2; folded++) {
        Model md = build_model(w0, b0);
        SdError err = {0};
        PassOptions po = {.eval = eval, .verify = true, .stop_after = "fold"};
        cr_assert_eq(pass_run_pipeline(md.g, "training", &po, &err), SD_OK, "%s", err.msg);
        IrShape s = ir_shape_make(1, (int64_t[]){2});
        IrValue *zero;
        if (folded) {
            zero = ir_constant_new(md.g, "zeros", SD_DT_F32, &md.frozen->shape, (float[4]){0}, &err);
        } else {
            IrValue *shape = ir_constant_new(md.g, "zeros.shape", SD_DT_I64, &s, (int64_t[]){2, 2}, &err);
            IrNode *fill = ir_node_new1(md.g, IR_OP_CONSTANT_OF_SHAPE, "zeros", &shape, 1, SD_DT_F32);
            fill->attrs.generate.value_dtype = SD_DT_F32;
            cr_assert_eq(pass_shape_node(md.g, fill, &po, &err), SD_OK, "%s", err.msg);
            zero = fill->outputs[0];
        }
        md.frozen->grad = zero;
        po.stop_after = NULL;
        cr_assert_eq(pass_optimizer(md.g, &po, &err), SD_OK, "%s", err.msg);
        cr_assert_null(updater_of(md.g, md.frozen));
        cr_assert_null(md.frozen->grad);
        cr_assert_not_null(updater_of(md.g, md.w));
        cr_assert_eq(pass_dce(md.g, &po, &err), SD_OK);
        cr_assert_eq(ir_verify(md.g, true, &err), SD_OK, "%s", err.msg);
        ir_graph_free(md.g);
    }
}

Test(optimizer, sgd_without_momentum_needs_no_state_and_lars_excludes_biases)
{
    float w0[K * M] = {0}, b0[M] = {0};
    Model md = build_model(w0, b0);
    PassTrainOptions t = pass_train_defaults(PASS_OPTIM_SGD);
    SdError err = {0};
    cr_assert_eq(run_training_pipeline(md.g, &t, &err), SD_OK, "%s", err.msg);
    cr_assert_null(ir_graph_find_value(md.g, "fc.weight.momentum_buffer"));
    cr_assert_null(ir_graph_find_value(md.g, "optimizer.step"));
    cr_assert_eq(updater_of(md.g, md.w)->op, IR_OP_SGD_UPDATE);
    /* W's update follows dW at once, before db is computed: dW's memory is free from there on */
    int at_update = -1, at_db = -1, at_dw = -1;
    for (int k = 0; k < ir_graph_num_nodes(md.g); k++) {
        const IrNode *n = ir_graph_node(md.g, k);
        at_update = n == updater_of(md.g, md.w) ? k : at_update;
        at_db = strcmp(n->name, "db") == 0 ? k : at_db;
        at_dw = n->n_outputs && n->outputs[0] == updater_of(md.g, md.w)->inputs[1] ? k : at_dw;
    }
    cr_assert(at_dw >= 0 && at_update == at_dw + 1 && at_db > at_update, "dW %d, update %d, db %d", at_dw, at_update,
              at_db);
    ir_graph_free(md.g);

    md = build_model(w0, b0);
    t = pass_train_defaults(PASS_OPTIM_LARS);
    t.weight_decay = 1e-6;
    cr_assert_eq(run_training_pipeline(md.g, &t, &err), SD_OK, "%s", err.msg);
    expect_zero_state(md.g, "fc.weight.momentum_buffer", SD_DT_F32, K * M);
    expect_zero_state(md.g, "fc.bias.momentum_buffer", SD_DT_F32, M);
    const IrNode *uw = updater_of(md.g, md.w), *ub = updater_of(md.g, md.b);
    cr_assert_eq(uw->op, IR_OP_LARS_UPDATE);
    cr_assert_eq(uw->attrs.update.trust_coefficient, 0.001);
    cr_assert_eq(ub->op, IR_OP_SGD_UPDATE, "excluded from LARS: momentum SGD");
    cr_assert_eq(ub->attrs.update.momentum, 0.9);
    cr_assert_eq(ub->attrs.update.weight_decay, 0.0);
    cr_assert(!ub->attrs.update.nesterov);
    ir_graph_free(md.g);
}

Test(optimizer, refuses_bad_configurations_with_a_sentence)
{
    float w0[K * M] = {0}, b0[M] = {0};
    SdError err = {0};
    struct {
        PassTrainOptions t;
        const char *msg;
    } bad[] = {
        {{.optimizer = PASS_OPTIM_SGD, .nesterov = true}, "Nesterov momentum needs SGD with a momentum > 0"},
        {{.optimizer = PASS_OPTIM_SGD, .momentum = 1.0}, "momentum 1 is outside [0, 1)"},
        {{.optimizer = PASS_OPTIM_SGD, .weight_decay = -1}, "weight decay -1 is negative"},
        {{.optimizer = PASS_OPTIM_SGD, .clip_grad_norm = -2}, "gradient clipping norm -2 is negative"},
        {{.optimizer = PASS_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 1.5}, "betas (0.9, 1.5)"},
        {{.optimizer = PASS_OPTIM_LARS, .momentum = 0.9}, "LARS trust coefficient 0 must be > 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Model md = build_model(w0, b0);
        cr_assert_eq(run_training_pipeline(md.g, &bad[i].t, &err), SD_EUSAGE, "case %zu", i);
        cr_assert(strstr(err.msg, "linear.sd: ") && strstr(err.msg, bad[i].msg), "case %zu: %s", i, err.msg);
        ir_graph_free(md.g);
    }

    /* "lr" is taken by something that is not the learning rate */
    Model md = build_model(w0, b0);
    IrShape s = ir_shape_make(1, (int64_t[]){4});
    IrValue *lr = ir_value_new(md.g, "lr", SD_DT_F32, &s);
    lr->role = IR_ROLE_INPUT;
    ir_graph_add_input(md.g, lr);
    cr_assert_eq(run_training_pipeline(md.g, NULL, &err), SD_EUSAGE);
    cr_assert(strstr(err.msg, "'lr' must be a graph input holding the learning rate, an f32 scalar; it is an input "
                              "f32[4]"), "%s", err.msg);
    ir_graph_free(md.g);

    /* the training pipeline differentiates graph output 0, which must be the loss */
    md = build_model(w0, b0);
    ir_graph_set_output(md.g, 0, md.w);
    PassOptions po = {.eval = eval, .verify = true};
    cr_assert_eq(pass_run_pipeline(md.g, "training", &po, &err), SD_EUSAGE);
    cr_assert(strstr(err.msg, "linear.sd: graph output 0 ('fc.weight') is the loss and must be an f32 scalar; it is "
                              "f32[5,3]"), "%s", err.msg);
    ir_graph_free(md.g);
}

Test(optimizer, training_pipeline_lists_its_passes)
{
    const char *const *names = pass_pipeline_names("training");
    cr_assert_not_null(names);
    const char *want[] = {"shape", "canonicalize", "fold", "autodiff", "optimizer", "canonicalize", "fold", "dce",
                          "bnrelu", "quantize", "fuse", "memplan"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_str_eq(names[i], want[i]);
    cr_assert_null(names[sizeof want / sizeof want[0]]);
    cr_assert(pass_is_known("optimizer") && pass_is_known("autodiff") && pass_is_known("bnrelu"));
}
