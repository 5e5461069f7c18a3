/* Rank-local reads and writes of one task's rows of the results file: its rounds, snapshots,
 * runtime facts and state, as the farm runs and resumes it. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "store_internal.h"

/* Datasets whose writes select part of the second axis as well as the task. */
static int indexes_second_axis(const dset_spec_t *s) {
  return s->rank > 1 && (s->dims[1] == DIM_ROUND || s->dims[1] == DIM_PARITY);
}

/* Why a write may have failed that HDF5's error stack does not say: a full or failing disk. */
static void write_cause(const char *path, int saved_errno, char *buf, size_t size) {
  buf[0] = '\0';
  if (saved_errno == ENOSPC || saved_errno == EDQUOT || saved_errno == EIO ||
      saved_errno == EFBIG) {
    snprintf(buf, size, " (%s)", strerror(saved_errno));
    return;
  }
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash != NULL)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  struct statvfs fs;
  if (statvfs(dir[0] ? dir : "/", &fs) == 0 && (double)fs.f_bavail * fs.f_frsize < 1048576.0)
    snprintf(buf, size, " (no space left on device: %.0f bytes free where %s is)",
             (double)fs.f_bavail * fs.f_frsize, path);
}

/* Writes rounds (or parities) [round0, round0 + n_rounds) of one task, or its whole row for a
 * dataset without such an axis. */
static int put(tf_store_t *st, int d, long task, int round0, int n_rounds, const void *buf,
               tf_err_t *err) {
  const dset_spec_t *s = &tf__store_dsets[d];
  if (s->optional && st->dset[d] < 0) return 0; /* a file written before it existed */
  errno = 0;
  if (tf__h5_write_rows(st->dset[d], tf__store_type(st, s->type).mem, st->dxpl, (hsize_t)task, 1,
                        indexes_second_axis(s), (hsize_t)round0, (hsize_t)n_rounds, buf) < 0) {
    char cause[256];
    write_cause(st->path, errno, cause, sizeof cause);
    int rc = tf__h5_fail(err, "%s: cannot write /%s/%s of task %ld", st->path,
                         tf__store_group_names[s->group], s->name, task);
    if (err != NULL) {
      size_t len = strlen(err->msg);
      snprintf(err->msg + len, sizeof err->msg - len, "%s", cause);
    }
    return rc;
  }
  return 0;
}

/* The shape of task, for a rank-local write or read: task must be in range. */
static int checked_shape(tf_store_t *st, long task, task_shape_t *ts, tf_err_t *err) {
  if (task < 0 || task >= st->n_tasks)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld out of range (0 to %ld)", st->path, task,
                      st->n_tasks - 1);
  return tf__store_task_shape(st->sw, task, ts, err);
}

/* One parameter row, NaN beyond the task's parameters. */
static const float *param_row(tf_store_t *st, const float *params, size_t n_params) {
  float *row = (float *)st->row;
  memcpy(row, params, n_params * sizeof *row);
  for (hsize_t i = n_params; i < st->len[DIM_PARAM]; i++) row[i] = NAN;
  return row;
}

/* One mask row, zero padded. */
static const uint8_t *mask_row(tf_store_t *st, const uint8_t *bits, size_t n) {
  uint8_t *row = st->row;
  memcpy(row, bits, n);
  memset(row + n, 0, st->len[DIM_MASK_BYTE] - n);
  return row;
}

int tf_store_write_snapshot(tf_store_t *st, long task, tf_snapshot_t which, const float *params,
                            size_t n_params, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  unsigned bit = which == TF_SNAPSHOT_INIT ? TF_RECORD_INIT : TF_RECORD_REWIND;
  int d = which == TF_SNAPSHOT_INIT ? DS_WEIGHTS_INIT : DS_WEIGHTS_REWIND;
  if (!(ts.record & bit)) return 0;
  if (params == NULL || n_params != ts.t.n_params)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld: snapshot of %zu parameters, expected %zu",
                      st->path, task, n_params, ts.t.n_params);
  return put(st, d, task, 0, 1, param_row(st, params, n_params), err);
}

/* The next mask's bytes: next_mask_bytes, 0 meaning mask_bytes. */
static size_t next_bytes(const tf_round_t *rd) {
  return rd->next_mask_bytes > 0 ? rd->next_mask_bytes : rd->mask_bytes;
}

/* Whether the next mask's bytes fit a row. */
static int has_next_mask_room(const tf_store_t *st, const tf_round_t *rd) {
  return rd->next_mask_bits == NULL || next_bytes(rd) <= st->len[DIM_MASK_BYTE];
}

/* Round r's instability analysis: n path errors (NaN beyond them, and all NaN for n = 0). */
static int write_path(tf_store_t *st, long task, int r, int n, const float *errors,
                      float instability, tf_err_t *err) {
  if (st->dset[DS_INSTABILITY] < 0) return 0; /* no task of the sweep asks for one */
  float *row = (float *)st->row;
  for (hsize_t i = 0; i < st->len[DIM_ALPHA]; i++)
    row[i] = (hsize_t)n > i && errors != NULL ? errors[i] : NAN;
  int rc = put(st, DS_PATH_ERROR, task, r, 1, row, err);
  float v = n > 0 ? instability : NAN;
  if (rc == 0) rc = put(st, DS_INSTABILITY, task, r, 1, &v, err);
  return rc;
}

int tf_store_write_round(tf_store_t *st, long task, const tf_round_t *rd, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  int r = rd->round;
  if (r < 0 || r >= ts.t.n_rounds || rd->n_evals < 1 || (hsize_t)rd->n_evals > st->len[DIM_EVAL] ||
      rd->early_stop < 0 || rd->early_stop >= rd->n_evals || rd->n_layers < 1 ||
      (hsize_t)rd->n_layers > st->len[DIM_LAYER] || rd->mask_bytes > st->len[DIM_MASK_BYTE] ||
      rd->mask_bytes != ts.t.mask_bytes || rd->mask_bits == NULL || rd->evals == NULL)
    return tf_err_set(err, TF_EINPUT,
                      "%s: task %ld: round %d does not fit the file (%d rounds, %d of %d evals, "
                      "%d layers, %zu of %zu mask bytes)",
                      st->path, task, r, ts.t.n_rounds, rd->n_evals, (int)st->len[DIM_EVAL],
                      rd->n_layers, rd->mask_bytes, ts.t.mask_bytes);
  int has_next = r + 1 < ts.t.n_rounds;
  if ((hsize_t)rd->n_path > st->len[DIM_ALPHA] || (rd->n_path > 0 && rd->path_errors == NULL) ||
      (has_next_mask_room(st, rd) == 0))
    return tf_err_set(err, TF_EINPUT, "%s: task %ld: round %d's path of %d points or next mask of "
                      "%zu bytes does not fit the file", st->path, task, r, rd->n_path,
                      rd->next_mask_bytes);
  if (has_next && rd->next_mask_bits == NULL)
    return tf_err_set(err, TF_EINPUT,
                      "%s: task %ld: round %d of %d comes without the mask of the next round",
                      st->path, task, r, ts.t.n_rounds);
  int record_final = (ts.record & TF_RECORD_FINAL) && st->dset[DS_WEIGHTS_FINAL] >= 0;
  if (record_final && (rd->final == NULL || rd->n_params != ts.t.n_params))
    return tf_err_set(err, TF_EINPUT, "%s: task %ld round %d: %zu final parameters, expected %zu",
                      st->path, task, r, rd->n_params, ts.t.n_params);

  const tf_eval_t *es = &rd->evals[rd->early_stop], *last = &rd->evals[rd->n_evals - 1];
  int64_t es_iter = es->iteration;
  float val_loss = es->val_loss, acc_es = es->test_acc, acc_final = last->test_acc;
  if ((rc = put(st, DS_DENSITY, task, r, 1, &rd->density, err)) < 0) return rc;
  if ((rc = put(st, DS_EARLY_STOP_ITER, task, r, 1, &es_iter, err)) < 0) return rc;
  if ((rc = put(st, DS_VAL_LOSS, task, r, 1, &val_loss, err)) < 0) return rc;
  if ((rc = put(st, DS_TEST_ACC_ES, task, r, 1, &acc_es, err)) < 0) return rc;
  if ((rc = put(st, DS_TEST_ACC_FINAL, task, r, 1, &acc_final, err)) < 0) return rc;

  int64_t *remaining = (int64_t *)st->row;
  for (hsize_t l = 0; l < st->len[DIM_LAYER]; l++)
    remaining[l] = l < (hsize_t)rd->n_layers ? rd->remaining[l] : 0;
  if ((rc = put(st, DS_REMAINING, task, r, 1, remaining, err)) < 0) return rc;

  float *curve = (float *)st->row;
  for (size_t c = 0; c < CURVE_COUNT; c++) {
    for (hsize_t j = 0; j < st->len[DIM_EVAL]; j++) {
      const char *e = (const char *)&rd->evals[j < (hsize_t)rd->n_evals ? j : 0];
      float v;
      memcpy(&v, e + tf__store_curves[c].offset, sizeof v);
      curve[j] = j < (hsize_t)rd->n_evals ? v : NAN;
    }
    if ((rc = put(st, tf__store_curves[c].dset, task, r, 1, curve, err)) < 0) return rc;
  }

  if ((rc = put(st, DS_MASK, task, r, 1, mask_row(st, rd->mask_bits, rd->mask_bytes), err)) < 0)
    return rc;

  if (record_final &&
      (rc = put(st, DS_WEIGHTS_FINAL, task, r, 1, param_row(st, rd->final, rd->n_params), err)) < 0)
    return rc;
  if ((rc = put(st, DS_WALL_S, task, r, 1, &rd->wall_s, err)) < 0) return rc;
  if ((rc = write_path(st, task, r, rd->n_path, rd->path_errors, rd->instability, err)) < 0)
    return rc;

  if (has_next && (rc = put(st, DS_NEXT_MASK, task, (r + 1) % 2, 1,
                            mask_row(st, rd->next_mask_bits, next_bytes(rd)), err)) < 0)
    return rc;
  int32_t done = r + 1;
  return put(st, DS_ROUNDS_DONE, task, 0, 1, &done, err);
}

/* Rounds beyond the task's last get defined values: NaN, -1 for integers, zero mask bytes. */
static int write_padding(tf_store_t *st, long task, const task_shape_t *ts, tf_err_t *err) {
  const int nan_rounds[] = {DS_DENSITY, DS_VAL_LOSS, DS_TEST_ACC_ES, DS_TEST_ACC_FINAL, DS_WALL_S};
  double nan64 = NAN;
  float nan32 = NAN;
  int64_t minus1 = -1;
  int rc = 0;
  for (int r = ts->t.n_rounds; r < (int)st->len[DIM_ROUND]; r++) {
    for (size_t k = 0; k < sizeof nan_rounds / sizeof nan_rounds[0]; k++) {
      int d = nan_rounds[k];
      const void *v =
          tf__store_dsets[d].type == TY_F64 ? (const void *)&nan64 : (const void *)&nan32;
      if ((rc = put(st, d, task, r, 1, v, err)) < 0) return rc;
    }
    if ((rc = put(st, DS_EARLY_STOP_ITER, task, r, 1, &minus1, err)) < 0) return rc;
    if ((rc = write_path(st, task, r, 0, NULL, NAN, err)) < 0) return rc;

    int64_t *ints = (int64_t *)st->row;
    for (hsize_t l = 0; l < st->len[DIM_LAYER]; l++) ints[l] = -1;
    if ((rc = put(st, DS_REMAINING, task, r, 1, ints, err)) < 0) return rc;

    float *floats = (float *)st->row;
    for (hsize_t j = 0; j < st->len[DIM_EVAL]; j++) floats[j] = NAN;
    for (size_t c = 0; c < CURVE_COUNT; c++)
      if ((rc = put(st, tf__store_curves[c].dset, task, r, 1, floats, err)) < 0) return rc;

    memset(st->row, 0, st->len[DIM_MASK_BYTE]);
    if ((rc = put(st, DS_MASK, task, r, 1, st->row, err)) < 0) return rc;

    if ((ts->record & TF_RECORD_FINAL) && st->dset[DS_WEIGHTS_FINAL] >= 0) {
      for (hsize_t i = 0; i < st->len[DIM_PARAM]; i++) floats[i] = NAN;
      if ((rc = put(st, DS_WEIGHTS_FINAL, task, r, 1, floats, err)) < 0) return rc;
    }
  }
  return 0;
}

int tf_store_finish_task(tf_store_t *st, long task, tf_task_status_t status,
                         const tf_task_runtime_t *rt, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  if (status != TF_TASK_DONE && status != TF_TASK_FAILED)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld finished with status %d", st->path, task,
                      (int)status);
  int32_t rank = rt != NULL ? rt->rank : -1;
  double started = rt != NULL ? rt->started : NAN, finished = rt != NULL ? rt->finished : NAN;
  char host[HOST_LEN] = "", reason[REASON_LEN] = "";
  if (rt != NULL) snprintf(host, sizeof host, "%.*s", HOST_LEN - 1, rt->host);
  if (rt != NULL && rt->fail_reason != NULL) snprintf(reason, sizeof reason, "%s", rt->fail_reason);
  if ((rc = put(st, DS_RANK, task, 0, 1, &rank, err)) < 0) return rc;
  if ((rc = put(st, DS_HOST, task, 0, 1, host, err)) < 0) return rc;
  if ((rc = put(st, DS_STARTED, task, 0, 1, &started, err)) < 0) return rc;
  if ((rc = put(st, DS_FINISHED, task, 0, 1, &finished, err)) < 0) return rc;
  if ((rc = put(st, DS_FAIL_REASON, task, 0, 1, reason, err)) < 0) return rc;
  int8_t open = 0;
  if ((rc = put(st, DS_OPEN_ATTEMPT, task, 0, 1, &open, err)) < 0) return rc;
  if ((rc = write_padding(st, task, &ts, err)) < 0) return rc;
  int8_t s = (int8_t)status;
  return put(st, DS_STATUS, task, 0, 1, &s, err);
}

/* Reads what put writes: one row of task (one round or parity of it when the dataset has
 * such an axis). */
static int get(tf_store_t *st, int d, long task, int round0, void *buf, tf_err_t *err) {
  const dset_spec_t *s = &tf__store_dsets[d];
  if (tf__h5_read_rows(st->dset[d], tf__store_type(st, s->type).mem, (hsize_t)task, 1,
                       indexes_second_axis(s), (hsize_t)round0, 1, buf) < 0)
    return tf__h5_fail(err, "%s: cannot read /%s/%s of task %ld", st->path,
                       tf__store_group_names[s->group], s->name, task);
  return 0;
}

int tf_store_read_task_state(tf_store_t *st, long task, tf_task_status_t *status, int *rounds_done,
                             int *attempts, tf_err_t *err) {
  if (task < 0 || task >= st->n_tasks)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld out of range (0 to %ld)", st->path, task,
                      st->n_tasks - 1);
  int8_t s = 0;
  int32_t done = 0, tries = 0;
  int rc = get(st, DS_STATUS, task, 0, &s, err);
  if (rc == 0) rc = get(st, DS_ROUNDS_DONE, task, 0, &done, err);
  if (rc == 0) rc = get(st, DS_ATTEMPTS, task, 0, &tries, err);
  if (rc < 0) return rc;
  if (status != NULL) *status = (tf_task_status_t)s;
  if (rounds_done != NULL) *rounds_done = done;
  if (attempts != NULL) *attempts = tries;
  return 0;
}

int tf_store_read_all_states(tf_store_t *st, signed char *status, int *rounds_done, int *attempts,
                             tf_err_t *err) {
  const struct {
    int dset;
    hid_t mtype;
    void *buf;
  } cols[] = {{DS_STATUS, H5T_NATIVE_SCHAR, status},
              {DS_ROUNDS_DONE, H5T_NATIVE_INT, rounds_done},
              {DS_ATTEMPTS, H5T_NATIVE_INT, attempts}};
  for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
    const dset_spec_t *s = &tf__store_dsets[cols[k].dset];
    if (tf__h5_read_rows(st->dset[cols[k].dset], cols[k].mtype, 0, st->len[DIM_TASK], 0, 0, 0,
                         cols[k].buf) < 0)
      return tf__h5_fail(err, "%s: cannot read /%s/%s", st->path, tf__store_group_names[s->group],
                         s->name);
  }
  return 0;
}

int tf_store_read_next_mask(tf_store_t *st, long task, uint8_t *bits, size_t n, tf_err_t *err) {
  task_shape_t ts;
  int32_t done = 0;
  int rc = checked_shape(st, task, &ts, err);
  if (rc == 0) rc = get(st, DS_ROUNDS_DONE, task, 0, &done, err);
  if (rc < 0) return rc;
  if (n != ts.t.trunk_mask_bytes)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld: mask of %zu bytes asked for, it has %zu",
                      st->path, task, n, ts.t.trunk_mask_bytes);
  if (done < 1 || done >= ts.t.n_rounds)
    return tf_err_set(err, TF_EINPUT,
                      "%s: task %ld has %d of %d rounds done: no mask to resume from", st->path,
                      task, (int)done, ts.t.n_rounds);
  if ((rc = get(st, DS_NEXT_MASK, task, done % 2, st->row, err)) < 0) return rc;
  memcpy(bits, st->row, n);
  return 0;
}

int tf_store_begin_task(tf_store_t *st, long task, int attempts, int start_round, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  /* start_round == n_rounds: every round was done, only the finish is left; attempts 0 and
   * start_round -1 undo the record of an attempt stopped before it counted. */
  if (attempts < 0 || start_round < -1 || start_round > ts.t.n_rounds)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld: attempt %d starting at round %d of %d",
                      st->path, task, attempts, start_round, ts.t.n_rounds);
  int32_t tries = attempts, start = start_round;
  double finished = NAN;
  char reason[REASON_LEN] = "";
  int8_t open = 1;
  if ((rc = put(st, DS_ATTEMPTS, task, 0, 1, &tries, err)) < 0) return rc;
  if ((rc = put(st, DS_START_ROUND, task, 0, 1, &start, err)) < 0) return rc;
  if ((rc = put(st, DS_FINISHED, task, 0, 1, &finished, err)) < 0) return rc;
  if ((rc = put(st, DS_FAIL_REASON, task, 0, 1, reason, err)) < 0) return rc;
  return put(st, DS_OPEN_ATTEMPT, task, 0, 1, &open, err);
}

int tf_store_judge_task(tf_store_t *st, long task, int stalls, int crashes, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  if (stalls < 0 || crashes < 0)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld: %d stalls, %d crashes", st->path, task,
                      stalls, crashes);
  int32_t n_stalls = stalls, n_crashes = crashes;
  int8_t open = 0;
  if ((rc = put(st, DS_STALLS, task, 0, 1, &n_stalls, err)) < 0) return rc;
  if ((rc = put(st, DS_CRASHES, task, 0, 1, &n_crashes, err)) < 0) return rc;
  return put(st, DS_OPEN_ATTEMPT, task, 0, 1, &open, err);
}

int tf_store_end_attempt(tf_store_t *st, long task, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  int8_t open = 0;
  return put(st, DS_OPEN_ATTEMPT, task, 0, 1, &open, err);
}

int tf_store_read_tries(tf_store_t *st, int *start_round, int *open, int *stalls, int *crashes,
                        tf_err_t *err) {
  const struct {
    int dset;
    int *buf;
  } cols[] = {{DS_START_ROUND, start_round},
              {DS_OPEN_ATTEMPT, open},
              {DS_STALLS, stalls},
              {DS_CRASHES, crashes}};
  for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
    const dset_spec_t *s = &tf__store_dsets[cols[k].dset];
    if (st->dset[cols[k].dset] < 0) {
      memset(cols[k].buf, 0, (size_t)st->n_tasks * sizeof *cols[k].buf);
      continue;
    }
    if (tf__h5_read_rows(st->dset[cols[k].dset], H5T_NATIVE_INT, 0, st->len[DIM_TASK], 0, 0, 0,
                         cols[k].buf) < 0)
      return tf__h5_fail(err, "%s: cannot read /%s/%s", st->path, tf__store_group_names[s->group],
                         s->name);
  }
  return 0;
}

int tf_store_reset_task(tf_store_t *st, long task, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  /* Status first: a job killed in between leaves a pending task with finished rounds, which a
   * resume continues correctly, never a failed or done task with its rounds forgotten. */
  int8_t s = TF_TASK_PENDING, open = 0;
  int32_t done = 0;
  if ((rc = put(st, DS_STATUS, task, 0, 1, &s, err)) < 0) return rc;
  if ((rc = put(st, DS_ROUNDS_DONE, task, 0, 1, &done, err)) < 0) return rc;
  /* A retried task starts with a clean slate; its recorded crashes stay as history. */
  int32_t stalls = 0;
  if ((rc = put(st, DS_STALLS, task, 0, 1, &stalls, err)) < 0) return rc;
  return put(st, DS_OPEN_ATTEMPT, task, 0, 1, &open, err);
}
