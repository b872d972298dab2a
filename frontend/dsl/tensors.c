/* frontend/dsl/tensors.c — tensor functions (softmax, l2norm, concat, reshape, transpose, matmul,
 * split, select, mean, stop_gradient) and the operators + - * / on tensors. They take no position
 * in a scope and hold no parameters: functional operations, as in PyTorch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/lower.h"

static SdStatus oom(DslEval *E, DslLoc loc) { return dsl_eval_error(E, SD_ENOMEM, loc, "out of memory"); }

static SdStatus fn_softmax(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t axis;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_axis_arg(E, c, 1, -1, x->shape.rank, &axis));
    IrAttrs a = {.softmax = {.axis = axis}};
    bool log = strcmp(c->b->name, "log_softmax") == 0;
    SD_TRY(dsl_emit(E, c->e->loc, log ? IR_OP_LOG_SOFTMAX : IR_OP_SOFTMAX, log ? "log_softmax" : "softmax",
                (IrValue *[]){x}, 1, &x->shape, &a, &y));
    return dsl_tensor_out(y, out);
}

static SdStatus fn_l2norm(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *n, *epsv, *d, *y;
    int64_t axis;
    double eps;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_axis_arg(E, c, 1, 1, x->shape.rank, &axis));
    SD_TRY(dsl_arg_float(E, c, 2, 1e-12, &eps));
    DslLoc loc = c->e->loc;
    IrShape ns = x->shape;
    ns.dims[axis] = 1;
    IrAttrs r = {.reduce = {.n_axes = 1, .axes = {axis}, .keepdims = true}};
    SD_TRY(dsl_emit(E, loc, IR_OP_REDUCE_L2, "norm", (IrValue *[]){x}, 1, &ns, &r, &n));
    SD_TRY(dsl_scalar_f32(E, loc, "eps", (float)eps, &epsv));
    SD_TRY(dsl_emit(E, loc, IR_OP_MAX, "norm_clamped", (IrValue *[]){n, epsv}, 2, &ns, NULL, &d));
    SD_TRY(dsl_emit(E, loc, IR_OP_DIV, "normalized", (IrValue *[]){x, d}, 2, &x->shape, NULL, &y));
    return dsl_tensor_out(y, out);
}

static SdStatus fn_concat(DslEval *E, DslCall *c, DslValue *out)
{
    const DslValue *l = &c->args[0];
    if (l->kind != V_LIST || l->u.list.n < 1 || l->u.list.n > 64)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[0], "concat: needs a list of 1 to 64 tensors");
    IrValue *in[64], *y;
    for (int i = 0; i < l->u.list.n; i++) {
        if (l->u.list.items[i].kind != V_TENSOR)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[0], "concat: item %d is %s, not a tensor", i,
                                  dsl_kind_name(l->u.list.items[i].kind));
        in[i] = l->u.list.items[i].u.t;
    }
    int64_t axis;
    SD_TRY(dsl_axis_arg(E, c, 1, 1, in[0]->shape.rank, &axis));
    IrShape os = in[0]->shape;
    os.dims[axis] = 0;
    for (int i = 0; i < l->u.list.n; i++) {
        bool ok = in[i]->shape.rank == os.rank;
        for (int d = 0; ok && d < os.rank; d++)
            ok = d == axis || in[i]->shape.dims[d] == os.dims[d];
        if (!ok) {
            char s0[128], si[128];
            return dsl_eval_error(E, SD_ESHAPE, c->locs[0], "concat: %s and %s differ outside axis %lld",
                                  dsl_shape_text(&in[0]->shape, s0, sizeof s0), dsl_shape_text(&in[i]->shape, si, sizeof si),
                                  (long long)axis);
        }
        os.dims[axis] += in[i]->shape.dims[axis];
    }
    IrAttrs a = {.movement = {.axis = axis}};
    SD_TRY(dsl_emit(E, c->e->loc, IR_OP_CONCAT, "concat", in, l->u.list.n, &os, &a, &y));
    return dsl_tensor_out(y, out);
}

SdStatus dsl_lower_reshape(DslEval *E, DslLoc loc, IrValue *x, const int64_t *want, int n, IrValue **y)
{
    IrShape s = {.rank = n};
    int infer = -1;
    int64_t known = 1, numel = ir_shape_numel(&x->shape);
    for (int i = 0; i < n; i++) {
        int64_t d = want[i];
        if (d == 0 && i < x->shape.rank)
            d = x->shape.dims[i];
        if (d == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (d < 1)
            return dsl_eval_error(E, SD_EBADMODEL, loc, "reshape: dimension %d is %lld (use -1 once to infer one, 0 to copy)",
                                  i, (long long)want[i]);
        if (__builtin_mul_overflow(known, d, &known))
            return dsl_eval_error(E, SD_ESHAPE, loc, "reshape: the shape is too large");
        s.dims[i] = d;
    }
    if (infer >= 0) {
        if (numel % known)
            goto bad;
        s.dims[infer] = numel / known;
    } else if (known != numel) {
        goto bad;
    }
    IrValue *sv;
    SD_TRY(dsl_ints_const(E, loc, "shape", want, n, &sv));
    return dsl_emit(E, loc, IR_OP_RESHAPE, "reshape", (IrValue *[]){x, sv}, 2, &s, NULL, y);
bad: {
    char sb[128];
    return dsl_eval_error(E, SD_ESHAPE, loc, "reshape: %s (%lld elements) does not fit the requested shape",
                          dsl_shape_text(&x->shape, sb, sizeof sb), (long long)numel);
}
}

static SdStatus fn_reshape(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t want[IR_MAX_RANK];
    int n;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_list_ints(E, c, 1, want, IR_MAX_RANK, &n));
    if (n < 1)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "reshape: the shape is empty");
    SD_TRY(dsl_lower_reshape(E, c->e->loc, x, want, n, &y));
    return dsl_tensor_out(y, out);
}

SdStatus dsl_lower_transpose(DslEval *E, DslLoc loc, IrValue *x, const int64_t *perm, int n, IrValue **y)
{
    unsigned seen = 0;
    if (n != x->shape.rank)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "transpose: %d axes given for a tensor of rank %d", n, x->shape.rank);
    IrAttrs a = {.movement = {.n_perm = n}};
    IrShape s = {.rank = n};
    for (int i = 0; i < n; i++) {
        if (perm[i] < 0 || perm[i] >= n || (seen & (1u << perm[i])))
            return dsl_eval_error(E, SD_EBADMODEL, loc, "transpose: the axes must be a permutation of 0..%d", n - 1);
        seen |= 1u << perm[i];
        a.movement.perm[i] = perm[i];
        s.dims[i] = x->shape.dims[perm[i]];
    }
    return dsl_emit(E, loc, IR_OP_TRANSPOSE, "transpose", (IrValue *[]){x}, 1, &s, &a, y);
}

static SdStatus fn_transpose(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t perm[IR_MAX_RANK];
    int n;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_list_ints(E, c, 1, perm, IR_MAX_RANK, &n));
    SD_TRY(dsl_lower_transpose(E, c->e->loc, x, perm, n, &y));
    return dsl_tensor_out(y, out);
}

SdStatus dsl_lower_matmul(DslEval *E, DslLoc loc, IrValue *a, IrValue *b, IrValue **y)
{
    char sa[128], sb[128];
    int ra = a->shape.rank, rb = b->shape.rank;
    if (ra < 2 || rb < 2 || a->shape.dims[ra - 1] != b->shape.dims[rb - 2])
        return dsl_eval_error(E, SD_ESHAPE, loc, "matmul: %s and %s do not multiply", dsl_shape_text(&a->shape, sa, sizeof sa),
                              dsl_shape_text(&b->shape, sb, sizeof sb));
    IrShape ba = dsl_shape_of(ra - 2, a->shape.dims), bb = dsl_shape_of(rb - 2, b->shape.dims), s;
    if (!dsl_broadcast(&ba, &bb, &s))
        return dsl_eval_error(E, SD_ESHAPE, loc, "matmul: the batch dimensions of %s and %s do not broadcast",
                              dsl_shape_text(&a->shape, sa, sizeof sa), dsl_shape_text(&b->shape, sb, sizeof sb));
    s.dims[s.rank++] = a->shape.dims[ra - 2];
    s.dims[s.rank++] = b->shape.dims[rb - 1];
    return dsl_emit(E, loc, IR_OP_MATMUL, "matmul", (IrValue *[]){a, b}, 2, &s, NULL, y);
}

static SdStatus fn_matmul(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *a, *b, *y;
    SD_TRY(dsl_arg_tensor(E, c, 0, &a));
    SD_TRY(dsl_arg_tensor(E, c, 1, &b));
    SD_TRY(dsl_lower_matmul(E, c->e->loc, a, b, &y));
    return dsl_tensor_out(y, out);
}

SdStatus dsl_lower_split(DslEval *E, DslLoc loc, IrValue *x, int64_t axis, const int64_t *sizes, int n,
                            IrValue **outs)
{
    if (n < 1 || n > IR_MAX_OUTPUTS)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "split: 1 to %d parts", IR_MAX_OUTPUTS);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 1)
            return dsl_eval_error(E, SD_EBADMODEL, loc, "split: part %d has size %lld", i, (long long)sizes[i]);
        total += sizes[i];
    }
    if (total != x->shape.dims[axis])
        return dsl_eval_error(E, SD_ESHAPE, loc, "split: the parts add up to %lld, but axis %lld has size %lld",
                              (long long)total, (long long)axis, (long long)x->shape.dims[axis]);
    char name[DSL_SCOPE_MAX + 128];
    dsl_full_name(E, "split", true, name, sizeof name);
    for (int i = 0; i < n; i++) {
        IrShape s = x->shape;
        s.dims[axis] = sizes[i];
        if (!(outs[i] = ir_value_new(E->g, name, x->dtype, &s)))
            return oom(E, loc);
    }
    IrNode *node = ir_node_new(E->g, IR_OP_SPLIT, name, &x, 1, outs, n);
    if (!node)
        return oom(E, loc);
    node->attrs.movement.axis = axis;
    node->attrs.movement.n_split = n;
    memcpy(node->attrs.movement.split, sizes, (size_t)n * sizeof *sizes);
    return SD_OK;
}

static SdStatus fn_split(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *outs[IR_MAX_OUTPUTS];
    int64_t axis, sizes[IR_MAX_OUTPUTS];
    int n;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_axis_arg(E, c, 2, 1, x->shape.rank, &axis));
    if (c->args[1].kind == V_INT) {
        int64_t parts = c->args[1].u.i;
        if (parts < 1 || parts > IR_MAX_OUTPUTS || x->shape.dims[axis] % parts)
            return dsl_eval_error(E, SD_ESHAPE, c->locs[1], "split: %lld equal parts of axis %lld (size %lld) do not exist",
                                  (long long)parts, (long long)axis, (long long)x->shape.dims[axis]);
        n = (int)parts;
        for (int i = 0; i < n; i++)
            sizes[i] = x->shape.dims[axis] / parts;
    } else {
        SD_TRY(dsl_list_ints(E, c, 1, sizes, IR_MAX_OUTPUTS, &n));
    }
    SD_TRY(dsl_lower_split(E, c->e->loc, x, axis, sizes, n, outs));
    DslValue *items = dsl_arena_alloc(E->arena, (size_t)n * sizeof *items);
    if (!items)
        return oom(E, c->e->loc);
    for (int i = 0; i < n; i++)
        items[i] = (DslValue){.kind = V_TENSOR, .u.t = outs[i]};
    *out = (DslValue){.kind = V_LIST, .u.list = {n, items}};
    return SD_OK;
}

static SdStatus lower_select(DslEval *E, DslLoc loc, IrValue *x, int64_t axis, int64_t index, IrValue **y)
{
    int64_t size = x->shape.dims[axis];
    int64_t i = index < 0 ? index + size : index;
    if (i < 0 || i >= size)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "select: index %lld is out of range for size %lld", (long long)index,
                              (long long)size);
    IrShape is = {0};
    IrValue *iv;
    SD_TRY(dsl_constant(E, loc, "index", SD_DT_I64, &is, &i, &iv));
    IrShape s = {.rank = x->shape.rank - 1};
    for (int d = 0, k = 0; d < x->shape.rank; d++)
        if (d != axis)
            s.dims[k++] = x->shape.dims[d];
    IrAttrs a = {.gather = {.axis = axis}};
    return dsl_emit(E, loc, IR_OP_GATHER, "select", (IrValue *[]){x, iv}, 2, &s, &a, y);
}

static SdStatus fn_select(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t axis, index;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_axis_arg(E, c, 1, 0, x->shape.rank, &axis));
    SD_TRY(dsl_arg_int(E, c, 2, 0, &index));
    SD_TRY(lower_select(E, c->e->loc, x, axis, index, &y));
    return dsl_tensor_out(y, out);
}

static SdStatus fn_mean(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    int64_t axes[IR_MAX_RANK];
    int n;
    bool keep;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    if (c->args[1].kind == V_INT) {
        axes[0] = c->args[1].u.i;
        n = 1;
    } else {
        SD_TRY(dsl_list_ints(E, c, 1, axes, IR_MAX_RANK, &n));
    }
    SD_TRY(dsl_arg_bool(E, c, 2, false, &keep));
    IrAttrs a = {.reduce = {.n_axes = n, .keepdims = keep}};
    unsigned seen = 0;
    for (int i = 0; i < n; i++) {
        int64_t ax = axes[i] < 0 ? axes[i] + x->shape.rank : axes[i];
        if (ax < 0 || ax >= x->shape.rank || (seen & (1u << ax)))
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "mean: axis %lld is out of range or repeated",
                                  (long long)axes[i]);
        seen |= 1u << ax;
        a.reduce.axes[i] = ax;
    }
    IrShape s = {0};
    for (int d = 0; d < x->shape.rank; d++) {
        if (!(seen & (1u << d)))
            s.dims[s.rank++] = x->shape.dims[d];
        else if (keep)
            s.dims[s.rank++] = 1;
    }
    SD_TRY(dsl_emit(E, c->e->loc, IR_OP_REDUCE_MEAN, "mean", (IrValue *[]){x}, 1, &s, &a, &y));
    return dsl_tensor_out(y, out);
}

static SdStatus fn_stop_gradient(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x, *y;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_emit(E, c->e->loc, IR_OP_STOP_GRADIENT, "stop_gradient", (IrValue *[]){x}, 1, &x->shape, NULL, &y));
    return dsl_tensor_out(y, out);
}

/* a (op) b for the DSL's operators */
SdStatus dsl_tensor_binary(DslEval *E, DslLoc loc, DslTok op, const DslValue *a, const DslValue *b, DslValue *out)
{
    IrValue *x[2];
    const DslValue *v[2] = {a, b};
    if (!E->g)
        return dsl_eval_error(E, SD_EBADMODEL, loc, "tensors exist only inside a model");
    for (int i = 0; i < 2; i++) {
        if (v[i]->kind == V_TENSOR)
            x[i] = v[i]->u.t;
        else if (dsl_value_is_number(v[i]))
            SD_TRY(dsl_scalar_f32(E, loc, "scalar", (float)dsl_value_number(v[i]), &x[i]));
        else
            return dsl_eval_error(E, SD_EBADMODEL, loc, "a tensor combines with a tensor or a number, not %s",
                                  dsl_kind_name(v[i]->kind));
    }
    IrShape s;
    if (!dsl_broadcast(&x[0]->shape, &x[1]->shape, &s)) {
        char s0[128], s1[128];
        return dsl_eval_error(E, SD_ESHAPE, loc, "shapes %s and %s do not broadcast", dsl_shape_text(&x[0]->shape, s0, sizeof s0),
                              dsl_shape_text(&x[1]->shape, s1, sizeof s1));
    }
    IrOp ops[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV};
    const char *names[] = {"add", "sub", "mul", "div"};
    int k = op == T_PLUS ? 0 : op == T_MINUS ? 1 : op == T_STAR ? 2 : 3;
    IrValue *y;
    SD_TRY(dsl_emit(E, loc, ops[k], names[k], x, 2, &s, NULL, &y));
    return dsl_tensor_out(y, out);
}

SdStatus dsl_tensor_neg(DslEval *E, DslLoc loc, const DslValue *a, DslValue *out)
{
    IrValue *y;
    SD_TRY(dsl_emit(E, loc, IR_OP_NEG, "neg", (IrValue *[]){a->u.t}, 1, &a->u.t->shape, NULL, &y));
    return dsl_tensor_out(y, out);
}

const DslBuiltin dsl_tensor_builtins[] = {
    {"softmax", false, {"x", "?axis", NULL}, fn_softmax, "softmax(x, axis=-1)"},
    {"log_softmax", false, {"x", "?axis", NULL}, fn_softmax, "log_softmax(x, axis=-1)"},
    {"l2norm", false, {"x", "?axis", "?eps", NULL}, fn_l2norm, "l2norm(x, axis=1, eps=1e-12)"},
    {"concat", false, {"xs", "?axis", NULL}, fn_concat, "concat([a, b, ...], axis=1)"},
    {"reshape", false, {"x", "shape", NULL}, fn_reshape, "reshape(x, shape): batch included, 0 copies, -1 infers"},
    {"transpose", false, {"x", "perm", NULL}, fn_transpose, "transpose(x, perm)"},
    {"matmul", false, {"a", "b", NULL}, fn_matmul, "matmul(a, b)"},
    {"split", false, {"x", "parts", "?axis", NULL}, fn_split, "split(x, parts or [sizes], axis=1): a list of tensors"},
    {"select", false, {"x", "axis", "index", NULL}, fn_select, "select(x, axis, index): drops the axis"},
    {"mean", false, {"x", "axes", "?keepdims", NULL}, fn_mean, "mean(x, axes, keepdims=false)"},
    {"stop_gradient", false, {"x", NULL}, fn_stop_gradient, "stop_gradient(x)"},
    {NULL, false, {NULL}, NULL, NULL},
    {NULL, false, {NULL}, NULL, NULL},
};
