/* The ticketfarm command line: run, plan, merge, status, summary and keys. */
#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf_config.h"
#include "ticketfarm/data.h"
#include "ticketfarm/error.h"
#include "ticketfarm/family.h"
#include "ticketfarm/farm.h"
#include "ticketfarm/log.h"
#include "ticketfarm/net.h"
#include "ticketfarm/shard.h"
#include "ticketfarm/store.h"
#include "ticketfarm/sweep.h"
#include "ticketfarm/ticket.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 3 };

/* Multiply-adds per second of CPU time one rank sustains, as tf_ticket_cost counts them: only for
 * `plan`'s time estimate. A dense LeNet-300-100 round of 50,000 iterations evaluated every 100
 * (4.39e12) took 103.2 s of processor time on a 2-core AMD EPYC (AVX2) with OpenBLAS 0.3.21
 * (tools/bench --only study --full-round): 4.25e10 per second. OpenBLAS's generic x86-64 kernels
 * reach about half of that (2.3e10 on a 2-core Xeon), so there plan's hours are low by up to 2x. */
#define PLAN_MACS_PER_CORE_S 4.25e10

static const char usage_text[] =
    "usage: ticketfarm COMMAND [OPTIONS]\n"
    "\n"
    "Lottery-ticket sweeps (iterative magnitude pruning with rewinding) over an MPI job.\n"
    "\n"
    "commands:\n"
    "  run SWEEP.yaml -o OUT.h5   run every task of the sweep (under mpirun or srun; one\n"
    "                             process also works) into the results file; an existing\n"
    "                             file of the same sweep is resumed, another one refused\n"
    "      -o, --output FILE      the results file (required)\n"
    "      -d, --data DIR         datasets directory (default $TICKETFARM_DATA, else ./data,\n"
    "                             else the installation's share/ticketfarm/data)\n"
    "      -p, --progress SEC     seconds between progress lines on stderr (default 10)\n"
    "      -q, --quiet            no progress lines\n"
    "      --shard K/N            run only shard K (0 to N-1) of N, e.g. an array job's\n"
    "                             $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT, into a file\n"
    "                             of its own; 'merge' joins the shards' files\n"
    "      --stop-after TIME      stop as on SIGTERM after TIME (e.g. 11h30m, 90m, 45s)\n"
    "      --retry-failed         rerun the tasks recorded as failed\n"
    "      --max-attempts N       fail a task as poison when its job died N times in a row\n"
    "                             while it ran without finishing a new round (default 3);\n"
    "                             progress is counted in finished rounds, where a resume\n"
    "                             restarts; a crash of its rank (SIGSEGV, SIGBUS, SIGFPE,\n"
    "                             SIGABRT, recorded in OUT.h5.crashes) always counts\n"
    "                             SIGTERM or SIGUSR1 stops at the next safe point (exit 3);\n"
    "                             a second signal stops at once\n"
    "  plan SWEEP.yaml            validate the sweep; print its tasks, expected work and file\n"
    "                             size (no MPI launcher needed)\n"
    "      --shards N             also how `run --shard K/N` splits the tasks: each\n"
    "                             shard's planned work and tasks\n"
    "  merge PART.h5... -o OUT.h5 join the files of a sweep's shards into a new file of\n"
    "                             the whole sweep (no MPI launcher needed); tasks of\n"
    "                             missing shards stay pending, and `run` resumes OUT.h5\n"
    "  status OUT.h5...           done, failed and pending tasks of results files\n"
    "  summary OUT.h5... [--csv]  one row per task and round: density, early-stop iteration,\n"
    "                             validation loss, test accuracy at early stop and at the end\n"
    "  keys                       every sweep key with its type, default and meaning\n"
    "\n"
    "options:\n"
    "  -h, --help                 this text\n"
    "  -V, --version              the version\n"
    "\n"
    "exit codes: 0 done, 1 runtime failure (or failed tasks), 2 bad usage or input,\n"
    "3 interrupted (resumable)\n"
    "\n"
    "test only: TICKETFARM_TEST_CRASH_TASK=T makes run raise SIGSEGV on the rank running\n"
    "task T once it has finished a round there (to test the handling of poison tasks)\n";

/* SIGTERM, SIGUSR1, SIGINT: the first asks the farm to stop at the next safe point (exit 3,
 * resumable); a second ends the process at once, also with exit code 3. */
static volatile sig_atomic_t stop_signals;

static void on_stop_signal(int sig) {
  (void)sig;
  if (++stop_signals >= 2) _exit(EXIT_INTERRUPTED);
  tf_farm_request_stop();
}

static void install_stop_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

/* SIGSEGV, SIGBUS, SIGFPE, SIGABRT: append "task T signal S" to the crash record file when a
 * task was running, so the next run blames that task alone; then die of the signal as before.
 * Only async-signal-safe calls: the path is built before the handlers are installed. */
static char crash_path[4096];

static size_t put_long(char *buf, long v) {
  char digits[24];
  size_t n = 0, k = 0;
  if (v < 0) {
    buf[k++] = '-';
    v = -v;
  }
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0) buf[k++] = digits[--n];
  return k;
}

static void on_fatal_signal(int sig) {
  long task = tf_farm_current_task();
  if (task >= 0 && crash_path[0] != '\0') {
    char line[64];
    size_t k = 0;
    memcpy(line, "task ", 5);
    k = 5 + put_long(line + 5, task);
    memcpy(line + k, " signal ", 8);
    k += 8;
    k += put_long(line + k, sig);
    line[k++] = '\n';
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ssize_t wrote = write(fd, line, k);
      (void)wrote;
      close(fd);
    }
  }
  /* SA_RESETHAND restored the default action: the signal ends the process on return. */
  raise(sig);
}

static void install_crash_signals(const char *out) {
  if (tf_farm_crash_file(out, crash_path, sizeof crash_path) >= (int)sizeof crash_path) {
    crash_path[0] = '\0';
    return;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGABRT, &sa, NULL);
}

/* TICKETFARM_TEST_CRASH_TASK (tests only): the task whose rank crashes after a finished round. */
static long crash_task = -1;

static void crash_after_round(long task, int round) {
  (void)round;
  if (task == crash_task) raise(SIGSEGV);
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "ticketfarm: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'ticketfarm --help'.\n");
  return EXIT_USAGE;
}

static int fail(const tf_err_t *err) {
  tf_log(TF_LOG_ERROR, "%s", err->msg);
  return tf_err_exit_code(err->code);
}

/* A results file to read must exist and be a readable regular file: otherwise it is bad input
 * (exit 2) with one line naming it, not an HDF5 error stack. Returns EXIT_OK or EXIT_USAGE. */
/* Why path cannot be read as an input file (missing, a directory, not readable), or NULL. */
static const char *input_file_problem(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return strerror(errno);
  if (S_ISDIR(st.st_mode)) return "is a directory";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (access(path, R_OK) != 0) return strerror(errno);
  return NULL;
}

/* A results file or sweep file that cannot be opened is bad input: one line, exit 2. */
static int check_input_file(const char *path) {
  const char *why = input_file_problem(path);
  if (why == NULL) return EXIT_OK;
  tf_log(TF_LOG_ERROR, "%s: cannot open: %s", path, why);
  return EXIT_USAGE;
}

/* An existing output file is resumed, so it must be a regular file this process can read and
 * write; a missing one is created (and its directory's problems reported then). */
static int check_output_file(const char *path) {
  struct stat st;
  const char *why = NULL;
  if (stat(path, &st) != 0) return EXIT_OK;
  if (S_ISDIR(st.st_mode))
    why = "is a directory";
  else if (!S_ISREG(st.st_mode))
    why = "not a regular file";
  else if (access(path, R_OK | W_OK) != 0)
    why = strerror(errno);
  if (why == NULL) return EXIT_OK;
  tf_log(TF_LOG_ERROR, "%s: cannot resume: %s", path, why);
  return EXIT_USAGE;
}

static const char *human_bytes(double b, char *buf, size_t size) {
  const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    u++;
  }
  snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", b, unit[u]);
  return buf;
}

/* plan --shards N: each shard's planned work and tasks. */
static int print_shards(const tf_sweep_t *sw, int shards, tf_err_t *err) {
  long n = tf_grid_tasks(sw);
  int *shard_of = malloc((size_t)n * sizeof *shard_of);
  double *load = malloc((size_t)shards * sizeof *load);
  int rc = shard_of != NULL && load != NULL ? 0 : tf_err_set(err, TF_ENOMEM, "out of memory");
  if (rc == 0) rc = tf_shard_assign(sw, shards, shard_of, load, err);
  if (rc == 0) {
    printf("\nshards: %d (run --shard K/%d; tasks that differ only in control stay together)\n",
           shards, shards);
    printf("%6s  %8s  %12s  %s\n", "shard", "tasks", "work (GMAC)", "task ids");
  }
  for (int k = 0; rc == 0 && k < shards; k++) {
    long count = 0, listed = 0;
    for (long t = 0; t < n; t++) count += shard_of[t] == k;
    printf("%6d  %8ld  %12.1f  ", k, count, load[k] / 1e9);
    /* Runs of consecutive tasks as "a-b", at most 20 runs per line. */
    for (long t = 0; t < n && listed < 20; t++) {
      if (shard_of[t] != k) continue;
      long e = t;
      while (e + 1 < n && shard_of[e + 1] == k) e++;
      printf(listed > 0 ? ",%ld" : "%ld", t);
      if (e > t) printf("-%ld", e);
      listed++;
      t = e;
    }
    if (listed == 20) printf(",...");
    printf("%s\n", count == 0 ? "(none)" : "");
  }
  free(shard_of);
  free(load);
  return rc;
}

/* plan's arguments: one sweep file and an optional --shards N (0 when not given). */
static int parse_plan_args(int argc, char **argv, const char **path, int *shards) {
  *shards = 0;
  *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--shards") == 0 && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end != '\0' || end == argv[i] || v < 1 || v > TF_SHARD_MAX)
        return usage_error("--shards takes a whole number from 1 to 100000, not '%s'", argv[i]);
      *shards = (int)v;
    } else if (argv[i][0] == '-') {
      return usage_error("plan: unknown option '%s'", argv[i]);
    } else if (*path == NULL) {
      *path = argv[i];
    } else {
      return usage_error("plan takes one sweep file, got also '%s'", argv[i]);
    }
  }
  if (*path == NULL) return usage_error("plan takes one sweep file%s", "");
  return EXIT_OK;
}

/* The plan's task table (its first 1000 rows) with the one-weight floor warnings on stderr;
 * sums every task's work into *total. Returns 0 or a negative TF_E* code. */
static int print_plan_tasks(const tf_sweep_t *sw, double *total, tf_err_t *err) {
  long n = tf_grid_tasks(sw);
  int axes = tf_grid_axes(sw);
  const long shown = n <= 1000 ? n : 1000;
  /* Each axis column as wide as its key and the values shown, at least 14. */
  int width[64];
  for (int a = 0; a < axes && a < 64; a++) {
    width[a] = (int)strlen(tf_grid_axis_key(sw, a));
    if (width[a] < 14) width[a] = 14;
    for (long t = 0; t < shown; t++) {
      char v[64];
      tf_grid_value_text(sw, a, t, v, sizeof v);
      if ((int)strlen(v) > width[a]) width[a] = (int)strlen(v);
    }
  }
  printf("%6s", "task");
  for (int a = 0; a < axes && a < 64; a++) printf("  %-*s", width[a], tf_grid_axis_key(sw, a));
  printf("  %6s  %10s  %10s  %12s\n", "rounds", "iterations", "weights", "work (GMAC)");
  long floored = 0;
  *total = 0.0;
  for (long t = 0; t < n; t++) {
    tf_config_t cfg;
    int rc = tf_grid_task(sw, t, &cfg, err);
    if (rc < 0) return rc;
    int floor_layer = 0, floor_round = tf_ticket_floor_round(&cfg, &floor_layer);
    if (floor_round > 0 && floored++ < 5)
      fprintf(stderr,
              "ticketfarm: warning: task %ld: layer %d%s reaches one weight at round %d of %d%s; "
              "a round never removes a layer's last weight, so from there it keeps more than "
              "its rate\n",
              t, floor_layer, floor_layer == cfg.n_hidden ? " (output)" : "", floor_round,
              cfg.rounds, cfg.scope == TF_SCOPE_GLOBAL ? " (global: at the mean density)" : "");
    double cost = tf_ticket_cost(&cfg);
    *total += cost;
    if (t >= shown) continue;
    tf_ticket_shape_t shape = {0};
    tf_ticket_shape(&cfg, &shape, NULL);
    printf("%6ld", t);
    for (int a = 0; a < axes && a < 64; a++) {
      char v[64];
      tf_grid_value_text(sw, a, t, v, sizeof v);
      printf("  %-*s", width[a], v);
    }
    printf("  %6d  %10ld  %10zu  %12.1f\n", cfg.rounds + 1, cfg.iterations, shape.n_weights,
           cost / 1e9);
  }
  if (shown < n) printf("  ... %ld more tasks\n", n - shown);
  if (floored > 0)
    fprintf(stderr, "ticketfarm: warning: %ld of %ld tasks reach a layer's one-weight floor\n",
            floored, n);
  return 0;
}

/* The plan's memory line: the largest task per rank, the shared datasets, the libraries, and
 * this machine's limit when it has one. Returns 0 or a negative TF_E* code. */
static int print_plan_memory(const tf_sweep_t *sw, tf_err_t *err) {
  tf_farm_memory_t mem;
  int rc = tf_farm_memory(sw, &mem, err);
  if (rc < 0) return rc;
  char task_text[32], shared_text[32], lib_text[32], limit_text[32];
  printf("memory: about %s per rank for the largest task (task %ld), plus %s of datasets the "
         "ranks of a node share and %s of libraries per rank",
         human_bytes(mem.task, task_text, sizeof task_text), mem.largest,
         human_bytes(mem.shared, shared_text, sizeof shared_text),
         human_bytes(mem.libraries, lib_text, sizeof lib_text));
  if (mem.limit > 0)
    printf("; this machine allows %s (%s)%s", human_bytes(mem.limit, limit_text, sizeof limit_text),
           mem.limit_what,
           mem.task + mem.shared + mem.libraries > mem.limit ? ": too much, run refuses it" : "");
  printf("\n");
  return 0;
}

/* The plan's header, task table, work, file size and memory lines, and the shards when asked
 * for. Returns 0 or a negative TF_E* code. */
static int print_plan(const tf_sweep_t *sw, const char *path, int shards, tf_err_t *err) {
  long n = tf_grid_tasks(sw);
  int axes = tf_grid_axes(sw);
  printf("sweep: %s (%s)\n", tf_sweep_name(sw)[0] ? tf_sweep_name(sw) : "(unnamed)", path);
  printf("tasks: %ld", n);
  for (int a = 0; a < axes; a++)
    printf("%s%s: %d", a == 0 ? " (" : " x ", tf_grid_axis_key(sw, a), tf_grid_axis_size(sw, a));
  printf("%s\n\n", axes > 0 ? ")" : "");
  double alone = 0.0, total = 0.0;
  int rc = print_plan_tasks(sw, &alone, err);
  if (rc == 0) rc = tf_family_sweep_cost(sw, &total, err);
  if (rc < 0) return rc;
  double bytes = 0.0;
  rc = tf_store_size(sw, &bytes, err);
  if (rc < 0) return rc;
  char size_text[32];
  double core_h = total / PLAN_MACS_PER_CORE_S / 3600.0;
  printf("\nwork: %.3g multiply-adds, about %.2g core-hours (%.2g hours on 2 cores)", total,
         core_h, core_h / 2.0);
  if (alone > total * 1.0005)
    printf("; tasks run as families (one trunk for a ticket, its controls and transfers): %.0f%% of the "
           "%.2g core-hours of running every task alone", 100.0 * total / alone,
           alone / PLAN_MACS_PER_CORE_S / 3600.0);
  printf("\n");
  printf("file: about %s when every task is done (space is used as tasks write their rows)\n",
         human_bytes(bytes, size_text, sizeof size_text));
  rc = print_plan_memory(sw, err);
  if (rc < 0) return rc;
  if (shards > 0) return print_shards(sw, shards, err);
  return 0;
}

static int cmd_plan(int argc, char **argv) {
  int shards = 0;
  const char *path = NULL;
  int rc = parse_plan_args(argc, argv, &path, &shards);
  if (rc != EXIT_OK) return rc;
  if (check_input_file(path) != EXIT_OK) return EXIT_USAGE;
  tf_err_t err = {0};
  tf_sweep_t *sw = NULL;
  if (tf_sweep_load(&sw, path, &err) < 0) return fail(&err);
  if (print_plan(sw, path, shards, &err) < 0) {
    tf_sweep_free(sw);
    return fail(&err);
  }
  tf_sweep_free(sw);
  return EXIT_OK;
}

static int cmd_status(int argc, char **argv) {
  if (argc < 2) return usage_error("status takes results files%s", "");
  for (int i = 1; i < argc; i++)
    if (argv[i][0] == '-') return usage_error("status: unknown option '%s'", argv[i]);
  for (int i = 1; i < argc; i++)
    if (check_input_file(argv[i]) != EXIT_OK) return EXIT_USAGE;
  tf_err_t err = {0};
  for (int i = 1; i < argc; i++) {
    if (i > 1) putchar('\n');
    if (tf_store_print_status(argv[i], stdout, &err) < 0) return fail(&err);
  }
  return EXIT_OK;
}

static int cmd_summary(int argc, char **argv) {
  int csv = 0, n = 0;
  const char **paths = calloc((size_t)argc, sizeof *paths);
  if (paths == NULL) return EXIT_RUNTIME;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--csv") == 0) {
      csv = 1;
    } else if (argv[i][0] == '-') {
      free(paths);
      return usage_error("summary: unknown option '%s'", argv[i]);
    } else {
      paths[n++] = argv[i];
    }
  }
  int rc = n == 0 ? usage_error("summary needs a results file%s", "") : EXIT_OK;
  for (int i = 0; rc == EXIT_OK && i < n; i++) rc = check_input_file(paths[i]);
  tf_err_t err = {0};
  if (rc == EXIT_OK && tf_store_print_summaries(paths, n, stdout, csv, &err) < 0) rc = fail(&err);
  free(paths);
  return rc;
}

static int cmd_merge(int argc, char **argv) {
  const char *out = NULL;
  int n = 0;
  const char **parts = calloc((size_t)argc, sizeof *parts);
  if (parts == NULL) return EXIT_RUNTIME;
  for (int i = 1; i < argc; i++) {
    if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
      out = argv[++i];
    } else if (argv[i][0] == '-') {
      free(parts);
      return usage_error("merge: unknown option '%s'", argv[i]);
    } else {
      parts[n++] = argv[i];
    }
  }
  int rc = EXIT_OK;
  if (out == NULL || out[0] == '\0')
    rc = usage_error("merge needs an output file: -o OUT.h5%s", "");
  else if (n == 0)
    rc = usage_error("merge needs the files of the shards to merge%s", "");
  for (int i = 0; rc == EXIT_OK && i < n; i++) rc = check_input_file(parts[i]);
  if (rc != EXIT_OK) {
    free(parts);
    return rc;
  }
  /* The file is written through the MPI-IO driver: a singleton MPI process, no launcher. */
  MPI_Init(&argc, &argv);
  tf_err_t err = {0};
  tf_store_merge_report_t report;
  if (tf_store_merge(parts, n, out, &report, &err) < 0) {
    rc = fail(&err);
  } else {
    tf_log(TF_LOG_INFO, "%d file%s merged into %s: %ld tasks, %ld from the files (%ld done), "
           "%ld pending in no file", n, n == 1 ? "" : "s", out, report.tasks, report.held,
           report.done, report.tasks - report.held);
  }
  MPI_Finalize();
  free(parts);
  return rc;
}

static int cmd_keys(int argc, char **argv) {
  (void)argv;
  if (argc != 1) return usage_error("keys takes no arguments%s", "");
  size_t n = 0;
  const tf_sweep_key_t *keys = tf_sweep_keys(&n);
  printf("| key | type | default | meaning |\n|---|---|---|---|\n");
  for (size_t i = 0; i < n; i++)
    printf("| `%s` | %s | `%s` | %s |\n", keys[i].key, keys[i].type, keys[i].def,
           keys[i].description);
  return EXIT_OK;
}

/* Rank 0 reads the sweep file and every rank parses the same bytes, so all ranks agree on the
 * tasks and all fail alike on a bad file. */
static int load_sweep_everywhere(const char *path, int rank, tf_sweep_t **sw, tf_err_t *err) {
  long head[2] = {0, 0}; /* length, or -1 and the error code */
  char *text = NULL;
  if (rank == 0) {
    size_t len = 0;
    const char *why = input_file_problem(path);
    int rc = why != NULL ? tf_err_set(err, TF_EINPUT, "%s: cannot open: %s", path, why)
                         : tf_sweep_read(path, &text, &len, err);
    head[0] = rc < 0 ? -1 : (long)len;
    head[1] = rc;
  }
  MPI_Bcast(head, 2, MPI_LONG, 0, MPI_COMM_WORLD);
  long len = head[0];
  if (len < 0) {
    if (rank != 0) tf_err_set(err, (int)head[1], "%s: cannot be read", path);
    return (int)head[1];
  }
  if (rank != 0) text = malloc((size_t)len + 1);
  if (text == NULL) {
    MPI_Abort(MPI_COMM_WORLD, EXIT_RUNTIME);
  }
  MPI_Bcast(text, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
  text[len] = '\0';
  int rc = tf_sweep_parse(sw, text, (size_t)len, path, err);
  free(text);
  return rc;
}

/* "11h30m", "90m", "45s", "1d", "3600": seconds, or -1 when malformed. */
static double parse_duration(const char *text) {
  double total = 0.0;
  const char *p = text;
  if (*p == '\0') return -1.0;
  while (*p != '\0') {
    char *end;
    double v = strtod(p, &end);
    if (end == p || v < 0) return -1.0;
    double unit = 1.0;
    switch (*end) {
      case 'd': unit = 86400.0; end++; break;
      case 'h': unit = 3600.0; end++; break;
      case 'm': unit = 60.0; end++; break;
      case 's': end++; break;
      case '\0': break;
      default: return -1.0;
    }
    total += v * unit;
    p = end;
  }
  return total;
}

/* run's options, parsed before MPI starts. */
typedef struct run_args {
  tf_shard_t shard;
  const char *out, *data, *sweep_path;
  double progress_every, stop_after;
  int retry_failed, max_attempts;
} run_args_t;

/* Reads run's options, its one sweep file and TICKETFARM_TEST_CRASH_TASK into *args.
 * Returns EXIT_OK, or EXIT_USAGE after saying what is wrong. */
static int parse_run_args(int argc, char **argv, run_args_t *args) {
  enum { OPT_STOP_AFTER = 1000, OPT_RETRY_FAILED, OPT_MAX_ATTEMPTS, OPT_SHARD };
  static const struct option long_opts[] = {
      {"output", required_argument, NULL, 'o'},
      {"data", required_argument, NULL, 'd'},
      {"progress", required_argument, NULL, 'p'},
      {"quiet", no_argument, NULL, 'q'},
      {"stop-after", required_argument, NULL, OPT_STOP_AFTER},
      {"retry-failed", no_argument, NULL, OPT_RETRY_FAILED},
      {"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
      {"shard", required_argument, NULL, OPT_SHARD},
      {NULL, 0, NULL, 0}};
  *args = (run_args_t){.shard = {0, 1}, .progress_every = 10.0, .max_attempts = 3};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:d:p:q", long_opts, NULL)) != -1) {
    switch (c) {
      case 'o': args->out = optarg; break;
      case 'd': args->data = optarg; break;
      case 'p': {
        char *end;
        args->progress_every = strtod(optarg, &end);
        if (end == optarg || *end != '\0' || args->progress_every < 0)
          return usage_error("--progress takes seconds >= 0, not '%s'", optarg);
        break;
      }
      case 'q': args->progress_every = 0; break;
      case OPT_STOP_AFTER:
        args->stop_after = parse_duration(optarg);
        if (args->stop_after <= 0)
          return usage_error("--stop-after takes a duration like 11h30m, 90m or 45s, not '%s'",
                             optarg);
        break;
      case OPT_RETRY_FAILED: args->retry_failed = 1; break;
      case OPT_MAX_ATTEMPTS: {
        char *end;
        long v = strtol(optarg, &end, 10);
        if (*end != '\0' || v < 1 || v > 1000000)
          return usage_error("--max-attempts takes a whole number >= 1, not '%s'", optarg);
        args->max_attempts = (int)v;
        break;
      }
      case OPT_SHARD: {
        tf_err_t shard_err = {0};
        if (tf_shard_parse(optarg, &args->shard, &shard_err) < 0)
          return usage_error("%s", shard_err.msg);
        break;
      }
      default: return usage_error("run: bad option%s", "");
    }
  }
  if (optind != argc - 1) return usage_error("run takes one sweep file%s", "");
  if (args->out == NULL || args->out[0] == '\0')
    return usage_error("run needs an output file: -o OUT.h5%s", "");
  args->sweep_path = argv[optind];

  const char *crash_env = getenv("TICKETFARM_TEST_CRASH_TASK");
  if (crash_env != NULL && crash_env[0] != '\0') {
    char *end;
    crash_task = strtol(crash_env, &end, 10);
    if (*end != '\0' || crash_task < 0)
      return usage_error("TICKETFARM_TEST_CRASH_TASK takes a task number, not '%s'", crash_env);
  }
  return EXIT_OK;
}

/* Rank 0's closing report of a run that returned: counts, time, memory, and why it ends
 * early. Returns the exit code for every rank. */
static int report_run(const tf_farm_report_t *report, const run_args_t *args, int size) {
  int exit_code = EXIT_OK;
  tf_log(TF_LOG_INFO, "%ld tasks: %ld done, %ld failed, %ld left; %.1f s; results in %s",
         report->tasks, report->done, report->failed,
         report->tasks - report->done - report->failed, report->wall_s, args->out);
  if (report->peak_rss_max > 0)
    tf_log(TF_LOG_INFO,
           "memory: peak resident %.0f MiB per rank (smallest %.0f MiB, over %d rank%s), of "
           "which %.0f MiB is the data the ranks of a node share",
           report->peak_rss_max / 1048576.0, report->peak_rss_min / 1048576.0, size,
           size == 1 ? "" : "s", report->shared_data / 1048576.0);
  if (report->interrupted) {
    tf_log(TF_LOG_INFO, "interrupted; run the same command again to resume");
    exit_code = EXIT_INTERRUPTED;
  } else if (report->failed > 0) {
    tf_log(TF_LOG_ERROR, "%ld task%s failed; see 'ticketfarm status %s'%s", report->failed,
           report->failed == 1 ? "" : "s", args->out,
           args->retry_failed ? "" : " (--retry-failed reruns them)");
    exit_code = EXIT_RUNTIME;
  }
  return exit_code;
}

static int cmd_run(int argc, char **argv) {
  run_args_t args;
  int bad_args = parse_run_args(argc, argv, &args);
  if (bad_args != EXIT_OK) return bad_args;
  const char *out = args.out, *sweep_path = args.sweep_path;
  install_stop_signals();
  MPI_Init(&argc, &argv);
  /* After MPI_Init, which may install handlers of its own for these signals. */
  install_crash_signals(out);
  openblas_set_num_threads(1);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  /* Rank 0 judges the output path for every rank: one message, one exit code. */
  int bad_output = rank == 0 ? check_output_file(out) : EXIT_OK;
  MPI_Bcast(&bad_output, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (bad_output != EXIT_OK) {
    MPI_Finalize();
    return bad_output;
  }
  tf_err_t err = {0};
  tf_sweep_t *sw = NULL;
  int rc = load_sweep_everywhere(sweep_path, rank, &sw, &err);
  if (rc < 0) {
    if (rank == 0) fail(&err);
    tf_sweep_free(sw);
    MPI_Finalize();
    return tf_err_exit_code(rc);
  }
  if (rank == 0 && args.shard.n > 1)
    tf_log(TF_LOG_INFO, "%s: shard %d/%d of %ld tasks on %d rank%s -> %s", sweep_path,
           args.shard.k, args.shard.n, tf_grid_tasks(sw), size, size == 1 ? "" : "s", out);
  else if (rank == 0)
    tf_log(TF_LOG_INFO, "%s: %ld tasks on %d rank%s -> %s", sweep_path, tf_grid_tasks(sw), size,
           size == 1 ? "" : "s", out);
  tf_farm_options_t opt = {.data_root = args.data, .progress_every = args.progress_every,
                           .stop_after = args.stop_after, .max_attempts = args.max_attempts,
                           .retry_failed = args.retry_failed, .shard_k = args.shard.k,
                           .shard_n = args.shard.n,
                           .after_round = crash_task >= 0 ? crash_after_round : NULL};
  tf_farm_report_t report;
  rc = tf_farm_run(sw, out, &opt, &report, &err);
  tf_sweep_free(sw);
  if (rc < 0) {
    if (!report.collective) {
      /* Other ranks may be inside a collective call: only an abort ends them. */
      tf_log(TF_LOG_ERROR, "%s", err.msg);
      MPI_Abort(MPI_COMM_WORLD, tf_err_exit_code(rc));
    }
    if (rank == 0) fail(&err);
    MPI_Finalize();
    return tf_err_exit_code(rc);
  }
  int exit_code = rank == 0 ? report_run(&report, &args, size) : EXIT_OK;
  MPI_Bcast(&exit_code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return exit_code;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage_text, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage_text, stdout);
    return EXIT_OK;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
    printf("ticketfarm %s\n", TF_VERSION);
    return EXIT_OK;
  }
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      fputs(usage_text, stdout);
      return EXIT_OK;
    }
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "plan") == 0) return cmd_plan(argc - 1, argv + 1);
  if (strcmp(cmd, "merge") == 0) return cmd_merge(argc - 1, argv + 1);
  if (strcmp(cmd, "status") == 0) return cmd_status(argc - 1, argv + 1);
  if (strcmp(cmd, "summary") == 0) return cmd_summary(argc - 1, argv + 1);
  if (strcmp(cmd, "keys") == 0) return cmd_keys(argc - 1, argv + 1);
  return usage_error("unknown command '%s'", cmd);
}
