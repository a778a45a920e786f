/* instance.c: opening $WEFT_HOME (store, artifacts, step folders) and sweeping
 * runs whose coordinator died, so no run stays "started" forever. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine_int.h"
#include "dsl/dsl.h"
#include "engine/sdk.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/str.h"

/* Field 22 of /proc/PID/stat: the process's start time in clock ticks since
 * boot. The comm field (2) may hold spaces and parentheses, so parse after
 * its last ')'. Returns 0 when the process does not exist. */
static unsigned long long proc_start_time(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p++;
  /* A zombie (or dying) process coordinates nothing: its parent just has
   * not reaped it yet. */
  if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X')) return 0;
  /* After ')': field 3 (state) is the first token; field 22 is the 20th. */
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p + 1, ' ');
  }
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void host_name(char *out, size_t len) {
  if (gethostname(out, len) != 0) snprintf(out, len, "localhost");
  out[len - 1] = '\0';
  for (char *p = out; *p; p++)
    if (*p == ':') *p = '_'; /* ':' separates the id's fields */
}

/* Asked per run (a loop starts thousands a second) and fixed for a
 * process: read /proc once per pid (a fork gets its own). */
static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;
static long id_pid;
static char id_text[320];

char *weft_coordinator_id(void) {
  long pid = (long)getpid();
  pthread_mutex_lock(&id_mu);
  if (id_pid != pid) {
    char host[256];
    host_name(host, sizeof host);
    snprintf(id_text, sizeof id_text, "%s:%ld:%llu", host, pid, proc_start_time(pid));
    id_pid = pid;
  }
  char *id = weft_str_dup(id_text);
  pthread_mutex_unlock(&id_mu);
  return id;
}

int weft_coordinator_alive(const char *id) {
  char host[256];
  host_name(host, sizeof host);
  const char *c1 = id ? strchr(id, ':') : NULL;
  if (!c1) return 0; /* unparseable: nobody can be driving it */
  if ((size_t)(c1 - id) != strlen(host) || strncmp(id, host, (size_t)(c1 - id)))
    return -1;
  char *end;
  long pid = strtol(c1 + 1, &end, 10);
  if (*end != ':' || pid <= 0) return 0;
  unsigned long long want = strtoull(end + 1, NULL, 10);
  unsigned long long have = proc_start_time(pid);
  return have != 0 && have == want;
}

char *weft_instance_step_dir(const struct weft_instance *inst, const char *run_id,
                             const char *step, int attempt) {
  return weft_str_printf("%s/%s/%s/%d", inst->runs_dir, run_id, step, attempt);
}

static char *absolute_path(const char *path, weft_error *err) {
  if (path[0] == '/') return weft_str_dup(path);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) {
    weft_error_set(err, WEFT_EIO, "cannot read the current folder: %s", strerror(errno));
    return NULL;
  }
  char *abs = weft_fs_join(cwd, path);
  if (!abs) weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return abs;
}

int weft_instance_open(const char *home, struct weft_instance **out, weft_error *err) {
  *out = NULL;
  int rc = WEFT_ENOMEM;
  struct weft_instance_config cfg = {0};
  struct weft_instance *inst = calloc(1, sizeof *inst);
  if (!inst) goto nomem;
  if (!home || !*home) home = getenv("WEFT_HOME");
  if (!home || !*home) home = ".weft";
  if (!(inst->home = absolute_path(home, err))) {
    rc = err->code;
    goto fail;
  }
  if (!(inst->runs_dir = weft_fs_join(inst->home, "runs"))) goto nomem;
  /* A new home is its owner's only: it holds the database, every output
   * and log, and later keys. One that exists keeps the mode it was given. */
  if ((rc = weft_fs_mkdir_private(inst->home, err))) goto fail;
  if ((rc = weft_fs_mkdirs(inst->runs_dir, err))) goto fail;
  /* HOME/weft.yaml when there is one; every problem in it is reported at
   * once, as file:line:col lines, and nothing is opened. */
  if ((rc = weft_instance_config_load(inst->home, &cfg, err))) goto fail;
  inst->storage_url = cfg.storage_url; /* the instance owns them now */
  inst->artifacts_url = cfg.artifacts_url;
  inst->broker_url = cfg.broker_url;
  inst->default_execution = cfg.execution;
  inst->secret_key_file = cfg.secret_key_file;
  inst->queue_key_file = cfg.queue_key_file;
  cfg.storage_url = cfg.artifacts_url = cfg.broker_url = cfg.execution = NULL;
  cfg.queue_key_file = NULL;
  cfg.secret_key_file = NULL;
  inst->containers = cfg.containers;
  memset(&cfg.containers, 0, sizeof cfg.containers);
  if (!(inst->container_label = weft__instance_container_label(inst->storage_url)) ||
      !(inst->container_labels = calloc(inst->containers.labels.n + 1, sizeof(char *))))
    goto nomem;
  for (size_t i = 0; i < inst->containers.labels.n; i++) {
    const struct weft_kv *kv = &inst->containers.labels.v[i];
    if (!(inst->container_labels[i] = weft_str_printf("%s=%s", kv->key, kv->value ? kv->value : "")))
      goto nomem;
  }
  weft_instance_config_release(&cfg); /* the rest (run_queue) is read where used */
  if ((rc = weft_sdk_install(inst->home, err))) goto fail;
  if ((rc = weft_store_open(inst->storage_url, &inst->store, err))) goto fail;
  if ((rc = weft_artifacts_open(inst->artifacts_url, &inst->artifacts, err))) goto fail;
  if ((rc = weft_instance_sweep_orphans(inst, NULL, err))) goto fail;
  *out = inst;
  return WEFT_OK;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory opening the instance");
fail:
  weft_instance_config_release(&cfg);
  weft_instance_close(inst);
  return rc;
}

void weft_instance_close(struct weft_instance *inst) {
  if (!inst) return;
  weft_store_close(inst->store);
  weft_artifacts_close(inst->artifacts);
  free(inst->home);
  free(inst->runs_dir);
  free(inst->storage_url);
  free(inst->artifacts_url);
  free(inst->broker_url);
  free(inst->default_execution);
  free(inst->queue_key_file);
  free(inst->secret_key_file);
  free(inst->container_label);
  for (size_t i = 0; inst->container_labels && inst->container_labels[i]; i++)
    free(inst->container_labels[i]);
  free(inst->container_labels);
  struct weft_instance_config k = {0};
  k.containers = inst->containers; /* released the way weft.yaml's parser made it */
  weft_instance_config_release(&k);
  free(inst);
}

/* Appends a step-level or run-level event with a payload built by the caller
 * (stolen). Used by the sweep and by cancel, which write outside a run loop. */
int weft__engine_append_event(struct weft_store *s, const char *run_id, const char *step,
                              const char *type, json_t *payload, weft_error *err) {
  char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
  json_decref(payload);
  if (!text) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  struct weft_event_row ev = {0, (char *)run_id, (char *)step, (char *)type,
                              weft_clock_wall_ms(), text};
  int rc = weft_store_event_append(s, &ev, 1, err);
  free(text);
  return rc;
}

/* The steps the run_started event planned that have no row in steps. */
static int cancel_unstarted(struct weft_instance *inst, const char *run_id,
                            const struct weft_step_list *steps, int64_t now, const char *msg,
                            weft_error *err) {
  struct weft_event_filter f = {0};
  f.run_id = run_id;
  f.limit = 50; /* run_started is among the first */
  struct weft_event_list evs = {0};
  int rc = weft_store_event_read(inst->store, &f, &evs, err);
  json_t *plan = NULL;
  for (size_t k = 0; !rc && k < evs.n && !plan; k++)
    if (!evs.v[k].step && !strcmp(evs.v[k].type, "run_started")) {
      json_t *p = json_loads(evs.v[k].payload ? evs.v[k].payload : "{}", 0, NULL);
      plan = json_incref(json_object_get(p, "plan"));
      json_decref(p);
    }
  weft_event_list_release(&evs);
  size_t j;
  json_t *name;
  char why[1100];
  snprintf(why, sizeof why, "not started: %s", msg);
  json_array_foreach(plan, j, name) {
    const char *step = json_string_value(name);
    int seen = !step;
    for (size_t i = 0; i < steps->n && !seen; i++) seen = !strcmp(steps->v[i].step, step);
    if (seen || rc) continue;
    struct weft_step_row r = {0};
    r.run_id = (char *)run_id;
    r.step = (char *)step;
    r.attempt = 1;
    r.status = WEFT_STEP_CANCELED;
    r.started_ms = r.ended_ms = now;
    r.message = why;
    if (!(rc = weft_store_step_put(inst->store, &r, err)))
      rc = weft__engine_append_event(inst->store, run_id, step, "step_canceled",
                                     json_pack("{s:s}", "message", why), err);
  }
  json_decref(plan);
  return rc;
}

/* Inside the caller's transaction: kills what the dead coordinator left
 * running and ends every unfinished step and the run itself. */
static int sweep_one(struct weft_instance *inst, struct weft_run_row *run, int local,
                     const char *why, weft_error *err) {
  struct weft_step_list steps = {0};
  int rc = weft_store_step_list(inst->store, run->id, &steps, err);
  if (rc) return rc;
  char msg[1024];
  if (why)
    snprintf(msg, sizeof msg, "%s", why);
  else
    snprintf(msg, sizeof msg, "orphaned: its coordinator %s died while the run was %s",
             run->coordinator ? run->coordinator : "(unknown)",
             weft_run_status_name(run->status));
  int64_t now = weft_clock_wall_ms();
  json_t *failed = json_array();
  /* Also the steps it started but had not recorded yet. */
  if (local) weft__kill_run_procs(run->id);
  for (size_t i = 0; i < steps.n && !rc; i++) {
    struct weft_step_row *st = &steps.v[i];
    if (weft_step_status_is_final(st->status)) continue;
    /* A step's group outlives its coordinator: the executor that would have
     * killed it is gone. */
    if (local && st->status == WEFT_STEP_RUNNING && st->pid > 0) kill(-st->pid, SIGKILL);
    /* Nor would it have removed the step's secret files (engine/secrets.h). */
    char *dir = local ? weft_instance_step_dir(inst, run->id, st->step, st->attempt) : NULL;
    char *secrets = dir ? weft_fs_join(dir, "secrets") : NULL;
    weft_error ignored = WEFT_ERROR_INIT;
    if (secrets) weft_fs_remove_tree(secrets, &ignored);
    free(secrets);
    free(dir);
    enum weft_step_status was = st->status;
    st->status = WEFT_STEP_FAILED;
    st->ended_ms = now;
    free(st->message);
    st->message = weft_str_dup(msg);
    json_t *p = json_pack("{s:i, s:I, s:s, s:i, s:s}", "attempt", st->attempt, "duration_ms",
                          (json_int_t)(st->started_ms ? now - st->started_ms : 0), "message",
                          msg, "exit_code", -1, "was", weft_step_status_name(was));
    json_array_append_new(failed, json_string(st->step));
    if (!(rc = weft_store_step_put(inst->store, st, err)))
      rc = weft__engine_append_event(inst->store, run->id, st->step, "step_failed", p, err);
  }
  /* Steps of the plan that never started have no row: they end canceled,
   * so no step of a final run shows as waiting. */
  if (!rc) rc = cancel_unstarted(inst, run->id, &steps, now, msg, err);
  weft_step_list_release(&steps);
  if (rc) {
    json_decref(failed);
    return rc;
  }
  int canceling = run->status == WEFT_RUN_CANCELING;
  run->status = canceling ? WEFT_RUN_CANCELED : WEFT_RUN_FAILURE;
  run->ended_ms = now;
  free(run->message);
  run->message = weft_str_dup(msg);
  json_t *p = json_pack("{s:I, s:s, s:o}", "duration_ms",
                        (json_int_t)(run->started_ms ? now - run->started_ms : 0),
                        "message", msg, "failed", failed);
  if ((rc = weft__engine_append_event(inst->store, run->id, NULL,
                                      canceling ? "run_canceled" : "run_failure", p, err)))
    return rc;
  return weft_store_run_update(inst->store, run, err);
}

/* Inside the caller's transaction: a queued run whose launcher died
 * before handing it over (to a coordinator service, a detached
 * coordinator, or the run queue) never started, so nothing of it is lost:
 * it goes back to the run queue unowned, as a run left for any dequeuer
 * (weft_run_queue_enqueue), and a dequeuer starts it once the dead
 * launcher's claim is stale. Failing it instead made a launcher killed
 * mid-launch (a `weft launch --detach` past its caller's timeout, a server
 * killed in a launch) fail a run for no fault of its job (tests/chaos).
 * A detached coordinator the launcher forked may still start it: it claims
 * the lease and checks the run is queued (run.c), as a dequeuer's does. */
static int requeue_one(struct weft_instance *inst, struct weft_run_row *run, weft_error *err) {
  free(run->coordinator);
  run->coordinator = NULL;
  run->heartbeat_ms = 0;
  return weft_store_run_update(inst->store, run, err);
}

static int run_is_orphan(const struct weft_run_row *r, int *local) {
  if (!r->coordinator) return 0; /* queued, nobody claimed it yet */
  int alive = weft_coordinator_alive(r->coordinator);
  *local = alive >= 0;
  if (alive == 1) return 0;
  if (alive == 0) return 1;
  return weft_clock_wall_ms() - r->heartbeat_ms > WEFT_HEARTBEAT_STALE_MS;
}

int weft_instance_sweep_orphans(struct weft_instance *inst, size_t *n_swept,
                                weft_error *err) {
  if (n_swept) *n_swept = 0;
  struct weft_run_filter f = {0};
  f.status_mask = (1 << WEFT_RUN_QUEUED) | (1 << WEFT_RUN_STARTED) | (1 << WEFT_RUN_CANCELING);
  f.limit = 1000;
  struct weft_run_list runs = {0};
  int rc = weft_store_run_list(inst->store, &f, &runs, err);
  if (rc) return rc;
  for (size_t i = 0; i < runs.n && !rc; i++) {
    int local = 0;
    /* A run held by a lease (run_adopt.c) is adopted, not failed, once the
     * lease expired and its owner is gone; with adoption off (not the weft
     * binary) it is swept as before. */
    struct weft_run_lease lease = {0};
    weft_error lerr = WEFT_ERROR_INIT;
    if (runs.v[i].status != WEFT_RUN_QUEUED &&
        !weft_store_lease_get(inst->store, runs.v[i].id, &lease, &lerr)) {
      int arc = weft__run_adopt_try(inst, &runs.v[i], &lease, &lerr);
      weft_run_lease_release(&lease);
      if (arc == WEFT_OK) {
        if (n_swept) (*n_swept)++;
        continue;
      }
      if (arc == WEFT_ECONFLICT) continue;
      if (arc != WEFT_ENOTFOUND)
        weft_log_run(WEFT_LOG_WARN, runs.v[i].id, NULL, "cannot adopt run %s: %s",
                     runs.v[i].id, lerr.msg);
    }
    if (!run_is_orphan(&runs.v[i], &local)) continue;
    /* A queued run's launcher is gone, but a detached coordinator it
     * forked may be starting the run right now (it claims the lease, then
     * checks the run is still queued: run.c): requeue it only under the
     * lease, so one of the two acts. */
    char sweep_owner[64] = "";
    if (runs.v[i].status == WEFT_RUN_QUEUED) {
      snprintf(sweep_owner, sizeof sweep_owner, "sweep-%ld-%lld", (long)getpid(),
               (long long)weft_clock_mono_ms());
      weft_error cerr = WEFT_ERROR_INIT;
      if (weft_store_lease_claim(inst->store, runs.v[i].id, sweep_owner, NULL,
                                 weft_clock_wall_ms(), weft_run_lease_ms(), &cerr))
        continue; /* held: someone is starting it */
    }
    /* Re-read inside the write transaction: another command may be sweeping
     * the same run, or its coordinator may just have finished it. */
    struct weft_run_row cur = {0};
    if ((rc = weft_store_begin(inst->store, err))) {
      weft_error ignored = WEFT_ERROR_INIT;
      if (*sweep_owner) weft_store_lease_release(inst->store, runs.v[i].id, sweep_owner, &ignored);
      break;
    }
    rc = weft_store_run_get(inst->store, runs.v[i].id, &cur, err);
    int swept = 0, requeued = 0;
    /* A run listed queued that has started since is adopted by the next
     * sweep (its lease), not failed here. */
    if (!rc && !weft_run_status_is_final(cur.status) &&
        (cur.status == runs.v[i].status || runs.v[i].status != WEFT_RUN_QUEUED) &&
        run_is_orphan(&cur, &local)) {
      if (cur.status == WEFT_RUN_QUEUED) {
        rc = requeue_one(inst, &cur, err);
        requeued = !rc;
      } else {
        rc = sweep_one(inst, &cur, local, NULL, err);
        swept = !rc;
      }
      if (!rc && n_swept) (*n_swept)++;
    }
    if (rc)
      weft_store_rollback(inst->store);
    else
      rc = weft_store_commit(inst->store, err);
    if (*sweep_owner) {
      weft_error ignored = WEFT_ERROR_INIT;
      weft_store_lease_release(inst->store, cur.id ? cur.id : runs.v[i].id, sweep_owner, &ignored);
    }
    if (!rc && requeued)
      weft_log_run(WEFT_LOG_WARN, cur.id, NULL,
                   "run %s: its launcher %s died before handing it over: back in the run "
                   "queue", cur.id, runs.v[i].coordinator);
    /* Its steps' containers die with it (containers_run.c); without an
     * engine there are none to remove. */
    weft_error ignored = WEFT_ERROR_INIT;
    if (!rc && swept && local) weft_instance_gc_containers(inst, cur.id, 0, NULL, &ignored);
    weft_run_row_release(&cur);
  }
  weft_run_list_release(&runs);
  return rc;
}

int weft_instance_fail_run(struct weft_instance *inst, const char *run_id, const char *why,
                           weft_error *err) {
  struct weft_run_row cur = {0};
  int rc = weft_store_begin(inst->store, err);
  if (rc) return rc;
  rc = weft_store_run_get(inst->store, run_id, &cur, err);
  if (!rc && weft_run_status_is_final(cur.status))
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s already ended", run_id);
  int local = !rc && cur.coordinator && weft_coordinator_alive(cur.coordinator) >= 0;
  if (!rc) rc = sweep_one(inst, &cur, local, why, err);
  if (rc)
    weft_store_rollback(inst->store);
  else
    rc = weft_store_commit(inst->store, err);
  weft_error ignored = WEFT_ERROR_INIT;
  if (!rc && local) weft_instance_gc_containers(inst, run_id, 0, NULL, &ignored);
  weft_run_row_release(&cur);
  return rc;
}
