/* Levelled messages on stderr for the CLI and the farm's progress lines. */
#ifndef TICKETFARM_LOG_H
#define TICKETFARM_LOG_H

typedef enum { TF_LOG_ERROR, TF_LOG_WARN, TF_LOG_INFO } tf_log_level_t;

/* Writes "ticketfarm: [2026-03-01T12:34:56.789Z r3] [level: ]message\n" to stderr in one write,
 * so lines from several ranks do not interleave mid-line: UTC wall clock to the millisecond, and
 * the MPI_COMM_WORLD rank while MPI runs (no rank before MPI_Init or after MPI_Finalize).
 * Rank-local: callers decide which rank speaks. */
void tf_log(tf_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
