/* sse.c: server-sent event streams (text/event-stream) and the one of a
 * run's events. Each stream has a producer thread that waits on the
 * stream's own store connection, in slices (so the server's stop, a client
 * that left and the 15 s ping are noticed in time), and hands bytes to MHD
 * under the stream's lock. The MHD worker that sends them suspends the
 * connection while there is nothing to send and the producer resumes it:
 * workers, shared by every connection, never wait on a stream. */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run_view.h"
#include "http/http_int.h"
#include "util/clock.h"

#define SLICE_MS 250 /* longest wait before the producer looks around again */

/* ---- the stream machinery --------------------------------------------------------- */

int http_stream_init(struct http_stream *s, const struct http_stream_ops *ops,
                     struct http_req *r, enum MHD_Result *res) {
  weft_error err = WEFT_ERROR_INIT;
  memset(s, 0, sizeof *s);
  s->ops = ops;
  s->srv = r->srv;
  s->conn = r->conn;
  s->fd = -1;
  weft_buf_init(&s->made);
  weft_buf_init(&s->out);
  pthread_mutex_init(&s->mu, NULL);
  if (atomic_fetch_add(&r->srv->n_streams, 1) >= HTTP_MAX_STREAMS) {
    atomic_fetch_sub(&r->srv->n_streams, 1);
    pthread_mutex_destroy(&s->mu);
    *res = http_send_error(r, 503, NULL, "too many open event streams (%d); try again later",
                           HTTP_MAX_STREAMS);
    return WEFT_EIO;
  }
  s->inst = *r->srv->inst;
  s->inst.store = NULL;
  int rc = weft_store_open(r->srv->inst->storage_url, &s->inst.store, &err);
  if (rc) {
    atomic_fetch_sub(&r->srv->n_streams, 1);
    pthread_mutex_destroy(&s->mu);
    *res = http_send_error(r, 500, NULL, "cannot open the run storage: %s", err.msg);
    return rc;
  }
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (ci) s->fd = ci->connect_fd;
  return WEFT_OK;
}

void http_stream_free(struct http_stream *s) {
  struct http_server *srv = s->srv;
  if (s->ops->release) s->ops->release(s);
  weft_store_close(s->inst.store);
  weft_buf_release(&s->made);
  weft_buf_release(&s->out);
  pthread_mutex_destroy(&s->mu);
  free(s);
  atomic_fetch_sub(&srv->n_streams, 1);
}

/* Drops one of the two references; the last frees. */
static void stream_unref(struct http_stream *s) {
  pthread_mutex_lock(&s->mu);
  int last = --s->refs == 0;
  pthread_mutex_unlock(&s->mu);
  if (last) http_stream_free(s);
}

/* MHD is done with the response (sent, or the connection closed). */
static void stream_gone(void *cls) {
  struct http_stream *s = cls;
  pthread_mutex_lock(&s->mu);
  s->gone = 1;
  pthread_mutex_unlock(&s->mu);
  stream_unref(s);
}

/* Whether the client closed its end (a half-closed socket reads as EOF). */
static int client_gone(const struct http_stream *s) {
  if (s->fd < 0) return 0;
  struct pollfd p = {.fd = s->fd, .events = POLLRDHUP};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

int http_stream_message(struct http_stream *s, long long id, const char *event,
                        json_t *data) {
  char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
  if (!text) return WEFT_ENOMEM;
  int rc = WEFT_OK;
  if (id >= 0) rc |= weft_buf_addf(&s->made, "id: %lld\n", id);
  /* Compact JSON holds no newline, so one data: line carries it. */
  rc |= weft_buf_addf(&s->made, "event: %s\ndata: %s\n\n", event, text);
  free(text);
  return rc ? WEFT_ENOMEM : WEFT_OK;
}

/* Hands what the producer made to the sending side, ending the stream
 * when end (1: complete, 2: cut off), and wakes the connection. Returns 0
 * once MHD released the stream (the producer then stops). */
static int publish(struct http_stream *s, int end) {
  pthread_mutex_lock(&s->mu);
  int alive = !s->gone;
  if (s->made.len && weft_buf_add(&s->out, s->made.ptr, s->made.len)) end = 2;
  weft_buf_reset(&s->made);
  if (end) {
    s->done = 1;
    s->failed = end == 2;
  }
  if (alive && s->suspended && (s->out.len > s->off || s->done)) {
    s->suspended = 0;
    MHD_resume_connection(s->conn);
  }
  pthread_mutex_unlock(&s->mu);
  return alive;
}

static void *stream_main(void *arg) {
  struct http_stream *s = arg;
  struct http_server *srv = s->srv;
  /* Something at once, so the client sees the stream open even when
   * nothing happens for a while. */
  weft_buf_adds(&s->made, "retry: 2000\n: weft event stream\n\n");
  s->next_ping_ms = weft_clock_mono_ms() + HTTP_PING_MS;
  int end = 0;
  while (!end && publish(s, 0)) {
    if (atomic_load(&srv->stopping) || client_gone(s)) {
      end = 2;
      break;
    }
    weft_error err = WEFT_ERROR_INIT;
    int rc = s->ops->pump(s, SLICE_MS, &err);
    if (rc) {
      json_t *e = json_pack("{s:s}", "error", err.msg[0] ? err.msg : weft_strerror(rc));
      if (!e || http_stream_message(s, -1, "error", e)) end = 2;
      json_decref(e);
      s->finished = 1;
    }
    int64_t now = weft_clock_mono_ms();
    if (!s->made.len && now >= s->next_ping_ms) weft_buf_adds(&s->made, ": ping\n\n");
    if (s->made.len) s->next_ping_ms = now + HTTP_PING_MS;
    if (s->finished && !end) end = 1;
  }
  publish(s, end ? end : 2);
  stream_unref(s);
  /* The last thing this thread does with the server (its stop waits). */
  atomic_fetch_sub(&srv->n_producers, 1);
  return NULL;
}

/* MHD's side: hands over what is there; with nothing, suspends the
 * connection until the producer has more. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  struct http_stream *s = cls;
  ssize_t n;
  (void)pos;
  pthread_mutex_lock(&s->mu);
  if (s->off < s->out.len) {
    size_t k = s->out.len - s->off < max ? s->out.len - s->off : max;
    memcpy(buf, s->out.ptr + s->off, k);
    s->off += k;
    if (s->off == s->out.len) {
      weft_buf_reset(&s->out);
      s->off = 0;
    }
    n = (ssize_t)k;
  } else if (s->done) {
    n = s->failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
  } else {
    /* Under the lock, so the producer's resume cannot come first. */
    s->suspended = 1;
    MHD_suspend_connection(s->conn);
    n = 0;
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

enum MHD_Result http_stream_respond(struct http_req *r, struct http_stream *s) {
  /* The request lasts as long as the stream: what it holds from the pool
   * goes back now. */
  if (r->store) {
    http_pool_put(&r->srv->pool, r->store);
    r->store = NULL;
  }
  if (r->ws) {
    http_ws_release(r->srv, r->ws);
    r->ws = NULL;
  }
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, s, stream_gone);
  if (!resp) {
    http_stream_free(s);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  s->refs = 2; /* the producer's, and the response's */
  atomic_fetch_add(&r->srv->n_producers, 1);
  /* The thread takes no signal: the command's main thread waits for them. */
  sigset_t all, old;
  pthread_attr_t attr;
  pthread_t t;
  sigfillset(&all);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int e = pthread_create(&t, &attr, stream_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (e) {
    atomic_fetch_sub(&r->srv->n_producers, 1);
    stream_unref(s);            /* the producer's, that never ran */
    MHD_destroy_response(resp); /* MHD's: the stream goes with it */
    return http_send_error(r, 500, NULL, "cannot start a thread for the stream");
  }
  return http_queue(r, 200, resp);
}

/* ---- a run's events ------------------------------------------------------------------- */

struct run_stream {
  struct http_stream s; /* first: the machinery sees only this */
  char *run_id;
  struct weft_run_feed feed;
  long long after; /* events up to this id were seen by the client */
};

static int run_pump(struct http_stream *s, int wait_ms, weft_error *err) {
  struct run_stream *rs = (struct run_stream *)s;
  if (rs->feed.ended) {
    s->finished = 1;
    return WEFT_OK;
  }
  struct weft_event_list l = {0};
  int rc = weft_run_feed_next(&rs->feed, &l, wait_ms, err);
  for (size_t i = 0; !rc && i < l.n; i++) {
    const struct weft_event_row *ev = &l.v[i];
    if (ev->id <= rs->after) continue;
    json_t *o = weft_event_row_json(ev);
    if (o) json_object_del(o, "run_id");
    rc = o ? http_stream_message(s, ev->id, ev->type, o) : WEFT_ENOMEM;
    json_decref(o);
  }
  weft_event_list_release(&l);
  if (!rc && rs->feed.ended) s->finished = 1;
  return rc;
}

static void run_release(struct http_stream *s) { free(((struct run_stream *)s)->run_id); }

static const struct http_stream_ops run_ops = {run_pump, run_release};

enum MHD_Result http_api_events_stream(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  long long after;
  if (http_arg_int(r, "after", 0, LLONG_MAX, 0, &after, &res)) return res;
  /* A reconnecting EventSource says where it was. */
  const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
  if (last) {
    char *end;
    long long id = strtoll(last, &end, 10);
    if (*last && !*end && id > after) after = id;
  }
  struct weft_run_row row = {0};
  int found = http_path_run(r, &row, &res);
  weft_run_row_release(&row);
  if (!found) return res;
  struct run_stream *rs = calloc(1, sizeof *rs);
  if (!rs) return http_send_error(r, 500, NULL, "out of memory");
  if (http_stream_init(&rs->s, &run_ops, r, &res)) {
    free(rs);
    return res;
  }
  if (!(rs->run_id = strdup(r->segs[3]))) {
    http_stream_free(&rs->s);
    return http_send_error(r, 500, NULL, "out of memory");
  }
  rs->after = after;
  weft_run_feed_init(&rs->feed, &rs->s.inst, rs->run_id);
  return http_stream_respond(r, &rs->s);
}
