/* runtime/kernel_registry.h — native kernels by name, for code that runs kernels without LLVM:
 * constant folding in the compiler and kernel tests. */
#ifndef SD_RT_KERNEL_REGISTRY_H
#define SD_RT_KERNEL_REGISTRY_H

#include "runtime/kernels/kernel.h"

/* NULL when no kernel has that name. */
RtKernelFn rt_kernel_lookup(const char *name);

#endif
