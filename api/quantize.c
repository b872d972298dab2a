/* api/quantize.c — what post-training quantization needs before the pass runs: calibration
 * samples (tensor files or a data set), the float model run over them with every f32 value as an
 * output, and a range per value by min/max, percentile or entropy (KL divergence, as TensorRT
 * calibrates). The ranges go to passes/quantize.c through PassQuantOptions. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/driver.h"
#include "runtime/data/idx.h"
#include "support/mem.h"

#define CALIB_DEFAULT_SAMPLES 64
#define CALIB_BINS 2048
#define CALIB_PERCENTILE 99.99

/* ------------------------------------------------------------------------------------------ */
/* samples                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Samples of the input's batch: one image each, or for a model whose batch is fixed at B > 1, B
 * images each (the last ones dropped when they do not fill a batch). */
typedef struct {
    RtTensor *items;
    int n, cap, max;
    int64_t group, filled; /* images per sample; images in items[n] so far */
    const SdTensorInfo *info;
} Samples;

static SdStatus add_sample(Samples *s, const void *data, SdError *err)
{
    if (s->filled == 0) {
        if (s->n == s->cap) {
            int cap = s->cap ? 2 * s->cap : 16;
            RtTensor *t = realloc(s->items, (size_t)cap * sizeof *t);
            if (!t)
                return sd_errorf(err, SD_ENOMEM, "out of memory for calibration samples");
            s->items = t, s->cap = cap;
        }
        int64_t dims[RT_MAX_RANK];
        memcpy(dims, s->info->dims, sizeof(int64_t) * (size_t)s->info->rank);
        dims[0] = s->group;
        SD_TRY(rt_tensor_alloc(&s->items[s->n], s->info->dtype, s->info->rank, dims, err));
    }
    RtTensor *t = &s->items[s->n];
    const size_t per = t->nbytes / (size_t)s->group;
    memcpy((uint8_t *)t->data + (size_t)s->filled * per, data, per);
    if (++s->filled == s->group)
        s->n++, s->filled = 0;
    return SD_OK;
}

/* A tensor [B, rest...] whose rest matches the input's: B samples. */
static SdStatus split_tensor(Samples *s, const RtTensor *t, const char *path, SdError *err)
{
    const SdTensorInfo *in = s->info;
    bool ok = t->dtype == in->dtype && t->rank == in->rank && t->rank >= 1;
    for (int i = 1; ok && i < t->rank; i++)
        ok = t->dims[i] == in->dims[i];
    if (!ok) {
        char a[128], b[128];
        int64_t want[RT_MAX_RANK];
        memcpy(want, in->dims, sizeof(int64_t) * (size_t)in->rank);
        if (in->rank)
            want[0] = 1;
        return sd_errorf(err, SD_ESHAPE, "calibration sample '%s' is %s%s; the model's input '%s' takes %s%s (any leading size)",
                         path, sd_dtype_name(t->dtype), rt_shape_format(t->dims, t->rank, a, sizeof a), in->name,
                         sd_dtype_name(in->dtype), rt_shape_format(want, in->rank, b, sizeof b));
    }
    size_t per = t->dims[0] ? t->nbytes / (size_t)t->dims[0] : 0;
    for (int64_t i = 0; i < t->dims[0] && s->n < s->max; i++)
        SD_TRY(add_sample(s, (const uint8_t *)t->data + (size_t)i * per, err));
    return SD_OK;
}

static bool tensor_file(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".npy") == 0) || (n > 3 && strcmp(name + n - 3, ".pb") == 0);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static SdStatus from_files(Samples *s, const char *path, SdError *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sd_errorf(err, SD_EIO, "calibration data '%s': no such file or folder (or a data set: fashion-mnist, mnist)",
                         path);
    if (!S_ISDIR(st.st_mode)) {
        RtTensor t;
        SD_TRY(rt_tensor_read(path, &t, err));
        SdStatus r = split_tensor(s, &t, path, err);
        rt_tensor_free(&t);
        return r;
    }
    DIR *d = opendir(path);
    if (!d)
        return sd_errorf(err, SD_EIO, "cannot read the calibration folder '%s'", path);
    char **names = NULL;
    int n = 0, cap = 0;
    SdStatus r = SD_OK;
    for (struct dirent *e; r == SD_OK && (e = readdir(d));) {
        if (!tensor_file(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) {
                r = sd_errorf(err, SD_ENOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = sd_strdup(e->d_name)))
            r = sd_errorf(err, SD_ENOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (r == SD_OK && n == 0)
        r = sd_errorf(err, SD_EIO, "calibration folder '%s' has no .npy or .pb files", path);
    if (r == SD_OK)
        qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n && r == SD_OK && s->n < s->max; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        RtTensor t;
        if ((r = rt_tensor_read(full, &t, err)) == SD_OK) {
            r = split_tensor(s, &t, full, err);
            rt_tensor_free(&t);
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r;
}

/* Images of a data set's training split, scaled to [0, 1] and normalized as seedc trains on them
 * (Fashion-MNIST: mean 0.2860, std 0.3530; MNIST: 0.1307, 0.3081). */
static SdStatus from_dataset(Samples *s, const char *name, SdError *err)
{
    const SdTensorInfo *in = s->info;
    RtDataset d;
    SD_TRY(rt_dataset_load(name, RT_SPLIT_TRAIN, NULL, &d, err));
    int64_t want[4] = {1, d.channels, d.height, d.width};
    bool ok = in->dtype == SD_DT_F32 && in->rank == 4;
    for (int i = 1; ok && i < 4; i++)
        ok = in->dims[i] == want[i];
    SdStatus r = SD_OK;
    if (!ok) {
        char a[128], b[128];
        r = sd_errorf(err, SD_ESHAPE, "data set '%s' has images f32%s; the model's input '%s' is %s%s", name,
                      rt_shape_format(want, 4, a, sizeof a), in->name, sd_dtype_name(in->dtype),
                      rt_shape_format(in->dims, in->rank, b, sizeof b));
    }
    const float mean = strcmp(name, "mnist") == 0 ? 0.1307f : 0.2860f, sd = strcmp(name, "mnist") == 0 ? 0.3081f : 0.3530f;
    int64_t size = (int64_t)d.channels * d.height * d.width;
    float *buf = r == SD_OK ? malloc((size_t)size * sizeof *buf) : NULL;
    if (r == SD_OK && !buf)
        r = sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int64_t i = 0; r == SD_OK && i < d.n && s->n < s->max; i++) {
        for (int64_t k = 0; k < size; k++)
            buf[k] = ((float)d.images[i * size + k] / 255.0f - mean) / sd;
        r = add_sample(s, buf, err);
    }
    free(buf);
    rt_dataset_free(&d);
    return r;
}

SdStatus sd_calibration_samples(const char *calib, const SdTensorInfo *info, int max, RtTensor **out, int *n,
                                SdError *err)
{
    const int64_t group = info->rank >= 1 && info->dims[0] > 1 ? info->dims[0] : 1;
    const int64_t images = max > 0 ? max : CALIB_DEFAULT_SAMPLES;
    Samples s = {.max = (int)(images / group > 0 ? images / group : 1), .group = group, .info = info};
    *out = NULL, *n = 0;
    if (!calib || !calib[0])
        return sd_errorf(err, SD_EUSAGE, "int8 quantization needs calibration data (--calib DATA)");
    SdStatus r = strcmp(calib, "fashion-mnist") == 0 || strcmp(calib, "mnist") == 0 ? from_dataset(&s, calib, err)
                                                                                    : from_files(&s, calib, err);
    if (s.filled > 0) /* a batch begun and not filled */
        rt_tensor_free(&s.items[s.n]);
    if (r == SD_OK && s.n == 0 && group > 1)
        r = sd_errorf(err, SD_EUSAGE, "calibration data '%s' holds fewer than the %lld images of the model's fixed batch",
                      calib, (long long)group);
    else if (r == SD_OK && s.n == 0)
        r = sd_errorf(err, SD_EUSAGE, "calibration data '%s' holds no samples", calib);
    if (r != SD_OK) {
        for (int i = 0; i < s.n; i++)
            rt_tensor_free(&s.items[i]);
        free(s.items);
        return r;
    }
    *out = s.items, *n = s.n;
    return SD_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* ranges                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef enum { METHOD_MINMAX, METHOD_PERCENTILE, METHOD_ENTROPY } Method;

typedef struct {
    double lo, hi;
    double *hist; /* CALIB_BINS over [lo, hi] (percentile) or over [0, max |x|] (entropy) */
} Stat;

static void hist_add(Stat *st, const float *x, size_t n, Method m)
{
    double lo = m == METHOD_ENTROPY ? 0.0 : st->lo;
    double hi = m == METHOD_ENTROPY ? fmax(fabs(st->lo), fabs(st->hi)) : st->hi;
    double w = hi > lo ? (hi - lo) / CALIB_BINS : 1.0;
    for (size_t i = 0; i < n; i++) {
        double v = m == METHOD_ENTROPY ? fabs((double)x[i]) : (double)x[i];
        if (!isfinite(v))
            continue;
        int64_t b = (int64_t)((v - lo) / w);
        st->hist[b < 0 ? 0 : b >= CALIB_BINS ? CALIB_BINS - 1 : b] += 1.0;
    }
}

/* The bins below the lower and above the upper tail of mass (100 - p)% each. */
static void percentile_range(Stat *st)
{
    double total = 0;
    for (int i = 0; i < CALIB_BINS; i++)
        total += st->hist[i];
    if (total <= 0)
        return;
    double cut = total * (100.0 - CALIB_PERCENTILE) / 100.0, w = (st->hi - st->lo) / CALIB_BINS, acc = 0;
    int lo = 0, hi = CALIB_BINS - 1;
    while (lo < CALIB_BINS - 1 && acc + st->hist[lo] <= cut)
        acc += st->hist[lo++];
    acc = 0;
    while (hi > 0 && acc + st->hist[hi] <= cut)
        acc += st->hist[hi--];
    double nlo = st->lo + lo * w, nhi = st->lo + (hi + 1) * w;
    if (st->lo >= 0)
        nlo = st->lo; /* a non-negative tensor (after ReLU) keeps 0 */
    if (nhi > nlo)
        st->lo = nlo, st->hi = nhi;
}

/* KL divergence between the histogram clipped at bin i and its quantization into `levels` bins;
 * the threshold with the least. Bins are over [0, max |x|]. */
static void entropy_range(Stat *st)
{
    const int levels = st->lo >= 0 ? 256 : 128;
    double amax = fmax(fabs(st->lo), fabs(st->hi)), w = amax / CALIB_BINS;
    double best = INFINITY;
    int best_i = CALIB_BINS;
    double *p = malloc(CALIB_BINS * sizeof *p), *q = malloc(CALIB_BINS * sizeof *q);
    if (!p || !q || amax <= 0) {
        free(p), free(q);
        return;
    }
    for (int i = levels; i <= CALIB_BINS; i += 16) {
        double outliers = 0, total = 0;
        for (int k = 0; k < i; k++)
            p[k] = st->hist[k];
        for (int k = i; k < CALIB_BINS; k++)
            outliers += st->hist[k];
        p[i - 1] += outliers;
        for (int k = 0; k < i; k++)
            total += p[k];
        if (total <= 0)
            continue;
        /* merge i bins into `levels`, spread each level back over its non-empty bins */
        for (int l = 0; l < levels; l++) {
            int a = (int)((int64_t)l * i / levels), b = (int)((int64_t)(l + 1) * i / levels);
            double sum = 0;
            int nonzero = 0;
            for (int k = a; k < b; k++) {
                sum += st->hist[k];
                nonzero += st->hist[k] > 0;
            }
            for (int k = a; k < b; k++)
                q[k] = st->hist[k] > 0 && nonzero ? sum / nonzero : 0;
        }
        double qt = 0;
        for (int k = 0; k < i; k++)
            qt += q[k];
        double kl = 0;
        for (int k = 0; k < i; k++) {
            if (p[k] <= 0)
                continue;
            double pk = p[k] / total, qk = qt > 0 ? q[k] / qt : 0;
            kl += qk > 0 ? pk * log(pk / qk) : pk * 20.0; /* an empty quantized bin: a large penalty */
        }
        if (kl < best)
            best = kl, best_i = i;
    }
    free(p), free(q);
    double t = (best_i + 0.5) * w;
    st->lo = fmax(st->lo, -t);
    st->hi = fmin(st->hi, t);
}

static SdStatus parse_method(const char *s, Method *m, SdError *err)
{
    if (!s || !s[0] || strcmp(s, "minmax") == 0)
        *m = METHOD_MINMAX;
    else if (strcmp(s, "percentile") == 0)
        *m = METHOD_PERCENTILE;
    else if (strcmp(s, "entropy") == 0)
        *m = METHOD_ENTROPY;
    else
        return sd_errorf(err, SD_EUSAGE, "calibration method '%s': minmax, percentile or entropy is expected", s);
    return SD_OK;
}

void sd_calibration_free(SdCalibration *c)
{
    for (int i = 0; i < c->n_ranges; i++)
        free((char *)c->ranges[i].name);
    free(c->ranges);
    memset(c, 0, sizeof *c);
}

/* The finite values' range of x into st: in float, a compare per value (a libm call per value
 * through doubles took a sixth of ResNet-18's int8 compile time). */
static void range_add(Stat *st, const float *x, size_t count)
{
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < count; i++) {
        const float v = x[i];
        if (v - v == 0.0f) { /* finite */
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    st->lo = lo < st->lo ? lo : st->lo;
    st->hi = hi > st->hi ? hi : st->hi;
}

/* Runs m over the samples; pass 0 records min/max, pass 1 histograms. The first run checks the
 * sample and allocates the outputs; the others write into them (sd_calibration_samples made them
 * all of the input's shape), so that fresh pages are not zeroed for every value of every sample. */
static SdStatus run_samples(SdModel *m, const RtTensor *samples, int n, Stat *stats, int pass, Method method, SdError *err)
{
    int no = sd_model_num_outputs(m);
    RtTensor *outs = calloc((size_t)no, sizeof *outs);
    void **raw = calloc((size_t)no, sizeof *raw);
    SdStatus st = outs && raw ? SD_OK : sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int s = 0; s < n && st == SD_OK; s++) {
        if (s == 0) {
            if ((st = sd_model_run(m, &samples[0], 1, outs, no, err)) != SD_OK)
                break;
            for (int j = 0; j < no; j++)
                raw[j] = outs[j].data;
        } else {
            SD_ASSERT(samples[s].nbytes == samples[0].nbytes);
            void *in = samples[s].data;
            sd_model_run_raw(m, &in, raw);
        }
        for (int j = 0; j < no; j++) {
            const float *x = outs[j].data;
            size_t count = outs[j].nbytes / sizeof(float);
            if (pass == 0)
                range_add(&stats[j], x, count);
            else
                hist_add(&stats[j], x, count, method);
        }
    }
    for (int j = 0; outs && j < no; j++)
        rt_tensor_free(&outs[j]);
    free(outs), free(raw);
    return st;
}

SdStatus sd_compile_probed(const char *path, const SdOptions *opt, PassQuantOptions *q, SdModel **out, int *n_original,
                           SdError *err)
{
    *out = NULL;
    SdOptions copt = *opt;
    copt.quantize = NULL, copt.precision = NULL;
    IrGraph *g;
    SD_TRY(sd_load_graph(path, &copt, &g, NULL, err));
    SdStatus st = q ? sd_optimize_with(g, &copt, q, "quantize", err) : sd_optimize(g, &copt, "dce", NULL, NULL, err);
    if (n_original)
        *n_original = ir_graph_num_outputs(g);
    for (int i = 0; st == SD_OK && i < ir_graph_num_values(g); i++) {
        IrValue *v = ir_graph_value(g, i);
        bool kind = v->dtype == SD_DT_F32 || (q && v->dtype == SD_DT_U8);
        if (kind && v->has_shape && (v->producer || v->role == IR_ROLE_INPUT) && !ir_value_is_graph_output(g, v))
            ir_graph_add_output(g, v);
    }
    if (st == SD_OK)
        st = sd_model_compile(g, &copt, out, err);
    if (st != SD_OK)
        ir_graph_free(g);
    return st;
}

SdStatus sd_calibrate(const char *path, const SdOptions *opt, SdCalibration *out, SdError *err)
{
    memset(out, 0, sizeof *out);
    Method method = METHOD_MINMAX;
    SD_TRY(parse_method(opt->calib_method, &method, err));
    SdOptions copt = *opt;
    copt.batch = 1;
    /* the calibration build skips Winograd: its transformed weights (16/9 and 36/9 of the raw
     * ones) were the largest thing in memory for a build that runs a few dozen images (ResNet-50
     * --quantize int8: peak RSS 348 -> 315 MB, compile time unchanged); the int8 model has no
     * Winograd to match */
    char disable[1024];
    const char *user = opt->disable ? opt->disable : "";
    if (strlen(user) + 16 < sizeof disable) {
        snprintf(disable, sizeof disable, "winograd%s%s", user[0] ? "," : "", user);
        copt.disable = disable;
    }
    SdModel *m;
    SD_TRY(sd_compile_probed(path, &copt, NULL, &m, NULL, err));
    SdStatus st = SD_OK;
    if (sd_model_num_inputs(m) != 1)
        st = sd_errorf(err, SD_EUNSUPPORTED, "%s: calibration supports models with one input; this one has %d", path,
                       sd_model_num_inputs(m));
    SdTensorInfo in = sd_model_input(m, 0);
    RtTensor *samples = NULL;
    int n = 0;
    int no = sd_model_num_outputs(m);
    Stat *stats = calloc((size_t)no, sizeof *stats);
    if (st == SD_OK && !stats)
        st = sd_errorf(err, SD_ENOMEM, "out of memory");
    if (st == SD_OK)
        st = sd_calibration_samples(opt->calib, &in, opt->calib_samples, &samples, &n, err);
    for (int j = 0; st == SD_OK && j < no; j++)
        stats[j].lo = INFINITY, stats[j].hi = -INFINITY;
    if (st == SD_OK)
        st = run_samples(m, samples, n, stats, 0, method, err);
    if (st == SD_OK && method != METHOD_MINMAX) {
        for (int j = 0; st == SD_OK && j < no; j++)
            if (!(stats[j].hist = calloc(CALIB_BINS, sizeof(double))))
                st = sd_errorf(err, SD_ENOMEM, "out of memory");
        if (st == SD_OK)
            st = run_samples(m, samples, n, stats, 1, method, err);
        for (int j = 0; st == SD_OK && j < no; j++) {
            if (!(stats[j].hi > stats[j].lo))
                continue;
            if (method == METHOD_PERCENTILE)
                percentile_range(&stats[j]);
            else
                entropy_range(&stats[j]);
        }
    }
    if (st == SD_OK && !(out->ranges = calloc((size_t)no, sizeof *out->ranges)))
        st = sd_errorf(err, SD_ENOMEM, "out of memory");
    for (int j = 0; st == SD_OK && j < no; j++) {
        if (!(stats[j].hi >= stats[j].lo))
            continue; /* never finite */
        PassQuantRange *r = &out->ranges[out->n_ranges];
        if (!(r->name = sd_strdup(sd_model_output(m, j).name))) {
            st = sd_errorf(err, SD_ENOMEM, "out of memory");
            break;
        }
        r->lo = (float)stats[j].lo, r->hi = (float)stats[j].hi;
        out->n_ranges++;
    }
    out->n_samples = n;
    for (int j = 0; stats && j < no; j++)
        free(stats[j].hist);
    free(stats);
    for (int i = 0; i < n; i++)
        rt_tensor_free(&samples[i]);
    free(samples);
    sd_model_free(m);
    if (st != SD_OK)
        sd_calibration_free(out);
    return st;
}

bool sd_wants_bf16(const SdOptions *opt) { return opt && opt->precision && strcmp(opt->precision, "bf16") == 0; }

SdStatus sd_check_precision(const char *p, SdError *err)
{
    if (p && p[0] && strcmp(p, "bf16") != 0 && strcmp(p, "fp32") != 0 && strcmp(p, "f32") != 0)
        return sd_errorf(err, SD_EUSAGE, "--precision '%s': fp32 or bf16 is expected", p);
    return SD_OK;
}

SdStatus sd_quant_options(const char *path, const SdOptions *opt, PassQuantOptions *q, SdCalibration *cal,
                          SdError *err)
{
    memset(q, 0, sizeof *q);
    memset(cal, 0, sizeof *cal);
    if (!opt)
        return SD_OK;
    bool int8 = opt->quantize && opt->quantize[0];
    if (int8 && strcmp(opt->quantize, "int8") != 0)
        return sd_errorf(err, SD_EUSAGE, "--quantize '%s': int8 is the supported quantization", opt->quantize);
    SD_TRY(sd_check_precision(opt->precision, err));
    const bool bf16 = sd_wants_bf16(opt);
    if (int8 && bf16)
        return sd_errorf(err, SD_EUSAGE, "--quantize=int8 and --precision=bf16 exclude each other");
    q->per_tensor = opt->per_tensor;
    q->symmetric = opt->symmetric;
    q->keep_fp32 = opt->keep_fp32;
    if (bf16) {
        q->precision = PASS_PRECISION_BF16;
        return SD_OK;
    }
    if (!int8)
        return SD_OK;
    q->precision = PASS_PRECISION_INT8;
    if (!path)
        return sd_errorf(err, SD_EUSAGE, "int8 calibration needs the model's file");
    SD_TRY(sd_calibrate(path, opt, cal, err));
    q->ranges = cal->ranges, q->n_ranges = cal->n_ranges;
    return SD_OK;
}
