/* Sweep files: YAML parsing and validation of every key (with file:line:col messages and
 * "did you mean" hints), the grid of values to sweep, and the documentation of every key. */
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

/* The grid: Cartesian product of the values listed under `grid:`, axes in the order they are
 * written, the last axis varying fastest (task = mixed-radix number of value indices). A sweep
 * without a grid has one task. */
typedef enum { TF_AXIS_TEXT, TF_AXIS_INT, TF_AXIS_REAL } tf_axis_kind_t;

long tf_grid_tasks(const tf_sweep_t *sw);
int tf_grid_axes(const tf_sweep_t *sw);
const char *tf_grid_axis_key(const tf_sweep_t *sw, int axis); /* "prune.rate" */
tf_axis_kind_t tf_grid_axis_kind(const tf_sweep_t *sw, int axis);
int tf_grid_axis_size(const tf_sweep_t *sw, int axis); /* number of values */

/* Index of the value task takes on axis. */
int tf_grid_value_index(const tf_sweep_t *sw, int axis, long task);

/* The value of axis for task: canonical text ("he_normal", "0.2", "[300, 100]", "1"), and the
 * number for INT and REAL axes. */
void tf_grid_value_text(const tf_sweep_t *sw, int axis, long task, char *buf, size_t size);
double tf_grid_value_real(const tf_sweep_t *sw, int axis, long task);
long long tf_grid_value_int(const tf_sweep_t *sw, int axis, long task);

/* The full configuration of task (0 <= task < tf_grid_tasks). Rank-local; cannot fail for a
 * loaded sweep (returns TF_EINPUT only for an out-of-range task). */
int tf_grid_task(const tf_sweep_t *sw, long task, tf_config_t *cfg, tf_err_t *err);

#endif
