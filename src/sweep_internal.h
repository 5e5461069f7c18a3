/* Internal to the sweep files (sweep.c, sweep_keys.c, grid.c): the key table's types, parsed
 * values, the grid's axes and the parse state. */
#ifndef TICKETFARM_SWEEP_INTERNAL_H
#define TICKETFARM_SWEEP_INTERNAL_H

#include <stddef.h>

#include "ticketfarm/config.h"
#include "ticketfarm/error.h"
#include "ticketfarm/sweep.h"
#include "yaml_tree.h"

/* Indexed like tf__sweep_key_docs and tf__sweep_key_rules, in the order of the README. */
typedef enum {
  KEY_NAME,
  KEY_DATASET,
  KEY_VALIDATION,
  KEY_NORMALIZE,
  KEY_ORDER,
  KEY_HIDDEN,
  KEY_PRESET, KEY_CONV, KEY_KERNEL, KEY_PADDING,
  KEY_OPTIMIZER,
  KEY_LR,
  KEY_MOMENTUM,
  KEY_BETA1,
  KEY_BETA2,
  KEY_EPS,
  KEY_WEIGHT_DECAY,
  KEY_NESTEROV,
  KEY_WARMUP,
  KEY_MILESTONES,
  KEY_GAMMA,
  KEY_BATCH,
  KEY_ITERATIONS,
  KEY_EVAL_EVERY,
  KEY_TEST_EVAL,
  KEY_SPARSE_BELOW,
  KEY_INIT,
  KEY_ROUNDS,
  KEY_RATE,
  KEY_OUTPUT_RATE,
  KEY_CONV_RATE,
  KEY_SCOPE,
  KEY_REWIND,
  KEY_EXCLUDE,
  KEY_RANDOM,
  KEY_CONTROL,
  KEY_SEED,
  KEY_CONTROL_SEED,
  KEY_TRANSFER_DATASET,
  KEY_TRANSFER_OPTIMIZER,
  KEY_TRANSFER_LR,
  KEY_INSTABILITY,
  KEY_WEIGHTS,
  KEY_GRID,
  KEY_COUNT
} key_id_t;

typedef enum {
  VT_TEXT,    /* free text: name */
  VT_CHOICE,  /* one of a few names: optimizer, scope, control */
  VT_DATASET, /* one of tf_data_names */
  VT_TARGET,  /* one of tf_data_names, or none: transfer.dataset */
  VT_INT,
  VT_REAL,
  VT_HIDDEN,
  VT_MILESTONES,
  VT_CONV, /* model.conv: channel counts and pool markers */
  VT_INIT,
  VT_WEIGHTS,
  VT_LAYERS, /* prune.exclude: layer indices and output, as TF_EXCLUDE_* bits */
  VT_GRID
} value_type_t;

/* How one key is read and bounded: integer bounds are inclusive, real bounds open or closed
 * as the flags say. */
typedef struct key_rule {
  value_type_t type;
  int gridable;
  long long imin, imax;
  double rmin, rmax;
  int rmin_open, rmax_open;
  const char *noun; /* choices: "unknown optimizer 'x'" */
  const char *(*choice)(int);
  int n_choices;
} key_rule_t;

/* One parsed value of a key: the field its type uses, the rest zero (values compare whole). */
typedef struct value {
  long long i; /* VT_INT; the index of a VT_CHOICE; the TF_RECORD_* bits of VT_WEIGHTS; the
               * prune.exclude bits of VT_LAYERS */
  double r;    /* VT_REAL */
  tf_init_spec_t init;
  int n; /* VT_HIDDEN, VT_MILESTONES */
  int list[TF_MAX_HIDDEN > TF_MAX_MILESTONES ? TF_MAX_HIDDEN : TF_MAX_MILESTONES];
  int conv[TF_MAX_CONV]; /* VT_CONV, n entries */
  char s[TF_NAME_MAX]; /* VT_TEXT, VT_DATASET */
} value_t;

typedef struct axis {
  key_id_t key;
  int line, col; /* of the key under grid: */
  int n;
  value_t *values; /* (n) in file order */
} axis_t;

struct tf_sweep {
  char *text; /* the file's bytes, NUL-terminated */
  size_t len;
  tf_config_t base;
  int n_axes;
  axis_t axes[TF_SWEEP_MAX_AXES];
  long tasks;
  long stride[TF_SWEEP_MAX_AXES]; /* tasks per step of the axis' value index */
};

/* One sweep file being read into sw. */
typedef struct parse {
  const char *file;
  const char *text;
  size_t len;
  tf_err_t *err;
  yaml_tree_t tree;
  tf_sweep_t *sw;
  const node_t *set_at[KEY_COUNT]; /* the key node that set each key outside the grid */
  const node_t *grid_key, *grid;
} parse_t;

/* The table of keys (sweep_keys.c): documentation and how each is read and bounded. */
extern const tf_sweep_key_t tf__sweep_key_docs[KEY_COUNT];
extern const key_rule_t tf__sweep_key_rules[KEY_COUNT];

/* Value semantics (sweep_keys.c). Reads the value of key from node n into v; TF_EINPUT with a
 * message pointing at the node. */
int tf__sweep_value_read(const parse_t *p, key_id_t key, const node_t *n, value_t *v);
/* The one setter every value goes through, for the base config and for every grid task. */
void tf__sweep_value_apply(key_id_t key, const value_t *v, tf_config_t *cfg);
/* Canonical text: "he_normal", "0.2", "[300, 100]", "[init, final]". */
void tf__sweep_value_text(key_id_t key, const value_t *v, char *buf, size_t size);
/* A total order on the values of one type, so repeats in a grid list are found by sorting. */
int tf__sweep_value_cmp(value_type_t type, const value_t *a, const value_t *b);

/* Messages "FILE:LINE:COL: ..." (sweep.c); both return TF_EINPUT. */
int tf__sweep_fail_at(const parse_t *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tf__sweep_fail(const parse_t *p, const node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "a, b or c" (sweep.c) */
void tf__sweep_join_names(const char *const *names, size_t n, char *buf, size_t size);

#endif
