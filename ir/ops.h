/* ir/ops.h — the op enum and per-op facts, generated from ir/ops.def.
 * Code that needs per-op knowledge switches on IrOp (the compiler warns on a missing case) or
 * dispatches on the op's family. */
#ifndef SD_IR_OPS_H
#define SD_IR_OPS_H

typedef enum IrOp {
#define X(name, spelling, family, min_in, max_in, max_out, static_in) IR_OP_##name,
#include "ir/ops.def"
#undef X
    IR_OP_COUNT
} IrOp;

typedef enum IrFamily {
    IR_FAM_unary,
    IR_FAM_binary,
    IR_FAM_conv,
    IR_FAM_matmul,
    IR_FAM_norm,
    IR_FAM_softmax,
    IR_FAM_pool,
    IR_FAM_reduce,
    IR_FAM_movement,
    IR_FAM_gather,
    IR_FAM_generate,
    IR_FAM_resize,
    IR_FAM_einsum,
    IR_FAM_update,
    IR_FAM_quant,
    IR_FAM_COUNT
} IrFamily;

typedef struct IrOpInfo {
    const char *name; /* lower-case IR spelling: "conv", "reduce_mean" */
    IrFamily family;
    int min_inputs, max_inputs, max_outputs; /* max_outputs 0: an in-place update with no outputs */
    unsigned static_inputs; /* bit i: input i must be a compile-time constant */
} IrOpInfo;

const IrOpInfo *ir_op_info(IrOp op);
const char *ir_op_name(IrOp op);
/* Updates write their first input's persistent storage in place and have no outputs. */
_Bool ir_op_is_update(IrOp op);
const char *ir_family_name(IrFamily f);
/* IR_OP_COUNT when the name is unknown. */
IrOp ir_op_from_name(const char *name);

#endif
