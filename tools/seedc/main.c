/* tools/seedc/main.c — the seedc command: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "tools/seedc/cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"distill", cmd_distill, "seedc's main job: distill a teacher into a small student with SEED (no arguments: the bundled one)"},
    {"train", cmd_train, "train an experiment of a recipe (.sd): one compiled step, checkpoints, log"},
    {"eval", cmd_eval, "kNN and linear-probe accuracy of a backbone (ONNX or checkpoint) on a data set"},
    {"run", cmd_run, "compile a model and run it on input tensors (.npy or .pb)"},
    {"compile", cmd_compile, "compile a model ahead of time: bundle, library or program, any target"},
    {"bench", cmd_bench, "time a model: compile time, latency, throughput, peak memory"},
    {"export", cmd_export, "write a model (after optimization) as ONNX"},
    {"info", cmd_info, "inputs, outputs, opset, operators and parameters of a model"},
    {"ir", cmd_ir, "print the IR after a pass, or draw it as Graphviz DOT"},
    {"check", cmd_check, "check a .sd file: parse, validate, build every model and summarize it"},
    {"quantize-report", cmd_quantize_report, "int8 per layer: calibrated range, scale, SQNR against float"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "seedc — a graph compiler for self-supervised vision models\n\n"
            "usage: seedc COMMAND [ARGS]   (seedc COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit status: 0 success, 1 error in the model or data, 2 wrong usage\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "seedc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
