/* tools/seedc/cmd_quantize.c — `seedc quantize-report MODEL --calib DATA`: calibrates, quantizes to
 * int8 and prints, per quantized tensor, the op that makes it, its calibrated range, scale and zero
 * point, and two signal-to-quantization-noise ratios against the float model on the same inputs:
 * the tensor's own rounding (the float tensor quantized with its scale and back) and the whole
 * error reaching it through the quantized network. A layer whose own SQNR is low wants another
 * range (--calib-method) or to stay in float (--keep-fp32). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/driver.h"
#include "tools/seedc/cli.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc quantize-report MODEL --calib DATA [-i INPUT] [--eval-samples N] [options]\n\n"
            "Calibrates MODEL on DATA, quantizes it to int8 and compares every quantized tensor with the float\n"
            "model's on INPUT (a .npy/.pb file or folder; default: the calibration data): its range, scale and\n"
            "zero point, the SQNR of its own rounding and the SQNR of the int8 network's value (dB, higher is\n"
            "better), then the SQNR of each model output.\n\n"
            "options:\n"
            "  -i, --input DATA   evaluation inputs (default: DATA of --calib)\n"
            "  --eval-samples N   at most N evaluation samples (default 8)\n" CLI_COMMON_HELP);
}

static int find_output(const SdModel *m, const char *name)
{
    for (int j = 0; j < sd_model_num_outputs(m); j++)
        if (strcmp(sd_model_output(m, j).name, name) == 0)
            return j;
    return -1;
}

static double to_db(double signal, double noise)
{
    if (noise <= 0)
        return INFINITY;
    return signal > 0 ? 10.0 * log10(signal / noise) : -INFINITY;
}

typedef struct {
    int f, q;                 /* output indices in the float and the quantized model */
    double signal, noise, own; /* sums of squares */
} Row;

static float dequant(const RtTensor *t, size_t i, const PassQuantRecord *r)
{
    if (t->dtype == SD_DT_U8)
        return ((float)((const uint8_t *)t->data)[i] - (float)r->zp) * r->scale;
    return ((const float *)t->data)[i];
}

int cmd_quantize_report(int argc, char **argv)
{
    static const struct option longs[] = {{"input", required_argument, NULL, 'i'},
                                          {"eval-samples", required_argument, NULL, 'e'}, CLI_COMMON_LONG_OPTIONS,
                                          {NULL, 0, NULL, 0}};
    CliCommon common = {.opt = sd_options_default()};
    const char *input = NULL;
    long long n_eval = 8;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hi:", longs, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'e':
            if (!cli_parse_int(optarg, 1, 100000, &n_eval))
                return cli_usage_error("quantize-report", "--eval-samples takes a positive integer, not '%s'", optarg);
            break;
        case 'h': help(stdout); return EXIT_OK;
        case '?': return cli_usage_error("quantize-report", "unknown option or missing value: '%s'", argv[optind - 1]);
        default:
            if ((rc = cli_common_option(&common, c, optarg, "quantize-report")) != EXIT_OK)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("quantize-report", optind >= argc ? "a model file is required" : "exactly one model file is expected");
    if (!common.opt.calib)
        return cli_usage_error("quantize-report", "--calib DATA is required");
    const char *path = argv[optind];
    SdOptions opt = common.opt;
    opt.batch = 1;
    opt.quantize = NULL;
    SdError err = {0};
    SdCalibration cal;
    if (sd_calibrate(path, &opt, &cal, &err) != SD_OK)
        return cli_fail(&err);
    enum { MAX_RECORDS = 4096 };
    PassQuantRecord *records = calloc(MAX_RECORDS, sizeof *records);
    PassQuantOptions q = {.precision = PASS_PRECISION_INT8, .per_tensor = opt.per_tensor, .symmetric = opt.symmetric,
                          .keep_fp32 = opt.keep_fp32, .ranges = cal.ranges, .n_ranges = cal.n_ranges,
                          .records = records, .max_records = MAX_RECORDS};
    SdModel *fm = NULL, *qm = NULL;
    RtTensor *samples = NULL, *fo = NULL, *qo = NULL;
    Row *rows = NULL;
    int n = 0, status = EXIT_OK, n_model_out = 0;
    SdStatus st = records ? SD_OK : sd_errorf(&err, SD_ENOMEM, "out of memory");
    if (st == SD_OK)
        st = sd_compile_probed(path, &opt, NULL, &fm, &n_model_out, &err);
    if (st == SD_OK)
        st = sd_compile_probed(path, &opt, &q, &qm, NULL, &err);
    if (st == SD_OK) {
        SdTensorInfo in = sd_model_input(fm, 0);
        st = sd_calibration_samples(input ? input : opt.calib, &in, (int)n_eval, &samples, &n, &err);
    }
    int nf = fm ? sd_model_num_outputs(fm) : 0, nq = qm ? sd_model_num_outputs(qm) : 0;
    if (st == SD_OK) {
        fo = calloc((size_t)nf, sizeof *fo), qo = calloc((size_t)nq, sizeof *qo);
        rows = calloc((size_t)q.n_records + 1, sizeof *rows);
        if (!fo || !qo || !rows)
            st = sd_errorf(&err, SD_ENOMEM, "out of memory");
    }
    for (int i = 0; st == SD_OK && i < q.n_records; i++)
        rows[i] = (Row){find_output(fm, records[i].name), find_output(qm, records[i].qname), 0, 0, 0};
    double out_signal[64] = {0}, out_noise[64] = {0};
    if (n_model_out > 64)
        n_model_out = 64; /* the model's own outputs come first in both probes */
    for (int s = 0; st == SD_OK && s < n; s++) {
        if ((st = sd_model_run(fm, &samples[s], 1, fo, nf, &err)) != SD_OK)
            break;
        if ((st = sd_model_run(qm, &samples[s], 1, qo, nq, &err)) != SD_OK) {
            for (int j = 0; j < nf; j++)
                rt_tensor_free(&fo[j]);
            break;
        }
        for (int i = 0; i < q.n_records; i++) {
            Row *r = &rows[i];
            if (r->f < 0 || r->q < 0)
                continue;
            const RtTensor *x = &fo[r->f], *y = &qo[r->q];
            size_t count = x->nbytes / sizeof(float);
            if (y->nbytes / sd_dtype_size(y->dtype) != count)
                continue;
            const PassQuantRecord *rec = &records[i];
            for (size_t k = 0; k < count; k++) {
                double v = ((const float *)x->data)[k], d = v - dequant(y, k, rec);
                r->signal += v * v, r->noise += d * d;
                if (rec->scale > 0) {
                    double qv = fmin(fmax(rint(v / rec->scale) + rec->zp, 0.0), 255.0);
                    double e = v - (qv - rec->zp) * rec->scale;
                    r->own += e * e;
                }
            }
        }
        for (int j = 0; j < n_model_out; j++) {
            size_t count = fo[j].nbytes / sizeof(float);
            if (fo[j].dtype != SD_DT_F32 || qo[j].dtype != SD_DT_F32 || qo[j].nbytes != fo[j].nbytes)
                continue;
            for (size_t k = 0; k < count; k++) {
                double v = ((const float *)fo[j].data)[k], d = v - ((const float *)qo[j].data)[k];
                out_signal[j] += v * v, out_noise[j] += d * d;
            }
        }
        for (int j = 0; j < nf; j++)
            rt_tensor_free(&fo[j]);
        for (int j = 0; j < nq; j++)
            rt_tensor_free(&qo[j]);
    }
    if (st == SD_OK) {
        printf("model        %s\n", path);
        printf("calibration  %s, %d samples, %s; evaluation on %d samples of %s\n", opt.calib, cal.n_samples,
               opt.calib_method ? opt.calib_method : "minmax", n, input ? input : opt.calib);
        printf("weights      int8 symmetric, %s; activations u8 %s\n\n", opt.per_tensor ? "per tensor" : "per channel",
               opt.symmetric ? "symmetric" : "asymmetric");
        printf("%-4s %-16s %-44s %23s %11s %4s %9s %9s\n", "#", "op", "node", "range", "scale", "zp", "own dB",
               "net dB");
        for (int i = 0; i < q.n_records; i++) {
            const PassQuantRecord *r = &records[i];
            const char *node = r->node;
            size_t len = strlen(node);
            if (len > 44)
                node += len - 44;
            if (r->scale > 0)
                printf("%-4d %-16s %-44s [%10.4g, %10.4g] %11.4g %4d %9.2f %9.2f\n", i, r->op, node, r->lo, r->hi,
                       r->scale, r->zp, to_db(rows[i].signal, rows[i].own), to_db(rows[i].signal, rows[i].noise));
            else
                printf("%-4d %-16s %-44s %23s %11s %4s %9s %9.2f\n", i, r->op, node, "(f32 output)", "-", "-", "-",
                       to_db(rows[i].signal, rows[i].noise));
        }
        printf("\n");
        for (int j = 0; j < n_model_out; j++)
            printf("output %-20s SQNR %.2f dB\n", sd_model_output(fm, j).name, to_db(out_signal[j], out_noise[j]));
    } else {
        status = cli_fail(&err);
    }
    for (int i = 0; i < n; i++)
        rt_tensor_free(&samples[i]);
    free(samples), free(fo), free(qo), free(rows), free(records);
    sd_model_free(fm);
    sd_model_free(qm);
    sd_calibration_free(&cal);
    return status;
}
