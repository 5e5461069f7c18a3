/* The results file: every dataset of a sweep created up front by all ranks (parallel HDF5), an
 * existing file checked and reopened to resume it, flush and close. */
#include <hdf5_hl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi_util.h"
#include "store_internal.h"
#include "ticketfarm/platform.h"
#include "tf_config.h"

/* h5netcdf/netCDF-4 convention for a dimension that has no coordinate values. */
#define NETCDF_DIM_ONLY "This is a netCDF dimension but not a netCDF variable."

/* Collective: the groups, scales, datasets, grid columns and attributes. Scales are made and
 * attached here, before the flush, so that a killed job still leaves named dimensions. */
typedef struct layout {
  hid_t group[G_COUNT];
  hid_t scale[G_COUNT][DIM_COUNT];
  hid_t dcpl;
  hid_t column[TF_SWEEP_MAX_AXES];
} layout_t;

/* The groups and the dataset creation properties every dataset shares. */
static int build_groups(tf_store_t *st, layout_t *lay, tf_err_t *err) {
  for (int g = 0; g < G_COUNT; g++) {
    const char *name = tf__store_group_names[g];
    lay->group[g] = H5Gcreate2(st->file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (lay->group[g] < 0) return tf__h5_fail(err, "%s: cannot create /%s", st->path, name);
  }
  lay->dcpl = H5Pcreate(H5P_DATASET_CREATE);
  /* Early allocation without fill values: creation costs metadata only, whatever the size,
   * and every later write is a plain independent write into space that already exists. */
  if (lay->dcpl < 0 || H5Pset_layout(lay->dcpl, H5D_CONTIGUOUS) < 0 ||
      H5Pset_alloc_time(lay->dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
      H5Pset_fill_time(lay->dcpl, H5D_FILL_TIME_NEVER) < 0)
    return tf__h5_fail(err, "%s: cannot set up dataset creation", st->path);
  return 0;
}

/* The dimension scales each group's datasets use. */
static int build_scales(tf_store_t *st, layout_t *lay, tf_err_t *err) {
  const dset_spec_t *dsets = tf__store_dsets;
  const char *const *dims = tf__store_dim_names, *const *groups = tf__store_group_names;
  int uses[G_COUNT][DIM_COUNT] = {{0}};
  for (int i = 0; i < DS_COUNT; i++)
    if (tf__store_has_dataset(st, i))
      for (int k = 0; k < dsets[i].rank; k++) uses[dsets[i].group][dsets[i].dims[k]] = 1;
  for (int g = 0; g < G_COUNT; g++) {
    for (int d = 0; d < DIM_COUNT; d++) {
      if (!uses[g][d]) continue;
      const char *long_name = tf__store_dim_long_names[d];
      int coordinate = long_name != NULL;
      hid_t type = d == DIM_TASK ? H5T_STD_I64LE : coordinate ? H5T_STD_I32LE : H5T_IEEE_F32LE;
      hid_t did = tf__h5_create_dataset(lay->group[g], dims[d], type, 1, &st->len[d], lay->dcpl);
      lay->scale[g][d] = did;
      if (did < 0)
        return tf__h5_fail(err, "%s: cannot create /%s/%s", st->path, groups[g], dims[d]);
      char name[sizeof NETCDF_DIM_ONLY + 16];
      if (coordinate)
        snprintf(name, sizeof name, "%s", dims[d]);
      else
        snprintf(name, sizeof name, "%s%10d", NETCDF_DIM_ONLY, (int)st->len[d]);
      if (H5DSset_scale(did, name) < 0 ||
          (coordinate && tf__h5_describe(did, long_name, NULL, NULL) < 0))
        return tf__h5_fail(err, "%s: cannot make /%s/%s a dimension scale", st->path, groups[g],
                           dims[d]);
    }
  }
  return 0;
}

/* The datasets of the schema this sweep has, with their scales and descriptions. */
static int build_datasets(tf_store_t *st, layout_t *lay, tf_err_t *err) {
  const char *path = st->path;
  for (int i = 0; i < DS_COUNT; i++) {
    const dset_spec_t *s = &tf__store_dsets[i];
    const char *group = tf__store_group_names[s->group];
    if (!tf__store_has_dataset(st, i)) continue;
    hsize_t shape[3];
    tf__store_dataset_shape(st, i, shape);
    st->dset[i] = tf__h5_create_dataset(
        lay->group[s->group], s->name, tf__store_type(st, s->type).file, s->rank, shape, lay->dcpl);
    if (st->dset[i] < 0) return tf__h5_fail(err, "%s: cannot create /%s/%s", path, group, s->name);
    for (int k = 0; k < s->rank; k++)
      if (H5DSattach_scale(st->dset[i], lay->scale[s->group][s->dims[k]], (unsigned)k) < 0)
        return tf__h5_fail(err, "%s: cannot attach dimension %s to /%s/%s", path,
                           tf__store_dim_names[s->dims[k]], group, s->name);
    if (tf__h5_describe(st->dset[i], s->long_name, s->units, s->description) < 0)
      return tf__h5_fail(err, "%s: cannot describe /%s/%s", path, group, s->name);
  }
  return 0;
}

/* One column per grid axis in /results, indexed by task. */
static int build_columns(tf_store_t *st, layout_t *lay, const axis_col_t *ax, int n_axes,
                         tf_err_t *err) {
  for (int a = 0; a < n_axes; a++) {
    hid_t ftype = ax[a].kind == TF_AXIS_TEXT  ? ax[a].type
                  : ax[a].kind == TF_AXIS_INT ? H5T_STD_I64LE
                                              : H5T_IEEE_F64LE;
    lay->column[a] = tf__h5_create_dataset(lay->group[G_RESULTS], ax[a].key, ftype, 1,
                                           &st->len[DIM_TASK], lay->dcpl);
    if (lay->column[a] < 0)
      return tf__h5_fail(err, "%s: cannot create the grid column /results/%s", st->path, ax[a].key);
    char long_name[VALUE_TEXT_MAX];
    snprintf(long_name, sizeof long_name, "sweep setting %s (grid axis %d)", ax[a].key, a);
    if (H5DSattach_scale(lay->column[a], lay->scale[G_RESULTS][DIM_TASK], 0) < 0 ||
        tf__h5_describe(lay->column[a], long_name, NULL, NULL) < 0)
      return tf__h5_fail(err, "%s: cannot label the grid column /results/%s", st->path, ax[a].key);
  }
  return 0;
}

/* The attributes of /results and /runtime. */
static int build_attributes(tf_store_t *st, layout_t *lay, int n_ranks, const char *created,
                            tf_err_t *err) {
  char *keys = tf__store_axis_keys(st->sw);
  if (keys == NULL) return tf_err_set(err, TF_ENOMEM, "results file: grid axis names");
  hid_t res = lay->group[G_RESULTS], run = lay->group[G_RUNTIME];
  herr_t rc = tf__h5_attr_str(res, "sweep", tf_sweep_text(st->sw));
  if (rc >= 0) rc = tf__h5_attr_str(res, "name", tf_sweep_name(st->sw));
  if (rc >= 0) rc = tf__h5_attr_str(res, "ticketfarm_version", TF_VERSION);
  if (rc >= 0) rc = tf__h5_attr_str(res, "grid_axes", keys);
  if (rc >= 0) rc = tf__h5_attr_str(res, "layout", LAYOUT);
  if (rc >= 0) rc = tf__h5_attr_str(run, "created", created);
  if (rc >= 0) rc = tf__h5_attr_int(run, "ranks", n_ranks);
  if (rc >= 0) rc = tf__h5_attr_int(run, "runs", 1);
  /* Only a shard's file says which it is: a file without them holds the whole sweep. */
  if (rc >= 0 && st->shard.n > 1) rc = tf__h5_attr_int(run, "shard", st->shard.k);
  if (rc >= 0 && st->shard.n > 1) rc = tf__h5_attr_int(run, "shards", st->shard.n);
  free(keys);
  if (rc < 0) return tf__h5_fail(err, "%s: cannot write the file's attributes", st->path);
  return 0;
}

static int build(tf_store_t *st, layout_t *lay, axis_col_t *ax, int n_axes, int n_ranks,
                 const char *created, tf_err_t *err) {
  int rc = build_groups(st, lay, err);
  if (rc == 0) rc = build_scales(st, lay, err);
  if (rc == 0) rc = build_datasets(st, lay, err);
  if (rc == 0) rc = build_columns(st, lay, ax, n_axes, err);
  if (rc == 0) rc = build_attributes(st, lay, n_ranks, created, err);
  return rc;
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
    if (ax[a].kind == TF_AXIS_TEXT && tf__h5_attr_str(lay->column[a], "_Encoding", "utf-8") < 0)
      return tf__h5_fail(err, "%s: cannot mark /results/%s as UTF-8", path, ax[a].key);
  for (int i = 0; i < DS_COUNT; i++)
    if ((tf__store_dsets[i].type == TY_HOST || tf__store_dsets[i].type == TY_REASON ||
         tf__store_dsets[i].type == TY_NAME) &&
        tf__h5_attr_str(st->dset[i], "_Encoding", "utf-8") < 0)
      return tf__h5_fail(err, "%s: cannot mark /%s/%s as UTF-8", path, tf__store_group_names[tf__store_dsets[i].group],
                     tf__store_dsets[i].name);

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
    const dset_spec_t *s = &tf__store_dsets[i];
    if (s->group != G_RESULTS || !tf__store_has_dataset(st, i)) continue;
    int by_round = s->rank > 1 && s->dims[1] == DIM_ROUND && i != DS_DENSITY &&
                   i != DS_EARLY_STOP_ITER;
    coords[axes_len] = '\0';
    if (by_round) strcat(coords, axes_len > 0 ? by_round_coords : by_round_coords + 1);
    if (coords[0] != '\0' && tf__h5_attr_str(st->dset[i], "coordinates", coords) < 0)
      rc = tf__h5_fail(err, "%s: cannot name the coordinates of /results/%s", path, s->name);
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
      (tf__h5_attr_int(eval, "scale_factor", (int)every) < 0 || tf__h5_attr_str(eval, "units", "iterations") < 0))
    return tf__h5_fail(err, "%s: cannot label /results/eval with its iterations", path);
  return 0;
}

/* The coordinate values 0, 1, ... of every dimension with a long name but the task's (written
 * with the task tables). */
static int write_coordinates(tf_store_t *st, layout_t *lay, tf_err_t *err) {
  const hsize_t *len = st->len;
  for (int g = 0; g < G_COUNT; g++) {
    for (int d = DIM_ROUND; d < DIM_COUNT; d++) {
      if (lay->scale[g][d] < 0 || tf__store_dim_long_names[d] == NULL) continue;
      int32_t *v = malloc(len[d] * sizeof *v);
      if (v == NULL) return tf_err_set(err, TF_ENOMEM, "results file: coordinates");
      for (hsize_t i = 0; i < len[d]; i++) v[i] = (int32_t)i;
      herr_t rc =
          tf__h5_write_rows(lay->scale[g][d], H5T_NATIVE_INT32, st->dxpl, 0, len[d], 0, 0, 0, v);
      free(v);
      if (rc < 0)
        return tf__h5_fail(err, "%s: cannot write /%s/%s", st->path, tf__store_group_names[g],
                           tf__store_dim_names[d]);
    }
  }
  return 0;
}

/* The per-task tables of one block of tasks, as rank 0 writes them at creation. */
typedef struct fixed_block {
  hsize_t size;        /* tasks per block */
  int64_t *task_ids;   /* (size) */
  int32_t *n_rounds;   /* (size) */
  int32_t *zeros32;    /* (size) */
  int8_t *zeros8;      /* (size) */
  int32_t *minus1;     /* (size) */
  double *nans;        /* (size) */
  int64_t *eval_iter;  /* (size, E) */
  int64_t *layer_size; /* (size, L) */
  char *column;        /* (size, col_size) */
  char *source;        /* (size, NAME_LEN) */
  char *target;        /* (size, NAME_LEN) */
} fixed_block_t;

static void fixed_free(fixed_block_t *b) {
  free(b->task_ids);
  free(b->n_rounds);
  free(b->zeros32);
  free(b->zeros8);
  free(b->minus1);
  free(b->nans);
  free(b->eval_iter);
  free(b->layer_size);
  free(b->column);
  free(b->source);
  free(b->target);
}

static int fixed_alloc(fixed_block_t *b, const tf_store_t *st, const axis_col_t *ax, int n_axes,
                       tf_err_t *err) {
  const hsize_t *len = st->len;
  hsize_t E = len[DIM_EVAL], L = len[DIM_LAYER];
  size_t row_bytes = sizeof(int64_t) * (4 + E + L) + sizeof(int32_t) * 3 + 1, col_size = 8;
  for (int a = 0; a < n_axes; a++) {
    size_t size = ax[a].kind == TF_AXIS_TEXT ? ax[a].str_size : 8;
    row_bytes += size;
    if (size > col_size) col_size = size;
  }
  hsize_t block = BLOCK_BYTES / row_bytes;
  if (block < 1) block = 1;
  if (block > len[DIM_TASK]) block = len[DIM_TASK];
  b->size = block;
  b->task_ids = malloc(block * sizeof *b->task_ids);
  b->n_rounds = malloc(block * sizeof *b->n_rounds);
  b->zeros32 = calloc(block, sizeof *b->zeros32);
  b->zeros8 = calloc(block, sizeof *b->zeros8);
  b->minus1 = malloc(block * sizeof *b->minus1);
  b->nans = malloc(block * sizeof *b->nans);
  b->eval_iter = malloc(block * E * sizeof *b->eval_iter);
  b->layer_size = malloc(block * L * sizeof *b->layer_size);
  b->column = malloc(block * col_size);
  b->source = calloc(block, NAME_LEN);
  b->target = calloc(block, NAME_LEN);
  if (!b->task_ids || !b->n_rounds || !b->zeros32 || !b->zeros8 || !b->minus1 || !b->nans ||
      !b->eval_iter || !b->layer_size || !b->column || !b->source || !b->target)
    return tf_err_set(err, TF_ENOMEM, "results file: no memory for the task tables");
  for (hsize_t i = 0; i < block; i++) {
    b->minus1[i] = -1;
    b->nans[i] = NAN;
  }
  return 0;
}

/* Fills the shape tables of tasks [t0, t0 + n). */
static int fixed_fill(tf_store_t *st, fixed_block_t *b, hsize_t t0, hsize_t n, tf_err_t *err) {
  hsize_t E = st->len[DIM_EVAL], L = st->len[DIM_LAYER];
  for (hsize_t i = 0; i < n; i++) {
    task_shape_t ts;
    int rc = tf__store_task_shape(st->sw, (long)(t0 + i), &ts, err);
    if (rc < 0) return rc;
    b->task_ids[i] = (int64_t)(t0 + i);
    b->n_rounds[i] = ts.t.n_rounds;
    memcpy(b->source + i * NAME_LEN, ts.source, NAME_LEN);
    memcpy(b->target + i * NAME_LEN, ts.target, NAME_LEN);
    for (hsize_t j = 0; j < E; j++)
      b->eval_iter[i * E + j] = j < (hsize_t)ts.t.n_evals ? (int64_t)j * ts.t.eval_every : -1;
    for (hsize_t l = 0; l < L; l++)
      b->layer_size[i * L + l] = l < (hsize_t)ts.t.n_layers ? ts.t.layer_size[l] : 0;
  }
  return 0;
}

/* Writes the task tables of tasks [t0, t0 + n). */
static int fixed_write(tf_store_t *st, layout_t *lay, const fixed_block_t *b, hsize_t t0, hsize_t n,
                       tf_err_t *err) {
  struct {
    hid_t did;
    hid_t mtype;
    const void *buf;
    const char *name;
  } tables[] = {
      {lay->scale[G_RESULTS][DIM_TASK], H5T_NATIVE_INT64, b->task_ids, "/results/task"},
      {lay->scale[G_RUNTIME][DIM_TASK], H5T_NATIVE_INT64, b->task_ids, "/runtime/task"},
      {st->dset[DS_N_ROUNDS], H5T_NATIVE_INT32, b->n_rounds, "/results/n_rounds"},
      {st->dset[DS_EVAL_ITERATION], H5T_NATIVE_INT64, b->eval_iter, "/results/eval_iteration"},
      {st->dset[DS_LAYER_SIZE], H5T_NATIVE_INT64, b->layer_size, "/results/layer_size"},
      {st->dset[DS_STATUS], H5T_NATIVE_INT8, b->zeros8, "/results/status"},
      {st->dset[DS_ROUNDS_DONE], H5T_NATIVE_INT32, b->zeros32, "/results/rounds_done"},
      /* Tasks not run yet: no rank, no times (NaT in xarray rather than 1970). */
      {st->dset[DS_RANK], H5T_NATIVE_INT32, b->minus1, "/runtime/rank"},
      {st->dset[DS_ATTEMPTS], H5T_NATIVE_INT32, b->zeros32, "/runtime/attempts"},
      {st->dset[DS_START_ROUND], H5T_NATIVE_INT32, b->minus1, "/runtime/start_round"},
      {st->dset[DS_OPEN_ATTEMPT], H5T_NATIVE_INT8, b->zeros8, "/runtime/open_attempt"},
      {st->dset[DS_STALLS], H5T_NATIVE_INT32, b->zeros32, "/runtime/stalls"},
      {st->dset[DS_CRASHES], H5T_NATIVE_INT32, b->zeros32, "/runtime/crashes"},
      {st->dset[DS_STARTED], H5T_NATIVE_DOUBLE, b->nans, "/runtime/started"},
      {st->dset[DS_FINISHED], H5T_NATIVE_DOUBLE, b->nans, "/runtime/finished"},
      {st->dset[DS_SOURCE], st->str_name, b->source, "/results/source"},
      {st->dset[DS_TARGET], st->str_name, b->target, "/results/target"},
  };
  for (size_t k = 0; k < sizeof tables / sizeof tables[0]; k++) {
    hid_t did = tables[k].did, mtype = tables[k].mtype;
    if (tf__h5_write_rows(did, mtype, st->dxpl, t0, n, 0, 0, 0, tables[k].buf) < 0)
      return tf__h5_fail(err, "%s: cannot write %s", st->path, tables[k].name);
  }
  return 0;
}

/* Writes the grid columns of tasks [t0, t0 + n). */
static int fixed_columns(tf_store_t *st, layout_t *lay, const axis_col_t *ax, int n_axes,
                         fixed_block_t *b, hsize_t t0, hsize_t n, tf_err_t *err) {
  for (int a = 0; a < n_axes; a++) {
    const axis_col_t *c = &ax[a];
    size_t size = c->kind == TF_AXIS_TEXT ? c->str_size : 8;
    for (hsize_t i = 0; i < n; i++) {
      int v = tf_grid_value_index(st->sw, a, (long)(t0 + i));
      const void *src = c->kind == TF_AXIS_TEXT  ? (const void *)(c->texts + (size_t)v * size)
                        : c->kind == TF_AXIS_INT ? (const void *)&c->ints[v]
                                                 : (const void *)&c->reals[v];
      memcpy(b->column + i * size, src, size);
    }
    if (tf__h5_write_rows(lay->column[a], c->type, st->dxpl, t0, n, 0, 0, 0, b->column) < 0)
      return tf__h5_fail(err, "%s: cannot write the grid column /results/%s", st->path, c->key);
  }
  return 0;
}

/* Rank 0, before the flush: everything that depends only on the sweep and the task index,
 * in blocks of tasks. */
static int write_fixed(tf_store_t *st, layout_t *lay, const axis_col_t *ax, int n_axes,
                       tf_err_t *err) {
  int rc = write_coordinates(st, lay, err);
  if (rc < 0) return rc;
  fixed_block_t b = {0};
  rc = fixed_alloc(&b, st, ax, n_axes, err);
  hsize_t n_tasks = st->len[DIM_TASK];
  for (hsize_t t0 = 0; rc == 0 && t0 < n_tasks; t0 += b.size) {
    hsize_t n = n_tasks - t0 < b.size ? n_tasks - t0 : b.size;
    rc = fixed_fill(st, &b, t0, n, err);
    if (rc == 0) rc = fixed_write(st, lay, &b, t0, n, err);
    if (rc == 0) rc = fixed_columns(st, lay, ax, n_axes, &b, t0, n, err);
  }
  fixed_free(&b);
  return rc;
}

static void store_free(tf_store_t *st) {
  for (int i = 0; i < DS_COUNT; i++)
    if (st->dset[i] >= 0) H5Dclose(st->dset[i]);
  if (st->str_host >= 0) H5Tclose(st->str_host);
  if (st->str_reason >= 0) H5Tclose(st->str_reason);
  if (st->str_name >= 0) H5Tclose(st->str_name);
  if (st->dxpl >= 0) H5Pclose(st->dxpl);
  tf_sweep_free(st->sw);
  free(st->path);
  free(st->row);
  free(st);
}

/* Rank-local: a store for sw at path with no file yet: its own copy of the sweep, every axis
 * measured, the HDF5 types. *out is set even on failure, for tf_store_close to free. */
static int store_prepare(tf_store_t **out, const char *path, const tf_sweep_t *sw, tf_err_t *err) {
  tf_store_t *st = *out = calloc(1, sizeof *st);
  if (st == NULL) return tf_err_set(err, TF_ENOMEM, "results file: no memory");
  st->file = st->dxpl = st->str_host = st->str_reason = st->str_name = H5I_INVALID_HID;
  for (int i = 0; i < DS_COUNT; i++) st->dset[i] = H5I_INVALID_HID;
  const char *text = tf_sweep_text(sw);
  st->path = strdup(path);
  if (st->path == NULL) return tf_err_set(err, TF_ENOMEM, "results file: no memory");
  int rc = tf_sweep_parse(&st->sw, text, strlen(text), path, err);
  if (rc < 0) return rc;
  st->n_tasks = tf_grid_tasks(st->sw);
  if (st->n_tasks < 1)
    return tf_err_set(err, TF_EINPUT, "results file: sweep with %ld tasks", st->n_tasks);
  if ((rc = tf__store_measure(st, err)) < 0) return rc;
  st->str_host = tf__h5_string_type(HOST_LEN);
  st->str_reason = tf__h5_string_type(REASON_LEN);
  st->str_name = tf__h5_string_type(NAME_LEN);
  st->dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (st->str_host < 0 || st->str_reason < 0 || st->str_name < 0 || st->dxpl < 0 ||
      H5Pset_dxpl_mpio(st->dxpl, H5FD_MPIO_INDEPENDENT) < 0)
    return tf__h5_fail(err, "results file: cannot set up HDF5 types");
  return 0;
}

/* Collective: opens (create = 0) or creates path with the MPI-IO driver. */
static int file_open(tf_store_t *st, MPI_Comm comm, int create, tf_err_t *err) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) >= 0)
    st->file = create ? H5Fcreate(st->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)
                      : H5Fopen(st->path, H5F_ACC_RDWR, fapl);
  hid_t stack = tf__h5_stack_keep(st->file < 0);
  if (fapl >= 0) H5Pclose(fapl);
  tf__h5_stack_restore(stack);
  if (st->file < 0) return tf__h5_fail(err, "cannot %s %s", create ? "create" : "open", st->path);
  return 0;
}

/* Collective: records the platform of run `run` (rank 0's, as attributes are written
 * collectively with one value) in the /runtime attributes runN_processor, runN_openblas_core and
 * runN_openblas_config; notes in st->platform_change the first earlier run that computed on
 * another processor model or OpenBLAS core type (files from before these attributes have none
 * to compare). */
static int record_platform(tf_store_t *st, hid_t runtime, int run, MPI_Comm comm, tf_err_t *err) {
  tf_platform_t now;
  tf_platform_probe(&now);
  MPI_Bcast(&now, (int)sizeof now, MPI_CHAR, 0, comm);
  static const char *const facts[3] = {"processor", "openblas_core", "openblas_config"};
  st->platform_change[0] = '\0';
  for (int r = 1; r < run && st->platform_change[0] == '\0'; r++) {
    tf_platform_t then;
    memset(&then, 0, sizeof then);
    char *got[3] = {NULL, NULL, NULL};
    for (int f = 0; f < 2; f++) {
      char name[48];
      snprintf(name, sizeof name, "run%d_%s", r, facts[f]);
      got[f] = tf__h5_read_attr_str(runtime, name);
    }
    if (got[0] != NULL && got[1] != NULL) {
      snprintf(then.processor, sizeof then.processor, "%s", got[0]);
      snprintf(then.blas_core, sizeof then.blas_core, "%s", got[1]);
      if (tf_platform_differs(&then, &now))
        snprintf(st->platform_change, sizeof st->platform_change,
                 "run %d computed on %s (OpenBLAS core %s), this run on %s (OpenBLAS core %s): "
                 "dense layers use OpenBLAS SGEMM, whose kernels differ by processor, so the "
                 "results may not be bit-identical to an uninterrupted run",
                 r, then.processor, then.blas_core, now.processor, now.blas_core);
    }
    free(got[0]);
    free(got[1]);
  }
  const char *values[3] = {now.processor, now.blas_core, now.blas_config};
  herr_t rc = 0;
  for (int f = 0; f < 3 && rc >= 0; f++) {
    char name[48];
    snprintf(name, sizeof name, "run%d_%s", run, facts[f]);
    rc = tf__h5_attr_str(runtime, name, values[f]);
  }
  if (rc < 0) return tf__h5_fail(err, "%s: cannot record this run's platform in /runtime", st->path);
  return 0;
}

const char *tf_store_platform_change(const tf_store_t *st) {
  return st != NULL && st->platform_change[0] != '\0' ? st->platform_change : NULL;
}

int tf_store_create(tf_store_t **out, const char *path, MPI_Comm comm, const tf_sweep_t *sw,
                    tf_err_t *err) {
  return tf_store_create_shard(out, path, comm, sw, NULL, err);
}

int tf_store_create_shard(tf_store_t **out, const char *path, MPI_Comm comm,
                          const tf_sweep_t *sw, const tf_shard_t *shard, tf_err_t *err) {
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
  if (st != NULL) st->shard = shard != NULL ? *shard : (tf_shard_t){0, 1};
  if (n_axes < 0 || n_axes > TF_SWEEP_MAX_AXES) {
    if (rc == 0) rc = tf_err_set(err, TF_EINPUT, "results file: sweep with %d grid axes", n_axes);
    n_axes = 0;
  }
  if (rc == 0) rc = tf__store_collect_axes(st->sw, ax, n_axes, err);
  rc = tf__agree(comm, rc, err, "preparing the results file");
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
    if (rc == 0) rc = record_platform(st, lay.group[G_RUNTIME], 1, comm, err);
    if (rc == 0) rc = write_cf_conventions(st, &lay, ax, n_axes, err);
    if (rc == 0 && rank == 0) rc = write_fixed(st, &lay, ax, n_axes, err);
    rc = tf__agree(comm, rc, err, "creating the results file");
  }
  if (rc == 0 && H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0)
    rc = tf__h5_fail(err, "%s: cannot flush after creation", path);
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
  tf__store_free_axes(ax, n_axes);
  if (rc < 0) {
    tf_err_t ignored;
    tf_store_close(st, &ignored);
    return rc;
  }
  *out = st;
  return 0;
}

/* ---- reopening a results file ---- */

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

/* Collective: adds this run to the /runtime attribute "runs". The group stays open while the
 * attribute is written: HDF5 1.10 cannot write an attribute opened with H5Aopen_by_name
 * ("can't locate open attribute?"). */
static int count_run(tf_store_t *st, MPI_Comm comm, tf_err_t *err) {
  hid_t g = H5Gopen2(st->file, "runtime", H5P_DEFAULT);
  hid_t a = g < 0 ? H5I_INVALID_HID : H5Aopen(g, "runs", H5P_DEFAULT);
  int runs = 0;
  herr_t rc = a < 0 ? -1 : H5Aread(a, H5T_NATIVE_INT, &runs);
  runs++;
  if (rc >= 0) rc = H5Awrite(a, H5T_NATIVE_INT, &runs);
  hid_t stack = tf__h5_stack_keep(rc < 0);
  if (a >= 0) H5Aclose(a);
  tf__h5_stack_restore(stack);
  int out = 0;
  if (rc < 0)
    out = tf__h5_fail(err, "%s: cannot count this run in /runtime", st->path);
  else
    out = record_platform(st, g, runs, comm, err);
  if (g >= 0) H5Gclose(g);
  return out;
}

int tf_store_open(tf_store_t **out, const char *path, MPI_Comm comm, const tf_sweep_t *sw,
                  tf_err_t *err) {
  *out = NULL;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  tf_store_t *st = NULL;
  int rc = store_prepare(&st, path, sw, err);
  rc = tf__agree(comm, rc, err, "preparing to open the results file");
  /* A refused file is never opened for writing: HDF5 may write to a file merely opened so. */
  if (rc == 0)
    rc = share_verdict(comm, rank == 0 ? tf__store_check_read_only(st, err) : 0, err);
  if (rc == 0) rc = file_open(st, comm, 0, err);
  if (rc == 0) rc = tf__store_open_datasets(st, st->file, st->dset, err);
  rc = tf__agree(comm, rc, err, "opening the results file");
  if (rc == 0) rc = tf__agree(comm, count_run(st, comm, err), err, "opening the results file");
  if (rc == 0 && H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0)
    rc = tf__h5_fail(err, "%s: cannot flush after opening", path);
  if (rc < 0) {
    tf_err_t ignored;
    tf_store_close(st, &ignored);
    return rc;
  }
  *out = st;
  return 0;
}

int tf_store_flush(tf_store_t *st, tf_err_t *err) {
  if (H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0)
    return tf__h5_fail(err, "%s: cannot flush", st->path);
  return 0;
}

int tf_store_close(tf_store_t *st, tf_err_t *err) {
  if (st == NULL) return 0;
  int rc = 0;
  hid_t file = st->file;
  char *path = st->path;
  st->path = NULL;
  store_free(st);
  if (file >= 0 && H5Fclose(file) < 0) rc = tf__h5_fail(err, "%s: cannot close", path ? path : "");
  free(path);
  return rc;
}
