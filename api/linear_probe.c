/* api/linear_probe.c — the linear probe: softmax regression on frozen features, fitted full batch
 * with L-BFGS. Parameters, gradients and the L-BFGS history are double; the two products per
 * evaluation (X W and X^T G) are float GEMMs, which is where all the time goes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/eval.h"
#include "runtime/blas.h"
#include "support/mem.h"

#define HISTORY 10

SdProbeOptions sd_probe_options_default(void) { return (SdProbeOptions){.l2 = 1e-4, .max_iterations = 300, .standardize = true}; }

typedef struct {
    const float *x;    /* [n, d] */
    const int64_t *y;
    int64_t n, d;
    int c;
    double l2;
    float *w;          /* [d, c] float copy of the weights */
    float *logits;     /* [n, c], reused for the gradient */
    float *gw;         /* [d, c] */
} Problem;

/* Mean cross entropy + l2/2 |W|^2 at theta = [W (d x c), b (c)]; its gradient into g. */
static double evaluate(Problem *p, const double *theta, double *g)
{
    int64_t n = p->n, d = p->d;
    int c = p->c;
    for (int64_t i = 0; i < d * c; i++)
        p->w[i] = (float)theta[i];
    const double *b = theta + d * c;
    rt_blas_sgemm(0, 0, n, c, d, 1.0f, p->x, d, p->w, c, 0.0f, p->logits, c);
    double loss = 0, *gb = g + d * c;
    for (int k = 0; k < c; k++)
        gb[k] = 0;
    for (int64_t i = 0; i < n; i++) {
        float *row = p->logits + i * c;
        double mx = -INFINITY, z[64], sum = 0;
        for (int k = 0; k < c; k++) {
            z[k] = (double)row[k] + b[k];
            if (z[k] > mx)
                mx = z[k];
        }
        for (int k = 0; k < c; k++)
            sum += exp(z[k] - mx);
        double lse = mx + log(sum);
        int64_t y = p->y[i];
        loss += lse - (y >= 0 && y < c ? z[y] : lse);
        for (int k = 0; k < c; k++) { /* (softmax - onehot) / n, written back over the logits */
            double gk = (exp(z[k] - lse) - (k == y)) / (double)n;
            row[k] = (float)gk;
            gb[k] += gk;
        }
    }
    rt_blas_sgemm(1, 0, d, c, n, 1.0f, p->x, d, p->logits, c, 0.0f, p->gw, c);
    double reg = 0;
    for (int64_t i = 0; i < d * c; i++) {
        g[i] = (double)p->gw[i] + p->l2 * theta[i];
        reg += theta[i] * theta[i];
    }
    return loss / (double)n + 0.5 * p->l2 * reg;
}

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void lbfgs(Problem *p, double *theta, int max_iterations)
{
    int64_t m = p->d * p->c + p->c;
    double *g = calloc((size_t)m, sizeof *g), *dir = calloc((size_t)m, sizeof *dir);
    double *s = calloc((size_t)(m * HISTORY), sizeof *s), *yv = calloc((size_t)(m * HISTORY), sizeof *yv);
    double *trial = calloc((size_t)m, sizeof *trial), *g2 = calloc((size_t)m, sizeof *g2);
    double rho[HISTORY], alpha[HISTORY];
    if (!g || !dir || !s || !yv || !trial || !g2)
        goto done;
    double f = evaluate(p, theta, g);
    int stored = 0, newest = -1;
    for (int it = 0; it < max_iterations; it++) {
        double gmax = 0;
        for (int64_t i = 0; i < m; i++)
            gmax = fmax(gmax, fabs(g[i]));
        if (gmax < 1e-6)
            break;
        /* two-loop recursion: dir = -H g */
        for (int64_t i = 0; i < m; i++)
            dir[i] = -g[i];
        for (int j = 0; j < stored; j++) {
            int h = (newest - j + HISTORY) % HISTORY;
            alpha[h] = rho[h] * dot(s + h * m, dir, m);
            for (int64_t i = 0; i < m; i++)
                dir[i] -= alpha[h] * yv[h * m + i];
        }
        double gamma = stored ? dot(s + newest * m, yv + newest * m, m) / dot(yv + newest * m, yv + newest * m, m)
                              : 1.0 / fmax(sqrt(dot(g, g, m)), 1e-12);
        for (int64_t i = 0; i < m; i++)
            dir[i] *= gamma;
        for (int j = stored - 1; j >= 0; j--) {
            int h = (newest - j + HISTORY) % HISTORY;
            double beta = rho[h] * dot(yv + h * m, dir, m);
            for (int64_t i = 0; i < m; i++)
                dir[i] += (alpha[h] - beta) * s[h * m + i];
        }
        double slope = dot(g, dir, m);
        if (slope >= 0) { /* not a descent direction: restart from steepest descent */
            stored = 0;
            for (int64_t i = 0; i < m; i++)
                dir[i] = -g[i] / fmax(sqrt(dot(g, g, m)), 1e-12);
            slope = dot(g, dir, m);
        }
        double step = 1.0, f2 = f;
        int tries = 0;
        for (; tries < 30; tries++, step *= 0.5) { /* backtracking (Armijo) */
            for (int64_t i = 0; i < m; i++)
                trial[i] = theta[i] + step * dir[i];
            f2 = evaluate(p, trial, g2);
            if (f2 <= f + 1e-4 * step * slope)
                break;
        }
        if (tries == 30)
            break;
        newest = (newest + 1) % HISTORY;
        for (int64_t i = 0; i < m; i++) {
            s[newest * m + i] = trial[i] - theta[i];
            yv[newest * m + i] = g2[i] - g[i];
        }
        double sy = dot(s + newest * m, yv + newest * m, m);
        rho[newest] = sy > 1e-20 ? 1.0 / sy : 0;
        if (stored < HISTORY)
            stored++;
        memcpy(theta, trial, sizeof(double) * (size_t)m);
        memcpy(g, g2, sizeof(double) * (size_t)m);
        if (fabs(f - f2) < 1e-10 * fmax(1.0, fabs(f)))
            break;
        f = f2;
    }
done:
    free(g), free(dir), free(s), free(yv), free(trial), free(g2);
}

/* Standardized float copy of x with the train set's statistics. */
static float *standardized(const SdFeatures *f, const double *mean, const double *inv_std)
{
    float *c = sd_aligned_alloc(sizeof(float) * (size_t)(f->n * f->dim));
    for (int64_t i = 0; c && i < f->n; i++)
        for (int64_t d = 0; d < f->dim; d++)
            c[i * f->dim + d] = (float)(((double)f->data[i * f->dim + d] - mean[d]) * inv_std[d]);
    return c;
}

SdStatus sd_linear_probe(const SdFeatures *train, const SdFeatures *test, int n_classes, const SdProbeOptions *opt,
                         double *accuracy, SdError *err)
{
    SdProbeOptions o = opt ? *opt : sd_probe_options_default();
    int64_t d = train->dim;
    if (test->dim != d || train->n < 1 || n_classes < 2 || n_classes > 64)
        return sd_errorf(err, SD_EUSAGE, "linear probe: %lld and %lld dimensions, %d classes (2..64)",
                         (long long)d, (long long)test->dim, n_classes);
    double *mean = calloc((size_t)d, sizeof *mean), *inv = calloc((size_t)d, sizeof *inv);
    double *theta = calloc((size_t)(d * n_classes + n_classes), sizeof *theta);
    if (!mean || !inv || !theta) {
        free(mean), free(inv), free(theta);
        return sd_errorf(err, SD_ENOMEM, "out of memory for the linear probe");
    }
    for (int64_t j = 0; j < d; j++) {
        double s = 0, ss = 0;
        for (int64_t i = 0; i < train->n; i++) {
            double v = train->data[i * d + j];
            s += v, ss += v * v;
        }
        double m = o.standardize ? s / (double)train->n : 0, var = ss / (double)train->n - m * m;
        mean[j] = m;
        inv[j] = o.standardize && var > 1e-12 ? 1.0 / sqrt(var) : 1.0;
    }
    float *xtr = standardized(train, mean, inv), *xte = standardized(test, mean, inv);
    Problem p = {.x = xtr, .y = train->labels, .n = train->n, .d = d, .c = n_classes, .l2 = o.l2};
    p.w = sd_aligned_alloc(sizeof(float) * (size_t)(d * n_classes));
    p.gw = sd_aligned_alloc(sizeof(float) * (size_t)(d * n_classes));
    int64_t rows = train->n > test->n ? train->n : test->n;
    p.logits = sd_aligned_alloc(sizeof(float) * (size_t)(rows * n_classes));
    SdStatus st = xtr && xte && p.w && p.gw && p.logits ? SD_OK : sd_errorf(err, SD_ENOMEM, "out of memory for the linear probe");
    if (st == SD_OK) {
        lbfgs(&p, theta, o.max_iterations > 0 ? o.max_iterations : 300);
        for (int64_t i = 0; i < d * n_classes; i++)
            p.w[i] = (float)theta[i];
        rt_blas_sgemm(0, 0, test->n, n_classes, d, 1.0f, xte, d, p.w, n_classes, 0.0f, p.logits, n_classes);
        int64_t correct = 0;
        for (int64_t i = 0; i < test->n; i++) {
            int best = 0;
            for (int k = 1; k < n_classes; k++)
                if (p.logits[i * n_classes + k] + theta[d * n_classes + k] >
                    p.logits[i * n_classes + best] + theta[d * n_classes + best])
                    best = k;
            correct += best == test->labels[i];
        }
        *accuracy = test->n ? (double)correct / (double)test->n : 0;
    }
    sd_aligned_free(xtr), sd_aligned_free(xte), sd_aligned_free(p.w), sd_aligned_free(p.gw), sd_aligned_free(p.logits);
    free(mean), free(inv), free(theta);
    return st;
}
