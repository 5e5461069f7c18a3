/* Internal: a YAML document as a plain tree of scalars, sequences and mappings, with positions. */
#ifndef TICKETFARM_YAML_TREE_H
#define TICKETFARM_YAML_TREE_H

#include <stddef.h>

#include "ticketfarm/error.h"

/* Anchors, aliases and tags are refused while the tree is built, so it has no shared nodes and
 * no cycles. */
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

typedef struct yaml_tree {
  node_t **nodes; /* every node, for freeing */
  size_t n_nodes, cap_nodes;
  node_t *root; /* NULL for an empty document */
} yaml_tree_t;

/* Parses text (len bytes) into a zeroed *tree: the first error is TF_EINPUT with
 * "FILE:LINE:COL: ..." (`file` names the text), or TF_ENOMEM. Rank-local. The tree is to be
 * freed with tf__yaml_tree_free whatever the result. */
int tf__yaml_tree_load(yaml_tree_t *tree, const char *file, const char *text, size_t len,
                       tf_err_t *err);
void tf__yaml_tree_free(yaml_tree_t *tree);

/* Line and column (in characters, 1-based) of a byte offset into text. */
void tf__yaml_offset_mark(const char *text, size_t len, size_t offset, int *line, int *col);

/* Whether n is YAML's null: an empty plain scalar, ~, null, Null or NULL. */
int tf__yaml_is_null(const node_t *n);

/* What a node is, for "got ..." in messages: "a list", "no value", "'x'", ... (in buf or a
 * constant). */
const char *tf__yaml_describe(const node_t *n, char *buf, size_t size);

#endif
