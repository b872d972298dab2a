/* bench/data_bench.c — images/s of the data loader on Fashion-MNIST with typical SSL augmentation.
 *
 *   build/bench/data_bench [--batches N] [--batch B] [--workers 0,1,2]
 *
 * Two pipelines: SimCLR/MoCo v2 style (2 views of 28x28: crop 0.2..1, flip, jitter 0.4/0.4 with
 * p 0.8, blur k3 with p 0.5, solarize with p 0.2) and multi-crop (the same 2 global views plus 4
 * local views of 12x12, crop 0.05..0.3). The caller consumes batches as fast as they come, so the
 * number is the loader's own throughput; the training step would overlap with it. Images per CPU
 * second (all threads) is the cost, which a loaded machine does not distort as much as the wall
 * clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/data/loader.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_seconds(void) /* all threads of the process */
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static RtViewSpec global_view(void)
{
    RtViewSpec v = rt_view_spec_default(28, 28);
    v.copies = 2;
    v.scale[0] = 0.2f;
    v.flip_p = 0.5f;
    v.jitter_p = 0.8f;
    v.brightness = 0.4f;
    v.contrast = 0.4f;
    v.blur_p = 0.5f;
    v.blur_kernel = 3;
    v.solarize_p = 0.2f;
    return v;
}

static double run(const RtDataset *d, const RtAugment *aug, int workers, int batch, int batches,
                  double *wait, double *per_cpu_second)
{
    RtLoaderConfig cfg = {.data = d, .aug = aug, .batch_size = batch, .drop_last = true,
                          .shuffle = true, .seed = 1, .workers = workers, .depth = 3};
    RtLoader *l;
    SdError err = {0};
    if (rt_loader_new(&cfg, &l, &err) != SD_OK) {
        fprintf(stderr, "data_bench: %s\n", err.msg);
        exit(1);
    }
    for (int i = 0; i < 3; i++) /* warm-up: threads started, buffers touched */
        rt_loader_next(l);
    double t0 = now_seconds(), c0 = cpu_seconds();
    int64_t images = 0;
    for (int i = 0; i < batches; i++)
        images += rt_loader_next(l)->n;
    double seconds = now_seconds() - t0;
    *per_cpu_second = (double)images / (cpu_seconds() - c0);
    RtLoaderProgress p;
    rt_loader_progress(l, &p);
    *wait = p.wait_seconds;
    rt_loader_free(l);
    return (double)images / seconds;
}

int main(int argc, char **argv)
{
    int batches = 100, batch = 256;
    char worker_list[64] = "0,1,2";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--batches") == 0)
            batches = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--batch") == 0)
            batch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            snprintf(worker_list, sizeof worker_list, "%s", argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--batches N] [--batch B] [--workers 0,1,2]\n", argv[0]);
            return 2;
        }
    }
    RtDataset train;
    SdError err = {0};
    double t0 = now_seconds();
    if (rt_dataset_load("fashion-mnist", RT_SPLIT_TRAIN, NULL, &train, &err) != SD_OK) {
        fprintf(stderr, "data_bench: %s\n", err.msg);
        return 1;
    }
    printf("loaded fashion-mnist train: %lld images %dx%d in %.2f s\n", (long long)train.n,
           train.height, train.width, now_seconds() - t0);

    RtAugment simclr = {.n_specs = 1, .mean = {0.2860f}, .std = {0.3530f}};
    simclr.specs[0] = global_view();
    RtAugment multicrop = simclr;
    multicrop.n_specs = 2;
    multicrop.specs[1] = global_view();
    multicrop.specs[1].copies = 4;
    multicrop.specs[1].height = multicrop.specs[1].width = 12;
    multicrop.specs[1].scale[0] = 0.05f;
    multicrop.specs[1].scale[1] = 0.3f;

    printf("batch %d, %d batches timed (the caller only takes batches)\n", batch, batches);
    const struct {
        const char *name;
        const RtAugment *aug;
    } pipelines[] = {{"2 views 28x28      ", &simclr}, {"2x28x28 + 4x12x12  ", &multicrop}};
    for (int p = 0; p < 2; p++) {
        for (const char *w = worker_list; *w;) {
            int workers = atoi(w);
            double wait, per_cpu;
            double ips = run(&train, pipelines[p].aug, workers, batch, batches, &wait, &per_cpu);
            int views = rt_augment_n_views(pipelines[p].aug);
            printf("%s workers %d: %8.0f images/s (%8.0f views/s), %8.0f images per CPU second, "
                   "caller waited %.2f s\n", pipelines[p].name, workers, ips, ips * views, per_cpu,
                   wait);
            w = strchr(w, ',');
            if (!w)
                break;
            w++;
        }
    }
    rt_dataset_free(&train);
    return 0;
}
