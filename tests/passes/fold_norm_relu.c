/* tests/passes/fold_norm_relu.c — bnrelu: a ReLU after a training BatchNorm and its gradient fold
 * into the BatchNorm and its gradient, and a residual Add before the ReLU into the BatchNorm; the
 * step computes the same bits as without the fold, for [N, C, H, W] after a convolution, with a
 * residual, and for [N, C]; a BatchNorm output something else reads too is left alone. (The gradients themselves are checked against finite differences unfolded, in
 * grad_norm.c and grad_unary.c, and with the fold in the ResNet training golden test.) */
#include "tests/passes/fd.h"

static IrValue *op2(IrGraph *g, IrOp op, IrValue *a, IrValue *b) { return fd_op(g, op, (IrValue *[]){a, b}, 2, NULL); }

static IrValue *bn_relu(IrGraph *g, IrValue *x, IrValue *scale, IrValue *bias)
{
    IrAttrs bn = {.norm = {.epsilon = 1e-5f, .momentum = 0.9f, .training = true}};
    IrValue *z = fd_op(g, IR_OP_BATCH_NORM, (IrValue *[]){x, scale, bias, scale, bias}, 5, &bn);
    return fd_op(g, IR_OP_RELU, (IrValue *[]){z}, 1, NULL);
}

typedef struct {
    bool conv;       /* in[0] is an image batch convolved with in[3] first; else [N, C] */
    bool extra_read; /* something else reads the BatchNorm's output too */
    bool residual;   /* relu(bn(conv(x)) + conv1x1(x, in[4])) */
} Spec;

static IrValue *build(IrGraph *g, IrValue *const *in, void *ctx)
{
    const Spec *s = ctx;
    IrValue *x = in[0];
    if (s->conv) {
        IrAttrs ca = {.conv = {.nspatial = 2, .groups = 1, .strides = {1, 1}, .dilations = {1, 1}, .pads = {1, 1, 1, 1}}};
        x = fd_op(g, IR_OP_CONV, (IrValue *[]){x, in[3]}, 2, &ca);
    }
    IrValue *y;
    if (s->residual) {
        IrAttrs pa = {.conv = {.nspatial = 2, .groups = 1, .strides = {1, 1}, .dilations = {1, 1}}};
        IrValue *skip = fd_op(g, IR_OP_CONV, (IrValue *[]){in[0], in[4]}, 2, &pa);
        IrAttrs bn = {.norm = {.epsilon = 1e-5f, .momentum = 0.9f, .training = true}};
        IrValue *z = fd_op(g, IR_OP_BATCH_NORM, (IrValue *[]){x, in[1], in[2], in[1], in[2]}, 5, &bn);
        y = fd_op(g, IR_OP_RELU, (IrValue *[]){op2(g, IR_OP_ADD, z, skip)}, 1, NULL);
    } else {
        y = bn_relu(g, x, in[1], in[2]);
    }
    if (s->extra_read) /* y + the unclamped output: z has two readers */
        y = op2(g, IR_OP_ADD, y, y->producer->inputs[0]);
    return op2(g, IR_OP_MUL, y, y); /* a loss that is not linear in y */
}

/* loss and gradients of the step with and without the fold, and how many ReLUs the folded one kept */
static void step(const Spec *s, FdInput *in, int n_in, const char *disable, float *loss, float **grads)
{
    FdOptions o = {.disable = disable};
    *loss = 0;
    fd_gradients(disable ? "unfolded" : "folded", in, n_in, build, (void *)s, &o, grads, loss);
}

/* ReLUs, their gradients and Adds left after the training pipeline; *folded: a BatchNorm took one */
static int count_relus(const Spec *s, FdInput *in, int n_in, const char *disable, bool *folded, int *grads, int *adds)
{
    SdError err = {0};
    IrGraph *g = ir_graph_new("count");
    ir_graph_set_source(g, "count");
    IrValue *vals[FD_MAX_INPUTS];
    for (int i = 0; i < n_in; i++)
        vals[i] = fd_input_value(g, &in[i], i, i > 0);
    IrValue *y = build(g, vals, (void *)s);
    PassOptions po = {.eval = fd_eval_hook, .verify = true};
    cr_assert_eq(pass_shape(g, &po, &err), SD_OK, "%s", err.msg);
    IrNode *sum = ir_node_new1(g, IR_OP_REDUCE_SUM, "loss", (IrValue *[]){y}, 1, SD_DT_F32);
    cr_assert_eq(pass_shape_node(g, sum, &po, &err), SD_OK, "%s", err.msg);
    ir_graph_add_output(g, sum->outputs[0]);
    cr_assert_eq(fd_train_pipeline(g, sum->outputs[0], disable, &err), SD_OK, "%s", err.msg);
    int relus = 0;
    *folded = false, *grads = 0, *adds = 0;
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        const IrNode *n = ir_graph_node(g, k);
        relus += n->op == IR_OP_RELU;
        *grads += n->op == IR_OP_UNARY_GRAD && n->attrs.unary.grad_of == IR_OP_RELU;
        *adds += n->op == IR_OP_ADD;
        *folded |= (n->op == IR_OP_BATCH_NORM || n->op == IR_OP_BATCH_NORM_GRAD) && n->attrs.norm.relu;
    }
    ir_graph_free(g);
    return relus;
}

static void check(const char *what, const Spec *s, FdInput *in, int n_in)
{
    float l0, l1, *g0[FD_MAX_INPUTS], *g1[FD_MAX_INPUTS];
    step(s, in, n_in, NULL, &l0, g0);
    step(s, in, n_in, "bnrelu", &l1, g1);
    cr_assert(memcmp(&l0, &l1, sizeof l0) == 0, "%s: loss %.9g folded, %.9g not", what, l0, l1);
    for (int i = 1; i < n_in; i++) {
        const int64_t n = fd_numel(in[i].rank, in[i].dims);
        cr_assert(memcmp(g0[i - 1], g1[i - 1], (size_t)n * sizeof(float)) == 0,
                  "%s: the gradient of input %d differs with the fold", what, i);
        free(g0[i - 1]), free(g1[i - 1]);
    }
    bool folded, unfolded_flag;
    int grads, adds, all_grads, all_adds;
    const int kept = count_relus(s, in, n_in, NULL, &folded, &grads, &adds);
    const int all = count_relus(s, in, n_in, "bnrelu", &unfolded_flag, &all_grads, &all_adds);
    cr_assert(!unfolded_flag && all == 1 && all_grads == 1, "%s: without the fold: %d ReLUs, %d gradients", what, all,
              all_grads);
    if (s->extra_read) {
        cr_assert(!folded && kept == 1 && grads == 1, "%s: folded although the BatchNorm output has another reader",
                  what);
    } else if (s->residual) { /* the Add and the ReLU gone; the ReLU's gradient reads the clamped output */
        cr_assert(folded && kept == 0 && grads == 1 && adds == all_adds - 1,
                  "%s: %d ReLUs, %d gradients, %d of %d Adds left after bnrelu", what, kept, grads, adds, all_adds);
    } else {
        cr_assert(folded && kept == 0 && grads == 0, "%s: %d ReLUs, %d gradients left after bnrelu", what, kept, grads);
    }
}

Test(fold_norm_relu, same_bits_with_and_without_the_fold)
{
    const int64_t dx[4] = {4, 3, 6, 6}, dc[1] = {5}, dw[4] = {5, 3, 3, 3}, d2[2] = {64, 24}, dc2[1] = {24};
    float *x = fd_rand(1, 4 * 3 * 36, -1, 1), *sc = fd_rand(2, 5, 0.5f, 1.5f), *b = fd_rand(3, 5, -0.3f, 0.3f);
    float *w = fd_rand(4, 5 * 27, -0.4f, 0.4f);
    FdInput in[4] = {fd_fixed(SD_DT_F32, 4, dx, x), fd_f32(1, dc, sc), fd_f32(1, dc, b), fd_f32(4, dw, w)};
    check("conv, bn, relu", &(Spec){.conv = true}, in, 4);
    check("z read twice", &(Spec){.conv = true, .extra_read = true}, in, 4);
    const int64_t dp[4] = {5, 3, 1, 1};
    float *wp = fd_rand(8, 15, -0.5f, 0.5f);
    FdInput in5[5] = {in[0], in[1], in[2], in[3], fd_f32(4, dp, wp)};
    check("conv, bn, + residual, relu", &(Spec){.conv = true, .residual = true}, in5, 5);
    free(wp);
    float *x2 = fd_rand(5, 64 * 24, -1, 1), *sc2 = fd_rand(6, 24, 0.5f, 1.5f), *b2 = fd_rand(7, 24, -0.3f, 0.3f);
    FdInput in2[3] = {fd_fixed(SD_DT_F32, 2, d2, x2), fd_f32(1, dc2, sc2), fd_f32(1, dc2, b2)};
    check("[N, C]", &(Spec){0}, in2, 3);
    /* planes of at most one vector (4x4) are summed in another order (norm.c): the same bits too */
    const int64_t d4[4] = {6, 3, 4, 4};
    float *x4 = fd_rand(9, 6 * 3 * 16, -1, 1);
    FdInput in4[4] = {fd_fixed(SD_DT_F32, 4, d4, x4), in[1], in[2], in[3]};
    check("conv 4x4, bn, relu", &(Spec){.conv = true}, in4, 4);
    free(x4);
    free(x), free(sc), free(b), free(w), free(x2), free(sc2), free(b2);
}
