/* weft_op.h: header-only helpers for a C program run as a weft op (the step
 * protocol): read config and inputs, write outputs, send events. libc only.
 *
 *   char *cfg = weft_op_config();             // JSON text, free() it
 *   char *x = weft_op_input("x", NULL);       // JSON text (or raw bytes)
 *   weft_op_output("total", "42");            // JSON text
 *   weft_op_log("info", "loaded the rows");   // msg is JSON-escaped here
 *   weft_op_materialize("orders", "{\"rows\": 3}");
 *
 * Functions returning char * give malloc'ed memory (NUL-terminated) or NULL
 * with errno set; functions returning int give 0 or -1 with errno set
 * (EINVAL when a WEFT_* variable is missing: not running under weft). */
#ifndef WEFT_SDK_OP_H
#define WEFT_SDK_OP_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *weft_op__env(const char *name) {
  const char *v = getenv(name);
  if (!v || !v[0]) errno = EINVAL;
  return v && v[0] ? v : NULL;
}

/* "$VAR/name", malloc'ed. */
static inline char *weft_op__join(const char *var, const char *name) {
  const char *dir = weft_op__env(var);
  if (!dir || !name || !name[0] || strchr(name, '/')) {
    errno = EINVAL;
    return NULL;
  }
  size_t len = strlen(dir) + 1 + strlen(name) + 1;
  char *path = (char *)malloc(len);
  if (path) snprintf(path, len, "%s/%s", dir, name);
  return path;
}

/* The whole file at path; its length in *len when len is not NULL. */
static inline char *weft_op_read_file(const char *path, size_t *len) {
  FILE *f = path ? fopen(path, "rb") : NULL;
  char *data = NULL;
  size_t n = 0, cap = 0;
  if (!f) return NULL;
  for (;;) {
    if (cap - n < 4096) {
      cap = cap ? 2 * cap : 8192;
      char *grown = (char *)realloc(data, cap);
      if (!grown) {
        free(data);
        fclose(f);
        return NULL;
      }
      data = grown;
    }
    size_t got = fread(data + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    free(data);
    errno = EIO;
    return NULL;
  }
  data[n] = 0;
  if (len) *len = n;
  return data;
}

/* The op's resolved config as JSON text. */
static inline char *weft_op_config(void) {
  const char *path = weft_op__env("WEFT_CONFIG");
  return path ? weft_op_read_file(path, NULL) : NULL;
}

/* Input NAME: JSON text, or the raw bytes of a `path` input. */
static inline char *weft_op_input(const char *name, size_t *len) {
  char *path = weft_op__join("WEFT_INPUTS", name);
  char *data = path ? weft_op_read_file(path, len) : NULL;
  free(path);
  return data;
}

/* Where to write output NAME (for raw `path` outputs); free() it. */
static inline char *weft_op_output_path(const char *name) {
  return weft_op__join("WEFT_OUTPUTS", name);
}

static inline int weft_op__write_all(int fd, const char *p, size_t len) {
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Writes output NAME: len bytes of data (JSON text for typed outputs). */
static inline int weft_op_output_bytes(const char *name, const void *data,
                                       size_t len) {
  char *path = weft_op_output_path(name);
  if (!path) return -1;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  free(path);
  if (fd < 0) return -1;
  int rc = weft_op__write_all(fd, (const char *)data, len);
  if (close(fd)) rc = -1;
  return rc;
}

/* Writes output NAME from JSON text ("42", "\"text\"", "[1, 2]"). */
static inline int weft_op_output(const char *name, const char *json_text) {
  if (!json_text) {
    errno = EINVAL;
    return -1;
  }
  return weft_op_output_bytes(name, json_text, strlen(json_text));
}

/* Sends one event: a JSON object text on one line (no newline needed). */
static inline int weft_op_event(const char *json_object) {
  const char *fd_text = weft_op__env("WEFT_EVENTS");
  if (!fd_text || !json_object || strchr(json_object, '\n')) {
    errno = EINVAL;
    return -1;
  }
  /* A descriptor number, or (an argv: op in a container) the events file. */
  int opened = fd_text[0] < '0' || fd_text[0] > '9';
  int fd = opened ? open(fd_text, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666)
                  : atoi(fd_text);
  if (fd < 0) return -1;
  size_t len = strlen(json_object);
  char *line = (char *)malloc(len + 2);
  if (!line) {
    if (opened) close(fd);
    return -1;
  }
  memcpy(line, json_object, len);
  line[len] = '\n';
  /* One write per line so lines from several processes do not mix. */
  int rc = weft_op__write_all(fd, line, len + 1);
  free(line);
  if (opened) close(fd);
  return rc;
}

/* s as a JSON string literal (quotes included); free() it. */
static inline char *weft_op_json_string(const char *s) {
  size_t cap = 3;
  for (const char *p = s; *p; p++) cap += 6;
  char *out = (char *)malloc(cap), *o = out;
  if (!out) return NULL;
  *o++ = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      *o++ = '\\';
      *o++ = (char)*p;
    } else if (*p == '\n') {
      *o++ = '\\';
      *o++ = 'n';
    } else if (*p == '\t') {
      *o++ = '\\';
      *o++ = 't';
    } else if (*p < 0x20) {
      o += snprintf(o, 7, "\\u%04x", *p);
    } else {
      *o++ = (char)*p;
    }
  }
  *o++ = '"';
  *o = 0;
  return out;
}

/* A log event; level is debug, info, warning, error or critical. */
static inline int weft_op_log(const char *level, const char *msg) {
  char *lvl = weft_op_json_string(level ? level : "info");
  char *text = weft_op_json_string(msg ? msg : "");
  char *event = NULL;
  int rc = -1;
  if (lvl && text) {
    size_t len = strlen(lvl) + strlen(text) + 40;
    event = (char *)malloc(len);
    if (event) {
      snprintf(event, len, "{\"type\":\"log\",\"level\":%s,\"msg\":%s}", lvl, text);
      rc = weft_op_event(event);
    }
  }
  free(lvl);
  free(text);
  free(event);
  return rc;
}

/* An asset materialization; metadata_json is a JSON object text or NULL. */
static inline int weft_op_materialize(const char *asset, const char *metadata_json) {
  char *name = weft_op_json_string(asset ? asset : "");
  const char *meta = metadata_json ? metadata_json : "{}";
  char *event = NULL;
  int rc = -1;
  if (name) {
    size_t len = strlen(name) + strlen(meta) + 64;
    event = (char *)malloc(len);
    if (event) {
      snprintf(event, len,
               "{\"type\":\"materialization\",\"asset\":%s,\"metadata\":%s}",
               name, meta);
      rc = weft_op_event(event);
    }
  }
  free(name);
  free(event);
  return rc;
}

#endif
