/* api_storage.c: GET /api/v1/instance/storage: what the instance stores per
 * job (runs, events, artifact store objects and work folders, in bytes) and
 * what weft.yaml's retention: policy would remove next (a dry pass of
 * engine/retention.c, bounded in time), for the UI's storage page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/retention.h"
#include "http/http_int.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#define PAGE 500
#define NEXT_MAX 100         /* items of the dry pass listed */
#define DRY_PASS_MS 2000     /* the dry pass stops there (complete: false) */

struct job_use {
  char *job, *location;
  int64_t runs, events, artifacts, artifact_bytes, work_bytes, oldest_ms, newest_ms;
};

struct usage {
  struct job_use *v;
  size_t n;
};

static struct job_use *job_of(struct usage *u, const struct weft_run_row *run) {
  const char *loc = run->location ? run->location : "";
  for (size_t i = 0; i < u->n; i++)
    if (!strcmp(u->v[i].job, run->job) && !strcmp(u->v[i].location, loc))
      return &u->v[i];
  struct job_use *g = realloc(u->v, (u->n + 1) * sizeof *g);
  if (!g) return NULL;
  u->v = g;
  struct job_use *j = &g[u->n];
  memset(j, 0, sizeof *j);
  j->job = strdup(run->job);
  j->location = strdup(loc);
  if (!j->job || !j->location) {
    free(j->job);
    free(j->location);
    return NULL;
  }
  u->n++;
  return j;
}

/* Adds one run's events, artifact store objects (HEAD for each size) and
 * work folder to its job. */
static int count_run(struct weft_instance *inst, const struct weft_run_row *run,
                     struct job_use *j, weft_error *err) {
  int64_t events = 0;
  struct weft_artifact_list l = {0};
  int rc = weft_store_event_count(inst->store, run->id, WEFT_EVENTS_ALL, &events, err);
  char *prefix = rc ? NULL : weft_str_printf("%s/", run->id);
  if (!rc && !prefix) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc) rc = weft_artifacts_list(inst->artifacts, prefix, &l, err);
  for (size_t i = 0; !rc && i < l.n; i++) {
    int exists = 0;
    int64_t size = 0;
    if ((rc = weft_artifacts_head(inst->artifacts, l.v[i], &exists, &size, err))) break;
    if (!exists) continue;
    j->artifacts++;
    j->artifact_bytes += size;
  }
  weft_artifact_list_release(&l);
  free(prefix);
  if (rc) return rc;
  char *dir = weft_fs_join(inst->runs_dir, run->id);
  if (!dir) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  j->work_bytes += (int64_t)weft_fs_tree_bytes(dir);
  free(dir);
  j->runs++;
  j->events += events;
  if (!j->oldest_ms || run->created_ms < j->oldest_ms) j->oldest_ms = run->created_ms;
  if (run->created_ms > j->newest_ms) j->newest_ms = run->created_ms;
  return WEFT_OK;
}

/* Walks the runs newest first, at most max of them; *complete when all were. */
static int scan(struct weft_instance *inst, long long max, struct usage *u, long long *scanned,
                int *complete, weft_error *err) {
  char before[128] = ""; /* the cursor: the last run id of the page */
  int rc = WEFT_OK;
  *complete = 0;
  while (!rc && !*complete && *scanned < max) {
    struct weft_run_list l = {0};
    long long want = max - *scanned < PAGE ? max - *scanned : PAGE;
    struct weft_run_filter f = {.before_id = *before ? before : NULL, .limit = (int)want};
    if ((rc = weft_store_run_list(inst->store, &f, &l, err))) break;
    for (size_t i = 0; !rc && i < l.n; i++) {
      struct job_use *j = job_of(u, &l.v[i]);
      rc = j ? count_run(inst, &l.v[i], j, err) : weft_error_set(err, WEFT_ENOMEM, "out of memory");
      (*scanned)++;
    }
    if ((long long)l.n < want) *complete = 1;
    else if ((size_t)snprintf(before, sizeof before, "%s", l.v[l.n - 1].id) >= sizeof before)
      rc = weft_error_set(err, WEFT_EINVALID, "run id '%s' is too long", l.v[l.n - 1].id);
    weft_run_list_release(&l);
  }
  return rc;
}

static int by_bytes(const void *a, const void *b) {
  const struct job_use *x = a, *y = b;
  int64_t bx = x->artifact_bytes + x->work_bytes, by = y->artifact_bytes + y->work_bytes;
  if (bx != by) return bx < by ? 1 : -1;
  return x->events < y->events ? 1 : x->events > y->events ? -1 : strcmp(x->job, y->job);
}

static void on_item(void *data, const char *what, const char *run_id, const char *job,
                    enum weft_run_status status) {
  json_t *arr = data;
  if (json_array_size(arr) >= NEXT_MAX) return;
  json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "what", what, "run_id", run_id,
                                       "job", job, "status", weft_run_status_name(status)));
}

/* The dry pass: what the policy would remove at now_ms ({"policy": false}
 * when weft.yaml has no retention: section). */
static json_t *next_purge(struct weft_instance *inst, int64_t now_ms, weft_error *err, int *rc) {
  struct weft_retention pol = {0};
  struct weft_retention_report rep;
  json_t *out = NULL, *items = json_array();
  if (!items) {
    *rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    return NULL;
  }
  if ((*rc = weft_retention_load(inst->home, &pol, err))) goto done;
  if (!pol.set) {
    out = json_pack("{s:b}", "policy", 0);
    goto done;
  }
  struct weft_retention_opts o = {.dry_run = 1, .now_ms = now_ms, .on_item = on_item, .data = items,
                                  .deadline_ms = weft_clock_mono_ms() + DRY_PASS_MS};
  if ((*rc = weft_retention_apply(inst, &pol, &o, &rep, err))) goto done;
  json_t *runs = json_object();
  for (int s = 0; runs && s < WEFT_RUN__COUNT; s++)
    if (rep.runs[s]) json_object_set_new(runs, weft_run_status_name(s), json_integer(rep.runs[s]));
  out = json_pack("{s:b, s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:O}",
                  "policy", 1, "complete", rep.complete, "runs", runs, "events",
                  (json_int_t)rep.events, "debug_events", (json_int_t)rep.debug_events, "steps",
                  (json_int_t)rep.steps, "log_files", (json_int_t)rep.log_files, "artifacts",
                  (json_int_t)rep.artifacts, "bytes", (json_int_t)rep.bytes, "kept", "pinned",
                  (json_int_t)rep.kept_pinned, "keep_last", (json_int_t)rep.kept_last,
                  "reexecuted", (json_int_t)rep.kept_reexec, "items", items);
  if (!out) *rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
done:
  json_decref(items);
  weft_retention_release(&pol);
  return out;
}

enum MHD_Result http_api_instance_storage(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  long long max = 0, scanned = 0;
  if (http_arg_int(r, "limit", 1, 100000, 5000, &max, &res)) return res;
  /* ahead=AGE (90m, 12h, 7d): the look-ahead as if that much later */
  const char *ahead = http_arg(r, "ahead");
  int64_t now = weft_clock_wall_ms(), at = now;
  if (ahead) {
    size_t len = strlen(ahead);
    if (len < 2 || !strchr("smhd", ahead[len - 1]) || strspn(ahead, "0123456789") != len - 1 ||
        weft_run_time_parse(ahead, now, &at))
      return http_send_error(r, 400, json_pack("[{s:s, s:s}]", "field", "ahead", "message",
                                               "ahead must be an age like 12h or 7d"),
                             "ahead must be an age like 12h or 7d, got '%s'", ahead);
    at = 2 * now - at;
  }
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  struct usage u = {0};
  weft_error err = WEFT_ERROR_INIT;
  int complete = 0, rc = scan(inst, max, &u, &scanned, &complete, &err);
  json_t *next = rc ? NULL : next_purge(inst, at, &err, &rc);
  json_t *jobs = json_array();
  int64_t t[5] = {0}; /* runs, events, artifacts, artifact bytes, work bytes */
  if (!rc && u.n) qsort(u.v, u.n, sizeof *u.v, by_bytes);
  for (size_t i = 0; !rc && jobs && i < u.n; i++) {
    struct job_use *j = &u.v[i];
    json_array_append_new(
        jobs, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "job", j->job,
                        "location", j->location, "runs", (json_int_t)j->runs, "events",
                        (json_int_t)j->events, "artifacts", (json_int_t)j->artifacts,
                        "artifact_bytes", (json_int_t)j->artifact_bytes, "work_bytes",
                        (json_int_t)j->work_bytes, "bytes",
                        (json_int_t)(j->artifact_bytes + j->work_bytes), "oldest_ms",
                        (json_int_t)j->oldest_ms, "newest_ms", (json_int_t)j->newest_ms));
    t[0] += j->runs, t[1] += j->events, t[2] += j->artifacts;
    t[3] += j->artifact_bytes, t[4] += j->work_bytes;
  }
  for (size_t i = 0; i < u.n; i++) {
    free(u.v[i].job);
    free(u.v[i].location);
  }
  free(u.v);
  if (rc) {
    json_decref(jobs);
    json_decref(next);
    return http_send_weft_error(r, &err);
  }
  return http_send_json(
      r, 200,
      jobs && next
          ? json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:b, s:I, s:o}", "jobs", jobs,
                      "total", "runs", (json_int_t)t[0], "events", (json_int_t)t[1], "artifacts",
                      (json_int_t)t[2], "artifact_bytes", (json_int_t)t[3], "work_bytes",
                      (json_int_t)t[4], "bytes", (json_int_t)(t[3] + t[4]), "scanned",
                      (json_int_t)scanned, "complete", complete, "as_of_ms", (json_int_t)at,
                      "retention", next)
          : (json_decref(jobs), json_decref(next), NULL));
}
