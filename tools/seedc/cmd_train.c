/* tools/seedc/cmd_train.c — `seedc train RECIPE.sd`: runs an experiment of a recipe (docs/dsl.md)
 * with a progress bar, a CSV log and an SVG plot in its output folder, checkpoints, --resume. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/train.h"
#include "frontend/dsl/dsl.h"
#include "tools/seedc/cli.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc train RECIPE.sd [options]\n\n"
            "Trains the experiment of RECIPE.sd: every step is one compiled function (forward, loss,\n"
            "backward, optimizer). Writes OUT/log.csv, OUT/curves.svg, checkpoints OUT/ckpt-*.ckpt and\n"
            "the recipe's exports; prints progress and the evaluation at the end.\n\n"
            "options:\n"
            "  --experiment NAME  which experiment of the file (default: its only one)\n"
            "  --out DIR          output folder (default: the recipe's out_dir, else runs/NAME)\n"
            "  --epochs N         override the recipe's epochs\n"
            "  --let NAME=VALUE   give `let NAME` of the recipe another value (repeatable), e.g.\n"
            "                     --let seed=1 --let 'widths=[8, 16, 32, 64]'; checkpoints keep it\n"
            "  --steps N          at most N steps per epoch (quick runs)\n"
            "  --images N         train on the first N training images only (quick runs)\n"
            "  --resume           continue from the newest checkpoint in the output folder\n"
            "  --no-eval          skip evaluations\n"
            "  --threads N        threads (default: the recipe's, else all cores)\n"
            "  --gemm G           builtin (default: seedc's packed GEMM) or openblas\n"
            "  --precision P      fp32 or bf16: the step's convolutions and matrix products multiply\n"
            "                     bf16-rounded operands, sums and weights in f32 (default: the recipe's)\n"
            "  --disable P,...    passes or code generation choices to turn off, as for compile\n"
            "                     (e.g. fuse, memplan, direct-conv)\n"
            "  --profile[=N]      time every node of the step; at the end print ms per step by op\n"
            "                     and for the N slowest nodes (default 25, 0: all)\n"
            "  -h, --help         this help\n");
}

int cmd_train(int argc, char **argv)
{
    static const struct option longs[] = {
        {"experiment", required_argument, NULL, 'x'}, {"out", required_argument, NULL, 'o'},
        {"epochs", required_argument, NULL, 'e'}, {"steps", required_argument, NULL, 's'},
        {"images", required_argument, NULL, 'i'}, {"resume", no_argument, NULL, 'r'},
        {"no-eval", no_argument, NULL, 'n'}, {"threads", required_argument, NULL, 't'},
        {"gemm", required_argument, NULL, 'g'}, {"let", required_argument, NULL, 'l'},
        {"disable", required_argument, NULL, 'd'}, {"profile", optional_argument, NULL, 'P'},
        {"precision", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *lets[DSL_MAX_ARGS];
    SdTrainOptions opt = {.tty = isatty(1)};
    long long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'x': opt.experiment = optarg; break;
        case 'o': opt.out_dir = optarg; break;
        case 'e':
        case 's':
        case 'i':
        case 't':
            if (!cli_parse_int(optarg, c == 't' ? 0 : 1, 1LL << 40, &v))
                return cli_usage_error("train", "--%s takes a positive integer, not '%s'",
                                       c == 'e' ? "epochs" : c == 's' ? "steps" : c == 'i' ? "images" : "threads", optarg);
            if (c == 'e') opt.epochs = v;
            else if (c == 's') opt.steps_per_epoch = v;
            else if (c == 'i') opt.train_images = v;
            else opt.threads = (int)v;
            break;
        case 'l':
            if (opt.n_lets == DSL_MAX_ARGS)
                return cli_usage_error("train", "at most %d --let options", DSL_MAX_ARGS);
            lets[opt.n_lets++] = optarg;
            opt.lets = lets;
            break;
        case 'r': opt.resume = true; break;
        case 'P':
            opt.profile = true, opt.profile_top = 25;
            if (optarg && !cli_parse_int(optarg, 0, 1000000, &v))
                return cli_usage_error("train", "--profile=N takes a number of nodes (0: all), not '%s'", optarg);
            if (optarg)
                opt.profile_top = (int)v;
            break;
        case 'n': opt.no_eval = true; break;
        case 'g':
            if (strcmp(optarg, "openblas") != 0 && strcmp(optarg, "builtin") != 0)
                return cli_usage_error("train", "--gemm takes openblas or builtin, not '%s'", optarg);
            opt.gemm = optarg;
            break;
        case 'p':
            if (strcmp(optarg, "fp32") != 0 && strcmp(optarg, "bf16") != 0)
                return cli_usage_error("train", "--precision takes fp32 or bf16, not '%s'", optarg);
            opt.precision = optarg;
            break;
        case 'd': {
            char bad[64];
            if (!cli_valid_disable_list(optarg, bad, sizeof bad))
                return cli_usage_error("train", "--disable: '%s' is not a pass that can be turned off", bad);
            opt.disable = optarg;
            break;
        }
        case 'h': help(stdout); return EXIT_OK;
        default: return cli_usage_error("train", "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("train", optind >= argc ? "a recipe file is required" : "exactly one recipe is expected");
    SdError err = {0};
    SdTrainResult r;
    if (sd_train(argv[optind], &opt, &r, &err) != SD_OK)
        return cli_fail(&err);
    if (r.resumed_step > 0) /* the time and rate are this run's, not the whole training's */
        printf("trained %lld epochs (%lld steps; this run resumed at step %lld and took %lld of them in %.1f s, "
               "%.0f images/s); final loss %.4f\n",
               (long long)r.epochs, (long long)r.steps, (long long)r.resumed_step,
               (long long)(r.steps - r.resumed_step), r.seconds, r.images_per_second, r.final_loss);
    else
        printf("trained %lld epochs (%lld steps) in %.1f s, %.0f images/s; final loss %.4f\n", (long long)r.epochs,
               (long long)r.steps, r.seconds, r.images_per_second, r.final_loss);
    if (r.test_accuracy >= 0)
        printf("test accuracy   %.2f%%\n", 100 * r.test_accuracy);
    if (r.knn_accuracy >= 0)
        printf("kNN accuracy    %.2f%%\n", 100 * r.knn_accuracy);
    if (r.linear_accuracy >= 0)
        printf("linear probe    %.2f%%\n", 100 * r.linear_accuracy);
    printf("log and plot    %s/log.csv, %s/curves.svg\n", r.out_dir, r.out_dir);
    return EXIT_OK;
}
