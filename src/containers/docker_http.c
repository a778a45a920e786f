/* docker_http.c: HTTP/1.1 to a container engine over its unix socket with
 * libcurl (CURLOPT_UNIX_SOCKET_PATH): plain calls and streamed responses. */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "containers/containers_int.h"
#include "util/str.h"

/* The host part of every URL: curl needs one, the socket is what counts. */
#define BASE "http://engine"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static CURL *new_handle(const struct weft__ctr_http *h) {
  CURL *c = curl_easy_init();
  if (!c) return NULL;
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->socket);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  return c;
}

int weft__ctr_http_init(struct weft__ctr_http *h, const char *url, weft_error *err) {
  memset(h, 0, sizeof *h);
  if (!weft_str_has_prefix(url, "unix://") || url[7] != '/')
    return weft_error_set(err, WEFT_EINVALID,
                          "container engine address '%s' must be unix:///PATH (the "
                          "engine's socket)", url);
  pthread_once(&global_once, global_init);
  h->url = strdup(url);
  h->socket = strdup(url + 7);
  if (h->url && h->socket && (h->curl = new_handle(h))) return WEFT_OK;
  weft__ctr_http_release(h);
  return weft_error_set(err, WEFT_ENOMEM, "out of memory");
}

void weft__ctr_http_release(struct weft__ctr_http *h) {
  if (h->curl) curl_easy_cleanup(h->curl);
  free(h->url);
  free(h->socket);
  memset(h, 0, sizeof *h);
}

/* The message for a request that got no answer. */
static int transport_error(const struct weft__ctr_http *h, CURL *c, CURLcode cc,
                           const char *method, const char *path, weft_error *err) {
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  if (cc == CURLE_COULDNT_CONNECT) {
    char why[128];
    snprintf(why, sizeof why, "%s", os_errno ? strerror((int)os_errno) : "cannot connect");
    if (why[0] >= 'A' && why[0] <= 'Z') why[0] = (char)(why[0] - 'A' + 'a');
    return weft_error_set(err, WEFT_EIO,
                          "no container engine at %s: %s; start 'podman system service' "
                          "or Docker", h->url, why);
  }
  return weft_error_set(err, WEFT_EIO, "container engine at %s: %s %s: %s", h->url, method,
                        path, curl_easy_strerror(cc));
}

struct collect {
  struct weft_buf *b;
  int too_big, nomem;
};

static size_t collect_body(char *p, size_t size, size_t n, void *data) {
  struct collect *c = data;
  size_t len = size * n;
  if (c->b->len + len > WEFT__CTR_BODY_MAX) {
    c->too_big = 1;
    return 0;
  }
  if (weft_buf_add(c->b, p, len)) {
    c->nomem = 1;
    return 0;
  }
  return len;
}

static int set_request(CURL *c, const char *method, const char *url, const char *body,
                       struct curl_slist **headers) {
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  if (!strcmp(method, "POST") || body) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
  }
  if (strcmp(method, "GET") && strcmp(method, "POST"))
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  *headers = curl_slist_append(NULL, "Content-Type: application/json");
  if (!*headers) return WEFT_ENOMEM;
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
  return WEFT_OK;
}

int weft__ctr_http_call(struct weft__ctr_http *h, const char *method, const char *path,
                        const char *body, long *status, struct weft_buf *resp,
                        weft_error *err) {
  struct curl_slist *headers = NULL;
  struct collect col = {resp, 0, 0};
  char *url = weft_str_printf(BASE "%s", path);
  int rc = WEFT_OK;
  *status = 0;
  weft_buf_reset(resp);
  if (!url || set_request(h->curl, method, url, body, &headers)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (h->extra_header) {
    struct curl_slist *more = curl_slist_append(headers, h->extra_header);
    if (!more) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      goto done;
    }
    headers = more;
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
  }
  curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &col);
  CURLcode cc = curl_easy_perform(h->curl);
  if (col.nomem) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  } else if (col.too_big) {
    rc = weft_error_set(err, WEFT_EIO, "container engine at %s: %s %s: answer over %u MiB",
                        h->url, method, path, WEFT__CTR_BODY_MAX >> 20);
  } else if (cc != CURLE_OK) {
    rc = transport_error(h, h->curl, cc, method, path, err);
  } else {
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
  }
done:
  curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(headers);
  free(url);
  return rc;
}

/* ---- streamed responses ---- */

struct stream {
  int (*on_data)(void *data, const char *buf, size_t n);
  int (*on_open)(void *data);
  void *data;
  CURL *c;
  int stopped, opened;
  struct weft_buf error_body; /* a non-2xx body, kept for the message */
  int nomem, open_rc; /* open_rc: what on_open returned, when it failed */
};

/* Calls on_open once the status is known to be a 2xx. */
static int stream_open(struct stream *s) {
  long status = 0;
  if (s->opened || !s->on_open) return 0;
  curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) return 0;
  s->opened = 1;
  if ((s->open_rc = s->on_open(s->data))) s->stopped = 1;
  return s->open_rc != WEFT_OK;
}

/* The end of the headers: a 2xx answer is open (attach: start it now). */
static size_t stream_header(char *p, size_t size, size_t n, void *data) {
  struct stream *s = data;
  size_t len = size * n;
  if (len <= 2 && (p[0] == '\r' || p[0] == '\n') && stream_open(s)) return 0;
  return len;
}

static size_t stream_body(char *p, size_t size, size_t n, void *data) {
  struct stream *s = data;
  size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    if (s->error_body.len < 65536 && weft_buf_add(&s->error_body, p, len)) s->nomem = 1;
    return s->nomem ? 0 : len;
  }
  if (stream_open(s)) return 0;
  if (s->on_data(s->data, p, len)) {
    s->stopped = 1;
    return 0;
  }
  return len;
}

int weft__ctr_http_stream(struct weft__ctr_http *h, const char *method, const char *path,
                          int (*on_data)(void *data, const char *buf, size_t n),
                          int (*on_open)(void *data), void *data,
                          const struct weft_ctr_log_sink *sink, long *status,
                          weft_error *err) {
  struct stream s = {on_data, on_open, data, NULL, 0, 0, WEFT_BUF_INIT, 0, WEFT_OK};
  struct curl_slist *headers = NULL;
  CURLM *multi = curl_multi_init();
  char *url = weft_str_printf(BASE "%s", path);
  int rc = WEFT_OK, added = 0;
  *status = 0;
  if (!multi || !url || !(s.c = new_handle(h)) ||
      set_request(s.c, method, url, NULL, &headers)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  curl_easy_setopt(s.c, CURLOPT_WRITEFUNCTION, stream_body);
  curl_easy_setopt(s.c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(s.c, CURLOPT_HEADERFUNCTION, stream_header);
  curl_easy_setopt(s.c, CURLOPT_HEADERDATA, &s);
  if (curl_multi_add_handle(multi, s.c) != CURLM_OK) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  added = 1;
  int tick_ms = sink && sink->tick_ms > 0 ? sink->tick_ms : 1000;
  for (;;) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int n_msgs = 0;
    CURLMsg *msg = curl_multi_info_read(multi, &n_msgs);
    if (msg && msg->msg == CURLMSG_DONE) {
      CURLcode cc = msg->data.result;
      curl_easy_getinfo(s.c, CURLINFO_RESPONSE_CODE, status);
      if (s.nomem)
        rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      else if (s.open_rc)
        rc = s.open_rc; /* on_open filled err */
      else if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && s.stopped))
        rc = transport_error(h, s.c, cc, method, path, err);
      break;
    }
    struct curl_waitfd extra = {0};
    unsigned n_extra = 0;
    if (sink && sink->wake_fd >= 0) {
      extra.fd = sink->wake_fd;
      extra.events = CURL_WAIT_POLLIN;
      n_extra = 1;
    }
    curl_multi_poll(multi, n_extra ? &extra : NULL, n_extra, tick_ms, NULL);
    if (sink && sink->on_tick && sink->on_tick(sink->data)) break;
  }
  if (!rc && (*status < 200 || *status > 299) && *status) {
    char why[512];
    weft__ctr_error_text(*status, &s.error_body, why, sizeof why);
    rc = weft_error_set(err, *status == 404 ? WEFT_ENOTFOUND : WEFT_EIO, "%s", why);
  }
done:
  if (added) curl_multi_remove_handle(multi, s.c);
  if (s.c) curl_easy_cleanup(s.c);
  if (multi) curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  weft_buf_release(&s.error_body);
  free(url);
  return rc;
}

void weft__ctr_error_text(long status, const struct weft_buf *resp, char *buf, size_t size) {
  json_t *j = resp->len ? json_loadb(resp->ptr, resp->len, 0, NULL) : NULL;
  const char *m = json_string_value(json_object_get(j, "message"));
  if (m)
    snprintf(buf, size, "%s", m);
  else if (resp->len)
    snprintf(buf, size, "HTTP %ld: %.*s", status, (int)(resp->len > 300 ? 300 : resp->len),
             resp->ptr);
  else
    snprintf(buf, size, "HTTP %ld", status);
  json_decref(j);
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
}

int weft__ctr_url_encode(struct weft_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                (*p >= '0' && *p <= '9') || strchr("-_.~", *p);
    if (plain ? weft_buf_addc(b, (char)*p) : weft_buf_addf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]))
      return WEFT_ENOMEM;
  }
  return WEFT_OK;
}
