/* Families of a sweep's tasks: which tasks share a trunk, and what running them together costs. */
#include "ticketfarm/family.h"

#include <stdlib.h>
#include <string.h>

#include "ticketfarm/grid.h"
#include "ticketfarm/ticket.h"

int tf_family_axis(const char *key) {
  static const char *const branch[] = {"control", "control_seed", "transfer.dataset",
                                       "transfer.optimizer", "transfer.lr",
                                       "analysis.instability"};
  for (size_t i = 0; i < sizeof branch / sizeof branch[0]; i++)
    if (strcmp(key, branch[i]) == 0) return 1;
  return 0;
}

long tf_family_of(const tf_sweep_t *sw, long task) {
  long family = task, stride = 1;
  for (int a = tf_grid_axes(sw) - 1; a >= 0; a--) {
    if (tf_family_axis(tf_grid_axis_key(sw, a)))
      family -= (long)tf_grid_value_index(sw, a, task) * stride;
    stride *= tf_grid_axis_size(sw, a);
  }
  return family;
}

long tf_family_members(const tf_sweep_t *sw, long family, long *tasks, long max) {
  /* The branch axes' strides and sizes, the last axis varying fastest. */
  long stride[64], size[64];
  int n_axes = 0;
  long s = 1;
  for (int a = tf_grid_axes(sw) - 1; a >= 0; a--) {
    if (tf_family_axis(tf_grid_axis_key(sw, a)) && n_axes < 64) {
      stride[n_axes] = s;
      size[n_axes++] = tf_grid_axis_size(sw, a);
    }
    s *= tf_grid_axis_size(sw, a);
  }
  long count = 1;
  for (int k = 0; k < n_axes; k++) count *= size[k];
  /* Member i: its branch-axis digits are i's mixed-radix digits, the innermost axis fastest; a
   * lower axis in the grid has a larger stride, so counting outermost-first keeps task order. */
  for (long i = 0; i < count && i < max; i++) {
    long rest = i, task = family;
    for (int k = 0; k < n_axes; k++) {
      task += (rest % size[k]) * stride[k];
      rest /= size[k];
    }
    tasks[i] = task;
  }
  return count;
}

/* Whether an earlier member starting at round 0 has member i's round 0: the same target (or
 * none), transfer optimiser and rate, and instability analysis. */
static int round0_shared(const tf_config_t *cfgs, const int *starts, int i) {
  const tf_config_t *a = &cfgs[i];
  for (int j = 0; j < i; j++) {
    const tf_config_t *b = &cfgs[j];
    if ((starts != NULL ? starts[j] : 0) > 0) continue;
    if (tf_config_transfer(a) == tf_config_transfer(b) &&
        strcmp(tf_config_target(a), tf_config_target(b)) == 0 &&
        a->transfer_optimizer == b->transfer_optimizer && a->transfer_lr == b->transfer_lr &&
        a->instability == b->instability)
      return 1;
  }
  return 0;
}

double tf_family_cost(const tf_config_t *cfgs, const int *starts, int n) {
  if (n < 1) return 0.0;
  const int rounds = cfgs[0].rounds;
  int first = rounds + 1;
  for (int i = 0; i < n; i++) {
    int s = starts != NULL ? starts[i] : 0;
    if (s < first) first = s;
  }
  /* Round 0: the trunk's dense round once, each target's once (members transferring alike share
   * it), and each instability analysis once per network and point count. */
  tf_config_t trunk;
  tf_config_trunk(&cfgs[0], &trunk);
  const double dense = tf_ticket_round_cost(&trunk, 0);
  double cost = first == 0 ? dense : 0.0;
  for (int i = 0; first == 0 && i < n; i++) {
    if ((starts != NULL ? starts[i] : 0) > 0 || round0_shared(cfgs, starts, i)) continue;
    const double own = tf_ticket_round_cost(&cfgs[i], 0);
    cost += tf_config_transfer(&cfgs[i]) ? own : own - dense;
  }
  for (int r = first > 1 ? first : 1; r <= rounds; r++) {
    int ticket = 0;
    for (int i = 0; i < n; i++) {
      if ((starts != NULL ? starts[i] : 0) > r) continue;
      cost += tf_ticket_round_cost(&cfgs[i], r);
      ticket |= cfgs[i].control == TF_CONTROL_TICKET && !tf_config_transfer(&cfgs[i]);
    }
    if (!ticket) cost += tf_ticket_replay_cost(&cfgs[0], r);
  }
  return cost;
}

/* The planned cost of family `family` into *cost: its members in chunks of TF_FAMILY_MAX, each
 * chunk on a trunk of its own. */
static int one_family_cost(const tf_sweep_t *sw, long family, tf_config_t *cfgs, double *cost,
                           tf_err_t *err) {
  long count = tf_family_members(sw, family, NULL, 0);
  long *all = malloc((size_t)count * sizeof *all);
  if (all == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory for a family");
  tf_family_members(sw, family, all, count);
  int rc = 0;
  for (long from = 0; rc == 0 && from < count; from += TF_FAMILY_MAX) {
    int k = 0;
    for (long i = from; rc == 0 && i < count && k < TF_FAMILY_MAX; i++)
      rc = tf_grid_task(sw, all[i], &cfgs[k++], err);
    if (rc == 0) *cost += tf_family_cost(cfgs, NULL, k);
  }
  free(all);
  return rc;
}

int tf_family_sweep_cost(const tf_sweep_t *sw, double *cost, tf_err_t *err) {
  *cost = 0.0;
  tf_config_t *cfgs = malloc(TF_FAMILY_MAX * sizeof *cfgs);
  if (cfgs == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory");
  int rc = 0;
  for (long t = 0; rc == 0 && t < tf_grid_tasks(sw); t++)
    if (tf_family_of(sw, t) == t) rc = one_family_cost(sw, t, cfgs, cost, err);
  free(cfgs);
  return rc;
}
