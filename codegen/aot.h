/* codegen/aot.h — ahead-of-time compilation: the module the JIT would run, emitted as an object
 * for a chosen target, plus a header, and linked into a static or shared library or a program.
 * Nothing it produces depends on LLVM; with builtin GEMM nothing beyond libc, libm and pthreads. */
#ifndef SD_CG_AOT_H
#define SD_CG_AOT_H

#include <stdbool.h>
#include <stddef.h>

#include "codegen/codegen.h"

typedef enum CgEmitKind { CG_EMIT_BUNDLE, CG_EMIT_STATIC, CG_EMIT_SHARED, CG_EMIT_EXE } CgEmitKind;

typedef struct CgAotOptions {
    CgOptions cg;           /* cg.name is the C name of everything generated */
    const char *target;     /* native (default), x86-64-v3, x86-64-v4, aarch64-linux-gnu */
    CgEmitKind kind;
    bool weights_file;      /* NAME.weights next to the output instead of embedded */
    const char *out;        /* path prefix: "out/student" -> out/student.o, out/student.h, ... */
    const char *source;     /* model file, named in the header */
} CgAotOptions;

#define CG_AOT_MAX_FILES 6

typedef struct CgAotReport {
    size_t code_bytes;      /* executable code of the model (.text) */
    size_t weights_bytes;
    size_t scratch_bytes;
    char files[CG_AOT_MAX_FILES][1200]; /* what was written */
    int n_files;
    double compile_seconds;
} CgAotReport;

SdStatus cg_compile_aot(const IrGraph *g, const CgAotOptions *opt, CgAotReport *rep, SdError *err);

/* Target names accepted by --target, NULL-terminated. */
const char *const *cg_aot_targets(void);

/* aot_link.c: the header, and the external tools that package objects. */
SdStatus cg_aot_write_header(const IrGraph *g, const CgAotOptions *opt, const char *triple, const char *cpu,
                             size_t weights_bytes, size_t scratch_bytes, const char *path, SdError *err);
SdStatus cg_aot_write_descriptor(const IrGraph *g, const CgAotOptions *opt, size_t weights_bytes,
                                 size_t scratch_bytes, const char *path, SdError *err);
SdStatus cg_aot_link(const CgAotOptions *opt, const char *triple, const char *object, const char *descriptor,
                     const char *output, SdError *err);

#endif
