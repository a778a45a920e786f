/* log.h: the log lines of weft's long-running roles (server, dev, scheduler,
 * worker, coordinator), as text (the historical bytes) or JSON, one per line.
 *
 * The format is chosen once per process: `--log-format text|json` on the
 * command, else the WEFT_LOG_FORMAT environment variable (which the flag
 * also sets, so coordinators a server or scheduler spawns inherit it).
 *
 *   text: "<prefix><message>\n" where prefix is f->text_prefix, else the
 *         process's default ("weft server: ", set by weft_log_set_role).
 *         With f->text_time the line starts "<ISO time> " first. The level
 *         is not printed: text lines keep the bytes they always had.
 *   json: {"time":"2026-01-02T03:04:05.678Z","level":"info","role":"server",
 *          "run":null|"ID","step":null|"NAME","message":"..."} plus
 *          "worker":"ID" when f->worker is set. Every key but worker is
 *          always present (null when not relevant), so pipelines can rely
 *          on them.
 *
 * Each line is written with one write(2) so lines of several threads never
 * interleave. A step's own stdout/stderr is not weft's log and does not go
 * through here. */
#ifndef WEFT_UTIL_LOG_H
#define WEFT_UTIL_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "weft.h"

enum weft_log_level { WEFT_LOG_DEBUG, WEFT_LOG_INFO, WEFT_LOG_WARN, WEFT_LOG_ERROR };
enum weft_log_format { WEFT_LOG_TEXT, WEFT_LOG_JSON };

/* The context of one line; every member may be NULL/0. */
struct weft_log_fields {
  const char *run;         /* run id the line is about */
  const char *step;        /* step (op invocation) name */
  const char *worker;      /* worker id (JSON only; text puts it in its prefix) */
  const char *text_prefix; /* text format only: replaces the role's prefix */
  int text_time;           /* text format only: start the line with the time */
  int to_stdout;           /* the line goes to stdout (status lines such as
                            * "listening on URL") rather than stderr */
};

/* Fields naming only a text prefix: the server's lines keep "weft server: "
 * even inside `weft dev`, as they always did. */
#define WEFT_LOG_PREFIX(p) (&(const struct weft_log_fields){.text_prefix = (p)})

/* The role ("server", "dev", "scheduler", "worker", "coordinator") named in
 * JSON lines, and the prefix of text lines ("weft server: "). Call once at
 * start-up, before threads; the strings must outlive the process's logging
 * (literals). */
void weft_log_set_role(const char *role, const char *text_prefix);

/* Chooses the format by name ("text" or "json"); WEFT_EINVALID with a message
 * naming the value otherwise. With export set, WEFT_LOG_FORMAT is set too so
 * child processes log alike. */
int weft_log_set_format_name(const char *name, int export_env, weft_error *err);

/* The format from WEFT_LOG_FORMAT (text when unset); WEFT_EINVALID when it
 * holds something else. Commands call it before parsing --log-format. */
int weft_log_init_from_env(weft_error *err);

enum weft_log_format weft_log_get_format(void);
static inline int weft_log_is_json(void) { return weft_log_get_format() == WEFT_LOG_JSON; }
const char *weft_log_role(void);

/* Writes one line to stderr, or stdout with f->to_stdout (see the top of
 * this file). */
void weft_log(enum weft_log_level level, const struct weft_log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weft_vlog(enum weft_log_level level, const struct weft_log_fields *f, const char *fmt,
               va_list ap);

/* Shorthands with the role's prefix: a line about a run (run may be NULL)
 * and, optionally, one of its steps. */
void weft_log_run(enum weft_log_level level, const char *run, const char *step,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define weft_log_info(...) weft_log_run(WEFT_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define weft_log_warn(...) weft_log_run(WEFT_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define weft_log_error(...) weft_log_run(WEFT_LOG_ERROR, NULL, NULL, __VA_ARGS__)

/* Builds the line weft_log would write, without the newline (for tests):
 * free() the result; NULL when out of memory. */
char *weft_log_format_line(enum weft_log_format format, enum weft_log_level level,
                           const struct weft_log_fields *f, int64_t wall_ms, const char *msg);

#endif
