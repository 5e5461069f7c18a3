/* Levelled stderr messages, stamped with the wall clock and the MPI rank, one write(2) each. */
#include "ticketfarm/log.h"

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* "[2026-03-01T12:34:56.789Z r3] ": UTC to the millisecond, so the lines of every rank and node
 * sort together and line up with the scheduler's own logs; the rank once MPI runs. */
static int stamp(char *buf, size_t size) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  int initialized = 0, finalized = 0, rank = -1;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char who[16] = "";
  if (rank >= 0) snprintf(who, sizeof who, " r%d", rank);
  return snprintf(buf, size, "[%s.%03ldZ%s] ", when, ts.tv_nsec / 1000000L, who);
}

void tf_log(tf_log_level_t level, const char *fmt, ...) {
  static const char *const prefix[] = {"error: ", "warning: ", ""};
  char line[2048];
  char head[64];
  if (stamp(head, sizeof head) < 0) head[0] = '\0';
  int n = snprintf(line, sizeof line, "ticketfarm: %s%s", head, prefix[level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
