/* http.h: the weft HTTP server (src/http/API.md): JSON API, server-sent
 * events, metrics and the embedded web UI on libmicrohttpd, for `weft server|dev`. */
#ifndef WEFT_HTTP_HTTP_H
#define WEFT_HTTP_HTTP_H

#include <stddef.h>

#include "weft.h"

/* What to serve. Strings are borrowed for the call (the server copies what
 * it keeps). */
struct weft_http_options {
  const char *listen;       /* "HOST:PORT" or "[V6ADDR]:PORT"; port 0 picks
                               a free one; NULL: "127.0.0.1:3000" */
  const char *ws_file;      /* the workspace file, or NULL */
  const char *const *paths; /* else these code location folders */
  size_t n_paths;           /* neither: ./workspace.yaml */
  const char *home;         /* the instance; NULL: $WEFT_HOME, else ./.weft */
  const char *exe;          /* the weft binary coordinators are spawned
                               from (`EXE run coordinate RUN`); NULL: this
                               process's own (/proc/self/exe) */
  int insecure;             /* serve a non-loopback address without TLS or
                               without auth anyway; 0: refuse it */
  const char *tls_cert;     /* PEM files: serve HTTPS (libmicrohttpd's */
  const char *tls_key;      /* GnuTLS) with HSTS; both or neither */
  int auth;                 /* 1: every request but /healthz needs a token or
                               a user's password (and the role its route
                               needs); 0: none; -1: on unless the address is
                               loopback (weft dev) */
};

struct weft_http_server;

/* Opens the instance, loads the workspace, starts the coordinator reaper
 * and serving threads and returns once the server listens. Fails (with
 * err filled) when the address is bad or taken, or beyond this machine
 * without o->insecure, the instance cannot be
 * opened, or the workspace cannot be read (a workspace with errors is
 * served: its errors are part of the API). */
int weft_http_server_start(const struct weft_http_options *o, struct weft_http_server **out,
                           weft_error *err);
/* "http://127.0.0.1:3000" (https:// with TLS): the address it really
 * listens on. */
const char *weft_http_server_url(const struct weft_http_server *s);
/* The instance's folder (absolute). */
const char *weft_http_server_home(const struct weft_http_server *s);
/* 1 when it listens on a loopback address only. */
int weft_http_server_is_loopback(const struct weft_http_server *s);
/* 1 when requests need credentials. */
int weft_http_server_auth(const struct weft_http_server *s);
/* Stops serving (open event streams end), waits for the threads, closes
 * everything. Coordinators it spawned go on: they are sessions of their
 * own. NULL is a no-op. */
void weft_http_server_stop(struct weft_http_server *s);

#endif
