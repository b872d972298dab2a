/* tools/seedc/cli.h — what the subcommands share: exit codes, the common compile options
 * (--batch, --dim, --disable, --gemm, --threads, --verify) and error reporting. */
#ifndef SD_TOOLS_CLI_H
#define SD_TOOLS_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "api/seedc.h"

enum { EXIT_OK = 0, EXIT_USER = 1, EXIT_USAGE = 2 };

/* Long options every compiling subcommand accepts; ids start at 1000. */
#define CLI_COMMON_LONG_OPTIONS                                 \
    {"batch", required_argument, NULL, 1000},                   \
    {"dim", required_argument, NULL, 1001},                     \
    {"disable", required_argument, NULL, 1002},                 \
    {"gemm", required_argument, NULL, 1003},                    \
    {"threads", required_argument, NULL, 1004},                 \
    {"verify", no_argument, NULL, 1005},                        \
    {"print-llvm", no_argument, NULL, 1006},                    \
    {"opt", required_argument, NULL, 1007},                     \
    {"model", required_argument, NULL, 1008},                   \
    {"quantize", required_argument, NULL, 1009},                \
    {"calib", required_argument, NULL, 1010},                   \
    {"calib-method", required_argument, NULL, 1011},            \
    {"per-channel", no_argument, NULL, 1012},                   \
    {"per-tensor", no_argument, NULL, 1013},                    \
    {"keep-fp32", required_argument, NULL, 1014},               \
    {"precision", required_argument, NULL, 1015},               \
    {"calib-samples", required_argument, NULL, 1016},           \
    {"symmetric-activations", no_argument, NULL, 1017},         \
    {"head", no_argument, NULL, 1018},                          \
    {"compile-threads", required_argument, NULL, 1019},         \
    {"spin", required_argument, NULL, 1020},                    \
    {"help", no_argument, NULL, 'h'}

#define CLI_COMMON_HELP                                                                             \
    "  --batch N        value of the symbolic batch dimension (default 1)\n"                         \
    "  --dim NAME=N     value of another symbolic input dimension (repeatable)\n"                    \
    "  --disable P,...  skip passes (canonicalize, fold, bnfold, dce, quantize, actfold, fuse,\n"      \
    "                   memplan) or code generation choices (prepack: constant conv and\n"       \
    "                   classifier weights not packed at compile time; direct-conv: every\n"     \
    "                   convolution through im2col;\n"                                           \
    "                   winograd: no Winograd for 3x3 stride-1 convolutions; winograd4:\n"      \
    "                   F(2x2,3x3) only, not F(4x4,3x3) where that would be used;\n"             \
    "                   winograd-at: bf16 Winograd products on 16 tiles or fewer not computed\n" \
    "                   transposed;\n"                                                          \
    "                   slices: a batch of 16+ runs whole, not in slices, one per thread;\n"       \
    "                   qact: an int8 convolution's SiLU or HardSwish runs in f32, not as a\n"    \
    "                   table on its u8 output)\n"                                                 \
    "  --gemm G         matrix products by builtin kernels (default) or openblas\n"                  \
    "  --threads N      threads to use (default: all cores)\n"                                       \
    "  --spin US        idle worker threads spin US microseconds before they sleep (default 500,\n"\
    "                   0: not at all): longer keeps runs spaced in time fast, at a busy core\n"    \
    "  --verify         check the IR after every pass\n"                                             \
    "  --opt N          LLVM optimization level 0-3 (default 3)\n"                                   \
    "  --compile-threads N  LLVM compiles the model in parts on N threads (default: all cores\n"  \
    "                   for models with 32 MB of weights or more, else 1)\n"                         \
    "  --print-llvm     print the optimized LLVM module to stderr\n"                                 \
    "  --model NAME     which model of a .sd file (default: its only one), or network of a checkpoint\n" \
    "  --head           checkpoints: the network's final output, not its backbone features\n"       \
    "  --quantize int8  post-training int8: calibrate on --calib, int8 convolutions and matmuls\n"   \
    "  --calib DATA     calibration inputs: a .npy/.pb file or folder, or fashion-mnist / mnist\n"    \
    "  --calib-method M minmax (default), percentile (99.99%%) or entropy (KL divergence)\n"          \
    "  --calib-samples N  at most N calibration samples (default 64)\n"                            \
    "  --per-channel    int8 weights with a scale per output channel (the default)\n"               \
    "  --per-tensor     int8 weights with one scale per tensor\n"                                   \
    "  --symmetric-activations  int8 activations symmetric around 0 (default: asymmetric)\n"        \
    "  --keep-fp32 N,.. nodes that stay f32 (names; first, last: the first/last conv or matmul)\n"  \
    "  --precision P    fp32 (default) or bf16: convolutions and matmuls in bf16, f32 sums\n"       \
    "  -h, --help       this help\n"

typedef struct CliCommon {
    SdOptions opt;
    char dims[512];
} CliCommon;

/* Handles a common option id; returns EXIT_OK, or EXIT_USAGE after printing why. */
int cli_common_option(CliCommon *c, int id, const char *arg, const char *cmd);
/* Whether every name of a --disable list can be turned off; else the first that cannot, in bad. */
bool cli_valid_disable_list(const char *list, char *bad, size_t n);
/* Prints "seedc: message" and returns the exit code for err's status. */
int cli_fail(const SdError *err);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cli_parse_int(const char *s, long long lo, long long hi, long long *out);

/* `seedc eval` of one model (tools/seedc/cmd_eval.c), shared with `seedc distill`. */
typedef struct CliEvalArgs {
    const char *data, *data_dir;
    long long output, knn_k, images;
    double knn_t, mean, std;
    bool no_knn, no_linear, have_norm;
} CliEvalArgs;
/* Prints the kNN and linear-probe accuracies of MODEL's features; each is -1 when skipped. */
SdStatus cli_evaluate(const char *path, const CliCommon *common, CliEvalArgs *a, double *knn, double *linear,
                      SdError *err);

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ir(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_quantize_report(int argc, char **argv);
int cmd_distill(int argc, char **argv);

#endif
