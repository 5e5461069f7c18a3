/* Minimal assertion macros for the unit tests: each prints both values on failure. */
#ifndef TICKETFARM_TEST_H
#define TICKETFARM_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ticketfarm/data.h"


#define ASSERT(cond)                                                                 \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);  \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

#define ASSERT_INT_EQ(a, b)                                                          \
  do {                                                                               \
    long long a_ = (long long)(a), b_ = (long long)(b);                              \
    if (a_ != b_) {                                                                  \
      fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, \
              #a, #b, a_, b_);                                                       \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

#define ASSERT_NEAR(a, b, tol)                                                            \
  do {                                                                                    \
    double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                        \
    if (!(fabs(a_ - b_) <= t_)) {                                                         \
      fprintf(stderr, "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g (diff %.3g)\n",        \
              __FILE__, __LINE__, #a, #b, t_, a_, b_, fabs(a_ - b_));                     \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                   \
  do {                                                                                     \
    const char *h_ = (hay), *n_ = (needle);                                                \
    if (strstr(h_, n_) == NULL) {                                                          \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, h_,  \
              n_);                                                                         \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

/* splitmix64 from *state: uniform in [0, 1), test data independent of the library's generator. */
static inline double tf_test_urand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

/* meson's exit code for a skipped test. */
#define TF_TEST_SKIP 77

/* Ends the test as skipped (exit 77) when the dataset `name` is not in tf_data_root(): a checkout
 * without tools/fetch-data shows SKIP, neither a pass nor a failure. */
static inline void tf_test_need_dataset(const char *name) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/%s", tf_data_root(), name);
  struct stat st;
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return;
  fprintf(stderr, "SKIP  %s is missing (run tools/fetch-data %s)\n", dir, name);
  exit(TF_TEST_SKIP);
}

/* Runs one named test function and reports it. */
#define RUN(fn)                              \
  do {                                       \
    fn();                                    \
    fprintf(stderr, "ok    %s\n", #fn);      \
  } while (0)

#endif
