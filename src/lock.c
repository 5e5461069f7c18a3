/* Lock files for results files: atomic creation, holder identity, heartbeat and stale takeover. */
#include "ticketfarm/lock.h"

#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void describe_self(char *buf, size_t size) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  const char *job = getenv("SLURM_JOB_ID");
  snprintf(buf, size, "host %s\npid %ld\nstarted %ld\nslurm_job %s\n", host, (long)getpid(),
           (long)time(NULL), job != NULL ? job : "-");
}

/* Writes our identity to a new file at path; with `replace`, atomically over an existing one. */
static int write_lock(const char *path, int replace, tf_err_t *err) {
  char body[512];
  describe_self(body, sizeof body);
  char tmp[4200];
  const char *dest = path;
  if (replace) {
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    dest = tmp;
  }
  int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    if (errno == EEXIST && !replace) return 1;
    /* A directory that is missing, not a directory or not writable is the user's to fix. */
    int user = errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == EROFS ||
               errno == EPERM;
    return tf_err_set(err, user ? TF_EINPUT : TF_EIO,
                      "%s: cannot create files beside the results file: %s", dest,
                      strerror(errno));
  }
  size_t len = strlen(body);
  int ok = write(fd, body, len) == (ssize_t)len;
  ok = close(fd) == 0 && ok;
  if (ok && replace) ok = rename(tmp, path) == 0;
  if (!ok) {
    unlink(dest);
    return tf_err_set(err, TF_EIO, "%s: cannot write the lock file: %s", path, strerror(errno));
  }
  return 0;
}

/* Whether the lock at path belongs to a job that is gone; its text goes into holder. */
static int lock_is_stale(const char *path, char *holder, size_t size) {
  holder[0] = '\0';
  FILE *fp = fopen(path, "r");
  if (fp == NULL) return errno == ENOENT;
  size_t n = fread(holder, 1, size - 1, fp);
  holder[n] = '\0';
  fclose(fp);
  struct stat st;
  if (stat(path, &st) == 0 && difftime(time(NULL), st.st_mtime) > TF_LOCK_STALE_S) return 1;
  char host[256] = "", my_host[256] = "";
  long pid = 0;
  const char *h = strstr(holder, "host ");
  const char *p = strstr(holder, "pid ");
  if (h == NULL || p == NULL || sscanf(h, "host %255s", host) != 1 || sscanf(p, "pid %ld", &pid) != 1)
    return 0; /* not ours to judge: someone else's file, or being written right now */
  gethostname(my_host, sizeof my_host - 1);
  if (strcmp(host, my_host) != 0) return 0;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 1;
  /* A killed holder whose parent died too may linger as a zombie until it is reaped. */
  char stat_path[64], stat_line[512];
  snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", pid);
  FILE *sp = fopen(stat_path, "r");
  if (sp == NULL) return 0;
  size_t got = fread(stat_line, 1, sizeof stat_line - 1, sp);
  fclose(sp);
  stat_line[got] = '\0';
  const char *paren = strrchr(stat_line, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'Z';
}

int tf_lock_acquire(tf_lock_t *lock, const char *target, tf_err_t *err) {
  memset(lock, 0, sizeof *lock);
  if ((size_t)snprintf(lock->path, sizeof lock->path, "%s.lock", target) >= sizeof lock->path)
    return tf_err_set(err, TF_EINPUT, "%s: path too long", target);
  int rc = write_lock(lock->path, 0, err);
  if (rc < 0) return rc;
  if (rc == 1) {
    char holder[512];
    if (!lock_is_stale(lock->path, holder, sizeof holder)) {
      for (char *c = holder; *c; c++)
        if (*c == '\n') *c = c[1] ? ',' : '\0';
      return tf_err_set(err, TF_EINPUT,
                        "%s is in use by another job (%s; lock file %s). Wait for it to end; if "
                        "that job is gone, remove the lock file",
                        target, holder[0] ? holder : "unknown holder", lock->path);
    }
    snprintf(lock->previous, sizeof lock->previous, "%s", holder);
    for (char *c = lock->previous; *c; c++)
      if (*c == '\n') *c = c[1] ? ',' : '\0';
    rc = write_lock(lock->path, 1, err);
    if (rc < 0) return rc;
    lock->recovered = 1;
  }
  lock->held = 1;
  lock->touched = tf__clock_now();
  return 0;
}

void tf_lock_heartbeat(tf_lock_t *lock) {
  if (!lock->held) return;
  double now = tf__clock_now();
  if (now - lock->touched < TF_LOCK_HEARTBEAT_S) return;
  lock->touched = now;
  utimensat(AT_FDCWD, lock->path, NULL, 0);
}

void tf_lock_release(tf_lock_t *lock) {
  if (!lock->held) return;
  unlink(lock->path);
  lock->held = 0;
}
