/* tests/passes/grad_movement.c — gradients of data movement by finite differences: reshapes,
 * transposes, concat/split (with an output that gets no gradient), slices with steps (negative
 * ones too), constant pads (negative pads crop), expand, tile, depth/space rearrangements. Every
 * op is followed by a smooth nonlinearity so that the gradient it passes on is not constant. */
#include "fd.h"

typedef struct {
    IrOp op;
    IrAttrs attrs;
    int64_t ints[4][2 * IR_MAX_RANK]; /* compile-time inputs 1.. (shape, starts, ends, axes, steps, pads) */
    int n_ints[4];
    int n_outputs;                     /* SPLIT */
    int use_output;                    /* SPLIT: the output that feeds the loss (others too if -1) */
} MoveCase;

static IrValue *build_move(IrGraph *g, IrValue *const *in, void *ctx)
{
    const MoveCase *m = ctx;
    IrValue *ins[5] = {in[0]};
    int n = 1;
    for (int i = 0; i < 4 && m->n_ints[i] >= 0; i++, n++)
        ins[n] = m->n_ints[i] ? fd_ints(g, m->ints[i], m->n_ints[i]) : NULL;
    while (n > 1 && !ins[n - 1])
        n--;
    IrValue *outs[8];
    int n_out = m->n_outputs ? m->n_outputs : 1;
    for (int i = 0; i < n_out; i++)
        outs[i] = ir_value_new(g, "out", SD_DT_F32, NULL);
    IrNode *node = ir_node_new(g, m->op, ir_op_name(m->op), ins, n, outs, n_out);
    node->attrs = m->attrs;
    IrValue *y = outs[m->use_output > 0 ? m->use_output : 0];
    if (m->op == IR_OP_SPLIT && m->use_output < 0) { /* every output: sin of each, summed */
        IrValue *acc = NULL;
        for (int i = 0; i < n_out; i++) {
            IrValue *s = fd_op(g, IR_OP_SIN, &outs[i], 1, NULL);
            IrValue *r = fd_op(g, IR_OP_REDUCE_SUM, &s, 1, NULL);
            acc = acc ? fd_op(g, IR_OP_ADD, (IrValue *[]){acc, r}, 2, NULL) : r;
        }
        return acc;
    }
    return fd_op(g, IR_OP_SIN, &y, 1, NULL);
}

static void check_move(const char *what, MoveCase *m, int rank, const int64_t *dims)
{
    int64_t n = fd_numel(rank, dims);
    float *x = fd_rand((uint32_t)n + 17, n, -2, 2);
    FdInput in = fd_f32(rank, dims, x);
    fd_check_all(what, &in, 1, build_move, m, NULL);
    free(x);
}

static MoveCase move(IrOp op)
{
    MoveCase m = {.op = op};
    for (int i = 0; i < 4; i++)
        m.n_ints[i] = -1;
    return m;
}

static void set_ints(MoveCase *m, int slot, const int64_t *v, int n)
{
    for (int i = 0; i < slot; i++)
        if (m->n_ints[i] < 0)
            m->n_ints[i] = 0; /* an absent optional input before this one */
    memcpy(m->ints[slot], v, sizeof(int64_t) * (size_t)n);
    m->n_ints[slot] = n;
}

Test(grad_movement, reshapes_and_transposes)
{
    int64_t dims[3] = {2, 3, 4};
    MoveCase m = move(IR_OP_RESHAPE);
    set_ints(&m, 0, (int64_t[]){4, -1}, 2);
    check_move("reshape", &m, 3, dims);
    m = move(IR_OP_FLATTEN);
    m.attrs.movement.axis = 2;
    check_move("flatten", &m, 3, dims);
    m = move(IR_OP_UNSQUEEZE);
    set_ints(&m, 0, (int64_t[]){0, -1}, 2);
    check_move("unsqueeze", &m, 3, dims);
    int64_t one[4] = {2, 1, 4, 1};
    m = move(IR_OP_SQUEEZE);
    check_move("squeeze", &m, 4, one);
    m = move(IR_OP_TRANSPOSE);
    m.attrs.movement.n_perm = 3;
    memcpy(m.attrs.movement.perm, (int64_t[]){1, 2, 0}, 3 * sizeof(int64_t));
    check_move("transpose 1,2,0", &m, 3, dims);
    m = move(IR_OP_TRANSPOSE); /* the default: reversed */
    check_move("transpose reversed", &m, 3, dims);
}

static IrValue *build_concat(IrGraph *g, IrValue *const *in, void *ctx)
{
    IrAttrs a = {0};
    a.movement.axis = *(const int64_t *)ctx;
    /* x used twice along with y: the fan-out sums */
    IrValue *c = fd_op(g, IR_OP_CONCAT, (IrValue *[]){in[0], in[1], in[0]}, 3, &a);
    return fd_op(g, IR_OP_TANH, &c, 1, NULL);
}

Test(grad_movement, concat_and_split)
{
    int64_t dx[3] = {2, 3, 4}, dy[3] = {2, 5, 4};
    float *x = fd_rand(1, 24, -2, 2), *y = fd_rand(2, 40, -2, 2);
    int64_t axis = -2;
    FdInput in[2] = {fd_f32(3, dx, x), fd_f32(3, dy, y)};
    fd_check_all("concat", in, 2, build_concat, &axis, NULL);
    free(x), free(y);

    int64_t dims[2] = {3, 7};
    MoveCase m = move(IR_OP_SPLIT);
    m.attrs.movement.axis = 1;
    m.n_outputs = 3;
    set_ints(&m, 0, (int64_t[]){2, 4, 1}, 3);
    m.use_output = -1;
    check_move("split, every output", &m, 2, dims);
    m.use_output = 1; /* outputs 0 and 2 get no gradient: zeros in their place */
    check_move("split, one output", &m, 2, dims);
}

/* starts, ends, axes, steps */
static void check_slice(const char *what, int rank, const int64_t *dims, int n, const int64_t *starts,
                        const int64_t *ends, const int64_t *axes, const int64_t *steps)
{
    MoveCase m = move(IR_OP_SLICE);
    set_ints(&m, 0, starts, n);
    set_ints(&m, 1, ends, n);
    set_ints(&m, 2, axes, n);
    if (steps)
        set_ints(&m, 3, steps, n);
    check_move(what, &m, rank, dims);
}

Test(grad_movement, slices_with_steps)
{
    int64_t d2[2] = {7, 9}, d3[3] = {3, 8, 5};
    check_slice("slice plain", 2, d2, 2, (int64_t[]){1, 2}, (int64_t[]){5, 9}, (int64_t[]){0, 1}, NULL);
    check_slice("slice step 2 and 3", 2, d2, 2, (int64_t[]){0, 1}, (int64_t[]){7, 8}, (int64_t[]){0, 1},
                (int64_t[]){2, 3});
    check_slice("slice negative steps", 2, d2, 2, (int64_t[]){6, -2}, (int64_t[]){0, INT64_MIN}, (int64_t[]){0, 1},
                (int64_t[]){-1, -3});
    check_slice("slice reversed whole axis", 3, d3, 1, (int64_t[]){-1}, (int64_t[]){INT64_MIN}, (int64_t[]){1},
                (int64_t[]){-1});
    check_slice("slice step past the end", 3, d3, 2, (int64_t[]){1, 0}, (int64_t[]){8, 5}, (int64_t[]){1, 2},
                (int64_t[]){4, 2});
    check_slice("slice mixed", 3, d3, 3, (int64_t[]){2, 6, 1}, (int64_t[]){0, 1, 5}, (int64_t[]){0, 1, 2},
                (int64_t[]){-1, -2, 3});
    check_slice("slice empty", 2, d2, 1, (int64_t[]){3}, (int64_t[]){3}, (int64_t[]){0}, NULL);
}

Test(grad_movement, pads_expand_and_tile)
{
    int64_t d2[2] = {4, 5};
    MoveCase m = move(IR_OP_PAD);
    set_ints(&m, 0, (int64_t[]){1, 0, 2, 3}, 4);
    check_move("pad", &m, 2, d2);
    m = move(IR_OP_PAD);
    set_ints(&m, 0, (int64_t[]){-1, 2, 1, -2}, 4); /* crops rows at the top and columns at the end */
    check_move("pad with negative pads", &m, 2, d2);

    int64_t d3[3] = {3, 1, 2};
    m = move(IR_OP_EXPAND);
    set_ints(&m, 0, (int64_t[]){2, 3, 4, 2}, 4);
    check_move("expand", &m, 3, d3);
    m = move(IR_OP_TILE);
    set_ints(&m, 0, (int64_t[]){2, 3, 1}, 3);
    check_move("tile", &m, 3, d3);
    m = move(IR_OP_TILE);
    set_ints(&m, 0, (int64_t[]){1, 2}, 2);
    check_move("tile last axis", &m, 2, d2);
}

Test(grad_movement, depth_and_space)
{
    int64_t d[4] = {2, 8, 2, 3}, s[4] = {1, 2, 4, 6};
    MoveCase m = move(IR_OP_DEPTH_TO_SPACE);
    m.attrs.movement.blocksize = 2;
    check_move("depth_to_space dcr", &m, 4, d);
    m.attrs.movement.crd = true;
    check_move("depth_to_space crd", &m, 4, d);
    m = move(IR_OP_SPACE_TO_DEPTH);
    m.attrs.movement.blocksize = 2;
    check_move("space_to_depth", &m, 4, s);
}
