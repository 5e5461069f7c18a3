/* The MPI task farm: rank 0 hands out tasks longest-first and runs tasks itself between
 * requests; idle ranks wait in test-and-sleep loops so no core spins; a stop request
 * (tf_farm_request_stop, or the time budget) ends every rank at a safe point with the file
 * closed and resumable. */
#include "ticketfarm/farm.h"

#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ticketfarm/data.h"
#include "ticketfarm/family.h"
#include "ticketfarm/lock.h"
#include "ticketfarm/log.h"
#include "ticketfarm/shard.h"
#include "ticketfarm/store.h"
#include "ticketfarm/ticket.h"

#include "clock.h"
#include "farm_internal.h"
#include "mpi_util.h"
#include "node_data.h"

enum { TAG_REQUEST = 101, TAG_TASK = 102, TAG_STOP = 103, TAG_ROUND = 104, TAG_DONE = 105 };
/* request: {1 when the worker stopped on its own signal, 0}; done: {task, its outcome}; round:
 * {task, round}; stop: {-1, 0}. The reply to a request is a family, {n, task 1, .. task n}, or
 * {0} to stop. */
enum { MSG_LEN = 2, REPLY_LEN = 1 + TF_FAMILY_MAX };
/* Outcomes a worker reports besides tf_task_status_t. */
enum { OUTCOME_INTERRUPTED = 100 };

/* Sleep between polls of an idle rank: long enough to free the core, short against a task. */
#define IDLE_SLEEP_NS 2000000L

static volatile sig_atomic_t stop_request;

void tf_farm_request_stop(void) { stop_request = 1; }

/* The task this rank runs, for a fatal signal's handler: lock-free, so async-signal-safe. */
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "the current task needs a lock-free atomic long");
static atomic_long current_task = -1;

long tf_farm_current_task(void) { return atomic_load_explicit(&current_task, memory_order_relaxed); }

int tf_farm_crash_file(const char *out_path, char *buf, size_t size) {
  return snprintf(buf, size, "%s.crashes", out_path);
}

/* What a rank holds besides its task and the datasets: MPI, HDF5, OpenBLAS and the program
 * (VmHWM of a one-rank LeNet-300-100 run, 104 MiB, less its task's resident 21 MiB and the
 * 52 MiB of MNIST: about 30 MiB with Open MPI 4.1 and HDF5 1.10 on Debian 12). */
#define LIBRARY_BYTES (32.0 * 1048576.0)

/* The least of the limits this process lives under, in bytes (0: none known), and its name. */
static double memory_limit(char *what, size_t size) {
  double limit = 0.0;
  what[0] = '\0';
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    limit = (double)pages * (double)page;
    snprintf(what, size, "physical memory");
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (limit == 0.0 || (double)rl.rlim_cur < limit)) {
    limit = (double)rl.rlim_cur;
    snprintf(what, size, "RLIMIT_AS (ulimit -v)");
  }
  /* cgroup v2: this process's group, from /proc/self/cgroup's "0::/path" line. */
  char line[512], path[640] = "/sys/fs/cgroup/memory.max";
  FILE *fp = fopen("/proc/self/cgroup", "r");
  if (fp != NULL) {
    while (fgets(line, sizeof line, fp) != NULL)
      if (strncmp(line, "0::", 3) == 0) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max",
                 strcmp(line + 3, "/") == 0 ? "" : line + 3);
      }
    fclose(fp);
  }
  fp = fopen(path, "r");
  if (fp != NULL) {
    double v = 0.0;
    if (fgets(line, sizeof line, fp) != NULL && strncmp(line, "max", 3) != 0 &&
        (v = strtod(line, NULL)) > 0 && (limit == 0.0 || v < limit)) {
      limit = v;
      snprintf(what, size, "cgroup memory.max");
    }
    fclose(fp);
  }
  return limit;
}

int tf_farm_memory(const tf_sweep_t *sw, tf_farm_memory_t *mem, tf_err_t *err) {
  memset(mem, 0, sizeof *mem);
  mem->largest = -1;
  mem->libraries = LIBRARY_BYTES;
  enum { MAX_SETS = 8 };
  char sets[MAX_SETS][32];
  int n_sets = 0;
  for (long t = 0; t < tf_grid_tasks(sw); t++) {
    tf_config_t cfg;
    double bytes = 0.0;
    int rc = tf_grid_task(sw, t, &cfg, err);
    if (rc == 0) rc = tf_ticket_memory(&cfg, &bytes, err);
    if (rc < 0) return rc;
    if (bytes > mem->task) {
      mem->task = bytes;
      mem->largest = t;
    }
    const char *used[2] = {cfg.dataset, tf_config_target(&cfg)};
    for (int u = 0; u < 2; u++) {
      int seen = 0;
      for (int k = 0; k < n_sets && !seen; k++) seen = strcmp(sets[k], used[u]) == 0;
      if (!seen && n_sets < MAX_SETS) {
        size_t data = 0;
        if ((rc = tf_data_bytes(used[u], &data, err)) < 0) return rc;
        mem->shared += (double)data;
        snprintf(sets[n_sets++], sizeof sets[0], "%s", used[u]);
      }
    }
  }
  mem->limit = memory_limit(mem->limit_what, sizeof mem->limit_what);
  return 0;
}

static const char *mib_text(double b, char *buf, size_t size) {
  if (b >= 1073741824.0)
    snprintf(buf, size, "%.1f GiB", b / 1073741824.0);
  else
    snprintf(buf, size, "%.0f MiB", b / 1048576.0);
  return buf;
}

/* Rank 0, before the lock and the results file: a task that cannot be allocated is refused. */
static int check_memory(const tf_sweep_t *sw, tf_err_t *err) {
  tf_farm_memory_t mem;
  int rc = tf_farm_memory(sw, &mem, err);
  if (rc < 0) return rc;
  double need = mem.task + mem.shared + mem.libraries;
  if (mem.limit <= 0.0 || need <= mem.limit) return 0;
  char task[32], all[32], limit[32];
  return tf_err_set(err, TF_EINPUT,
                    "task %ld needs about %s of memory on its rank (%s with the datasets and "
                    "libraries), more than the %s of this machine's %s: make the network "
                    "smaller (model.hidden), or run where a rank has more memory",
                    mem.largest, mib_text(mem.task, task, sizeof task),
                    mib_text(need, all, sizeof all), mib_text(mem.limit, limit, sizeof limit),
                    mem.limit_what);
}

double tf__farm_wall_now(void) {
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
  double now = tf__clock_now();
  tf_lock_heartbeat(&f->lock);
  if (f->opt->progress_every <= 0 || (!force && now - f->last_progress < f->opt->progress_every))
    return;
  long state[3] = {f->done, f->running, f->failed};
  if (force == 2 && memcmp(state, f->shown, sizeof state) == 0) return;
  memcpy(f->shown, state, sizeof state);
  f->last_progress = now;
  double elapsed = now - f->started;
  char el[32], eta[32];
  format_duration(elapsed, el, sizeof el);
  /* The rate measured when work last finished, counted down since then: a round can take hours,
   * and extrapolating from `elapsed` would make the ETA grow while it runs. A round that takes
   * longer than expected falls back to the extrapolation. */
  double left = f->cost_total - f->cost_done, eta_s = NAN;
  if (f->cost_done > 0) {
    eta_s = (f->done_at - f->started) * left / f->cost_done - (now - f->done_at);
    if (eta_s < 0) eta_s = elapsed * left / f->cost_done;
  }
  format_duration(eta_s, eta, sizeof eta);
  tf_log(TF_LOG_INFO, "%ld/%ld tasks done, %ld running, %ld failed, %s elapsed, ETA %s",
         f->report->done_before + f->done, f->n_tasks, f->running, f->failed, el,
         f->next == f->n_queue && f->running == 0 ? "0s" : eta);
}

static void add_done(farm_t *f, double cost) {
  if (cost <= 0) return;
  f->cost_done += cost;
  f->done_at = tf__clock_now();
}

/* A finished round of a running task counts towards the ETA at once (rounds can be hours). */
static void credit_round(farm_t *f, long task, int round) {
  if (task < 0 || task >= f->n_tasks) return;
  tf_config_t cfg;
  if (tf_grid_task(f->sw, task, &cfg, NULL) < 0) return;
  double share = tf_ticket_round_cost(&cfg, round);
  if (f->credited[task] + share > f->cost[task]) share = f->cost[task] - f->credited[task];
  f->credited[task] += share;
  add_done(f, share);
}

static void count_outcome(farm_t *f, long task, long outcome) {
  f->running--;
  if (outcome == TF_TASK_DONE)
    f->done++;
  else if (outcome == TF_TASK_FAILED)
    f->failed++;
  else
    f->interrupted++;
  if (outcome != OUTCOME_INTERRUPTED) {
    add_done(f, f->cost[task] - f->credited[task]);
    f->credited[task] = f->cost[task]; /* a round note arriving later adds nothing */
  }
  progress(f, tf__clock_now() - f->last_progress > 1.0);
}

/* Rank 0, for a shard's job: which tasks are its own. */
static int shard_tasks(farm_t *f, tf_err_t *err) {
  if (f->opt->shard_n <= 1) return 0;
  f->shard_of = malloc((size_t)f->n_tasks * sizeof *f->shard_of);
  if (f->shard_of == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory for the shards");
  return tf_shard_assign(f->sw, f->opt->shard_n, f->shard_of, NULL, err);
}

/* This process's peak resident memory in bytes (Linux VmHWM), 0 where unknown. */
static double peak_rss(void) {
  FILE *fp = fopen("/proc/self/status", "r");
  if (fp == NULL) return 0.0;
  char line[256];
  double kib = 0.0;
  while (fgets(line, sizeof line, fp) != NULL)
    if (strncmp(line, "VmHWM:", 6) == 0) {
      kib = strtod(line + 6, NULL);
      break;
    }
  fclose(fp);
  return kib * 1024.0;
}

/* Rank 0 decides between creating and resuming out_path; the other ranks follow. */
static int open_store(farm_t *f, const char *out_path, tf_err_t *err) {
  int mode = 0; /* 0 create, 1 open, < 0 error */
  tf_shard_t shard = {f->opt->shard_n > 1 ? f->opt->shard_k : 0,
                      f->opt->shard_n > 1 ? f->opt->shard_n : 1};
  if (f->rank == 0) {
    mode = tf_lock_acquire(&f->lock, out_path, err);
    if (mode == 0 && f->lock.recovered)
      tf_log(TF_LOG_WARN, "took over the lock of a job that is gone (%s)", f->lock.previous);
    int kind = mode == 0 ? tf_store_probe(out_path, err) : mode;
    if (kind == TF_STORE_RESULTS) {
      char *text = NULL;
      tf_sweep_t *old = NULL;
      mode = tf_store_read_sweep(out_path, &text, err);
      if (mode == 0) mode = tf_sweep_parse(&old, text, strlen(text), out_path, err);
      if (mode == 0) {
        char why[512] = "";
        tf_sweep_diff(old, f->sw, why, sizeof why);
        mode = why[0] ? tf_err_set(err, TF_EMISMATCH,
                                   "%s holds results of a different sweep (%s); resume it with "
                                   "the sweep it was started with, or choose another output",
                                   out_path, why)
                      : 1;
      }
      tf_sweep_free(old);
      free(text);
      int same_shard = mode == 1 ? tf_store_check_shard(out_path, &shard, err) : 0;
      if (same_shard < 0) mode = same_shard;
    } else if (kind == TF_STORE_UNREADABLE && f->lock.recovered) {
      tf_log(TF_LOG_WARN, "%s was left unreadable by a job killed before its datasets were "
             "created; starting it afresh", out_path);
      mode = unlink(out_path) == 0 ? 0 : tf_err_set(err, TF_EIO, "%s: cannot remove", out_path);
    } else if (kind == TF_STORE_UNREADABLE) {
      mode = tf_err_set(err, TF_EINPUT, "%s exists and is not an HDF5 file; refusing to "
                        "overwrite it", out_path);
    } else if (kind == TF_STORE_FOREIGN) {
      mode = tf_err_set(err, TF_EINPUT, "%s is an HDF5 file but not ticketfarm results; "
                        "refusing to overwrite it", out_path);
    } else if (kind < 0) {
      mode = kind;
    }
  }
  MPI_Bcast(&mode, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (mode < 0) {
    if (f->rank != 0) tf_err_set(err, mode, "%s cannot be used (see rank 0)", out_path);
    return mode;
  }
  int rc = tf__node_data_load(&f->data, f->sw, f->opt->data_root, err);
  if (rc < 0) return rc;
  f->report->created = mode == 0;
  rc = mode == 0 ? tf_store_create_shard(&f->store, out_path, MPI_COMM_WORLD, f->sw, &shard, err)
                 : tf_store_open(&f->store, out_path, MPI_COMM_WORLD, f->sw, err);
  rc = tf__agree(MPI_COMM_WORLD, rc, err,
                 mode == 0 ? "creating the results file" : "opening the results file");
  if (rc == 0 && f->rank == 0 && tf_store_platform_change(f->store) != NULL)
    tf_log(TF_LOG_WARN, "%s: %s", out_path, tf_store_platform_change(f->store));
  return rc;
}

static int stop_requested(farm_t *f) {
  double ran = tf__clock_now() - f->started;
  if (!f->stopping && (stop_request || (f->opt->stop_after > 0 && ran >= f->opt->stop_after))) {
    f->stopping = 1;
    if (f->rank == 0) {
      tf_log(TF_LOG_INFO, "stopping: %s; running tasks stop at their next safe point",
             stop_request ? "stop requested" : "--stop-after reached");
      long none[MSG_LEN] = {-1, 0};
      for (int w = 1; w < f->size; w++)
        if (!f->worker_stopped[w])
          MPI_Send(none, MSG_LEN, MPI_LONG, w, TAG_STOP, MPI_COMM_WORLD);
    }
  }
  return f->stopping;
}

/* Rank 0: receives a message with `tag` from any rank into msg when one is waiting; returns 1
 * and its source's rank in *source, or 0 without waiting. */
static int take_message(int tag, long msg[MSG_LEN], int *source) {
  int flag = 0;
  MPI_Status status;
  MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, &status);
  if (!flag) return 0;
  MPI_Recv(msg, MSG_LEN, MPI_LONG, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  *source = status.MPI_SOURCE;
  return 1;
}

/* Rank 0: takes the workers' finished-round notes. */
static void take_rounds(farm_t *f) {
  long msg[MSG_LEN];
  int source;
  while (take_message(TAG_ROUND, msg, &source)) credit_round(f, msg[0], (int)msg[1]);
}

/* Rank 0: takes the workers' finished-task notes. */
static void take_dones(farm_t *f) {
  long msg[MSG_LEN];
  int source;
  while (take_message(TAG_DONE, msg, &source)) count_outcome(f, msg[0], msg[1]);
}

/* Rank 0: the next family in the queue into reply ({n, tasks}), counted as running; 0 when the
 * queue is empty or the job is stopping. */
static int next_family(farm_t *f, long reply[REPLY_LEN]) {
  reply[0] = 0;
  if (f->stopping || f->next >= f->n_queue) return 0;
  const long at = f->fam_at[f->next], n = f->fam_at[f->next + 1] - at;
  f->next++;
  reply[0] = n;
  memcpy(reply + 1, f->queue + at, (size_t)n * sizeof *reply);
  f->running += n;
  return (int)n;
}

/* Rank 0: answer every pending request. */
static void serve(farm_t *f) {
  stop_requested(f);
  take_rounds(f);
  take_dones(f);
  long msg[MSG_LEN];
  int source;
  while (take_message(TAG_REQUEST, msg, &source)) {
    /* A worker that stopped on its own signal tells the master the job is ending. */
    if (msg[0] == 1 && !f->stopping) {
      stop_request = 1;
      stop_requested(f);
    }
    long reply[REPLY_LEN];
    if (next_family(f, reply) == 0) {
      f->stopped++;
      f->worker_stopped[source] = 1;
    }
    MPI_Send(reply, (int)(1 + reply[0]), MPI_LONG, source, TAG_TASK, MPI_COMM_WORLD);
  }
  progress(f, 0);
}

/* One member of the family a rank runs. */
typedef struct task_ctx {
  farm_t *farm;
  long task;
  tf_err_t *err;
  int rounds_done, attempts; /* as the file had them when the family started */
  int written;               /* rounds written so far: the next round's index */
} task_ctx_t;

static int sink_snapshot(void *ctx, tf_snapshot_t which, const float *params, size_t n) {
  task_ctx_t *c = ctx;
  return tf_store_write_snapshot(c->farm->store, c->task, which, params, n, c->err);
}

static int sink_round(void *ctx, const tf_round_t *round) {
  task_ctx_t *c = ctx;
  farm_t *f = c->farm;
  int rc = tf_store_write_round(f->store, c->task, round, c->err);
  if (rc == 0) c->written = round->round + 1;
  if (rc == 0 && f->opt->after_round != NULL) f->opt->after_round(c->task, round->round);
  if (rc == 0 && round->next_mask_bits != NULL) {
    if (f->rank == 0) {
      credit_round(f, c->task, round->round);
    } else {
      long msg[MSG_LEN] = {c->task, round->round};
      MPI_Send(msg, MSG_LEN, MPI_LONG, 0, TAG_ROUND, MPI_COMM_WORLD);
    }
  }
  return rc;
}

/* Between training steps: rank 0 serves requests; every rank notices a stop. */
static int sink_poll(void *ctx) {
  farm_t *f = ((task_ctx_t *)ctx)->farm;
  if (f->rank == 0) {
    if (f->size > 1)
      serve(f);
    else
      progress(f, 0);
    return stop_requested(f);
  }
  if (!f->stopping) {
    int flag = 0;
    MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (flag) {
      long none[MSG_LEN];
      MPI_Recv(none, MSG_LEN, MPI_LONG, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      f->stopping = 1;
    }
  }
  return stop_requested(f);
}

/* Training of a member's round begins: a fatal signal from here on is its crash. */
static void sink_training(void *ctx) {
  atomic_store_explicit(&current_task, ((task_ctx_t *)ctx)->task, memory_order_relaxed);
}

/* Reads the state of family member i (tasks[i]) into its context and member, and the family's
 * first round's mask into *bits when a member resumes (allocated; the caller frees it). */
static int family_read(farm_t *f, const long *tasks, int n, task_ctx_t *ctx,
                       tf_family_member_t *mem, uint8_t **bits, tf_err_t *err) {
  int first = -1;
  for (int i = 0; i < n; i++) {
    ctx[i] = (task_ctx_t){.farm = f, .task = tasks[i]};
    int rc = tf_grid_task(f->sw, tasks[i], &mem[i].cfg, err);
    tf_task_status_t status;
    if (rc == 0)
      rc = tf_store_read_task_state(f->store, tasks[i], &status, &ctx[i].rounds_done,
                                    &ctx[i].attempts, err);
    if (rc < 0) return rc;
    ctx[i].written = ctx[i].rounds_done;
    mem[i].start_round = ctx[i].rounds_done;
    mem[i].sink = (tf_ticket_sink_t){.ctx = &ctx[i], .snapshot = sink_snapshot,
                                     .round_done = sink_round, .poll = sink_poll,
                                     .training = sink_training};
    if (ctx[i].rounds_done <= mem[i].cfg.rounds && (first < 0 || ctx[i].rounds_done <
                                                    ctx[first].rounds_done))
      first = i;
  }
  *bits = NULL;
  if (first < 0 || ctx[first].rounds_done == 0) return 0;
  tf_ticket_shape_t shape;
  int rc = tf_ticket_shape(&mem[first].cfg, &shape, err);
  if (rc < 0) return rc;
  *bits = malloc(shape.trunk_mask_bytes);
  if (*bits == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory");
  return tf_store_read_next_mask(f->store, tasks[first], *bits, shape.trunk_mask_bytes, err);
}

/* The outcome of member c after the family ran with rc: a failure or a finished task is
 * recorded; a clean stop before its last round does not count towards the poison limit. */
static int member_outcome(farm_t *f, task_ctx_t *c, const tf_family_member_t *m, int rc,
                          const tf_task_runtime_t *started, tf_err_t *err) {
  tf_task_runtime_t rt = *started;
  tf_task_status_t outcome = TF_TASK_DONE;
  if (m->outcome == TF_EDIVERGED) {
    outcome = TF_TASK_FAILED;
    rt.fail_reason = m->err.msg;
    tf_log(TF_LOG_WARN, "task %ld failed: %s", c->task, m->err.msg);
  } else if (rc == TF_EINTERRUPTED && c->written <= m->cfg.rounds) {
    rc = tf_store_begin_task(f->store, c->task, c->attempts, c->rounds_done, err);
    if (rc == 0) rc = tf_store_end_attempt(f->store, c->task, err);
    return rc < 0 ? rc : OUTCOME_INTERRUPTED;
  }
  rt.finished = tf__farm_wall_now();
  rc = tf_store_finish_task(f->store, c->task, outcome, &rt, err);
  return rc < 0 ? rc : (int)outcome;
}

/* Runs a family (tasks[0..n), one trunk) from its members' last finished rounds and records each
 * member's outcome in outcomes[i]. Returns 0, or a negative code for an error that must stop the
 * job (the file or memory failed). */
static int run_family(farm_t *f, const long *tasks, int n, int *outcomes, tf_err_t *err) {
  task_ctx_t ctx[TF_FAMILY_MAX];
  tf_family_member_t *mem = calloc((size_t)n, sizeof *mem);
  if (mem == NULL) return tf_err_set(err, TF_ENOMEM, "out of memory");
  uint8_t *bits = NULL;
  int rc = family_read(f, tasks, n, ctx, mem, &bits, err);
  for (int i = 0; i < n && rc == 0; i++)
    rc = tf_store_begin_task(f->store, tasks[i], ctx[i].attempts + 1, ctx[i].rounds_done, err);
  if (rc < 0) {
    free(bits);
    free(mem);
    return rc;
  }
  atomic_store_explicit(&current_task, tasks[0], memory_order_relaxed);
  tf_task_runtime_t rt = {.rank = f->rank, .started = tf__farm_wall_now()};
  snprintf(rt.host, sizeof rt.host, "%s", f->host);
  tf_err_t family_err = {0};
  for (int i = 0; i < n; i++) ctx[i].err = &family_err;
  for (int i = 0; i < n; i++)
    if (tf_config_transfer(&mem[i].cfg))
      mem[i].target = tf__node_data_get(f->data, tf_config_target(&mem[i].cfg));
  /* Members killed after their last round but before their status was set have nothing to run. */
  rc = tf_ticket_run_family(mem, n, tf__node_data_get(f->data, mem[0].cfg.dataset), bits,
                            &family_err);
  free(bits);
  atomic_store_explicit(&current_task, -1, memory_order_relaxed);
  if (rc < 0 && rc != TF_EINTERRUPTED) {
    *err = family_err;
    free(mem);
    return tf_err_prefix(err, "task %ld", tasks[0]);
  }
  int fatal = 0;
  for (int i = 0; i < n && fatal == 0; i++) {
    int out = member_outcome(f, &ctx[i], &mem[i], rc, &rt, err);
    if (out < 0) fatal = out;
    outcomes[i] = out;
  }
  free(mem);
  return fatal;
}

static int run_master(farm_t *f, tf_err_t *err) {
  int outcomes[TF_FAMILY_MAX];
  while (f->stopped < f->size - 1 || f->running > 0 || (!f->stopping && f->next < f->n_queue)) {
    if (f->size > 1) serve(f);
    long family[REPLY_LEN];
    const int n = stop_requested(f) ? 0 : next_family(f, family);
    if (n > 0) {
      int rc = run_family(f, family + 1, n, outcomes, err);
      if (rc < 0) return rc;
      for (int i = 0; i < n; i++) count_outcome(f, family[1 + i], outcomes[i]);
    } else {
      idle_sleep();
    }
  }
  take_rounds(f);
  take_dones(f);
  progress(f, 2);
  return 0;
}

/* Waits for a request without spinning: MPI's blocking calls busy-poll a whole core. */
static void wait_request(MPI_Request *req) {
  int flag = 0;
  MPI_Test(req, &flag, MPI_STATUS_IGNORE);
  while (!flag) {
    idle_sleep();
    MPI_Test(req, &flag, MPI_STATUS_IGNORE);
  }
}

static int run_worker(farm_t *f, tf_err_t *err) {
  long interrupted = 0;
  int outcomes[TF_FAMILY_MAX];
  for (;;) {
    long msg[MSG_LEN] = {interrupted, 0};
    MPI_Send(msg, MSG_LEN, MPI_LONG, 0, TAG_REQUEST, MPI_COMM_WORLD);
    long family[REPLY_LEN];
    MPI_Request req;
    MPI_Irecv(family, REPLY_LEN, MPI_LONG, 0, TAG_TASK, MPI_COMM_WORLD, &req);
    wait_request(&req);
    const int n = (int)family[0];
    if (n <= 0) break;
    int rc = run_family(f, family + 1, n, outcomes, err);
    if (rc < 0) return rc;
    interrupted = 0;
    for (int i = 0; i < n; i++) {
      long done[MSG_LEN] = {family[1 + i], outcomes[i]};
      MPI_Send(done, MSG_LEN, MPI_LONG, 0, TAG_DONE, MPI_COMM_WORLD);
      interrupted |= outcomes[i] == OUTCOME_INTERRUPTED;
    }
  }
  /* A stop notice may have crossed the final reply: take it off the wire. */
  int flag = 0;
  MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
  if (flag) {
    long none[MSG_LEN];
    MPI_Recv(none, MSG_LEN, MPI_LONG, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  return 0;
}

int tf_farm_run(const tf_sweep_t *sw, const char *out_path, const tf_farm_options_t *opt,
                tf_farm_report_t *report, tf_err_t *err) {
  tf_farm_report_t local;
  if (report == NULL) report = &local;
  memset(report, 0, sizeof *report);
  farm_t f = {.sw = sw, .out_path = out_path, .opt = opt, .report = report,
             .started = tf__clock_now()};
  f.last_progress = f.started;
  MPI_Comm_rank(MPI_COMM_WORLD, &f.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &f.size);
  if (gethostname(f.host, sizeof f.host) != 0) snprintf(f.host, sizeof f.host, "unknown");
  f.host[sizeof f.host - 1] = '\0';
  f.n_tasks = tf_grid_tasks(sw);
  f.worker_stopped = calloc((size_t)f.size, 1);

  int rc = f.worker_stopped != NULL ? 0 : tf_err_set(err, TF_ENOMEM, "out of memory");
  if (rc == 0 && f.rank == 0) rc = check_memory(sw, err);
  rc = tf__agree(MPI_COMM_WORLD, rc, err, "checking the memory a task needs");
  if (rc == 0) rc = open_store(&f, out_path, err);
  if (rc < 0) {
    report->collective = 1;
  } else {
    if (f.rank == 0) rc = shard_tasks(&f, err);
    if (f.rank == 0 && rc == 0) rc = tf__farm_plan(&f, err);
    rc = tf__agree(MPI_COMM_WORLD, rc, err, "reading the task states");
    if (rc < 0) report->collective = 1;
    if (rc == 0) rc = f.rank == 0 ? run_master(&f, err) : run_worker(&f, err);
    if (rc == 0) {
      /* Finished ranks wait here without spinning until every rank is done. */
      MPI_Request barrier;
      MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
      wait_request(&barrier);
      double peak[2] = {peak_rss(), -peak_rss()}, extreme[2];
      MPI_Reduce(peak, extreme, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
      report->peak_rss_max = extreme[0];
      report->peak_rss_min = -extreme[1];
      report->shared_data = tf__node_data_bytes(f.data);
      rc = tf_store_close(f.store, err);
      f.store = NULL;
    }
  }
  if (f.store != NULL && report->collective) tf_store_close(f.store, NULL);
  if (f.rank == 0) {
    report->tasks = f.n_tasks - f.outside;
    report->done = report->done_before + f.done;
    report->failed = f.failed;
    report->interrupted = report->done + report->failed < report->tasks;
    report->wall_s = tf__clock_now() - f.started;
    /* The lock goes with a clean end; a crash leaves it for the next run to recover. */
    if (rc == 0 || report->collective) tf_lock_release(&f.lock);
  }
  /* Freeing a window is collective: skipped when a rank-local error is about to abort the job. */
  if (rc == 0 || report->collective)
    tf__node_data_free(f.data);
  free(f.queue);
  free(f.fam_at);
  free(f.cost);
  free(f.credited);
  free(f.shard_of);
  free(f.worker_stopped);
  return rc;
}
