/* passes/shape.c — shape inference, in topological order, dispatching to passes/shape/<family>.c.
 * Nodes whose inputs are all constants are folded as soon as their shapes are known, because
 * later shapes often depend on their values (a Reshape whose target shape comes from Shape ->
 * Gather -> Concat of the input's dims). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/shape/shape.h"
#include "support/mem.h"

typedef SdStatus (*ShapeFn)(ShapeCtx *, IrNode *);

static const ShapeFn family_shape[IR_FAM_COUNT] = {
    [IR_FAM_unary] = shape_unary,
    [IR_FAM_binary] = shape_binary,
    [IR_FAM_conv] = shape_conv,
    [IR_FAM_matmul] = shape_matmul,
    [IR_FAM_norm] = shape_norm,
    [IR_FAM_softmax] = shape_softmax,
    [IR_FAM_pool] = shape_pool,
    [IR_FAM_reduce] = shape_reduce,
    [IR_FAM_movement] = shape_movement,
    [IR_FAM_gather] = shape_gather,
    [IR_FAM_generate] = shape_generate,
    [IR_FAM_resize] = shape_resize,
    [IR_FAM_einsum] = shape_einsum,
    [IR_FAM_update] = shape_update,
    [IR_FAM_quant] = shape_quant,
};

SdStatus shape_error(ShapeCtx *c, const IrNode *n, SdStatus st, const char *fmt, ...)
{
    char msg[SD_ERROR_MSG_MAX], lb[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sd_errorf(c->err, st, "%s: %s: %s", ir_graph_source(c->g), ir_node_label(n, lb, sizeof lb), msg);
}

void shape_set(IrNode *n, int output, SdDType dtype, const IrShape *s)
{
    IrValue *v = n->outputs[output];
    v->dtype = dtype;
    v->shape = *s;
    v->has_shape = true;
}

bool shape_has_input(const IrNode *n, int i) { return i < n->n_inputs && n->inputs[i] != NULL; }

static SdStatus need_constant(ShapeCtx *c, const IrNode *n, int i)
{
    const IrValue *v = n->inputs[i];
    if (!ir_value_is_constant(v))
        return shape_error(c, n, SD_EUNSUPPORTED,
                           "input %d ('%s') must be known at compile time, but it is computed from run-time data",
                           i, v->name);
    return SD_OK;
}

SdStatus shape_const_ints(ShapeCtx *c, const IrNode *n, int i, int64_t *out, int max, int *count)
{
    SD_TRY(need_constant(c, n, i));
    const IrValue *v = n->inputs[i];
    int64_t numel = ir_value_numel(v);
    if (numel > max)
        return shape_error(c, n, SD_EBADMODEL, "input %d ('%s') has %lld values; at most %d are expected", i,
                           v->name, (long long)numel, max);
    for (int64_t k = 0; k < numel; k++) {
        switch (v->dtype) {
        case SD_DT_I64: out[k] = ((const int64_t *)v->data)[k]; break;
        case SD_DT_I32: out[k] = ((const int32_t *)v->data)[k]; break;
        default:
            return shape_error(c, n, SD_EDTYPE, "input %d ('%s') is %s; an integer tensor is expected", i,
                               v->name, sd_dtype_name(v->dtype));
        }
    }
    *count = (int)numel;
    return SD_OK;
}

SdStatus shape_const_floats(ShapeCtx *c, const IrNode *n, int i, float *out, int max, int *count)
{
    SD_TRY(need_constant(c, n, i));
    const IrValue *v = n->inputs[i];
    int64_t numel = ir_value_numel(v);
    if (numel > max)
        return shape_error(c, n, SD_EBADMODEL, "input %d ('%s') has %lld values; at most %d are expected", i,
                           v->name, (long long)numel, max);
    for (int64_t k = 0; k < numel; k++) {
        switch (v->dtype) {
        case SD_DT_F32: out[k] = ((const float *)v->data)[k]; break;
        case SD_DT_I64: out[k] = (float)((const int64_t *)v->data)[k]; break;
        case SD_DT_I32: out[k] = (float)((const int32_t *)v->data)[k]; break;
        default:
            return shape_error(c, n, SD_EDTYPE, "input %d ('%s') is %s; a float tensor is expected", i, v->name,
                               sd_dtype_name(v->dtype));
        }
    }
    *count = (int)numel;
    return SD_OK;
}

SdStatus shape_broadcast(ShapeCtx *c, const IrNode *n, const IrShape *a, const IrShape *b, IrShape *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    IrShape s = {.rank = r};
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            return shape_error(c, n, SD_ESHAPE, "shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)",
                               ir_shape_str(a, sa, sizeof sa), ir_shape_str(b, sb, sizeof sb), i, (long long)da,
                               (long long)db);
        }
        s.dims[i] = da == 1 ? db : da;
    }
    *out = s;
    return SD_OK;
}

SdStatus shape_axis(ShapeCtx *c, const IrNode *n, int64_t axis, int rank, int64_t *out)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= (rank ? rank : 1))
        return shape_error(c, n, SD_EBADMODEL, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = a;
    return SD_OK;
}

SdStatus shape_expect_dtype(ShapeCtx *c, const IrNode *n, int input, SdDType dt)
{
    const IrValue *v = n->inputs[input];
    if (v->dtype != dt)
        return shape_error(c, n, SD_EDTYPE, "input %d ('%s') is %s; %s is expected", input, v->name,
                           sd_dtype_name(v->dtype), sd_dtype_name(dt));
    return SD_OK;
}

SdStatus shape_expect_rank(ShapeCtx *c, const IrNode *n, int input, int min_rank, int max_rank)
{
    const IrValue *v = n->inputs[input];
    if (v->shape.rank < min_rank || v->shape.rank > max_rank) {
        char sb[128];
        if (min_rank == max_rank)
            return shape_error(c, n, SD_ESHAPE, "input %d ('%s') has shape %s; rank %d is expected", input,
                               v->name, ir_shape_str(&v->shape, sb, sizeof sb), min_rank);
        return shape_error(c, n, SD_ESHAPE, "input %d ('%s') has shape %s; rank %d to %d is expected", input,
                           v->name, ir_shape_str(&v->shape, sb, sizeof sb), min_rank, max_rank);
    }
    return SD_OK;
}

SdStatus shape_same_dtype(ShapeCtx *c, const IrNode *n, int a, int b)
{
    const IrValue *va = n->inputs[a], *vb = n->inputs[b];
    if (va->dtype != vb->dtype)
        return shape_error(c, n, SD_EDTYPE, "inputs '%s' (%s) and '%s' (%s) must have the same element type",
                           va->name, sd_dtype_name(va->dtype), vb->name, sd_dtype_name(vb->dtype));
    return SD_OK;
}

SdStatus shape_check_size(ShapeCtx *c, const IrNode *n, const IrShape *s)
{
    int64_t numel;
    for (int i = 0; i < s->rank; i++)
        if (s->dims[i] < 0)
            return shape_error(c, n, SD_ESHAPE, "output dimension %d would be negative (%lld)", i,
                               (long long)s->dims[i]);
    if (!sd_numel_checked(s->dims, s->rank, &numel) || numel > ((int64_t)1 << 40))
        return shape_error(c, n, SD_ESHAPE, "output would have more than 2^40 elements");
    return SD_OK;
}

SdStatus pass_shape_node(IrGraph *g, IrNode *n, const PassOptions *opt, SdError *err)
{
    ShapeCtx c = {g, opt, err};
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i] && !n->inputs[i]->has_shape)
            return shape_error(&c, n, SD_EINTERNAL, "input '%s' has no known shape", n->inputs[i]->name);
    SD_TRY(family_shape[ir_op_info(n->op)->family](&c, n));
    for (int i = 0; i < n->n_outputs && !n->removed; i++)
        SD_TRY(shape_check_size(&c, n, &n->outputs[i]->shape));
    return SD_OK;
}

SdStatus pass_shape(IrGraph *g, const PassOptions *opt, SdError *err)
{
    ShapeCtx c = {g, opt, err};
    /* Values that shapes depend on are folded as soon as they can be, even with `fold` disabled:
     * without their contents there are no shapes. Everything else folds only when folding is on. */
    bool fold_all = !pass_disabled(opt, "fold");
    unsigned char *needed = fold_all ? NULL : pass_static_values(g);
    int max_id = 0;
    for (int i = 0; i < ir_graph_num_values(g); i++)
        if (ir_graph_value(g, i)->id > max_id)
            max_id = ir_graph_value(g, i)->id;
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        IrNode *n = ir_graph_node(g, k);
        if (n->removed)
            continue;
        for (int i = 0; i < n->n_inputs; i++) {
            const IrValue *v = n->inputs[i];
            if (v && !v->has_shape)
                return shape_error(&c, n, SD_EBADMODEL, "input '%s' has no known shape", v->name);
            if (v && sd_dtype_size(v->dtype) == 0)
                return shape_error(&c, n, SD_EUNSUPPORTED, "input '%s' has element type %s, which seedc does not support",
                                   v->name, sd_dtype_name(v->dtype));
        }
        SdStatus st = family_shape[ir_op_info(n->op)->family](&c, n);
        for (int i = 0; i < n->n_outputs && st == SD_OK && !n->removed; i++)
            st = shape_check_size(&c, n, &n->outputs[i]->shape);
        if (st != SD_OK) {
            free(needed);
            return st;
        }
        if (n->removed)
            continue; /* the shape function replaced the node (Shape, Size) */
        bool fold = fold_all;
        for (int i = 0; i < n->n_outputs && !fold; i++)
            fold = needed && n->outputs[i]->id <= max_id && needed[n->outputs[i]->id];
        bool folded;
        if (fold && (st = pass_fold_node(g, n, opt, &folded, err)) != SD_OK) {
            free(needed);
            return st;
        }
    }
    free(needed);
    ir_graph_compact(g);
    for (int i = 0; i < ir_graph_num_outputs(g); i++)
        if (!ir_graph_output(g, i)->has_shape)
            return sd_errorf(err, SD_EBADMODEL, "%s: graph output '%s' is never computed", ir_graph_source(g),
                             ir_graph_output(g, i)->name);
    return SD_OK;
}
