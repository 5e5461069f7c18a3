/* Internal HDF5 plumbing of the results file: error messages from HDF5's error stack, row
 * selections by task (and round), attributes. Every function is rank-local. */
#ifndef TICKETFARM_H5_H
#define TICKETFARM_H5_H

#include <hdf5.h>
#include <stddef.h>

#include "ticketfarm/error.h"

/* Sets TF_EHDF5 with the message and the most specific description on HDF5's error stack. */
int tf__h5_fail(tf_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Closing an id clears HDF5's error stack: these keep a failure's stack across the cleanup,
 * so that tf__h5_fail can still name the cause. */
hid_t tf__h5_stack_keep(int failed);
void tf__h5_stack_restore(hid_t stack);

/* A fixed-length, NUL-terminated string type of size bytes (terminator included). */
hid_t tf__h5_string_type(size_t size);

/* A dataset of the given shape in loc. */
hid_t tf__h5_create_dataset(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *shape,
                            hid_t dcpl);

/* Rows [task0, task0 + n_tasks) of a 1-3-D dataset and, when by_round and the dataset has a
 * second axis, only [round0, round0 + n_rounds) of it, every later axis whole. */
herr_t tf__h5_write_rows(hid_t did, hid_t mtype, hid_t dxpl, hsize_t task0, hsize_t n_tasks,
                         int by_round, hsize_t round0, hsize_t n_rounds, const void *buf);
herr_t tf__h5_read_rows(hid_t did, hid_t mtype, hsize_t task0, hsize_t n_tasks, int by_round,
                        hsize_t round0, hsize_t n_rounds, void *buf);

/* The length of axis `axis` of a dataset; 0 when it has no such axis. */
hsize_t tf__h5_dataset_len(hid_t did, int axis);

/* Scalar attributes: a fixed-length string, a 32-bit integer, and the long_name, units and
 * description of a dataset (each skipped when NULL). */
herr_t tf__h5_attr_str(hid_t obj, const char *name, const char *value);
herr_t tf__h5_attr_int(hid_t obj, const char *name, int value);
herr_t tf__h5_describe(hid_t did, const char *long_name, const char *units,
                       const char *description);

/* A fixed-length string attribute, malloc'd; NULL if absent or not a fixed-length string. */
char *tf__h5_read_attr_str(hid_t obj, const char *name);
/* An integer attribute; fallback when it is absent or unreadable. */
int tf__h5_read_attr_int(hid_t obj, const char *name, int fallback);

#endif
