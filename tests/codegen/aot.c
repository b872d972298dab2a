/* tests/codegen/aot.c — ahead-of-time outputs: a bundle linked into a C program (also from two
 * threads at once), static and shared libraries, programs with embedded or file weights, other
 * targets (x86-64-v3, aarch64 under qemu when the cross toolchain is installed). Every output
 * must equal the JIT's for the same target exactly, and no output may need LLVM. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/seedc.h"
#include "runtime/tensor_io.h"
#include "tests/common/onnx_builder.h"

static char out[1 << 16];

/* y = relu(transpose(x) * w + b) ++ exp(-x)^T: constants, broadcasting, a copy, a libm call. */
static const char *make_model(void)
{
    const char *path = tb_path("small.onnx");
    float w[12], b[3];
    for (int i = 0; i < 12; i++)
        w[i] = 0.25f * (float)(i - 5);
    for (int i = 0; i < 3; i++)
        b[i] = 0.5f - (float)i;
    TbModel *m = tb_model_new(17);
    tb_input(m, "x", SD_DT_F32, 2, (int64_t[]){3, 4});
    tb_init_f32(m, "w", 2, (int64_t[]){4, 3}, w, 0);
    tb_init_f32(m, "b", 1, (int64_t[]){3}, b, 0);
    tb_node(m, "Transpose", "t", (const char *[]){"x", NULL}, (const char *[]){"xt", NULL});
    tb_node(m, "Mul", "mul", (const char *[]){"xt", "w", NULL}, (const char *[]){"xw", NULL});
    tb_node(m, "Add", "add", (const char *[]){"xw", "b", NULL}, (const char *[]){"z", NULL});
    tb_node(m, "Relu", "relu", (const char *[]){"z", NULL}, (const char *[]){"y", NULL});
    tb_node(m, "Neg", "neg", (const char *[]){"xt", NULL}, (const char *[]){"nx", NULL});
    tb_node(m, "Exp", "exp", (const char *[]){"nx", NULL}, (const char *[]){"e", NULL});
    tb_node(m, "Concat", "cat", (const char *[]){"y", "e", NULL}, (const char *[]){"out", NULL});
    tb_attr_int(m, "axis", 1);
    tb_output(m, "out", SD_DT_F32);
    tb_save(m, path);
    tb_model_free(m);
    return path;
}

static const char *make_input(void)
{
    SdError err = {0};
    RtTensor x = {0};
    cr_assert_eq(rt_tensor_alloc(&x, SD_DT_F32, 2, (int64_t[]){3, 4}, &err), SD_OK);
    for (int i = 0; i < 12; i++)
        ((float *)x.data)[i] = sinf((float)i) * 2.0f;
    const char *path = tb_path("x.npy");
    cr_assert_eq(rt_tensor_write(path, &x, &err), SD_OK, "%s", err.msg);
    rt_tensor_free(&x);
    return path;
}

static RtTensor read_tensor(const char *path)
{
    SdError err = {0};
    RtTensor t = {0};
    cr_assert_eq(rt_tensor_read(path, &t, &err), SD_OK, "%s", err.msg);
    return t;
}

static void assert_same_file_data(const char *a, const char *b, double tol)
{
    RtTensor x = read_tensor(a), y = read_tensor(b);
    cr_assert_eq(x.nbytes, y.nbytes, "%s vs %s", a, b);
    if (tol == 0) {
        cr_assert(memcmp(x.data, y.data, x.nbytes) == 0, "%s differs from %s", a, b);
    } else {
        for (size_t i = 0; i < x.nbytes / 4; i++) {
            double p = ((float *)x.data)[i], q = ((float *)y.data)[i];
            cr_assert(fabs(p - q) <= tol * (fabs(q) + 1e-6), "%s[%zu] = %g, %s: %g", a, i, p, b, q);
        }
    }
    rt_tensor_free(&x);
    rt_tensor_free(&y);
}

static void jit_reference(const char *model, const char *input, const char *output, const char *extra)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s run %s -i %s -o %s -q %s", tb_seedc(), model, input, output, extra);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
}

static void compile(const char *model, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s compile %s %s", tb_seedc(), model, args);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "code") && strstr(out, "weights") && strstr(out, "scratch"), "%s", out);
}

Test(aot, programs_match_the_jit_exactly)
{
    const char *model = make_model(), *x = make_input();
    jit_reference(model, x, tb_path("jit.npy"), "");
    char args[2048], cmd[4096];
    snprintf(args, sizeof args, "--emit=exe -o %s", tb_path("prog"));
    compile(model, args);
    snprintf(cmd, sizeof cmd, "%s -i %s -o %s", tb_path("prog"), x, tb_path("aot.npy"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s", out);
    assert_same_file_data(tb_path("aot.npy"), tb_path("jit.npy"), 0);
    /* weights in a file, and the program's own checks */
    snprintf(args, sizeof args, "--emit=exe --weights=file --gemm=builtin -o %s", tb_path("progw"));
    compile(model, args);
    cr_assert_eq(access(tb_path("progw.weights"), R_OK), 0);
    snprintf(cmd, sizeof cmd, "%s -i %s -o %s", tb_path("progw"), x, tb_path("aotw.npy"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s", out);
    assert_same_file_data(tb_path("aotw.npy"), tb_path("jit.npy"), 0);
    snprintf(cmd, sizeof cmd, "%s -i %s --weights /nonexistent.weights", tb_path("progw"), x);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "cannot open weights"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s -i %s", tb_path("prog"), tb_path("prog"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 1, "%s", out);
    snprintf(cmd, sizeof cmd, "%s --help", tb_path("prog"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "input  x") && strstr(out, "f32[3, 4]"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s -i %s --bench 20", tb_path("prog"), x);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "median"), "%s", out);
    /* no LLVM (nor anything but libc/libm/pthread with builtin GEMM) at run time */
    snprintf(cmd, sizeof cmd, "ldd %s", tb_path("progw"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0);
    cr_assert_null(strstr(out, "LLVM"), "%s", out);
    cr_assert_null(strstr(out, "openblas"), "%s", out);
}

/* A C program that links the bundle, runs it once, then from two threads at once. */
static const char *bundle_main =
    "#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include \"small.h\"\n"
    "static float x[SMALL_INPUT0_ELEMS], ref[SMALL_OUTPUT0_ELEMS];\n"
    "static void *worker(void *arg) {\n"
    "  (void)arg; void *scratch = aligned_alloc(64, SMALL_SCRATCH_BYTES + 64); float y[SMALL_OUTPUT0_ELEMS];\n"
    "  const void *in[1] = {x}; void *o[1] = {y}; long bad = 0;\n"
    "  for (int r = 0; r < 2000; r++) { memset(y, 0, sizeof y); small_run(small_weights, scratch, in, o);\n"
    "    bad += memcmp(y, ref, sizeof y) != 0; }\n"
    "  free(scratch); return (void *)bad; }\n"
    "int main(int argc, char **argv) {\n"
    "  FILE *f = fopen(argv[1], \"rb\"); fseek(f, -(long)sizeof x, SEEK_END); fread(x, sizeof x, 1, f); fclose(f);\n"
    "  void *scratch = aligned_alloc(64, SMALL_SCRATCH_BYTES + 64); const void *in[1] = {x}; void *o[1] = {ref};\n"
    "  small_run(small_weights, scratch, in, o); free(scratch);\n"
    "  f = fopen(argv[2], \"wb\"); fwrite(ref, sizeof ref, 1, f); fclose(f);\n"
    "  pthread_t t[2]; void *bad[2];\n"
    "  for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, worker, 0);\n"
    "  for (int i = 0; i < 2; i++) pthread_join(t[i], &bad[i]);\n"
    "  printf(\"mismatches %ld %ld\\n\", (long)bad[0], (long)bad[1]);\n"
    "  return bad[0] || bad[1]; }\n";

Test(aot, bundles_and_libraries_are_reentrant_and_match_the_jit)
{
    const char *model = make_model(), *x = make_input();
    jit_reference(model, x, tb_path("jit.npy"), "");
    RtTensor jit = read_tensor(tb_path("jit.npy"));
    char args[2048], cmd[8192];
    FILE *f = fopen(tb_path("main.c"), "w");
    fputs(bundle_main, f);
    fclose(f);
    const char *kinds[3] = {"bundle", "static", "shared"};
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof args, "--emit=%s -o %s", kinds[k], tb_path("small"));
        compile(model, args);
        cr_assert_eq(access(tb_path("small.h"), R_OK), 0);
        const char *lib = k == 0 ? tb_path("small.o") : k == 1 ? tb_path("libsmall.a") : tb_path("libsmall.so");
        snprintf(cmd, sizeof cmd, "cc -std=c11 -O1 -I%s -o %s %s %s -Wl,-rpath,%s -lopenblas -lm -lpthread",
                 tb_tmpdir(), tb_path("bundle_main"), tb_path("main.c"), lib, tb_tmpdir());
        cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s\n%s", cmd, out);
        snprintf(cmd, sizeof cmd, "%s %s %s", tb_path("bundle_main"), x, tb_path("bundle.raw"));
        cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s: %s", kinds[k], out);
        cr_assert(strstr(out, "mismatches 0 0"), "%s", out);
        FILE *r = fopen(tb_path("bundle.raw"), "rb");
        float y[18];
        cr_assert_eq(fread(y, sizeof y, 1, r), 1);
        fclose(r);
        cr_assert(memcmp(y, jit.data, sizeof y) == 0, "%s output differs from the JIT", kinds[k]);
    }
    snprintf(cmd, sizeof cmd, "ldd %s", tb_path("libsmall.so"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0);
    cr_assert_null(strstr(out, "LLVM"), "%s", out);
    rt_tensor_free(&jit);
}

Test(aot, other_targets)
{
    const char *model = make_model(), *x = make_input();
    jit_reference(model, x, tb_path("jit.npy"), "");
    char args[2048], cmd[4096];
    snprintf(args, sizeof args, "--emit=exe --target=x86-64-v3 -o %s", tb_path("v3"));
    compile(model, args);
    snprintf(cmd, sizeof cmd, "%s -i %s -o %s", tb_path("v3"), x, tb_path("v3.npy"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s", out);
    assert_same_file_data(tb_path("v3.npy"), tb_path("jit.npy"), 1e-6);
    if (access("/usr/bin/aarch64-linux-gnu-gcc", X_OK) != 0 || access("/usr/bin/qemu-aarch64", X_OK) != 0) {
        cr_log_warn("aarch64 cross toolchain or qemu-user missing: ARM output not checked");
        return;
    }
    snprintf(args, sizeof args, "--emit=exe --target=aarch64-linux-gnu --gemm=builtin -o %s", tb_path("arm"));
    compile(model, args);
    snprintf(cmd, sizeof cmd, "qemu-aarch64 -L /usr/aarch64-linux-gnu %s -i %s -o %s", tb_path("arm"), x,
             tb_path("arm.npy"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 0, "%s", out);
    assert_same_file_data(tb_path("arm.npy"), tb_path("jit.npy"), 1e-4);
    snprintf(cmd, sizeof cmd, "%s compile %s --target=aarch64-linux-gnu --gemm=openblas -o %s", tb_seedc(), model, tb_path("armblas"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--gemm=builtin"), "%s", out);
}

Test(aot, usage_errors)
{
    const char *model = make_model();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s compile %s", tb_seedc(), model);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 2, "%s", out);
    snprintf(cmd, sizeof cmd, "%s compile %s -o %s --target=riscv", tb_seedc(), model, tb_path("x"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 2, "%s", out);
    snprintf(cmd, sizeof cmd, "%s compile %s -o %s --name 9lives", tb_seedc(), model, tb_path("x"));
    cr_assert_eq(tb_run(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "not a C identifier"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s compile %s -o /dev/null/dir/x", tb_seedc(), model);
    cr_assert_eq(tb_run(cmd, out, sizeof out), 1, "%s", out);
}
