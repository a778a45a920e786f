/* server.c: the HTTP server's life: its listening address, libmicrohttpd's
 * daemon and the callbacks that take one request from headers to answer.
 *
 * Threading: a few libmicrohttpd workers (a thread pool on epoll) serve
 * every connection; handlers are short, and event streams, which wait,
 * have threads of their own and suspend their connection while idle
 * (sse.c). Few threads keep the latency tail short under load. What
 * threads share lives in struct http_server behind its locks; a request
 * owns its struct http_req and borrows a pooled store connection. The
 * server never forks from these threads: coordinators are spawned with
 * posix_spawn (maint.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>
#include <unistd.h>

#include "engine/locreg.h"
#include "http/http_int.h"
#include "util/fs.h"
#include "util/str.h"
#include "util/log.h"

#define DEFAULT_LISTEN "127.0.0.1:3000"
#define CONNECTION_LIMIT 512u
#define IDLE_TIMEOUT_S 60u
/* Headers and the request line must fit here: larger ones get 431. */
#define CONNECTION_MEMORY (64u * 1024u)
/* What the caches of ended runs may hold (cache.c). */
#define RUNS_CACHE_BYTES (4u << 20)
#define DETAIL_CACHE_BYTES (4u << 20)
#define PAGES_CACHE_BYTES (2u << 20)

/* ---- the listening address -------------------------------------------------- */

/* Splits "HOST:PORT" or "[V6]:PORT" and resolves HOST (numeric, or a name
 * such as localhost) into *addr. */
static int parse_listen(const char *listen, struct sockaddr_storage *addr, socklen_t *len,
                        weft_error *err) {
  char host[256], port[16];
  const char *colon;
  if (listen[0] == '[') {
    const char *close = strchr(listen, ']');
    if (!close || close[1] != ':') goto bad;
    if ((size_t)(close - listen - 1) >= sizeof host) goto bad;
    memcpy(host, listen + 1, (size_t)(close - listen - 1));
    host[close - listen - 1] = '\0';
    colon = close + 1;
  } else {
    colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host) goto bad;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
  }
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || p < 0 || p > 65535) goto bad;
  snprintf(port, sizeof port, "%ld", p);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  int g = getaddrinfo(*host ? host : NULL, port, &hints, &res);
  if (g || !res)
    return weft_error_set(err, WEFT_EINVALID, "cannot listen on '%s': %s", listen,
                          g ? gai_strerror(g) : "no address");
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return WEFT_OK;
bad:
  return weft_error_set(err, WEFT_EINVALID,
                        "cannot listen on '%s': expected HOST:PORT, e.g. 127.0.0.1:3000 "
                        "or [::1]:3000", listen);
}

static int is_loopback(const struct sockaddr_storage *a) {
  if (a->ss_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
  if (a->ss_family == AF_INET6) {
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(v6)) return 1;
    if (IN6_IS_ADDR_V4MAPPED(v6)) return v6->s6_addr[12] == 127;
  }
  return 0;
}

/* The URL of the address the daemon really bound (port 0 picks one). */
static void make_url(struct http_server *srv, int fd) {
  struct sockaddr_storage a = {0};
  socklen_t len = sizeof a;
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (!getsockname(fd, (struct sockaddr *)&a, &len)) {
    if (a.ss_family == AF_INET6) {
      const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a;
      inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
      port = ntohs(s6->sin6_port);
    } else {
      const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a;
      inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
      port = ntohs(s4->sin_port);
    }
    srv->loopback = is_loopback(&a);
  }
  snprintf(srv->url, sizeof srv->url, a.ss_family == AF_INET6 ? "%s://[%s]:%d" : "%s://%s:%d",
           srv->tls ? "https" : "http", host, port);
}

/* Binds and listens here rather than in MHD, so a taken port is reported
 * as such. Returns the socket, or -1 with err filled. */
static int listen_on(const char *where, const struct sockaddr_storage *addr, socklen_t len,
                     weft_error *err) {
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
  if (fd < 0) {
    weft_error_set(err, WEFT_EIO, "cannot listen on %s: %s", where, strerror(errno));
    return -1;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)addr, len) || listen(fd, 128)) {
    weft_error_set(err, errno == EADDRINUSE ? WEFT_ECONFLICT : WEFT_EIO,
                   "cannot listen on %s: %s", where, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* ---- libmicrohttpd callbacks ---------------------------------------------------------- */

/* Leaves escapes alone: paths and arguments are decoded by http_decode,
 * which rejects malformed ones (MHD's own decoder lets them through). */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  (void)cls;
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && msg[n - 1] == '\n') msg[--n] = '\0';
  weft_log(WEFT_LOG_WARN, WEFT_LOG_PREFIX("weft server: "), "%s", msg);
}

struct arg_walk {
  struct http_req *r;
  int bad; /* 1: malformed escape, 2: too many, 3: out of memory */
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
  struct arg_walk *w = cls;
  (void)kind;
  if (w->bad) return MHD_NO;
  if (w->r->n_args == HTTP_MAX_ARGS) {
    w->bad = 2;
    return MHD_NO;
  }
  if (!w->r->args && !(w->r->args = calloc(HTTP_MAX_ARGS, sizeof *w->r->args))) {
    w->bad = 3;
    return MHD_NO;
  }
  char *k = http_decode(key, strlen(key), 1);
  char *v = http_decode(value ? value : "", value ? strlen(value) : 0, 1);
  if (!k || !v) {
    free(k);
    free(v);
    w->bad = 1;
    return MHD_NO;
  }
  w->r->args[w->r->n_args++] = (struct http_arg){k, v};
  return MHD_YES;
}

/* Splits and decodes the path and the query; answers 400 when either is
 * malformed and returns 0 then. */
static int parse_target(struct http_req *r, const char *url, enum MHD_Result *res) {
  if (url[0] != '/') {
    *res = http_send_error(r, 400, NULL, "the request target must be a path");
    return 0;
  }
  const char *p = url + 1;
  while (*p) {
    size_t n = strcspn(p, "/");
    if (r->n_segs == HTTP_MAX_SEGS) {
      /* No route is this deep. */
      *res = http_send_error(r, 404, NULL, "no such path");
      return 0;
    }
    char *seg = http_decode(p, n, 0);
    if (!seg) {
      *res = http_send_error(r, 400, NULL, "malformed percent-encoding in the path");
      return 0;
    }
    r->segs[r->n_segs++] = seg;
    if (!strcmp(seg, ".") || !strcmp(seg, "..")) {
      *res = http_send_error(r, 400, NULL, "'.' and '..' are not allowed in paths");
      return 0;
    }
    p += n;
    if (*p == '/') {
      p++;
      /* "/a/" has an empty last segment: no route has one. */
      if (!*p && r->n_segs < HTTP_MAX_SEGS && !(r->segs[r->n_segs++] = strdup(""))) return 0;
    }
  }
  struct arg_walk w = {r, 0};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &w);
  if (w.bad) {
    *res = http_send_error(r, w.bad == 3 ? 500 : 400, NULL, "%s",
                           w.bad == 1   ? "malformed percent-encoding in the query"
                           : w.bad == 2 ? "too many query arguments"
                                        : "out of memory");
    return 0;
  }
  return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  struct http_server *srv = cls;
  struct http_req *r = *con_cls;
  (void)version;
  if (!r) {
    /* First call: the headers are in. */
    if (!(r = calloc(1, sizeof *r))) return MHD_NO;
    r->srv = srv;
    r->conn = conn;
    weft_buf_init(&r->body);
    snprintf(r->method, sizeof r->method, "%s", method);
    *con_cls = r;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
      r->too_large = 1;
      /* Answered before the body is read: MHD then closes the connection
       * rather than receive it. */
      return http_send_error(r, 413, NULL, "the request body is over %d bytes", HTTP_BODY_MAX);
    }
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (!r->answered && !r->too_large) {
      if (r->body.len + *upload_data_size > HTTP_BODY_MAX) {
        r->too_large = 1;
        weft_buf_release(&r->body);
      } else if (weft_buf_add(&r->body, upload_data, *upload_data_size)) {
        return MHD_NO;
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (r->answered) return MHD_YES;
  if (r->too_large)
    return http_send_error(r, 413, NULL, "the request body is over %d bytes", HTTP_BODY_MAX);
  enum MHD_Result res = MHD_NO;
  if (!parse_target(r, url, &res)) return r->answered ? res : MHD_NO;
  return http_dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)conn;
  (void)toe;
  http_req_free(*con_cls);
  *con_cls = NULL;
}

/* ---- start and stop ---------------------------------------------------------------------- */

/* An absolute, existing path for path. */
static char *absolute(const char *path, weft_error *err) {
  char buf[PATH_MAX];
  if (!realpath(path, buf)) {
    weft_error_set(err, WEFT_EINVALID, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  char *s = strdup(buf);
  if (!s) weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return s;
}

/* Seeds an empty registry from the workspace file just loaded, then serves
 * the registry's locations from now on (locreg.h says who reads what). */
static int enter_registry_mode(struct http_server *srv, weft_error *err) {
  int seeded = 0;
  int rc = weft_locreg_seed(srv->inst->store, srv->ws->ws, &seeded, err);
  if (rc) return rc;
  srv->registry = 1;
  return http_ws_reload(srv, err);
}

int weft_http_server_start(const struct weft_http_options *o, struct weft_http_server **out,
                           weft_error *err) {
  struct sockaddr_storage addr;
  socklen_t alen = 0;
  int rc;
  *out = NULL;
  if ((rc = parse_listen(o->listen ? o->listen : DEFAULT_LISTEN, &addr, &alen, err)))
    return rc;
  int auth = o->auth < 0 ? !is_loopback(&addr) : o->auth != 0;
  if ((!o->tls_cert) != (!o->tls_key))
    return weft_error_set(err, WEFT_EUSAGE, "TLS needs both a certificate and its key");
  if (!o->insecure && !is_loopback(&addr) && (!o->tls_cert || !auth))
    return weft_error_set(err, WEFT_EINVALID,
                          "refusing to listen on %s: that address is reachable from other "
                          "machines, %s. Listen on 127.0.0.1, or give --tls-cert and "
                          "--tls-key with authentication on, or pass --insecure to serve it "
                          "anyway", o->listen ? o->listen : DEFAULT_LISTEN,
                          !auth ? "and without authentication anyone who can reach it could "
                                  "run any command as this user"
                                : "and without TLS passwords and tokens would cross the "
                                  "network in clear");
  struct http_server *srv = calloc(1, sizeof *srv);
  if (!srv) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  srv->auth = auth;
  srv->tls = o->tls_cert != NULL;
  weft_buf_init(&srv->tls_cert);
  weft_buf_init(&srv->tls_key);
  pthread_mutex_init(&srv->ws_mu, NULL);
  weft_group_init(&srv->launches);
  weft_group_init(&srv->audits);
  http_watch_init(&srv->watch);
  http_metrics_init(&srv->metrics);
  http_cache_init(&srv->runs_cache, RUNS_CACHE_BYTES);
  http_cache_init(&srv->detail_cache, DETAIL_CACHE_BYTES);
  http_cache_init(&srv->pages_cache, PAGES_CACHE_BYTES);
  /* A switch for measuring (bench/http) and for doubt: every answer built. */
  srv->cache_off = getenv("WEFT_HTTP_CACHE") && !strcmp(getenv("WEFT_HTTP_CACHE"), "0");
  json_object_seed(0); /* before any thread hashes a key */
  rc = WEFT_ENOMEM;
  if (o->n_paths) {
    if (!(srv->paths = calloc(o->n_paths, sizeof *srv->paths))) goto nomem;
    for (size_t i = 0; i < o->n_paths; i++, srv->n_paths++)
      if (!(srv->paths[i] = absolute(o->paths[i], err))) goto fail_err;
  } else if (!o->ws_file && !weft_fs_exists("workspace.yaml")) {
    /* the registry alone: a name that stays absent, nothing to seed */
    if (!(srv->ws_file = absolute(".", err))) goto fail_err;
    char *f = weft_fs_join(srv->ws_file, "workspace.yaml");
    free(srv->ws_file);
    if (!(srv->ws_file = f)) goto nomem;
  } else if (!(srv->ws_file = absolute(o->ws_file ? o->ws_file : "workspace.yaml", err))) {
    goto fail_err;
  }
  if (!(srv->exe = strdup(o->exe ? o->exe : "/proc/self/exe"))) goto nomem;
  if (srv->tls && ((rc = weft_fs_read_file(o->tls_cert, &srv->tls_cert, err)) ||
                   (rc = weft_fs_read_file(o->tls_key, &srv->tls_key, err))))
    goto fail;
  if (srv->auth && http_basic_cache_init(&srv->basic)) {
    rc = weft_error_set(err, WEFT_EIO, "cannot start libsodium");
    goto fail;
  }
  if ((rc = weft_instance_open(o->home, &srv->inst, err))) goto fail;
  if ((rc = http_pool_init(&srv->pool, srv->inst->storage_url))) goto nomem;
  if ((rc = http_ws_load(srv, &srv->ws, err))) goto fail;
  if (!srv->n_paths && (rc = enter_registry_mode(srv, err))) goto fail;
  if ((rc = http_spawner_init(srv, err))) goto fail;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned workers = cores < 1 ? 2 : cores > HTTP_POOL_MAX / 2 ? HTTP_POOL_MAX : 2 * (unsigned)cores;
  if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  /* libmicrohttpd's GnuTLS; the PEM texts stay in srv while it runs. */
  struct MHD_OptionItem tls_opts[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert.ptr},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key.ptr},
      {MHD_OPTION_END, 0, NULL}};
  if (srv->tls) flags |= MHD_USE_TLS;
  else tls_opts[0].option = MHD_OPTION_END;
  const char *where = o->listen ? o->listen : DEFAULT_LISTEN;
  int fd = listen_on(where, &addr, alen, err);
  if (fd < 0) {
    rc = err->code;
    goto fail;
  }
  /* The guard knows the port before the first request can arrive. */
  make_url(srv, fd);
  if ((rc = http_guard_init(srv, err))) {
    close(fd);
    goto fail;
  }
  srv->mhd = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
      MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
      on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
      MHD_OPTION_THREAD_POOL_SIZE, workers, MHD_OPTION_STRICT_FOR_CLIENT, 1,
      MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
      CONNECTION_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
      MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
  if (!srv->mhd) {
    close(fd);
    rc = weft_error_set(err, WEFT_EIO, "cannot serve on %s (see the message above%s)", where,
                        srv->tls ? "; is the key the certificate's, both PEM?" : "");
    goto fail;
  }
  if ((rc = http_maint_start(srv, err))) goto fail;
  *out = (struct weft_http_server *)srv;
  return WEFT_OK;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory starting the server");
  goto fail;
fail_err:
  rc = err->code;
fail:
  weft_http_server_stop((struct weft_http_server *)srv);
  return rc;
}

const char *weft_http_server_url(const struct weft_http_server *s) {
  return ((const struct http_server *)s)->url;
}

const char *weft_http_server_home(const struct weft_http_server *s) {
  return ((const struct http_server *)s)->inst->home;
}

int weft_http_server_is_loopback(const struct weft_http_server *s) {
  return ((const struct http_server *)s)->loopback;
}

int weft_http_server_auth(const struct weft_http_server *s) {
  return ((const struct http_server *)s)->auth;
}

void weft_http_server_stop(struct weft_http_server *s) {
  struct http_server *srv = (struct http_server *)s;
  if (!srv) return;
  /* Stream producers see the flag within a slice, end their streams and
   * resume their connections: MHD must not be stopped with a connection
   * suspended, nor the server freed under a producer. */
  atomic_store(&srv->stopping, 1);
  for (int i = 0; i < 400 && atomic_load(&srv->n_producers); i++) usleep(10000);
  if (srv->mhd) MHD_stop_daemon(srv->mhd);
  while (atomic_load(&srv->n_producers)) usleep(10000);
  http_maint_stop(srv);
  http_watch_release(&srv->watch);
  if (srv->ws) http_ws_release(srv, srv->ws);
  http_pool_release(&srv->pool);
  weft_instance_close(srv->inst);
  if (srv->spawner_ready) weft_coord_spawner_release(&srv->spawner);
  weft_run_queue_config_release(&srv->queue);
  for (size_t i = 0; i < srv->n_paths; i++) free(srv->paths[i]);
  free(srv->paths);
  free(srv->ws_file);
  free(srv->exe);
  http_metrics_release(&srv->metrics);
  http_cache_release(&srv->runs_cache);
  http_cache_release(&srv->detail_cache);
  http_cache_release(&srv->pages_cache);
  http_guard_release(&srv->guard);
  http_basic_cache_release(&srv->basic);
  if (srv->tls_key.ptr) sodium_memzero(srv->tls_key.ptr, srv->tls_key.len);
  weft_buf_release(&srv->tls_cert);
  weft_buf_release(&srv->tls_key);
  pthread_mutex_destroy(&srv->ws_mu);
  weft_group_release(&srv->launches);
  weft_group_release(&srv->audits);
  free(srv);
}
