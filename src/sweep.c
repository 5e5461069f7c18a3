/* Sweep files: the walk from a YAML tree to a checked base config and grid, with
 * file:line:col messages and hints; reading the file; comparing two sweeps. */
#include "ticketfarm/sweep.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sweep_internal.h"
#include "ticketfarm/text.h"

static const char *const section_names[] = {"data",     "model",    "train",
                                             "prune",    "transfer", "analysis",
                                             "record"};
#define N_SECTIONS (sizeof section_names / sizeof section_names[0])

int tf__sweep_fail_at(const parse_t *p, int line, int col, const char *fmt, ...) {
  char msg[TF_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tf_err_set(p->err, TF_EINPUT, "%s:%d:%d: %s", p->file, line, col, msg);
}

int tf__sweep_fail(const parse_t *p, const node_t *n, const char *fmt, ...) {
  char msg[TF_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tf_err_set(p->err, TF_EINPUT, "%s:%d:%d: %s", p->file, n->line, n->col, msg);
}

/* "a, b or c" */
void tf__sweep_join_names(const char *const *names, size_t n, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used < size; i++) {
    const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
    int w = snprintf(buf + used, size - used, "%s%s", sep, names[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}

typedef struct sort_item {
  const value_t *v;
  value_type_t type;
  int index;
} sort_item_t;

static int sort_item_cmp(const void *pa, const void *pb) {
  const sort_item_t *a = pa, *b = pb;
  int c = tf__sweep_value_cmp(a->type, a->v, b->v);
  return c != 0 ? c : (a->index > b->index) - (a->index < b->index);
}

/* ---- keys ---------------------------------------------------------------------------------- */

static int key_find(const char *path) {
  for (int k = 0; k < KEY_COUNT; k++)
    if (strcmp(tf__sweep_key_docs[k].key, path) == 0) return k;
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
    if (strchr(tf__sweep_key_docs[k].key, '.') == NULL) continue;
    leaves[n] = key_leaf(tf__sweep_key_docs[k].key);
    ids[n++] = k;
  }
  buf[0] = '\0';
  const char *hit = tf_text_closest(leaf, leaves, (size_t)n);
  for (int i = 0; hit != NULL && i < n; i++)
    if (leaves[i] == hit)
      snprintf(buf, size, " — did you mean '%s'?", tf__sweep_key_docs[ids[i]].key);
}

static int unknown_top_key(const parse_t *p, const node_t *key) {
  const char *names[KEY_COUNT + N_SECTIONS];
  size_t n = 0;
  for (size_t s = 0; s < N_SECTIONS; s++) names[n++] = section_names[s];
  for (int k = 0; k < KEY_COUNT; k++)
    if (strchr(tf__sweep_key_docs[k].key, '.') == NULL) names[n++] = tf__sweep_key_docs[k].key;
  if (key_find(key->text) >= 0) {
    char section[32];
    snprintf(section, sizeof section, "%.*s", (int)(strchr(key->text, '.') - key->text), key->text);
    return tf__sweep_fail(
        p, key,
        "unknown key '%s': dotted paths are for grid keys; write it nested, as %s: "
        "{%s: ...}",
        key->text, section, key_leaf(key->text));
  }
  const char *hint = tf_text_closest(key->text, names, n);
  if (hint != NULL)
    return tf__sweep_fail(p, key, "unknown key '%s' — did you mean '%s'?", key->text, hint);
  char leaf[96];
  leaf_hint(key->text, leaf, sizeof leaf);
  if (leaf[0] != '\0') return tf__sweep_fail(p, key, "unknown key '%s'%s", key->text, leaf);
  char expected[256];
  tf__sweep_join_names(names, n, expected, sizeof expected);
  return tf__sweep_fail(p, key, "unknown key '%s' (expected %s)", key->text, expected);
}

static int unknown_section_key(const parse_t *p, const char *section, const node_t *key) {
  const char *names[KEY_COUNT];
  const char *paths[KEY_COUNT];
  size_t n = 0, slen = strlen(section);
  for (int k = 0; k < KEY_COUNT; k++) {
    const char *path = tf__sweep_key_docs[k].key;
    if (strncmp(path, section, slen) == 0 && path[slen] == '.') {
      paths[n] = path;
      names[n++] = path + slen + 1;
    }
  }
  const char *hint = tf_text_closest(key->text, names, n);
  for (size_t i = 0; hint != NULL && i < n; i++)
    if (names[i] == hint)
      return tf__sweep_fail(p, key, "unknown key '%s.%s' — did you mean '%s'?", section, key->text,
                            paths[i]);
  char other[96];
  leaf_hint(key->text, other, sizeof other);
  if (other[0] == '\0') {
    int k = key_find(key->text);
    if (k >= 0) snprintf(other, sizeof other, " — did you mean top-level '%s'?", key->text);
  }
  if (other[0] != '\0')
    return tf__sweep_fail(p, key, "unknown key '%s.%s'%s", section, key->text, other);
  char expected[256];
  tf__sweep_join_names(names, n, expected, sizeof expected);
  return tf__sweep_fail(p, key, "unknown key '%s.%s' (expected %s under %s)", section, key->text,
                        expected, section);
}

/* Checks that key i of a mapping is a scalar not seen before in the same mapping; `section`
 * is NULL for the top level. */
static int map_key_check(const parse_t *p, const node_t *map, size_t i, const char *section) {
  const node_t *key = map->items[2 * i];
  char got[80];
  if (key->kind != NODE_SCALAR || strlen(key->text) != key->len)
    return tf__sweep_fail(p, key, "%s%skeys are names, got %s", section ? section : "",
                          section ? ": " : "", tf__yaml_describe(key, got, sizeof got));
  for (size_t j = 0; j < i; j++) {
    const node_t *prev = map->items[2 * j];
    if (prev->kind == NODE_SCALAR && strcmp(prev->text, key->text) == 0)
      return tf__sweep_fail(p, key, "duplicate key '%s%s%s' (first at line %d, again at line %d)",
                            section ? section : "", section ? "." : "", key->text, prev->line,
                            key->line);
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
  int rc = tf__sweep_value_read(p, key, val, &v);
  if (rc != 0) return rc;
  tf__sweep_value_apply(key, &v, &p->sw->base);
  p->set_at[key] = keynode;
  return 0;
}

static int walk_section(parse_t *p, const char *section, const node_t *map) {
  char got[80];
  if (tf__yaml_is_null(map)) return 0; /* "train:" with every setting commented out */
  if (map->kind != NODE_MAP) {
    const char *example = "";
    for (int k = KEY_COUNT - 1; k >= 0; k--)
      if (strncmp(tf__sweep_key_docs[k].key, section, strlen(section)) == 0 &&
          tf__sweep_key_docs[k].key[strlen(section)] == '.')
        example = key_leaf(tf__sweep_key_docs[k].key);
    return tf__sweep_fail(p, map,
                          "%s: expected a mapping of settings such as '%s: {%s: ...}', got %s",
                          section, section, example, tf__yaml_describe(map, got, sizeof got));
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
  const node_t *root = p->tree.root;
  if (root == NULL)
    return tf__sweep_fail_at(
        p, 1, 1, "the file is empty: a sweep is a mapping of keys, as short as 'name: x'");
  if (root->kind != NODE_MAP) {
    char got[80];
    return tf__sweep_fail(
        p, root,
        "the top level must be a mapping of keys (name:, data:, train:, grid:, ...), "
        "got %s",
        tf__yaml_describe(root, got, sizeof got));
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
  if (k == KEY_NAME)
    return tf__sweep_fail(p, key, "grid: name cannot be a grid axis: a sweep has one name");
  if (k == KEY_GRID) return tf__sweep_fail(p, key, "grid: a grid cannot hold another grid");
  if (k == KEY_WEIGHTS)
    return tf__sweep_fail(
        p, key,
        "grid: record.weights cannot be a grid axis: every task stores the same weight "
        "snapshots");
  static const char *const section_examples[N_SECTIONS] = {"data.dataset", "model.hidden",
                                                           "train.lr", "prune.rate", "seed"};
  for (size_t s = 0; s < N_SECTIONS; s++) {
    if (strcmp(key->text, section_names[s]) != 0) continue;
    return tf__sweep_fail(p, key,
                          "grid: keys are dotted paths such as '%s: [...]'; '%s' is a section%s",
                          section_examples[s], key->text,
                          val->kind == NODE_MAP ? " and cannot hold a nested mapping here" : "");
  }
  const char *names[KEY_COUNT];
  size_t n = 0;
  for (int j = 0; j < KEY_COUNT; j++)
    if (tf__sweep_key_rules[j].gridable) names[n++] = tf__sweep_key_docs[j].key;
  const char *hint = tf_text_closest(key->text, names, n);
  char buf[96] = "";
  if (hint != NULL)
    snprintf(buf, sizeof buf, " — did you mean '%s'?", hint);
  else
    leaf_hint(key_leaf(key->text), buf, sizeof buf);
  if (buf[0] != '\0') return tf__sweep_fail(p, key, "grid: unknown key '%s'%s", key->text, buf);
  return tf__sweep_fail(p, key,
                        "grid: unknown key '%s' (grid keys are dotted paths such as init, seed, "
                        "prune.rate, train.lr)",
                        key->text);
}

static int walk_axis(parse_t *p, key_id_t k, const node_t *key, const node_t *list) {
  const char *path = tf__sweep_key_docs[k].key;
  char got[80];
  const char *example = k == KEY_HIDDEN       ? "[[300, 100], [500, 300]]"
                        : k == KEY_MILESTONES ? "[[20000, 30000], []]"
                        : k == KEY_CONV       ? "[[32, pool], [64, 64, pool]]"
                        : k == KEY_INIT ? "[glorot_normal, he_normal]"
                                        : "[a, b, c]";
  if (list->kind != NODE_SEQ)
    return tf__sweep_fail(p, list, "grid: %s: expected a list of values such as %s, got %s", path,
                          example, tf__yaml_describe(list, got, sizeof got));
  if (list->n == 0)
    return tf__sweep_fail(p, list, "grid: %s: the list is empty; give at least one value", path);
  if ((k == KEY_HIDDEN || k == KEY_MILESTONES || k == KEY_CONV) &&
      list->items[0]->kind != NODE_SEQ)
    return tf__sweep_fail(p, list->items[0],
                          "grid: %s: each value is a list of %s, as in %s; got %s", path,
                          k == KEY_HIDDEN       ? "layer widths"
                          : k == KEY_MILESTONES ? "iterations"
                                                : "channel counts and pools",
                          example,
                          tf__yaml_describe(list->items[0], got, sizeof got));
  axis_t *ax = &p->sw->axes[p->sw->n_axes];
  ax->key = k;
  ax->line = key->line;
  ax->col = key->col;
  ax->values = calloc(list->n, sizeof *ax->values);
  if (ax->values == NULL) return tf_err_set(p->err, TF_ENOMEM, "%s: out of memory", p->file);
  p->sw->n_axes++;
  for (size_t i = 0; i < list->n; i++) {
    int rc = tf__sweep_value_read(p, k, list->items[i], &ax->values[i]);
    if (rc != 0) return rc;
    ax->n++;
  }
  sort_item_t *items = malloc(list->n * sizeof *items);
  if (items == NULL) return tf_err_set(p->err, TF_ENOMEM, "%s: out of memory", p->file);
  for (int i = 0; i < ax->n; i++)
    items[i] = (sort_item_t){&ax->values[i], tf__sweep_key_rules[k].type, i};
  qsort(items, (size_t)ax->n, sizeof *items, sort_item_cmp);
  /* The repeat the reader meets first: the earliest second occurrence of any value. */
  int repeat = -1, original = -1;
  for (int i = 0; i < ax->n;) {
    int j = i + 1;
    while (j < ax->n && tf__sweep_value_cmp(items[i].type, items[i].v, items[j].v) == 0) j++;
    if (j - i > 1 && (repeat < 0 || items[i + 1].index < repeat)) {
      repeat = items[i + 1].index;
      original = items[i].index;
    }
    i = j;
  }
  free(items);
  if (repeat >= 0) {
    char text[128];
    tf__sweep_value_text(k, &ax->values[repeat], text, sizeof text);
    const node_t *a = list->items[original], *b = list->items[repeat];
    return tf__sweep_fail(
        p, b,
        "grid: %s: the value %s is listed twice (first at %d:%d); it would make identical "
        "tasks",
        path, text, a->line, a->col);
  }
  return 0;
}

static int walk_grid(parse_t *p) {
  const node_t *grid = p->grid;
  char got[80];
  if (grid == NULL || tf__yaml_is_null(grid)) return 0;
  if (grid->kind != NODE_MAP)
    return tf__sweep_fail(
        p, grid,
        "grid: expected a mapping of keys to lists of values, such as 'grid: {seed: [1, "
        "2, 3]}', got %s",
        tf__yaml_describe(grid, got, sizeof got));
  for (size_t i = 0; i < grid->n / 2; i++) {
    int rc = map_key_check(p, grid, i, "grid");
    if (rc != 0) return rc;
    const node_t *key = grid->items[2 * i], *val = grid->items[2 * i + 1];
    int k = key_find(key->text);
    if (k < 0 || !tf__sweep_key_rules[k].gridable) return unknown_grid_key(p, key, val);
    if (p->sw->n_axes == TF_SWEEP_MAX_AXES)
      return tf__sweep_fail(p, key, "grid: at most %d axes; %s would be axis %d", TF_SWEEP_MAX_AXES,
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
                               tf__sweep_key_docs[sw->axes[a].key].key, sw->axes[a].n);
    return tf__sweep_fail(p, p->grid_key,
                          "grid: %.0f tasks (%s) is more than the %ld a sweep may have", product,
                          sizes, TF_SWEEP_MAX_TASKS);
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
  return strstr(msg, tf__sweep_key_docs[key].key) != NULL;
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
    if (!swept)
      return at != NULL ? tf__sweep_fail(p, at, "%s", e.msg)
                        : tf__sweep_fail_at(p, 1, 1, "%s", e.msg);
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
                               tf__sweep_key_docs[sw->axes[a].key].key, text);
    }
    int line = p->grid_key->line, col = p->grid_key->col;
    for (int a = 0; a < sw->n_axes; a++) {
      if (mentions(e.msg, sw->axes[a].key)) {
        line = sw->axes[a].line;
        col = sw->axes[a].col;
      }
    }
    return tf__sweep_fail_at(p, line, col, "task %ld (%s): %s", t, label, e.msg);
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
    return tf__sweep_fail_at(
        &p, 1, 1,
        "the file is %zu bytes; a sweep file may be at most %d bytes, as it is stored "
        "whole in the results file",
        len, TF_SWEEP_MAX_BYTES);
  const char *nul = memchr(text, '\0', len);
  if (nul != NULL) {
    int line, col;
    tf__yaml_offset_mark(text, len, (size_t)(nul - text), &line, &col);
    return tf__sweep_fail_at(&p, line, col, "NUL byte in the file: a sweep file is UTF-8 text");
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
  int rc = tf__yaml_tree_load(&p.tree, filename, text, len, err);
  if (rc == 0) rc = walk_top(&p);
  if (rc == 0) rc = walk_grid(&p);
  if (rc == 0) rc = check_tasks(&p);
  tf__yaml_tree_free(&p.tree);
  if (rc != 0) {
    tf_sweep_free(sw);
    return rc;
  }
  *out = sw;
  return 0;
}

int tf_sweep_read(const char *path, char **text, size_t *len, tf_err_t *err) {
  *text = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) return tf_err_set(err, TF_EIO, "%s: cannot open: %s", path, strerror(errno));
  char *buf = malloc(TF_SWEEP_MAX_BYTES + 2);
  if (buf == NULL) {
    fclose(f);
    return tf_err_set(err, TF_ENOMEM, "%s: out of memory", path);
  }
  size_t n = fread(buf, 1, TF_SWEEP_MAX_BYTES + 1, f);
  int read_errno = ferror(f) ? errno : 0;
  struct stat st;
  int known_size = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
  fclose(f);
  int rc = 0;
  if (read_errno != 0) {
    rc = tf_err_set(err, TF_EIO, "%s: cannot read: %s", path, strerror(read_errno));
  } else if (n > TF_SWEEP_MAX_BYTES) {
    parse_t p = {.file = path, .err = err};
    rc = tf__sweep_fail_at(&p, 1, 1,
                           "the file is %s%zu bytes; a sweep file may be at most %d bytes, as it "
                           "is stored whole in the results file",
                           known_size ? "" : "more than ",
                           known_size ? (size_t)st.st_size : (size_t)TF_SWEEP_MAX_BYTES,
                           TF_SWEEP_MAX_BYTES);
  }
  if (rc != 0) {
    free(buf);
    return rc;
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return 0;
}

int tf_sweep_load(tf_sweep_t **out, const char *path, tf_err_t *err) {
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc = tf_sweep_read(path, &text, &len, err);
  if (rc == 0) rc = tf_sweep_parse(out, text, len, path, err);
  free(text);
  return rc;
}

int tf_sweep_diff(const tf_sweep_t *stored, const tf_sweep_t *given, char *buf, size_t size) {
  if (size > 0) buf[0] = '\0';
  if (stored->tasks != given->tasks) {
    snprintf(buf, size, "%ld tasks in the file, %ld in the sweep", stored->tasks, given->tasks);
    return 1;
  }
  for (long t = 0; t < given->tasks; t++) {
    tf_config_t a, b;
    tf_grid_task(stored, t, &a, NULL);
    tf_grid_task(given, t, &b, NULL);
    char d[400];
    if (tf_config_diff(&a, &b, d, sizeof d)) {
      snprintf(buf, size, "task %ld: %s (file vs sweep)", t, d);
      return 1;
    }
  }
  return 0;
}

const char *tf_sweep_text(const tf_sweep_t *sw) { return sw->text; }
const char *tf_sweep_name(const tf_sweep_t *sw) { return sw->base.name; }
const tf_config_t *tf_sweep_base(const tf_sweep_t *sw) { return &sw->base; }
