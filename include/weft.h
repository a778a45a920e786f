/* weft.h: the public embedding API of libweft (the only installed header).
 * Error codes, the error record every fallible call fills, and C-function ops. */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_EXTERN extern __attribute__((visibility("default")))
#define WEFT_VERSION "0.1.0"

/* Error codes: 0 is success, every failure is negative. One list, so the
 * enum and the names can never disagree. */
#define WEFT_ERR_MAP(X)                                   \
  X(NOMEM, -1, "out of memory")                          \
  X(NOTFOUND, -2, "not found")                           \
  X(CONFLICT, -3, "conflict")                            \
  X(IO, -4, "i/o error")                                 \
  X(INVALID, -5, "invalid input")                        \
  X(USAGE, -6, "usage error")                            \
  X(STORE, -7, "storage error")                          \
  X(EXEC, -8, "execution error")                         \
  X(CANCELED, -9, "canceled")                            \
  X(TIMEOUT, -10, "timed out")                           \
  X(VERSION, -11, "version mismatch")

enum {
  WEFT_OK = 0,
#define WEFT__ERR_ENUM(n, v, s) WEFT_E##n = v,
  WEFT_ERR_MAP(WEFT__ERR_ENUM)
#undef WEFT__ERR_ENUM
};

/* A caller-owned error record. Functions that fail fill it with the code and
 * a human message naming the file, field or object at fault. */
typedef struct weft_error {
  int code;
  char msg[1024];
} weft_error;

#define WEFT_ERROR_INIT {0, {0}}

/* Static string for an error code ("out of memory", ...). */
WEFT_EXTERN const char *weft_strerror(int code);

/* Set err (may be NULL) to code and a printf-style message; returns code. */
WEFT_EXTERN int weft_error_set(weft_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- C function ops (the embedding API) ------------------------------- */

/* What a C op sees while it runs: borrowed, valid only during the call.
 * config_json and inputs are JSON texts; the op sets outputs through
 * weft_op_ctx_set_output and may log through weft_op_ctx_log. */
typedef struct weft_op_ctx weft_op_ctx;

WEFT_EXTERN const char *weft_op_ctx_config_json(weft_op_ctx *ctx);
/* JSON text of input NAME, or NULL when the op has no such input. */
WEFT_EXTERN const char *weft_op_ctx_input_json(weft_op_ctx *ctx, const char *name);
/* Record output NAME from a JSON text (copied). Returns WEFT_OK or
 * WEFT_EINVALID when json_text does not parse. */
WEFT_EXTERN int weft_op_ctx_set_output(weft_op_ctx *ctx, const char *name,
                                      const char *json_text);
WEFT_EXTERN void weft_op_ctx_log(weft_op_ctx *ctx, const char *level,
                                 const char *msg);

/* A C op returns 0 on success; any other value fails the step, with the
 * message it left in err. */
typedef int (*weft_op_fn)(weft_op_ctx *ctx, void *userdata, weft_error *err);

/* Register a C function under NAME; an op definition runs it with
 * `c_function: NAME` under the in_process executor. NAME is copied. */
WEFT_EXTERN int weft_register_c_op(const char *name, weft_op_fn fn,
                                   void *userdata);

/* The weft command line (`weft COMMAND ARGS...`) inside a program of your
 * own, linked with libweft: register your C ops first, then call
 * weft_main(argc, argv) from main(). `PROGRAM worker ...` then runs
 * c_function ops in-process, on a warm worker. Returns the exit status. */
WEFT_EXTERN int weft_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
