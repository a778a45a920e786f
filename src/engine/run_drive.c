/* run_drive.c: a run advanced by turns (coord_drive.h), and
 * weft_run_execute: one run driven to its end in the calling thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/coord_drive.h"
#include "engine/secrets.h"
#include "util/clock.h"
#include "util/str.h"

#define STATUS_CHECK_MS 100
#define GROUP_COMMIT_MS 50
#define DRAIN_MAX 256

int coord_drive_open(struct coord_drive *d, struct weft_instance *inst, const char *run_id,
                     const struct weft_launch *l, int shared, weft_error *err) {
  memset(d, 0, sizeof *d);
  d->err = err;
  d->shared = shared;
  d->final = WEFT_RUN_FAILURE;
  d->wake_ms = -1;
  /* The job as the snapshot of the run's code holds it (code_snapshot.h);
   * a run whose code cannot be loaded fails before it starts. */
  int rc = weft_run_code_prepare(inst, run_id, l, &d->code, &d->use, err);
  if (rc) {
    weft_error ignored = WEFT_ERROR_INIT;
    char *why = weft_str_printf("cannot load the code of the run: %s", err->msg);
    weft_run_abandon(inst, run_id, why ? why : err->msg, &ignored);
    free(why);
    return d->rc = rc;
  }
  d->opened = 1;
  rc = coord_init(&d->c, inst, run_id, d->use, err);
  d->c.shared_commit = shared;
  if (rc && rc != WEFT_ECONFLICT && d->use->adopt) {
    /* An adopter that could not set up (its executor's broker): it never
     * took the run, so coord_drive_close must write nothing for it. */
    d->c.lease_lost = 1;
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    if (rc == WEFT_EIO || rc == WEFT_ENOMEM) {
      /* Not reached within its connect bound: nothing is wrong with the
       * run; its lease expires and the next sweep's adopter tries again. */
      weft_error_set(err, rc, "run %s left for the next adoption: %s", run_id, why);
    } else {
      /* Refused for good (a login the broker rejects): no adopter will do
       * better, so the run fails, as one whose code cannot load does. */
      weft_error ignored = WEFT_ERROR_INIT;
      weft_run_adopt_fail(inst, run_id, why, &ignored);
    }
  }
  if (!rc) rc = d->use->adopt ? coord_adopt(&d->c, d->use->adopt_token) : coord_start_run(&d->c);
  if (!rc) run_deadline_init(&d->dl, &d->c);
  /* Alerts (hooks.h): fired here, delivered on threads of their own. */
  d->hooks = rc ? NULL : run_hooks_new(&d->c);
  return d->rc = rc;
}

int coord_drive_turn(struct coord_drive *d, int wait_ms) {
  struct coord *c = &d->c;
  const struct weft_launch *l = d->use;
  if (d->rc || c->failed_store || weft_plan_done(&c->plan)) return 1;
  if (l->on_tick) l->on_tick(l->cb_data);
  size_t before = c->batch.n_ev + c->batch.n_st;
  int64_t next_deadline = run_deadline_check(&d->dl, c, weft_clock_wall_ms());
  if (d->dl.sla_missed && !d->sla_alerted) {
    d->sla_alerted = 1;
    char why[96];
    snprintf(why, sizeof why, "not done within its SLA of %s", d->dl.sla.text);
    run_hooks_fire(d->hooks, c, "on_sla_missed", NULL, NULL, why);
  }
  coord_alert_failed_steps(c, d->hooks);
  run_hooks_poll(d->hooks, c);
  coord_check_cancel(c);
  int64_t now = weft_clock_mono_ms(), next_retry = -1;
  coord_requeue_due_retries(c, now, &next_retry);
  coord_map_check(c);
  coord_start_ready(c);
  coord_upload_live_logs(c);
  /* Each commit is fsynced, and a commit per finished step would be most
   * of a busy run's cost: after one, what follows within GROUP_COMMIT_MS
   * goes in the next, together. A quiet run's events commit at once. A
   * shared drive's batch goes in its loop's transaction instead. */
  now = weft_clock_mono_ms();
  if (!d->shared && now >= d->next_flush_ms) {
    coord_flush(c, 0);
    d->next_flush_ms = now + GROUP_COMMIT_MS;
  }
  if (weft_plan_done(&c->plan)) return 1;
  int timeout = STATUS_CHECK_MS;
  if (next_retry >= 0 && next_retry - now < timeout) timeout = (int)(next_retry - now);
  if (next_deadline >= 0 && next_deadline < timeout) timeout = (int)next_deadline;
  if (!d->shared && (c->batch.n_ev || c->batch.n_st || c->run_dirty) &&
      d->next_flush_ms - now < timeout)
    timeout = (int)(d->next_flush_ms - now);
  if (timeout < 0) timeout = 0;
  /* When the next timed thing is due, unclamped: a loop of many runs does
   * not turn a run waiting 10 minutes for its retry every 100 ms. */
  int64_t wake = next_retry >= 0 ? (next_retry > now ? next_retry - now : 0) : -1;
  if (next_deadline >= 0 && (wake < 0 || next_deadline < wake)) wake = next_deadline;
  d->wake_ms = wake > 1 << 30 ? 1 << 30 : wake;
  if (wait_ms >= 0 && wait_ms < timeout) timeout = wait_ms;
  struct weft_step_result res;
  weft_error we = {0};
  int got = weft_executor_wait(c->x, timeout, &res, &we), ended = 0;
  /* Drain what else finished, so one transaction records them all; but
   * a bounded number: a steady stream of results (a fan-out on queue
   * workers) must not keep the freed slots from being refilled. */
  for (int drained = 1; got == 1; drained++) {
    coord_finish_step(c, &res);
    weft_step_result_release(&res);
    ended = 1;
    got = drained < DRAIN_MAX ? weft_executor_wait(c->x, 0, &res, &we) : 0;
  }
  if (got < 0 && got != WEFT_ENOTFOUND) {
    d->rc = weft_error_set(d->err, got, "executor failed: %s", we.msg);
    return 1;
  }
  if (c->failed_store || weft_plan_done(&c->plan)) return 1;
  return ended || c->batch.n_ev + c->batch.n_st != before ? 2 : 0;
}

void coord_drive_end(struct coord_drive *d) {
  struct coord *c = &d->c;
  if (!d->opened || d->ended || d->rc || c->failed_store) return;
  d->ended = 1;
  coord_alert_failed_steps(c, d->hooks);
  coord_finish_run(c, &d->dl);
  if (d->shared) return; /* the loop commits it, then closes */
  coord_flush(c, 1);
}

int coord_drive_close(struct coord_drive *d) {
  struct coord *c = &d->c;
  int rc = d->rc;
  if (!d->opened) {
    weft_run_code_release(&d->code);
    return rc;
  }
  coord_drive_end(d);
  if (d->ended && !rc && !c->failed_store) {
    if (c->run.status == WEFT_RUN_SUCCESS || c->run.status == WEFT_RUN_FAILURE)
      run_hooks_fire(d->hooks, c, c->run.status == WEFT_RUN_SUCCESS ? "on_success" : "on_failure",
                     NULL, NULL, NULL);
    /* The run is over for whoever waits on it; the alerts get a bounded
     * while more, then are stopped and recorded as failed. */
    if (d->hooks) {
      run_hooks_finish(d->hooks, c, WEFT_HOOKS_WAIT_MS);
      /* Only what the deliveries recorded: the end itself is committed
       * (a commit per run here was most of a loop's cost per short run). */
      if (c->batch.n_ev || c->batch.n_st) coord_flush(c, 1);
    }
  }
  if (c->failed_store && !rc) rc = d->err->code;
  if (rc && c->run.id && c->run.status != WEFT_RUN_QUEUED && !c->lease_lost &&
      !weft_run_status_is_final(c->run.status)) {
    /* Best effort: leave no run "started" behind a coordinator that gave up
     * (one whose executor could not be made has no step to cancel). */
    if (c->x) weft_executor_cancel_all(c->x, "the coordinator failed");
    c->failed_store = 0;
    c->run.status = WEFT_RUN_FAILURE;
    c->run.ended_ms = weft_clock_wall_ms();
    free(c->run.message);
    c->run.message = weft_str_dup(d->err->msg);
    coord_batch_clear(&c->batch);
    /* No step stays running or waiting in a final run (run_adopt.c). */
    json_t *failed = coord_settle_unfinished(c, d->err->msg);
    coord_event(c, NULL, "run_failure",
                json_pack("{s:I, s:s, s:o}", "duration_ms",
                          (json_int_t)(c->run.ended_ms - c->run.started_ms), "message",
                          d->err->msg, "failed", failed));
    weft_error ignored = {0};
    c->err = &ignored;
    coord_flush(c, 1);
  }
  if (weft_run_status_is_final(c->run.status)) coord_lease_release(c);
  d->final = c->run.status;
  run_hooks_free(d->hooks);
  d->hooks = NULL;
  coord_release(c);
  weft_run_code_release(&d->code);
  d->opened = 0;
  return d->rc = rc;
}

int weft_run_execute(struct weft_instance *inst, const char *run_id,
                     const struct weft_launch *l, enum weft_run_status *final,
                     weft_error *err) {
  struct coord_drive d;
  *final = WEFT_RUN_FAILURE;
  coord_drive_open(&d, inst, run_id, l, 0, err);
  while (coord_drive_turn(&d, -1) != 1) continue;
  int rc = coord_drive_close(&d);
  *final = d.final;
  return rc;
}
