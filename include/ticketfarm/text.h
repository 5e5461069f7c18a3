/* Small text helpers: closest-name suggestions for error messages, reals as short text. */
#ifndef TICKETFARM_TEXT_H
#define TICKETFARM_TEXT_H

#include <stddef.h>

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), case-sensitive. */
size_t tf_text_distance(const char *a, const char *b);

/* The name among names[0..n) closest to s, or NULL when none is close enough to be a likely
 * typo (distance <= max(1, strlen(candidate) / 3)). Ties go to the earlier name. */
const char *tf_text_closest(const char *s, const char *const *names, size_t n);

/* The shortest "%g" text (1 to 17 significant digits) that reads back with strtod as exactly
 * x: 0.2 as "0.2", not "0.20000000000000001". Rank-local. */
void tf_text_real(double x, char *buf, size_t size);

#endif
