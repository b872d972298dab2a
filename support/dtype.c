/* support/dtype.c — element type names and sizes. */
#include "support/dtype.h"

#include <string.h>

bool sd_dtype_supported(int code) { return sd_dtype_size((SdDType)code) != 0; }

const char *sd_dtype_name(int code)
{
    switch (code) {
    case SD_DT_F32: return "f32";
    case SD_DT_U8: return "u8";
    case SD_DT_I8: return "i8";
    case SD_DT_I32: return "i32";
    case SD_DT_I64: return "i64";
    case SD_DT_BOOL: return "bool";
    case SD_DT_F16: return "f16";
    case SD_DT_BF16: return "bf16";
    case 4: return "uint16";
    case 5: return "int16";
    case 8: return "string";
    case 11: return "double";
    case 12: return "uint32";
    case 13: return "uint64";
    case 14: return "complex64";
    case 15: return "complex128";
    case 17: case 18: case 19: case 20: case 24: return "float8";
    case 21: return "uint4";
    case 22: return "int4";
    case 23: return "float4e2m1";
    case 25: return "uint2";
    case 26: return "int2";
    default: return "undefined";
    }
}

SdDType sd_dtype_parse(const char *s)
{
    static const struct { const char *name; SdDType dt; } names[] = {
        {"f32", SD_DT_F32}, {"float32", SD_DT_F32}, {"float", SD_DT_F32},
        {"i64", SD_DT_I64}, {"int64", SD_DT_I64}, {"i32", SD_DT_I32}, {"int32", SD_DT_I32},
        {"i8", SD_DT_I8}, {"int8", SD_DT_I8}, {"u8", SD_DT_U8}, {"uint8", SD_DT_U8},
        {"bool", SD_DT_BOOL}, {"f16", SD_DT_F16}, {"float16", SD_DT_F16},
        {"bf16", SD_DT_BF16}, {"bfloat16", SD_DT_BF16},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].dt;
    return SD_DT_UNDEFINED;
}
