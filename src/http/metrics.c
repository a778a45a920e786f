/* metrics.c: /healthz and /metrics (Prometheus text format 0.0.4): runs by
 * status read from the store at scrape time, the step duration histogram
 * fed from the event log, responses by status code; the other families come
 * from metrics_events.c, metrics_store.c and api_workers.c (docs/operations.md
 * lists them all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run_view.h"
#include "http/http_int.h"
#include "http/metrics_int.h"
#include "util/buf.h"
#include "util/clock.h"

/* Upper bounds (seconds) of weft_step_duration_seconds, as API.md lists. */
static const double bucket_le[HTTP_N_BUCKETS] = {.005, .01, .05, .1, .5, 1, 5, 30, 60, 300};
static const char *const bucket_text[HTTP_N_BUCKETS] = {"0.005", "0.01", "0.05", "0.1", "0.5",
                                                        "1",     "5",    "30",   "60",  "300"};

void http_metrics_init(struct http_metrics *m) {
  memset(m->buckets, 0, sizeof m->buckets);
  m->count = 0;
  m->sum = 0;
  atomic_init(&m->cursor, 0);
  atomic_init(&m->primed, 0);
  for (size_t i = 0; i < sizeof m->codes / sizeof *m->codes; i++) atomic_init(&m->codes[i], 0);
  pthread_mutex_init(&m->mu, NULL);
  m->ev = http_metrics_ev_new(); /* NULL (out of memory): those families are left out */
}

void http_metrics_release(struct http_metrics *m) {
  http_metrics_ev_free(m->ev);
  m->ev = NULL;
  pthread_mutex_destroy(&m->mu);
}

void http_metrics_event(struct http_metrics *m, const struct weft_event_row *ev) {
  if (!ev->type) return;
  pthread_mutex_lock(&m->mu);
  http_metrics_ev_feed(m->ev, ev);
  pthread_mutex_unlock(&m->mu);
  if (strcmp(ev->type, "step_succeeded") && strcmp(ev->type, "step_failed")) return;
  json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
  json_t *d = json_object_get(p, "duration_ms");
  if (json_is_number(d)) {
    double s = json_number_value(d) / 1000.0;
    if (s < 0) s = 0;
    pthread_mutex_lock(&m->mu);
    /* Stored per bucket (the smallest that holds it); made cumulative
     * when printed. */
    for (int i = 0; i < HTTP_N_BUCKETS; i++)
      if (s <= bucket_le[i]) {
        m->buckets[i]++;
        break;
      }
    m->count++;
    m->sum += s;
    pthread_mutex_unlock(&m->mu);
  }
  json_decref(p);
}

enum MHD_Result http_api_metrics(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  int64_t counts[WEFT_RUN__COUNT] = {0};
  struct http_metrics *m = &r->srv->metrics;
  struct weft_buf b = WEFT_BUF_INIT;
  if (weft_store_run_count(inst->store, counts, &err))
    return http_send_error(r, 500, NULL, "%s", err.msg);
  weft_buf_adds(&b, "# HELP weft_runs Runs in the store, by status.\n# TYPE weft_runs gauge\n");
  for (int i = 0; i < WEFT_RUN__COUNT; i++)
    weft_buf_addf(&b, "weft_runs{status=\"%s\"} %lld\n",
                  weft_run_status_name((enum weft_run_status)i), (long long)counts[i]);
  if (http_metrics_store_print(inst, http_workspace(r), weft_clock_wall_ms(), &b, &err)) {
    weft_buf_release(&b);
    return http_send_error(r, 500, NULL, "%s", err.msg);
  }
  weft_buf_adds(&b,
                "# HELP weft_step_duration_seconds Duration of step attempts that succeeded "
                "or failed.\n# TYPE weft_step_duration_seconds histogram\n");
  pthread_mutex_lock(&m->mu);
  uint64_t cum = 0;
  for (int i = 0; i < HTTP_N_BUCKETS; i++) {
    cum += m->buckets[i];
    weft_buf_addf(&b, "weft_step_duration_seconds_bucket{le=\"%s\"} %llu\n", bucket_text[i],
                  (unsigned long long)cum);
  }
  weft_buf_addf(&b,
                "weft_step_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                "weft_step_duration_seconds_sum %.9g\n"
                "weft_step_duration_seconds_count %llu\n",
                (unsigned long long)m->count, m->sum, (unsigned long long)m->count);
  http_metrics_ev_print(m->ev, &b);
  pthread_mutex_unlock(&m->mu);
  weft_buf_adds(&b,
                "# HELP weft_http_requests_total HTTP requests answered, by status code.\n"
                "# TYPE weft_http_requests_total counter\n");
  for (int code = 100; code < 600; code++) {
    unsigned long n = atomic_load(&m->codes[code]);
    if (n) weft_buf_addf(&b, "weft_http_requests_total{code=\"%d\"} %lu\n", code, n);
  }
  http_metrics_queues(r, inst, &b);
  size_t coordinators = 0;
  if (r->srv->spawner_ready) { /* its mutex exists once it is ready */
    pthread_mutex_lock(&r->srv->spawner.mu);
    coordinators = r->srv->spawner.n_children;
    pthread_mutex_unlock(&r->srv->spawner.mu);
  }
  http_metrics_process_print(&b, coordinators);
  size_t len;
  char *text = weft_buf_detach(&b, &len);
  if (!text) return http_send_error(r, 500, NULL, "out of memory");
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "text/plain; version=0.0.4; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return http_queue(r, 200, resp);
}

enum MHD_Result http_api_healthz(struct http_req *r) {
  return http_send_json(r, 200, json_pack("{s:b, s:s}", "ok", 1, "version", WEFT_VERSION));
}
