/* codegen/target.c — target machines. The host CPU is asked for by name and features, so under
 * valgrind (which reports an older CPU) the code stays runnable there too. */
#include "codegen/target.h"

#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>

#include "support/mem.h"

static void init_llvm(void)
{
    static int done;
    if (done)
        return;
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    LLVMInitializeNativeAsmParser();
    done = 1;
}

static bool lowp_features(const char *f)
{
    return strstr(f, "+avx512f") && strstr(f, "+avx512bw") && strstr(f, "+avx512vnni") && strstr(f, "+avx512bf16") &&
           strstr(f, "+avx512vbmi");
}

SdStatus cg_target_init(CgTarget *t, const char *triple, const char *cpu, const char *features, int opt_level,
                        bool pic, SdError *err)
{
    memset(t, 0, sizeof *t);
    init_llvm();
    char *host_triple = LLVMGetDefaultTargetTriple();
    char *host_cpu = LLVMGetHostCPUName();
    char *host_features = LLVMGetHostCPUFeatures();
    t->triple = sd_strdup(triple ? triple : host_triple);
    t->cpu = sd_strdup(cpu ? cpu : host_cpu);
    t->features = sd_strdup(features ? features : host_features);
    LLVMDisposeMessage(host_triple);
    LLVMDisposeMessage(host_cpu);
    LLVMDisposeMessage(host_features);
    if (!t->triple || !t->cpu || !t->features) {
        cg_target_dispose(t);
        return sd_errorf(err, SD_ENOMEM, "out of memory creating the target machine");
    }
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(t->triple, &target, &msg)) {
        sd_errorf(err, SD_EUSAGE, "target '%s' is not available in this LLVM: %s", t->triple, msg ? msg : "");
        LLVMDisposeMessage(msg);
        cg_target_dispose(t);
        return SD_EUSAGE;
    }
    LLVMCodeGenOptLevel level = opt_level <= 0 ? LLVMCodeGenLevelNone
                              : opt_level == 1 ? LLVMCodeGenLevelLess
                              : opt_level == 2 ? LLVMCodeGenLevelDefault
                                               : LLVMCodeGenLevelAggressive;
    t->tm = LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, level,
                                    pic ? LLVMRelocPIC : LLVMRelocDefault, LLVMCodeModelDefault);
    if (!t->tm) {
        cg_target_dispose(t);
        return sd_errorf(err, SD_ELLVM, "LLVM could not create a target machine for %s", triple ? triple : "the host");
    }
    t->avx512 = strstr(t->features, "+avx512f") != NULL;
    t->avx512_lowp = lowp_features(t->features);
    return SD_OK;
}

bool cg_host_has_lowp(void)
{
    char *f = LLVMGetHostCPUFeatures();
    const bool lowp = f && lowp_features(f);
    LLVMDisposeMessage(f);
    return lowp;
}

void cg_target_dispose(CgTarget *t)
{
    if (t->tm)
        LLVMDisposeTargetMachine(t->tm);
    free(t->triple);
    free(t->cpu);
    free(t->features);
    memset(t, 0, sizeof *t);
}
