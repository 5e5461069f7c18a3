/* One writer per results file: a lock file beside it naming the job that holds it, kept fresh by a
 * heartbeat, and taken over when that job is gone. The MPI-IO driver takes no lock of its own. */
#ifndef TICKETFARM_LOCK_H
#define TICKETFARM_LOCK_H

#include "ticketfarm/error.h"

/* A lock whose heartbeat is older than this is stale wherever its holder ran. */
#define TF_LOCK_STALE_S 300
/* How often a holder refreshes its heartbeat. */
#define TF_LOCK_HEARTBEAT_S 60

typedef struct tf_lock {
  char path[4096]; /* TARGET.lock */
  int held;
  int recovered;   /* the lock was taken over from a job that is gone */
  char previous[512]; /* who held it before, when recovered */
  double touched;  /* when the heartbeat was last written (monotonic seconds) */
} tf_lock_t;

/* Takes TARGET.lock, writing this process's host, pid, start time and SLURM job id into it.
 * A lock whose holder is gone (same host and no such process, or a heartbeat older than
 * TF_LOCK_STALE_S) is taken over and `recovered` set. A live one is refused with TF_EINPUT
 * naming its holder. Rank-local: only the job's rank 0 calls it. */
int tf_lock_acquire(tf_lock_t *lock, const char *target, tf_err_t *err);

/* Refreshes the heartbeat when TF_LOCK_HEARTBEAT_S have passed since the last one. Cheap to call
 * often. */
void tf_lock_heartbeat(tf_lock_t *lock);

/* Removes the lock file if held. */
void tf_lock_release(tf_lock_t *lock);

#endif
