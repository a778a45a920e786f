/* run_adopt.c: run leases (the coordinator driving a run holds it, renewed in
 * its group commits) and adoption: a run whose coordinator died resumes in a
 * new one from what its events recorded. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/coord_drive.h"
#include "engine/engine_int.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

/* A run adopted this many times gave up for a reason no new coordinator
 * will fix: the next sweep fails it instead. */
#define ADOPT_MAX 5
/* A hand-off token holds the lease at least this long: its adopter claims
 * it once started (weft_run_adopt_hold), which under load or with the store
 * busy takes longer than a short run lease; a token that expired first
 * made every later sweep spawn another adopter of the run, hundreds while
 * the broker restarted, until PostgreSQL ran out of connections (tests/chaos
 * seed 107). An adopter that died before claiming delays the next hand-off
 * by this much. */
#define ADOPT_HANDOFF_MIN_MS 10000

int64_t weft_run_lease_ms(void) {
  const char *v = getenv("WEFT_RUN_LEASE_MS");
  char *end = NULL;
  long long ms = v && *v ? strtoll(v, &end, 10) : 0;
  return end && !*end && ms >= 100 && ms <= 3600000 ? (int64_t)ms : WEFT_RUN_LEASE_DEFAULT_MS;
}

/* ---- the lease, from the coordinator's side ------------------------------------ */

int coord_lease_claim(struct coord *c, const char *steal_from, weft_error *err) {
  if (c->shared_commit && !steal_from) {
    /* A fresh run of a loop: no autocommitted statement (an fsync) of its
     * own; the loop claims it with the rest of its start. */
    c->lease_claim_pending = 1;
    c->lease_next_ms = weft_clock_mono_ms() + weft_run_lease_ms() / 3;
    return WEFT_OK;
  }
  /* The next check is counted from before the statement: one that waited
   * out a store restart may commit a lease already near its end, and
   * counting from its return would let this coordinator write past it
   * (found by tests/chaos: two coordinators started one run). */
  int64_t asked = weft_clock_mono_ms();
  int rc = weft_store_lease_claim(c->inst->store, c->run.id, c->run.coordinator, steal_from,
                                  weft_clock_wall_ms(), weft_run_lease_ms(), err);
  if (rc == WEFT_ECONFLICT) c->lease_lost = 1;
  c->lease_next_ms = asked + weft_run_lease_ms() / 3;
  return rc;
}

/* A run of a loop of many runs (shared_commit) is never due on its own:
 * its loop renews every lease it holds at once (coord_lease_renew_all). */
int coord_lease_due(const struct coord *c, int64_t now_mono) {
  return !c->lease_lost && !c->shared_commit && c->run.coordinator &&
         now_mono >= c->lease_next_ms;
}

/* Inside coord_flush's transaction: every lease of this coordinator in one
 * statement (the batch a coordinator of many runs renews); this run's must
 * be among them, or another coordinator adopted it and this one stops. */
int coord_lease_renew(struct coord *c, weft_error *err) {
  struct weft_run_lease_list held = {0};
  int64_t asked = weft_clock_mono_ms(); /* as in coord_lease_claim */
  int rc = weft_store_lease_renew(c->inst->store, c->run.coordinator, weft_clock_wall_ms(),
                                  weft_run_lease_ms(), &held, err);
  int mine = 0;
  for (size_t i = 0; !rc && i < held.n; i++) mine |= !strcmp(held.v[i].run_id, c->run.id);
  weft_run_lease_list_release(&held);
  if (!rc && !mine) {
    c->lease_lost = 1;
    rc = weft_error_set(err, WEFT_ECONFLICT,
                        "run %s: another coordinator took over its lease; this one stops",
                        c->run.id);
  }
  if (!rc) c->lease_next_ms = asked + weft_run_lease_ms() / 3;
  return rc;
}

int coord_lease_renew_all(struct weft_instance *inst, const char *owner,
                          struct weft_run_lease_list *held, weft_error *err) {
  *held = (struct weft_run_lease_list){0};
  return weft_store_lease_renew(inst->store, owner, weft_clock_wall_ms(), weft_run_lease_ms(),
                                held, err);
}

void coord_lease_lost(struct coord *c) {
  if (c->lease_lost) return;
  c->lease_lost = 1;
  /* Nothing of this run is written any more: its new owner drives it. */
  coord_batch_clear(&c->batch);
  c->run_dirty = 0;
  if (!c->failed_store)
    weft_error_set(c->err, WEFT_ECONFLICT,
                   "run %s: another coordinator took over its lease; this one stops",
                   c->run.id);
  c->failed_store = 1;
}

/* The stop of a run whose lease this coordinator took (or was about to)
 * when the run was no longer queued: why is the reason. */
static void claimed_not_queued(struct coord *c, const char *why) {
  if (!c->failed_store) {
    weft_error_set(c->err, WEFT_ECONFLICT, "%s: another coordinator started it; this one stops",
                   why);
    c->failed_store = 1;
  }
  coord_lease_lost(c);
}

int coord_lease_claim_pending(struct coord *c, weft_error *err) {
  if (!c->lease_claim_pending || c->lease_lost) return WEFT_OK;
  weft_error e = WEFT_ERROR_INIT;
  int known = c->lease_claim_outcome;
  c->lease_claim_outcome = 0;
  if (known == WEFT_LEASE_HELD + 1) coord_lease_lost(c);
  if (known == WEFT_LEASE_NOT_QUEUED + 1) {
    weft_error_set(&e, WEFT_ECONFLICT, "run %s is no longer queued", c->run.id);
    claimed_not_queued(c, e.msg);
  }
  if (known) return WEFT_OK; /* claimed with the loop's others (or lost) */
  int rc = weft_store_lease_claim(c->inst->store, c->run.id, c->run.coordinator, NULL,
                                  weft_clock_wall_ms(), weft_run_lease_ms(), &e);
  if (rc == WEFT_ECONFLICT) {
    coord_lease_lost(c);
    return WEFT_OK;
  }
  if (rc) return weft_error_set(err, rc, "%s", e.msg);
  /* The run was read queued when this loop started it in memory, maybe
   * long before this commit (a tick slowed by a store restart): another
   * coordinator may have run it to its end since and dropped its lease,
   * which this claim then took (tests/chaos seed 306: steps completed
   * twice). Under the lease, it must still be queued. */
  rc = coord_lease_check_queued(c, &e);
  if (rc == WEFT_OK) return WEFT_OK;
  if (rc != WEFT_ECONFLICT)
    return weft_error_set(err, rc, "%s", e.msg);
  char why[sizeof e.msg];
  snprintf(why, sizeof why, "%s", e.msg);
  if ((rc = weft_store_lease_release(c->inst->store, c->run.id, c->run.coordinator, &e)))
    return weft_error_set(err, rc, "%s", e.msg);
  claimed_not_queued(c, why);
  return WEFT_OK;
}

int coord_lease_check_queued(struct coord *c, weft_error *err) {
  struct weft_run_row now = {0};
  int rc = weft_store_run_get(c->inst->store, c->run.id, &now, err);
  if (!rc && now.status != WEFT_RUN_QUEUED)
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not queued", c->run.id,
                        weft_run_status_name(now.status));
  weft_run_row_release(&now);
  return rc;
}

int coord_lease_droppable(const struct coord *c) {
  return c->run.id && c->run.coordinator && !c->lease_lost && !c->lease_released;
}

int coord_lease_drop(struct coord *c, weft_error *err) {
  if (!coord_lease_droppable(c)) return WEFT_OK;
  return weft_store_lease_release(c->inst->store, c->run.id, c->run.coordinator, err);
}

void coord_lease_release(struct coord *c) {
  weft_error ignored = WEFT_ERROR_INIT;
  if (c->run.id && c->run.coordinator && !c->lease_lost && !c->lease_released)
    weft_store_lease_release(c->inst->store, c->run.id, c->run.coordinator, &ignored);
}

/* ---- what the events say of each step ---------------------------------------------- */

struct step_seen {
  char *name;
  int attempt;             /* of the last step_started (or end) */
  enum weft_step_status status; /* WEFT_STEP__COUNT: never started */
  int running;             /* started, no end recorded */
  int64_t started_ms, retry_at_wall_ms;
  long pid, worker_pid;
  char *worker;
  char *attempt_id;        /* the executor's id of a worker's attempt */
  json_t *outputs;         /* {"OUT": {"key":..., "value"?}} of the success */
  json_t *pending;         /* step_output payloads of the current attempt */
};

struct seen {
  struct step_seen *v;
  size_t n;
  int adoptions; /* run_adopted events so far */
  int64_t last_ms; /* the time of the last event recorded */
};

static struct step_seen *seen_get(struct seen *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i].name, name)) return &s->v[i];
  return NULL;
}

static struct step_seen *seen_add(struct seen *s, const char *name) {
  struct step_seen *st = seen_get(s, name);
  if (st) return st;
  void *nv = realloc(s->v, (s->n + 1) * sizeof *s->v);
  if (!nv) return NULL;
  s->v = nv;
  st = &s->v[s->n];
  memset(st, 0, sizeof *st);
  st->status = WEFT_STEP__COUNT;
  if (!(st->name = weft_str_dup(name)) || !(st->pending = json_object()) ||
      !(st->outputs = json_object())) {
    free(st->name);
    json_decref(st->pending);
    return NULL;
  }
  s->n++;
  return st;
}

static void seen_release(struct seen *s) {
  for (size_t i = 0; i < s->n; i++) {
    free(s->v[i].name);
    free(s->v[i].worker);
    free(s->v[i].attempt_id);
    json_decref(s->v[i].outputs);
    json_decref(s->v[i].pending);
  }
  free(s->v);
}

static void seen_event(struct step_seen *st, const struct weft_event_row *ev, json_t *p) {
  const char *t = ev->type;
  json_int_t att = json_integer_value(json_object_get(p, "attempt"));
  if (att > 0) st->attempt = (int)att;
  if (!strcmp(t, "step_started")) {
    st->running = 1;
    st->status = WEFT_STEP_RUNNING;
    st->started_ms = ev->ts_ms;
    st->pid = (long)json_integer_value(json_object_get(p, "pid"));
    const char *w = json_string_value(json_object_get(p, "worker"));
    free(st->worker);
    st->worker = w ? weft_str_dup(w) : NULL;
    st->worker_pid = (long)json_integer_value(json_object_get(p, "worker_pid"));
    const char *aid = json_string_value(json_object_get(p, "attempt_id"));
    free(st->attempt_id);
    st->attempt_id = aid ? weft_str_dup(aid) : NULL;
    json_object_clear(st->pending);
  } else if (!strcmp(t, "step_output")) {
    const char *o = json_string_value(json_object_get(p, "output"));
    if (!o) return;
    json_t *entry = json_pack("{s:O}", "key", json_object_get(p, "key"));
    if (entry && json_object_get(p, "value"))
      json_object_set(entry, "value", json_object_get(p, "value"));
    if (entry) json_object_set_new(st->pending, o, entry);
  } else if (!strcmp(t, "step_succeeded") || !strcmp(t, "step_reused")) {
    st->running = 0;
    st->status = WEFT_STEP_SUCCEEDED;
    json_object_update(st->outputs, st->pending);
    json_object_clear(st->pending);
  } else if (!strcmp(t, "step_failed") || !strcmp(t, "step_canceled") ||
             !strcmp(t, "step_skipped")) {
    st->running = 0;
    st->status = t[5] == 'f' ? WEFT_STEP_FAILED
                 : t[5] == 'c' ? WEFT_STEP_CANCELED : WEFT_STEP_SKIPPED;
  } else if (!strcmp(t, "step_up_for_retry")) {
    st->running = 0;
    st->status = WEFT_STEP_UP_FOR_RETRY;
    st->retry_at_wall_ms = ev->ts_ms + json_integer_value(json_object_get(p, "retry_in_ms"));
  }
}

static int read_seen(struct coord *c, struct seen *s, weft_error *err) {
  struct weft_event_filter f = {0};
  f.run_id = c->run.id;
  struct weft_event_list evs = {0};
  int rc = weft_store_event_read(c->inst->store, &f, &evs, err);
  for (size_t k = 0; !rc && k < evs.n; k++) {
    const struct weft_event_row *ev = &evs.v[k];
    if (ev->ts_ms > s->last_ms) s->last_ms = ev->ts_ms;
    if (!ev->step) {
      if (!strcmp(ev->type, "run_adopted")) s->adoptions++;
      if (!strcmp(ev->type, "sla_missed")) c->sla_missed_before = 1;
      continue;
    }
    if (strncmp(ev->type, "step_", 5)) continue;
    struct step_seen *st = seen_add(s, ev->step);
    json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
    if (!st || !p) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory reading the run's events");
    else seen_event(st, ev, p);
    json_decref(p);
  }
  weft_event_list_release(&evs);
  return rc;
}

/* ---- replaying them into the plan --------------------------------------------- */

/* Kills what the dead coordinator started on this host and left running: a
 * process step's group (the attempt is retried), every process carrying the
 * run's id, and the run's containers. Steps on workers are taken over
 * (take_over): when any was, the run's processes and containers on this
 * host are a worker's, and are left alone. */
static void kill_leftovers(struct coord *c, const char *old, const struct seen *s,
                           size_t n_taken) {
  int local = weft_coordinator_alive(old) >= 0;
  if (!local) return;
  for (size_t k = 0; k < s->n; k++) {
    const struct step_seen *st = &s->v[k];
    if (!st->running || st->worker) continue; /* a worker's pid is not ours */
    if (st->pid > 0) kill(-(pid_t)st->pid, SIGKILL);
    /* Nor would the dead one remove the attempt's secret files (secrets.h). */
    char *dir = weft_instance_step_dir(c->inst, c->run.id, st->name,
                                       st->attempt > 0 ? st->attempt : 1);
    char *secrets = dir ? weft_fs_join(dir, "secrets") : NULL;
    weft_error ignored = WEFT_ERROR_INIT;
    if (secrets) weft_fs_remove_tree(secrets, &ignored);
    free(secrets);
    free(dir);
  }
  if (n_taken) return;
  weft__kill_run_procs(c->run.id);
  weft_error ignored = WEFT_ERROR_INIT;
  weft_instance_gc_containers(c->inst, c->run.id, 0, NULL, &ignored);
}

/* Step i's attempt runs on a worker that outlives the dead coordinator: the
 * executor takes it over (weft_executor_attach), and its result comes to
 * this coordinator as if it had started it. 0 when it cannot (the run's
 * executor is not one that can, events from before attempt ids were
 * recorded): the attempt is restarted instead. */
static int take_over(struct coord *c, size_t i, const struct step_seen *st) {
  const struct weft_plan_step *ps = &c->plan.steps[i];
  if (!st->worker || !st->attempt_id) return 0;
  free(c->dirs[i]);
  c->dirs[i] = weft_instance_step_dir(c->inst, c->run.id, ps->name, ps->attempt);
  if (!c->dirs[i]) return 0;
  struct weft_step_attach a = {
      st->attempt_id, st->worker, c->dirs[i], st->started_ms, ps->inv->def->timeout_s, 0,
      (void *)(uintptr_t)(i + 1)};
  weft_error e = WEFT_ERROR_INIT;
  if (weft_executor_attach(c->x, &a, &e)) return 0;
  free(c->workers[i]);
  c->workers[i] = weft_str_dup(st->worker);
  c->worker_pids[i] = st->worker_pid;
  coord_reset_live_logs(c, i);
  return 1;
}

/* Step i, taken from the ready queue, ends as the events recorded; returns
 * 0 when they recorded nothing (it never started: it starts now). */
static int replay_step(struct coord *c, size_t i, struct step_seen *st, json_t *restarted,
                       json_t *taken, const char *why) {
  struct weft_plan_step *ps = &c->plan.steps[i];
  if (!st || st->status == WEFT_STEP__COUNT) return 0;
  ps->attempt = st->attempt > 0 ? st->attempt : 1;
  c->started[i] = st->started_ms;
  if (st->status == WEFT_STEP_SUCCEEDED) {
    json_decref(c->outputs[i]);
    c->outputs[i] = json_incref(st->outputs);
  }
  if (weft_step_status_is_final(st->status)) {
    if (c->alerted) c->alerted[i] = 1; /* its on_failure alert went out then */
    /* Its downstreams' skips were recorded with it, in one commit. */
    weft_plan_finish(&c->plan, i, st->status, c->scratch, NULL);
    return 1;
  }
  int64_t delay = 0;
  if (st->running && take_over(c, i, st)) {
    /* Left RUNNING in the plan: its result is waited for. */
    json_array_append_new(taken, json_string(ps->name));
    return 1;
  }
  if (st->running) {
    /* Its process died with the coordinator (or was killed above): the
     * attempt ends failed, and a new one starts at once. */
    char msg[600];
    snprintf(msg, sizeof msg, "interrupted: %s; retried after adoption", why);
    c->workers[i] = st->worker ? weft_str_dup(st->worker) : NULL;
    coord_step_row(c, i, WEFT_STEP_UP_FOR_RETRY, st->pid, msg);
    coord_event(c, ps->name, "step_up_for_retry",
                json_pack("{s:i, s:I, s:s, s:i, s:I, s:b}", "attempt", ps->attempt,
                          "duration_ms", (json_int_t)(weft_clock_wall_ms() - st->started_ms),
                          "message", msg, "exit_code", -1, "retry_in_ms", (json_int_t)0,
                          "adopted", 1));
    json_array_append_new(restarted, json_string(ps->name));
    free(c->workers[i]);
    c->workers[i] = NULL;
  } else {
    delay = st->retry_at_wall_ms - weft_clock_wall_ms();
  }
  weft_plan_finish(&c->plan, i, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
  ps->retry_at_ms = weft_clock_mono_ms() + (delay > 0 ? delay : 0);
  c->retrying[c->n_retrying++] = i;
  return 1;
}

/* Replays the plan: every step the events ended ends so again, in the
 * order the plan makes them ready; the first not recorded goes back to the
 * ready queue. Mapped steps expand again (their items replay by name). */
static void replay(struct coord *c, struct seen *s, json_t *restarted, json_t *taken,
                   const char *why) {
  size_t *parked = calloc(c->plan.n + 1, sizeof *parked), n_parked = 0;
  if (!parked) return coord_oom(c);
  for (;;) {
    size_t i = weft_plan_take_ready(&c->plan);
    if (i == (size_t)-1) break;
    struct weft_plan_step *ps = &c->plan.steps[i];
    struct step_seen *st = seen_get(s, ps->name);
    int mapped_parent = ps->inv->mapped && ps->map_parent == (size_t)-1;
    if (mapped_parent && (!st || !weft_step_status_is_final(st->status))) {
      coord_map_expand(c, i);
      /* The plan grew by its items: so may the parked list. */
      size_t *np = realloc(parked, (c->plan.n + 1) * sizeof *np);
      if (!np) {
        coord_oom(c);
        break;
      }
      parked = np;
      continue;
    }
    if (replay_step(c, i, st, restarted, taken, why)) continue;
    /* Not started: back to the queue, as if never taken. */
    weft_plan_finish(&c->plan, i, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
    c->plan.steps[i].attempt--;
    parked[n_parked++] = i;
  }
  for (size_t k = 0; k < n_parked; k++) weft_plan_requeue(&c->plan, parked[k]);
  free(parked);
}

int coord_adopt(struct coord *c, const char *token) {
  struct seen s = {0};
  char *old = c->run.coordinator; /* the dead one, for the event */
  char why[512];
  c->adopted = 1;
  c->run.coordinator = weft_coordinator_id();
  if (!c->run.coordinator) {
    c->run.coordinator = old;
    return weft_error_set(c->err, WEFT_ENOMEM, "out of memory");
  }
  int rc = coord_lease_claim(c, token, c->err);
  if (rc) goto done;
  /* Under the lease, the run must still be going: coord_init read it
   * before, and an adopter spawned with it may have ended it since and
   * dropped its lease (a slow start under load, two hand-offs of one
   * run: tests/chaos saw a run end three times). A run's end and its
   * holder's lease drop go out in order, so what is read now is final. */
  struct weft_run_row now = {0};
  if (!(rc = weft_store_run_get(c->inst->store, c->run.id, &now, c->err)) &&
      now.status != WEFT_RUN_STARTED && now.status != WEFT_RUN_CANCELING)
    rc = weft_error_set(c->err, WEFT_ECONFLICT, "run %s is %s: nothing to adopt", c->run.id,
                        weft_run_status_name(now.status));
  weft_run_row_release(&now);
  if (rc) {
    coord_lease_release(c);
    c->lease_lost = 1; /* writes nothing */
    goto done;
  }
  if ((rc = read_seen(c, &s, c->err))) {
    c->lease_lost = 1; /* the plan knows nothing: write nothing; the next sweep retries */
    goto done;
  }
  snprintf(why, sizeof why, "its coordinator %s died (lease expired)", old ? old : "(unknown)");
  if (s.adoptions >= ADOPT_MAX) {
    /* Failed from its stored rows (the plan here knows nothing yet), and
     * this coordinator then writes nothing more (lease_lost). */
    char msg[200];
    snprintf(msg, sizeof msg, "run %s was adopted %d times and never got further: giving up",
             c->run.id, s.adoptions);
    weft_error ignored = WEFT_ERROR_INIT;
    weft_instance_fail_run(c->inst, c->run.id, msg, &ignored);
    c->lease_lost = 1;
    rc = weft_error_set(c->err, WEFT_ESTORE, "%s", msg);
    goto done;
  }
  json_t *restarted = json_array(), *taken = json_array();
  /* The plan's own skips at init were recorded by the first coordinator. */
  replay(c, &s, restarted, taken, why);
  kill_leftovers(c, old, &s, json_array_size(taken));
  size_t n_done = c->plan.n_final;
  c->run_dirty = 1;
  coord_event(c, NULL, "run_adopted",
              json_pack("{s:s?, s:s, s:s, s:I, s:o, s:o, s:i, s:I}", "from", old, "to",
                        c->run.coordinator, "reason", why, "steps_final", (json_int_t)n_done,
                        "restarted", restarted, "taken_over", taken, "adoption",
                        s.adoptions + 1,
                        /* what the dead one did after this is not known: a
                         * step it ran since starts again (at least once) */
                        "last_recorded_ms", (json_int_t)s.last_ms));
  if (!c->failed_store) {
    /* The run_adopted event first: the replay's records follow it. */
    struct coord_batch *b = &c->batch;
    if (b->n_ev > 1) {
      struct weft_event_row ad = b->ev[b->n_ev - 1];
      memmove(&b->ev[1], &b->ev[0], (b->n_ev - 1) * sizeof *b->ev);
      b->ev[0] = ad;
    }
  }
done:
  free(old);
  seen_release(&s);
  return rc ? rc : c->failed_store ? c->err->code : WEFT_OK;
}

/* A taken-over attempt whose end cannot be known (res->lost: its worker is
 * gone, or no result came in time): it did not fail by itself, so it is
 * retried at once as an attempt interrupted by the adoption is, whatever
 * its retry policy, and the events say why. Under a cancel it ends
 * canceled. */
void coord_retry_lost(struct coord *c, struct weft_step_result *res) {
  size_t i = (size_t)(uintptr_t)res->user - 1;
  struct weft_plan_step *ps = &c->plan.steps[i];
  const char *msg = res->message ? res->message : "lost after adoption";
  if (c->canceling) {
    coord_step_row(c, i, WEFT_STEP_CANCELED, 0, msg);
    coord_event(c, ps->name, "step_canceled",
                json_pack("{s:i, s:s, s:i}", "attempt", ps->attempt, "message", msg,
                          "exit_code", -1));
    size_t n_skipped = 0;
    weft_plan_finish(&c->plan, i, WEFT_STEP_CANCELED, c->scratch, &n_skipped);
    coord_record_skipped(c, c->scratch, n_skipped);
    return;
  }
  char text[600];
  snprintf(text, sizeof text, "%s; retried after adoption", msg);
  coord_step_row(c, i, WEFT_STEP_UP_FOR_RETRY, 0, text);
  coord_event(c, ps->name, "step_up_for_retry",
              json_pack("{s:i, s:I, s:s, s:i, s:I, s:b}", "attempt", ps->attempt, "duration_ms",
                        (json_int_t)(weft_clock_wall_ms() - c->started[i]), "message", text,
                        "exit_code", -1, "retry_in_ms", (json_int_t)0, "adopted", 1));
  free(c->workers[i]);
  c->workers[i] = NULL;
  weft_plan_finish(&c->plan, i, WEFT_STEP_UP_FOR_RETRY, NULL, NULL);
  ps->retry_at_ms = weft_clock_mono_ms();
  c->retrying[c->n_retrying++] = i;
}

/* ---- settling a run that ends failed -------------------------------------------- */

json_t *coord_settle_unfinished(struct coord *c, const char *message) {
  json_t *failed = json_array();
  size_t n = weft_plan_cancel_pending(&c->plan, c->scratch);
  for (size_t k = 0; k < n; k++) {
    size_t i = c->scratch[k];
    coord_step_row(c, i, WEFT_STEP_CANCELED, 0, message);
    coord_event(c, c->plan.steps[i].name, "step_canceled",
                json_pack("{s:s}", "message", message));
  }
  for (size_t i = 0; i < c->plan.n; i++) {
    struct weft_plan_step *ps = &c->plan.steps[i];
    if (ps->status == WEFT_STEP_RUNNING) {
      coord_step_row(c, i, WEFT_STEP_FAILED, 0, message);
      coord_event(c, ps->name, "step_failed",
                  json_pack("{s:i, s:s, s:i}", "attempt", ps->attempt, "message", message,
                            "exit_code", -1));
      weft_plan_finish(&c->plan, i, WEFT_STEP_FAILED, NULL, NULL);
    }
    if (ps->status == WEFT_STEP_FAILED) json_array_append_new(failed, json_string(ps->name));
  }
  return failed;
}

/* ---- the sweep's side: handing a run to a new coordinator ------------------------ */

static char *adopt_exe;

void weft_run_adopt_enable(const char *exe) {
  free(adopt_exe);
  adopt_exe = exe ? weft_str_dup(exe) : NULL;
}

int weft_run_adopt_hold(struct weft_instance *inst, const char *run_id, const char *token,
                        weft_error *err) {
  char *me = weft_coordinator_id();
  if (!me) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_store_lease_claim(inst->store, run_id, me, token, weft_clock_wall_ms(),
                                  weft_run_lease_ms(), err);
  free(me);
  return rc;
}

int weft_run_adopt(struct weft_instance *inst, const char *run_id, const char *token,
                   const struct weft_launch *l, enum weft_run_status *final, weft_error *err) {
  struct weft_launch a = *l;
  a.adopt = 1;
  a.adopt_token = token;
  return weft_run_execute(inst, run_id, &a, final, err);
}

int weft_run_adopt_fail(struct weft_instance *inst, const char *run_id, const char *why,
                        weft_error *err) {
  char *msg = weft_str_printf("adoption failed: %s", why);
  int rc = weft_instance_fail_run(inst, run_id, msg ? msg : why, err);
  free(msg);
  return rc;
}

/* Starts `EXE run coordinate RUN --adopt TOKEN` detached (its own session,
 * reparented to init by a double fork, so no caller has to reap it), its
 * output appended to the run's coordinator.log. Everything is allocated
 * before fork: the caller may have threads. */
static int spawn_adopter(struct weft_instance *inst, const char *run_id, const char *token,
                         weft_error *err) {
  char *dir = weft_fs_join(inst->runs_dir, run_id);
  char *log = dir ? weft_fs_join(dir, "coordinator.log") : NULL;
  char *home = weft_str_printf("WEFT_HOME=%s", inst->home);
  extern char **environ;
  size_t n_env = 0;
  while (environ[n_env]) n_env++;
  char **env = calloc(n_env + 2, sizeof *env);
  int rc = WEFT_OK;
  if (!dir || !log || !home || !env) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  size_t k = 0;
  for (size_t i = 0; i < n_env; i++)
    if (strncmp(environ[i], "WEFT_HOME=", 10) && strncmp(environ[i], "WEFT_RUN_ID=", 12))
      env[k++] = environ[i];
  env[k++] = home;
  char *argv[] = {"weft", "run", "coordinate", (char *)run_id, "--adopt", (char *)token, NULL};
  weft_fs_mkdirs(dir, err);
  pid_t pid = fork();
  if (pid < 0) {
    rc = weft_error_set(err, WEFT_EIO, "cannot fork a coordinator for run %s", run_id);
    goto done;
  }
  if (pid == 0) {
    /* Only async-signal-safe calls from here. */
    if (fork() != 0) _exit(0);
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    close_range(3, ~0U, 0);
    execve(adopt_exe, argv, env);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
done:
  free(env);
  free(home);
  free(log);
  free(dir);
  return rc;
}

int weft__run_adopt_try(struct weft_instance *inst, const struct weft_run_row *run,
                        const struct weft_run_lease *lease, weft_error *err) {
  /* $WEFT_RUN_ADOPT=0: sweeps fail orphaned runs as before adoption. */
  const char *off = getenv("WEFT_RUN_ADOPT");
  if (!adopt_exe || (off && (!strcmp(off, "0") || !strcmp(off, "off") || !strcmp(off, "false"))))
    return WEFT_ENOTFOUND;
  int64_t now = weft_clock_wall_ms();
  if (lease->expires_ms > now || weft_coordinator_alive(lease->owner) == 1)
    return WEFT_ECONFLICT; /* held, or its owner lives on here and will renew it */
  /* The hand-off: the lease goes to a token the new coordinator presents,
   * so of several sweeps at once only one spawns it. */
  unsigned char rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) memset(rnd, 0, sizeof rnd);
  char token[64];
  snprintf(token, sizeof token, "handoff-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
           rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
  int64_t ttl = weft_run_lease_ms();
  if (ttl < ADOPT_HANDOFF_MIN_MS) ttl = ADOPT_HANDOFF_MIN_MS;
  int rc = weft_store_lease_claim(inst->store, run->id, token, lease->owner, now, ttl, err);
  if (rc == WEFT_ECONFLICT) return WEFT_ECONFLICT; /* another sweep hands it over */
  if (rc) return rc;
  if ((rc = spawn_adopter(inst, run->id, token, err))) {
    weft_error ignored = WEFT_ERROR_INIT;
    weft_store_lease_release(inst->store, run->id, token, &ignored);
  }
  return rc;
}
