/* api/model.c — loading, compiling and running models through the layers below. Inputs are
 * checked here, once, so generated code can trust every shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "api/model_internal.h"
#include "codegen/codegen.h"
#include "runtime/threadpool.h"
#include "frontend/dsl/dsl.h"
#include "support/mem.h"
#include "support/names.h"

SdOptions sd_options_default(void) { return (SdOptions){.batch = 1}; }

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* What `seedc info` prints for a graph that did not come from an ONNX file. */
static void info_from_graph(const IrGraph *g, const char *producer, OnnxModelInfo *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->producer, sizeof info->producer, "%s", producer);
    snprintf(info->graph_name, sizeof info->graph_name, "%s", ir_graph_name(g));
    info->n_nodes = ir_graph_num_nodes(g);
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        const char *op = ir_op_name(ir_graph_node(g, i)->op);
        int k = 0;
        while (k < info->n_op_types && strcmp(info->ops[k].op_type, op) != 0)
            k++;
        if (k == info->n_op_types && k < ONNX_INFO_MAX_OPS)
            snprintf(info->ops[info->n_op_types++].op_type, sizeof info->ops[0].op_type, "%s", op);
        if (k < info->n_op_types)
            info->ops[k].count++;
    }
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        const IrValue *v = ir_graph_value(g, i);
        if (v->role != IR_ROLE_CONSTANT || !v->data)
            continue;
        info->n_initializers++;
        info->n_parameters += (int64_t)(v->nbytes / sd_dtype_size(v->dtype));
        info->parameter_bytes += v->nbytes;
    }
}

/* A DSL model as an inference graph: its declared input with the batch in front, its parameters
 * as constants, its return values as outputs. info gets the counts seedc info prints. */
static SdStatus load_dsl(const char *path, const SdOptions *opt, IrGraph **out, OnnxModelInfo *info, SdError *err)
{
    DslProgram *p;
    SD_TRY(dsl_load_file(path, &p, err));
    const DslModel *m;
    char in_name[DSL_NAME_MAX];
    IrShape s;
    IrGraph *g = NULL;
    SdStatus st = dsl_program_select_model(p, opt ? opt->model : NULL, &m, err);
    if (st == SD_OK)
        st = dsl_model_input(m, NULL, 0, in_name, sizeof in_name, &s, err);
    if (st == SD_OK && !(g = ir_graph_new(dsl_model_name(m))))
        st = sd_errorf(err, SD_ENOMEM, "out of memory");
    DslInstanceInfo di = {0};
    if (st == SD_OK) {
        ir_graph_set_source(g, path);
        IrShape full = {.rank = s.rank + 1, .dims = {opt && opt->batch > 0 ? opt->batch : 1}};
        memcpy(full.dims + 1, s.dims, (size_t)s.rank * sizeof *s.dims);
        IrValue *x = ir_value_new(g, in_name, SD_DT_F32, &full), *outs[DSL_MAX_OUTPUTS];
        int n = 0;
        DslInstanceOptions o = dsl_instance_options_default();
        o.params_as_constants = true;
        o.info = &di;
        if (!x)
            st = sd_errorf(err, SD_ENOMEM, "out of memory");
        else
            ir_graph_add_input(g, x);
        if (st == SD_OK)
            st = dsl_model_instantiate(m, g, "", x, &o, outs, &n, err);
        for (int i = 0; st == SD_OK && i < n; i++)
            ir_graph_add_output(g, outs[i]);
    }
    if (st == SD_OK && info) {
        info_from_graph(g, "seedc DSL", info);
        info->n_initializers = di.n_param_tensors + di.n_state_tensors;
        info->n_parameters = di.n_params + di.n_state;
        info->parameter_bytes = (size_t)info->n_parameters * sizeof(float);
    }
    dsl_program_free(p);
    if (st != SD_OK) {
        ir_graph_free(g);
        return st;
    }
    *out = g;
    return SD_OK;
}

SdStatus sd_load_graph(const char *path, const SdOptions *opt, IrGraph **out, OnnxModelInfo *info, SdError *err)
{
    *out = NULL;
    if (ends_with(path, ".sd"))
        return load_dsl(path, opt, out, info, err);
    if (sd_is_checkpoint_file(path)) {
        SD_TRY(sd_checkpoint_graph(path, opt, out, NULL, err));
        if (info)
            info_from_graph(*out, "seedc checkpoint", info);
        return SD_OK;
    }
    if (!ends_with(path, ".onnx"))
        return sd_errorf(err, SD_EUSAGE, "'%s': unknown model type (expected a .onnx, .sd or seedc checkpoint file)",
                         path);
    OnnxImportOptions io = {.batch = opt ? opt->batch : 1, .dims = opt ? opt->dims : NULL};
    return onnx_import_file(path, &io, out, info, err);
}

CgLowerOptions sd_lower_options(const SdOptions *opt)
{
    /* the builtin GEMM by default: 2.2x OpenBLAS on ResNet-18 at batch 1 on 2 threads (OpenBLAS's own
     * threads fight the conv's), see bench/RESULTS.md */
    CgLowerOptions lo = {.gemm = CG_GEMM_BUILTIN};
    if (opt && opt->gemm && strcmp(opt->gemm, "openblas") == 0)
        lo.gemm = CG_GEMM_OPENBLAS;
    lo.no_direct_conv = opt && sd_name_listed(opt->disable, "direct-conv");
    lo.no_winograd = opt && sd_name_listed(opt->disable, "winograd");
    lo.no_winograd4 = opt && sd_name_listed(opt->disable, "winograd4");
    lo.no_winograd_at = opt && sd_name_listed(opt->disable, "winograd-at");
    lo.bf16_products = sd_wants_bf16(opt);
    return lo;
}

/* Constant folding computes in f32 whatever the precision: folded values are the model's. */
static CgLowerOptions lower_options(const SdOptions *opt)
{
    CgLowerOptions lo = sd_lower_options(opt);
    lo.bf16_products = false;
    return lo;
}

typedef struct {
    CgLowerOptions lower;
} EvalCtx;

static SdStatus eval_node(void *ctx, const IrNode *n, void *const *outputs, SdError *err)
{
    return cg_eval_node(n, &((EvalCtx *)ctx)->lower, outputs, err);
}

SdStatus sd_optimize_training(IrGraph *g, const SdOptions *opt, const PassTrainOptions *train, SdError *err)
{
    EvalCtx ec = {lower_options(opt)};
    PassOptions po = {.eval = eval_node, .eval_ctx = &ec, .disabled = opt ? opt->disable : NULL,
                      .verify = opt ? opt->verify : false, .train = train};
    /* bf16: the convolutions and matrix products with constant weights (a frozen teacher's) become
     * the packed bf16 ops of inference; the trained ones get bf16 products in code generation */
    PassQuantOptions q = {.precision = PASS_PRECISION_BF16};
    if (sd_wants_bf16(opt))
        po.quant = &q;
    return pass_run_pipeline(g, "training", &po, err);
}

static SdStatus optimize(IrGraph *g, const SdOptions *opt, PassQuantOptions *q, const char *stop_after,
                         void (*after)(void *ctx, const char *pass, const IrGraph *g), void *after_ctx, SdError *err)
{
    EvalCtx ec = {lower_options(opt)};
    PassOptions po = {
        .eval = eval_node,
        .eval_ctx = &ec,
        .disabled = opt ? opt->disable : NULL,
        .verify = opt ? opt->verify : false,
        .stop_after = stop_after,
        .after_pass = after,
        .after_ctx = after_ctx,
        .quant = q,
    };
    return pass_run_pipeline(g, "inference", &po, err);
}

SdStatus sd_optimize_with(IrGraph *g, const SdOptions *opt, PassQuantOptions *q, const char *stop_after,
                          SdError *err)
{
    return optimize(g, opt, q, stop_after, NULL, NULL, err);
}

SdStatus sd_optimize(IrGraph *g, const SdOptions *opt, const char *stop_after,
                     void (*after)(void *ctx, const char *pass, const IrGraph *g), void *after_ctx, SdError *err)
{
    PassQuantOptions q;
    SdCalibration cal = {0};
    SD_TRY(sd_quant_options(ir_graph_source(g), opt, &q, &cal, err));
    SdStatus st = optimize(g, opt, &q, stop_after, after, after_ctx, err);
    sd_calibration_free(&cal);
    return st;
}

/* The compiled code has its own copy of every constant: the graph keeps only shapes and names. */
void sd_graph_drop_constants(IrGraph *g)
{
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        if (v->role == IR_ROLE_CONSTANT && v->data && !v->producer) {
            sd_aligned_free(v->data);
            v->data = NULL;
        }
    }
}

/* m's code from graph `code` (m->graph's, or its slice's) for `threads` threads; `copies` scratch
 * arenas, one per thread running a slice. */
SdStatus sd_model_compile_code(SdModel *m, IrGraph *code, const SdOptions *opt, int threads, int copies, SdError *err)
{
    CgOptions co = {.name = "model", .lower = sd_lower_options(opt), .opt_level = opt ? opt->opt_level : 0,
                    .print_llvm = opt && opt->print_llvm, .threads = threads, .release_constants = true,
                    .no_pack_weights = opt && sd_name_listed(opt->disable, "prepack"), .profile = opt && opt->profile,
                    .compile_threads = opt ? opt->compile_threads : 0};
    SD_TRY(cg_compile_jit(code, &co, &m->code, err));
    m->scratch_bytes = sd_align_up(cg_model_scratch_bytes(m->code));
    m->scratch = sd_aligned_alloc(m->scratch_bytes * (size_t)copies);
    m->state = sd_aligned_alloc(cg_model_state_bytes(m->code));
    m->io = calloc((size_t)(ir_graph_num_inputs(code) + ir_graph_num_outputs(code) + 1), sizeof *m->io);
    if (!m->scratch || !m->state || !m->io)
        return sd_errorf(err, SD_ENOMEM, "out of memory for %zu bytes of scratch memory",
                         m->scratch_bytes * (size_t)copies);
    if (cg_model_state_bytes(m->code))
        memcpy(m->state, cg_model_state_init(m->code), cg_model_state_bytes(m->code));
    sd_model_profile_reset(m);
    return SD_OK;
}

SdStatus sd_model_compile(IrGraph *g, const SdOptions *opt, SdModel **out, SdError *err)
{
    *out = NULL;
    SdModel *m = calloc(1, sizeof *m);
    if (!m)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    m->graph = g;
    m->n_original_inputs = ir_graph_num_inputs(g);
    if (opt && opt->threads > 0)
        rt_set_num_threads(opt->threads);
    if (opt)
        rt_set_spin_us(opt->spin_us);
    SdStatus st = sd_model_compile_code(m, g, opt, rt_num_threads(), 1, err);
    if (st != SD_OK) {
        m->graph = NULL; /* the caller still owns the graph on failure */
        sd_model_free(m);
        return st;
    }
    sd_graph_drop_constants(g);
    *out = m;
    return SD_OK;
}

SdStatus sd_model_load_for_inputs(const char *path, const SdOptions *opt, const RtTensor *inputs, int n,
                                  SdModel **out, SdError *err)
{
    IrGraph *g;
    *out = NULL;
    /* int8: one calibration (ranges by tensor name) for the whole batch's graph and its slice's;
     * before this graph is loaded, so that its weights and the calibration build's are not in
     * memory at once (ResNet-50: 102 MB each) */
    PassQuantOptions q;
    SdCalibration cal = {0};
    SD_TRY(sd_quant_options(path, opt, &q, &cal, err));
    SdStatus st = sd_load_graph(path, opt, &g, NULL, err);
    if (st != SD_OK) {
        sd_calibration_free(&cal);
        return st;
    }
    int n_original = ir_graph_num_inputs(g);
    bool *bound = calloc((size_t)n_original + 1, sizeof *bound);
    PassBinding *b = calloc((size_t)n + 1, sizeof *b);
    st = bound && b ? SD_OK : sd_errorf(err, SD_ENOMEM, "out of memory");
    if (st == SD_OK && inputs && n != n_original)
        st = sd_errorf(err, SD_EUSAGE, "the model takes %d input%s; %d given", n_original, n_original == 1 ? "" : "s", n);
    if (st == SD_OK && inputs) {
        for (int i = 0; i < n; i++)
            b[i] = (PassBinding){inputs[i].dtype, inputs[i].rank, inputs[i].dims, inputs[i].data};
        st = pass_bind_static_inputs(g, b, n, bound, err);
    }
    free(b);
    if (st == SD_OK)
        st = sd_optimize_with(g, opt, &q, NULL, err);
    bool any_bound = false;
    for (int i = 0; bound && i < n_original; i++)
        any_bound |= bound[i];
    if (st == SD_OK && !any_bound) /* a bound input is one tensor of the whole batch */
        st = sd_model_load_sliced(path, opt, &q, g, out, err);
    sd_calibration_free(&cal);
    if (st == SD_OK && !*out)
        st = sd_model_compile(g, opt, out, err);
    if (st != SD_OK) {
        ir_graph_free(g);
        free(bound);
        return st;
    }
    (*out)->n_original_inputs = n_original;
    free((*out)->bound);
    (*out)->bound = bound;
    return SD_OK;
}

SdStatus sd_model_load(const char *path, const SdOptions *opt, SdModel **out, SdError *err)
{
    return sd_model_load_for_inputs(path, opt, NULL, 0, out, err);
}

void sd_model_free(SdModel *m)
{
    if (!m)
        return;
    cg_model_free(m->code);
    ir_graph_free(m->code_graph);
    free(m->slice_bytes);
    free(m->slice_io);
    sd_aligned_free(m->scratch);
    sd_aligned_free(m->state);
    free(m->io);
    free(m->bound);
    ir_graph_free(m->graph);
    free(m);
}

int sd_model_num_inputs(const SdModel *m) { return ir_graph_num_inputs(m->graph); }
int sd_model_num_outputs(const SdModel *m) { return ir_graph_num_outputs(m->graph); }

static SdTensorInfo info_of(const IrValue *v)
{
    SdTensorInfo t = {.name = v->name, .dtype = v->dtype, .rank = v->shape.rank};
    memcpy(t.dims, v->shape.dims, sizeof(int64_t) * (size_t)v->shape.rank);
    return t;
}

SdTensorInfo sd_model_input(const SdModel *m, int i) { return info_of(ir_graph_input(m->graph, i)); }
SdTensorInfo sd_model_output(const SdModel *m, int i) { return info_of(ir_graph_output(m->graph, i)); }
int sd_model_num_state(const SdModel *m) { return cg_model_num_state_entries(m->code); }

SdStateInfo sd_model_state(const SdModel *m, int i)
{
    const CgStateEntry *e = cg_model_state_entry(m->code, i);
    SdStateInfo s = {.name = e->name, .trainable = e->role == IR_ROLE_PARAM, .dtype = e->dtype, .rank = e->shape.rank,
                     .nbytes = e->nbytes, .data = (uint8_t *)m->state + e->offset};
    memcpy(s.dims, e->shape.dims, sizeof(int64_t) * (size_t)e->shape.rank);
    return s;
}

int sd_model_find_state(const SdModel *m, const char *name)
{
    for (int i = 0; i < cg_model_num_state_entries(m->code); i++)
        if (strcmp(cg_model_state_entry(m->code, i)->name, name) == 0)
            return i;
    return -1;
}

int sd_model_profile(const SdModel *m, SdNodeTime *out, int cap)
{
    const size_t at = cg_model_profile_offset(m->code);
    if (at == SIZE_MAX)
        return 0;
    const int64_t *slots = (const int64_t *)((const char *)m->scratch + at);
    const int n = ir_graph_num_nodes(m->graph);
    for (int i = 0; i < n && i < cap; i++) {
        const IrNode *node = ir_graph_node(m->graph, i);
        out[i] = (SdNodeTime){.name = node->name, .op = ir_op_name(node->op), .ms = (double)slots[2 * i] * 1e-6,
                              .runs = slots[2 * i + 1]};
    }
    return n;
}

void sd_model_profile_reset(SdModel *m)
{
    const size_t at = cg_model_profile_offset(m->code);
    if (at != SIZE_MAX)
        memset((char *)m->scratch + at, 0, (size_t)ir_graph_num_nodes(m->graph) * 2 * sizeof(int64_t));
}

static int by_ms(const void *a, const void *b)
{
    const SdNodeTime *x = a, *y = b;
    return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : 0;
}

SdStatus sd_model_profile_print(const SdModel *m, FILE *out, int top)
{
    const int n = sd_model_profile(m, NULL, 0);
    if (n == 0)
        return SD_OK;
    SdNodeTime *t = calloc((size_t)n, sizeof *t), *ops = calloc((size_t)n, sizeof *ops);
    if (!t || !ops) {
        free(t), free(ops);
        return SD_ENOMEM;
    }
    sd_model_profile(m, t, n);
    int64_t runs = 0;
    for (int i = 0; i < n; i++)
        runs = t[i].runs > runs ? t[i].runs : runs;
    double total = 0;
    int n_ops = 0;
    for (int i = 0; i < n; i++) { /* per op: ms, and the node count in runs */
        t[i].ms /= (double)(runs > 0 ? runs : 1);
        total += t[i].ms;
        int k = 0;
        while (k < n_ops && strcmp(ops[k].op, t[i].op) != 0)
            k++;
        if (k == n_ops)
            ops[n_ops++] = (SdNodeTime){.op = t[i].op};
        ops[k].ms += t[i].ms;
        ops[k].runs++;
    }
    qsort(ops, (size_t)n_ops, sizeof *ops, by_ms);
    qsort(t, (size_t)n, sizeof *t, by_ms);
    fprintf(out, "profile     %d nodes, %.3f ms per run in them (mean of %lld runs)\n", n, total, (long long)runs);
    fprintf(out, "  by op:\n");
    for (int k = 0; k < n_ops; k++)
        fprintf(out, "    %-22s %9.3f ms %6.1f%%  %lld node%s\n", ops[k].op, ops[k].ms,
                total > 0 ? 100 * ops[k].ms / total : 0, (long long)ops[k].runs, ops[k].runs == 1 ? "" : "s");
    const int shown = top <= 0 || top > n ? n : top;
    fprintf(out, "  slowest %d node%s:\n", shown, shown == 1 ? "" : "s");
    for (int i = 0; i < shown; i++)
        fprintf(out, "    %9.3f ms %6.1f%%  %-20s %s\n", t[i].ms, total > 0 ? 100 * t[i].ms / total : 0, t[i].op,
                t[i].name);
    free(t), free(ops);
    return SD_OK;
}

size_t sd_model_constants_bytes(const SdModel *m) { return cg_model_consts_bytes(m->code); }
size_t sd_model_scratch_bytes(const SdModel *m)
{
    return m->slices > 1 ? m->scratch_bytes * (size_t)m->threads : cg_model_scratch_bytes(m->code);
}
double sd_model_compile_seconds(const SdModel *m) { return cg_model_compile_seconds(m->code); }
int sd_model_compile_parts(const SdModel *m) { return cg_model_parts(m->code); }
int64_t sd_model_slices(const SdModel *m) { return m->slices > 1 ? m->slices : 1; }

static void run_code(SdModel *m)
{
    if (m->slices > 1)
        sd_model_run_slices(m);
    else
        cg_model_entry(m->code)(cg_model_consts(m->code), m->state, m->scratch, m->io);
}

static SdStatus check_input(const IrValue *v, const RtTensor *t, int i, SdError *err)
{
    char want[160], got[160];
    IrShape s = ir_shape_make(t->rank, t->dims);
    if (t->dtype != v->dtype || !ir_shape_equal(&s, &v->shape)) {
        snprintf(got, sizeof got, "%s", sd_dtype_name(t->dtype));
        ir_shape_str(&s, got + strlen(got), sizeof got - strlen(got));
        return sd_errorf(err, SD_ESHAPE, "input %d ('%s'%s%s%s) is %s; the model expects %s", i, v->name,
                         t->name ? ", from tensor '" : "", t->name ? t->name : "", t->name ? "'" : "", got,
                         ir_value_type_str(v, want, sizeof want));
    }
    return SD_OK;
}

SdStatus sd_model_run(SdModel *m, const RtTensor *inputs, int n_inputs, RtTensor *outputs, int n_outputs,
                      SdError *err)
{
    int ni = ir_graph_num_inputs(m->graph), no = ir_graph_num_outputs(m->graph);
    bool with_bound = m->bound && n_inputs == m->n_original_inputs && n_inputs != ni;
    if (n_inputs != ni && !with_bound)
        return sd_errorf(err, SD_EUSAGE, "the model takes %d input%s; %d given", ni, ni == 1 ? "" : "s", n_inputs);
    if (n_outputs != no)
        return sd_errorf(err, SD_EUSAGE, "the model has %d output%s; %d requested", no, no == 1 ? "" : "s", n_outputs);
    for (int i = 0, k = 0; i < n_inputs; i++) {
        if (with_bound && m->bound[i])
            continue; /* compiled in; sd_model_load_for_inputs saw this very tensor */
        SD_TRY(check_input(ir_graph_input(m->graph, k), &inputs[i], i, err));
        m->io[k++] = inputs[i].data;
    }
    for (int j = 0; j < no; j++) {
        const IrValue *v = ir_graph_output(m->graph, j);
        memset(&outputs[j], 0, sizeof outputs[j]);
        SdStatus st = rt_tensor_alloc(&outputs[j], v->dtype, v->shape.rank, v->shape.dims, err);
        if (st == SD_OK && !(outputs[j].name = sd_strdup(v->name)))
            st = sd_errorf(err, SD_ENOMEM, "out of memory");
        if (st != SD_OK) {
            for (int k = 0; k <= j; k++)
                rt_tensor_free(&outputs[k]);
            return st;
        }
        m->io[ni + j] = outputs[j].data;
    }
    run_code(m);
    return SD_OK;
}

void sd_model_run_raw(SdModel *m, void *const *inputs, void *const *outputs)
{
    int ni = ir_graph_num_inputs(m->graph), no = ir_graph_num_outputs(m->graph);
    for (int i = 0; i < ni; i++)
        m->io[i] = inputs[i];
    for (int j = 0; j < no; j++)
        m->io[ni + j] = outputs[j];
    run_code(m);
}
