/* The monotonic clock behind every duration the library measures. */
#include "clock.h"

#include <time.h>

double tf__clock_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
