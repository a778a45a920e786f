/* run_view.c: a run read back from the store (rows, log, parsed payloads),
 * its live feed of events, and rows as JSON, for the CLI and the HTTP API. */
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/run_view.h"
#include "util/clock.h"

const char *const weft_event_types[] = {
    "run_queued",      "run_started",    "run_canceling", "run_success",
    "run_failure",     "run_canceled",   "step_started",  "log",
    "materialization", "step_output",    "step_succeeded", "step_up_for_retry",
    "step_failed",     "step_skipped",   "step_canceled", "step_reused",
    "run_timeout",     "sla_missed", /* run deadlines (run_deadline.c) */
    "hook_delivered",  "hook_failed",    /* alerts (hooks.c) */
    NULL,
};

/* ---- the view ------------------------------------------------------------- */

static int order_has(const struct weft_run_view *v, const char *step) {
  for (size_t i = 0; i < v->n_order; i++)
    if (!strcmp(v->order[i], step)) return 1;
  return 0;
}

int weft_run_view_load(struct weft_store *s, struct weft_run_view *v, weft_error *err) {
  struct weft_event_filter f = {.run_id = v->run.id};
  int rc;
  if ((rc = weft_store_step_list(s, v->run.id, &v->steps, err))) goto done;
  if ((rc = weft_store_event_read(s, &f, &v->events, err))) goto done;
  v->payloads = calloc(v->events.n + 1, sizeof *v->payloads);
  v->order = calloc(v->events.n + v->steps.n + 1, sizeof *v->order);
  if (!v->payloads || !v->order) goto nomem;
  for (size_t i = 0; i < v->events.n; i++) {
    const struct weft_event_row *ev = &v->events.v[i];
    json_t *p = ev->payload ? json_loads(ev->payload, 0, NULL) : NULL;
    /* A payload that is not an object reads as an empty one, so the
     * renderers never test for NULL. */
    if (!json_is_object(p)) {
      json_decref(p);
      p = json_object();
    }
    if (!(v->payloads[i] = p)) goto nomem;
  }
  /* Job order first, from the plan run_started records (it names the steps
   * that have not started yet, too); then whatever else the log names. */
  for (size_t i = 0; i < v->events.n; i++) {
    if (strcmp(v->events.v[i].type, "run_started")) continue;
    json_t *plan = json_object_get(v->payloads[i], "plan");
    size_t n_plan = json_array_size(plan);
    const char **grown = realloc(v->order, (v->events.n + v->steps.n + n_plan + 1) *
                                               sizeof *v->order);
    if (!grown) goto nomem;
    v->order = grown;
    for (size_t k = 0; k < n_plan; k++) {
      const char *name = json_string_value(json_array_get(plan, k));
      if (name && !order_has(v, name)) v->order[v->n_order++] = name;
    }
    break;
  }
  for (size_t i = 0; i < v->events.n; i++) {
    const struct weft_event_row *ev = &v->events.v[i];
    if (ev->step && !order_has(v, ev->step)) v->order[v->n_order++] = ev->step;
  }
  /* A row without an event should not happen (they are written together),
   * but it must still be shown. */
  for (size_t i = 0; i < v->steps.n; i++)
    if (!order_has(v, v->steps.v[i].step)) v->order[v->n_order++] = v->steps.v[i].step;
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory reading run %s", v->run.id);
done:
  return rc;
}

void weft_run_view_release(struct weft_run_view *v) {
  for (size_t i = 0; v->payloads && i < v->events.n; i++) json_decref(v->payloads[i]);
  free(v->payloads);
  free(v->order);
  weft_event_list_release(&v->events);
  weft_step_list_release(&v->steps);
  weft_run_row_release(&v->run);
  memset(v, 0, sizeof *v);
}

long weft_run_view_last_started(const struct weft_run_view *v, const char *step) {
  long at = -1;
  for (size_t i = 0; i < v->events.n; i++)
    if (v->events.v[i].step && !strcmp(v->events.v[i].step, step) &&
        !strcmp(v->events.v[i].type, "step_started"))
      at = (long)i;
  return at;
}

/* ---- durations and counts ----------------------------------------------------- */

int64_t weft_run_duration_ms(const struct weft_run_row *r) {
  if (!r->started_ms) return -1;
  int64_t end = r->ended_ms ? r->ended_ms : weft_clock_wall_ms();
  return end > r->started_ms ? end - r->started_ms : 0;
}

int64_t weft_step_duration_ms(const struct weft_step_row *s) {
  if (!s->started_ms) return -1;
  int64_t end = s->ended_ms ? s->ended_ms : weft_clock_wall_ms();
  return end > s->started_ms ? end - s->started_ms : 0;
}

/* Counts the last attempt of each step (rows come by step then attempt). */
void weft_step_counts(const struct weft_step_list *steps, size_t counts[]) {
  memset(counts, 0, WEFT_STEP__COUNT * sizeof *counts);
  for (size_t i = 0; i < steps->n; i++) {
    int last = i + 1 == steps->n || strcmp(steps->v[i].step, steps->v[i + 1].step);
    if (last && (unsigned)steps->v[i].status < WEFT_STEP__COUNT) counts[steps->v[i].status]++;
  }
}

/* ---- JSON ------------------------------------------------------------------------ */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *ms_or_null(int64_t ms) { return ms > 0 ? json_integer(ms) : json_null(); }

json_t *weft_json_parse_or_text(const char *text) {
  if (!text) return json_null();
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  return v ? v : json_string(text);
}

json_t *weft_run_row_json(const struct weft_run_row *r) {
  int64_t dur = weft_run_duration_ms(r);
  return json_pack("{s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
                   "s:o, s:o}",
                   "id", r->id, "job", str_or_null(r->job), "location",
                   str_or_null(r->location), "status", weft_run_status_name(r->status),
                   "message", str_or_null(r->message), "created_ms", ms_or_null(r->created_ms),
                   "started_ms", ms_or_null(r->started_ms), "ended_ms",
                   ms_or_null(r->ended_ms), "duration_ms",
                   dur >= 0 ? json_integer(dur) : json_null(), "tags",
                   weft_json_parse_or_text(r->tags ? r->tags : "{}"), "parent_run_id",
                   str_or_null(r->parent_run_id), "root_run_id", str_or_null(r->root_run_id),
                   "code_version", str_or_null(r->code_version), "coordinator",
                   str_or_null(r->coordinator), "heartbeat_ms", ms_or_null(r->heartbeat_ms));
}

json_t *weft_step_counts_json(const struct weft_step_list *steps) {
  size_t counts[WEFT_STEP__COUNT];
  json_t *o = json_object();
  weft_step_counts(steps, counts);
  for (int i = 0; o && i < WEFT_STEP__COUNT; i++)
    if (counts[i] &&
        json_object_set_new(o, weft_step_status_name((enum weft_step_status)i),
                            json_integer((json_int_t)counts[i]))) {
      json_decref(o);
      return NULL;
    }
  return o;
}

json_t *weft_event_row_json(const struct weft_event_row *ev) {
  return json_pack("{s:I, s:s, s:I, s:o, s:s, s:o}", "id", (json_int_t)ev->id, "run_id",
                   ev->run_id, "ts_ms", (json_int_t)ev->ts_ms, "step", str_or_null(ev->step),
                   "type", ev->type, "payload",
                   weft_json_parse_or_text(ev->payload ? ev->payload : "{}"));
}

json_t *weft_step_row_json(const struct weft_step_row *s) {
  int64_t dur = weft_step_duration_ms(s);
  return json_pack("{s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "step", s->step, "attempt",
                   s->attempt, "status", weft_step_status_name(s->status), "started_ms",
                   ms_or_null(s->started_ms), "ended_ms", ms_or_null(s->ended_ms),
                   "duration_ms", dur >= 0 ? json_integer(dur) : json_null(), "pid",
                   s->pid > 0 ? json_integer(s->pid) : json_null(), "message",
                   str_or_null(s->message), "worker", str_or_null(s->worker));
}

int weft_run_view_events_json(const struct weft_run_view *v, const char *type, json_t *arr) {
  for (size_t i = 0; i < v->events.n; i++) {
    if (strcmp(v->events.v[i].type, type)) continue;
    json_t *o = json_deep_copy(v->payloads[i]);
    if (!o) return WEFT_ENOMEM;
    if (json_object_set_new(o, "step", str_or_null(v->events.v[i].step)) ||
        json_object_set_new(o, "ts_ms", json_integer(v->events.v[i].ts_ms)) ||
        json_array_append(arr, o)) {
      json_decref(o);
      return WEFT_ENOMEM;
    }
    json_decref(o);
  }
  return WEFT_OK;
}

int weft_event_ends_attempt(const char *type) {
  return !strcmp(type, "step_succeeded") || !strcmp(type, "step_failed") ||
         !strcmp(type, "step_up_for_retry") || !strcmp(type, "step_canceled");
}

int weft_run_view_containers_json(const struct weft_run_view *v, json_t *arr) {
  for (size_t i = 0; i < v->events.n; i++) {
    const struct weft_event_row *ev = &v->events.v[i];
    json_t *c = json_object_get(v->payloads[i], "container");
    if (!ev->step || !weft_event_ends_attempt(ev->type) || !json_is_object(c)) continue;
    json_t *e = json_deep_copy(c);
    if (!e || json_object_set_new(e, "step", json_string(ev->step)) ||
        json_object_set(e, "attempt", json_object_get(v->payloads[i], "attempt")) ||
        json_array_append_new(arr, e))
      return WEFT_ENOMEM;
  }
  return WEFT_OK;
}

/* ---- following a run ------------------------------------------------------------- */

/* Events read per query while catching up with a busy store. */
#define FEED_BATCH 1000

int weft_run_event_is_final(const char *type) {
  return !strcmp(type, "run_success") || !strcmp(type, "run_failure") ||
         !strcmp(type, "run_canceled");
}

void weft_run_feed_init(struct weft_run_feed *f, struct weft_instance *inst,
                        const char *run_id) {
  memset(f, 0, sizeof *f);
  f->inst = inst;
  f->run_id = run_id;
}

/* Keeps only the feed's run's events in l, in order. */
static void keep_run(struct weft_event_list *l, const char *run_id) {
  size_t k = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (!strcmp(l->v[i].run_id, run_id))
      l->v[k++] = l->v[i];
    else
      weft_event_row_release(&l->v[i]);
  }
  l->n = k;
}

/* Looks at the run row: *row_final says whether it ended. A run whose
 * coordinator died would never end by itself: sweeping it ends it, as
 * opening the instance would (engine.h). */
static int feed_check(struct weft_run_feed *f, int *row_final, weft_error *err) {
  struct weft_run_row r = {0};
  int rc = weft_store_run_get(f->inst->store, f->run_id, &r, err);
  if (rc) return rc;
  *row_final = weft_run_status_is_final(r.status);
  if (!*row_final && r.coordinator) {
    int alive = weft_coordinator_alive(r.coordinator);
    if (!alive ||
        (alive < 0 && weft_clock_wall_ms() - r.heartbeat_ms > WEFT_HEARTBEAT_STALE_MS))
      rc = weft_instance_sweep_orphans(f->inst, NULL, err);
  }
  weft_run_row_release(&r);
  return rc;
}

int weft_run_feed_next(struct weft_run_feed *f, struct weft_event_list *out, int wait_ms,
                       weft_error *err) {
  struct weft_event_filter ef = {.run_id = f->run_id};
  int rc, row_final = 0;
  size_t n_read;
  memset(out, 0, sizeof *out);
  if (f->ended) return WEFT_OK;
  if (f->primed) {
    int64_t now = weft_clock_mono_ms();
    if (now >= f->next_check_ms) {
      f->next_check_ms = now + 1000;
      if ((rc = feed_check(f, &row_final, err))) return rc;
    }
    /* A final row was committed with its events: read them, no waiting. */
    if (!row_final && (rc = weft_store_event_wait(f->inst->store, f->cursor, wait_ms, err)) <= 0)
      return rc;
    ef.run_id = NULL;
    ef.after_id = f->cursor;
    ef.limit = FEED_BATCH;
  }
  if ((rc = weft_store_event_read(f->inst->store, &ef, out, err))) return rc;
  n_read = out->n;
  if (out->n) f->cursor = out->v[out->n - 1].id;
  f->primed = 1;
  keep_run(out, f->run_id);
  for (size_t i = 0; i < out->n; i++)
    if (!out->v[i].step && weft_run_event_is_final(out->v[i].type)) f->ended = 1;
  /* The row says the run ended but no final event came (a store written
   * by an older weft): stop once everything has been read. */
  if (row_final && n_read < FEED_BATCH) f->ended = 1;
  return WEFT_OK;
}

