/* Shards of a sweep: families kept whole, longest-processing-time-first onto the least loaded
 * shard, so that N jobs of an array finish at about the same time. */
#include "ticketfarm/shard.h"

#include <stdlib.h>
#include <string.h>

#include "ticketfarm/family.h"
#include "ticketfarm/grid.h"
#include "ticketfarm/ticket.h"

int tf_shard_parse(const char *text, tf_shard_t *shard, tf_err_t *err) {
  char *end;
  long k = strtol(text, &end, 10);
  long n = -1;
  if (end != text && *end == '/' && end[1] >= '0' && end[1] <= '9') {
    const char *p = end + 1;
    n = strtol(p, &end, 10);
    if (*end != '\0') n = -1;
  }
  if (n < 1 || n > TF_SHARD_MAX || k < 0 || k >= n || text[0] < '0' || text[0] > '9')
    return tf_err_set(err, TF_EINPUT,
                      "--shard takes K/N with 0 <= K < N <= %d (e.g. 0/4), not '%s'",
                      TF_SHARD_MAX, text);
  shard->k = (int)k;
  shard->n = (int)n;
  return 0;
}

typedef struct family {
  double cost;
  long first; /* its lowest task */
} family_t;

/* Largest first; equal costs in task order. */
static int cmp_family(const void *a, const void *b) {
  const family_t *x = a, *y = b;
  if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
  return (x->first > y->first) - (x->first < y->first);
}

/* A binary min-heap of shards by (load, shard): the least loaded shard on top. */
typedef struct heap {
  double *load; /* (n) by shard */
  int *at;      /* (n) heap slot -> shard */
  int n;
} heap_t;

static int heap_less(const heap_t *h, int i, int j) {
  int a = h->at[i], b = h->at[j];
  if (h->load[a] != h->load[b]) return h->load[a] < h->load[b];
  return a < b;
}

static void heap_down(heap_t *h, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->n && heap_less(h, l, m)) m = l;
    if (r < h->n && heap_less(h, r, m)) m = r;
    if (m == i) return;
    int t = h->at[i];
    h->at[i] = h->at[m];
    h->at[m] = t;
    i = m;
  }
}

int tf_shard_assign(const tf_sweep_t *sw, int n, int *shard_of, double *load, tf_err_t *err) {
  if (n < 1 || n > TF_SHARD_MAX)
    return tf_err_set(err, TF_EINPUT, "shards: %d is not between 1 and %d", n, TF_SHARD_MAX);
  const long tasks = tf_grid_tasks(sw);
  /* slot[t]: the index in fam of task t's family, before fam is sorted. */
  long *slot = malloc((size_t)tasks * sizeof *slot);
  family_t *fam = malloc((size_t)tasks * sizeof *fam);
  heap_t h = {.load = calloc((size_t)n, sizeof(double)), .at = malloc((size_t)n * sizeof(int)),
              .n = n};
  int *fam_shard = NULL;
  int rc = 0;
  if (slot == NULL || fam == NULL || h.load == NULL || h.at == NULL) {
    rc = tf_err_set(err, TF_ENOMEM, "shards: no memory for %ld tasks", tasks);
    goto done;
  }
  long n_fam = 0;
  for (long t = 0; t < tasks; t++) {
    tf_config_t cfg;
    if ((rc = tf_grid_task(sw, t, &cfg, err)) < 0) goto done;
    long f = tf_family_of(sw, t);
    if (f == t) {
      slot[t] = n_fam;
      fam[n_fam++] = (family_t){0.0, t};
    } else {
      slot[t] = slot[f]; /* f < t: a family's first task comes first */
    }
    fam[slot[t]].cost += tf_ticket_cost(&cfg);
  }
  /* Sorting moves the families: remember each one's shard by its first task. */
  qsort(fam, (size_t)n_fam, sizeof *fam, cmp_family);
  fam_shard = malloc((size_t)tasks * sizeof *fam_shard);
  if (fam_shard == NULL) {
    rc = tf_err_set(err, TF_ENOMEM, "shards: no memory for %ld tasks", tasks);
    goto done;
  }
  for (int s = 0; s < n; s++) h.at[s] = s; /* all loads 0: already a heap */
  for (long i = 0; i < n_fam; i++) {
    int s = h.at[0];
    fam_shard[fam[i].first] = s;
    h.load[s] += fam[i].cost;
    heap_down(&h, 0);
  }
  for (long t = 0; t < tasks; t++) shard_of[t] = fam_shard[tf_family_of(sw, t)];
  if (load != NULL) memcpy(load, h.load, (size_t)n * sizeof *load);
done:
  free(slot);
  free(fam);
  free(fam_shard);
  free(h.load);
  free(h.at);
  return rc;
}
