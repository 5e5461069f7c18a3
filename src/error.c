/* Exit codes of the error codes, and the message buffer helpers. */
#include "ticketfarm/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tf_err_set(tf_err_t *err, int code, const char *fmt, ...) {
  if (err == NULL) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  err->code = code;
  return code;
}

int tf_err_prefix(tf_err_t *err, const char *fmt, ...) {
  if (err == NULL) return TF_OK;
  char head[TF_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  size_t cap = sizeof err->msg - 1;
  size_t hl = strlen(head);
  if (hl > cap - 2) hl = cap - 2;
  size_t ol = strnlen(err->msg, cap);
  if (hl + 2 + ol > cap) ol = cap - hl - 2;
  memmove(err->msg + hl + 2, err->msg, ol);
  memcpy(err->msg, head, hl);
  err->msg[hl] = ':';
  err->msg[hl + 1] = ' ';
  err->msg[hl + 2 + ol] = '\0';
  return err->code;
}

int tf_err_exit_code(int code) {
  switch (code) {
    case TF_OK: return 0;
#define TF_ERR_CASE_(name, exit_code, desc) \
  case TF_E##name: return exit_code;
    TF_ERRNO_MAP(TF_ERR_CASE_)
#undef TF_ERR_CASE_
  }
  return 1;
}
