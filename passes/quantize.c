/* passes/quantize.c — post-training int8 quantization, bf16, and ONNX QDQ models onto the packed
 * kernels (runtime/kernels/qgemm.h).
 *
 * int8. Every value is f32 or u8 with a (scale, zero point): real = (q - zp) * scale. The pass walks
 * the nodes in order and keeps the graph correct after each step: an op it quantizes reads u8
 * operands and its result goes back to f32 through a DequantizeLinear (DQ) that later quantized
 * ops look through, reading the u8 value directly; the DQs nobody reads die at the end. So a
 * chain of quantized ops stays in u8, and a float op anywhere (or a node the user keeps in f32)
 * just reads the DQ. Where an op needs the u8 form of an f32 value, a QuantizeLinear with the
 * value's calibrated range is inserted (once per value).
 *   Conv (constant weights) -> QCONV: weights symmetric int8 in [-127, 127], one scale per
 *     output channel (or per tensor); bias int32 at scale x_scale * w_scale, minus x_zp times the
 *     channel's weight sum, so the kernel sums raw u8 activations; a ReLU or Clip reading the conv
 *     alone is folded into the requantization (its output's range gives the scale, its bounds the
 *     clamp). Else a SiLU (or x * Sigmoid(x)) or HardSwish reading it alone, whose result goes on
 *     in u8: the conv requantizes to the activation's input range and a table of 256 bytes (made
 *     at code generation from attrs.quant.act) maps those to the activation's u8; `--disable qact`
 *     leaves it in f32. One input channel per group: direct int8 loops; otherwise packed weights
 *     (PACK_WEIGHTS, folded here).
 *   MatMul (constant [K, N] weights) -> QMATMUL, per column scales, the Add of a constant bias (a
 *     Gemm after canonicalization) and a ReLU/Clip folded in.
 *   Add of two tensors -> QADD (both rescaled to the output's scale, ReLU folded).
 *   Mul of a tensor by f32 scales per (image, channel) (a squeeze-and-excitation gate), its result
 *     going on in u8 -> QSCALE_CHANNELS on the tensor's u8 form.
 *   MaxPool, GlobalAveragePool, Reshape/Flatten of a u8 value stay in u8.
 * An op whose result feeds no op that could take u8 writes f32 directly (the kernel scales instead
 * of requantizing). Nodes without calibrated ranges stay f32.
 * ONNX QDQ models need no calibration: a value made by a DQ of u8 is used as u8 with the DQ's
 * scale and zero point, and an op whose result goes only into a QuantizeLinear takes that Q's
 * scale and zero point (the fold pass has already turned DQs of constant weights into f32).
 *
 * bf16: non-depthwise Conv and MatMul with constant weights become CONV_BF16 / MATMUL_BF16 with a
 * ReLU/Clip (and a MatMul's bias) folded in; depthwise convs stay f32 (they are memory-bound).
 *
 * Here: the walk over the nodes. The rewrites are in quantize_int8.c and quantize_bf16.c, what
 * they build on in quantize_helpers.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/quantize_internal.h"
#include "support/mem.h"

static bool has_qdq(const IrGraph *g)
{
    for (int i = 0; i < ir_graph_num_nodes(g); i++) {
        IrOp op = ir_graph_node(g, i)->op;
        if (op == IR_OP_DEQUANTIZE_LINEAR || op == IR_OP_QLINEAR_CONV || op == IR_OP_QLINEAR_MATMUL)
            return true;
    }
    return false;
}

SdStatus pass_quantize(IrGraph *g, const PassOptions *opt, SdError *err)
{
    PassQuantOptions none = {.precision = PASS_PRECISION_INT8};
    PassQuantOptions *q = opt ? opt->quant : NULL;
    if (!q || q->precision == PASS_PRECISION_FP32) {
        if (!has_qdq(g) || (opt && opt->train)) /* a training step runs QDQ pairs as float ops */
            return SD_OK;
        q = &none; /* a QDQ model: its own scales, no calibration */
    }
    QCtx c = {.g = g, .opt = opt, .q = q, .err = err, .calibrated = q->n_ranges > 0};
    int n_nodes = ir_graph_num_nodes(g);
    IrNode **nodes = malloc((size_t)(n_nodes ? n_nodes : 1) * sizeof *nodes);
    if (!nodes)
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int i = 0; i < n_nodes; i++) {
        nodes[i] = ir_graph_node(g, i);
        if (nodes[i]->op == IR_OP_CONV || nodes[i]->op == IR_OP_MATMUL) {
            if (!c.first)
                c.first = nodes[i];
            c.last = nodes[i];
        }
    }
    SdStatus st = SD_OK;
    for (int i = 0; i < n_nodes && st == SD_OK; i++) {
        IrNode *n = nodes[i];
        if (n->removed || pass_quant_kept(&c, n))
            continue;
        ir_graph_set_insert_point(g, n);
        c.current = n;
        if (q->precision == PASS_PRECISION_BF16) {
            if (n->op == IR_OP_CONV)
                st = pass_quant_bf16_conv(&c, n);
            else if (n->op == IR_OP_MATMUL)
                st = pass_quant_bf16_matmul(&c, n);
            continue;
        }
        switch (n->op) {
        case IR_OP_CONV: st = pass_quant_conv(&c, n); break;
        case IR_OP_MATMUL: st = pass_quant_matmul(&c, n); break;
        case IR_OP_QLINEAR_CONV: case IR_OP_QLINEAR_MATMUL: st = pass_quant_qlinear(&c, n); break;
        case IR_OP_ADD: st = pass_quant_add(&c, n); break;
        case IR_OP_MUL: st = pass_quant_scale_channels(&c, n); break;
        case IR_OP_MAX_POOL: case IR_OP_GLOBAL_AVG_POOL: case IR_OP_RESHAPE: case IR_OP_FLATTEN:
            st = pass_quant_passthrough(&c, n);
            break;
        default: break;
        }
    }
    ir_graph_set_insert_point(g, NULL);
    free(nodes);
    free(c.quantized);
    free(c.params);
    if (st != SD_OK)
        return st;
    return pass_dce(g, opt, err);
}
