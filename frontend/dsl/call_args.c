/* frontend/dsl/call_args.c — what builtin layers and functions read their arguments with: each
 * reader takes the argument's position, checks its kind and says in the error which layer and
 * parameter wanted what. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/lower.h"

bool dsl_arg_given(const DslCall *c, int i) { return c->args[i].kind != V_NONE; }

static const char *param_name(const DslCall *c, int i) { return c->b->params[i] + (c->b->params[i][0] == '?'); }

static SdStatus arg_type_error(DslEval *E, DslCall *c, int i, const char *want)
{
    return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must be %s, not %s", c->b->name,
                          param_name(c, i), want, dsl_kind_name(c->args[i].kind));
}

SdStatus dsl_arg_int(DslEval *E, DslCall *c, int i, int64_t def, int64_t *out)
{
    if (!dsl_arg_given(c, i)) {
        *out = def;
        return SD_OK;
    }
    if (c->args[i].kind != V_INT)
        return arg_type_error(E, c, i, "an integer");
    *out = c->args[i].u.i;
    return SD_OK;
}

SdStatus dsl_arg_float(DslEval *E, DslCall *c, int i, double def, double *out)
{
    if (!dsl_arg_given(c, i)) {
        *out = def;
        return SD_OK;
    }
    if (!dsl_value_is_number(&c->args[i]))
        return arg_type_error(E, c, i, "a number");
    *out = dsl_value_number(&c->args[i]);
    return SD_OK;
}

SdStatus dsl_arg_bool(DslEval *E, DslCall *c, int i, bool def, bool *out)
{
    if (!dsl_arg_given(c, i)) {
        *out = def;
        return SD_OK;
    }
    if (c->args[i].kind != V_BOOL)
        return arg_type_error(E, c, i, "true or false");
    *out = c->args[i].u.b;
    return SD_OK;
}

SdStatus dsl_arg_str(DslEval *E, DslCall *c, int i, const char *def, const char **out)
{
    if (!dsl_arg_given(c, i)) {
        *out = def;
        return SD_OK;
    }
    if (c->args[i].kind != V_STR)
        return arg_type_error(E, c, i, "a string");
    *out = c->args[i].u.s;
    return SD_OK;
}

SdStatus dsl_arg_tensor(DslEval *E, DslCall *c, int i, IrValue **out)
{
    if (c->args[i].kind != V_TENSOR)
        return arg_type_error(E, c, i, "a tensor");
    *out = c->args[i].u.t;
    return SD_OK;
}

SdStatus dsl_arg_ints(DslEval *E, DslCall *c, int i, int n, int64_t def, int64_t *out)
{
    const DslValue *v = &c->args[i];
    if (!dsl_arg_given(c, i)) {
        for (int k = 0; k < n; k++)
            out[k] = def;
        return SD_OK;
    }
    if (v->kind == V_INT) {
        for (int k = 0; k < n; k++)
            out[k] = v->u.i;
        return SD_OK;
    }
    if (v->kind != V_LIST || v->u.list.n != n) {
        char want[64];
        snprintf(want, sizeof want, "an integer or a list of %d integers", n);
        if (v->kind == V_LIST)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must be %s, not a list of %d",
                                  c->b->name, param_name(c, i), want, v->u.list.n);
        return arg_type_error(E, c, i, want);
    }
    for (int k = 0; k < n; k++) {
        if (v->u.list.items[k].kind != V_INT)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must hold integers, not %s",
                                  c->b->name, param_name(c, i), dsl_kind_name(v->u.list.items[k].kind));
        out[k] = v->u.list.items[k].u.i;
    }
    return SD_OK;
}
