/* tools/seedc/cmd_ir.c — `seedc ir MODEL [--after PASS] [--dot]`: the IR as text or Graphviz,
 * right after import or after any pass of the pipeline. */
#include <stdio.h>
#include <string.h>

#include "api/driver.h"
#include "tools/seedc/cli.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc ir MODEL [--after PASS] [--dot] [options]\n\n"
            "Prints the IR of MODEL after PASS (default: after the whole pipeline).\n"
            "PASS is 'import' or one of:");
    for (const char *const *p = pass_pipeline_names("inference"); *p; p++)
        fprintf(out, " %s", *p);
    fprintf(out, "\n\noptions:\n"
                 "  --after PASS     stop after this pass\n"
                 "  --dot            write Graphviz DOT instead of text (render with: dot -Tsvg)\n" CLI_COMMON_HELP);
}

int cmd_ir(int argc, char **argv)
{
    static const struct option longs[] = {{"after", required_argument, NULL, 'a'}, {"dot", no_argument, NULL, 'd'},
                                          CLI_COMMON_LONG_OPTIONS, {NULL, 0, NULL, 0}};
    CliCommon common = {.opt = sd_options_default()};
    const char *after = NULL;
    bool dot = false;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'a': after = optarg; break;
        case 'd': dot = true; break;
        case 'h': help(stdout); return EXIT_OK;
        case '?': return cli_usage_error("ir", "unknown option or missing value: '%s'", argv[optind - 1]);
        default:
            if ((rc = cli_common_option(&common, c, optarg, "ir")) != EXIT_OK)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("ir", optind >= argc ? "a model file is required" : "exactly one model file is expected");
    if (after && strcmp(after, "import") != 0 && !pass_is_known(after))
        return cli_usage_error("ir", "--after: unknown pass '%s'", after);
    SdError err = {0};
    IrGraph *g;
    if (sd_load_graph(argv[optind], &common.opt, &g, NULL, &err) != SD_OK)
        return cli_fail(&err);
    if (!after || strcmp(after, "import") != 0) {
        if (sd_optimize(g, &common.opt, after, NULL, NULL, &err) != SD_OK) {
            ir_graph_free(g);
            return cli_fail(&err);
        }
    }
    SdStrbuf out = {0};
    if (dot)
        ir_write_dot(g, &out);
    else
        ir_print(g, &out);
    fputs(sd_strbuf_str(&out), stdout);
    sd_strbuf_free(&out);
    ir_graph_free(g);
    return EXIT_OK;
}
