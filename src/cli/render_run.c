/* render_run.c: the views of runs `weft run list|show|events` print. Every
 * fact comes from the run's rows or its event log, never private state. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/render.h"
#include "cli/run_view.h"
#include "sched/run_queue.h"
#include "util/buf.h"
#include "util/clock.h"

/* Widest value column in text views; JSON carries the whole value. */
#define VALUE_MAX 72

/* ---- small formatters -------------------------------------------------------- */

void weft_render_datetime(int64_t ms, int with_ms, char *out, size_t len) {
  if (ms <= 0) {
    snprintf(out, len, "-");
    return;
  }
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  char day[32];
  localtime_r(&t, &tm);
  strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
  if (with_ms)
    snprintf(out, len, "%s.%03d", day, (int)(ms % 1000));
  else
    snprintf(out, len, "%s", day);
}

static void duration_or_dash(int64_t ms, char *out, size_t len) {
  if (ms < 0)
    snprintf(out, len, "-");
  else
    weft_render_duration(ms, out, len);
}

/* The first line of s, cut to max bytes on a UTF-8 boundary with "..."
 * when longer; caller frees. NULL when out of memory. */
static char *one_line(const char *s, size_t max) {
  size_t n = strcspn(s, "\n");
  int cut = n > max || s[n] == '\n';
  if (n > max) {
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  struct weft_buf b = WEFT_BUF_INIT;
  if (weft_buf_add(&b, s, n) || (cut && weft_buf_adds(&b, "..."))) {
    weft_buf_release(&b);
    return NULL;
  }
  return weft_buf_detach(&b, NULL);
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static const char *str_field(json_t *o, const char *k, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : dflt;
}

/* ---- step summaries ------------------------------------------------------------ */

/* Statuses in the order the summary names them, with their short labels. */
static const struct {
  enum weft_step_status st;
  const char *label;
} summary_order[] = {
    {WEFT_STEP_SUCCEEDED, "ok"},     {WEFT_STEP_RUNNING, "running"},
    {WEFT_STEP_UP_FOR_RETRY, "retrying"}, {WEFT_STEP_QUEUED, "queued"},
    {WEFT_STEP_FAILED, "failed"},   {WEFT_STEP_SKIPPED, "skipped"},
    {WEFT_STEP_CANCELED, "canceled"},
};

char *weft_render_steps_summary(const struct weft_step_list *steps) {
  size_t counts[WEFT_STEP__COUNT];
  struct weft_buf b = WEFT_BUF_INIT;
  int bad = 0;
  weft_step_counts(steps, counts);
  for (size_t i = 0; i < sizeof summary_order / sizeof *summary_order; i++)
    if (counts[summary_order[i].st])
      bad |= weft_buf_addf(&b, "%s%zu %s", b.len ? ", " : "", counts[summary_order[i].st],
                           summary_order[i].label);
  if (!bad && !b.len) bad = weft_buf_adds(&b, "-");
  if (bad) {
    weft_buf_release(&b);
    return NULL;
  }
  return weft_buf_detach(&b, NULL);
}

/* ---- JSON pieces ------------------------------------------------------------------- */

static int print_doc(json_t *doc, FILE *out) {
  if (!doc) return WEFT_ENOMEM;
  int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) ? WEFT_EIO : WEFT_OK;
  json_decref(doc);
  if (!rc && fputc('\n', out) == EOF) rc = WEFT_EIO;
  return rc;
}

int weft_render_event_json(const struct weft_event_row *ev, FILE *out) {
  json_t *o = weft_event_row_json(ev);
  if (!o) return WEFT_ENOMEM;
  int rc = json_dumpf(o, out, JSON_COMPACT | JSON_REAL_PRECISION(15)) ? WEFT_EIO : WEFT_OK;
  json_decref(o);
  if (!rc && fputc('\n', out) == EOF) rc = WEFT_EIO;
  return rc;
}

/* ---- run list ---------------------------------------------------------------------- */

int weft_render_run_list_json(const struct weft_run_list *runs,
                              const struct weft_step_list *steps,
                              const struct weft_run_queue_waits *waits, FILE *out) {
  json_t *doc = json_object(), *arr = json_array();
  if (!doc || !arr || json_object_set(doc, "runs", arr)) goto nomem;
  for (size_t i = 0; i < runs->n; i++) {
    json_t *r = weft_run_row_json(&runs->v[i]);
    char *summary = weft_render_steps_summary(&steps[i]);
    int bad = !r || !summary || json_array_append_new(arr, r) ||
              json_object_set_new(r, "steps", weft_step_counts_json(&steps[i])) ||
              json_object_set_new(r, "steps_summary", json_string(summary));
    const char *why = weft_run_queue_waits_find(waits, runs->v[i].id);
    if (!bad && why) bad = json_object_set_new(r, "queue_reason", json_string(why));
    free(summary);
    if (bad) goto nomem;
  }
  json_decref(arr);
  return print_doc(doc, out);
nomem:
  json_decref(arr);
  json_decref(doc);
  return WEFT_ENOMEM;
}

int weft_render_run_list_text(const struct weft_run_list *runs,
                              const struct weft_step_list *steps,
                              const struct weft_run_queue_waits *waits, FILE *out) {
  enum { C_ID, C_JOB, C_STATUS, C_STARTED, C_DURATION, C_STEPS, C_PARENT, C_WAITING, ALL_COLS };
  static const char *const heads[ALL_COLS] = {"ID",       "JOB",   "STATUS", "STARTED",
                                              "DURATION", "STEPS", "PARENT", "WAITING"};
  /* The WAITING column only when a listed run waits in the queue. */
  int n_cols = C_WAITING;
  for (size_t i = 0; i < runs->n && n_cols == C_WAITING; i++)
    if (weft_run_queue_waits_find(waits, runs->v[i].id)) n_cols = ALL_COLS;
  char **cells = calloc(runs->n * n_cols + 1, sizeof *cells);
  size_t width[ALL_COLS];
  int rc = WEFT_ENOMEM;
  if (!cells) return rc;
  for (int c = 0; c < n_cols; c++) width[c] = strlen(heads[c]);
  for (size_t i = 0; i < runs->n; i++) {
    const struct weft_run_row *r = &runs->v[i];
    char started[40], dur[32];
    char **row = &cells[i * n_cols];
    weft_render_datetime(r->started_ms, 0, started, sizeof started);
    duration_or_dash(weft_run_duration_ms(r), dur, sizeof dur);
    row[C_ID] = strdup(r->id);
    row[C_JOB] = strdup(r->job ? r->job : "-");
    row[C_STATUS] = strdup(weft_run_status_name(r->status));
    row[C_STARTED] = strdup(started);
    row[C_DURATION] = strdup(dur);
    row[C_STEPS] = weft_render_steps_summary(&steps[i]);
    row[C_PARENT] = strdup(r->parent_run_id ? r->parent_run_id : "-");
    if (n_cols > C_WAITING) {
      const char *why = weft_run_queue_waits_find(waits, r->id);
      row[C_WAITING] = strdup(why ? why : "-");
    }
    for (int c = 0; c < n_cols; c++) {
      if (!row[c]) goto done;
      if (strlen(row[c]) > width[c]) width[c] = strlen(row[c]);
    }
  }
  for (size_t i = 0; i <= runs->n; i++) {
    for (int c = 0; c < n_cols; c++) {
      const char *cell = i ? cells[(i - 1) * n_cols + c] : heads[c];
      if (c + 1 < n_cols)
        fprintf(out, "%-*s  ", (int)width[c], cell);
      else
        fprintf(out, "%s\n", cell);
    }
  }
  rc = ferror(out) ? WEFT_EIO : WEFT_OK;
done:
  for (size_t i = 0; i < runs->n * n_cols; i++) free(cells[i]);
  free(cells);
  return rc;
}

/* ---- run show: text -------------------------------------------------------------------- */

/* "k=v, k=v" from the tags object text; "-" when there are none. */
static void print_tags(const char *text, FILE *out) {
  json_t *tags = json_loads(text ? text : "{}", 0, NULL);
  const char *k;
  json_t *val;
  int n = 0;
  json_object_foreach(tags, k, val) {
    char *vs = json_is_string(val) ? NULL : json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(out, "%s%s=%s", n++ ? ", " : "", k,
            json_is_string(val) ? json_string_value(val) : vs ? vs : "?");
    free(vs);
  }
  if (!n) fputs("-", out);
  fputc('\n', out);
  json_decref(tags);
}

static void show_header(const struct weft_run_row *r, const char *queue_reason, FILE *out) {
  char t[48];
  fprintf(out, "run %s\n", r->id);
  fprintf(out, "  job:          %s (location %s)\n", r->job ? r->job : "-",
          r->location ? r->location : "-");
  fprintf(out, "  status:       %s\n", weft_run_status_name(r->status));
  if (queue_reason) fprintf(out, "  queue:        %s\n", queue_reason);
  if (r->message) fprintf(out, "  message:      %s\n", r->message);
  weft_render_datetime(r->created_ms, 1, t, sizeof t);
  fprintf(out, "  created:      %s\n", t);
  weft_render_datetime(r->started_ms, 1, t, sizeof t);
  fprintf(out, "  started:      %s\n", t);
  weft_render_datetime(r->ended_ms, 1, t, sizeof t);
  fprintf(out, "  ended:        %s\n", t);
  duration_or_dash(weft_run_duration_ms(r), t, sizeof t);
  fprintf(out, "  duration:     %s%s\n", t,
          r->started_ms && !r->ended_ms ? " (so far)" : "");
  fputs("  tags:         ", out);
  print_tags(r->tags, out);
  fprintf(out, "  parent run:   %s\n", r->parent_run_id ? r->parent_run_id : "-");
  if (r->root_run_id && strcmp(r->root_run_id, r->id))
    fprintf(out, "  root run:     %s\n", r->root_run_id);
  fprintf(out, "  coordinator:  %s\n", r->coordinator ? r->coordinator : "-");
  fprintf(out, "  code version: %s\n", r->code_version ? r->code_version : "-");
}

/* The names in p's array field, after a label: "; LABEL a, b". */
static void show_names(json_t *p, const char *field, const char *label, FILE *out) {
  json_t *a = json_object_get(p, field), *name;
  size_t k;
  json_array_foreach(a, k, name) {
    fprintf(out, "%s%s", k ? ", " : label, json_string_value(name) ? json_string_value(name) : "?");
  }
}

/* A run resumed by another coordinator after its own died (run_adopted
 * events): when, from whom, why, which steps it took over on their workers
 * and which it restarted. */
static void show_adoptions(const struct weft_run_view *v, FILE *out) {
  for (size_t i = 0; i < v->events.n; i++) {
    if (strcmp(v->events.v[i].type, "run_adopted")) continue;
    char t[48];
    json_t *p = v->payloads[i];
    weft_render_datetime(v->events.v[i].ts_ms, 1, t, sizeof t);
    fprintf(out, "  adopted:      %s by %s from %s (%s)", t, str_field(p, "to", "?"),
            str_field(p, "from", "?"), str_field(p, "reason", "?"));
    show_names(p, "taken_over", "; took over ", out);
    show_names(p, "restarted", "; restarted ", out);
    fputc('\n', out);
  }
}

static int show_steps(const struct weft_run_view *v, FILE *out) {
  size_t ws = strlen("STEP");
  for (size_t i = 0; i < v->n_order; i++)
    if (strlen(v->order[i]) > ws) ws = strlen(v->order[i]);
  fprintf(out, "\nsteps:\n");
  if (!v->n_order) {
    fprintf(out, "  (none yet)\n");
    return WEFT_OK;
  }
  fprintf(out, "  %-*s  %7s  %-12s  %-12s  %-9s  %7s  %s\n", (int)ws, "STEP", "ATTEMPT",
          "STATUS", "STARTED", "DURATION", "PID", "MESSAGE");
  for (size_t o = 0; o < v->n_order; o++) {
    int rows = 0;
    for (size_t i = 0; i < v->steps.n; i++) rows += !strcmp(v->steps.v[i].step, v->order[o]);
    if (!rows)
      fprintf(out, "  %-*s  %7s  %-12s  %-12s  %-9s  %7s\n", (int)ws, v->order[o], "-",
              "waiting", "-", "-", "-");
    for (size_t i = 0; i < v->steps.n; i++) {
      const struct weft_step_row *s = &v->steps.v[i];
      if (strcmp(s->step, v->order[o])) continue;
      char start[32] = "-", dur[32], pid[16] = "-";
      if (s->started_ms) weft_render_time(s->started_ms, start, sizeof start);
      duration_or_dash(weft_step_duration_ms(s), dur, sizeof dur);
      if (s->pid > 0) snprintf(pid, sizeof pid, "%d", s->pid);
      char *msg = one_line(s->message ? s->message : "", 100);
      if (!msg) return WEFT_ENOMEM;
      fprintf(out, "  %-*s  %7d  %-12s  %-12s  %-9s  %7s%s%s\n", (int)ws, s->step, s->attempt,
              weft_step_status_name(s->status), start, dur, pid, *msg ? "  " : "", msg);
      free(msg);
    }
  }
  return WEFT_OK;
}

/* VALUE column of one step_output payload; caller frees. */
static char *output_value_text(json_t *p) {
  json_t *val = json_object_get(p, "value");
  json_t *key = json_object_get(p, "key");
  struct weft_buf b = WEFT_BUF_INIT;
  int bad;
  if (val && !json_is_null(val)) {
    char *vs = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
    char *cut = vs ? one_line(vs, VALUE_MAX) : NULL;
    bad = !cut || weft_buf_adds(&b, cut);
    free(cut);
    free(vs);
  } else if (json_is_string(key)) {
    bad = weft_buf_addf(&b, "artifact %s (%lld bytes)", json_string_value(key),
                        (long long)json_integer_value(json_object_get(p, "bytes")));
  } else {
    bad = weft_buf_adds(&b, "(not written)");
  }
  const char *from = str_field(p, "from_run", NULL);
  if (!bad && from) bad = weft_buf_addf(&b, "  (reused from run %s)", from);
  if (bad) {
    weft_buf_release(&b);
    return NULL;
  }
  return weft_buf_detach(&b, NULL);
}

static int show_outputs(const struct weft_run_view *v, FILE *out) {
  size_t wn = strlen("OUTPUT"), wt = strlen("TYPE"), n = 0;
  for (size_t i = 0; i < v->events.n; i++) {
    const struct weft_event_row *ev = &v->events.v[i];
    if (strcmp(ev->type, "step_output") || !ev->step) continue;
    size_t len = strlen(ev->step) + 1 + strlen(str_field(v->payloads[i], "output", ""));
    if (len > wn) wn = len;
    if (strlen(str_field(v->payloads[i], "type", "")) > wt)
      wt = strlen(str_field(v->payloads[i], "type", ""));
    n++;
  }
  fprintf(out, "\noutputs:\n");
  if (!n) {
    fprintf(out, "  (none)\n");
    return WEFT_OK;
  }
  fprintf(out, "  %-*s  %-*s  %s\n", (int)wn, "OUTPUT", (int)wt, "TYPE", "VALUE");
  for (size_t i = 0; i < v->events.n; i++) {
    const struct weft_event_row *ev = &v->events.v[i];
    if (strcmp(ev->type, "step_output") || !ev->step) continue;
    json_t *p = v->payloads[i];
    char *val = output_value_text(p);
    if (!val) return WEFT_ENOMEM;
    const char *name = str_field(p, "output", "?");
    int pad = (int)(wn - strlen(ev->step) - 1 - strlen(name));
    fprintf(out, "  %s.%s%*s  %-*s  %s\n", ev->step, name, pad, "", (int)wt,
            str_field(p, "type", "?"), val);
    free(val);
  }
  return WEFT_OK;
}

static int show_materializations(const struct weft_run_view *v, FILE *out) {
  int any = 0;
  for (size_t i = 0; i < v->events.n; i++) {
    const struct weft_event_row *ev = &v->events.v[i];
    if (strcmp(ev->type, "materialization")) continue;
    if (!any++) fprintf(out, "\nmaterializations:\n");
    json_t *md = json_object_get(v->payloads[i], "metadata");
    char *ms = md ? json_dumps(md, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *cut = one_line(ms ? ms : "", 100);
    fprintf(out, "  %s  %s%s%s\n", ev->step ? ev->step : "-",
            str_field(v->payloads[i], "asset", "?"), cut && *cut ? "  " : "", cut ? cut : "");
    free(cut);
    free(ms);
  }
  return WEFT_OK;
}

/* Every attempt that ran in a container: its image, digest and container. */
static void show_containers(const struct weft_run_view *v, FILE *out) {
  json_t *ctrs = json_array();
  if (!ctrs || weft_run_view_containers_json(v, ctrs)) {
    json_decref(ctrs);
    return;
  }
  size_t k;
  json_t *c;
  json_array_foreach(ctrs, k, c) {
    if (!k) fprintf(out, "\ncontainers:\n  STEP  ATTEMPT  IMAGE  DIGEST  CONTAINER\n");
    fprintf(out, "  %s  %lld  %s  %s  %.12s\n", str_field(c, "step", "-"),
            (long long)json_integer_value(json_object_get(c, "attempt")),
            str_field(c, "image", "-"), str_field(c, "digest", "-"), str_field(c, "id", "-"));
  }
  json_decref(ctrs);
}

/* The event that reused step from another run, or NULL. */
static json_t *reused_payload(const struct weft_run_view *v, const char *step) {
  for (size_t i = 0; i < v->events.n; i++)
    if (v->events.v[i].step && !strcmp(v->events.v[i].step, step) &&
        !strcmp(v->events.v[i].type, "step_reused"))
      return v->payloads[i];
  return NULL;
}

static void print_log_path(const char *label, const char *path, FILE *out) {
  struct stat sb;
  if (!path)
    fprintf(out, "    %s: -\n", label);
  else if (stat(path, &sb))
    fprintf(out, "    %s: %s (missing)\n", label, path);
  else
    fprintf(out, "    %s: %s (%lld bytes)\n", label, path, (long long)sb.st_size);
}

static void show_logs(const struct weft_run_view *v, FILE *out) {
  fprintf(out, "\ncompute logs (last attempt of each step):\n");
  int any = 0;
  for (size_t o = 0; o < v->n_order; o++) {
    long at = weft_run_view_last_started(v, v->order[o]);
    json_t *reused = reused_payload(v, v->order[o]);
    if (at < 0 && !reused) continue;
    any = 1;
    if (at < 0) {
      fprintf(out, "  %s: reused from run %s (see 'weft run logs %s %s')\n", v->order[o],
              str_field(reused, "from_run", "?"), str_field(reused, "from_run", "?"),
              v->order[o]);
      continue;
    }
    json_t *p = v->payloads[at];
    fprintf(out, "  %s (attempt %lld)\n", v->order[o],
            (long long)json_integer_value(json_object_get(p, "attempt")));
    print_log_path("stdout", str_field(p, "stdout", NULL), out);
    print_log_path("stderr", str_field(p, "stderr", NULL), out);
  }
  if (!any) fprintf(out, "  (no step has started)\n");
}

int weft_render_run_show_text(const struct weft_run_view *v, const char *queue_reason,
                              FILE *out) {
  int rc;
  show_header(&v->run, queue_reason, out);
  show_adoptions(v, out);
  if ((rc = show_steps(v, out)) || (rc = show_outputs(v, out)) ||
      (rc = show_materializations(v, out)))
    return rc;
  show_containers(v, out);
  show_logs(v, out);
  return ferror(out) ? WEFT_EIO : WEFT_OK;
}

/* ---- run show: JSON --------------------------------------------------------------------- */

static int logs_json(const struct weft_run_view *v, json_t *arr) {
  for (size_t o = 0; o < v->n_order; o++) {
    long at = weft_run_view_last_started(v, v->order[o]);
    if (at < 0) continue;
    json_t *p = v->payloads[at];
    json_t *e = json_pack("{s:s, s:O, s:o, s:o}", "step", v->order[o], "attempt",
                          json_object_get(p, "attempt"), "stdout",
                          str_or_null(str_field(p, "stdout", NULL)), "stderr",
                          str_or_null(str_field(p, "stderr", NULL)));
    if (!e || json_array_append_new(arr, e)) return WEFT_ENOMEM;
  }
  return WEFT_OK;
}

int weft_render_run_show_json(const struct weft_run_view *v, const char *queue_reason,
                              FILE *out) {
  json_t *doc = weft_run_row_json(&v->run);
  json_t *steps = json_array(), *outs = json_array(), *mats = json_array(),
         *logs = json_array();
  int rc = WEFT_ENOMEM;
  if (!doc || !steps || !outs || !mats || !logs) goto done;
  if (json_object_set_new(doc, "run_config", weft_json_parse_or_text(v->run.run_config))) goto done;
  if (queue_reason && json_object_set_new(doc, "queue_reason", json_string(queue_reason)))
    goto done;
  for (size_t o = 0; o < v->n_order; o++)
    for (size_t i = 0; i < v->steps.n; i++)
      if (!strcmp(v->steps.v[i].step, v->order[o]) &&
          json_array_append_new(steps, weft_step_row_json(&v->steps.v[i])))
        goto done;
  if (weft_run_view_events_json(v, "step_output", outs) || weft_run_view_events_json(v, "materialization", mats) ||
      logs_json(v, logs))
    goto done;
  json_t *adopted = json_array(); /* run_adopted payloads: {from, to, reason, ts_ms} */
  if (adopted && weft_run_view_events_json(v, "run_adopted", adopted)) {
    json_decref(adopted);
    goto done;
  }
  if (!adopted || json_object_set_new(doc, "adoptions", adopted)) goto done;
  /* containers: [{"step","attempt","id","image","digest"}] */
  json_t *ctrs = json_array();
  if (ctrs && weft_run_view_containers_json(v, ctrs)) {
    json_decref(ctrs);
    goto done;
  }
  if (!ctrs || json_object_set_new(doc, "containers", ctrs)) goto done;
  if (json_object_set(doc, "steps", steps) || json_object_set(doc, "outputs", outs) ||
      json_object_set(doc, "materializations", mats) || json_object_set(doc, "logs", logs))
    goto done;
  rc = print_doc(doc, out);
  doc = NULL;
done:
  json_decref(doc);
  json_decref(steps);
  json_decref(outs);
  json_decref(mats);
  json_decref(logs);
  return rc;
}
