/* frontend/dsl/init.c — parameter initialization, deterministic in (seed, tensor name): each
 * tensor draws from its own counter-based stream keyed by sd_mix64(seed ^ FNV-1a(name)), so a
 * model's initial weights do not depend on the order its layers are built in, and adding a layer
 * leaves the others' weights as they were. Fans follow PyTorch (torch.nn.init): for a weight
 * [out, in, k...] fan_in = in * prod(k), fan_out = out * prod(k). */
#include <math.h>
#include <string.h>

#include "frontend/dsl/eval.h"
#include "support/hash.h"

static const char *const init_names[] = {
    [DSL_INIT_ZEROS] = "zeros",       [DSL_INIT_ONES] = "ones",           [DSL_INIT_NORMAL] = "normal",
    [DSL_INIT_TRUNC_NORMAL] = "trunc_normal", [DSL_INIT_KAIMING_OUT] = "kaiming_out",
    [DSL_INIT_KAIMING_IN] = "kaiming_in", [DSL_INIT_XAVIER] = "xavier",   [DSL_INIT_UNIFORM] = "uniform",
    [DSL_INIT_LECUN] = "lecun",
};

bool dsl_init_parse(const char *s, DslInit *out)
{
    for (int i = 0; i < (int)(sizeof init_names / sizeof init_names[0]); i++)
        if (strcmp(s, init_names[i]) == 0) {
            *out = (DslInit)i;
            return true;
        }
    return false;
}

const char *const *dsl_init_names(int *n)
{
    *n = (int)(sizeof init_names / sizeof init_names[0]);
    return init_names;
}

typedef struct Stream {
    uint64_t key, counter;
} Stream;

/* Uniform in (0, 1): 53 random bits, never exactly 0. */
static double uniform(Stream *s)
{
    uint64_t r = sd_mix64(s->key ^ sd_mix64(s->counter++));
    return ((double)(r >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal(Stream *s)
{
    double u1 = uniform(s), u2 = uniform(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void dsl_init_fill(float *data, const IrShape *shape, DslInit init, double std, uint64_t seed, const char *name)
{
    int64_t n = ir_shape_numel(shape);
    double receptive = 1;
    for (int d = 2; d < shape->rank; d++)
        receptive *= (double)shape->dims[d];
    double fan_out = shape->rank >= 1 ? (double)shape->dims[0] * receptive : 1;
    double fan_in = shape->rank >= 2 ? (double)shape->dims[1] * receptive : fan_out;
    Stream s = {sd_mix64(seed ^ sd_hash_str(name)), 0};
    double bound;
    switch (init) {
    case DSL_INIT_ZEROS:
    case DSL_INIT_ONES:
        for (int64_t i = 0; i < n; i++)
            data[i] = init == DSL_INIT_ONES ? 1.0f : 0.0f;
        return;
    case DSL_INIT_KAIMING_OUT: std = sqrt(2.0 / fan_out); break;  /* ReLU gain, mode fan_out */
    case DSL_INIT_KAIMING_IN: std = sqrt(2.0 / fan_in); break;
    case DSL_INIT_LECUN: std = sqrt(1.0 / fan_in); break;
    case DSL_INIT_NORMAL:
    case DSL_INIT_TRUNC_NORMAL:
        break;
    case DSL_INIT_XAVIER: /* uniform, gain 1 */
        bound = sqrt(6.0 / (fan_in + fan_out));
        for (int64_t i = 0; i < n; i++)
            data[i] = (float)((2 * uniform(&s) - 1) * bound);
        return;
    case DSL_INIT_UNIFORM: /* PyTorch's default for Linear and Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        bound = 1.0 / sqrt(fan_in);
        for (int64_t i = 0; i < n; i++)
            data[i] = (float)((2 * uniform(&s) - 1) * bound);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = normal(&s);
        if (init == DSL_INIT_TRUNC_NORMAL) /* redraw outside two standard deviations */
            while (v < -2.0 || v > 2.0)
                v = normal(&s);
        data[i] = (float)(v * std);
    }
}
