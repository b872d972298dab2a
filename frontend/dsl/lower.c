/* frontend/dsl/lower.c — what the layer files share: IR nodes and constants named after the
 * current scope, parameters with their initial data, argument readers, layer counting. */
#include <stdio.h>
#include <string.h>

#include "frontend/dsl/lower.h"
#include "support/mem.h"

void dsl_count_layer(DslEval *E, const char *kind)
{
    DslInstanceInfo *in = &E->info;
    in->n_layers++;
    for (int i = 0; i < in->n_kinds; i++)
        if (strcmp(in->layers[i].kind, kind) == 0) {
            in->layers[i].count++;
            return;
        }
    if (in->n_kinds < DSL_INFO_MAX_KINDS) {
        snprintf(in->layers[in->n_kinds].kind, sizeof in->layers[0].kind, "%s", kind);
        in->layers[in->n_kinds++].count = 1;
    }
}

static SdStatus oom(DslEval *E, DslLoc loc) { return dsl_eval_error(E, SD_ENOMEM, loc, "out of memory"); }

/* prefix + scope [+ "." + suffix] */
void dsl_full_name(const DslEval *E, const char *suffix, bool with_prefix, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s", with_prefix && E->prefix ? E->prefix : "", E->scope,
             suffix && E->scope[0] ? "." : "", suffix ? suffix : "");
}

/* One node with one f32 output of shape `s`; name: the scope, or scope.suffix. */
SdStatus dsl_emit(DslEval *E, DslLoc loc, IrOp op, const char *suffix, IrValue *const *in, int n_in,
                     const IrShape *s, const IrAttrs *attrs, IrValue **out)
{
    char name[DSL_SCOPE_MAX + 128];
    dsl_full_name(E, suffix, true, name, sizeof name);
    IrValue *y = ir_value_new(E->g, name, in[0] ? in[0]->dtype : SD_DT_F32, s);
    IrNode *n = y ? ir_node_new(E->g, op, name, in, n_in, &y, 1) : NULL;
    if (!n)
        return oom(E, loc);
    if (attrs)
        n->attrs = *attrs;
    *out = y;
    return SD_OK;
}

SdStatus dsl_constant(DslEval *E, DslLoc loc, const char *suffix, SdDType dt, const IrShape *s, const void *data,
                         IrValue **out)
{
    char name[DSL_SCOPE_MAX + 128];
    dsl_full_name(E, suffix, true, name, sizeof name);
    SdError e2 = {0};
    *out = ir_constant_new(E->g, name, dt, s, data, &e2);
    if (!*out)
        return dsl_eval_error(E, e2.status, loc, "%s", e2.msg);
    return SD_OK;
}

SdStatus dsl_scalar_f32(DslEval *E, DslLoc loc, const char *suffix, float v, IrValue **out)
{
    IrShape s = {0};
    return dsl_constant(E, loc, suffix, SD_DT_F32, &s, &v, out);
}

SdStatus dsl_ints_const(DslEval *E, DslLoc loc, const char *suffix, const int64_t *v, int n, IrValue **out)
{
    IrShape s = dsl_shape_of(1, (int64_t[]){n});
    return dsl_constant(E, loc, suffix, SD_DT_I64, &s, v, out);
}

/* A parameter (role PARAM) or state (role STATE) named scope.suffix, initialized from the seed and
 * that name (without the instance prefix). */
SdStatus dsl_new_tensor(DslEval *E, DslLoc loc, const char *suffix, const IrShape *s, IrRole role, DslInit init,
                           double std, IrValue **out)
{
    char local[DSL_SCOPE_MAX + 64], name[DSL_SCOPE_MAX + 128];
    dsl_full_name(E, suffix, false, local, sizeof local);
    dsl_full_name(E, suffix, true, name, sizeof name);
    if (ir_graph_find_value(E->g, name))
        return dsl_eval_error(E, SD_EBADMODEL, loc,
                              "a tensor named '%s' exists already: give this layer another name (name = \"...\")", name);
    int64_t numel;
    if (!sd_numel_checked(s->dims, s->rank, &numel) || numel > DSL_MAX_TENSOR_ELEMS) {
        char sb[128];
        return dsl_eval_error(E, SD_ESHAPE, loc, "parameter '%s' would have shape %s: more than %lld elements", local,
                              dsl_shape_text(s, sb, sizeof sb), (long long)DSL_MAX_TENSOR_ELEMS);
    }
    if (E->info.n_params + E->info.n_state + numel > DSL_MAX_MODEL_ELEMS)
        return dsl_eval_error(E, SD_ESHAPE, loc, "the model would hold more than %lld parameters: is a width wrong?",
                              (long long)DSL_MAX_MODEL_ELEMS);
    size_t nbytes = (size_t)numel * sizeof(float);
    float *data = sd_aligned_alloc(nbytes ? nbytes : 1);
    IrValue *v = data ? ir_value_new(E->g, name, SD_DT_F32, s) : NULL;
    if (!v) {
        sd_aligned_free(data);
        return oom(E, loc);
    }
    dsl_init_fill(data, s, init, std, E->opt->seed, local);
    v->role = E->opt->params_as_constants ? IR_ROLE_CONSTANT : role;
    ir_value_adopt_data(v, data, nbytes);
    if (role == IR_ROLE_PARAM) {
        E->info.n_params += numel;
        E->info.n_param_tensors++;
    } else {
        E->info.n_state += numel;
        E->info.n_state_tensors++;
    }
    *out = v;
    return SD_OK;
}

SdStatus dsl_need_rank(DslEval *E, DslCall *c, const IrValue *x, int lo, int hi, const char *what)
{
    if (x->shape.rank >= lo && x->shape.rank <= hi)
        return SD_OK;
    char sb[128];
    return dsl_eval_error(E, SD_ESHAPE, c->locs[0], "%s: the input is %s; %s is expected", c->b->name,
                          dsl_shape_text(&x->shape, sb, sizeof sb), what);
}

SdStatus dsl_init_arg(DslEval *E, DslCall *c, int i, DslInit def, DslInit *out)
{
    const char *s;
    SD_TRY(dsl_arg_str(E, c, i, NULL, &s));
    if (!s) {
        *out = def;
        return SD_OK;
    }
    if (dsl_init_parse(s, out))
        return SD_OK;
    int n;
    const char *const *names = dsl_init_names(&n);
    char dym[128];
    return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: unknown init '%s'%s", c->b->name, s,
                          dsl_did_you_mean(s, names, n, dym, sizeof dym));
}

SdStatus dsl_axis_arg(DslEval *E, DslCall *c, int i, int64_t def, int rank, int64_t *out)
{
    int64_t axis;
    SD_TRY(dsl_arg_int(E, c, i, def, &axis));
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: axis %lld is out of range for rank %d", c->b->name,
                              (long long)axis, rank);
    *out = a;
    return SD_OK;
}

SdStatus dsl_list_ints(DslEval *E, DslCall *c, int i, int64_t *out, int max, int *n)
{
    const DslValue *v = &c->args[i];
    if (v->kind != V_LIST || v->u.list.n > max)
        return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must be a list of at most %d integers",
                              c->b->name, c->b->params[i] + (c->b->params[i][0] == '?'), max);
    for (int k = 0; k < v->u.list.n; k++) {
        if (v->u.list.items[k].kind != V_INT)
            return dsl_eval_error(E, SD_EBADMODEL, c->locs[i], "%s: argument '%s' must hold integers", c->b->name,
                                  c->b->params[i] + (c->b->params[i][0] == '?'));
        out[k] = v->u.list.items[k].u.i;
    }
    *n = v->u.list.n;
    return SD_OK;
}

/* NumPy broadcasting of two shapes; false when they do not broadcast. */
bool dsl_broadcast(const IrShape *a, const IrShape *b, IrShape *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        out->dims[i] = da == 1 ? db : da;
    }
    return true;
}
