/* tests/codegen/softmax.c — Softmax, LogSoftmax and Hardmax against a naive double reference:
 * a strided axis (axis 1 of a 4-D tensor), odd and long rows, the opset < 13 flattening, huge and
 * -inf inputs (stability, masking) and Hardmax ties. JIT and constant folding both. */
#include "single_node.h"

typedef struct {
    int64_t axis;
    bool flatten;
} SoftmaxSetup;

static void setup_softmax(IrNode *n, void *ctx)
{
    const SoftmaxSetup *s = ctx;
    n->attrs.softmax.axis = s->axis;
    n->attrs.softmax.flatten_trailing = s->flatten;
}

/* Reference over [outer, len, inner]. */
static void reference(IrOp op, const float *x, int64_t outer, int64_t len, int64_t inner, double *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xs = x + o * len * inner + i;
            double *ys = y + o * len * inner + i;
            double m = -INFINITY, s = 0;
            int64_t arg = 0;
            for (int64_t j = 0; j < len; j++)
                if (xs[j * inner] > m)
                    m = xs[j * inner], arg = j;
            for (int64_t j = 0; j < len; j++)
                s += exp(xs[j * inner] - m);
            for (int64_t j = 0; j < len; j++) {
                double v = xs[j * inner];
                ys[j * inner] = op == IR_OP_SOFTMAX ? exp(v - m) / s : op == IR_OP_LOG_SOFTMAX ? v - m - log(s) : j == arg;
            }
        }
}

static void check(IrOp op, const float *x, int rank, const int64_t *dims, int64_t axis, bool flatten, double rtol,
                  const char *what)
{
    int64_t n = sn_numel(rank, dims), outer = 1, len = 1, inner = 1;
    int64_t ax = axis < 0 ? axis + rank : axis;
    for (int d = 0; d < rank; d++)
        *(d < ax ? &outer : (d == ax || flatten) ? &len : &inner) *= dims[d];
    double *want = malloc((size_t)n * sizeof *want);
    reference(op, x, outer, len, inner, want);
    SoftmaxSetup s = {axis, flatten};
    for (int fold = 0; fold < 2; fold++) {
        SnOperand in = {SD_DT_F32, rank, {0}, x, false};
        memcpy(in.dims, dims, (size_t)rank * sizeof dims[0]);
        RtTensor y;
        SdError err = {0};
        cr_assert_eq(sn_run(op, &in, 1, SD_DT_F32, setup_softmax, &s, fold, &y, &err), SD_OK, "%s: %s", what, err.msg);
        char label[160];
        snprintf(label, sizeof label, "%s %s (%s)", ir_op_name(op), what, fold ? "folded" : "jit");
        sn_expect_close(y.data, want, n, rtol, 1e-7, label);
        rt_tensor_free(&y);
    }
    free(want);
}

static const IrOp ops[] = {IR_OP_SOFTMAX, IR_OP_LOG_SOFTMAX, IR_OP_HARDMAX};

Test(softmax, axis_1_of_a_4d_tensor)
{
    const int64_t dims[4] = {2, 5, 3, 7};
    float x[2 * 5 * 3 * 7];
    sn_fill(x, 210, 3, -4, 4);
    for (int k = 0; k < 3; k++) {
        check(ops[k], x, 4, dims, 1, false, 1e-5, "axis 1 of [2,5,3,7]");
        check(ops[k], x, 4, dims, -2, false, 1e-5, "axis -2 of [2,5,3,7]");
        check(ops[k], x, 4, dims, 0, false, 1e-5, "axis 0 of [2,5,3,7]");
    }
}

Test(softmax, odd_and_long_rows)
{
    static float x[3 * 100003];
    sn_fill(x, 3 * 100003, 11, -20, 20);
    for (int k = 0; k < 3; k++) {
        check(ops[k], x, 2, (int64_t[]){3, 100003}, 1, false, 1e-5, "rows of 100003");
        check(ops[k], x, 3, (int64_t[]){37, 1, 17}, -1, false, 1e-5, "rows of 17");
        /* enough slabs to share out over threads: rows, and columns with each thread's workspace */
        check(ops[k], x, 2, (int64_t[]){4001, 33}, 1, false, 1e-5, "4001 rows of 33");
        check(ops[k], x, 3, (int64_t[]){97, 33, 9}, 1, false, 1e-5, "97 slabs of 33 x 9");
        check(ops[k], x, 1, (int64_t[]){1}, 0, false, 1e-6, "one element");
    }
}

Test(softmax, opset_12_flattens_the_trailing_axes)
{
    float x[2 * 3 * 4 * 5];
    sn_fill(x, 120, 5, -3, 3);
    for (int k = 0; k < 3; k++) {
        check(ops[k], x, 4, (int64_t[]){2, 3, 4, 5}, 1, true, 1e-5, "flattened from axis 1");
        check(ops[k], x, 4, (int64_t[]){2, 3, 4, 5}, 0, true, 1e-5, "flattened from axis 0");
    }
}

Test(softmax, large_values_and_masked_entries)
{
    float x[2 * 6] = {10000, 10001, 10002, -INFINITY, 10003, 9000, /**/ -1e30f, -INFINITY, 0, 1, -INFINITY, 2};
    for (int k = 0; k < 2; k++) {
        check(ops[k], x, 2, (int64_t[]){2, 6}, 1, false, 1e-5, "huge and -inf inputs");
        check(ops[k], x, 2, (int64_t[]){2, 6}, 0, false, 1e-5, "huge and -inf inputs down columns");
    }
}

Test(softmax, hardmax_takes_the_first_of_ties)
{
    const float x[2 * 4] = {3, 7, 7, 1, /**/ 2, 2, 2, 2};
    check(IR_OP_HARDMAX, x, 2, (int64_t[]){2, 4}, 1, false, 0, "ties along rows");
    check(IR_OP_HARDMAX, x, 2, (int64_t[]){2, 4}, 0, false, 0, "ties down columns");
}

Test(softmax, rejects_non_float_input)
{
    int64_t x[4] = {1, 2, 3, 4};
    SoftmaxSetup s = {-1, false};
    SnOperand in = {SD_DT_I64, 1, {4}, x, false};
    RtTensor y;
    SdError err = {0};
    cr_assert_eq(sn_run(IR_OP_SOFTMAX, &in, 1, SD_DT_I64, setup_softmax, &s, false, &y, &err), SD_EDTYPE);
    cr_assert(strstr(err.msg, "node_under_test") && strstr(err.msg, "f32"), "message was: %s", err.msg);
}
