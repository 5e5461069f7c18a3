/* Reopening a results file: checks that an existing file has exactly the layout a sweep implies
 * (grid axes, the "runs" counter, every dataset with its shape, the grid columns) before a
 * resume writes to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

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
  if (exists < 0) return tf__h5_fail(err, "%s: cannot look up /%s", st->path, name);
  if (exists == 0)
    return tf_err_set(err, TF_EMISMATCH, "%s has no /%s, which this sweep writes", st->path, name);
  *did = H5Dopen2(file, name, H5P_DEFAULT);
  if (*did < 0) return tf__h5_fail(err, "%s: cannot open /%s", st->path, name);
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
 * every dataset with its shape, the grid columns) and leaves each dataset of the tf__store_dsets
 * table open in ids[] (H5I_INVALID_HID where the sweep has none). Reads only. */
int tf__store_open_datasets(const tf_store_t *st, hid_t file, hid_t *ids, tf_err_t *err) {
  for (int i = 0; i < DS_COUNT; i++) ids[i] = H5I_INVALID_HID;
  char *want_axes = tf__store_axis_keys(st->sw), *have_axes = NULL;
  if (want_axes == NULL) return tf_err_set(err, TF_ENOMEM, "results file: grid axis names");
  hid_t res = H5Gopen2(file, "results", H5P_DEFAULT);
  int rc = 0;
  if (res < 0) {
    rc = tf__h5_fail(err, "%s: cannot open /results", st->path);
  } else if ((have_axes = tf__h5_read_attr_str(res, "grid_axes")) == NULL ||
             strcmp(have_axes, want_axes) != 0) {
    rc = tf_err_set(err, TF_EMISMATCH, "%s: grid axes are '%s', this sweep has '%s'", st->path,
                    have_axes ? have_axes : "(none)", want_axes);
  } else if (H5Aexists_by_name(file, "runtime", "runs", H5P_DEFAULT) <= 0) {
    rc = tf_err_set(err, TF_EMISMATCH, "%s has no /runtime attribute 'runs'", st->path);
  }
  for (int i = 0; rc == 0 && i < DS_COUNT; i++) {
    const dset_spec_t *s = &tf__store_dsets[i];
    char name[96], axes[96] = "";
    snprintf(name, sizeof name, "%s/%s", tf__store_group_names[s->group], s->name);
    for (int k = 0; k < s->rank; k++)
      snprintf(axes + strlen(axes), sizeof axes - strlen(axes), "%s%s", k > 0 ? " x " : "",
               tf__store_dim_names[s->dims[k]]);
    if (s->optional && H5Lexists(file, name, H5P_DEFAULT) == 0) {
      continue; /* written before the dataset existed */
    } else if (tf__store_has_dataset(st, i)) {
      hsize_t shape[3];
      tf__store_dataset_shape(st, i, shape);
      rc = open_checked(st, file, name, s->rank, shape, axes, &ids[i], err);
    } else if (H5Lexists(file, name, H5P_DEFAULT) != 0) {
      rc = tf_err_set(err, TF_EMISMATCH, "%s has /%s, which this sweep does not record", st->path,
                      name);
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

/* Rank 0, serial and read-only: whether the file is one this sweep can continue. */
int tf__store_check_read_only(const tf_store_t *st, tf_err_t *err) {
  reader_t rd;
  int rc = tf__store_reader_open(&rd, st->path, err);
  if (rc < 0) return rc;
  hid_t ids[DS_COUNT];
  rc = tf__store_open_datasets(st, rd.file, ids, err);
  if (rc == 0) close_ids(ids, DS_COUNT);
  tf__store_reader_close(&rd);
  return rc;
}
