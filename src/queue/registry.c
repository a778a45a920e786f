/* registry.c: what the CLI, UI and /metrics read about queue execution: the
 * workers registered in storage (kv worker/ID) and the depths of the queues. */
#include <stdlib.h>
#include <string.h>

#include "queue/queue_int.h"
#include "util/clock.h"
#include "util/redact.h"
#include "util/str.h"

static void info_release(struct weft_worker_info *w) {
  free(w->id);
  free(w->host);
  free(w->state);
  free(w->broker);
  for (size_t i = 0; i < w->n_queues; i++) free(w->queues[i]);
  free(w->queues);
  for (size_t i = 0; i < w->n_running; i++) {
    free(w->running[i].attempt_id);
    free(w->running[i].run_id);
    free(w->running[i].step);
  }
  free(w->running);
  memset(w, 0, sizeof *w);
}

void weft_worker_list_release(struct weft_worker_list *l) {
  for (size_t i = 0; i < l->n; i++) info_release(&l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static char *str_of(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? weft_str_dup(s) : NULL;
}

/* One worker/ID value; 0 when it parsed, -1 when it is not a worker entry,
 * WEFT_ENOMEM. */
static int parse_info(const char *text, int64_t now, struct weft_worker_info *w) {
  memset(w, 0, sizeof *w);
  json_t *o = json_loads(text, 0, NULL);
  if (!json_is_object(o) || !json_is_string(json_object_get(o, "id"))) {
    json_decref(o);
    return -1;
  }
  int rc = WEFT_OK;
  json_t *qs = json_object_get(o, "queues"), *run = json_object_get(o, "running");
  w->id = str_of(o, "id");
  w->host = str_of(o, "host");
  w->state = str_of(o, "state");
  /* Written by workers without a password; masked again in case an
   * entry came from elsewhere (it is shown by the CLI, UI and API). */
  w->broker = weft_redact(json_string_value(json_object_get(o, "broker")));
  w->pid = (long)json_integer_value(json_object_get(o, "pid"));
  w->concurrency = (int)json_integer_value(json_object_get(o, "concurrency"));
  w->started_ms = json_integer_value(json_object_get(o, "started_ms"));
  w->heartbeat_ms = json_integer_value(json_object_get(o, "heartbeat_ms"));
  w->steps_done = json_integer_value(json_object_get(o, "steps_done"));
  w->lost = (!w->state || strcmp(w->state, "stopped")) &&
            now - w->heartbeat_ms > WEFT_WORKER_STALE_MS;
  if (!w->id) rc = WEFT_ENOMEM;
  size_t nq = json_array_size(qs), nr = json_array_size(run);
  if (!rc && nq && !(w->queues = calloc(nq, sizeof *w->queues))) rc = WEFT_ENOMEM;
  for (size_t i = 0; !rc && i < nq; i++) {
    const char *q = json_string_value(json_array_get(qs, i));
    if (q && !(w->queues[w->n_queues++] = weft_str_dup(q))) rc = WEFT_ENOMEM;
  }
  if (!rc && nr && !(w->running = calloc(nr, sizeof *w->running))) rc = WEFT_ENOMEM;
  for (size_t i = 0; !rc && i < nr; i++) {
    json_t *e = json_array_get(run, i);
    struct weft_worker_running *r = &w->running[w->n_running++];
    r->attempt_id = str_of(e, "attempt_id");
    r->run_id = str_of(e, "run_id");
    r->step = str_of(e, "step");
    r->attempt = (int)json_integer_value(json_object_get(e, "attempt"));
    r->started_ms = json_integer_value(json_object_get(e, "started_ms"));
  }
  json_decref(o);
  if (rc) info_release(w);
  return rc;
}

int weft_worker_list(struct weft_store *s, struct weft_worker_list *out, weft_error *err) {
  memset(out, 0, sizeof *out);
  struct weft_kv_list kv = {0};
  int rc = weft_store_kv_list(s, "worker/", NULL, 0, &kv, err);
  if (rc) return rc;
  if (kv.n && !(out->v = calloc(kv.n, sizeof *out->v))) {
    weft_kv_list_release(&kv);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  int64_t now = weft_clock_wall_ms();
  for (size_t i = 0; i < kv.n; i++) {
    int r = parse_info(kv.v[i].value, now, &out->v[out->n]);
    if (r == WEFT_ENOMEM) {
      weft_kv_list_release(&kv);
      weft_worker_list_release(out);
      return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
    if (!r) out->n++;
  }
  weft_kv_list_release(&kv);
  return WEFT_OK;
}

void weft_queue_depths_release(struct weft_queue_depths *d) {
  for (size_t i = 0; i < d->n; i++) free(d->v[i].name);
  free(d->v);
  memset(d, 0, sizeof *d);
}

int weft_queue_depths(const char *url, const char *const *names, size_t n,
                      struct weft_queue_depths *out, weft_error *err) {
  static const char *const defaults[] = {"default", WEFT_QUEUE_DEAD};
  memset(out, 0, sizeof *out);
  if (!n) {
    names = defaults;
    n = 2;
  }
  struct weft_broker *b = NULL;
  int rc = weft_broker_open(url, &b, err);
  if (rc) return rc;
  if (!(out->v = calloc(n, sizeof *out->v))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; !rc && i < n; i++) {
    struct weft_queue_depth *d = &out->v[out->n++];
    char *full = weft_str_has_prefix(names[i], "weft.")
                     ? weft_str_dup(names[i])
                     : weft_str_printf(WEFT_QUEUE_PREFIX "%s", names[i]);
    d->name = weft_str_dup(names[i]);
    rc = full && d->name ? weft_broker_depth(b, full, &d->messages, &d->consumers, &d->exists, err)
                         : weft_error_set(err, WEFT_ENOMEM, "out of memory");
    free(full);
  }
done:
  weft_broker_close(b);
  if (rc) weft_queue_depths_release(out);
  return rc;
}

int weft_queue_publish_raw(const char *url, const char *queue, const char *text,
                           const struct weft_qsig_key *key, const char *sig, weft_error *err) {
  struct weft_broker *b = NULL;
  char rk[300];
  snprintf(rk, sizeof rk, WEFT_QUEUE_PREFIX "%s", queue);
  int rc = weft_broker_open(url, &b, err);
  if (!rc) rc = weft_broker_confirms(b, err);
  if (!rc) rc = weft_broker_declare_step_queue(b, queue, err);
  char mine[WEFT_QSIG_MAX];
  if (!rc && !sig && key) {
    weft_qsig_sign(key, "", rk, text, strlen(text), mine);
    sig = mine;
  }
  if (!rc) rc = weft_broker_publish_as(b, "", rk, text, strlen(text), 1, sig, err);
  weft_broker_close(b);
  return rc;
}
