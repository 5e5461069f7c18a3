/* The per-round table behind `ticketfarm summary`: one row per finished round of every task,
 * with its grid values, as an aligned table or CSV, read in blocks of tasks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "ticketfarm/text.h"

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
  tf__store_reader_close(&s->rd);
}

static int summary_open(summary_t *s, const char *path, tf_err_t *err) {
  memset(s, 0, sizeof *s);
  int rc = tf__store_reader_open(&s->rd, path, err);
  if (rc < 0) return rc;
  char *keys = tf__h5_read_attr_str(s->rd.results, "grid_axes");
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
      ax->mtype = tf__h5_string_type(ax->str_size);
    } else if (ax->cls == H5T_INTEGER) {
      ax->str_size = sizeof(int64_t);
      ax->mtype = H5T_NATIVE_INT64;
    } else if (ax->cls == H5T_FLOAT) {
      ax->str_size = sizeof(double);
      ax->mtype = H5T_NATIVE_DOUBLE;
    }
    if (ft >= 0) H5Tclose(ft);
    if (ax->key == NULL || ax->mtype < 0)
      rc = tf__h5_fail(err, "%s: cannot read the grid column /results/%s", path, k);
    row_bytes += ax->str_size;
  }
  free(keys);
  if (rc < 0) return rc;

  long block = s->block = tf__store_block_tasks(row_bytes, s->rd.n_tasks);
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
      tf_text_real(x, cell, cap);
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

/* Reads the round columns and the grid values of tasks [t0, t0 + n). */
static int summary_read(summary_t *s, long t0, long n, tf_err_t *err) {
  reader_t *rd = &s->rd;
  const struct {
    hid_t group;
    const char *name;
    hid_t mtype;
    void *buf;
  } cols[] = {
      {rd->results, "rounds_done", H5T_NATIVE_INT32, s->rounds_done},
      {rd->results, "density", H5T_NATIVE_DOUBLE, s->density},
      {rd->results, "early_stop_iter", H5T_NATIVE_INT64, s->es_iter},
      {rd->results, "val_loss", H5T_NATIVE_FLOAT, s->val_loss},
      {rd->results, "test_acc_es", H5T_NATIVE_FLOAT, s->acc_es},
      {rd->results, "test_acc_final", H5T_NATIVE_FLOAT, s->acc_final},
      {rd->runtime, "wall_s", H5T_NATIVE_DOUBLE, s->wall_s},
  };
  for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
    int rc = tf__store_read_block(rd, cols[k].group, cols[k].name, cols[k].mtype, t0, n,
                                  cols[k].buf, err);
    if (rc < 0) return rc;
  }
  for (int a = 0; a < s->n_axes; a++) {
    summary_axis_t *ax = &s->axes[a];
    if (tf__h5_read_rows(ax->did, ax->mtype, (hsize_t)t0, (hsize_t)n, 0, 0, 0, ax->buf) < 0)
      return tf__h5_fail(err, "%s: cannot read the grid column /results/%s", rd->path, ax->key);
  }
  return 0;
}

static int summary_pass(summary_t *s, FILE *out, int csv, int measure, int header,
                        tf_err_t *err) {
  reader_t *rd = &s->rd;
  summary_header(s);
  if (header) summary_emit(s, out, csv, measure);
  int rc = 0;
  for (long t0 = 0; rc == 0 && t0 < rd->n_tasks; t0 += s->block) {
    long n = rd->n_tasks - t0 < s->block ? rd->n_tasks - t0 : s->block;
    rc = summary_read(s, t0, n, err);
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
  if (rc == 0 && !csv) rc = summary_pass(&s, out, csv, 1, 1, err);
  if (rc == 0) rc = summary_pass(&s, out, csv, 0, 1, err);
  summary_free(&s);
  return rc;
}

/* Whether s has the columns of the first file: the same grid axes in the same order. */
static int summary_same_columns(const summary_t *s, int n_cols, char *const *keys) {
  if (s->n_cols != n_cols) return 0;
  for (int a = 0; a < s->n_axes; a++)
    if (strcmp(s->axes[a].key, keys[a]) != 0) return 0;
  return 1;
}

int tf_store_print_summaries(const char *const *paths, int n, FILE *out, int csv,
                             tf_err_t *err) {
  size_t *width = NULL;
  char *keys[TF_SWEEP_MAX_AXES] = {NULL};
  int n_cols = 0, n_axes = 0, rc = 0;
  /* A table is measured over every file first, so that all rows line up; files are opened one
   * at a time, each read in blocks. */
  for (int pass = csv ? 1 : 0; rc == 0 && pass < 2; pass++) {
    for (int f = 0; rc == 0 && f < n; f++) {
      summary_t s;
      rc = summary_open(&s, paths[f], err);
      if (rc == 0 && width == NULL) {
        n_cols = s.n_cols;
        n_axes = s.n_axes;
        width = calloc((size_t)n_cols, sizeof *width);
        for (int a = 0; a < n_axes; a++) keys[a] = strdup(s.axes[a].key);
        for (int a = 0; a < n_axes; a++)
          if (keys[a] == NULL) rc = tf_err_set(err, TF_ENOMEM, "summary: no memory");
        if (width == NULL) rc = tf_err_set(err, TF_ENOMEM, "summary: no memory");
      } else if (rc == 0 && !summary_same_columns(&s, n_cols, keys)) {
        rc = tf_err_set(err, TF_EINPUT, "%s and %s have different grid axes; summarize them "
                        "one at a time", paths[0], paths[f]);
      }
      if (rc == 0) {
        memcpy(s.width, width, (size_t)n_cols * sizeof *width);
        rc = summary_pass(&s, out, csv, pass == 0, f == 0, err);
        memcpy(width, s.width, (size_t)n_cols * sizeof *width);
      }
      summary_free(&s);
    }
  }
  for (int a = 0; a < n_axes; a++) free(keys[a]);
  free(width);
  return rc;
}
