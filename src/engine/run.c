/* run.c: the run coordinator's loop (ninja's Builder): start ready steps, wait
 * for results, commit each iteration's events in one transaction, cancel. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/code_snapshot.h"
#include "engine/coord_drive.h"
#include "engine/engine_int.h"
#include "engine/hooks.h"
#include "engine/run_deadline.h"
#include "engine/secrets.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/str.h"

#define STATUS_CHECK_MS 100

/* ---- the write batch ------------------------------------------------------ */

void coord_oom(struct coord *c) {
  if (!c->failed_store) weft_error_set(c->err, WEFT_ENOMEM, "out of memory driving the run");
  c->failed_store = 1;
}

void coord_event(struct coord *c, const char *step, const char *type, json_t *payload) {
  struct coord_batch *b = &c->batch;
  /* A step may print a secret it got into an event: never stored as is. */
  if (payload && weft_secrets_mask_json(c->mask, payload)) {
    json_decref(payload);
    coord_oom(c);
    return;
  }
  char *text = json_dumps(payload ? payload : json_object(), JSON_COMPACT);
  json_decref(payload);
  if (!text || weft_array_grow((void **)&b->ev, &b->cap_ev, b->n_ev + 1, sizeof *b->ev)) {
    free(text);
    coord_oom(c);
    return;
  }
  struct weft_event_row *e = &b->ev[b->n_ev++];
  memset(e, 0, sizeof *e);
  e->run_id = weft_str_dup(c->run.id);
  e->step = step ? weft_str_dup(step) : NULL;
  e->type = weft_str_dup(type);
  e->ts_ms = weft_clock_wall_ms();
  e->payload = text;
}

void coord_step_row(struct coord *c, size_t i, enum weft_step_status st, long pid,
                    const char *message) {
  struct coord_batch *b = &c->batch;
  if (weft_array_grow((void **)&b->st, &b->cap_st, b->n_st + 1, sizeof *b->st)) {
    coord_oom(c);
    return;
  }
  const struct weft_plan_step *ps = &c->plan.steps[i];
  struct weft_step_row *r = &b->st[b->n_st++];
  memset(r, 0, sizeof *r);
  r->run_id = weft_str_dup(c->run.id);
  r->step = weft_str_dup(ps->name);
  r->attempt = ps->attempt > 0 ? ps->attempt : 1;
  r->status = st;
  r->started_ms = c->started[i];
  r->ended_ms = weft_step_status_is_final(st) || st == WEFT_STEP_UP_FOR_RETRY
                    ? weft_clock_wall_ms() : 0;
  r->pid = (int)pid;
  r->message = message ? weft_mask_text(c->mask, message) : NULL;
  const char *who = c->workers && c->workers[i] ? c->workers[i] : c->run.coordinator;
  r->worker = who ? weft_str_dup(who) : NULL;
}

void coord_batch_clear(struct coord_batch *b) {
  for (size_t i = 0; i < b->n_ev; i++) weft_event_row_release(&b->ev[i]);
  for (size_t i = 0; i < b->n_st; i++) weft_step_row_release(&b->st[i]);
  b->n_ev = b->n_st = 0;
}

/* Whether c has anything to commit (force_run: the run row, always). */
int coord_flush_pending(const struct coord *c, int force_run) {
  const struct coord_batch *b = &c->batch;
  int64_t now = weft_clock_mono_ms();
  int heartbeat = now >= c->next_heartbeat_ms;
  return !c->failed_store && (b->n_ev || b->n_st || c->run_dirty || heartbeat || force_run ||
                              coord_lease_due(c, now));
}

/* Writes the batch and the run row inside the caller's transaction (one
 * run's alone, or many runs' in coord_loop.c). The run row is re-read
 * first: a `weft run cancel` from another process may have turned it
 * CANCELING, and that must not be overwritten. */
int coord_flush_write(struct coord *c, int force_run, weft_error *e) {
  struct coord_batch *b = &c->batch;
  int64_t now = weft_clock_mono_ms();
  int heartbeat = now >= c->next_heartbeat_ms;
  struct weft_run_row cur = {0};
  int rc = 0;
  /* The run's lease (run_adopt.c) is renewed in the same transaction. */
  if (coord_lease_due(c, now)) rc = coord_lease_renew(c, e);
  if (!rc && b->n_st && !c->rows_by_loop)
    rc = weft_store_step_put_many(c->inst->store, b->st, b->n_st, e);
  if (!rc && b->n_ev && !c->rows_by_loop)
    rc = weft_store_event_append(c->inst->store, b->ev, b->n_ev, e);
  if (!rc && (c->run_dirty || heartbeat || force_run)) {
    if (!c->status_read_in_tx) rc = weft_store_run_get(c->inst->store, c->run.id, &cur, e);
    if (!rc && cur.status == WEFT_RUN_CANCELING && c->run.status == WEFT_RUN_STARTED) {
      c->run.status = WEFT_RUN_CANCELING;
      if (!c->canceling) {
        c->canceling = 1;
        c->cancel_reason = weft_str_dup(cur.message ? cur.message : "canceled");
      }
    }
    c->run.heartbeat_ms = weft_clock_wall_ms();
    if (c->run.message && weft_mask_hits(c->mask, c->run.message, strlen(c->run.message))) {
      char *masked = weft_mask_text(c->mask, c->run.message);
      if (masked) {
        free(c->run.message);
        c->run.message = masked;
      }
    }
    if (!rc && c->rows_by_loop)
      c->run_row_to_loop = 1;
    else if (!rc)
      rc = weft_store_run_update(c->inst->store, &c->run, e);
  }
  weft_run_row_release(&cur);
  return rc;
}

/* After the transaction of coord_flush_write: rc is its outcome. */
void coord_flush_done(struct coord *c, int rc, const weft_error *e) {
  struct coord_batch *b = &c->batch;
  if (rc) {
    if (!c->failed_store) weft_error_set(c->err, rc, "run storage failed: %s", e->msg);
    c->failed_store = 1;
    coord_batch_clear(b);
    return;
  }
  int64_t now = weft_clock_mono_ms();
  c->run_dirty = 0;
  if (now >= c->next_heartbeat_ms) {
    /* A loop's runs prove their coordinator alive by its lease, renewed
     * for all at once: their rows' heartbeat (read only for a coordinator
     * on another host, stale after WEFT_HEARTBEAT_STALE_MS) goes out a
     * third of that apart, spread over 2 s so 10,000 runs do not write it
     * in one tick. */
    int64_t every = c->shared_commit
                        ? WEFT_HEARTBEAT_STALE_MS / 3 - (int64_t)((uintptr_t)c / 64 % 2000)
                        : WEFT_HEARTBEAT_MS;
    c->next_heartbeat_ms = now + every;
  }
  if (c->l->on_event)
    for (size_t i = 0; i < b->n_ev; i++) c->l->on_event(c->l->cb_data, &b->ev[i]);
  coord_batch_clear(b);
}

/* Commits the batch and the run row in a transaction of its own; under a
 * loop driving many runs (c->shared_commit) only when forced: the loop
 * commits every run's batch together. */
void coord_flush(struct coord *c, int force_run) {
  if (c->shared_commit && !force_run) return;
  if (!coord_flush_pending(c, force_run)) return;
  weft_error e = {0};
  int rc = weft_store_begin(c->inst->store, &e);
  if (!rc) rc = coord_flush_write(c, force_run, &e);
  if (rc) weft_store_rollback(c->inst->store);
  else rc = weft_store_commit(c->inst->store, &e);
  coord_flush_done(c, rc, &e);
}

/* ---- driving a run --------------------------------------------------------------- */

static void on_exec_started(void *data, void *user, long pid) {
  struct coord *c = data;
  size_t i = (size_t)(uintptr_t)user - 1;
  const struct weft_plan_step *ps = &c->plan.steps[i];
  const char *dir = c->dirs[i];
  char *out = dir ? weft_str_printf("%s/stdout.log", dir) : NULL;
  char *errp = dir ? weft_str_printf("%s/stderr.log", dir) : NULL;
  coord_step_row(c, i, WEFT_STEP_RUNNING, pid, NULL);
  json_t *p = json_pack("{s:i, s:I, s:s?, s:s?, s:s?}", "attempt", ps->attempt, "pid",
                        (json_int_t)pid, "dir", dir, "stdout", out, "stderr", errp);
  if (p && c->workers[i]) {
    json_object_set_new(p, "worker", json_string(c->workers[i]));
    json_object_set_new(p, "worker_pid", json_integer(c->worker_pids[i]));
    if (c->worker_attempt_id && c->worker_attempt_step == i)
      json_object_set_new(p, "attempt_id", json_string(c->worker_attempt_id));
  }
  coord_event(c, ps->name, "step_started", p);
  free(out);
  free(errp);
}

static void on_exec_event(void *data, void *user, json_t *event) {
  struct coord *c = data;
  size_t i = (size_t)(uintptr_t)user - 1;
  const struct weft_plan_step *ps = &c->plan.steps[i];
  const char *type = json_string_value(json_object_get(event, "type"));
  if (!type || !strcmp(type, "output")) return; /* outputs are recorded on success */
  if (!strcmp(type, "step_worker")) { /* engine.h: who runs the attempt */
    const char *w = json_string_value(json_object_get(event, "worker"));
    free(c->workers[i]);
    c->workers[i] = w ? weft_str_dup(w) : NULL;
    c->worker_pids[i] = (long)json_integer_value(json_object_get(event, "pid"));
    const char *aid = json_string_value(json_object_get(event, "attempt_id"));
    free(c->worker_attempt_id);
    c->worker_attempt_id = aid ? weft_str_dup(aid) : NULL;
    c->worker_attempt_step = i;
    return;
  }
  json_t *p = json_deep_copy(event);
  if (!p) return coord_oom(c);
  json_object_del(p, "type");
  json_object_set_new(p, "attempt", json_integer(ps->attempt));
  /* The catalog keys an asset's partitions by the run's (engine/catalog.h). */
  if (!c->run_tags && c->run.tags) c->run_tags = json_loads(c->run.tags, 0, NULL);
  const char *part = json_string_value(json_object_get(c->run_tags, "weft/partition"));
  if (part && (!strcmp(type, "materialization") || !strcmp(type, "check")) &&
      !json_object_get(p, "partition"))
    json_object_set_new(p, "partition", json_string(part));
  coord_event(c, ps->name, type, p);
}

void coord_begin_cancel(struct coord *c, const char *reason) {
  if (c->canceling) return;
  c->canceling = 1;
  free(c->cancel_reason);
  c->cancel_reason = weft_str_dup(reason);
  if (c->run.status == WEFT_RUN_STARTED) {
    c->run.status = WEFT_RUN_CANCELING;
    free(c->run.message);
    c->run.message = weft_str_dup(reason);
    c->run_dirty = 1;
    coord_event(c, NULL, "run_canceling", json_pack("{s:s}", "reason", reason));
  }
}

/* Cancellation reaches the loop two ways: the launcher's interrupt flag, and
 * the run row turned CANCELING by `weft run cancel` in another process. */
void coord_check_cancel(struct coord *c) {
  if (c->l->interrupt && *c->l->interrupt) coord_begin_cancel(c, "interrupted");
  int64_t now = weft_clock_mono_ms();
  /* A loop driving many runs reads every CANCELING run at once instead
   * (coord_loop.c). */
  if (!c->canceling && !c->shared_commit && now >= c->next_status_check_ms) {
    c->next_status_check_ms = now + STATUS_CHECK_MS;
    struct weft_run_row cur = {0};
    weft_error e = {0};
    if (!weft_store_run_get(c->inst->store, c->run.id, &cur, &e) &&
        cur.status == WEFT_RUN_CANCELING) {
      c->run.status = WEFT_RUN_CANCELING;
      free(c->run.message);
      c->run.message = weft_str_dup(cur.message);
      c->canceling = 1;
      c->cancel_reason = weft_str_dup(cur.message ? cur.message : "canceled");
    }
    weft_run_row_release(&cur);
  }
  if (!c->canceling) return;
  weft_executor_cancel_all(c->x, c->cancel_reason);
  size_t n = weft_plan_cancel_pending(&c->plan, c->scratch);
  for (size_t k = 0; k < n; k++) {
    size_t i = c->scratch[k];
    coord_step_row(c, i, WEFT_STEP_CANCELED, 0, c->cancel_reason);
    coord_event(c, c->plan.steps[i].name, "step_canceled",
                json_pack("{s:s}", "message", c->cancel_reason));
  }
  c->n_retrying = 0;
}

void coord_requeue_due_retries(struct coord *c, int64_t now, int64_t *next_due) {
  size_t k = 0;
  for (size_t r = 0; r < c->n_retrying; r++) {
    size_t i = c->retrying[r];
    if (c->plan.steps[i].status != WEFT_STEP_UP_FOR_RETRY) continue;
    if (c->plan.steps[i].retry_at_ms <= now) {
      weft_plan_requeue(&c->plan, i);
    } else {
      if (*next_due < 0 || c->plan.steps[i].retry_at_ms < *next_due)
        *next_due = c->plan.steps[i].retry_at_ms;
      c->retrying[k++] = i;
    }
  }
  c->n_retrying = k;
}

void coord_start_ready(struct coord *c) {
  /* A loop's run starts no step before the commit that claims its lease:
   * a step started on a claim that then fails would run twice. */
  if (c->lease_claim_pending) return;
  while (!c->canceling && !c->failed_store && weft_executor_can_start_more(c->x)) {
    size_t i = weft_plan_take_ready(&c->plan);
    if (i == (size_t)-1) break;
    /* An item was gated with its mapped step, which expands instead of
     * running (run_map.c). */
    if (c->plan.steps[i].map_parent != (size_t)-1) coord_map_item_start(c, i);
    else if (!coord_gate_step(c, i)) continue;
    else if (c->plan.steps[i].inv->mapped) coord_map_expand(c, i);
    else coord_start_step(c, i);
  }
}

/* An op's on_failure, once per step that failed for good (no retry left). */
void coord_alert_failed_steps(struct coord *c, struct run_hooks *h) {
  unsigned char *done = c->alerted;
  if (!c->job_has_step_hooks) {
    c->job_has_step_hooks = 1;
    for (size_t k = 0; k < c->job->n_ops; k++)
      if (c->job->ops[k].def && c->job->ops[k].def->hooks) c->job_has_step_hooks = 2;
  }
  if (c->job_has_step_hooks == 1) return; /* no op of the job has hooks */
  for (size_t i = 0; h && done && i < c->plan.n; i++) {
    const struct weft_plan_step *ps = &c->plan.steps[i];
    if (done[i] || ps->status != WEFT_STEP_FAILED || !ps->inv->def || !ps->inv->def->hooks)
      continue;
    done[i] = 1;
    char why[300];
    snprintf(why, sizeof why, "step %s failed after %d attempt%s", ps->name, ps->attempt,
             ps->attempt == 1 ? "" : "s");
    run_hooks_fire(h, c, "on_failure", ps->name, ps->inv->def->hooks, why);
  }
}

void coord_finish_run(struct coord *c, const struct run_deadline *dl) {
  int64_t now = weft_clock_wall_ms();
  json_int_t dur = (json_int_t)(now - c->run.started_ms);
  c->run.ended_ms = now;
  c->run_dirty = 1;
  free(c->run.message);
  c->run.message = NULL;
  if (c->canceling && !dl->timed_out) {
    c->run.status = WEFT_RUN_CANCELED;
    c->run.message = weft_str_dup(c->cancel_reason);
    coord_event(c, NULL, "run_canceled",
                json_pack("{s:I, s:s}", "duration_ms", dur, "message", c->cancel_reason));
    return;
  }
  json_t *failed = json_array();
  for (size_t i = 0; i < c->plan.n; i++)
    if (c->plan.steps[i].status == WEFT_STEP_FAILED)
      json_array_append_new(failed, json_string(c->plan.steps[i].name));
  size_t nf = json_array_size(failed);
  if (dl->timed_out) { /* run_deadline.c: its steps were canceled for it */
    c->run.status = WEFT_RUN_FAILURE;
    c->run.message = weft_str_dup(dl->reason);
    coord_event(c, NULL, "run_failure",
                json_pack("{s:I, s:s, s:o, s:s}", "duration_ms", dur, "message", dl->reason,
                          "failed", failed, "timeout", dl->timeout.text));
    return;
  }
  if (!nf) {
    json_decref(failed);
    c->run.status = WEFT_RUN_SUCCESS;
    coord_event(c, NULL, "run_success", json_pack("{s:I}", "duration_ms", dur));
    return;
  }
  char msg[512];
  snprintf(msg, sizeof msg, "%zu step%s failed: %s%s", nf, nf == 1 ? "" : "s",
           json_string_value(json_array_get(failed, 0)), nf > 1 ? ", ..." : "");
  c->run.status = WEFT_RUN_FAILURE;
  c->run.message = weft_str_dup(msg);
  coord_event(c, NULL, "run_failure",
              json_pack("{s:I, s:s, s:o}", "duration_ms", dur, "message", msg, "failed", failed));
}

int coord_init(struct coord *c, struct weft_instance *inst, const char *run_id,
                      const struct weft_launch *l, weft_error *err) {
  memset(c, 0, sizeof *c);
  c->inst = inst;
  c->l = l;
  c->job = l->job;
  c->err = err;
  int rc = l->row ? weft_run_row_copy(l->row, &c->run)
                  : weft_store_run_get(inst->store, run_id, &c->run, err);
  if (rc == WEFT_ENOMEM && l->row) return weft_error_set(err, rc, "out of memory");
  if (rc) return rc;
  int adoptable = l->adopt && (c->run.status == WEFT_RUN_STARTED ||
                               c->run.status == WEFT_RUN_CANCELING);
  if (c->run.status != WEFT_RUN_QUEUED && !adoptable) {
    /* Another coordinator's run (two services read one inbox entry): this
     * one never took it, so it writes nothing, its end included. */
    c->lease_lost = 1;
    return weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not queued", run_id,
                          weft_run_status_name(c->run.status));
  }
  if ((rc = weft_plan_init(&c->plan, c->job, l->in_run, err))) return rc;
  size_t n = c->plan.n ? c->plan.n : 1;
  c->outputs = calloc(n, sizeof *c->outputs);
  c->dirs = calloc(n, sizeof *c->dirs);
  c->started = calloc(n, sizeof *c->started);
  c->scratch = calloc(n, sizeof *c->scratch);
  c->retrying = calloc(n, sizeof *c->retrying);
  c->log_sent = calloc(n, sizeof *c->log_sent);
  c->log_warned = calloc(n, sizeof *c->log_warned);
  c->workers = calloc(n, sizeof *c->workers);
  c->worker_pids = calloc(n, sizeof *c->worker_pids);
  c->skip_root = calloc(n, sizeof *c->skip_root);
  c->alerted = calloc(n, sizeof *c->alerted);
  c->mask = weft_mask_new();
  if (!c->outputs || !c->dirs || !c->started || !c->scratch || !c->retrying || !c->log_sent ||
      !c->log_warned || !c->workers || !c->worker_pids || !c->skip_root || !c->alerted || !c->mask)
    return weft_error_set(err, WEFT_ENOMEM, "out of memory planning the run");
  struct weft_executor_callbacks cb = {on_exec_event, on_exec_started, c};
  return coord_executor_new(inst, l->rc, &cb, &c->x, err);
}

void coord_release(struct coord *c) {
  weft_executor_free(c->x);
  coord_map_release(c);
  json_decref(c->run_tags);
  coord_batch_clear(&c->batch);
  free(c->batch.ev);
  free(c->batch.st);
  for (size_t i = 0; i < c->plan.n; i++) {
    if (c->outputs) json_decref(c->outputs[i]);
    if (c->dirs) free(c->dirs[i]);
    if (c->workers) free(c->workers[i]);
  }
  free(c->worker_attempt_id);
  free(c->workers);
  free(c->worker_pids);
  free(c->skip_root);
  free(c->alerted);
  free(c->outputs);
  free(c->dirs);
  free(c->started);
  free(c->scratch);
  free(c->retrying);
  free(c->log_sent);
  free(c->log_warned);
  free(c->cancel_reason);
  free(c->ctr_url);
  free(c->ctr_sdk);
  free(c->ctr_auth);
  weft_mask_free(c->mask);
  if (c->keyring) weft_secret_keyring_release(c->keyring);
  free(c->keyring);
  weft_plan_release(&c->plan);
  weft_run_row_release(&c->run);
}

int coord_start_run(struct coord *c) {
  free(c->run.coordinator);
  c->run.coordinator = weft_coordinator_id();
  c->run.status = WEFT_RUN_STARTED;
  c->run.started_ms = weft_clock_wall_ms();
  c->run_dirty = 1;
  if (!c->run.coordinator) return weft_error_set(c->err, WEFT_ENOMEM, "out of memory");
  int lrc = coord_lease_claim(c, NULL, c->err); /* run_adopt.c */
  if (lrc) return lrc;
  /* Under the lease, the run must still be queued: a sweep that took its
   * launcher for dead (instance.c) fails it under the lease too, so one
   * of the two acts, never both. A loop's run claims its lease in its
   * loop's next commit, which checks it there (coord_lease_claim_pending);
   * coord_init has just read it queued. */
  lrc = c->lease_claim_pending ? WEFT_OK : coord_lease_check_queued(c, c->err);
  if (lrc) {
    coord_lease_release(c);
    c->lease_lost = 1; /* writes nothing more */
    return lrc;
  }
  json_t *reused = json_array(), *plan = json_array();
  for (size_t i = 0; i < c->plan.n; i++)
    json_array_append_new(plan, json_string(c->plan.steps[i].name));
  for (size_t i = 0; i < c->plan.n && !c->failed_store; i++) {
    if (c->plan.steps[i].in_run) continue;
    int rc = coord_reuse_step(c, i, c->l->parent_run_id, c->err);
    if (rc) {
      json_decref(reused);
      json_decref(plan);
      return rc;
    }
    json_array_append_new(reused, json_string(c->plan.steps[i].name));
  }
  /* The run_started event goes first in the log, the reuse records after it. */
  struct coord_batch *b = &c->batch;
  size_t before = b->n_ev;
  long slots = c->l->rc->max_concurrent;
  if (!strcmp(weft_executor_name(c->x), "in_process")) slots = 1;
  else if (!strcmp(weft_executor_name(c->x), "queue") && slots <= 0) slots = 1024;
  else if (slots <= 0) slots = sysconf(_SC_NPROCESSORS_ONLN);
  /* The snapshot the steps run in (weft_run_code_prepare loaded the job from it). */
  const char *code_dir = c->run.code_version && c->job->location ? c->job->location->path : NULL;
  coord_event(c, NULL, "run_started",
              json_pack("{s:s, s:s, s:i, s:I, s:o, s:o, s:s?, s:s?}", "coordinator",
                        c->run.coordinator, "executor", weft_executor_name(c->x),
                        "max_concurrent", (int)slots, "steps", (json_int_t)c->plan.n, "plan",
                        plan, "reused", reused, "code_version", c->run.code_version, "code_dir",
                        code_dir));
  if (b->n_ev == before + 1 && before > 0) {
    struct weft_event_row started = b->ev[before];
    memmove(&b->ev[1], &b->ev[0], before * sizeof *b->ev);
    b->ev[0] = started;
  }
  coord_record_init_skips(c);
  coord_flush(c, !c->shared_commit); /* a loop commits it with its other runs' */
  return c->failed_store ? c->err->code : WEFT_OK;
}

/* ---- cancel from outside the coordinator ----------------------------------------- */

int weft_run_request_cancel(struct weft_instance *inst, const char *run_id,
                            const char *reason, weft_error *err) {
  struct weft_run_row r = {0};
  if (!reason) reason = "canceled by request";
  int rc = weft_store_begin(inst->store, err);
  if (rc) return rc;
  if ((rc = weft_store_run_get(inst->store, run_id, &r, err))) goto fail;
  if (weft_run_status_is_final(r.status)) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s already ended: %s", run_id,
                        weft_run_status_name(r.status));
    goto fail;
  }
  if (r.status != WEFT_RUN_CANCELING) {
    int queued = r.status == WEFT_RUN_QUEUED;
    r.status = queued ? WEFT_RUN_CANCELED : WEFT_RUN_CANCELING;
    if (queued) r.ended_ms = weft_clock_wall_ms();
    free(r.message);
    r.message = weft_str_dup(reason);
    if ((rc = weft_store_run_update(inst->store, &r, err))) goto fail;
    json_t *p = queued ? json_pack("{s:I, s:s}", "duration_ms", (json_int_t)0, "message", reason)
                       : json_pack("{s:s}", "reason", reason);
    if ((rc = weft__engine_append_event(inst->store, run_id, NULL,
                                        queued ? "run_canceled" : "run_canceling", p, err)))
      goto fail;
  }
  weft_run_row_release(&r);
  if ((rc = weft_store_commit(inst->store, err))) return rc;
  /* A coordinator that is gone cannot act on CANCELING: sweep it now. */
  return weft_instance_sweep_orphans(inst, NULL, err);
fail:
  weft_run_row_release(&r);
  weft_store_rollback(inst->store);
  return rc;
}
