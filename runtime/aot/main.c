/* runtime/aot/main.c — the program `seedc compile --emit=exe` links around a model: reads the
 * inputs (.npy or .pb), runs, writes or prints the outputs, or times the model with --bench. It
 * knows the model only through `seedc_model` (runtime/aot/model.h), so one compiled copy of this
 * file serves every model and target. No LLVM, no Python: libc, libm and pthreads. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/aot/model.h"
#include "runtime/tensor_io.h"
#include "support/mem.h"

#define MAX_IO 64

static void usage(FILE *out, const char *prog)
{
    const RtAotModel *m = &seedc_model;
    fprintf(out,
            "usage: %s [-i INPUT]... [-o OUTPUT]... [--weights FILE] [--bench [N]]\n\n"
            "Runs the model '%s', compiled ahead of time by seedc. Inputs and outputs are NumPy .npy\n"
            "or ONNX TensorProto .pb files, in graph order. Without -o, outputs are summarized.\n\n"
            "  -i, --input FILE    an input tensor (repeat in graph order)\n"
            "  -o, --output FILE   where to write an output (repeat in graph order)\n"
            "  --weights FILE      the weights file (default: %s.weights next to this program)\n"
            "  --bench [N]         time N runs (default 200) on the given or zero inputs\n"
            "  -h, --help          this help\n\n",
            prog, m->name, m->name);
    for (int i = 0; i < m->n_inputs + m->n_outputs; i++) {
        const RtAotTensor *t = i < m->n_inputs ? &m->inputs[i] : &m->outputs[i - m->n_inputs];
        char shape[128];
        fprintf(out, "  %-6s %-24s %s%s\n", i < m->n_inputs ? "input" : "output", t->name, sd_dtype_name(t->dtype),
                rt_shape_format(t->dims, t->rank, shape, sizeof shape));
    }
    fprintf(out, "\nweights %llu bytes (%s), scratch %llu bytes\n", (unsigned long long)m->weights_bytes,
            m->weights ? "embedded" : "file", (unsigned long long)m->scratch_bytes);
}

static int fail(const SdError *err)
{
    fprintf(stderr, "%s: %s\n", seedc_model.name, err->msg);
    return 1;
}

static void *load_weights(const char *path, const char *argv0, SdError *err)
{
    const RtAotModel *m = &seedc_model;
    char def[4096];
    if (!path) {
        char exe[2048];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            snprintf(exe, sizeof exe, "%s", argv0);
        else
            exe[n] = 0;
        snprintf(def, sizeof def, "%s/%s.weights", dirname(exe), m->name);
        path = def;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        sd_errorf(err, SD_EIO, "cannot open weights '%s': %s", path, strerror(errno));
        return NULL;
    }
    void *w = sd_aligned_alloc(m->weights_bytes);
    size_t got = w ? fread(w, 1, m->weights_bytes, f) : 0;
    int extra = fgetc(f);
    fclose(f);
    if (!w || got != m->weights_bytes || extra != EOF) {
        sd_aligned_free(w);
        sd_errorf(err, SD_EBADMODEL, "weights '%s' do not hold exactly %llu bytes: wrong file for this model?", path,
                  (unsigned long long)m->weights_bytes);
        return NULL;
    }
    return w;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const RtAotModel *m = &seedc_model;
    const char *in_paths[MAX_IO], *out_paths[MAX_IO], *weights_path = NULL;
    int n_in = 0, n_out = 0, bench = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-i") || !strcmp(a, "--input")) && i + 1 < argc && n_in < MAX_IO)
            in_paths[n_in++] = argv[++i];
        else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc && n_out < MAX_IO)
            out_paths[n_out++] = argv[++i];
        else if (!strcmp(a, "--weights") && i + 1 < argc)
            weights_path = argv[++i];
        else if (!strcmp(a, "--bench")) {
            bench = 200;
            if (i + 1 < argc && argv[i + 1][0] >= '1' && argv[i + 1][0] <= '9')
                bench = atoi(argv[++i]);
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout, argv[0]);
            return 0;
        } else {
            fprintf(stderr, "%s: unexpected argument '%s'\n\n", argv[0], a);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if ((n_in != 0 && n_in != m->n_inputs) || (n_in == 0 && m->n_inputs > 0 && !bench) || n_out > m->n_outputs ||
        m->n_inputs > MAX_IO || m->n_outputs > MAX_IO) {
        fprintf(stderr, "%s: the model takes %d input%s and has %d output%s (%d and %d given)\n", argv[0], m->n_inputs,
                m->n_inputs == 1 ? "" : "s", m->n_outputs, m->n_outputs == 1 ? "" : "s", n_in, n_out);
        return 2;
    }
    SdError err = {0};
    RtTensor in[MAX_IO] = {0}, out[MAX_IO] = {0};
    const void *in_ptr[MAX_IO];
    void *out_ptr[MAX_IO];
    int status = 0;
    for (int i = 0; i < m->n_inputs && !status; i++) {
        const RtAotTensor *t = &m->inputs[i];
        if (n_in) {
            if (rt_tensor_read(in_paths[i], &in[i], &err) != SD_OK) {
                status = fail(&err);
                break;
            }
            bool same = (int32_t)in[i].dtype == t->dtype && in[i].rank == t->rank &&
                        !memcmp(in[i].dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
            if (!same) {
                char got[128], want[128];
                fprintf(stderr, "%s: input %d ('%s') from '%s' is %s%s; the model expects %s%s\n", m->name, i, t->name,
                        in_paths[i], sd_dtype_name(in[i].dtype), rt_shape_format(in[i].dims, in[i].rank, got, sizeof got),
                        sd_dtype_name(t->dtype), rt_shape_format(t->dims, t->rank, want, sizeof want));
                status = 1;
            }
        } else if (rt_tensor_alloc(&in[i], t->dtype, t->rank, t->dims, &err) != SD_OK) {
            status = fail(&err);
        }
        in_ptr[i] = in[i].data;
    }
    for (int j = 0; j < m->n_outputs && !status; j++) {
        const RtAotTensor *t = &m->outputs[j];
        if (rt_tensor_alloc(&out[j], t->dtype, t->rank, t->dims, &err) != SD_OK)
            status = fail(&err);
        out[j].name = strdup(t->name);
        out_ptr[j] = out[j].data;
    }
    const void *weights = m->weights;
    void *loaded = NULL;
    if (!status && !weights && m->weights_bytes && !(weights = loaded = load_weights(weights_path, argv[0], &err)))
        status = fail(&err);
    void *scratch = status ? NULL : sd_aligned_alloc(m->scratch_bytes);
    if (!status && !scratch) {
        fprintf(stderr, "%s: out of memory for %llu bytes of scratch\n", m->name, (unsigned long long)m->scratch_bytes);
        status = 1;
    }
    if (!status && bench) {
        double *ms = malloc(sizeof(double) * (size_t)bench);
        for (int r = 0; r < 10; r++)
            m->run(weights, scratch, in_ptr, out_ptr);
        for (int r = 0; r < bench; r++) {
            double t0 = now_ms();
            m->run(weights, scratch, in_ptr, out_ptr);
            ms[r] = now_ms() - t0;
        }
        qsort(ms, (size_t)bench, sizeof *ms, by_double);
        printf("%s: %d runs, median %.4f ms, min %.4f ms, max %.4f ms, %.1f runs/s\n", m->name, bench, ms[bench / 2],
               ms[0], ms[bench - 1], 1e3 / ms[bench / 2]);
        free(ms);
    } else if (!status) {
        m->run(weights, scratch, in_ptr, out_ptr);
        for (int j = 0; j < n_out && !status; j++)
            if (rt_tensor_write(out_paths[j], &out[j], &err) != SD_OK)
                status = fail(&err);
        for (int j = n_out ? m->n_outputs : 0; j < m->n_outputs; j++) {
            char shape[128];
            printf("%s: %s%s =", out[j].name, sd_dtype_name(out[j].dtype),
                   rt_shape_format(out[j].dims, out[j].rank, shape, sizeof shape));
            size_t count = out[j].nbytes / (sd_dtype_size(out[j].dtype) ? sd_dtype_size(out[j].dtype) : 1);
            for (size_t k = 0; k < count && k < 8; k++) {
                if (out[j].dtype == SD_DT_F32)
                    printf(" %.6g", (double)((float *)out[j].data)[k]);
                else if (out[j].dtype == SD_DT_I64)
                    printf(" %lld", (long long)((int64_t *)out[j].data)[k]);
                else
                    printf(" ?");
            }
            printf("%s\n", count > 8 ? " ..." : "");
        }
    }
    for (int i = 0; i < MAX_IO; i++) {
        rt_tensor_free(&in[i]);
        rt_tensor_free(&out[i]);
    }
    sd_aligned_free(loaded);
    sd_aligned_free(scratch);
    return status;
}
