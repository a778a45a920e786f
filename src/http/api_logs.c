/* api_logs.c: a step's compute logs (stdout.log, stderr.log of an attempt):
 * bytes from an offset, or an event stream that tails them as they grow.
 * A file is only ever found through the step_started event of the run, and
 * must lie under $WEFT_HOME/runs: the URL names a step, never a path. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/run_view.h"
#include "http/http_int.h"
#include "util/clock.h"
#include "util/str.h"

#define CHUNK 32768  /* bytes per `event: chunk` */
#define POLL_MS 100  /* how often a growing log is read again */
#define REMOTE_POLL_MS 1000 /* ... when it comes from the artifact store */

/* A log path the engine recorded, checked to lie inside the runs folder. */
static int path_ok(const struct weft_instance *inst, const char *path) {
  size_t n = strlen(inst->runs_dir);
  return path && !strncmp(path, inst->runs_dir, n) && path[n] == '/' && !strstr(path, "/../");
}

/* 1 for stderr, 0 for stdout; -1 after answering 400. */
static int which_stream(struct http_req *r, enum MHD_Result *res) {
  const char *s = http_arg(r, "stream");
  if (!s || !strcmp(s, "stdout")) return 0;
  if (!strcmp(s, "stderr")) return 1;
  *res = http_send_error(r, 400, NULL, "stream wants stdout or stderr, got '%.100s'", s);
  return -1;
}

/* ?stream=, ?attempt= and ?offset=, shared by the log and its stream;
 * nonzero after answering 400. */
static int log_args(struct http_req *r, int *use_stderr, long long *attempt,
                    long long *offset, enum MHD_Result *res) {
  *use_stderr = which_stream(r, res);
  return *use_stderr < 0 || http_arg_int(r, "attempt", 1, INT_MAX, 0, attempt, res) ||
         http_arg_int(r, "offset", 0, LLONG_MAX, 0, offset, res);
}

/* ---- the bytes of a log ----------------------------------------------------------------- */

/* Finds the step_started event of step's attempt (0: the last) and its log
 * path; WEFT_ENOTFOUND when the step has not started (that attempt). */
static int find_log(struct weft_instance *inst, const char *run_id, const char *step,
                    int attempt, int use_stderr, int *found, char **path, weft_error *err) {
  struct weft_event_filter f = {.run_id = run_id, .step = step};
  struct weft_event_list l = {0};
  int rc = weft_store_event_read(inst->store, &f, &l, err);
  *found = 0;
  *path = NULL;
  for (size_t i = 0; !rc && i < l.n; i++) {
    if (strcmp(l.v[i].type, "step_started")) continue;
    json_t *p = json_loads(l.v[i].payload ? l.v[i].payload : "{}", 0, NULL);
    int a = (int)json_integer_value(json_object_get(p, "attempt"));
    if ((!attempt && a > *found) || (attempt && a == attempt)) {
      *found = a;
      free(*path);
      *path = weft_str_dup(json_string_value(json_object_get(p, use_stderr ? "stderr" : "stdout")));
    }
    json_decref(p);
  }
  weft_event_list_release(&l);
  if (!rc && !*found) rc = WEFT_ENOTFOUND;
  return rc;
}

/* The log from the artifact store when it is not on this machine's disk
 * (a remote store: the step ran elsewhere, or its folder was cleaned up):
 * an open, already unlinked temp file, or -1. */
static int open_stored_log(struct weft_instance *inst, const char *run_id, const char *step,
                           int attempt, int use_stderr) {
  if (!strcmp(inst->artifacts->m->name, "fs")) return -1;
  char tmp[] = "/tmp/weft-log-XXXXXX";
  int fd = mkstemp(tmp);
  if (fd < 0) return -1;
  close(fd);
  char *key = weft_str_printf("%s/%s/%d/%s", run_id, step, attempt,
                              use_stderr ? "stderr.log" : "stdout.log");
  weft_error err = WEFT_ERROR_INIT;
  fd = key && !weft_artifacts_read_log(inst->artifacts, key, tmp, &err)
           ? open(tmp, O_RDONLY | O_CLOEXEC)
           : -1;
  unlink(tmp);
  free(key);
  return fd;
}

enum MHD_Result http_api_log(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  long long attempt, offset;
  int use_stderr;
  if (log_args(r, &use_stderr, &attempt, &offset, &res)) return res;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  const char *run_id = r->segs[3], *step = r->segs[5];
  struct weft_run_row row = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_store_run_get(inst->store, run_id, &row, &err);
  weft_run_row_release(&row);
  if (rc) return http_send_weft_error(r, &err);
  int found;
  char *path = NULL;
  rc = find_log(inst, run_id, step, (int)attempt, use_stderr, &found, &path, &err);
  if (rc == WEFT_ENOTFOUND) {
    free(path);
    if (attempt)
      return http_send_error(r, 404, NULL, "step '%s' of run %s has no attempt %lld", step,
                             run_id, attempt);
    return http_send_error(r, 404, NULL, "step '%s' of run %s has no log yet: it has not "
                                         "started", step, run_id);
  }
  if (rc) {
    free(path);
    return http_send_weft_error(r, &err);
  }
  int inside = path_ok(inst, path);
  int fd = inside ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  int missing = fd < 0 && inside && errno == ENOENT;
  if (missing && (fd = open_stored_log(inst, run_id, step, found, use_stderr)) >= 0) missing = 0;
  struct stat sb = {0};
  /* The attempt started but wrote no log file: a step that printed nothing
   * may have none (exec.h), so it is an empty log. */
  if (!missing && (fd < 0 || fstat(fd, &sb))) {
    int e = errno;
    if (fd >= 0) close(fd);
    free(path);
    if (e == ENOENT || fd < 0)
      return http_send_error(r, 404, NULL, "step '%s' of run %s has no %s log yet", step,
                             run_id, use_stderr ? "stderr" : "stdout");
    return http_send_error(r, 500, NULL, "cannot read the log: %s", strerror(e));
  }
  free(path);
  uint64_t size = (uint64_t)sb.st_size, off = (uint64_t)offset > size ? size : (uint64_t)offset;
  struct MHD_Response *resp;
  if (off == size) {
    if (fd >= 0) close(fd);
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  } else {
    /* MHD sends the file from the offset and closes fd. */
    resp = MHD_create_response_from_fd_at_offset64(size - off, fd, off);
    if (!resp) close(fd);
  }
  if (!resp) return MHD_NO;
  char num[32];
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  snprintf(num, sizeof num, "%llu", (unsigned long long)size);
  MHD_add_response_header(resp, "X-Weft-Log-Size", num);
  snprintf(num, sizeof num, "%d", found);
  MHD_add_response_header(resp, "X-Weft-Log-Attempt", num);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return http_queue(r, 200, resp);
}

/* ---- tailing a log ------------------------------------------------------------------------- */

struct attempt_log {
  int attempt;
  char *path;
  int ended; /* the attempt's final event was seen: its file is complete */
};

struct log_stream {
  struct http_stream s; /* first: the machinery sees only this */
  char *run_id, *step;
  int use_stderr;
  int pinned;            /* the attempt asked for, 0: follow the step */
  struct weft_run_feed feed;
  struct attempt_log *att;
  size_t n_att;
  long cur;              /* index in att being sent, -1 before any */
  long long off;         /* bytes of it sent */
  long long start_off;   /* ?offset= for the first attempt sent */
  int step_over;         /* the step reached a final state */
  int primed;
  int64_t remote_read_ms; /* last read of a log from the artifact store */
};

/* s[0..n) as valid UTF-8 (JSON strings must be): an invalid byte becomes
 * U+FFFD. */
static json_t *utf8_string(const unsigned char *s, size_t n) {
  struct weft_buf b = WEFT_BUF_INIT;
  for (size_t i = 0; i < n;) {
    size_t len = http_utf8_seq(s + i, n - i);
    if (len) {
      weft_buf_add(&b, s + i, len);
      i += len;
    } else {
      weft_buf_adds(&b, "\xEF\xBF\xBD");
      i++;
    }
  }
  json_t *v = json_stringn(b.ptr, b.len);
  weft_buf_release(&b);
  return v;
}

/* Bytes at the end of s[0..n) that begin a UTF-8 sequence not complete yet
 * (the step is still writing it). */
static size_t incomplete_tail(const unsigned char *s, size_t n) {
  for (size_t back = 1; back <= 3 && back <= n; back++) {
    unsigned char c = s[n - back];
    if ((c & 0xC0) == 0x80) continue;
    int len = http_utf8_lead_len(c);
    return len > (int)back ? back : 0;
  }
  return 0;
}

static struct attempt_log *find_attempt(struct log_stream *ls, int attempt) {
  for (size_t i = 0; i < ls->n_att; i++)
    if (ls->att[i].attempt == attempt) return &ls->att[i];
  return NULL;
}

/* Takes in what one event of the run says about the step's logs. */
static int log_event(struct log_stream *ls, const struct weft_event_row *ev) {
  static const char *const step_finals[] = {"step_succeeded", "step_failed", "step_skipped",
                                            "step_canceled", "step_reused"};
  if (!ev->step || strcmp(ev->step, ls->step)) return WEFT_OK;
  json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
  int attempt = (int)json_integer_value(json_object_get(p, "attempt")), rc = WEFT_OK;
  if (!strcmp(ev->type, "step_started")) {
    if (!find_attempt(ls, attempt) && (!ls->pinned || attempt == ls->pinned)) {
      struct attempt_log *nv = realloc(ls->att, (ls->n_att + 1) * sizeof *nv);
      if (!nv) {
        rc = WEFT_ENOMEM;
      } else {
        ls->att = nv;
        const char *path = json_string_value(json_object_get(p, ls->use_stderr ? "stderr" : "stdout"));
        nv[ls->n_att++] = (struct attempt_log){attempt, weft_str_dup(path), 0};
      }
    }
  } else if (!strcmp(ev->type, "step_up_for_retry") || !strcmp(ev->type, "step_succeeded") ||
             !strcmp(ev->type, "step_failed") || !strcmp(ev->type, "step_canceled")) {
    struct attempt_log *a = attempt ? find_attempt(ls, attempt) : NULL;
    if (a) a->ended = 1;
  }
  for (size_t i = 0; i < sizeof step_finals / sizeof *step_finals; i++)
    if (!strcmp(ev->type, step_finals[i])) ls->step_over = 1;
  json_decref(p);
  return rc;
}

/* Reads the run's next events (waiting up to wait_ms) into ls. */
static int absorb(struct log_stream *ls, int wait_ms, weft_error *err) {
  struct weft_event_list l = {0};
  int rc = weft_run_feed_next(&ls->feed, &l, wait_ms, err);
  for (size_t i = 0; !rc && i < l.n; i++) rc = log_event(ls, &l.v[i]);
  weft_event_list_release(&l);
  if (rc && !err->msg[0]) weft_error_set(err, rc, "%s", weft_strerror(rc));
  if (!rc && !ls->primed) {
    /* Following a step starts at its latest attempt: older ones are over. */
    ls->primed = 1;
    if (ls->n_att) {
      ls->cur = (long)ls->n_att - 1;
      ls->off = ls->start_off;
    }
  }
  return rc;
}

/* The current attempt's log when this machine's disk does not have it (the
 * step runs on a worker elsewhere): the chunks uploaded so far, read again
 * at most once a second (they are uploaded that often), or the whole log
 * once the attempt ended, which is never throttled so the tail is not lost. */
static int open_remote_log(struct log_stream *ls, const struct attempt_log *a) {
  int64_t now = weft_clock_mono_ms();
  if (!a->ended && ls->remote_read_ms && now - ls->remote_read_ms < REMOTE_POLL_MS) return -1;
  ls->remote_read_ms = now;
  return open_stored_log(&ls->s.inst, ls->run_id, ls->step, a->attempt, ls->use_stderr);
}

/* Sends what the current attempt's file gained; returns the bytes read. */
static long long send_chunk(struct log_stream *ls, weft_error *err) {
  struct attempt_log *a = &ls->att[ls->cur];
  int fd = path_ok(&ls->s.inst, a->path) ? open(a->path, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0) fd = open_remote_log(ls, a);
  if (fd < 0) return 0; /* not created yet: the step is starting */
  unsigned char *buf = malloc(CHUNK);
  ssize_t n = buf ? pread(fd, buf, CHUNK, (off_t)ls->off) : -1;
  close(fd);
  if (n <= 0) {
    free(buf);
    return 0;
  }
  size_t keep = a->ended ? (size_t)n : (size_t)n - incomplete_tail(buf, (size_t)n);
  if (!keep) {
    free(buf);
    return 0;
  }
  json_t *d = json_pack("{s:i, s:I, s:o}", "attempt", a->attempt, "offset", (json_int_t)ls->off,
                        "text", utf8_string(buf, keep));
  free(buf);
  int rc = d ? http_stream_message(&ls->s, -1, "chunk", d) : WEFT_ENOMEM;
  json_decref(d);
  if (rc) {
    weft_error_set(err, rc, "out of memory");
    return -1;
  }
  ls->off += (long long)keep;
  return (long long)keep;
}

static int log_pump(struct http_stream *s, int wait_ms, weft_error *err) {
  struct log_stream *ls = (struct log_stream *)s;
  int rc = absorb(ls, 0, err);
  if (rc) return rc;
  if (ls->cur < 0 && ls->n_att) {
    ls->cur = 0;
    ls->off = ls->start_off;
  }
  if (ls->cur >= 0) {
    int ended = ls->att[ls->cur].ended; /* seen before reading: the file was whole */
    long long n = send_chunk(ls, err);
    if (n < 0) return err->code;
    if (n > 0) return WEFT_OK;
    if (ended) {
      if ((size_t)ls->cur + 1 < ls->n_att) { /* a retry: tail the next attempt */
        ls->cur++;
        ls->off = 0;
        return WEFT_OK;
      }
      if (ls->pinned || ls->step_over || ls->feed.ended) {
        json_t *d = json_pack("{s:i, s:I}", "attempt", ls->att[ls->cur].attempt, "offset",
                              (json_int_t)ls->off);
        rc = d ? http_stream_message(s, -1, "end", d) : WEFT_ENOMEM;
        json_decref(d);
        s->finished = 1;
        return rc;
      }
    }
  } else if (ls->step_over || ls->feed.ended) {
    /* The step ended without a log (skipped, reused) or never started. */
    json_t *d = json_pack("{s:n, s:i}", "attempt", "offset", 0);
    rc = d ? http_stream_message(s, -1, "end", d) : WEFT_ENOMEM;
    json_decref(d);
    s->finished = 1;
    return rc;
  }
  return absorb(ls, wait_ms < POLL_MS ? wait_ms : POLL_MS, err);
}

static void log_release(struct http_stream *s) {
  struct log_stream *ls = (struct log_stream *)s;
  for (size_t i = 0; i < ls->n_att; i++) free(ls->att[i].path);
  free(ls->att);
  free(ls->run_id);
  free(ls->step);
}

static const struct http_stream_ops log_ops = {log_pump, log_release};

enum MHD_Result http_api_log_stream(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  long long attempt, offset;
  int use_stderr;
  if (log_args(r, &use_stderr, &attempt, &offset, &res)) return res;
  struct weft_run_row row = {0};
  int found = http_path_run(r, &row, &res);
  weft_run_row_release(&row);
  if (!found) return res;
  struct log_stream *ls = calloc(1, sizeof *ls);
  if (!ls) return http_send_error(r, 500, NULL, "out of memory");
  if (http_stream_init(&ls->s, &log_ops, r, &res)) {
    free(ls);
    return res;
  }
  ls->run_id = strdup(r->segs[3]);
  ls->step = strdup(r->segs[5]);
  if (!ls->run_id || !ls->step) {
    http_stream_free(&ls->s);
    return http_send_error(r, 500, NULL, "out of memory");
  }
  ls->use_stderr = use_stderr;
  ls->pinned = (int)attempt;
  ls->start_off = offset;
  ls->cur = -1;
  weft_run_feed_init(&ls->feed, &ls->s.inst, ls->run_id);
  return http_stream_respond(r, &ls->s);
}
