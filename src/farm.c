/* The MPI task farm: rank 0 hands out tasks longest-first and runs tasks itself between
 * requests; idle ranks wait in test-and-sleep loops so no core spins. */
#include "ticketfarm/farm.h"

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ticketfarm/data.h"
#include "ticketfarm/log.h"
#include "ticketfarm/store.h"
#include "ticketfarm/ticket.h"

enum { TAG_REQUEST = 101, TAG_TASK = 102 };
enum { MSG_LEN = 3 }; /* request: {finished task or -1, its status, unused}; reply: {task or -1} */

/* Sleep between polls of an idle rank: long enough to free the core, short against a task. */
#define IDLE_SLEEP_NS 2000000L

typedef struct dataset_slot {
  char name[32];
  tf_dataset_t data;
  int loaded;
} dataset_slot_t;

typedef struct farm {
  const tf_sweep_t *sw;
  const tf_farm_options_t *opt;
  tf_store_t *store;
  int rank, size;
  char host[64];
  dataset_slot_t datasets[4];
  int n_datasets;
  /* rank 0 only */
  long *queue;        /* task ids, longest expected first */
  double *cost;       /* (tasks) expected cost */
  long n_queue, next; /* queue[next..n_queue) not yet handed out */
  long done, failed, running;
  int stopped;        /* workers told to stop */
  double cost_total, cost_done;
  double started, last_progress;
  /* worker side: a request sent early, before the current task's last writes */
  int request_sent;
} farm_t;

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void idle_sleep(void) {
  struct timespec ts = {0, IDLE_SLEEP_NS};
  nanosleep(&ts, NULL);
}

static void format_duration(double s, char *buf, size_t size) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, size, "?");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, size, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
  else
    snprintf(buf, size, "%lds", t);
}

static void progress(farm_t *f, int force) {
  double now = wall_now();
  if (!force && (f->opt->progress_every <= 0 || now - f->last_progress < f->opt->progress_every))
    return;
  f->last_progress = now;
  double elapsed = now - f->started;
  char el[32], eta[32];
  format_duration(elapsed, el, sizeof el);
  double left = f->cost_total - f->cost_done;
  format_duration(f->cost_done > 0 ? elapsed * left / f->cost_done : NAN, eta, sizeof eta);
  tf_log(TF_LOG_INFO, "%ld/%ld tasks done, %ld running, %ld failed, %s elapsed, ETA %s",
         f->done + f->failed, f->n_queue, f->running, f->failed, el,
         f->done + f->failed == f->n_queue ? "0s" : eta);
}

typedef struct queued {
  double cost;
  long task;
} queued_t;

/* Longest expected first; equal costs in task order, so the hand-out order is reproducible. */
static int cmp_queued(const void *a, const void *b) {
  const queued_t *x = a, *y = b;
  if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
  return (x->task > y->task) - (x->task < y->task);
}

static int build_queue(farm_t *f, tf_err_t *err) {
  long n = tf_grid_tasks(f->sw);
  f->queue = malloc((size_t)n * sizeof *f->queue);
  f->cost = malloc((size_t)n * sizeof *f->cost);
  if (f->queue == NULL || f->cost == NULL)
    return tf_err_set(err, TF_ENOMEM, "out of memory for a queue of %ld tasks", n);
  queued_t *order = malloc((size_t)n * sizeof *order);
  if (order == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory for a queue of %ld tasks", n);
  for (long i = 0; i < n; i++) {
    tf_config_t cfg;
    int rc = tf_grid_task(f->sw, i, &cfg, err);
    if (rc < 0) {
      free(order);
      return rc;
    }
    f->cost[i] = tf_ticket_cost(&cfg);
    f->cost_total += f->cost[i];
    order[i] = (queued_t){f->cost[i], i};
  }
  qsort(order, (size_t)n, sizeof *order, cmp_queued);
  for (long i = 0; i < n; i++) f->queue[i] = order[i].task;
  free(order);
  f->n_queue = n;
  return 0;
}

static const tf_dataset_t *dataset_for(farm_t *f, const char *name) {
  for (int i = 0; i < f->n_datasets; i++)
    if (strcmp(f->datasets[i].name, name) == 0) return &f->datasets[i].data;
  return NULL;
}

/* Every rank loads every dataset the sweep uses, once; any failure is reported on every rank. */
static int load_datasets(farm_t *f, tf_err_t *err) {
  const char *root = f->opt->data_root != NULL ? f->opt->data_root : tf_data_root();
  int rc = 0;
  long n = tf_grid_tasks(f->sw);
  for (long i = 0; i < n && rc == 0; i++) {
    tf_config_t cfg;
    rc = tf_grid_task(f->sw, i, &cfg, err);
    if (rc < 0 || dataset_for(f, cfg.dataset) != NULL) continue;
    if (f->n_datasets == (int)(sizeof f->datasets / sizeof f->datasets[0])) {
      rc = tf_err_set(err, TF_EINPUT, "too many datasets in one sweep");
      break;
    }
    dataset_slot_t *slot = &f->datasets[f->n_datasets];
    snprintf(slot->name, sizeof slot->name, "%s", cfg.dataset);
    rc = tf_data_load(&slot->data, root, cfg.dataset, err);
    if (rc == 0) {
      slot->loaded = 1;
      f->n_datasets++;
    }
  }
  int worst = rc, any;
  MPI_Allreduce(&worst, &any, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (any < 0 && rc == 0)
    rc = tf_err_set(err, any, "another rank could not load a dataset");
  return rc;
}

/* Rank 0: answer every pending request. A request may report a finished task. */
static void serve(farm_t *f) {
  for (;;) {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, &flag, &status);
    if (!flag) break;
    long msg[MSG_LEN];
    MPI_Recv(msg, MSG_LEN, MPI_LONG, status.MPI_SOURCE, TAG_REQUEST, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    if (msg[0] >= 0) {
      f->running--;
      if (msg[1] == TF_TASK_DONE)
        f->done++;
      else
        f->failed++;
      f->cost_done += f->cost[msg[0]];
      progress(f, f->opt->progress_every > 0 && wall_now() - f->last_progress > 1.0);
    }
    long reply[MSG_LEN] = {-1, 0, 0};
    if (f->next < f->n_queue) {
      reply[0] = f->queue[f->next++];
      f->running++;
    } else {
      f->stopped++;
    }
    MPI_Send(reply, MSG_LEN, MPI_LONG, status.MPI_SOURCE, TAG_TASK, MPI_COMM_WORLD);
  }
  progress(f, 0);
}

typedef struct task_ctx {
  farm_t *farm;
  long task;
  tf_config_t cfg;
  tf_err_t *err;
} task_ctx_t;

static void send_request(farm_t *f, long finished, int status) {
  long msg[MSG_LEN] = {finished, status, 0};
  MPI_Send(msg, MSG_LEN, MPI_LONG, 0, TAG_REQUEST, MPI_COMM_WORLD);
  f->request_sent = 1;
}

static int sink_snapshot(void *ctx, tf_snapshot_t which, const float *params, size_t n) {
  task_ctx_t *c = ctx;
  return tf_store_write_snapshot(c->farm->store, c->task, which, params, n, c->err);
}

static int sink_round(void *ctx, const tf_round_t *round) {
  task_ctx_t *c = ctx;
  farm_t *f = c->farm;
  /* Ask for the next task before the last writes of this one, so the answer is waiting. */
  if (f->rank != 0 && round->round == c->cfg.rounds) send_request(f, c->task, TF_TASK_DONE);
  return tf_store_write_round(f->store, c->task, round, c->err);
}

static int sink_poll(void *ctx) {
  task_ctx_t *c = ctx;
  if (c->farm->rank == 0 && c->farm->size > 1) serve(c->farm);
  return 0;
}

/* Runs one task and records its outcome. Returns its status, or a negative code for an error
 * that must stop the job (the file or memory failed). */
static int run_task(farm_t *f, long task, tf_err_t *err) {
  task_ctx_t c = {.farm = f, .task = task, .err = err};
  int rc = tf_grid_task(f->sw, task, &c.cfg, err);
  if (rc < 0) return rc;
  tf_ticket_sink_t sink = {.ctx = &c, .snapshot = sink_snapshot, .round_done = sink_round,
                           .poll = sink_poll};
  tf_task_runtime_t rt = {.rank = f->rank, .started = wall_now()};
  snprintf(rt.host, sizeof rt.host, "%s", f->host);
  f->request_sent = 0;
  tf_err_t task_err = {0};
  c.err = &task_err;
  rc = tf_ticket_run(&c.cfg, dataset_for(f, c.cfg.dataset), NULL, &sink, &task_err);
  tf_task_status_t status = TF_TASK_DONE;
  if (rc == TF_EDIVERGED) {
    status = TF_TASK_FAILED;
    rt.fail_reason = task_err.msg;
    tf_log(TF_LOG_WARN, "task %ld failed: %s", task, task_err.msg);
  } else if (rc < 0) {
    *err = task_err;
    return tf_err_prefix(err, "task %ld", task);
  }
  rt.finished = wall_now();
  rc = tf_store_finish_task(f->store, task, status, &rt, err);
  if (rc < 0) return rc;
  return status;
}

static int run_master(farm_t *f, tf_err_t *err) {
  f->started = f->last_progress = wall_now();
  while (f->next < f->n_queue || f->stopped < f->size - 1 || f->running > 0) {
    if (f->size > 1) serve(f);
    if (f->next < f->n_queue) {
      long task = f->queue[f->next++];
      f->running++;
      int rc = run_task(f, task, err);
      if (rc < 0) return rc;
      f->running--;
      if (rc == TF_TASK_DONE)
        f->done++;
      else
        f->failed++;
      f->cost_done += f->cost[task];
      progress(f, f->opt->progress_every > 0 && wall_now() - f->last_progress > 1.0);
    } else {
      idle_sleep();
    }
  }
  progress(f, 1);
  return 0;
}

/* Waits for a message without spinning: MPI's blocking receive busy-polls a whole core. */
static void wait_request(MPI_Request *req) {
  int flag = 0;
  MPI_Test(req, &flag, MPI_STATUS_IGNORE);
  while (!flag) {
    idle_sleep();
    MPI_Test(req, &flag, MPI_STATUS_IGNORE);
  }
}

static int run_worker(farm_t *f, tf_err_t *err) {
  long finished = -1;
  int status = 0;
  for (;;) {
    if (!f->request_sent) send_request(f, finished, status);
    long reply[MSG_LEN];
    MPI_Request req;
    MPI_Irecv(reply, MSG_LEN, MPI_LONG, 0, TAG_TASK, MPI_COMM_WORLD, &req);
    wait_request(&req);
    f->request_sent = 0;
    if (reply[0] < 0) return 0;
    int rc = run_task(f, reply[0], err);
    if (rc < 0) return rc;
    finished = reply[0];
    status = rc;
    /* A failed task ended before its last round: its request goes out now. A done task's
     * request went out before its last write and reported it done. */
  }
}

int tf_farm_run(const tf_sweep_t *sw, const char *out_path, const tf_farm_options_t *opt,
                tf_farm_report_t *report, tf_err_t *err) {
  farm_t f = {.sw = sw, .opt = opt};
  MPI_Comm_rank(MPI_COMM_WORLD, &f.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &f.size);
  if (gethostname(f.host, sizeof f.host) != 0) snprintf(f.host, sizeof f.host, "unknown");
  f.host[sizeof f.host - 1] = '\0';
  if (report != NULL) memset(report, 0, sizeof *report);

  int rc = load_datasets(&f, err);
  if (rc == 0) rc = build_queue(&f, err);
  if (rc == 0) {
    rc = tf_store_create(&f.store, out_path, MPI_COMM_WORLD, sw, err);
    int worst;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (worst < 0 && rc == 0) {
      rc = tf_err_set(err, worst, "another rank could not create %s", out_path);
      tf_store_close(f.store, NULL);
    }
  }
  if (rc == 0) {
    rc = f.rank == 0 ? run_master(&f, err) : run_worker(&f, err);
    if (rc == 0) {
      /* Finished ranks wait here without spinning until every rank is done. */
      MPI_Request barrier;
      MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
      wait_request(&barrier);
      rc = tf_store_close(f.store, err);
    }
  }
  if (rc == 0 && f.rank == 0 && report != NULL) {
    report->tasks = f.n_queue;
    report->done = f.done;
    report->failed = f.failed;
    report->wall_s = wall_now() - f.started;
  }
  for (int i = 0; i < f.n_datasets; i++) tf_data_free(&f.datasets[i].data);
  free(f.queue);
  free(f.cost);
  return rc;
}
