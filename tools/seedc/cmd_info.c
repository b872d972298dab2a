/* tools/seedc/cmd_info.c — `seedc info MODEL`: what a user wants to know before compiling:
 * inputs and outputs with their shapes, opset and producer, operator histogram, parameters. */
#include <stdio.h>
#include <string.h>

#include "api/driver.h"
#include "tools/seedc/cli.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc info MODEL [options]\n\n"
            "Prints the inputs and outputs (after shape inference), the opset and producer, how often\n"
            "each operator occurs and the parameter count of MODEL (.onnx or .sd).\n\n"
            "options:\n"
            "  --compiled       also compile it and report constants, scratch arena and compile time\n" CLI_COMMON_HELP);
}

static void print_value(const char *kind, const IrValue *v)
{
    char tb[160];
    printf("  %-6s %-32s %s\n", kind, v->name, ir_value_type_str(v, tb, sizeof tb));
}

int cmd_info(int argc, char **argv)
{
    static const struct option longs[] = {{"compiled", no_argument, NULL, 'c'}, CLI_COMMON_LONG_OPTIONS,
                                          {NULL, 0, NULL, 0}};
    CliCommon common = {.opt = sd_options_default()};
    bool compiled = false;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'c': compiled = true; break;
        case 'h': help(stdout); return EXIT_OK;
        case '?': return cli_usage_error("info", "unknown option or missing value: '%s'", argv[optind - 1]);
        default:
            if ((rc = cli_common_option(&common, c, optarg, "info")) != EXIT_OK)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("info", optind >= argc ? "a model file is required" : "exactly one model file is expected");
    const char *path = argv[optind];
    SdError err = {0};
    IrGraph *g;
    OnnxModelInfo info = {0};
    SdStatus loaded = sd_load_graph(path, &common.opt, &g, &info, &err);
    if (loaded != SD_OK && info.n_nodes == 0)
        return cli_fail(&err);
    printf("model    %s\n", path);
    printf("graph    %s\n", info.graph_name[0] ? info.graph_name : "(unnamed)");
    printf("producer %s\n", info.producer[0] ? info.producer : "(unknown)");
    printf("ir       version %lld, opset %lld\n", (long long)info.ir_version, (long long)info.opset);
    printf("params   %lld in %lld initializers (%.2f MB)\n", (long long)info.n_parameters,
           (long long)info.n_initializers, (double)info.parameter_bytes / 1e6);
    if (loaded != SD_OK) { /* what the file holds, then why seedc cannot compile it */
        printf("ops      %d nodes\n", info.n_nodes);
        for (int i = 0; i < info.n_op_types; i++)
            printf("  %-24s %d\n", info.ops[i].op_type, info.ops[i].count);
        return cli_fail(&err);
    }
    SdStatus st = sd_optimize(g, &common.opt, NULL, NULL, NULL, &err);
    printf("io%s\n", st == SD_OK ? "" : " (as declared; shape inference failed)");
    for (int i = 0; i < ir_graph_num_inputs(g); i++)
        print_value("input", ir_graph_input(g, i));
    for (int i = 0; i < ir_graph_num_outputs(g); i++)
        print_value("output", ir_graph_output(g, i));
    printf("ops      %d nodes\n", info.n_nodes);
    for (int i = 0; i < info.n_op_types; i++)
        printf("  %-24s %d\n", info.ops[i].op_type, info.ops[i].count);
    if (st != SD_OK) {
        ir_graph_free(g);
        return cli_fail(&err);
    }
    printf("compiled graph: %d nodes, %zu bytes of planned temporaries\n", ir_graph_num_nodes(g),
           ir_graph_arena_bytes(g));
    if (!compiled) {
        ir_graph_free(g);
        return EXIT_OK;
    }
    SdModel *m;
    if (sd_model_compile(g, &common.opt, &m, &err) != SD_OK) {
        ir_graph_free(g);
        return cli_fail(&err);
    }
    printf("compiled constants %.2f MB, scratch arena %.2f MB, compile time %.1f ms\n",
           (double)sd_model_constants_bytes(m) / 1e6, (double)sd_model_scratch_bytes(m) / 1e6,
           1e3 * sd_model_compile_seconds(m));
    sd_model_free(m);
    return EXIT_OK;
}
