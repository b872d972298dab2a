/* tests/codegen/conv_plan.c — which kernel, blocks and chunks code generation plans for a
 * convolution: the choices the reference tests (conv.c) cannot see, checked on the shapes of the
 * models they were measured on. */
#include "tests/codegen/conv_harness.h"

/* Stride-2 layers of 14x14 outputs (planes one column and one row larger) go through the direct
 * kernel at every batch, their planes by kernel column (15x14, 7% more) above batch 4; a plane 20%
 * larger (5x5 outputs) goes through im2col. */
Test(conv, direct_where_planned)
{
    char k[64];
    RtConvParams p;
    ConvCase c = {"s2", 2, 1, 16, 64, 1, {28, 28}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    cr_expect_str_eq(lowered_kernel(&c, 0, k, sizeof k), "rt_conv_direct_f32");
    c.batch = 32;
    cr_expect_str_eq(lower_case(&c, 0, 2, k, sizeof k, &p), "rt_conv_direct_f32");
    cr_expect(p.col_taps && p.plane[0] == 15 && p.plane[1] == 14, "col_taps %d, planes %lldx%lld", (int)p.col_taps,
              (long long)p.plane[0], (long long)p.plane[1]);
    ConvCase five = {"s2_5", 2, 32, 16, 64, 1, {10, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    cr_expect_str_eq(lowered_kernel(&five, 0, k, sizeof k), "rt_conv_gemm_f32");
}

/* The Fashion-MNIST student's batch-1 layers of few channels are shared out over 2 threads: the
 * 16 -> 32 stride-2 layer in two blocks of 7 rows (direct), the 32 -> 32 one on 14x14 in two chunks
 * of 16 channels, a 16 -> 16 one on 14x14 in two blocks of tile rows (Winograd); on one thread each
 * stays whole. */
Test(conv, small_batch1_layers_shared_by_two_threads)
{
    char k[64];
    RtConvParams p;
    ConvCase s2 = {"s2", 2, 1, 16, 32, 1, {28, 28}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    cr_assert_str_eq(lower_case(&s2, 0, 2, k, sizeof k, &p), "rt_conv_direct_f32");
    cr_expect_eq(p.rows_per_block, 7);
    lower_case(&s2, 0, 1, k, sizeof k, &p);
    cr_expect_eq(p.rows_per_block, 14);
    ConvCase wg = {"wg", 2, 1, 32, 32, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    cr_assert_str_eq(lower_case(&wg, 0, 2, k, sizeof k, &p), "rt_conv_winograd_f32");
    cr_expect_eq(rt_conv_winograd_blocks(&p), 1);
    cr_expect_eq(p.c_split, 2, "chunks of %lld", (long long)p.c_chunk);
    cr_expect_eq(p.c_chunk, 16);
    lower_case(&wg, 0, 1, k, sizeof k, &p);
    cr_expect_eq(rt_conv_winograd_blocks(&p), 1);
    cr_expect_leq(p.c_split, 1);
    ConvCase w16 = {"w16", 2, 1, 16, 16, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    cr_assert_str_eq(lower_case(&w16, 0, 2, k, sizeof k, &p), "rt_conv_winograd_f32");
    cr_expect_eq(rt_conv_winograd_blocks(&p), 2);
    lower_case(&w16, 0, 1, k, sizeof k, &p);
    cr_expect_eq(rt_conv_winograd_blocks(&p), 1);
}

/* Depthwise layers go through the lanes kernel (16 channels a vector) on small planes and at stride
 * 2 up to 56x56, and through the row loops elsewhere: EfficientNet-B0's and MobileNetV2's shapes. */
Test(conv, depthwise_lanes_where_planned)
{
    static const struct {
        int64_t channels, plane, kernel, stride;
        bool lanes;
    } shapes[] = {{672, 14, 5, 1, true}, {1152, 7, 3, 1, true}, {240, 28, 3, 2, true}, {144, 56, 5, 2, true},
                  {144, 56, 3, 1, false}, {96, 112, 3, 2, false}, {144, 56, 3, 2, true}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t c = shapes[i].channels, hw = shapes[i].plane, k = shapes[i].kernel, pad = k / 2;
        ConvCase cc = {"dw", 2, 1, c, c, c, {hw, hw}, {k, k}, {shapes[i].stride, shapes[i].stride}, {1, 1},
                       {pad, pad, pad, pad}, .bias = true};
        char name[64];
        RtConvParams p;
        cr_assert_str_eq(lower_case(&cc, 0, 2, name, sizeof name, &p), "rt_conv_depthwise_f32");
        cr_expect_eq(rt_conv_depthwise_lanes_rows(&p) > 0, shapes[i].lanes, "%lld channels of %lldx%lld, %lldx%lld /%lld",
                     (long long)c, (long long)hw, (long long)hw, (long long)k, (long long)k, (long long)shapes[i].stride);
    }
    /* a channel multiplier: never */
    ConvCase m = {"dw2", 2, 1, 8, 16, 8, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    RtConvParams p;
    char name[64];
    lower_case(&m, 0, 2, name, sizeof name, &p);
    cr_expect_eq(rt_conv_depthwise_lanes_rows(&p), 0);
}

/* Case c on `threads` threads goes through im2col and C^T against weights packed transposed, in
 * `split` chunks of `chunk` channels (chunk 0: any). */
static void expect_transposed(const ConvCase *c, int threads, int64_t split, int64_t chunk)
{
    char k[64];
    RtConvParams p;
    cr_expect_str_eq(lower_case(c, 0, threads, k, sizeof k, &p), "rt_conv_gemm_f32", "%s on %d", c->name, threads);
    cr_expect_eq(p.packed_w, RT_CONV_PACKED_T, "%s on %d", c->name, threads);
    cr_expect_eq(p.c_split > 1 ? p.c_split : 1, split, "%s on %d: chunks of %lld", c->name, threads,
                 (long long)p.c_chunk);
    if (chunk)
        cr_expect_eq(p.c_chunk, chunk, "%s on %d", c->name, threads);
}

/* Batch-1 layers of 7x7 outputs (C^T against weights packed transposed) share their channels out
 * evenly on 2 threads, in chunks that need not be whole slivers: 64 + 64 channels, not 48 + 80. */
Test(conv, transposed_chunks_balanced)
{
    ConvCase c = {"t", 2, 1, 32, 128, 1, {14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    expect_transposed(&c, 2, 2, 64);
}

/* On one thread a batch-1 layer is one item, whole (chunks repeat its im2col for nothing); a 4x4
 * one, whose GEMM is one vector wide, computes C^T against weights packed transposed. */
Test(conv, one_thread_no_chunks)
{
    ConvCase c = {"t4", 2, 1, 128, 128, 1, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    expect_transposed(&c, 1, 1, 0);
    expect_transposed(&c, 2, 2, 0);
}

/* A batch-1 Winograd layer of one block on 2 threads goes in 2 chunks, one a thread (each task
 * multiplies its block's transformed input by every chunk it takes: 8 chunks of 32 read it 4 times
 * a thread). */
Test(conv, winograd_one_block_one_chunk_a_thread)
{
    ConvCase c = {"w", 2, 1, 256, 256, 1, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    char k[64];
    RtConvParams p;
    cr_expect_str_eq(lower_case(&c, 0, 2, k, sizeof k, &p), "rt_conv_winograd_f32");
    cr_expect_eq(rt_conv_winograd_blocks(&p), 1);
    cr_expect_eq(p.c_split, 2, "chunks of %lld", (long long)p.c_chunk);
    cr_expect_eq(p.c_chunk, 128);
}

/* Batch-1 1x1 convolutions on 2 threads (ResNet-50's 14x14 and 28x28 layers among them) go in
 * items that share the work out evenly: the heavier thread's items, claimed as the pool hands them
 * out, at most 56% of all (196 columns of 256 channels had gone in items of 96, 96 and 64
 * channels: 62.5%; MobileNetV2's layers of 32 or 24 channels in one item: 100%). */
Test(conv, pointwise_items_balanced)
{
    static const int64_t shapes[][3] = {{1024, 256, 14}, {256, 1024, 14}, {512, 128, 28}, {1024, 512, 14},
                                        {256, 64, 56}, {2048, 512, 7}, {40, 100, 12}, {192, 32, 28},
                                        {144, 24, 56}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t hw = shapes[i][2];
        ConvCase c = {"pw", 2, 1, shapes[i][0], shapes[i][1], 1, {hw, hw}, {1, 1}, {1, 1}, {1, 1}, {0}, .bias = false};
        char k[64];
        RtConvParams params;
        cr_assert_str_eq(lower_case(&c, 0, 2, k, sizeof k, &params), "rt_conv_pointwise_f32");
        const RtConvParams *p = &params;
        const int64_t cs = p->c_split > 1 ? p->c_split : 1, nb = rt_conv_pw_blocks(p);
        const int64_t blk = rt_conv_pw_block_cols(p), vol = hw * hw;
        double load[2] = {0, 0}, total = 0;
        for (int64_t it = 0; it < cs * nb; it++) {
            const int64_t b = it % nb, ch = it / nb;
            const int64_t cw = cs > 1 ? (ch == cs - 1 ? c.cout - ch * p->c_chunk : p->c_chunk) : c.cout;
            const double size = (double)cw * (double)(b == nb - 1 ? vol - b * blk : blk);
            load[load[1] < load[0]] += size;
            total += size;
        }
        cr_expect_leq(load[0] > load[1] ? load[0] : load[1], 0.56 * total,
                      "%lld -> %lld channels at %lldx%lld: %lld chunks of %lld, %lld blocks of %lld", (long long)c.cin,
                      (long long)c.cout, (long long)hw, (long long)hw, (long long)cs, (long long)p->c_chunk,
                      (long long)nb, (long long)blk);
    }
}

/* F(4x4, 3x3) takes ResNet's 3x3 layers of 28x28 outputs or more at batch 1, and of 14x14 or more
 * at 32, in blocks of about 112 tiles of equal size (14 rows of 14 tiles in 2 blocks of 7, not 8
 * and 6), and those in lanes (batch 32 at 7x7: blocks of 16 images, 2 tile rows each), with f32
 * products and with bf16 ones; F(2x2, 3x3) the 14x14 ones at batch 1 (16 tiles), the 7x7 ones at
 * batch 1 (outputs under 8), and layers of few channels and tiles (the Fashion-MNIST teacher's 32
 * -> 32 at 28x28, batch 1). */
Test(conv, winograd4_where_planned)
{
    static const struct {
        int64_t batch, channels, plane;
        bool f4;
        int64_t rows_per_block;
    } shapes[] = {{1, 64, 56, true, 7},   {1, 128, 28, true, 7},  {1, 256, 14, false, 0}, {32, 64, 56, true, 8},
                  {32, 256, 14, true, 26}, {1, 512, 7, false, 0}, {32, 512, 7, true, 32}, {1, 32, 28, false, 0},
                  {8, 32, 28, true, 14}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t c = shapes[i].channels, hw = shapes[i].plane;
        ConvCase cc = {"wg", 2, shapes[i].batch, c, c, 1, {hw, hw}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true};
        char k[64];
        RtConvParams p;
        lower_case(&cc, 0, 2, k, sizeof k, &p);
        const long long n = shapes[i].batch, cl = c, side = hw;
        cr_expect_str_eq(k, shapes[i].f4 ? "rt_conv_winograd4_f32" : "rt_conv_winograd_f32",
                         "batch %lld, %lld channels at %lldx%lld", n, cl, side, side);
        if (shapes[i].f4)
            cr_expect_eq(p.rows_per_block, shapes[i].rows_per_block, "batch %lld, %lld channels at %lldx%lld: %lld",
                         n, cl, side, side, (long long)p.rows_per_block);
        if (!shapes[i].f4)
            continue;
        /* with bf16 products the same, its transforms packed as bf16 pairs */
        lower_case(&cc, PLAN_BF16, 2, k, sizeof k, &p);
        cr_expect_str_eq(k, "rt_conv_winograd4_f32", "bf16: batch %lld, %lld channels at %lldx%lld", n, cl, side, side);
        cr_expect_eq(p.use_blas, RT_GEMM_BF16, "bf16: batch %lld, %lld channels at %lldx%lld", n, cl, side, side);
        cr_expect_eq(p.rows_per_block, shapes[i].rows_per_block, "bf16: batch %lld, %lld channels at %lldx%lld", n,
                     cl, side, side);
    }
}

/* Case c (weights w, bias b) on x in bf16 (or f32) on `threads` threads, `disable` as --disable */
static void run_case(const ConvCase *c, const float *w, const float *b, const float *x, bool bf16, int threads,
                     const char *disable, RtTensor *y)
{
    SdOptions opt = sd_options_default();
    opt.gemm = "builtin";
    opt.precision = bf16 ? "bf16" : NULL;
    opt.disable = disable;
    opt.threads = threads;
    opt.verify = true;
    const Dims3 d = dims3(c);
    RtTensor in = {.dtype = SD_DT_F32, .rank = 4, .dims = {c->batch, c->cin, d.in[1], d.in[2]}, .data = (void *)x};
    SdError err = {0};
    cr_assert_eq(harness_run_with(conv_graph(c, w, b, NULL), &opt, &in, 1, y, 1, &err), SD_OK, "%s", err.msg);
}

/* bf16 Winograd products on 16 tiles or fewer (a 7x7 layer of 256 channels at batch 1) are computed
 * transposed, the weights' transforms the wide operand; not on more tiles, nor in f32. Transposed,
 * each output is the same sequence of vdpbf16ps in the same order as untransposed: the outputs
 * equal those of `--disable winograd-at` bit for bit, and those of f32 within bf16's rounding (SQNR 30 dB); 320
 * input channels (two blocks of K), 272 output channels (five slivers of 48 and one of 32; on 2
 * threads chunks of 136, the last sliver 40 of 48 columns). */
Test(conv, winograd_bf16_products_transposed_on_few_tiles)
{
    ConvCase cc = {"wat", 2, 1, 320, 272, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    char k[64];
    RtConvParams p;
    lower_case(&cc, PLAN_BF16, 2, k, sizeof k, &p);
    cr_expect_str_eq(k, "rt_conv_winograd_f32");
    cr_expect(p.winograd_at, "bf16 at batch 1: %lld tiles a block", (long long)p.rows_per_block * 4);
    lower_case(&cc, 0, 2, k, sizeof k, &p);
    cr_expect(!p.winograd_at, "f32");
    cc.batch = 8;
    lower_case(&cc, PLAN_BF16, 2, k, sizeof k, &p);
    cr_expect(!p.winograd_at, "bf16 at batch 8: %lld tiles a block", (long long)p.rows_per_block * 4);
    /* untransposed, chunks the GEMM packs whole (at most 240 channels) of about equal size: 512
     * channels in 3 of 176 (had been 240, 240 and 32) */
    ConvCase wide = {"wat8", 2, 8, 512, 512, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, .bias = true};
    lower_case(&wide, PLAN_BF16, 1, k, sizeof k, &p);
    cr_expect(!p.winograd_at && p.c_split == 3 && p.c_chunk == 176, "512 channels: %lld chunks of %lld",
              (long long)p.c_split, (long long)p.c_chunk);
    cc.batch = 1;

    const int64_t nw = 272 * 320 * 9, nx = 320 * 49, ny = 272 * 49;
    float *w = malloc((size_t)nw * sizeof *w), *b = malloc(272 * sizeof *b), *x = malloc((size_t)nx * sizeof *x);
    cr_assert(w && b && x);
    for (int64_t i = 0; i < nw; i++)
        w[i] = sinf((float)i * 0.61f) * 0.05f;
    for (int i = 0; i < 272; i++)
        b[i] = 0.01f * (float)(i % 7);
    for (int64_t i = 0; i < nx; i++)
        x[i] = cosf((float)i * 0.23f);
    RtTensor ref;
    run_case(&cc, w, b, x, false, 1, NULL, &ref);
    for (int threads = 1; threads <= 2; threads++) {
        RtTensor at, plain;
        run_case(&cc, w, b, x, true, threads, NULL, &at);
        run_case(&cc, w, b, x, true, threads, "winograd-at", &plain);
        cr_assert(memcmp(at.data, plain.data, (size_t)ny * sizeof(float)) == 0, "%d threads: transposed differs",
                  threads);
        double signal = 0, noise = 0;
        for (int64_t i = 0; i < ny; i++) {
            const double r = ((const float *)ref.data)[i], e = ((const float *)at.data)[i] - r;
            signal += r * r, noise += e * e;
        }
        cr_assert(10 * log10(signal / noise) >= 30, "%d threads: SQNR against f32 %.1f dB", threads,
                  10 * log10(signal / noise));
        rt_tensor_free(&at), rt_tensor_free(&plain);
    }
    rt_tensor_free(&ref);
    free(w), free(b), free(x);
}
