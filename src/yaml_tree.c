/* The one file that speaks libyaml: a document to a plain tree; syntax errors as file:line:col. */
#include "yaml_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct loader {
  const char *file;
  const char *text;
  size_t len;
  tf_err_t *err;
  yaml_tree_t *tree;
  node_t **stack; /* the open sequences and mappings, innermost last */
  size_t depth, cap;
  int documents;
} loader_t;

static int fail_at(const loader_t *l, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(const loader_t *l, int line, int col, const char *fmt, ...) {
  char msg[TF_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tf_err_set(l->err, TF_EINPUT, "%s:%d:%d: %s", l->file, line, col, msg);
}

static int out_of_memory(const loader_t *l) {
  return tf_err_set(l->err, TF_ENOMEM, "%s: out of memory parsing YAML", l->file);
}

void tf__yaml_offset_mark(const char *text, size_t len, size_t offset, int *line, int *col) {
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

int tf__yaml_is_null(const node_t *n) {
  if (n->kind != NODE_SCALAR || !n->plain) return 0;
  return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
         strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

const char *tf__yaml_describe(const node_t *n, char *buf, size_t size) {
  if (n->kind == NODE_SEQ) return "a list";
  if (n->kind == NODE_MAP) return "a mapping";
  if (tf__yaml_is_null(n)) return "no value";
  int shown = n->len > 40 ? 40 : (int)n->len;
  const char *more = n->len > 40 ? "..." : "";
  if (n->plain)
    snprintf(buf, size, "'%.*s%s'", shown, n->text, more);
  else
    snprintf(buf, size, "the quoted string \"%.*s%s\"", shown, n->text, more);
  return buf;
}

void tf__yaml_tree_free(yaml_tree_t *tree) {
  for (size_t i = 0; i < tree->n_nodes; i++) {
    free(tree->nodes[i]->text);
    free(tree->nodes[i]->items);
    free(tree->nodes[i]);
  }
  free(tree->nodes);
  tree->nodes = NULL;
  tree->n_nodes = tree->cap_nodes = 0;
  tree->root = NULL;
}

static node_t *node_new(yaml_tree_t *tree, node_kind_t kind, yaml_mark_t mark) {
  if (tree->n_nodes == tree->cap_nodes) {
    size_t cap = tree->cap_nodes ? 2 * tree->cap_nodes : 64;
    node_t **nodes = realloc(tree->nodes, cap * sizeof *nodes);
    if (nodes == NULL) return NULL;
    tree->nodes = nodes;
    tree->cap_nodes = cap;
  }
  node_t *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  n->kind = kind;
  n->line = (int)mark.line + 1;
  n->col = (int)mark.column + 1;
  tree->nodes[tree->n_nodes++] = n;
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

static int syntax_error(const loader_t *l, const yaml_parser_t *yp) {
  if (yp->error == YAML_MEMORY_ERROR) return out_of_memory(l);
  int line, col;
  size_t at;
  if (yp->error == YAML_READER_ERROR) {
    at = yp->problem_offset;
    tf__yaml_offset_mark(l->text, l->len, at, &line, &col);
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
  size_t bol = at < l->len ? at : l->len;
  while (bol > 0 && l->text[bol - 1] != '\n') bol--;
  for (size_t i = bol; i < l->len && (l->text[i] == ' ' || l->text[i] == '\t'); i++)
    if (l->text[i] == '\t') hint = "; YAML cannot indent with tabs: use spaces";
  if (yp->error == YAML_READER_ERROR && yp->problem_value != -1)
    return fail_at(l, line, col, "YAML syntax error: %s (byte 0x%02X)%s", yp->problem,
                   (unsigned)yp->problem_value, hint);
  return fail_at(l, line, col, "YAML syntax error: %s%s%s",
                 yp->problem ? yp->problem : "unknown problem", context, hint);
}

/* Refuses the YAML features a sweep has no use for, rather than half-supporting them. */
static int check_plain_node(const loader_t *l, const yaml_event_t *ev, const yaml_char_t *anchor,
                            const yaml_char_t *tag) {
  int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
  if (anchor != NULL)
    return fail_at(l, line, col,
                   "anchors (&%s) are not supported in sweep files: write the values out",
                   (const char *)anchor);
  if (tag != NULL) {
    const char *t = (const char *)tag, *core = "tag:yaml.org,2002:";
    int is_core = strncmp(t, core, strlen(core)) == 0;
    return fail_at(l, line, col,
                   "tags (%s%s) are not supported in sweep files: write the value without it",
                   is_core ? "!!" : "", is_core ? t + strlen(core) : t);
  }
  return 0;
}

static node_t *scalar_new(yaml_tree_t *tree, const yaml_event_t *ev) {
  node_t *node = node_new(tree, NODE_SCALAR, ev->start_mark);
  if (node == NULL) return NULL;
  node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  node->len = ev->data.scalar.length;
  node->text = malloc(node->len + 1);
  if (node->text == NULL) return NULL;
  memcpy(node->text, ev->data.scalar.value, node->len);
  node->text[node->len] = '\0';
  return node;
}

/* The node an event starts into *node (NULL for an event that starts none), or an error. */
static int event_node(loader_t *l, const yaml_event_t *ev, node_t **node) {
  int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1, rc = 0;
  *node = NULL;
  switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
      if (l->documents++ > 0)
        return fail_at(l, line, col,
                       "a second YAML document starts here; a sweep file holds one document");
      return 0;
    case YAML_ALIAS_EVENT:
      return fail_at(l, line, col,
                     "aliases (*%s) are not supported in sweep files: write the values out",
                     (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
      rc = check_plain_node(l, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
      if (rc == 0) *node = scalar_new(l->tree, ev);
      break;
    case YAML_SEQUENCE_START_EVENT:
      rc = check_plain_node(l, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag);
      if (rc == 0) *node = node_new(l->tree, NODE_SEQ, ev->start_mark);
      break;
    case YAML_MAPPING_START_EVENT:
      rc = check_plain_node(l, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
      if (rc == 0) *node = node_new(l->tree, NODE_MAP, ev->start_mark);
      break;
    default: return 0;
  }
  return rc == 0 && *node == NULL ? out_of_memory(l) : rc;
}

/* Hangs node under the innermost open collection (or makes it the root) and opens it if it is
 * a collection. */
static int node_attach(loader_t *l, node_t *node) {
  if (l->depth == 0)
    l->tree->root = node;
  else if (node_append(l->stack[l->depth - 1], node) != 0)
    return out_of_memory(l);
  if (node->kind == NODE_SCALAR) return 0;
  if (l->depth == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    node_t **s = realloc(l->stack, cap * sizeof *s);
    if (s == NULL) return out_of_memory(l);
    l->stack = s;
    l->cap = cap;
  }
  l->stack[l->depth++] = node;
  return 0;
}

int tf__yaml_tree_load(yaml_tree_t *tree, const char *file, const char *text, size_t len,
                       tf_err_t *err) {
  loader_t l = {.file = file, .text = text, .len = len, .err = err, .tree = tree};
  yaml_parser_t yp;
  if (!yaml_parser_initialize(&yp)) return out_of_memory(&l);
  yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
  int rc = 0, done = 0;
  while (rc == 0 && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&yp, &ev)) {
      rc = syntax_error(&l, &yp);
      break;
    }
    node_t *node = NULL;
    if (ev.type == YAML_STREAM_END_EVENT)
      done = 1;
    else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
      l.depth -= l.depth > 0;
    else
      rc = event_node(&l, &ev, &node);
    yaml_event_delete(&ev);
    if (rc == 0 && node != NULL) rc = node_attach(&l, node);
  }
  free(l.stack);
  yaml_parser_delete(&yp);
  return rc;
}
