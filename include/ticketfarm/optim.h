/* Optimisers (SGD, heavy-ball momentum, Adam) whose updates and state respect a pruning mask, so
 * a pruned weight stays exactly zero and no moment can revive it. */
#ifndef TICKETFARM_OPTIM_H
#define TICKETFARM_OPTIM_H

#include <stddef.h>

#include "ticketfarm/config.h"

typedef struct tf_optim {
  tf_optimizer_kind_t kind;
  float lr; /* this step's rate: train.lr, or its schedule's value set by tf_optim_schedule */
  float momentum, beta1, beta2, eps;
  float weight_decay; /* added to the gradient times the parameter, before the step */
  int nesterov;       /* momentum: p -= lr * (g + momentum * m) instead of lr * m */
  double base_lr, gamma; /* the schedule (train.lr, train.warmup, train.milestones, train.gamma) */
  long warmup;
  int n_milestones;
  long milestones[TF_MAX_MILESTONES];
  long t;       /* steps taken since the last reset (Adam's bias correction) */
  float step;   /* Adam, set by tf_optim_begin_step: lr / (1 - beta1^t) */
  float vscale; /* Adam, likewise: 1 / sqrt(1 - beta2^t) */
  size_t n;
  float *m;     /* (n) momentum buffer / Adam first moment; NULL for SGD */
  float *v;     /* (n) Adam second moment; NULL otherwise */
  float *gd;    /* (n) scratch for g + weight_decay * p; NULL when weight_decay is 0 */
} tf_optim_t;

/* Takes kind, lr, momentum, beta1, beta2, eps, weight_decay, nesterov and the schedule from cfg.
 * Returns 0 or TF_ENOMEM. */
int tf_optim_create(tf_optim_t *opt, const tf_config_t *cfg, size_t n, tf_err_t *err);
void tf_optim_free(tf_optim_t *opt);

/* Zeroes the state and the step count (done at the start of every round). */
void tf_optim_reset(tf_optim_t *opt);

/* The learning rate of training iteration `iteration` (from 0, counted from the start of the
 * round's schedule, so a round rewound to k asks for k, k + 1, ...): train.lr times
 * gamma^(number of milestones <= iteration) times min(1, iteration / warmup), as open_lth's
 * LambdaLR. Exactly train.lr when there is no warm-up and no milestone. Rank-local, pure. */
double tf_optim_lr_at(const tf_optim_t *opt, long iteration);

/* Sets opt->lr to the schedule's value at `iteration`, for the steps that follow. */
void tf_optim_schedule(tf_optim_t *opt, long iteration);

/* One step: params -= update(grads + weight_decay * params), then params, m and v are multiplied by mask (0/1), so that
 * masked entries are exactly +0.0f afterwards whatever grads held (Inf and NaN included).
 * Equals tf_optim_begin_step followed by tf_optim_update over all n elements. Adam's update is
 * p -= step * m / (sqrt(v) * vscale + eps), the textbook bias-corrected step with the two
 * corrections folded into per-step scalars. Moments that decay below FLT_MIN (subnormal) become
 * +0: too small to move a weight, and a hundred times slower to compute with. */
void tf_optim_step(tf_optim_t *opt, float *params, const float *grads, const float *mask);

/* A step in pieces, so a caller can update each tensor as soon as its gradient is ready, or keep
 * a pruned layer's surviving weights packed: begin_step counts the step (once per step, before
 * its updates); update then applies it to p[0..count) with gradients g[0..count), using the
 * state elements [off, off + count) of m and v. mask (count) as in tf_optim_step, or NULL when
 * every element is kept. Updating a set of disjoint pieces equals one tf_optim_step, bit for
 * bit; the result does not depend on the processor's vector width. */
void tf_optim_begin_step(tf_optim_t *opt);
void tf_optim_update(tf_optim_t *opt, size_t off, float *p, const float *g, const float *mask,
                     size_t count);

/* The reference: the same update element by element with no vectorisation hints, for tests. */
void tf_optim_step_naive(tf_optim_t *opt, float *params, const float *grads, const float *mask);

#endif
