/* examples/deploy/classify.c — a Fashion-MNIST classifier as it runs on a device: the student
 * compiled by `seedc compile --emit=bundle --name student` (student.o + student.h), linked into
 * this program, which needs nothing beyond libc and libm. It reads the test set from its raw IDX
 * files, classifies one image at a time and prints the accuracy and the per-image latency.
 *
 *   cc -O2 -std=c11 classify.c student.o -lm -o classify
 *   ./classify t10k-images-idx3-ubyte t10k-labels-idx1-ubyte [--mean M --std S] [--limit N] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "student.h"

#if STUDENT_NUM_INPUTS != 1 || STUDENT_NUM_OUTPUTS < 1 || STUDENT_INPUT0_ELEMS != 784 || !STUDENT_WEIGHTS_EMBEDDED
#error "expects one [1, 1, 28, 28] input, class scores as the first output, embedded weights"
#endif

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Reads a whole IDX file and checks its magic and sizes: n items of `item` bytes after a header
 * of 4 + 4 * rank bytes. */
static unsigned char *read_idx(const char *path, uint32_t magic, size_t item, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    unsigned char head[16];
    size_t rank = (magic & 0xff), header = 4 + 4 * rank;
    if (fread(head, 1, header, f) != header || be32(head) != magic) {
        fprintf(stderr, "%s: not an IDX file of the expected kind (magic %08x)\n", path, (unsigned)magic);
        fclose(f);
        return NULL;
    }
    *n = be32(head + 4);
    size_t per = 1;
    for (size_t i = 1; i < rank; i++)
        per *= be32(head + 4 + 4 * i);
    unsigned char *data = per == item && *n > 0 && *n < (1u << 24) ? malloc(*n * item) : NULL;
    if (!data || fread(data, item, *n, f) != *n) {
        fprintf(stderr, "%s: expected %zu items of %zu bytes\n", path, *n, item);
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double mean = 0.2860, std = 0.3530; /* Fashion-MNIST, after scaling pixels to [0, 1] */
    size_t limit = 0;
    if (argc < 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 3 ? stderr : stdout,
                "usage: %s IMAGES.idx LABELS.idx [--mean M --std S] [--limit N]\n"
                "classifies every image with the compiled student; prints accuracy and latency\n", argv[0]);
        return argc < 3 ? 2 : 0;
    }
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--mean") == 0) mean = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--std") == 0) std = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--limit") == 0) limit = (size_t)atol(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    size_t n, n_labels;
    unsigned char *images = read_idx(argv[1], 0x00000803, 784, &n);
    unsigned char *labels = images ? read_idx(argv[2], 0x00000801, 1, &n_labels) : NULL;
    if (!labels)
        return 1;
    if (n_labels != n) {
        fprintf(stderr, "%zu images but %zu labels\n", n, n_labels);
        return 1;
    }
    if (limit && limit < n)
        n = limit;
    float *x = aligned_alloc(64, (STUDENT_INPUT0_BYTES + 63) / 64 * 64);
    float *scores = aligned_alloc(64, (STUDENT_OUTPUT0_BYTES + 63) / 64 * 64);
    void *scratch = aligned_alloc(64, (STUDENT_SCRATCH_BYTES + 63) / 64 * 64 + 64);
    double *lat = malloc(n * sizeof *lat);
    if (!x || !scores || !scratch || !lat) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    size_t correct = 0;
    const int classes = STUDENT_OUTPUT0_ELEMS;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 784; k++)
            x[k] = (float)((images[i * 784 + k] / 255.0 - mean) / std);
        double t0 = now_us();
        student_run(student_weights, scratch, (const void *[]){x}, (void *[]){scores});
        lat[i] = now_us() - t0;
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (scores[c] > scores[best])
                best = c;
        correct += best == labels[i];
    }
    qsort(lat, n, sizeof *lat, by_value);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += lat[i];
    printf("images      %zu\n", n);
    printf("accuracy    %.2f%%\n", 100.0 * (double)correct / (double)n);
    printf("latency     median %.1f us, mean %.1f us, p99 %.1f us per image (one thread)\n", lat[n / 2], sum / (double)n,
           lat[(size_t)(0.99 * (double)(n - 1))]);
    printf("memory      weights %d bytes, scratch %d bytes\n", STUDENT_WEIGHTS_BYTES, STUDENT_SCRATCH_BYTES);
    free(images), free(labels), free(x), free(scores), free(scratch), free(lat);
    return 0;
}
