/* tests/passes/grad_reduce.c — gradients of reductions by finite differences (one axis, several,
 * all, keepdims on and off, no axes with noop_with_empty_axes), the even split of ReduceMax/Min
 * ties, and ReduceL2 at a zero norm. */
#include "fd.h"

typedef struct {
    IrOp op;
    int n_axes;
    int64_t axes[3];
    bool keepdims, noop;
} RedCase;

static IrValue *build_reduce(IrGraph *g, IrValue *const *in, void *ctx)
{
    const RedCase *r = ctx;
    IrAttrs a = {0};
    a.reduce.keepdims = r->keepdims;
    a.reduce.noop_with_empty_axes = r->noop;
    IrValue *ins[2] = {in[0], r->n_axes ? fd_ints(g, r->axes, r->n_axes) : NULL};
    IrValue *y = fd_op(g, r->op, ins, r->n_axes ? 2 : 1, &a);
    return fd_op(g, IR_OP_TANH, &y, 1, NULL); /* not linear in y */
}

Test(grad_reduce, every_reduction_and_axis_set)
{
    const IrOp ops[] = {IR_OP_REDUCE_SUM, IR_OP_REDUCE_MEAN, IR_OP_REDUCE_MAX, IR_OP_REDUCE_MIN,
                        IR_OP_REDUCE_SUM_SQUARE, IR_OP_REDUCE_L1, IR_OP_REDUCE_L2, IR_OP_REDUCE_LOG_SUM,
                        IR_OP_REDUCE_LOG_SUM_EXP};
    const RedCase axis_sets[] = {
        {.n_axes = 1, .axes = {1}, .keepdims = true},
        {.n_axes = 2, .axes = {0, -1}, .keepdims = false},
        {.n_axes = 0, .keepdims = false}, /* all */
        {.n_axes = 0, .noop = true},      /* none */
    };
    int64_t dims[3] = {2, 3, 4};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        for (size_t s = 0; s < sizeof axis_sets / sizeof axis_sets[0]; s++) {
            RedCase r = axis_sets[s];
            r.op = ops[k];
            /* distinct values (no ties) on a grid of 0.25, away from 0 (L1's kink); positive for LogSum */
            float *x = malloc(24 * sizeof *x);
            for (int i = 0; i < 24; i++)
                x[i] = (float)((i * 7) % 24 + 1) * 0.25f * (ops[k] == IR_OP_REDUCE_LOG_SUM || i % 3 ? 1.0f : -1.0f);
            if (ops[k] == IR_OP_REDUCE_SUM_SQUARE || ops[k] == IR_OP_REDUCE_L2 || ops[k] == IR_OP_REDUCE_LOG_SUM_EXP)
                for (int i = 0; i < 24; i++)
                    x[i] *= 0.2f; /* keeps tanh of the result off its flat tails */
            FdInput in = fd_f32(3, dims, x);
            char what[80];
            snprintf(what, sizeof what, "%s axes case %zu", ir_op_name(ops[k]), s);
            FdOptions o = {.step = ops[k] == IR_OP_REDUCE_MAX || ops[k] == IR_OP_REDUCE_MIN ? 1e-3 : 1e-2};
            fd_check_all(what, &in, 1, build_reduce, &r, &o);
            free(x);
        }
}

static IrValue *build_reduce_plain(IrGraph *g, IrValue *const *in, void *ctx)
{
    const RedCase *r = ctx;
    IrAttrs a = {0};
    a.reduce.keepdims = r->keepdims;
    IrValue *ins[2] = {in[0], fd_ints(g, r->axes, r->n_axes)};
    return fd_op(g, r->op, ins, 2, &a);
}

Test(grad_reduce, ties_share_the_gradient_evenly)
{
    /* rows [3, 1, 3, 2] and [5, 5, 5, 5]: the maximum is taken 2 and 4 times */
    int64_t dims[2] = {2, 4};
    float x[8] = {3, 1, 3, 2, 5, 5, 5, 5};
    RedCase r = {.op = IR_OP_REDUCE_MAX, .n_axes = 1, .axes = {1}};
    FdInput in = fd_f32(2, dims, x);
    float *grad, loss;
    /* loss = sum(w * max): w from fd_rand(977 + 2) for the two rows */
    cr_assert_eq(fd_gradients("ties", &in, 1, build_reduce_plain, &r, NULL, &grad, &loss), 1);
    float *w = fd_rand(977u + 2u, 2, -1.0f, 1.0f);
    float want[8] = {w[0] / 2, 0, w[0] / 2, 0, w[1] / 4, w[1] / 4, w[1] / 4, w[1] / 4};
    for (int i = 0; i < 8; i++)
        cr_assert_float_eq(grad[i], want[i], 1e-6, "element %d is %g, expected %g", i, (double)grad[i], (double)want[i]);
    free(grad), free(w);
    /* ReduceMin: the minimum 1 is unique in row 0 */
    r.op = IR_OP_REDUCE_MIN;
    cr_assert_eq(fd_gradients("ties min", &in, 1, build_reduce_plain, &r, NULL, &grad, &loss), 1);
    w = fd_rand(977u + 2u, 2, -1.0f, 1.0f);
    float want_min[8] = {0, w[0], 0, 0, w[1] / 4, w[1] / 4, w[1] / 4, w[1] / 4};
    for (int i = 0; i < 8; i++)
        cr_assert_float_eq(grad[i], want_min[i], 1e-6, "min element %d is %g", i, (double)grad[i]);
    free(grad), free(w);
}

Test(grad_reduce, l2_norm_of_zeros_has_a_zero_gradient)
{
    int64_t dims[2] = {2, 3};
    float x[6] = {0, 0, 0, 1, 2, 2};
    RedCase r = {.op = IR_OP_REDUCE_L2, .n_axes = 1, .axes = {1}};
    FdInput in = fd_f32(2, dims, x);
    float *grad, loss;
    cr_assert_eq(fd_gradients("l2 zero", &in, 1, build_reduce_plain, &r, NULL, &grad, &loss), 1);
    float *w = fd_rand(977u + 2u, 2, -1.0f, 1.0f);
    float want[6] = {0, 0, 0, w[1] / 3, 2 * w[1] / 3, 2 * w[1] / 3};
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(grad[i], want[i], 1e-6, "element %d is %g, expected %g", i, (double)grad[i], (double)want[i]);
    free(grad), free(w);
}
