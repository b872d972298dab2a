/* tools/seedc/cmd_eval.c — `seedc eval MODEL --data fashion-mnist`: how good a backbone's
 * features are, by the kNN monitor and the linear probe, for an ONNX model or a seedc checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/driver.h"
#include "api/eval.h"
#include "tools/seedc/cli.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc eval MODEL [options]\n\n"
            "Runs MODEL (ONNX, taking [N, C, H, W] images, or a seedc checkpoint) over the training and test\n"
            "images of a data set without augmentation and reports the top-1 test accuracy of\n"
            "  kNN     k nearest training features by cosine similarity, weighted votes exp(sim / T)\n"
            "  linear  softmax regression fitted on the frozen training features (L-BFGS)\n"
            "Checkpoints give their backbone's features and use their recipe's normalization.\n\n"
            "options:\n"
            "  --data NAME        fashion-mnist (default) or mnist\n"
            "  --data-dir DIR     where its IDX files are (default /usr/share/datasets/NAME)\n"
            "  --output N         which model output holds the features (default 0)\n"
            "  --mean M --std S   input normalization after scaling pixels to [0, 1] (ONNX default:\n"
            "                     the data set's: Fashion-MNIST 0.2860/0.3530, MNIST 0.1307/0.3081)\n"
            "  --knn-k K          neighbours (default 200)\n"
            "  --knn-t T          vote temperature (default 0.1)\n"
            "  --no-knn, --no-linear  skip one of the two\n"
            "  --images N         use the first N training images only (quick checks)\n" CLI_COMMON_HELP
            "\nThe batch defaults to 256 here.\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The compiled model and the normalization its inputs need. */
static SdStatus load(const char *path, const CliCommon *common, CliEvalArgs *a, SdModel **m, SdError *err)
{
    IrGraph *g;
    if (sd_is_checkpoint_file(path)) {
        SdCheckpointInfo ci;
        SD_TRY(sd_checkpoint_graph(path, &common->opt, &g, &ci, err));
        printf("%s: network '%s' of experiment '%s' (%s), epoch %lld, step %lld; %s\n", path, ci.network,
               ci.experiment, ci.recipe, (long long)ci.epoch, (long long)ci.step,
               ci.features ? "backbone features" : "final output");
        if (!a->have_norm && ci.n_norm > 0) {
            a->mean = ci.mean[0], a->std = ci.std[0];
            a->have_norm = true;
        }
    } else { /* the batch in slices, one per thread, where the model computes each image on its own */
        return sd_model_load(path, &common->opt, m, err);
    }
    SdStatus st = sd_optimize(g, &common->opt, NULL, NULL, NULL, err);
    if (st == SD_OK)
        return sd_model_compile(g, &common->opt, m, err);
    ir_graph_free(g);
    return st;
}

static SdStatus extract(SdModel *m, const CliEvalArgs *a, const RtDataset *d, const char *what, SdFeatures *f,
                        SdError *err)
{
    float mean = (float)a->mean, std = (float)a->std;
    double t0 = now_s();
    fflush(stdout);
    fprintf(stderr, "seedc eval: features of %lld %s images... ", (long long)d->n, what);
    SdStatus st = sd_extract_features(m, (int)a->output, d, &mean, &std, f, err);
    if (st == SD_OK)
        fprintf(stderr, "%.1f s (%.0f images/s)\n", now_s() - t0, (double)d->n / (now_s() - t0 + 1e-9));
    else
        fprintf(stderr, "failed\n");
    return st;
}

SdStatus cli_evaluate(const char *path, const CliCommon *common, CliEvalArgs *a, double *knn, double *linear,
                      SdError *err)
{
    *knn = *linear = -1;
    SdModel *m = NULL;
    RtDataset train = {0}, test = {0};
    SdFeatures ftr = {0}, fte = {0};
    SdStatus st = load(path, common, a, &m, err);
    if (st == SD_OK && sd_model_slices(m) > 1) {
        const int64_t batch = sd_model_input(m, 0).dims[0];
        fprintf(stderr, "seedc eval: batches of %lld in %lld slices of %lld, one per thread at a time\n",
                (long long)batch, (long long)sd_model_slices(m), (long long)(batch / sd_model_slices(m)));
    }
    if (st == SD_OK && (a->output < 0 || a->output >= sd_model_num_outputs(m)))
        st = sd_errorf(err, SD_EUSAGE, "%s has %d output%s; --output %lld does not exist", path,
                       sd_model_num_outputs(m), sd_model_num_outputs(m) == 1 ? "" : "s", a->output);
    if (st == SD_OK)
        st = rt_dataset_load(a->data, RT_SPLIT_TRAIN, a->data_dir, &train, err);
    if (st == SD_OK)
        st = rt_dataset_load(a->data, RT_SPLIT_TEST, a->data_dir, &test, err);
    if (st == SD_OK && a->images > 0)
        rt_dataset_truncate(&train, a->images);
    if (st == SD_OK && !a->have_norm) {
        bool mnist = strcmp(a->data, "mnist") == 0;
        a->mean = mnist ? 0.1307 : 0.2860, a->std = mnist ? 0.3081 : 0.3530;
    }
    if (st == SD_OK)
        printf("normalization: (x - %.4f) / %.4f; output %lld '%s'\n", a->mean, a->std, a->output,
               sd_model_output(m, (int)a->output).name);
    if (st == SD_OK)
        st = extract(m, a, &train, "training", &ftr, err);
    if (st == SD_OK)
        st = extract(m, a, &test, "test", &fte, err);
    if (st == SD_OK)
        printf("features: %lld dimensions, %lld training and %lld test images\n", (long long)ftr.dim,
               (long long)ftr.n, (long long)fte.n);
    double acc;
    if (st == SD_OK && !a->no_knn &&
        (st = sd_knn_accuracy(&ftr, &fte, train.n_classes, (int)a->knn_k, a->knn_t, &acc, err)) == SD_OK)
        printf("kNN accuracy    %.2f%%  (k %lld, T %g)\n", 100 * (*knn = acc), a->knn_k, a->knn_t);
    if (st == SD_OK && !a->no_linear) {
        double t0 = now_s();
        SdProbeOptions po = sd_probe_options_default();
        if ((st = sd_linear_probe(&ftr, &fte, train.n_classes, &po, &acc, err)) == SD_OK)
            printf("linear probe    %.2f%%  (%.1f s)\n", 100 * (*linear = acc), now_s() - t0);
    }
    sd_features_free(&ftr);
    sd_features_free(&fte);
    rt_dataset_free(&train);
    rt_dataset_free(&test);
    sd_model_free(m);
    return st;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option longs[] = {
        {"data", required_argument, NULL, 'd'}, {"data-dir", required_argument, NULL, 'D'},
        {"output", required_argument, NULL, 'o'}, {"mean", required_argument, NULL, 'm'},
        {"std", required_argument, NULL, 's'}, {"knn-k", required_argument, NULL, 'k'},
        {"knn-t", required_argument, NULL, 't'}, {"no-knn", no_argument, NULL, 'K'},
        {"no-linear", no_argument, NULL, 'L'}, {"images", required_argument, NULL, 'i'},
        CLI_COMMON_LONG_OPTIONS, {NULL, 0, NULL, 0}};
    CliCommon common = {.opt = sd_options_default()};
    common.opt.batch = 256;
    CliEvalArgs a = {.data = "fashion-mnist", .knn_k = 200, .knn_t = 0.1};
    bool have_mean = false, have_std = false;
    int c, rc;
    char *end;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (strcmp(optarg, "fashion-mnist") != 0 && strcmp(optarg, "mnist") != 0)
                return cli_usage_error("eval", "--data takes fashion-mnist or mnist, not '%s'", optarg);
            a.data = optarg;
            break;
        case 'D': a.data_dir = optarg; break;
        case 'o':
        case 'k':
        case 'i':
            if (!cli_parse_int(optarg, c == 'o' ? 0 : 1, 1LL << 40, c == 'o' ? &a.output : c == 'k' ? &a.knn_k : &a.images))
                return cli_usage_error("eval", "--%s takes a %s integer, not '%s'",
                                       c == 'o' ? "output" : c == 'k' ? "knn-k" : "images",
                                       c == 'o' ? "non-negative" : "positive", optarg);
            break;
        case 'm':
        case 's':
        case 't': {
            double v = strtod(optarg, &end);
            if (end == optarg || *end || (c != 'm' && !(v > 0)))
                return cli_usage_error("eval", "--%s takes a %snumber, not '%s'",
                                       c == 'm' ? "mean" : c == 's' ? "std" : "knn-t", c == 'm' ? "" : "positive ",
                                       optarg);
            if (c == 'm') a.mean = v, have_mean = true;
            else if (c == 's') a.std = v, have_std = true;
            else a.knn_t = v;
            break;
        }
        case 'K': a.no_knn = true; break;
        case 'L': a.no_linear = true; break;
        case 'h': help(stdout); return EXIT_OK;
        case '?': return cli_usage_error("eval", "unknown option or missing value: '%s'", argv[optind - 1]);
        default:
            if ((rc = cli_common_option(&common, c, optarg, "eval")) != EXIT_OK)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("eval", optind >= argc ? "a model file is required" : "exactly one model file is expected");
    if (have_mean != have_std)
        return cli_usage_error("eval", "--mean and --std go together");
    a.have_norm = have_mean;
    if (a.no_knn && a.no_linear)
        return cli_usage_error("eval", "--no-knn and --no-linear leave nothing to do");
    SdError err = {0};
    double knn, linear;
    if (cli_evaluate(argv[optind], &common, &a, &knn, &linear, &err) != SD_OK)
        return cli_fail(&err);
    return EXIT_OK;
}
