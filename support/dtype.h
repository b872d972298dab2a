/* support/dtype.h — element types, shared by the IR, the kernels and the tensor files.
 * The numeric values are ONNX's TensorProto.DataType codes, so files map onto them directly. */
#ifndef SD_SUPPORT_DTYPE_H
#define SD_SUPPORT_DTYPE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum SdDType {
    SD_DT_UNDEFINED = 0,
    SD_DT_F32 = 1,
    SD_DT_U8 = 2,
    SD_DT_I8 = 3,
    SD_DT_I32 = 6,
    SD_DT_I64 = 7,
    SD_DT_BOOL = 9,
    SD_DT_F16 = 10,
    SD_DT_BF16 = 16,
} SdDType;

/* Element size in bytes; 0 for a code seedc does not support. Inline: kernels use it too. */
static inline size_t sd_dtype_size(SdDType dt)
{
    switch (dt) {
    case SD_DT_F32: case SD_DT_I32: return 4;
    case SD_DT_I64: return 8;
    case SD_DT_U8: case SD_DT_I8: case SD_DT_BOOL: return 1;
    case SD_DT_F16: case SD_DT_BF16: return 2;
    case SD_DT_UNDEFINED: break;
    }
    return 0;
}
/* "f32", "i64", ...; for an unsupported code, ONNX's name of it ("double", "string", ...). */
const char *sd_dtype_name(int onnx_code);
bool sd_dtype_supported(int onnx_code);
/* Parses "f32"/"float32"/"float"/... ; SD_DT_UNDEFINED when unknown. */
SdDType sd_dtype_parse(const char *s);

#endif
