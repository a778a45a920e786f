/* api_schedules.c: schedules (API.md "Schedules and sensors"): list, one schedule with its
 * next ticks and history, tick pages, on/off; lists, pages and on/off serve sensors too. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "sched/sched.h"
#include "util/clock.h"
#include "util/str.h"

#define PREVIEW_N 10  /* next ticks in a schedule's detail */
#define HISTORY_N 20  /* ticks in a detail */
#define TICKS_DEFAULT 50
#define TICKS_MAX 500

/* ---- shared with api_sensors.c ------------------------------------------------------ */

/* "2026-03-29T03:00:00+02:00" of ms in tz (NULL: UTC) as a JSON string;
 * null for 0 (never). */
static json_t *iso_json(int64_t ms, const char *tz) {
  if (ms <= 0) return json_null();
  char *text = weft_sched_format_time(ms, tz);
  json_t *s = text ? json_string(text) : NULL;
  free(text);
  return s;
}

static json_t *opt_str(const char *s) { return s ? json_string(s) : json_null(); }

/* next_cursor: the tick_ms to pass as cursor=, or null on the last page. */
static json_t *cursor_json(int64_t ms) { return ms ? json_integer((json_int_t)ms) : json_null(); }

static json_t *tick_json(const struct weft_sched_tick *t, const char *tz) {
  json_t *ids = json_array();
  for (size_t i = 0; ids && i < t->n_run_ids; i++)
    if (json_array_append_new(ids, json_string(t->run_ids[i]))) {
      json_decref(ids);
      ids = NULL;
    }
  if (!ids) return NULL;
  return json_pack("{s:s, s:o, s:I, s:o, s:s, s:o, s:o, s:o, s:o}", "name", t->name, "kind",
                   opt_str(t->kind), "tick_ms", (json_int_t)t->tick_ms, "tick",
                   iso_json(t->tick_ms, tz), "status", t->status, "reason", opt_str(t->reason),
                   "partition", opt_str(t->partition), "run_id",
                   opt_str(t->n_run_ids ? t->run_ids[0] : NULL), "run_ids", ids);
}

/* Appends the ticks of name older than before_ms (0: the newest), at most
 * limit, to arr; *next is the cursor of the page after (0: none). */
static int ticks_page(struct weft_store *st, const char *name, const char *tz,
                      int64_t before_ms, int limit, json_t *arr, int64_t *next,
                      weft_error *err) {
  struct weft_sched_tick_list l = {0};
  /* One more than asked: is there a next page? */
  int rc = weft_sched_ticks(st, name, before_ms, limit + 1, &l, err);
  *next = 0;
  if (rc) return rc;
  size_t n = l.n > (size_t)limit ? (size_t)limit : l.n;
  for (size_t i = 0; !rc && i < n; i++)
    if (json_array_append_new(arr, tick_json(&l.v[i], tz))) rc = WEFT_ENOMEM;
  if (!rc && l.n > (size_t)limit) *next = l.v[limit - 1].tick_ms;
  weft_sched_tick_list_release(&l);
  if (rc) weft_error_set(err, rc, "out of memory");
  return rc;
}

/* The sensor's stored cursor (what it saw last: a file's mtime, a command's
 * last run key...) into o as "cursor", unless the item's JSON has it
 * already. sched.h has no reader for it, so it comes from the state
 * document sched.h documents (sensor/NAME: {"cursor": ...}); null when
 * never evaluated. */
static int add_cursor(struct weft_store *st, const char *name, json_t *o, weft_error *err) {
  if (json_object_get(o, "cursor")) return WEFT_OK;
  char *key = weft_str_printf("sensor/%s", name), *text = NULL;
  if (!key) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_store_kv_get(st, key, &text, err);
  free(key);
  if (rc == WEFT_ENOTFOUND) rc = WEFT_OK;
  if (rc) return rc;
  json_t *state = text ? json_loads(text, 0, NULL) : NULL;
  json_t *cursor = json_object_get(state, "cursor");
  if (json_object_set(o, "cursor", cursor ? cursor : json_null()))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  json_decref(state);
  free(text);
  return rc;
}

json_t *http_sched_item_json(struct weft_store *st, const struct weft_sched_item *it,
                             int sensor, weft_error *err) {
  json_t *o = weft_sched_item_to_json(it), *last = json_array();
  int64_t next;
  if (!o || !last) goto nomem;
  if (ticks_page(st, it->name, it->timezone, 0, 1, last, &next, err)) {
    json_decref(o);
    json_decref(last);
    return NULL;
  }
  json_t *tick = json_array_get(last, 0);
  /* The last tick whole, with its runs: what a list shows and links to. */
  if (json_object_set(o, "last_tick", tick ? tick : json_null())) goto nomem;
  json_decref(last);
  if (sensor && (json_object_set(o, "last_evaluation", json_object_get(o, "last_tick")) ||
                 add_cursor(st, it->name, o, err))) {
    json_decref(o);
    return NULL;
  }
  return o;
nomem:
  json_decref(o);
  json_decref(last);
  weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return NULL;
}

/* The schedules (sensors: 0) or sensors of the request's workspace now. */
static int list_items(struct http_req *r, int sensors, struct weft_sched_item_list *l,
                      enum MHD_Result *res) {
  struct weft_instance *inst = http_instance(r, res);
  weft_error err = WEFT_ERROR_INIT;
  if (!inst) return WEFT_EIO;
  int rc = weft_sched_list(inst->store, http_workspace(r), sensors, weft_clock_wall_ms(), l,
                           &err);
  if (rc) *res = http_send_error(r, 500, NULL, "cannot read the %s: %s",
                                 sensors ? "sensors" : "schedules", err.msg);
  return rc;
}

enum MHD_Result http_sched_send_list(struct http_req *r, int sensors) {
  enum MHD_Result res = MHD_NO;
  struct weft_sched_item_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (list_items(r, sensors, &l, &res)) return res;
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < l.n; i++) {
    json_t *o = http_sched_item_json(r->inst.store, &l.v[i], sensors, &err);
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  weft_sched_item_list_release(&l);
  if (!arr) return http_send_error(r, 500, NULL, "%s", err.msg[0] ? err.msg : "out of memory");
  return http_send_json(r, 200, json_pack("{s:o}", sensors ? "sensors" : "schedules", arr));
}

/* 404 for a name that is not a schedule (sensors: 0) or sensor of the
 * workspace, saying so when it is the other kind. */
static enum MHD_Result send_unknown(struct http_req *r, int sensors, const char *name) {
  const struct weft_workspace *ws = http_workspace(r);
  const char *what = sensors ? "sensor" : "schedule";
  if (sensors ? weft_workspace_find_schedule(ws, name) != NULL
              : weft_workspace_find_sensor(ws, name) != NULL)
    return http_send_error(r, 404, NULL, "no %s '%s': it is a %s (/api/v1/%s/%s)", what, name,
                           sensors ? "schedule" : "sensor", sensors ? "schedules" : "sensors",
                           name);
  return http_send_error(r, 404, NULL, "no %s '%s' in the workspace (GET /api/v1/%ss lists "
                                       "them)", what, name, what);
}

int http_sched_find(struct http_req *r, int sensors, struct weft_sched_item_list *l,
                    const struct weft_sched_item **it, enum MHD_Result *res) {
  const char *name = r->segs[3];
  *it = NULL;
  if (list_items(r, sensors, l, res)) return WEFT_EIO;
  for (size_t i = 0; i < l->n && !*it; i++)
    if (!strcmp(l->v[i].name, name)) *it = &l->v[i];
  if (*it) return WEFT_OK;
  weft_sched_item_list_release(l);
  *res = send_unknown(r, sensors, name);
  return WEFT_ENOTFOUND;
}

int http_sched_add_history(struct http_req *r, const struct weft_sched_item *it, json_t *doc,
                           enum MHD_Result *res) {
  weft_error err = WEFT_ERROR_INIT;
  json_t *arr = json_array();
  int64_t next = 0;
  int rc = arr ? ticks_page(r->inst.store, it->name, it->timezone, 0, HISTORY_N, arr, &next, &err)
               : WEFT_ENOMEM;
  if (rc) {
    json_decref(arr);
    *res = http_send_error(r, 500, NULL, "%s", err.msg[0] ? err.msg : "out of memory");
    return rc;
  }
  /* The _new setters take the value even when they fail. */
  if (json_object_set_new(doc, "ticks", arr) ||
      json_object_set_new(doc, "next_cursor", cursor_json(next))) {
    *res = http_send_error(r, 500, NULL, "out of memory");
    return WEFT_ENOMEM;
  }
  return WEFT_OK;
}

enum MHD_Result http_sched_send_ticks(struct http_req *r, int sensors) {
  enum MHD_Result res = MHD_NO;
  struct weft_sched_item_list l = {0};
  const struct weft_sched_item *it;
  weft_error err = WEFT_ERROR_INIT;
  long long limit, cursor;
  int64_t next = 0;
  if (http_arg_int(r, "limit", 1, TICKS_MAX, TICKS_DEFAULT, &limit, &res) ||
      http_arg_int(r, "cursor", 1, LLONG_MAX, 0, &cursor, &res) ||
      http_sched_find(r, sensors, &l, &it, &res))
    return res;
  json_t *arr = json_array();
  int rc = arr ? ticks_page(r->inst.store, it->name, it->timezone, cursor, (int)limit, arr,
                            &next, &err)
               : WEFT_ENOMEM;
  weft_sched_item_list_release(&l);
  if (rc) {
    json_decref(arr);
    return http_send_error(r, 500, NULL, "%s", err.msg[0] ? err.msg : "out of memory");
  }
  return http_send_json(r, 200, json_pack("{s:o, s:o}", "ticks", arr, "next_cursor",
                                          cursor_json(next)));
}

enum MHD_Result http_sched_toggle(struct http_req *r, int sensors, int on) {
  enum MHD_Result res = MHD_NO;
  struct weft_sched_item_list l = {0};
  const struct weft_sched_item *it;
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = http_instance(r, &res);
  const struct weft_workspace *ws = http_workspace(r);
  const char *name = r->segs[3];
  if (!inst) return res;
  /* Names are one namespace: /schedules/S/on must not turn a sensor on. */
  if (sensors ? !weft_workspace_find_sensor(ws, name) : !weft_workspace_find_schedule(ws, name))
    return send_unknown(r, sensors, name);
  if (weft_sched_set_state(inst->store, ws, name, on, weft_clock_wall_ms(), &err))
    return http_send_weft_error(r, &err);
  if (http_sched_find(r, sensors, &l, &it, &res)) return res;
  json_t *doc = http_sched_item_json(inst->store, it, sensors, &err);
  weft_sched_item_list_release(&l);
  if (!doc) return http_send_error(r, 500, NULL, "%s", err.msg);
  return http_send_json(r, 200, doc);
}

/* ---- schedules --------------------------------------------------------------------- */

enum MHD_Result http_api_schedules(struct http_req *r) { return http_sched_send_list(r, 0); }

/* [{"tick_ms", "tick", "partition"}] of the next PREVIEW_N fire times
 * after now, whether the schedule is on or not. */
static json_t *preview_json(const struct weft_schedule *sc, const struct weft_job *job,
                            weft_error *err) {
  int64_t *times = NULL;
  char **keys = NULL;
  if (weft_sched_preview(sc, job, weft_clock_wall_ms(), PREVIEW_N, &times, &keys, err))
    return NULL;
  json_t *arr = json_array();
  /* At most PREVIEW_N; fewer when the expression fires no more (0 0 30 2 *). */
  for (size_t i = 0; arr && i < PREVIEW_N && times && times[i] > 0; i++) {
    json_t *o = json_pack("{s:I, s:o, s:o}", "tick_ms", (json_int_t)times[i], "tick",
                          iso_json(times[i], sc->timezone), "partition",
                          opt_str(keys ? keys[i] : NULL));
    if (!o || json_array_append_new(arr, o)) {
      json_decref(arr);
      arr = NULL;
    }
  }
  for (size_t i = 0; keys && i < PREVIEW_N; i++) free(keys[i]);
  free(keys);
  free(times);
  if (!arr) weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return arr;
}

/* What the declaration says beyond the item: catch-up policy, run-config
 * template and tags. */
static int add_declaration(json_t *o, const struct weft_schedule *sc) {
  json_t *tags = weft_kvs_to_json(&sc->tags);
  return !tags || json_object_set_new(o, "tags", tags) ||
         json_object_set_new(o, "catch_up", json_string(sc->catch_up == WEFT_CATCH_UP_ALL
                                                            ? "all" : "latest")) ||
         json_object_set_new(o, "max_catch_up", json_integer(sc->max_catch_up)) ||
         json_object_set_new(o, "config", sc->config ? json_incref(sc->config) : json_null());
}

enum MHD_Result http_api_schedule(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_sched_item_list l = {0};
  const struct weft_sched_item *it;
  weft_error err = WEFT_ERROR_INIT;
  json_t *item = NULL, *doc = NULL, *preview = NULL;
  if (http_sched_find(r, 0, &l, &it, &res)) return res;
  const struct weft_workspace *ws = http_workspace(r);
  const struct weft_schedule *sc = weft_workspace_find_schedule(ws, it->name);
  const struct weft_job *job =
      sc ? http_ws_find_job(ws, sc->location ? sc->location->name : it->location, sc->job)
         : NULL;
  if (!sc) {
    res = send_unknown(r, 0, it->name);
    goto done;
  }
  if (!(item = http_sched_item_json(r->inst.store, it, 0, &err)) ||
      !(preview = preview_json(sc, job, &err))) {
    res = http_send_error(r, 500, NULL, "%s", err.msg);
    goto done;
  }
  if (add_declaration(item, sc) ||
      !(doc = json_pack("{s:O, s:O}", "schedule", item, "preview", preview))) {
    res = http_send_error(r, 500, NULL, "out of memory");
    goto done;
  }
  if (!http_sched_add_history(r, it, doc, &res)) {
    res = http_send_json(r, 200, doc);
    doc = NULL;
  }
done:
  json_decref(doc);
  json_decref(item);
  json_decref(preview);
  weft_sched_item_list_release(&l);
  return res;
}

enum MHD_Result http_api_schedule_ticks(struct http_req *r) {
  return http_sched_send_ticks(r, 0);
}

enum MHD_Result http_api_schedule_on(struct http_req *r) { return http_sched_toggle(r, 0, 1); }

enum MHD_Result http_api_schedule_off(struct http_req *r) { return http_sched_toggle(r, 0, 0); }
