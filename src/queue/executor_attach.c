/* executor_attach.c: the "queue" executor taking over attempts a dead
 * coordinator published (run adoption): their results, and their loss.
 *
 * Where a taken-over attempt's result comes from. A worker records every
 * result in storage (kv attempt/ID, first writer wins) BEFORE it acks the
 * message and before it sends the "done" notice; the notice, on the dead
 * coordinator's exclusive reply queue, is only a wake-up and dies with it
 * (the worker's publish to a queue that is gone is dropped by the broker).
 * So the durable result path already exists: the adopter reads the attempt
 * id from the step_started event and polls kv attempt/ID, as every
 * executor does for notices that were lost (executor_results.c). We chose
 * this over the broker-side alternatives because it costs nothing per step:
 *   - a durable reply queue per run (x-expires) is one more declare per run
 *     and one more consumer per run for a coordinator of thousands of runs;
 *   - a results exchange routed by run id needs a binding per run and, on
 *     the worker's hot path, mandatory publishes with basic.return handling
 *     and a store of unroutable results to publish again;
 * both only to shave the poll interval (POLL_MS) off the few attempts that
 * were in flight at a coordinator's death.
 *
 * The bound on waiting: the worker's heartbeat (kv worker/ID, queue.h),
 * read every ATTACH_CHECK_MS while an attempt is attached. The attempt is
 * lost when its worker
 *   - has no entry, or stopped, or its heartbeat is stale, and no other
 *     live worker lists the attempt as running (when one does, the broker
 *     handed it the dead worker's message: the attempt runs there under the
 *     same id, and is followed there);
 *   - is alive but its heartbeats since the attach have not listed the
 *     attempt as running for ATTACH_MISSING_MS (it was handed back, or
 *     ended without a result);
 * or when no result came within the op's timeout, its kill grace and a
 * stale heartbeat's worth of slack. A lost attempt gets a "canceled" result
 * recorded in its place (so a worker that gets its message later skips it)
 * and a cancel on the fanout (so one that runs it stops); when a result got
 * recorded first, that one counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/executor_int.h"
#include "util/clock.h"
#include "util/map.h"
#include "util/str.h"

#define ATTACH_CHECK_MS 1000
#define ATTACH_MISSING_MS (3 * WEFT_WORKER_HEARTBEAT_MS)

int weft__qx_attach(struct weft_executor *x, const struct weft_step_attach *a,
                    weft_error *err) {
  struct qexec *q = (struct qexec *)x;
  if (q->n + q->n_done >= (size_t)q->max)
    return weft_error_set(err, WEFT_ECONFLICT, "executor is full");
  if (!a->handle || !strchr(a->handle, '/') || !a->worker || !a->work_dir)
    return weft_error_set(err, WEFT_EINVALID, "an attempt to take over needs its id and worker");
  int grown = weft__qx_reserve(q, err);
  if (grown) return grown;
  if (!q->run_id && !(q->run_id = weft_str_printf("%.*s", (int)strcspn(a->handle, "/"),
                                                  a->handle)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  struct pending p = {0};
  p.user = a->user;
  p.attempt_id = weft_str_dup(a->handle);
  p.queue = weft_str_dup(""); /* published long ago: never published again */
  p.work_dir = weft_str_dup(a->work_dir);
  p.worker = weft_str_dup(a->worker);
  if (!p.attempt_id || !p.queue || !p.work_dir || !p.worker) {
    free(p.attempt_id);
    free(p.queue);
    free(p.work_dir);
    free(p.worker);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  int64_t now = weft_clock_mono_ms(), wall = weft_clock_wall_ms();
  p.id_hash = weft_map_hash(p.attempt_id);
  p.published = p.started = p.attached = 1;
  p.published_ms = p.started_ms = now - (wall > a->started_ms ? wall - a->started_ms : 0);
  if (a->timeout_s > 0)
    p.attach_deadline_ms = a->started_ms + (int64_t)(a->timeout_s * 1000) +
                           (int64_t)((a->kill_grace_s > 0 ? a->kill_grace_s : 5) * 1000) +
                           WEFT_WORKER_STALE_MS;
  /* The first look at once: the attempt may have ended while no
   * coordinator was alive. */
  p.attach_check_ms = now;
  p.attach_wall_ms = wall;
  q->p[q->n++] = p;
  q->n_attached++;
  return WEFT_OK;
}

/* The live worker whose heartbeat lists attempt id as running, or NULL
 * (caller frees). */
static char *runner_of(struct qexec *q, const char *id) {
  struct weft_worker_list l = {0};
  weft_error e = WEFT_ERROR_INIT;
  char *who = NULL;
  if (weft_worker_list(q->inst->store, &l, &e)) return NULL;
  for (size_t i = 0; i < l.n && !who; i++) {
    const struct weft_worker_info *w = &l.v[i];
    if (w->lost || (w->state && !strcmp(w->state, "stopped"))) continue;
    for (size_t k = 0; k < w->n_running && !who; k++)
      if (w->running[k].attempt_id && !strcmp(w->running[k].attempt_id, id))
        who = weft_str_dup(w->id);
  }
  weft_worker_list_release(&l);
  return who;
}

/* Why the attempt in p is lost, in why; 0 while it may still end. */
static int attach_lost(struct qexec *q, struct pending *p, int64_t now, char *why, size_t n) {
  char *key = weft_str_printf("worker/%s", p->worker), *text = NULL;
  weft_error e = WEFT_ERROR_INIT;
  int rc = key ? weft_store_kv_get(q->inst->store, key, &text, &e) : WEFT_ENOMEM;
  free(key);
  if (rc && rc != WEFT_ENOTFOUND) return 0; /* storage hiccup: look again later */
  json_t *w = text ? json_loads(text, 0, NULL) : NULL;
  free(text);
  const char *state = json_string_value(json_object_get(w, "state"));
  int64_t hb = (int64_t)json_integer_value(json_object_get(w, "heartbeat_ms"));
  int64_t age = weft_clock_wall_ms() - hb;
  /* Only a heartbeat written since the attach tells that the worker no
   * longer runs the attempt: one from before may predate its start (a
   * worker killed right after it started the step never listed it). */
  int fresh = w && hb > p->attach_wall_ms;
  int listed = 0;
  size_t k;
  json_t *r;
  json_array_foreach(json_object_get(w, "running"), k, r) {
    const char *id = json_string_value(json_object_get(r, "attempt_id"));
    if (id && !strcmp(id, p->attempt_id)) listed = 1;
  }
  int lost = 1;
  if (!w)
    snprintf(why, n, "its worker %s is gone (no entry in the worker registry)", p->worker);
  else if (state && !strcmp(state, "stopped"))
    snprintf(why, n, "its worker %s stopped without recording a result", p->worker);
  else if (age > WEFT_WORKER_STALE_MS)
    snprintf(why, n, "its worker %s is gone (last heartbeat %lld s ago)", p->worker,
             (long long)(age / 1000));
  else if (!listed && fresh && p->attach_missing_ms &&
           now - p->attach_missing_ms >= ATTACH_MISSING_MS)
    snprintf(why, n, "its worker %s no longer runs it and recorded no result", p->worker);
  else if (p->attach_deadline_ms && weft_clock_wall_ms() > p->attach_deadline_ms)
    snprintf(why, n, "no result from worker %s within the op's timeout", p->worker);
  else
    lost = 0;
  char *other = NULL;
  if (lost && !(p->attach_deadline_ms && weft_clock_wall_ms() > p->attach_deadline_ms) &&
      (other = runner_of(q, p->attempt_id)) && strcmp(other, p->worker)) {
    /* Redelivered to another worker: wait for it there (the run's events
     * say so, as for a redelivery seen by a "started" notice). */
    weft__qx_report_worker(q, p, other, 0);
    lost = 0;
    listed = 1;
  }
  free(other);
  if (!lost)
    p->attach_missing_ms = listed || !fresh ? 0 : p->attach_missing_ms ? p->attach_missing_ms : now;
  json_decref(w);
  return lost;
}

/* Gives p up: a canceled result recorded in its place (unless a result got
 * there first: that one completes it), a cancel to whichever worker may
 * run it, and a lost result for the coordinator to retry. */
static int give_up(struct qexec *q, struct pending *p, const char *why, weft_error *err) {
  char *key = weft__qmsg_result_key(p->attempt_id);
  char *msg = weft_str_printf("lost after adoption: %s", why);
  int64_t wall = weft_clock_wall_ms();
  json_t *r = json_pack("{s:i, s:s, s:b, s:i, s:b, s:s?, s:I, s:I}", "v", 1, "attempt_id",
                        p->attempt_id, "ok", 0, "exit_code", -1, "canceled", 1, "message", msg,
                        "started_ms", (json_int_t)wall, "ended_ms", (json_int_t)wall);
  char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
  json_decref(r);
  weft_error e = WEFT_ERROR_INIT;
  int rc = WEFT_OK;
  if (!key || !msg || !text) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  } else if (weft_store_kv_compare_set(q->inst->store, key, NULL, text, &e)) {
    /* A result is there after all (or storage failed: look again later). */
    if (e.code == WEFT_ECONFLICT) rc = weft__qx_poll_result(q, p, 0, err);
  } else {
    weft__qx_publish_cancel(q, p->attempt_id, msg);
    struct weft_step_result res;
    memset(&res, 0, sizeof res);
    res.user = p->user;
    res.exit_code = -1;
    res.lost = 1;
    res.started_ms = res.ended_ms = wall;
    res.message = msg;
    msg = NULL;
    weft__qx_drop_pending(q, p);
    if (weft__qx_push_done(q, &res)) {
      weft_step_result_release(&res);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
  }
  free(key);
  free(msg);
  free(text);
  return rc;
}

int weft__qx_check_attached(struct qexec *q, weft_error *err) {
  if (!q->n_attached) return WEFT_OK;
  int64_t now = weft_clock_mono_ms();
  size_t left = 0;
  for (size_t i = 0; i < q->n; i++) {
    struct pending *p = &q->p[i];
    if (!p->attached) continue;
    left++;
    if (p->cancel || now < p->attach_check_ms) continue;
    p->attach_check_ms = now + ATTACH_CHECK_MS;
    size_t before = q->n;
    /* The result first: a worker that ended it leaves its heartbeat's
     * running list before an adopter could tell the two apart. */
    int rc = weft__qx_poll_result(q, p, 0, err);
    char why[300];
    if (!rc && q->n == before && attach_lost(q, p, now, why, sizeof why))
      rc = give_up(q, p, why, err);
    if (rc) return rc;
    if (q->n < before) i--; /* the slot now holds another attempt */
  }
  q->n_attached = left;
  return WEFT_OK;
}
