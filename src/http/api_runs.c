/* api_runs.c: runs (API.md "Runs"): the list with filters and cursors, one
 * run in detail, its event log by pages, cancel and re-execute. Every fact
 * comes from the store through engine/run_view.h, as `weft run` shows it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/code_snapshot.h"
#include "engine/retention.h"
#include "engine/run_view.h"
#include "http/api_retention.h"
#include "http/http_int.h"
#include "sched/run_queue.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/str.h"

#define EVENTS_DEFAULT 1000
#define EVENTS_MAX 10000

int http_path_run(struct http_req *r, struct weft_run_row *row, enum MHD_Result *res) {
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = http_instance(r, res);
  if (!inst) return 0;
  int rc = weft_store_run_get(inst->store, r->segs[3], row, &err);
  if (!rc) return 1;
  if (rc == WEFT_ENOTFOUND)
    *res = http_send_error(r, 404, NULL, "no run '%s' (run ids are not abbreviated here)",
                           r->segs[3]);
  else
    *res = http_send_error(r, 500, NULL, "%s", err.msg);
  return 0;
}

/* API.md's RUN: the row with the counts of its steps' last attempts. */
static json_t *run_json(const struct weft_run_row *row, const struct weft_step_list *steps) {
  json_t *o = weft_run_row_json(row);
  if (o && json_object_set_new(o, "steps", weft_step_counts_json(steps))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* ---- the list --------------------------------------------------------------------- */

/* A page whose runs all ended is kept with the id of the store's latest
 * event at the time (a lower bound: the maintenance thread's cursor, read
 * before the page was). Every change to runs and steps is committed with
 * an event, so while no event is newer than that id the page is the same;
 * one cheap query (weft_store_event_wait with no wait) tells. Pages with a
 * run that goes on are never kept: their durations grow by the second. */
static char *cached_page(struct http_req *r, struct weft_instance *inst, const char *key,
                         size_t *len) {
  size_t n;
  char *text = http_cache_get(&r->srv->pages_cache, key, &n);
  if (!text) return NULL;
  char *body = strchr(text, '\n');
  weft_error err = WEFT_ERROR_INIT;
  long long seen = strtoll(text, NULL, 10);
  if (!body || weft_store_event_wait(inst->store, seen, 0, &err) != 0) {
    free(text);
    return NULL;
  }
  body++;
  *len = n - (size_t)(body - text);
  memmove(text, body, *len + 1);
  return text;
}

enum MHD_Result http_api_runs(struct http_req *r) {
  const char *status_names[WEFT_RUN__COUNT + 1] = {0};
  for (int i = 0; i < WEFT_RUN__COUNT; i++)
    status_names[i] = weft_run_status_name((enum weft_run_status)i);
  enum MHD_Result res = MHD_NO;
  unsigned long mask;
  long long limit;
  if (http_arg_names(r, "status", status_names, &mask, &res) ||
      http_arg_int(r, "limit", 1, 500, 50, &limit, &res))
    return res;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  const char *job = http_arg(r, "job"), *cursor = http_arg(r, "cursor");
  const char *prefix = http_arg(r, "id"), *since = http_arg(r, "since");
  const char *until = http_arg(r, "until");
  struct weft_run_filter f = {.job = job && *job ? job : NULL,
                              .status_mask = (int)mask,
                              .before_id = cursor && *cursor ? cursor : NULL,
                              .limit = (int)limit + 1}; /* one more: is there a next page? */
  /* The search: the filter's, plus id prefix, tags and time range. */
  const char *tag_keys[16], *tag_values[16];
  char *tag_text[16];
  struct weft_run_search q = {.job = f.job, .status_mask = f.status_mask,
                              .id_prefix = prefix && *prefix ? prefix : NULL,
                              .tag_keys = tag_keys, .tag_values = tag_values,
                              .limit = f.limit};
  int64_t now = weft_clock_wall_ms();
  const char *bad_time = NULL;
  if (since && *since && weft_run_time_parse(since, now, &q.since_ms)) bad_time = "since";
  else if (until && *until && weft_run_time_parse(until, now, &q.until_ms)) bad_time = "until";
  if (bad_time) {
    return http_send_error(r, 400, json_pack("[{s:s, s:s}]", "field", bad_time, "message",
                                             "a date, a time or an age"),
                           "%s wants a date (2026-12-06), a UTC time (2026-12-06T08:30Z), "
                           "epoch milliseconds or an age (12h, 7d)", bad_time);
  }
  for (size_t i = 0; i < r->n_args; i++) {
    if (strcmp(r->args[i].key, "tag")) continue;
    const char *v = r->args[i].value, *eq = v ? strchr(v, '=') : NULL;
    if (!eq || eq == v || strpbrk(v, "\"\\") || q.n_tags == 16) {
      for (size_t k = 0; k < q.n_tags; k++) free(tag_text[k]);
      return http_send_error(r, 400, json_pack("[{s:s, s:s}]", "field", "tag", "message",
                                               "KEY=VALUE"),
                             "tag wants KEY=VALUE (at most 16), got '%.100s'", v ? v : "");
    }
    if (!(tag_text[q.n_tags] = strdup(v))) {
      for (size_t k = 0; k < q.n_tags; k++) free(tag_text[k]);
      return http_send_error(r, 500, NULL, "out of memory");
    }
    tag_text[q.n_tags][eq - v] = '\0';
    tag_keys[q.n_tags] = tag_text[q.n_tags];
    tag_values[q.n_tags] = tag_text[q.n_tags] + (eq - v) + 1;
    q.n_tags++;
  }
  struct http_metrics *m = &r->srv->metrics;
  /* Pages of a search are not kept: its filters are not in the key. */
  int keep = !r->srv->cache_off && atomic_load(&m->primed) && !q.id_prefix && !q.n_tags &&
             !q.since_ms && !q.until_ms;
  long long seen = atomic_load(&m->cursor);
  struct weft_buf key = WEFT_BUF_INIT, out = WEFT_BUF_INIT;
  size_t len = 0;
  char *text = NULL;
  /* The job name is last: it may hold any character but a NUL. */
  /* Deleting runs appends no event: the last deletion's time is in the key. */
  char *deleted = NULL;
  weft_error kerr = WEFT_ERROR_INIT;
  if (keep && weft_store_kv_get(inst->store, WEFT_RETENTION_STAMP_KEY, &deleted, &kerr) &&
      kerr.code != WEFT_ENOTFOUND)
    keep = 0;
  if (keep && weft_buf_addf(&key, "%lu/%lld/%s/%s/%s", mask, limit, deleted ? deleted : "",
                            f.before_id ? f.before_id : "", f.job ? f.job : ""))
    keep = 0;
  free(deleted);
  if (keep && (text = cached_page(r, inst, key.ptr, &len))) {
    weft_buf_release(&key);
    return http_send_json_text(r, 200, text, len);
  }
  struct weft_run_list runs = {0};
  struct weft_run_queue_waits waits = {0}; /* why queued runs wait */
  int have_waits = 0;
  weft_error err = WEFT_ERROR_INIT;
  /* A cursor is "CREATED_MS.ID" (weft_run_cursor_format); a bare run id,
   * as older pages gave, is looked up. */
  int rc = WEFT_OK;
  if (f.before_id && weft_run_cursor_parse(f.before_id, &q.before_created_ms, &q.before_id)) {
    struct weft_run_row at = {0};
    rc = weft_store_run_get(inst->store, f.before_id, &at, &err);
    q.before_created_ms = at.created_ms;
    q.before_id = f.before_id;
    weft_run_row_release(&at);
  }
  if (!rc) rc = weft_store_run_search(inst->store, &q, &runs, &err);
  for (size_t k = 0; k < q.n_tags; k++) free(tag_text[k]);
  if (rc) {
    weft_buf_release(&key);
    if (rc == WEFT_ENOTFOUND && f.before_id)
      return http_send_error(r, 400, NULL, "unknown cursor '%.100s': pass the next_cursor of a "
                                           "previous page", cursor);
    return http_send_error(r, 500, NULL, "%s", err.msg);
  }
  size_t n = runs.n > (size_t)limit ? (size_t)limit : runs.n;
  /* The answer is put together as text: a run that ended comes from the
   * cache as it was first made. */
  int bad = weft_buf_addf(&out, "%lld\n{\"runs\":[", seen);
  size_t body = out.len - strlen("{\"runs\":[");
  for (size_t i = 0; !rc && !bad && i < n; i++) {
    const struct weft_run_row *row = &runs.v[i];
    int final = weft_run_status_is_final(row->status);
    keep &= final;
    text = final && !r->srv->cache_off ? http_cache_get(&r->srv->runs_cache, row->id, &len) : NULL;
    if (!text) {
      struct weft_step_list steps = {0};
      if ((rc = weft_store_step_list(inst->store, row->id, &steps, &err))) break;
      json_t *o = run_json(row, &steps);
      http_add_queue_reason(inst, row, o, 0, &waits, &have_waits);
      weft_step_list_release(&steps);
      text = o ? json_dumps(o, JSON_COMPACT) : NULL;
      json_decref(o);
      if (text) len = strlen(text);
      if (text && final) http_cache_put(&r->srv->runs_cache, row->id, text, len);
    }
    bad = !text || (i && weft_buf_addc(&out, ',')) || weft_buf_add(&out, text, len);
    free(text);
  }
  if (!rc && !bad && runs.n > (size_t)limit) {
    char *next = weft_run_cursor_format(&runs.v[limit - 1]);
    bad = !next || weft_buf_addf(&out, "],\"next_cursor\":\"%s\"}", next);
    free(next);
  } else if (!rc && !bad) {
    bad = weft_buf_adds(&out, "],\"next_cursor\":null}");
  }
  weft_run_list_release(&runs);
  weft_run_queue_waits_release(&waits);
  if (rc || bad) {
    weft_buf_release(&key);
    weft_buf_release(&out);
    return http_send_error(r, 500, NULL, "%s", rc ? err.msg : "out of memory");
  }
  if (keep) http_cache_put(&r->srv->pages_cache, key.ptr, out.ptr, out.len);
  weft_buf_release(&key);
  len = out.len - body;
  memmove(out.ptr, out.ptr + body, len + 1);
  text = weft_buf_detach(&out, NULL);
  return http_send_json_text(r, 200, text, len);
}

/* ---- one run ------------------------------------------------------------------------ */

static long long file_size(const char *path) {
  struct stat sb;
  return path && !stat(path, &sb) ? (long long)sb.st_size : 0;
}

/* {"STEP": {"attempt", "stdout_bytes", "stderr_bytes"}} for the last
 * attempt of every step that started; sizes are the files' now, so they
 * grow while a step runs. */
static json_t *logs_json(const struct weft_run_view *v) {
  json_t *o = json_object();
  for (size_t k = 0; o && k < v->n_order; k++) {
    long at = weft_run_view_last_started(v, v->order[k]);
    if (at < 0) continue;
    json_t *p = v->payloads[at];
    json_t *e = json_pack(
        "{s:O, s:I, s:I}", "attempt", json_object_get(p, "attempt"), "stdout_bytes",
        (json_int_t)file_size(json_string_value(json_object_get(p, "stdout"))), "stderr_bytes",
        (json_int_t)file_size(json_string_value(json_object_get(p, "stderr"))));
    if (!e || json_object_set_new(o, v->order[k], e)) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

/* The steps of the plan run_started recorded, in job order; until the run
 * starts, those the log names. */
static json_t *plan_json(const struct weft_run_view *v) {
  for (size_t i = 0; i < v->events.n; i++)
    if (!strcmp(v->events.v[i].type, "run_started")) {
      json_t *plan = json_object_get(v->payloads[i], "plan");
      if (json_is_array(plan)) return json_incref(plan);
    }
  json_t *arr = json_array();
  for (size_t k = 0; arr && k < v->n_order; k++)
    if (json_array_append_new(arr, json_string(v->order[k]))) {
      json_decref(arr);
      return NULL;
    }
  return arr;
}

static json_t *run_detail(const struct weft_run_view *v) {
  json_t *steps = json_array(), *outs = json_array(), *mats = json_array();
  json_t *ctrs = json_array(), *doc = NULL;
  for (size_t k = 0; steps && k < v->n_order; k++)
    for (size_t i = 0; i < v->steps.n; i++)
      if (!strcmp(v->steps.v[i].step, v->order[k]) &&
          json_array_append_new(steps, weft_step_row_json(&v->steps.v[i]))) {
        json_decref(steps);
        steps = NULL;
        break;
      }
  if (!steps || !outs || !mats || !ctrs || weft_run_view_events_json(v, "step_output", outs) ||
      weft_run_view_events_json(v, "materialization", mats) ||
      weft_run_view_containers_json(v, ctrs))
    goto done;
  doc = json_pack("{s:o, s:o, s:O, s:O, s:O, s:O, s:o, s:o}", "run", run_json(&v->run, &v->steps),
                  "plan", plan_json(v), "steps", steps, "outputs", outs, "materializations",
                  mats, "containers", ctrs, "logs", logs_json(v), "run_config",
                  weft_json_parse_or_text(v->run.run_config));
  /* Adoptions (run_adopted events: from, to, reason): the run page lists them. */
  json_t *adopted = doc ? json_array() : NULL;
  if (adopted && weft_run_view_events_json(v, "run_adopted", adopted)) {
    json_decref(adopted);
    adopted = NULL;
  }
  if (adopted) json_object_set_new(doc, "adoptions", adopted);
done:
  json_decref(ctrs);
  json_decref(steps);
  json_decref(outs);
  json_decref(mats);
  return doc;
}

enum MHD_Result http_api_run(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_run_view v = {0};
  weft_error err = WEFT_ERROR_INIT;
  size_t len = 0;
  /* The row first: a run deleted since its detail was kept is gone. */
  if (!http_path_run(r, &v.run, &res)) return res;
  char *text = r->srv->cache_off ? NULL : http_cache_get(&r->srv->detail_cache, r->segs[3], &len);
  if (text) {
    weft_run_view_release(&v);
    return http_send_json_text(r, 200, text, len);
  }
  if (weft_run_view_load(r->inst.store, &v, &err)) {
    res = http_send_error(r, 500, NULL, "%s", err.msg);
  } else {
    json_t *doc = run_detail(&v);
    struct weft_run_queue_waits waits = {0};
    int have_waits = 0;
    http_add_queue_reason(&r->inst, &v.run, json_object_get(doc, "run"), 1, &waits,
                          &have_waits);
    weft_run_queue_waits_release(&waits);
    text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(doc);
    /* An ended run's detail no longer changes: its log files are whole. */
    if (text && weft_run_status_is_final(v.run.status))
      http_cache_put(&r->srv->detail_cache, v.run.id, text, strlen(text));
    res = http_send_json_text(r, 200, text, text ? strlen(text) : 0);
  }
  weft_run_view_release(&v);
  return res;
}

/* ---- the event log, by pages ----------------------------------------------------------- */

enum MHD_Result http_api_events(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  struct weft_run_row row = {0};
  unsigned long types;
  long long after, limit;
  if (http_arg_int(r, "after", 0, LLONG_MAX, 0, &after, &res) ||
      http_arg_int(r, "limit", 1, EVENTS_MAX, EVENTS_DEFAULT, &limit, &res) ||
      http_arg_names(r, "type", weft_event_types, &types, &res))
    return res;
  if (!http_path_run(r, &row, &res)) return res;
  const char *step = http_arg(r, "step");
  struct weft_event_filter f = {.run_id = row.id, .step = step && *step ? step : NULL,
                                .after_id = after};
  weft_error err = WEFT_ERROR_INIT;
  json_t *arr = json_array();
  long long n = 0;
  int rc = WEFT_OK, more = 1;
  /* Types are filtered here, so a page may read past events it leaves
   * out; the cursor is the last event looked at, and the next page starts
   * after it. */
  while (arr && !rc && more && n < limit) {
    struct weft_event_list l = {0};
    f.limit = (int)(limit - n < 1000 ? limit - n : 1000);
    if ((rc = weft_store_event_read(r->inst.store, &f, &l, &err))) break;
    more = l.n == (size_t)f.limit;
    for (size_t i = 0; arr && i < l.n && n < limit; i++) {
      const struct weft_event_row *ev = &l.v[i];
      f.after_id = ev->id;
      int want = !types;
      for (int t = 0; !want && weft_event_types[t]; t++)
        want = (types & (1UL << t)) && !strcmp(ev->type, weft_event_types[t]);
      if (!want) continue;
      json_t *o = weft_event_row_json(ev);
      if (o) json_object_del(o, "run_id");
      if (json_array_append_new(arr, o)) {
        json_decref(arr);
        arr = NULL;
      }
      n++;
    }
    weft_event_list_release(&l);
  }
  weft_run_row_release(&row);
  if (rc) {
    json_decref(arr);
    return http_send_error(r, 500, NULL, "%s", err.msg);
  }
  return http_send_json(r, 200, arr ? json_pack("{s:o, s:I}", "events", arr, "cursor",
                                                (json_int_t)f.after_id)
                                    : NULL);
}

/* ---- cancel and re-execute ---------------------------------------------------------------- */

enum MHD_Result http_api_cancel(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  weft_error err = WEFT_ERROR_INIT;
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) return res;
  struct weft_run_row row = {0};
  if (!http_path_run(r, &row, &res)) return res;
  int may = http_may_cancel(r, &row, &res);
  weft_run_row_release(&row);
  if (!may) return res;
  int rc = weft_run_request_cancel(inst, r->segs[3], "canceled through the API", &err);
  if (rc) return http_send_weft_error(r, &err);
  if (weft_store_run_get(inst->store, r->segs[3], &row, &err))
    return http_send_weft_error(r, &err);
  res = http_send_json(r, 202, json_pack("{s:s}", "status", weft_run_status_name(row.status)));
  weft_run_row_release(&row);
  return res;
}

/* Reads {"from_failure": true} or {"steps": ["a", ...]}, and
 * "latest_code": true; 0 after answering 400. *steps points into body. */
static int reexec_body(struct http_req *r, json_t *body, int *from_failure, int *latest_code,
                       const char ***steps, size_t *n_steps, enum MHD_Result *res) {
  json_t *ff = json_object_get(body, "from_failure"), *st = json_object_get(body, "steps");
  json_t *lc = json_object_get(body, "latest_code");
  const char *problem = NULL, *field = "from_failure";
  *from_failure = json_is_true(ff);
  *latest_code = json_is_true(lc);
  if (ff && !json_is_boolean(ff) && !json_is_null(ff)) problem = "from_failure must be a boolean";
  if (!problem && lc && !json_is_boolean(lc) && !json_is_null(lc)) {
    field = "latest_code";
    problem = "latest_code must be a boolean";
  }
  if (!problem && st && !json_is_null(st)) {
    field = "steps";
    if (!json_is_array(st) || !json_array_size(st))
      problem = "steps must be a non-empty array of step names";
    for (size_t i = 0; !problem && i < json_array_size(st); i++)
      if (!json_is_string(json_array_get(st, i))) problem = "steps must hold strings";
  }
  int has_steps = json_array_size(st) > 0;
  if (!problem && *from_failure == has_steps) {
    field = "from_failure";
    problem = "give exactly one of {\"from_failure\": true} and {\"steps\": [...]}";
  }
  if (problem) {
    *res = http_send_error(r, 400, json_pack("[{s:s, s:s}]", "field", field, "message", problem),
                           "%s", problem);
    return 0;
  }
  *n_steps = json_array_size(st);
  *steps = calloc(*n_steps + 1, sizeof **steps);
  if (!*steps) {
    *res = http_send_error(r, 500, NULL, "out of memory");
    return 0;
  }
  for (size_t i = 0; i < *n_steps; i++) (*steps)[i] = json_string_value(json_array_get(st, i));
  return 1;
}

/* The status http_send_weft_error would answer err with. */
static unsigned weft_error_status(const weft_error *err) {
  return err->code == WEFT_ENOTFOUND ? 404
       : err->code == WEFT_ECONFLICT ? 409
       : err->code == WEFT_EINVALID || err->code == WEFT_EUSAGE ? 400 : 500;
}

unsigned http_reexecute_one(struct http_req *r, const char *id, int from_failure,
                            int latest_code, const char *const *steps, size_t n_steps,
                            char **run_id, char **msg, json_t **details) {
  struct weft_run_row parent = {0};
  struct weft_run_config rc = {0};
  struct weft_diags diags = WEFT_DIAGS_INIT;
  weft_error err = WEFT_ERROR_INIT;
  json_t *tags = NULL;
  unsigned char *in_run = NULL;
  struct weft_buf list = WEFT_BUF_INIT;
  struct weft_location *snap = NULL;
  unsigned status = 500;
  int built = 0;
  *run_id = *msg = NULL;
  *details = NULL;
  int grc = weft_store_run_get(r->inst.store, id, &parent, &err);
  if (grc) {
    status = grc == WEFT_ENOTFOUND ? 404 : 500;
    *msg = grc == WEFT_ENOTFOUND
               ? weft_str_printf("no run '%s' (run ids are not abbreviated here)", id)
               : weft_str_printf("%s", err.msg);
    goto done;
  }
  if (!weft_run_status_is_final(parent.status)) {
    status = 409;
    *msg = weft_str_printf("run %s is still %s; re-execute it once it ended", parent.id,
                           weft_run_status_name(parent.status));
    goto done;
  }
  const char *loc_name = parent.location ? parent.location : "";
  const struct weft_job *job = NULL;
  if (parent.code_version && !latest_code) {
    /* The parent's code (its snapshot), with the location's settings now. */
    const struct weft_workspace *ws = http_workspace(r);
    const struct weft_location *settings = NULL;
    for (size_t i = 0; i < ws->n_locations; i++)
      if (!strcmp(ws->locations[i]->name, loc_name)) settings = ws->locations[i];
    /* A location gone from the workspace: the folder the parent recorded. */
    if (settings ? weft_code_load_job(r->inst.home, parent.code_version, loc_name, parent.job,
                                      settings, &snap, &job, &err)
                 : weft_code_load_run_job(&r->inst, &parent, 0, &snap, &job, &err)) {
      int gone = err.code == WEFT_ENOTFOUND;
      status = gone || err.code == WEFT_EINVALID ? 409 : 500;
      *msg = weft_str_printf("%s%s", err.msg,
                             gone ? " (re-execute with \"latest_code\": true)" : "");
      goto done;
    }
  } else {
    job = http_ws_find_job(http_workspace(r), loc_name, parent.job);
  }
  if (!job || !job->valid) {
    status = job ? 409 : 404;
    *msg = weft_str_printf("job '%s' of location '%s' %s", parent.job,
                           parent.location ? parent.location : "",
                           job ? "has errors now" : "is no longer in the workspace");
    goto done;
  }
  if (weft_run_config_from_row(job, &parent, &rc, &diags)) {
    weft_diags_sort(&diags);
    status = 400;
    *details = http_diags_json(&diags);
    *msg = weft_str_printf("the run config of run %s no longer fits job %s", parent.id,
                           job->name);
    goto done;
  }
  built = 1;
  if (!(in_run = calloc(job->n_ops + 1, 1))) goto nomem;
  if (weft_reexec_select(&r->inst, parent.id, job, from_failure, (const char **)steps, n_steps,
                         in_run, &err) ||
      (!latest_code && weft_reexec_pin_images(&r->inst, parent.id, job, &rc, in_run, &err))) {
    status = weft_error_status(&err);
    *msg = weft_str_printf("%s", err.msg);
    goto done;
  }
  for (size_t i = 0; i < job->n_ops; i++)
    if (in_run[i]) weft_buf_addf(&list, "%s%s", list.len ? "," : "", job->ops[i].name);
  tags = parent.tags ? json_loads(parent.tags, 0, NULL) : json_object();
  if (!json_is_object(tags)) {
    json_decref(tags);
    tags = json_object();
  }
  if (!tags || json_object_set_new(tags, "weft/parent_run_id", json_string(parent.id)) ||
      weft_reexec_tag_items(tags, (const char *const *)steps, n_steps, &err) ||
      http_tag_launcher(r, tags))
    goto nomem;
  struct weft_launch l = {.job = job, .rc = &rc, .tags = tags, .parent_run_id = parent.id,
                          .in_run = in_run, .code_version = snap ? parent.code_version : NULL};
  if (http_create_run(&r->inst, &l, list.ptr, run_id, &err)) {
    *msg = weft_str_printf("cannot record the run: %s", err.msg);
    goto done;
  }
  status = 201;
  goto done;
nomem:
  *msg = weft_str_printf("out of memory");
done:
  weft_buf_release(&list);
  free(in_run);
  if (built) weft_run_config_release(&rc);
  weft_diags_release(&diags);
  weft_run_row_release(&parent);
  weft_location_free(snap);
  json_decref(tags);
  return status;
}

enum MHD_Result http_api_reexecute(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  json_t *body = NULL, *details = NULL;
  const char **steps = NULL;
  char *run_id = NULL, *msg = NULL;
  size_t n_steps = 0;
  int from_failure = 0, latest_code = 0;
  if (!(body = http_body_object(r, &res))) return res;
  if (!reexec_body(r, body, &from_failure, &latest_code, &steps, &n_steps, &res) ||
      !http_instance(r, &res))
    goto done;
  unsigned status = http_reexecute_one(r, r->segs[3], from_failure, latest_code, steps, n_steps,
                                       &run_id, &msg, &details);
  if (status != 201)
    res = http_send_error(r, status, details, "%s", msg ? msg : "out of memory");
  else if (http_start_coordinator(r, run_id, &res))
    res = http_send_json(r, 201, json_pack("{s:s}", "run_id", run_id));
done:
  free(run_id);
  free(msg);
  free(steps);
  json_decref(body);
  return res;
}
