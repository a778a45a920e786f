/* progress.c: what `weft launch --follow` shows while a run goes: a redrawn
 * block on a terminal, one line per event otherwise, or only the ending. */
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "cli/render.h"
#include "util/clock.h"
#include "util/map.h"
#include "util/str.h"

#define REDRAW_MS 100
#define MAX_RUNNING_SHOWN 8
#define MAX_FAILURES_SHOWN 5

struct step_view {
  enum weft_step_status status;
  int attempt;
  int64_t started_mono_ms;
  char *message;
};

struct weft_progress {
  FILE *out;
  enum weft_progress_mode mode;
  char *run_id, *job;
  struct weft_map steps; /* name (borrowed from the job) -> struct step_view* */
  const char **order;    /* step names in job order */
  size_t n;
  size_t counts[WEFT_STEP__COUNT + 1]; /* +1: not yet queued */
  int lines_drawn;
  int64_t last_draw_ms, started_mono_ms;
};

struct weft_progress *weft_progress_new(FILE *out, enum weft_progress_mode mode,
                                        const char *run_id, const struct weft_job *job) {
  struct weft_progress *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->out = out;
  p->mode = mode;
  p->run_id = weft_str_dup(run_id);
  p->job = weft_str_dup(job->name);
  p->order = calloc(job->n_ops + 1, sizeof *p->order);
  p->started_mono_ms = weft_clock_mono_ms();
  if (!p->run_id || !p->job || !p->order) goto fail;
  for (size_t i = 0; i < job->n_ops; i++) {
    struct step_view *v = calloc(1, sizeof *v);
    if (!v || weft_map_put(&p->steps, job->ops[i].name, v)) {
      free(v);
      goto fail;
    }
    v->status = WEFT_STEP__COUNT; /* waiting on upstreams */
    p->order[p->n++] = job->ops[i].name;
  }
  p->counts[WEFT_STEP__COUNT] = p->n;
  return p;
fail:
  weft_progress_free(p);
  return NULL;
}

void weft_progress_free(struct weft_progress *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++) {
    struct step_view *v = weft_map_get(&p->steps, p->order[i]);
    if (v) free(v->message);
    free(v);
  }
  weft_map_release(&p->steps);
  free(p->order);
  free(p->run_id);
  free(p->job);
  free(p);
}

static void set_status(struct weft_progress *p, struct step_view *v, enum weft_step_status st) {
  p->counts[v->status]--;
  p->counts[st]++;
  v->status = st;
}

static void track(struct weft_progress *p, const struct weft_event_row *ev) {
  static const struct {
    const char *type;
    enum weft_step_status status;
  } changes[] = {{"step_started", WEFT_STEP_RUNNING},
                 {"step_succeeded", WEFT_STEP_SUCCEEDED},
                 {"step_reused", WEFT_STEP_SUCCEEDED},
                 {"step_failed", WEFT_STEP_FAILED},
                 {"step_up_for_retry", WEFT_STEP_UP_FOR_RETRY},
                 {"step_skipped", WEFT_STEP_SKIPPED},
                 {"step_canceled", WEFT_STEP_CANCELED}};
  struct step_view *v = ev->step ? weft_map_get(&p->steps, ev->step) : NULL;
  size_t k = 0;
  while (k < sizeof changes / sizeof *changes && strcmp(ev->type, changes[k].type)) k++;
  /* Only these change what is drawn: a big run's outputs and logs are not
   * worth parsing here. */
  if (!v || k == sizeof changes / sizeof *changes) return;
  set_status(p, v, changes[k].status);
  if (changes[k].status == WEFT_STEP_SUCCEEDED) return;
  /* A start's payload gives the attempt and its time, which only the
   * redrawn block shows: not worth a parse a step otherwise. */
  if (changes[k].status == WEFT_STEP_RUNNING && p->mode != WEFT_PROGRESS_TTY) return;
  json_t *pl = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
  const char *msg = json_string_value(json_object_get(pl, "message"));
  if (changes[k].status == WEFT_STEP_RUNNING) {
    v->attempt = (int)json_integer_value(json_object_get(pl, "attempt"));
    v->started_mono_ms = weft_clock_mono_ms();
  }
  if (msg) {
    free(v->message);
    v->message = weft_str_dup(msg);
  }
  json_decref(pl);
}

static void draw(struct weft_progress *p) {
  FILE *o = p->out;
  char el[32];
  int64_t now = weft_clock_mono_ms();
  if (p->lines_drawn) fprintf(o, "\033[%dA\033[J", p->lines_drawn);
  int lines = 0;
  weft_render_duration(now - p->started_mono_ms, el, sizeof el);
  fprintf(o, "run %s  job %s  %s\n", p->run_id, p->job, el);
  fprintf(o, "  %zu succeeded  %zu running  %zu waiting  %zu failed  %zu retrying  "
             "%zu skipped  %zu canceled\n",
          p->counts[WEFT_STEP_SUCCEEDED], p->counts[WEFT_STEP_RUNNING],
          p->counts[WEFT_STEP__COUNT] + p->counts[WEFT_STEP_QUEUED],
          p->counts[WEFT_STEP_FAILED], p->counts[WEFT_STEP_UP_FOR_RETRY],
          p->counts[WEFT_STEP_SKIPPED], p->counts[WEFT_STEP_CANCELED]);
  lines += 2;
  size_t shown = 0;
  for (size_t i = 0; i < p->n && shown < MAX_RUNNING_SHOWN; i++) {
    struct step_view *v = weft_map_get(&p->steps, p->order[i]);
    if (v->status != WEFT_STEP_RUNNING) continue;
    weft_render_duration(now - v->started_mono_ms, el, sizeof el);
    fprintf(o, "  \033[33mrunning\033[0m  %-24s %s%s\n", p->order[i], el,
            v->attempt > 1 ? " (retry)" : "");
    shown++;
    lines++;
  }
  shown = 0;
  for (size_t i = 0; i < p->n && shown < MAX_FAILURES_SHOWN; i++) {
    struct step_view *v = weft_map_get(&p->steps, p->order[i]);
    if (v->status != WEFT_STEP_FAILED && v->status != WEFT_STEP_UP_FOR_RETRY) continue;
    fprintf(o, "  \033[31m%s\033[0m  %-24s %.100s\n",
            v->status == WEFT_STEP_FAILED ? "failed " : "retry  ", p->order[i],
            v->message ? v->message : "");
    shown++;
    lines++;
  }
  fflush(o);
  p->lines_drawn = lines;
  p->last_draw_ms = now;
}

void weft_progress_event(struct weft_progress *p, const struct weft_event_row *ev) {
  track(p, ev);
  if (p->mode == WEFT_PROGRESS_PLAIN) {
    weft_render_event_line(p->out, ev);
    fflush(p->out);
  } else if (p->mode == WEFT_PROGRESS_TTY) {
    if (weft_clock_mono_ms() - p->last_draw_ms >= REDRAW_MS) draw(p);
  }
}

void weft_progress_tick(struct weft_progress *p) {
  if (p->mode == WEFT_PROGRESS_TTY && weft_clock_mono_ms() - p->last_draw_ms >= REDRAW_MS)
    draw(p);
}

void weft_progress_finish(struct weft_progress *p, enum weft_run_status st,
                          const char *message) {
  if (p->mode == WEFT_PROGRESS_TTY) draw(p);
  char el[32];
  weft_render_duration(weft_clock_mono_ms() - p->started_mono_ms, el, sizeof el);
  if (p->mode != WEFT_PROGRESS_PLAIN) {
    fprintf(p->out, "run %s %s in %s%s%s\n", p->run_id, weft_run_status_name(st), el,
            message ? ": " : "", message ? message : "");
  }
  if (st == WEFT_RUN_SUCCESS) return;
  for (size_t i = 0; i < p->n; i++) {
    struct step_view *v = weft_map_get(&p->steps, p->order[i]);
    if (v->status != WEFT_STEP_FAILED) continue;
    /* A mapped step has no logs of its own: point at its first failed
     * item ("3 of 20 items failed: p[3], ..."), quoted for the shell. */
    char item[160];
    const char *logs_of = p->order[i];
    const char *m = v->message ? strstr(v->message, " items failed: ") : NULL;
    if (m) {
      m += strlen(" items failed: ");
      snprintf(item, sizeof item, "'%.*s'", (int)strcspn(m, ",'"), m);
      logs_of = item;
    }
    fprintf(p->out, "  %s failed: %s\n    logs: weft run logs %s %s --stderr\n", p->order[i],
            v->message ? v->message : "", p->run_id, logs_of);
  }
  if (st == WEFT_RUN_FAILURE)
    fprintf(p->out, "  re-execute: weft run reexecute %s --from-failure\n", p->run_id);
}
