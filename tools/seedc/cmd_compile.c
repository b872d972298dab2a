/* tools/seedc/cmd_compile.c — `seedc compile MODEL -o OUT --emit=KIND`: ahead-of-time output for
 * deployment (a bundle, a static or shared library, or a program), for this machine or another
 * target, with a report of code, weight and scratch sizes. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api/driver.h"
#include "codegen/aot.h"
#include "support/files.h"
#include "support/names.h"
#include "tools/seedc/cli.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc compile MODEL -o OUT [--emit=KIND] [--target=T] [--weights=W] [--name NAME] [options]\n\n"
            "Compiles MODEL (.onnx or .sd) ahead of time. OUT is a path prefix: -o out/student writes\n"
            "  --emit=bundle  out/student.o and out/student.h (the default)\n"
            "  --emit=static  out/libstudent.a and out/student.h\n"
            "  --emit=shared  out/libstudent.so and out/student.h\n"
            "  --emit=exe     out/student, a program that reads and writes .npy/.pb (see its --help)\n"
            "and, with --weights=file, out/student.weights. The caller owns all memory; the header lists\n"
            "inputs, outputs, weight and scratch sizes. Nothing produced needs LLVM at run time; with\n"
            "--gemm=builtin nothing beyond libc, libm and pthreads.\n\n"
            "options:\n"
            "  -o, --output OUT   output path prefix (required)\n"
            "  --emit KIND        bundle, static, shared or exe\n"
            "  --target T         native (default), x86-64-v3, x86-64-v4, aarch64-linux-gnu\n"
            "  --weights W        embedded (default) or file\n"
            "  --name NAME        C name of the generated symbols (default: the last part of OUT)\n" CLI_COMMON_HELP);
}

int cmd_compile(int argc, char **argv)
{
    static const struct option longs[] = {
        {"output", required_argument, NULL, 'o'}, {"emit", required_argument, NULL, 'e'},
        {"target", required_argument, NULL, 't'}, {"weights", required_argument, NULL, 'w'},
        {"name", required_argument, NULL, 'n'}, CLI_COMMON_LONG_OPTIONS, {NULL, 0, NULL, 0}};
    CliCommon common = {.opt = sd_options_default()};
    CgAotOptions aot = {.kind = CG_EMIT_BUNDLE, .target = "native"};
    const char *name = NULL;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'o': aot.out = optarg; break;
        case 'e':
            if (!strcmp(optarg, "bundle")) aot.kind = CG_EMIT_BUNDLE;
            else if (!strcmp(optarg, "static")) aot.kind = CG_EMIT_STATIC;
            else if (!strcmp(optarg, "shared")) aot.kind = CG_EMIT_SHARED;
            else if (!strcmp(optarg, "exe")) aot.kind = CG_EMIT_EXE;
            else return cli_usage_error("compile", "--emit takes bundle, static, shared or exe, not '%s'", optarg);
            break;
        case 't': {
            bool known = false;
            for (const char *const *t = cg_aot_targets(); *t; t++)
                known |= strcmp(*t, optarg) == 0;
            if (!known)
                return cli_usage_error("compile", "--target takes native, x86-64-v3, x86-64-v4 or aarch64-linux-gnu, not '%s'",
                                       optarg);
            aot.target = optarg;
            break;
        }
        case 'w':
            if (strcmp(optarg, "embedded") != 0 && strcmp(optarg, "file") != 0)
                return cli_usage_error("compile", "--weights takes embedded or file, not '%s'", optarg);
            aot.weights_file = strcmp(optarg, "file") == 0;
            break;
        case 'n': name = optarg; break;
        case 'h': help(stdout); return EXIT_OK;
        case '?': return cli_usage_error("compile", "unknown option or missing value: '%s'", argv[optind - 1]);
        default:
            if ((rc = cli_common_option(&common, c, optarg, "compile")) != EXIT_OK)
                return rc;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("compile", optind >= argc ? "a model file is required" : "exactly one model file is expected");
    if (!aot.out || !aot.out[0])
        return cli_usage_error("compile", "-o OUT is required");
    char derived[128];
    if (!name) { /* the last part of OUT, made into a C identifier */
        const char *base = strrchr(aot.out, '/');
        base = base ? base + 1 : aot.out;
        size_t k = 0;
        for (; base[k] && k + 1 < sizeof derived; k++)
            derived[k] = isalnum((unsigned char)base[k]) ? base[k] : '_';
        derived[k] = 0;
        name = derived;
    }
    const char *model = argv[optind];
    SdError err = {0};
    IrGraph *g;
    if (sd_make_parent_dirs(aot.out, &err) != SD_OK)
        return cli_fail(&err);
    if (sd_load_graph(model, &common.opt, &g, NULL, &err) != SD_OK)
        return cli_fail(&err);
    if (sd_optimize(g, &common.opt, NULL, NULL, NULL, &err) != SD_OK) {
        ir_graph_free(g);
        return cli_fail(&err);
    }
    aot.cg.name = name;
    aot.cg.lower = sd_lower_options(&common.opt);
    aot.cg.opt_level = common.opt.opt_level;
    aot.cg.print_llvm = common.opt.print_llvm;
    aot.cg.threads = common.opt.threads; /* AOT code is single-threaded unless asked */
    aot.cg.no_pack_weights = sd_name_listed(common.opt.disable, "prepack");
    aot.source = model;
    CgAotReport rep;
    SdStatus st = cg_compile_aot(g, &aot, &rep, &err);
    ir_graph_free(g);
    if (st != SD_OK)
        return cli_fail(&err);
    printf("compiled %s for %s in %.2f s\n", model, aot.target, rep.compile_seconds);
    printf("  code     %10zu bytes\n  weights  %10zu bytes (%s)\n  scratch  %10zu bytes\n", rep.code_bytes,
           rep.weights_bytes, aot.weights_file ? "file" : "embedded", rep.scratch_bytes);
    for (int i = 0; i < rep.n_files; i++)
        printf("  wrote    %s\n", rep.files[i]);
    return EXIT_OK;
}
