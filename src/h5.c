/* Internal HDF5 plumbing of the results file: error stack, row selections, attributes. */
#include "h5.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static herr_t innermost_error(unsigned n, const H5E_error2_t *e, void *data) {
  if (n == 0 && e->desc != NULL) snprintf(data, 256, "%s", e->desc);
  return 0;
}

int tf__h5_fail(tf_err_t *err, const char *fmt, ...) {
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

hid_t tf__h5_stack_keep(int failed) { return failed ? H5Eget_current_stack() : H5I_INVALID_HID; }

void tf__h5_stack_restore(hid_t stack) {
  if (stack >= 0) H5Eset_current_stack(stack);
}

hid_t tf__h5_string_type(size_t size) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return t;
  if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
    H5Tclose(t);
    return H5I_INVALID_HID;
  }
  return t;
}

hid_t tf__h5_create_dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *shape,
                            hid_t dcpl) {
  hid_t space = H5Screate_simple(rank, shape, NULL);
  if (space < 0) return space;
  hid_t did = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  hid_t stack = tf__h5_stack_keep(did < 0);
  H5Sclose(space);
  tf__h5_stack_restore(stack);
  return did;
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
    hid_t stack = tf__h5_stack_keep(1);
    if (*mspace >= 0) H5Sclose(*mspace);
    H5Sclose(fspace);
    tf__h5_stack_restore(stack);
    return H5I_INVALID_HID;
  }
  return fspace;
}

/* One hyperslab transfer of rows: H5Dwrite of wbuf when `write`, else H5Dread into rbuf. */
static herr_t transfer_rows(hid_t did, hid_t mtype, hid_t dxpl, hsize_t task0, hsize_t n_tasks,
                            int by_round, hsize_t round0, hsize_t n_rounds, int write,
                            const void *wbuf, void *rbuf) {
  hid_t mspace = H5I_INVALID_HID;
  hid_t fspace = select_rows(did, task0, n_tasks, by_round, round0, n_rounds, &mspace);
  if (fspace < 0) return -1;
  herr_t rc = write ? H5Dwrite(did, mtype, mspace, fspace, dxpl, wbuf)
                   : H5Dread(did, mtype, mspace, fspace, dxpl, rbuf);
  hid_t stack = tf__h5_stack_keep(rc < 0);
  H5Sclose(mspace);
  H5Sclose(fspace);
  tf__h5_stack_restore(stack);
  return rc;
}

herr_t tf__h5_write_rows(hid_t did, hid_t mtype, hid_t dxpl, hsize_t task0, hsize_t n_tasks,
                         int by_round, hsize_t round0, hsize_t n_rounds, const void *buf) {
  return transfer_rows(did, mtype, dxpl, task0, n_tasks, by_round, round0, n_rounds, 1, buf, NULL);
}

herr_t tf__h5_read_rows(hid_t did, hid_t mtype, hsize_t task0, hsize_t n_tasks, int by_round,
                        hsize_t round0, hsize_t n_rounds, void *buf) {
  return transfer_rows(did, mtype, H5P_DEFAULT, task0, n_tasks, by_round, round0, n_rounds, 0, NULL,
                       buf);
}

hsize_t tf__h5_dataset_len(hid_t did, int axis) {
  hsize_t dims[3] = {0, 0, 0};
  hid_t space = H5Dget_space(did);
  if (space < 0) return 0;
  int rank = H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  return rank > axis && axis < 3 ? dims[axis] : 0;
}

herr_t tf__h5_attr_str(hid_t obj, const char *name, const char *value) {
  hid_t type = tf__h5_string_type(strlen(value) + 1);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = type < 0 || space < 0 ? H5I_INVALID_HID
                                  : H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
  hid_t stack = tf__h5_stack_keep(rc < 0);
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  tf__h5_stack_restore(stack);
  return rc;
}

herr_t tf__h5_attr_int(hid_t obj, const char *name, int value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = space < 0 ? H5I_INVALID_HID
                      : H5Acreate2(obj, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &value);
  hid_t stack = tf__h5_stack_keep(rc < 0);
  if (a >= 0) H5Aclose(a);
  if (space >= 0) H5Sclose(space);
  tf__h5_stack_restore(stack);
  return rc;
}

herr_t tf__h5_describe(hid_t did, const char *long_name, const char *units,
                       const char *description) {
  if (long_name != NULL && tf__h5_attr_str(did, "long_name", long_name) < 0) return -1;
  if (units != NULL && tf__h5_attr_str(did, "units", units) < 0) return -1;
  if (description != NULL && tf__h5_attr_str(did, "description", description) < 0) return -1;
  return 0;
}

char *tf__h5_read_attr_str(hid_t obj, const char *name) {
  if (H5Aexists(obj, name) <= 0) return NULL;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return NULL;
  char *s = NULL;
  hid_t ft = H5Aget_type(a);
  if (ft >= 0 && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) == 0) {
    size_t n = H5Tget_size(ft);
    hid_t mt = tf__h5_string_type(n + 1);
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

int tf__h5_read_attr_int(hid_t obj, const char *name, int fallback) {
  if (H5Aexists(obj, name) <= 0) return fallback;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  int v = fallback;
  if (a >= 0 && H5Aread(a, H5T_NATIVE_INT, &v) < 0) v = fallback;
  if (a >= 0) H5Aclose(a);
  H5Eclear2(H5E_DEFAULT);
  return v;
}
