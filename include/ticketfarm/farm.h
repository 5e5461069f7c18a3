/* The MPI task farm: rank 0 hands tasks out (longest first) and works too; every rank runs whole
 * tasks and writes its results into the shared file; an interrupted sweep resumes in the same
 * file. The only module that knows MPI scheduling. */
#ifndef TICKETFARM_FARM_H
#define TICKETFARM_FARM_H

#include "ticketfarm/error.h"
#include "ticketfarm/sweep.h"

typedef struct tf_farm_options {
  const char *data_root; /* where datasets live; NULL = tf_data_root() */
  double progress_every; /* seconds between progress lines on rank 0; <= 0: none */
  double stop_after;     /* seconds (monotonic clock) after which to stop as on a stop request;
                          * <= 0: never */
  int max_attempts;      /* a task whose job died this many times in a row while it ran, without
                          * a new finished round (or with a recorded crash of its own), is
                          * failed as poison */
  int retry_failed;      /* rerun tasks recorded as failed */
  int shard_k, shard_n;  /* run only shard shard_k of shard_n (tf_shard_assign) into a shard's
                          * file; shard_n <= 1: the whole sweep */
  /* Rank-local, NULL for none: called on the rank that ran it after each finished round of a
   * task is in the file (a test can make a task misbehave at a known point). */
  void (*after_round)(long task, int round);
} tf_farm_options_t;

/* What the job did, known on rank 0 (zeros elsewhere, but for `collective`). */
typedef struct tf_farm_report {
  long tasks;       /* tasks in the sweep (in its shard, for a shard's job) */
  long done;        /* done at the end, earlier runs' included */
  long failed;      /* failed at the end */
  long done_before; /* already done when this run started */
  long resumed;     /* tasks continued from a round > 0 */
  int interrupted;  /* stopped by a stop request or stop_after with tasks left */
  int created;      /* the file was created by this run (not resumed) */
  int collective;   /* on error: every rank returned it (no MPI_Abort needed) */
  double wall_s;
  /* Peak resident memory (VmHWM) of the largest and smallest rank, in bytes, 0 where the system
   * does not say; and the bytes of the datasets each node holds once for its ranks, which every
   * rank's resident memory includes as far as it has read them. Rank 0, after a clean end. */
  double peak_rss_max, peak_rss_min, shared_data;
} tf_farm_report_t;

/* Asks a running (or about to run) tf_farm_run to stop at the next safe point, as stop_after
 * does. Async-signal-safe (it sets a volatile sig_atomic_t): the CLI calls it from its SIGTERM,
 * SIGUSR1 and SIGINT handler. Rank-local: the rank that sees it tells the others. */
void tf_farm_request_stop(void);

/* The memory a sweep needs on one rank, against what this process may use. */
typedef struct tf_farm_memory {
  double task;      /* bytes one rank allocates for the sweep's largest task (tf_ticket_memory) */
  long largest;     /* that task */
  double shared;    /* bytes of the sweep's datasets, held once per node */
  double libraries; /* bytes of the libraries (MPI, HDF5, OpenBLAS) a rank holds, measured */
  double limit;     /* bytes this process may use: the least of physical memory, RLIMIT_AS and
                     * the cgroup's memory.max; 0 when none is known */
  char limit_what[48]; /* which of them */
} tf_farm_memory_t;

/* Rank-local, no MPI needed: fills mem for sw. tf_farm_run refuses a sweep (TF_EINPUT, before
 * the results file or its lock exists) whose largest task, with the datasets and libraries,
 * does not fit mem->limit. */
int tf_farm_memory(const tf_sweep_t *sw, tf_farm_memory_t *mem, tf_err_t *err);

/* The task this rank is running, -1 when none. Async-signal-safe (a lock-free atomic load): a
 * handler of a fatal signal reads it to record the task that crashed the rank. Rank-local. */
long tf_farm_current_task(void);

/* The crash record file of the results file out_path: out_path + ".crashes". A rank dying of a
 * fatal signal appends one line "task T signal S\n" to it; the next tf_farm_run reads it,
 * counts the crash against task T alone (the tasks that died beside it are not blamed), notes
 * it in /runtime/crashes and removes the file. Returns the length snprintf would, so a result
 * >= size means it did not fit. Rank-local. */
int tf_farm_crash_file(const char *out_path, char *buf, size_t size);

/* Collective over MPI_COMM_WORLD (MPI must be initialised). Takes the output's lock file,
 * creates out_path or resumes it when it holds the same sweep and shard (refused with
 * TF_EMISMATCH naming the difference otherwise, the file untouched), loads the datasets, runs
 * every unfinished task (from its last finished round), closes the file. Failed tasks (diverged,
 * or poison: see max_attempts) are recorded in the file and counted, not returned as errors. A
 * stop
 * request or stop_after stops handing out tasks, interrupts running ones at a safe point and
 * returns 0 with report->interrupted set. Returns 0, or a TF_E* code with err filled on the rank that saw it;
 * report->collective tells whether every rank returned it. */
int tf_farm_run(const tf_sweep_t *sw, const char *out_path, const tf_farm_options_t *opt,
                tf_farm_report_t *report, tf_err_t *err);

#endif
