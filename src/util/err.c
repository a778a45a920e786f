/* err.c: error code names and the weft_error record.
 * Messages are truncated to fit the fixed record rather than allocated, so
 * reporting an out-of-memory error can never itself fail. */
#include <stdarg.h>
#include <stdio.h>

#include "weft.h"

const char *weft_strerror(int code) {
  switch (code) {
    case WEFT_OK:
      return "ok";
#define WEFT__ERR_CASE(n, v, s) \
  case v:                       \
    return s;
      WEFT_ERR_MAP(WEFT__ERR_CASE)
#undef WEFT__ERR_CASE
  }
  return "unknown error";
}

int weft_error_set(weft_error *err, int code, const char *fmt, ...) {
  if (!err) return code;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return code;
}
