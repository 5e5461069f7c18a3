/* Closest-name suggestions ("did you mean") for the sweep and dataset parsers; reals as text. */
#include "ticketfarm/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t tf_text_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 256 || m > 256) return n > m ? n : m; /* names are short; do not allocate for junk */
  size_t d[257][257];
  for (size_t i = 0; i <= n; i++) d[i][0] = i;
  for (size_t j = 0; j <= m; j++) d[0][j] = j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      size_t best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[n][m];
}

const char *tf_text_closest(const char *s, const char *const *names, size_t n) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(names[i]);
    size_t limit = len / 3 > 1 ? len / 3 : 1;
    size_t d = tf_text_distance(s, names[i]);
    if (d <= limit && d < best_d) {
      best = names[i];
      best_d = d;
    }
  }
  return best;
}

void tf_text_real(double x, char *buf, size_t size) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) return;
  }
}
