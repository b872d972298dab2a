/* tests/conformance/runner.c — the ONNX backend tests through seedc (README of ../shared/onnx-tests).
 *
 * Each test runs in a forked child with a time limit: load the model with its inputs (shape
 * inputs are bound at compile time, as `seedc run` does), run it, compare every output with the
 * expected tensor (same dtype and shape, |got - want| <= atol + rtol * |want|). The checked-in
 * list says which tests must pass and why each other one is skipped; the run fails if a listed
 * test fails. --write-list regenerates the list from a full run, with each failure's first
 * error line as its reason. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/seedc.h"
#include "support/mem.h"

#define MAX_IO 64
#define SUITES_N 5
static const char *const suites[SUITES_N] = {"node", "simple", "pytorch-operator", "pytorch-converted", "light"};

typedef struct {
    char name[256];   /* "node/test_relu" */
    bool expect_pass; /* from the list */
    char reason[512]; /* skip reason from the list */
    bool listed;
} TestEntry;

typedef struct {
    const char *root, *list, *filter, *write_list, *disable, *gemm;
    int jobs, timeout_s;
    bool verbose, all;
} Options;

static const double rel_tol = 1e-3, abs_tol = 1e-7;

static int compare(const RtTensor *got, const RtTensor *want, char *msg, size_t n)
{
    char a[128], b[128];
    if (got->dtype != want->dtype || got->rank != want->rank ||
        memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->rank) != 0) {
        snprintf(msg, n, "output '%s' is %s%s, expected %s%s", got->name ? got->name : "?", sd_dtype_name(got->dtype),
                 rt_shape_format(got->dims, got->rank, a, sizeof a), sd_dtype_name(want->dtype),
                 rt_shape_format(want->dims, want->rank, b, sizeof b));
        return 1;
    }
    size_t es = sd_dtype_size(got->dtype), count = es ? got->nbytes / es : 0;
    for (size_t i = 0; i < count; i++) {
        double x, y;
        switch (got->dtype) {
        case SD_DT_F32: x = ((const float *)got->data)[i], y = ((const float *)want->data)[i]; break;
        case SD_DT_I64: x = (double)((const int64_t *)got->data)[i], y = (double)((const int64_t *)want->data)[i]; break;
        case SD_DT_I32: x = ((const int32_t *)got->data)[i], y = ((const int32_t *)want->data)[i]; break;
        case SD_DT_I8: x = ((const int8_t *)got->data)[i], y = ((const int8_t *)want->data)[i]; break;
        default: x = ((const uint8_t *)got->data)[i], y = ((const uint8_t *)want->data)[i]; break;
        }
        bool same = (isnan(x) && isnan(y)) || x == y || fabs(x - y) <= abs_tol + rel_tol * fabs(y);
        if (!same) {
            snprintf(msg, n, "output '%s' element %zu is %.9g, expected %.9g", got->name ? got->name : "?", i, x, y);
            return 1;
        }
    }
    return 0;
}

/* Bounded copy without snprintf's truncation warnings. */
static void copy_text(char *dst, size_t n, const char *src)
{
    size_t k = strlen(src);
    if (k >= n)
        k = n - 1;
    memcpy(dst, src, k);
    dst[k] = 0;
}

static int count_files(const char *dir, const char *prefix)
{
    int k = 0;
    char path[2048];
    for (;; k++) {
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, k);
        if (access(path, R_OK) != 0)
            return k;
    }
}

/* The light models have no input file: the input is arange(n).reshape(shape) / n. */
static int light_inputs(SdModel *probe, RtTensor *in, int *n_in, char *msg, size_t n)
{
    SdError err = {0};
    *n_in = sd_model_num_inputs(probe);
    for (int i = 0; i < *n_in; i++) {
        SdTensorInfo t = sd_model_input(probe, i);
        if (rt_tensor_alloc(&in[i], t.dtype, t.rank, t.dims, &err) != SD_OK) {
            copy_text(msg, n, err.msg);
            return 1;
        }
        if (t.dtype == SD_DT_F32) {
            size_t count = in[i].nbytes / 4;
            for (size_t k = 0; k < count; k++)
                ((float *)in[i].data)[k] = (float)k / (float)count;
        }
    }
    return 0;
}

static void first_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = 0;
}

/* The child: returns 0 on pass and writes a one-line reason otherwise. */
static int run_one(const Options *o, const char *name, char *msg, size_t n)
    __attribute__((noinline));
static int run_one(const Options *o, const char *name, char *msg, size_t n)
{
    char dir[1024], model[1100], data[1200], path[1400];
    SdError err = {0};
    SdOptions opt = sd_options_default();
    opt.disable = o->disable;
    opt.gemm = o->gemm;
    RtTensor in[MAX_IO] = {0}, out[MAX_IO] = {0}, want[MAX_IO] = {0};
    int n_in = 0, n_want = 0, rc = 1;
    SdModel *m = NULL;
    snprintf(dir, sizeof dir, "%s/%s", o->root, name);
    bool light = strncmp(name, "light/", 6) == 0;
    if (light) {
        snprintf(model, sizeof model, "%s.onnx", dir);
        snprintf(path, sizeof path, "%s_output_0.pb", dir);
        n_want = 1;
        if (rt_tensor_read(path, &want[0], &err) != SD_OK)
            goto fail;
        if (sd_model_load(model, &opt, &m, &err) != SD_OK)
            goto fail;
        if (light_inputs(m, in, &n_in, msg, n))
            goto done;
    } else {
        snprintf(model, sizeof model, "%s/model.onnx", dir);
        snprintf(data, sizeof data, "%s/test_data_set_0", dir);
        n_in = count_files(data, "input");
        n_want = count_files(data, "output");
        if (n_in > MAX_IO || n_want > MAX_IO) {
            snprintf(msg, n, "more than %d inputs or outputs", MAX_IO);
            goto done;
        }
        for (int i = 0; i < n_in; i++) {
            snprintf(path, sizeof path, "%s/input_%d.pb", data, i);
            if (rt_tensor_read(path, &in[i], &err) != SD_OK)
                goto fail;
        }
        for (int i = 0; i < n_want; i++) {
            snprintf(path, sizeof path, "%s/output_%d.pb", data, i);
            if (rt_tensor_read(path, &want[i], &err) != SD_OK)
                goto fail;
        }
        if (sd_model_load_for_inputs(model, &opt, in, n_in, &m, &err) != SD_OK)
            goto fail;
    }
    if (sd_model_num_outputs(m) != n_want) {
        snprintf(msg, n, "the model has %d outputs, the test data %d", sd_model_num_outputs(m), n_want);
        goto done;
    }
    if (sd_model_run(m, in, n_in, out, n_want, &err) != SD_OK)
        goto fail;
    rc = 0;
    for (int i = 0; i < n_want && rc == 0; i++)
        rc = compare(&out[i], &want[i], msg, n);
    goto done;
fail:
    /* the reason goes into the checked-in list: no machine-specific paths in it */
    {
        const char *at = strstr(err.msg, name);
        const char *colon = at ? strstr(at, ": ") : NULL;
        char clean[SD_ERROR_MSG_MAX];
        copy_text(clean, sizeof clean, colon ? colon + 2 : err.msg);
        size_t rl = strlen(o->root);
        for (char *p; (p = strstr(clean, o->root)) != NULL;)
            memmove(p, p + rl + (p[rl] == '/'), strlen(p + rl + (p[rl] == '/')) + 1);
        copy_text(msg, n, clean);
        first_line(msg);
    }
done:
    for (int i = 0; i < MAX_IO; i++) {
        rt_tensor_free(&in[i]);
        rt_tensor_free(&out[i]);
        rt_tensor_free(&want[i]);
    }
    sd_model_free(m);
    return rc;
}

/* --- the test list --- */

static int by_name(const void *a, const void *b) { return strcmp(((const TestEntry *)a)->name, ((const TestEntry *)b)->name); }

static TestEntry *discover(const Options *o, int *count)
{
    int cap = 4096, k = 0;
    TestEntry *t = calloc((size_t)cap, sizeof *t);
    for (int s = 0; s < SUITES_N && t; s++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", o->root, suites[s]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            size_t len = strlen(e->d_name);
            bool light = strcmp(suites[s], "light") == 0;
            if (light && (len < 6 || strcmp(e->d_name + len - 5, ".onnx") != 0))
                continue;
            if (k == cap) {
                cap *= 2;
                TestEntry *nt = realloc(t, (size_t)cap * sizeof *t);
                if (!nt) {
                    free(t);
                    closedir(d);
                    return NULL;
                }
                t = nt;
            }
            memset(&t[k], 0, sizeof t[k]);
            snprintf(t[k].name, sizeof t[k].name, "%s/%.*s", suites[s], (int)(light ? len - 5 : len), e->d_name);
            k++;
        }
        closedir(d);
    }
    if (t)
        qsort(t, (size_t)k, sizeof *t, by_name);
    *count = k;
    return t;
}

static void read_list(const char *path, TestEntry *t, int count)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        first_line(line);
        if (line[0] == '#' || !line[0])
            continue;
        char verdict[8], name[256];
        int used = 0;
        if (sscanf(line, "%7s %255s %n", verdict, name, &used) < 2)
            continue;
        TestEntry key;
        snprintf(key.name, sizeof key.name, "%s", name);
        TestEntry *e = bsearch(&key, t, (size_t)count, sizeof *t, by_name);
        if (!e)
            continue;
        e->listed = true;
        e->expect_pass = strcmp(verdict, "pass") == 0;
        snprintf(e->reason, sizeof e->reason, "%s", line + used);
    }
    fclose(f);
}

/* --- running in children --- */

typedef struct {
    pid_t pid;
    int fd;
    int index;
    double started;
} Child;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void start(const Options *o, TestEntry *t, int i, Child *c)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(2);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        char msg[600] = "";
        int rc = run_one(o, t[i].name, msg, sizeof msg);
        if (write(fds[1], msg, strlen(msg)) < 0)
            rc = 1;
        _exit(rc);
    }
    close(fds[1]);
    *c = (Child){pid, fds[0], i, now_s()};
}

int main(int argc, char **argv)
{
    Options o = {.root = "onnx-tests", .jobs = 2, .timeout_s = 120};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--root") == 0 && v) o.root = v, i++;
        else if (strcmp(a, "--list") == 0 && v) o.list = v, i++;
        else if (strcmp(a, "--filter") == 0 && v) o.filter = v, i++;
        else if (strcmp(a, "--write-list") == 0 && v) o.write_list = v, i++;
        else if (strcmp(a, "--disable") == 0 && v) o.disable = v, i++;
        else if (strcmp(a, "--gemm") == 0 && v) o.gemm = v, i++;
        else if (strcmp(a, "--jobs") == 0 && v) o.jobs = atoi(v), i++;
        else if (strcmp(a, "--timeout") == 0 && v) o.timeout_s = atoi(v), i++;
        else if (strcmp(a, "--all") == 0) o.all = true;
        else if (strcmp(a, "-v") == 0) o.verbose = true;
        else {
            fprintf(stderr,
                    "usage: seedc-conformance --root DIR [--list FILE] [--write-list FILE] [--filter TEXT]\n"
                    "                         [--jobs N] [--timeout S] [--disable PASSES] [--gemm G] [--all] [-v]\n"
                    "Runs the ONNX backend tests under DIR; with --list, only the tests listed as pass\n"
                    "(--all runs every test and reports the listed ones that now pass).\n");
            return 2;
        }
    }
    if (o.jobs < 1)
        o.jobs = 1;
    int count;
    TestEntry *t = discover(&o, &count);
    if (!t || count == 0) {
        fprintf(stderr, "seedc-conformance: no tests under '%s' (unpack ../shared/onnx-tests there)\n", o.root);
        return 2;
    }
    if (o.list)
        read_list(o.list, t, count);
    bool *run = calloc((size_t)count, sizeof *run);
    bool *passed = calloc((size_t)count, sizeof *passed);
    char (*why)[600] = calloc((size_t)count, sizeof *why);
    if (!run || !passed || !why)
        return 2;
    for (int i = 0; i < count; i++)
        run[i] = (!o.filter || strstr(t[i].name, o.filter)) &&
                 (!o.list || o.write_list || o.all || (t[i].listed && t[i].expect_pass));
    Child *kids = calloc((size_t)o.jobs, sizeof *kids);
    int next = 0, active = 0, done = 0, total_run = 0;
    for (int i = 0; i < count; i++)
        total_run += run[i];
    double t0 = now_s();
    while (next < count || active > 0) {
        while (active < o.jobs && next < count) {
            if (!run[next]) {
                next++;
                continue;
            }
            for (int k = 0; k < o.jobs; k++)
                if (kids[k].pid == 0) {
                    start(&o, t, next, &kids[k]);
                    break;
                }
            active++;
            next++;
        }
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            for (int k = 0; k < o.jobs; k++)
                if (kids[k].pid && now_s() - kids[k].started > o.timeout_s)
                    kill(kids[k].pid, SIGKILL);
            usleep(2000);
            continue;
        }
        for (int k = 0; k < o.jobs; k++) {
            if (kids[k].pid != pid)
                continue;
            int i = kids[k].index;
            ssize_t got = read(kids[k].fd, why[i], sizeof why[i] - 1);
            why[i][got > 0 ? got : 0] = 0;
            close(kids[k].fd);
            if (WIFSIGNALED(status))
                snprintf(why[i], sizeof why[i], "crashed with signal %d%s", WTERMSIG(status),
                         WTERMSIG(status) == SIGKILL ? " (time limit)" : "");
            passed[i] = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            kids[k].pid = 0;
            active--;
            done++;
            if (o.verbose || (!passed[i] && t[i].listed && t[i].expect_pass))
                printf("%s %s%s%s\n", passed[i] ? "PASS" : "FAIL", t[i].name, passed[i] ? "" : ": ", why[i]);
            else if (isatty(1) && done % 50 == 0)
                fprintf(stderr, "\r%d/%d", done, total_run);
        }
    }
    int n_pass = 0, n_fail = 0, n_skip = 0, n_new = 0;
    for (int i = 0; i < count; i++) {
        if (!run[i]) {
            n_skip++;
            continue;
        }
        bool must = !o.list || (t[i].listed && t[i].expect_pass);
        if (passed[i]) {
            n_pass++;
            if (o.list && !must) {
                n_new++;
                if (o.all)
                    printf("NEW  %s passes but is listed as skipped\n", t[i].name);
            }
        } else if (must && !o.write_list) {
            n_fail++;
        } else {
            n_skip++;
        }
    }
    if (o.write_list) {
        FILE *f = fopen(o.write_list, "w");
        if (!f) {
            fprintf(stderr, "seedc-conformance: cannot write '%s': %s\n", o.write_list, strerror(errno));
            return 2;
        }
        fprintf(f, "# ONNX backend tests that seedc must pass (pass NAME), and why the others are skipped\n"
                   "# (skip NAME REASON). Regenerate with: seedc-conformance --root DIR --write-list FILE\n");
        for (int i = 0; i < count; i++) {
            if (!run[i] && t[i].listed)
                fprintf(f, "%s %s%s%s\n", t[i].expect_pass ? "pass" : "skip", t[i].name, t[i].reason[0] ? " " : "",
                        t[i].reason);
            else if (run[i])
                fprintf(f, passed[i] ? "pass %s\n" : "skip %s %s\n", t[i].name, why[i]);
        }
        fclose(f);
    }
    if (isatty(1))
        fprintf(stderr, "\r");
    printf("conformance: %.1f s\n", now_s() - t0);
    printf("%d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
    free(run), free(passed), free(why), free(kids), free(t);
    (void)n_new;
    return n_fail ? 1 : 0;
}
