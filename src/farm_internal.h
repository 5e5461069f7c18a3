/* Internal to the task farm's sources (farm*.c): the state of a run that farm.c drives and
 * farm_plan.c fills from the results file before the first task is handed out. */
#ifndef TICKETFARM_FARM_INTERNAL_H
#define TICKETFARM_FARM_INTERNAL_H

#include "ticketfarm/error.h"
#include "ticketfarm/farm.h"
#include "ticketfarm/lock.h"
#include "ticketfarm/store.h"
#include "ticketfarm/sweep.h"

#include "node_data.h"

/* A run of the farm as one rank holds it. */
typedef struct farm {
  const tf_sweep_t *sw;
  const char *out_path;
  const tf_farm_options_t *opt;
  tf_store_t *store;
  int rank, size;
  char host[64];
  tf__node_data_t *data; /* the sweep's datasets, one copy per node */
  int stopping;       /* no more tasks are started; running ones stop at a safe point */
  double started;     /* tf__clock_now() at the start of the run */
  /* rank 0 only */
  tf_lock_t lock;
  long n_tasks;
  long *queue;        /* unfinished task ids, family by family, longest family first */
  long *fam_at;       /* (n_queue + 1) family i is queue[fam_at[i] .. fam_at[i + 1]) */
  double *cost;       /* (n_tasks) expected remaining cost */
  double *credited;   /* (n_tasks) the part of it counted done: finished rounds, or all of it */
  long shown[3];      /* done, running, failed in the last progress line */
  long n_queue, next; /* families next .. n_queue - 1 not yet handed out */
  long done, failed, running, interrupted;
  int stopped;        /* workers told to stop */
  char *worker_stopped; /* (size) */
  double cost_total, cost_done, last_progress;
  double done_at;     /* tf__clock_now() when cost_done last grew */
  tf_farm_report_t *report;
  int *shard_of;      /* (n_tasks) each task's shard, for a shard's job; NULL: every task runs */
  long outside;       /* tasks of other shards */
} farm_t;

/* Seconds since the epoch: the task start and end times stored in /runtime. Rank-local. */
double tf__farm_wall_now(void);

/* Rank 0 (farm_plan.c): reads every task's state and queues the unfinished ones, longest expected
 * first, in f->queue with their costs in f->cost and f->credited (allocated here, freed by the
 * caller even after a failure). Failed tasks are skipped (or reset with retry_failed). The deaths
 * of the last job are judged first: a task whose stalls reach max_attempts is failed as a poison
 * task, so one task that kills its job cannot stop the sweep, while a task that moves forward
 * between kills is never failed. */
int tf__farm_plan(farm_t *f, tf_err_t *err);

#endif
