/* ir/print.c — the readable text form of a graph, for `seedc ir` and for test failures.
 *   %conv1: f32[1,16,28,28] = conv(%image, %w) {kernel=[3,3] strides=[1,1] ...}  # "Conv_0" */
#include <inttypes.h>
#include <stdio.h>

#include "ir/graph.h"

static const char *role_name(IrRole r)
{
    switch (r) {
    case IR_ROLE_TEMP: return "temp";
    case IR_ROLE_INPUT: return "input";
    case IR_ROLE_CONSTANT: return "const";
    case IR_ROLE_PARAM: return "param";
    case IR_ROLE_STATE: return "state";
    }
    return "?";
}

static void print_value_decl(const IrValue *v, SdStrbuf *out)
{
    char tb[160];
    sd_strbuf_printf(out, "  %-6s %%%s: %s", role_name(v->role), v->name, ir_value_type_str(v, tb, sizeof tb));
    if (v->data && v->nbytes <= 8 * sizeof(float) && v->dtype == SD_DT_F32) {
        const float *f = v->data;
        sd_strbuf_printf(out, " = {");
        for (size_t i = 0; i < v->nbytes / sizeof(float); i++)
            sd_strbuf_printf(out, i ? ", %g" : "%g", (double)f[i]);
        sd_strbuf_printf(out, "}");
    } else if (v->data && v->nbytes <= 8 * sizeof(int64_t) && v->dtype == SD_DT_I64) {
        const int64_t *d = v->data;
        sd_strbuf_printf(out, " = {");
        for (size_t i = 0; i < v->nbytes / sizeof(int64_t); i++)
            sd_strbuf_printf(out, i ? ", %" PRId64 : "%" PRId64, d[i]);
        sd_strbuf_printf(out, "}");
    } else if (v->data) {
        sd_strbuf_printf(out, "  (%zu bytes)", v->nbytes);
    }
    sd_strbuf_printf(out, "\n");
}

void ir_print_node(const IrGraph *g, const IrNode *n, SdStrbuf *out)
{
    (void)g;
    char tb[160];
    sd_strbuf_printf(out, "  ");
    for (int i = 0; i < n->n_outputs; i++)
        sd_strbuf_printf(out, "%s%%%s: %s", i ? ", " : "", n->outputs[i]->name,
                         ir_value_type_str(n->outputs[i], tb, sizeof tb));
    sd_strbuf_printf(out, " = %s(", ir_op_name(n->op));
    for (int i = 0; i < n->n_inputs; i++)
        sd_strbuf_printf(out, "%s%s%s", i ? ", " : "", n->inputs[i] ? "%" : "",
                         n->inputs[i] ? n->inputs[i]->name : "_");
    sd_strbuf_printf(out, ")");
    SdStrbuf attrs = {0};
    ir_attrs_format(n, &attrs);
    if (attrs.len)
        sd_strbuf_printf(out, " {%s}", sd_strbuf_str(&attrs));
    sd_strbuf_free(&attrs);
    if (n->name[0])
        sd_strbuf_printf(out, "  # \"%s\"", n->name);
    sd_strbuf_printf(out, "\n");
}

void ir_print(const IrGraph *g, SdStrbuf *out)
{
    sd_strbuf_printf(out, "graph \"%s\" {\n", ir_graph_name(g));
    for (int i = 0; i < ir_graph_num_inputs(g); i++)
        print_value_decl(ir_graph_input(g, i), out);
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        const IrValue *v = ir_graph_value(g, i);
        if (!v->producer && v->role != IR_ROLE_INPUT && v->role != IR_ROLE_TEMP)
            print_value_decl(v, out);
    }
    for (int i = 0; i < ir_graph_num_nodes(g); i++)
        ir_print_node(g, ir_graph_node(g, i), out);
    for (int i = 0; i < ir_graph_num_outputs(g); i++)
        sd_strbuf_printf(out, "  output %%%s\n", ir_graph_output(g, i)->name);
    sd_strbuf_printf(out, "}\n");
}
