/* Error codes and the message buffer every fallible library call fills. */
#ifndef TICKETFARM_ERROR_H
#define TICKETFARM_ERROR_H

/* X(NAME, exit_code, description): codes are negative; the CLI maps them to exit codes. */
#define TF_ERRNO_MAP(X)                                               \
  X(NOMEM, 1, "out of memory")                                        \
  X(IO, 1, "input/output error")                                      \
  X(INPUT, 2, "bad input")                                            \
  X(FORMAT, 2, "malformed data file")                                 \
  X(HDF5, 1, "HDF5 error")                                            \
  X(MPI, 1, "MPI error")                                              \
  X(DIVERGED, 1, "training diverged")                                 \
  X(INTERRUPTED, 3, "interrupted")                                    \
  X(MISMATCH, 2, "results file belongs to a different sweep")

enum {
  TF_OK = 0,
#define TF_ERR_ENUM_(name, code, desc) TF_E_##name##_IDX_,
  TF_ERR_FIRST_IDX_ = 0,
  TF_ERRNO_MAP(TF_ERR_ENUM_)
#undef TF_ERR_ENUM_
};

#define TF_ERR_CODE_(name, code, desc) TF_E##name = -(TF_E_##name##_IDX_),
enum { TF_ERRNO_MAP(TF_ERR_CODE_) };
#undef TF_ERR_CODE_

#define TF_ERR_MSG_MAX 1024

/* The message of the first failure; callers may add context with tf_err_prefix. */
typedef struct tf_err {
  int code;                 /* TF_OK or a TF_E* code */
  char msg[TF_ERR_MSG_MAX]; /* human-readable, no trailing newline */
} tf_err_t;

/* Records code and a printf-style message in err (if err is not NULL); returns code. */
int tf_err_set(tf_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message already in err; returns err->code. */
int tf_err_prefix(tf_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The process exit code for a library error code: 0 ok, 1 runtime, 2 input, 3 interrupted. */
int tf_err_exit_code(int code);

#endif
