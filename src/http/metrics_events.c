/* metrics_events.c: the /metrics families fed from the event log by the
 * server's maintenance thread (it reads every event from the store's first,
 * so the counters cover the whole store and survive restarts): steps by
 * outcome per job and op, finished runs and their duration per job, and the
 * run queue's wait. Label sets are bounded (metrics_int.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http/metrics_int.h"
#include "util/map.h"

/* ---- histograms ---------------------------------------------------------------- */

#define MAX_BUCKETS 12

struct hist {
  uint64_t b[MAX_BUCKETS + 1]; /* per bucket; the last: above every bound */
  uint64_t count;
  double sum;
};

static const double run_le[] = {1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400};
static const double wait_le[] = {.1, .5, 1, 5, 10, 30, 60, 300, 900, 3600};
#define N_RUN_LE (sizeof run_le / sizeof *run_le)
#define N_WAIT_LE (sizeof wait_le / sizeof *wait_le)

static void hist_add(struct hist *h, const double *le, size_t n, double v) {
  size_t i = 0;
  while (i < n && v > le[i]) i++;
  h->b[i]++;
  h->count++;
  h->sum += v;
}

/* Prints NAME_bucket{LABELS,le=...}, _sum and _count; labels is "" or
 * `job="x",` (with its trailing comma). */
static void hist_print(struct weft_buf *b, const char *name, const char *labels,
                       const struct hist *h, const double *le, size_t n) {
  uint64_t cum = 0;
  for (size_t i = 0; i < n; i++) {
    cum += h->b[i];
    weft_buf_addf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, le[i],
                  (unsigned long long)cum);
  }
  size_t len = strlen(labels);
  weft_buf_addf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
                (unsigned long long)h->count);
  /* _sum and _count carry the labels without the trailing comma */
  if (len) {
    weft_buf_addf(b, "%s_sum{%.*s} %.9g\n", name, (int)len - 1, labels, h->sum);
    weft_buf_addf(b, "%s_count{%.*s} %llu\n", name, (int)len - 1, labels,
                  (unsigned long long)h->count);
  } else {
    weft_buf_addf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
                  (unsigned long long)h->count);
  }
}

/* ---- the state ----------------------------------------------------------------- */

static const char *const outcomes[] = {"succeeded", "failed", "retried",
                                       "skipped",   "canceled", "reused"};
static const char *const outcome_events[] = {"step_succeeded", "step_failed",
                                             "step_up_for_retry", "step_skipped",
                                             "step_canceled", "step_reused"};
#define N_OUTCOMES (sizeof outcomes / sizeof *outcomes)

static const char *const run_ends[] = {"success", "failure", "canceled"};
static const char *const run_end_events[] = {"run_success", "run_failure", "run_canceled"};
#define N_RUN_ENDS 3

#define OTHER_JOB HTTP_METRICS_MAX_JOBS /* index of job="other" */

struct step_series {
  int job;  /* index into jobs, OTHER_JOB for "other" */
  char *op; /* NULL: "other" */
  uint64_t n[N_OUTCOMES];
};

struct run_slot {
  char id[48]; /* "" when empty */
  int job;
  int64_t queued_ms; /* 0 once started (its wait is counted) */
};

struct http_metrics_ev {
  char *jobs[HTTP_METRICS_MAX_JOBS];
  size_t n_jobs;
  struct hist run_dur[HTTP_METRICS_MAX_JOBS + 1];
  uint64_t finished[HTTP_METRICS_MAX_JOBS + 1][N_RUN_ENDS];
  struct step_series steps[HTTP_METRICS_MAX_STEPS + 1]; /* the last: other */
  size_t n_steps;
  struct weft_map step_index; /* "JOBINDEX\x1fOP" -> series + 1 */
  char **step_keys;           /* the keys step_index borrows */
  struct hist wait;
  struct run_slot slots[HTTP_METRICS_RUN_SLOTS];
};

struct http_metrics_ev *http_metrics_ev_new(void) {
  struct http_metrics_ev *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->step_keys = calloc(HTTP_METRICS_MAX_STEPS, sizeof *e->step_keys);
  if (!e->step_keys) {
    free(e);
    return NULL;
  }
  e->steps[HTTP_METRICS_MAX_STEPS].job = OTHER_JOB;
  return e;
}

void http_metrics_ev_free(struct http_metrics_ev *e) {
  if (!e) return;
  for (size_t i = 0; i < e->n_jobs; i++) free(e->jobs[i]);
  for (size_t i = 0; i < e->n_steps; i++) {
    free(e->steps[i].op);
    free(e->step_keys[i]);
  }
  free(e->step_keys);
  weft_map_release(&e->step_index);
  free(e);
}

/* The index of job's series: a new one while there is room, else other. */
static int job_index(struct http_metrics_ev *e, const char *job) {
  if (!job) return OTHER_JOB;
  for (size_t i = 0; i < e->n_jobs; i++)
    if (!strcmp(e->jobs[i], job)) return (int)i;
  if (e->n_jobs == HTTP_METRICS_MAX_JOBS || !(e->jobs[e->n_jobs] = strdup(job)))
    return OTHER_JOB;
  return (int)e->n_jobs++;
}

static struct step_series *step_series(struct http_metrics_ev *e, int job, const char *op) {
  struct step_series *other = &e->steps[HTTP_METRICS_MAX_STEPS];
  if (!op || job == OTHER_JOB) return other;
  char key[320];
  snprintf(key, sizeof key, "%d\x1f%s", job, op);
  void *v = NULL;
  if (weft_map_find(&e->step_index, key, &v)) return &e->steps[(size_t)v - 1];
  if (e->n_steps == HTTP_METRICS_MAX_STEPS) return other;
  size_t i = e->n_steps;
  char *k = strdup(key), *o = strdup(op);
  if (!k || !o || weft_map_put(&e->step_index, k, (void *)(i + 1))) {
    free(k);
    free(o);
    return other;
  }
  e->step_keys[i] = k;
  e->steps[i].job = job;
  e->steps[i].op = o;
  e->n_steps++;
  return &e->steps[i];
}

static struct run_slot *slot_of(struct http_metrics_ev *e, const char *run_id) {
  if (!run_id || strlen(run_id) >= sizeof e->slots[0].id) return NULL;
  return &e->slots[weft_map_hash(run_id) % HTTP_METRICS_RUN_SLOTS];
}

/* The run's slot when it holds this run, else NULL. */
static struct run_slot *slot_find(struct http_metrics_ev *e, const char *run_id) {
  struct run_slot *s = slot_of(e, run_id);
  return s && !strcmp(s->id, run_id) ? s : NULL;
}

static int index_of(const char *const *names, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(names[i], s)) return (int)i;
  return -1;
}

void http_metrics_ev_feed(struct http_metrics_ev *e, const struct weft_event_row *ev) {
  if (!e || !ev->type) return;
  const char *t = ev->type;
  int k;
  if (!strcmp(t, "run_queued")) {
    json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
    struct run_slot *s = slot_of(e, ev->run_id);
    if (s) { /* a colliding older run is forgotten: it counts as other */
      snprintf(s->id, sizeof s->id, "%s", ev->run_id);
      s->job = job_index(e, json_string_value(json_object_get(p, "job")));
      s->queued_ms = ev->ts_ms;
    }
    json_decref(p);
  } else if (!strcmp(t, "run_started")) {
    struct run_slot *s = slot_find(e, ev->run_id);
    if (s && s->queued_ms) {
      double w = (double)(ev->ts_ms - s->queued_ms) / 1000.0;
      hist_add(&e->wait, wait_le, N_WAIT_LE, w < 0 ? 0 : w);
      s->queued_ms = 0;
    }
  } else if ((k = index_of(run_end_events, N_RUN_ENDS, t)) >= 0) {
    struct run_slot *s = slot_find(e, ev->run_id);
    int job = s ? s->job : OTHER_JOB;
    e->finished[job][k]++;
    json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
    json_t *d = json_object_get(p, "duration_ms");
    /* a run canceled before it started has no meaningful duration */
    if (json_is_integer(d) && json_integer_value(d) >= 0 &&
        json_integer_value(d) < 400LL * 86400 * 1000 && !(s && s->queued_ms))
      hist_add(&e->run_dur[job], run_le, N_RUN_LE, (double)json_integer_value(d) / 1000.0);
    json_decref(p);
    if (s) s->id[0] = '\0';
  } else if ((k = index_of(outcome_events, N_OUTCOMES, t)) >= 0) {
    struct run_slot *s = slot_find(e, ev->run_id);
    step_series(e, s ? s->job : OTHER_JOB, ev->step)->n[k]++;
  }
}

/* ---- printing ------------------------------------------------------------------ */

static void job_label(struct weft_buf *b, const struct http_metrics_ev *e, int job) {
  weft_buf_adds(b, "job=\"");
  http_metrics_label(b, job == OTHER_JOB ? "other" : e->jobs[job]);
  weft_buf_adds(b, "\"");
}

void http_metrics_ev_print(const struct http_metrics_ev *e, struct weft_buf *b) {
  if (!e) return;
  weft_buf_addf(b, "# HELP weft_steps_total Step attempts by outcome, per job and op (the "
                   "step's name in its job), counted from the event log since the store's "
                   "first event; the first %d (job, op) pairs have series, later ones count "
                   "under job=\"other\",op=\"other\".\n# TYPE weft_steps_total counter\n",
                HTTP_METRICS_MAX_STEPS);
  int other_used = 0;
  for (size_t k = 0; k < N_OUTCOMES; k++)
    other_used |= e->steps[HTTP_METRICS_MAX_STEPS].n[k] != 0;
  for (size_t i = 0; i <= HTTP_METRICS_MAX_STEPS; i++) {
    if (i == e->n_steps) {
      if (!other_used) break;
      i = HTTP_METRICS_MAX_STEPS;
    }
    const struct step_series *s = &e->steps[i];
    for (size_t k = 0; k < N_OUTCOMES; k++) {
      weft_buf_adds(b, "weft_steps_total{");
      job_label(b, e, s->job);
      weft_buf_adds(b, ",op=\"");
      http_metrics_label(b, s->op ? s->op : "other");
      weft_buf_addf(b, "\",outcome=\"%s\"} %llu\n", outcomes[k], (unsigned long long)s->n[k]);
    }
  }
  weft_buf_addf(b, "# HELP weft_runs_finished_total Runs that ended, by job and status, "
                   "counted from the event log since the store's first event; the first %d "
                   "jobs have series, later ones count under job=\"other\".\n"
                   "# TYPE weft_runs_finished_total counter\n",
                HTTP_METRICS_MAX_JOBS);
  for (int j = 0; j <= OTHER_JOB; j++) {
    if (j == (int)e->n_jobs) j = OTHER_JOB;
    for (int k = 0; k < N_RUN_ENDS; k++) {
      weft_buf_adds(b, "weft_runs_finished_total{");
      job_label(b, e, j);
      weft_buf_addf(b, ",status=\"%s\"} %llu\n", run_ends[k],
                    (unsigned long long)e->finished[j][k]);
    }
  }
  weft_buf_adds(b, "# HELP weft_run_duration_seconds Duration of runs that ended (from start "
                   "to end), per job, from the event log.\n"
                   "# TYPE weft_run_duration_seconds histogram\n");
  for (int j = 0; j <= OTHER_JOB; j++) {
    if (j == (int)e->n_jobs) j = OTHER_JOB;
    struct weft_buf l = WEFT_BUF_INIT;
    job_label(&l, e, j);
    weft_buf_addc(&l, ',');
    hist_print(b, "weft_run_duration_seconds", l.ptr, &e->run_dur[j], run_le, N_RUN_LE);
    weft_buf_release(&l);
  }
  weft_buf_adds(b, "# HELP weft_run_queue_wait_seconds Time runs spent queued before a "
                   "coordinator started them, from the event log.\n"
                   "# TYPE weft_run_queue_wait_seconds histogram\n");
  hist_print(b, "weft_run_queue_wait_seconds", "", &e->wait, wait_le, N_WAIT_LE);
}
