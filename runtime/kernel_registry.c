/* runtime/kernel_registry.c — the name -> function table over runtime/kernels/kernels.def. It
 * lives outside runtime/kernels/ so that it does not pull every kernel into the bitcode. */
#include "runtime/kernel_registry.h"

#include <string.h>

#define K(sym) RT_KERNEL_DECL(sym)
#include "runtime/kernels/kernels.def"
#undef K

static const struct {
    const char *name;
    RtKernelFn fn;
} kernels[] = {
#define K(sym) {#sym, sym},
#include "runtime/kernels/kernels.def"
#undef K
};

RtKernelFn rt_kernel_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (strcmp(kernels[i].name, name) == 0)
            return kernels[i].fn;
    return NULL;
}
