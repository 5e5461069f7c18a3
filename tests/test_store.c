/* Tests of the results file: layout, values and dimension scales read back through the HDF5 C
 * API, the status and summary readers, xarray, h5diff across runs, and a job killed mid-run. */
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "ticketfarm/platform.h"
#include "ticketfarm/store.h"
#include "ticketfarm/sweep.h"
#include "ticketfarm/ticket.h"

/* 4 tasks, each: 3 rounds of 3 evaluations, layers 784x8 and 8x10. */
static const char sweep_main[] =
    "name: store-test\n"
    "data: {dataset: mnist, validation: 1000}\n"
    "model: {hidden: [8]}\n"
    "train: {optimizer: sgd, lr: 0.05, batch: 10, iterations: 20, eval_every: 10}\n"
    "prune: {rounds: 2, rate: 0.5, output_rate: 0.25}\n"
    "record: {weights: [init, final]}\n"
    "grid:\n"
    "  init: [glorot_uniform, he_normal]\n"
    "  seed: [1, 2]\n";

/* 8 tasks of different shapes: rounds, evaluations and layers all vary. */
static const char sweep_ragged[] =
    "name: store-ragged\n"
    "data: {dataset: mnist, validation: 1000}\n"
    "train: {optimizer: sgd, batch: 10, eval_every: 10}\n"
    "record: {weights: []}\n"
    "grid:\n"
    "  model.hidden: [[8], [6, 4]]\n"
    "  prune.rounds: [1, 2]\n"
    "  train.iterations: [10, 20]\n";

static const char *const summary_header =
    "task,init,seed,round,density,early_stop_iter,val_loss,test_acc_es,test_acc_final,wall_s";

static char tmpdir[64];
static int child_status = -1, unflushed_status = -1;

static void path_in_tmp(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", tmpdir, name);
}

static tf_sweep_t *parse(const char *text) {
  tf_sweep_t *sw = NULL;
  tf_err_t err = {0};
  int rc = tf_sweep_parse(&sw, text, strlen(text), "test.yaml", &err);
  if (rc != 0) fprintf(stderr, "sweep: %s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  return sw;
}

/* What a task looks like to the store, from its configuration. */
typedef struct shape {
  int n_rounds, n_evals, n_layers;
  long eval_every;
  long total[TF_MAX_LAYERS];
  size_t n_params, mask_bytes;
} shape_t;

static shape_t task_shape(const tf_sweep_t *sw, long task) {
  tf_config_t cfg;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_grid_task(sw, task, &cfg, &err), 0);
  tf_ticket_shape_t ts;
  ASSERT_INT_EQ(tf_ticket_shape(&cfg, &ts, &err), 0);
  shape_t s = {.n_rounds = ts.n_rounds,
               .n_evals = ts.n_evals,
               .n_layers = ts.n_layers,
               .eval_every = ts.eval_every,
               .n_params = ts.n_params,
               .mask_bytes = ts.mask_bytes};
  for (int l = 0; l < s.n_layers; l++) s.total[l] = (long)ts.layer_size[l];
  return s;
}

/* Distinct, exactly representable values for every (task, round, eval, field). */
static float value(long task, int r, int j, int k) {
  return (float)(task * 1000 + r * 100 + j * 10 + k) / 1024.0f;
}
static int early_stop(long task, int r, int n_evals) { return (int)((task + r) % n_evals); }
static double density(const shape_t *s, int r) {
  long rem = 0, tot = 0;
  for (int l = 0; l < s->n_layers; l++) {
    rem += s->total[l] >> r;
    tot += s->total[l];
  }
  return (double)rem / (double)tot;
}
static uint8_t mask_byte(long task, int r, size_t i) {
  return (uint8_t)(i * 31 + (size_t)task * 7 + (size_t)r * 3);
}
/* The ticket's mask for round r, as the round before hands it out. */
static uint8_t next_byte(long task, int r, size_t i) {
  return (uint8_t)(i * 17 + (size_t)task * 5 + (size_t)r * 11 + 1);
}
static float param(long task, int r, size_t i) {
  return (float)task + 0.125f * (float)r + (float)(i % 100) / 128.0f;
}
static double wall(long task, int r, double shift) { return 1.5 + (double)task + 0.25 * r + shift; }

typedef struct fake {
  tf_round_t rd;
  tf_eval_t evals[8];
  uint8_t *mask, *next;
  float *final;
} fake_t;

static void fake_round(fake_t *f, const shape_t *s, long task, int r, double wall_shift) {
  memset(&f->rd, 0, sizeof f->rd);
  f->mask = malloc(s->mask_bytes);
  f->next = malloc(s->mask_bytes);
  f->final = malloc(s->n_params * sizeof *f->final);
  ASSERT(f->mask != NULL && f->next != NULL && f->final != NULL);
  for (size_t i = 0; i < s->mask_bytes; i++) {
    f->mask[i] = mask_byte(task, r, i);
    f->next[i] = next_byte(task, r + 1, i);
  }
  for (size_t i = 0; i < s->n_params; i++) f->final[i] = param(task, r, i);
  for (int j = 0; j < s->n_evals; j++) {
    f->evals[j] = (tf_eval_t){.iteration = j * s->eval_every,
                              .train_loss = j == 0 ? NAN : value(task, r, j, 0),
                              .val_loss = value(task, r, j, 1),
                              .val_acc = value(task, r, j, 2),
                              .test_loss = value(task, r, j, 3),
                              .test_acc = value(task, r, j, 4)};
  }
  tf_round_t *rd = &f->rd;
  rd->round = r;
  rd->n_layers = s->n_layers;
  for (int l = 0; l < s->n_layers; l++) {
    rd->total[l] = s->total[l];
    rd->remaining[l] = s->total[l] >> r;
  }
  rd->density = density(s, r);
  rd->n_evals = s->n_evals;
  rd->evals = f->evals;
  rd->early_stop = early_stop(task, r, s->n_evals);
  rd->mask_bits = f->mask;
  rd->next_mask_bits = r + 1 < s->n_rounds ? f->next : NULL;
  rd->mask_bytes = s->mask_bytes;
  rd->final = f->final;
  rd->n_params = s->n_params;
  rd->wall_s = wall(task, r, wall_shift);
}

static void free_fake(fake_t *f) {
  free(f->mask);
  free(f->next);
  free(f->final);
}

/* Rounds [r0, r0 + n) of task, after the snapshots a task hands out whenever it starts. */
static void write_rounds_from(tf_store_t *st, const tf_sweep_t *sw, long task, int r0, int n,
                              double shift) {
  shape_t s = task_shape(sw, task);
  tf_err_t err = {0};
  float *theta = malloc(s.n_params * sizeof *theta);
  ASSERT(theta != NULL);
  for (size_t i = 0; i < s.n_params; i++) theta[i] = param(task, -8, i);
  ASSERT_INT_EQ(tf_store_write_snapshot(st, task, TF_SNAPSHOT_INIT, theta, s.n_params, &err), 0);
  ASSERT_INT_EQ(tf_store_write_snapshot(st, task, TF_SNAPSHOT_REWIND, theta, s.n_params, &err),
                0);
  free(theta);
  for (int r = r0; r < r0 + n; r++) {
    fake_t f;
    fake_round(&f, &s, task, r, shift);
    int rc = tf_store_write_round(st, task, &f.rd, &err);
    if (rc != 0) fprintf(stderr, "write_round: %s\n", err.msg);
    ASSERT_INT_EQ(rc, 0);
    free_fake(&f);
  }
}

static void write_rounds(tf_store_t *st, const tf_sweep_t *sw, long task, int n, double shift) {
  write_rounds_from(st, sw, task, 0, n, shift);
}

static void finish(tf_store_t *st, long task, tf_task_status_t status, const char *host,
                   int rank, const char *reason) {
  tf_task_runtime_t rt = {.rank = rank, .started = 1.7e9 + (double)task,
                          .finished = 1.7e9 + (double)task + 30, .fail_reason = reason};
  snprintf(rt.host, sizeof rt.host, "%s", host);
  tf_err_t err = {0};
  int rc = tf_store_finish_task(st, task, status, &rt, &err);
  if (rc != 0) fprintf(stderr, "finish_task: %s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
}

static const char *const fail_reason = "training diverged: loss is NaN at round 1, iteration 10";

/* The main file: tasks 0 and 3 done, task 1 failed after round 0, task 2 untouched. Two runs
 * write the same results in different orders with different runtime facts. */
static void write_main(const char *path, int second_run) {
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  int rc = tf_store_create(&st, path, MPI_COMM_WORLD, sw, &err);
  if (rc != 0) fprintf(stderr, "create: %s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  double shift = second_run ? 7.0 : 0.0;
  const char *host = second_run ? "node-b" : "node-a";
  if (!second_run) {
    write_rounds(st, sw, 0, 3, shift);
    finish(st, 0, TF_TASK_DONE, host, 0, NULL);
  }
  write_rounds(st, sw, 3, 3, shift);
  finish(st, 3, TF_TASK_DONE, host, 1, NULL);
  write_rounds(st, sw, 1, 1, shift);
  finish(st, 1, TF_TASK_FAILED, host, 0, fail_reason);
  if (second_run) {
    write_rounds(st, sw, 0, 3, shift);
    finish(st, 0, TF_TASK_DONE, host, 2, NULL);
  }
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);
  tf_sweep_free(sw);
}

static const char *main_path(void) {
  static char path[128];
  if (path[0] == '\0') {
    path_in_tmp(path, sizeof path, "main.h5");
    write_main(path, 0);
  }
  return path;
}

static hid_t open_file(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT(f >= 0);
  return f;
}

static int dims_of(hid_t f, const char *name, hsize_t *dims) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  ASSERT(d >= 0);
  hid_t space = H5Dget_space(d);
  int rank = H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  H5Dclose(d);
  return rank;
}

static void *read_all(hid_t f, const char *name, hid_t mtype, size_t elem) {
  hsize_t dims[3];
  int rank = dims_of(f, name, dims);
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= dims[i];
  void *buf = malloc(n * elem);
  ASSERT(buf != NULL);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  ASSERT(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  H5Dclose(d);
  return buf;
}

/* A fixed-length string dataset, as a malloc'd (n, size) array; *size gets the string size. */
static char *read_strings(hid_t f, const char *name, size_t *size) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  ASSERT(d >= 0);
  hid_t t = H5Dget_type(d);
  ASSERT(H5Tget_class(t) == H5T_STRING);
  *size = H5Tget_size(t);
  hsize_t n;
  hid_t space = H5Dget_space(d);
  ASSERT(H5Sget_simple_extent_dims(space, &n, NULL) == 1);
  char *buf = calloc(n, *size);
  ASSERT(buf != NULL && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  H5Sclose(space);
  H5Tclose(t);
  H5Dclose(d);
  return buf;
}

static char *read_attr(hid_t f, const char *obj, const char *name) {
  hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT(a >= 0);
  hid_t t = H5Aget_type(a);
  size_t n = H5Tget_size(t);
  char *buf = calloc(n + 1, 1);
  ASSERT(buf != NULL && H5Aread(a, t, buf) >= 0);
  H5Tclose(t);
  H5Aclose(a);
  return buf;
}

static void test_store_round_trips_values_through_hdf5(void) {
  tf_sweep_t *sw = parse(sweep_main);
  shape_t s = task_shape(sw, 0);
  ASSERT_INT_EQ(s.mask_bytes, (784 * 8 + 8 * 10 + 7) / 8);
  ASSERT_INT_EQ(s.n_params, 784 * 8 + 8 + 8 * 10 + 10);
  hid_t f = open_file(main_path());
  hsize_t d[3];
  ASSERT_INT_EQ(dims_of(f, "results/density", d), 2);
  ASSERT_INT_EQ(d[0], 4);
  ASSERT_INT_EQ(d[1], 3);
  ASSERT_INT_EQ(dims_of(f, "results/train_loss", d), 3);
  ASSERT_INT_EQ(d[2], 3);
  ASSERT_INT_EQ(dims_of(f, "results/mask", d), 3);
  ASSERT_INT_EQ(d[2], s.mask_bytes);
  ASSERT_INT_EQ(dims_of(f, "results/weights_final", d), 3);
  ASSERT_INT_EQ(d[2], s.n_params);
  ASSERT_INT_EQ(dims_of(f, "results/layer_size", d), 2);
  ASSERT_INT_EQ(d[1], 2);
  ASSERT(H5Lexists(f, "results/weights_rewind", H5P_DEFAULT) == 0);

  int8_t *status = read_all(f, "results/status", H5T_NATIVE_INT8, 1);
  int32_t *done = read_all(f, "results/rounds_done", H5T_NATIVE_INT32, 4);
  int32_t *n_rounds = read_all(f, "results/n_rounds", H5T_NATIVE_INT32, 4);
  const int want_status[4] = {1, 2, 0, 1}, want_done[4] = {3, 1, 0, 3};
  for (int t = 0; t < 4; t++) {
    ASSERT_INT_EQ(status[t], want_status[t]);
    ASSERT_INT_EQ(done[t], want_done[t]);
    ASSERT_INT_EQ(n_rounds[t], 3);
  }

  double *dens = read_all(f, "results/density", H5T_NATIVE_DOUBLE, 8);
  int64_t *es = read_all(f, "results/early_stop_iter", H5T_NATIVE_INT64, 8);
  float *vl = read_all(f, "results/val_loss", H5T_NATIVE_FLOAT, 4);
  float *acc_es = read_all(f, "results/test_acc_es", H5T_NATIVE_FLOAT, 4);
  float *acc_final = read_all(f, "results/test_acc_final", H5T_NATIVE_FLOAT, 4);
  float *train = read_all(f, "results/train_loss", H5T_NATIVE_FLOAT, 4);
  float *val_acc = read_all(f, "results/val_acc", H5T_NATIVE_FLOAT, 4);
  float *test_acc = read_all(f, "results/test_acc", H5T_NATIVE_FLOAT, 4);
  int64_t *rem = read_all(f, "results/remaining", H5T_NATIVE_INT64, 8);
  uint8_t *mask = read_all(f, "results/mask", H5T_NATIVE_UINT8, 1);
  float *w_init = read_all(f, "results/weights_init", H5T_NATIVE_FLOAT, 4);
  float *w_final = read_all(f, "results/weights_final", H5T_NATIVE_FLOAT, 4);
  double *wall_s = read_all(f, "runtime/wall_s", H5T_NATIVE_DOUBLE, 8);
  for (long t = 0; t < 4; t++) {
    for (int r = 0; r < want_done[t]; r++) {
      int at = (int)t * 3 + r, e = early_stop(t, r, 3);
      ASSERT_NEAR(dens[at], density(&s, r), 0);
      ASSERT_INT_EQ(es[at], e * 10);
      ASSERT_NEAR(vl[at], value(t, r, e, 1), 0);
      ASSERT_NEAR(acc_es[at], value(t, r, e, 4), 0);
      ASSERT_NEAR(acc_final[at], value(t, r, 2, 4), 0);
      ASSERT_NEAR(wall_s[at], wall(t, r, 0), 0);
      ASSERT(isnan(train[at * 3]));
      for (int j = 1; j < 3; j++) ASSERT_NEAR(train[at * 3 + j], value(t, r, j, 0), 0);
      for (int j = 0; j < 3; j++) {
        ASSERT_NEAR(val_acc[at * 3 + j], value(t, r, j, 2), 0);
        ASSERT_NEAR(test_acc[at * 3 + j], value(t, r, j, 4), 0);
      }
      ASSERT_INT_EQ(rem[at * 2], 6272 >> r);
      ASSERT_INT_EQ(rem[at * 2 + 1], 80 >> r);
      for (size_t i = 0; i < s.mask_bytes; i += 97)
        ASSERT_INT_EQ(mask[(size_t)at * s.mask_bytes + i], mask_byte(t, r, i));
      for (size_t i = 0; i < s.n_params; i += 101)
        ASSERT_NEAR(w_final[(size_t)at * s.n_params + i], param(t, r, i), 0);
    }
    if (want_done[t] > 0)
      for (size_t i = 0; i < s.n_params; i += 101)
        ASSERT_NEAR(w_init[(size_t)t * s.n_params + i], param(t, -8, i), 0);
  }

  int64_t *eval_iter = read_all(f, "results/eval_iteration", H5T_NATIVE_INT64, 8);
  int64_t *layer_size = read_all(f, "results/layer_size", H5T_NATIVE_INT64, 8);
  int64_t *seed = read_all(f, "results/seed", H5T_NATIVE_INT64, 8);
  for (int t = 0; t < 4; t++) {
    for (int j = 0; j < 3; j++) ASSERT_INT_EQ(eval_iter[t * 3 + j], 10 * j);
    ASSERT_INT_EQ(layer_size[t * 2], 6272);
    ASSERT_INT_EQ(layer_size[t * 2 + 1], 80);
    ASSERT_INT_EQ(seed[t], 1 + t % 2);
  }
  size_t size;
  char *init = read_strings(f, "results/init", &size);
  ASSERT_INT_EQ(size, strlen("glorot_uniform") + 1);
  ASSERT(strcmp(init, "glorot_uniform") == 0 && strcmp(init + 2 * size, "he_normal") == 0);
  char *host = read_strings(f, "runtime/host", &size);
  ASSERT_INT_EQ(size, 64);
  ASSERT(strcmp(host + 3 * size, "node-a") == 0 && host[2 * size] == '\0');
  char *reason = read_strings(f, "runtime/fail_reason", &size);
  ASSERT(strcmp(reason + size, fail_reason) == 0 && reason[0] == '\0');

  char *layout = read_attr(f, "results", "layout");
  char *axes = read_attr(f, "results", "grid_axes");
  char *text = read_attr(f, "results", "sweep");
  char *name = read_attr(f, "results", "name");
  ASSERT(strcmp(layout, "ticketfarm-results-1") == 0);
  ASSERT(strcmp(axes, "init,seed") == 0);
  ASSERT(strcmp(text, sweep_main) == 0);
  ASSERT(strcmp(name, "store-test") == 0);
  char *units = read_attr(f, "results/test_acc_es", "units");
  ASSERT(strcmp(units, "1") == 0);

  void *bufs[] = {status,   done,     n_rounds, dens,      es,         vl,   acc_es,
                  acc_final, train,   val_acc,  test_acc,  rem,        mask, w_init,
                  w_final,  wall_s,   eval_iter, layer_size, seed,     init, host,
                  reason,   layout,   axes,     text,      name,       units};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
  H5Fclose(f);
  tf_sweep_free(sw);
}

static herr_t scale_path(hid_t did, unsigned dim, hid_t scale, void *data) {
  (void)did;
  (void)dim;
  H5Iget_name(scale, data, 64);
  return 1;
}

typedef struct scan {
  int datasets, scales;
} scan_t;

static herr_t check_scales(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  (void)info;
  scan_t *scan = data;
  hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
  ASSERT(d >= 0);
  if (H5DSis_scale(d) > 0) {
    scan->scales++;
  } else {
    hid_t space = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(space);
    H5Sclose(space);
    for (int k = 0; k < rank; k++) {
      if (H5DSget_num_scales(d, (unsigned)k) != 1)
        fprintf(stderr, "dataset %s axis %d has no dimension scale\n", name, k);
      ASSERT_INT_EQ(H5DSget_num_scales(d, (unsigned)k), 1);
    }
    scan->datasets++;
  }
  H5Dclose(d);
  return 0;
}

static void test_store_attaches_named_scales_to_every_axis(void) {
  hid_t f = open_file(main_path());
  const struct {
    const char *dataset;
    const char *dims[3];
  } want[] = {
      {"results/density", {"/results/task", "/results/round"}},
      {"results/mask", {"/results/task", "/results/round", "/results/mask_byte"}},
      {"results/weights_final", {"/results/task", "/results/round", "/results/param"}},
      {"results/val_acc", {"/results/task", "/results/round", "/results/eval"}},
      {"results/remaining", {"/results/task", "/results/round", "/results/layer"}},
      {"results/init", {"/results/task"}},
      {"runtime/wall_s", {"/runtime/task", "/runtime/round"}},
      {"runtime/next_mask", {"/runtime/task", "/runtime/parity", "/runtime/mask_byte"}},
      {"runtime/attempts", {"/runtime/task"}},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    hid_t d = H5Dopen2(f, want[i].dataset, H5P_DEFAULT);
    ASSERT(d >= 0);
    for (unsigned k = 0; k < 3 && want[i].dims[k] != NULL; k++) {
      char path[64] = "";
      ASSERT(H5DSiterate_scales(d, k, NULL, scale_path, path) >= 0);
      ASSERT(strcmp(path, want[i].dims[k]) == 0);
    }
    H5Dclose(d);
  }
  hid_t mb = H5Dopen2(f, "results/mask_byte", H5P_DEFAULT);
  char name[128];
  ASSERT(H5DSget_scale_name(mb, name, sizeof name) > 0);
  ASSERT(strcmp(name, "This is a netCDF dimension but not a netCDF variable.       794") == 0);
  H5Dclose(mb);
  int64_t *task = read_all(f, "results/task", H5T_NATIVE_INT64, 8);
  int32_t *round = read_all(f, "runtime/round", H5T_NATIVE_INT32, 4);
  for (int t = 0; t < 4; t++) ASSERT_INT_EQ(task[t], t);
  for (int r = 0; r < 3; r++) ASSERT_INT_EQ(round[r], r);
  free(task);
  free(round);

  const char *groups[] = {"results", "runtime"};
  const int want_scales[] = {6, 4}, want_datasets[] = {19 + 2 + 2, 12};
  for (int g = 0; g < 2; g++) {
    hid_t grp = H5Gopen2(f, groups[g], H5P_DEFAULT);
    scan_t scan = {0, 0};
    ASSERT(H5Literate(grp, H5_INDEX_NAME, H5_ITER_INC, NULL, check_scales, &scan) >= 0);
    ASSERT_INT_EQ(scan.scales, want_scales[g]);
    ASSERT_INT_EQ(scan.datasets, want_datasets[g]);
    H5Gclose(grp);
  }
  H5Fclose(f);
}

/* Output of a reader, as one string. */
static char *capture(int (*reader)(const char *, FILE *, int, tf_err_t *), const char *path,
                     int csv) {
  FILE *out = tmpfile();
  ASSERT(out != NULL);
  tf_err_t err = {0};
  int rc = reader(path, out, csv, &err);
  if (rc != 0) fprintf(stderr, "reader: %s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  long n = ftell(out);
  rewind(out);
  char *text = calloc((size_t)n + 1, 1);
  ASSERT(text != NULL && fread(text, 1, (size_t)n, out) == (size_t)n);
  fclose(out);
  return text;
}

static int status_reader(const char *path, FILE *out, int csv, tf_err_t *err) {
  (void)csv;
  return tf_store_print_status(path, out, err);
}

static int count_lines(const char *text) {
  int n = 0;
  for (const char *p = text; *p; p++) n += *p == '\n';
  return n;
}

static void test_store_summary_csv_lists_every_finished_round(void) {
  char *csv = capture(tf_store_print_summary, main_path(), 1);
  ASSERT(strncmp(csv, summary_header, strlen(summary_header)) == 0);
  ASSERT(csv[strlen(summary_header)] == '\n');
  ASSERT_INT_EQ(count_lines(csv), 1 + 3 + 1 + 3);
  tf_sweep_t *sw = parse(sweep_main);
  shape_t s = task_shape(sw, 3);
  int e = early_stop(3, 1, 3);
  char row[256];
  snprintf(row, sizeof row, "\n3,he_normal,2,1,%.6f,%d,%.6f,%.6f,%.6f,%.3f\n", density(&s, 1),
           e * 10, (double)value(3, 1, e, 1), (double)value(3, 1, e, 4),
           (double)value(3, 1, 2, 4), wall(3, 1, 0));
  ASSERT_STR_CONTAINS(csv, row);
  ASSERT_STR_CONTAINS(csv, "\n1,glorot_uniform,2,0,");
  ASSERT(strstr(csv, "\n1,glorot_uniform,2,1,") == NULL);
  ASSERT(strstr(csv, "\n2,") == NULL);
  free(csv);
  tf_sweep_free(sw);
}

static void test_store_summary_table_aligns_columns(void) {
  char *table = capture(tf_store_print_summary, main_path(), 0);
  ASSERT(strncmp(table, "task", 4) == 0);
  ASSERT_INT_EQ(count_lines(table), 1 + 7);
  size_t width = strcspn(table, "\n");
  for (const char *p = table; *p; p += strcspn(p, "\n") + 1) ASSERT_INT_EQ(strcspn(p, "\n"), width);
  ASSERT_STR_CONTAINS(table, "he_normal");
  ASSERT(strchr(table, ',') == NULL);
  free(table);
}

static void test_store_status_counts_tasks_and_names_failures(void) {
  char *text = capture(status_reader, main_path(), 0);
  ASSERT_STR_CONTAINS(text, "store-test");
  ASSERT_STR_CONTAINS(text, "7 of 12 finished");
  ASSERT_STR_CONTAINS(text, "task 1: ");
  ASSERT_STR_CONTAINS(text, fail_reason);
  const char *last = text + strlen(text) - 1;
  while (last > text && last[-1] != '\n') last--;
  ASSERT_STR_CONTAINS(last, "4 tasks: 2 done, 1 failed, 1 pending (0 running/partial)");
  free(text);
}

static int have_command(const char *cmd) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s >/dev/null 2>&1", cmd);
  return system(buf) == 0;
}

static void test_store_xarray_opens_results_with_named_dims(void) {
  if (!have_command("/usr/bin/python3 -c 'import xarray, h5netcdf'")) {
    fprintf(stderr, "SKIPPED xarray check: /usr/bin/python3 cannot import xarray and h5netcdf\n");
    return;
  }
  char script[128], cmd[512];
  path_in_tmp(script, sizeof script, "check.py");
  FILE *py = fopen(script, "w");
  ASSERT(py != NULL);
  fputs("import sys, xarray\n"
        "path, want = sys.argv[1], float(sys.argv[2])\n"
        "ds = xarray.open_dataset(path, engine='h5netcdf', group='results')\n"
        "bad = [d for d in ds.dims if str(d).startswith('phony_dim')]\n"
        "assert not bad, bad\n"
        "assert ds['density'].dims == ('task', 'round'), ds['density'].dims\n"
        "assert ds['train_loss'].dims == ('task', 'round', 'eval')\n"
        "assert ds['mask'].dims == ('task', 'round', 'mask_byte')\n"
        "assert ds['weights_final'].dims == ('task', 'round', 'param')\n"
        "assert ds['init'].dims == ('task',)\n"
        "assert 'mask_byte' not in ds.variables and 'param' not in ds.variables\n"
        "assert list(ds['task'].values) == [0, 1, 2, 3]\n"
        "assert [int(v) for v in ds['seed'].values] == [1, 2, 1, 2]\n"
        "got = float(ds['density'].sel(task=3, round=1))\n"
        "assert got == want, (got, want)\n"
        "rt = xarray.open_dataset(path, engine='h5netcdf', group='runtime')\n"
        "assert rt['wall_s'].dims == ('task', 'round')\n"
        "assert rt['next_mask'].dims == ('task', 'parity', 'mask_byte')\n"
        "assert list(rt['parity'].values) == [0, 1]\n"
        "assert [int(v) for v in rt['attempts'].values] == [0, 0, 0, 0]\n"
        "assert [int(v) for v in rt['start_round'].values] == [-1, -1, -1, -1]\n"
        "assert int(rt.attrs['runs']) == 1\n"
        "assert not [d for d in rt.dims if str(d).startswith('phony_dim')]\n",
        py);
  fclose(py);
  tf_sweep_t *sw = parse(sweep_main);
  shape_t s = task_shape(sw, 3);
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %.17g", script, main_path(), density(&s, 1));
  ASSERT_INT_EQ(system(cmd), 0);
  unlink(script);
  tf_sweep_free(sw);
}

static void test_store_results_equal_across_runs_except_runtime(void) {
  if (!have_command("h5diff --version")) {
    fprintf(stderr, "SKIPPED h5diff check: h5diff is not installed\n");
    return;
  }
  char second[128], cmd[512];
  path_in_tmp(second, sizeof second, "second.h5");
  write_main(second, 1);
  snprintf(cmd, sizeof cmd, "h5diff --exclude-path /runtime %s %s", main_path(), second);
  ASSERT_INT_EQ(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "h5diff -q %s %s", main_path(), second);
  int rc = system(cmd);
  ASSERT(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
  unlink(second);
}

static void test_store_pads_rounds_evals_and_layers_of_smaller_tasks(void) {
  char path[128];
  path_in_tmp(path, sizeof path, "ragged.h5");
  tf_sweep_t *sw = parse(sweep_ragged);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_store_create(&st, path, MPI_COMM_WORLD, sw, &err), 0);
  for (long t = 0; t < 8; t++) {
    write_rounds(st, sw, t, task_shape(sw, t).n_rounds, 0);
    finish(st, t, TF_TASK_DONE, "node-a", 0, NULL);
  }
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);

  hid_t f = open_file(path);
  ASSERT(H5Lexists(f, "results/param", H5P_DEFAULT) == 0);
  ASSERT(H5Lexists(f, "results/weights_init", H5P_DEFAULT) == 0);
  hsize_t d[3];
  ASSERT_INT_EQ(dims_of(f, "results/remaining", d), 3);
  ASSERT(d[0] == 8 && d[1] == 3 && d[2] == 3);
  shape_t small = task_shape(sw, 0), big = task_shape(sw, 7);
  ASSERT(small.n_rounds == 2 && small.n_evals == 2 && small.n_layers == 2);
  ASSERT(big.n_rounds == 3 && big.n_evals == 3 && big.n_layers == 3);
  ASSERT_INT_EQ(dims_of(f, "results/mask", d), 3);
  ASSERT_INT_EQ(d[2], big.mask_bytes > small.mask_bytes ? big.mask_bytes : small.mask_bytes);

  double *dens = read_all(f, "results/density", H5T_NATIVE_DOUBLE, 8);
  int64_t *es = read_all(f, "results/early_stop_iter", H5T_NATIVE_INT64, 8);
  int64_t *rem = read_all(f, "results/remaining", H5T_NATIVE_INT64, 8);
  float *val_acc = read_all(f, "results/val_acc", H5T_NATIVE_FLOAT, 4);
  float *acc_final = read_all(f, "results/test_acc_final", H5T_NATIVE_FLOAT, 4);
  uint8_t *mask = read_all(f, "results/mask", H5T_NATIVE_UINT8, 1);
  int64_t *eval_iter = read_all(f, "results/eval_iteration", H5T_NATIVE_INT64, 8);
  int64_t *layer_size = read_all(f, "results/layer_size", H5T_NATIVE_INT64, 8);
  double *wall_s = read_all(f, "runtime/wall_s", H5T_NATIVE_DOUBLE, 8);
  size_t B = d[2];
  /* task 0: hidden [8], 2 rounds, 2 evaluations; round 2 is padding. */
  ASSERT(isnan(dens[2]) && isnan(acc_final[2]) && isnan(wall_s[2]));
  ASSERT_INT_EQ(es[2], -1);
  for (int l = 0; l < 3; l++) ASSERT_INT_EQ(rem[2 * 3 + l], -1);
  for (int j = 0; j < 3; j++) ASSERT(isnan(val_acc[2 * 3 + j]));
  for (size_t i = 0; i < B; i++) ASSERT_INT_EQ(mask[2 * B + i], 0);
  ASSERT_INT_EQ(rem[1 * 3 + 0], 6272 >> 1);
  ASSERT_INT_EQ(rem[1 * 3 + 2], 0);
  ASSERT_NEAR(val_acc[1 * 3 + 1], value(0, 1, 1, 2), 0);
  ASSERT(isnan(val_acc[1 * 3 + 2]));
  ASSERT_NEAR(acc_final[1], value(0, 1, 1, 4), 0);
  for (size_t i = small.mask_bytes; i < B; i++) ASSERT_INT_EQ(mask[1 * B + i], 0);
  ASSERT_INT_EQ(mask[1 * B + 5], mask_byte(0, 1, 5));
  ASSERT(eval_iter[0] == 0 && eval_iter[1] == 10 && eval_iter[2] == -1);
  ASSERT(layer_size[0] == 6272 && layer_size[1] == 80 && layer_size[2] == 0);
  /* task 7: hidden [6, 4], 3 rounds, 3 evaluations: no padding anywhere. */
  ASSERT(layer_size[7 * 3] == 784 * 6 && layer_size[7 * 3 + 1] == 24 && layer_size[7 * 3 + 2] == 40);
  ASSERT_NEAR(dens[7 * 3 + 2], density(&big, 2), 0);
  ASSERT_INT_EQ(rem[(7 * 3 + 2) * 3 + 2], 40 >> 2);
  ASSERT_INT_EQ(eval_iter[7 * 3 + 2], 20);
  void *bufs[] = {dens, es, rem, val_acc, acc_final, mask, eval_iter, layer_size, wall_s};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
  H5Fclose(f);

  char *csv = capture(tf_store_print_summary, path, 1);
  ASSERT(strncmp(csv, "task,model.hidden,prune.rounds,train.iterations,round,", 54) == 0);
  ASSERT_INT_EQ(count_lines(csv), 1 + 4 * 2 + 4 * 3);
  ASSERT_STR_CONTAINS(csv, "\n7,\"[6, 4]\",2,20,2,");
  ASSERT_STR_CONTAINS(csv, "\n0,[8],1,10,1,");
  free(csv);
  char *status = capture(status_reader, path, 0);
  ASSERT_STR_CONTAINS(status, "8 tasks: 8 done, 0 failed, 0 pending (0 running/partial)");
  ASSERT_STR_CONTAINS(status, "20 of 20 finished");
  free(status);
  unlink(path);
  tf_sweep_free(sw);
}

static void test_store_rejects_writes_that_do_not_fit(void) {
  char path[128];
  path_in_tmp(path, sizeof path, "reject.h5");
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_store_create(&st, path, MPI_COMM_WORLD, sw, &err), 0);
  shape_t s = task_shape(sw, 0);
  fake_t f;
  fake_round(&f, &s, 0, 3, 0);
  ASSERT_INT_EQ(tf_store_write_round(st, 0, &f.rd, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "round 3");
  f.rd.round = 0;
  f.rd.next_mask_bits = f.next;
  ASSERT_INT_EQ(tf_store_write_round(st, 4, &f.rd, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "task 4");
  f.rd.n_params = s.n_params - 1;
  ASSERT_INT_EQ(tf_store_write_round(st, 0, &f.rd, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "final parameters");
  ASSERT_INT_EQ(tf_store_write_snapshot(st, 0, TF_SNAPSHOT_INIT, f.final, s.n_params - 1, &err),
                TF_EINPUT);
  ASSERT_INT_EQ(tf_store_finish_task(st, 0, TF_TASK_PENDING, NULL, &err), TF_EINPUT);
  f.rd.n_params = s.n_params;
  f.rd.next_mask_bits = NULL;
  ASSERT_INT_EQ(tf_store_write_round(st, 0, &f.rd, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "without the mask of the next round");
  f.rd.next_mask_bits = f.next;
  f.rd.mask_bytes = s.mask_bytes - 1;
  ASSERT_INT_EQ(tf_store_write_round(st, 0, &f.rd, &err), TF_EINPUT);
  free_fake(&f);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);
  tf_sweep_free(sw);

  char missing[160];
  path_in_tmp(missing, sizeof missing, "no/such/dir/x.h5");
  st = NULL;
  sw = parse(sweep_main);
  ASSERT_INT_EQ(tf_store_create(&st, missing, MPI_COMM_WORLD, sw, &err), TF_EHDF5);
  ASSERT(st == NULL);
  ASSERT_STR_CONTAINS(err.msg, missing);
  tf_sweep_free(sw);
  ASSERT_INT_EQ(tf_store_print_status(missing, stdout, &err), TF_EHDF5);
  ASSERT_STR_CONTAINS(err.msg, missing);

  hid_t plain = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT(plain >= 0);
  H5Fclose(plain);
  ASSERT_INT_EQ(tf_store_print_summary(path, stdout, 1, &err), TF_EFORMAT);
  ASSERT_STR_CONTAINS(err.msg, "not a ticketfarm results file");
  unlink(path);
}

static const char *unflushed_path(void) {
  static char path[128];
  if (path[0] == '\0') path_in_tmp(path, sizeof path, "unflushed.h5");
  return path;
}

/* The child of the probe test: creates a file with the MPI-IO driver, as tf_store_create
 * starts to, and dies before the first flush. */
static void die_before_flush(void) {
  MPI_Init(NULL, NULL);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
  hid_t f = H5Fcreate(unflushed_path(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (f < 0 || H5Gcreate2(f, "results", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) < 0) _exit(1);
  _exit(9);
}

/* A file's bytes, to check that a refused open left it untouched. */
static void copy_file(const char *from, const char *to) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cp %s %s", from, to);
  ASSERT_INT_EQ(system(cmd), 0);
}

static int same_bytes(const char *a, const char *b) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
  return system(cmd) == 0;
}

static void test_store_probe_tells_absent_ours_unreadable_and_foreign(void) {
  tf_err_t err = {0};
  char path[128];
  path_in_tmp(path, sizeof path, "absent.h5");
  ASSERT_INT_EQ(tf_store_probe(path, &err), TF_STORE_ABSENT);
  ASSERT_INT_EQ(tf_store_probe(main_path(), &err), TF_STORE_RESULTS);

  FILE *fp = fopen(path, "w");
  ASSERT(fp != NULL);
  fclose(fp);
  ASSERT_INT_EQ(tf_store_probe(path, &err), TF_STORE_UNREADABLE);
  fp = fopen(path, "w");
  ASSERT(fp != NULL);
  fputs("name: not an HDF5 file\n", fp);
  fclose(fp);
  ASSERT_INT_EQ(tf_store_probe(path, &err), TF_STORE_UNREADABLE);

  ASSERT(WIFEXITED(unflushed_status) && WEXITSTATUS(unflushed_status) == 9);
  ASSERT_INT_EQ(tf_store_probe(unflushed_path(), &err), TF_STORE_UNREADABLE);
  unlink(unflushed_path());

  hid_t plain = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT(plain >= 0);
  hid_t g = H5Gcreate2(plain, "results", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT(g >= 0);
  H5Gclose(g);
  H5Fclose(plain);
  ASSERT_INT_EQ(tf_store_probe(path, &err), TF_STORE_FOREIGN);

  /* A damaged results file is an error, never a file to start afresh over. */
  copy_file(main_path(), path);
  ASSERT_INT_EQ(truncate(path, 4096), 0);
  ASSERT_INT_EQ(tf_store_probe(path, &err), TF_EHDF5);
  ASSERT_STR_CONTAINS(err.msg, path);
  ASSERT_INT_EQ(tf_store_probe(tmpdir, &err), TF_EIO);
  ASSERT_STR_CONTAINS(err.msg, "not a regular file");
  unlink(path);

  char *text = NULL;
  ASSERT_INT_EQ(tf_store_read_sweep(main_path(), &text, &err), 0);
  ASSERT(strcmp(text, sweep_main) == 0);
  free(text);
  ASSERT_INT_EQ(tf_store_read_sweep(path, &text, &err), TF_EHDF5);
  ASSERT(text == NULL);
}

static void test_store_open_refuses_other_dimensions_leaving_file_untouched(void) {
  char path[128], before[128];
  path_in_tmp(path, sizeof path, "refuse.h5");
  path_in_tmp(before, sizeof before, "refuse-before.h5");
  copy_file(main_path(), path);
  copy_file(main_path(), before);
  struct {
    const char *from, *to, *says;
  } edits[] = {
      {"rounds: 2", "rounds: 3", "/results/density is 4 x 3, this sweep needs 4 x 4"},
      {"seed: [1, 2]", "seed: [1, 2, 3]", "this sweep needs 6"},
      {"hidden: [8]", "hidden: [9]", "mask_byte"},
      {"iterations: 20", "iterations: 30", "eval"},
      {"weights: [init, final]", "weights: [init, rewind, final]", "weights_rewind"},
      {"weights: [init, final]", "weights: [init]", "weights_final"},
      {"  seed: [1, 2]", "  train.lr: [0.1, 0.2]", "grid axes are 'init,seed'"},
  };
  for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
    char text[sizeof sweep_main + 64];
    const char *at = strstr(sweep_main, edits[k].from);
    ASSERT(at != NULL);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - sweep_main), sweep_main, edits[k].to,
             at + strlen(edits[k].from));
    tf_sweep_t *other = parse(text);
    tf_store_t *st = NULL;
    tf_err_t err = {0};
    ASSERT_INT_EQ(tf_store_open(&st, path, MPI_COMM_WORLD, other, &err), TF_EMISMATCH);
    ASSERT(st == NULL);
    ASSERT_STR_CONTAINS(err.msg, edits[k].says);
    ASSERT(same_bytes(path, before));
    tf_sweep_free(other);
  }
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  hid_t plain = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT(plain >= 0);
  H5Fclose(plain);
  copy_file(path, before);
  ASSERT_INT_EQ(tf_store_open(&st, path, MPI_COMM_WORLD, sw, &err), TF_EFORMAT);
  ASSERT(same_bytes(path, before));
  unlink(path);
  ASSERT_INT_EQ(tf_store_open(&st, path, MPI_COMM_WORLD, sw, &err), TF_EHDF5);
  ASSERT(st == NULL);
  unlink(before);
  tf_sweep_free(sw);
}

static int32_t *read_ints(const char *path, const char *name) {
  hid_t f = open_file(path);
  int32_t *v = read_all(f, name, H5T_NATIVE_INT32, 4);
  H5Fclose(f);
  return v;
}

static int attr_int_of(const char *path, const char *obj, const char *name) {
  hid_t f = open_file(path);
  hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT(a >= 0);
  int v = -1;
  ASSERT(H5Aread(a, H5T_NATIVE_INT, &v) >= 0);
  H5Aclose(a);
  H5Fclose(f);
  return v;
}

static tf_store_t *open_store(const char *path, const tf_sweep_t *sw) {
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  int rc = tf_store_open(&st, path, MPI_COMM_WORLD, sw, &err);
  if (rc != 0) fprintf(stderr, "open: %s\n", err.msg);
  ASSERT_INT_EQ(rc, 0);
  return st;
}

static void expect_next_mask(tf_store_t *st, const tf_sweep_t *sw, long task, int round) {
  shape_t s = task_shape(sw, task);
  uint8_t *bits = malloc(s.mask_bytes);
  ASSERT(bits != NULL);
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_store_read_next_mask(st, task, bits, s.mask_bytes, &err), 0);
  for (size_t i = 0; i < s.mask_bytes; i++) ASSERT_INT_EQ(bits[i], next_byte(task, round, i));
  free(bits);
}

static void test_store_next_mask_of_each_round_reads_back(void) {
  char path[128];
  path_in_tmp(path, sizeof path, "next.h5");
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_store_create(&st, path, MPI_COMM_WORLD, sw, &err), 0);
  shape_t s = task_shape(sw, 2);
  uint8_t *bits = malloc(s.mask_bytes);
  ASSERT(bits != NULL);
  ASSERT_INT_EQ(tf_store_read_next_mask(st, 2, bits, s.mask_bytes, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "0 of 3 rounds done");
  for (int r = 0; r < 2; r++) {
    write_rounds_from(st, sw, 2, r, 1, 0);
    expect_next_mask(st, sw, 2, r + 1);
  }
  ASSERT_INT_EQ(tf_store_read_next_mask(st, 2, bits, s.mask_bytes - 1, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_store_read_next_mask(st, 9, bits, s.mask_bytes, &err), TF_EINPUT);
  write_rounds_from(st, sw, 2, 2, 1, 0);
  ASSERT_INT_EQ(tf_store_read_next_mask(st, 2, bits, s.mask_bytes, &err), TF_EINPUT);
  ASSERT_STR_CONTAINS(err.msg, "3 of 3 rounds done");
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);

  /* Round 1's mask went to parity 1 and round 2's to parity 0, padding zero. */
  hid_t f = open_file(path);
  hsize_t d[3];
  ASSERT_INT_EQ(dims_of(f, "runtime/next_mask", d), 3);
  ASSERT(d[0] == 4 && d[1] == 2 && d[2] == s.mask_bytes);
  uint8_t *next = read_all(f, "runtime/next_mask", H5T_NATIVE_UINT8, 1);
  size_t row = (size_t)2 * 2 * s.mask_bytes;
  for (size_t i = 0; i < s.mask_bytes; i += 13) {
    ASSERT_INT_EQ(next[row + i], next_byte(2, 2, i));
    ASSERT_INT_EQ(next[row + s.mask_bytes + i], next_byte(2, 1, i));
  }
  free(next);
  H5Fclose(f);
  free(bits);
  unlink(path);
  tf_sweep_free(sw);
}

static void test_store_begin_and_reset_record_attempts(void) {
  char path[128];
  path_in_tmp(path, sizeof path, "attempts.h5");
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_store_create(&st, path, MPI_COMM_WORLD, sw, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 1, 1, 0, &err), 0);
  write_rounds(st, sw, 1, 1, 0);
  finish(st, 1, TF_TASK_FAILED, "node-a", 0, fail_reason);
  tf_task_status_t status;
  int done = -1, attempts = -1;
  ASSERT_INT_EQ(tf_store_read_task_state(st, 1, &status, &done, &attempts, &err), 0);
  ASSERT(status == TF_TASK_FAILED && done == 1 && attempts == 1);

  ASSERT_INT_EQ(tf_store_reset_task(st, 1, &err), 0);
  ASSERT_INT_EQ(tf_store_read_task_state(st, 1, &status, &done, NULL, &err), 0);
  ASSERT(status == TF_TASK_PENDING && done == 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 1, 2, 0, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 3, 1, 0, &err), 0);
  write_rounds(st, sw, 3, 2, 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 3, 2, 2, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 3, -1, 0, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_store_begin_task(st, 3, 3, 4, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_store_begin_task(st, 3, 3, -2, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_store_begin_task(st, 0, 1, 0, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 0, 0, -1, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 4, 1, 0, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_store_reset_task(st, -1, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_store_read_task_state(st, 4, &status, &done, &attempts, &err), TF_EINPUT);

  signed char all_status[4];
  int all_done[4], all_attempts[4];
  ASSERT_INT_EQ(tf_store_read_all_states(st, all_status, all_done, all_attempts, &err), 0);
  const int want_done[4] = {0, 0, 0, 2}, want_attempts[4] = {0, 2, 0, 2};
  for (int t = 0; t < 4; t++) {
    ASSERT_INT_EQ(all_status[t], TF_TASK_PENDING);
    ASSERT_INT_EQ(all_done[t], want_done[t]);
    ASSERT_INT_EQ(all_attempts[t], want_attempts[t]);
  }
  ASSERT_INT_EQ(tf_store_flush(st, &err), 0);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);

  int32_t *start = read_ints(path, "runtime/start_round");
  ASSERT(start[0] == -1 && start[1] == 0 && start[2] == -1 && start[3] == 2);
  hid_t f = open_file(path);
  size_t size;
  char *reason = read_strings(f, "runtime/fail_reason", &size);
  double *finished = read_all(f, "runtime/finished", H5T_NATIVE_DOUBLE, 8);
  ASSERT(reason[size] == '\0' && isnan(finished[1]));
  H5Fclose(f);
  free(reason);
  free(finished);
  free(start);
  unlink(path);
  tf_sweep_free(sw);
}

/* A string attribute of obj, malloc'd. */
static char *attr_str_of(const char *path, const char *obj, const char *name) {
  hid_t f = open_file(path);
  hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT(a >= 0);
  hid_t type = H5Aget_type(a);
  size_t size = H5Tget_size(type);
  char *v = calloc(size + 1, 1);
  ASSERT(v != NULL && H5Aread(a, type, v) >= 0);
  H5Tclose(type);
  H5Aclose(a);
  H5Fclose(f);
  return v;
}

/* Every run records its processor model and OpenBLAS core type in /runtime (run1_..., run2_...);
 * a run on the same platform notes no change, and one whose earlier run computed on another
 * OpenBLAS core type says which run and both platforms, for the farm's warning. */
static void test_store_runtime_records_each_runs_platform_and_notes_a_change(void) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char path[128];
  path_in_tmp(path, sizeof path, "platform.h5");
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_store_create(&st, path, MPI_COMM_WORLD, sw, &err), 0);
  ASSERT(tf_store_platform_change(st) == NULL);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);
  st = open_store(path, sw);
  ASSERT(tf_store_platform_change(st) == NULL);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);
  tf_platform_t here;
  tf_platform_probe(&here);
  const char *runs[2] = {"run1_", "run2_"};
  for (int r = 0; r < 2; r++) {
    char name[64];
    snprintf(name, sizeof name, "%sprocessor", runs[r]);
    char *v = attr_str_of(path, "runtime", name);
    ASSERT(strcmp(v, here.processor) == 0);
    free(v);
    snprintf(name, sizeof name, "%sopenblas_core", runs[r]);
    v = attr_str_of(path, "runtime", name);
    ASSERT(strcmp(v, here.blas_core) == 0 && strcmp(v, "unknown") != 0);
    free(v);
    snprintf(name, sizeof name, "%sopenblas_config", runs[r]);
    v = attr_str_of(path, "runtime", name);
    ASSERT(strcmp(v, here.blas_config) == 0);
    free(v);
  }
  if (rank == 0) { /* as if run 1 had run on another processor type */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT(f >= 0);
    hid_t g = H5Gopen2(f, "runtime", H5P_DEFAULT);
    ASSERT(g >= 0 && H5Adelete(g, "run1_openblas_core") >= 0);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, 16);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(g, "run1_openblas_core", type, space, H5P_DEFAULT, H5P_DEFAULT);
    char other[16] = "OtherCore";
    ASSERT(a >= 0 && H5Awrite(a, type, other) >= 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    H5Gclose(g);
    H5Fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  st = open_store(path, sw);
  const char *note = tf_store_platform_change(st);
  ASSERT(note != NULL);
  ASSERT_STR_CONTAINS(note, "run 1 computed on");
  ASSERT_STR_CONTAINS(note, "OtherCore");
  ASSERT_STR_CONTAINS(note, here.blas_core);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);
  ASSERT_INT_EQ(attr_int_of(path, "runtime", "runs"), 3);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) unlink(path);
  tf_sweep_free(sw);
}

static void test_store_records_open_attempts_and_poison_verdicts(void) {
  char path[128];
  path_in_tmp(path, sizeof path, "tries.h5");
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_store_create(&st, path, MPI_COMM_WORLD, sw, &err), 0);
  int start[4], open[4], stalls[4], crashes[4];
  ASSERT_INT_EQ(tf_store_read_tries(st, start, open, stalls, crashes, &err), 0);
  for (int t = 0; t < 4; t++) ASSERT(start[t] == -1 && !open[t] && !stalls[t] && !crashes[t]);
  /* Task 0 runs and its job dies; task 1 stops cleanly; task 2 is judged; task 3 is retried. */
  ASSERT_INT_EQ(tf_store_begin_task(st, 0, 1, 0, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 1, 1, 0, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 1, 0, 0, &err), 0);
  ASSERT_INT_EQ(tf_store_end_attempt(st, 1, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 2, 1, 0, &err), 0);
  ASSERT_INT_EQ(tf_store_judge_task(st, 2, 2, 1, &err), 0);
  ASSERT_INT_EQ(tf_store_judge_task(st, 3, 3, 2, &err), 0);
  ASSERT_INT_EQ(tf_store_reset_task(st, 3, &err), 0);
  ASSERT_INT_EQ(tf_store_judge_task(st, 2, -1, 0, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_store_judge_task(st, 4, 0, 0, &err), TF_EINPUT);
  ASSERT_INT_EQ(tf_store_read_tries(st, start, open, stalls, crashes, &err), 0);
  const int want_open[4] = {1, 0, 0, 0}, want_stalls[4] = {0, 0, 2, 0};
  const int want_crashes[4] = {0, 0, 1, 2};
  for (int t = 0; t < 4; t++) {
    ASSERT_INT_EQ(open[t], want_open[t]);
    ASSERT_INT_EQ(stalls[t], want_stalls[t]);
    ASSERT_INT_EQ(crashes[t], want_crashes[t]);
  }
  /* Finishing closes the attempt too. */
  finish(st, 0, TF_TASK_FAILED, "node-a", 0, fail_reason);
  ASSERT_INT_EQ(tf_store_read_tries(st, start, open, stalls, crashes, &err), 0);
  ASSERT_INT_EQ(open[0], 0);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);

  /* A file written before the three columns existed resumes and reports without them. */
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT(f >= 0);
    ASSERT(H5Ldelete(f, "runtime/open_attempt", H5P_DEFAULT) >= 0);
    ASSERT(H5Ldelete(f, "runtime/stalls", H5P_DEFAULT) >= 0);
    ASSERT(H5Ldelete(f, "runtime/crashes", H5P_DEFAULT) >= 0);
    H5Fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  ASSERT_INT_EQ(tf_store_open(&st, path, MPI_COMM_WORLD, sw, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 1, 2, 0, &err), 0);
  ASSERT_INT_EQ(tf_store_judge_task(st, 1, 1, 0, &err), 0);
  ASSERT_INT_EQ(tf_store_read_tries(st, start, open, stalls, crashes, &err), 0);
  for (int t = 0; t < 4; t++) ASSERT(!open[t] && !stalls[t] && !crashes[t]);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);
  if (rank == 0) {
    FILE *out = tmpfile();
    ASSERT(out != NULL);
    ASSERT_INT_EQ(tf_store_print_status(path, out, &err), 0);
    fclose(out);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  unlink(path);
  tf_sweep_free(sw);
}

/* One run writes everything; another is cut into three runs that stop mid-task. */
static void test_store_sweep_written_in_runs_equals_one_go(void) {
  if (!have_command("h5diff --version")) {
    fprintf(stderr, "SKIPPED h5diff check: h5diff is not installed\n");
    return;
  }
  char whole[128], pieces[128], cmd[512];
  path_in_tmp(whole, sizeof whole, "whole.h5");
  path_in_tmp(pieces, sizeof pieces, "pieces.h5");
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  ASSERT_INT_EQ(tf_store_create(&st, whole, MPI_COMM_WORLD, sw, &err), 0);
  for (long t = 0; t < 4; t++) {
    ASSERT_INT_EQ(tf_store_begin_task(st, t, 1, 0, &err), 0);
    write_rounds(st, sw, t, 3, 0);
    finish(st, t, TF_TASK_DONE, "node-a", 0, NULL);
  }
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);

  ASSERT_INT_EQ(tf_store_create(&st, pieces, MPI_COMM_WORLD, sw, &err), 0);
  ASSERT_INT_EQ(tf_store_begin_task(st, 2, 1, 0, &err), 0);
  write_rounds(st, sw, 2, 3, 5);
  finish(st, 2, TF_TASK_DONE, "node-b", 1, NULL);
  ASSERT_INT_EQ(tf_store_begin_task(st, 0, 1, 0, &err), 0);
  write_rounds(st, sw, 0, 1, 5);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);

  st = open_store(pieces, sw);
  tf_task_status_t status;
  int done, attempts;
  ASSERT_INT_EQ(tf_store_read_task_state(st, 0, &status, &done, &attempts, &err), 0);
  ASSERT(status == TF_TASK_PENDING && done == 1 && attempts == 1);
  expect_next_mask(st, sw, 0, 1);
  ASSERT_INT_EQ(tf_store_begin_task(st, 0, 2, 1, &err), 0);
  write_rounds_from(st, sw, 0, 1, 1, 6);
  ASSERT_INT_EQ(tf_store_begin_task(st, 3, 1, 0, &err), 0);
  write_rounds(st, sw, 3, 3, 6);
  finish(st, 3, TF_TASK_DONE, "node-c", 0, NULL);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);

  st = open_store(pieces, sw);
  ASSERT_INT_EQ(tf_store_read_task_state(st, 0, &status, &done, &attempts, &err), 0);
  ASSERT(status == TF_TASK_PENDING && done == 2 && attempts == 2);
  expect_next_mask(st, sw, 0, 2);
  ASSERT_INT_EQ(tf_store_begin_task(st, 0, 3, 2, &err), 0);
  write_rounds_from(st, sw, 0, 2, 1, 7);
  finish(st, 0, TF_TASK_DONE, "node-d", 1, NULL);
  ASSERT_INT_EQ(tf_store_begin_task(st, 1, 1, 0, &err), 0);
  write_rounds(st, sw, 1, 3, 7);
  finish(st, 1, TF_TASK_DONE, "node-d", 0, NULL);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);

  snprintf(cmd, sizeof cmd, "h5diff --exclude-path /runtime %s %s", whole, pieces);
  ASSERT_INT_EQ(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "h5diff -q %s %s", whole, pieces);
  int rc = system(cmd);
  ASSERT(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
  ASSERT_INT_EQ(attr_int_of(whole, "runtime", "runs"), 1);
  ASSERT_INT_EQ(attr_int_of(pieces, "runtime", "runs"), 3);
  int32_t *tries = read_ints(pieces, "runtime/attempts");
  int32_t *start = read_ints(pieces, "runtime/start_round");
  const int want_tries[4] = {3, 1, 1, 1}, want_start[4] = {2, 0, 0, 0};
  for (int t = 0; t < 4; t++) {
    ASSERT_INT_EQ(tries[t], want_tries[t]);
    ASSERT_INT_EQ(start[t], want_start[t]);
  }
  free(tries);
  free(start);

  char *text = capture(status_reader, pieces, 0);
  ASSERT_STR_CONTAINS(text,
                      "runs:    3 (1 tasks started more than once, 1 resumed at a later round)");
  const char *last = text + strlen(text) - 1;
  while (last > text && last[-1] != '\n') last--;
  ASSERT(strcmp(last, "4 tasks: 4 done, 0 failed, 0 pending (0 running/partial)\n") == 0);
  free(text);
  unlink(whole);
  unlink(pieces);
  tf_sweep_free(sw);
}

static const char *killed_path(void) {
  static char path[128];
  if (path[0] == '\0') path_in_tmp(path, sizeof path, "killed.h5");
  return path;
}

/* The child of the crash test: creates the file, finishes task 0, writes round 0 of task 1 and
 * dies without closing, as a job killed by its scheduler would. */
static void die_mid_run(void) {
  MPI_Init(NULL, NULL);
  tf_sweep_t *sw = parse(sweep_main);
  tf_store_t *st = NULL;
  tf_err_t err = {0};
  if (tf_store_create(&st, killed_path(), MPI_COMM_WORLD, sw, &err) != 0) {
    fprintf(stderr, "child: %s\n", err.msg);
    _exit(1);
  }
  write_rounds(st, sw, 0, 3, 0);
  finish(st, 0, TF_TASK_DONE, "node-a", 0, NULL);
  write_rounds(st, sw, 1, 1, 0);
  _exit(9);
}

static void test_store_file_of_killed_job_keeps_finished_task(void) {
  ASSERT(WIFEXITED(child_status));
  ASSERT_INT_EQ(WEXITSTATUS(child_status), 9);
  hid_t f = open_file(killed_path());
  int8_t *status = read_all(f, "results/status", H5T_NATIVE_INT8, 1);
  int32_t *done = read_all(f, "results/rounds_done", H5T_NATIVE_INT32, 4);
  double *dens = read_all(f, "results/density", H5T_NATIVE_DOUBLE, 8);
  float *val_acc = read_all(f, "results/val_acc", H5T_NATIVE_FLOAT, 4);
  tf_sweep_t *sw = parse(sweep_main);
  shape_t s = task_shape(sw, 0);
  ASSERT(status[0] == 1 && status[1] == 0 && status[2] == 0 && status[3] == 0);
  ASSERT(done[0] == 3 && done[1] == 1 && done[2] == 0);
  for (int r = 0; r < 3; r++) ASSERT_NEAR(dens[r], density(&s, r), 0);
  ASSERT_NEAR(val_acc[(0 * 3 + 2) * 3 + 1], value(0, 2, 1, 2), 0);
  ASSERT_NEAR(val_acc[(1 * 3 + 0) * 3 + 2], value(1, 0, 2, 2), 0);
  free(status);
  free(done);
  free(dens);
  free(val_acc);
  H5Fclose(f);
  char *text = capture(status_reader, killed_path(), 0);
  ASSERT_STR_CONTAINS(text, "4 tasks: 1 done, 0 failed, 3 pending (1 running/partial)");
  free(text);
  char *csv = capture(tf_store_print_summary, killed_path(), 1);
  ASSERT_INT_EQ(count_lines(csv), 1 + 3 + 1);
  free(csv);
  tf_sweep_free(sw);
  unlink(killed_path());
}

/* Adds the storage of every dataset in a group but the dimension scales and the grid columns. */
static herr_t add_storage(hid_t group, const char *name, const H5L_info_t *info, void *sum) {
  (void)info;
  hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
  if (d < 0) return -1;
  int scale = H5DSis_scale(d) > 0;
  int column = strcmp(name, "init") == 0 || strcmp(name, "seed") == 0 ||
               strcmp(name, "model.hidden") == 0 || strcmp(name, "prune.rounds") == 0 ||
               strcmp(name, "train.iterations") == 0;
  if (!scale && !column) *(double *)sum += (double)H5Dget_storage_size(d);
  H5Dclose(d);
  return 0;
}

/* plan's file size is the storage the created datasets take: every row of every task, with
 * the weights datasets only when some task records weights. */
static void test_store_size_is_what_the_datasets_allocate(void) {
  const char *sweeps[] = {sweep_main, sweep_ragged};
  const char *paths[] = {main_path(), NULL};
  char ragged[128];
  path_in_tmp(ragged, sizeof ragged, "ragged-size.h5");
  paths[1] = ragged;
  tf_err_t err = {0};
  tf_sweep_t *sw = parse(sweep_ragged);
  tf_store_t *st = NULL;
  ASSERT_INT_EQ(tf_store_create(&st, ragged, MPI_COMM_WORLD, sw, &err), 0);
  ASSERT_INT_EQ(tf_store_close(st, &err), 0);
  tf_sweep_free(sw);
  for (int k = 0; k < 2; k++) {
    sw = parse(sweeps[k]);
    double bytes = -1.0, stored = 0.0;
    ASSERT_INT_EQ(tf_store_size(sw, &bytes, &err), 0);
    hid_t f = open_file(paths[k]);
    ASSERT(H5Literate_by_name(f, "results", H5_INDEX_NAME, H5_ITER_NATIVE, NULL, add_storage,
                               &stored, H5P_DEFAULT) >= 0);
    ASSERT(H5Literate_by_name(f, "runtime", H5_INDEX_NAME, H5_ITER_NATIVE, NULL, add_storage,
                               &stored, H5P_DEFAULT) >= 0);
    H5Fclose(f);
    ASSERT_NEAR(bytes, stored, 0);
    tf_sweep_free(sw);
  }
  /* The main sweep records init and final weights: 4 tasks x (1 + 3 rounds) x 6,370 floats. */
  sw = parse(sweep_main);
  double with_weights, without;
  ASSERT_INT_EQ(tf_store_size(sw, &with_weights, &err), 0);
  tf_sweep_free(sw);
  sw = parse("name: store-test\n"
             "data: {dataset: mnist, validation: 1000}\n"
             "model: {hidden: [8]}\n"
             "train: {optimizer: sgd, lr: 0.05, batch: 10, iterations: 20, eval_every: 10}\n"
             "prune: {rounds: 2, rate: 0.5, output_rate: 0.25}\n"
             "record: {weights: []}\n"
             "grid:\n"
             "  init: [glorot_uniform, he_normal]\n"
             "  seed: [1, 2]\n");
  ASSERT_INT_EQ(tf_store_size(sw, &without, &err), 0);
  tf_sweep_free(sw);
  ASSERT_NEAR(with_weights - without, 4.0 * 4 * 6370 * 4, 0);
  unlink(ragged);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/tf_test_store_XXXXXX");
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  /* The crash tests' children fork before this process initialises MPI. */
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) die_mid_run();
  while (waitpid(pid, &child_status, 0) < 0 && errno == EINTR) {
  }
  pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) die_before_flush();
  while (waitpid(pid, &unflushed_status, 0) < 0 && errno == EINTR) {
  }

  MPI_Init(NULL, NULL);
  RUN(test_store_round_trips_values_through_hdf5);
  RUN(test_store_attaches_named_scales_to_every_axis);
  RUN(test_store_summary_csv_lists_every_finished_round);
  RUN(test_store_summary_table_aligns_columns);
  RUN(test_store_status_counts_tasks_and_names_failures);
  RUN(test_store_xarray_opens_results_with_named_dims);
  RUN(test_store_results_equal_across_runs_except_runtime);
  RUN(test_store_pads_rounds_evals_and_layers_of_smaller_tasks);
  RUN(test_store_rejects_writes_that_do_not_fit);
  RUN(test_store_file_of_killed_job_keeps_finished_task);
  RUN(test_store_probe_tells_absent_ours_unreadable_and_foreign);
  RUN(test_store_open_refuses_other_dimensions_leaving_file_untouched);
  RUN(test_store_next_mask_of_each_round_reads_back);
  RUN(test_store_begin_and_reset_record_attempts);
  RUN(test_store_records_open_attempts_and_poison_verdicts);
  RUN(test_store_sweep_written_in_runs_equals_one_go);
  RUN(test_store_runtime_records_each_runs_platform_and_notes_a_change);
  RUN(test_store_size_is_what_the_datasets_allocate);
  unlink(main_path());
  rmdir(tmpdir);
  MPI_Finalize();
  return 0;
}
