/* tests/runtime/data_idx.c — IDX files and data sets: synthetic files (plain and gzip'ed, made
 * here with zlib) read back exactly, the installed Fashion-MNIST when its package is there, and
 * hostile files (truncated at every length, corrupted, lying sizes) fail with a message naming
 * them instead of crashing. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "runtime/data/idx.h"
#include "runtime/data/rng.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/seedc-idx-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* An IDX file of u8 in memory: header then data. Caller frees. */
static uint8_t *idx_bytes(int rank, const uint32_t *dims, const uint8_t *data, size_t *n)
{
    size_t numel = 1;
    for (int i = 0; i < rank; i++)
        numel *= dims[i];
    *n = 4 + 4 * (size_t)rank + numel;
    uint8_t *b = malloc(*n);
    b[0] = b[1] = 0;
    b[2] = 0x08;
    b[3] = (uint8_t)rank;
    for (int i = 0; i < rank; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    memcpy(b + 4 + 4 * rank, data, numel);
    return b;
}

/* gzip of bytes (zlib's deflate with a gzip wrapper). Caller frees. */
static uint8_t *gzip_bytes(const uint8_t *src, size_t n, size_t *out_n)
{
    z_stream zs = {0};
    cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_n = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void write_file(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* A synthetic data set of n images h x w: pixel (i, y, x) = (i * 7 + y * 3 + x) % 256,
 * label i % 10. Files in dir, gzip'ed or not. */
static void write_dataset(const char *dir, const char *split, uint32_t n, uint32_t h, uint32_t w,
                          bool gz)
{
    uint8_t *pixels = malloc((size_t)n * h * w), *labels = malloc(n);
    for (uint32_t i = 0; i < n; i++) {
        labels[i] = (uint8_t)(i % 10);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++)
                pixels[((size_t)i * h + y) * w + x] = (uint8_t)((i * 7 + y * 3 + x) % 256);
    }
    const uint32_t image_dims[3] = {n, h, w}, label_dims[1] = {n};
    size_t ni, nl;
    uint8_t *images = idx_bytes(3, image_dims, pixels, &ni);
    uint8_t *labs = idx_bytes(1, label_dims, labels, &nl);
    char path[512];
    const char *ext = gz ? ".gz" : "";
    if (gz) {
        size_t gi, gl;
        uint8_t *zi = gzip_bytes(images, ni, &gi), *zl = gzip_bytes(labs, nl, &gl);
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, split, ext);
        write_file(path, zi, gi);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, split, ext);
        write_file(path, zl, gl);
        free(zi);
        free(zl);
    } else {
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, split, ext);
        write_file(path, images, ni);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, split, ext);
        write_file(path, labs, nl);
    }
    free(images);
    free(labs);
    free(pixels);
    free(labels);
}

static void check_synthetic(const RtDataset *d, uint32_t n, uint32_t h, uint32_t w)
{
    cr_assert_eq(d->n, n);
    cr_assert_eq(d->channels, 1);
    cr_assert_eq(d->height, (int)h);
    cr_assert_eq(d->width, (int)w);
    cr_assert_eq(d->n_classes, n >= 10 ? 10 : (int)n);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(d->labels[i], i % 10);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++)
                cr_assert_eq(d->images[((size_t)i * h + y) * w + x], (i * 7 + y * 3 + x) % 256);
    }
}

Test(idx, reads_plain_and_gzip_files_by_name)
{
    make_tmpdir();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mnist", tmpdir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    write_dataset(dir, "train", 123, 28, 28, true);
    write_dataset(dir, "t10k", 45, 28, 28, false);
    RtDataset train, test;
    SdError err = {0};
    cr_assert_eq(rt_dataset_load("mnist", RT_SPLIT_TRAIN, tmpdir, &train, &err), SD_OK, "%s",
                 err.msg);
    check_synthetic(&train, 123, 28, 28);
    cr_assert_str_eq(train.name, "mnist");
    cr_assert_eq(rt_dataset_load("mnist", RT_SPLIT_TEST, tmpdir, &test, &err), SD_OK, "%s",
                 err.msg);
    check_synthetic(&test, 45, 28, 28);
    rt_dataset_truncate(&train, 10);
    cr_assert_eq(train.n, 10);
    rt_dataset_free(&train);
    rt_dataset_free(&test);
    rt_dataset_free(&test); /* freeing twice is harmless: the struct is zeroed */

    /* $SEEDC_DATASETS is the root when none is passed */
    setenv("SEEDC_DATASETS", tmpdir, 1);
    cr_assert_eq(rt_dataset_load("mnist", RT_SPLIT_TEST, NULL, &test, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(test.n, 45);
    rt_dataset_free(&test);
    unsetenv("SEEDC_DATASETS");
    remove_tree(tmpdir);
}

Test(idx, reads_a_non_square_rank_4_file)
{
    uint8_t data[2 * 3 * 4 * 5];
    for (int i = 0; i < 120; i++)
        data[i] = (uint8_t)(i * 13);
    const uint32_t dims[4] = {2, 3, 4, 5};
    size_t n, gn;
    uint8_t *b = idx_bytes(4, dims, data, &n);
    uint8_t *g = gzip_bytes(b, n, &gn);
    RtIdx x;
    SdError err = {0};
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq(rt_idx_read_buffer(pass ? g : b, pass ? gn : n, "mem", &x, &err), SD_OK,
                     "%s", err.msg);
        cr_assert_eq(x.rank, 4);
        cr_assert(x.dims[0] == 2 && x.dims[1] == 3 && x.dims[2] == 4 && x.dims[3] == 5);
        cr_assert_eq(x.nbytes, 120);
        cr_assert(memcmp(x.data, data, 120) == 0);
        rt_idx_free(&x);
    }
    free(b);
    free(g);
}

Test(idx, fashion_mnist_when_installed)
{
    struct stat st;
    if (stat(RT_DATASETS_ROOT "/fashion-mnist", &st) != 0) {
        cr_log_warn("dataset-fashion-mnist is not installed: skipping the real files");
        return;
    }
    RtDataset train, test;
    SdError err = {0};
    cr_assert_eq(rt_dataset_load("fashion-mnist", RT_SPLIT_TRAIN, RT_DATASETS_ROOT, &train, &err),
                 SD_OK, "%s", err.msg);
    cr_assert_eq(rt_dataset_load("fashion-mnist", RT_SPLIT_TEST, RT_DATASETS_ROOT, &test, &err),
                 SD_OK, "%s", err.msg);
    cr_assert_eq(train.n, 60000);
    cr_assert_eq(test.n, 10000);
    cr_assert(train.height == 28 && train.width == 28 && train.channels == 1);
    cr_assert_eq(train.n_classes, 10);
    cr_assert_eq(test.n_classes, 10);
    /* values checked with numpy on the same files */
    const uint8_t first_train[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    const uint8_t first_test[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    cr_assert(memcmp(train.labels, first_train, 10) == 0);
    cr_assert(memcmp(test.labels, first_test, 10) == 0);
    int64_t counts[10] = {0}, first_image = 0, total = 0;
    for (int64_t i = 0; i < train.n; i++)
        counts[train.labels[i]]++;
    for (int k = 0; k < 10; k++)
        cr_assert_eq(counts[k], 6000, "class %d", k);
    for (int i = 0; i < 784; i++)
        first_image += train.images[i];
    for (int64_t i = 0; i < train.n * 784; i++)
        total += train.images[i];
    cr_assert_eq(first_image, 76247);
    cr_assert_eq(total, 3431114169LL);
    rt_dataset_free(&train);
    rt_dataset_free(&test);
}

Test(idx, missing_data_sets_name_the_package)
{
    make_tmpdir();
    RtDataset d;
    SdError err = {0};
    cr_assert_neq(rt_dataset_load("fashion-mnist", RT_SPLIT_TRAIN, tmpdir, &d, &err), SD_OK);
    cr_assert(strstr(err.msg, "apt-get install dataset-fashion-mnist"), "%s", err.msg);
    cr_assert(strstr(err.msg, "is not installed"), "%s", err.msg);
    cr_assert_neq(rt_dataset_load("mnist", RT_SPLIT_TRAIN, tmpdir, &d, &err), SD_OK);
    cr_assert(strstr(err.msg, "no Debian package"), "%s", err.msg);
    cr_assert_neq(rt_dataset_load("cifar-99", RT_SPLIT_TRAIN, tmpdir, &d, &err), SD_OK);
    cr_assert(strstr(err.msg, "unknown data set 'cifar-99'"), "%s", err.msg);
    cr_assert_neq(rt_dataset_load("../etc", RT_SPLIT_TRAIN, tmpdir, &d, &err), SD_OK);
    cr_assert_eq(err.status, SD_EUSAGE);
    /* the folder exists but a file is missing */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fashion-mnist", tmpdir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    write_dataset(dir, "train", 5, 4, 4, true);
    cr_assert_neq(rt_dataset_load("fashion-mnist", RT_SPLIT_TEST, tmpdir, &d, &err), SD_OK);
    cr_assert(strstr(err.msg, "t10k-images-idx3-ubyte.gz") && strstr(err.msg, "dataset-fashion"),
              "%s", err.msg);
    cr_assert_null(d.images);
    remove_tree(tmpdir);
}

static void expect_failure(const uint8_t *b, size_t n, const char *what, const char *needle)
{
    RtIdx x;
    SdError err = {0};
    cr_assert_neq(rt_idx_read_buffer(b, n, what, &x, &err), SD_OK, "%s was accepted", what);
    cr_assert_null(x.data);
    cr_assert(strstr(err.msg, what), "message does not name %s: %s", what, err.msg);
    if (needle)
        cr_assert(strstr(err.msg, needle), "%s: expected '%s' in: %s", what, needle, err.msg);
}

Test(idx, truncated_files_fail_at_every_length)
{
    uint8_t data[6 * 5 * 4];
    for (int i = 0; i < 120; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    const uint32_t dims[3] = {6, 5, 4};
    size_t n, gn;
    uint8_t *b = idx_bytes(3, dims, data, &n);
    uint8_t *g = gzip_bytes(b, n, &gn);
    for (size_t len = 0; len < n; len++)
        expect_failure(b, len, "plain.idx", NULL);
    for (size_t len = 2; len < gn; len++) /* 0 or 1 byte: not even gzip's magic */
        expect_failure(g, len, "file.gz", NULL);
    expect_failure(b, n - 1, "plain.idx", "truncated");
    expect_failure(g, gn - 4, "file.gz", "truncated");
    free(b);
    free(g);
}

Test(idx, malformed_headers_and_sizes)
{
    uint8_t data[24] = {0};
    const uint32_t dims[3] = {2, 3, 4};
    size_t n;
    uint8_t *b = idx_bytes(3, dims, data, &n);

    uint8_t bad[64];
    memcpy(bad, b, n);
    bad[0] = 1;
    expect_failure(bad, n, "magic.idx", "not an IDX file");
    memcpy(bad, b, n);
    bad[2] = 0x0C;
    expect_failure(bad, n, "int32.idx", "int32");
    memcpy(bad, b, n);
    bad[2] = 0x42;
    expect_failure(bad, n, "type.idx", "unknown IDX element type");
    memcpy(bad, b, n);
    bad[3] = 0;
    expect_failure(bad, n, "rank0.idx", "rank 0");
    memcpy(bad, b, n);
    bad[3] = 9;
    expect_failure(bad, n, "rank9.idx", "rank 9");
    /* trailing data */
    memcpy(bad, b, n);
    bad[n] = 5;
    expect_failure(bad, n + 1, "long.idx", "the file holds 25");
    /* a huge shape in a tiny file: refused before any allocation */
    memcpy(bad, b, n);
    memset(bad + 4, 0xff, 12);
    expect_failure(bad, n, "huge.idx", "larger than");
    memcpy(bad, b, n);
    bad[4] = 0x00, bad[5] = 0x10, bad[6] = 0, bad[7] = 0; /* 1M images of 3x4 */
    expect_failure(bad, n, "lie.idx", "needs 12582912 bytes");
    size_t gn;
    uint8_t *g = gzip_bytes(bad, n, &gn);
    expect_failure(g, gn, "lie.gz", "more than");
    free(g);
    /* gzip with more data than the header says, and bytes after the gzip stream */
    uint8_t longer[64];
    memcpy(longer, b, n);
    longer[n] = 1;
    g = gzip_bytes(longer, n + 1, &gn);
    expect_failure(g, gn, "more.gz", "more data than its header");
    free(g);
    g = gzip_bytes(b, n, &gn);
    uint8_t *g2 = malloc(gn + 3);
    memcpy(g2, g, gn);
    memcpy(g2 + gn, "abc", 3);
    expect_failure(g2, gn + 3, "trail.gz", "3 bytes follow");
    /* a wrong CRC in the gzip trailer */
    memcpy(g2, g, gn);
    g2[gn - 8] ^= 0x55;
    expect_failure(g2, gn, "crc.gz", "corrupted");
    free(g2);
    free(g);
    free(b);
}

Test(idx, images_and_labels_must_agree)
{
    make_tmpdir();
    char dir[512], images[600], labels[600];
    snprintf(dir, sizeof dir, "%s/x", tmpdir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    write_dataset(dir, "train", 10, 4, 4, false);
    write_dataset(dir, "t10k", 11, 4, 4, false);
    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte", dir);
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte", dir);
    RtDataset d;
    SdError err = {0};
    cr_assert_neq(rt_dataset_load_files(images, labels, &d, &err), SD_OK);
    cr_assert(strstr(err.msg, "holds 11 labels") && strstr(err.msg, "holds 10 images"), "%s",
              err.msg);
    cr_assert_neq(rt_dataset_load_files(labels, images, &d, &err), SD_OK);
    cr_assert(strstr(err.msg, "rank 3"), "%s", err.msg);
    snprintf(images, sizeof images, "%s/nonexistent", dir);
    cr_assert_neq(rt_dataset_load_files(images, labels, &d, &err), SD_OK);
    cr_assert(strstr(err.msg, "cannot open"), "%s", err.msg);
    cr_assert_neq(rt_dataset_load_files(dir, labels, &d, &err), SD_OK);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    remove_tree(tmpdir);
}

/* Random corruption of plain and gzip'ed files: each either parses (a byte of pixel data changed)
 * or fails with a message; nothing crashes (the sanitizer build checks the reads too). */
Test(idx, random_corruption_never_crashes)
{
    uint8_t data[8 * 7 * 6];
    for (int i = 0; i < (int)sizeof data; i++)
        data[i] = (uint8_t)(i * i);
    const uint32_t dims[3] = {8, 7, 6};
    size_t n, gn;
    uint8_t *b = idx_bytes(3, dims, data, &n);
    uint8_t *g = gzip_bytes(b, n, &gn);
    RtRng rng = rt_rng_stream(99, RT_RNG_USER, 0, 0, 0);
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 4000; iter++) {
        bool gz = iter % 2;
        size_t len = gz ? gn : n;
        uint8_t *copy = malloc(len);
        memcpy(copy, gz ? g : b, len);
        int flips = 1 + (int)rt_rng_below(&rng, 3);
        for (int f = 0; f < flips; f++)
            copy[rt_rng_below(&rng, len)] ^= (uint8_t)(1 + rt_rng_below(&rng, 255));
        if (rt_rng_below(&rng, 4) == 0)
            len = (size_t)rt_rng_below(&rng, len);
        RtIdx x;
        SdError err = {0};
        if (rt_idx_read_buffer(copy, len, "fuzz", &x, &err) == SD_OK) {
            accepted++;
            int64_t numel = 1;
            for (int k = 0; k < x.rank; k++)
                numel *= x.dims[k];
            cr_assert_eq(x.nbytes, (size_t)numel);
        } else {
            rejected++;
            cr_assert(err.msg[0]);
        }
        rt_idx_free(&x);
        free(copy);
    }
    cr_assert(rejected > 1000, "%d rejected, %d accepted", rejected, accepted);
    free(b);
    free(g);
}
