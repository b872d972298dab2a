/* tests/passes/grad_ssl.c — the losses of the self-supervised and distillation methods
 * (api/methods/), built by the very functions the methods call: each loss value against a float64
 * reference written here, and its gradients by finite differences (fd.h: central differences on
 * the f32 step, under the default pipeline and with canonicalization and folding off on the
 * builtin GEMM). Inputs that the methods feed through a stop-gradient or from state (targets,
 * queues, banks) are fixed constants; the rest are differentiated.
 *   MoCo InfoNCE, SimCLR NT-Xent, SEED (tau_t 0.01 and the official 1e-4), DoGo's mutual KL,
 *   CRD's scores and NCE loss, SimCLRv2's distillation at T = 1 and 4, and the L2 normalization
 *   they all use (recipe_l2_normalize). */
#include "fd.h"

#include "api/methods/ssl.h"

enum { N = 4, DIM = 6, QK = 8 };

static SdError g_err;

static RecipeCtx ctx(IrGraph *g)
{
    memset(&g_err, 0, sizeof g_err);
    return (RecipeCtx){.g = g, .batch = N, .err = &g_err};
}

/* ---- float64 references ---- */

static void normalize_rows(double *x, const float *in, int rows, int d)
{
    for (int i = 0; i < rows; i++) {
        double ss = 0;
        for (int j = 0; j < d; j++)
            ss += (double)in[i * d + j] * in[i * d + j];
        double n = fmax(sqrt(ss), 1e-12);
        for (int j = 0; j < d; j++)
            x[i * d + j] = in[i * d + j] / n;
    }
}

static double dot(const double *a, const double *b, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++)
        s += a[j] * b[j];
    return s;
}

static void log_softmax_row(const double *x, double *y, int n)
{
    double m = x[0], s = 0;
    for (int i = 1; i < n; i++)
        m = fmax(m, x[i]);
    for (int i = 0; i < n; i++)
        s += exp(x[i] - m);
    for (int i = 0; i < n; i++)
        y[i] = x[i] - m - log(s);
}

static void expect_loss(const char *what, float got, double want)
{
    cr_expect(fabs((double)got - want) <= 1e-5 * fabs(want) + 1e-6, "%s: loss %.8g, float64 reference %.10g", what,
              (double)got, want);
}

/* Loss of the f32 step at the inputs (gradients discarded). */
static float loss_of(const char *what, const FdInput *in, int n, FdBuildFn build, void *c)
{
    float *grads[FD_MAX_INPUTS], loss;
    FdOptions o = {.unweighted = true};
    int k = fd_gradients(what, in, n, build, c, &o, grads, &loss);
    for (int i = 0; i < k; i++)
        free(grads[i]);
    return loss;
}

/* ---- MoCo InfoNCE: q, k normalized inside the test graph ---- */

static IrValue *build_infonce(IrGraph *g, IrValue *const *in, void *arg)
{
    RecipeCtx c = ctx(g);
    double tau = *(const double *)arg;
    return ssl_infonce(&c, recipe_l2_normalize(&c, in[0]), recipe_l2_normalize(&c, in[1]), in[2], tau, NULL);
}

static double ref_infonce(const float *q32, const float *k32, const float *queue, double tau)
{
    double q[N * DIM], k[N * DIM], qu[QK * DIM], row[1 + QK], ls[1 + QK], loss = 0;
    normalize_rows(q, q32, N, DIM), normalize_rows(k, k32, N, DIM);
    for (int i = 0; i < QK * DIM; i++)
        qu[i] = queue[i];
    for (int b = 0; b < N; b++) {
        row[0] = dot(q + b * DIM, k + b * DIM, DIM) / tau;
        for (int j = 0; j < QK; j++)
            row[1 + j] = dot(q + b * DIM, qu + j * DIM, DIM) / tau;
        log_softmax_row(row, ls, 1 + QK);
        loss -= ls[0];
    }
    return loss / N;
}

Test(grad_ssl, moco_infonce)
{
    double tau = 0.2;
    float *q = fd_rand(11, N * DIM, -1, 1), *k = fd_rand(12, N * DIM, -1, 1), *queue = fd_rand(13, QK * DIM, -0.4f, 0.4f);
    FdInput in[3] = {fd_f32(2, (int64_t[]){N, DIM}, q), fd_f32(2, (int64_t[]){N, DIM}, k),
                     fd_f32(2, (int64_t[]){QK, DIM}, queue)};
    expect_loss("infonce", loss_of("infonce", in, 3, build_infonce, &tau), ref_infonce(q, k, queue, tau));
    FdOptions o = {.unweighted = true};
    fd_check_all("MoCo InfoNCE (q, k, queue)", in, 3, build_infonce, &tau, &o);
    free(q), free(k), free(queue);
}

/* ---- SimCLR NT-Xent over 2N rows ---- */

static IrValue *build_ntxent(IrGraph *g, IrValue *const *in, void *arg)
{
    RecipeCtx c = ctx(g);
    return ssl_nt_xent(&c, recipe_l2_normalize(&c, in[0]), N, *(const double *)arg, NULL, NULL);
}

static double ref_ntxent(const float *z32, double tau)
{
    double z[2 * N * DIM], row[2 * N], ls[2 * N], loss = 0;
    normalize_rows(z, z32, 2 * N, DIM);
    for (int i = 0; i < 2 * N; i++) {
        int pos = i < N ? i + N : i - N, m = 0, at = 0;
        for (int j = 0; j < 2 * N; j++) {
            if (j == i)
                continue;
            if (j == pos)
                at = m;
            row[m++] = dot(z + i * DIM, z + j * DIM, DIM) / tau;
        }
        log_softmax_row(row, ls, m);
        loss -= ls[at];
    }
    return loss / (2 * N);
}

Test(grad_ssl, simclr_nt_xent)
{
    for (int t = 0; t < 2; t++) {
        double tau = t == 0 ? 0.5 : 0.1;
        float *z = fd_rand(21 + (uint32_t)t, 2 * N * DIM, -1, 1);
        FdInput in = fd_f32(2, (int64_t[]){2 * N, DIM}, z);
        char what[64];
        snprintf(what, sizeof what, "SimCLR NT-Xent (tau %g)", tau);
        expect_loss(what, loss_of(what, &in, 1, build_ntxent, &tau), ref_ntxent(z, tau));
        FdOptions o = {.unweighted = true};
        fd_check_all(what, &in, 1, build_ntxent, &tau, &o);
        free(z);
    }
}

/* ---- SEED: s differentiated; the teacher's t and the queue are fixed ---- */

typedef struct SeedArgs {
    double tau_s, tau_t;
} SeedArgs;

static IrValue *build_seed(IrGraph *g, IrValue *const *in, void *arg)
{
    RecipeCtx c = ctx(g);
    const SeedArgs *a = arg;
    return ssl_seed_loss(&c, recipe_l2_normalize(&c, in[0]), recipe_l2_normalize(&c, in[1]), in[2], a->tau_s, a->tau_t,
                         NULL);
}

static double ref_seed(const float *s32, const float *t32, const float *queue, const SeedArgs *a)
{
    double s[N * DIM], t[N * DIM], qu[QK * DIM], ls[1 + QK], lt[1 + QK], ps[1 + QK], pt[1 + QK], loss = 0;
    normalize_rows(s, s32, N, DIM), normalize_rows(t, t32, N, DIM);
    for (int i = 0; i < QK * DIM; i++)
        qu[i] = queue[i];
    for (int b = 0; b < N; b++) {
        ls[0] = dot(s + b * DIM, t + b * DIM, DIM) / a->tau_s;
        lt[0] = dot(t + b * DIM, t + b * DIM, DIM) / a->tau_t;
        for (int j = 0; j < QK; j++) {
            ls[1 + j] = dot(s + b * DIM, qu + j * DIM, DIM) / a->tau_s;
            lt[1 + j] = dot(t + b * DIM, qu + j * DIM, DIM) / a->tau_t;
        }
        log_softmax_row(ls, ps, 1 + QK);
        log_softmax_row(lt, pt, 1 + QK);
        for (int j = 0; j <= QK; j++)
            loss -= exp(pt[j]) * ps[j];
    }
    return loss / N;
}

Test(grad_ssl, seed_soft_targets)
{
    const SeedArgs cases[] = {{0.2, 0.01}, {0.2, 1e-4}, {0.5, 0.2}};
    for (int i = 0; i < 3; i++) {
        float *s = fd_rand(31 + (uint32_t)i, N * DIM, -1, 1), *t = fd_rand(41 + (uint32_t)i, N * DIM, -1, 1);
        float *queue = fd_rand(51 + (uint32_t)i, QK * DIM, -0.4f, 0.4f);
        /* queue rows near the teacher embeddings, so that the targets are not one-hot at tau_t 0.2 */
        FdInput in[3] = {fd_f32(2, (int64_t[]){N, DIM}, s), fd_fixed(SD_DT_F32, 2, (int64_t[]){N, DIM}, t),
                         fd_fixed(SD_DT_F32, 2, (int64_t[]){QK, DIM}, queue)};
        char what[80];
        snprintf(what, sizeof what, "SEED (tau_s %g, tau_t %g)", cases[i].tau_s, cases[i].tau_t);
        float l = loss_of(what, in, 3, build_seed, (void *)&cases[i]);
        cr_expect(isfinite(l), "%s: loss %g", what, (double)l);
        expect_loss(what, l, ref_seed(s, t, queue, &cases[i]));
        FdOptions o = {.unweighted = true};
        fd_check_all(what, in, 3, build_seed, (void *)&cases[i], &o);
        free(s), free(t), free(queue);
    }
}

/* ---- DoGo: KL(softmax(other) || softmax(logits)), other fixed ---- */

static IrValue *build_kl(IrGraph *g, IrValue *const *in, void *arg)
{
    (void)arg;
    RecipeCtx c = ctx(g);
    return ssl_mutual_kl(&c, in[0], in[1]);
}

static double ref_kl(const float *a32, const float *b32)
{
    double a[1 + QK], b[1 + QK], la[1 + QK], lb[1 + QK], kl = 0;
    for (int r = 0; r < N; r++) {
        for (int j = 0; j <= QK; j++)
            a[j] = a32[r * (1 + QK) + j], b[j] = b32[r * (1 + QK) + j];
        log_softmax_row(a, la, 1 + QK);
        log_softmax_row(b, lb, 1 + QK);
        for (int j = 0; j <= QK; j++)
            kl += exp(lb[j]) * (lb[j] - la[j]);
    }
    return kl / N;
}

Test(grad_ssl, dogo_mutual_kl)
{
    float *a = fd_rand(61, N * (1 + QK), -3, 3), *b = fd_rand(62, N * (1 + QK), -3, 3);
    int64_t dims[2] = {N, 1 + QK};
    FdInput in[2] = {fd_f32(2, dims, a), fd_fixed(SD_DT_F32, 2, dims, b)};
    float l = loss_of("mutual KL", in, 2, build_kl, NULL);
    expect_loss("mutual KL", l, ref_kl(a, b));
    cr_expect(l > 0, "KL of two different distributions is positive: %g", (double)l);
    FdOptions o = {.unweighted = true};
    fd_check_all("DoGo mutual KL", in, 2, build_kl, NULL, &o);
    /* the target side gets no gradient: differentiated, `other` must come back zero */
    FdInput both[2] = {fd_f32(2, dims, a), fd_f32(2, dims, b)};
    float *grads[2], loss;
    cr_assert_eq(fd_gradients("mutual KL, target side", both, 2, build_kl, NULL, &o, grads, &loss), 2);
    for (int i = 0; i < N * (1 + QK); i++)
        cr_expect_eq(grads[1][i], 0.0f, "the KL target's gradient [%d] is %g, expected 0 (stop-gradient)", i,
                     (double)grads[1][i]);
    free(grads[0]), free(grads[1]);
    free(a), free(b);
}

/* ---- CRD: scores and NCE loss; e, pos and neg differentiated, z fixed ---- */

typedef struct CrdArgs {
    double tau;
    int64_t n_data;
} CrdArgs;

static IrValue *build_crd(IrGraph *g, IrValue *const *in, void *arg)
{
    RecipeCtx c = ctx(g);
    const CrdArgs *a = arg;
    IrValue *x = ssl_crd_scores(&c, recipe_l2_normalize(&c, in[0]), in[1], in[2], a->tau);
    return ssl_crd_nce(&c, x, in[3], N, QK, a->n_data);
}

static double ref_crd(const float *e32, const float *pos, const float *neg, float z, const CrdArgs *a)
{
    double e[N * DIM], kpn = (double)QK / (double)a->n_data, loss = 0;
    normalize_rows(e, e32, N, DIM);
    for (int b = 0; b < N; b++) {
        double p[DIM], x0;
        for (int j = 0; j < DIM; j++)
            p[j] = pos[b * DIM + j];
        x0 = exp(dot(e + b * DIM, p, DIM) / a->tau) / z;
        loss += log(x0 / (x0 + kpn + 1e-7));
        for (int k = 0; k < QK; k++) {
            double n[DIM];
            for (int j = 0; j < DIM; j++)
                n[j] = neg[k * DIM + j];
            double x = exp(dot(e + b * DIM, n, DIM) / a->tau) / z;
            loss += log(kpn / (x + kpn + 1e-7));
        }
    }
    return -loss / N;
}

Test(grad_ssl, crd_nce)
{
    CrdArgs a = {.tau = 0.5, .n_data = 50};
    float *e = fd_rand(71, N * DIM, -1, 1), *pos = fd_rand(72, N * DIM, -0.4f, 0.4f);
    float *neg = fd_rand(73, QK * DIM, -0.4f, 0.4f), z = 30.0f;
    FdInput in[4] = {fd_f32(2, (int64_t[]){N, DIM}, e), fd_f32(2, (int64_t[]){N, DIM}, pos),
                     fd_f32(2, (int64_t[]){QK, DIM}, neg), fd_fixed(SD_DT_F32, 0, (int64_t[]){1}, &z)};
    expect_loss("CRD NCE", loss_of("CRD NCE", in, 4, build_crd, &a), ref_crd(e, pos, neg, z, &a));
    FdOptions o = {.unweighted = true};
    fd_check_all("CRD scores + NCE (e, positives, negatives)", in, 4, build_crd, &a, &o);
    free(e), free(pos), free(neg);
}

/* ---- SimCLRv2 distillation: T^2 CE(student / T, softmax(teacher / T)), teacher fixed ---- */

static IrValue *build_distill(IrGraph *g, IrValue *const *in, void *arg)
{
    RecipeCtx c = ctx(g);
    return ssl_distill(&c, in[0], in[1], *(const double *)arg);
}

static double ref_distill(const float *s32, const float *t32, double temp)
{
    enum { C = 10 };
    double s[C], t[C], ls[C], lt[C], loss = 0;
    for (int r = 0; r < N; r++) {
        for (int j = 0; j < C; j++)
            s[j] = s32[r * C + j] / temp, t[j] = t32[r * C + j] / temp;
        log_softmax_row(s, ls, C);
        log_softmax_row(t, lt, C);
        for (int j = 0; j < C; j++)
            loss -= exp(lt[j]) * ls[j];
    }
    return temp * temp * loss / N;
}

Test(grad_ssl, simclrv2_distillation)
{
    for (int i = 0; i < 2; i++) {
        double temp = i == 0 ? 1.0 : 4.0;
        float *s = fd_rand(81 + (uint32_t)i, N * 10, -3, 3), *t = fd_rand(91 + (uint32_t)i, N * 10, -3, 3);
        int64_t dims[2] = {N, 10};
        FdInput in[2] = {fd_f32(2, dims, s), fd_fixed(SD_DT_F32, 2, dims, t)};
        char what[64];
        snprintf(what, sizeof what, "SimCLRv2 distillation (T %g)", temp);
        expect_loss(what, loss_of(what, in, 2, build_distill, &temp), ref_distill(s, t, temp));
        FdOptions o = {.unweighted = true};
        fd_check_all(what, in, 2, build_distill, &temp, &o);
        free(s), free(t);
    }
}

/* ---- the L2 normalization every method applies (F.normalize), weighted loss ---- */

static IrValue *build_l2(IrGraph *g, IrValue *const *in, void *arg)
{
    (void)arg;
    RecipeCtx c = ctx(g);
    return recipe_l2_normalize(&c, in[0]);
}

Test(grad_ssl, l2_normalize)
{
    float *x = fd_rand(101, N * DIM, -2, 2);
    FdInput in = fd_f32(2, (int64_t[]){N, DIM}, x);
    fd_check_all("recipe_l2_normalize", &in, 1, build_l2, NULL, NULL);
    free(x);
}
