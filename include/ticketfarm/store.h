/* The results file: one parallel HDF5 file per sweep, created whole up front and written in
 * per-task slices, plus the serial readers behind `status` and `summary`. */
#ifndef TICKETFARM_STORE_H
#define TICKETFARM_STORE_H

#include <mpi.h>
#include <stdio.h>

#include "ticketfarm/error.h"
#include "ticketfarm/sweep.h"
#include "ticketfarm/ticket.h"

typedef enum { TF_TASK_PENDING = 0, TF_TASK_DONE = 1, TF_TASK_FAILED = 2 } tf_task_status_t;

typedef struct tf_store tf_store_t;

/* Run facts of one task, stored under /runtime. */
typedef struct tf_task_runtime {
  int rank;
  char host[64];
  double started, finished; /* seconds since the epoch */
  const char *fail_reason;  /* NULL unless failed */
} tf_task_runtime_t;

/* Collective over comm. Creates path (replacing it) with every dataset sized for the whole
 * sweep, the grid columns, the sweep text, version and dimension scales, then flushes once, so
 * a job killed afterwards leaves a readable file. */
int tf_store_create(tf_store_t **out, const char *path, MPI_Comm comm, const tf_sweep_t *sw,
                    tf_err_t *err);

/* Rank-local: write one task's data. Round data first, then rounds_done, so a reader never sees
 * a round counted before its data is written. */
int tf_store_write_snapshot(tf_store_t *st, long task, tf_snapshot_t which, const float *params,
                            size_t n_params, tf_err_t *err);
int tf_store_write_round(tf_store_t *st, long task, const tf_round_t *round, tf_err_t *err);

/* Rank-local: the task's runtime facts, then its status (last). */
int tf_store_finish_task(tf_store_t *st, long task, tf_task_status_t status,
                         const tf_task_runtime_t *rt, tf_err_t *err);

/* Collective: closes the file. Frees st even on error. */
int tf_store_close(tf_store_t *st, tf_err_t *err);

/* Serial readers (no MPI job needed; they work while a job writes the file). */
int tf_store_print_status(const char *path, FILE *out, tf_err_t *err);
int tf_store_print_summary(const char *path, FILE *out, int csv, tf_err_t *err);

#endif
