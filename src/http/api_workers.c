/* api_workers.c: the workers and op queues of distributed execution (API.md
 * "Workers and queues"), and their lines of /metrics: read at request time
 * from the worker registry in storage and from RabbitMQ (queue/queue.h). */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "http/metrics_int.h"
#include "http/workers_view.h"
#include "queue/queue.h"
#include "util/clock.h"

/* ---- workers ---------------------------------------------------------------------- */

enum MHD_Result http_api_workers(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  const char *all_arg = http_arg(r, "all");
  int all = 0;
  if (all_arg) {
    if (!strcmp(all_arg, "true") || !strcmp(all_arg, "1")) all = 1;
    else if (strcmp(all_arg, "false") && strcmp(all_arg, "0"))
      return http_send_error(r, 400, NULL, "all must be true or false, got '%s'", all_arg);
  }
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  struct weft_worker_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_worker_list(inst->store, &l, &err)) return http_send_weft_error(r, &err);
  int64_t now = weft_clock_wall_ms();
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < l.n; i++) {
    if (!all && weft_worker_stopped(&l.v[i])) continue;
    json_t *o = weft_worker_view_json(&l.v[i], now);
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  weft_worker_list_release(&l);
  return http_send_json(r, 200,
                        arr ? json_pack("{s:o, s:I, s:I}", "workers", arr, "now_ms",
                                        (json_int_t)now, "stale_ms",
                                        (json_int_t)WEFT_WORKER_STALE_MS)
                            : NULL);
}

/* ---- queues --------------------------------------------------------------------------- */

static int add_name(const char **v, size_t *n, const char *name) {
  if (!name) return 0;
  for (size_t i = 0; i < *n; i++)
    if (!strcmp(v[i], name)) return 0;
  v[(*n)++] = name;
  return 1;
}

/* The queues worth showing: "default", every queue an op of the workspace
 * names, every queue a worker that has not stopped consumes, and the dead
 * letters last. The strings are borrowed from ws and w; free the array. */
static const char **queue_names(const struct weft_workspace *ws,
                                const struct weft_worker_list *w, size_t *n_out) {
  size_t cap = 2, n = 0;
  for (size_t i = 0; i < ws->n_locations; i++) {
    const struct weft_location *loc = ws->locations[i];
    cap += loc->n_ops;
    for (size_t j = 0; j < loc->n_jobs; j++) cap += loc->jobs[j].n_inline_ops;
  }
  for (size_t i = 0; i < w->n; i++) cap += w->v[i].n_queues;
  const char **v = calloc(cap, sizeof *v);
  if (!v) return NULL;
  add_name(v, &n, "default");
  for (size_t i = 0; i < ws->n_locations; i++) {
    const struct weft_location *loc = ws->locations[i];
    for (size_t j = 0; j < loc->n_ops; j++) add_name(v, &n, loc->ops[j].queue);
    for (size_t j = 0; j < loc->n_jobs; j++)
      for (size_t k = 0; k < loc->jobs[j].n_inline_ops; k++)
        add_name(v, &n, loc->jobs[j].inline_ops[k].queue);
  }
  for (size_t i = 0; i < w->n; i++)
    for (size_t j = 0; !weft_worker_stopped(&w->v[i]) && j < w->v[i].n_queues; j++)
      add_name(v, &n, w->v[i].queues[j]);
  add_name(v, &n, WEFT_QUEUE_DEAD);
  *n_out = n;
  return v;
}

/* What /api/v1/queues and /metrics read: the broker's depths and the
 * registry's workers. */
struct queue_state {
  struct weft_worker_list workers;
  struct weft_queue_depths depths;
  const char *url; /* borrowed from the instance */
};

static void queue_state_release(struct queue_state *q) {
  weft_worker_list_release(&q->workers);
  weft_queue_depths_release(&q->depths);
}

/* WEFT_ENOTFOUND when no broker is configured; WEFT_EIO when it cannot be
 * reached (err says why). Release q in every case. */
static int queue_state_load(struct http_req *r, struct weft_instance *inst,
                            struct queue_state *q, weft_error *err) {
  memset(q, 0, sizeof *q);
  if (!(q->url = weft_queue_broker_url(inst)))
    return weft_error_set(err, WEFT_ENOTFOUND, "no broker is configured (weft.yaml "
                                               "broker.rabbitmq.url)");
  /* The registry only adds the unacked counts and the workers' queues: a
   * registry that cannot be read must not hide the broker's depths. */
  weft_error ignored = WEFT_ERROR_INIT;
  if (weft_worker_list(inst->store, &q->workers, &ignored)) {
    weft_worker_list_release(&q->workers);
    memset(&q->workers, 0, sizeof q->workers);
  }
  size_t n = 0;
  int rc;
  const char **names = queue_names(http_workspace(r), &q->workers, &n);
  if (!names) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  rc = weft_queue_depths(q->url, names, n, &q->depths, err);
  free(names);
  return rc;
}

enum MHD_Result http_api_queues(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  struct queue_state q;
  weft_error err = WEFT_ERROR_INIT;
  int rc = queue_state_load(r, inst, &q, &err);
  if (rc == WEFT_ENOTFOUND) {
    queue_state_release(&q);
    return http_send_json(r, 200, json_pack("{s:n, s:[]}", "broker", "queues"));
  }
  if (rc) {
    queue_state_release(&q);
    return http_send_error(r, 502, NULL, "cannot read the queues from the broker: %s",
                           err.msg);
  }
  char *shown = weft_url_without_password(q.url);
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < q.depths.n; i++) {
    json_t *o = weft_queue_view_json(&q.depths.v[i], &q.workers);
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  queue_state_release(&q);
  json_t *doc = NULL;
  if (arr && shown) doc = json_pack("{s:s, s:o}", "broker", shown, "queues", arr); /* takes arr */
  else json_decref(arr);
  free(shown);
  return http_send_json(r, 200, doc);
}

/* ---- /metrics ------------------------------------------------------------------------ */

static void add_queue_gauge(struct weft_buf *b, const char *metric, const char *help,
                            const struct queue_state *q, int which) {
  weft_buf_addf(b, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
  for (size_t i = 0; i < q->depths.n; i++) {
    const struct weft_queue_depth *d = &q->depths.v[i];
    int64_t v = which == 0   ? d->messages
                : which == 1 ? weft_queue_unacked(&q->workers, d->name)
                             : d->consumers;
    weft_buf_addf(b, "%s{queue=\"", metric);
    http_metrics_label(b, d->name);
    weft_buf_addf(b, "\"} %lld\n", (long long)v);
  }
}

int http_metrics_queues(struct http_req *r, struct weft_instance *inst, struct weft_buf *b) {
  struct queue_state q;
  weft_error err = WEFT_ERROR_INIT;
  int rc = queue_state_load(r, inst, &q, &err);
  if (rc == WEFT_ENOTFOUND) { /* no broker: nothing to say */
    queue_state_release(&q);
    return WEFT_OK;
  }
  weft_buf_addf(b,
                "# HELP weft_broker_up Whether the broker answered this scrape.\n"
                "# TYPE weft_broker_up gauge\nweft_broker_up %d\n",
                rc ? 0 : 1);
  if (!rc) {
    add_queue_gauge(b, "weft_queue_messages_ready", "Messages ready in an op queue.", &q, 0);
    add_queue_gauge(b, "weft_queue_messages_unacked",
                    "Steps taken from an op queue and still running on live workers.", &q, 1);
    add_queue_gauge(b, "weft_queue_consumers", "Consumers attached to an op queue.", &q, 2);
  }
  /* Workers come from storage: shown even while the broker is down. */
  static const char *const states[] = {"running", "stopping", "lost"};
  long long counts[3] = {0, 0, 0};
  for (size_t i = 0; i < q.workers.n; i++) {
    const char *s = weft_worker_shown_state(&q.workers.v[i]);
    for (int k = 0; k < 3; k++)
      if (!strcmp(s, states[k])) counts[k]++;
  }
  weft_buf_adds(b, "# HELP weft_workers Workers in the registry that have not stopped, by "
                   "state (lost: heartbeat older than 10 s).\n# TYPE weft_workers gauge\n");
  for (int k = 0; k < 3; k++)
    weft_buf_addf(b, "weft_workers{state=\"%s\"} %lld\n", states[k], counts[k]);
  queue_state_release(&q);
  return WEFT_OK;
}
