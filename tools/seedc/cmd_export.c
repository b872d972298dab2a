/* tools/seedc/cmd_export.c — `seedc export MODEL -o OUT.onnx`: the model as seedc sees it after
 * optimization (folded, canonicalized), written back as ONNX 17 with a symbolic batch. */
#include <stdio.h>
#include <string.h>

#include "api/driver.h"
#include "frontend/onnx/writer.h"
#include "support/files.h"
#include "tools/seedc/cli.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc export MODEL -o OUT.onnx [options]\n\n"
            "Writes MODEL, after seedc's optimizations, as an ONNX (opset 17) file whose leading\n"
            "input and output dimension is the symbolic 'batch'.\n\n"
            "options:\n"
            "  -o, --output FILE  the ONNX file to write\n" CLI_COMMON_HELP);
}

int cmd_export(int argc, char **argv)
{
    static const struct option longs[] = {{"output", required_argument, NULL, 'o'}, CLI_COMMON_LONG_OPTIONS,
                                          {NULL, 0, NULL, 0}};
    CliCommon common = {.opt = sd_options_default()};
    const char *out = NULL;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': help(stdout); return EXIT_OK;
        case '?': return cli_usage_error("export", "unknown option or missing value: '%s'", argv[optind - 1]);
        default:
            if ((rc = cli_common_option(&common, c, optarg, "export")) != EXIT_OK)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("export", optind >= argc ? "a model file is required" : "exactly one model file is expected");
    if (!out)
        return cli_usage_error("export", "-o OUT.onnx is required");
    SdError err = {0};
    IrGraph *g;
    if (sd_load_graph(argv[optind], &common.opt, &g, NULL, &err) != SD_OK)
        return cli_fail(&err);
    OnnxExportOptions eo = {.symbolic_batch = true};
    SdStatus st = sd_make_parent_dirs(out, &err);
    if (st == SD_OK)
        st = sd_optimize(g, &common.opt, "dce", NULL, NULL, &err);
    if (st == SD_OK)
        st = onnx_export_file(g, out, &eo, &err);
    ir_graph_free(g);
    if (st != SD_OK)
        return cli_fail(&err);
    printf("wrote %s\n", out);
    return EXIT_OK;
}
