/* sensor_eval.c: one scheduler turn over the sensors: which are due, their
 * evaluation, and committing its runs, run-key dedupe and cursor at once. */

/* One evaluation commits in one transaction: the sensor's state document
 * (compare-and-set against the text read, so two schedulers never both
 * commit an evaluation from the same cursor), "runkey/SENSOR/KEY" per run
 * request (absent only: a key seen before launches nothing), the runs, and
 * the tick record. */
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"
#include "util/str.h"

void weft__sensor_result_release(struct weft__sensor_result *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->v[i].run_key);
    json_decref(r->v[i].config);
    json_decref(r->v[i].tags);
    free(r->v[i].file);
  }
  free(r->v);
  free(r->cursor);
  free(r->failure);
  memset(r, 0, sizeof *r);
}

int weft__sensor_result_add(struct weft__sensor_result *r, const char *run_key, json_t *config,
                            json_t *tags, const char *file) {
  struct weft__sensor_request *v = realloc(r->v, (r->n + 1) * sizeof *v);
  if (!v) {
    json_decref(config);
    json_decref(tags);
    return WEFT_ENOMEM;
  }
  r->v = v;
  struct weft__sensor_request *q = &v[r->n++];
  q->run_key = weft_str_dup(run_key);
  q->config = config;
  q->tags = tags;
  q->file = file ? weft_str_dup(file) : NULL;
  return q->run_key && (!file || q->file) ? WEFT_OK : WEFT_ENOMEM;
}

/* Launches the requests not seen before; fills doc's run_ids and failures. */
static int launch_requests(struct weft_scheduler *s, const struct weft_sensor *se,
                           const struct weft_job *job, struct weft__sensor_result *res,
                           int64_t now_ms, json_t *doc, struct weft_sched_turn *turn,
                           size_t *n_failed, weft_error *err) {
  struct weft_store *st = s->inst->store;
  char *time_iso = weft_sched_format_time(now_ms, "UTC");
  char date[16];
  snprintf(date, sizeof date, "%.10s", time_iso ? time_iso : "");
  json_t *ids = json_object_get(doc, "run_ids"), *fails = json_array();
  int rc = WEFT_OK;
  size_t dup = 0;
  for (size_t i = 0; i < res->n && !rc; i++) {
    struct weft__sensor_request *q = &res->v[i];
    char *rk = weft_str_printf("runkey/%s/%s", se->name, q->run_key), *have = NULL;
    if (!rk) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    rc = weft_store_kv_get(st, rk, &have, err);
    free(have);
    if (rc == WEFT_OK) { /* launched before */
      dup++;
      free(rk);
      continue;
    }
    if (rc != WEFT_ENOTFOUND) {
      free(rk);
      break;
    }
    char *run_id = NULL, *reason = NULL;
    json_t *extra = json_pack("{s:s, s:s}", "weft/sensor", se->name, "weft/run_key", q->run_key);
    if (extra && q->tags) json_object_update(extra, q->tags);
    struct weft__tmpl_vars v = {.scheduled_time = time_iso, .scheduled_date = date,
                                .run_key = q->run_key, .file = q->file};
    rc = weft__sched_launch(s, job, q->config ? q->config : se->config, &se->tags, &v, extra,
                            &run_id, &reason, err);
    json_decref(extra);
    if (reason) {
      rc = WEFT_OK;
      (*n_failed)++;
      json_array_append_new(fails, json_pack("{s:s, s:s}", "run_key", q->run_key, "reason",
                                             reason));
    } else if (!rc) {
      char *val = weft_str_printf("{\"run_id\":\"%s\"}", run_id);
      rc = val ? weft_store_kv_compare_set(st, rk, NULL, val, err)
               : weft_error_set(err, WEFT_ENOMEM, "out of memory");
      free(val);
      if (!rc) {
        json_array_append_new(ids, json_string(run_id));
        turn->runs_created++;
      }
    }
    free(run_id);
    free(reason);
    free(rk);
  }
  if (json_array_size(fails)) json_object_set(doc, "failures", fails);
  if (dup) json_object_set_new(doc, "duplicates", json_integer((json_int_t)dup));
  json_decref(fails);
  free(time_iso);
  return rc;
}

static int eval_sensor(struct weft_scheduler *s, const struct weft_sensor *se, int64_t now_ms,
                       struct weft_sched_turn *turn, weft_error *err) {
  struct weft_store *st = s->inst->store;
  char *key = weft_str_printf("sensor/%s", se->name), *text = NULL, *tick_key = NULL;
  char *doc_text = NULL, *state_text = NULL;
  json_t *state = NULL, *doc = NULL;
  struct weft__sensor_result res = {0};
  int rc, in_tx = 0, counted = 0;
  struct weft_sched_turn before;
  if (!key) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if ((rc = weft__sched_state_read(st, key, &state, &text, err))) goto done;
  if (!weft__sched_state_on(state, se->default_on)) goto done;
  if (!state) state = json_object();
  int64_t last = json_integer_value(json_object_get(state, "last_eval_ms"));
  int64_t due = last + (int64_t)se->interval_s * 1000;
  if (last && now_ms < due) {
    if (due < turn->next_wake_ms) turn->next_wake_ms = due;
    goto done;
  }
  if (now_ms + (int64_t)se->interval_s * 1000 < turn->next_wake_ms)
    turn->next_wake_ms = now_ms + (int64_t)se->interval_s * 1000;
  if (se->kind == WEFT_SENSOR_COMMAND && s->o.no_command_sensors) goto done;
  const char *cursor = json_string_value(json_object_get(state, "cursor"));
  int64_t since = json_integer_value(json_object_get(state, "since_ms"));
  if (!json_object_get(state, "since_ms")) {
    since = now_ms;
    json_object_set_new(state, "since_ms", json_integer(now_ms));
  }
  switch (se->kind) {
  case WEFT_SENSOR_FILE: rc = weft__sensor_eval_file(s, se, cursor, &res, err); break;
  case WEFT_SENSOR_COMMAND: rc = weft__sensor_eval_command(s, se, cursor, &res, err); break;
  case WEFT_SENSOR_RUN_STATUS:
  case WEFT_SENSOR_ASSET: rc = weft__sensor_eval_events(s, se, cursor, since, &res, err); break;
  }
  if (rc) goto done;
  turn->sensors_evaluated++;
  const struct weft_job *job = se->location ? weft_location_find_job(se->location, se->job) : NULL;
  if (!job && !res.failure && res.n)
    res.failure = weft_str_printf("job '%s' is not in code location '%s' any more", se->job,
                                  se->location ? se->location->name : "?");
  doc = json_pack("{s:s, s:s, s:s, s:I, s:[]}", "name", se->name, "kind", "sensor",
                  "sensor_kind", weft_sensor_kind_name(se->kind), "tick_ms", (json_int_t)now_ms,
                  "run_ids");
  tick_key = weft__sched_tick_key(se->name, now_ms);
  if (!doc || !tick_key) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = weft_store_begin(st, err))) goto done;
  in_tx = 1;
  before = *turn; /* counted below; undone when the commit does not happen */
  counted = 1;
  size_t n_failed = 0;
  if (!res.failure && res.n)
    rc = launch_requests(s, se, job, &res, now_ms, doc, turn, &n_failed, err);
  if (rc) goto done;
  size_t n_runs = json_array_size(json_object_get(doc, "run_ids"));
  const char *status = res.failure || n_failed ? "failure" : n_runs ? "success" : "skipped";
  json_object_set_new(doc, "status", json_string(status));
  if (res.failure)
    json_object_set_new(doc, "reason", json_string(res.failure));
  else if (n_failed)
    json_object_set_new(doc, "reason",
                        json_string(json_string_value(json_object_get(
                            json_array_get(json_object_get(doc, "failures"), 0), "reason"))));
  else if (!n_runs)
    json_object_set_new(doc, "reason", json_string(res.n ? "every run key was seen before"
                                                         : "nothing new"));
  if (!strcmp(status, "success"))
    turn->ticks_success++;
  else if (!strcmp(status, "failure"))
    turn->ticks_failure++;
  else
    turn->ticks_skipped++;
  if (res.cursor) json_object_set_new(state, "cursor", json_string(res.cursor));
  json_object_set_new(state, "last_eval_ms", json_integer(now_ms));
  if (!(doc_text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) ||
      !(state_text = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = weft_store_kv_compare_set(st, key, text, state_text, err))) goto done;
  /* two evaluations in one millisecond: the second record wins */
  if ((rc = weft_store_kv_set(st, tick_key, doc_text, err))) goto done;
  in_tx = 0;
  rc = weft_store_commit(st, err);
done:
  if (in_tx) weft_store_rollback(st);
  if (rc && counted) {
    int64_t wake = turn->next_wake_ms;
    *turn = before;
    turn->next_wake_ms = wake;
  }
  if (rc == WEFT_ECONFLICT) { /* another scheduler evaluated it */
    turn->ticks_lost++;
    rc = WEFT_OK;
  }
  weft__sensor_result_release(&res);
  json_decref(state);
  json_decref(doc);
  free(text);
  free(key);
  free(tick_key);
  free(doc_text);
  free(state_text);
  return rc;
}

int weft__sched_sensors_turn(struct weft_scheduler *s, int64_t now_ms,
                             struct weft_sched_turn *turn, weft_error *err) {
  for (size_t l = 0; s->ws && l < s->ws->n_locations; l++) {
    const struct weft_location *loc = s->ws->locations[l];
    for (size_t i = 0; i < loc->n_sensors; i++) {
      int rc = eval_sensor(s, &loc->sensors[i], now_ms, turn, err);
      if (rc) return rc;
    }
  }
  return WEFT_OK;
}
