/* tools/seedc/cmd_distill.c — `seedc distill`: seedc's main job. With no arguments it distills the
 * bundled MoCo-v2 teacher into a ResNet-10 student with SEED on Fashion-MNIST, evaluates both, and
 * leaves the student as ONNX and as an AOT executable. The default recipe is built into the binary
 * (examples/recipes/distill.sd with the models it imports); options replace its teacher and epochs,
 * or run another recipe. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/driver.h"
#include "api/train.h"
#include "ir/graph.h"
#include "support/files.h"
#include "tools/seedc/cli.h"

extern const char cli_distill_recipe[];

#define BUNDLED_TEACHER_DIR SEEDC_SOURCE_DIR "/teachers/fmnist-moco"

static void help(FILE *out)
{
    fprintf(out,
            "usage: seedc distill [options]\n\n"
            "Distills a self-supervised teacher into a small student with SEED on Fashion-MNIST: the\n"
            "student learns the teacher's similarity distribution over a queue of teacher embeddings.\n"
            "With no options: the bundled teacher (%s, a ResNet-18\n"
            "pretrained by seedc with MoCo-v2), a ResNet-10 student (widths 16-32-64-128), 3 epochs.\n"
            "Evaluates teacher and student (kNN and linear probe on backbone features), writes the\n"
            "student as OUT/student.onnx and as an AOT executable OUT/student, and prints a table.\n\n"
            "options:\n"
            "  --teacher FILE     an ONNX teacher taking [N, 1, 28, 28] images normalized as\n"
            "                     (x - 0.2860) / 0.3530 (default: the bundled teacher_embed.onnx)\n"
            "  --teacher-output NAME  its output to distill (default: its only or first output)\n"
            "  --teacher-eval FILE    the model evaluated as the teacher, e.g. its backbone (default:\n"
            "                     the bundled teacher_backbone.onnx, else --teacher)\n"
            "  --no-teacher-eval  skip the teacher's evaluation\n"
            "  --epochs N         training epochs (default 3)\n"
            "  --seed N           random seed of initialization, augmentation and order (default 0)\n"
            "  --widths A,B,C,D   the student's stage widths (default 16,32,64,128)\n"
            "  --recipe FILE.sd   run this recipe instead of the default (its own teacher and student)\n"
            "  --experiment NAME  which experiment of --recipe\n"
            "  --out DIR          output folder (default runs/distill)\n"
            "  --steps N          at most N steps per epoch (quick runs)\n"
            "  --images N         train on the first N training images only (quick runs)\n"
            "  --resume           continue from the newest checkpoint in OUT\n"
            "  --threads N        threads (default: all cores)\n"
            "  --precision P      fp32 (default) or bf16: the step's convolutions and matrix products\n"
            "                     multiply bf16-rounded operands (sums and weights stay f32)\n"
            "  --print-recipe     print the default recipe (with the options applied) and stop\n"
            "  -h, --help         this help\n",
            BUNDLED_TEACHER_DIR);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct DistillArgs {
    const char *teacher, *teacher_output, *teacher_eval, *recipe, *experiment, *out, *precision;
    char widths[96];          /* the student's stage widths as a DSL list, "[16, 32, 64, 128]" */
    long long epochs, seed, steps, images, threads;
    bool no_teacher_eval, resume, print_recipe;
} DistillArgs;

/* The teacher's distilled output: its name and width (the student head's and the queue's). Only
 * import and shape inference run: the training step compiles the teacher anyway. */
static SdStatus teacher_output(const char *path, const char *want, char *name, size_t cap, long long *dim, int *index,
                               SdError *err)
{
    SdOptions opt = sd_options_default();
    IrGraph *g;
    SD_TRY(sd_load_graph(path, &opt, &g, NULL, err));
    SdStatus st = sd_optimize(g, &opt, "shape", NULL, NULL, err);
    int pick = want ? -1 : 0;
    for (int i = 0; st == SD_OK && want && i < ir_graph_num_outputs(g); i++)
        if (strcmp(ir_graph_output(g, i)->name, want) == 0)
            pick = i;
    const IrValue *in = st == SD_OK && ir_graph_num_inputs(g) > 0 ? ir_graph_input(g, 0) : NULL;
    if (st == SD_OK && pick < 0) {
        st = sd_errorf(err, SD_EUSAGE, "%s has no output '%s' (its first is '%s')", path, want,
                       ir_graph_output(g, 0)->name);
    } else if (st == SD_OK && (ir_graph_num_inputs(g) != 1 || in->shape.rank != 4 || in->shape.dims[1] != 1 ||
                                in->shape.dims[2] != 28 || in->shape.dims[3] != 28)) {
        st = sd_errorf(err, SD_EUSAGE, "%s: a teacher takes one input of [N, 1, 28, 28] images; its input '%s' is not",
                       path, in ? in->name : "?");
    } else if (st == SD_OK) {
        const IrValue *o = ir_graph_output(g, pick);
        if (o->shape.rank != 2)
            st = sd_errorf(err, SD_EUSAGE, "%s: output '%s' has rank %d; a teacher's embedding is [N, D]", path,
                           o->name, o->shape.rank);
        snprintf(name, cap, "%s", o->name);
        *dim = o->shape.rank == 2 ? o->shape.dims[1] : 0;
        *index = pick;
    }
    ir_graph_free(g);
    return st;
}

/* Replaces the value of `let NAME = ...` lines; the text is the embedded recipe. */
static char *with_lets(const char *text, const char *const *names, const char *const *values, int n)
{
    size_t cap = strlen(text) + 1;
    for (int i = 0; i < n; i++)
        cap += strlen(values[i]) + 16;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        bool replaced = false;
        for (int i = 0; i < n && !replaced; i++) {
            size_t k = strlen(names[i]);
            if (strncmp(p, "let ", 4) == 0 && strncmp(p + 4, names[i], k) == 0 && strncmp(p + 4 + k, " = ", 3) == 0) {
                o += sprintf(o, "let %s = %s\n", names[i], values[i]);
                replaced = true;
            }
        }
        if (!replaced)
            memcpy(o, p, len), o += len;
        p += len;
    }
    *o = 0;
    return out;
}

static bool plain_path(const char *s)
{
    return !strpbrk(s, "\"\\\n");
}

/* Writes OUT/distill.sd: the default recipe with the teacher, its output and the epochs filled in. */
static SdStatus write_recipe(const DistillArgs *a, const char *teacher, const char *out_name, long long dim,
                             char *path, size_t cap, SdError *err)
{
    char quoted_teacher[PATH_MAX + 4], quoted_output[300], dims[32], epochs[32], seed[32];
    snprintf(quoted_teacher, sizeof quoted_teacher, "\"%s\"", teacher);
    snprintf(quoted_output, sizeof quoted_output, "\"%s\"", out_name);
    snprintf(dims, sizeof dims, "%lld", dim);
    snprintf(epochs, sizeof epochs, "%lld", a->epochs);
    snprintf(seed, sizeof seed, "%lld", a->seed);
    const char *names[] = {"teacher", "teacher_output", "teacher_dim", "epochs", "seed", "widths"};
    const char *values[] = {quoted_teacher, quoted_output, dims, epochs, seed, a->widths};
    char *text = with_lets(cli_distill_recipe, names, values, 6);
    if (!text)
        return sd_errorf(err, SD_ENOMEM, "out of memory for the recipe");
    if (a->print_recipe) {
        fputs(text, stdout);
        free(text);
        return SD_OK;
    }
    SdStatus st = sd_make_dirs(a->out, err);
    snprintf(path, cap, "%s/distill.sd", a->out);
    FILE *f = st == SD_OK ? fopen(path, "w") : NULL;
    if (st == SD_OK && !f)
        st = sd_errorf(err, SD_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (f) {
        fprintf(f, "# written by seedc distill (the default recipe with its options applied)\n%s", text);
        if (fclose(f) != 0)
            st = sd_errorf(err, SD_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    free(text);
    return st;
}

/* The end of a long path, so that the table stays one line. */
static const char *path_tail(const char *p, char *buf, size_t cap)
{
    size_t n = strlen(p);
    if (n < 45)
        return p;
    snprintf(buf, cap, "...%s", p + n - 41);
    return buf;
}

typedef struct Row {
    double knn, linear, seconds, images_per_second;
} Row;

static void print_table(const DistillArgs *a, const char *teacher_eval, const Row *t, const SdTrainResult *r)
{
    char knn[16] = "-", lin[16] = "-", tail[64];
    if (a->recipe)
        printf("\nseedc distill: %s, %lld epoch%s\n", a->recipe, (long long)r->epochs, r->epochs == 1 ? "" : "s");
    else
        printf("\nseedc distill: SEED on Fashion-MNIST, %lld epoch%s, seed %lld\n", (long long)r->epochs,
               r->epochs == 1 ? "" : "s", a->seed);
    printf("  %-8s %-44s %8s %8s %9s %10s\n", "", "model", "kNN", "linear", "time", "images/s");
    if (t) {
        if (t->knn >= 0)
            snprintf(knn, sizeof knn, "%.2f%%", 100 * t->knn);
        if (t->linear >= 0)
            snprintf(lin, sizeof lin, "%.2f%%", 100 * t->linear);
        printf("  %-8s %-44.44s %8s %8s %7.0f s %10.0f  (evaluation)\n", "teacher",
               path_tail(teacher_eval, tail, sizeof tail), knn, lin, t->seconds, t->images_per_second);
    } else {
        printf("  %-8s %-44.44s %8s %8s %9s %10s  (not evaluated)\n", "teacher",
               path_tail(teacher_eval, tail, sizeof tail), "-", "-", "-", "-");
    }
    snprintf(knn, sizeof knn, "-");
    snprintf(lin, sizeof lin, "-");
    if (r->knn_accuracy >= 0)
        snprintf(knn, sizeof knn, "%.2f%%", 100 * r->knn_accuracy);
    if (r->linear_accuracy >= 0)
        snprintf(lin, sizeof lin, "%.2f%%", 100 * r->linear_accuracy);
    char student[600];
    if (a->recipe) {
        snprintf(student, sizeof student, "%s", a->recipe);
    } else {
        int n = snprintf(student, sizeof student, "ResNet-10 ");
        for (const char *w = a->widths + 1; *w && *w != ']' && n < 500; w++)
            if (*w != ' ')
                student[n++] = *w == ',' ? '-' : *w;
        snprintf(student + n, sizeof student - (size_t)n, " (SEED)");
    }
    printf("  %-8s %-44.44s %8s %8s %7.0f s %10.0f  (training)\n", "student", path_tail(student, tail, sizeof tail),
           knn, lin, r->seconds, r->images_per_second);
    printf("\noutputs in %s: log.csv, curves.svg, checkpoints, and the recipe's exports", r->out_dir);
    if (!a->recipe)
        printf(" (student.onnx, student: run it as %s/student -i images.npy -o features.npy)", r->out_dir);
    printf("\n");
}

static SdStatus distill(DistillArgs *a, SdError *err)
{
    char teacher[PATH_MAX] = "", eval_path[PATH_MAX] = "", out_name[256] = "", recipe_path[PATH_MAX + 16];
    long long dim = 0;
    int out_index = 0;
    bool bundled = !a->teacher && !a->recipe;
    if (!a->recipe) {
        const char *t = a->teacher ? a->teacher : BUNDLED_TEACHER_DIR "/teacher_embed.onnx";
        if (!realpath(t, teacher))
            return sd_errorf(err, SD_EIO, "cannot open the teacher '%s': %s%s", t, strerror(errno),
                             bundled ? " (the bundled teacher; pass --teacher FILE.onnx)" : "");
        if (!plain_path(teacher))
            return sd_errorf(err, SD_EUSAGE, "the teacher's path '%s' has a quote, backslash or newline", teacher);
        fprintf(stderr, "seedc distill: teacher %s\n", teacher);
        SD_TRY(teacher_output(teacher, a->teacher_output, out_name, sizeof out_name, &dim, &out_index, err));
        SD_TRY(write_recipe(a, teacher, out_name, dim, recipe_path, sizeof recipe_path, err));
        if (a->print_recipe)
            return SD_OK;
    } else {
        snprintf(recipe_path, sizeof recipe_path, "%s", a->recipe);
    }

    Row trow = {-1, -1, 0, 0};
    const char *ev = a->teacher_eval ? a->teacher_eval
                   : bundled         ? BUNDLED_TEACHER_DIR "/teacher_backbone.onnx"
                                     : teacher;
    snprintf(eval_path, sizeof eval_path, "%s", ev);
    bool eval_teacher = !a->no_teacher_eval && eval_path[0];
    if (eval_teacher) {
        CliCommon common = {.opt = sd_options_default()};
        common.opt.batch = 256;
        if (a->threads)
            common.opt.threads = (int)a->threads;
        CliEvalArgs ea = {.data = "fashion-mnist", .knn_k = 200, .knn_t = 0.1, .images = a->images,
                          .output = ev == teacher ? out_index : 0};
        printf("teacher: %s\n", eval_path);
        double t0 = now_s();
        SD_TRY(cli_evaluate(eval_path, &common, &ea, &trow.knn, &trow.linear, err));
        trow.seconds = now_s() - t0;
        trow.images_per_second = (double)((a->images ? a->images : 60000) + 10000) / trow.seconds;
        fflush(stdout);
    }

    SdTrainOptions to = {.experiment = a->experiment, .out_dir = a->out, .epochs = a->recipe ? a->epochs : 0,
                         .steps_per_epoch = a->steps, .train_images = a->images, .threads = (int)a->threads,
                         .gemm = NULL, .precision = a->precision, .resume = a->resume, .tty = isatty(1)};
    if (a->recipe && !a->out)
        to.out_dir = NULL;
    SdTrainResult r;
    printf("\nstudent: training with %s\n", recipe_path);
    fflush(stdout);
    SD_TRY(sd_train(recipe_path, &to, &r, err));
    print_table(a, eval_path[0] ? eval_path : "(the recipe's teacher)", eval_teacher ? &trow : NULL, &r);
    return SD_OK;
}

/* "8,16,32,64" -> "[8, 16, 32, 64]" */
static bool parse_widths(const char *s, char *out, size_t cap)
{
    long long w[4];
    char buf[96];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (n >= 4 || !cli_parse_int(tok, 1, 4096, &w[n++]))
            return false;
    if (n != 4)
        return false;
    snprintf(out, cap, "[%lld, %lld, %lld, %lld]", w[0], w[1], w[2], w[3]);
    return true;
}

int cmd_distill(int argc, char **argv)
{
    static const struct option longs[] = {
        {"teacher", required_argument, NULL, 'T'},       {"teacher-output", required_argument, NULL, 'O'},
        {"teacher-eval", required_argument, NULL, 'E'},  {"no-teacher-eval", no_argument, NULL, 'N'},
        {"recipe", required_argument, NULL, 'R'},        {"experiment", required_argument, NULL, 'x'},
        {"out", required_argument, NULL, 'o'},           {"epochs", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 'S'},          {"steps", required_argument, NULL, 's'},
        {"images", required_argument, NULL, 'i'},        {"threads", required_argument, NULL, 't'},
        {"resume", no_argument, NULL, 'r'},              {"print-recipe", no_argument, NULL, 'P'},
        {"widths", required_argument, NULL, 'W'},        {"precision", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0}};
    DistillArgs a = {.out = "runs/distill", .epochs = 3, .widths = "[16, 32, 64, 128]"};
    bool have_out = false, have_epochs = false, have_widths = false;
    long long *ints[] = {&a.epochs, &a.seed, &a.steps, &a.images, &a.threads};
    const char *int_names[] = {"epochs", "seed", "steps", "images", "threads"};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int k = c == 'e' ? 0 : c == 'S' ? 1 : c == 's' ? 2 : c == 'i' ? 3 : c == 't' ? 4 : -1;
        if (k >= 0) {
            if (!cli_parse_int(optarg, k == 1 || k == 4 ? 0 : 1, 1LL << 40, ints[k]))
                return cli_usage_error("distill", "--%s takes a %s integer, not '%s'", int_names[k],
                                       k == 1 || k == 4 ? "non-negative" : "positive", optarg);
            have_epochs |= k == 0;
            continue;
        }
        switch (c) {
        case 'T': a.teacher = optarg; break;
        case 'O': a.teacher_output = optarg; break;
        case 'E': a.teacher_eval = optarg; break;
        case 'N': a.no_teacher_eval = true; break;
        case 'R': a.recipe = optarg; break;
        case 'x': a.experiment = optarg; break;
        case 'o': a.out = optarg, have_out = true; break;
        case 'r': a.resume = true; break;
        case 'P': a.print_recipe = true; break;
        case 'p':
            if (strcmp(optarg, "fp32") != 0 && strcmp(optarg, "bf16") != 0)
                return cli_usage_error("distill", "--precision takes fp32 or bf16, not '%s'", optarg);
            a.precision = optarg;
            break;
        case 'W':
            if (!parse_widths(optarg, a.widths, sizeof a.widths))
                return cli_usage_error("distill", "--widths takes four positive integers A,B,C,D, not '%s'", optarg);
            have_widths = true;
            break;
        case 'h': help(stdout); return EXIT_OK;
        default: return cli_usage_error("distill", "unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_usage_error("distill", "unexpected argument '%s' (options only)", argv[optind]);
    if (a.recipe && (a.teacher || a.teacher_output || a.print_recipe || have_widths))
        return cli_usage_error("distill", "--recipe brings its own teacher and student; --teacher, --teacher-output, "
                                          "--widths and --print-recipe go with the default recipe");
    if (a.experiment && !a.recipe)
        return cli_usage_error("distill", "--experiment picks an experiment of --recipe");
    if (a.recipe && !have_out)
        a.out = NULL;
    if (a.recipe && !have_epochs)
        a.epochs = 0;
    SdError err = {0};
    if (distill(&a, &err) != SD_OK)
        return cli_fail(&err);
    return EXIT_OK;
}
