/* The grid of a sweep: the Cartesian product of the values listed under `grid:`, each task's
 * value on each axis and each task's full configuration. */
#ifndef TICKETFARM_GRID_H
#define TICKETFARM_GRID_H

#include <stddef.h>

#include "ticketfarm/config.h"
#include "ticketfarm/error.h"

typedef struct tf_sweep tf_sweep_t; /* a loaded sweep: include/ticketfarm/sweep.h */

/* Axes in the order they are written under `grid:`, the last axis varying fastest (task =
 * mixed-radix number of value indices). A sweep without a grid has one task. */
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
