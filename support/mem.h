/* support/mem.h — allocation that is checked, aligned and overflow-safe.
 * Every size that comes from a file goes through the checked multiplications here before it
 * reaches an allocator. Buffers that hold tensor data are 64-byte aligned. */
#ifndef SD_SUPPORT_MEM_H
#define SD_SUPPORT_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SD_ALIGN 64

/* NULL on failure (never aborts); sd_aligned_free accepts NULL. */
void *sd_aligned_alloc(size_t nbytes);
void *sd_aligned_calloc(size_t nbytes);
void sd_aligned_free(void *p);
/* Gives the pages of freed heap blocks back to the system. glibc keeps them in the process, and
 * frees below its mmap threshold (up to 32 MB once a larger block was freed) never shrink the
 * heap: a model's weights freed as they went into the compiled blob stayed resident through the
 * compile. A no-op where the C library has no such call. */
void sd_release_freed(void);

/* strdup that returns NULL on failure and maps NULL to NULL. */
char *sd_strdup(const char *s);

/* Round n up to a multiple of SD_ALIGN. */
static inline size_t sd_align_up(size_t n) { return (n + (SD_ALIGN - 1)) & ~(size_t)(SD_ALIGN - 1); }

/* Checked arithmetic: false on overflow or negative operands. */
bool sd_mul_i64(int64_t a, int64_t b, int64_t *out);
bool sd_add_i64(int64_t a, int64_t b, int64_t *out);
bool sd_mul_size(size_t a, size_t b, size_t *out);

/* Product of dims[0..rank) with overflow and sign checks. The empty product is 1. */
bool sd_numel_checked(const int64_t *dims, int rank, int64_t *out);

#endif
