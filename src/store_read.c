/* The serial readers of a results file: what a path holds (probe), the stored sweep text, and
 * the progress report behind `ticketfarm status`. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

#define STATUS_MAX_REASONS 10

void tf__store_reader_close(reader_t *rd) {
  if (rd->runtime >= 0) H5Gclose(rd->runtime);
  if (rd->results >= 0) H5Gclose(rd->results);
  if (rd->file >= 0) H5Fclose(rd->file);
  rd->file = rd->results = rd->runtime = H5I_INVALID_HID;
}

/* Collects HDF5's error stack, innermost first, into one text. */
static herr_t stack_text(unsigned n, const H5E_error2_t *e, void *data) {
  (void)n;
  char *text = data;
  size_t len = strlen(text);
  if (e->desc != NULL && len + 3 < 1024) snprintf(text + len, 1024 - len, "%s; ", e->desc);
  return 0;
}

static const char *human_size(double b, char *buf, size_t size) {
  if (b >= 1e9)
    snprintf(buf, size, "%.1f GB", b / 1e9);
  else if (b >= 1e6)
    snprintf(buf, size, "%.1f MB", b / 1e6);
  else if (b >= 1e3)
    snprintf(buf, size, "%.1f kB", b / 1e3);
  else
    snprintf(buf, size, "%.0f bytes", b);
  return buf;
}

/* A file with the HDF5 signature that HDF5 cannot read (HDF5's error stack pending): says what
 * is wrong in a user's words, that it stays untouched, and what to do. TF_EHDF5. */
static int damaged(const char *path, tf_err_t *err) {
  char text[1024] = "", what[512];
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, stack_text, text);
  H5Eclear2(H5E_DEFAULT);
  const char *eof = strstr(text, "truncated file: eof = ");
  const char *stored = strstr(text, "stored_eof = ");
  long long have = 0, want = 0;
  if (eof != NULL && stored != NULL && sscanf(eof, "truncated file: eof = %lld", &have) == 1 &&
      sscanf(stored, "stored_eof = %lld", &want) == 1) {
    char a[32], b[32];
    snprintf(what, sizeof what, "truncated: %s of %s (%lld of %lld bytes; a copy cut short?)",
             human_size((double)have, a, sizeof a), human_size((double)want, b, sizeof b), have,
             want);
  } else {
    size_t len = strlen(text);
    if (len >= 2) text[len - 2] = '\0'; /* the last "; " */
    const char *kind = strstr(text, "object header") != NULL ? "damaged object header"
                       : strstr(text, "checksum") != NULL    ? "damaged metadata (checksum)"
                       : strstr(text, "B-tree") != NULL      ? "damaged B-tree"
                       : strstr(text, "heap") != NULL        ? "damaged heap"
                                                             : "damaged";
    char first[160] = "";
    snprintf(first, sizeof first, "%s", text);
    char *cut = strchr(first, ';');
    if (cut != NULL) *cut = '\0';
    snprintf(what, sizeof what, "%s (HDF5: %s)", kind, first[0] ? first : "cannot read it");
  }
  return tf_err_set(err, TF_EHDF5,
                    "%s is damaged: %s. ticketfarm reads nothing from it and will not overwrite "
                    "it: restore it from a copy, or move it away (mv %s %s.damaged) and run the "
                    "sweep again to start it afresh",
                    path, what, path, path);
}

int tf__store_reader_open(reader_t *rd, const char *path, tf_err_t *err) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  rd->path = path;
  rd->file = rd->results = rd->runtime = H5I_INVALID_HID;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  /* No lock: the MPI-IO writer holds none, and a lock another process holds (an h5py session,
   * a serial tool) must not stop a progress report. Readers never modify the file. */
  if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
  rd->file = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
  hid_t stack = tf__h5_stack_keep(rd->file < 0);
  if (fapl >= 0) H5Pclose(fapl);
  tf__h5_stack_restore(stack);
  if (rd->file < 0) return damaged(path, err);
  htri_t has_results = H5Lexists(rd->file, "results", H5P_DEFAULT);
  rd->results = has_results > 0 ? H5Gopen2(rd->file, "results", H5P_DEFAULT) : H5I_INVALID_HID;
  if (has_results < 0 || (has_results > 0 && rd->results < 0)) {
    int rc = damaged(path, err);
    tf__store_reader_close(rd);
    return rc;
  }
  char *layout = rd->results >= 0 ? tf__h5_read_attr_str(rd->results, "layout") : NULL;
  int ok = layout != NULL && strcmp(layout, LAYOUT) == 0;
  free(layout);
  if (!ok) {
    H5Eclear2(H5E_DEFAULT);
    tf__store_reader_close(rd);
    return tf_err_set(err, TF_EFORMAT, "%s is not a ticketfarm results file (layout %s expected)",
                      path, LAYOUT);
  }
  rd->runtime = H5Gopen2(rd->file, "runtime", H5P_DEFAULT);
  hid_t d = H5Dopen2(rd->results, "density", H5P_DEFAULT);
  if (rd->runtime < 0 || d < 0) {
    int rc = damaged(path, err);
    if (d >= 0) H5Dclose(d);
    tf__store_reader_close(rd);
    return rc;
  }
  rd->n_tasks = (long)tf__h5_dataset_len(d, 0);
  rd->n_rounds = (int)tf__h5_dataset_len(d, 1);
  H5Dclose(d);
  return 0;
}

int tf__store_read_block(reader_t *rd, hid_t g, const char *name, hid_t mtype, long t0, long n,
                         void *buf, tf_err_t *err) {
  hid_t did = H5Dopen2(g, name, H5P_DEFAULT);
  herr_t rc = did < 0 ? -1 : tf__h5_read_rows(did, mtype, (hsize_t)t0, (hsize_t)n, 0, 0, 0, buf);
  hid_t stack = tf__h5_stack_keep(rc < 0);
  if (did >= 0) H5Dclose(did);
  tf__h5_stack_restore(stack);
  if (rc < 0)
    return tf__h5_fail(err, "%s: cannot read %s of tasks %ld to %ld", rd->path, name, t0,
                       t0 + n - 1);
  return 0;
}

long tf__store_block_tasks(size_t row_bytes, long n_tasks) {
  long block = (long)(BLOCK_BYTES / (row_bytes > 0 ? row_bytes : 1));
  if (block < 1) block = 1;
  return block < n_tasks ? block : n_tasks;
}

int tf_store_probe(const char *path, tf_err_t *err) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT) return TF_STORE_ABSENT;
    return tf_err_set(err, TF_EIO, "%s: %s", path, strerror(errno));
  }
  if (!S_ISREG(sb.st_mode)) return tf_err_set(err, TF_EIO, "%s is not a regular file", path);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return tf_err_set(err, TF_EIO, "cannot read %s: %s", path, strerror(errno));
  close(fd);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  /* Only a missing signature makes a file UNREADABLE: a damaged HDF5 file is an error. */
  htri_t hdf5 = H5Fis_hdf5(path);
  if (hdf5 < 0) return tf__h5_fail(err, "cannot read %s", path);
  if (hdf5 == 0) return TF_STORE_UNREADABLE;
  reader_t rd;
  tf_err_t mine = {0};
  int rc = tf__store_reader_open(&rd, path, &mine);
  if (rc == TF_EFORMAT) return TF_STORE_FOREIGN;
  if (rc < 0) return tf_err_set(err, rc, "%s", mine.msg);
  tf__store_reader_close(&rd);
  return TF_STORE_RESULTS;
}

int tf_store_read_sweep(const char *path, char **text, tf_err_t *err) {
  *text = NULL;
  reader_t rd;
  int rc = tf__store_reader_open(&rd, path, err);
  if (rc < 0) return rc;
  *text = tf__h5_read_attr_str(rd.results, "sweep");
  tf__store_reader_close(&rd);
  if (*text == NULL) return tf_err_set(err, TF_EFORMAT, "%s: no sweep text in /results", path);
  return 0;
}

int tf_store_read_shard(const char *path, tf_shard_t *shard, tf_err_t *err) {
  reader_t rd;
  int rc = tf__store_reader_open(&rd, path, err);
  if (rc < 0) return rc;
  shard->n = tf__h5_read_attr_int(rd.runtime, "shards", 1);
  shard->k = tf__h5_read_attr_int(rd.runtime, "shard", 0);
  H5Eclear2(H5E_DEFAULT);
  tf__store_reader_close(&rd);
  if (shard->n < 1 || shard->n > TF_SHARD_MAX || shard->k < 0 || shard->k >= shard->n)
    return tf_err_set(err, TF_EFORMAT, "%s: /runtime says shard %d of %d", path, shard->k,
                      shard->n);
  return 0;
}

/* Which tasks a shard's file holds: *shard_of (malloc'd, by task) for a shard's file, NULL for
 * a whole sweep's. */
static int status_shard(reader_t *rd, tf_shard_t *shard, int **shard_of, tf_err_t *err) {
  *shard_of = NULL;
  shard->n = tf__h5_read_attr_int(rd->runtime, "shards", 1);
  shard->k = tf__h5_read_attr_int(rd->runtime, "shard", 0);
  H5Eclear2(H5E_DEFAULT);
  if (shard->n <= 1) return 0;
  char *text = tf__h5_read_attr_str(rd->results, "sweep");
  tf_sweep_t *sw = NULL;
  int rc = text == NULL ? tf_err_set(err, TF_EFORMAT, "%s: no sweep text in /results", rd->path)
                        : tf_sweep_parse(&sw, text, strlen(text), rd->path, err);
  if (rc == 0 && tf_grid_tasks(sw) != rd->n_tasks)
    rc = tf_err_set(err, TF_EFORMAT, "%s: %ld tasks in the file, %ld in its sweep", rd->path,
                    rd->n_tasks, tf_grid_tasks(sw));
  if (rc == 0 && (*shard_of = malloc((size_t)rd->n_tasks * sizeof **shard_of)) == NULL)
    rc = tf_err_set(err, TF_ENOMEM, "%s: no memory for the shard's tasks", rd->path);
  if (rc == 0) rc = tf_shard_assign(sw, shard->n, *shard_of, NULL, err);
  tf_sweep_free(sw);
  free(text);
  return rc;
}

/* What status counts over every task of a file (of its shard, in a shard's file). */
typedef struct status_counts {
  long tasks, done, failed, partial, pending, restarted, resumed, stalled, crashes;
  long long rounds_done, rounds_total;
  long failed_ids[STATUS_MAX_REASONS]; /* the first failed tasks */
  long stalled_ids[STATUS_MAX_REASONS]; /* the first pending tasks with stalls */
  int stalled_n[STATUS_MAX_REASONS], stalled_crashes[STATUS_MAX_REASONS];
} status_counts_t;

/* One block of the columns status reads, tasks [t0, t0 + n). */
typedef struct status_block {
  int8_t *status;
  int32_t *done_rounds, *n_rounds, *attempts, *start_round, *stalls, *crashes;
} status_block_t;

static int status_read(reader_t *rd, status_block_t *b, int have_attempts, int have_stalls,
                       long t0, long n, tf_err_t *err) {
  hid_t res = rd->results, run = rd->runtime;
  int rc = tf__store_read_block(rd, res, "status", H5T_NATIVE_INT8, t0, n, b->status, err);
  if (rc == 0)
    rc = tf__store_read_block(rd, res, "rounds_done", H5T_NATIVE_INT32, t0, n, b->done_rounds, err);
  if (rc == 0)
    rc = tf__store_read_block(rd, res, "n_rounds", H5T_NATIVE_INT32, t0, n, b->n_rounds, err);
  if (rc == 0 && have_attempts)
    rc = tf__store_read_block(rd, run, "attempts", H5T_NATIVE_INT32, t0, n, b->attempts, err);
  if (rc == 0 && have_attempts)
    rc = tf__store_read_block(rd, run, "start_round", H5T_NATIVE_INT32, t0, n, b->start_round, err);
  if (rc == 0 && have_stalls)
    rc = tf__store_read_block(rd, run, "stalls", H5T_NATIVE_INT32, t0, n, b->stalls, err);
  if (rc == 0 && have_stalls)
    rc = tf__store_read_block(rd, run, "crashes", H5T_NATIVE_INT32, t0, n, b->crashes, err);
  return rc;
}

static void status_add(status_counts_t *c, const status_block_t *b, int have_attempts,
                       int have_stalls, long t0, long n, const int *shard_of, int shard) {
  for (long i = 0; have_stalls && i < n; i++) {
    if (shard_of != NULL && shard_of[t0 + i] != shard) continue;
    c->crashes += b->crashes[i];
    if (b->status[i] != TF_TASK_PENDING || b->stalls[i] <= 0) continue;
    if (c->stalled < STATUS_MAX_REASONS) {
      c->stalled_ids[c->stalled] = t0 + i;
      c->stalled_n[c->stalled] = b->stalls[i];
      c->stalled_crashes[c->stalled] = b->crashes[i];
    }
    c->stalled++;
  }
  for (long i = 0; have_attempts && i < n; i++) {
    if (shard_of != NULL && shard_of[t0 + i] != shard) continue;
    c->restarted += b->attempts[i] > 1;
    c->resumed += b->start_round[i] > 0;
  }
  for (long i = 0; i < n; i++) {
    if (shard_of != NULL && shard_of[t0 + i] != shard) continue;
    c->tasks++;
    c->rounds_done += b->done_rounds[i] < b->n_rounds[i] ? b->done_rounds[i] : b->n_rounds[i];
    c->rounds_total += b->n_rounds[i];
    if (b->status[i] == TF_TASK_DONE) {
      c->done++;
    } else if (b->status[i] == TF_TASK_FAILED) {
      if (c->failed < STATUS_MAX_REASONS) c->failed_ids[c->failed] = t0 + i;
      c->failed++;
    } else {
      c->pending++;
      if (b->done_rounds[i] > 0) c->partial++;
    }
  }
}

/* Counts every task of the file, in blocks. */
static int status_count(reader_t *rd, int have_attempts, int have_stalls, const int *shard_of,
                        int shard, status_counts_t *c, tf_err_t *err) {
  long block = tf__store_block_tasks(17, rd->n_tasks);
  status_block_t b = {
      .status = malloc((size_t)block),
      .done_rounds = malloc((size_t)block * sizeof *b.done_rounds),
      .n_rounds = malloc((size_t)block * sizeof *b.n_rounds),
      .attempts = malloc((size_t)block * sizeof *b.attempts),
      .start_round = malloc((size_t)block * sizeof *b.start_round),
      .stalls = malloc((size_t)block * sizeof *b.stalls),
      .crashes = malloc((size_t)block * sizeof *b.crashes),
  };
  int rc = 0;
  if (!b.status || !b.done_rounds || !b.n_rounds || !b.attempts || !b.start_round || !b.stalls ||
      !b.crashes)
    rc = tf_err_set(err, TF_ENOMEM, "%s: no memory for the status", rd->path);
  for (long t0 = 0; rc == 0 && t0 < rd->n_tasks; t0 += block) {
    long n = rd->n_tasks - t0 < block ? rd->n_tasks - t0 : block;
    rc = status_read(rd, &b, have_attempts, have_stalls, t0, n, err);
    if (rc == 0) status_add(c, &b, have_attempts, have_stalls, t0, n, shard_of, shard);
  }
  free(b.status);
  free(b.done_rounds);
  free(b.n_rounds);
  free(b.attempts);
  free(b.start_round);
  free(b.stalls);
  free(b.crashes);
  return rc;
}

/* The first failed tasks with their reasons. */
static int status_print_failed(reader_t *rd, const status_counts_t *c, FILE *out, tf_err_t *err) {
  int rc = 0;
  hid_t reason_type = tf__h5_string_type(REASON_LEN);
  if (reason_type < 0) rc = tf__h5_fail(err, "%s: cannot make a string type", rd->path);
  for (long k = 0; rc == 0 && k < c->failed && k < STATUS_MAX_REASONS; k++) {
    char reason[REASON_LEN] = "";
    rc = tf__store_read_block(rd, rd->runtime, "fail_reason", reason_type, c->failed_ids[k], 1,
                              reason, err);
    if (rc < 0) break;
    fprintf(out, "%s task %ld: %s\n", k == 0 ? "failed: " : "        ", c->failed_ids[k],
            reason[0] ? reason : "(no reason recorded)");
  }
  if (reason_type >= 0) H5Tclose(reason_type);
  if (rc == 0 && c->failed > STATUS_MAX_REASONS)
    fprintf(out, "         ... and %ld more failed tasks\n", c->failed - STATUS_MAX_REASONS);
  return rc;
}

int tf_store_print_status(const char *path, FILE *out, tf_err_t *err) {
  reader_t rd;
  int rc = tf__store_reader_open(&rd, path, err);
  if (rc < 0) return rc;
  char *name = tf__h5_read_attr_str(rd.results, "name");
  char *version = tf__h5_read_attr_str(rd.results, "ticketfarm_version");
  int runs = tf__h5_read_attr_int(rd.runtime, "runs", 0);
  /* Files written before attempts were recorded have neither column. */
  int have_attempts = H5Lexists(rd.runtime, "attempts", H5P_DEFAULT) > 0 &&
                      H5Lexists(rd.runtime, "start_round", H5P_DEFAULT) > 0;
  /* Files written before the poison bookkeeping have neither column. */
  int have_stalls = H5Lexists(rd.runtime, "stalls", H5P_DEFAULT) > 0 &&
                    H5Lexists(rd.runtime, "crashes", H5P_DEFAULT) > 0;
  H5Eclear2(H5E_DEFAULT);
  status_counts_t c = {0};
  tf_shard_t shard;
  int *shard_of = NULL;
  rc = status_shard(&rd, &shard, &shard_of, err);
  if (rc == 0) rc = status_count(&rd, have_attempts, have_stalls, shard_of, shard.k, &c, err);
  free(shard_of);
  if (rc == 0) {
    fprintf(out, "file:    %s\n", path);
    fprintf(out, "sweep:   %s (ticketfarm %s)\n", name && name[0] ? name : "(unnamed)",
            version ? version : "?");
    if (shard.n > 1)
      fprintf(out, "shard:   %d of %d (%ld of the sweep's %ld tasks; the others are counted in "
              "the files of the other shards)\n", shard.k, shard.n, c.tasks, rd.n_tasks);
    fprintf(out, "rounds:  %lld of %lld finished\n", c.rounds_done, c.rounds_total);
    if (runs > 0)
      fprintf(out, "runs:    %d (%ld tasks started more than once, %ld resumed at a later round)\n",
              runs, c.restarted, c.resumed);
    if (c.crashes > 0)
      fprintf(out, "crashes: %ld recorded crashes of a rank, each counted against its task only\n",
              c.crashes);
    /* The basis of the poison decision: a pending task is failed when its stalls reach
     * run's --max-attempts (default 3). */
    for (long k = 0; k < c.stalled && k < STATUS_MAX_REASONS; k++) {
      char crashed[64] = "";
      if (c.stalled_crashes[k] > 0)
        snprintf(crashed, sizeof crashed, "; %d recorded crash%s of its rank",
                 c.stalled_crashes[k], c.stalled_crashes[k] == 1 ? "" : "es");
      fprintf(out,
              "%s task %ld: %d job death%s in a row while it ran, without a new finished round "
              "or by its own crash%s (failed as poison at run's --max-attempts, default 3)\n",
              k == 0 ? "stalled:" : "        ", c.stalled_ids[k], c.stalled_n[k],
              c.stalled_n[k] == 1 ? "" : "s", crashed);
    }
    if (c.stalled > STATUS_MAX_REASONS)
      fprintf(out, "         ... and %ld more stalled tasks\n", c.stalled - STATUS_MAX_REASONS);
    rc = status_print_failed(&rd, &c, out, err);
    if (rc == 0)
      fprintf(out, "%ld tasks: %ld done, %ld failed, %ld pending (%ld running/partial)\n",
              c.tasks, c.done, c.failed, c.pending, c.partial);
  }
  free(name);
  free(version);
  tf__store_reader_close(&rd);
  return rc;
}
