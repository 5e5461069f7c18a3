/* Optimisers (SGD, heavy-ball momentum, Adam) whose updates and state respect a pruning mask, so
 * a pruned weight stays exactly zero and no moment can revive it. */
#ifndef TICKETFARM_OPTIM_H
#define TICKETFARM_OPTIM_H

#include <stddef.h>

#include "ticketfarm/config.h"

typedef struct tf_optim {
  tf_optimizer_kind_t kind;
  float lr, momentum, beta1, beta2, eps;
  long t;      /* steps taken since the last reset (Adam's bias correction) */
  size_t n;
  float *m;    /* (n) momentum buffer / Adam first moment; NULL for SGD */
  float *v;    /* (n) Adam second moment; NULL otherwise */
} tf_optim_t;

/* Takes kind, lr, momentum, beta1, beta2, eps from cfg. Returns 0 or TF_ENOMEM. */
int tf_optim_create(tf_optim_t *opt, const tf_config_t *cfg, size_t n, tf_err_t *err);
void tf_optim_free(tf_optim_t *opt);

/* Zeroes the state and the step count (done at the start of every round). */
void tf_optim_reset(tf_optim_t *opt);

/* One step: params -= update(grads), then params, m and v are multiplied by mask (0/1), so that
 * masked entries are exactly 0 afterwards whatever grads held. */
void tf_optim_step(tf_optim_t *opt, float *params, const float *grads, const float *mask);

/* The reference: the same update element by element with no vectorisation hints, for tests. */
void tf_optim_step_naive(tf_optim_t *opt, float *params, const float *grads, const float *mask);

#endif
