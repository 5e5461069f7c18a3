/* The results file: one parallel HDF5 file per sweep, created whole up front, written in per-task
 * slices and reopened to resume, plus the serial readers behind `status` and `summary`. */
#ifndef TICKETFARM_STORE_H
#define TICKETFARM_STORE_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "ticketfarm/error.h"
#include "ticketfarm/report.h"
#include "ticketfarm/shard.h"
#include "ticketfarm/sweep.h"

typedef enum { TF_TASK_PENDING = 0, TF_TASK_DONE = 1, TF_TASK_FAILED = 2 } tf_task_status_t;

typedef struct tf_store tf_store_t;

/* Run facts of one task, stored under /runtime. */
typedef struct tf_task_runtime {
  int rank;
  char host[64];
  double started, finished; /* seconds since the epoch */
  const char *fail_reason;  /* NULL unless failed */
} tf_task_runtime_t;

/* Serial: the bytes tf_store_create would allocate for sw's datasets (every task's rows padded
 * to the longest task, as they are written), without the grid columns and HDF5's metadata. */
int tf_store_size(const tf_sweep_t *sw, double *bytes, tf_err_t *err);

/* Collective over comm. Creates path (replacing it) with every dataset sized for the whole
 * sweep, the grid columns, the sweep text, version and dimension scales, and the netCDF/CF
 * attributes by which xarray reads them as labelled arrays, then flushes once, so a job killed
 * afterwards leaves a readable file. */
int tf_store_create(tf_store_t **out, const char *path, MPI_Comm comm, const tf_sweep_t *sw,
                    tf_err_t *err);

/* Collective over comm: tf_store_create for the job that runs one shard of sw (NULL or n == 1:
 * the whole sweep, as tf_store_create). The file has the whole sweep's layout, every task
 * pending; the /runtime attributes "shard" and "shards" say which shard it holds. */
int tf_store_create_shard(tf_store_t **out, const char *path, MPI_Comm comm,
                          const tf_sweep_t *sw, const tf_shard_t *shard, tf_err_t *err);

/* Serial: the shard a results file holds (its /runtime "shard" and "shards"; 0 of 1, the whole
 * sweep, when it has none). TF_EFORMAT when path is not a results file. */
int tf_store_read_shard(const char *path, tf_shard_t *shard, tf_err_t *err);

/* Rank-local: write one task's data. Round data first, then the ticket's mask for the next round
 * (round->next_mask_bits, required unless the round is the task's last), then rounds_done: a
 * task's rounds below rounds_done are final and the mask a resume at round rounds_done needs is
 * on disk, whenever the job dies. */
int tf_store_write_snapshot(tf_store_t *st, long task, tf_snapshot_t which, const float *params,
                            size_t n_params, tf_err_t *err);
int tf_store_write_round(tf_store_t *st, long task, const tf_round_t *round, tf_err_t *err);

/* Rank-local: the task's runtime facts, then its status (last). */
int tf_store_finish_task(tf_store_t *st, long task, tf_task_status_t status,
                         const tf_task_runtime_t *rt, tf_err_t *err);

/* What a path holds, for deciding between creating, resuming and refusing (tf_store_probe). */
typedef enum {
  TF_STORE_ABSENT = 0,     /* no such file */
  TF_STORE_RESULTS = 1,    /* a ticketfarm results file */
  TF_STORE_UNREADABLE = 2, /* a regular file without an HDF5 signature: empty, or a job killed
                            * before its first flush (or any non-HDF5 file) */
  TF_STORE_FOREIGN = 3     /* an HDF5 file that is not a ticketfarm results file */
} tf_store_kind_t;

/* Serial (no MPI needed): classifies path as a tf_store_kind_t (>= 0). A file with the HDF5
 * signature that HDF5 cannot open (truncated, damaged) is TF_EHDF5, and a path that cannot be
 * read (permission denied, a directory) TF_EIO: never UNREADABLE, so that a caller deciding to
 * start afresh on UNREADABLE cannot replace a damaged results file by mistake. */
int tf_store_probe(const char *path, tf_err_t *err);

/* Serial: the sweep text stored in the results file at path, malloc'd in *text (the caller
 * frees it). TF_EFORMAT when path is not a results file. */
int tf_store_read_sweep(const char *path, char **text, tf_err_t *err);

/* Collective over comm. Opens an existing results file read-write to continue it: checks that
 * its layout, grid axes and every dataset's shape are what sw implies (TF_EMISMATCH naming the
 * first difference otherwise; TF_EFORMAT when it is not a results file), caches the datasets
 * as tf_store_create does, counts this run in the /runtime attribute "runs" and flushes. The
 * checks run on a read-only open before the file is opened for writing, so the file is left
 * byte-for-byte untouched when it fails. Comparing the sweep text is the caller's job. */
int tf_store_open(tf_store_t **out, const char *path, MPI_Comm comm, const tf_sweep_t *sw,
                  tf_err_t *err);

/* Rank-local, after tf_store_create or tf_store_open: NULL, or a sentence saying which earlier
 * run of the file computed on another processor model or OpenBLAS core type than this one (the
 * /runtime attributes runN_processor, runN_openblas_core and runN_openblas_config record each
 * run's), for the caller to warn with. */
const char *tf_store_platform_change(const tf_store_t *st);

/* Rank-local: task's status, rounds done and attempts (any pointer may be NULL). */
int tf_store_read_task_state(tf_store_t *st, long task, tf_task_status_t *status,
                             int *rounds_done, int *attempts, tf_err_t *err);

/* Rank-local: the same for every task at once; each array holds tf_grid_tasks(sw) entries. */
int tf_store_read_all_states(tf_store_t *st, signed char *status, int *rounds_done,
                             int *attempts, tf_err_t *err);

/* Rank-local: the ticket's mask for round rounds_done of task (tf_round_t.next_mask_bits of the
 * last finished round), the state a resumed task starts from; n must be the task's mask size.
 * TF_EINPUT when the task has no finished round or has finished them all. */
int tf_store_read_next_mask(tf_store_t *st, long task, uint8_t *bits, size_t n, tf_err_t *err);

/* Rank-local, before a task runs: records in /runtime how many times a run has started it and
 * the round this attempt starts at (0 = from scratch; the task's round count when only its
 * finish is left; -1 never started), and clears its finish time and failure reason, and
 * marks the attempt open (/runtime/open_attempt). Also used to put back the previous values
 * when an attempt should not count, followed by tf_store_end_attempt to close it. */
int tf_store_begin_task(tf_store_t *st, long task, int attempts, int start_round, tf_err_t *err);

/* Rank-local: the poison bookkeeping of every task (each array holds tf_grid_tasks(sw)
 * entries): the round its last attempt started at (-1 never), whether that attempt is still
 * open (it neither finished nor stopped cleanly: the job died in it, or it runs now), the job
 * deaths in a row without progress, and the crashes of its rank recorded for it. A file written
 * before the last three existed reads zeros for them. */
int tf_store_read_tries(tf_store_t *st, int *start_round, int *open, int *stalls, int *crashes,
                        tf_err_t *err);

/* Rank-local: records the verdict on task's last attempt (its stalls and crashes counts) and
 * closes the attempt, so that no later run judges it again. tf_store_begin_task opens one. */
int tf_store_judge_task(tf_store_t *st, long task, int stalls, int crashes, tf_err_t *err);

/* Rank-local: closes task's attempt without a verdict (a clean stop: it never counts). */
int tf_store_end_attempt(tf_store_t *st, long task, tf_err_t *err);

/* Rank-local: makes task pending with no round done (status first), to rerun it from scratch;
 * its stalls go back to 0. */
int tf_store_reset_task(tf_store_t *st, long task, tf_err_t *err);

/* Collective: H5Fflush(GLOBAL), so that everything written so far survives a power loss. */
int tf_store_flush(tf_store_t *st, tf_err_t *err);

/* Collective: closes the file. Frees st even on error. */
int tf_store_close(tf_store_t *st, tf_err_t *err);

/* Serial: 0 when the results file at path holds shard `want` (NULL or n == 1: the whole
 * sweep); otherwise TF_EMISMATCH with a message saying which it holds and how to resume it. */
int tf_store_check_shard(const char *path, const tf_shard_t *want, tf_err_t *err);

/* What tf_store_merge wrote. */
typedef struct tf_store_merge_report {
  long tasks; /* in the sweep */
  long held;  /* taken from one of the files (the others are pending) */
  long done;  /* of those, done */
} tf_store_merge_report_t;

/* Serial, but MPI must be initialised (a singleton MPI_Init without a launcher suffices): merges
 * the results files of shards of one sweep into a new file out_path of the whole sweep. Refuses
 * (TF_EMISMATCH naming the files and what differs or overlaps; TF_EINPUT for an existing
 * out_path or a path that is no results file) unless every file holds the same sweep
 * (tf_sweep_diff) and no task is in two of them. Each task's rows, /results and /runtime, come
 * from the file whose shard holds it, one task at a time (memory: one row of one dataset); tasks
 * no file holds stay pending, so out_path can be resumed by `run` like a file of a whole-sweep
 * job. /runtime/parts records each file's shard and run facts. Takes the lock of every file
 * and of out_path as a job does (TF_EINPUT naming the job that holds one). The inputs are only
 * read; a failed merge removes out_path. */
int tf_store_merge(const char *const *paths, int n_parts, const char *out_path,
                   tf_store_merge_report_t *report, tf_err_t *err);

/* Serial readers (no MPI job needed; they work while a job writes the file). status ends with
 * the line "N tasks: A done, B failed, C pending (D running/partial)"; above it, the runs that
 * opened the file and how many tasks were restarted or resumed at a later round. */
int tf_store_print_status(const char *path, FILE *out, tf_err_t *err);
int tf_store_print_summary(const char *path, FILE *out, int csv, tf_err_t *err);
/* The same over several files of one sweep (the shards' files): one table (or CSV) with one
 * header, each file's rows in the order given; TF_EINPUT when their grid axes differ. */
int tf_store_print_summaries(const char *const *paths, int n, FILE *out, int csv,
                             tf_err_t *err);

#endif
