/* workers_view.c: the documents that show workers and queue depths (API.md
 * "Workers and queues"), shared by the API and the CLI (workers_view.h). */
#include <stdlib.h>
#include <string.h>

#include "http/workers_view.h"
#include "util/redact.h"
#include "util/str.h"

const char *weft_worker_shown_state(const struct weft_worker_info *w) {
  if (w->lost) return "lost";
  return w->state ? w->state : "unknown";
}

int weft_worker_stopped(const struct weft_worker_info *w) {
  return !w->lost && w->state && !strcmp(w->state, "stopped");
}

json_t *weft_worker_view_json(const struct weft_worker_info *w, int64_t now) {
  json_t *queues = json_array(), *running = json_array();
  if (!queues || !running) goto fail;
  for (size_t i = 0; i < w->n_queues; i++)
    if (json_array_append_new(queues, json_string(w->queues[i]))) goto fail;
  for (size_t i = 0; i < w->n_running; i++) {
    const struct weft_worker_running *s = &w->running[i];
    if (json_array_append_new(running,
                              json_pack("{s:s?, s:s?, s:s?, s:i, s:I}", "attempt_id",
                                        s->attempt_id, "run_id", s->run_id, "step", s->step,
                                        "attempt", s->attempt, "started_ms",
                                        (json_int_t)s->started_ms)))
      goto fail;
  }
  /* json_pack takes the two arrays, also when it fails. */
  return json_pack("{s:s?, s:s?, s:I, s:o, s:i, s:o, s:I, s:I, s:I, s:I, s:s, s:b, s:s?}",
                   "id", w->id, "host", w->host, "pid", (json_int_t)w->pid, "queues", queues,
                   "concurrency", w->concurrency, "running", running, "started_ms",
                   (json_int_t)w->started_ms, "heartbeat_ms", (json_int_t)w->heartbeat_ms,
                   "heartbeat_age_ms", (json_int_t)(now - w->heartbeat_ms), "steps_done",
                   (json_int_t)w->steps_done, "state", weft_worker_shown_state(w), "lost",
                   w->lost, "broker", w->broker);
fail:
  json_decref(queues);
  json_decref(running);
  return NULL;
}

static int is_dead_letters(const char *name) { return weft_str_has_prefix(name, "weft."); }

int64_t weft_queue_unacked(const struct weft_worker_list *w, const char *name) {
  int64_t n = 0;
  if (is_dead_letters(name)) return 0;
  for (size_t i = 0; i < w->n; i++) {
    const struct weft_worker_info *k = &w->v[i];
    if (k->lost || weft_worker_stopped(k) || !k->n_queues) continue;
    if (!strcmp(k->queues[0], name)) n += (int64_t)k->n_running;
  }
  return n;
}

json_t *weft_queue_view_json(const struct weft_queue_depth *d, const struct weft_worker_list *w) {
  int dead = is_dead_letters(d->name);
  char *amqp = dead ? weft_str_dup(d->name) : weft_str_printf(WEFT_QUEUE_PREFIX "%s", d->name);
  json_t *o = amqp ? json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:b}", "name", d->name,
                               "amqp_queue", amqp, "exists", d->exists, "ready",
                               (json_int_t)d->messages, "unacked",
                               (json_int_t)weft_queue_unacked(w, d->name), "consumers",
                               (json_int_t)d->consumers, "dead_letters", dead)
                   : NULL;
  free(amqp);
  return o;
}

char *weft_url_without_password(const char *url) { return weft_redact(url); }
