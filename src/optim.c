/* SGD, heavy-ball momentum and Adam steps fused with the pruning mask, and a scalar reference. */
#include "ticketfarm/optim.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TF_OPTIM_ALIGN 64

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
  opt->n = n;
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
  memset(opt, 0, sizeof *opt);
}

void tf_optim_reset(tf_optim_t *opt) {
  if (opt->m != NULL) memset(opt->m, 0, opt->n * sizeof(float));
  if (opt->v != NULL) memset(opt->v, 0, opt->n * sizeof(float));
  opt->t = 0;
}

/* Adam's bias corrections 1 - beta^t, formed in double because the subtraction cancels (for
 * beta2 = 0.999 and small t it magnifies the rounding of beta^t a thousandfold), then rounded
 * once to float so every element uses the same scalars. */
static void adam_corrections(const tf_optim_t *opt, float *bc1, float *bc2) {
  *bc1 = (float)(1.0 - pow((double)opt->beta1, (double)opt->t));
  *bc2 = (float)(1.0 - pow((double)opt->beta2, (double)opt->t));
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

/* The update of one element is a pure function of its values, so the kernels below keep all
 * memory access in loops over restrict pointers. Each kernel runs its loop over a multiple of 8
 * elements, then over the rest: gcc's -O2 cost model vectorises only loops that need no scalar
 * epilogue. */

static inline float sgd_one(float lr, float p, float g, float mask) {
  return masked(p - lr * g, keep_bits(mask));
}

static void sgd_fused(size_t n, float lr, float *restrict p, const float *restrict g,
                      const float *restrict mask) {
  size_t n8 = n & ~(size_t)7;
  for (size_t i = 0; i < n8; i++) p[i] = sgd_one(lr, p[i], g[i], mask[i]);
  for (size_t i = n8; i < n; i++) p[i] = sgd_one(lr, p[i], g[i], mask[i]);
}

typedef struct pm {
  float p, m;
} pm_t;

static inline pm_t momentum_one(float lr, float mu, float p, float g, float mask, float m) {
  uint32_t keep = keep_bits(mask);
  m = mu * m + g;
  p = p - lr * m;
  return (pm_t){masked(p, keep), masked(m, keep)};
}

static void momentum_fused(size_t n, float lr, float mu, float *restrict p,
                           const float *restrict g, const float *restrict mask,
                           float *restrict m) {
  size_t n8 = n & ~(size_t)7;
  for (size_t i = 0; i < n8; i++) {
    pm_t r = momentum_one(lr, mu, p[i], g[i], mask[i], m[i]);
    p[i] = r.p;
    m[i] = r.m;
  }
  for (size_t i = n8; i < n; i++) {
    pm_t r = momentum_one(lr, mu, p[i], g[i], mask[i], m[i]);
    p[i] = r.p;
    m[i] = r.m;
  }
}

/* The per-step scalars of Adam. */
typedef struct adam_coef {
  float lr, b1, b2, ob1, ob2, eps, bc1, bc2;
} adam_coef_t;

typedef struct pmv {
  float p, m, v;
} pmv_t;

static inline pmv_t adam_one(const adam_coef_t *c, float p, float g, float mask, float m,
                             float v) {
  uint32_t keep = keep_bits(mask);
  m = c->b1 * m + c->ob1 * g;
  v = c->b2 * v + c->ob2 * (g * g);
  p = p - c->lr * (m / c->bc1) / (sqrtf(v / c->bc2) + c->eps);
  return (pmv_t){masked(p, keep), masked(m, keep), masked(v, keep)};
}

static void adam_fused(size_t n, adam_coef_t c, float *restrict p, const float *restrict g,
                       const float *restrict mask, float *restrict m, float *restrict v) {
  size_t n8 = n & ~(size_t)7;
  for (size_t i = 0; i < n8; i++) {
    pmv_t r = adam_one(&c, p[i], g[i], mask[i], m[i], v[i]);
    p[i] = r.p;
    m[i] = r.m;
    v[i] = r.v;
  }
  for (size_t i = n8; i < n; i++) {
    pmv_t r = adam_one(&c, p[i], g[i], mask[i], m[i], v[i]);
    p[i] = r.p;
    m[i] = r.m;
    v[i] = r.v;
  }
}

void tf_optim_step(tf_optim_t *opt, float *params, const float *grads, const float *mask) {
  opt->t++;
  switch (opt->kind) {
    case TF_OPT_SGD:
      sgd_fused(opt->n, opt->lr, params, grads, mask);
      break;
    case TF_OPT_MOMENTUM:
      momentum_fused(opt->n, opt->lr, opt->momentum, params, grads, mask, opt->m);
      break;
    case TF_OPT_ADAM: {
      adam_coef_t c = {.lr = opt->lr, .b1 = opt->beta1, .b2 = opt->beta2,
                       .ob1 = 1.0f - opt->beta1, .ob2 = 1.0f - opt->beta2, .eps = opt->eps};
      adam_corrections(opt, &c.bc1, &c.bc2);
      adam_fused(opt->n, c, params, grads, mask, opt->m, opt->v);
      break;
    }
    case TF_OPT_COUNT:
      break;
  }
}

void tf_optim_step_naive(tf_optim_t *opt, float *params, const float *grads, const float *mask) {
  opt->t++;
  float bc1 = 1.0f, bc2 = 1.0f;
  if (opt->kind == TF_OPT_ADAM) adam_corrections(opt, &bc1, &bc2);
  for (size_t i = 0; i < opt->n; i++) {
    float g = grads[i];
    float p = params[i];
    if (opt->kind == TF_OPT_SGD) {
      p = p - opt->lr * g;
    } else if (opt->kind == TF_OPT_MOMENTUM) {
      float m = opt->momentum * opt->m[i] + g;
      p = p - opt->lr * m;
      opt->m[i] = mask[i] != 0.0f ? m : 0.0f;
    } else if (opt->kind == TF_OPT_ADAM) {
      float m = opt->beta1 * opt->m[i] + (1.0f - opt->beta1) * g;
      float v = opt->beta2 * opt->v[i] + (1.0f - opt->beta2) * (g * g);
      float mhat = m / bc1;
      float vhat = v / bc2;
      p = p - opt->lr * mhat / (sqrtf(vhat) + opt->eps);
      opt->m[i] = mask[i] != 0.0f ? m : 0.0f;
      opt->v[i] = mask[i] != 0.0f ? v : 0.0f;
    }
    params[i] = mask[i] != 0.0f ? p : 0.0f;
  }
}
