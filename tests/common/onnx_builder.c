/* tests/common/onnx_builder.c — ONNX models for tests through protobuf-c's generated structs. */
#include "tests/common/onnx_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#define MAXN 64

struct TbModel {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    Onnx__NodeProto *nodes[MAXN];
    Onnx__ValueInfoProto *inputs[MAXN], *outputs[MAXN];
    Onnx__TensorProto *inits[MAXN];
    void *owned[4096]; /* everything allocated, freed at the end */
    int n_owned;
};

static void *own(TbModel *m, void *p)
{
    if (m->n_owned < 4096)
        m->owned[m->n_owned++] = p;
    return p;
}
static void *zalloc(TbModel *m, size_t n) { return own(m, calloc(1, n)); }
static char *dup_str(TbModel *m, const char *s) { return own(m, strdup(s)); }

TbModel *tb_model_new(int64_t opset)
{
    TbModel *m = calloc(1, sizeof *m);
    onnx__model_proto__init(&m->model);
    onnx__graph_proto__init(&m->graph);
    onnx__operator_set_id_proto__init(&m->opset);
    m->opset.domain = "";
    m->opset.has_version = 1;
    m->opset.version = opset;
    m->opsets[0] = &m->opset;
    m->model.n_opset_import = 1;
    m->model.opset_import = m->opsets;
    m->model.has_ir_version = 1;
    m->model.ir_version = 8;
    m->model.producer_name = "seedc tests";
    m->model.graph = &m->graph;
    m->graph.name = "test";
    m->graph.node = m->nodes;
    m->graph.input = m->inputs;
    m->graph.output = m->outputs;
    m->graph.initializer = m->inits;
    return m;
}

void tb_model_free(TbModel *m)
{
    for (int i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m);
}

static Onnx__ValueInfoProto *value_info(TbModel *m, const char *name, SdDType dt, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = zalloc(m, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = dup_str(m, name);
    Onnx__TypeProto *tp = zalloc(m, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = zalloc(m, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = dt;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    if (rank >= 0 && dims) {
        Onnx__TensorShapeProto *sp = zalloc(m, sizeof *sp);
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)rank;
        sp->dim = zalloc(m, sizeof(void *) * (size_t)(rank ? rank : 1));
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *d = zalloc(m, sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            if (dims[i] >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = "N";
            }
            sp->dim[i] = d;
        }
        tt->shape = sp;
    }
    return vi;
}

void tb_input(TbModel *m, const char *name, SdDType dt, int rank, const int64_t *dims)
{
    m->inputs[m->graph.n_input++] = value_info(m, name, dt, rank, dims);
}

void tb_input_from_init(TbModel *m, const char *name, SdDType dt, int rank, const int64_t *dims)
{
    tb_input(m, name, dt, rank, dims);
}

void tb_output(TbModel *m, const char *name, SdDType dt)
{
    m->outputs[m->graph.n_output++] = value_info(m, name, dt, -1, NULL);
}

static char **name_list(TbModel *m, const char *const *names, size_t *n)
{
    size_t k = 0;
    while (names && names[k])
        k++;
    char **out = zalloc(m, sizeof(char *) * (k ? k : 1));
    for (size_t i = 0; i < k; i++)
        out[i] = dup_str(m, names[i]);
    *n = k;
    return out;
}

void tb_node(TbModel *m, const char *op_type, const char *name, const char *const *inputs, const char *const *outputs)
{
    Onnx__NodeProto *n = zalloc(m, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = dup_str(m, op_type);
    n->name = name ? dup_str(m, name) : NULL;
    n->input = name_list(m, inputs, &n->n_input);
    n->output = name_list(m, outputs, &n->n_output);
    n->attribute = zalloc(m, sizeof(void *) * 16);
    m->nodes[m->graph.n_node++] = n;
}

static Onnx__AttributeProto *new_attr(TbModel *m, const char *name, Onnx__AttributeProto__AttributeType type)
{
    Onnx__NodeProto *n = m->nodes[m->graph.n_node - 1];
    Onnx__AttributeProto *a = zalloc(m, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = dup_str(m, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

void tb_attr_int(TbModel *m, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = new_attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void tb_attr_float(TbModel *m, const char *name, float v)
{
    Onnx__AttributeProto *a = new_attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void tb_attr_ints(TbModel *m, const char *name, const int64_t *v, int n)
{
    Onnx__AttributeProto *a = new_attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)n;
    a->ints = zalloc(m, sizeof(int64_t) * (size_t)(n ? n : 1));
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
}

void tb_attr_string(TbModel *m, const char *name, const char *s)
{
    Onnx__AttributeProto *a = new_attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(s);
    a->s.data = (uint8_t *)dup_str(m, s);
}

static Onnx__TensorProto *new_tensor(TbModel *m, const char *name, SdDType dt, int rank, const int64_t *dims)
{
    Onnx__TensorProto *t = zalloc(m, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = dup_str(m, name);
    t->has_data_type = 1;
    t->data_type = dt;
    t->n_dims = (size_t)rank;
    t->dims = zalloc(m, sizeof(int64_t) * (size_t)(rank ? rank : 1));
    if (rank > 0)
        memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    m->inits[m->graph.n_initializer++] = t;
    return t;
}

static size_t numel(int rank, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    return n;
}

void tb_init_f32(TbModel *m, const char *name, int rank, const int64_t *dims, const float *data, int typed)
{
    Onnx__TensorProto *t = new_tensor(m, name, SD_DT_F32, rank, dims);
    size_t n = numel(rank, dims);
    if (typed) {
        t->n_float_data = n;
        t->float_data = zalloc(m, sizeof(float) * (n ? n : 1));
        memcpy(t->float_data, data, sizeof(float) * n);
    } else {
        t->has_raw_data = 1;
        t->raw_data.len = n * sizeof(float);
        t->raw_data.data = zalloc(m, t->raw_data.len + 1);
        memcpy(t->raw_data.data, data, t->raw_data.len);
    }
}

void tb_init_i64(TbModel *m, const char *name, int rank, const int64_t *dims, const int64_t *data)
{
    Onnx__TensorProto *t = new_tensor(m, name, SD_DT_I64, rank, dims);
    size_t n = numel(rank, dims);
    t->n_int64_data = n;
    t->int64_data = zalloc(m, sizeof(int64_t) * (n ? n : 1));
    memcpy(t->int64_data, data, sizeof(int64_t) * n);
}

void tb_init_external(TbModel *m, const char *name, int rank, const int64_t *dims, const char *location,
                      int64_t offset, int64_t length)
{
    Onnx__TensorProto *t = new_tensor(m, name, SD_DT_F32, rank, dims);
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->n_external_data = length >= 0 ? 3 : 2; /* length is optional */
    t->external_data = zalloc(m, sizeof(void *) * 3);
    const char *keys[3] = {"location", "offset", "length"};
    char vals[3][64];
    snprintf(vals[0], sizeof vals[0], "%s", location);
    snprintf(vals[1], sizeof vals[1], "%lld", (long long)offset);
    snprintf(vals[2], sizeof vals[2], "%lld", (long long)length);
    for (size_t i = 0; i < t->n_external_data; i++) {
        Onnx__StringStringEntryProto *kv = zalloc(m, sizeof *kv);
        onnx__string_string_entry_proto__init(kv);
        kv->key = dup_str(m, keys[i]);
        kv->value = dup_str(m, vals[i]);
        t->external_data[i] = kv;
    }
}

uint8_t *tb_pack(TbModel *m, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&m->model);
    uint8_t *buf = malloc(*len ? *len : 1);
    onnx__model_proto__pack(&m->model, buf);
    return buf;
}

void tb_save(TbModel *m, const char *path)
{
    size_t len;
    uint8_t *buf = tb_pack(m, &len);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    free(buf);
}

const char *tb_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/seedc-test-XXXXXX");
        if (!mkdtemp(dir))
            snprintf(dir, sizeof dir, "/tmp");
    }
    return dir;
}

const char *tb_path(const char *file)
{
    static char paths[64][512];
    static int next;
    char *p = paths[next++ % 64];
    snprintf(p, 512, "%s/%s", tb_tmpdir(), file);
    return p;
}

const char *tb_seedc(void)
{
    static char path[512];
    const char *b = getenv("SEEDC_BUILD_DIR");
    snprintf(path, sizeof path, "%s/seedc", b ? b : "build");
    return path;
}

int tb_run(const char *cmd, char *out, size_t size)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
