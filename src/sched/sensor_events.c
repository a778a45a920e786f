/* sensor_events.c: run-status and asset sensors: read the event log after
 * the cursor (the last event id seen) for a watched job's end, or an asset's
 * materialization, and request a run of the sensor's job for each. */
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"
#include "util/str.h"

#define PAGE 1000
#define MAX_PAGES 50

/* Whether run's job is the watched one ("JOB" or "LOCATION:JOB"). */
static int watched(const struct weft_run_row *run, const char *want) {
  const char *colon = strchr(want, ':');
  if (!colon) return !strcmp(run->job, want);
  size_t ln = (size_t)(colon - want);
  return strlen(run->location) == ln && !strncmp(run->location, want, ln) &&
         !strcmp(run->job, colon + 1);
}

int weft__sensor_eval_events(struct weft_scheduler *s, const struct weft_sensor *se,
                             const char *cursor, int64_t since_ms,
                             struct weft__sensor_result *res, weft_error *err) {
  struct weft_store *st = s->inst->store;
  int64_t after = cursor ? strtoll(cursor, NULL, 10) : 0;
  int rc = WEFT_OK;
  const char *want_type = se->kind == WEFT_SENSOR_ASSET ? "materialization"
                          : se->watch_status && !strcmp(se->watch_status, "failure")
                              ? "run_failure"
                              : "run_success";
  for (int page = 0; page < MAX_PAGES && !rc; page++) {
    struct weft_event_list l = {0};
    struct weft_event_filter f = {.after_id = after, .limit = PAGE};
    if ((rc = weft_store_event_read(st, &f, &l, err))) break;
    for (size_t i = 0; i < l.n && !rc; i++) {
      const struct weft_event_row *ev = &l.v[i];
      after = ev->id;
      if (strcmp(ev->type, want_type) || ev->ts_ms < since_ms) continue;
      char key[64];
      if (se->kind == WEFT_SENSOR_ASSET) {
        json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
        const char *asset = json_string_value(json_object_get(p, "asset"));
        int match = asset && !strcmp(asset, se->asset);
        json_decref(p);
        if (!match) continue;
        snprintf(key, sizeof key, "event-%lld", (long long)ev->id);
        rc = weft__sensor_result_add(res, key, NULL,
                                     json_pack("{s:s, s:s}", "weft/upstream_run", ev->run_id,
                                               "weft/asset", se->asset),
                                     NULL);
      } else {
        struct weft_run_row run = {0};
        weft_error gerr = WEFT_ERROR_INIT;
        if (weft_store_run_get(st, ev->run_id, &run, &gerr)) continue;
        int match = watched(&run, se->watch_job);
        weft_run_row_release(&run);
        if (!match) continue;
        rc = weft__sensor_result_add(res, ev->run_id, NULL,
                                     json_pack("{s:s}", "weft/upstream_run", ev->run_id), NULL);
      }
      if (rc) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
    size_t got = l.n;
    weft_event_list_release(&l);
    if (got < PAGE) break;
  }
  if (!rc && !(res->cursor = weft_str_printf("%lld", (long long)after)))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return rc;
}
