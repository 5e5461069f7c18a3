/* Sweep files: reading, YAML parsing and validation of every key (with file:line:col messages
 * and "did you mean" hints), the documentation of every key, and comparing two sweeps; the grid
 * of values to sweep is in grid.h. */
#ifndef TICKETFARM_SWEEP_H
#define TICKETFARM_SWEEP_H

#include <stddef.h>
#include <stdio.h>

#include "ticketfarm/config.h"
#include "ticketfarm/error.h"

#define TF_SWEEP_MAX_BYTES (60 * 1024) /* stored whole as an HDF5 attribute */
#define TF_SWEEP_MAX_AXES 16
#define TF_SWEEP_MAX_TASKS 10000000L

typedef struct tf_sweep tf_sweep_t;

/* Reads the bytes of a sweep file into *text (malloc'd, NUL-terminated, *len bytes before the
 * NUL), the one reader of sweep files. TF_EIO when the file cannot be opened or read, TF_EINPUT
 * "PATH:1:1: ..." when it is larger than TF_SWEEP_MAX_BYTES, TF_ENOMEM. Rank-local. */
int tf_sweep_read(const char *path, char **text, size_t *len, tf_err_t *err);

/* Reads and validates a sweep file. Every error is TF_EINPUT (TF_EIO when the file cannot be
 * read) with a message "PATH:LINE:COL: ..." naming the key, what was expected and, when one is
 * close, the likely intended name. Every task of the grid is built and checked with
 * tf_config_check here, so a loaded sweep has no invalid task. Rank-local. */
int tf_sweep_load(tf_sweep_t **out, const char *path, tf_err_t *err);

/* The same from text in memory; `filename` is used in messages. */
int tf_sweep_parse(tf_sweep_t **out, const char *text, size_t len, const char *filename,
                   tf_err_t *err);

void tf_sweep_free(tf_sweep_t *sw);

const char *tf_sweep_text(const tf_sweep_t *sw); /* the file's bytes, NUL-terminated */
const char *tf_sweep_name(const tf_sweep_t *sw); /* the name: key ("" if absent) */
const tf_config_t *tf_sweep_base(const tf_sweep_t *sw); /* defaults + top-level keys */

/* One documented key, for --help style listings and the README's key table. */
typedef struct tf_sweep_key {
  const char *key;         /* dotted path: "train.lr" */
  const char *type;        /* "real", "integer", "string", "list of integers", ... */
  const char *def;         /* the default, as it would be written in YAML */
  const char *description; /* one sentence */
} tf_sweep_key_t;

/* The table of every accepted key, in the order of the README. */
const tf_sweep_key_t *tf_sweep_keys(size_t *count);

/* A sweep's tasks and their values: include/ticketfarm/grid.h. */
#include "ticketfarm/grid.h"

/* Compares the sweep a results file holds (`stored`) with the sweep given to continue it
 * (`given`), task by task. Returns 0 when both have the same number of tasks and every task's
 * configuration is equal under tf_config_diff; otherwise 1, with the first difference written
 * into buf: "N tasks in the file, M in the sweep" or "task T: KEY: A vs B (file vs sweep)".
 * Rank-local. */
int tf_sweep_diff(const tf_sweep_t *stored, const tf_sweep_t *given, char *buf, size_t size);

#endif
