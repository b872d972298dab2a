/* ir/ops.c — the op table, built from ir/ops.def. */
#include "ir/ops.h"

#include <stdbool.h>
#include <string.h>

#include "support/status.h"

static const IrOpInfo op_table[IR_OP_COUNT] = {
#define X(name, spelling, family, min_in, max_in, max_out, static_in) \
    [IR_OP_##name] = {spelling, IR_FAM_##family, min_in, max_in, max_out, static_in},
#include "ir/ops.def"
#undef X
};

const IrOpInfo *ir_op_info(IrOp op)
{
    SD_ASSERT(op >= 0 && op < IR_OP_COUNT);
    return &op_table[op];
}

const char *ir_op_name(IrOp op) { return ir_op_info(op)->name; }

bool ir_op_is_update(IrOp op) { return ir_op_info(op)->max_outputs == 0; }

const char *ir_family_name(IrFamily f)
{
    static const char *names[IR_FAM_COUNT] = {
        "unary", "binary", "conv", "matmul", "norm", "softmax", "pool",
        "reduce", "movement", "gather", "generate", "resize", "einsum", "update", "quant",
    };
    SD_ASSERT(f >= 0 && f < IR_FAM_COUNT);
    return names[f];
}

IrOp ir_op_from_name(const char *name)
{
    for (int i = 0; i < IR_OP_COUNT; i++)
        if (strcmp(op_table[i].name, name) == 0)
            return (IrOp)i;
    return IR_OP_COUNT;
}
