/* frontend/dsl/eval.h — the interpreter that runs a model's program once to build its IR, and
 * the values it computes with (integers, numbers, booleans, strings, lists, tensors). Internal to
 * frontend/dsl: eval.c evaluates expressions, exec.c runs statements, calls and models,
 * builtins.c holds the scalar functions, lower.h the layers that emit IR, init.c the parameter
 * initializers; experiment.c reads experiments with the same expression evaluator.
 *
 * Naming: every layer or block call takes the next position in its scope (as modules in
 * PyTorch's nn.Sequential) and is named by it unless `name=` says otherwise; a layer's parameters
 * are PATH.weight, PATH.bias... so a model written in torchvision's order has torchvision's
 * state_dict names. A block that builds no layer (pure arithmetic) takes no position. */
#ifndef SD_DSL_EVAL_H
#define SD_DSL_EVAL_H

#include "frontend/dsl/ast.h"

typedef enum DslVKind { V_NONE, V_INT, V_FLOAT, V_BOOL, V_STR, V_LIST, V_TENSOR } DslVKind;

typedef struct DslValue DslValue;
struct DslValue {
    DslVKind kind;
    union {
        int64_t i;
        double f;
        bool b;
        const char *s;
        struct { int n; DslValue *items; } list;
        IrValue *t;
    } u;
};

struct DslModel {
    const DslDecl *decl;
    const DslProgram *program;
};

struct DslProgram {
    DslArena arena;
    const char *path;
    int n_sources;
    char **sources;          /* file texts (malloc'd) */
    int n_decls;
    DslDecl **decls;         /* every declaration, imports first */
    int n_models;
    DslModel *models;        /* every model; decl->in_root marks the loaded file's own */
    int n_globals;
    const char **global_names; /* `let` values, evaluated at load */
    DslValue *globals;
};

/* Variables of one block call. */
typedef struct DslFrame {
    int n, cap;
    const char **names;
    DslValue *values;
} DslFrame;

typedef struct DslCallSite {
    const char *callee;
    DslLoc loc;
} DslCallSite;

enum { DSL_MAX_CALL_DEPTH = 64, DSL_SCOPE_MAX = 512 };
/* Hostile sizes stop before allocation: one tensor, and everything a model holds (elements). */
#define DSL_MAX_TENSOR_ELEMS ((int64_t)1 << 28)
#define DSL_MAX_MODEL_ELEMS ((int64_t)1 << 29)

typedef struct DslEval {
    const DslProgram *prog;
    DslArena *arena;          /* values of this evaluation */
    SdError *err;
    DslFrame *frame;          /* NULL while evaluating `let`s */
    /* lowering (g NULL: constants only) */
    IrGraph *g;
    const char *prefix;
    const DslInstanceOptions *opt;
    char scope[DSL_SCOPE_MAX]; /* path of the current scope ("layer1.0"); while a layer is
                                * lowered, the layer's own path ("layer1.0.conv1") */
    int counter;              /* next position in it */
    DslCallSite stack[DSL_MAX_CALL_DEPTH];
    int depth;
    int64_t steps;
    DslInstanceInfo info;
    bool returning;
    DslValue ret;
    const DslStmt *ret_stmt;  /* the return that produced `ret` (names of a model's outputs) */
    IrValue *pending_input;   /* the tensor a model's `input` statement binds */
} DslEval;

/* ---- values ---- */
const char *dsl_kind_name(DslVKind k);           /* "an integer", "a tensor", ... */
bool dsl_value_is_number(const DslValue *v);
double dsl_value_number(const DslValue *v);
/* Short text of a value for messages ("[16, 32]", "f32[1,64,56,56]"). */
const char *dsl_value_str(const DslValue *v, char *buf, size_t size);

static inline DslValue dsl_int(int64_t i) { return (DslValue){.kind = V_INT, .u.i = i}; }
static inline DslValue dsl_float(double f) { return (DslValue){.kind = V_FLOAT, .u.f = f}; }
static inline DslValue dsl_bool(bool b) { return (DslValue){.kind = V_BOOL, .u.b = b}; }
/* A list of n items (up to 2^20), allocated in E's arena, to be filled. */
SdStatus dsl_make_list(DslEval *E, DslLoc loc, int n, DslValue *out);

/* ---- evaluation (eval.c: expressions; exec.c: statements, calls, models) ---- */
/* An error at `loc`, followed by the chain of calls that led there. */
SdStatus dsl_eval_error(DslEval *E, SdStatus st, DslLoc loc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
SdStatus dsl_eval_expr(DslEval *E, const DslExpr *e, DslValue *out);
/* Evaluates e, which must be true or false (`what` names it in the message). */
SdStatus dsl_eval_bool(DslEval *E, const DslExpr *e, const char *what, bool *out);
SdStatus dsl_eval_call(DslEval *E, const DslExpr *e, DslValue *out);
/* A block or model by name; NULL when absent. */
const DslDecl *dsl_find_callable(const DslProgram *p, const char *name);
/* Evaluates `let`s (load time); a let named in `lets` takes that value instead of its own. */
SdStatus dsl_eval_globals(DslProgram *p, const DslArgValue *lets, int n_lets, SdError *err);
const DslValue *dsl_global(const DslProgram *p, const char *name);
const DslDecl *dsl_find_decl(const DslProgram *p, const char *name, DslDeclKind kind);
/* Binds a model's parameters (defaults overridden by args) into a fresh frame of E. */
SdStatus dsl_bind_model_params(DslEval *E, const DslDecl *d, const DslArgValue *args, int n_args, DslFrame *frame);
/* Runs a model on `input` in E; the outputs and their names. */
SdStatus dsl_run_model(DslEval *E, const DslDecl *d, const DslArgValue *args, int n_args, IrValue *input,
                       IrValue **outputs, int *n_outputs);
/* A constant value as a model argument; false (with why) for tensors, nested lists, long lists. */
bool dsl_value_to_arg(const DslValue *v, const char *name, DslArgValue *out, char *why, size_t why_size);
void dsl_eval_init(DslEval *E, const DslProgram *p, DslArena *arena, SdError *err);
void dsl_frame_free(DslFrame *f);
SdStatus dsl_frame_set(DslEval *E, DslFrame *f, const char *name, DslValue v, DslLoc loc);

/* ---- scopes: where layer names come from ---- */
typedef struct DslSavedScope {
    char scope[DSL_SCOPE_MAX];
    int counter;
    int layers;
    bool named;
} DslSavedScope;
/* Enters a call's or a `scope` statement's naming scope: component `name`, or the next position
 * when NULL; "" adds no level (the caller's scope and positions are shared). */
SdStatus dsl_enter_scope(DslEval *E, DslLoc loc, const char *name, DslSavedScope *saved);
/* Leaves it; an unnamed call that built no layer gives its position back. */
void dsl_leave_scope(DslEval *E, const DslSavedScope *saved);

/* ---- builtins: functions (builtins.c) and layers (layers.c) ---- */
typedef struct DslCall DslCall;
typedef SdStatus (*DslBuiltinFn)(DslEval *E, DslCall *c, DslValue *out);

typedef struct DslBuiltin {
    const char *name;
    bool layer;                 /* takes a position in its scope and a `name=` */
    const char *params[14];     /* NULL-terminated; '?' before a name marks it optional */
    DslBuiltinFn fn;
    const char *summary;        /* one line for messages and docs */
} DslBuiltin;

struct DslCall {
    const DslExpr *e;           /* the call */
    const DslBuiltin *b;
    DslValue args[14];          /* by parameter; V_NONE where not given */
    DslLoc locs[14];            /* where each was given (the call's place otherwise) */
};

extern const DslBuiltin dsl_function_builtins[]; /* builtins.c; the layers' tables are in lower.h */
const DslBuiltin *dsl_builtin_find(const char *name);
enum { DSL_MAX_BUILTINS = 128 };
/* Every builtin's name into out (room for max); returns how many. For suggestions. */
int dsl_builtin_names(const char **out, int max);

/* Argument readers: an error names the argument and what it should be. */
SdStatus dsl_arg_int(DslEval *E, DslCall *c, int i, int64_t def, int64_t *out);
SdStatus dsl_arg_float(DslEval *E, DslCall *c, int i, double def, double *out);
SdStatus dsl_arg_bool(DslEval *E, DslCall *c, int i, bool def, bool *out);
SdStatus dsl_arg_str(DslEval *E, DslCall *c, int i, const char *def, const char **out);
SdStatus dsl_arg_tensor(DslEval *E, DslCall *c, int i, IrValue **out);
/* An integer or a list of `n` integers (a kernel size for each spatial dimension). */
SdStatus dsl_arg_ints(DslEval *E, DslCall *c, int i, int n, int64_t def, int64_t *out);
bool dsl_arg_given(const DslCall *c, int i);

/* ---- initialization (init.c) ---- */
typedef enum DslInit {
    DSL_INIT_ZEROS, DSL_INIT_ONES, DSL_INIT_NORMAL, DSL_INIT_TRUNC_NORMAL, DSL_INIT_KAIMING_OUT, DSL_INIT_KAIMING_IN,
    DSL_INIT_XAVIER, DSL_INIT_UNIFORM, DSL_INIT_LECUN,
} DslInit;
/* DSL_INIT_ZEROS... by its DSL spelling ("kaiming_out"); false when unknown. */
bool dsl_init_parse(const char *s, DslInit *out);
const char *const *dsl_init_names(int *n);
/* Fills n floats for a tensor of `shape` named `name`: fans come from the shape as PyTorch
 * computes them (dim 0 out, dim 1 in, the rest the receptive field); `std` is used by normal and
 * trunc_normal. Deterministic in (seed, name). */
void dsl_init_fill(float *data, const IrShape *shape, DslInit init, double std, uint64_t seed, const char *name);

#endif
