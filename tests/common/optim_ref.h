/* tests/common/optim_ref.h — the optimizer formulas in double precision, written from their
 * definitions (torch.optim 1.13 for SGD and AdamW, the Barlow Twins/VICReg LARS, LAMB with Adam's
 * bias correction), and the golden-data loader, for the update kernel and optimizer pass tests. */
#ifndef SD_TESTS_OPTIM_REF_H
#define SD_TESTS_OPTIM_REF_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/attrs.h"
#include "runtime/tensor_io.h"

/* One step on p (n elements) with gradient g; s1 is the momentum buffer or exp_avg, s2 exp_avg_sq;
 * t counts this step from 1. op: IR_OP_SGD_UPDATE, LARS_UPDATE, ADAMW_UPDATE, LAMB_UPDATE, EMA_UPDATE
 * (p = dst, g = src). */
static inline void ref_update(IrOp op, const IrUpdateAttrs *a, double *p, const double *g, double *s1, double *s2,
                              int64_t n, double lr, int64_t t)
{
    const double mom = a->momentum, wd = a->weight_decay, b1 = a->beta1, b2 = a->beta2, eps = a->epsilon;
    switch (op) {
    case IR_OP_EMA_UPDATE:
        for (int64_t i = 0; i < n; i++)
            p[i] = mom * p[i] + (1.0 - mom) * g[i];
        break;
    case IR_OP_SGD_UPDATE:
        for (int64_t i = 0; i < n; i++) {
            double d = g[i] + wd * p[i];
            if (mom != 0.0) {
                s1[i] = mom * s1[i] + d;
                d = a->nesterov ? d + mom * s1[i] : s1[i];
            }
            p[i] -= lr * d;
        }
        break;
    case IR_OP_LARS_UPDATE: {
        double pn = 0, dn = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = g[i] + wd * p[i];
            pn += p[i] * p[i], dn += d * d;
        }
        double q = pn > 0 && dn > 0 ? a->trust_coefficient * sqrt(pn) / sqrt(dn) : 1.0;
        for (int64_t i = 0; i < n; i++) {
            s1[i] = mom * s1[i] + q * (g[i] + wd * p[i]);
            p[i] -= lr * s1[i];
        }
        break;
    }
    case IR_OP_ADAMW_UPDATE:
    case IR_OP_LAMB_UPDATE: {
        double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
        double *u = malloc((size_t)(n > 0 ? n : 1) * sizeof *u);
        double pn = 0, un = 0;
        for (int64_t i = 0; i < n; i++) {
            s1[i] = b1 * s1[i] + (1.0 - b1) * g[i];
            s2[i] = b2 * s2[i] + (1.0 - b2) * g[i] * g[i];
            double r = (s1[i] / bc1) / (sqrt(s2[i]) / sqrt(bc2) + eps);
            u[i] = op == IR_OP_LAMB_UPDATE ? r + wd * p[i] : r;
            pn += p[i] * p[i], un += u[i] * u[i];
        }
        double trust = op == IR_OP_LAMB_UPDATE && pn > 0 && un > 0 ? sqrt(pn) / sqrt(un) : 1.0;
        for (int64_t i = 0; i < n; i++) {
            if (op == IR_OP_ADAMW_UPDATE)
                p[i] = p[i] * (1.0 - lr * wd) - lr * u[i];
            else
                p[i] -= lr * trust * u[i];
        }
        free(u);
        break;
    }
    default:
        cr_assert_fail("no reference for op %d", (int)op);
    }
}

/* tests/golden/data/NAME.npy, from $SEEDC_SOURCE_DIR or else from this file's place in the tree. */
static inline RtTensor golden(const char *name)
{
    char path[4096];
    const char *root = getenv("SEEDC_SOURCE_DIR");
    if (root && *root) {
        snprintf(path, sizeof path, "%s/tests/golden/data/%s.npy", root, name);
    } else {
        snprintf(path, sizeof path, "%s", __FILE__);
        char *cut = strstr(path, "tests/common/optim_ref.h");
        cr_assert_not_null(cut, "set SEEDC_SOURCE_DIR to find the golden data");
        snprintf(cut, sizeof path - (size_t)(cut - path), "tests/golden/data/%s.npy", name);
    }
    RtTensor t;
    SdError err = {0};
    cr_assert_eq(rt_tensor_read(path, &t, &err), SD_OK, "%s (regenerate with /usr/bin/python3 tests/golden/optimizers.py)",
                 err.msg);
    cr_assert_eq(t.dtype, SD_DT_F32, "%s: golden data is f32", path);
    return t;
}

/* |got - want| <= rtol * max|want| for every element: relative to the tensor's scale, so elements
 * that pass near zero do not demand more than the arithmetic can give. */
static inline void expect_close_scaled(const float *got, const double *want, int64_t n, double rtol, const char *what)
{
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++)
        cr_assert(fabs((double)got[i] - want[i]) <= rtol * scale + 1e-30,
                  "%s: element %lld is %.9g, expected %.9g (tolerance %.3g)", what, (long long)i, (double)got[i],
                  want[i], rtol * scale);
}

#endif
