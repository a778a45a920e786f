/* render_event.c: one event as one human line ("12:00:01.123 add_one
 * succeeded in 12 ms"), shared by launch's plain output and `weft run events`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/render.h"
#include "util/clock.h"

static const char *str_field(json_t *p, const char *k) {
  const char *s = json_string_value(json_object_get(p, k));
  return s ? s : "";
}

void weft_render_time(int64_t ms, char *out, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  localtime_r(&t, &tm);
  snprintf(out, len, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(ms % 1000));
}

void weft_render_duration(int64_t ms, char *out, size_t len) {
  if (ms < 1000)
    snprintf(out, len, "%lld ms", (long long)ms);
  else if (ms < 60000)
    snprintf(out, len, "%.2f s", (double)ms / 1000);
  else
    snprintf(out, len, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
}

void weft_render_event_line(FILE *out, const struct weft_event_row *ev) {
  char ts[32], dur[32];
  json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
  const char *t = ev->type;
  const char *step = ev->step ? ev->step : "";
  weft_render_time(ev->ts_ms, ts, sizeof ts);
  weft_render_duration(json_integer_value(json_object_get(p, "duration_ms")), dur, sizeof dur);
  int attempt = (int)json_integer_value(json_object_get(p, "attempt"));
  fprintf(out, "%s ", ts);
  if (!strcmp(t, "run_queued")) {
    fprintf(out, "run %s queued: job %s\n", ev->run_id, str_field(p, "job"));
  } else if (!strcmp(t, "run_started")) {
    fprintf(out, "run %s started: %lld steps, executor %s\n", ev->run_id,
            (long long)json_integer_value(json_object_get(p, "steps")), str_field(p, "executor"));
  } else if (!strcmp(t, "run_success")) {
    fprintf(out, "run %s succeeded in %s\n", ev->run_id, dur);
  } else if (!strcmp(t, "run_failure")) {
    fprintf(out, "run %s failed in %s: %s\n", ev->run_id, dur, str_field(p, "message"));
  } else if (!strcmp(t, "run_canceling")) {
    fprintf(out, "run %s canceling: %s\n", ev->run_id, str_field(p, "reason"));
  } else if (!strcmp(t, "run_canceled")) {
    fprintf(out, "run %s canceled: %s\n", ev->run_id, str_field(p, "message"));
  } else if (!strcmp(t, "run_timeout")) {
    fprintf(out, "run %s timed out: %s\n", ev->run_id, str_field(p, "message"));
  } else if (!strcmp(t, "sla_missed")) {
    fprintf(out, "run %s missed its sla of %s\n", ev->run_id, str_field(p, "sla"));
  } else if (!strcmp(t, "hook_delivered") || !strcmp(t, "hook_failed")) {
    int ok = t[5] == 'd';
    int tries = (int)json_integer_value(json_object_get(p, "attempts"));
    fprintf(out, "%s%salert %s (%s to %s) %s after %d attempt%s", step, *step ? " " : "",
            str_field(p, "hook"), str_field(p, "kind"), str_field(p, "target"),
            ok ? "delivered" : "failed", tries, tries == 1 ? "" : "s");
    if (ok) fprintf(out, "\n");
    else fprintf(out, ": %s\n", str_field(p, "error"));
  } else if (!strcmp(t, "step_started")) {
    fprintf(out, "%s started (attempt %d, pid %lld)\n", step, attempt,
            (long long)json_integer_value(json_object_get(p, "pid")));
  } else if (!strcmp(t, "step_succeeded")) {
    fprintf(out, "%s succeeded in %s\n", step, dur);
  } else if (!strcmp(t, "step_failed")) {
    fprintf(out, "%s failed (attempt %d): %s\n", step, attempt, str_field(p, "message"));
  } else if (!strcmp(t, "step_up_for_retry")) {
    fprintf(out, "%s failed (attempt %d), retrying in %lld ms: %s\n", step, attempt,
            (long long)json_integer_value(json_object_get(p, "retry_in_ms")),
            str_field(p, "message"));
  } else if (!strcmp(t, "step_skipped") || !strcmp(t, "step_canceled")) {
    fprintf(out, "%s %s: %s\n", step, t + 5, str_field(p, "message"));
  } else if (!strcmp(t, "step_reused")) {
    fprintf(out, "%s reused from run %s\n", step, str_field(p, "from_run"));
  } else if (!strcmp(t, "step_output")) {
    json_t *v = json_object_get(p, "value");
    char *vs = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    /* An optional output left unwritten (engine.h): its consumers skip. */
    int unwritten = json_is_false(json_object_get(p, "written"));
    fprintf(out, "%s output %s = %s\n", step, str_field(p, "output"),
            unwritten ? "(not written)"
            : vs      ? vs
                      : (json_is_string(json_object_get(p, "key")) ? str_field(p, "key") : "null"));
    free(vs);
  } else if (!strcmp(t, "log")) {
    fprintf(out, "%s [%s] %s\n", step, str_field(p, "level"), str_field(p, "msg"));
  } else if (!strcmp(t, "materialization")) {
    fprintf(out, "%s materialized %s\n", step, str_field(p, "asset"));
  } else {
    fprintf(out, "%s%s%s %s\n", step, *step ? " " : "", t, ev->payload ? ev->payload : "");
  }
  json_decref(p);
}
