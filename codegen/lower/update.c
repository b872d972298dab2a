/* codegen/lower/update.c — placeholder until the optimizer and update kernels land (issue 4). */
#include "codegen/lower/lower.h"

SdStatus cg_lower_update(const IrNode *n, const CgLowerOptions *opt, CgLowered *out, SdError *err)
{
    (void)opt, (void)out;
    char lb[200];
    return sd_errorf(err, SD_EUNSUPPORTED, "%s: this operator is not supported yet", ir_node_label(n, lb, sizeof lb));
}
