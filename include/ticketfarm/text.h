/* Small text helpers shared by the parsers: closest-name suggestions for error messages. */
#ifndef TICKETFARM_TEXT_H
#define TICKETFARM_TEXT_H

#include <stddef.h>

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), case-sensitive. */
size_t tf_text_distance(const char *a, const char *b);

/* The name among names[0..n) closest to s, or NULL when none is close enough to be a likely
 * typo (distance <= max(1, strlen(candidate) / 3)). Ties go to the earlier name. */
const char *tf_text_closest(const char *s, const char *const *names, size_t n);

#endif
