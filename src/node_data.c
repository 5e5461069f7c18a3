/* The sweep's datasets shared per node: one read per node into an MPI shared-memory window,
 * mapped by the node's other ranks, instead of one copy per rank. */
#include "node_data.h"

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ticketfarm/data.h"
#include "ticketfarm/grid.h"
#include "ticketfarm/log.h"

#include "mpi_util.h"

enum { MAX_DATASETS = 4 };

typedef struct dataset_slot {
  char name[32];
  tf_dataset_t data;
  MPI_Win win;  /* the node's shared copy */
  size_t bytes; /* its size */
} dataset_slot_t;

struct tf__node_data {
  dataset_slot_t slot[MAX_DATASETS];
  int n;
};

const tf_dataset_t *tf__node_data_get(const tf__node_data_t *nd, const char *name) {
  for (int i = 0; nd != NULL && i < nd->n; i++)
    if (strcmp(nd->slot[i].name, name) == 0) return &nd->slot[i].data;
  return NULL;
}

double tf__node_data_bytes(const tf__node_data_t *nd) {
  double bytes = 0.0;
  for (int i = 0; nd != NULL && i < nd->n; i++) bytes += (double)nd->slot[i].bytes;
  return bytes;
}

/* One dataset into a new window: read by the node's rank 0, mapped by the others. The reading
 * rank says so in one line per node, which shows where the job's nodes are and that each read
 * the dataset once. */
static int load_one(tf__node_data_t *nd, const char *name, const char *root, MPI_Comm node,
                    int node_rank, tf_err_t *err) {
  if (nd->n == MAX_DATASETS) return tf_err_set(err, TF_EINPUT, "too many datasets in one sweep");
  dataset_slot_t *slot = &nd->slot[nd->n];
  snprintf(slot->name, sizeof slot->name, "%s", name);
  size_t bytes = 0;
  int rc = tf_data_bytes(name, &bytes, err);
  if (rc < 0) return rc;
  slot->bytes = bytes;
  uint8_t *base = NULL;
  MPI_Win_allocate_shared(node_rank == 0 ? (MPI_Aint)bytes : 0, 1, MPI_INFO_NULL, node, &base,
                          &slot->win);
  nd->n++;
  if (node_rank == 0) {
    rc = tf_data_load_into(&slot->data, root, name, base, err);
    int node_size;
    MPI_Comm_size(node, &node_size);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "unknown");
    if (rc == 0)
      tf_log(TF_LOG_INFO, "%s: %.0f MiB read once on node %s for its %d rank%s", name,
             (double)bytes / 1048576.0, host, node_size, node_size == 1 ? "" : "s");
  }
  rc = tf__agree(MPI_COMM_WORLD, rc, err, "loading the datasets");
  if (rc < 0) return rc;
  /* The loads above become visible to the node's other ranks. */
  MPI_Win_lock_all(MPI_MODE_NOCHECK, slot->win);
  MPI_Win_sync(slot->win);
  MPI_Barrier(node);
  MPI_Win_sync(slot->win);
  MPI_Win_unlock_all(slot->win);
  if (node_rank != 0) {
    MPI_Aint size;
    int unit;
    MPI_Win_shared_query(slot->win, 0, &size, &unit, &base);
    rc = tf_data_view(&slot->data, name, base, err);
  }
  return rc;
}

int tf__node_data_load(tf__node_data_t **out, const tf_sweep_t *sw, const char *root,
                       tf_err_t *err) {
  tf__node_data_t *nd = calloc(1, sizeof *nd);
  *out = nd;
  int rc = nd == NULL ? tf_err_set(err, TF_ENOMEM, "out of memory for the datasets") : 0;
  rc = tf__agree(MPI_COMM_WORLD, rc, err, "loading the datasets");
  if (rc < 0) return rc;
  if (root == NULL) root = tf_data_root();
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_rank;
  MPI_Comm_rank(node, &node_rank);
  const long n_tasks = tf_grid_tasks(sw);
  for (long i = 0; i < n_tasks && rc == 0; i++) {
    tf_config_t cfg;
    tf_grid_task(sw, i, &cfg, NULL);
    if (tf__node_data_get(nd, cfg.dataset) == NULL)
      rc = load_one(nd, cfg.dataset, root, node, node_rank, err);
    /* A transfer's target too. */
    const char *target = tf_config_target(&cfg);
    if (rc == 0 && tf__node_data_get(nd, target) == NULL)
      rc = load_one(nd, target, root, node, node_rank, err);
  }
  MPI_Comm_free(&node);
  return tf__agree(MPI_COMM_WORLD, rc, err, "loading the datasets");
}

void tf__node_data_free(tf__node_data_t *nd) {
  if (nd == NULL) return;
  for (int i = 0; i < nd->n; i++) MPI_Win_free(&nd->slot[i].win);
  free(nd);
}
