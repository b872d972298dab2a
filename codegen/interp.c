/* codegen/interp.c — one node run natively through the kernel registry: the same lowering and the
 * same kernels as the JIT, without LLVM. Constant folding uses it. */
#include <stdlib.h>

#include "codegen/codegen.h"
#include "runtime/kernel_registry.h"
#include "support/mem.h"

SdStatus cg_eval_node(const IrNode *n, const CgLowerOptions *opt, void *const *outputs, SdError *err)
{
    CgLowered low;
    SD_TRY(cg_lower_node(n, opt, &low, err));
    void *workspace = NULL, *shared = NULL;
    SdStatus st = SD_OK;
    char lb[200];
    if ((low.workspace_bytes && !(workspace = sd_aligned_alloc(low.workspace_bytes))) ||
        (low.shared_bytes && !(shared = sd_aligned_alloc(low.shared_bytes))))
        st = sd_errorf(err, SD_ENOMEM, "%s: out of memory for %zu bytes of workspace",
                       ir_node_label(n, lb, sizeof lb), low.workspace_bytes + low.shared_bytes);
    for (int c = 0; c < low.n_calls && st == SD_OK; c++) {
        const CgCall *call = &low.calls[c];
        RtKernelFn fn = rt_kernel_lookup(call->kernel);
        if (!fn) {
            st = sd_errorf(err, SD_EINTERNAL, "%s: kernel %s is not in the registry",
                           ir_node_label(n, lb, sizeof lb), call->kernel);
            break;
        }
        void *bufs[CG_MAX_CALL_BUFS];
        for (int b = 0; b < call->n_bufs; b++) {
            int k = call->bufs[b];
            if (k == CG_BUF_WORKSPACE)
                bufs[b] = workspace;
            else if (k == CG_BUF_SHARED)
                bufs[b] = shared;
            else if (k < n->n_inputs)
                bufs[b] = n->inputs[k] ? n->inputs[k]->data : NULL;
            else
                bufs[b] = outputs[k - n->n_inputs];
        }
        fn(call->params, bufs);
    }
    sd_aligned_free(workspace);
    sd_aligned_free(shared);
    cg_lowered_free(&low);
    return st;
}
