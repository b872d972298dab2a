/* tools/seedc/cli.c — common options and error reporting. */
#include "tools/seedc/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

bool cli_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "seedc %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'seedc %s --help')\n", cmd);
    return EXIT_USAGE;
}

int cli_fail(const SdError *err)
{
    fprintf(stderr, "seedc: %s\n", err->msg[0] ? err->msg : sd_status_name(err->status));
    return err->status == SD_EUSAGE ? EXIT_USAGE : EXIT_USER;
}

bool cli_valid_disable_list(const char *list, char *bad, size_t n)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        const bool codegen_choice =
            strcmp(tok, "prepack") == 0 || strcmp(tok, "direct-conv") == 0 || strcmp(tok, "winograd") == 0 ||
            strcmp(tok, "winograd4") == 0 || strcmp(tok, "winograd-at") == 0 || strcmp(tok, "slices") == 0 ||
            strcmp(tok, "qact") == 0;
        if ((!pass_is_known(tok) && !codegen_choice) || strcmp(tok, "shape") == 0) {
            snprintf(bad, n, "%s", tok);
            return false;
        }
    }
    return true;
}

int cli_common_option(CliCommon *c, int id, const char *arg, const char *cmd)
{
    long long v;
    char bad[64];
    switch (id) {
    case 1000:
        if (!cli_parse_int(arg, 1, 1 << 20, &v))
            return cli_usage_error(cmd, "--batch takes a positive integer, not '%s'", arg);
        c->opt.batch = v;
        return EXIT_OK;
    case 1001: {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg || !cli_parse_int(eq + 1, 1, 1 << 30, &v))
            return cli_usage_error(cmd, "--dim takes NAME=N with N a positive integer, not '%s'", arg);
        size_t used = strlen(c->dims);
        snprintf(c->dims + used, sizeof c->dims - used, "%s%s", used ? "," : "", arg);
        c->opt.dims = c->dims;
        return EXIT_OK;
    }
    case 1002:
        if (!cli_valid_disable_list(arg, bad, sizeof bad))
            return cli_usage_error(cmd, "--disable: '%s' is not a pass that can be turned off", bad);
        c->opt.disable = arg;
        return EXIT_OK;
    case 1003:
        if (strcmp(arg, "openblas") != 0 && strcmp(arg, "builtin") != 0)
            return cli_usage_error(cmd, "--gemm takes openblas or builtin, not '%s'", arg);
        c->opt.gemm = arg;
        return EXIT_OK;
    case 1004:
        if (!cli_parse_int(arg, 0, 1024, &v))
            return cli_usage_error(cmd, "--threads takes a number from 0 (all cores) to 1024, not '%s'", arg);
        c->opt.threads = (int)v;
        return EXIT_OK;
    case 1005:
        c->opt.verify = true;
        return EXIT_OK;
    case 1006:
        c->opt.print_llvm = true;
        return EXIT_OK;
    case 1018:
        c->opt.head = true;
        return EXIT_OK;
    case 1008:
        c->opt.model = arg;
        return EXIT_OK;
    case 1009:
        if (strcmp(arg, "int8") != 0)
            return cli_usage_error(cmd, "--quantize takes int8, not '%s'", arg);
        c->opt.quantize = arg;
        return EXIT_OK;
    case 1010:
        c->opt.calib = arg;
        return EXIT_OK;
    case 1011:
        if (strcmp(arg, "minmax") != 0 && strcmp(arg, "percentile") != 0 && strcmp(arg, "entropy") != 0)
            return cli_usage_error(cmd, "--calib-method takes minmax, percentile or entropy, not '%s'", arg);
        c->opt.calib_method = arg;
        return EXIT_OK;
    case 1012:
        c->opt.per_tensor = false;
        return EXIT_OK;
    case 1013:
        c->opt.per_tensor = true;
        return EXIT_OK;
    case 1014:
        c->opt.keep_fp32 = arg;
        return EXIT_OK;
    case 1015:
        if (strcmp(arg, "fp32") != 0 && strcmp(arg, "bf16") != 0)
            return cli_usage_error(cmd, "--precision takes fp32 or bf16, not '%s'", arg);
        c->opt.precision = arg;
        return EXIT_OK;
    case 1016:
        if (!cli_parse_int(arg, 1, 1 << 20, &v))
            return cli_usage_error(cmd, "--calib-samples takes a positive integer, not '%s'", arg);
        c->opt.calib_samples = (int)v;
        return EXIT_OK;
    case 1017:
        c->opt.symmetric = true;
        return EXIT_OK;
    case 1019:
        if (!cli_parse_int(arg, 0, 64, &v))
            return cli_usage_error(cmd, "--compile-threads takes a number from 0 (all cores) to 64, not '%s'", arg);
        c->opt.compile_threads = (int)v;
        return EXIT_OK;
    case 1020:
        if (!cli_parse_int(arg, 0, 60000000, &v))
            return cli_usage_error(cmd, "--spin takes microseconds from 0 (none) to 60000000, not '%s'", arg);
        c->opt.spin_us = v > 0 ? v : -1;
        return EXIT_OK;
    case 1007:
        if (!cli_parse_int(arg, 0, 3, &v))
            return cli_usage_error(cmd, "--opt takes 0, 1, 2 or 3, not '%s'", arg);
        c->opt.opt_level = v ? (int)v : -1;
        return EXIT_OK;
    default:
        return cli_usage_error(cmd, "unknown option");
    }
}
