/* tests/passes/grad_binary.c — gradients of broadcasting binary ops by finite differences
 * (operands broadcast both ways, scalars, leading dims added), the even split of Max/Min ties,
 * PRelu's slope and Where's selection. */
#include "fd.h"

typedef struct {
    IrOp op;
} BinCase;

static IrValue *build_binary(IrGraph *g, IrValue *const *in, void *ctx)
{
    const BinCase *b = ctx;
    return fd_op(g, b->op, in, 2, NULL);
}

/* Shapes that broadcast: [2,3,4] with [3,1], [4] with [2,1,4], a scalar, equal shapes. */
static const struct {
    int ra, rb;
    int64_t da[3], db[3];
} shapes[] = {
    {3, 2, {2, 3, 4}, {3, 1}},
    {1, 3, {4}, {2, 1, 4}},
    {2, 0, {3, 5}, {0}},
    {2, 2, {3, 4}, {3, 4}},
};

Test(grad_binary, arithmetic_with_broadcasting)
{
    const IrOp ops[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV, IR_OP_POW, IR_OP_MAX, IR_OP_MIN};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            BinCase b = {ops[k]};
            int64_t na = fd_numel(shapes[s].ra, shapes[s].da), nb = fd_numel(shapes[s].rb, shapes[s].db);
            /* Pow: a positive base; Div: a divisor away from 0; Max/Min: operands far apart (no ties) */
            float lo = ops[k] == IR_OP_POW ? 0.5f : -2.0f;
            float *a = fd_rand(11 + (uint32_t)(k * 7 + s), na, lo, 2.0f);
            float *bb = fd_rand(23 + (uint32_t)(k * 7 + s), nb, -2.0f, 2.0f);
            for (int64_t i = 0; i < nb; i++) {
                if (ops[k] == IR_OP_DIV)
                    bb[i] = bb[i] < 0 ? bb[i] - 0.5f : bb[i] + 0.5f;
                if (ops[k] == IR_OP_POW)
                    bb[i] *= 0.75f;
            }
            if (ops[k] == IR_OP_MAX || ops[k] == IR_OP_MIN) /* a on a grid of 0.5s, b off it by >= 0.1 */
                for (int64_t i = 0; i < na; i++)
                    a[i] = roundf(a[i] * 2) / 2;
            if (ops[k] == IR_OP_MAX || ops[k] == IR_OP_MIN)
                for (int64_t i = 0; i < nb; i++)
                    bb[i] = roundf(bb[i] * 2) / 2 + 0.2f;
            FdInput in[2] = {fd_f32(shapes[s].ra, shapes[s].da, a), fd_f32(shapes[s].rb, shapes[s].db, bb)};
            char what[64];
            snprintf(what, sizeof what, "%s case %zu", ir_op_name(ops[k]), s);
            fd_check_all(what, in, 2, build_binary, &b, NULL);
            free(a), free(bb);
        }
}

static IrValue *build_binary_sum(IrGraph *g, IrValue *const *in, void *ctx)
{
    IrValue *y = build_binary(g, in, ctx);
    return fd_op(g, IR_OP_REDUCE_SUM, &y, 1, NULL);
}

Test(grad_binary, max_and_min_split_ties_evenly)
{
    int64_t dims[1] = {6};
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 3, 9, 5, -1};
    for (int op = 0; op < 2; op++) {
        BinCase c = {op ? IR_OP_MIN : IR_OP_MAX};
        FdInput in[2] = {fd_f32(1, dims, a), fd_f32(1, dims, b)};
        float *grads[2];
        FdOptions o = {.unweighted = true};
        /* loss = sum(max(a, b)): each element's 1 goes to the winner, half to each on a tie */
        int n = fd_gradients("ties", in, 2, build_binary_sum, &c, &o, grads, NULL);
        cr_assert_eq(n, 2);
        for (int i = 0; i < 6; i++) {
            bool tie = a[i] == b[i], a_wins = op ? a[i] < b[i] : a[i] > b[i];
            float want_a = tie ? 0.5f : a_wins ? 1.0f : 0.0f;
            cr_assert_eq(grads[0][i], want_a, "%s: d/da[%d] is %g", ir_op_name(c.op), i, (double)grads[0][i]);
            cr_assert_eq(grads[1][i], 1.0f - want_a, "%s: d/db[%d] is %g", ir_op_name(c.op), i, (double)grads[1][i]);
        }
        free(grads[0]), free(grads[1]);
    }
}

Test(grad_binary, prelu_input_and_slope)
{
    /* x [2, 3, 4] with one slope per channel [3, 1], and a scalar slope */
    int64_t dx[3] = {2, 3, 4}, ds[2] = {3, 1};
    float *x = fd_rand(3, 24, -2, 2), *slope = fd_rand(4, 3, 0.05f, 0.5f);
    for (int i = 0; i < 24; i++)
        if (fabsf(x[i]) < 0.1f)
            x[i] = x[i] < 0 ? -0.1f : 0.1f;
    BinCase c = {IR_OP_PRELU};
    FdInput in[2] = {fd_f32(3, dx, x), fd_f32(2, ds, slope)};
    fd_check_all("prelu per channel", in, 2, build_binary, &c, NULL);
    in[1] = fd_f32(0, ds, slope);
    fd_check_all("prelu scalar slope", in, 2, build_binary, &c, NULL);
    free(x), free(slope);
}

static IrValue *build_where(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    return fd_op(g, IR_OP_WHERE, (IrValue *[]){in[2], in[0], in[1]}, 3, NULL);
}

Test(grad_binary, where_routes_by_the_condition)
{
    /* cond [2, 1, 4] broadcast against a [3, 4] and b [2, 3, 1] */
    int64_t dc[3] = {2, 1, 4}, da[2] = {3, 4}, db[3] = {2, 3, 1};
    bool cond[8] = {1, 0, 0, 1, 1, 1, 0, 0};
    float *a = fd_rand(5, 12, -2, 2), *b = fd_rand(6, 6, -2, 2);
    FdInput in[3] = {fd_f32(2, da, a), fd_f32(3, db, b), fd_fixed(SD_DT_BOOL, 3, dc, cond)};
    fd_check_all("where", in, 3, build_where, NULL, NULL);
    free(a), free(b);
}

static IrValue *build_mixed(IrGraph *g, IrValue *const *in, void *ctx)
{
    (void)ctx;
    /* (a * b - a / (b * b + 1)) ^ 2 + max(a, 0.3) with a [4, 1, 3], b [5, 1] */
    IrValue *ab = fd_op(g, IR_OP_MUL, in, 2, NULL);
    IrValue *bb = fd_op(g, IR_OP_MUL, (IrValue *[]){in[1], in[1]}, 2, NULL);
    IrValue *den = fd_op(g, IR_OP_ADD, (IrValue *[]){bb, fd_scalar(g, 1.0f)}, 2, NULL);
    IrValue *q = fd_op(g, IR_OP_DIV, (IrValue *[]){in[0], den}, 2, NULL);
    IrValue *d = fd_op(g, IR_OP_SUB, (IrValue *[]){ab, q}, 2, NULL);
    IrValue *sq = fd_op(g, IR_OP_POW, (IrValue *[]){d, fd_scalar(g, 2.0f)}, 2, NULL);
    IrValue *m = fd_op(g, IR_OP_MAX, (IrValue *[]){in[0], fd_scalar(g, 0.3f)}, 2, NULL);
    return fd_op(g, IR_OP_ADD, (IrValue *[]){sq, m}, 2, NULL);
}

Test(grad_binary, composite_expression)
{
    int64_t da[3] = {4, 1, 3}, db[2] = {5, 1};
    float *a = fd_rand(7, 12, -1, 1), *b = fd_rand(8, 5, -1, 1);
    for (int i = 0; i < 12; i++)
        if (fabsf(a[i] - 0.3f) < 0.05f)
            a[i] = 0.4f;
    FdInput in[2] = {fd_f32(3, da, a), fd_f32(2, db, b)};
    fd_check_all("composite", in, 2, build_mixed, NULL, NULL);
    free(a), free(b);
}

Test(grad_binary, pow_exponent_gradient_is_zero_at_a_zero_base)
{
    int64_t dims[1] = {3};
    float a[3] = {0.0f, 2.0f, 0.5f}, b[3] = {2.0f, 1.5f, 3.0f};
    BinCase c = {IR_OP_POW};
    FdInput in[2] = {fd_f32(1, dims, a), fd_f32(1, dims, b)};
    FdOptions o = {.unweighted = true};
    float *grads[2];
    cr_assert_eq(fd_gradients("pow at 0", in, 2, build_binary_sum, &c, &o, grads, NULL), 2);
    for (int i = 0; i < 3; i++) {
        double da = b[i] * pow(a[i], b[i] - 1), db = a[i] == 0 ? 0 : pow(a[i], b[i]) * log(a[i]);
        cr_assert_float_eq(grads[0][i], da, 1e-5, "d/da[%d] is %g, expected %g", i, (double)grads[0][i], da);
        cr_assert_float_eq(grads[1][i], db, 1e-5, "d/db[%d] is %g, expected %g", i, (double)grads[1][i], db);
    }
    free(grads[0]), free(grads[1]);
}
