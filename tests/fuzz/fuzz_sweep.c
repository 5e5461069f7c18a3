/* libFuzzer target: the sweep parser on arbitrary bytes, and every task of a sweep it accepts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketfarm/config.h"
#include "ticketfarm/sweep.h"

#define FILENAME "fuzz.yaml"

/* Tasks checked one by one per input: a grid may hold ten million, and the parser itself has
 * already checked them all; a spread sample keeps each input fast. */
#define SAMPLE_TASKS 4096

/* A broken contract is a finding: stop with the reason where libFuzzer saves the input. */
#define CHECK(cond, ...)                                            \
  do {                                                              \
    if (!(cond)) {                                                  \
      fprintf(stderr, "fuzz_sweep: contract broken: " __VA_ARGS__); \
      fprintf(stderr, " (%s)\n", #cond);                            \
      abort();                                                      \
    }                                                               \
  } while (0)

/* Errors read "fuzz.yaml:LINE:COL: ..." with LINE and COL at least 1. */
static void check_error_message(const char *msg) {
  size_t n = strlen(FILENAME);
  CHECK(strncmp(msg, FILENAME ":", n + 1) == 0, "message without the file name: '%s'", msg);
  char *end;
  long line = strtol(msg + n + 1, &end, 10);
  CHECK(line >= 1 && *end == ':', "message without a line: '%s'", msg);
  long col = strtol(end + 1, &end, 10);
  CHECK(col >= 1 && *end == ':', "message without a column: '%s'", msg);
}

static void check_task(const tf_sweep_t *sw, long task) {
  tf_config_t cfg;
  tf_err_t err = {0};
  CHECK(tf_grid_task(sw, task, &cfg, &err) == 0, "task %ld of a loaded sweep: %s", task, err.msg);
  CHECK(tf_config_check(&cfg, &err) == 0, "task %ld of a loaded sweep is invalid: %s", task,
        err.msg);
  for (int a = 0; a < tf_grid_axes(sw); a++) {
    int i = tf_grid_value_index(sw, a, task);
    CHECK(i >= 0 && i < tf_grid_axis_size(sw, a), "task %ld axis %d: index %d", task, a, i);
    char text[256];
    tf_grid_value_text(sw, a, task, text, sizeof text);
    CHECK(text[0] != '\0', "task %ld axis %d: empty value text", task, a);
    switch (tf_grid_axis_kind(sw, a)) {
      case TF_AXIS_INT: (void)tf_grid_value_int(sw, a, task); break;
      case TF_AXIS_REAL: (void)tf_grid_value_real(sw, a, task); break;
      case TF_AXIS_TEXT: break;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tf_sweep_t *sw = NULL;
  tf_err_t err = {0};
  int rc = tf_sweep_parse(&sw, (const char *)data, size, FILENAME, &err);
  if (rc != 0) {
    CHECK(sw == NULL, "a failed parse returned a sweep");
    CHECK(rc == TF_EINPUT || rc == TF_ENOMEM, "error code %d", rc);
    if (rc == TF_EINPUT) check_error_message(err.msg);
    return 0;
  }
  CHECK(sw != NULL, "parse succeeded without a sweep");
  CHECK(tf_sweep_text(sw) != NULL && memcmp(tf_sweep_text(sw), data, size) == 0 &&
            tf_sweep_text(sw)[size] == '\0',
        "the stored text differs from the input");
  CHECK(strlen(tf_sweep_name(sw)) < TF_NAME_MAX, "name too long");

  long tasks = tf_grid_tasks(sw);
  int axes = tf_grid_axes(sw);
  CHECK(axes >= 0 && axes <= TF_SWEEP_MAX_AXES, "%d axes", axes);
  long product = 1;
  for (int a = 0; a < axes; a++) {
    int n = tf_grid_axis_size(sw, a);
    CHECK(n >= 1, "axis %d has %d values", a, n);
    CHECK(tf_grid_axis_key(sw, a) != NULL, "axis %d has no key", a);
    product *= n;
  }
  CHECK(tasks >= 1 && tasks <= TF_SWEEP_MAX_TASKS && tasks == product,
        "%ld tasks for a grid of %ld", tasks, product);

  long step = tasks > SAMPLE_TASKS ? tasks / SAMPLE_TASKS : 1;
  for (long t = 0; t < tasks; t += step) check_task(sw, t);
  check_task(sw, tasks - 1);

  tf_config_t cfg;
  CHECK(tf_grid_task(sw, tasks, &cfg, &err) == TF_EINPUT, "task %ld past the end accepted", tasks);
  tf_sweep_free(sw);
  return 0;
}
