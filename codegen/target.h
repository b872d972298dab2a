/* codegen/target.h — LLVM target machines: the host for JIT, named CPUs and triples for AOT.
 * One place decides the CPU, its features and the vector width the code is tuned for. */
#ifndef SD_CG_TARGET_H
#define SD_CG_TARGET_H

#include <llvm-c/TargetMachine.h>
#include <stdbool.h>

#include "support/status.h"

typedef struct CgTarget {
    LLVMTargetMachineRef tm;
    char *triple, *cpu, *features;
    bool avx512;          /* prefer 512-bit vectors */
    bool avx512_lowp;     /* AVX512-VNNI, -BF16 and -VBMI: int8 and bf16 dot products, byte permutes */
} CgTarget;

/* triple NULL: the host's; cpu/features NULL: the host's CPU and features. */
SdStatus cg_target_init(CgTarget *t, const char *triple, const char *cpu, const char *features, int opt_level,
                        bool pic, SdError *err);
void cg_target_dispose(CgTarget *t);
/* Whether the host has what avx512_lowp needs: without it int8 and bf16 kernels run as plain C
 * loops, slower than f32 (commands say so). */
bool cg_host_has_lowp(void);

#endif
