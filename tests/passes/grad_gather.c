/* tests/passes/grad_gather.c — Gather and GatherElements gradients (repeated and negative
 * indices add up where the forward read) by finite differences, and the scatter-add kernel on an
 * embedding-sized case against a reference. */
#include "fd.h"

typedef struct {
    IrOp op;
    int64_t axis;
} GatherCase;

static IrValue *build_gather(IrGraph *g, IrValue *const *in, void *ctx)
{
    const GatherCase *c = ctx;
    IrAttrs a = {0};
    a.gather.axis = c->axis;
    IrValue *y = fd_op(g, c->op, in, 2, &a);
    return fd_op(g, IR_OP_TANH, &y, 1, NULL);
}

Test(grad_gather, gather_with_repeated_and_negative_indices)
{
    int64_t dx[3] = {5, 4, 3};
    float *x = fd_rand(1, 60, -2, 2);
    int64_t idx[2][3] = {{0, 4, 0}, {-1, 2, 4}}; /* 0 twice, -1 is 4 again */
    int64_t di[2] = {2, 3};
    GatherCase c0 = {IR_OP_GATHER, 0};
    FdInput in[2] = {fd_f32(3, dx, x), fd_fixed(SD_DT_I64, 2, di, idx)};
    fd_check_all("gather axis 0", in, 2, build_gather, &c0, NULL);
    int32_t idx1[2] = {3, -4}; /* axis 1 has 4: -4 is 0 */
    GatherCase c1 = {IR_OP_GATHER, -2};
    FdInput in1[2] = {fd_f32(3, dx, x), fd_fixed(SD_DT_I32, 1, (int64_t[]){2}, idx1)};
    fd_check_all("gather axis 1, i32", in1, 2, build_gather, &c1, NULL);
    int64_t scalar = 2;
    GatherCase c2 = {IR_OP_GATHER, 2};
    FdInput in2[2] = {fd_f32(3, dx, x), fd_fixed(SD_DT_I64, 0, dx, &scalar)};
    fd_check_all("gather scalar index", in2, 2, build_gather, &c2, NULL);
    free(x);
}

Test(grad_gather, gather_elements)
{
    int64_t dx[2] = {3, 4}, di[2] = {2, 4};
    float *x = fd_rand(2, 12, -2, 2);
    int64_t idx[8] = {0, 2, 2, 1, -1, 0, 2, 2};
    GatherCase c = {IR_OP_GATHER_ELEMENTS, 0};
    FdInput in[2] = {fd_f32(2, dx, x), fd_fixed(SD_DT_I64, 2, di, idx)};
    fd_check_all("gather_elements axis 0", in, 2, build_gather, &c, NULL);
    int64_t di1[2] = {3, 2}, idx1[6] = {3, 3, 0, 1, 2, -2};
    GatherCase c1 = {IR_OP_GATHER_ELEMENTS, 1};
    FdInput in1[2] = {fd_f32(2, dx, x), fd_fixed(SD_DT_I64, 2, di1, idx1)};
    fd_check_all("gather_elements axis 1", in1, 2, build_gather, &c1, NULL);
    free(x);
}

Test(grad_gather, embedding_gradient_kernel_adds_repeats)
{
    /* a [1000, 33] table, 257 lookups with many repeats */
    const int64_t V = 1000, E = 33, B = 257;
    int64_t dd[2] = {V, E}, di[1] = {B}, dg[2] = {B, E};
    int64_t *idx = malloc((size_t)B * sizeof *idx);
    for (int64_t i = 0; i < B; i++)
        idx[i] = (i * i * 7 + 3) % 50 - (i % 5 == 0 ? 50 : 0); /* 0..49, some negative: -50..-1 -> 950..999 */
    float *dy = fd_rand(3, B * E, -1, 1);
    float *table = fd_rand(4, V * E, -1, 1);
    IrGraph *g = ir_graph_new("embed_grad");
    ir_graph_set_source(g, "embed_grad");
    IrValue *gv = fd_graph_input(g, "dy", SD_DT_F32, 2, dg), *iv = fd_graph_input(g, "idx", SD_DT_I64, 1, di);
    IrValue *tv = fd_graph_input(g, "table", SD_DT_F32, 2, dd);
    IrValue *dx = fd_op(g, IR_OP_GATHER_GRAD, (IrValue *[]){gv, iv, tv}, 3, NULL);
    ir_graph_add_output(g, dx);
    int64_t n;
    float *got = fd_eval(g, false, (void *[]){dy, idx, table}, &n);
    cr_assert_eq(n, V * E);
    double *want = calloc((size_t)(V * E), sizeof *want);
    for (int64_t i = 0; i < B; i++) {
        int64_t r = idx[i] < 0 ? idx[i] + V : idx[i];
        for (int64_t e = 0; e < E; e++)
            want[r * E + e] += dy[i * E + e];
    }
    fd_expect_close(got, want, V * E, 1e-6, 1e-6, "embedding gradient");
    free(idx), free(dy), free(table), free(got), free(want);
}
