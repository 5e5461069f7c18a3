/* The datasets a sweep uses, read once per node into memory the node's ranks share. */
#ifndef TICKETFARM_NODE_DATA_H
#define TICKETFARM_NODE_DATA_H

#include <stddef.h>

#include "ticketfarm/error.h"
#include "ticketfarm/sweep.h"

struct tf_dataset;
typedef struct tf__node_data tf__node_data_t;

/* Reads every dataset the sweep's tasks name from root (NULL: tf_data_root()), each once per
 * node by the node's first rank into an MPI shared-memory window the node's other ranks map.
 * *out is set even on failure (free it with tf__node_data_free). Collective over
 * MPI_COMM_WORLD. */
int tf__node_data_load(tf__node_data_t **out, const tf_sweep_t *sw, const char *root,
                       tf_err_t *err);

/* The loaded dataset called name, NULL if the sweep names no such dataset. Rank-local. */
const struct tf_dataset *tf__node_data_get(const tf__node_data_t *nd, const char *name);

/* Bytes of all the node-shared copies. Rank-local. */
double tf__node_data_bytes(const tf__node_data_t *nd);

/* Frees the windows and nd (NULL is fine). Collective: skip it when a rank-local error is about
 * to abort the job. */
void tf__node_data_free(tf__node_data_t *nd);

#endif
