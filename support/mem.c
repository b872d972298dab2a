/* support/mem.c — checked and aligned allocation. */
#include "support/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Blocks this large (weights, packed weights, scratch arenas, a model file) are asked to live on
 * 2 MB pages where the kernel allows it (transparent huge pages in madvise mode, as Debian ships
 * it): 512 times fewer page faults on first touch and TLB misses while kernels stream them. */
#define SD_HUGE_MIN ((size_t)4 << 20)
#define SD_HUGE_PAGE ((size_t)2 << 20)

void *sd_aligned_alloc(size_t nbytes)
{
    size_t n = sd_align_up(nbytes ? nbytes : 1);
    if (n < nbytes)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (n >= SD_HUGE_MIN) {
        size_t whole = (n + SD_HUGE_PAGE - 1) & ~(SD_HUGE_PAGE - 1);
        void *p = aligned_alloc(SD_HUGE_PAGE, whole);
        if (p)
            madvise(p, whole, MADV_HUGEPAGE); /* advice: without huge pages it is still memory */
        return p;
    }
#endif
    return aligned_alloc(SD_ALIGN, n);
}

void *sd_aligned_calloc(size_t nbytes)
{
    void *p = sd_aligned_alloc(nbytes);
    if (p)
        memset(p, 0, sd_align_up(nbytes ? nbytes : 1));
    return p;
}

void sd_aligned_free(void *p) { free(p); }

void sd_release_freed(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

char *sd_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

bool sd_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return false;
    return !__builtin_mul_overflow(a, b, out);
}

bool sd_add_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return false;
    return !__builtin_add_overflow(a, b, out);
}

bool sd_mul_size(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

bool sd_numel_checked(const int64_t *dims, int rank, int64_t *out)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        if (!sd_mul_i64(n, dims[i], &n))
            return false;
    *out = n;
    return true;
}
