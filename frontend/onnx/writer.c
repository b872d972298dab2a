/* frontend/onnx/writer.c — IR to ONNX. Each IR op maps back onto the ONNX op it came from (opset
 * 17), with its resolved attributes; ops ONNX 17 lacks (GELU, SiLU, Mish) become their defining
 * compositions. Everything allocated for the protobuf message lives in one list freed at the end. */
#include "frontend/onnx/writer_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/mem.h"


static void *keep(Writer *w, void *p)
{
    if (!p) {
        w->failed = true;
        return NULL;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        void **b = realloc(w->blocks, cap * sizeof *b);
        if (!b) {
            w->failed = true;
            free(p);
            return NULL;
        }
        w->blocks = b, w->cap = cap;
    }
    return w->blocks[w->n++] = p;
}

void *onnxw_zalloc(Writer *w, size_t n) { return keep(w, calloc(1, n ? n : 1)); }
char *onnxw_str(Writer *w, const char *s) { return keep(w, sd_strdup(s)); }

static bool grow(Writer *w, void ***arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? 2 * *cap : 64;
    void **a = realloc(*arr, c * sizeof **arr);
    if (!a)
        return w->failed = true, false;
    *arr = a, *cap = c;
    return true;
}

Onnx__NodeProto *onnxw_node(Writer *w, const char *op, const char *name, const char *const *in, int n_in,
                             const char *const *out, int n_out)
{
    Onnx__NodeProto *n = onnxw_zalloc(w, sizeof *n);
    if (!n)
        return NULL;
    onnx__node_proto__init(n);
    n->op_type = onnxw_str(w, op);
    n->name = onnxw_str(w, name);
    n->input = onnxw_zalloc(w, sizeof(char *) * (size_t)(n_in ? n_in : 1));
    n->output = onnxw_zalloc(w, sizeof(char *) * (size_t)(n_out ? n_out : 1));
    n->attribute = onnxw_zalloc(w, sizeof(void *) * 16);
    if (!n->input || !n->output || !n->attribute)
        return NULL;
    for (int i = 0; i < n_in; i++)
        n->input[n->n_input++] = onnxw_str(w, in[i] ? in[i] : "");
    for (int i = 0; i < n_out; i++)
        n->output[n->n_output++] = onnxw_str(w, out[i]);
    Onnx__GraphProto *g = w->graph;
    if (!grow(w, (void ***)&g->node, g->n_node, &w->cap_nodes))
        return NULL;
    g->node[g->n_node++] = n;
    return n;
}

Onnx__AttributeProto *onnxw_attr(Writer *w, Onnx__NodeProto *n, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    if (!n || n->n_attribute >= 16)
        return NULL;
    Onnx__AttributeProto *a = onnxw_zalloc(w, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = onnxw_str(w, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

void onnxw_attr_i(Writer *w, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = onnxw_attr(w, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a)
        a->has_i = 1, a->i = v;
}

void onnxw_attr_f(Writer *w, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = onnxw_attr(w, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a)
        a->has_f = 1, a->f = v;
}

void onnxw_attr_ints(Writer *w, Onnx__NodeProto *n, const char *name, const int64_t *v, int count)
{
    Onnx__AttributeProto *a = onnxw_attr(w, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a)
        return;
    a->ints = onnxw_zalloc(w, sizeof(int64_t) * (size_t)(count ? count : 1));
    if (a->ints) {
        memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
        a->n_ints = (size_t)count;
    }
}

void onnxw_attr_s(Writer *w, Onnx__NodeProto *n, const char *name, const char *s)
{
    Onnx__AttributeProto *a = onnxw_attr(w, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (a) {
        a->has_s = 1;
        a->s.data = (uint8_t *)onnxw_str(w, s);
        a->s.len = strlen(s);
    }
}

static Onnx__TensorProto *initializer(Writer *w, const char *name, SdDType dt, const IrShape *s, const void *data,
                                      size_t nbytes)
{
    Onnx__TensorProto *t = onnxw_zalloc(w, sizeof *t);
    if (!t)
        return NULL;
    onnx__tensor_proto__init(t);
    t->name = onnxw_str(w, name);
    t->has_data_type = 1;
    t->data_type = dt;
    t->dims = onnxw_zalloc(w, sizeof(int64_t) * (size_t)(s->rank ? s->rank : 1));
    if (t->dims)
        memcpy(t->dims, s->dims, sizeof(int64_t) * (size_t)s->rank);
    t->n_dims = (size_t)s->rank;
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = onnxw_zalloc(w, nbytes);
    if (t->raw_data.data && nbytes)
        memcpy(t->raw_data.data, data, nbytes);
    Onnx__GraphProto *g = w->graph;
    if (!grow(w, (void ***)&g->initializer, g->n_initializer, &w->cap_inits))
        return NULL;
    g->initializer[g->n_initializer++] = t;
    return t;
}

/* A new i64 initializer (shape inputs) or f32 scalar; returns its name. */
const char *onnxw_const_ints(Writer *w, const int64_t *v, int n)
{
    char name[64];
    snprintf(name, sizeof name, "seedc_const_%d", w->n_temps++);
    IrShape s = ir_shape_make(1, (int64_t[]){n});
    Onnx__TensorProto *t = initializer(w, name, SD_DT_I64, &s, v, sizeof(int64_t) * (size_t)n);
    return t ? t->name : "";
}

const char *onnxw_const_scalar(Writer *w, float v)
{
    char name[64];
    snprintf(name, sizeof name, "seedc_const_%d", w->n_temps++);
    IrShape s = ir_shape_make(0, NULL);
    Onnx__TensorProto *t = initializer(w, name, SD_DT_F32, &s, &v, sizeof v);
    return t ? t->name : "";
}

const char *onnxw_temp(Writer *w)
{
    char name[64];
    snprintf(name, sizeof name, "seedc_tmp_%d", w->n_temps++);
    return onnxw_str(w, name);
}

static Onnx__ValueInfoProto *value_info(Writer *w, const IrValue *v, bool symbolic_batch)
{
    Onnx__ValueInfoProto *vi = onnxw_zalloc(w, sizeof *vi);
    Onnx__TypeProto *tp = onnxw_zalloc(w, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = onnxw_zalloc(w, sizeof *tt);
    Onnx__TensorShapeProto *sp = onnxw_zalloc(w, sizeof *sp);
    if (!vi || !tp || !tt || !sp)
        return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    vi->name = onnxw_str(w, v->name);
    tt->has_elem_type = 1;
    tt->elem_type = v->dtype;
    sp->dim = onnxw_zalloc(w, sizeof(void *) * (size_t)(v->shape.rank ? v->shape.rank : 1));
    for (int i = 0; i < v->shape.rank && sp->dim; i++) {
        Onnx__TensorShapeProto__Dimension *d = onnxw_zalloc(w, sizeof *d);
        if (!d)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0 && symbolic_batch) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = onnxw_str(w, "batch");
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = v->shape.dims[i];
        }
        sp->dim[sp->n_dim++] = d;
    }
    tt->shape = sp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

SdStatus onnx_export_file(const IrGraph *g, const char *path, const OnnxExportOptions *opt, SdError *err)
{
    static const OnnxExportOptions defaults = {0};
    if (!opt)
        opt = &defaults;
    Writer w = {.g = g, .symbolic_batch = opt->symbolic_batch, .err = err};
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    onnx__model_proto__init(&model);
    onnx__graph_proto__init(&graph);
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "";
    opset.has_version = 1;
    opset.version = WRITER_OPSET;
    model.has_ir_version = 1;
    model.ir_version = 8;
    model.producer_name = (char *)(opt->producer ? opt->producer : "seedc");
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.graph = &graph;
    graph.name = (char *)ir_graph_name(g);
    w.graph = &graph;
    SdStatus st = SD_OK;
    for (int i = 0; i < ir_graph_num_values(g) && st == SD_OK; i++) {
        const IrValue *v = ir_graph_value(g, i);
        bool stored = v->role == IR_ROLE_CONSTANT || v->role == IR_ROLE_PARAM || v->role == IR_ROLE_STATE;
        if (!stored || v->producer || (!v->n_uses && !ir_value_is_graph_output(g, v)))
            continue;
        if (!v->data && ir_value_nbytes(v))
            st = sd_errorf(err, SD_EUSAGE, "cannot export '%s': its data was released after compiling", v->name);
        else
            initializer(&w, v->name, v->dtype, &v->shape, v->data, ir_value_nbytes(v));
    }
    for (int k = 0; k < ir_graph_num_nodes(g) && st == SD_OK; k++)
        st = onnxw_export_node(&w, ir_graph_node(g, k));
    size_t n_in = (size_t)ir_graph_num_inputs(g), n_out = (size_t)ir_graph_num_outputs(g);
    graph.input = onnxw_zalloc(&w, sizeof(void *) * (n_in ? n_in : 1));
    graph.output = onnxw_zalloc(&w, sizeof(void *) * (n_out ? n_out : 1));
    for (size_t i = 0; i < n_in && graph.input && st == SD_OK; i++)
        graph.input[graph.n_input++] = value_info(&w, ir_graph_input(g, (int)i), opt->symbolic_batch);
    for (size_t i = 0; i < n_out && graph.output && st == SD_OK; i++) {
        const IrValue *v = ir_graph_output(g, (int)i);
        if (!v->producer && v->role != IR_ROLE_INPUT) { /* a constant output needs a node to name it */
            const char *in[1] = {v->name};
            char alias[256];
            snprintf(alias, sizeof alias, "%s_out", v->name);
            onnxw_node(&w, "Identity", alias, in, 1, (const char *[]){alias}, 1);
        }
        graph.output[graph.n_output++] = value_info(&w, v, opt->symbolic_batch);
    }
    if (st == SD_OK && w.failed)
        st = sd_errorf(err, SD_ENOMEM, "out of memory exporting '%s'", path);
    if (st == SD_OK) {
        size_t len = onnx__model_proto__get_packed_size(&model);
        uint8_t *buf = malloc(len ? len : 1);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = buf ? fopen(tmp, "wb") : NULL;
        if (!f) {
            st = sd_errorf(err, SD_EIO, "cannot write '%s': %s", path, buf ? strerror(errno) : "out of memory");
        } else {
            onnx__model_proto__pack(&model, buf);
            bool ok = fwrite(buf, 1, len, f) == len;
            ok = fclose(f) == 0 && ok;
            if (!ok || rename(tmp, path) != 0) {
                unlink(tmp);
                st = sd_errorf(err, SD_EIO, "cannot write '%s'", path);
            }
        }
        free(buf);
    }
    for (size_t i = 0; i < w.n; i++)
        free(w.blocks[i]);
    free(w.blocks);
    free(graph.node);
    free(graph.initializer);
    return st;
}
