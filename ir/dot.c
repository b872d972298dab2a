/* ir/dot.c — a Graphviz drawing of a graph (`seedc ir --dot`): nodes as boxes, values as edges
 * labelled with their types; inputs, constants and outputs as ellipses. */
#include <stdio.h>

#include "ir/graph.h"

static void quoted(SdStrbuf *out, const char *s)
{
    sd_strbuf_append(out, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sd_strbuf_append(out, "\\", 1);
        sd_strbuf_append(out, s, 1);
    }
    sd_strbuf_append(out, "\"", 1);
}

void ir_write_dot(const IrGraph *g, SdStrbuf *out)
{
    char tb[160];
    sd_strbuf_printf(out, "digraph ");
    quoted(out, ir_graph_name(g));
    sd_strbuf_printf(out, " {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        const IrValue *v = ir_graph_value(g, i);
        if (v->producer || (v->role == IR_ROLE_TEMP && !v->n_uses))
            continue;
        bool big = v->role != IR_ROLE_INPUT && v->nbytes > 64;
        if (big)
            continue; /* weights would drown the picture; edges name them instead */
        sd_strbuf_printf(out, "  v%d [shape=ellipse, style=filled, fillcolor=%s, label=", v->id,
                         v->role == IR_ROLE_INPUT ? "lightblue" : "lightgrey");
        SdStrbuf label = {0};
        sd_strbuf_printf(&label, "%s\n%s", v->name, ir_value_type_str(v, tb, sizeof tb));
        quoted(out, sd_strbuf_str(&label));
        sd_strbuf_free(&label);
        sd_strbuf_printf(out, "];\n");
    }
    for (int k = 0; k < ir_graph_num_nodes(g); k++) {
        const IrNode *n = ir_graph_node(g, k);
        SdStrbuf label = {0}, attrs = {0};
        ir_attrs_format(n, &attrs);
        sd_strbuf_printf(&label, "%s%s%s%s", ir_op_name(n->op), n->name[0] ? "\n" : "", n->name,
                         attrs.len ? "\n" : "");
        sd_strbuf_append(&label, sd_strbuf_str(&attrs), attrs.len);
        sd_strbuf_printf(out, "  n%d [shape=box, style=rounded, label=", n->id);
        quoted(out, sd_strbuf_str(&label));
        sd_strbuf_printf(out, "];\n");
        sd_strbuf_free(&label);
        sd_strbuf_free(&attrs);
        for (int i = 0; i < n->n_inputs; i++) {
            const IrValue *v = n->inputs[i];
            if (!v)
                continue;
            if (v->producer)
                sd_strbuf_printf(out, "  n%d -> n%d [label=", v->producer->id, n->id);
            else if (v->role != IR_ROLE_INPUT && v->nbytes > 64)
                continue;
            else
                sd_strbuf_printf(out, "  v%d -> n%d [label=", v->id, n->id);
            quoted(out, ir_value_type_str(v, tb, sizeof tb));
            sd_strbuf_printf(out, "];\n");
        }
    }
    for (int i = 0; i < ir_graph_num_outputs(g); i++) {
        const IrValue *v = ir_graph_output(g, i);
        sd_strbuf_printf(out, "  out%d [shape=ellipse, style=filled, fillcolor=palegreen, label=", i);
        quoted(out, v->name);
        sd_strbuf_printf(out, "];\n");
        if (v->producer)
            sd_strbuf_printf(out, "  n%d -> out%d;\n", v->producer->id, i);
        else
            sd_strbuf_printf(out, "  v%d -> out%d;\n", v->id, i);
    }
    sd_strbuf_printf(out, "}\n");
}
