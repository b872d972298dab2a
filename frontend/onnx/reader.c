/* frontend/onnx/reader.c — ModelProto to IR graph. Order matters for names: initializers, graph
 * inputs and every node output are created first under their ONNX names, so values the
 * translators invent can never take a name the model uses; then nodes are translated one by one
 * and the graph is sorted (ONNX requires topological order, not every exporter obeys). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/onnx/import.h"
#include "frontend/onnx/wire_check.h"
#include "support/mem.h"

#define MAX_MODEL_BYTES ((size_t)8 << 30)

static SdStatus read_file(const char *path, uint8_t **buf, size_t *n, SdError *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sd_errorf(err, SD_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return sd_errorf(err, SD_EIO, "'%s' is not a regular file", path);
    }
    if ((size_t)st.st_size > MAX_MODEL_BYTES) {
        fclose(fp);
        return sd_errorf(err, SD_EBADMODEL, "'%s' is larger than 8 GiB", path);
    }
    *n = (size_t)st.st_size;
    *buf = sd_aligned_alloc(*n ? *n : 1); /* huge pages for a large file: fewer faults */
    if (!*buf) {
        fclose(fp);
        return sd_errorf(err, SD_ENOMEM, "out of memory reading '%s' (%zu bytes)", path, *n);
    }
    if (fread(*buf, 1, *n, fp) != *n) {
        fclose(fp);
        sd_aligned_free(*buf);
        return sd_errorf(err, SD_EIO, "cannot read '%s': %s", path, strerror(errno));
    }
    fclose(fp);
    return SD_OK;
}

static bool nonempty(const char *s) { return s && s[0]; }

const char *onnx_graph_name(const OnnxFile *f, const char *onnx_name, char *buf, size_t size)
{
    if (!f->prefix || !f->prefix[0])
        return onnx_name;
    snprintf(buf, size, "%s%s", f->prefix, onnx_name);
    return buf;
}

IrValue *onnx_lookup(const OnnxFile *f, const char *onnx_name)
{
    if (f->input_value && f->input_name && strcmp(onnx_name, f->input_name) == 0)
        return f->input_value;
    char buf[1024];
    return ir_graph_find_value(f->g, onnx_graph_name(f, onnx_name, buf, sizeof buf));
}

/* Binds "name=value" pairs of --dim. */
static bool named_dim(const char *dims, const char *name, int64_t *value)
{
    if (!dims || !name)
        return false;
    size_t n = strlen(name);
    for (const char *p = dims; *p;) {
        const char *eq = strchr(p, '=');
        if (!eq)
            return false;
        if ((size_t)(eq - p) == n && strncmp(p, name, n) == 0) {
            *value = strtoll(eq + 1, NULL, 10);
            return *value > 0;
        }
        const char *comma = strchr(eq, ',');
        if (!comma)
            return false;
        p = comma + 1;
    }
    return false;
}

static SdStatus make_input(OnnxFile *f, const Onnx__ValueInfoProto *vi, const OnnxImportOptions *opt)
{
    const char *name = vi->name;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return sd_errorf(f->err, SD_EUNSUPPORTED, "%s: input '%s' is not a tensor (sequences, maps and optionals are not supported)",
                         f->path, name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt->has_elem_type || !sd_dtype_supported(tt->elem_type))
        return sd_errorf(f->err, SD_EUNSUPPORTED, "%s: input '%s' has element type %s, which seedc does not support",
                         f->path, name, tt->has_elem_type ? sd_dtype_name(tt->elem_type) : "(missing)");
    if (!tt->shape)
        return sd_errorf(f->err, SD_EUNSUPPORTED, "%s: input '%s' has no shape; seedc compiles for static shapes",
                         f->path, name);
    if (tt->shape->n_dim > IR_MAX_RANK)
        return sd_errorf(f->err, SD_EUNSUPPORTED, "%s: input '%s' has rank %zu; at most %d is supported", f->path, name,
                         tt->shape->n_dim, IR_MAX_RANK);
    IrShape s = {.rank = (int)tt->shape->n_dim};
    int64_t batch = opt && opt->batch > 0 ? opt->batch : 1;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        bool has_value = d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        const char *param = d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM ? d->dim_param : NULL;
        int64_t v;
        if (has_value) {
            if (d->dim_value < 0)
                return sd_errorf(f->err, SD_EBADMODEL, "%s: input '%s' dimension %zu is %lld", f->path, name, i,
                                 (long long)d->dim_value);
            s.dims[i] = d->dim_value;
        } else if (named_dim(opt ? opt->dims : NULL, param, &v)) {
            s.dims[i] = v;
        } else if (i == 0) {
            s.dims[i] = batch; /* the leading symbolic dimension is the batch */
        } else if (!nonempty(param)) {
            s.dims[i] = 1; /* an unnamed unknown dimension: ONNX's test models mean 1 */
        } else {
            return sd_errorf(f->err, SD_EUNSUPPORTED,
                             "%s: input '%s' dimension %zu is symbolic ('%s'); bind it with --dim %s=N", f->path, name,
                             i, param, param);
        }
    }
    IrValue *v = ir_value_new(f->g, name, (SdDType)tt->elem_type, &s);
    if (!v)
        return sd_errorf(f->err, SD_ENOMEM, "out of memory");
    ir_graph_add_input(f->g, v);
    return SD_OK;
}

/* Constant nodes become constants bound to their output's value. */
static SdStatus import_constant(OnnxCtx *c, IrValue *out)
{
    const Onnx__NodeProto *node = c->node;
    if (node->n_attribute != 1 || !node->attribute[0] || !node->attribute[0]->name)
        return onnx_node_error(c, SD_EBADMODEL, "Constant needs exactly one value attribute");
    const Onnx__AttributeProto *a = node->attribute[0];
    IrValue *tmp = NULL;
    SdStatus st = SD_OK;
    if (strcmp(a->name, "value") == 0 && a->t) {
        st = onnx_tensor_to_value(c->file, a->t, "constant", &tmp);
    } else if (strcmp(a->name, "value_float") == 0) {
        tmp = ir_constant_new(c->g, "constant", SD_DT_F32, &(IrShape){0}, &a->f, c->err);
    } else if (strcmp(a->name, "value_int") == 0) {
        tmp = ir_constant_new(c->g, "constant", SD_DT_I64, &(IrShape){0}, &a->i, c->err);
    } else if (strcmp(a->name, "value_floats") == 0) {
        IrShape s = ir_shape_make(1, (int64_t[]){(int64_t)a->n_floats});
        tmp = ir_constant_new(c->g, "constant", SD_DT_F32, &s, a->floats, c->err);
    } else if (strcmp(a->name, "value_ints") == 0) {
        IrShape s = ir_shape_make(1, (int64_t[]){(int64_t)a->n_ints});
        tmp = ir_constant_new(c->g, "constant", SD_DT_I64, &s, a->ints, c->err);
    } else {
        return onnx_node_error(c, SD_EUNSUPPORTED, "Constant with attribute '%s' is not supported", a->name);
    }
    if (st != SD_OK || !tmp)
        return st != SD_OK ? st : c->err->status;
    out->dtype = tmp->dtype;
    out->shape = tmp->shape;
    out->has_shape = true;
    ir_value_adopt_data(out, tmp->data, tmp->nbytes);
    tmp->data = NULL;
    tmp->nbytes = 0;
    tmp->role = IR_ROLE_TEMP; /* now empty; compaction drops it */
    return SD_OK;
}

static void count_op(OnnxModelInfo *info, const char *op)
{
    if (!info)
        return;
    info->n_nodes++;
    for (int i = 0; i < info->n_op_types; i++) {
        if (strcmp(info->ops[i].op_type, op) == 0) {
            info->ops[i].count++;
            return;
        }
    }
    if (info->n_op_types < ONNX_INFO_MAX_OPS) {
        snprintf(info->ops[info->n_op_types].op_type, sizeof info->ops[0].op_type, "%s", op);
        info->ops[info->n_op_types++].count = 1;
    }
}

static bool default_domain(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

static SdStatus import_node(OnnxFile *f, const Onnx__NodeProto *node, int64_t opset, int index)
{
    if (!nonempty(node->op_type))
        return sd_errorf(f->err, SD_EBADMODEL, "%s: node %d has no op_type", f->path, index);
    IrValue *in[IR_MAX_OUTPUTS + 8] = {0}, *out[IR_MAX_OUTPUTS] = {0};
    OnnxCtx c = {.file = f, .g = f->g, .opset = opset, .node = node, .in = in, .out = out, .err = f->err,
                 .n_in = (int)node->n_input, .n_out = (int)node->n_output};
    if (node->n_input > sizeof in / sizeof in[0] || node->n_output > IR_MAX_OUTPUTS)
        return onnx_node_error(&c, SD_EUNSUPPORTED, "has %zu inputs and %zu outputs (at most %d each are supported)",
                               node->n_input, node->n_output, IR_MAX_OUTPUTS);
    if (!default_domain(node->domain))
        return onnx_node_error(&c, SD_EUNSUPPORTED, "operator %s of domain '%s' is not supported (only the default ONNX domain is)",
                               node->op_type, node->domain);
    for (size_t i = 0; i < node->n_input; i++) {
        if (!nonempty(node->input[i]))
            continue;
        in[i] = onnx_lookup(f, node->input[i]);
        if (!in[i])
            return onnx_node_error(&c, SD_EBADMODEL, "reads '%s', which no node, input or initializer defines",
                                   node->input[i]);
    }
    /* trailing empty inputs are the same as absent ones */
    while (c.n_in > 0 && !in[c.n_in - 1])
        c.n_in--;
    for (size_t i = 0; i < node->n_output; i++) {
        if (nonempty(node->output[i])) {
            out[i] = onnx_lookup(f, node->output[i]);
        } else {
            char name[64];
            snprintf(name, sizeof name, "unused_output_%d_%zu", index, i);
            out[i] = ir_value_new(f->g, name, SD_DT_UNDEFINED, NULL);
        }
        if (!out[i])
            return onnx_node_error(&c, SD_ENOMEM, "out of memory");
    }
    if (strcmp(node->op_type, "Constant") == 0) {
        SD_TRY(onnx_expect_arity(&c, 0, 0, 1, 1));
        return import_constant(&c, out[0]);
    }
    OnnxImportFn fn = onnx_find_op(node->op_type);
    if (!fn)
        return onnx_node_error(&c, SD_EUNSUPPORTED, "operator %s (opset %lld) is not supported by seedc",
                               node->op_type, (long long)opset);
    /* a node may leave optional trailing outputs unnamed; translators see only what exists */
    while (c.n_out > 1 && !nonempty(node->output[c.n_out - 1]))
        c.n_out--;
    return fn(&c);
}

/* Every name a node writes, created up front (SSA: each exactly once). */
static SdStatus declare_node_outputs(OnnxFile *f, const Onnx__GraphProto *gp)
{
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *node = gp->node[k];
        if (!node)
            return sd_errorf(f->err, SD_EBADMODEL, "%s: node %zu is empty", f->path, k);
        for (size_t i = 0; i < node->n_output; i++) {
            const char *name = node->output[i];
            if (!nonempty(name))
                continue;
            if (onnx_lookup(f, name))
                return sd_errorf(f->err, SD_EBADMODEL, "%s: value '%s' is defined twice (node %zu, %s)", f->path, name,
                                 k, node->op_type ? node->op_type : "?");
            char buf[1024];
            if (!ir_value_new(f->g, onnx_graph_name(f, name, buf, sizeof buf), SD_DT_UNDEFINED, NULL))
                return sd_errorf(f->err, SD_ENOMEM, "out of memory");
        }
    }
    return SD_OK;
}

static SdStatus import_graph(OnnxFile *f, const Onnx__ModelProto *m, const OnnxImportOptions *opt, OnnxModelInfo *info)
{
    const Onnx__GraphProto *gp = m->graph;
    int64_t opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (o && default_domain(o->domain))
            opset = o->has_version ? o->version : 1;
    }
    if (opset < 0)
        opset = m->n_opset_import == 0 ? 1 : -1; /* IR version 1/2 models had no opset_import */
    if (opset < 1)
        return sd_errorf(f->err, SD_EBADMODEL, "%s: the model imports no opset of the default ONNX domain", f->path);
    if (info) {
        info->ir_version = m->has_ir_version ? m->ir_version : 0;
        info->opset = opset;
        snprintf(info->producer, sizeof info->producer, "%s%s%s", m->producer_name ? m->producer_name : "",
                 m->producer_version ? " " : "", m->producer_version ? m->producer_version : "");
        snprintf(info->graph_name, sizeof info->graph_name, "%s", gp->name ? gp->name : "");
    }
    if (gp->n_sparse_initializer)
        return sd_errorf(f->err, SD_EUNSUPPORTED, "%s: sparse initializers are not supported", f->path);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (!t || !nonempty(t->name))
            return sd_errorf(f->err, SD_EBADMODEL, "%s: initializer %zu has no name", f->path, i);
        if (onnx_lookup(f, t->name))
            return sd_errorf(f->err, SD_EBADMODEL, "%s: initializer '%s' is defined twice", f->path, t->name);
        IrValue *v;
        char buf[1024];
        SD_TRY(onnx_tensor_to_value(f, t, onnx_graph_name(f, t->name, buf, sizeof buf), &v));
        if (f->trainable)
            v->role = IR_ROLE_PARAM;
        if (t->has_raw_data && t->raw_data.data && f->alloc) { /* copied: do not hold the weights twice */
            f->alloc->free(f->alloc->allocator_data, t->raw_data.data);
            ((Onnx__TensorProto *)t)->raw_data.data = NULL;
            ((Onnx__TensorProto *)t)->raw_data.len = 0;
        }
        if (info) {
            info->n_initializers++;
            info->n_parameters += ir_value_numel(v);
            info->parameter_bytes += v->nbytes;
        }
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi || !nonempty(vi->name))
            return sd_errorf(f->err, SD_EBADMODEL, "%s: graph input %zu has no name", f->path, i);
        IrValue *existing = onnx_lookup(f, vi->name);
        if (existing && (existing->role == IR_ROLE_CONSTANT || existing->role == IR_ROLE_PARAM) && !existing->producer &&
            existing != f->input_value)
            continue; /* an initializer listed as input (IR version < 4): it stays a constant */
        if (existing && existing == f->input_value)
            continue; /* fed by the graph this model is imported into */
        if (existing)
            return sd_errorf(f->err, SD_EBADMODEL, "%s: graph input '%s' is listed twice", f->path, vi->name);
        if (f->input_value) {
            if (f->input_name)
                return sd_errorf(f->err, SD_EUNSUPPORTED, "%s: a network imported into a recipe takes one input ('%s'); "
                                 "it also has '%s'", f->path, f->input_name, vi->name);
            f->input_name = vi->name; /* the first real input is the one the recipe feeds */
            continue;
        }
        SD_TRY(make_input(f, vi, opt));
    }
    SD_TRY(declare_node_outputs(f, gp));
    for (size_t k = 0; k < gp->n_node; k++) /* counted first: `seedc info` shows them even when one fails */
        count_op(info, gp->node[k]->op_type ? gp->node[k]->op_type : "?");
    for (size_t k = 0; k < gp->n_node; k++)
        SD_TRY(import_node(f, gp->node[k], opset, (int)k));
    if (gp->n_output == 0)
        return sd_errorf(f->err, SD_EBADMODEL, "%s: the graph has no outputs", f->path);
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi || !nonempty(vi->name))
            return sd_errorf(f->err, SD_EBADMODEL, "%s: graph output %zu has no name", f->path, i);
        IrValue *v = onnx_lookup(f, vi->name);
        if (!v)
            return sd_errorf(f->err, SD_EBADMODEL, "%s: graph output '%s' is not computed by any node", f->path, vi->name);
        if (!v->producer && v->role == IR_ROLE_TEMP)
            return sd_errorf(f->err, SD_EBADMODEL, "%s: graph output '%s' is declared but never produced", f->path,
                             vi->name);
        if (!f->input_value)
            ir_graph_add_output(f->g, v);
    }
    for (int i = 0; i < ir_graph_num_values(f->g); i++) {
        IrValue *v = ir_graph_value(f->g, i);
        if (v->role == IR_ROLE_TEMP && !v->producer && v->n_uses > 0)
            return sd_errorf(f->err, SD_EBADMODEL, "%s: value '%s' is read but no node computes it", f->path, v->name);
    }
    SD_TRY(ir_graph_toposort(f->g, f->err));
    if (!f->input_value) /* a graph being built by someone else keeps what it has made so far */
        ir_graph_compact(f->g);
    return SD_OK;
}

/* With owned_buf, the file's bytes are freed as soon as protobuf-c has copied them. */
static SdStatus import_buffer(const uint8_t *buf, size_t n, uint8_t *owned_buf, const char *path,
                              const OnnxImportOptions *opt, IrGraph **out, OnnxModelInfo *info, SdError *err)
{
    *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    SdStatus wire = onnx_wire_check(buf, n, path, 64, err);
    if (wire != SD_OK) {
        sd_aligned_free(owned_buf);
        return wire;
    }
    OnnxCountingAllocator alloc;
    onnx_counting_allocator_init(&alloc, 2 * n + ((size_t)256 << 20));
    Onnx__ModelProto *m = onnx__model_proto__unpack(&alloc.base, n, buf);
    sd_aligned_free(owned_buf);
    if (!m) {
        if (alloc.refused)
            return sd_errorf(err, SD_ENOMEM, "%s: the model needs more memory to parse than allowed (%zu bytes)", path,
                             alloc.cap);
        return sd_errorf(err, SD_EBADMODEL, "%s: not a valid ONNX model (protobuf parsing failed)", path);
    }
    if (!m->graph) {
        onnx__model_proto__free_unpacked(m, &alloc.base);
        return sd_errorf(err, SD_EBADMODEL, "%s: not an ONNX model: it has no graph", path);
    }
    char *path_copy = sd_strdup(path);
    OnnxFile f = {.path = path, .err = err, .alloc = &alloc.base};
    f.dir = path_copy ? sd_strdup(dirname(path_copy)) : NULL;
    free(path_copy);
    const char *base = strrchr(path, '/');
    f.g = ir_graph_new(m->graph->name && m->graph->name[0] ? m->graph->name : (base ? base + 1 : path));
    SdStatus st = SD_OK;
    if (!f.g || !f.dir)
        st = sd_errorf(err, SD_ENOMEM, "out of memory");
    if (st == SD_OK) {
        ir_graph_set_source(f.g, path);
        st = import_graph(&f, m, opt, info);
    }
    onnx__model_proto__free_unpacked(m, &alloc.base);
    free(f.dir);
    if (st != SD_OK) {
        ir_graph_free(f.g);
        return st;
    }
    *out = f.g;
    return SD_OK;
}

SdStatus onnx_import_buffer(const uint8_t *buf, size_t n, const char *path, const OnnxImportOptions *opt,
                            IrGraph **out, OnnxModelInfo *info, SdError *err)
{
    return import_buffer(buf, n, NULL, path, opt, out, info, err);
}

SdStatus onnx_import_into(const char *path, IrGraph *g, const char *prefix, IrValue *input, const char *output,
                          bool trainable, IrValue **out, SdError *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    *out = NULL;
    SD_TRY(read_file(path, &buf, &n, err));
    SdStatus st = onnx_wire_check(buf, n, path, 64, err);
    if (st != SD_OK) {
        sd_aligned_free(buf);
        return st;
    }
    OnnxCountingAllocator alloc;
    onnx_counting_allocator_init(&alloc, 2 * n + ((size_t)256 << 20));
    Onnx__ModelProto *m = onnx__model_proto__unpack(&alloc.base, n, buf);
    sd_aligned_free(buf);
    if (!m)
        return sd_errorf(err, alloc.refused ? SD_ENOMEM : SD_EBADMODEL, "%s: not a valid ONNX model", path);
    char *path_copy = sd_strdup(path);
    OnnxFile f = {.g = g, .path = path, .err = err, .alloc = &alloc.base, .prefix = prefix, .input_value = input,
                  .trainable = trainable};
    f.dir = path_copy ? sd_strdup(dirname(path_copy)) : NULL;
    free(path_copy);
    if (!m->graph)
        st = sd_errorf(err, SD_EBADMODEL, "%s: not an ONNX model: it has no graph", path);
    else if (!f.dir)
        st = sd_errorf(err, SD_ENOMEM, "out of memory");
    else
        st = import_graph(&f, m, NULL, NULL);
    if (st == SD_OK && !f.input_name)
        st = sd_errorf(err, SD_EBADMODEL, "%s: the model has no input to feed", path);
    if (st == SD_OK) {
        const char *want = output && output[0] ? output : m->graph->output[0]->name;
        *out = onnx_lookup(&f, want);
        if (!*out) {
            SdStrbuf names = {0};
            for (size_t i = 0; i < m->graph->n_output; i++)
                sd_strbuf_printf(&names, "%s'%s'", i ? ", " : "", m->graph->output[i]->name);
            st = sd_errorf(err, SD_EUSAGE, "%s: no output named '%s' (it has %s)", path, want, sd_strbuf_str(&names));
            sd_strbuf_free(&names);
        }
    }
    onnx__model_proto__free_unpacked(m, &alloc.base);
    free(f.dir);
    return st;
}

SdStatus onnx_import_file(const char *path, const OnnxImportOptions *opt, IrGraph **out, OnnxModelInfo *info,
                          SdError *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    *out = NULL;
    SD_TRY(read_file(path, &buf, &n, err));
    return import_buffer(buf, n, buf, path, opt, out, info, err);
}
