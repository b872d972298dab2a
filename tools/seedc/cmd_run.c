/* tools/seedc/cmd_run.c — `seedc run MODEL -i IN... -o OUT...`: compile, check the inputs
 * against the model, run, write the outputs (.npy or .pb by extension). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/seedc/cli.h"

#define MAX_TENSORS 64

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc run MODEL -i INPUT [-i INPUT...] [-o OUTPUT...] [options]\n\n"
            "Compiles MODEL (.onnx or .sd) for this machine and runs it once. Inputs and outputs are\n"
            "NumPy .npy or ONNX TensorProto .pb files, chosen by extension, in graph order.\n"
            "Without -o, each output's shape and first values are printed.\n\n"
            "options:\n"
            "  -i, --input FILE   an input tensor (repeat in graph order)\n"
            "  -o, --output FILE  where to write an output (repeat in graph order)\n"
            "  -q, --quiet        print nothing on success\n" CLI_COMMON_HELP);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static void print_summary(const RtTensor *t)
{
    char shape[128];
    printf("%s: %s%s", t->name ? t->name : "output", sd_dtype_name(t->dtype),
           rt_shape_format(t->dims, t->rank, shape, sizeof shape));
    int64_t n = (int64_t)(t->nbytes / (sd_dtype_size(t->dtype) ? sd_dtype_size(t->dtype) : 1));
    printf(" =");
    for (int64_t i = 0; i < n && i < 8; i++) {
        switch (t->dtype) {
        case SD_DT_F32: printf(" %.6g", (double)((const float *)t->data)[i]); break;
        case SD_DT_I64: printf(" %lld", (long long)((const int64_t *)t->data)[i]); break;
        case SD_DT_I32: printf(" %d", ((const int32_t *)t->data)[i]); break;
        case SD_DT_BOOL: case SD_DT_U8: printf(" %u", ((const uint8_t *)t->data)[i]); break;
        case SD_DT_I8: printf(" %d", ((const int8_t *)t->data)[i]); break;
        default: printf(" ?"); break;
        }
    }
    printf("%s\n", n > 8 ? " ..." : "");
}

int cmd_run(int argc, char **argv)
{
    static const struct option longs[] = {
        {"input", required_argument, NULL, 'i'}, {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'}, CLI_COMMON_LONG_OPTIONS, {NULL, 0, NULL, 0}};
    CliCommon common = {.opt = sd_options_default()};
    const char *in_paths[MAX_TENSORS], *out_paths[MAX_TENSORS];
    int n_in = 0, n_out = 0, c, rc;
    bool quiet = false;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "i:o:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (n_in == MAX_TENSORS)
                return cli_usage_error("run", "at most %d inputs", MAX_TENSORS);
            in_paths[n_in++] = optarg;
            break;
        case 'o':
            if (n_out == MAX_TENSORS)
                return cli_usage_error("run", "at most %d outputs", MAX_TENSORS);
            out_paths[n_out++] = optarg;
            break;
        case 'q': quiet = true; break;
        case 'h': help(stdout); return EXIT_OK;
        case '?': return cli_usage_error("run", "unknown option or missing value: '%s'", argv[optind - 1]);
        default:
            if ((rc = cli_common_option(&common, c, optarg, "run")) != EXIT_OK)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("run", optind >= argc ? "a model file is required" : "exactly one model file is expected");
    const char *model_path = argv[optind];

    SdError err = {0};
    RtTensor inputs[MAX_TENSORS] = {0}, outputs[MAX_TENSORS] = {0};
    SdModel *m = NULL;
    int status = EXIT_OK;
    for (int i = 0; i < n_in && status == EXIT_OK; i++)
        if (rt_tensor_read(in_paths[i], &inputs[i], &err) != SD_OK)
            status = cli_fail(&err);
    if (status == EXIT_OK && sd_model_load_for_inputs(model_path, &common.opt, n_in ? inputs : NULL, n_in, &m, &err) != SD_OK)
        status = cli_fail(&err);
    int no = m ? sd_model_num_outputs(m) : 0;
    if (status == EXIT_OK && n_out > no) {
        sd_errorf(&err, SD_EUSAGE, "%d output files given, but '%s' has %d output%s", n_out, model_path, no,
                  no == 1 ? "" : "s");
        status = cli_fail(&err);
    }
    if (status == EXIT_OK && no > MAX_TENSORS) {
        sd_errorf(&err, SD_EUNSUPPORTED, "'%s' has %d outputs; seedc run handles at most %d", model_path, no, MAX_TENSORS);
        status = cli_fail(&err);
    }
    double t0 = now_ms(), t1 = t0;
    if (status == EXIT_OK) {
        if (sd_model_run(m, inputs, n_in, outputs, no, &err) != SD_OK)
            status = cli_fail(&err);
        t1 = now_ms();
    }
    for (int j = 0; j < n_out && status == EXIT_OK; j++)
        if (rt_tensor_write(out_paths[j], &outputs[j], &err) != SD_OK)
            status = cli_fail(&err);
    if (status == EXIT_OK && !quiet) {
        if (n_out == 0)
            for (int j = 0; j < no; j++)
                print_summary(&outputs[j]);
        fprintf(stderr, "seedc: compiled in %.1f ms, ran in %.3f ms\n", 1e3 * sd_model_compile_seconds(m), t1 - t0);
    }
    for (int i = 0; i < n_in; i++)
        rt_tensor_free(&inputs[i]);
    for (int j = 0; j < no; j++)
        rt_tensor_free(&outputs[j]);
    sd_model_free(m);
    return status;
}
