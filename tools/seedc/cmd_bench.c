/* tools/seedc/cmd_bench.c — `seedc bench MODEL`: compile time, latency (median, min, max over many
 * runs after a warm-up), throughput and peak memory, on random inputs of the model's shapes; with
 * --profile, where the time goes, by op and by node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "api/driver.h"
#include "codegen/target.h"
#include "runtime/threadpool.h"
#include "tools/seedc/cli.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc bench MODEL [--batch N] [--threads N] [--runs N] [--warmup N] [options]\n\n"
            "Compiles MODEL and times it on random inputs: compile time, median/min/max latency,\n"
            "throughput (images/s for the batch) and peak resident memory of the process.\n\n"
            "options:\n"
            "  --runs N         timed runs (default 100)\n"
            "  --warmup N       untimed runs first (default 10)\n"
            "  --profile[=N]    time every node of the compiled graph too (the clock read around each\n"
            "                   node costs a little): per-op totals and the N slowest nodes (default 15,\n"
            "                   0: all), in ms per run\n"
            "  --serve          for bench/compare.py: after warm-up, read a count N per line from stdin,\n"
            "                   run N times and print the N latencies in ms on one line; 'quit' ends\n" CLI_COMMON_HELP);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* Peak resident memory of this process in MB: VmHWM belongs to the address space, so unlike
 * ru_maxrss it does not inherit the high-water mark of a parent that forked and exec'd us. */
static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtod(line + 6, NULL);
    if (f)
        fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = (double)ru.ru_maxrss;
    }
    return kb / 1024.0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option longs[] = {{"runs", required_argument, NULL, 'r'}, {"warmup", required_argument, NULL, 'w'},
                                          {"serve", no_argument, NULL, 's'}, {"profile", optional_argument, NULL, 'P'},
                                          CLI_COMMON_LONG_OPTIONS,
                                          {NULL, 0, NULL, 0}};
    bool serve = false;
    CliCommon common = {.opt = sd_options_default()};
    long long runs = 100, warmup = 10, top = 15;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (!cli_parse_int(optarg, 1, 1000000, &runs))
                return cli_usage_error("bench", "--runs takes a positive integer, not '%s'", optarg);
            break;
        case 'w':
            if (!cli_parse_int(optarg, 0, 1000000, &warmup))
                return cli_usage_error("bench", "--warmup takes a number, not '%s'", optarg);
            break;
        case 's': serve = true; break;
        case 'P':
            common.opt.profile = true;
            if (optarg && !cli_parse_int(optarg, 0, 1000000, &top))
                return cli_usage_error("bench", "--profile=N takes a number of nodes (0: all), not '%s'", optarg);
            break;
        case 'h': help(stdout); return EXIT_OK;
        case '?': return cli_usage_error("bench", "unknown option or missing value: '%s'", argv[optind - 1]);
        default:
            if ((rc = cli_common_option(&common, c, optarg, "bench")) != EXIT_OK)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("bench", optind >= argc ? "a model file is required" : "exactly one model file is expected");
    SdError err = {0};
    SdModel *m;
    double t0 = now_ms();
    if (sd_model_load(argv[optind], &common.opt, &m, &err) != SD_OK)
        return cli_fail(&err);
    double load_ms = now_ms() - t0;
    int ni = sd_model_num_inputs(m), no = sd_model_num_outputs(m);
    RtTensor *in = calloc((size_t)ni + 1, sizeof *in), *out = calloc((size_t)no + 1, sizeof *out);
    void **in_ptr = calloc((size_t)ni + 1, sizeof *in_ptr), **out_ptr = calloc((size_t)no + 1, sizeof *out_ptr);
    double *ms = calloc((size_t)runs, sizeof *ms);
    int status = in && out && in_ptr && out_ptr && ms ? EXIT_OK : EXIT_USER;
    srand(1);
    for (int i = 0; i < ni && status == EXIT_OK; i++) {
        SdTensorInfo t = sd_model_input(m, i);
        if (rt_tensor_alloc(&in[i], t.dtype, t.rank, t.dims, &err) != SD_OK) {
            status = cli_fail(&err);
            break;
        }
        if (t.dtype == SD_DT_F32)
            for (size_t k = 0; k < in[i].nbytes / 4; k++)
                ((float *)in[i].data)[k] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
        in_ptr[i] = in[i].data;
    }
    for (int j = 0; j < no && status == EXIT_OK; j++) {
        SdTensorInfo t = sd_model_output(m, j);
        if (rt_tensor_alloc(&out[j], t.dtype, t.rank, t.dims, &err) != SD_OK)
            status = cli_fail(&err);
        out_ptr[j] = out[j].data;
    }
    if (status == EXIT_OK && serve) {
        for (long long r = 0; r < warmup; r++)
            sd_model_run_raw(m, in_ptr, out_ptr);
        printf("ready %.1f\n", load_ms);
        fflush(stdout);
        const int64_t spells = rt_parallel_serial_spells();
        char line[64];
        while (fgets(line, sizeof line, stdin) && strncmp(line, "quit", 4) != 0) {
            long count = strtol(line, NULL, 10);
            for (long r = 0; r < count; r++) {
                double a = now_ms();
                sd_model_run_raw(m, in_ptr, out_ptr);
                printf("%s%.4f", r ? " " : "", now_ms() - a);
            }
            printf("\n");
            fflush(stdout);
        }
        /* and how often the pool fell back to one thread meanwhile (bench/compare.py flags those cells) */
        printf("rss %.1f serial %lld\n", peak_rss_mb(), (long long)(rt_parallel_serial_spells() - spells));
    } else if (status == EXIT_OK) {
        for (long long r = 0; r < warmup; r++)
            sd_model_run_raw(m, in_ptr, out_ptr);
        sd_model_profile_reset(m);
        const int64_t spells = rt_parallel_serial_spells();
        for (long long r = 0; r < runs; r++) {
            double a = now_ms();
            sd_model_run_raw(m, in_ptr, out_ptr);
            ms[r] = now_ms() - a;
        }
        qsort(ms, (size_t)runs, sizeof *ms, by_value);
        int64_t batch = ni ? sd_model_input(m, 0).dims[0] : 1;
        double median = ms[runs / 2];
        printf("model       %s\n", argv[optind]);
        printf("batch       %lld, threads %d", (long long)batch, common.opt.threads ? common.opt.threads : 0);
        if (sd_model_slices(m) > 1)
            printf(" (in %lld slices of %lld, one per thread at a time)", (long long)sd_model_slices(m),
                   (long long)(batch / sd_model_slices(m)));
        printf("\n");
        printf("compile     %.1f ms (JIT %.1f ms, %d part%s)\n", load_ms, 1e3 * sd_model_compile_seconds(m),
               sd_model_compile_parts(m), sd_model_compile_parts(m) == 1 ? "" : "s");
        /* a 0.1 ms model's medians differ by a few microseconds: one more digit below 1 ms */
        const int digits = median < 1.0 ? 4 : 3;
        printf("latency     median %.*f ms, min %.*f ms, max %.*f ms (%lld runs, %lld warm-up)\n", digits, median,
               digits, ms[0], digits, ms[runs - 1], runs, warmup);
        printf("throughput  %.1f inferences/s (%.1f batches/s)\n", 1e3 * (double)batch / median, 1e3 / median);
        printf("memory      peak RSS %.1f MB (constants %.1f MB, scratch %.1f MB)\n", peak_rss_mb(),
               (double)sd_model_constants_bytes(m) / 1e6, (double)sd_model_scratch_bytes(m) / 1e6);
        const bool lowp = sd_wants_bf16(&common.opt) || (common.opt.quantize && common.opt.quantize[0]);
        const int64_t serial = rt_parallel_serial_spells() - spells;
        if (serial > 0)
            printf("note        %lld time%s during the timed runs the thread pool ran every job on one thread for a "
                   "quarter of a second, after it had waited too long for its workers (other processes on the "
                   "cores?): those runs are not %d-thread timings\n",
                   (long long)serial, serial == 1 ? "" : "s", rt_num_threads());
        if (lowp && !cg_host_has_lowp())
            printf("note        this CPU has no AVX512-VNNI/BF16: the int8 and bf16 kernels ran as plain C loops\n");
        if (common.opt.profile && sd_model_profile_print(m, stdout, (int)top) != SD_OK)
            status = EXIT_USER;
    }
    for (int i = 0; i < ni; i++)
        rt_tensor_free(&in[i]);
    for (int j = 0; j < no; j++)
        rt_tensor_free(&out[j]);
    free(in), free(out), free(in_ptr), free(out_ptr), free(ms);
    sd_model_free(m);
    return status;
}
