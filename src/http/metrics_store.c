/* metrics_store.c: the /metrics families read at scrape time, from storage
 * (so they hold whichever process runs the scheduler, coordinators and
 * workers) and from this process's own counters (store commits, artifact
 * calls, the coordinators it started). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "artifacts/artifacts.h"
#include "engine/run_view.h"
#include "http/metrics_int.h"
#include "sched/sched.h"

#define SCAN_LIMIT 10000     /* runs read per status scan */
#define TICKS_WINDOW_MS 3600000 /* weft_schedule_ticks_last_hour */
#define TICKS_READ 200       /* newest ticks read per schedule or sensor */

void http_metrics_label(struct weft_buf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"') weft_buf_addf(b, "\\%c", *s);
    else if (*s == '\n') weft_buf_adds(b, "\\n");
    else weft_buf_addc(b, *s);
  }
}

static void gauge(struct weft_buf *b, const char *name, const char *help) {
  weft_buf_addf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* Runs in flight (started or canceling): their running steps, and whether
 * their coordinator's heartbeat is recent. */
static int in_flight(struct weft_instance *inst, int64_t now_ms, struct weft_buf *b,
                     weft_error *err) {
  struct weft_run_filter f = {.status_mask = (1 << WEFT_RUN_STARTED) | (1 << WEFT_RUN_CANCELING),
                              .limit = SCAN_LIMIT};
  struct weft_run_list runs = {0};
  long long running = 0, live = 0, stale = 0;
  int rc = weft_store_run_list(inst->store, &f, &runs, err);
  for (size_t i = 0; !rc && i < runs.n; i++) {
    struct weft_step_list steps = {0};
    size_t counts[WEFT_STEP__COUNT];
    if ((rc = weft_store_step_list(inst->store, runs.v[i].id, &steps, err))) break;
    weft_step_counts(&steps, counts);
    running += (long long)counts[WEFT_STEP_RUNNING];
    weft_step_list_release(&steps);
    if (now_ms - runs.v[i].heartbeat_ms <= WEFT_HEARTBEAT_STALE_MS) live++;
    else stale++;
  }
  weft_run_list_release(&runs);
  if (rc) return rc;
  weft_buf_addf(b,
                "# HELP weft_steps_running Steps whose current attempt is running.\n"
                "# TYPE weft_steps_running gauge\nweft_steps_running %lld\n",
                running);
  gauge(b, "weft_runs_in_flight",
        "Runs started or canceling, by whether their coordinator's heartbeat is under "
        "30 s old (live) or not (stale: the coordinator may be gone).");
  weft_buf_addf(b, "weft_runs_in_flight{coordinator=\"live\"} %lld\n", live);
  weft_buf_addf(b, "weft_runs_in_flight{coordinator=\"stale\"} %lld\n", stale);
  return WEFT_OK;
}

/* Queued runs: how many and how long the oldest has waited. */
static int run_queue(struct weft_instance *inst, int64_t now_ms, struct weft_buf *b,
                     weft_error *err) {
  struct weft_run_filter f = {.status_mask = 1 << WEFT_RUN_QUEUED, .limit = SCAN_LIMIT};
  struct weft_run_list runs = {0};
  int rc = weft_store_run_list(inst->store, &f, &runs, err);
  if (rc) {
    weft_run_list_release(&runs);
    return rc;
  }
  int64_t oldest = 0;
  for (size_t i = 0; i < runs.n; i++)
    if (runs.v[i].created_ms && (!oldest || runs.v[i].created_ms < oldest))
      oldest = runs.v[i].created_ms;
  gauge(b, "weft_run_queue_length", "Runs queued, waiting for the run queue to start them.");
  weft_buf_addf(b, "weft_run_queue_length %zu\n", runs.n);
  gauge(b, "weft_run_queue_oldest_seconds",
        "How long the oldest queued run has waited (0 when none is queued).");
  weft_buf_addf(b, "weft_run_queue_oldest_seconds %.3f\n",
                oldest && now_ms > oldest ? (double)(now_ms - oldest) / 1000.0 : 0.0);
  weft_run_list_release(&runs);
  return WEFT_OK;
}

/* The first fire time of schedule sc that its stored cursor has not passed,
 * when the schedule is on and has a cursor; 0 otherwise. */
static int64_t first_unticked(struct weft_store *st, const struct weft_schedule *sc) {
  char key[300], *raw = NULL;
  weft_error err = WEFT_ERROR_INIT;
  snprintf(key, sizeof key, "schedule/%s", sc->name);
  if (weft_store_kv_get(st, key, &raw, &err) || !raw) return 0;
  json_t *doc = json_loads(raw, 0, NULL);
  free(raw);
  const char *state = json_string_value(json_object_get(doc, "state"));
  int on = state ? !strcmp(state, "on") : sc->default_on;
  json_t *last = json_object_get(doc, "last_tick_ms");
  int64_t cursor = json_is_integer(last) ? (int64_t)json_integer_value(last) : 0;
  json_decref(doc);
  if (!on || !cursor) return 0;
  int64_t *times = NULL, next = 0;
  char **keys = NULL;
  if (!weft_sched_preview(sc, NULL, cursor, 1, &times, &keys, &err) && times) next = times[0];
  free(times);
  free(keys);
  return next;
}

static const char *const tick_statuses[] = {"success", "skipped", "failure"};

/* Counts name's ticks newer than since_ms into counts[kind][status]. */
static void count_ticks(struct weft_store *st, const char *name, int kind, int64_t since_ms,
                        long long counts[2][3]) {
  struct weft_sched_tick_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (!weft_sched_ticks(st, name, 0, TICKS_READ, &l, &err))
    for (size_t i = 0; i < l.n && l.v[i].tick_ms >= since_ms; i++)
      for (int k = 0; k < 3; k++)
        if (l.v[i].status && !strcmp(l.v[i].status, tick_statuses[k])) counts[kind][k]++;
  weft_sched_tick_list_release(&l);
}

/* Tick lag: now minus the oldest fire time that is due and not ticked,
 * over the schedules that are on (a schedule that never ticked has no
 * cursor yet and is not counted); and the recent ticks by status. */
static void schedules(struct weft_store *st, const struct weft_workspace *ws, int64_t now_ms,
                      struct weft_buf *b) {
  int64_t lag_ms = 0;
  long long behind = 0, n_sched = 0, counts[2][3] = {{0}};
  for (size_t i = 0; ws && i < ws->n_locations; i++) {
    const struct weft_location *loc = ws->locations[i];
    for (size_t j = 0; j < loc->n_schedules; j++) {
      const struct weft_schedule *sc = &loc->schedules[j];
      n_sched++;
      int64_t due = first_unticked(st, sc);
      if (due && due <= now_ms) {
        behind++;
        if (now_ms - due > lag_ms) lag_ms = now_ms - due;
      }
      count_ticks(st, sc->name, 0, now_ms - TICKS_WINDOW_MS, counts);
    }
    for (size_t j = 0; j < loc->n_sensors; j++)
      count_ticks(st, loc->sensors[j].name, 1, now_ms - TICKS_WINDOW_MS, counts);
  }
  gauge(b, "weft_schedules", "Cron schedules in the server's workspace.");
  weft_buf_addf(b, "weft_schedules %lld\n", n_sched);
  gauge(b, "weft_schedule_tick_lag_seconds",
        "Now minus the oldest schedule fire time that is due and not yet ticked, over the "
        "schedules that are on (0 when none is late; a running scheduler keeps it near 1 s).");
  weft_buf_addf(b, "weft_schedule_tick_lag_seconds %.3f\n", (double)lag_ms / 1000.0);
  gauge(b, "weft_schedules_behind", "Schedules that are on with a due fire time not ticked.");
  weft_buf_addf(b, "weft_schedules_behind %lld\n", behind);
  gauge(b, "weft_schedule_ticks_last_hour",
        "Ticks of schedules and evaluations of sensors recorded in the last hour, by kind "
        "and status (skipped: missed ticks the catch-up policy did not run; at most 200 per "
        "schedule or sensor are read).");
  static const char *const kinds[] = {"schedule", "sensor"};
  for (int k = 0; k < 2; k++)
    for (int s = 0; s < 3; s++)
      weft_buf_addf(b, "weft_schedule_ticks_last_hour{kind=\"%s\",status=\"%s\"} %lld\n",
                    kinds[k], tick_statuses[s], counts[k][s]);
}

/* The file system of the instance folder: SQLite's database, run folders,
 * logs and (file:) artifacts fill it. Nothing printed when it cannot be
 * read. */
static void disk(const char *home, struct weft_buf *b) {
  struct statvfs sv;
  if (!home || statvfs(home, &sv)) return;
  gauge(b, "weft_disk_free_bytes",
        "Bytes free to unprivileged users on the file system of the instance folder "
        "($WEFT_HOME) as this server sees it.");
  weft_buf_addf(b, "weft_disk_free_bytes{dir=\"home\"} %.0f\n",
                (double)sv.f_bavail * (double)sv.f_frsize);
  gauge(b, "weft_disk_size_bytes", "Size of the file system of the instance folder.");
  weft_buf_addf(b, "weft_disk_size_bytes{dir=\"home\"} %.0f\n",
                (double)sv.f_blocks * (double)sv.f_frsize);
}

int http_metrics_store_print(struct weft_instance *inst, const struct weft_workspace *ws,
                             int64_t now_ms, struct weft_buf *b, weft_error *err) {
  int rc;
  if ((rc = in_flight(inst, now_ms, b, err)) || (rc = run_queue(inst, now_ms, b, err)))
    return rc;
  schedules(inst->store, ws, now_ms, b);
  disk(inst->home, b);
  return WEFT_OK;
}

void http_metrics_process_print(struct weft_buf *b, size_t coordinators) {
  struct weft_store_commit_stats cs;
  weft_store_commit_stats_get(&cs);
  weft_buf_adds(b, "# HELP weft_store_commit_seconds Time the storage backend took to commit "
                   "a transaction, in this server process only (coordinators and workers "
                   "commit on their own).\n# TYPE weft_store_commit_seconds histogram\n");
  uint64_t cum = 0;
  for (int i = 0; i < WEFT_STORE_COMMIT_BUCKETS; i++) {
    cum += cs.buckets[i];
    weft_buf_addf(b, "weft_store_commit_seconds_bucket{le=\"%g\"} %llu\n",
                  weft_store_commit_le[i], (unsigned long long)cum);
  }
  weft_buf_addf(b,
                "weft_store_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
                "weft_store_commit_seconds_sum %.9g\nweft_store_commit_seconds_count %llu\n",
                (unsigned long long)cs.count, cs.sum_s, (unsigned long long)cs.count);
  weft_buf_addf(b, "# HELP weft_store_commit_failures_total Commits that failed, in this "
                   "server process.\n# TYPE weft_store_commit_failures_total counter\n"
                   "weft_store_commit_failures_total %llu\n",
                (unsigned long long)cs.failures);
  uint64_t calls[WEFT_ARTIFACTS__NOPS], errors[WEFT_ARTIFACTS__NOPS];
  weft_artifacts_op_stats(calls, errors);
  weft_buf_adds(b, "# HELP weft_artifact_ops_total Calls of the artifact store by operation, "
                   "in this server process.\n# TYPE weft_artifact_ops_total counter\n");
  for (int i = 0; i < WEFT_ARTIFACTS__NOPS; i++)
    weft_buf_addf(b, "weft_artifact_ops_total{op=\"%s\"} %llu\n", weft_artifacts_op_names[i],
                  (unsigned long long)calls[i]);
  weft_buf_adds(b, "# HELP weft_artifact_errors_total Artifact store calls that failed (a "
                   "missing key is not a failure), by operation, in this server process.\n"
                   "# TYPE weft_artifact_errors_total counter\n");
  for (int i = 0; i < WEFT_ARTIFACTS__NOPS; i++)
    weft_buf_addf(b, "weft_artifact_errors_total{op=\"%s\"} %llu\n",
                  weft_artifacts_op_names[i], (unsigned long long)errors[i]);
  gauge(b, "weft_coordinators_running",
        "Run coordinators this server started that have not exited yet.");
  weft_buf_addf(b, "weft_coordinators_running %zu\n", coordinators);
}
