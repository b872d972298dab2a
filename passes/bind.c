/* passes/bind.c — binding run-time inputs that shapes depend on. When the input values are known
 * before compiling (`seedc run` has them), an input that reaches a compile-time operand (a
 * Reshape's shape, a Slice's starts), directly or through nodes that would fold, becomes a
 * constant holding its value; the compiled code is then specialized for that value. */
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"
#include "support/mem.h"

unsigned char *pass_static_values(const IrGraph *g)
{
    int max_id = 0;
    for (int i = 0; i < ir_graph_num_values(g); i++)
        if (ir_graph_value(g, i)->id > max_id)
            max_id = ir_graph_value(g, i)->id;
    unsigned char *need = calloc((size_t)max_id + 1, 1);
    if (!need)
        return NULL;
    for (int k = ir_graph_num_nodes(g) - 1; k >= 0; k--) {
        const IrNode *n = ir_graph_node(g, k);
        unsigned mask = ir_op_info(n->op)->static_inputs;
        if (n->op == IR_OP_SHAPE || n->op == IR_OP_SIZE)
            continue; /* they read only their input's shape, which is known without its contents */
        bool outputs_needed = false;
        for (int i = 0; i < n->n_outputs; i++)
            outputs_needed |= need[n->outputs[i]->id] != 0;
        for (int i = 0; i < n->n_inputs; i++)
            if (n->inputs[i] && (outputs_needed || (mask >> i) & 1u))
                need[n->inputs[i]->id] = 1;
    }
    return need;
}

SdStatus pass_bind_static_inputs(IrGraph *g, const PassBinding *bindings, int n, bool *bound, SdError *err)
{
    unsigned char *need = pass_static_values(g);
    if (!need)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    int n_inputs = ir_graph_num_inputs(g);
    SdStatus st = SD_OK;
    for (int i = 0; i < n; i++)
        bound[i] = false;
    for (int i = 0, k = 0; i < n_inputs && i < n && st == SD_OK; i++) {
        IrValue *v = ir_graph_input(g, k);
        const PassBinding *b = &bindings[i];
        if (!need[v->id]) {
            k++;
            continue;
        }
        IrShape s = ir_shape_make(b->rank, b->dims);
        if (b->dtype != v->dtype || !ir_shape_equal(&s, &v->shape)) {
            char got[160], want[160];
            ir_shape_str(&s, got, sizeof got);
            st = sd_errorf(err, SD_ESHAPE, "input %d ('%s') is %s%s; the model expects %s", i, v->name,
                           sd_dtype_name(b->dtype), got, ir_value_type_str(v, want, sizeof want));
            break;
        }
        size_t nbytes = ir_value_nbytes(v);
        void *data = sd_aligned_alloc(nbytes);
        if (!data) {
            st = sd_errorf(err, SD_ENOMEM, "out of memory");
            break;
        }
        memcpy(data, b->data, nbytes);
        ir_graph_remove_input(g, k);
        v->role = IR_ROLE_TEMP;
        ir_value_adopt_data(v, data, nbytes);
        bound[i] = true;
    }
    free(need);
    return st;
}
