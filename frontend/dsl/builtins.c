/* frontend/dsl/builtins.c — functions on numbers, lists, strings and tensor shapes: what a
 * model needs to compute its widths and depths (make_divisible as torchvision rounds channels,
 * round as Python rounds, ceil for depth multipliers) and to ask a tensor its size. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/lower.h"

static SdStatus fail(DslEval *E, DslCall *c, const char *fmt, const char *what)
{
    return dsl_eval_error(E, SD_EBADMODEL, c->e->loc, fmt, c->b->name, what);
}

static SdStatus number_arg(DslEval *E, DslCall *c, int i, double *out)
{
    return dsl_arg_float(E, c, i, 0, out);
}

static SdStatus fn_len(DslEval *E, DslCall *c, DslValue *out)
{
    const DslValue *v = &c->args[0];
    if (v->kind == V_LIST)
        *out = (DslValue){.kind = V_INT, .u.i = v->u.list.n};
    else if (v->kind == V_STR)
        *out = (DslValue){.kind = V_INT, .u.i = (int64_t)strlen(v->u.s)};
    else
        return fail(E, c, "%s: needs a list or a string, not %s", dsl_kind_name(v->kind));
    return SD_OK;
}

static SdStatus fn_range(DslEval *E, DslCall *c, DslValue *out)
{
    int64_t a, b, s;
    SD_TRY(dsl_arg_int(E, c, 0, 0, &a));
    SD_TRY(dsl_arg_int(E, c, 1, 0, &b));
    SD_TRY(dsl_arg_int(E, c, 2, 1, &s));
    if (!dsl_arg_given(c, 1))
        b = a, a = 0;
    if (s == 0)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[2], "range: the step cannot be 0");
    int64_t n = s > 0 ? (b > a ? (b - a + s - 1) / s : 0) : (a > b ? (a - b - s - 1) / -s : 0);
    if (n > (1 << 20))
        return dsl_eval_error(E, SD_EBADMODEL, c->e->loc, "range: %lld values are too many", (long long)n);
    DslValue *items = n ? dsl_arena_alloc(E->arena, (size_t)n * sizeof *items) : NULL;
    if (n && !items)
        return dsl_eval_error(E, SD_ENOMEM, c->e->loc, "out of memory");
    for (int64_t i = 0; i < n; i++)
        items[i] = (DslValue){.kind = V_INT, .u.i = a + i * s};
    *out = (DslValue){.kind = V_LIST, .u.list = {(int)n, items}};
    return SD_OK;
}

static SdStatus fn_minmax(DslEval *E, DslCall *c, DslValue *out, bool want_max)
{
    const DslValue *items = &c->args[0];
    int n = 2;
    if (!dsl_arg_given(c, 1)) {
        if (c->args[0].kind != V_LIST || c->args[0].u.list.n == 0)
            return fail(E, c, "%s: needs two numbers or a non-empty list, not %s", dsl_kind_name(c->args[0].kind));
        items = c->args[0].u.list.items;
        n = c->args[0].u.list.n;
    }
    const DslValue *best = NULL;
    for (int i = 0; i < n; i++) {
        if (!dsl_value_is_number(&items[i]))
            return fail(E, c, "%s: compares numbers, not %s", dsl_kind_name(items[i].kind));
        double v = dsl_value_number(&items[i]);
        if (!best || (want_max ? v > dsl_value_number(best) : v < dsl_value_number(best)))
            best = &items[i];
    }
    *out = *best;
    return SD_OK;
}

static SdStatus fn_min(DslEval *E, DslCall *c, DslValue *out) { return fn_minmax(E, c, out, false); }
static SdStatus fn_max(DslEval *E, DslCall *c, DslValue *out) { return fn_minmax(E, c, out, true); }

static SdStatus fn_abs(DslEval *E, DslCall *c, DslValue *out)
{
    const DslValue *v = &c->args[0];
    if (v->kind == V_INT && v->u.i != INT64_MIN)
        *out = (DslValue){.kind = V_INT, .u.i = v->u.i < 0 ? -v->u.i : v->u.i};
    else if (v->kind == V_FLOAT)
        *out = (DslValue){.kind = V_FLOAT, .u.f = fabs(v->u.f)};
    else
        return fail(E, c, "%s: needs a number, not %s", dsl_kind_name(v->kind));
    return SD_OK;
}

static SdStatus to_int(DslEval *E, DslCall *c, double x, DslValue *out)
{
    if (!(x > -9.2e18 && x < 9.2e18))
        return fail(E, c, "%s: the result does not fit an integer%s", "");
    *out = (DslValue){.kind = V_INT, .u.i = (int64_t)x};
    return SD_OK;
}

static SdStatus fn_int(DslEval *E, DslCall *c, DslValue *out)
{
    double x;
    if (c->args[0].kind == V_INT) {
        *out = c->args[0];
        return SD_OK;
    }
    SD_TRY(number_arg(E, c, 0, &x));
    return to_int(E, c, trunc(x), out);
}

static SdStatus fn_float(DslEval *E, DslCall *c, DslValue *out)
{
    double x;
    SD_TRY(number_arg(E, c, 0, &x));
    *out = (DslValue){.kind = V_FLOAT, .u.f = x};
    return SD_OK;
}

static SdStatus fn_round(DslEval *E, DslCall *c, DslValue *out)
{
    double x;
    SD_TRY(number_arg(E, c, 0, &x));
    return to_int(E, c, nearbyint(x), out); /* halves to even, as Python's round */
}

static SdStatus fn_ceil(DslEval *E, DslCall *c, DslValue *out)
{
    double x;
    SD_TRY(number_arg(E, c, 0, &x));
    return to_int(E, c, ceil(x), out);
}

static SdStatus fn_floor(DslEval *E, DslCall *c, DslValue *out)
{
    double x;
    SD_TRY(number_arg(E, c, 0, &x));
    return to_int(E, c, floor(x), out);
}

static SdStatus fn_sqrt(DslEval *E, DslCall *c, DslValue *out)
{
    double x;
    SD_TRY(number_arg(E, c, 0, &x));
    if (x < 0)
        return fail(E, c, "%s: of a negative number%s", "");
    *out = (DslValue){.kind = V_FLOAT, .u.f = sqrt(x)};
    return SD_OK;
}

static SdStatus fn_str(DslEval *E, DslCall *c, DslValue *out)
{
    char buf[512];
    dsl_value_str(&c->args[0], buf, sizeof buf);
    char *s = dsl_arena_strndup(E->arena, buf, strlen(buf));
    if (!s)
        return dsl_eval_error(E, SD_ENOMEM, c->e->loc, "out of memory");
    *out = (DslValue){.kind = V_STR, .u.s = s};
    return SD_OK;
}

/* torchvision's _make_divisible: round to the nearest multiple of `divisor`, at least
 * min_value, and never more than 10% below v. */
static SdStatus fn_make_divisible(DslEval *E, DslCall *c, DslValue *out)
{
    double v;
    int64_t divisor, min_value;
    SD_TRY(number_arg(E, c, 0, &v));
    SD_TRY(dsl_arg_int(E, c, 1, 8, &divisor));
    SD_TRY(dsl_arg_int(E, c, 2, divisor, &min_value));
    if (divisor < 1 || v < 0 || v > 1e15)
        return fail(E, c, "%s: needs a divisor of at least 1 and a value from 0 to 1e15%s", "");
    int64_t r = (int64_t)(v + (double)divisor / 2) / divisor * divisor;
    if (r < min_value)
        r = min_value;
    if ((double)r < 0.9 * v)
        r += divisor;
    *out = (DslValue){.kind = V_INT, .u.i = r};
    return SD_OK;
}

static SdStatus fn_dim(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x;
    int64_t axis;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    SD_TRY(dsl_arg_int(E, c, 1, 1, &axis));
    int64_t a = axis < 0 ? axis + x->shape.rank : axis;
    if (a < 0 || a >= x->shape.rank)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[1], "%s: axis %lld is out of range for a tensor of rank %d",
                              c->b->name, (long long)axis, x->shape.rank);
    *out = (DslValue){.kind = V_INT, .u.i = x->shape.dims[a]};
    return SD_OK;
}

static SdStatus fn_channels(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    if (x->shape.rank < 2)
        return fail(E, c, "%s: a tensor of rank 1 has no channel dimension%s", "");
    *out = (DslValue){.kind = V_INT, .u.i = x->shape.dims[1]};
    return SD_OK;
}

static SdStatus fn_shape(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    DslValue *items = dsl_arena_alloc(E->arena, (size_t)(x->shape.rank + 1) * sizeof *items);
    if (!items)
        return dsl_eval_error(E, SD_ENOMEM, c->e->loc, "out of memory");
    for (int i = 0; i < x->shape.rank; i++)
        items[i] = (DslValue){.kind = V_INT, .u.i = x->shape.dims[i]};
    *out = (DslValue){.kind = V_LIST, .u.list = {x->shape.rank, items}};
    return SD_OK;
}

static SdStatus fn_rank(DslEval *E, DslCall *c, DslValue *out)
{
    IrValue *x;
    SD_TRY(dsl_arg_tensor(E, c, 0, &x));
    *out = (DslValue){.kind = V_INT, .u.i = x->shape.rank};
    return SD_OK;
}

static SdStatus fn_assert(DslEval *E, DslCall *c, DslValue *out)
{
    bool ok;
    const char *msg;
    SD_TRY(dsl_arg_bool(E, c, 0, true, &ok));
    SD_TRY(dsl_arg_str(E, c, 1, "assertion failed", &msg));
    if (!ok)
        return dsl_eval_error(E, SD_EBADMODEL, c->e->loc, "%s", msg);
    *out = (DslValue){.kind = V_NONE};
    return SD_OK;
}

const DslBuiltin dsl_function_builtins[] = {
    {"len", false, {"x", NULL}, fn_len, "len(list): its number of items"},
    {"range", false, {"a", "?b", "?step", NULL}, fn_range, "range(n) or range(a, b, step=1): a list of integers"},
    {"min", false, {"a", "?b", NULL}, fn_min, "min(a, b) or min(list)"},
    {"max", false, {"a", "?b", NULL}, fn_max, "max(a, b) or max(list)"},
    {"abs", false, {"x", NULL}, fn_abs, "abs(x)"},
    {"int", false, {"x", NULL}, fn_int, "int(x): toward zero"},
    {"float", false, {"x", NULL}, fn_float, "float(x)"},
    {"round", false, {"x", NULL}, fn_round, "round(x): to the nearest integer, halves to even"},
    {"ceil", false, {"x", NULL}, fn_ceil, "ceil(x): the smallest integer >= x"},
    {"floor", false, {"x", NULL}, fn_floor, "floor(x): the largest integer <= x"},
    {"sqrt", false, {"x", NULL}, fn_sqrt, "sqrt(x)"},
    {"str", false, {"x", NULL}, fn_str, "str(x): as text"},
    {"make_divisible", false, {"v", "?divisor", "?min_value", NULL}, fn_make_divisible,
     "make_divisible(v, divisor=8, min_value=divisor): channels rounded as torchvision does"},
    {"dim", false, {"x", "axis", NULL}, fn_dim, "dim(x, axis): the size of a tensor along an axis (0 is the batch)"},
    {"channels", false, {"x", NULL}, fn_channels, "channels(x): dim(x, 1)"},
    {"shape", false, {"x", NULL}, fn_shape, "shape(x): a tensor's dimensions, batch first"},
    {"rank", false, {"x", NULL}, fn_rank, "rank(x): a tensor's number of dimensions"},
    {"assert", false, {"cond", "?message", NULL}, fn_assert, "assert(cond, message): stop with the message when cond is false"},
    {NULL, false, {NULL}, NULL, NULL},
};

static const DslBuiltin *const tables[] = {dsl_function_builtins, dsl_layer_builtins, dsl_tensor_builtins,
                                           dsl_composite_builtins};

const DslBuiltin *dsl_builtin_find(const char *name)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const DslBuiltin *b = tables[t]; b->name; b++)
            if (strcmp(b->name, name) == 0)
                return b;
    return NULL;
}

int dsl_builtin_names(const char **out, int max)
{
    int k = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const DslBuiltin *b = tables[t]; b->name && k < max; b++)
            out[k++] = b->name;
    return k;
}
