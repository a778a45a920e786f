/* log.c: weft's own log lines as text or JSON (log.h). The format and role
 * are process-wide, set at start-up before threads; a line is one write(2). */
#include "util/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"

static enum weft_log_format log_format = WEFT_LOG_TEXT;
static const char *log_role = "weft";
static const char *log_prefix = "weft: ";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void weft_log_set_role(const char *role, const char *text_prefix) {
  if (role) log_role = role;
  if (text_prefix) log_prefix = text_prefix;
}

const char *weft_log_role(void) { return log_role; }

enum weft_log_format weft_log_get_format(void) { return log_format; }

int weft_log_set_format_name(const char *name, int export_env, weft_error *err) {
  enum weft_log_format f;
  if (name && !strcmp(name, "text")) f = WEFT_LOG_TEXT;
  else if (name && !strcmp(name, "json")) f = WEFT_LOG_JSON;
  else
    return weft_error_set(err, WEFT_EINVALID, "--log-format wants text or json, got '%.64s'",
                          name ? name : "");
  log_format = f;
  if (export_env && setenv("WEFT_LOG_FORMAT", name, 1))
    return weft_error_set(err, WEFT_ENOMEM, "cannot set WEFT_LOG_FORMAT: %s", strerror(errno));
  return WEFT_OK;
}

int weft_log_init_from_env(weft_error *err) {
  const char *v = getenv("WEFT_LOG_FORMAT");
  if (!v || !*v) return WEFT_OK;
  if (!strcmp(v, "text") || !strcmp(v, "json")) return weft_log_set_format_name(v, 0, err);
  return weft_error_set(err, WEFT_EINVALID, "WEFT_LOG_FORMAT wants text or json, got '%.64s'",
                        v);
}

/* json_string rejects invalid UTF-8: such a message (a path, a peer's
 * bytes) must still be logged, so its bytes above ASCII become '?'. */
static json_t *jstr(const char *s) {
  json_t *v = json_string(s);
  if (v) return v;
  char *c = strdup(s);
  if (!c) return json_string("");
  for (char *p = c; *p; p++)
    if ((unsigned char)*p >= 0x80) *p = '?';
  v = json_string(c);
  free(c);
  return v;
}

char *weft_log_format_line(enum weft_log_format format, enum weft_log_level level,
                           const struct weft_log_fields *f, int64_t wall_ms, const char *msg) {
  static const struct weft_log_fields none = {0};
  char ts[32];
  if (!f) f = &none;
  if ((unsigned)level > WEFT_LOG_ERROR) level = WEFT_LOG_ERROR;
  weft_clock_format_iso(wall_ms, ts, sizeof ts);
  if (format == WEFT_LOG_TEXT) {
    struct weft_buf b = WEFT_BUF_INIT;
    if (f->text_time) weft_buf_addf(&b, "%s ", ts);
    weft_buf_adds(&b, f->text_prefix ? f->text_prefix : log_prefix);
    weft_buf_adds(&b, msg);
    return weft_buf_detach(&b, NULL);
  }
  json_t *o = json_object();
  json_object_set_new(o, "time", json_string(ts));
  json_object_set_new(o, "level", json_string(level_names[level]));
  json_object_set_new(o, "role", jstr(log_role));
  json_object_set_new(o, "run", f->run ? jstr(f->run) : json_null());
  json_object_set_new(o, "step", f->step ? jstr(f->step) : json_null());
  json_object_set_new(o, "message", jstr(msg));
  if (f->worker) json_object_set_new(o, "worker", json_string(f->worker));
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
  json_decref(o);
  return s;
}

/* The whole line in one write: stderr is unbuffered, and a line written in
 * pieces could interleave with another thread's. */
static void write_line(int fd, const char *s) {
  size_t len = strlen(s);
  char *line = malloc(len + 1);
  if (!line) return;
  memcpy(line, s, len);
  line[len++] = '\n';
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, line + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  free(line);
}

void weft_vlog(enum weft_log_level level, const struct weft_log_fields *f, const char *fmt,
               va_list ap) {
  struct weft_buf msg = WEFT_BUF_INIT;
  weft_buf_vaddf(&msg, fmt, ap);
  /* A message ending in a newline would make an empty text line. */
  while (msg.len && msg.ptr[msg.len - 1] == '\n') msg.ptr[--msg.len] = '\0';
  char *line = weft_log_format_line(log_format, level, f, weft_clock_wall_ms(), msg.ptr);
  int fd = STDERR_FILENO;
  if (f && f->to_stdout) {
    fflush(stdout); /* what the process printf'ed before comes first */
    fd = STDOUT_FILENO;
  }
  write_line(fd, line ? line : msg.ptr); /* out of memory: the message at least */
  free(line);
  weft_buf_release(&msg);
}

void weft_log(enum weft_log_level level, const struct weft_log_fields *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  weft_vlog(level, f, fmt, ap);
  va_end(ap);
}

void weft_log_run(enum weft_log_level level, const char *run, const char *step,
                  const char *fmt, ...) {
  struct weft_log_fields f = {.run = run, .step = step};
  va_list ap;
  va_start(ap, fmt);
  weft_vlog(level, &f, fmt, ap);
  va_end(ap);
}
