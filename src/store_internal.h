/* Internal to the results file's sources (store*.c): the file's schema (groups, dimensions,
 * datasets), the open store shared by them, and the read-only view the serial readers use. */
#ifndef TICKETFARM_STORE_INTERNAL_H
#define TICKETFARM_STORE_INTERNAL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "h5.h"
#include "ticketfarm/shard.h"
#include "ticketfarm/store.h"
#include "ticketfarm/ticket.h"

#define LAYOUT "ticketfarm-results-1"
#define HOST_LEN 64
#define REASON_LEN 256
#define VALUE_TEXT_MAX 1024
/* Creation-time writes and summary reads go in blocks of tasks of about this many bytes, so
 * memory stays bounded for millions of tasks. */
#define BLOCK_BYTES ((size_t)8 << 20)

enum { G_RESULTS, G_RUNTIME, G_COUNT };
extern const char *const tf__store_group_names[G_COUNT];

enum {
  DIM_TASK,
  DIM_ROUND,
  DIM_EVAL,
  DIM_LAYER,
  DIM_MASK_BYTE,
  DIM_PARAM,
  DIM_PARITY,
  DIM_ALPHA,
  DIM_COUNT
};
extern const char *const tf__store_dim_names[DIM_COUNT];
/* Dimensions with a long name get coordinate values 0, 1, ...; the others are bare. */
extern const char *const tf__store_dim_long_names[DIM_COUNT];

/* A new dataset: a DS_* index below, its row in tf__store_dsets (store_layout.c), and its
 * writes in store_task.c; creation, the reopening checks and tf_store_size follow the table. */
typedef enum { TY_I8, TY_U8, TY_I32, TY_I64, TY_F32, TY_F64, TY_HOST, TY_REASON, TY_NAME } ty_t;
#define NAME_LEN 32 /* a dataset's name: tf_config_t.dataset */
/* Datasets that exist when some task asks for the instability analysis (dset_spec_t.record,
 * beside the TF_RECORD_* bits of record.weights). */
#define RECORD_PATH (1u << 8)

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
  DS_OPEN_ATTEMPT,
  DS_STALLS,
  DS_CRASHES,
  DS_SOURCE,
  DS_TARGET,
  DS_INSTABILITY,
  DS_PATH_ERROR,
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
  int optional;            /* files written before it existed lack it: they open and resume
                            * without it (its writes skipped, its reads zero) */
} dset_spec_t;

/* The file's datasets, by DS_* index. */
extern const dset_spec_t tf__store_dsets[DS_COUNT];

/* The round curves, each a field of tf_eval_t. */
typedef struct curve_spec {
  int dset;
  size_t offset;
} curve_spec_t;
enum { CURVE_COUNT = 5 };
extern const curve_spec_t tf__store_curves[CURVE_COUNT];

/* One element type: its type in the file, in memory, and its size in the file. */
typedef struct ty_info {
  hid_t file, mem;
  size_t size;
} ty_info_t;

struct tf_store {
  tf_sweep_t *sw; /* own copy: every write looks up the shape of its task */
  char *path;
  long n_tasks;
  hsize_t len[DIM_COUNT]; /* N, R, E, L, B, P */
  unsigned record_any;    /* TF_RECORD_* bits some task asks for */
  hid_t file, dxpl;
  hid_t str_host, str_reason, str_name;
  hid_t dset[DS_COUNT]; /* H5I_INVALID_HID for weights no task records */
  unsigned char *row;   /* scratch for one padded row */
  char platform_change[1024]; /* tf_store_platform_change's note; "" when none */
  tf_shard_t shard;     /* the part of the sweep this file's job runs; n == 1: all */
};

/* A results file open read-only for the serial readers (and tf_store_open's checks). */
typedef struct reader {
  const char *path;
  hid_t file, results, runtime;
  long n_tasks;
  int n_rounds;
} reader_t;

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

/* What the file needs to know about one task: its shape and the weights it records. */
typedef struct task_shape {
  tf_ticket_shape_t t;
  unsigned record;    /* TF_RECORD_* bits, RECORD_PATH with an instability analysis */
  int path_points;    /* analysis.instability */
  char source[NAME_LEN], target[NAME_LEN]; /* data.dataset and tf_config_target */
} task_shape_t;

/* The types of element type ty; the string types are st's (st may be NULL for the sizes only). */
ty_info_t tf__store_type(const tf_store_t *st, ty_t ty);

/* The shape of task of sw. */
int tf__store_task_shape(const tf_sweep_t *sw, long task, task_shape_t *ts, tf_err_t *err);

/* Sizes every axis of st from its whole sweep (the longest task decides) and allocates st->row. */
int tf__store_measure(tf_store_t *st, tf_err_t *err);

/* Whether the sweep has dataset i (weights only when some task records them), and its shape. */
int tf__store_has_dataset(const tf_store_t *st, int i);
void tf__store_dataset_shape(const tf_store_t *st, int i, hsize_t *shape);

/* The grid axis keys, comma-separated (the /results attribute grid_axes), malloc'd. */
char *tf__store_axis_keys(const tf_sweep_t *sw);

/* The values of every grid axis by value index, ax[0 .. n_axes), for the grid columns: the task
 * whose other indices are all 0 takes value i of axis a at task i * (product of the sizes of the
 * later axes). tf__store_free_axes frees them (types included) even after a failure. */
int tf__store_collect_axes(const tf_sweep_t *sw, axis_col_t *ax, int n_axes, tf_err_t *err);
void tf__store_free_axes(axis_col_t *ax, int n);

/* Serial, read-only: opens path and checks that it is a results file (TF_EFORMAT otherwise). */
int tf__store_reader_open(reader_t *rd, const char *path, tf_err_t *err);
void tf__store_reader_close(reader_t *rd);

/* Reads rows [t0, t0 + n) of dataset name in group g. */
int tf__store_read_block(reader_t *rd, hid_t g, const char *name, hid_t mtype, long t0, long n,
                         void *buf, tf_err_t *err);

/* Reads only (store_check.c): checks that file has exactly the layout st's sweep implies and
 * leaves each dataset of the tf__store_dsets table open in ids[] (H5I_INVALID_HID where the sweep
 * has none); TF_EMISMATCH names the first difference. */
int tf__store_open_datasets(const tf_store_t *st, hid_t file, hid_t *ids, tf_err_t *err);

/* Rank 0, serial and read-only (store_check.c): whether the file is one this sweep can continue. */
int tf__store_check_read_only(const tf_store_t *st, tf_err_t *err);

/* How many tasks of row_bytes each make a block of about BLOCK_BYTES (1 to n_tasks). */
long tf__store_block_tasks(size_t row_bytes, long n_tasks);

#endif
