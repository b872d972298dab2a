/* codegen/lower/lower.c — dispatch by op family, and the call list. */
#include "codegen/lower/lower.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/gemm.h"

typedef SdStatus (*LowerFn)(const IrNode *, const CgLowerOptions *, CgLowered *, SdError *);

static const LowerFn family_lowering[IR_FAM_COUNT] = {
    [IR_FAM_unary] = cg_lower_unary,
    [IR_FAM_binary] = cg_lower_binary,
    [IR_FAM_conv] = cg_lower_conv,
    [IR_FAM_matmul] = cg_lower_matmul,
    [IR_FAM_norm] = cg_lower_norm,
    [IR_FAM_softmax] = cg_lower_softmax,
    [IR_FAM_pool] = cg_lower_pool,
    [IR_FAM_reduce] = cg_lower_reduce,
    [IR_FAM_movement] = cg_lower_movement,
    [IR_FAM_gather] = cg_lower_gather,
    [IR_FAM_generate] = cg_lower_generate,
    [IR_FAM_resize] = cg_lower_resize,
    [IR_FAM_einsum] = cg_lower_einsum,
    [IR_FAM_update] = cg_lower_update,
    [IR_FAM_quant] = cg_lower_quant,
};

int32_t cg_gemm_provider(const CgLowerOptions *opt)
{
    if (opt->gemm == CG_GEMM_OPENBLAS)
        return RT_GEMM_OPENBLAS;
    if (opt->bf16_products)
        return RT_GEMM_BF16;
    return opt->gemm == CG_GEMM_BUILTIN_NARROW ? RT_GEMM_BUILTIN_NARROW : RT_GEMM_BUILTIN;
}

SdStatus cg_lower_node(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    static const CgLowerOptions defaults = {.gemm = CG_GEMM_OPENBLAS};
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n->n_outputs; i++) {
        if (!n->outputs[i]->has_shape) {
            char lb[200];
            return sd_errorf(err, SD_EINTERNAL, "%s: output '%s' has no shape at code generation",
                             ir_node_label(n, lb, sizeof lb), n->outputs[i]->name);
        }
    }
    SdStatus st = family_lowering[ir_op_info(n->op)->family](n, opt ? opt : &defaults, out, err);
    if (st != SD_OK)
        cg_lowered_free(out);
    return st;
}

void cg_lowered_free(CgLowered *l)
{
    for (int i = 0; i < l->n_calls; i++)
        free(l->calls[i].params);
    free(l->calls);
    memset(l, 0, sizeof *l);
}

SdStatus cg_lowered_add(CgLowered *l, const char *kernel, const void *params, size_t params_size,
                        int n_bufs, const int *bufs, SdError *err)
{
    SD_ASSERT(n_bufs <= CG_MAX_CALL_BUFS);
    if (l->n_calls == l->cap_calls) {
        int cap = l->cap_calls ? 2 * l->cap_calls : 4;
        CgCall *c = realloc(l->calls, (size_t)cap * sizeof *c);
        if (!c)
            return sd_errorf(err, SD_ENOMEM, "out of memory lowering to %s", kernel);
        l->calls = c;
        l->cap_calls = cap;
    }
    CgCall *c = &l->calls[l->n_calls];
    memset(c, 0, sizeof *c);
    c->kernel = kernel;
    c->params = malloc(params_size ? params_size : 1);
    if (!c->params)
        return sd_errorf(err, SD_ENOMEM, "out of memory lowering to %s", kernel);
    memcpy(c->params, params, params_size);
    c->params_size = params_size;
    c->n_bufs = n_bufs;
    memcpy(c->bufs, bufs, (size_t)n_bufs * sizeof *bufs);
    l->n_calls++;
    return SD_OK;
}

void cg_lowered_split(CgLowered *l, const char *range_kernel, int64_t extent, double cost)
{
    SD_ASSERT(l->n_calls > 0);
    CgCall *c = &l->calls[l->n_calls - 1];
    c->range_kernel = range_kernel;
    c->extent = extent;
    c->cost = cost;
}

void cg_lowered_grain(CgLowered *l, int64_t grain)
{
    SD_ASSERT(l->n_calls > 0);
    l->calls[l->n_calls - 1].grain = grain;
}

SdStatus cg_unsupported_dtype(const IrNode *n, const IrValue *v, SdError *err)
{
    char lb[200];
    return sd_errorf(err, SD_EUNSUPPORTED, "%s: element type %s of '%s' is not supported by this op",
                     ir_node_label(n, lb, sizeof lb), sd_dtype_name(v->dtype), v->name);
}
