/* frontend/dsl/experiment_internal.h — what experiment.c, experiment_apply.c and
 * experiment_sections.c share: the key tables (a key's name, type, place and range) and the
 * functions that apply them to a section. Not for use outside these files. */
#ifndef SD_DSL_EXPERIMENT_INTERNAL_H
#define SD_DSL_EXPERIMENT_INTERNAL_H

#include <stddef.h>

#include "frontend/dsl/lower.h"

typedef enum KType {
    K_INT,    /* int64_t */
    K_FLOAT,  /* double */
    K_BOOL,   /* bool */
    K_STR,    /* char[size] */
    K_INPATH, /* char[size], resolved relative to the recipe's folder */
    K_PAIR,   /* double[2] */
    K_FLOATS, /* double[max], count at count_off (int) */
    K_INTS,   /* int64_t[max], count at count_off (int) */
    K_NAMES,  /* char[max][DSL_NAME_MAX], count at count_off (int) */
    K_ENUM,   /* int, index into choices */
    K_NET,    /* char[DSL_NAME_MAX]: a network of this experiment */
    K_MODEL,  /* a DSL model call: DslNetwork.model and .args */
} KType;

typedef struct Key {
    const char *name;
    KType type;
    size_t off;
    double lo, hi;               /* numbers: the allowed range */
    size_t size;                 /* K_STR/K_INPATH: buffer bytes; lists: max items */
    size_t count_off;            /* lists: where the count goes */
    const char *const *choices;  /* K_ENUM */
    unsigned methods;            /* method keys: the methods it applies to (bit per DslMethodKind), 0: all */
} Key;

#define NUM(n, t, T, f, lo, hi) {n, t, offsetof(T, f), lo, hi, 0, 0, NULL, 0}
#define STR(n, t, T, f) {n, t, offsetof(T, f), 0, 0, sizeof(((T *)0)->f), 0, NULL, 0}
#define LIST(n, t, T, f, cnt, lo, hi) \
    {n, t, offsetof(T, f), lo, hi, sizeof(((T *)0)->f) / sizeof(((T *)0)->f[0]), offsetof(T, cnt), NULL, 0}
#define ENUM(n, T, f, ch) {n, K_ENUM, offsetof(T, f), 0, 0, 0, 0, ch, 0}
#define BIG 1e18

typedef struct X {
    const DslProgram *p;
    DslExperiment *e;
    SdError *err;
    DslEval E;
    DslArena arena;
    char dir[DSL_PATH_MAX]; /* the recipe's folder, "" for the working one */
} X;

typedef SdStatus (*SectionFn)(X *x, const DslSection *s, void *base);

typedef struct Sub {
    const char *name;
    SectionFn fn;
} Sub;

/* experiment_apply.c: values by key type, sections by table */
SdStatus dsl_exp_set_choice(X *x, const DslEntry *en, const char *s, const char *const *choices, int *out);
/* Applies every entry of s: values by `keys`, sections by `subs`. */
SdStatus dsl_exp_apply(X *x, const DslSection *s, const Key *keys, const Sub *subs, void *base);
SdStatus dsl_exp_no_label(X *x, const DslSection *s);
/* `key LABEL { ... }`: the label is one of choices. */
SdStatus dsl_exp_label_choice(X *x, const DslSection *s, const char *const *choices, int *out);

/* experiment_sections.c: the sections of an experiment */
SdStatus dsl_exp_sec_data(X *x, const DslSection *s, void *b);
SdStatus dsl_exp_sec_network(X *x, const DslSection *s, void *b);
SdStatus dsl_exp_sec_method(X *x, const DslSection *s, void *b);
SdStatus dsl_exp_sec_optimizer(X *x, const DslSection *s, void *b);
SdStatus dsl_exp_sec_schedule(X *x, const DslSection *s, void *b);
SdStatus dsl_exp_sec_eval(X *x, const DslSection *s, void *b);
SdStatus dsl_exp_sec_checkpoint(X *x, const DslSection *s, void *b);
SdStatus dsl_exp_sec_export(X *x, const DslSection *s, void *b);

#endif
