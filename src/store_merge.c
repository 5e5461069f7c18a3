/* Shards' results files: the check that a file holds the shard a job resumes, and the merge of
 * several shards' files into one file of the whole sweep, task by task. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "ticketfarm/lock.h"

int tf_store_check_shard(const char *path, const tf_shard_t *want, tf_err_t *err) {
  tf_shard_t have;
  int rc = tf_store_read_shard(path, &have, err);
  if (rc < 0) return rc;
  int wn = want != NULL && want->n > 1 ? want->n : 1, wk = wn > 1 ? want->k : 0;
  if (have.n == wn && have.k == wk) return 0;
  if (have.n == 1)
    return tf_err_set(err, TF_EMISMATCH,
                      "%s holds the whole sweep, not shard %d/%d; resume it without --shard, "
                      "or choose another output", path, wk, wn);
  if (wn == 1)
    return tf_err_set(err, TF_EMISMATCH,
                      "%s holds shard %d/%d of the sweep; resume it with --shard %d/%d, or "
                      "merge the shards' files with 'ticketfarm merge'",
                      path, have.k, have.n, have.k, have.n);
  return tf_err_set(err, TF_EMISMATCH,
                    "%s holds shard %d/%d of the sweep, not %d/%d; resume it with --shard %d/%d, "
                    "or choose another output", path, have.k, have.n, wk, wn, have.k, have.n);
}

/* One input of a merge. */
typedef struct part {
  const char *path;
  tf_sweep_t *sw;
  tf_shard_t shard;
  char created[64];
  int ranks, runs;
  long tasks, done; /* tasks it gives the merged file, and how many of them are done */
} part_t;

static const char *shard_text(const tf_shard_t *s, char *buf, size_t size) {
  if (s->n <= 1)
    snprintf(buf, size, "the whole sweep");
  else
    snprintf(buf, size, "shard %d/%d", s->k, s->n);
  return buf;
}

/* Reads part p's sweep, shard and run facts, and checks that it holds the same sweep as the
 * first part. */
static int part_read(part_t *parts, int p, tf_err_t *err) {
  part_t *pt = &parts[p];
  int kind = tf_store_probe(pt->path, err);
  if (kind < 0) return kind;
  if (kind != TF_STORE_RESULTS)
    return tf_err_set(err, TF_EINPUT, "%s: %s", pt->path,
                      kind == TF_STORE_ABSENT ? "no such file" : "not a ticketfarm results file");
  char *text = NULL;
  int rc = tf_store_read_sweep(pt->path, &text, err);
  if (rc == 0) rc = tf_sweep_parse(&pt->sw, text, strlen(text), pt->path, err);
  free(text);
  if (rc == 0) rc = tf_store_read_shard(pt->path, &pt->shard, err);
  if (rc < 0) return rc;
  reader_t rd;
  if ((rc = tf__store_reader_open(&rd, pt->path, err)) < 0) return rc;
  char *created = tf__h5_read_attr_str(rd.runtime, "created");
  snprintf(pt->created, sizeof pt->created, "%s", created ? created : "");
  free(created);
  pt->ranks = tf__h5_read_attr_int(rd.runtime, "ranks", 0);
  pt->runs = tf__h5_read_attr_int(rd.runtime, "runs", 0);
  H5Eclear2(H5E_DEFAULT);
  tf__store_reader_close(&rd);
  if (p == 0) return 0;
  char why[512] = "";
  tf_sweep_diff(parts[0].sw, pt->sw, why, sizeof why);
  if (why[0] == '\0') return 0;
  /* tf_sweep_diff speaks of a file and a sweep: here both are files. */
  char *side = strstr(why, " (file vs sweep)");
  if (side != NULL) *side = '\0';
  return tf_err_set(err, TF_EMISMATCH, "%s and %s hold different sweeps (%s%s)", parts[0].path,
                    pt->path, why, side != NULL ? ", first vs second" : "");
}

/* owner[t] = the part that gives task t, -1 for none; TF_EMISMATCH when two parts hold one. */
static int assign_owners(part_t *parts, int n_parts, int *owner, long n_tasks, tf_err_t *err) {
  int *shard_of = malloc((size_t)n_tasks * sizeof *shard_of);
  if (shard_of == NULL) return tf_err_set(err, TF_ENOMEM, "merge: no memory for %ld tasks", n_tasks);
  for (long t = 0; t < n_tasks; t++) owner[t] = -1;
  int rc = 0, assigned_n = 0;
  for (int p = 0; rc == 0 && p < n_parts; p++) {
    const tf_shard_t *s = &parts[p].shard;
    if (s->n > 1 && s->n != assigned_n) {
      rc = tf_shard_assign(parts[0].sw, s->n, shard_of, NULL, err);
      assigned_n = s->n;
    }
    for (long t = 0; rc == 0 && t < n_tasks; t++) {
      if (s->n > 1 && shard_of[t] != s->k) continue;
      if (owner[t] < 0) {
        owner[t] = p;
        parts[p].tasks++;
        continue;
      }
      const part_t *o = &parts[owner[t]];
      char a[48], b[48];
      if (o->shard.n == s->n && o->shard.k == s->k)
        rc = tf_err_set(err, TF_EMISMATCH, "%s and %s both hold %s; give each shard once",
                        o->path, parts[p].path, shard_text(s, a, sizeof a));
      else
        rc = tf_err_set(err, TF_EMISMATCH, "%s (%s) and %s (%s) both hold task %ld", o->path,
                        shard_text(&o->shard, a, sizeof a), parts[p].path,
                        shard_text(s, b, sizeof b), t);
    }
  }
  free(shard_of);
  return rc;
}

/* The datasets of one part and of the merged file, open side by side. */
typedef struct copier {
  hid_t in[DS_COUNT], out[DS_COUNT], type[DS_COUNT];
  size_t row_bytes[DS_COUNT];
  unsigned char *row; /* the largest row of any dataset */
} copier_t;

static void copier_close(copier_t *c) {
  for (int i = 0; i < DS_COUNT; i++) {
    if (c->in[i] >= 0) H5Dclose(c->in[i]);
    if (c->out[i] >= 0) H5Dclose(c->out[i]);
    if (c->type[i] >= 0) H5Tclose(c->type[i]);
  }
  free(c->row);
}

/* Opens every dataset the merged file has in the part too, and checks its shape. */
static int copier_open(copier_t *c, hid_t out, const char *out_path, reader_t *rd,
                       tf_err_t *err) {
  size_t largest = 1;
  for (int i = 0; i < DS_COUNT; i++) c->in[i] = c->out[i] = c->type[i] = H5I_INVALID_HID;
  c->row = NULL;
  for (int i = 0; i < DS_COUNT; i++) {
    char name[96];
    snprintf(name, sizeof name, "%s/%s", tf__store_group_names[tf__store_dsets[i].group],
             tf__store_dsets[i].name);
    if (H5Lexists(out, name, H5P_DEFAULT) <= 0) continue;
    if (H5Lexists(rd->file, name, H5P_DEFAULT) <= 0)
      return tf_err_set(err, TF_EMISMATCH, "%s has no /%s, which its sweep writes", rd->path,
                        name);
    c->out[i] = H5Dopen2(out, name, H5P_DEFAULT);
    c->in[i] = H5Dopen2(rd->file, name, H5P_DEFAULT);
    c->type[i] = c->out[i] < 0 ? H5I_INVALID_HID : H5Dget_type(c->out[i]);
    if (c->out[i] < 0 || c->in[i] < 0 || c->type[i] < 0)
      return tf__h5_fail(err, "%s: cannot open /%s", c->in[i] < 0 ? rd->path : out_path, name);
    size_t bytes = H5Tget_size(c->type[i]);
    for (int k = 0; k < 3; k++) {
      hsize_t want = tf__h5_dataset_len(c->out[i], k), have = tf__h5_dataset_len(c->in[i], k);
      if (want != have)
        return tf_err_set(err, TF_EMISMATCH, "%s: /%s has %llu along axis %d, its sweep needs %llu",
                          rd->path, name, (unsigned long long)have, k, (unsigned long long)want);
      if (k > 0 && want > 0) bytes *= (size_t)want;
    }
    c->row_bytes[i] = bytes;
    if (bytes > largest) largest = bytes;
  }
  c->row = malloc(largest);
  if (c->row == NULL) return tf_err_set(err, TF_ENOMEM, "merge: no memory for a row");
  return 0;
}

/* Copies every row of task t from the part to the merged file, its status last. */
static int copy_task(copier_t *c, long t, const char *in_path, const char *out_path,
                     int8_t *status, tf_err_t *err) {
  for (int k = 0; k < DS_COUNT; k++) {
    int i = k == DS_COUNT - 1 ? DS_STATUS : k < DS_STATUS ? k : k + 1;
    if (c->out[i] < 0) continue;
    if (tf__h5_read_rows(c->in[i], c->type[i], (hsize_t)t, 1, 0, 0, 0, c->row) < 0)
      return tf__h5_fail(err, "%s: cannot read %s of task %ld", in_path, tf__store_dsets[i].name,
                         t);
    if (tf__h5_write_rows(c->out[i], c->type[i], H5P_DEFAULT, (hsize_t)t, 1, 0, 0, 0, c->row) < 0)
      return tf__h5_fail(err, "%s: cannot write %s of task %ld", out_path,
                         tf__store_dsets[i].name, t);
    if (i == DS_STATUS) memcpy(status, c->row, 1);
  }
  return 0;
}

/* Copies part p's tasks into the open merged file. */
static int copy_part(part_t *pt, int p, const int *owner, long n_tasks, hid_t out,
                     const char *out_path, tf_err_t *err) {
  reader_t rd;
  int rc = tf__store_reader_open(&rd, pt->path, err);
  if (rc < 0) return rc;
  copier_t c;
  rc = copier_open(&c, out, out_path, &rd, err);
  for (long t = 0; rc == 0 && t < n_tasks; t++) {
    if (owner[t] != p) continue;
    int8_t status = 0;
    rc = copy_task(&c, t, pt->path, out_path, &status, err);
    pt->done += status == TF_TASK_DONE;
  }
  copier_close(&c);
  tf__store_reader_close(&rd);
  return rc;
}

/* /runtime/parts/partP: each part's file-level run facts. */
static int record_parts(const part_t *parts, int n_parts, hid_t out, const char *out_path,
                        tf_err_t *err) {
  hid_t g = H5Gcreate2(out, "runtime/parts", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return tf__h5_fail(err, "%s: cannot create /runtime/parts", out_path);
  herr_t rc = tf__h5_attr_str(g, "description",
                              "the files merged into this one (ticketfarm merge), in the order "
                              "given: each one's shard and run facts; the per-task rows of "
                              "/runtime are those of the file that held the task");
  for (int p = 0; rc >= 0 && p < n_parts; p++) {
    char name[32];
    snprintf(name, sizeof name, "part%d", p);
    hid_t pg = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const part_t *pt = &parts[p];
    rc = pg < 0 ? -1 : tf__h5_attr_str(pg, "file", pt->path);
    if (rc >= 0) rc = tf__h5_attr_int(pg, "shard", pt->shard.n > 1 ? pt->shard.k : 0);
    if (rc >= 0) rc = tf__h5_attr_int(pg, "shards", pt->shard.n > 1 ? pt->shard.n : 1);
    if (rc >= 0) rc = tf__h5_attr_str(pg, "created", pt->created);
    if (rc >= 0) rc = tf__h5_attr_int(pg, "ranks", pt->ranks);
    if (rc >= 0) rc = tf__h5_attr_int(pg, "runs", pt->runs);
    if (rc >= 0) rc = tf__h5_attr_int(pg, "tasks", (int)(pt->tasks < INT32_MAX ? pt->tasks : INT32_MAX));
    if (rc >= 0) rc = tf__h5_attr_int(pg, "done", (int)(pt->done < INT32_MAX ? pt->done : INT32_MAX));
    if (pg >= 0) H5Gclose(pg);
  }
  H5Gclose(g);
  if (rc < 0) return tf__h5_fail(err, "%s: cannot record the merged files in /runtime/parts",
                                 out_path);
  return 0;
}

int tf_store_merge(const char *const *paths, int n_parts, const char *out_path,
                   tf_store_merge_report_t *report, tf_err_t *err) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  memset(report, 0, sizeof *report);
  if (n_parts < 1) return tf_err_set(err, TF_EINPUT, "merge: no files to merge");
  struct stat sb;
  if (stat(out_path, &sb) == 0)
    return tf_err_set(err, TF_EINPUT, "%s exists; merge writes a new file (remove it or choose "
                      "another name)", out_path);
  if (errno != ENOENT)
    return tf_err_set(err, TF_EIO, "%s: %s", out_path, strerror(errno));
  part_t *parts = calloc((size_t)n_parts, sizeof *parts);
  if (parts == NULL) return tf_err_set(err, TF_ENOMEM, "merge: no memory");
  int rc = 0;
  for (int p = 0; rc == 0 && p < n_parts; p++) {
    parts[p].path = paths[p];
    rc = part_read(parts, p, err);
  }
  long n_tasks = rc == 0 ? tf_grid_tasks(parts[0].sw) : 0;
  int *owner = rc == 0 ? malloc((size_t)n_tasks * sizeof *owner) : NULL;
  if (rc == 0 && owner == NULL) rc = tf_err_set(err, TF_ENOMEM, "merge: no memory");
  if (rc == 0) rc = assign_owners(parts, n_parts, owner, n_tasks, err);
  /* The locks of every file and of the output, as a job takes its file's: a job still writing
   * a file (or starting on one) is refused, with its holder named, while the merge reads it. */
  tf_lock_t *locks = rc == 0 ? calloc((size_t)n_parts + 1, sizeof *locks) : NULL;
  if (rc == 0 && locks == NULL) rc = tf_err_set(err, TF_ENOMEM, "merge: no memory");
  for (int p = 0; rc == 0 && p <= n_parts; p++)
    rc = tf_lock_acquire(&locks[p], p < n_parts ? parts[p].path : out_path, err);

  int created = 0;
  if (rc == 0) {
    tf_store_t *st = NULL;
    rc = tf_store_create(&st, out_path, MPI_COMM_SELF, parts[0].sw, err);
    created = 1;
    if (rc == 0) rc = tf_store_close(st, err);
  }
  hid_t out = H5I_INVALID_HID;
  if (rc == 0) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
    out = H5Fopen(out_path, H5F_ACC_RDWR, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0) H5Pclose(fapl);
    if (out < 0) rc = tf__h5_fail(err, "cannot open %s", out_path);
  }
  for (int p = 0; rc == 0 && p < n_parts; p++)
    rc = copy_part(&parts[p], p, owner, n_tasks, out, out_path, err);
  if (rc == 0) rc = record_parts(parts, n_parts, out, out_path, err);
  if (out >= 0 && H5Fclose(out) < 0 && rc == 0) rc = tf__h5_fail(err, "cannot close %s", out_path);
  /* A merge that failed leaves nothing behind: the output did not exist before. */
  if (rc < 0 && created) unlink(out_path);
  if (rc == 0) {
    report->tasks = n_tasks;
    for (int p = 0; p < n_parts; p++) {
      report->held += parts[p].tasks;
      report->done += parts[p].done;
    }
  }
  for (int p = 0; locks != NULL && p <= n_parts; p++) tf_lock_release(&locks[p]);
  free(locks);
  for (int p = 0; p < n_parts; p++) tf_sweep_free(parts[p].sw);
  free(parts);
  free(owner);
  return rc;
}
