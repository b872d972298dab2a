/* tests/runtime/checkpoint.c — checkpoint files: round trip of blobs and metadata, CRC-32 against
 * zlib's, corruption and truncation anywhere give a clear error, rotation keeps the newest K, and
 * a writer killed with SIGKILL in the middle of a write leaves the previous checkpoint intact. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "runtime/checkpoint.h"
#include "support/mem.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/seedc-ckpt-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n ? *n : 1);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void write_all(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

Test(checkpoint, crc32_is_the_ieee_crc)
{
    cr_assert_eq(rt_crc32(0, "123456789", 9), 0xCBF43926u);
    cr_assert_eq(rt_crc32(0, "", 0), 0u);
    uint8_t buf[10007];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    for (size_t len = 0; len < sizeof buf; len += 997) {
        uint32_t ours = rt_crc32(0, buf + 3, len - (len ? 3 : 0));
        uint32_t zlibs = (uint32_t)crc32(0, buf + 3, (uInt)(len - (len ? 3 : 0)));
        cr_assert_eq(ours, zlibs, "length %zu", len);
    }
    /* continuing a CRC over pieces equals one pass */
    cr_assert_eq(rt_crc32(rt_crc32(0, buf, 5000), buf + 5000, 5007), rt_crc32(0, buf, 10007));
    cr_assert_neq(rt_hash64("a", 1, 0), rt_hash64("b", 1, 0));
    cr_assert_neq(rt_hash64("a", 1, 0), rt_hash64("a", 1, 1));
}

/* A checkpoint with a few blobs (one empty, one large-ish) and a training position. */
static RtCheckpoint *sample(float *params, size_t n_params, uint8_t *rng_state)
{
    SdError err = {0};
    RtCheckpoint *ck = rt_ckpt_new();
    cr_assert_not_null(ck);
    for (size_t i = 0; i < n_params; i++)
        params[i] = (float)i * 0.25f - 3.0f;
    for (int i = 0; i < 33; i++)
        rng_state[i] = (uint8_t)(i * 7);
    cr_assert_eq(rt_ckpt_add(ck, "state", params, n_params * sizeof(float), &err), SD_OK, "%s",
                 err.msg);
    cr_assert_eq(rt_ckpt_add(ck, "rng", rng_state, 33, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_ckpt_add(ck, "queue.empty", NULL, 0, &err), SD_OK, "%s", err.msg);
    RtTrainPosition p = {.epoch = 3, .step = 1234, .data_epoch = 3, .data_batch = 17,
                         .seed = 0xfedcba9876543210ull, .model_hash = 42, .recipe_hash = UINT64_MAX};
    cr_assert_eq(rt_ckpt_set_position(ck, &p, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_ckpt_set(ck, "recipe", "examples/moco.sd", &err), SD_OK);
    cr_assert_eq(rt_ckpt_set_i64(ck, "loss_scale", -7, &err), SD_OK);
    cr_assert_eq(rt_ckpt_set(ck, "recipe", "examples/seed.sd", &err), SD_OK); /* replaces */
    return ck;
}

Test(checkpoint, round_trip)
{
    make_tmpdir();
    enum { N = 100000 };
    float *params = malloc(N * sizeof(float));
    uint8_t rng_state[33];
    RtCheckpoint *ck = sample(params, N, rng_state);
    char path[512];
    snprintf(path, sizeof path, "%s/a.ckpt", tmpdir);
    SdError err = {0};
    cr_assert_eq(rt_ckpt_write(ck, path, &err), SD_OK, "%s", err.msg);
    rt_ckpt_free(ck);

    RtCheckpoint *in;
    cr_assert_eq(rt_ckpt_read(path, &in, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_ckpt_n_blobs(in), 3);
    cr_assert_str_eq(rt_ckpt_blob_name(in, 0), "state");
    cr_assert_null(rt_ckpt_blob_name(in, 3));
    size_t size;
    const float *state = rt_ckpt_find(in, "state", &size);
    cr_assert_not_null(state);
    cr_assert_eq(size, N * sizeof(float));
    cr_assert_eq((uintptr_t)state % 64, 0);
    cr_assert(memcmp(state, params, size) == 0);
    cr_assert_not_null(rt_ckpt_find(in, "queue.empty", &size));
    cr_assert_eq(size, 0);
    cr_assert_null(rt_ckpt_find(in, "absent", &size));
    uint8_t got_rng[33];
    cr_assert_eq(rt_ckpt_copy_out(in, "rng", got_rng, 33, &err), SD_OK, "%s", err.msg);
    cr_assert(memcmp(got_rng, rng_state, 33) == 0);
    cr_assert_neq(rt_ckpt_copy_out(in, "rng", got_rng, 32, &err), SD_OK);
    cr_assert(strstr(err.msg, "'rng' has 33 bytes; 32 expected"), "%s", err.msg);
    RtTrainPosition p;
    cr_assert_eq(rt_ckpt_get_position(in, &p, &err), SD_OK, "%s", err.msg);
    cr_assert(p.epoch == 3 && p.step == 1234 && p.data_epoch == 3 && p.data_batch == 17);
    cr_assert(p.seed == 0xfedcba9876543210ull && p.model_hash == 42 && p.recipe_hash == UINT64_MAX);
    cr_assert_str_eq(rt_ckpt_get(in, "recipe"), "examples/seed.sd");
    int64_t v;
    cr_assert_eq(rt_ckpt_get_i64(in, "loss_scale", &v, &err), SD_OK);
    cr_assert_eq(v, -7);
    cr_assert_neq(rt_ckpt_get_i64(in, "recipe", &v, &err), SD_OK);
    cr_assert(strstr(err.msg, "not a 64-bit integer"), "%s", err.msg);
    cr_assert_neq(rt_ckpt_get_i64(in, "nothing", &v, &err), SD_OK);
    cr_assert(strstr(err.msg, "no 'nothing'"), "%s", err.msg);
    rt_ckpt_free(in);

    /* no temporary left behind */
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL)
        files += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(files, 1);
    free(params);
    remove_tree(tmpdir);
}

/* The format version a file was written in (header bytes 8..11). */
static uint32_t file_version(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t h[12] = {0};
    cr_assert_not_null(f);
    cr_assert_eq(fread(h, 1, 12, f), 12);
    fclose(f);
    return (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
}

Test(checkpoint, names_past_63_bytes_use_version_2)
{
    make_tmpdir();
    /* a ViT's parameter, 67 bytes, and the longest name there may be */
    const char *vit = "student/encoder.layers.encoder_layer_0.self_attention.in_proj_weight";
    char longest[256];
    memset(longest, 'n', 255);
    longest[255] = 0;
    const float w[3] = {1, 2, 3}, b[2] = {4, 5};
    char path[512], short_path[512];
    snprintf(path, sizeof path, "%s/long.ckpt", tmpdir);
    snprintf(short_path, sizeof short_path, "%s/short.ckpt", tmpdir);
    SdError err = {0};
    RtCheckpoint *ck = rt_ckpt_new();
    cr_assert_eq(rt_ckpt_add(ck, vit, w, sizeof w, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_ckpt_add(ck, longest, b, sizeof b, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_ckpt_set(ck, "recipe", "vit.sd", &err), SD_OK);
    cr_assert_eq(rt_ckpt_write(ck, path, &err), SD_OK, "%s", err.msg);
    rt_ckpt_free(ck);
    cr_assert_eq(file_version(path), 2);
    RtCheckpoint *in;
    cr_assert_eq(rt_ckpt_read(path, &in, &err), SD_OK, "%s", err.msg);
    float got_w[3], got_b[2];
    cr_assert_eq(rt_ckpt_copy_out(in, vit, got_w, sizeof got_w, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_ckpt_copy_out(in, longest, got_b, sizeof got_b, &err), SD_OK, "%s", err.msg);
    cr_assert(memcmp(got_w, w, sizeof w) == 0 && memcmp(got_b, b, sizeof b) == 0);
    cr_assert_str_eq(rt_ckpt_get(in, "recipe"), "vit.sd");
    rt_ckpt_free(in);
    /* names of at most 63 bytes: version 1, as earlier seedc wrote and reads */
    ck = rt_ckpt_new();
    cr_assert_eq(rt_ckpt_add(ck, "student/fc.weight", w, sizeof w, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(rt_ckpt_write(ck, short_path, &err), SD_OK, "%s", err.msg);
    rt_ckpt_free(ck);
    cr_assert_eq(file_version(short_path), 1);
    cr_assert_eq(rt_ckpt_read(short_path, &in, &err), SD_OK, "%s", err.msg);
    rt_ckpt_free(in);
    remove_tree(tmpdir);
}

Test(checkpoint, bad_names_and_values_are_refused)
{
    RtCheckpoint *ck = rt_ckpt_new();
    SdError err = {0};
    cr_assert_neq(rt_ckpt_add(ck, "meta", "x", 1, &err), SD_OK);
    cr_assert_neq(rt_ckpt_add(ck, "", "x", 1, &err), SD_OK);
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = 0;
    cr_assert_neq(rt_ckpt_add(ck, longname, "x", 1, &err), SD_OK);
    cr_assert(strstr(err.msg, "1 to 255 bytes"), "%s", err.msg);
    cr_assert_eq(rt_ckpt_add(ck, "w", "x", 1, &err), SD_OK);
    cr_assert_neq(rt_ckpt_add(ck, "w", "y", 1, &err), SD_OK);
    cr_assert(strstr(err.msg, "added twice"), "%s", err.msg);
    cr_assert_neq(rt_ckpt_add(ck, "v", NULL, 4, &err), SD_OK);
    cr_assert_neq(rt_ckpt_set(ck, "a=b", "1", &err), SD_OK);
    cr_assert_neq(rt_ckpt_set(ck, "k", "two\nlines", &err), SD_OK);
    cr_assert_eq(rt_ckpt_set(ck, "k", "", &err), SD_OK);
    cr_assert_neq(rt_ckpt_write(ck, "/dev/null/folder/x.ckpt", &err), SD_OK);
    cr_assert(strstr(err.msg, "/dev/null/folder/x.ckpt"), "%s", err.msg);
    rt_ckpt_free(ck);
    rt_ckpt_free(NULL);
}

static void expect_read_error(const char *path, const char *needle)
{
    RtCheckpoint *ck;
    SdError err = {0};
    cr_assert_neq(rt_ckpt_read(path, &ck, &err), SD_OK, "a damaged file was accepted (%s)",
                  needle);
    cr_assert_null(ck);
    cr_assert(strstr(err.msg, path), "message does not name the file: %s", err.msg);
    if (needle)
        cr_assert(strstr(err.msg, needle), "expected '%s' in: %s", needle, err.msg);
}

/* The offset of section i, from the table. */
static size_t section_offset(const uint8_t *b, int i)
{
    uint64_t off;
    memcpy(&off, b + 64 + 96 * i + 72, 8);
    return (size_t)off;
}

Test(checkpoint, corruption_is_detected_and_named)
{
    make_tmpdir();
    enum { N = 5000 };
    float params[N];
    uint8_t rng_state[33];
    RtCheckpoint *ck = sample(params, N, rng_state);
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/a.ckpt", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", tmpdir);
    SdError err = {0};
    cr_assert_eq(rt_ckpt_write(ck, path, &err), SD_OK, "%s", err.msg);
    rt_ckpt_free(ck);
    size_t n;
    uint8_t *good = read_all(path, &n);
    uint8_t *b = malloc(n + 16);
    /* layout: header 64, table 4 x 96 = 384, then state, rng, queue.empty, meta, 64-aligned */
    size_t state_at = section_offset(good, 0), rng_at = section_offset(good, 1);
    size_t meta_at = section_offset(good, 3);
    cr_assert_eq(state_at, 448);
    const struct {
        size_t at;
        const char *needle;
    } flips[] = {
        {0, "not a seedc checkpoint"}, {9, "header is corrupted"}, {17, "header is corrupted"},
        {64 + 3, "section table is corrupted"}, {64 + 96 + 80, "section table is corrupted"},
        {state_at + 1000, "section 'state' is corrupted"}, {rng_at + 5, "section 'rng' is corrupted"},
        {rng_at - 3, "padding before section 'rng'"}, {meta_at + 5, "section 'meta' is corrupted"},
        {n - 1, "padding after the last section"},
    };
    for (size_t k = 0; k < sizeof flips / sizeof flips[0]; k++) {
        memcpy(b, good, n);
        b[flips[k].at] ^= 0x10;
        write_all(bad, b, n);
        expect_read_error(bad, flips[k].needle);
    }
    /* truncated at every 61st length, and at the interesting ones */
    for (size_t len = 0; len < n; len += 61) {
        write_all(bad, good, len);
        expect_read_error(bad, NULL);
    }
    write_all(bad, good, n - 1);
    expect_read_error(bad, "truncated");
    write_all(bad, good, 40);
    expect_read_error(bad, "shorter than a checkpoint header");
    memcpy(b, good, n);
    memset(b + n, 0, 16);
    write_all(bad, b, n + 16);
    expect_read_error(bad, "more than the");
    expect_read_error(tmpdir, "not a regular file");
    snprintf(bad, sizeof bad, "%s/none.ckpt", tmpdir);
    expect_read_error(bad, "cannot open");
    free(b);
    free(good);
    remove_tree(tmpdir);
}

/* Files whose checksums are right but whose contents lie: rebuilt with correct CRCs. */
static void reseal(uint8_t *b)
{
    uint32_t t = rt_crc32(0, b + 64, 4 * 96); /* the table of the sample: 4 sections */
    memcpy(b + 24, &t, 4);
    uint32_t h = rt_crc32(0, b, 60);
    memcpy(b + 60, &h, 4);
}

Test(checkpoint, lying_sizes_with_valid_checksums_are_refused)
{
    make_tmpdir();
    float params[100];
    uint8_t rng_state[33];
    RtCheckpoint *ck = sample(params, 100, rng_state);
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/a.ckpt", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", tmpdir);
    SdError err = {0};
    cr_assert_eq(rt_ckpt_write(ck, path, &err), SD_OK, "%s", err.msg);
    rt_ckpt_free(ck);
    size_t n;
    uint8_t *good = read_all(path, &n), *b = malloc(n);

    memcpy(b, good, n);
    memset(b + 64 + 80, 0xff, 8); /* state size: 2^64 - 1 */
    reseal(b);
    write_all(bad, b, n);
    expect_read_error(bad, "lies outside");
    memcpy(b, good, n);
    b[64 + 72] = 0x41; /* offset not aligned */
    reseal(b);
    write_all(bad, b, n);
    expect_read_error(bad, "lies outside");
    memcpy(b, good, n);
    b[12] = 0xff, b[13] = 0xff, b[14] = 0xff, b[15] = 0x7f; /* 2^31 sections */
    reseal(b);
    write_all(bad, b, n);
    expect_read_error(bad, "sections");
    memcpy(b, good, n);
    b[64 + 64] = 9; /* kind */
    reseal(b);
    write_all(bad, b, n);
    expect_read_error(bad, "unknown kind 9");
    memcpy(b, good, n);
    memset(b + 64, 'x', 64); /* a name without its NUL */
    reseal(b);
    write_all(bad, b, n);
    expect_read_error(bad, "no name");
    memcpy(b, good, n);
    memcpy(b + 64 + 96, "state", 6); /* two blobs named 'state' */
    reseal(b);
    write_all(bad, b, n);
    expect_read_error(bad, "appears twice");
    memcpy(b, good, n);
    b[8] = 3; /* a version this seedc does not know */
    reseal(b);
    write_all(bad, b, n);
    expect_read_error(bad, "version 3");
    memcpy(b, good, n);
    b[8] = 2; /* version 1's table read as version 2's: refused, not misread */
    reseal(b);
    write_all(bad, b, n);
    expect_read_error(bad, NULL);
    free(b);
    free(good);
    remove_tree(tmpdir);
}

static int count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, needle) != NULL;
    closedir(d);
    return n;
}

Test(checkpoint, rotation_keeps_the_newest)
{
    make_tmpdir();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/run", tmpdir); /* created by the first save */
    SdError err = {0};
    char path[4096];
    int64_t step;
    bool found;
    cr_assert_eq(rt_ckpt_latest(dir, "ckpt", path, sizeof path, &step, &found, &err), SD_OK);
    cr_assert(!found);
    for (int64_t s = 100; s <= 700; s += 100) {
        RtCheckpoint *ck = rt_ckpt_new();
        cr_assert_eq(rt_ckpt_add(ck, "step", &s, sizeof s, &err), SD_OK);
        cr_assert_eq(rt_ckpt_save(ck, dir, "ckpt", s, 3, path, sizeof path, &err), SD_OK, "%s",
                     err.msg);
        rt_ckpt_free(ck);
        cr_assert(strstr(path, "ckpt-0000000") && strstr(path, ".ckpt"), "%s", path);
    }
    cr_assert_eq(count_files(dir, ".ckpt"), 3);
    cr_assert_eq(rt_ckpt_latest(dir, "ckpt", path, sizeof path, &step, &found, &err), SD_OK);
    cr_assert(found);
    cr_assert_eq(step, 700);
    RtCheckpoint *ck;
    cr_assert_eq(rt_ckpt_read(path, &ck, &err), SD_OK, "%s", err.msg);
    int64_t stored;
    cr_assert_eq(rt_ckpt_copy_out(ck, "step", &stored, sizeof stored, &err), SD_OK);
    cr_assert_eq(stored, 700);
    rt_ckpt_free(ck);
    /* another prefix in the same folder is left alone; a stale temporary is removed */
    char stale[4200];
    snprintf(stale, sizeof stale, "%s/.ckpt-000000000800.ckpt.tmp.12345", dir);
    write_all(stale, (const uint8_t *)"partial", 7);
    ck = rt_ckpt_new();
    cr_assert_eq(rt_ckpt_save(ck, dir, "best", 5, 1, NULL, 0, &err), SD_OK, "%s", err.msg);
    cr_assert_eq(count_files(dir, "ckpt-"), 4); /* 3 checkpoints + the temporary */
    cr_assert_eq(rt_ckpt_save(ck, dir, "ckpt", 800, 2, NULL, 0, &err), SD_OK, "%s", err.msg);
    rt_ckpt_free(ck);
    cr_assert_eq(count_files(dir, ".tmp."), 0);
    cr_assert_eq(count_files(dir, "ckpt-"), 2);
    cr_assert_eq(count_files(dir, "best-"), 1);
    cr_assert_neq(rt_ckpt_save(ck = rt_ckpt_new(), dir, "../x", 1, 1, NULL, 0, &err), SD_OK);
    rt_ckpt_free(ck);
    remove_tree(tmpdir);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The size of a temporary file being written in dir, or -1 when there is none. */
static long long temporary_size(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long long size = -1;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) {
            char p[4200];
            struct stat st;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (stat(p, &st) == 0)
                size = st.st_size;
        }
    if (d)
        closedir(d);
    return size;
}

Test(checkpoint, sigkill_mid_write_leaves_the_previous_checkpoint, .timeout = 120)
{
    make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/model.ckpt", tmpdir);
    SdError err = {0};
    /* the previous checkpoint: a small one */
    int64_t generation = 1;
    RtCheckpoint *ck = rt_ckpt_new();
    cr_assert_eq(rt_ckpt_add(ck, "generation", &generation, sizeof generation, &err), SD_OK);
    cr_assert_eq(rt_ckpt_write(ck, path, &err), SD_OK, "%s", err.msg);
    rt_ckpt_free(ck);

    /* a child writes a 256 MB one over it and is killed as soon as its temporary has data */
    const size_t big = (size_t)256 << 20;
    bool killed_mid_write = false;
    for (int attempt = 0; attempt < 5 && !killed_mid_write; attempt++) {
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            uint8_t *blob = sd_aligned_alloc(big);
            if (!blob)
                _exit(3);
            memset(blob, 0xab, big);
            int64_t g2 = 2;
            RtCheckpoint *c2 = rt_ckpt_new();
            SdError e2 = {0};
            rt_ckpt_add(c2, "generation", &g2, sizeof g2, &e2);
            rt_ckpt_add(c2, "state", blob, big, &e2);
            rt_ckpt_write(c2, path, &e2);
            _exit(0);
        }
        double t0 = now_seconds();
        long long size;
        while ((size = temporary_size(tmpdir)) < (long long)(8 << 20) &&
               now_seconds() - t0 < 30.0) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                pid = -1; /* finished before we could catch it (a very fast disk) */
                break;
            }
            usleep(200);
        }
        if (pid > 0) {
            kill(pid, SIGKILL);
            int status;
            waitpid(pid, &status, 0);
            cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
            killed_mid_write = temporary_size(tmpdir) >= 0 && temporary_size(tmpdir) < (long long)big;
        }
        /* whatever happened, model.ckpt is a whole checkpoint */
        RtCheckpoint *in;
        cr_assert_eq(rt_ckpt_read(path, &in, &err), SD_OK, "after the kill: %s", err.msg);
        int64_t g;
        cr_assert_eq(rt_ckpt_copy_out(in, "generation", &g, sizeof g, &err), SD_OK, "%s", err.msg);
        if (killed_mid_write)
            cr_assert_eq(g, 1, "the interrupted write replaced the checkpoint");
        rt_ckpt_free(in);
        if (!killed_mid_write) { /* start again from generation 1 */
            ck = rt_ckpt_new();
            rt_ckpt_add(ck, "generation", &generation, sizeof generation, &err);
            cr_assert_eq(rt_ckpt_write(ck, path, &err), SD_OK, "%s", err.msg);
            rt_ckpt_free(ck);
        }
    }
    cr_assert(killed_mid_write, "could not kill the writer in the middle of its write");
    /* the partial temporary is not a checkpoint: reading it says it is truncated */
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.")) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            RtCheckpoint *in;
            cr_assert_neq(rt_ckpt_read(p, &in, &err), SD_OK);
            cr_assert(strstr(err.msg, "truncated") || strstr(err.msg, "corrupted") ||
                          strstr(err.msg, "shorter"), "%s", err.msg);
        }
    closedir(d);
    remove_tree(tmpdir);
}
