/* codegen/lower/conv_split.c — how a convolution's work is cut into items for the threads: output
 * channel chunks beside the kernels' own blocks of images and columns. Few items (a batch-1 layer)
 * are chosen by the longest thread's share as rt_parallel_for hands them out, since a chunk more or
 * less than the channels divide evenly left one thread doing half again the other's work. */
#include "codegen/lower/conv_internal.h"

#include "runtime/kernels/gemm.h"

/* Output-channel chunks (multiples of 16 channels, at least 32) that bring `base` items up to
 * CG_CONV_MIN_ITEMS where the channels allow. On one thread chunks only cost: each repeats its
 * block's im2col or input transform, and narrows the GEMM (ResNet-18 at batch 1, 1 thread, 11%
 * faster without; its 7x7 layers' chunks of 32 channels had run the 8 x 16 micro-kernel). */
void cg_conv_split_channels(RtConvParams *p, int64_t cout_g, int64_t base, int threads)
{
    p->c_split = 1, p->c_chunk = cout_g;
    if (threads < 2 || base >= CG_CONV_MIN_ITEMS || cout_g < 64)
        return;
    int64_t want = (CG_CONV_MIN_ITEMS + base - 1) / base, chunk = (cout_g + want - 1) / want;
    chunk = (chunk + 15) / 16 * 16;
    if (chunk < 32)
        chunk = 32;
    p->c_chunk = chunk;
    p->c_split = (cout_g + chunk - 1) / chunk;
    if (p->c_split < 2)
        p->c_split = 1, p->c_chunk = cout_g;
}

/* Chunks of cout_g channels for `want` of them, whole vectors each; false if that is not `want`
 * chunks' worth of split. */
static bool chunks_for(RtConvParams *q, int64_t cout_g, int64_t want)
{
    q->c_split = 1, q->c_chunk = cout_g;
    if (want < 2)
        return true;
    const int64_t chunk = ((cout_g + want - 1) / want + 15) / 16 * 16;
    q->c_chunk = chunk, q->c_split = (cout_g + chunk - 1) / chunk;
    if (q->c_split < 2)
        q->c_split = 1, q->c_chunk = cout_g;
    return q->c_split > 1;
}

/* The fewest chunks (whole vectors, 16 channels at least) that give each thread an item where
 * `base` items are fewer than the threads; else cg_conv_split_channels's. Winograd's items: each
 * task transforms its block's input once and multiplies it by every chunk it takes, so a task of
 * four chunks of 32 read the transformed input (400-800 KB at batch 1) four times where one of 128
 * reads it once: batch 1, 2 threads, alone, 128 channels on 28x28 0.264 -> 0.225 ms, 256 on 14x14
 * 0.367 -> 0.327, 512 on 7x7 0.367 -> 0.350. Down to 32 channels in 2 chunks of 16 rather than
 * blocks of tile rows (winograd_rows_per_block), which cut a 14x14 layer's 7 tile rows 4 + 3: 32
 * channels 9.4 -> 8.7 us. */
void cg_conv_split_for_threads(RtConvParams *p, int64_t cout_g, int64_t base, int threads)
{
    if (threads < 2 || base >= threads || cout_g < 32) {
        cg_conv_split_channels(p, cout_g, base, threads);
        return;
    }
    const int64_t want = (threads + base - 1) / base;
    chunks_for(p, cout_g, want < cout_g / 16 ? want : cout_g / 16);
}

/* Where the GEMM of a chunk (cols columns, K = k) computes C^T, the channels are the columns of C^T:
 * chunks of whole slivers (64 = 48 + 16 channels spent a quarter of a 7x7 layer's work in the narrow
 * edge micro-kernel). */
void cg_conv_sliver_chunks(RtConvParams *p, int64_t cout_g, int64_t cols, int64_t k)
{
    if (p->c_split <= 1 || p->c_chunk % RT_GEMM_NR == 0 || !rt_gemm_transposed(p->c_chunk, cols, k))
        return;
    p->c_chunk = (p->c_chunk + RT_GEMM_NR - 1) / RT_GEMM_NR * RT_GEMM_NR;
    p->c_split = (cout_g + p->c_chunk - 1) / p->c_chunk;
    if (p->c_split < 2)
        p->c_split = 1, p->c_chunk = cout_g;
}

/* The longest thread's share of items (sizes[i] each) as rt_parallel_for runs them: cut into
 * cg_split_tasks tasks of consecutive items, each claimed in turn by the thread free first. */
static double items_makespan(const double *sizes, int64_t n, int64_t grain, int threads)
{
    double load[64] = {0}, worst = 0.0;
    threads = threads > 64 ? 64 : threads;
    const int64_t tasks = cg_split_tasks(n, grain, threads);
    for (int64_t t = 0; t < tasks; t++) {
        double task = 0.0;
        for (int64_t i = t * n / tasks; i < (t + 1) * n / tasks; i++)
            task += sizes[i];
        int u = 0;
        for (int v = 1; v < threads; v++)
            u = load[v] < load[u] ? v : u;
        load[u] += task;
    }
    for (int t = 0; t < threads; t++)
        worst = load[t] > worst ? load[t] : worst;
    return worst;
}

/* What an item costs, in products of one input channel: its own, reading its weights (at batch 1
 * they come from memory: a chunk's weights as dear as about ITEM_WEIGHT_READ columns of products,
 * at 15 GB/s against 200 GFLOP/s a core) and its columns (from cache, ITEM_COLUMN_READ rows). */
#define ITEM_WEIGHT_READ 27.0
#define ITEM_COLUMN_READ 8.0
#define ITEM_EDGE_SLIVER 1.5
static double item_cost(int64_t channels, int64_t cols, bool transposed)
{
    /* C^T's channels past its whole slivers of RT_GEMM_NR: narrower micro-kernels, dearer a channel */
    const int64_t rest = transposed ? channels % RT_GEMM_NR : 0;
    const double ch = (double)(channels - rest) + ITEM_EDGE_SLIVER * (double)rest;
    return ch * (double)cols + ITEM_WEIGHT_READ * (double)channels + ITEM_COLUMN_READ * (double)cols;
}

/* The sizes of candidate q's items (at most 256; 0 when there are more) and the grain their
 * tasks are cut by. */
typedef int64_t (*ItemSizesFn)(const RtConvParams *q, const void *ctx, double *sizes, int64_t *grain);

/* The chunk count (1, or whole vectors of cout_g / want for want up to cout_g / 32) whose items
 * give the shortest longest thread. */
static void best_chunks(RtConvParams *p, int64_t cout_g, int threads, ItemSizesFn item_sizes, const void *ctx)
{
    RtConvParams best = *p;
    double best_cost = 0.0;
    for (int64_t want = 1; want == 1 || want <= cout_g / 32; want++) {
        RtConvParams q = *p;
        if (!chunks_for(&q, cout_g, want) && want > 1)
            continue;
        double sizes[256];
        int64_t grain;
        const int64_t n = item_sizes(&q, ctx, sizes, &grain);
        if (n == 0)
            break;
        const double cost = items_makespan(sizes, n, grain, threads);
        if (want == 1 || cost < best_cost)
            best = q, best_cost = cost;
    }
    *p = best;
}

/* The width of chunk c of q's chunks of cout_g channels. */
static int64_t chunk_width(const RtConvParams *q, int64_t cout_g, int64_t c)
{
    const int64_t cs = q->c_split > 1 ? q->c_split : 1;
    return cs > 1 ? (c == cs - 1 ? cout_g - c * q->c_chunk : q->c_chunk) : cout_g;
}

typedef struct {
    int64_t cout_g, base, n_blocks, cols, last, k;
} BlockItems;

/* Items (block, chunk), chunk fastest, each block's chunks a run */
static int64_t block_item_sizes(const RtConvParams *q, const void *ctx, double *sizes, int64_t *grain)
{
    const BlockItems *b = ctx;
    const int64_t cs = q->c_split > 1 ? q->c_split : 1, n = b->base * cs;
    if (n > 256)
        return 0;
    const bool t = b->n_blocks == 1 && rt_gemm_transposed(q->c_chunk, b->cols, b->k);
    for (int64_t i = 0; i < n; i++) {
        const int64_t blk = i / cs % b->n_blocks;
        sizes[i] = item_cost(chunk_width(q, b->cout_g, i % cs), blk == b->n_blocks - 1 ? b->last : b->cols, t);
    }
    *grain = cs;
    return n;
}

/* Channel chunks for the im2col and direct kernels where their `base` items (blocks of columns,
 * `cols` each, the last of every n_blocks `last`; K = k) are fewer than 4 a thread: the
 * number whose items, chunk fastest and each block's chunks a run (the grain), give the shortest
 * longest thread. cg_conv_split_channels made up 8 items regardless, unevenly where the chunks did
 * not divide the channels: the Fashion-MNIST teacher's 7x7 layer of 128 channels at batch 1 went
 * in chunks of 48, 48 and 32, one thread taking the first and the other two. */
void cg_conv_balanced_chunks(RtConvParams *p, int64_t cout_g, int64_t base, int64_t n_blocks, int64_t cols,
                             int64_t last, int64_t k, int threads)
{
    if (threads < 2 || base >= 4 * threads || base > 64)
        return;
    const BlockItems b = {cout_g, base, n_blocks, cols, last, k};
    best_chunks(p, cout_g, threads, block_item_sizes, &b);
}

typedef struct {
    int64_t cout_g, images, pixels, cin_g;
} PointwiseItems;

/* Items (image, chunk, block of columns), block fastest; with C^T whole images, each image's chunks
 * a run */
static int64_t pointwise_item_sizes(const RtConvParams *q, const void *ctx, double *sizes, int64_t *grain)
{
    const PointwiseItems *pw = ctx;
    RtConvParams r = *q;
    const bool t = rt_gemm_transposed(q->c_chunk, pw->pixels, pw->cin_g);
    r.packed_w = t ? RT_CONV_PACKED_T : RT_CONV_PACKED_NONE; /* its blocks (rt_conv_pw_blocks) */
    const int64_t blk = rt_conv_pw_block_cols(&r), nb = rt_conv_pw_blocks(&r), cs = q->c_split > 1 ? q->c_split : 1;
    const int64_t n = pw->images * cs * nb;
    if (n > 256)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t b = i % nb;
        sizes[i] = item_cost(chunk_width(q, pw->cout_g, i / nb % cs), b == nb - 1 ? pw->pixels - b * blk : blk, t);
    }
    *grain = t ? cs : 1;
    return n;
}

/* A 1x1 convolution's channel chunks, where its images and their blocks of columns
 * (rt_conv_pw_blocks, whose width depends on the chunk) make fewer than 4 items a thread: the
 * number whose items give the shortest longest thread. ResNet-50 at batch 1: its 14x14 layers of
 * 256 channels had gone in 3 items (96, 96 and 64 channels), 0.31 ms on 2 threads against 0.50 on
 * one (2 items of 128 channels: 0.25 ms); in the network, 0.32-0.37 -> 0.26-0.32 ms each. */
void cg_conv_pointwise_chunks(RtConvParams *p, int64_t cout_g, int64_t pixels, int64_t cin_g, int threads)
{
    p->c_split = 1, p->c_chunk = cout_g;
    const int64_t images = p->batch * p->groups;
    if (threads < 2 || images * rt_conv_pw_blocks(p) >= 4 * threads)
        return;
    const PointwiseItems pw = {cout_g, images, pixels, cin_g};
    best_chunks(p, cout_g, threads, pointwise_item_sizes, &pw);
    /* fewer items than threads (too few channels for chunks of 32): blocks of columns instead, one
     * a thread. MobileNetV2's 28x28 layers of 32 channels ran on one thread at batch 1. */
    const int64_t per_block = images * (p->c_split > 1 ? p->c_split : 1);
    if (per_block * rt_conv_pw_blocks(p) < threads)
        p->col_blocks = (threads + per_block - 1) / per_block;
}
