/* tools/seedc/cmd_check.c — `seedc check FILE.sd`: parse and validate a DSL file, build every model
 * it declares in inference mode on its declared input (the IR then goes through shape inference,
 * which must agree with the DSL's own shapes), validate every experiment and build its networks,
 * and print what came out: layers, parameters, output shapes. Errors name file:line:col. */
#include <stdio.h>
#include <string.h>

#include "api/driver.h"
#include "frontend/dsl/dsl.h"
#include "tools/seedc/cli.h"

#define MAX_ARGS DSL_MAX_ARGS

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc check FILE.sd [options]\n\n"
            "Parses and validates FILE.sd. Every model it declares is built in inference mode on its\n"
            "declared input (batch 1 unless --batch) and summarized: layers, parameters, outputs.\n"
            "Every experiment is validated and its networks are built the same way.\n\n"
            "options:\n"
            "  --model NAME       check only this model\n"
            "  --arg NAME=VALUE   a value for a parameter of the model (repeatable; with --model\n"
            "                     or a file of one model), e.g. --arg 'widths=[8, 16, 32, 64]'\n"
            "  --batch N          the batch dimension (default 1)\n"
            "  -q, --quiet        print only errors\n"
            "  -h, --help         this help\n");
}

/* "11,689,512" */
static const char *grouped(long long v, char *buf, size_t n)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v);
    size_t len = strlen(raw), k = 0;
    if (v < 0 && k < n - 1)
        buf[k++] = '-';
    for (size_t i = 0; i < len && k < n - 1; i++) {
        buf[k++] = raw[i];
        if ((len - i - 1) % 3 == 0 && i + 1 < len && k < n - 1)
            buf[k++] = ',';
    }
    buf[k] = 0;
    return buf;
}

static void print_info(const DslInstanceInfo *in, IrValue *const *outs, int n_outs, const char *indent)
{
    char tb[160], b1[32], b2[32];
    for (int i = 0; i < n_outs; i++)
        printf("%soutput  %-12s %s\n", indent, in->n_outputs > i ? in->output_names[i] : "output",
               ir_value_type_str(outs[i], tb, sizeof tb));
    printf("%slayers  %d:", indent, in->n_layers);
    for (int i = 0; i < in->n_kinds; i++)
        printf("%s %s %d", i ? "," : "", in->layers[i].kind, in->layers[i].count);
    printf("\n%sparams  %s in %d tensors (%.2f MB)", indent, grouped(in->n_params, b1, sizeof b1), in->n_param_tensors,
           (double)in->n_params * 4 / 1e6);
    if (in->n_state_tensors)
        printf("; state %s in %d tensors", grouped(in->n_state, b2, sizeof b2), in->n_state_tensors);
    printf("\n");
}

/* Shape inference over the built graph: the IR's shapes must match what the DSL computed. */
static SdStatus verify_ir(IrGraph *g, IrValue *const *outs, int n, SdError *err)
{
    IrShape want[DSL_MAX_OUTPUTS];
    for (int i = 0; i < n; i++)
        want[i] = outs[i]->shape;
    for (int i = 0; i < n; i++)
        ir_graph_add_output(g, outs[i]);
    SdOptions so = sd_options_default();
    SD_TRY(sd_optimize(g, &so, "shape", NULL, NULL, err));
    for (int i = 0; i < n; i++) {
        const IrValue *v = ir_graph_output(g, i);
        if (!ir_shape_equal(&v->shape, &want[i])) {
            char a[128], b[128];
            return sd_errorf(err, SD_EINTERNAL, "output %d: the DSL computed %s, shape inference %s", i,
                             ir_shape_str(&want[i], a, sizeof a), ir_shape_str(&v->shape, b, sizeof b));
        }
    }
    return ir_verify(g, true, err);
}

static int check_model(const DslModel *m, const DslArgValue *args, int n_args, int64_t batch, bool quiet)
{
    SdError err = {0};
    char in_name[DSL_NAME_MAX], tb[160];
    IrShape s;
    if (dsl_model_input(m, args, n_args, in_name, sizeof in_name, &s, &err) != SD_OK)
        return cli_fail(&err);
    IrGraph *g = ir_graph_new(dsl_model_name(m));
    IrShape full = {.rank = s.rank + 1, .dims = {batch}};
    memcpy(full.dims + 1, s.dims, (size_t)s.rank * sizeof *s.dims);
    IrValue *x = g ? ir_value_new(g, in_name, SD_DT_F32, &full) : NULL, *outs[DSL_MAX_OUTPUTS];
    if (!x) {
        ir_graph_free(g);
        return cli_fail(&(SdError){SD_ENOMEM, "out of memory"});
    }
    ir_graph_set_source(g, dsl_model_loc(m).file);
    ir_graph_add_input(g, x);
    DslInstanceInfo info = {0};
    DslInstanceOptions o = dsl_instance_options_default();
    o.args = args;
    o.n_args = n_args;
    o.info = &info;
    int n = 0;
    SdStatus st = dsl_model_instantiate(m, g, "", x, &o, outs, &n, &err);
    if (st == SD_OK && !quiet) {
        DslLoc loc = dsl_model_loc(m);
        printf("model %s (%s:%d:%d)\n", dsl_model_name(m), loc.file, loc.line, loc.col);
        for (int i = 0; i < n_args; i++) {
            char a[256];
            dsl_arg_format(&args[i], a, sizeof a);
            printf("  arg     %s\n", a);
        }
        printf("  input   %-12s %s\n", in_name, ir_value_type_str(x, tb, sizeof tb));
        print_info(&info, outs, n, "  ");
    }
    if (st == SD_OK)
        st = verify_ir(g, outs, n, &err);
    if (st == SD_OK && !quiet)
        printf("  ir      %d nodes, shapes confirmed by shape inference\n", ir_graph_num_nodes(g));
    ir_graph_free(g);
    return st == SD_OK ? EXIT_OK : cli_fail(&err);
}

static int check_network(const DslExperiment *e, const DslNetwork *net, int64_t batch, bool quiet)
{
    SdError err = {0};
    if (!net->model) {
        if (net->onnx[0]) {
            FILE *f = fopen(net->onnx, "rb");
            if (!f) {
                err = (SdError){SD_EIO, ""};
                snprintf(err.msg, sizeof err.msg, "%s:%d:%d: network '%s': cannot open '%s'", net->loc.file,
                         net->loc.line, net->loc.col, net->name, net->onnx);
                return cli_fail(&err);
            }
            fclose(f);
        }
        return EXIT_OK;
    }
    char in_name[DSL_NAME_MAX], tb[160], tf[160], te[160];
    IrShape s;
    if (dsl_model_input(net->model, net->args, net->n_args, in_name, sizeof in_name, &s, &err) != SD_OK)
        return cli_fail(&err);
    IrGraph *g = ir_graph_new(net->name);
    IrShape full = {.rank = s.rank + 1, .dims = {batch}};
    memcpy(full.dims + 1, s.dims, (size_t)s.rank * sizeof *s.dims);
    IrValue *x = g ? ir_value_new(g, in_name, SD_DT_F32, &full) : NULL, *feat = NULL, *emb = NULL;
    if (!x) {
        ir_graph_free(g);
        return cli_fail(&(SdError){SD_ENOMEM, "out of memory"});
    }
    ir_graph_add_input(g, x);
    DslInstanceInfo info = {0};
    DslInstanceOptions o = dsl_instance_options_default();
    o.info = &info;
    char prefix[DSL_NAME_MAX + 2];
    snprintf(prefix, sizeof prefix, "%s.", net->name);
    SdStatus st = dsl_network_instantiate(e, net, g, prefix, x, &o, &feat, &emb, &err);
    if (st == SD_OK) {
        IrValue *outs[2] = {feat, emb};
        st = verify_ir(g, outs, emb != feat ? 2 : 1, &err);
    }
    if (st == SD_OK && !quiet) {
        char b1[32];
        printf("  %-10s input %s, features %s", net->name, ir_value_type_str(x, tb, sizeof tb),
               ir_value_type_str(feat, tf, sizeof tf));
        if (emb != feat)
            printf(", embedding %s", ir_value_type_str(emb, te, sizeof te));
        printf(", %s parameters\n", grouped(info.n_params, b1, sizeof b1));
    }
    ir_graph_free(g);
    return st == SD_OK ? EXIT_OK : cli_fail(&err);
}

int cmd_check(int argc, char **argv)
{
    static const struct option longs[] = {{"model", required_argument, NULL, 'm'}, {"arg", required_argument, NULL, 'a'},
                                          {"batch", required_argument, NULL, 'b'}, {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *model = NULL;
    DslArgValue args[MAX_ARGS];
    int n_args = 0, c;
    long long batch = 1;
    bool quiet = false;
    SdError err = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hq", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'q': quiet = true; break;
        case 'h': help(stdout); return EXIT_OK;
        case 'b':
            if (!cli_parse_int(optarg, 1, 1 << 20, &batch))
                return cli_usage_error("check", "--batch takes a positive integer, not '%s'", optarg);
            break;
        case 'a':
            if (n_args == MAX_ARGS)
                return cli_usage_error("check", "at most %d --arg", MAX_ARGS);
            if (dsl_arg_parse(optarg, &args[n_args], &err) != SD_OK)
                return cli_usage_error("check", "--arg %s", err.msg);
            n_args++;
            break;
        default: return cli_usage_error("check", "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("check", optind >= argc ? "a .sd file is required" : "exactly one .sd file is expected");
    const char *path = argv[optind];
    DslProgram *p;
    if (dsl_load_file(path, &p, &err) != SD_OK)
        return cli_fail(&err);
    int rc = EXIT_OK;
    const DslModel *only = NULL;
    int n_models = dsl_program_num_models(p);
    if (model || (n_args && n_models == 1)) {
        if (dsl_program_select_model(p, model, &only, &err) != SD_OK)
            rc = cli_fail(&err);
        else
            rc = check_model(only, args, n_args, batch, quiet);
    } else if (n_args) {
        rc = cli_usage_error("check", "--arg needs --model when the file declares %d models", n_models);
    } else {
        for (int i = 0; i < n_models && rc == EXIT_OK; i++)
            rc = check_model(dsl_program_model(p, i), NULL, 0, batch, quiet);
    }
    for (int i = 0; !model && rc == EXIT_OK && i < dsl_program_num_experiments(p); i++) {
        DslExperiment *e;
        if (dsl_experiment_load(p, dsl_program_experiment_name(p, i), &e, &err) != SD_OK) {
            rc = cli_fail(&err);
            break;
        }
        if (!quiet) {
            SdStrbuf b = {0};
            dsl_experiment_describe(e, &b);
            fputs(sd_strbuf_str(&b), stdout);
            sd_strbuf_free(&b);
            printf("  built (inference mode):\n");
        }
        for (int k = 0; k < e->n_networks && rc == EXIT_OK; k++)
            rc = check_network(e, &e->networks[k], batch, quiet);
        dsl_experiment_free(e);
    }
    if (rc == EXIT_OK && !quiet && !n_models && !dsl_program_num_experiments(p))
        printf("%s: no model or experiment of its own (it declares blocks and values for others to import)\n", path);
    if (rc == EXIT_OK && !quiet)
        printf("%s: ok\n", path);
    dsl_program_free(p);
    return rc;
}
