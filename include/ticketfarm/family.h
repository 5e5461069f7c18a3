/* Families: the tasks of a sweep that differ only in the branch keys (control,
 * control_seed, transfer.dataset, transfer.optimizer, transfer.lr, analysis.instability).
 * They share one trunk, the ticket's rounds, which the farm trains once for all of them
 * (tf_ticket_run_family); shards keep them whole. */
#ifndef TICKETFARM_FAMILY_H
#define TICKETFARM_FAMILY_H

#include "ticketfarm/config.h"
#include "ticketfarm/error.h"
#include "ticketfarm/sweep.h"

/* The most members the farm runs on one trunk; a larger family runs as several, each training
 * the trunk again (the rows are the same). */
#define TF_FAMILY_MAX 64

/* Whether grid axis `key` is a branch key (`control`, `control_seed`, the `transfer.*`
 * keys, `analysis.instability`): tasks that differ only
 * on such axes are one family. */
int tf_family_axis(const char *key);

/* The family of task: the task with the same values on every other axis and the first value on
 * each branch axis, so the family's lowest task id. Rank-local. */
long tf_family_of(const tf_sweep_t *sw, long task);

/* The members of family `family` (a tf_family_of value) in task order, into tasks (room for
 * max); returns their number (which may exceed max: only max are written). */
long tf_family_members(const tf_sweep_t *sw, long family, long *tasks, long max);

/* The planned cost (tf_ticket_round_cost's units) of running the n members cfgs[i], each from
 * round starts[i] (starts NULL: all from 0), as one family: round 0 once, each member's own rounds,
 * and the trunk's training (tf_ticket_replay_cost) in the rounds no ticket member reports. */
double tf_family_cost(const tf_config_t *cfgs, const int *starts, int n);

/* The planned cost of every task of the sweep, each family run once on its trunk. Rank-local;
 * returns a negative TF_E* code on failure. */
int tf_family_sweep_cost(const tf_sweep_t *sw, double *cost, tf_err_t *err);

#endif
