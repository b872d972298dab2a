/* api/methods/ssl.h — what the self-supervised and distillation methods share: small graph
 * builders (row-wise dot products, similarity matrices, softmaxes), queues of embeddings, momentum
 * (key) encoders, deterministic initial values, and each method's loss as a function of its
 * embeddings, so that the gradient checks (tests/passes/grad_ssl.c) build exactly what the methods
 * build. Builders return NULL on failure with c->err set (or out of memory). */
#ifndef SD_API_METHODS_SSL_H
#define SD_API_METHODS_SSL_H

#include "api/recipe.h"

/* ---- graph pieces ---- */
IrValue *ssl_binary(RecipeCtx *c, IrOp op, IrValue *a, IrValue *b);
IrValue *ssl_scale(RecipeCtx *c, IrValue *x, double s);  /* x * (float)s */
IrValue *ssl_div(RecipeCtx *c, IrValue *x, double t);    /* x / (float)t (temperatures, as PyTorch divides) */
IrValue *ssl_stop(RecipeCtx *c, IrValue *x);             /* StopGradient */
IrValue *ssl_rowdot(RecipeCtx *c, IrValue *a, IrValue *b); /* [B, D] . [B, D] -> [B, 1] */
IrValue *ssl_matmul_nt(RecipeCtx *c, IrValue *a, IrValue *b); /* a [M, D] b [N, D] -> a b^T [M, N] */
IrValue *ssl_concat(RecipeCtx *c, IrValue *const *xs, int n, int64_t axis);
IrValue *ssl_softmax(RecipeCtx *c, IrValue *x, bool log); /* over axis 1 */
/* op (REDUCE_SUM / REDUCE_MEAN ...) over one axis, or over all axes when axis < 0 */
IrValue *ssl_reduce(RecipeCtx *c, IrOp op, IrValue *x, int axis, bool keepdims);
IrValue *ssl_const_i64(RecipeCtx *c, const char *name, const int64_t *v, int rank, const int64_t *dims);
IrValue *ssl_zero_labels(RecipeCtx *c, int64_t n); /* i64 [n] zeros: "the positive is column 0" */
IrValue *ssl_linear(RecipeCtx *c, IrValue *x, IrValue *w, IrValue *b); /* x w^T + b, w [out, in] */

/* ---- persistent values ---- */
/* Deterministic values from (seed, name): a splitmix64 stream, as the DSL initializes tensors. */
void ssl_fill_normal(float *x, int64_t n, uint64_t seed, const char *name);
void ssl_fill_uniform(float *x, int64_t n, double lo, double hi, uint64_t seed, const char *name);
uint64_t ssl_stream(uint64_t seed, const char *name, uint64_t counter); /* 64 random bits */
/* A queue of k embeddings [k, d] (STATE NAME, initialized with random unit rows, as MoCo's
 * normalize(randn)) and its write position (STATE NAME.ptr, i64 scalar 0). */
IrValue *ssl_queue(RecipeCtx *c, const char *name, int64_t k, int64_t d, IrValue **position);
/* A trainable tensor (PARAM) initialized as PyTorch's nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
IrValue *ssl_param_uniform(RecipeCtx *c, const char *name, int rank, const int64_t *dims, int64_t fan_in);

/* ---- encoders ---- */
/* A trained network: recipe_network with the network's prefix; *embedding is the head output. */
SdStatus ssl_network(RecipeCtx *c, const DslNetwork *net, IrValue *input, IrValue **features, IrValue **embedding);
/* The key encoder of `of` (MoCo): a second instance of its backbone and head (BatchNorm in train
 * mode) whose parameters are STATE, updated as PyTorch's MoCo does it BEFORE the keys are computed:
 * k' = m k + (1 - m) q from the query encoder's current parameters (gradient stopped), the forward
 * reads k', and ASSIGN(k, k') ends the step. Its values are named recipe_momentum_prefix's; its
 * embedding comes back with the gradient stopped. */
SdStatus ssl_momentum_encoder(RecipeCtx *c, const DslNetwork *of, double m, IrValue *input, IrValue **embedding);
/* The momentum each key encoder of `of` follows: a declared momentum network's ema, or `dflt`. */
double ssl_key_momentum(const DslExperiment *e, const DslNetwork *of, double dflt);

/* ---- losses (one per method, in its file) ---- */
/* MoCo InfoNCE: logits [B, 1 + K] = [q.k, q queue^T] / tau, cross-entropy against column 0
 * (moco.c). q, k [B, D] normalized; queue [K, D]. *logits may be NULL. */
IrValue *ssl_infonce(RecipeCtx *c, IrValue *q, IrValue *k, IrValue *queue, double tau, IrValue **logits);
/* SimCLR NT-Xent over z [2N, D] normalized (rows i and i + N are two views of one image): the
 * similarities z z^T / tau without the diagonal, cross-entropy against the other view (simclr.c). */
IrValue *ssl_nt_xent(RecipeCtx *c, IrValue *z, int64_t n, double tau, IrValue **logits, IrValue **labels);
/* SEED: student logits [s.t, s Q^T] / tau_s, teacher probabilities softmax([t.t, t Q^T] / tau_t),
 * loss = -mean_b sum p_T log_softmax(student logits) (seed.c). */
IrValue *ssl_seed_loss(RecipeCtx *c, IrValue *s, IrValue *t, IrValue *queue, double tau_s, double tau_t,
                       IrValue **student_logits);
/* KL(softmax(other) || softmax(logits)), mean over rows, the target side's gradient stopped (dogo.c). */
IrValue *ssl_mutual_kl(RecipeCtx *c, IrValue *logits, IrValue *other);
/* CRD (crd.c): exp(score / tau) [B, 1 + K] of embeddings `e` [B, D] against memory-bank rows:
 * `pos` [B, D] the rows of the batch's own images (column 0), `neg` [K, D] negatives. */
IrValue *ssl_crd_scores(RecipeCtx *c, IrValue *e, IrValue *pos, IrValue *neg, double tau);
/* CRD's NCE loss from those scores: x = scores / z (z a scalar, the normalization constant),
 * Pn = 1 / n_data, loss = -(sum_b log(x0 / (x0 + K Pn + eps)) + sum_bj log(K Pn / (xj + K Pn + eps))) / B. */
IrValue *ssl_crd_nce(RecipeCtx *c, IrValue *scores, IrValue *z, int64_t b, int64_t k, int64_t n_data);
/* Knowledge distillation: T^2 * cross-entropy of softmax(teacher / T) against student / T (simclrv2.c). */
IrValue *ssl_distill(RecipeCtx *c, IrValue *student_logits, IrValue *teacher_logits, double temperature);

/* A recipe error in the method's place: "file:line:col: method X: ..." */
SdStatus ssl_error(RecipeCtx *c, SdStatus st, const char *fmt, ...);
/* c->err's status, or SD_ENOMEM when a builder failed without one. */
SdStatus ssl_status(RecipeCtx *c);

#endif
