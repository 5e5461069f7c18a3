/* The results file's schema: its groups, dimensions and datasets, the shape of each task in it,
 * the values of the grid columns, and the size of the whole file (tf_store_size). */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "ticketfarm/config.h"

const char *const tf__store_group_names[G_COUNT] = {"results", "runtime"};

const char *const tf__store_dim_names[DIM_COUNT] = {"task",      "round", "eval",   "layer",
                                                    "mask_byte", "param", "parity", "alpha"};
const char *const tf__store_dim_long_names[DIM_COUNT] = {
    "task index (grid order, last grid axis fastest)",
    "pruning round (0 = dense network)",
    "evaluation index within a round (its iteration: eval_iteration)",
    "weight layer (0 = first hidden layer, last = output layer)",
    NULL,
    NULL,
    "round % 2 of the round a resume state is for",
    "point on the linear path of the instability analysis: alpha = index / "
    "(analysis.instability - 1)",
};

#define CURVE_NOTE "NaN where the round has no evaluation (before the rewind point in rounds > 0)"
#define WEIGHTS_NOTE                                                                          \
  "parameter slab: layers in order, each W (fan_out, fan_in) row-major then its bias; NaN " \
  "beyond the task's parameters; rows of tasks whose record.weights omits it are not written"
#define EPOCH_UNITS "seconds since 1970-01-01 00:00:00"

const dset_spec_t tf__store_dsets[DS_COUNT] = {
    [DS_STATUS] = {"status", G_RESULTS, TY_I8, 1, {DIM_TASK}, 0, "task status", NULL,
                   "0 pending, 1 done, 2 failed; written after all of the task's data"},
    [DS_ROUNDS_DONE] = {"rounds_done", G_RESULTS, TY_I32, 1, {DIM_TASK}, 0,
                        "rounds whose data are complete", NULL,
                        "written after each round's data, so rounds below it are final"},
    [DS_N_ROUNDS] = {"n_rounds", G_RESULTS, TY_I32, 1, {DIM_TASK}, 0,
                     "rounds of the task (prune.rounds + 1)", NULL,
                     "rounds at or beyond it are padding: NaN, -1 for integers, 0 mask bytes"},
    [DS_EVAL_ITERATION] = {"eval_iteration", G_RESULTS, TY_I64, 2, {DIM_TASK, DIM_EVAL}, 0,
                           "training iteration of each evaluation", "iterations",
                           "eval * train.eval_every; -1 beyond the task's evaluations"},
    [DS_LAYER_SIZE] = {"layer_size", G_RESULTS, TY_I64, 2, {DIM_TASK, DIM_LAYER}, 0,
                       "prunable weights per layer", "weights", "0 beyond the task's layers"},
    [DS_DENSITY] = {"density", G_RESULTS, TY_F64, 2, {DIM_TASK, DIM_ROUND}, 0,
                    "fraction of prunable weights unpruned while training the round", "1",
                    NULL},
    [DS_REMAINING] = {"remaining", G_RESULTS, TY_I64, 3, {DIM_TASK, DIM_ROUND, DIM_LAYER}, 0,
                      "unpruned weights per layer while training the round", "weights",
                      "0 beyond the task's layers"},
    [DS_EARLY_STOP_ITER] = {"early_stop_iter", G_RESULTS, TY_I64, 2, {DIM_TASK, DIM_ROUND}, 0,
                            "iteration of the minimum validation loss (the first if tied)",
                            "iterations", NULL},
    [DS_VAL_LOSS] = {"val_loss", G_RESULTS, TY_F32, 2, {DIM_TASK, DIM_ROUND}, 0,
                     "validation loss at the early-stop iteration", NULL,
                     "mean softmax cross-entropy (natural log) on the held-out images"},
    [DS_TEST_ACC_ES] = {"test_acc_es", G_RESULTS, TY_F32, 2, {DIM_TASK, DIM_ROUND}, 0,
                        "test accuracy at the early-stop iteration", "1",
                        "fraction of the test images classified correctly"},
    [DS_TEST_ACC_FINAL] = {"test_acc_final", G_RESULTS, TY_F32, 2, {DIM_TASK, DIM_ROUND}, 0,
                           "test accuracy at the round's last evaluation", "1",
                           "fraction of the test images classified correctly"},
    [DS_TRAIN_LOSS] = {"train_loss", G_RESULTS, TY_F32, 3, {DIM_TASK, DIM_ROUND, DIM_EVAL}, 0,
                       "mean training-batch loss since the previous evaluation", NULL,
                       CURVE_NOTE " and at iteration 0"},
    [DS_VAL_LOSS_CURVE] = {"val_loss_curve", G_RESULTS, TY_F32, 3,
                           {DIM_TASK, DIM_ROUND, DIM_EVAL}, 0,
                           "validation loss at each evaluation", NULL, CURVE_NOTE},
    [DS_VAL_ACC] = {"val_acc", G_RESULTS, TY_F32, 3, {DIM_TASK, DIM_ROUND, DIM_EVAL}, 0,
                    "validation accuracy at each evaluation (a fraction)", "1", CURVE_NOTE},
    [DS_TEST_LOSS] = {"test_loss", G_RESULTS, TY_F32, 3, {DIM_TASK, DIM_ROUND, DIM_EVAL}, 0,
                      "test loss at each evaluation", NULL, CURVE_NOTE},
    [DS_TEST_ACC] = {"test_acc", G_RESULTS, TY_F32, 3, {DIM_TASK, DIM_ROUND, DIM_EVAL}, 0,
                     "test accuracy at each evaluation (a fraction)", "1", CURVE_NOTE},
    [DS_MASK] = {"mask", G_RESULTS, TY_U8, 3, {DIM_TASK, DIM_ROUND, DIM_MASK_BYTE}, 0,
                 "mask trained in the round, one bit per prunable weight (1 = kept)", NULL,
                 "layers in order, each W (fan_out, fan_in) row-major; weight j is bit 7 - j % 8 "
                 "of byte j / 8 (numpy.packbits order); zero padded"},
    [DS_WEIGHTS_INIT] = {"weights_init", G_RESULTS, TY_F32, 2, {DIM_TASK, DIM_PARAM},
                         TF_RECORD_INIT, "initial parameters theta_0", NULL, WEIGHTS_NOTE},
    [DS_WEIGHTS_REWIND] = {"weights_rewind", G_RESULTS, TY_F32, 2, {DIM_TASK, DIM_PARAM},
                           TF_RECORD_REWIND,
                           "parameters at the rewind iteration (theta_k, prune.rewind)", NULL,
                           WEIGHTS_NOTE},
    [DS_WEIGHTS_FINAL] = {"weights_final", G_RESULTS, TY_F32, 3,
                          {DIM_TASK, DIM_ROUND, DIM_PARAM}, TF_RECORD_FINAL,
                          "parameters at the round's last iteration", NULL, WEIGHTS_NOTE},
    [DS_WALL_S] = {"wall_s", G_RUNTIME, TY_F64, 2, {DIM_TASK, DIM_ROUND}, 0,
                   "training and evaluation time of the round", "s", NULL},
    [DS_RANK] = {"rank", G_RUNTIME, TY_I32, 1, {DIM_TASK}, 0, "MPI rank that ran the task",
                 NULL, NULL},
    [DS_HOST] = {"host", G_RUNTIME, TY_HOST, 1, {DIM_TASK}, 0, "host that ran the task", NULL,
                 NULL},
    [DS_STARTED] = {"started", G_RUNTIME, TY_F64, 1, {DIM_TASK}, 0, "time the task started",
                    EPOCH_UNITS, NULL},
    [DS_FINISHED] = {"finished", G_RUNTIME, TY_F64, 1, {DIM_TASK}, 0, "time the task finished",
                     EPOCH_UNITS, NULL},
    [DS_FAIL_REASON] = {"fail_reason", G_RUNTIME, TY_REASON, 1, {DIM_TASK}, 0,
                        "why the task failed", NULL, "empty unless status is 2"},
    [DS_NEXT_MASK] = {"next_mask", G_RUNTIME, TY_U8, 3, {DIM_TASK, DIM_PARITY, DIM_MASK_BYTE}, 0,
                      "the ticket's mask for round rounds_done, where a resumed task starts",
                      NULL,
                      "the mask for round r is in parity r % 2, written before rounds_done "
                      "becomes r, so writing it never overwrites the one rounds_done points "
                      "to; bits as in /results/mask"},
    [DS_ATTEMPTS] = {"attempts", G_RUNTIME, TY_I32, 1, {DIM_TASK}, 0,
                     "runs that started the task", NULL, "more than 1: resumed or retried"},
    [DS_START_ROUND] = {"start_round", G_RUNTIME, TY_I32, 1, {DIM_TASK}, 0,
                        "round the last attempt started at", NULL,
                        "0 from scratch, more if resumed at a finished round, -1 never started"},
    [DS_OPEN_ATTEMPT] = {"open_attempt", G_RUNTIME, TY_I8, 1, {DIM_TASK}, 0,
                         "the task's last attempt ended neither finished nor stopped cleanly",
                         NULL,
                         "1 while it runs and after the job died in it, until the next run has "
                         "judged that death (stalls, crashes); 0 otherwise", 1},
    [DS_STALLS] = {"stalls", G_RUNTIME, TY_I32, 1, {DIM_TASK}, 0,
                   "job deaths in a row that ended an attempt of the task without a new "
                   "finished round",
                   NULL,
                   "a death known to be another task's crash does not count, a recorded crash "
                   "of this task always counts; at --max-attempts the task is failed as poison",
                   1},
    [DS_CRASHES] = {"crashes", G_RUNTIME, TY_I32, 1, {DIM_TASK}, 0,
                    "recorded crashes of a rank while running the task (SIGSEGV, SIGBUS, SIGFPE, "
                    "SIGABRT), taken from OUT.h5.crashes by the next run",
                    NULL, NULL, 1},
    [DS_SOURCE] = {"source", G_RESULTS, TY_NAME, 1, {DIM_TASK}, 0,
                   "dataset the task's tickets are found on (data.dataset)", NULL, NULL, 1},
    [DS_TARGET] = {"target", G_RESULTS, TY_NAME, 1, {DIM_TASK}, 0,
                   "dataset the task's rounds train and are evaluated on", NULL,
                   "transfer.dataset for a transfer (its rounds: the source's tickets trained "
                   "on it), else the source", 1},
    [DS_INSTABILITY] = {"instability", G_RESULTS, TY_F32, 2, {DIM_TASK, DIM_ROUND}, RECORD_PATH,
                        "instability: the largest test error on the linear path between the "
                        "round's weights and a second copy's, minus the mean of its ends",
                        "1", "analysis.instability; NaN for tasks without it", 1},
    [DS_PATH_ERROR] = {"path_error", G_RESULTS, TY_F32, 3, {DIM_TASK, DIM_ROUND, DIM_ALPHA},
                       RECORD_PATH, "test error at each point of the linear path", "1",
                       "1 - test accuracy of (1 - alpha) w1 + alpha w2, alpha = index / "
                       "(analysis.instability - 1): index 0 is the round's own weights (1 - "
                       "test_acc_final), the last the second copy's; NaN beyond the task's "
                       "points", 1},
};

const curve_spec_t tf__store_curves[CURVE_COUNT] = {
    {DS_TRAIN_LOSS, offsetof(tf_eval_t, train_loss)},
    {DS_VAL_LOSS_CURVE, offsetof(tf_eval_t, val_loss)},
    {DS_VAL_ACC, offsetof(tf_eval_t, val_acc)},
    {DS_TEST_LOSS, offsetof(tf_eval_t, test_loss)},
    {DS_TEST_ACC, offsetof(tf_eval_t, test_acc)},
};

ty_info_t tf__store_type(const tf_store_t *st, ty_t ty) {
  hid_t host = st != NULL ? st->str_host : H5I_INVALID_HID;
  hid_t reason = st != NULL ? st->str_reason : H5I_INVALID_HID;
  hid_t name = st != NULL ? st->str_name : H5I_INVALID_HID;
  switch (ty) {
    case TY_I8: return (ty_info_t){H5T_STD_I8LE, H5T_NATIVE_INT8, 1};
    case TY_U8: return (ty_info_t){H5T_STD_U8LE, H5T_NATIVE_UINT8, 1};
    case TY_I32: return (ty_info_t){H5T_STD_I32LE, H5T_NATIVE_INT32, 4};
    case TY_I64: return (ty_info_t){H5T_STD_I64LE, H5T_NATIVE_INT64, 8};
    case TY_F32: return (ty_info_t){H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4};
    case TY_F64: return (ty_info_t){H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8};
    case TY_HOST: return (ty_info_t){host, host, HOST_LEN};
    case TY_REASON: return (ty_info_t){reason, reason, REASON_LEN};
    case TY_NAME: return (ty_info_t){name, name, NAME_LEN};
  }
  return (ty_info_t){H5I_INVALID_HID, H5I_INVALID_HID, 0};
}

int tf__store_task_shape(const tf_sweep_t *sw, long task, task_shape_t *ts, tf_err_t *err) {
  tf_config_t cfg;
  int rc = tf_grid_task(sw, task, &cfg, err);
  if (rc < 0) return rc;
  rc = tf_ticket_shape(&cfg, &ts->t, err);
  if (rc < 0) return rc;
  ts->record = cfg.record_weights | (cfg.instability > 0 ? RECORD_PATH : 0);
  ts->path_points = cfg.instability;
  snprintf(ts->source, sizeof ts->source, "%s", cfg.dataset);
  snprintf(ts->target, sizeof ts->target, "%s", tf_config_target(&cfg));
  return 0;
}

/* Sizes every axis of st from its whole sweep. */
static int measure_axes(tf_store_t *st, tf_err_t *err) {
  hsize_t r = 0, e = 0, l = 0, b = 0, p = 0, a = 0;
  for (long t = 0; t < st->n_tasks; t++) {
    task_shape_t ts = {0};
    int rc = tf__store_task_shape(st->sw, t, &ts, err);
    if (rc < 0) return rc;
    if ((hsize_t)ts.t.n_rounds > r) r = (hsize_t)ts.t.n_rounds;
    if ((hsize_t)ts.t.n_evals > e) e = (hsize_t)ts.t.n_evals;
    if ((hsize_t)ts.t.n_layers > l) l = (hsize_t)ts.t.n_layers;
    if (ts.t.mask_bytes > b) b = ts.t.mask_bytes;
    if (ts.t.trunk_mask_bytes > b) b = ts.t.trunk_mask_bytes;
    if ((hsize_t)ts.path_points > a) a = (hsize_t)ts.path_points;
    if (ts.t.n_params > p) p = ts.t.n_params;
    st->record_any |=
        ts.record & (TF_RECORD_INIT | TF_RECORD_REWIND | TF_RECORD_FINAL | RECORD_PATH);
  }
  hsize_t *len = st->len;
  len[DIM_TASK] = (hsize_t)st->n_tasks;
  len[DIM_ROUND] = r;
  len[DIM_EVAL] = e;
  len[DIM_LAYER] = l;
  len[DIM_MASK_BYTE] = b;
  len[DIM_PARAM] = p;
  len[DIM_PARITY] = 2;
  len[DIM_ALPHA] = a;
  return 0;
}

int tf__store_measure(tf_store_t *st, tf_err_t *err) {
  int rc = measure_axes(st, err);
  if (rc < 0) return rc;
  const hsize_t e = st->len[DIM_EVAL], p = st->len[DIM_PARAM], l = st->len[DIM_LAYER];
  const hsize_t b = st->len[DIM_MASK_BYTE];
  hsize_t floats = e > p ? e : p;
  if (st->len[DIM_ALPHA] > floats) floats = st->len[DIM_ALPHA];
  size_t row = sizeof(float) * (size_t)floats;
  if (row < sizeof(int64_t) * l) row = sizeof(int64_t) * l;
  if (row < b) row = b;
  st->row = malloc(row);
  if (st->row == NULL) return tf_err_set(err, TF_ENOMEM, "results file: no memory for a row");
  return 0;
}

int tf__store_has_dataset(const tf_store_t *st, int i) {
  return tf__store_dsets[i].record == 0 || (st->record_any & tf__store_dsets[i].record) != 0;
}

void tf__store_dataset_shape(const tf_store_t *st, int i, hsize_t *shape) {
  for (int k = 0; k < tf__store_dsets[i].rank; k++) shape[k] = st->len[tf__store_dsets[i].dims[k]];
}

int tf_store_size(const tf_sweep_t *sw, double *bytes, tf_err_t *err) {
  tf_store_t st = {.sw = (tf_sweep_t *)sw, .n_tasks = tf_grid_tasks(sw)};
  *bytes = 0.0;
  int rc = measure_axes(&st, err);
  if (rc < 0) return rc;
  for (int i = 0; i < DS_COUNT; i++) {
    if (!tf__store_has_dataset(&st, i)) continue;
    hsize_t shape[4];
    tf__store_dataset_shape(&st, i, shape);
    double n = (double)tf__store_type(&st, tf__store_dsets[i].type).size;
    for (int k = 0; k < tf__store_dsets[i].rank; k++) n *= (double)shape[k];
    *bytes += n;
  }
  return 0;
}

char *tf__store_axis_keys(const tf_sweep_t *sw) {
  size_t len = 1;
  for (int a = 0; a < tf_grid_axes(sw); a++) len += strlen(tf_grid_axis_key(sw, a)) + 1;
  char *keys = malloc(len);
  if (keys == NULL) return NULL;
  keys[0] = '\0';
  for (int a = 0; a < tf_grid_axes(sw); a++) {
    if (a > 0) strcat(keys, ",");
    strcat(keys, tf_grid_axis_key(sw, a));
  }
  return keys;
}

void tf__store_free_axes(axis_col_t *ax, int n) {
  for (int a = 0; a < n; a++) {
    free(ax[a].texts);
    free(ax[a].ints);
    free(ax[a].reals);
    if (ax[a].type >= 0 && ax[a].kind == TF_AXIS_TEXT) H5Tclose(ax[a].type);
  }
}

int tf__store_collect_axes(const tf_sweep_t *sw, axis_col_t *ax, int n_axes, tf_err_t *err) {
  long stride = 1;
  for (int a = n_axes - 1; a >= 0; a--) {
    axis_col_t *c = &ax[a];
    c->key = tf_grid_axis_key(sw, a);
    c->kind = tf_grid_axis_kind(sw, a);
    c->n_values = tf_grid_axis_size(sw, a);
    c->type = H5I_INVALID_HID;
    size_t n = c->n_values > 0 ? (size_t)c->n_values : 1;
    if (c->kind == TF_AXIS_TEXT) {
      char buf[VALUE_TEXT_MAX];
      c->str_size = 1;
      for (int i = 0; i < c->n_values; i++) {
        tf_grid_value_text(sw, a, (long)i * stride, buf, sizeof buf);
        if (strlen(buf) + 1 > c->str_size) c->str_size = strlen(buf) + 1;
      }
      c->texts = calloc(n, c->str_size);
      if (c->texts == NULL) return tf_err_set(err, TF_ENOMEM, "results file: grid values");
      for (int i = 0; i < c->n_values; i++)
        tf_grid_value_text(sw, a, (long)i * stride, c->texts + (size_t)i * c->str_size,
                           c->str_size);
      c->type = tf__h5_string_type(c->str_size);
      if (c->type < 0)
        return tf__h5_fail(err, "cannot make the string type of grid axis %s", c->key);
    } else if (c->kind == TF_AXIS_INT) {
      c->ints = malloc(n * sizeof *c->ints);
      if (c->ints == NULL) return tf_err_set(err, TF_ENOMEM, "results file: grid values");
      for (int i = 0; i < c->n_values; i++)
        c->ints[i] = (int64_t)tf_grid_value_int(sw, a, (long)i * stride);
      c->type = H5T_NATIVE_INT64;
    } else {
      c->reals = malloc(n * sizeof *c->reals);
      if (c->reals == NULL) return tf_err_set(err, TF_ENOMEM, "results file: grid values");
      for (int i = 0; i < c->n_values; i++)
        c->reals[i] = tf_grid_value_real(sw, a, (long)i * stride);
      c->type = H5T_NATIVE_DOUBLE;
    }
    stride *= c->n_values;
  }
  return 0;
}
