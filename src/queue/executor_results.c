/* executor_results.c: the "queue" executor's side of what workers send back:
 * notices on the reply queue, results in storage, live logs and outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/executor_int.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

/* ---- results ----------------------------------------------------------------- */

void weft__qx_report_worker(struct qexec *q, struct pending *p, const char *worker, long pid) {
  if (!worker || (p->worker && !strcmp(p->worker, worker))) return;
  if (p->worker && q->cb.on_event) {
    json_t *ev = json_pack("{s:s, s:s, s:s+}", "type", "log", "level", "warning", "msg",
                           "redelivered: now running on worker ", worker);
    if (ev) q->cb.on_event(q->cb.cb_data, p->user, ev);
    json_decref(ev);
  }
  free(p->worker);
  p->worker = weft_str_dup(worker);
  if (q->cb.on_event) {
    /* The attempt id goes into step_started: a coordinator adopting the
     * run takes the attempt over by it (executor_attach.c). */
    json_t *ev = json_pack("{s:s, s:s, s:I, s:s}", "type", "step_worker", "worker", worker,
                           "pid", (json_int_t)pid, "attempt_id", p->attempt_id);
    if (ev) q->cb.on_event(q->cb.cb_data, p->user, ev);
    json_decref(ev);
  }
  if (!p->started) {
    p->started = 1;
    p->started_ms = weft_clock_mono_ms();
    if (q->cb.on_started) q->cb.on_started(q->cb.cb_data, p->user, 0);
  }
}

/* Places the worker's outputs and logs in the local work folder, so the
 * engine persists them as it does a local step's. */
static int fetch_outputs(struct qexec *q, struct pending *p, json_t *r, json_t *outputs,
                         weft_error *err) {
  const char *name;
  json_t *v;
  int rc = WEFT_OK;
  if (!json_object_size(json_object_get(r, "outputs")) &&
      !json_object_size(json_object_get(r, "path_outputs")))
    return WEFT_OK; /* no folder for a step without outputs */
  char *dir = weft_fs_join(p->work_dir, "outputs");
  if (!dir || weft_fs_mkdirs(dir, err)) {
    free(dir);
    return dir ? err->code : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  json_object_foreach(json_object_get(r, "outputs"), name, v) {
    char *file = weft_fs_join(dir, name);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    rc = file && text ? weft_fs_write_atomic(file, text, strlen(text), 0, err)
                      : weft_error_set(err, WEFT_ENOMEM, "out of memory");
    if (!rc) json_object_set(outputs, name, v);
    free(file);
    free(text);
    if (rc) break;
  }
  json_object_foreach(json_object_get(r, "path_outputs"), name, v) {
    if (rc) break;
    char *file = weft_fs_join(dir, name);
    const char *key = json_string_value(v);
    rc = !file ? weft_error_set(err, WEFT_ENOMEM, "out of memory")
         : !key ? weft_error_set(err, WEFT_EINVALID, "output '%s': no artifact key", name)
                : weft_artifacts_get(q->inst->artifacts, key, file, err);
    if (!rc) json_object_set_new(outputs, name, json_string(file));
    free(file);
  }
  free(dir);
  return rc;
}

static void fetch_logs(struct qexec *q, struct pending *p, json_t *r) {
  static const char *const names[2] = {"stdout", "stderr"};
  for (int k = 0; k < 2; k++) {
    const char *key = json_string_value(json_object_get(json_object_get(r, "logs"), names[k]));
    char *file = weft_str_printf("%s/%s.log", p->work_dir, names[k]);
    weft_error e = WEFT_ERROR_INIT;
    /* No key: the log is empty, and a missing log file reads as empty
     * (exec.h). */
    if (file && key && !weft_fs_mkdirs(p->work_dir, &e))
      weft_artifacts_read_log(q->inst->artifacts, key, file, &e);
    free(file);
  }
}

static int64_t int_of(json_t *r, const char *k) {
  return (int64_t)json_integer_value(json_object_get(r, k));
}

/* The worker's result for p, as text (from storage) or a document (from a
 * "done" notice): feed its events, fetch its files, queue
 * the step result. */
int weft__qx_complete(struct qexec *q, struct pending *p, const char *text, json_t *doc,
                    int fallback, weft_error *err) {
  struct weft_step_result res;
  memset(&res, 0, sizeof res);
  json_error_t je = {0};
  json_t *r = doc ? json_incref(doc) : json_loads(text, 0, &je);
  res.user = p->user;
  res.exit_code = -1;
  res.ended_ms = weft_clock_wall_ms();
  res.started_ms = res.ended_ms;
  if (!json_is_object(r)) {
    res.message = weft_str_printf("the worker's result is not valid JSON: %s", je.text);
  } else {
    weft__qx_report_worker(q, p, json_string_value(json_object_get(r, "worker")), (long)int_of(r, "pid"));
    json_t *ev;
    size_t k;
    if (q->cb.on_event)
      json_array_foreach(json_object_get(r, "events"), k, ev) {
        if (json_is_object(ev)) q->cb.on_event(q->cb.cb_data, p->user, ev);
      }
    res.ok = json_is_true(json_object_get(r, "ok"));
    res.exit_code = (int)int_of(r, "exit_code");
    res.term_signal = (int)int_of(r, "term_signal");
    res.timed_out = json_is_true(json_object_get(r, "timed_out"));
    res.canceled = json_is_true(json_object_get(r, "canceled"));
    const char *msg = json_string_value(json_object_get(r, "message"));
    if (msg) res.message = weft_str_dup(msg);
    json_t *ctr = json_object_get(r, "container"); /* the worker ran it in a container */
    const char *cv[3] = {json_string_value(json_object_get(ctr, "id")),
                         json_string_value(json_object_get(ctr, "image")),
                         json_string_value(json_object_get(ctr, "digest"))};
    res.container_id = cv[0] ? weft_str_dup(cv[0]) : NULL;
    res.image = cv[1] ? weft_str_dup(cv[1]) : NULL;
    res.image_digest = cv[2] ? weft_str_dup(cv[2]) : NULL;
    if (int_of(r, "started_ms")) res.started_ms = int_of(r, "started_ms");
    if (int_of(r, "ended_ms")) res.ended_ms = int_of(r, "ended_ms");
    /* Found by the fallback poll long after the worker ended it: its
     * "done" notice was lost, which means broker trouble (and delay). */
    if (fallback && q->cb.on_event && weft_clock_wall_ms() - res.ended_ms > LOST_NOTICE_MS) {
      json_t *w = json_pack("{s:s, s:s, s:s}", "type", "log", "level", "warning", "msg",
                            "the worker's result was found by polling storage: its notice "
                            "did not arrive");
      if (w) q->cb.on_event(q->cb.cb_data, p->user, w);
      json_decref(w);
    }
    fetch_logs(q, p, r);
    /* The worker sends a key for every log that is not empty. */
    res.no_logs = !json_object_size(json_object_get(r, "logs"));
    if (res.ok) {
      weft_error fe = WEFT_ERROR_INIT;
      res.outputs = json_object();
      if (!res.outputs || fetch_outputs(q, p, r, res.outputs, &fe)) {
        res.ok = 0;
        json_decref(res.outputs);
        res.outputs = NULL;
        res.message = weft_str_printf("cannot fetch the worker's outputs: %s",
                                      fe.msg[0] ? fe.msg : "out of memory");
      }
    }
  }
  if (!res.ok && !res.message) res.message = weft_str_dup("failed on the worker");
  json_decref(r);
  weft__qx_drop_pending(q, p);
  if (weft__qx_push_done(q, &res)) {
    weft_step_result_release(&res);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return WEFT_OK;
}

/* Looks for p's result in storage; completes it when there is one. */
int weft__qx_poll_result(struct qexec *q, struct pending *p, int fallback, weft_error *err) {
  char *key = weft__qmsg_result_key(p->attempt_id), *value = NULL;
  if (!key) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  weft_error e = WEFT_ERROR_INIT;
  int rc = weft_store_kv_get(q->inst->store, key, &value, &e);
  free(key);
  if (rc == WEFT_ENOTFOUND) return WEFT_OK;
  if (rc) return WEFT_OK; /* storage hiccup: the next poll tries again */
  rc = weft__qx_complete(q, p, value, NULL, fallback, err);
  free(value);
  return rc;
}

/* A worker dead-lettered the step (it cannot use it: typically a worker
 * attached to another instance's storage): it will not run, fail it. */
static int fail_rejected(struct qexec *q, struct pending *p, const char *worker,
                         const char *reason, weft_error *err) {
  struct weft_step_result res;
  memset(&res, 0, sizeof res);
  res.user = p->user;
  res.exit_code = -1;
  res.started_ms = res.ended_ms = weft_clock_wall_ms();
  res.message = weft_str_printf("worker %s rejected the step (dead-lettered): %s",
                                worker ? worker : "?", reason ? reason : "?");
  weft__qx_drop_pending(q, p);
  if (weft__qx_push_done(q, &res)) {
    weft_step_result_release(&res);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  return WEFT_OK;
}

/* A notice names one attempt ("attempt_id") or several ("attempt_ids": a
 * worker's batch). */
int weft__qx_on_notice(struct qexec *q, const struct weft_broker_msg *m, weft_error *err) {
  /* A forged "done" could hand the engine a result no worker produced. */
  if (m->sig_error[0]) {
    fprintf(stderr, "weft: dropped a notice on %s: %s\n", q->reply_to, m->sig_error);
    return WEFT_OK;
  }
  json_t *n = json_loads(m->body, 0, NULL);
  const char *type = json_string_value(json_object_get(n, "type"));
  json_t *ids = json_object_get(n, "attempt_ids"), *results = json_object_get(n, "results");
  size_t n_ids = json_is_array(ids) ? json_array_size(ids) : 1;
  int rc = WEFT_OK;
  for (size_t i = 0; !rc && type && i < n_ids; i++) {
    json_t *id = json_is_array(ids) ? json_array_get(ids, i) : json_object_get(n, "attempt_id");
    struct pending *p = weft__qx_find_attempt(q, json_string_value(id));
    if (p && !strcmp(type, "started"))
      weft__qx_report_worker(q, p, json_string_value(json_object_get(n, "worker")),
                    (long)int_of(n, "pid"));
    else if (p && !strcmp(type, "done") &&
             json_is_object(json_object_get(results, p->attempt_id)))
      rc = weft__qx_complete(q, p, NULL, json_object_get(results, p->attempt_id), 0, err);
    else if (p && !strcmp(type, "done"))
      rc = weft__qx_poll_result(q, p, 0, err);
    else if (p && !strcmp(type, "rejected"))
      rc = fail_rejected(q, p, json_string_value(json_object_get(n, "worker")),
                         json_string_value(json_object_get(n, "reason")), err);
  }
  json_decref(n); /* a stale or unknown notice is ignored */
  return rc;
}

/* The fallback for lost notices: a few attempts per round, oldest first. */
int weft__qx_poll_some(struct qexec *q, weft_error *err) {
  int64_t now = weft_clock_mono_ms();
  if (now < q->next_poll_ms || !q->n) return WEFT_OK;
  q->next_poll_ms = now + POLL_MS;
  size_t n = q->n < POLL_BATCH ? q->n : POLL_BATCH;
  for (size_t k = 0; k < n && q->n; k++) {
    if (q->poll_next >= q->n) q->poll_next = 0;
    struct pending *p = &q->p[q->poll_next++];
    if (!p->published) continue;
    size_t before = q->n;
    int rc = weft__qx_poll_result(q, p, 1, err);
    if (rc) return rc;
    if (q->n < before) q->poll_next--; /* the slot now holds another attempt */
  }
  return WEFT_OK;
}

/* While a step runs on a worker, the log chunks it uploads (worker.c) are
 * mirrored into the local work folder every second, where `weft run logs`
 * and the log API read a running step's logs. */
void weft__qx_mirror_live_logs(struct qexec *q) {
  static const char *const names[2] = {"stdout", "stderr"};
  int64_t now = weft_clock_mono_ms();
  if (now < q->next_live_log_ms) return;
  q->next_live_log_ms = now + 1000;
  for (size_t i = 0; i < q->n; i++) {
    struct pending *p = &q->p[i];
    if (!p->started || now - p->started_ms < 1000) continue;
    const char *end = strrchr(p->attempt_id, '/');
    for (int k = 0; k < 2; k++) {
      char *key = weft_str_printf("%.*s/%s.log", (int)(end - p->attempt_id), p->attempt_id,
                                  names[k]);
      char *prefix = key ? weft_str_printf("%s.chunks/", key) : NULL;
      char *file = weft_str_printf("%s/%s.log", p->work_dir, names[k]);
      struct weft_artifact_list l = {0};
      weft_error e = WEFT_ERROR_INIT;
      if (prefix && file && !weft_artifacts_list(q->inst->artifacts, prefix, &l, &e) &&
          l.n != p->chunks_seen[k] && !weft_fs_mkdirs(p->work_dir, &e) &&
          !weft_artifacts_read_log(q->inst->artifacts, key, file, &e))
        p->chunks_seen[k] = l.n;
      weft_artifact_list_release(&l);
      free(key);
      free(prefix);
      free(file);
    }
  }
}

