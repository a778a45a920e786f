/* sched_views.c: the stored state of schedules and sensors (on/off, cursors),
 * tick history, previews and listings for the CLI, HTTP API and UI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/sched_int.h"
#include "util/clock.h"
#include "util/cron.h"
#include "util/str.h"
#include "util/tz.h"

static int64_t wall_now(void *data) {
  (void)data;
  return weft_clock_wall_ms();
}
const struct weft_sched_clock weft_sched_wall_clock = {wall_now, NULL};

char *weft__sched_tick_key(const char *name, int64_t tick_ms) {
  return weft_str_printf("tick/%s/%013lld", name,
                         (long long)(WEFT_SCHED_TICK_INV_BASE - tick_ms));
}

int weft__sched_state_read(struct weft_store *st, const char *key, json_t **doc, char **text,
                           weft_error *err) {
  char *v = NULL;
  *doc = NULL;
  if (text) *text = NULL;
  int rc = weft_store_kv_get(st, key, &v, err);
  if (rc == WEFT_ENOTFOUND) return WEFT_OK;
  if (rc) return rc;
  weft__sched_state_take(v, doc, text);
  return WEFT_OK;
}

void weft__sched_state_take(char *v, json_t **doc, char **text) {
  *doc = NULL;
  if (text) *text = NULL;
  if (!v) return;
  json_t *d = json_loads(v, 0, NULL);
  if (!json_is_object(d)) {
    json_decref(d);
    d = json_object(); /* a damaged document: start over, CAS still guards */
  }
  *doc = d;
  if (text)
    *text = v;
  else
    free(v);
}

int weft__sched_state_on(const json_t *doc, int default_on) {
  const char *s = json_string_value(json_object_get(doc, "state"));
  if (s && !strcmp(s, "on")) return 1;
  if (s && !strcmp(s, "off")) return 0;
  return default_on;
}

int weft__sched_state_write(struct weft_store *st, const char *key, const char *old_text,
                            json_t *doc, weft_error *err) {
  char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_store_kv_compare_set(st, key, old_text, text, err);
  free(text);
  return rc;
}

char *weft_sched_format_time(int64_t ms, const char *zone_name) {
  const struct weft_tz *tz = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_tz_get(zone_name ? zone_name : "UTC", &tz, &err)) weft_tz_get("UTC", &tz, &err);
  int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  struct tm t;
  int off = 0;
  weft_tz_to_local(tz, s, &t, &off);
  char sign = off < 0 ? '-' : '+';
  int a = off < 0 ? -off : off;
  if (!off && (!zone_name || !strcmp(zone_name, "UTC")))
    return weft_str_printf("%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                           t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
  return weft_str_printf("%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", t.tm_year + 1900,
                         t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, sign, a / 3600,
                         (a / 60) % 60);
}

int weft_sched_preview(const struct weft_schedule *sc, const struct weft_job *job,
                       int64_t after_ms, size_t n, int64_t **times, char ***keys,
                       weft_error *err) {
  struct weft_cron *c = NULL;
  const struct weft_tz *tz = NULL;
  *times = NULL;
  if (keys) *keys = NULL;
  int rc = weft_cron_parse(sc->cron, &c, NULL, err);
  if (rc) return rc;
  if ((rc = weft_tz_get(sc->timezone ? sc->timezone : "UTC", &tz, err))) goto done;
  int64_t *t = calloc(n ? n : 1, sizeof *t);
  char **k = keys ? calloc(n + 1, sizeof *k) : NULL;
  if (!t || (keys && !k)) {
    free(t);
    free(k);
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  int64_t at = after_ms / 1000 - (after_ms < 0 && after_ms % 1000);
  for (size_t i = 0; i < n; i++) {
    int64_t next = weft_cron_next(c, tz, at);
    if (next < 0) break;
    t[i] = next * 1000;
    if (k && job) k[i] = weft_partitions_key_for_tick(&job->partitions, next);
    at = next;
  }
  *times = t;
  if (keys) *keys = k;
done:
  weft_cron_free(c);
  return rc;
}

/* ---- listing ----------------------------------------------------------------- */

void weft_sched_item_list_release(struct weft_sched_item_list *l) {
  for (size_t i = 0; l && i < l->n; i++) {
    struct weft_sched_item *it = &l->v[i];
    free(it->name);
    free(it->kind);
    free(it->job);
    free(it->location);
    free(it->cron);
    free(it->timezone);
    free(it->last_status);
    free(it->last_reason);
    free(it->description);
  }
  if (l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
  }
}

static int cmp_items(const void *a, const void *b) {
  return strcmp(((const struct weft_sched_item *)a)->name,
                ((const struct weft_sched_item *)b)->name);
}

/* Last tick of name: newest-first keys, so the first one. */
static int fill_last(struct weft_store *st, struct weft_sched_item *it, weft_error *err) {
  struct weft_sched_tick_list l = {0};
  int rc = weft_sched_ticks(st, it->name, 0, 1, &l, err);
  if (rc) return rc;
  if (l.n) {
    it->last_tick_ms = l.v[0].tick_ms;
    it->last_status = weft_str_dup(l.v[0].status);
    it->last_reason = l.v[0].reason ? weft_str_dup(l.v[0].reason) : NULL;
  }
  weft_sched_tick_list_release(&l);
  return WEFT_OK;
}

int weft_sched_list(struct weft_store *st, const struct weft_workspace *ws, int sensors,
                    int64_t now_ms, struct weft_sched_item_list *out, weft_error *err) {
  size_t total = 0;
  int rc = WEFT_OK;
  out->v = NULL;
  out->n = 0;
  for (size_t l = 0; ws && l < ws->n_locations; l++)
    total += sensors ? ws->locations[l]->n_sensors : ws->locations[l]->n_schedules;
  if (!(out->v = calloc(total ? total : 1, sizeof *out->v)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t l = 0; ws && l < ws->n_locations && !rc; l++) {
    const struct weft_location *loc = ws->locations[l];
    size_t cnt = sensors ? loc->n_sensors : loc->n_schedules;
    for (size_t i = 0; i < cnt && !rc; i++) {
      struct weft_sched_item *it = &out->v[out->n++];
      json_t *doc = NULL;
      char *key;
      if (sensors) {
        const struct weft_sensor *se = &loc->sensors[i];
        it->name = weft_str_dup(se->name);
        it->kind = weft_str_dup(weft_sensor_kind_name(se->kind));
        it->job = weft_str_dup(se->job);
        it->interval_s = se->interval_s;
        it->on = se->default_on;
        it->description = se->description ? weft_str_dup(se->description) : NULL;
        it->file = se->mark.file;
        it->line = se->mark.line;
        key = weft_str_printf("sensor/%s", se->name);
      } else {
        const struct weft_schedule *sc = &loc->schedules[i];
        it->name = weft_str_dup(sc->name);
        it->kind = weft_str_dup("schedule");
        it->job = weft_str_dup(sc->job);
        it->cron = weft_str_dup(sc->cron);
        it->timezone = weft_str_dup(sc->timezone ? sc->timezone : "UTC");
        it->on = sc->default_on;
        it->description = sc->description ? weft_str_dup(sc->description) : NULL;
        it->file = sc->mark.file;
        it->line = sc->mark.line;
        key = weft_str_printf("schedule/%s", sc->name);
      }
      it->location = weft_str_dup(loc->name);
      if (!key || !it->name || !it->kind || !it->job || !it->location) {
        free(key);
        rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
        break;
      }
      rc = weft__sched_state_read(st, key, &doc, NULL, err);
      free(key);
      if (rc) break;
      it->stored = json_object_get(doc, "state") != NULL;
      it->on = weft__sched_state_on(doc, it->on);
      if (it->on && sensors) {
        json_int_t last = json_integer_value(json_object_get(doc, "last_eval_ms"));
        it->next_tick_ms = last ? last + (int64_t)it->interval_s * 1000 : now_ms;
      } else if (it->on) {
        int64_t *t = NULL;
        weft_error perr = WEFT_ERROR_INIT;
        if (!weft_sched_preview(&loc->schedules[i], NULL, now_ms, 1, &t, NULL, &perr))
          it->next_tick_ms = t[0];
        free(t);
      }
      json_decref(doc);
      rc = fill_last(st, it, err);
    }
  }
  if (rc) {
    weft_sched_item_list_release(out);
    return rc;
  }
  if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_items);
  return WEFT_OK;
}

json_t *weft_sched_item_to_json(const struct weft_sched_item *it) {
  char *next = it->next_tick_ms ? weft_sched_format_time(it->next_tick_ms, it->timezone) : NULL;
  char *last = it->last_tick_ms ? weft_sched_format_time(it->last_tick_ms, it->timezone) : NULL;
  json_t *o = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:s?, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:i}",
      "name", it->name, "kind", it->kind, "job", it->job, "location", it->location, "state",
      it->on ? "on" : "off", "state_stored", it->stored, "next_tick_ms",
      (json_int_t)it->next_tick_ms, "next_tick", next, "last_tick_ms",
      (json_int_t)it->last_tick_ms, "last_tick", last, "last_status", it->last_status,
      "last_reason", it->last_reason, "description", it->description, "file", it->file, "line",
      it->line);
  if (o && it->cron) {
    json_object_set_new(o, "cron", json_string(it->cron));
    json_object_set_new(o, "timezone", json_string(it->timezone ? it->timezone : "UTC"));
  }
  if (o && !it->cron) json_object_set_new(o, "interval_s", json_integer(it->interval_s));
  free(next);
  free(last);
  return o;
}

/* ---- toggling ------------------------------------------------------------------ */

int weft_sched_set_state(struct weft_store *st, const struct weft_workspace *ws,
                         const char *name, int on, int64_t now_ms, weft_error *err) {
  const struct weft_schedule *sc = weft_workspace_find_schedule(ws, name);
  const struct weft_sensor *se = sc ? NULL : weft_workspace_find_sensor(ws, name);
  if (!sc && !se) {
    size_t n = 0, k = 0;
    for (size_t l = 0; ws && l < ws->n_locations; l++)
      n += ws->locations[l]->n_schedules + ws->locations[l]->n_sensors;
    const char **names = calloc(n + 1, sizeof *names);
    for (size_t l = 0; names && ws && l < ws->n_locations; l++) {
      for (size_t i = 0; i < ws->locations[l]->n_schedules; i++)
        names[k++] = ws->locations[l]->schedules[i].name;
      for (size_t i = 0; i < ws->locations[l]->n_sensors; i++)
        names[k++] = ws->locations[l]->sensors[i].name;
    }
    const char *s = names ? weft_str_suggest(name, names, k) : NULL;
    weft_error_set(err, WEFT_ENOTFOUND, "no schedule or sensor '%s' in the workspace%s%s%s",
                   name, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
    free(names);
    return WEFT_ENOTFOUND;
  }
  char *key = weft_str_printf("%s/%s", sc ? "schedule" : "sensor", name);
  if (!key) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = WEFT_ECONFLICT;
  for (int attempt = 0; attempt < 20 && rc == WEFT_ECONFLICT; attempt++) {
    json_t *doc = NULL;
    char *text = NULL;
    if ((rc = weft__sched_state_read(st, key, &doc, &text, err))) break;
    if (!doc) doc = json_object();
    int was_on = weft__sched_state_on(doc, sc ? sc->default_on : se->default_on);
    json_object_set_new(doc, "state", json_string(on ? "on" : "off"));
    /* Turning on starts from now: ticks missed while off are not run. */
    if (on && (!was_on || !json_object_get(doc, sc ? "last_tick_ms" : "last_eval_ms"))) {
      if (sc) json_object_set_new(doc, "last_tick_ms", json_integer(now_ms));
      if (se) json_object_set_new(doc, "since_ms", json_integer(now_ms));
    }
    rc = weft__sched_state_write(st, key, text, doc, err);
    json_decref(doc);
    free(text);
  }
  free(key);
  return rc;
}

/* ---- ticks ------------------------------------------------------------------------ */

void weft_sched_tick_list_release(struct weft_sched_tick_list *l) {
  for (size_t i = 0; l && i < l->n; i++) {
    struct weft_sched_tick *t = &l->v[i];
    free(t->name);
    free(t->kind);
    free(t->status);
    free(t->reason);
    free(t->partition);
    for (size_t j = 0; j < t->n_run_ids; j++) free(t->run_ids[j]);
    free(t->run_ids);
    json_decref(t->doc);
  }
  if (l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
  }
}

static char *dup_str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? weft_str_dup(s) : NULL;
}

int weft_sched_ticks(struct weft_store *st, const char *name, int64_t before_ms, int limit,
                     struct weft_sched_tick_list *out, weft_error *err) {
  struct weft_kv_list kv = {0};
  char *prefix = weft_str_printf("tick/%s/", name);
  char *after = before_ms ? weft__sched_tick_key(name, before_ms) : NULL;
  int rc;
  out->v = NULL;
  out->n = 0;
  if (!prefix || (before_ms && !after)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if ((rc = weft_store_kv_list(st, prefix, after, limit > 0 ? limit : 50, &kv, err))) goto done;
  if (!(out->v = calloc(kv.n ? kv.n : 1, sizeof *out->v))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < kv.n; i++) {
    json_t *d = json_loads(kv.v[i].value, 0, NULL);
    if (!json_is_object(d)) {
      json_decref(d);
      continue;
    }
    struct weft_sched_tick *t = &out->v[out->n++];
    t->doc = d;
    t->name = weft_str_dup(name);
    t->kind = dup_str(d, "kind");
    t->tick_ms = json_integer_value(json_object_get(d, "tick_ms"));
    t->status = dup_str(d, "status");
    t->reason = dup_str(d, "reason");
    t->partition = dup_str(d, "partition");
    json_t *ids = json_object_get(d, "run_ids");
    t->run_ids = calloc(json_array_size(ids) + 1, sizeof *t->run_ids);
    for (size_t j = 0; t->run_ids && j < json_array_size(ids); j++) {
      const char *id = json_string_value(json_array_get(ids, j));
      if (id) t->run_ids[t->n_run_ids++] = weft_str_dup(id);
    }
    if (!t->status) t->status = weft_str_dup("unknown");
  }
done:
  weft_kv_list_release(&kv);
  free(prefix);
  free(after);
  if (rc) weft_sched_tick_list_release(out);
  return rc;
}
