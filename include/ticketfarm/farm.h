/* The MPI task farm: rank 0 hands tasks out (longest first) and works too; every rank runs whole
 * tasks and writes its results into the shared file. The only module that knows MPI scheduling. */
#ifndef TICKETFARM_FARM_H
#define TICKETFARM_FARM_H

#include "ticketfarm/error.h"
#include "ticketfarm/sweep.h"

typedef struct tf_farm_options {
  const char *data_root;    /* where datasets live; NULL = tf_data_root() */
  double progress_every;    /* seconds between progress lines on rank 0; <= 0: only at the end */
} tf_farm_options_t;

/* What the job did, known on rank 0 (zeros elsewhere). */
typedef struct tf_farm_report {
  long tasks, done, failed;
  double wall_s;
} tf_farm_report_t;

/* Collective over MPI_COMM_WORLD (MPI must be initialised). Loads the datasets the sweep needs,
 * creates out_path, runs every task once, closes the file. Failed tasks (diverged) are recorded
 * in the file and counted, not returned as errors. Returns 0, or a TF_E* code with err filled on
 * the rank that saw it (the caller aborts the job on a runtime error, since other ranks may be
 * inside a collective call). */
int tf_farm_run(const tf_sweep_t *sw, const char *out_path, const tf_farm_options_t *opt,
                tf_farm_report_t *report, tf_err_t *err);

#endif
