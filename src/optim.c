/* SGD, heavy-ball momentum and Adam steps fused with the pruning mask, and a scalar reference. */
#include "ticketfarm/optim.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vector.h"

#define TF_OPTIM_ALIGN 64

/* The elementwise loops (TF_CLONES) are compiled for AVX-512, AVX2 and baseline x86-64, one picked when the
 * program loads. Every clone gives the same bits: an element's update is the same IEEE
 * operations in the same order whatever the vector width, and the project compiles as ISO C, in
 * which gcc fuses no multiply-add. */
static float *alloc_state(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, TF_OPTIM_ALIGN, (n > 0 ? n : 1) * sizeof(float)) != 0) return NULL;
  memset(p, 0, (n > 0 ? n : 1) * sizeof(float));
  return p;
}

int tf_optim_create(tf_optim_t *opt, const tf_config_t *cfg, size_t n, tf_err_t *err) {
  memset(opt, 0, sizeof *opt);
  if ((unsigned)cfg->optimizer >= TF_OPT_COUNT)
    return tf_err_set(err, TF_EINPUT, "optim: unknown optimizer kind %d", (int)cfg->optimizer);
  opt->kind = cfg->optimizer;
  opt->lr = (float)cfg->lr;
  opt->momentum = (float)cfg->momentum;
  opt->beta1 = (float)cfg->beta1;
  opt->beta2 = (float)cfg->beta2;
  opt->eps = (float)cfg->eps;
  opt->weight_decay = (float)cfg->weight_decay;
  opt->nesterov = cfg->nesterov != 0;
  opt->base_lr = cfg->lr;
  opt->gamma = cfg->gamma;
  opt->warmup = cfg->warmup;
  opt->n_milestones = cfg->n_milestones < 0 ? 0
                      : cfg->n_milestones > TF_MAX_MILESTONES ? TF_MAX_MILESTONES
                                                              : cfg->n_milestones;
  memcpy(opt->milestones, cfg->milestones, sizeof opt->milestones);
  opt->n = n;
  if (opt->weight_decay != 0.0f) {
    opt->gd = alloc_state(n);
    if (opt->gd == NULL) goto fail_nomem;
  }
  if (opt->kind == TF_OPT_MOMENTUM || opt->kind == TF_OPT_ADAM) {
    opt->m = alloc_state(n);
    if (opt->m == NULL) goto fail_nomem;
  }
  if (opt->kind == TF_OPT_ADAM) {
    opt->v = alloc_state(n);
    if (opt->v == NULL) goto fail_nomem;
  }
  return 0;

fail_nomem:
  tf_optim_free(opt);
  return tf_err_set(err, TF_ENOMEM, "optim: out of memory for the state of %zu parameters", n);
}

void tf_optim_free(tf_optim_t *opt) {
  if (opt == NULL) return;
  free(opt->m);
  free(opt->v);
  free(opt->gd);
  memset(opt, 0, sizeof *opt);
}

void tf_optim_reset(tf_optim_t *opt) {
  if (opt->m != NULL) memset(opt->m, 0, opt->n * sizeof(float));
  if (opt->v != NULL) memset(opt->v, 0, opt->n * sizeof(float));
  opt->t = 0;
}

double tf_optim_lr_at(const tf_optim_t *opt, long iteration) {
  double factor = 1.0;
  for (int i = 0; i < opt->n_milestones; i++)
    if (opt->milestones[i] <= iteration) factor *= opt->gamma;
  if (opt->warmup > 0 && iteration < opt->warmup)
    factor *= (double)iteration / (double)opt->warmup;
  return opt->base_lr * factor;
}

void tf_optim_schedule(tf_optim_t *opt, long iteration) {
  opt->lr = (float)tf_optim_lr_at(opt, iteration);
}

/* Adam's bias corrections 1 - beta^t are formed in double because the subtraction cancels (for
 * beta2 = 0.999 and small t it magnifies the rounding of beta^t a thousandfold); the per-step
 * scalars lr / bc1 and 1 / sqrt(bc2) are rounded once to float, so that an element costs one
 * square root and one division instead of three divisions and a square root. */
void tf_optim_begin_step(tf_optim_t *opt) {
  opt->t++;
  if (opt->kind == TF_OPT_ADAM) {
    double bc1 = 1.0 - pow((double)opt->beta1, (double)opt->t);
    double bc2 = 1.0 - pow((double)opt->beta2, (double)opt->t);
    opt->step = (float)((double)opt->lr / bc1);
    opt->vscale = (float)(1.0 / sqrt(bc2));
  }
}

/* Masking is a bitwise AND with all-ones or all-zeros rather than x * mask or a ?: select:
 * unlike the product it gives +0.0f even where x is Inf, NaN or negative, and unlike the select
 * it leaves no branch for gcc to keep (with -ftrapping-math it will not if-convert a select whose
 * operand it has sunk into the branch), so the loops vectorise. */
static inline uint32_t keep_bits(float mask) { return -(uint32_t)(mask != 0.0f); }

static inline float masked(float x, uint32_t keep) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  u &= keep;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* A moment that has decayed below FLT_MIN (a weight whose input has long been zero, such as an
 * MNIST border pixel's) is set to +0: a subnormal moment cannot move a weight, but arithmetic on
 * subnormals costs about a hundred times more, and after a few thousand steps tens of thousands
 * of them slowed a LeNet epoch by half. NaN is kept. */
static inline float flushed(float x) { return masked(x, -(uint32_t)!(fabsf(x) < FLT_MIN)); }

/* The update of one element is a pure function of its values, so the kernels below keep all
 * memory access in loops over restrict pointers, one loop with the mask and one without (packed
 * surviving weights and biases need none, which spares a stream of loads). Each runs over a
 * multiple of 8 elements, then over the rest: gcc's -O2 cost model vectorises only loops that
 * need no scalar epilogue. */
#define SPLIT_LOOP(n, i, ...)                    \
  do {                                           \
    size_t n8_ = (n) & ~(size_t)7, i;            \
    for (i = 0; i < n8_; i++) __VA_ARGS__        \
    for (i = n8_; i < (n); i++) __VA_ARGS__      \
  } while (0)

static TF_CLONES void sgd_masked(size_t n, float lr, float *restrict p, const float *restrict g,
                                 const float *restrict mask) {
  SPLIT_LOOP(n, i, { p[i] = masked(p[i] - lr * g[i], keep_bits(mask[i])); });
}

static TF_CLONES void sgd_plain(size_t n, float lr, float *restrict p, const float *restrict g) {
  SPLIT_LOOP(n, i, { p[i] = p[i] - lr * g[i]; });
}

static inline float momentum_m(float mu, float m, float g) { return flushed(mu * m + g); }

static TF_CLONES void momentum_masked(size_t n, float lr, float mu, float *restrict p,
                                      const float *restrict g, const float *restrict mask,
                                      float *restrict m) {
  SPLIT_LOOP(n, i, {
    uint32_t keep = keep_bits(mask[i]);
    float mi = momentum_m(mu, m[i], g[i]);
    p[i] = masked(p[i] - lr * mi, keep);
    m[i] = masked(mi, keep);
  });
}

static TF_CLONES void momentum_plain(size_t n, float lr, float mu, float *restrict p,
                                     const float *restrict g, float *restrict m) {
  SPLIT_LOOP(n, i, {
    float mi = momentum_m(mu, m[i], g[i]);
    p[i] = p[i] - lr * mi;
    m[i] = mi;
  });
}

/* PyTorch's Nesterov step: the update is g + mu * m with m already updated. */
static TF_CLONES void nesterov_masked(size_t n, float lr, float mu, float *restrict p,
                                      const float *restrict g, const float *restrict mask,
                                      float *restrict m) {
  SPLIT_LOOP(n, i, {
    uint32_t keep = keep_bits(mask[i]);
    float mi = momentum_m(mu, m[i], g[i]);
    p[i] = masked(p[i] - lr * (g[i] + mu * mi), keep);
    m[i] = masked(mi, keep);
  });
}

static TF_CLONES void nesterov_plain(size_t n, float lr, float mu, float *restrict p,
                                     const float *restrict g, float *restrict m) {
  SPLIT_LOOP(n, i, {
    float mi = momentum_m(mu, m[i], g[i]);
    p[i] = p[i] - lr * (g[i] + mu * mi);
    m[i] = mi;
  });
}

/* g + wd * p into gd: the L2 term, formed once so every kernel above sees it as its gradient. */
static TF_CLONES void decayed(size_t n, float wd, const float *restrict p, const float *restrict g,
                              float *restrict gd) {
  SPLIT_LOOP(n, i, { gd[i] = g[i] + wd * p[i]; });
}

/* The per-step scalars of Adam. */
typedef struct adam_coef {
  float b1, b2, ob1, ob2, eps, step, vscale;
} adam_coef_t;

typedef struct pmv {
  float p, m, v;
} pmv_t;

static inline pmv_t adam_one(const adam_coef_t *c, float p, float g, float m, float v) {
  m = flushed(c->b1 * m + c->ob1 * g);
  v = flushed(c->b2 * v + c->ob2 * (g * g));
  p = p - c->step * m / (sqrtf(v) * c->vscale + c->eps);
  return (pmv_t){p, m, v};
}

static TF_CLONES void adam_masked(size_t n, adam_coef_t c, float *restrict p,
                                  const float *restrict g, const float *restrict mask,
                                  float *restrict m, float *restrict v) {
  SPLIT_LOOP(n, i, {
    uint32_t keep = keep_bits(mask[i]);
    pmv_t r = adam_one(&c, p[i], g[i], m[i], v[i]);
    p[i] = masked(r.p, keep);
    m[i] = masked(r.m, keep);
    v[i] = masked(r.v, keep);
  });
}

static TF_CLONES void adam_plain(size_t n, adam_coef_t c, float *restrict p,
                                 const float *restrict g, float *restrict m, float *restrict v) {
  SPLIT_LOOP(n, i, {
    pmv_t r = adam_one(&c, p[i], g[i], m[i], v[i]);
    p[i] = r.p;
    m[i] = r.m;
    v[i] = r.v;
  });
}

void tf_optim_update(tf_optim_t *opt, size_t off, float *p, const float *g, const float *mask,
                     size_t count) {
  if (opt->gd != NULL) {
    decayed(count, opt->weight_decay, p, g, opt->gd + off);
    g = opt->gd + off;
  }
  switch (opt->kind) {
    case TF_OPT_SGD:
      if (mask != NULL)
        sgd_masked(count, opt->lr, p, g, mask);
      else
        sgd_plain(count, opt->lr, p, g);
      break;
    case TF_OPT_MOMENTUM:
      if (opt->nesterov && mask != NULL)
        nesterov_masked(count, opt->lr, opt->momentum, p, g, mask, opt->m + off);
      else if (opt->nesterov)
        nesterov_plain(count, opt->lr, opt->momentum, p, g, opt->m + off);
      else if (mask != NULL)
        momentum_masked(count, opt->lr, opt->momentum, p, g, mask, opt->m + off);
      else
        momentum_plain(count, opt->lr, opt->momentum, p, g, opt->m + off);
      break;
    case TF_OPT_ADAM: {
      adam_coef_t c = {.b1 = opt->beta1, .b2 = opt->beta2, .ob1 = 1.0f - opt->beta1,
                       .ob2 = 1.0f - opt->beta2, .eps = opt->eps, .step = opt->step,
                       .vscale = opt->vscale};
      if (mask != NULL)
        adam_masked(count, c, p, g, mask, opt->m + off, opt->v + off);
      else
        adam_plain(count, c, p, g, opt->m + off, opt->v + off);
      break;
    }
    case TF_OPT_COUNT:
      break;
  }
}

void tf_optim_step(tf_optim_t *opt, float *params, const float *grads, const float *mask) {
  tf_optim_begin_step(opt);
  tf_optim_update(opt, 0, params, grads, mask, opt->n);
}

void tf_optim_step_naive(tf_optim_t *opt, float *params, const float *grads, const float *mask) {
  tf_optim_begin_step(opt);
  for (size_t i = 0; i < opt->n; i++) {
    float g = grads[i];
    float p = params[i];
    if (opt->weight_decay != 0.0f) g = g + opt->weight_decay * p;
    if (opt->kind == TF_OPT_SGD) {
      p = p - opt->lr * g;
    } else if (opt->kind == TF_OPT_MOMENTUM) {
      float m = opt->momentum * opt->m[i] + g;
      if (fabsf(m) < FLT_MIN) m = 0.0f;
      p = opt->nesterov ? p - opt->lr * (g + opt->momentum * m) : p - opt->lr * m;
      opt->m[i] = mask[i] != 0.0f ? m : 0.0f;
    } else if (opt->kind == TF_OPT_ADAM) {
      float m = opt->beta1 * opt->m[i] + (1.0f - opt->beta1) * g;
      float v = opt->beta2 * opt->v[i] + (1.0f - opt->beta2) * (g * g);
      if (fabsf(m) < FLT_MIN) m = 0.0f;
      if (fabsf(v) < FLT_MIN) v = 0.0f;
      float denom = sqrtf(v) * opt->vscale + opt->eps;
      p = p - opt->step * m / denom;
      opt->m[i] = mask[i] != 0.0f ? m : 0.0f;
      opt->v[i] = mask[i] != 0.0f ? v : 0.0f;
    }
    params[i] = mask[i] != 0.0f ? p : 0.0f;
  }
}
