/* Shards: a sweep's tasks split among N jobs (a job array), families whole, the planned cost
 * balanced, the same split on every machine. */
#ifndef TICKETFARM_SHARD_H
#define TICKETFARM_SHARD_H

#include "ticketfarm/error.h"
#include "ticketfarm/sweep.h"

#define TF_SHARD_MAX 100000

/* Shard k of n (0 <= k < n); n == 1 is the whole sweep. */
typedef struct tf_shard {
  int k, n;
} tf_shard_t;

/* Parses "K/N" (as SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT): TF_EINPUT naming the text
 * unless 0 <= K < N <= TF_SHARD_MAX. Rank-local. */
int tf_shard_parse(const char *text, tf_shard_t *shard, tf_err_t *err);

/* The deterministic split of sw into n shards: families (tf_family_of) by their planned
 * cost (tf_ticket_cost, summed), largest first, each to the shard with the least cost so far
 * (the lowest shard on a tie; equal families in task order). shard_of[t] gets task t's shard,
 * for every task of the sweep; load (may be NULL) the planned cost of each of the n shards.
 * TF_EINPUT for n outside 1..TF_SHARD_MAX, TF_ENOMEM. Rank-local. */
int tf_shard_assign(const tf_sweep_t *sw, int n, int *shard_of, double *load, tf_err_t *err);

#endif
