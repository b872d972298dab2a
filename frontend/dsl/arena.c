/* frontend/dsl/arena.c — bump allocation for a program's syntax tree, strings and constants:
 * nothing is freed one by one, everything goes with the program. */
#include <stdlib.h>
#include <string.h>

#include "frontend/dsl/ast.h"

typedef struct DslArenaChunk {
    struct DslArenaChunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} DslArenaChunk;

enum { CHUNK_BYTES = 64 * 1024 };

void *dsl_arena_alloc(DslArena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    DslArenaChunk *c = a->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *dsl_arena_strndup(DslArena *a, const char *s, size_t n)
{
    char *p = dsl_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

void dsl_arena_free(DslArena *a)
{
    for (DslArenaChunk *c = a->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->chunks = NULL;
}
