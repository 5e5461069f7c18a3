/* The results file: every dataset of a sweep created up front by all ranks (parallel HDF5), then
 * independent per-task writes, and the serial readers behind `status` and `summary`. */
#include "ticketfarm/store.h"

#include <errno.h>
#include <fcntl.h>
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tf_config.h"
#include "ticketfarm/config.h"
#include "ticketfarm/data.h"
#include "ticketfarm/net.h"

#define LAYOUT "ticketfarm-results-1"
#define HOST_LEN 64
#define REASON_LEN 256
#define VALUE_TEXT_MAX 1024
/* h5netcdf/netCDF-4 convention for a dimension that has no coordinate values. */
#define NETCDF_DIM_ONLY "This is a netCDF dimension but not a netCDF variable."
/* Creation-time writes and summary reads go in blocks of tasks of about this many bytes, so
 * memory stays bounded for millions of tasks. */
#define BLOCK_BYTES ((size_t)8 << 20)
#define STATUS_MAX_REASONS 10

enum { G_RESULTS, G_RUNTIME, G_COUNT };
static const char *const group_names[G_COUNT] = {"results", "runtime"};

enum {
  DIM_TASK,
  DIM_ROUND,
  DIM_EVAL,
  DIM_LAYER,
  DIM_MASK_BYTE,
  DIM_PARAM,
  DIM_PARITY,
  DIM_COUNT
};
static const char *const dim_names[DIM_COUNT] = {"task",      "round", "eval",  "layer",
                                                 "mask_byte", "param", "parity"};
/* Dimensions with a long name get coordinate values 0, 1, ...; the others are bare. */
static const char *const dim_long_names[DIM_COUNT] = {
    "task index (grid order, last grid axis fastest)",
    "pruning round (0 = dense network)",
    "evaluation index within a round (its iteration: eval_iteration)",
    "weight layer (0 = first hidden layer, last = output layer)",
    NULL,
    NULL,
    "round % 2 of the round a resume state is for",
};

typedef enum { TY_I8, TY_U8, TY_I32, TY_I64, TY_F32, TY_F64, TY_HOST, TY_REASON } ty_t;

enum {
  DS_STATUS,
  DS_ROUNDS_DONE,
  DS_N_ROUNDS,
  DS_EVAL_ITERATION,
  DS_LAYER_SIZE,
  DS_DENSITY,
  DS_REMAINING,
  DS_EARLY_STOP_ITER,
  DS_VAL_LOSS,
  DS_TEST_ACC_ES,
  DS_TEST_ACC_FINAL,
  DS_TRAIN_LOSS,
  DS_VAL_LOSS_CURVE,
  DS_VAL_ACC,
  DS_TEST_LOSS,
  DS_TEST_ACC,
  DS_MASK,
  DS_WEIGHTS_INIT,
  DS_WEIGHTS_REWIND,
  DS_WEIGHTS_FINAL,
  DS_WALL_S,
  DS_RANK,
  DS_HOST,
  DS_STARTED,
  DS_FINISHED,
  DS_FAIL_REASON,
  DS_NEXT_MASK,
  DS_ATTEMPTS,
  DS_START_ROUND,
  DS_COUNT
};

typedef struct dset_spec {
  const char *name;
  int group;
  ty_t type;
  int rank;
  int dims[3];
  unsigned record;         /* TF_RECORD_* bit: created only when some task records it */
  const char *long_name;
  const char *units;       /* NULL: none */
  const char *description; /* missing values and layout; NULL: none */
} dset_spec_t;

#define CURVE_NOTE "NaN where the round has no evaluation (before the rewind point in rounds > 0)"
#define WEIGHTS_NOTE                                                                          \
  "parameter slab: layers in order, each W (fan_out, fan_in) row-major then its bias; NaN " \
  "beyond the task's parameters; rows of tasks whose record.weights omits it are not written"
#define EPOCH_UNITS "seconds since 1970-01-01 00:00:00"

static const dset_spec_t dsets[DS_COUNT] = {
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
};

/* The round curves, each a field of tf_eval_t. */
static const struct {
  int dset;
  size_t offset;
} curves[] = {
    {DS_TRAIN_LOSS, offsetof(tf_eval_t, train_loss)},
    {DS_VAL_LOSS_CURVE, offsetof(tf_eval_t, val_loss)},
    {DS_VAL_ACC, offsetof(tf_eval_t, val_acc)},
    {DS_TEST_LOSS, offsetof(tf_eval_t, test_loss)},
    {DS_TEST_ACC, offsetof(tf_eval_t, test_acc)},
};

struct tf_store {
  tf_sweep_t *sw; /* own copy: every write looks up the shape of its task */
  char *path;
  long n_tasks;
  hsize_t len[DIM_COUNT]; /* N, R, E, L, B, P */
  unsigned record_any;    /* TF_RECORD_* bits some task asks for */
  hid_t file, dxpl;
  hid_t str_host, str_reason;
  hid_t dset[DS_COUNT]; /* H5I_INVALID_HID for weights no task records */
  unsigned char *row;   /* scratch for one padded row */
};

/* A results file open read-only for the serial readers (and tf_store_open's checks). */
typedef struct reader {
  const char *path;
  hid_t file, results, runtime;
  long n_tasks;
  int n_rounds;
} reader_t;

static int reader_open(reader_t *rd, const char *path, tf_err_t *err);
static void reader_close(reader_t *rd);
static char *read_attr_str(hid_t obj, const char *name);

/* What the file needs to know about one task. */
typedef struct task_shape {
  int n_rounds, n_evals, n_layers;
  long eval_every;
  unsigned record;
  int64_t layer_size[TF_MAX_LAYERS];
  size_t n_params, mask_bytes;
} task_shape_t;

/* One grid axis as a column: its values by value index. */
typedef struct axis_col {
  const char *key;
  tf_axis_kind_t kind;
  int n_values;
  size_t str_size; /* TEXT: fixed string size, terminator included */
  char *texts;     /* TEXT: (n_values, str_size) */
  int64_t *ints;   /* INT: (n_values) */
  double *reals;   /* REAL: (n_values) */
  hid_t type;      /* file and memory type */
} axis_col_t;

static herr_t innermost_error(unsigned n, const H5E_error2_t *e, void *data) {
  if (n == 0 && e->desc != NULL) snprintf(data, 256, "%s", e->desc);
  return 0;
}

/* Sets TF_EHDF5 with the message and the most specific description on HDF5's error stack. */
static int h5_fail(tf_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int h5_fail(tf_err_t *err, const char *fmt, ...) {
  char what[768], detail[256] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, detail);
  H5Eclear2(H5E_DEFAULT);
  if (detail[0] == '\0') return tf_err_set(err, TF_EHDF5, "%s", what);
  return tf_err_set(err, TF_EHDF5, "%s: %s", what, detail);
}

/* Closing an id clears HDF5's error stack: these keep a failure's stack across the cleanup,
 * so that h5_fail can still name the cause. */
static hid_t stack_keep(int failed) { return failed ? H5Eget_current_stack() : H5I_INVALID_HID; }
static void stack_restore(hid_t stack) {
  if (stack >= 0) H5Eset_current_stack(stack);
}

static hid_t string_type(size_t size) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return t;
  if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
    H5Tclose(t);
    return H5I_INVALID_HID;
  }
  return t;
}

static hid_t file_type(const tf_store_t *st, ty_t ty) {
  switch (ty) {
    case TY_I8: return H5T_STD_I8LE;
    case TY_U8: return H5T_STD_U8LE;
    case TY_I32: return H5T_STD_I32LE;
    case TY_I64: return H5T_STD_I64LE;
    case TY_F32: return H5T_IEEE_F32LE;
    case TY_F64: return H5T_IEEE_F64LE;
    case TY_HOST: return st->str_host;
    case TY_REASON: return st->str_reason;
  }
  return H5I_INVALID_HID;
}

static hid_t mem_type(const tf_store_t *st, ty_t ty) {
  switch (ty) {
    case TY_I8: return H5T_NATIVE_INT8;
    case TY_U8: return H5T_NATIVE_UINT8;
    case TY_I32: return H5T_NATIVE_INT32;
    case TY_I64: return H5T_NATIVE_INT64;
    case TY_F32: return H5T_NATIVE_FLOAT;
    case TY_F64: return H5T_NATIVE_DOUBLE;
    case TY_HOST: return st->str_host;
    case TY_REASON: return st->str_reason;
  }
  return H5I_INVALID_HID;
}

static int task_shape(const tf_sweep_t *sw, long task, task_shape_t *ts, tf_err_t *err) {
  tf_config_t cfg;
  int rc = tf_grid_task(sw, task, &cfg, err);
  if (rc < 0) return rc;
  int32_t n_train, n_test, dim, classes;
  rc = tf_data_shape(cfg.dataset, &n_train, &n_test, &dim, &classes, err);
  if (rc < 0) return rc;
  if (cfg.eval_every <= 0 || cfg.iterations < 0 || cfg.rounds < 0 || cfg.n_hidden < 0 ||
      cfg.n_hidden > TF_MAX_HIDDEN)
    return tf_err_set(err, TF_EINPUT, "task %ld: invalid configuration for the results file",
                      task);
  ts->n_rounds = cfg.rounds + 1;
  ts->eval_every = cfg.eval_every;
  ts->n_evals = (int)(cfg.iterations / cfg.eval_every) + 1;
  ts->n_layers = cfg.n_hidden + 1;
  ts->record = cfg.record_weights;
  int prev = dim;
  for (int l = 0; l < ts->n_layers; l++) {
    int next = l < cfg.n_hidden ? cfg.hidden[l] : classes;
    ts->layer_size[l] = (int64_t)next * prev;
    prev = next;
  }
  size_t n_weights = 0;
  ts->n_params = tf_net_count_params(dim, cfg.hidden, cfg.n_hidden, classes, &n_weights);
  ts->mask_bytes = (n_weights + 7) / 8;
  return 0;
}

/* Selects rows [task0, task0 + n_tasks) and, when the second axis is round, rounds
 * [round0, round0 + n_rounds), every later axis whole: a contiguous region of the file. */
static hid_t select_rows(hid_t did, hsize_t task0, hsize_t n_tasks, int by_round, hsize_t round0,
                         hsize_t n_rounds, hid_t *mspace) {
  hid_t fspace = H5Dget_space(did);
  if (fspace < 0) return fspace;
  hsize_t dims[3], start[3] = {task0, 0, 0}, count[3];
  int rank = H5Sget_simple_extent_dims(fspace, dims, NULL);
  if (rank < 1 || rank > 3) {
    H5Sclose(fspace);
    return H5I_INVALID_HID;
  }
  for (int i = 0; i < rank; i++) count[i] = dims[i];
  count[0] = n_tasks;
  if (by_round && rank > 1) {
    start[1] = round0;
    count[1] = n_rounds;
  }
  *mspace = H5Screate_simple(rank, count, NULL);
  if (*mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
    hid_t stack = stack_keep(1);
    if (*mspace >= 0) H5Sclose(*mspace);
    H5Sclose(fspace);
    stack_restore(stack);
    return H5I_INVALID_HID;
  }
  return fspace;
}

static herr_t write_rows(hid_t did, hid_t mtype, hid_t dxpl, hsize_t task0, hsize_t n_tasks,
                         int by_round, hsize_t round0, hsize_t n_rounds, const void *buf) {
  hid_t mspace = H5I_INVALID_HID;
  hid_t fspace = select_rows(did, task0, n_tasks, by_round, round0, n_rounds, &mspace);
  if (fspace < 0) return -1;
  herr_t rc = H5Dwrite(did, mtype, mspace, fspace, dxpl, buf);
  hid_t stack = stack_keep(rc < 0);
  H5Sclose(mspace);
  H5Sclose(fspace);
  stack_restore(stack);
  return rc;
}

static herr_t read_rows(hid_t did, hid_t mtype, hsize_t task0, hsize_t n_tasks, int by_round,
                        hsize_t round0, hsize_t n_rounds, void *buf) {
  hid_t mspace = H5I_INVALID_HID;
  hid_t fspace = select_rows(did, task0, n_tasks, by_round, round0, n_rounds, &mspace);
  if (fspace < 0) return -1;
  herr_t rc = H5Dread(did, mtype, mspace, fspace, H5P_DEFAULT, buf);
  hid_t stack = stack_keep(rc < 0);
  H5Sclose(mspace);
  H5Sclose(fspace);
  stack_restore(stack);
  return rc;
}

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
  const dset_spec_t *s = &dsets[d];
  errno = 0;
  if (write_rows(st->dset[d], mem_type(st, s->type), st->dxpl, (hsize_t)task, 1,
                 indexes_second_axis(s), (hsize_t)round0, (hsize_t)n_rounds, buf) < 0) {
    char cause[256];
    write_cause(st->path, errno, cause, sizeof cause);
    int rc = h5_fail(err, "%s: cannot write /%s/%s of task %ld", st->path,
                     group_names[s->group], s->name, task);
    if (err != NULL) {
      size_t len = strlen(err->msg);
      snprintf(err->msg + len, sizeof err->msg - len, "%s", cause);
    }
    return rc;
  }
  return 0;
}

static herr_t attr_str(hid_t obj, const char *name, const char *value) {
  hid_t type = string_type(strlen(value) + 1);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = type < 0 || space < 0 ? H5I_INVALID_HID
                                  : H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
  hid_t stack = stack_keep(rc < 0);
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  stack_restore(stack);
  return rc;
}

static herr_t attr_int(hid_t obj, const char *name, int value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = space < 0 ? H5I_INVALID_HID
                      : H5Acreate2(obj, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &value);
  hid_t stack = stack_keep(rc < 0);
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  stack_restore(stack);
  return rc;
}

static herr_t describe(hid_t did, const char *long_name, const char *units,
                       const char *description) {
  if (long_name != NULL && attr_str(did, "long_name", long_name) < 0) return -1;
  if (units != NULL && attr_str(did, "units", units) < 0) return -1;
  if (description != NULL && attr_str(did, "description", description) < 0) return -1;
  return 0;
}

/* Any rank's failure becomes every rank's, so no rank enters a collective call alone; `doing`
 * completes "another rank failed while ...". */
static int agree(MPI_Comm comm, int rc, const char *doing, tf_err_t *err) {
  int worst = rc;
  if (MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
    return rc < 0 ? rc : tf_err_set(err, TF_EMPI, "MPI_Allreduce failed");
  if (worst < 0 && rc == 0) return tf_err_set(err, worst, "another rank failed while %s", doing);
  return rc;
}

/* Sizes every axis from the whole sweep: the longest task decides. */
static int measure(tf_store_t *st, tf_err_t *err) {
  hsize_t r = 0, e = 0, l = 0, b = 0, p = 0;
  for (long t = 0; t < st->n_tasks; t++) {
    task_shape_t ts = {0};
    int rc = task_shape(st->sw, t, &ts, err);
    if (rc < 0) return rc;
    if ((hsize_t)ts.n_rounds > r) r = (hsize_t)ts.n_rounds;
    if ((hsize_t)ts.n_evals > e) e = (hsize_t)ts.n_evals;
    if ((hsize_t)ts.n_layers > l) l = (hsize_t)ts.n_layers;
    if (ts.mask_bytes > b) b = ts.mask_bytes;
    if (ts.n_params > p) p = ts.n_params;
    st->record_any |= ts.record & (TF_RECORD_INIT | TF_RECORD_REWIND | TF_RECORD_FINAL);
  }
  hsize_t *len = st->len;
  len[DIM_TASK] = (hsize_t)st->n_tasks;
  len[DIM_ROUND] = r;
  len[DIM_EVAL] = e;
  len[DIM_LAYER] = l;
  len[DIM_MASK_BYTE] = b;
  len[DIM_PARAM] = p;
  len[DIM_PARITY] = 2;
  size_t row = sizeof(float) * (size_t)(e > p ? e : p);
  if (row < sizeof(int64_t) * l) row = sizeof(int64_t) * l;
  if (row < b) row = b;
  st->row = malloc(row);
  if (st->row == NULL) return tf_err_set(err, TF_ENOMEM, "results file: no memory for a row");
  return 0;
}

/* The grid axis keys, comma-separated (the /results attribute grid_axes), malloc'd. */
static char *joined_axis_keys(const tf_sweep_t *sw) {
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

static void free_axes(axis_col_t *ax, int n) {
  for (int a = 0; a < n; a++) {
    free(ax[a].texts);
    free(ax[a].ints);
    free(ax[a].reals);
    if (ax[a].type >= 0 && ax[a].kind == TF_AXIS_TEXT) H5Tclose(ax[a].type);
  }
}

/* The values of every grid axis by value index: the task whose other indices are all 0 takes
 * value i of axis a at task i * (product of the sizes of the later axes). */
static int collect_axes(const tf_sweep_t *sw, axis_col_t *ax, int n_axes, tf_err_t *err) {
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
      c->type = string_type(c->str_size);
      if (c->type < 0) return h5_fail(err, "cannot make the string type of grid axis %s", c->key);
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

/* Collective: the groups, scales, datasets, grid columns and attributes. Scales are made and
 * attached here, before the flush, so that a killed job still leaves named dimensions. */
typedef struct layout {
  hid_t group[G_COUNT];
  hid_t scale[G_COUNT][DIM_COUNT];
  hid_t dcpl;
  hid_t column[TF_SWEEP_MAX_AXES];
} layout_t;

/* Whether the sweep has dataset i: weights only when some task records them. */
static int dataset_exists(const tf_store_t *st, int i) {
  return dsets[i].record == 0 || (st->record_any & dsets[i].record) != 0;
}

static void dataset_shape(const tf_store_t *st, int i, hsize_t *shape) {
  for (int k = 0; k < dsets[i].rank; k++) shape[k] = st->len[dsets[i].dims[k]];
}

static size_t type_size(ty_t ty) {
  static const size_t size[] = {[TY_I8] = 1, [TY_U8] = 1, [TY_I32] = 4, [TY_I64] = 8,
                                [TY_F32] = 4, [TY_F64] = 8, [TY_HOST] = HOST_LEN,
                                [TY_REASON] = REASON_LEN};
  return size[ty];
}

int tf_store_size(const tf_sweep_t *sw, double *bytes, tf_err_t *err) {
  tf_store_t st = {.sw = (tf_sweep_t *)sw, .n_tasks = tf_grid_tasks(sw)};
  *bytes = 0.0;
  int rc = measure(&st, err);
  free(st.row);
  if (rc < 0) return rc;
  for (int i = 0; i < DS_COUNT; i++) {
    if (!dataset_exists(&st, i)) continue;
    hsize_t shape[4];
    dataset_shape(&st, i, shape);
    double n = (double)type_size(dsets[i].type);
    for (int k = 0; k < dsets[i].rank; k++) n *= (double)shape[k];
    *bytes += n;
  }
  return 0;
}

static hid_t create_dataset(hid_t loc, const char *name, hid_t type, int rank,
                            const hsize_t *shape, hid_t dcpl) {
  hid_t space = H5Screate_simple(rank, shape, NULL);
  if (space < 0) return space;
  hid_t did = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  hid_t stack = stack_keep(did < 0);
  H5Sclose(space);
  stack_restore(stack);
  return did;
}

static int build(tf_store_t *st, layout_t *lay, axis_col_t *ax, int n_axes, int n_ranks,
                 const char *created, tf_err_t *err) {
  const char *path = st->path;
  for (int g = 0; g < G_COUNT; g++) {
    lay->group[g] = H5Gcreate2(st->file, group_names[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (lay->group[g] < 0) return h5_fail(err, "%s: cannot create /%s", path, group_names[g]);
  }
  lay->dcpl = H5Pcreate(H5P_DATASET_CREATE);
  /* Early allocation without fill values: creation costs metadata only, whatever the size,
   * and every later write is a plain independent write into space that already exists. */
  if (lay->dcpl < 0 || H5Pset_layout(lay->dcpl, H5D_CONTIGUOUS) < 0 ||
      H5Pset_alloc_time(lay->dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
      H5Pset_fill_time(lay->dcpl, H5D_FILL_TIME_NEVER) < 0)
    return h5_fail(err, "%s: cannot set up dataset creation", path);

  int uses[G_COUNT][DIM_COUNT] = {{0}};
  for (int i = 0; i < DS_COUNT; i++)
    if (dataset_exists(st, i))
      for (int k = 0; k < dsets[i].rank; k++) uses[dsets[i].group][dsets[i].dims[k]] = 1;
  for (int g = 0; g < G_COUNT; g++) {
    for (int d = 0; d < DIM_COUNT; d++) {
      if (!uses[g][d]) continue;
      int coordinate = dim_long_names[d] != NULL;
      hid_t type = d == DIM_TASK ? H5T_STD_I64LE : coordinate ? H5T_STD_I32LE : H5T_IEEE_F32LE;
      hid_t did = create_dataset(lay->group[g], dim_names[d], type, 1, &st->len[d], lay->dcpl);
      lay->scale[g][d] = did;
      if (did < 0)
        return h5_fail(err, "%s: cannot create /%s/%s", path, group_names[g], dim_names[d]);
      char name[sizeof NETCDF_DIM_ONLY + 16];
      if (coordinate)
        snprintf(name, sizeof name, "%s", dim_names[d]);
      else
        snprintf(name, sizeof name, "%s%10d", NETCDF_DIM_ONLY, (int)st->len[d]);
      if (H5DSset_scale(did, name) < 0 ||
          (coordinate && describe(did, dim_long_names[d], NULL, NULL) < 0))
        return h5_fail(err, "%s: cannot make /%s/%s a dimension scale", path, group_names[g],
                       dim_names[d]);
    }
  }

  for (int i = 0; i < DS_COUNT; i++) {
    const dset_spec_t *s = &dsets[i];
    if (!dataset_exists(st, i)) continue;
    hsize_t shape[3];
    dataset_shape(st, i, shape);
    st->dset[i] = create_dataset(lay->group[s->group], s->name, file_type(st, s->type), s->rank,
                                 shape, lay->dcpl);
    if (st->dset[i] < 0)
      return h5_fail(err, "%s: cannot create /%s/%s", path, group_names[s->group], s->name);
    for (int k = 0; k < s->rank; k++)
      if (H5DSattach_scale(st->dset[i], lay->scale[s->group][s->dims[k]], (unsigned)k) < 0)
        return h5_fail(err, "%s: cannot attach dimension %s to /%s/%s", path,
                       dim_names[s->dims[k]], group_names[s->group], s->name);
    if (describe(st->dset[i], s->long_name, s->units, s->description) < 0)
      return h5_fail(err, "%s: cannot describe /%s/%s", path, group_names[s->group], s->name);
  }

  for (int a = 0; a < n_axes; a++) {
    hid_t ftype = ax[a].kind == TF_AXIS_TEXT  ? ax[a].type
                  : ax[a].kind == TF_AXIS_INT ? H5T_STD_I64LE
                                              : H5T_IEEE_F64LE;
    lay->column[a] = create_dataset(lay->group[G_RESULTS], ax[a].key, ftype, 1,
                                    &st->len[DIM_TASK], lay->dcpl);
    if (lay->column[a] < 0)
      return h5_fail(err, "%s: cannot create the grid column /results/%s", path, ax[a].key);
    char long_name[VALUE_TEXT_MAX];
    snprintf(long_name, sizeof long_name, "sweep setting %s (grid axis %d)", ax[a].key, a);
    if (H5DSattach_scale(lay->column[a], lay->scale[G_RESULTS][DIM_TASK], 0) < 0 ||
        describe(lay->column[a], long_name, NULL, NULL) < 0)
      return h5_fail(err, "%s: cannot label the grid column /results/%s", path, ax[a].key);
  }

  char *keys = joined_axis_keys(st->sw);
  if (keys == NULL) return tf_err_set(err, TF_ENOMEM, "results file: grid axis names");
  hid_t res = lay->group[G_RESULTS], run = lay->group[G_RUNTIME];
  herr_t rc = attr_str(res, "sweep", tf_sweep_text(st->sw));
  if (rc >= 0) rc = attr_str(res, "name", tf_sweep_name(st->sw));
  if (rc >= 0) rc = attr_str(res, "ticketfarm_version", TF_VERSION);
  if (rc >= 0) rc = attr_str(res, "grid_axes", keys);
  if (rc >= 0) rc = attr_str(res, "layout", LAYOUT);
  if (rc >= 0) rc = attr_str(run, "created", created);
  if (rc >= 0) rc = attr_int(run, "ranks", n_ranks);
  if (rc >= 0) rc = attr_int(run, "runs", 1);
  free(keys);
  if (rc < 0) return h5_fail(err, "%s: cannot write the file's attributes", path);
  return 0;
}

/* Collective, after build: the netCDF/CF attributes that make xarray (h5netcdf) read the file as
 * labelled arrays. String datasets say their encoding (`_Encoding`), so they decode to str; every
 * /results variable with a task dimension names the grid columns as its `coordinates`, and those
 * with a round dimension also density and early_stop_iter; where every task evaluates at one
 * interval, the eval scale unpacks to iterations (`scale_factor`). Attributes only: the data,
 * their types and what h5py reads are unchanged. */
static int write_cf_conventions(tf_store_t *st, const layout_t *lay, const axis_col_t *ax,
                                int n_axes, tf_err_t *err) {
  const char *path = st->path;
  for (int a = 0; a < n_axes; a++)
    if (ax[a].kind == TF_AXIS_TEXT && attr_str(lay->column[a], "_Encoding", "utf-8") < 0)
      return h5_fail(err, "%s: cannot mark /results/%s as UTF-8", path, ax[a].key);
  for (int i = 0; i < DS_COUNT; i++)
    if ((dsets[i].type == TY_HOST || dsets[i].type == TY_REASON) &&
        attr_str(st->dset[i], "_Encoding", "utf-8") < 0)
      return h5_fail(err, "%s: cannot mark /%s/%s as UTF-8", path, group_names[dsets[i].group],
                     dsets[i].name);

  static const char by_round_coords[] = " density early_stop_iter";
  size_t len = sizeof by_round_coords;
  for (int a = 0; a < n_axes; a++) len += strlen(ax[a].key) + 1;
  char *coords = malloc(len);
  if (coords == NULL) return tf_err_set(err, TF_ENOMEM, "results file: coordinate names");
  coords[0] = '\0';
  for (int a = 0; a < n_axes; a++) {
    if (a > 0) strcat(coords, " ");
    strcat(coords, ax[a].key);
  }
  size_t axes_len = strlen(coords);
  int rc = 0;
  for (int i = 0; rc == 0 && i < DS_COUNT; i++) {
    const dset_spec_t *s = &dsets[i];
    if (s->group != G_RESULTS || !dataset_exists(st, i)) continue;
    int by_round = s->rank > 1 && s->dims[1] == DIM_ROUND && i != DS_DENSITY &&
                   i != DS_EARLY_STOP_ITER;
    coords[axes_len] = '\0';
    if (by_round) strcat(coords, axes_len > 0 ? by_round_coords : by_round_coords + 1);
    if (coords[0] != '\0' && attr_str(st->dset[i], "coordinates", coords) < 0)
      rc = h5_fail(err, "%s: cannot name the coordinates of /results/%s", path, s->name);
  }
  free(coords);
  if (rc < 0) return rc;

  long every = 0;
  for (long t = 0; t < st->n_tasks && every >= 0; t++) {
    tf_config_t cfg;
    if ((rc = tf_grid_task(st->sw, t, &cfg, err)) < 0) return rc;
    if (every == 0) every = cfg.eval_every;
    if (cfg.eval_every != every) every = -1;
  }
  hid_t eval = lay->scale[G_RESULTS][DIM_EVAL];
  if (eval >= 0 && every > 0 && every <= INT32_MAX &&
      (attr_int(eval, "scale_factor", (int)every) < 0 || attr_str(eval, "units", "iterations") < 0))
    return h5_fail(err, "%s: cannot label /results/eval with its iterations", path);
  return 0;
}

/* Rank 0, before the flush: everything that depends only on the sweep and the task index,
 * in blocks of tasks. */
static int write_fixed(tf_store_t *st, layout_t *lay, const axis_col_t *ax, int n_axes,
                       tf_err_t *err) {
  const hsize_t *len = st->len;
  hsize_t E = len[DIM_EVAL], L = len[DIM_LAYER];
  for (int g = 0; g < G_COUNT; g++) {
    for (int d = DIM_ROUND; d < DIM_COUNT; d++) {
      if (lay->scale[g][d] < 0 || dim_long_names[d] == NULL) continue;
      int32_t *v = malloc(len[d] * sizeof *v);
      if (v == NULL) return tf_err_set(err, TF_ENOMEM, "results file: coordinates");
      for (hsize_t i = 0; i < len[d]; i++) v[i] = (int32_t)i;
      herr_t rc = write_rows(lay->scale[g][d], H5T_NATIVE_INT32, st->dxpl, 0, len[d], 0, 0, 0, v);
      free(v);
      if (rc < 0)
        return h5_fail(err, "%s: cannot write /%s/%s", st->path, group_names[g], dim_names[d]);
    }
  }

  size_t row_bytes = sizeof(int64_t) * (4 + E + L) + sizeof(int32_t) * 3 + 1, col_size = 8;
  for (int a = 0; a < n_axes; a++) {
    size_t size = ax[a].kind == TF_AXIS_TEXT ? ax[a].str_size : 8;
    row_bytes += size;
    if (size > col_size) col_size = size;
  }
  hsize_t block = BLOCK_BYTES / row_bytes;
  if (block < 1) block = 1;
  if (block > len[DIM_TASK]) block = len[DIM_TASK];
  int64_t *task_ids = malloc(block * sizeof *task_ids);
  int32_t *n_rounds = malloc(block * sizeof *n_rounds);
  int32_t *zeros32 = calloc(block, sizeof *zeros32);
  int8_t *zeros8 = calloc(block, sizeof *zeros8);
  int32_t *minus1 = malloc(block * sizeof *minus1);
  double *nans = malloc(block * sizeof *nans);
  int64_t *eval_iter = malloc(block * E * sizeof *eval_iter);
  int64_t *layer_size = malloc(block * L * sizeof *layer_size);
  char *column = malloc(block * col_size);
  int rc = 0;
  if (!task_ids || !n_rounds || !zeros32 || !zeros8 || !minus1 || !nans || !eval_iter ||
      !layer_size || !column)
    rc = tf_err_set(err, TF_ENOMEM, "results file: no memory for the task tables");
  for (hsize_t i = 0; rc == 0 && i < block; i++) {
    minus1[i] = -1;
    nans[i] = NAN;
  }
  for (hsize_t t0 = 0; rc == 0 && t0 < len[DIM_TASK]; t0 += block) {
    hsize_t n = len[DIM_TASK] - t0 < block ? len[DIM_TASK] - t0 : block;
    for (hsize_t i = 0; rc == 0 && i < n; i++) {
      task_shape_t ts;
      rc = task_shape(st->sw, (long)(t0 + i), &ts, err);
      if (rc < 0) break;
      task_ids[i] = (int64_t)(t0 + i);
      n_rounds[i] = ts.n_rounds;
      for (hsize_t j = 0; j < E; j++)
        eval_iter[i * E + j] = j < (hsize_t)ts.n_evals ? (int64_t)j * ts.eval_every : -1;
      for (hsize_t l = 0; l < L; l++)
        layer_size[i * L + l] = l < (hsize_t)ts.n_layers ? ts.layer_size[l] : 0;
    }
    if (rc < 0) break;
    struct {
      hid_t did;
      hid_t mtype;
      const void *buf;
      const char *name;
    } tables[] = {
        {lay->scale[G_RESULTS][DIM_TASK], H5T_NATIVE_INT64, task_ids, "/results/task"},
        {lay->scale[G_RUNTIME][DIM_TASK], H5T_NATIVE_INT64, task_ids, "/runtime/task"},
        {st->dset[DS_N_ROUNDS], H5T_NATIVE_INT32, n_rounds, "/results/n_rounds"},
        {st->dset[DS_EVAL_ITERATION], H5T_NATIVE_INT64, eval_iter, "/results/eval_iteration"},
        {st->dset[DS_LAYER_SIZE], H5T_NATIVE_INT64, layer_size, "/results/layer_size"},
        {st->dset[DS_STATUS], H5T_NATIVE_INT8, zeros8, "/results/status"},
        {st->dset[DS_ROUNDS_DONE], H5T_NATIVE_INT32, zeros32, "/results/rounds_done"},
        /* Tasks not run yet: no rank, no times (NaT in xarray rather than 1970). */
        {st->dset[DS_RANK], H5T_NATIVE_INT32, minus1, "/runtime/rank"},
        {st->dset[DS_ATTEMPTS], H5T_NATIVE_INT32, zeros32, "/runtime/attempts"},
        {st->dset[DS_START_ROUND], H5T_NATIVE_INT32, minus1, "/runtime/start_round"},
        {st->dset[DS_STARTED], H5T_NATIVE_DOUBLE, nans, "/runtime/started"},
        {st->dset[DS_FINISHED], H5T_NATIVE_DOUBLE, nans, "/runtime/finished"},
    };
    for (size_t k = 0; rc == 0 && k < sizeof tables / sizeof tables[0]; k++)
      if (write_rows(tables[k].did, tables[k].mtype, st->dxpl, t0, n, 0, 0, 0, tables[k].buf) < 0)
        rc = h5_fail(err, "%s: cannot write %s", st->path, tables[k].name);
    for (int a = 0; rc == 0 && a < n_axes; a++) {
      const axis_col_t *c = &ax[a];
      size_t size = c->kind == TF_AXIS_TEXT ? c->str_size : 8;
      for (hsize_t i = 0; i < n; i++) {
        int v = tf_grid_value_index(st->sw, a, (long)(t0 + i));
        const void *src = c->kind == TF_AXIS_TEXT  ? (const void *)(c->texts + (size_t)v * size)
                          : c->kind == TF_AXIS_INT ? (const void *)&c->ints[v]
                                                   : (const void *)&c->reals[v];
        memcpy(column + i * size, src, size);
      }
      if (write_rows(lay->column[a], c->type, st->dxpl, t0, n, 0, 0, 0, column) < 0)
        rc = h5_fail(err, "%s: cannot write the grid column /results/%s", st->path, c->key);
    }
  }
  free(task_ids);
  free(n_rounds);
  free(zeros32);
  free(zeros8);
  free(minus1);
  free(nans);
  free(eval_iter);
  free(layer_size);
  free(column);
  return rc;
}

static void store_free(tf_store_t *st) {
  for (int i = 0; i < DS_COUNT; i++)
    if (st->dset[i] >= 0) H5Dclose(st->dset[i]);
  if (st->str_host >= 0) H5Tclose(st->str_host);
  if (st->str_reason >= 0) H5Tclose(st->str_reason);
  if (st->dxpl >= 0) H5Pclose(st->dxpl);
  tf_sweep_free(st->sw);
  free(st->path);
  free(st->row);
  free(st);
}

/* Rank-local: a store for sw at path with no file yet: its own copy of the sweep, every axis
 * measured, the HDF5 types. *out is set even on failure, for tf_store_close to free. */
static int store_prepare(tf_store_t **out, const char *path, const tf_sweep_t *sw,
                         tf_err_t *err) {
  tf_store_t *st = *out = calloc(1, sizeof *st);
  if (st == NULL) return tf_err_set(err, TF_ENOMEM, "results file: no memory");
  st->file = st->dxpl = st->str_host = st->str_reason = H5I_INVALID_HID;
  for (int i = 0; i < DS_COUNT; i++) st->dset[i] = H5I_INVALID_HID;
  const char *text = tf_sweep_text(sw);
  st->path = strdup(path);
  if (st->path == NULL) return tf_err_set(err, TF_ENOMEM, "results file: no memory");
  int rc = tf_sweep_parse(&st->sw, text, strlen(text), path, err);
  if (rc < 0) return rc;
  st->n_tasks = tf_grid_tasks(st->sw);
  if (st->n_tasks < 1)
    return tf_err_set(err, TF_EINPUT, "results file: sweep with %ld tasks", st->n_tasks);
  if ((rc = measure(st, err)) < 0) return rc;
  st->str_host = string_type(HOST_LEN);
  st->str_reason = string_type(REASON_LEN);
  st->dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (st->str_host < 0 || st->str_reason < 0 || st->dxpl < 0 ||
      H5Pset_dxpl_mpio(st->dxpl, H5FD_MPIO_INDEPENDENT) < 0)
    return h5_fail(err, "results file: cannot set up HDF5 types");
  return 0;
}

/* Collective: opens (create = 0) or creates path with the MPI-IO driver. */
static int file_open(tf_store_t *st, MPI_Comm comm, int create, tf_err_t *err) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) >= 0)
    st->file = create ? H5Fcreate(st->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)
                      : H5Fopen(st->path, H5F_ACC_RDWR, fapl);
  hid_t stack = stack_keep(st->file < 0);
  if (fapl >= 0) H5Pclose(fapl);
  stack_restore(stack);
  if (st->file < 0) return h5_fail(err, "cannot %s %s", create ? "create" : "open", st->path);
  return 0;
}

int tf_store_create(tf_store_t **out, const char *path, MPI_Comm comm, const tf_sweep_t *sw,
                    tf_err_t *err) {
  *out = NULL;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  int rank = 0, n_ranks = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &n_ranks);

  layout_t lay;
  for (int g = 0; g < G_COUNT; g++) {
    lay.group[g] = H5I_INVALID_HID;
    for (int d = 0; d < DIM_COUNT; d++) lay.scale[g][d] = H5I_INVALID_HID;
  }
  lay.dcpl = H5I_INVALID_HID;
  for (int a = 0; a < TF_SWEEP_MAX_AXES; a++) lay.column[a] = H5I_INVALID_HID;
  axis_col_t ax[TF_SWEEP_MAX_AXES];
  memset(ax, 0, sizeof ax);
  for (int a = 0; a < TF_SWEEP_MAX_AXES; a++) ax[a].type = H5I_INVALID_HID;

  tf_store_t *st = NULL;
  int rc = store_prepare(&st, path, sw, err), n_axes = tf_grid_axes(sw);
  if (n_axes < 0 || n_axes > TF_SWEEP_MAX_AXES) {
    if (rc == 0) rc = tf_err_set(err, TF_EINPUT, "results file: sweep with %d grid axes", n_axes);
    n_axes = 0;
  }
  if (rc == 0) rc = collect_axes(st->sw, ax, n_axes, err);
  rc = agree(comm, rc, "preparing the results file", err);
  if (rc == 0) rc = file_open(st, comm, 1, err);
  if (rc == 0) {
    /* Attributes are collective: every rank writes rank 0's clock. */
    char created[32] = "";
    if (rank == 0) {
      time_t now = time(NULL);
      struct tm tm;
      gmtime_r(&now, &tm);
      strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    MPI_Bcast(created, sizeof created, MPI_CHAR, 0, comm);
    rc = build(st, &lay, ax, n_axes, n_ranks, created, err);
    if (rc == 0) rc = write_cf_conventions(st, &lay, ax, n_axes, err);
    if (rc == 0 && rank == 0) rc = write_fixed(st, &lay, ax, n_axes, err);
    rc = agree(comm, rc, "creating the results file", err);
  }
  if (rc == 0 && H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0)
    rc = h5_fail(err, "%s: cannot flush after creation", path);
  /* Rank 0's writes above are on disk before any rank writes a task's row over them. */
  if (rc == 0) MPI_Barrier(comm);

  for (int a = 0; a < n_axes; a++)
    if (lay.column[a] >= 0) H5Dclose(lay.column[a]);
  for (int g = 0; g < G_COUNT; g++) {
    for (int d = 0; d < DIM_COUNT; d++)
      if (lay.scale[g][d] >= 0) H5Dclose(lay.scale[g][d]);
    if (lay.group[g] >= 0) H5Gclose(lay.group[g]);
  }
  if (lay.dcpl >= 0) H5Pclose(lay.dcpl);
  free_axes(ax, n_axes);
  if (rc < 0) {
    tf_err_t ignored;
    tf_store_close(st, &ignored);
    return rc;
  }
  *out = st;
  return 0;
}

/* ---- reopening a results file ---- */

static const char *dims_text(const hsize_t *dims, int rank, char *buf, size_t size) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < rank && k < size; i++)
    k += (size_t)snprintf(buf + k, size - k, "%s%llu", i > 0 ? " x " : "",
                          (unsigned long long)dims[i]);
  return buf;
}

/* TF_EMISMATCH unless dataset `name` of group g exists in file with exactly `rank` axes of
 * lengths `want`; *did gets it open, or H5I_INVALID_HID on failure. `axes` names the axes. */
static int open_checked(const tf_store_t *st, hid_t file, const char *name, int rank,
                        const hsize_t *want, const char *axes, hid_t *did, tf_err_t *err) {
  *did = H5I_INVALID_HID;
  htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
  if (exists < 0) return h5_fail(err, "%s: cannot look up /%s", st->path, name);
  if (exists == 0)
    return tf_err_set(err, TF_EMISMATCH, "%s has no /%s, which this sweep writes", st->path, name);
  *did = H5Dopen2(file, name, H5P_DEFAULT);
  if (*did < 0) return h5_fail(err, "%s: cannot open /%s", st->path, name);
  hsize_t dims[3] = {0, 0, 0};
  hid_t space = H5Dget_space(*did);
  int got = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  if (got >= 1 && got <= 3) H5Sget_simple_extent_dims(space, dims, NULL);
  if (space >= 0) H5Sclose(space);
  int same = got == rank;
  for (int k = 0; same && k < rank; k++) same = dims[k] == want[k];
  if (same) return 0;
  H5Dclose(*did);
  *did = H5I_INVALID_HID;
  char have[96], need[96];
  return tf_err_set(err, TF_EMISMATCH, "%s: /%s is %s, this sweep needs %s (%s)", st->path, name,
                    got >= 1 && got <= 3 ? dims_text(dims, got, have, sizeof have) : "not 1-3-D",
                    dims_text(want, rank, need, sizeof need), axes);
}

static void close_ids(hid_t *ids, int n) {
  for (int i = 0; i < n; i++)
    if (ids[i] >= 0) H5Dclose(ids[i]);
}

/* Checks that file has exactly the layout st's sweep implies (grid axes, the "runs" counter,
 * every dataset with its shape, the grid columns) and leaves each dataset of the dsets table
 * open in ids[] (H5I_INVALID_HID where the sweep has none). Reads only. */
static int open_datasets(const tf_store_t *st, hid_t file, hid_t *ids, tf_err_t *err) {
  for (int i = 0; i < DS_COUNT; i++) ids[i] = H5I_INVALID_HID;
  char *want_axes = joined_axis_keys(st->sw), *have_axes = NULL;
  if (want_axes == NULL) return tf_err_set(err, TF_ENOMEM, "results file: grid axis names");
  hid_t res = H5Gopen2(file, "results", H5P_DEFAULT);
  int rc = 0;
  if (res < 0) {
    rc = h5_fail(err, "%s: cannot open /results", st->path);
  } else if ((have_axes = read_attr_str(res, "grid_axes")) == NULL ||
             strcmp(have_axes, want_axes) != 0) {
    rc = tf_err_set(err, TF_EMISMATCH, "%s: grid axes are '%s', this sweep has '%s'", st->path,
                    have_axes ? have_axes : "(none)", want_axes);
  } else if (H5Aexists_by_name(file, "runtime", "runs", H5P_DEFAULT) <= 0) {
    rc = tf_err_set(err, TF_EMISMATCH, "%s has no /runtime attribute 'runs'", st->path);
  }
  for (int i = 0; rc == 0 && i < DS_COUNT; i++) {
    const dset_spec_t *s = &dsets[i];
    char name[96], axes[96] = "";
    snprintf(name, sizeof name, "%s/%s", group_names[s->group], s->name);
    for (int k = 0; k < s->rank; k++)
      snprintf(axes + strlen(axes), sizeof axes - strlen(axes), "%s%s", k > 0 ? " x " : "",
               dim_names[s->dims[k]]);
    if (dataset_exists(st, i)) {
      hsize_t shape[3];
      dataset_shape(st, i, shape);
      rc = open_checked(st, file, name, s->rank, shape, axes, &ids[i], err);
    } else if (H5Lexists(file, name, H5P_DEFAULT) != 0) {
      rc = tf_err_set(err, TF_EMISMATCH, "%s has /%s, which this sweep does not record",
                      st->path, name);
    }
  }
  for (int a = 0; rc == 0 && a < tf_grid_axes(st->sw); a++) {
    char name[256];
    hid_t did;
    snprintf(name, sizeof name, "results/%s", tf_grid_axis_key(st->sw, a));
    rc = open_checked(st, file, name, 1, &st->len[DIM_TASK], "task", &did, err);
    if (did >= 0) H5Dclose(did);
  }
  if (rc < 0) close_ids(ids, DS_COUNT);
  if (res >= 0) H5Gclose(res);
  free(want_axes);
  free(have_axes);
  return rc;
}

/* Rank 0's verdict (code and message) becomes every rank's. */
static int share_verdict(MPI_Comm comm, int rc, tf_err_t *err) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  char msg[TF_ERR_MSG_MAX] = "";
  if (rank == 0 && rc < 0 && err != NULL) snprintf(msg, sizeof msg, "%s", err->msg);
  if (MPI_Bcast(&rc, 1, MPI_INT, 0, comm) != MPI_SUCCESS ||
      (rc < 0 && MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, comm) != MPI_SUCCESS))
    return tf_err_set(err, TF_EMPI, "MPI_Bcast failed");
  if (rank != 0 && rc < 0) tf_err_set(err, rc, "%s", msg);
  return rc;
}

/* Rank 0, serial and read-only: whether the file is one this sweep can continue. */
static int check_read_only(const tf_store_t *st, tf_err_t *err) {
  reader_t rd;
  int rc = reader_open(&rd, st->path, err);
  if (rc < 0) return rc;
  hid_t ids[DS_COUNT];
  rc = open_datasets(st, rd.file, ids, err);
  if (rc == 0) close_ids(ids, DS_COUNT);
  reader_close(&rd);
  return rc;
}

/* Collective: adds this run to the /runtime attribute "runs". The group stays open while the
 * attribute is written: HDF5 1.10 cannot write an attribute opened with H5Aopen_by_name
 * ("can't locate open attribute?"). */
static int count_run(tf_store_t *st, tf_err_t *err) {
  hid_t g = H5Gopen2(st->file, "runtime", H5P_DEFAULT);
  hid_t a = g < 0 ? H5I_INVALID_HID : H5Aopen(g, "runs", H5P_DEFAULT);
  int runs = 0;
  herr_t rc = a < 0 ? -1 : H5Aread(a, H5T_NATIVE_INT, &runs);
  runs++;
  if (rc >= 0) rc = H5Awrite(a, H5T_NATIVE_INT, &runs);
  hid_t stack = stack_keep(rc < 0);
  if (a >= 0) H5Aclose(a);
  if (g >= 0) H5Gclose(g);
  stack_restore(stack);
  if (rc < 0) return h5_fail(err, "%s: cannot count this run in /runtime", st->path);
  return 0;
}

int tf_store_open(tf_store_t **out, const char *path, MPI_Comm comm, const tf_sweep_t *sw,
                  tf_err_t *err) {
  *out = NULL;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  tf_store_t *st = NULL;
  int rc = store_prepare(&st, path, sw, err);
  rc = agree(comm, rc, "preparing to open the results file", err);
  /* A refused file is never opened for writing: HDF5 may write to a file merely opened so. */
  if (rc == 0) rc = share_verdict(comm, rank == 0 ? check_read_only(st, err) : 0, err);
  if (rc == 0) rc = file_open(st, comm, 0, err);
  if (rc == 0) rc = open_datasets(st, st->file, st->dset, err);
  rc = agree(comm, rc, "opening the results file", err);
  if (rc == 0) rc = agree(comm, count_run(st, err), "opening the results file", err);
  if (rc == 0 && H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0)
    rc = h5_fail(err, "%s: cannot flush after opening", path);
  if (rc < 0) {
    tf_err_t ignored;
    tf_store_close(st, &ignored);
    return rc;
  }
  *out = st;
  return 0;
}

/* The shape of task, for a rank-local write or read: task must be in range. */
static int checked_shape(tf_store_t *st, long task, task_shape_t *ts, tf_err_t *err) {
  if (task < 0 || task >= st->n_tasks)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld out of range (0 to %ld)", st->path, task,
                      st->n_tasks - 1);
  return task_shape(st->sw, task, ts, err);
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
  if (params == NULL || n_params != ts.n_params)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld: snapshot of %zu parameters, expected %zu",
                      st->path, task, n_params, ts.n_params);
  return put(st, d, task, 0, 1, param_row(st, params, n_params), err);
}

int tf_store_write_round(tf_store_t *st, long task, const tf_round_t *rd, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  int r = rd->round;
  if (r < 0 || r >= ts.n_rounds || rd->n_evals < 1 || (hsize_t)rd->n_evals > st->len[DIM_EVAL] ||
      rd->early_stop < 0 || rd->early_stop >= rd->n_evals || rd->n_layers < 1 ||
      (hsize_t)rd->n_layers > st->len[DIM_LAYER] || rd->mask_bytes > st->len[DIM_MASK_BYTE] ||
      rd->mask_bytes != ts.mask_bytes || rd->mask_bits == NULL || rd->evals == NULL)
    return tf_err_set(err, TF_EINPUT,
                      "%s: task %ld: round %d does not fit the file (%d rounds, %d of %d evals, "
                      "%d layers, %zu of %zu mask bytes)",
                      st->path, task, r, ts.n_rounds, rd->n_evals, (int)st->len[DIM_EVAL],
                      rd->n_layers, rd->mask_bytes, ts.mask_bytes);
  int has_next = r + 1 < ts.n_rounds;
  if (has_next && rd->next_mask_bits == NULL)
    return tf_err_set(err, TF_EINPUT,
                      "%s: task %ld: round %d of %d comes without the mask of the next round",
                      st->path, task, r, ts.n_rounds);
  int record_final = (ts.record & TF_RECORD_FINAL) && st->dset[DS_WEIGHTS_FINAL] >= 0;
  if (record_final && (rd->final == NULL || rd->n_params != ts.n_params))
    return tf_err_set(err, TF_EINPUT, "%s: task %ld round %d: %zu final parameters, expected %zu",
                      st->path, task, r, rd->n_params, ts.n_params);

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
  for (size_t c = 0; c < sizeof curves / sizeof curves[0]; c++) {
    for (hsize_t j = 0; j < st->len[DIM_EVAL]; j++) {
      const char *e = (const char *)&rd->evals[j < (hsize_t)rd->n_evals ? j : 0];
      float v;
      memcpy(&v, e + curves[c].offset, sizeof v);
      curve[j] = j < (hsize_t)rd->n_evals ? v : NAN;
    }
    if ((rc = put(st, curves[c].dset, task, r, 1, curve, err)) < 0) return rc;
  }

  if ((rc = put(st, DS_MASK, task, r, 1, mask_row(st, rd->mask_bits, rd->mask_bytes), err)) < 0)
    return rc;

  if (record_final &&
      (rc = put(st, DS_WEIGHTS_FINAL, task, r, 1, param_row(st, rd->final, rd->n_params), err)) < 0)
    return rc;
  if ((rc = put(st, DS_WALL_S, task, r, 1, &rd->wall_s, err)) < 0) return rc;

  if (has_next && (rc = put(st, DS_NEXT_MASK, task, (r + 1) % 2, 1,
                            mask_row(st, rd->next_mask_bits, rd->mask_bytes), err)) < 0)
    return rc;
  int32_t done = r + 1;
  return put(st, DS_ROUNDS_DONE, task, 0, 1, &done, err);
}

/* Rounds beyond the task's last get defined values: NaN, -1 for integers, zero mask bytes. */
static int write_padding(tf_store_t *st, long task, const task_shape_t *ts, tf_err_t *err) {
  const int nan_rounds[] = {DS_DENSITY, DS_VAL_LOSS, DS_TEST_ACC_ES, DS_TEST_ACC_FINAL,
                            DS_WALL_S};
  double nan64 = NAN;
  float nan32 = NAN;
  int64_t minus1 = -1;
  int rc = 0;
  for (int r = ts->n_rounds; r < (int)st->len[DIM_ROUND]; r++) {
    for (size_t k = 0; k < sizeof nan_rounds / sizeof nan_rounds[0]; k++) {
      int d = nan_rounds[k];
      const void *v = dsets[d].type == TY_F64 ? (const void *)&nan64 : (const void *)&nan32;
      if ((rc = put(st, d, task, r, 1, v, err)) < 0) return rc;
    }
    if ((rc = put(st, DS_EARLY_STOP_ITER, task, r, 1, &minus1, err)) < 0) return rc;

    int64_t *ints = (int64_t *)st->row;
    for (hsize_t l = 0; l < st->len[DIM_LAYER]; l++) ints[l] = -1;
    if ((rc = put(st, DS_REMAINING, task, r, 1, ints, err)) < 0) return rc;

    float *floats = (float *)st->row;
    for (hsize_t j = 0; j < st->len[DIM_EVAL]; j++) floats[j] = NAN;
    for (size_t c = 0; c < sizeof curves / sizeof curves[0]; c++)
      if ((rc = put(st, curves[c].dset, task, r, 1, floats, err)) < 0) return rc;

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
  if ((rc = write_padding(st, task, &ts, err)) < 0) return rc;
  int8_t s = (int8_t)status;
  return put(st, DS_STATUS, task, 0, 1, &s, err);
}

/* Reads what put writes: one row of task (one round or parity of it when the dataset has
 * such an axis). */
static int get(tf_store_t *st, int d, long task, int round0, void *buf, tf_err_t *err) {
  const dset_spec_t *s = &dsets[d];
  if (read_rows(st->dset[d], mem_type(st, s->type), (hsize_t)task, 1, indexes_second_axis(s),
                (hsize_t)round0, 1, buf) < 0)
    return h5_fail(err, "%s: cannot read /%s/%s of task %ld", st->path, group_names[s->group],
                   s->name, task);
  return 0;
}

int tf_store_task_state(tf_store_t *st, long task, tf_task_status_t *status, int *rounds_done,
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

int tf_store_read_all_states(tf_store_t *st, signed char *status, int *rounds_done,
                             int *attempts, tf_err_t *err) {
  const struct {
    int dset;
    hid_t mtype;
    void *buf;
  } cols[] = {{DS_STATUS, H5T_NATIVE_SCHAR, status},
              {DS_ROUNDS_DONE, H5T_NATIVE_INT, rounds_done},
              {DS_ATTEMPTS, H5T_NATIVE_INT, attempts}};
  for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
    const dset_spec_t *s = &dsets[cols[k].dset];
    if (read_rows(st->dset[cols[k].dset], cols[k].mtype, 0, st->len[DIM_TASK], 0, 0, 0,
                  cols[k].buf) < 0)
      return h5_fail(err, "%s: cannot read /%s/%s", st->path, group_names[s->group], s->name);
  }
  return 0;
}

int tf_store_read_next_mask(tf_store_t *st, long task, uint8_t *bits, size_t n, tf_err_t *err) {
  task_shape_t ts;
  int32_t done = 0;
  int rc = checked_shape(st, task, &ts, err);
  if (rc == 0) rc = get(st, DS_ROUNDS_DONE, task, 0, &done, err);
  if (rc < 0) return rc;
  if (n != ts.mask_bytes)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld: mask of %zu bytes asked for, it has %zu",
                      st->path, task, n, ts.mask_bytes);
  if (done < 1 || done >= ts.n_rounds)
    return tf_err_set(err, TF_EINPUT,
                      "%s: task %ld has %d of %d rounds done: no mask to resume from", st->path,
                      task, (int)done, ts.n_rounds);
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
  if (attempts < 0 || start_round < -1 || start_round > ts.n_rounds)
    return tf_err_set(err, TF_EINPUT, "%s: task %ld: attempt %d starting at round %d of %d",
                      st->path, task, attempts, start_round, ts.n_rounds);
  int32_t tries = attempts, start = start_round;
  double finished = NAN;
  char reason[REASON_LEN] = "";
  if ((rc = put(st, DS_ATTEMPTS, task, 0, 1, &tries, err)) < 0) return rc;
  if ((rc = put(st, DS_START_ROUND, task, 0, 1, &start, err)) < 0) return rc;
  if ((rc = put(st, DS_FINISHED, task, 0, 1, &finished, err)) < 0) return rc;
  return put(st, DS_FAIL_REASON, task, 0, 1, reason, err);
}

int tf_store_reset_task(tf_store_t *st, long task, tf_err_t *err) {
  task_shape_t ts;
  int rc = checked_shape(st, task, &ts, err);
  if (rc < 0) return rc;
  /* Status first: a job killed in between leaves a pending task with finished rounds, which a
   * resume continues correctly, never a failed or done task with its rounds forgotten. */
  int8_t s = TF_TASK_PENDING;
  int32_t done = 0;
  if ((rc = put(st, DS_STATUS, task, 0, 1, &s, err)) < 0) return rc;
  return put(st, DS_ROUNDS_DONE, task, 0, 1, &done, err);
}

int tf_store_flush(tf_store_t *st, tf_err_t *err) {
  if (H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0) return h5_fail(err, "%s: cannot flush", st->path);
  return 0;
}

int tf_store_close(tf_store_t *st, tf_err_t *err) {
  if (st == NULL) return 0;
  int rc = 0;
  hid_t file = st->file;
  char *path = st->path;
  st->path = NULL;
  store_free(st);
  if (file >= 0 && H5Fclose(file) < 0) rc = h5_fail(err, "%s: cannot close", path ? path : "");
  free(path);
  return rc;
}

/* ---- serial readers ---- */

static void reader_close(reader_t *rd) {
  if (rd->runtime >= 0) H5Gclose(rd->runtime);
  if (rd->results >= 0) H5Gclose(rd->results);
  if (rd->file >= 0) H5Fclose(rd->file);
  rd->file = rd->results = rd->runtime = H5I_INVALID_HID;
}

/* A fixed-length string attribute, malloc'd; NULL if absent or not a fixed-length string. */
static char *read_attr_str(hid_t obj, const char *name) {
  if (H5Aexists(obj, name) <= 0) return NULL;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  char *s = NULL;
  hid_t ft = H5Aget_type(a);
  if (ft >= 0 && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) == 0) {
    size_t n = H5Tget_size(ft);
    hid_t mt = string_type(n + 1);
    s = calloc(n + 2, 1);
    if (s != NULL && (mt < 0 || H5Aread(a, mt, s) < 0)) {
      free(s);
      s = NULL;
    }
    if (mt >= 0) H5Tclose(mt);
  }
  if (ft >= 0) H5Tclose(ft);
  H5Aclose(a);
  return s;
}

static hsize_t dataset_len(hid_t did, int axis) {
  hsize_t dims[3] = {0, 0, 0};
  hid_t space = H5Dget_space(did);
  if (space < 0) return 0;
  int rank = H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  return rank > axis && axis < 3 ? dims[axis] : 0;
}

static int reader_open(reader_t *rd, const char *path, tf_err_t *err) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  rd->path = path;
  rd->file = rd->results = rd->runtime = H5I_INVALID_HID;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  /* No lock: the MPI-IO writer holds none, and a lock another process holds (an h5py session,
   * a serial tool) must not stop a progress report. Readers never modify the file. */
  if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
  rd->file = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
  hid_t stack = stack_keep(rd->file < 0);
  if (fapl >= 0) H5Pclose(fapl);
  stack_restore(stack);
  if (rd->file < 0) return h5_fail(err, "cannot open %s", path);
  rd->results = H5Lexists(rd->file, "results", H5P_DEFAULT) > 0
                    ? H5Gopen2(rd->file, "results", H5P_DEFAULT)
                    : H5I_INVALID_HID;
  char *layout = rd->results >= 0 ? read_attr_str(rd->results, "layout") : NULL;
  int ok = layout != NULL && strcmp(layout, LAYOUT) == 0;
  free(layout);
  if (!ok) {
    H5Eclear2(H5E_DEFAULT);
    reader_close(rd);
    return tf_err_set(err, TF_EFORMAT, "%s is not a ticketfarm results file (layout %s expected)",
                      path, LAYOUT);
  }
  rd->runtime = H5Gopen2(rd->file, "runtime", H5P_DEFAULT);
  hid_t d = H5Dopen2(rd->results, "density", H5P_DEFAULT);
  if (rd->runtime < 0 || d < 0) {
    if (d >= 0) H5Dclose(d);
    reader_close(rd);
    return h5_fail(err, "%s: incomplete results file", path);
  }
  rd->n_tasks = (long)dataset_len(d, 0);
  rd->n_rounds = (int)dataset_len(d, 1);
  H5Dclose(d);
  return 0;
}

/* Reads rows [t0, t0 + n) of dataset name in group g. */
static int read_block(reader_t *rd, hid_t g, const char *name, hid_t mtype, long t0, long n,
                      void *buf, tf_err_t *err) {
  hid_t did = H5Dopen2(g, name, H5P_DEFAULT);
  herr_t rc = did < 0 ? -1 : read_rows(did, mtype, (hsize_t)t0, (hsize_t)n, 0, 0, 0, buf);
  hid_t stack = stack_keep(rc < 0);
  if (did >= 0) H5Dclose(did);
  stack_restore(stack);
  if (rc < 0) return h5_fail(err, "%s: cannot read %s of tasks %ld to %ld", rd->path, name, t0,
                             t0 + n - 1);
  return 0;
}

static long block_tasks(size_t row_bytes, long n_tasks) {
  long block = (long)(BLOCK_BYTES / (row_bytes > 0 ? row_bytes : 1));
  if (block < 1) block = 1;
  return block < n_tasks ? block : n_tasks;
}

int tf_store_probe(const char *path, tf_err_t *err) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT) return TF_STORE_ABSENT;
    return tf_err_set(err, TF_EIO, "%s: %s", path, strerror(errno));
  }
  if (!S_ISREG(sb.st_mode)) return tf_err_set(err, TF_EIO, "%s is not a regular file", path);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return tf_err_set(err, TF_EIO, "cannot read %s: %s", path, strerror(errno));
  close(fd);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  /* Only a missing signature makes a file UNREADABLE: a damaged HDF5 file is an error. */
  htri_t hdf5 = H5Fis_hdf5(path);
  if (hdf5 < 0) return h5_fail(err, "cannot read %s", path);
  if (hdf5 == 0) return TF_STORE_UNREADABLE;
  reader_t rd;
  tf_err_t mine = {0};
  int rc = reader_open(&rd, path, &mine);
  if (rc == TF_EFORMAT) return TF_STORE_FOREIGN;
  if (rc < 0) return tf_err_set(err, rc, "%s", mine.msg);
  reader_close(&rd);
  return TF_STORE_RESULTS;
}

int tf_store_read_sweep(const char *path, char **text, tf_err_t *err) {
  *text = NULL;
  reader_t rd;
  int rc = reader_open(&rd, path, err);
  if (rc < 0) return rc;
  *text = read_attr_str(rd.results, "sweep");
  reader_close(&rd);
  if (*text == NULL)
    return tf_err_set(err, TF_EFORMAT, "%s: no sweep text in /results", path);
  return 0;
}

/* An integer attribute; fallback when it is absent or unreadable. */
static int read_attr_int(hid_t obj, const char *name, int fallback) {
  if (H5Aexists(obj, name) <= 0) return fallback;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  int v = fallback;
  if (a >= 0 && H5Aread(a, H5T_NATIVE_INT, &v) < 0) v = fallback;
  if (a >= 0) H5Aclose(a);
  H5Eclear2(H5E_DEFAULT);
  return v;
}

int tf_store_print_status(const char *path, FILE *out, tf_err_t *err) {
  reader_t rd;
  int rc = reader_open(&rd, path, err);
  if (rc < 0) return rc;
  char *name = read_attr_str(rd.results, "name");
  char *version = read_attr_str(rd.results, "ticketfarm_version");
  int runs = read_attr_int(rd.runtime, "runs", 0);
  /* Files written before attempts were recorded have neither column. */
  int have_attempts = H5Lexists(rd.runtime, "attempts", H5P_DEFAULT) > 0 &&
                      H5Lexists(rd.runtime, "start_round", H5P_DEFAULT) > 0;
  H5Eclear2(H5E_DEFAULT);
  long block = block_tasks(17, rd.n_tasks);
  int8_t *status = malloc((size_t)block);
  int32_t *done_rounds = malloc((size_t)block * sizeof *done_rounds);
  int32_t *n_rounds = malloc((size_t)block * sizeof *n_rounds);
  int32_t *attempts = malloc((size_t)block * sizeof *attempts);
  int32_t *start_round = malloc((size_t)block * sizeof *start_round);
  long failed_ids[STATUS_MAX_REASONS];
  long done = 0, failed = 0, partial = 0, pending = 0, restarted = 0, resumed = 0;
  long long rounds_done = 0, rounds_total = 0;
  if (!status || !done_rounds || !n_rounds || !attempts || !start_round)
    rc = tf_err_set(err, TF_ENOMEM, "%s: no memory for the status", path);
  for (long t0 = 0; rc == 0 && t0 < rd.n_tasks; t0 += block) {
    long n = rd.n_tasks - t0 < block ? rd.n_tasks - t0 : block;
    rc = read_block(&rd, rd.results, "status", H5T_NATIVE_INT8, t0, n, status, err);
    if (rc == 0)
      rc = read_block(&rd, rd.results, "rounds_done", H5T_NATIVE_INT32, t0, n, done_rounds, err);
    if (rc == 0)
      rc = read_block(&rd, rd.results, "n_rounds", H5T_NATIVE_INT32, t0, n, n_rounds, err);
    if (rc == 0 && have_attempts)
      rc = read_block(&rd, rd.runtime, "attempts", H5T_NATIVE_INT32, t0, n, attempts, err);
    if (rc == 0 && have_attempts)
      rc = read_block(&rd, rd.runtime, "start_round", H5T_NATIVE_INT32, t0, n, start_round, err);
    for (long i = 0; rc == 0 && have_attempts && i < n; i++) {
      restarted += attempts[i] > 1;
      resumed += start_round[i] > 0;
    }
    for (long i = 0; rc == 0 && i < n; i++) {
      rounds_done += done_rounds[i] < n_rounds[i] ? done_rounds[i] : n_rounds[i];
      rounds_total += n_rounds[i];
      if (status[i] == TF_TASK_DONE) {
        done++;
      } else if (status[i] == TF_TASK_FAILED) {
        if (failed < STATUS_MAX_REASONS) failed_ids[failed] = t0 + i;
        failed++;
      } else {
        pending++;
        if (done_rounds[i] > 0) partial++;
      }
    }
  }
  if (rc == 0) {
    fprintf(out, "file:    %s\n", path);
    fprintf(out, "sweep:   %s (ticketfarm %s)\n", name && name[0] ? name : "(unnamed)",
            version ? version : "?");
    fprintf(out, "rounds:  %lld of %lld finished\n", rounds_done, rounds_total);
    if (runs > 0)
      fprintf(out, "runs:    %d (%ld tasks started more than once, %ld resumed at a later round)\n",
              runs, restarted, resumed);
    hid_t reason_type = string_type(REASON_LEN);
    if (reason_type < 0) rc = h5_fail(err, "%s: cannot make a string type", path);
    for (long k = 0; rc == 0 && k < failed && k < STATUS_MAX_REASONS; k++) {
      char reason[REASON_LEN] = "";
      rc = read_block(&rd, rd.runtime, "fail_reason", reason_type, failed_ids[k], 1, reason, err);
      if (rc < 0) break;
      fprintf(out, "%s task %ld: %s\n", k == 0 ? "failed: " : "        ", failed_ids[k],
              reason[0] ? reason : "(no reason recorded)");
    }
    if (reason_type >= 0) H5Tclose(reason_type);
    if (rc == 0 && failed > STATUS_MAX_REASONS)
      fprintf(out, "         ... and %ld more failed tasks\n", failed - STATUS_MAX_REASONS);
    if (rc == 0)
      fprintf(out, "%ld tasks: %ld done, %ld failed, %ld pending (%ld running/partial)\n",
              rd.n_tasks, done, failed, pending, partial);
  }
  free(status);
  free(done_rounds);
  free(n_rounds);
  free(attempts);
  free(start_round);
  free(name);
  free(version);
  reader_close(&rd);
  return rc;
}

/* ---- summary ---- */

/* The columns after task and the grid axes. */
enum { COL_FIXED = 7 };
static const char *const fixed_cols[COL_FIXED] = {
    "round", "density", "early_stop_iter", "val_loss", "test_acc_es", "test_acc_final", "wall_s"};

typedef struct summary_axis {
  char *key;
  hid_t did;
  H5T_class_t cls;
  size_t str_size;
  hid_t mtype;
  char *buf; /* (block, width) */
} summary_axis_t;

typedef struct summary {
  reader_t rd;
  int n_axes;
  summary_axis_t axes[TF_SWEEP_MAX_AXES];
  long block;
  int32_t *rounds_done;
  double *density, *wall_s;
  int64_t *es_iter;
  float *val_loss, *acc_es, *acc_final;
  int n_cols;
  char **cells;
  size_t *cap;
  size_t *width;
  int *text_col; /* left-aligned in the human table */
} summary_t;

/* Shortest text that reads back as the same double. */
static void format_real(double v, char *buf, size_t size) {
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, size, "%.*g", p, v);
    if (strtod(buf, NULL) == v) return;
  }
}

static void csv_quote(const char *s, char *buf, size_t size) {
  if (strpbrk(s, ",\"\n\r") == NULL) {
    snprintf(buf, size, "%s", s);
    return;
  }
  size_t k = 0;
  buf[k++] = '"';
  for (; *s && k + 3 < size; s++) {
    if (*s == '"') buf[k++] = '"';
    buf[k++] = *s;
  }
  buf[k++] = '"';
  buf[k] = '\0';
}

static void summary_free(summary_t *s) {
  for (int a = 0; a < s->n_axes; a++) {
    free(s->axes[a].key);
    free(s->axes[a].buf);
    if (s->axes[a].did >= 0) H5Dclose(s->axes[a].did);
    if (s->axes[a].mtype >= 0 && s->axes[a].cls == H5T_STRING) H5Tclose(s->axes[a].mtype);
  }
  free(s->rounds_done);
  free(s->density);
  free(s->wall_s);
  free(s->es_iter);
  free(s->val_loss);
  free(s->acc_es);
  free(s->acc_final);
  if (s->cells != NULL)
    for (int c = 0; c < s->n_cols; c++) free(s->cells[c]);
  free(s->cells);
  free(s->cap);
  free(s->width);
  free(s->text_col);
  reader_close(&s->rd);
}

static int summary_open(summary_t *s, const char *path, tf_err_t *err) {
  memset(s, 0, sizeof *s);
  int rc = reader_open(&s->rd, path, err);
  if (rc < 0) return rc;
  char *keys = read_attr_str(s->rd.results, "grid_axes");
  if (keys == NULL)
    return tf_err_set(err, TF_EFORMAT, "%s: no grid_axes attribute on /results", path);
  size_t row_bytes = (size_t)s->rd.n_rounds * 40 + 4;
  for (char *save = NULL, *k = strtok_r(keys, ",", &save); k != NULL && rc == 0;
       k = strtok_r(NULL, ",", &save)) {
    if (s->n_axes == TF_SWEEP_MAX_AXES) {
      rc = tf_err_set(err, TF_EFORMAT, "%s: more than %d grid axes", path, TF_SWEEP_MAX_AXES);
      break;
    }
    summary_axis_t *ax = &s->axes[s->n_axes++];
    ax->mtype = H5I_INVALID_HID;
    ax->key = strdup(k);
    ax->did = H5Dopen2(s->rd.results, k, H5P_DEFAULT);
    hid_t ft = ax->did >= 0 ? H5Dget_type(ax->did) : H5I_INVALID_HID;
    ax->cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    if (ax->cls == H5T_STRING && H5Tis_variable_str(ft) == 0) {
      ax->str_size = H5Tget_size(ft) + 1;
      ax->mtype = string_type(ax->str_size);
    } else if (ax->cls == H5T_INTEGER) {
      ax->str_size = sizeof(int64_t);
      ax->mtype = H5T_NATIVE_INT64;
    } else if (ax->cls == H5T_FLOAT) {
      ax->str_size = sizeof(double);
      ax->mtype = H5T_NATIVE_DOUBLE;
    }
    if (ft >= 0) H5Tclose(ft);
    if (ax->key == NULL || ax->mtype < 0)
      rc = h5_fail(err, "%s: cannot read the grid column /results/%s", path, k);
    row_bytes += ax->str_size;
  }
  free(keys);
  if (rc < 0) return rc;

  long block = s->block = block_tasks(row_bytes, s->rd.n_tasks);
  size_t cells = (size_t)block * (size_t)s->rd.n_rounds;
  s->rounds_done = malloc((size_t)block * sizeof *s->rounds_done);
  s->density = malloc(cells * sizeof *s->density);
  s->wall_s = malloc(cells * sizeof *s->wall_s);
  s->es_iter = malloc(cells * sizeof *s->es_iter);
  s->val_loss = malloc(cells * sizeof *s->val_loss);
  s->acc_es = malloc(cells * sizeof *s->acc_es);
  s->acc_final = malloc(cells * sizeof *s->acc_final);
  s->n_cols = 1 + s->n_axes + COL_FIXED;
  s->cells = calloc((size_t)s->n_cols, sizeof *s->cells);
  s->cap = calloc((size_t)s->n_cols, sizeof *s->cap);
  s->width = calloc((size_t)s->n_cols, sizeof *s->width);
  s->text_col = calloc((size_t)s->n_cols, sizeof *s->text_col);
  int ok = s->rounds_done && s->density && s->wall_s && s->es_iter && s->val_loss && s->acc_es &&
           s->acc_final && s->cells && s->cap && s->width && s->text_col;
  for (int a = 0; ok && a < s->n_axes; a++) {
    s->axes[a].buf = malloc((size_t)block * s->axes[a].str_size);
    ok = s->axes[a].buf != NULL;
  }
  for (int c = 0; ok && c < s->n_cols; c++) {
    s->cap[c] = 64;
    if (c >= 1 && c <= s->n_axes && s->axes[c - 1].cls == H5T_STRING) {
      s->cap[c] = 2 * s->axes[c - 1].str_size + 3;
      s->text_col[c] = 1;
    }
    s->cells[c] = malloc(s->cap[c]);
    ok = s->cells[c] != NULL;
  }
  if (!ok) return tf_err_set(err, TF_ENOMEM, "%s: no memory for the summary", path);
  return 0;
}

static void summary_header(summary_t *s) {
  snprintf(s->cells[0], s->cap[0], "task");
  for (int a = 0; a < s->n_axes; a++)
    snprintf(s->cells[1 + a], s->cap[1 + a], "%s", s->axes[a].key);
  for (int k = 0; k < COL_FIXED; k++)
    snprintf(s->cells[1 + s->n_axes + k], 64, "%s", fixed_cols[k]);
}

static void summary_cells(summary_t *s, long t0, long i, int r, int csv) {
  size_t at = (size_t)i * (size_t)s->rd.n_rounds + (size_t)r;
  snprintf(s->cells[0], s->cap[0], "%ld", t0 + i);
  for (int a = 0; a < s->n_axes; a++) {
    const summary_axis_t *ax = &s->axes[a];
    char *cell = s->cells[1 + a];
    size_t cap = s->cap[1 + a];
    const char *v = ax->buf + (size_t)i * ax->str_size;
    if (ax->cls == H5T_STRING) {
      if (csv)
        csv_quote(v, cell, cap);
      else
        snprintf(cell, cap, "%s", v);
    } else if (ax->cls == H5T_INTEGER) {
      int64_t x;
      memcpy(&x, v, sizeof x);
      snprintf(cell, cap, "%lld", (long long)x);
    } else {
      double x;
      memcpy(&x, v, sizeof x);
      format_real(x, cell, cap);
    }
  }
  char **c = s->cells + 1 + s->n_axes;
  snprintf(c[0], 64, "%d", r);
  snprintf(c[1], 64, "%.6f", s->density[at]);
  snprintf(c[2], 64, "%lld", (long long)s->es_iter[at]);
  snprintf(c[3], 64, "%.6f", (double)s->val_loss[at]);
  snprintf(c[4], 64, "%.6f", (double)s->acc_es[at]);
  snprintf(c[5], 64, "%.6f", (double)s->acc_final[at]);
  snprintf(c[6], 64, "%.3f", s->wall_s[at]);
}

/* CSV: prints. Table: measure == 1 widens the columns, measure == 0 prints aligned. */
static void summary_emit(summary_t *s, FILE *out, int csv, int measure) {
  for (int c = 0; c < s->n_cols; c++) {
    size_t n = strlen(s->cells[c]);
    if (measure) {
      if (n > s->width[c]) s->width[c] = n;
      continue;
    }
    if (csv) {
      fprintf(out, "%s%s", c > 0 ? "," : "", s->cells[c]);
    } else {
      int w = (int)s->width[c];
      const char *sep = c > 0 ? "  " : "";
      if (s->text_col[c])
        fprintf(out, "%s%-*s", sep, c + 1 < s->n_cols ? w : 0, s->cells[c]);
      else
        fprintf(out, "%s%*s", sep, w, s->cells[c]);
    }
  }
  if (!measure) fputc('\n', out);
}

static int summary_pass(summary_t *s, FILE *out, int csv, int measure, tf_err_t *err) {
  reader_t *rd = &s->rd;
  summary_header(s);
  summary_emit(s, out, csv, measure);
  int rc = 0;
  for (long t0 = 0; rc == 0 && t0 < rd->n_tasks; t0 += s->block) {
    long n = rd->n_tasks - t0 < s->block ? rd->n_tasks - t0 : s->block;
    hid_t res = rd->results;
    rc = read_block(rd, res, "rounds_done", H5T_NATIVE_INT32, t0, n, s->rounds_done, err);
    if (rc == 0) rc = read_block(rd, res, "density", H5T_NATIVE_DOUBLE, t0, n, s->density, err);
    if (rc == 0)
      rc = read_block(rd, res, "early_stop_iter", H5T_NATIVE_INT64, t0, n, s->es_iter, err);
    if (rc == 0) rc = read_block(rd, res, "val_loss", H5T_NATIVE_FLOAT, t0, n, s->val_loss, err);
    if (rc == 0) rc = read_block(rd, res, "test_acc_es", H5T_NATIVE_FLOAT, t0, n, s->acc_es, err);
    if (rc == 0)
      rc = read_block(rd, res, "test_acc_final", H5T_NATIVE_FLOAT, t0, n, s->acc_final, err);
    if (rc == 0)
      rc = read_block(rd, rd->runtime, "wall_s", H5T_NATIVE_DOUBLE, t0, n, s->wall_s, err);
    for (int a = 0; rc == 0 && a < s->n_axes; a++)
      if (read_rows(s->axes[a].did, s->axes[a].mtype, (hsize_t)t0, (hsize_t)n, 0, 0, 0,
                    s->axes[a].buf) < 0)
        rc = h5_fail(err, "%s: cannot read the grid column /results/%s", rd->path,
                     s->axes[a].key);
    for (long i = 0; rc == 0 && i < n; i++) {
      int rounds = s->rounds_done[i] < rd->n_rounds ? s->rounds_done[i] : rd->n_rounds;
      for (int r = 0; r < rounds; r++) {
        summary_cells(s, t0, i, r, csv);
        summary_emit(s, out, csv, measure);
      }
    }
  }
  return rc;
}

int tf_store_print_summary(const char *path, FILE *out, int csv, tf_err_t *err) {
  summary_t s;
  int rc = summary_open(&s, path, err);
  if (rc == 0 && !csv) rc = summary_pass(&s, out, csv, 1, err);
  if (rc == 0) rc = summary_pass(&s, out, csv, 0, err);
  summary_free(&s);
  return rc;
}
