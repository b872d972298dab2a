/* tests/codegen/gemm_ref.h — the reference the GEMM tests (gemm.c, gemm_bf16.c) check against:
 * C = alpha op(A) op(B) + beta C0 in double, on the operands as given or rounded to bf16, and the
 * comparison within the rounding of a float sum of that many terms. */
#ifndef SD_TESTS_CODEGEN_GEMM_REF_H
#define SD_TESTS_CODEGEN_GEMM_REF_H

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int64_t M, N, K;
    int ta, tb;
    float alpha, beta; /* bf16: alpha a power of two, exact wherever the kernel folds it in */
} GCase;

/* f32 -> bf16 -> f32, nearest even (no NaNs here) */
static inline float round_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

/* want = alpha op(A) op(B) + beta C0 in double (operands rounded to bf16 first when bf16), and the
 * scale sum |alpha a b| + |beta c| for tolerances */
static inline void gemm_reference(const GCase *c, const float *a, int64_t lda, const float *b, int64_t ldb,
                                  const float *c0, int64_t ldc, bool bf16, double *want, double *scale)
{
    for (int64_t i = 0; i < c->M; i++)
        for (int64_t j = 0; j < c->N; j++) {
            double s = 0, s_abs = 0;
            for (int64_t k = 0; k < c->K; k++) {
                float x = c->ta ? a[k * lda + i] : a[i * lda + k];
                float w = c->tb ? b[j * ldb + k] : b[k * ldb + j];
                const double t = bf16 ? (double)round_bf16(x) * round_bf16(w) : (double)x * w;
                s += t;
                s_abs += fabs(t);
            }
            double old = c->beta != 0.0f && c0 ? (double)c0[i * ldc + j] : 0.0;
            want[i * c->N + j] = c->alpha * s + c->beta * old;
            scale[i * c->N + j] = fabs(c->alpha) * s_abs + fabs(c->beta * old);
        }
}

/* rounding of a float sum of `terms` terms, blocked or not, stays well inside this */
static inline double gemm_tol_rel(int64_t terms)
{
    return 4.0 * FLT_EPSILON * sqrt((double)terms + 1.0) + 1e-7 * (double)terms / 64.0;
}

/* The rows of the checked C (got: ldc-strided rows; want: dense) within 1e-6 + gemm_tol_rel(terms)
 * of the scale: K terms for f32 products, 2K for bf16's (the kernel adds two products a step). */
static inline void gemm_expect_close(const float *got, int64_t ldc, const double *want, const double *scale,
                                     const GCase *c, int64_t terms, const char *what)
{
    const double rt = gemm_tol_rel(terms);
    for (int64_t i = 0; i < c->M; i++)
        for (int64_t j = 0; j < c->N; j++) {
            double g = got[i * ldc + j], w = want[i * c->N + j], tol = 1e-6 + rt * scale[i * c->N + j];
            cr_assert(fabs(g - w) <= tol,
                      "%s: %lldx%lldx%lld ta=%d tb=%d alpha=%g beta=%g: C[%lld][%lld] is %.9g, expected %.9g (tol %.3g)",
                      what, (long long)c->M, (long long)c->N, (long long)c->K, c->ta, c->tb, c->alpha, c->beta,
                      (long long)i, (long long)j, g, w, tol);
        }
}

#endif
