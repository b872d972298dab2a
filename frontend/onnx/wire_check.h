/* frontend/onnx/wire_check.h — guards for onnx__model_proto__unpack, which (protobuf-c 1.4.1)
 * recurses once per nested message without a limit and has no size limit: a bounded walk of the
 * wire format that runs first, and an allocator that refuses allocations past a byte cap. */
#ifndef SD_FRONTEND_ONNX_WIRE_CHECK_H
#define SD_FRONTEND_ONNX_WIRE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "support/status.h"

/* The largest max_depth onnx_wire_check accepts. Depth counts sub-messages below ModelProto:
 * ModelProto.graph is level 1, a graph input's TensorShapeProto.Dimension level 6, and each
 * subgraph (If/Loop/Scan body) adds 3, so 64 leaves room for about 19 nested subgraphs. */
#define ONNX_WIRE_MAX_DEPTH 256

/* Walks the ModelProto in buf[0..n) as protobuf-c will parse it, descending only into the
 * fields that are sub-messages in onnx.proto, and fails with SD_EBADMODEL and a message naming
 * `path`, the byte offset and what is wrong when the nesting goes deeper than max_depth or the
 * wire data is malformed (bad varint, length past the end of its message, group or invalid
 * wire type, a sub-message field not length-delimited). Success does not mean the model is
 * complete or consistent: only that unpacking it is bounded. SD_EUSAGE when max_depth is not
 * in 1..ONNX_WIRE_MAX_DEPTH. */
SdStatus onnx_wire_check(const uint8_t *buf, size_t n, const char *path, int max_depth, SdError *err);

/* A ProtobufCAllocator that counts live bytes (each block with its 16-byte size header) and
 * refuses an allocation that would take `used` past `cap`; `refused` then stays true, so a
 * caller whose unpack returned NULL can tell "too large" from "malformed". Pass &a.base to
 * onnx__model_proto__unpack and to onnx__model_proto__free_unpacked. */
typedef struct OnnxCountingAllocator {
    ProtobufCAllocator base;
    size_t used, cap;
    bool refused;
} OnnxCountingAllocator;

void onnx_counting_allocator_init(OnnxCountingAllocator *a, size_t cap);

#endif
