/* Planning a run of the task farm: the tasks still to run, longest expected first, found from
 * the results file, with the deaths of the last job judged first and a task that keeps killing
 * its job failed as poison. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ticketfarm/family.h"
#include "ticketfarm/log.h"
#include "ticketfarm/store.h"
#include "ticketfarm/ticket.h"

#include "farm_internal.h"

/* One line of the crash record file: the task a rank ran when a fatal signal ended it. */
typedef struct crash {
  long task;
  int signal;
} crash_t;
enum { MAX_CRASHES = 1024 };

/* A family to hand out: its queued members are tasks[at .. at + n) of the plan's members. */
typedef struct queued {
  double cost;
  long first; /* its lowest queued task */
  long at, n;
} queued_t;

/* Longest expected first; equal costs in task order, so the hand-out order is reproducible. */
static int cmp_queued(const void *a, const void *b) {
  const queued_t *x = a, *y = b;
  if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
  return (x->first > y->first) - (x->first < y->first);
}

static const char *signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default: return "a fatal signal";
  }
}

/* Rank 0: the crash records the ranks of earlier jobs left (tf_farm_crash_file), at most max;
 * lines that do not parse are skipped. */
static int read_crashes(const char *path, crash_t *c, int max) {
  FILE *fp = fopen(path, "r");
  if (fp == NULL) return 0;
  int n = 0;
  char line[128];
  while (n < max && fgets(line, sizeof line, fp) != NULL)
    if (sscanf(line, "task %ld signal %d", &c[n].task, &c[n].signal) == 2) n++;
  fclose(fp);
  return n;
}

/* Rank 0: the verdict on a task's last attempt when the job died in it (open) or its rank
 * recorded a crash in it. Progress is a new finished round: a resume restarts at a round's
 * start. A crash of its own always counts; a death that another task's crash caused does not
 * count against it; any other death (SIGKILL, the OOM killer, a lost node) counts when the
 * attempt finished no new round. Returns the new stalls count. */
static int judge(int stalls, int open, int progress, int own_crashes, int other_crashes) {
  if (own_crashes > 0) return stalls + own_crashes;
  if (!open) return stalls;
  if (progress) return 0;
  return other_crashes > 0 ? stalls : stalls + 1;
}

/* Rank 0: fails task as poison, with the basis of the decision as its reason. */
static int fail_poison(farm_t *f, long t, int stalls, int crashes, int last_signal,
                       tf_err_t *err) {
  char reason[256];
  int own = crashes < stalls ? crashes : stalls;
  if (own > 0)
    snprintf(reason, sizeof reason,
             "poison task: the job died %d times in a row while it ran: %d recorded crash%s of "
             "its rank (%s), %d without a new finished round (--max-attempts %d)",
             stalls, own, own == 1 ? "" : "es", signal_name(last_signal), stalls - own,
             f->opt->max_attempts);
  else
    snprintf(reason, sizeof reason,
             "poison task: the job died %d times in a row while it ran, each time without a "
             "new finished round (--max-attempts %d)",
             stalls, f->opt->max_attempts);
  tf_task_runtime_t rt = {.rank = f->rank, .started = tf__farm_wall_now(),
                          .finished = tf__farm_wall_now(), .fail_reason = reason};
  snprintf(rt.host, sizeof rt.host, "%s", f->host);
  int rc = tf_store_finish_task(f->store, t, TF_TASK_FAILED, &rt, err);
  if (rc < 0) return rc;
  tf_log(TF_LOG_WARN, "task %ld: %s", t, reason);
  f->failed++;
  return 0;
}

/* What planning reads and keeps: every task's state and tries from the file, the crash records
 * of earlier jobs, and the queue before it is sorted. */
typedef struct plan {
  signed char *status;
  int *rounds_done, *attempts;
  int *tries; /* (4 n_tasks) the four arrays below */
  int *start_round, *open, *stalls, *crashed;
  crash_t *crashes;
  int n_crashes;
  char crash_path[4096];
  long *tasks;      /* (n_tasks) the queued tasks, in task order, then family by family */
  long n_queued;
  queued_t *order;  /* (n_tasks) the families */
  long failed_before;
} plan_t;

static void plan_free(plan_t *p) {
  free(p->status);
  free(p->rounds_done);
  free(p->attempts);
  free(p->tries);
  free(p->crashes);
  free(p->tasks);
  free(p->order);
}

/* Allocates p's arrays and f's queue and costs (f's are the caller's to free). */
static int plan_alloc(farm_t *f, plan_t *p, tf_err_t *err) {
  const long n = f->n_tasks;
  memset(p, 0, sizeof *p);
  p->status = malloc((size_t)n);
  p->rounds_done = malloc((size_t)n * sizeof *p->rounds_done);
  p->attempts = malloc((size_t)n * sizeof *p->attempts);
  p->tries = malloc((size_t)n * 4 * sizeof *p->tries);
  p->crashes = malloc(MAX_CRASHES * sizeof *p->crashes);
  p->order = malloc((size_t)n * sizeof *p->order);
  p->tasks = malloc((size_t)n * sizeof *p->tasks);
  f->queue = malloc((size_t)n * sizeof *f->queue);
  f->fam_at = malloc((size_t)(n + 1) * sizeof *f->fam_at);
  f->cost = malloc((size_t)n * sizeof *f->cost);
  f->credited = calloc((size_t)n, sizeof *f->credited);
  if (!p->status || !p->rounds_done || !p->attempts || !p->tries || !p->crashes || !p->order ||
      !p->tasks || !f->queue || !f->fam_at || !f->cost || !f->credited)
    return tf_err_set(err, TF_ENOMEM, "out of memory for a queue of %ld tasks", n);
  p->start_round = p->tries;
  p->open = p->tries + n;
  p->stalls = p->tries + 2 * n;
  p->crashed = p->tries + 3 * n;
  return 0;
}

/* Reads every task's state and tries from the file, and the crash records of earlier jobs. */
static int plan_read(farm_t *f, plan_t *p, tf_err_t *err) {
  int rc = tf_store_read_all_states(f->store, p->status, p->rounds_done, p->attempts, err);
  if (rc == 0)
    rc = tf_store_read_tries(f->store, p->start_round, p->open, p->stalls, p->crashed, err);
  if (rc < 0) return rc;
  tf_farm_crash_file(f->out_path, p->crash_path, sizeof p->crash_path);
  p->n_crashes = read_crashes(p->crash_path, p->crashes, MAX_CRASHES);
  return 0;
}

/* Judges the deaths of the last job in unfinished task t (see judge), records the verdict, and
 * fails t as poison once its stalls reach max_attempts. Returns 1 when it failed t. */
static int judge_deaths(farm_t *f, plan_t *p, long t, tf_err_t *err) {
  int *stalls = p->stalls, *crashed = p->crashed;
  int own = 0, last_signal = 0;
  for (int k = 0; k < p->n_crashes; k++)
    if (p->crashes[k].task == t) {
      own++;
      last_signal = p->crashes[k].signal;
    }
  if (p->open[t] || own > 0) {
    int before = stalls[t];
    stalls[t] = judge(stalls[t], p->open[t], p->rounds_done[t] > p->start_round[t], own,
                      p->n_crashes - own);
    crashed[t] += own;
    int rc = tf_store_judge_task(f->store, t, stalls[t], crashed[t], err);
    if (rc < 0) return rc;
    if (own > 0)
      tf_log(TF_LOG_WARN, "task %ld crashed its rank (%s) in an earlier job: %d of %d "
             "deaths in a row before it is failed as poison", t, signal_name(last_signal),
             stalls[t], f->opt->max_attempts);
    else if (stalls[t] > before)
      tf_log(TF_LOG_INFO, "task %ld: the job died while it ran, without a new finished "
             "round: %d of %d deaths in a row before it is failed as poison", t, stalls[t],
             f->opt->max_attempts);
  }
  if (stalls[t] < f->opt->max_attempts) return 0;
  int rc = fail_poison(f, t, stalls[t], crashed[t], last_signal, err);
  return rc < 0 ? rc : 1;
}

/* Task t: counted as another shard's, done before or failed before, or queued with its expected
 * remaining cost (a failed task reset with retry_failed, an unfinished one judged first). */
static int plan_task(farm_t *f, plan_t *p, long t, tf_err_t *err) {
  if (f->shard_of != NULL && f->shard_of[t] != f->opt->shard_k) {
    f->outside++;
    return 0;
  }
  tf_config_t cfg;
  int rc = tf_grid_task(f->sw, t, &cfg, err);
  if (rc < 0) return rc;
  f->cost[t] = 0.0;
  for (int r = p->rounds_done[t]; r <= cfg.rounds; r++)
    f->cost[t] += tf_ticket_round_cost(&cfg, r);
  if (p->status[t] == TF_TASK_DONE) {
    f->report->done_before++;
    return 0;
  }
  if (p->status[t] == TF_TASK_FAILED && !f->opt->retry_failed) {
    p->failed_before++;
    return 0;
  }
  if (p->status[t] == TF_TASK_FAILED) {
    rc = tf_store_reset_task(f->store, t, err);
    if (rc < 0) return rc;
    p->rounds_done[t] = 0;
    f->cost[t] = tf_ticket_cost(&cfg);
  } else {
    rc = judge_deaths(f, p, t, err);
    if (rc != 0) return rc < 0 ? rc : 0;
  }
  if (p->rounds_done[t] > 0) f->report->resumed++;
  p->tasks[p->n_queued++] = t;
  return 0;
}

/* The queued members of one family in p->tasks[at .. at + n) (at most TF_FAMILY_MAX): its cost
 * as one family, shared work (round 0, the ticket's training for controls without their ticket)
 * charged to the first member so that the members' costs add up to it. */
static int family_cost(farm_t *f, plan_t *p, long at, long n, tf_err_t *err) {
  tf_config_t cfgs[TF_FAMILY_MAX];
  int starts[TF_FAMILY_MAX];
  double others = 0.0;
  for (long i = 0; i < n; i++) {
    const long t = p->tasks[at + i];
    int rc = tf_grid_task(f->sw, t, &cfgs[i], err);
    if (rc < 0) return rc;
    starts[i] = p->rounds_done[t];
    if (i == 0) continue;
    f->cost[t] = 0.0;
    for (int r = starts[i] > 1 ? starts[i] : 1; r <= cfgs[i].rounds; r++)
      f->cost[t] += tf_ticket_round_cost(&cfgs[i], r);
    others += f->cost[t];
  }
  const double cost = tf_family_cost(cfgs, starts, (int)n);
  f->cost[p->tasks[at]] = cost - others;
  f->cost_total += cost;
  p->order[f->n_queue++] = (queued_t){cost, p->tasks[at], at, n};
  return 0;
}

/* Groups the queued tasks (in task order) into families, each one's members in task order and
 * at most TF_FAMILY_MAX of them on one trunk, and prices each family. */
static int plan_families(farm_t *f, plan_t *p, tf_err_t *err) {
  long *family = f->queue; /* scratch: each queued task's family, then the grouped tasks */
  for (long i = 0; i < p->n_queued; i++) family[i] = tf_family_of(f->sw, p->tasks[i]);
  /* A stable grouping: the family of the lowest queued task first, members in task order. */
  long grouped = 0;
  char *taken = calloc((size_t)p->n_queued + 1, 1);
  long *sorted = malloc(((size_t)p->n_queued + 1) * sizeof *sorted);
  if (taken == NULL || sorted == NULL) {
    free(taken);
    free(sorted);
    return tf_err_set(err, TF_ENOMEM, "out of memory for the families");
  }
  for (long i = 0; i < p->n_queued; i++) {
    if (taken[i]) continue;
    for (long j = i; j < p->n_queued; j++)
      if (!taken[j] && family[j] == family[i]) {
        taken[j] = 1;
        sorted[grouped++] = p->tasks[j];
      }
  }
  memcpy(p->tasks, sorted, (size_t)p->n_queued * sizeof *p->tasks);
  int rc = 0;
  for (long at = 0; rc == 0 && at < p->n_queued;) {
    const long fam = tf_family_of(f->sw, p->tasks[at]);
    long n = 1;
    while (at + n < p->n_queued && n < TF_FAMILY_MAX && tf_family_of(f->sw, p->tasks[at + n]) == fam)
      n++;
    rc = family_cost(f, p, at, n, err);
    at += n;
  }
  free(taken);
  free(sorted);
  return rc;
}

/* Removes the counted crash records, sorts the queue and reports what a resume found. */
static int plan_queue(farm_t *f, plan_t *p, tf_err_t *err) {
  /* The records are in /runtime/crashes now: a later run must not count them again. */
  if (p->n_crashes > 0 && unlink(p->crash_path) != 0)
    return tf_err_set(err, TF_EIO, "%s: cannot remove the crash records once counted",
                      p->crash_path);
  int rc = plan_families(f, p, err);
  if (rc < 0) return rc;
  qsort(p->order, (size_t)f->n_queue, sizeof *p->order, cmp_queued);
  long k = 0;
  for (long i = 0; i < f->n_queue; i++) {
    f->fam_at[i] = k;
    for (long j = 0; j < p->order[i].n; j++) f->queue[k++] = p->tasks[p->order[i].at + j];
  }
  f->fam_at[f->n_queue] = k;
  f->failed += p->failed_before;
  if (f->report->done_before > 0 || p->failed_before > 0 || f->report->resumed > 0)
    tf_log(TF_LOG_INFO,
           "resuming: %ld of %ld tasks done before, %ld failed before%s, %ld to run (%ld "
           "continue from a finished round)",
           f->report->done_before, f->n_tasks, p->failed_before,
           p->failed_before > 0 && !f->opt->retry_failed ? " (--retry-failed reruns them)" : "",
           p->n_queued, f->report->resumed);
  return 0;
}

int tf__farm_plan(farm_t *f, tf_err_t *err) {
  plan_t p;
  int rc = plan_alloc(f, &p, err);
  if (rc == 0) rc = plan_read(f, &p, err);
  for (long t = 0; rc == 0 && t < f->n_tasks; t++) rc = plan_task(f, &p, t, err);
  if (rc == 0) rc = plan_queue(f, &p, err);
  plan_free(&p);
  return rc;
}
