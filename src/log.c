/* Levelled stderr messages written with one write(2) each. */
#include "ticketfarm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static tf_log_level_t log_level = TF_LOG_INFO;

void tf_log_set_level(tf_log_level_t level) { log_level = level; }

tf_log_level_t tf_log_get_level(void) { return log_level; }

void tf_log(tf_log_level_t level, const char *fmt, ...) {
  if (level > log_level) return;
  static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
  char line[2048];
  int n = snprintf(line, sizeof line, "ticketfarm: %s", prefix[level]);
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
