/* scheduler.c: the scheduler object and its loop turn (schedules, sensors,
 * then the run queue), and the one place runs are launched from a tick. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sched/retention.h"
#include "sched/sched_int.h"
#include "util/clock.h"
#include "util/cron.h"
#include "util/str.h"

int weft_scheduler_new(struct weft_instance *inst, const struct weft_workspace *ws,
                       const struct weft_sched_options *o, struct weft_scheduler **out,
                       weft_error *err) {
  struct weft_scheduler *s = calloc(1, sizeof *s);
  *out = NULL;
  if (!s) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  s->inst = inst;
  s->ws = ws;
  if (o) s->o = *o;
  s->clock = s->o.clock ? *s->o.clock : weft_sched_wall_clock;
  s->o.clock = &s->clock;
  int rc = weft_run_queue_config_load(inst->home, &s->rq, err);
  if (!rc && s->o.dequeue) {
    rc = weft_coord_spawner_init(&s->spawner, inst, NULL, s->o.coord_args, s->o.n_coord_args,
                                 err);
    s->spawner_ready = !rc;
  }
  /* the options' argument array is the caller's: the spawner copied it */
  s->o.coord_args = NULL;
  s->o.n_coord_args = 0;
  if (rc) {
    weft_scheduler_free(s);
    return rc;
  }
  *out = s;
  return WEFT_OK;
}

void weft_scheduler_free(struct weft_scheduler *s) {
  if (!s) return;
  if (s->spawner_ready) {
    weft_coord_reap(&s->spawner, s->inst);
    weft_coord_spawner_release(&s->spawner);
  }
  weft_run_queue_config_release(&s->rq);
  const char *key;
  void *cron;
  for (size_t pos = 0; weft_map_next(&s->crons, &pos, &key, &cron);) {
    weft_cron_free(cron);
    free((char *)key);
  }
  weft_map_release(&s->crons);
  free(s);
}

void weft_scheduler_set_workspace(struct weft_scheduler *s, const struct weft_workspace *ws) {
  s->ws = ws;
  weft_code_memo_reset(&s->turn_code); /* its locations are gone */
}

int weft_scheduler_turn(struct weft_scheduler *s, struct weft_sched_turn *turn,
                        weft_error *err) {
  struct weft_sched_turn local;
  if (!turn) turn = &local;
  memset(turn, 0, sizeof *turn);
  int64_t now = s->clock.now_ms(s->clock.data);
  turn->next_wake_ms = now + 60000;
  weft_code_memo_reset(&s->turn_code); /* the folders may have changed since */
  s->turn_handed = 0;
  int rc = weft__sched_schedules_turn(s, now, turn, err);
  if (!rc) rc = weft__sched_sensors_turn(s, now, turn, err);
  if (!rc && !s->turn_handed) rc = weft_scheduler_dequeue(s, err);
  /* Retention only for a scheduler on the wall clock (tests drive fake
   * clocks through schedules and sensors, not ages of runs). */
  if (!rc && s->clock.now_ms == weft_sched_wall_clock.now_ms)
    weft__sched_retention_turn(s->inst, now, &turn->next_wake_ms);
  if (!rc) weft__sched_freshness_turn(s, &turn->next_wake_ms);
  return rc;
}

size_t weft_scheduler_running_coordinators(struct weft_scheduler *s) {
  if (!s->spawner_ready) return 0;
  pthread_mutex_lock(&s->spawner.mu);
  size_t n = s->spawner.n_children;
  pthread_mutex_unlock(&s->spawner.mu);
  return n;
}

/* Reaps our finished coordinators; then, when always or when one ended,
 * the run queue admits and starts what the limits allow, ours and anyone's
 * (runs launched elsewhere, backfills); its clock is the wall clock
 * (claims expire in real time). */
static int reap_and_dequeue(struct weft_scheduler *s, int always, weft_error *err) {
  if (!s->spawner_ready) return WEFT_OK;
  if (!weft_coord_reap(&s->spawner, s->inst) && !always) return WEFT_OK;
  return weft_coord_dequeue(&s->spawner, s->inst, &s->rq, err);
}

int weft_scheduler_dequeue(struct weft_scheduler *s, weft_error *err) {
  return reap_and_dequeue(s, 1, err);
}

int weft_scheduler_refill(struct weft_scheduler *s, weft_error *err) {
  return reap_and_dequeue(s, 0, err);
}

/* Adds the template tags (rendered) and extra tags into tags. */
static int add_tags(json_t *tags, const struct weft_kvs *tmpl, const struct weft__tmpl_vars *v,
                    json_t *extra, weft_error *err) {
  for (size_t i = 0; tmpl && i < tmpl->n; i++) {
    char *val = NULL;
    int rc = weft__tmpl_render(tmpl->v[i].value, v, &val, err);
    if (rc) return rc;
    json_object_set_new(tags, tmpl->v[i].key, json_string(val));
    free(val);
  }
  if (extra) json_object_update(tags, extra);
  return WEFT_OK;
}

int weft__sched_launch_prepare(struct weft_scheduler *s, const struct weft_job *job,
                               const json_t *config_tmpl, const struct weft_kvs *tag_tmpl,
                               const struct weft__tmpl_vars *vars, json_t *extra_tags,
                               struct weft_run_new *out, char **reason, weft_error *err) {
  json_t *cfg = NULL, *tags = json_object();
  char *text = NULL;
  struct weft_run_config rc_built = {0};
  struct weft_diags diags = WEFT_DIAGS_INIT;
  weft_error terr = WEFT_ERROR_INIT;
  int rc = WEFT_EINVALID, built = 0;
  memset(out, 0, sizeof *out);
  *reason = NULL;
  if (!tags) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!job->valid) {
    *reason = weft_str_printf("job '%s' has errors; fix it (weft validate)", job->name);
    goto done;
  }
  struct weft__tmpl_vars with_vars = *vars; /* {{var.NAME}} from the instance */
  with_vars.store = s->inst->store;
  if (weft__tmpl_render_json(config_tmpl, &with_vars, &cfg, &terr) ||
      add_tags(tags, tag_tmpl, &with_vars, extra_tags, &terr)) {
    *reason = weft_str_printf("template: %s", terr.msg);
    goto done;
  }
  if (!(text = json_dumps(cfg, JSON_COMPACT))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  if (weft_run_config_build(job, "<rendered run config>", text, strlen(text), NULL, 0,
                            &rc_built, &diags)) {
    *reason = weft_str_printf("invalid run config: %s%s", diags.n ? diags.v[0].msg : "?",
                              diags.n > 1 ? " (and more)" : "");
    goto done;
  }
  built = 1;
  /* Nobody coordinates it yet: the run queue's dequeuer will. Owned by
   * this process, the orphan sweep would fail it once this one exits. */
  struct weft_launch l = {.job = job, .rc = &rc_built, .tags = tags,
                          .code_version = weft_code_memo_version(&s->turn_code, s->inst->home,
                                                                 job->location),
                          .unowned = 1};
  l.code_checked = l.code_version != NULL;
  rc = weft_run_prepare(s->inst, &l, out, err);
  if (rc == WEFT_EINVALID) *reason = weft_str_printf("cannot launch: %s", err->msg);
done:
  if (rc == WEFT_EINVALID && !*reason) *reason = weft_str_dup("cannot launch");
  if (built) weft_run_config_release(&rc_built);
  weft_diags_release(&diags);
  json_decref(cfg);
  json_decref(tags);
  free(text);
  return rc;
}

int weft__sched_launch_write(struct weft_scheduler *s, const struct weft_run_new *runs,
                             size_t n, weft_error *err) {
  struct weft_store *st = s->inst->store;
  if (!n) return WEFT_OK;
  int rc = weft_store_begin(st, err);
  if (rc) return rc;
  rc = weft_run_write_many(s->inst, runs, n, err);
  /* A dequeuer without run queue limits hands them to a coordinator
   * service in the same commit, as its turn would just after; else the
   * run queue's next turn starts them. */
  if (!rc && s->spawner_ready) {
    int got = weft_coord_admit_runs_in_tx(s->inst, &s->rq, runs, n, NULL, err);
    if (got < 0) rc = got;
    else s->turn_handed += (size_t)got;
  }
  if (rc) {
    weft_store_rollback(st);
    return rc;
  }
  return weft_store_commit(st, err);
}

int weft__sched_launch(struct weft_scheduler *s, const struct weft_job *job,
                       const json_t *config_tmpl, const struct weft_kvs *tag_tmpl,
                       const struct weft__tmpl_vars *vars, json_t *extra_tags, char **run_id,
                       char **reason, weft_error *err) {
  struct weft_run_new run;
  *run_id = NULL;
  int rc = weft__sched_launch_prepare(s, job, config_tmpl, tag_tmpl, vars, extra_tags, &run,
                                      reason, err);
  if (!rc) rc = weft__sched_launch_write(s, &run, 1, err);
  if (!rc) {
    *run_id = run.row.id;
    run.row.id = NULL;
  }
  weft_run_new_release(&run);
  return rc;
}
