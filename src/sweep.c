/* Sweep files: YAML to a checked base config and grid, with file:line:col messages and hints. */
#include "ticketfarm/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "ticketfarm/data.h"
#include "ticketfarm/init.h"
#include "ticketfarm/text.h"

#define HIDDEN_WIDTH_MAX 100000
#define LONG_COUNT_MAX 1000000000LL /* iterations and rewind: far beyond any sweep's budget */

/* Indexed like key_docs and key_rules, in the order of the README. */
typedef enum {
  KEY_NAME,
  KEY_DATASET,
  KEY_VALIDATION,
  KEY_HIDDEN,
  KEY_OPTIMIZER,
  KEY_LR,
  KEY_MOMENTUM,
  KEY_BETA1,
  KEY_BETA2,
  KEY_EPS,
  KEY_BATCH,
  KEY_ITERATIONS,
  KEY_EVAL_EVERY,
  KEY_SPARSE_BELOW,
  KEY_INIT,
  KEY_ROUNDS,
  KEY_RATE,
  KEY_OUTPUT_RATE,
  KEY_SCOPE,
  KEY_REWIND,
  KEY_CONTROL,
  KEY_SEED,
  KEY_WEIGHTS,
  KEY_GRID,
  KEY_COUNT
} key_id_t;

static const tf_sweep_key_t key_docs[KEY_COUNT] = {
    {"name", "string", "\"\"", "Free text naming the sweep, stored in the results file."},
    {"data.dataset", "string", "mnist", "The dataset: mnist or fashion-mnist."},
    {"data.validation", "integer", "5000",
     "Images held out of the training set to find the early-stopping iteration: at least 1 "
     "and fewer than the dataset's training images."},
    {"model.hidden", "list of integers", "[300, 100]",
     "Hidden layer widths, 0 to 8 layers of 1 to 100000 units; the input and output sizes "
     "come from the dataset."},
    {"train.optimizer", "string", "adam", "The optimiser: sgd, momentum (heavy ball) or adam."},
    {"train.lr", "real", "1.2e-3", "The learning rate, greater than 0."},
    {"train.momentum", "real", "0.9",
     "The heavy-ball coefficient of the momentum optimiser, in [0, 1)."},
    {"train.beta1", "real", "0.9", "Adam's decay rate of the gradient mean, in [0, 1)."},
    {"train.beta2", "real", "0.999",
     "Adam's decay rate of the squared gradient mean, in [0, 1)."},
    {"train.eps", "real", "1.0e-8", "Adam's term added to the denominator, greater than 0."},
    {"train.batch", "integer", "60",
     "Images per minibatch, at least 1 and at most the training images left after "
     "data.validation."},
    {"train.iterations", "integer", "50000",
     "Training iterations per round, 1 to 1000000000 and a multiple of train.eval_every."},
    {"train.eval_every", "integer", "100",
     "Iterations between two evaluations of validation loss and test accuracy, at least 1."},
    {"train.sparse_below", "real", "0.6",
     "Density in [0, 1] below which a layer trains on sparse kernels over its surviving "
     "weights instead of dense ones under a mask (0: never); part of what defines the results, "
     "as the two differ by float rounding."},
    {"init", "string", "glorot_normal",
     "The weight initialiser: glorot_normal, glorot_uniform, he_normal, he_uniform, "
     "lecun_normal, lecun_uniform, orthogonal(gain), truncated_normal(sigma), normal(sigma), "
     "uniform(a) or signed_constant, the parameter optional."},
    {"prune.rounds", "integer", "20",
     "Pruning rounds after the dense round 0, 0 to 1000; round r trains the net left after r "
     "prunings."},
    {"prune.rate", "real", "0.2", "Fraction of the remaining weights removed per round, in (0, 1)."},
    {"prune.output_rate", "real", "0.1",
     "Fraction of the output layer's remaining weights removed per round under layerwise "
     "scope, in (0, 1)."},
    {"prune.scope", "string", "layerwise",
     "layerwise (each layer loses prune.rate of its remaining weights, the output layer "
     "prune.output_rate) or global (prune.rate of all remaining weights by one magnitude "
     "threshold, output_rate unused)."},
    {"prune.rewind", "integer", "0",
     "Iteration whose weights the survivors return to: 0 is the initialisation, k > 0 late "
     "rewinding; less than train.iterations and a multiple of train.eval_every."},
    {"control", "string", "ticket",
     "ticket (rewind the survivors), reinit (same mask, fresh weights), sign_reinit (fresh "
     "magnitudes, original signs) or random_mask (same layer densities, random positions)."},
    {"seed", "integer", "1",
     "Seed of every random stream, 0 to 2^63-1; tasks with one seed share the data order and "
     "the validation split."},
    {"record.weights", "list of strings", "[init, rewind, final]",
     "Weight snapshots stored per task and round, a subset of init, rewind and final ([] for "
     "none); not a grid axis, as every task stores the same snapshots."},
    {"grid", "mapping of keys to lists", "{}",
     "Dotted key paths (init, prune.rate, seed, ...) mapped to lists of values whose Cartesian "
     "product gives the tasks, the last axis varying fastest; a key in the grid overrides the "
     "same key set outside it."},
};

typedef enum {
  VT_TEXT,    /* free text: name */
  VT_CHOICE,  /* one of a few names: optimizer, scope, control */
  VT_DATASET, /* one of tf_data_names */
  VT_INT,
  VT_REAL,
  VT_HIDDEN,
  VT_INIT,
  VT_WEIGHTS,
  VT_GRID
} value_type_t;

static const char *optimizer_name(int i) { return tf_optimizer_name((tf_optimizer_kind_t)i); }
static const char *scope_name(int i) { return tf_scope_name((tf_prune_scope_t)i); }
static const char *control_name(int i) { return tf_control_name((tf_control_t)i); }

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

#define RULE_INT(lo, hi) {VT_INT, 1, lo, hi, 0, 0, 0, 0, NULL, NULL, 0}
#define RULE_REAL(lo, hi, lo_open, hi_open) {VT_REAL, 1, 0, 0, lo, hi, lo_open, hi_open, NULL, NULL, 0}
#define RULE_CHOICE(noun, fn, n) {VT_CHOICE, 1, 0, 0, 0, 0, 0, 0, noun, fn, n}
#define RULE_OTHER(type, gridable) {type, gridable, 0, 0, 0, 0, 0, 0, NULL, NULL, 0}

static const key_rule_t key_rules[KEY_COUNT] = {
    [KEY_NAME] = RULE_OTHER(VT_TEXT, 0),
    [KEY_DATASET] = RULE_OTHER(VT_DATASET, 1),
    [KEY_VALIDATION] = RULE_INT(1, INT_MAX),
    [KEY_HIDDEN] = RULE_OTHER(VT_HIDDEN, 1),
    [KEY_OPTIMIZER] = RULE_CHOICE("optimizer", optimizer_name, TF_OPT_COUNT),
    [KEY_LR] = RULE_REAL(0, INFINITY, 1, 1),
    [KEY_MOMENTUM] = RULE_REAL(0, 1, 0, 1),
    [KEY_BETA1] = RULE_REAL(0, 1, 0, 1),
    [KEY_BETA2] = RULE_REAL(0, 1, 0, 1),
    [KEY_EPS] = RULE_REAL(0, INFINITY, 1, 1),
    [KEY_BATCH] = RULE_INT(1, INT_MAX),
    [KEY_ITERATIONS] = RULE_INT(1, LONG_COUNT_MAX),
    [KEY_EVAL_EVERY] = RULE_INT(1, INT_MAX),
    [KEY_SPARSE_BELOW] = RULE_REAL(0, 1, 0, 0),
    [KEY_INIT] = RULE_OTHER(VT_INIT, 1),
    [KEY_ROUNDS] = RULE_INT(0, 1000),
    [KEY_RATE] = RULE_REAL(0, 1, 1, 1),
    [KEY_OUTPUT_RATE] = RULE_REAL(0, 1, 1, 1),
    [KEY_SCOPE] = RULE_CHOICE("scope", scope_name, TF_SCOPE_COUNT),
    [KEY_REWIND] = RULE_INT(0, LONG_COUNT_MAX),
    [KEY_CONTROL] = RULE_CHOICE("control", control_name, TF_CONTROL_COUNT),
    [KEY_SEED] = RULE_INT(0, INT64_MAX),
    [KEY_WEIGHTS] = RULE_OTHER(VT_WEIGHTS, 0),
    [KEY_GRID] = RULE_OTHER(VT_GRID, 0),
};

static const char *const section_names[] = {"data", "model", "train", "prune", "record"};
#define N_SECTIONS (sizeof section_names / sizeof section_names[0])

static const char *const snapshot_names[] = {"init", "rewind", "final"};
static const unsigned snapshot_bits[] = {TF_RECORD_INIT, TF_RECORD_REWIND, TF_RECORD_FINAL};

/* One parsed value of a key: the field its type uses, the rest zero (values compare whole). */
typedef struct value {
  long long i; /* VT_INT; the index of a VT_CHOICE; the TF_RECORD_* bits of VT_WEIGHTS */
  double r;    /* VT_REAL */
  tf_init_spec_t init;
  int n; /* VT_HIDDEN */
  int list[TF_MAX_HIDDEN];
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

/* The YAML document as a plain tree: anchors, aliases and tags are refused while it is built,
 * so it has no shared nodes and no cycles. */
typedef enum { NODE_SCALAR, NODE_SEQ, NODE_MAP } node_kind_t;

typedef struct node {
  node_kind_t kind;
  int line, col; /* 1-based */
  int plain;     /* scalar written without quotes */
  char *text;    /* scalar, NUL-terminated (a quoted "\0" may end it early: see len) */
  size_t len;
  size_t n, cap;
  struct node **items; /* sequence: elements; mapping: key, value, key, value, ... */
} node_t;

typedef struct parse {
  const char *file;
  const char *text;
  size_t len;
  tf_err_t *err;
  node_t **nodes; /* every node, for freeing */
  size_t n_nodes, cap_nodes;
  node_t *root;
  tf_sweep_t *sw;
  const node_t *set_at[KEY_COUNT]; /* the key node that set each key outside the grid */
  const node_t *grid_key, *grid;
} parse_t;

static int fail_at(const parse_t *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(const parse_t *p, const node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(const parse_t *p, int line, int col, const char *fmt, ...) {
  char msg[TF_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tf_err_set(p->err, TF_EINPUT, "%s:%d:%d: %s", p->file, line, col, msg);
}

static int fail(const parse_t *p, const node_t *n, const char *fmt, ...) {
  char msg[TF_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tf_err_set(p->err, TF_EINPUT, "%s:%d:%d: %s", p->file, n->line, n->col, msg);
}

/* Line and column (in characters) of a byte offset. */
static void offset_mark(const char *text, size_t len, size_t offset, int *line, int *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < offset && i < len; i++) {
    if (text[i] == '\n') {
      ++*line;
      *col = 1;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      ++*col;
    }
  }
}

/* "a, b or c" */
static void join_names(const char *const *names, size_t n, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used < size; i++) {
    const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
    int w = snprintf(buf + used, size - used, "%s%s", sep, names[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

/* ---- the tree ---------------------------------------------------------------------------- */

static void tree_free(parse_t *p) {
  for (size_t i = 0; i < p->n_nodes; i++) {
    free(p->nodes[i]->text);
    free(p->nodes[i]->items);
    free(p->nodes[i]);
  }
  free(p->nodes);
  p->nodes = NULL;
  p->n_nodes = p->cap_nodes = 0;
  p->root = NULL;
}

static node_t *node_new(parse_t *p, node_kind_t kind, yaml_mark_t mark) {
  if (p->n_nodes == p->cap_nodes) {
    size_t cap = p->cap_nodes ? 2 * p->cap_nodes : 64;
    node_t **nodes = realloc(p->nodes, cap * sizeof *nodes);
    if (nodes == NULL) return NULL;
    p->nodes = nodes;
    p->cap_nodes = cap;
  }
  node_t *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  n->kind = kind;
  n->line = (int)mark.line + 1;
  n->col = (int)mark.column + 1;
  p->nodes[p->n_nodes++] = n;
  return n;
}

static int node_append(node_t *parent, node_t *child) {
  if (parent->n == parent->cap) {
    size_t cap = parent->cap ? 2 * parent->cap : 8;
    node_t **items = realloc(parent->items, cap * sizeof *items);
    if (items == NULL) return -1;
    parent->items = items;
    parent->cap = cap;
  }
  parent->items[parent->n++] = child;
  return 0;
}

static int syntax_error(parse_t *p, const yaml_parser_t *yp) {
  if (yp->error == YAML_MEMORY_ERROR)
    return tf_err_set(p->err, TF_ENOMEM, "%s: out of memory parsing YAML", p->file);
  int line, col;
  size_t at;
  if (yp->error == YAML_READER_ERROR) {
    at = yp->problem_offset;
    offset_mark(p->text, p->len, at, &line, &col);
  } else {
    at = yp->problem_mark.index;
    line = (int)yp->problem_mark.line + 1;
    col = (int)yp->problem_mark.column + 1;
  }
  char context[160] = "";
  if (yp->context != NULL)
    snprintf(context, sizeof context, " (%s at line %d, column %d)", yp->context,
             (int)yp->context_mark.line + 1, (int)yp->context_mark.column + 1);
  /* A tab in the indentation of the offending line is the usual cause; libyaml does not say so. */
  const char *hint = "";
  size_t bol = at < p->len ? at : p->len;
  while (bol > 0 && p->text[bol - 1] != '\n') bol--;
  for (size_t i = bol; i < p->len && (p->text[i] == ' ' || p->text[i] == '\t'); i++)
    if (p->text[i] == '\t') hint = "; YAML cannot indent with tabs: use spaces";
  if (yp->error == YAML_READER_ERROR && yp->problem_value != -1)
    return fail_at(p, line, col, "YAML syntax error: %s (byte 0x%02X)%s", yp->problem,
                   (unsigned)yp->problem_value, hint);
  return fail_at(p, line, col, "YAML syntax error: %s%s%s",
                 yp->problem ? yp->problem : "unknown problem", context, hint);
}

/* Refuses the YAML features a sweep has no use for, rather than half-supporting them. */
static int check_plain_node(parse_t *p, const yaml_event_t *ev, const yaml_char_t *anchor,
                            const yaml_char_t *tag) {
  int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
  if (anchor != NULL)
    return fail_at(p, line, col,
                   "anchors (&%s) are not supported in sweep files: write the values out",
                   (const char *)anchor);
  if (tag != NULL) {
    const char *t = (const char *)tag, *core = "tag:yaml.org,2002:";
    int is_core = strncmp(t, core, strlen(core)) == 0;
    return fail_at(p, line, col,
                   "tags (%s%s) are not supported in sweep files: write the value without it",
                   is_core ? "!!" : "", is_core ? t + strlen(core) : t);
  }
  return 0;
}

static int tree_load(parse_t *p) {
  yaml_parser_t yp;
  if (!yaml_parser_initialize(&yp))
    return tf_err_set(p->err, TF_ENOMEM, "%s: out of memory parsing YAML", p->file);
  yaml_parser_set_input_string(&yp, (const unsigned char *)p->text, p->len);
  node_t **stack = NULL;
  size_t depth = 0, cap = 0;
  int documents = 0, rc = 0, done = 0;
  while (rc == 0 && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&yp, &ev)) {
      rc = syntax_error(p, &yp);
      break;
    }
    node_t *node = NULL;
    int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
    switch (ev.type) {
      case YAML_STREAM_END_EVENT: done = 1; break;
      case YAML_DOCUMENT_START_EVENT:
        if (documents++ > 0)
          rc = fail_at(p, line, col,
                       "a second YAML document starts here; a sweep file holds one document");
        break;
      case YAML_ALIAS_EVENT:
        rc = fail_at(p, line, col,
                     "aliases (*%s) are not supported in sweep files: write the values out",
                     (const char *)ev.data.alias.anchor);
        break;
      case YAML_SCALAR_EVENT:
        rc = check_plain_node(p, &ev, ev.data.scalar.anchor, ev.data.scalar.tag);
        if (rc != 0) break;
        node = node_new(p, NODE_SCALAR, ev.start_mark);
        if (node == NULL) break;
        node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        node->len = ev.data.scalar.length;
        node->text = malloc(node->len + 1);
        if (node->text == NULL) {
          node = NULL;
          break;
        }
        memcpy(node->text, ev.data.scalar.value, node->len);
        node->text[node->len] = '\0';
        break;
      case YAML_SEQUENCE_START_EVENT:
        rc = check_plain_node(p, &ev, ev.data.sequence_start.anchor, ev.data.sequence_start.tag);
        if (rc == 0) node = node_new(p, NODE_SEQ, ev.start_mark);
        break;
      case YAML_MAPPING_START_EVENT:
        rc = check_plain_node(p, &ev, ev.data.mapping_start.anchor, ev.data.mapping_start.tag);
        if (rc == 0) node = node_new(p, NODE_MAP, ev.start_mark);
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        if (depth > 0) depth--;
        break;
      default: break;
    }
    int is_node = ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
                  ev.type == YAML_MAPPING_START_EVENT;
    yaml_event_delete(&ev);
    if (rc != 0 || !is_node) continue;
    if (node == NULL) {
      rc = tf_err_set(p->err, TF_ENOMEM, "%s: out of memory parsing YAML", p->file);
      break;
    }
    if (depth == 0) {
      p->root = node;
    } else if (node_append(stack[depth - 1], node) != 0) {
      rc = tf_err_set(p->err, TF_ENOMEM, "%s: out of memory parsing YAML", p->file);
      break;
    }
    if (node->kind != NODE_SCALAR) {
      if (depth == cap) {
        size_t ncap = cap ? 2 * cap : 16;
        node_t **s = realloc(stack, ncap * sizeof *s);
        if (s == NULL) {
          rc = tf_err_set(p->err, TF_ENOMEM, "%s: out of memory parsing YAML", p->file);
          break;
        }
        stack = s;
        cap = ncap;
      }
      stack[depth++] = node;
    }
  }
  free(stack);
  yaml_parser_delete(&yp);
  return rc;
}

/* ---- values -------------------------------------------------------------------------------- */

static int is_null(const node_t *n) {
  if (n->kind != NODE_SCALAR || !n->plain) return 0;
  return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
         strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

/* What a node is, for "got ..." in messages. */
static const char *describe(const node_t *n, char *buf, size_t size) {
  if (n->kind == NODE_SEQ) return "a list";
  if (n->kind == NODE_MAP) return "a mapping";
  if (is_null(n)) return "no value";
  int shown = n->len > 40 ? 40 : (int)n->len;
  const char *more = n->len > 40 ? "..." : "";
  if (n->plain)
    snprintf(buf, size, "'%.*s%s'", shown, n->text, more);
  else
    snprintf(buf, size, "the quoted string \"%.*s%s\"", shown, n->text, more);
  return buf;
}

static int read_int(const parse_t *p, const node_t *n, const char *path, const char *what,
                    long long lo, long long hi, long long *out) {
  char got[80];
  if (n->kind != NODE_SCALAR || is_null(n) || !n->plain)
    return fail(p, n, "%s: expected %s, got %s%s", path, what, describe(n, got, sizeof got),
                n->kind == NODE_SCALAR && !n->plain ? " (numbers are written without quotes)"
                                                    : "");
  const char *s = n->text;
  size_t i = s[0] == '+' || s[0] == '-';
  int digits = s[i] != '\0';
  for (; s[i] != '\0'; i++)
    if (!isdigit((unsigned char)s[i])) digits = 0;
  if (!digits) return fail(p, n, "%s: expected %s, got %s", path, what, describe(n, got, sizeof got));
  errno = 0;
  long long x = strtoll(s, NULL, 10);
  if (errno == ERANGE || x < lo || x > hi) {
    if (hi == INT_MAX)
      return fail(p, n, "%s: must be at least %lld, got %s", path, lo, s);
    return fail(p, n, "%s: must be between %lld and %lld, got %s", path, lo, hi, s);
  }
  *out = x;
  return 0;
}

static int read_real(const parse_t *p, const node_t *n, const char *path,
                     const key_rule_t *rule, double *out) {
  char got[80];
  if (n->kind != NODE_SCALAR || is_null(n) || !n->plain)
    return fail(p, n, "%s: expected a real number, got %s%s", path,
                describe(n, got, sizeof got),
                n->kind == NODE_SCALAR && !n->plain ? " (numbers are written without quotes)"
                                                    : "");
  const char *s = n->text;
  int digits = 0, other = 0;
  for (size_t i = 0; s[i] != '\0'; i++) {
    if (isdigit((unsigned char)s[i]))
      digits = 1;
    else if (strchr("+-.eE", s[i]) == NULL)
      other = 1;
  }
  char *end = NULL;
  double x = digits && !other ? strtod(s, &end) : 0;
  if (!digits || other || end == s || *end != '\0') {
    int special = strstr(s, "inf") || strstr(s, "Inf") || strstr(s, "INF") || strstr(s, "nan") ||
                  strstr(s, "NaN") || strstr(s, "NAN");
    return fail(p, n, "%s: expected a %sreal number, got %s", path, special ? "finite " : "",
                describe(n, got, sizeof got));
  }
  if (!isfinite(x)) return fail(p, n, "%s: %s is too large", path, s);
  int lo_ok = rule->rmin_open ? x > rule->rmin : x >= rule->rmin;
  int hi_ok = rule->rmax_open ? x < rule->rmax : x <= rule->rmax;
  if (!lo_ok || !hi_ok) {
    if (isinf(rule->rmax))
      return fail(p, n, "%s: must be %s %g, got %s", path,
                  rule->rmin_open ? "greater than" : "at least", rule->rmin, s);
    return fail(p, n, "%s: must be in %c%g, %g%c, got %s", path, rule->rmin_open ? '(' : '[',
                rule->rmin, rule->rmax, rule->rmax_open ? ')' : ']', s);
  }
  *out = x;
  return 0;
}

/* A string scalar of at most size - 1 bytes with no NUL in it. */
static int read_string(const parse_t *p, const node_t *n, const char *path, const char *what,
                       size_t size) {
  char got[80];
  if (n->kind != NODE_SCALAR || is_null(n))
    return fail(p, n, "%s: expected %s, got %s", path, what, describe(n, got, sizeof got));
  if (strlen(n->text) != n->len) return fail(p, n, "%s: the text contains a NUL character", path);
  if (n->len >= size)
    return fail(p, n, "%s: at most %zu bytes, got %zu", path, size - 1, n->len);
  return 0;
}

/* One of names[0..count): its index, or a message with the expected names and a suggestion. */
static int read_name(const parse_t *p, const node_t *n, const char *path, const char *noun,
                     const char *const *names, size_t count, int *out) {
  char what[64];
  snprintf(what, sizeof what, "a%s %s name", strchr("aeiou", noun[0]) ? "n" : "", noun);
  int rc = read_string(p, n, path, what, 256);
  if (rc != 0) return rc;
  for (size_t i = 0; i < count; i++) {
    if (strcmp(n->text, names[i]) == 0) {
      *out = (int)i;
      return 0;
    }
  }
  char expected[256];
  join_names(names, count, expected, sizeof expected);
  const char *hint = tf_text_closest(n->text, names, count);
  if (hint != NULL)
    return fail(p, n, "%s: unknown %s '%s' — did you mean '%s'? (expected %s)", path, noun,
                n->text, hint, expected);
  return fail(p, n, "%s: unknown %s '%s' (expected %s)", path, noun, n->text, expected);
}

/* Reads the value of key from node into v; messages point at the node. */
static int value_read(const parse_t *p, key_id_t key, const node_t *n, value_t *v) {
  const key_rule_t *rule = &key_rules[key];
  const char *path = key_docs[key].key;
  char got[80];
  memset(v, 0, sizeof *v);
  switch (rule->type) {
    case VT_TEXT: {
      if (is_null(n)) return 0;
      int rc = read_string(p, n, path, "text", sizeof v->s);
      if (rc == 0) memcpy(v->s, n->text, n->len + 1);
      return rc;
    }
    case VT_CHOICE: {
      const char *names[8];
      for (int i = 0; i < rule->n_choices; i++) names[i] = rule->choice(i);
      int idx = 0;
      int rc = read_name(p, n, path, rule->noun, names, (size_t)rule->n_choices, &idx);
      v->i = idx;
      return rc;
    }
    case VT_DATASET: {
      size_t count = 0;
      while (tf_data_names[count] != NULL) count++;
      int idx = 0;
      int rc = read_name(p, n, path, "dataset", tf_data_names, count, &idx);
      if (rc == 0) snprintf(v->s, sizeof v->s, "%s", tf_data_names[idx]);
      return rc;
    }
    case VT_INT: return read_int(p, n, path, "an integer", rule->imin, rule->imax, &v->i);
    case VT_REAL: return read_real(p, n, path, rule, &v->r);
    case VT_HIDDEN: {
      if (n->kind != NODE_SEQ)
        return fail(p, n, "%s: expected a list of layer widths such as [300, 100], got %s", path,
                    describe(n, got, sizeof got));
      if (n->n > TF_MAX_HIDDEN)
        return fail(p, n, "%s: at most %d hidden layers, got %zu", path, TF_MAX_HIDDEN, n->n);
      for (size_t i = 0; i < n->n; i++) {
        long long w = 0;
        int rc = read_int(p, n->items[i], path, "an integer layer width", 1, HIDDEN_WIDTH_MAX, &w);
        if (rc != 0) return rc;
        v->list[i] = (int)w;
      }
      v->n = (int)n->n;
      return 0;
    }
    case VT_INIT: {
      int rc = read_string(p, n, path, "an initialiser such as glorot_normal or normal(0.1)", 256);
      if (rc != 0) return rc;
      tf_err_t e;
      if (tf_init_parse(n->text, &v->init, &e) != 0) return fail(p, n, "%s: %s", path, e.msg);
      return 0;
    }
    case VT_WEIGHTS: {
      if (n->kind != NODE_SEQ)
        return fail(p, n, "%s: expected a list such as [init, final] ([] for none), got %s", path,
                    describe(n, got, sizeof got));
      const node_t *first[3] = {NULL, NULL, NULL};
      for (size_t i = 0; i < n->n; i++) {
        int idx = 0;
        int rc = read_name(p, n->items[i], path, "snapshot", snapshot_names, 3, &idx);
        if (rc != 0) return rc;
        if (first[idx] != NULL)
          return fail(p, n->items[i], "%s: '%s' is listed twice (first at %d:%d)", path,
                      snapshot_names[idx], first[idx]->line, first[idx]->col);
        first[idx] = n->items[i];
        v->i |= snapshot_bits[idx];
      }
      return 0;
    }
    case VT_GRID: break;
  }
  return 0;
}

/* The one setter every value goes through, for the base config and for every grid task. */
static void value_apply(key_id_t key, const value_t *v, tf_config_t *cfg) {
  switch (key) {
    case KEY_NAME: memcpy(cfg->name, v->s, sizeof cfg->name); break;
    case KEY_DATASET: /* one of tf_data_names, all far shorter than the field */
      memcpy(cfg->dataset, v->s, sizeof cfg->dataset);
      cfg->dataset[sizeof cfg->dataset - 1] = '\0';
      break;
    case KEY_VALIDATION: cfg->validation = (int)v->i; break;
    case KEY_HIDDEN:
      cfg->n_hidden = v->n;
      memcpy(cfg->hidden, v->list, sizeof cfg->hidden);
      break;
    case KEY_OPTIMIZER: cfg->optimizer = (tf_optimizer_kind_t)v->i; break;
    case KEY_LR: cfg->lr = v->r; break;
    case KEY_MOMENTUM: cfg->momentum = v->r; break;
    case KEY_BETA1: cfg->beta1 = v->r; break;
    case KEY_BETA2: cfg->beta2 = v->r; break;
    case KEY_EPS: cfg->eps = v->r; break;
    case KEY_BATCH: cfg->batch = (int)v->i; break;
    case KEY_ITERATIONS: cfg->iterations = (long)v->i; break;
    case KEY_EVAL_EVERY: cfg->eval_every = (int)v->i; break;
    case KEY_SPARSE_BELOW: cfg->sparse_below = v->r; break;
    case KEY_INIT: cfg->init = v->init; break;
    case KEY_ROUNDS: cfg->rounds = (int)v->i; break;
    case KEY_RATE: cfg->rate = v->r; break;
    case KEY_OUTPUT_RATE: cfg->output_rate = v->r; break;
    case KEY_SCOPE: cfg->scope = (tf_prune_scope_t)v->i; break;
    case KEY_REWIND: cfg->rewind = (long)v->i; break;
    case KEY_CONTROL: cfg->control = (tf_control_t)v->i; break;
    case KEY_SEED: cfg->seed = (uint64_t)v->i; break;
    case KEY_WEIGHTS: cfg->record_weights = (unsigned)v->i; break;
    case KEY_GRID:
    case KEY_COUNT: break;
  }
}

static void real_text(double x, char *buf, size_t size) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) return;
  }
}

static void value_text(key_id_t key, const value_t *v, char *buf, size_t size) {
  const key_rule_t *rule = &key_rules[key];
  if (size == 0) return;
  buf[0] = '\0';
  switch (rule->type) {
    case VT_TEXT:
    case VT_DATASET: snprintf(buf, size, "%s", v->s); break;
    case VT_CHOICE: snprintf(buf, size, "%s", rule->choice((int)v->i)); break;
    case VT_INT: snprintf(buf, size, "%lld", v->i); break;
    case VT_REAL: real_text(v->r, buf, size); break;
    case VT_INIT: tf_init_format(&v->init, buf, size); break;
    case VT_HIDDEN:
    case VT_WEIGHTS: {
      size_t used = 0;
      int count = rule->type == VT_HIDDEN ? v->n : 3;
      const char *sep = "";
      used += (size_t)snprintf(buf, size, "[");
      for (int i = 0; i < count && used < size; i++) {
        if (rule->type == VT_WEIGHTS && !(v->i & snapshot_bits[i])) continue;
        if (rule->type == VT_HIDDEN)
          used += (size_t)snprintf(buf + used, size - used, "%s%d", sep, v->list[i]);
        else
          used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, snapshot_names[i]);
        sep = ", ";
      }
      if (used < size) snprintf(buf + used, size - used, "]");
      break;
    }
    case VT_GRID: break;
  }
}

/* A total order on the values of one type, so repeats in a grid list are found by sorting. */
static int value_cmp(value_type_t type, const value_t *a, const value_t *b) {
  switch (type) {
    case VT_INT:
    case VT_CHOICE:
    case VT_WEIGHTS: return (a->i > b->i) - (a->i < b->i);
    case VT_REAL: return (a->r > b->r) - (a->r < b->r);
    case VT_TEXT:
    case VT_DATASET: return strcmp(a->s, b->s);
    case VT_HIDDEN:
      if (a->n != b->n) return (a->n > b->n) - (a->n < b->n);
      for (int i = 0; i < a->n; i++)
        if (a->list[i] != b->list[i]) return (a->list[i] > b->list[i]) - (a->list[i] < b->list[i]);
      return 0;
    case VT_INIT: {
      if (a->init.kind != b->init.kind) return (a->init.kind > b->init.kind) - (a->init.kind < b->init.kind);
      /* "normal" and "normal(0.1)" are one initialiser when 0.1 is the default. */
      double pa = isnan(a->init.param) ? tf_init_default_param(a->init.kind) : a->init.param;
      double pb = isnan(b->init.param) ? tf_init_default_param(b->init.kind) : b->init.param;
      if (isnan(pa) || isnan(pb)) return isnan(pb) - isnan(pa);
      return (pa > pb) - (pa < pb);
    }
    case VT_GRID: break;
  }
  return 0;
}

typedef struct sort_item {
  const value_t *v;
  value_type_t type;
  int index;
} sort_item_t;

static int sort_item_cmp(const void *pa, const void *pb) {
  const sort_item_t *a = pa, *b = pb;
  int c = value_cmp(a->type, a->v, b->v);
  return c != 0 ? c : (a->index > b->index) - (a->index < b->index);
}

/* ---- keys ---------------------------------------------------------------------------------- */

static int key_find(const char *path) {
  for (int k = 0; k < KEY_COUNT; k++)
    if (strcmp(key_docs[k].key, path) == 0) return k;
  return -1;
}

static const char *key_leaf(const char *path) {
  const char *dot = strchr(path, '.');
  return dot != NULL ? dot + 1 : path;
}

/* " — did you mean 'train.lr'?" for a key that is close to a leaf of another section, or "". */
static void leaf_hint(const char *leaf, char *buf, size_t size) {
  const char *leaves[KEY_COUNT];
  int ids[KEY_COUNT], n = 0;
  for (int k = 0; k < KEY_COUNT; k++) {
    if (strchr(key_docs[k].key, '.') == NULL) continue;
    leaves[n] = key_leaf(key_docs[k].key);
    ids[n++] = k;
  }
  buf[0] = '\0';
  const char *hit = tf_text_closest(leaf, leaves, (size_t)n);
  for (int i = 0; hit != NULL && i < n; i++)
    if (leaves[i] == hit) snprintf(buf, size, " — did you mean '%s'?", key_docs[ids[i]].key);
}

static int unknown_top_key(const parse_t *p, const node_t *key) {
  const char *names[KEY_COUNT + N_SECTIONS];
  size_t n = 0;
  for (size_t s = 0; s < N_SECTIONS; s++) names[n++] = section_names[s];
  for (int k = 0; k < KEY_COUNT; k++)
    if (strchr(key_docs[k].key, '.') == NULL) names[n++] = key_docs[k].key;
  if (key_find(key->text) >= 0) {
    char section[32];
    snprintf(section, sizeof section, "%.*s", (int)(strchr(key->text, '.') - key->text), key->text);
    return fail(p, key,
                "unknown key '%s': dotted paths are for grid keys; write it nested, as %s: "
                "{%s: ...}",
                key->text, section, key_leaf(key->text));
  }
  const char *hint = tf_text_closest(key->text, names, n);
  if (hint != NULL) return fail(p, key, "unknown key '%s' — did you mean '%s'?", key->text, hint);
  char leaf[96];
  leaf_hint(key->text, leaf, sizeof leaf);
  if (leaf[0] != '\0') return fail(p, key, "unknown key '%s'%s", key->text, leaf);
  char expected[256];
  join_names(names, n, expected, sizeof expected);
  return fail(p, key, "unknown key '%s' (expected %s)", key->text, expected);
}

static int unknown_section_key(const parse_t *p, const char *section, const node_t *key) {
  const char *names[KEY_COUNT];
  const char *paths[KEY_COUNT];
  size_t n = 0, slen = strlen(section);
  for (int k = 0; k < KEY_COUNT; k++) {
    const char *path = key_docs[k].key;
    if (strncmp(path, section, slen) == 0 && path[slen] == '.') {
      paths[n] = path;
      names[n++] = path + slen + 1;
    }
  }
  const char *hint = tf_text_closest(key->text, names, n);
  for (size_t i = 0; hint != NULL && i < n; i++)
    if (names[i] == hint)
      return fail(p, key, "unknown key '%s.%s' — did you mean '%s'?", section, key->text,
                  paths[i]);
  char other[96];
  leaf_hint(key->text, other, sizeof other);
  if (other[0] == '\0') {
    int k = key_find(key->text);
    if (k >= 0) snprintf(other, sizeof other, " — did you mean top-level '%s'?", key->text);
  }
  if (other[0] != '\0')
    return fail(p, key, "unknown key '%s.%s'%s", section, key->text, other);
  char expected[256];
  join_names(names, n, expected, sizeof expected);
  return fail(p, key, "unknown key '%s.%s' (expected %s under %s)", section, key->text, expected,
              section);
}

/* Checks that key i of a mapping is a scalar not seen before in the same mapping; `section`
 * is NULL for the top level. */
static int map_key_check(const parse_t *p, const node_t *map, size_t i, const char *section) {
  const node_t *key = map->items[2 * i];
  char got[80];
  if (key->kind != NODE_SCALAR || strlen(key->text) != key->len)
    return fail(p, key, "%s%skeys are names, got %s", section ? section : "",
                section ? ": " : "", describe(key, got, sizeof got));
  for (size_t j = 0; j < i; j++) {
    const node_t *prev = map->items[2 * j];
    if (prev->kind == NODE_SCALAR && strcmp(prev->text, key->text) == 0)
      return fail(p, key, "duplicate key '%s%s%s' (first at line %d, again at line %d)",
                  section ? section : "", section ? "." : "", key->text, prev->line, key->line);
  }
  return 0;
}

static int key_set(parse_t *p, key_id_t key, const node_t *keynode, const node_t *val) {
  if (key == KEY_GRID) {
    p->grid_key = keynode;
    p->grid = val;
    return 0;
  }
  value_t v;
  int rc = value_read(p, key, val, &v);
  if (rc != 0) return rc;
  value_apply(key, &v, &p->sw->base);
  p->set_at[key] = keynode;
  return 0;
}

static int walk_section(parse_t *p, const char *section, const node_t *map) {
  char got[80];
  if (is_null(map)) return 0; /* "train:" with every setting commented out */
  if (map->kind != NODE_MAP) {
    const char *example = "";
    for (int k = KEY_COUNT - 1; k >= 0; k--)
      if (strncmp(key_docs[k].key, section, strlen(section)) == 0 &&
          key_docs[k].key[strlen(section)] == '.')
        example = key_leaf(key_docs[k].key);
    return fail(p, map, "%s: expected a mapping of settings such as '%s: {%s: ...}', got %s",
                section, section, example, describe(map, got, sizeof got));
  }
  for (size_t i = 0; i < map->n / 2; i++) {
    int rc = map_key_check(p, map, i, section);
    if (rc != 0) return rc;
    const node_t *key = map->items[2 * i];
    char path[128];
    snprintf(path, sizeof path, "%s.%s", section, key->text);
    int k = strlen(key->text) < 64 ? key_find(path) : -1;
    if (k < 0) return unknown_section_key(p, section, key);
    rc = key_set(p, (key_id_t)k, key, map->items[2 * i + 1]);
    if (rc != 0) return rc;
  }
  return 0;
}

static int walk_top(parse_t *p) {
  const node_t *root = p->root;
  if (root == NULL)
    return fail_at(p, 1, 1,
                   "the file is empty: a sweep is a mapping of keys, as short as 'name: x'");
  if (root->kind != NODE_MAP) {
    char got[80];
    return fail(p, root,
                "the top level must be a mapping of keys (name:, data:, train:, grid:, ...), "
                "got %s",
                describe(root, got, sizeof got));
  }
  for (size_t i = 0; i < root->n / 2; i++) {
    int rc = map_key_check(p, root, i, NULL);
    if (rc != 0) return rc;
    const node_t *key = root->items[2 * i], *val = root->items[2 * i + 1];
    int k = key_find(key->text);
    if (k >= 0 && strchr(key->text, '.') == NULL) {
      rc = key_set(p, (key_id_t)k, key, val);
    } else {
      int section = -1;
      for (size_t s = 0; s < N_SECTIONS; s++)
        if (strcmp(key->text, section_names[s]) == 0) section = (int)s;
      rc = section >= 0 ? walk_section(p, section_names[section], val) : unknown_top_key(p, key);
    }
    if (rc != 0) return rc;
  }
  return 0;
}

/* ---- the grid ------------------------------------------------------------------------------ */

static int unknown_grid_key(const parse_t *p, const node_t *key, const node_t *val) {
  int k = key_find(key->text);
  if (k == KEY_NAME) return fail(p, key, "grid: name cannot be a grid axis: a sweep has one name");
  if (k == KEY_GRID) return fail(p, key, "grid: a grid cannot hold another grid");
  if (k == KEY_WEIGHTS)
    return fail(p, key,
                "grid: record.weights cannot be a grid axis: every task stores the same weight "
                "snapshots");
  static const char *const section_examples[N_SECTIONS] = {"data.dataset", "model.hidden",
                                                           "train.lr", "prune.rate", "seed"};
  for (size_t s = 0; s < N_SECTIONS; s++) {
    if (strcmp(key->text, section_names[s]) != 0) continue;
    return fail(p, key, "grid: keys are dotted paths such as '%s: [...]'; '%s' is a section%s",
                section_examples[s], key->text,
                val->kind == NODE_MAP ? " and cannot hold a nested mapping here" : "");
  }
  const char *names[KEY_COUNT];
  size_t n = 0;
  for (int j = 0; j < KEY_COUNT; j++)
    if (key_rules[j].gridable) names[n++] = key_docs[j].key;
  const char *hint = tf_text_closest(key->text, names, n);
  char buf[96] = "";
  if (hint != NULL)
    snprintf(buf, sizeof buf, " — did you mean '%s'?", hint);
  else
    leaf_hint(key_leaf(key->text), buf, sizeof buf);
  if (buf[0] != '\0') return fail(p, key, "grid: unknown key '%s'%s", key->text, buf);
  return fail(p, key,
              "grid: unknown key '%s' (grid keys are dotted paths such as init, seed, "
              "prune.rate, train.lr)",
              key->text);
}

static int walk_axis(parse_t *p, key_id_t k, const node_t *key, const node_t *list) {
  const char *path = key_docs[k].key;
  char got[80];
  const char *example = k == KEY_HIDDEN ? "[[300, 100], [500, 300]]"
                        : k == KEY_INIT ? "[glorot_normal, he_normal]"
                                        : "[a, b, c]";
  if (list->kind != NODE_SEQ)
    return fail(p, list, "grid: %s: expected a list of values such as %s, got %s", path, example,
                describe(list, got, sizeof got));
  if (list->n == 0)
    return fail(p, list, "grid: %s: the list is empty; give at least one value", path);
  if (k == KEY_HIDDEN && list->items[0]->kind != NODE_SEQ)
    return fail(p, list->items[0],
                "grid: %s: each value is a list of layer widths, as in %s; got %s", path, example,
                describe(list->items[0], got, sizeof got));
  axis_t *ax = &p->sw->axes[p->sw->n_axes];
  ax->key = k;
  ax->line = key->line;
  ax->col = key->col;
  ax->values = calloc(list->n, sizeof *ax->values);
  if (ax->values == NULL) return tf_err_set(p->err, TF_ENOMEM, "%s: out of memory", p->file);
  p->sw->n_axes++;
  for (size_t i = 0; i < list->n; i++) {
    int rc = value_read(p, k, list->items[i], &ax->values[i]);
    if (rc != 0) return rc;
    ax->n++;
  }
  sort_item_t *items = malloc(list->n * sizeof *items);
  if (items == NULL) return tf_err_set(p->err, TF_ENOMEM, "%s: out of memory", p->file);
  for (int i = 0; i < ax->n; i++) items[i] = (sort_item_t){&ax->values[i], key_rules[k].type, i};
  qsort(items, (size_t)ax->n, sizeof *items, sort_item_cmp);
  /* The repeat the reader meets first: the earliest second occurrence of any value. */
  int repeat = -1, original = -1;
  for (int i = 0; i < ax->n;) {
    int j = i + 1;
    while (j < ax->n && value_cmp(items[i].type, items[i].v, items[j].v) == 0) j++;
    if (j - i > 1 && (repeat < 0 || items[i + 1].index < repeat)) {
      repeat = items[i + 1].index;
      original = items[i].index;
    }
    i = j;
  }
  free(items);
  if (repeat >= 0) {
    char text[128];
    value_text(k, &ax->values[repeat], text, sizeof text);
    const node_t *a = list->items[original], *b = list->items[repeat];
    return fail(p, b,
                "grid: %s: the value %s is listed twice (first at %d:%d); it would make identical "
                "tasks",
                path, text, a->line, a->col);
  }
  return 0;
}

static int walk_grid(parse_t *p) {
  const node_t *grid = p->grid;
  char got[80];
  if (grid == NULL || is_null(grid)) return 0;
  if (grid->kind != NODE_MAP)
    return fail(p, grid,
                "grid: expected a mapping of keys to lists of values, such as 'grid: {seed: [1, "
                "2, 3]}', got %s",
                describe(grid, got, sizeof got));
  for (size_t i = 0; i < grid->n / 2; i++) {
    int rc = map_key_check(p, grid, i, "grid");
    if (rc != 0) return rc;
    const node_t *key = grid->items[2 * i], *val = grid->items[2 * i + 1];
    int k = key_find(key->text);
    if (k < 0 || !key_rules[k].gridable) return unknown_grid_key(p, key, val);
    if (p->sw->n_axes == TF_SWEEP_MAX_AXES)
      return fail(p, key, "grid: at most %d axes; %s would be axis %d", TF_SWEEP_MAX_AXES,
                  key->text, TF_SWEEP_MAX_AXES + 1);
    rc = walk_axis(p, (key_id_t)k, key, val);
    if (rc != 0) return rc;
  }
  tf_sweep_t *sw = p->sw;
  double product = 1;
  for (int a = 0; a < sw->n_axes; a++) product *= sw->axes[a].n;
  if (product > (double)TF_SWEEP_MAX_TASKS) {
    char sizes[TF_ERR_MSG_MAX / 2];
    size_t used = 0;
    sizes[0] = '\0';
    for (int a = 0; a < sw->n_axes && used < sizeof sizes; a++)
      used += (size_t)snprintf(sizes + used, sizeof sizes - used, "%s%s: %d", a ? " x " : "",
                               key_docs[sw->axes[a].key].key, sw->axes[a].n);
    return fail(p, p->grid_key, "grid: %.0f tasks (%s) is more than the %ld a sweep may have",
                product, sizes, TF_SWEEP_MAX_TASKS);
  }
  sw->tasks = 1;
  for (int a = sw->n_axes - 1; a >= 0; a--) {
    sw->stride[a] = sw->tasks;
    sw->tasks *= sw->axes[a].n;
  }
  return 0;
}

/* ---- cross-key rules ----------------------------------------------------------------------- */

static int mentions(const char *msg, key_id_t key) {
  return strstr(msg, key_docs[key].key) != NULL;
}

static int axis_of(const tf_sweep_t *sw, key_id_t key) {
  for (int a = 0; a < sw->n_axes; a++)
    if (sw->axes[a].key == key) return a;
  return -1;
}

/* tf_config_check names the keys of a broken rule by their paths: point at the last of them
 * the file sets, the one most likely written against the others. */
static int check_tasks(parse_t *p) {
  tf_sweep_t *sw = p->sw;
  tf_err_t e;
  if (tf_config_check(&sw->base, &e) != 0) {
    int swept = 0;
    const node_t *at = NULL;
    for (int k = 0; k < KEY_COUNT; k++) {
      if (!mentions(e.msg, (key_id_t)k)) continue;
      if (axis_of(sw, (key_id_t)k) >= 0) swept = 1;
      const node_t *n = p->set_at[k];
      if (n != NULL && (at == NULL || n->line > at->line || (n->line == at->line && n->col > at->col)))
        at = n;
    }
    /* A rule broken by the fixed keys alone breaks every task: say so without a task label. */
    if (!swept) return at != NULL ? fail(p, at, "%s", e.msg) : fail_at(p, 1, 1, "%s", e.msg);
  }
  if (sw->n_axes == 0) return 0;
  for (long t = 0; t < sw->tasks; t++) {
    tf_config_t cfg;
    tf_grid_task(sw, t, &cfg, NULL);
    if (tf_config_check(&cfg, &e) == 0) continue;
    char label[TF_ERR_MSG_MAX / 2];
    size_t used = 0;
    label[0] = '\0';
    for (int a = 0; a < sw->n_axes && used < sizeof label; a++) {
      char text[128];
      tf_grid_value_text(sw, a, t, text, sizeof text);
      used += (size_t)snprintf(label + used, sizeof label - used, "%s%s=%s", a ? ", " : "",
                               key_docs[sw->axes[a].key].key, text);
    }
    int line = p->grid_key->line, col = p->grid_key->col;
    for (int a = 0; a < sw->n_axes; a++) {
      if (mentions(e.msg, sw->axes[a].key)) {
        line = sw->axes[a].line;
        col = sw->axes[a].col;
      }
    }
    return fail_at(p, line, col, "task %ld (%s): %s", t, label, e.msg);
  }
  return 0;
}

/* ---- public -------------------------------------------------------------------------------- */

void tf_sweep_free(tf_sweep_t *sw) {
  if (sw == NULL) return;
  for (int a = 0; a < sw->n_axes; a++) free(sw->axes[a].values);
  free(sw->text);
  free(sw);
}

int tf_sweep_parse(tf_sweep_t **out, const char *text, size_t len, const char *filename,
                   tf_err_t *err) {
  *out = NULL;
  if (text == NULL) text = "";
  parse_t p = {.file = filename, .text = text, .len = len, .err = err};
  if (len > TF_SWEEP_MAX_BYTES)
    return fail_at(&p, 1, 1,
                   "the file is %zu bytes; a sweep file may be at most %d bytes, as it is stored "
                   "whole in the results file",
                   len, TF_SWEEP_MAX_BYTES);
  const char *nul = memchr(text, '\0', len);
  if (nul != NULL) {
    int line, col;
    offset_mark(text, len, (size_t)(nul - text), &line, &col);
    return fail_at(&p, line, col, "NUL byte in the file: a sweep file is UTF-8 text");
  }
  tf_sweep_t *sw = calloc(1, sizeof *sw);
  char *copy = malloc(len + 1);
  if (sw == NULL || copy == NULL) {
    free(sw);
    free(copy);
    return tf_err_set(err, TF_ENOMEM, "%s: out of memory", filename);
  }
  memcpy(copy, text, len);
  copy[len] = '\0';
  sw->text = copy;
  sw->len = len;
  sw->tasks = 1;
  tf_config_default(&sw->base);
  p.sw = sw;
  int rc = tree_load(&p);
  if (rc == 0) rc = walk_top(&p);
  if (rc == 0) rc = walk_grid(&p);
  if (rc == 0) rc = check_tasks(&p);
  tree_free(&p);
  if (rc != 0) {
    tf_sweep_free(sw);
    return rc;
  }
  *out = sw;
  return 0;
}

int tf_sweep_load(tf_sweep_t **out, const char *path, tf_err_t *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (f == NULL) return tf_err_set(err, TF_EIO, "%s: cannot open: %s", path, strerror(errno));
  char *buf = malloc(TF_SWEEP_MAX_BYTES + 1);
  if (buf == NULL) {
    fclose(f);
    return tf_err_set(err, TF_ENOMEM, "%s: out of memory", path);
  }
  size_t len = fread(buf, 1, TF_SWEEP_MAX_BYTES + 1, f);
  int read_errno = ferror(f) ? errno : 0;
  struct stat st;
  int known_size = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
  fclose(f);
  int rc;
  if (read_errno != 0) {
    rc = tf_err_set(err, TF_EIO, "%s: cannot read: %s", path, strerror(read_errno));
  } else if (len > TF_SWEEP_MAX_BYTES) {
    parse_t p = {.file = path, .err = err};
    rc = fail_at(&p, 1, 1,
                 "the file is %s%zu bytes; a sweep file may be at most %d bytes, as it is stored "
                 "whole in the results file",
                 known_size ? "" : "more than ",
                 known_size ? (size_t)st.st_size : (size_t)TF_SWEEP_MAX_BYTES,
                 TF_SWEEP_MAX_BYTES);
  } else {
    rc = tf_sweep_parse(out, buf, len, path, err);
  }
  free(buf);
  return rc;
}

const char *tf_sweep_text(const tf_sweep_t *sw) { return sw->text; }
const char *tf_sweep_name(const tf_sweep_t *sw) { return sw->base.name; }
const tf_config_t *tf_sweep_base(const tf_sweep_t *sw) { return &sw->base; }

const tf_sweep_key_t *tf_sweep_keys(size_t *count) {
  if (count != NULL) *count = KEY_COUNT;
  return key_docs;
}

long tf_grid_tasks(const tf_sweep_t *sw) { return sw->tasks; }
int tf_grid_axes(const tf_sweep_t *sw) { return sw->n_axes; }

static const axis_t *axis_get(const tf_sweep_t *sw, int axis) {
  return axis >= 0 && axis < sw->n_axes ? &sw->axes[axis] : NULL;
}

const char *tf_grid_axis_key(const tf_sweep_t *sw, int axis) {
  const axis_t *ax = axis_get(sw, axis);
  return ax != NULL ? key_docs[ax->key].key : NULL;
}

tf_axis_kind_t tf_grid_axis_kind(const tf_sweep_t *sw, int axis) {
  const axis_t *ax = axis_get(sw, axis);
  if (ax == NULL) return TF_AXIS_TEXT;
  value_type_t t = key_rules[ax->key].type;
  return t == VT_INT ? TF_AXIS_INT : t == VT_REAL ? TF_AXIS_REAL : TF_AXIS_TEXT;
}

int tf_grid_axis_size(const tf_sweep_t *sw, int axis) {
  const axis_t *ax = axis_get(sw, axis);
  return ax != NULL ? ax->n : 0;
}

int tf_grid_value_index(const tf_sweep_t *sw, int axis, long task) {
  const axis_t *ax = axis_get(sw, axis);
  if (ax == NULL || task < 0 || task >= sw->tasks) return 0;
  return (int)(task / sw->stride[axis] % ax->n);
}

static const value_t *value_get(const tf_sweep_t *sw, int axis, long task) {
  const axis_t *ax = axis_get(sw, axis);
  if (ax == NULL || task < 0 || task >= sw->tasks) return NULL;
  return &ax->values[tf_grid_value_index(sw, axis, task)];
}

void tf_grid_value_text(const tf_sweep_t *sw, int axis, long task, char *buf, size_t size) {
  const value_t *v = value_get(sw, axis, task);
  if (size == 0) return;
  if (v == NULL) {
    buf[0] = '\0';
    return;
  }
  value_text(sw->axes[axis].key, v, buf, size);
}

double tf_grid_value_real(const tf_sweep_t *sw, int axis, long task) {
  const value_t *v = value_get(sw, axis, task);
  if (v == NULL) return NAN;
  switch (tf_grid_axis_kind(sw, axis)) {
    case TF_AXIS_REAL: return v->r;
    case TF_AXIS_INT: return (double)v->i;
    case TF_AXIS_TEXT: break;
  }
  return NAN;
}

long long tf_grid_value_int(const tf_sweep_t *sw, int axis, long task) {
  const value_t *v = value_get(sw, axis, task);
  if (v == NULL) return 0;
  switch (tf_grid_axis_kind(sw, axis)) {
    case TF_AXIS_INT: return v->i;
    case TF_AXIS_REAL: return (long long)v->r;
    case TF_AXIS_TEXT: break;
  }
  return 0;
}

int tf_grid_task(const tf_sweep_t *sw, long task, tf_config_t *cfg, tf_err_t *err) {
  if (task < 0 || task >= sw->tasks)
    return tf_err_set(err, TF_EINPUT, "task %ld is out of range: the sweep has %ld tasks", task,
                      sw->tasks);
  *cfg = sw->base;
  for (int a = 0; a < sw->n_axes; a++) {
    const axis_t *ax = &sw->axes[a];
    value_apply(ax->key, &ax->values[task / sw->stride[a] % ax->n], cfg);
  }
  return 0;
}
