/* Levelled messages on stderr for the CLI and the farm's progress lines. */
#ifndef TICKETFARM_LOG_H
#define TICKETFARM_LOG_H

typedef enum { TF_LOG_ERROR, TF_LOG_WARN, TF_LOG_INFO, TF_LOG_DEBUG } tf_log_level_t;

/* Messages above level are dropped (default TF_LOG_INFO). */
void tf_log_set_level(tf_log_level_t level);
tf_log_level_t tf_log_get_level(void);

/* Writes "ticketfarm: [level: ]message\n" to stderr in one write, so lines from several ranks do
 * not interleave mid-line. Rank-local: callers decide which rank speaks. */
void tf_log(tf_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
