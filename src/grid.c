/* The grid of a sweep: its axes, the value each task takes on each, and each task's config. */
#include "ticketfarm/grid.h"

#include <math.h>

#include "sweep_internal.h"

long tf_grid_tasks(const tf_sweep_t *sw) { return sw->tasks; }
int tf_grid_axes(const tf_sweep_t *sw) { return sw->n_axes; }

static const axis_t *axis_get(const tf_sweep_t *sw, int axis) {
  return axis >= 0 && axis < sw->n_axes ? &sw->axes[axis] : NULL;
}

const char *tf_grid_axis_key(const tf_sweep_t *sw, int axis) {
  const axis_t *ax = axis_get(sw, axis);
  return ax != NULL ? tf__sweep_key_docs[ax->key].key : NULL;
}

tf_axis_kind_t tf_grid_axis_kind(const tf_sweep_t *sw, int axis) {
  const axis_t *ax = axis_get(sw, axis);
  if (ax == NULL) return TF_AXIS_TEXT;
  value_type_t t = tf__sweep_key_rules[ax->key].type;
  return t == VT_INT ? TF_AXIS_INT : t == VT_REAL ? TF_AXIS_REAL : TF_AXIS_TEXT;
}

int tf_grid_axis_size(const tf_sweep_t *sw, int axis) {
  const axis_t *ax = axis_get(sw, axis);
  return ax != NULL ? ax->n : 0;
}

int tf_grid_value_index(const tf_sweep_t *sw, int axis, long task) {
  const axis_t *ax = axis_get(sw, axis);
  if (ax == NULL || task < 0 || task >= sw->tasks) return 0;
  return (int)(task / sw->stride[axis] % ax->n);
}

static const value_t *value_get(const tf_sweep_t *sw, int axis, long task) {
  const axis_t *ax = axis_get(sw, axis);
  if (ax == NULL || task < 0 || task >= sw->tasks) return NULL;
  return &ax->values[tf_grid_value_index(sw, axis, task)];
}

void tf_grid_value_text(const tf_sweep_t *sw, int axis, long task, char *buf, size_t size) {
  const value_t *v = value_get(sw, axis, task);
  if (size == 0) return;
  if (v == NULL) {
    buf[0] = '\0';
    return;
  }
  tf__sweep_value_text(sw->axes[axis].key, v, buf, size);
}

double tf_grid_value_real(const tf_sweep_t *sw, int axis, long task) {
  const value_t *v = value_get(sw, axis, task);
  if (v == NULL) return NAN;
  switch (tf_grid_axis_kind(sw, axis)) {
    case TF_AXIS_REAL: return v->r;
    case TF_AXIS_INT: return (double)v->i;
    case TF_AXIS_TEXT: break;
  }
  return NAN;
}

long long tf_grid_value_int(const tf_sweep_t *sw, int axis, long task) {
  const value_t *v = value_get(sw, axis, task);
  if (v == NULL) return 0;
  switch (tf_grid_axis_kind(sw, axis)) {
    case TF_AXIS_INT: return v->i;
    case TF_AXIS_REAL: return (long long)v->r;
    case TF_AXIS_TEXT: break;
  }
  return 0;
}

int tf_grid_task(const tf_sweep_t *sw, long task, tf_config_t *cfg, tf_err_t *err) {
  if (task < 0 || task >= sw->tasks)
    return tf_err_set(err, TF_EINPUT, "task %ld is out of range: the sweep has %ld tasks", task,
                      sw->tasks);
  *cfg = sw->base;
  for (int a = 0; a < sw->n_axes; a++) {
    const axis_t *ax = &sw->axes[a];
    tf__sweep_value_apply(ax->key, &ax->values[task / sw->stride[a] % ax->n], cfg);
  }
  return 0;
}
