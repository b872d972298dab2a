/* api/model_slices.c — batch slices: a model that computes each sample on its own runs a large
 * batch as slices of a few samples, compiled once at the slice's batch, one slice per thread at a
 * time (sd_model_slices). */
#include <stdlib.h>

#include "api/driver.h"
#include "api/model_internal.h"
#include "passes/pass.h"
#include "runtime/threadpool.h"
#include "support/mem.h"
#include "support/names.h"

/* Batch slices: a batch of at least SLICE_MIN_BATCH, of a graph that computes each sample on its
 * own (pass_per_sample), runs as slices of at most SLICE_MAX samples (slice_size), one per thread
 * at a time, each single-threaded: activations of a few images stay in the caches that
 * those of the whole batch overflow, and no thread waits for another between nodes. Measured per
 * image on 1 thread (ms): MobileNetV2 6.8 at batch 32, 5.2 at batch 4; the Fashion-MNIST student
 * 0.200 at batch 256, 0.169 at batch 4-8; the teacher 1.48 and 1.30; ResNet-18 and -50 alike at
 * batch 8 and 32. */
#define SLICE_MIN_BATCH 16
/* Slices of 16 where the bytes below allow them (only the 28x28 networks: the ImageNet ones stop at
 * 2, MobileNetV2 at 1): Winograd's lanes variant needs 16 images. Batch 256, 2 threads: the student
 * 16.5 -> 14.5 ms, the teacher 114 -> 91 ms (slices of 32: 14.4 and 95). */
#define SLICE_MAX 16
/* ... and whose largest temporary stays under this many bytes, one sample a slice where even two
 * would pass it: each thread's slice then reads and writes its largest layers within a quarter of
 * the 32 MiB L3. MobileNetV2 (4.8 MB an image) at batch 32 on 2 threads took 95 ms in slices of 4,
 * 105 of 8 and 114 whole under a 24 MB bound (on a machine twice as fast as this stop's); on this
 * stop's, slices of 1 took 0.91 (2 threads) and 0.95 (1 thread) of the time of slices of 4, while
 * ResNet-18 and -50 (3.2 MB an image) ran alike in slices of 2 and 4 (0.986, 1.004). */
#define SLICE_MAX_BYTES ((size_t)8 << 20)

/* The largest divisor of n that is at most SLICE_MAX, leaves a slice for each of `threads` and keeps
 * g's largest temporary in budget (n itself, on one thread: the batch whole); 0 where that is 1
 * only because n has no other such divisor (a batch of 17 of small samples runs whole). */
static int64_t slice_size(const IrGraph *g, int64_t n, int threads)
{
    size_t per_sample = 1;
    for (int i = 0; i < ir_graph_num_values(g); i++) {
        const IrValue *v = ir_graph_value(g, i);
        if (v->role == IR_ROLE_TEMP || v->role == IR_ROLE_INPUT) {
            size_t b = (size_t)ir_value_numel(v) * sd_dtype_size(v->dtype) / (size_t)n;
            per_sample = b > per_sample ? b : per_sample;
        }
    }
    int64_t t = SLICE_MAX;
    if (threads > 1 && n / threads < t)
        t = n / threads;
    while (t > 1 && (n % t || (size_t)t * per_sample > SLICE_MAX_BYTES))
        t--;
    return t == 1 && 2 * per_sample <= SLICE_MAX_BYTES ? 0 : t;
}

static bool same_io_but_batch(const IrValue *a, const IrValue *b, int64_t na, int64_t nb)
{
    if (a->dtype != b->dtype || a->shape.rank != b->shape.rank || a->shape.rank < 1 || a->shape.dims[0] != na ||
        b->shape.dims[0] != nb)
        return false;
    for (int d = 1; d < a->shape.rank; d++)
        if (a->shape.dims[d] != b->shape.dims[d])
            return false;
    return true;
}

/* *out: g (optimized at opt->batch) as slices, or NULL where it does not qualify or its graph at
 * the slices' batch does not load, optimize or compile as g did (then the caller compiles g). */
SdStatus sd_model_load_sliced(const char *path, const SdOptions *opt, const PassQuantOptions *q, IrGraph *g,
                              SdModel **out, SdError *err)
{
    *out = NULL;
    const int64_t n = opt ? opt->batch : 1;
    if (!opt || n < SLICE_MIN_BATCH || opt->profile || opt->print_llvm ||
        sd_name_listed(opt->disable, "slices") || !pass_per_sample(g, n))
        return SD_OK;
    if (opt->threads > 0)
        rt_set_num_threads(opt->threads);
    const int64_t t = slice_size(g, n, rt_num_threads());
    if (t < 1 || t == n)
        return SD_OK;
    SdOptions o = *opt;
    o.batch = t;
    IrGraph *code = NULL;
    SdError quiet = {0};
    if (sd_load_graph(path, &o, &code, NULL, &quiet) != SD_OK)
        return SD_OK;
    PassQuantOptions qs = *q; /* the same calibration: its ranges are by tensor name, not batch */
    qs.records = NULL, qs.max_records = 0, qs.n_records = 0;
    bool ok = sd_optimize_with(code, &o, &qs, NULL, &quiet) == SD_OK &&
              ir_graph_num_inputs(code) == ir_graph_num_inputs(g) &&
              ir_graph_num_outputs(code) == ir_graph_num_outputs(g);
    for (int i = 0; ok && i < ir_graph_num_inputs(g); i++)
        ok = same_io_but_batch(ir_graph_input(g, i), ir_graph_input(code, i), n, t);
    for (int i = 0; ok && i < ir_graph_num_outputs(g); i++)
        ok = same_io_but_batch(ir_graph_output(g, i), ir_graph_output(code, i), n, t);
    if (!ok) {
        ir_graph_free(code);
        return SD_OK;
    }
    SdModel *m = calloc(1, sizeof *m);
    if (!m) {
        ir_graph_free(code);
        return sd_errorf(err, SD_ENOMEM, "out of memory");
    }
    m->graph = g;
    m->code_graph = code;
    m->n_original_inputs = ir_graph_num_inputs(g);
    m->slices = n / t;
    m->threads = rt_num_threads();
    const int nio = ir_graph_num_inputs(g) + ir_graph_num_outputs(g);
    SdStatus st = sd_model_compile_code(m, code, opt, 1, m->threads, err);
    if (st == SD_OK) {
        SD_ASSERT(cg_model_state_bytes(m->code) == 0); /* pass_per_sample turns down graphs with state */
        m->slice_bytes = calloc((size_t)nio + 1, sizeof *m->slice_bytes);
        m->slice_io = calloc((size_t)(nio + 1) * (size_t)m->threads, sizeof *m->slice_io);
        if (!m->slice_bytes || !m->slice_io)
            st = sd_errorf(err, SD_ENOMEM, "out of memory");
    }
    if (st != SD_OK) {
        m->graph = NULL; /* the caller still owns g */
        sd_model_free(m);
        return st;
    }
    for (int i = 0; i < nio; i++) {
        const IrValue *v = i < ir_graph_num_inputs(code) ? ir_graph_input(code, i)
                                                         : ir_graph_output(code, i - ir_graph_num_inputs(code));
        m->slice_bytes[i] = (size_t)ir_value_numel(v) * sd_dtype_size(v->dtype);
    }
    sd_graph_drop_constants(g);
    sd_graph_drop_constants(code);
    *out = m;
    return SD_OK;
}

/* Slice s of the batch on `thread`'s scratch: every operand from its slice's offset. */
static void run_slice(void *ctx, int64_t s, int32_t thread)
{
    SdModel *m = ctx;
    const int nio = ir_graph_num_inputs(m->graph) + ir_graph_num_outputs(m->graph);
    void **io = m->slice_io + (size_t)thread * (size_t)(nio + 1);
    for (int k = 0; k < nio; k++)
        io[k] = (char *)m->io[k] + (size_t)s * m->slice_bytes[k];
    cg_model_entry(m->code)(cg_model_consts(m->code), m->state, (char *)m->scratch + (size_t)thread * m->scratch_bytes,
                            io);
}

void sd_model_run_slices(SdModel *m) { rt_parallel_for(m->slices, m->threads, run_slice, m); }
