/* runtime/data/idx.h — image data sets in IDX files (MNIST, Fashion-MNIST), gzip'ed or plain.
 *
 *   RtDataset train;
 *   if (rt_dataset_load("fashion-mnist", RT_SPLIT_TRAIN, NULL, &train, &err) != SD_OK) ...
 *   // train.images: u8 [n, 1, 28, 28]; train.labels: u8 [n]
 *   rt_dataset_free(&train);
 *
 * An IDX file is 0, 0, a type byte, a rank byte, rank big-endian u32 dims, then the data in C
 * order. Only unsigned-byte data (type 0x08) is read. Every size is checked against the file and
 * against limits before anything is allocated; a gzip stream is inflated with zlib, which checks
 * its CRC and length. A file that lies (truncated, corrupted, sizes that do not match) gives an
 * error naming it, never a crash. Data sets live under /usr/share/datasets/NAME (Debian's
 * dataset-* packages), or under $SEEDC_DATASETS/NAME, or under a root the caller passes. */
#ifndef SD_RUNTIME_DATA_IDX_H
#define SD_RUNTIME_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "support/status.h"

#define RT_IDX_MAX_RANK 4
/* Decoded files larger than this are refused (Fashion-MNIST's training images are 47 MB). */
#define RT_IDX_MAX_BYTES ((uint64_t)4 << 30)
#define RT_DATASETS_ROOT "/usr/share/datasets"

/* One decoded IDX file of unsigned bytes. */
typedef struct RtIdx {
    int rank;
    int64_t dims[RT_IDX_MAX_RANK];
    uint8_t *data; /* numel bytes, C order, 64-byte aligned */
    size_t nbytes;
} RtIdx;

/* Reads an IDX file; gzip is recognized by its magic bytes, not by the file name. */
SdStatus rt_idx_read(const char *path, RtIdx *out, SdError *err);
/* The same from bytes in memory (gzip'ed or plain); `what` names them in messages. */
SdStatus rt_idx_read_buffer(const uint8_t *buf, size_t n, const char *what, RtIdx *out,
                            SdError *err);
void rt_idx_free(RtIdx *x);

/* Images with their labels. Images are u8 [n, channels, height, width] (channels is 1 for IDX). */
typedef struct RtDataset {
    char name[64];
    int64_t n;
    int channels, height, width;
    int n_classes; /* largest label + 1 */
    uint8_t *images;
    uint8_t *labels;
} RtDataset;

typedef enum RtSplit { RT_SPLIT_TRAIN, RT_SPLIT_TEST } RtSplit;

/* An images file (rank 3: [n, h, w]) and a labels file (rank 1: [n]) that must agree on n. */
SdStatus rt_dataset_load_files(const char *images_path, const char *labels_path, RtDataset *out,
                               SdError *err);
/* A data set by name: "fashion-mnist" or "mnist", split train (60000) or test (10000), files
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in ROOT/NAME, where ROOT is `root` when not
 * NULL, else $SEEDC_DATASETS when set, else /usr/share/datasets. A missing folder gives an error
 * naming the package that installs it. */
SdStatus rt_dataset_load(const char *name, RtSplit split, const char *root, RtDataset *out,
                         SdError *err);
/* The first n images of d (for quick runs); n larger than d->n keeps everything. */
void rt_dataset_truncate(RtDataset *d, int64_t n);
void rt_dataset_free(RtDataset *d);

#endif
